/* eq_attention: fused scaled dot-product attention. The forward keeps only
 * the row log-sum-exp; the backward recomputes the probabilities block by
 * block, so memory is O(L) per row instead of the Lq x Lk matrix. Inputs
 * whose last dim is contiguous are used in place, whatever their other
 * strides (e.g. q, k, v selected from a permuted qkv projection). */
#include <math.h>
#include <stdio.h>

#include "ops/nn/nn_common.h"

typedef struct att_ctx {
  int64_t B, Lq, Lk, D, Dv;
  double scale;
  int nlead;
  int64_t lead_shape[EQ_MAX_DIMS];
  /* element strides of the leading dims of q, k, v and the mask (0 where
   * the mask broadcasts), and the row strides of q, k, v */
  int64_t lead_stride[4][EQ_MAX_DIMS], ld[3];
  const void *mask;
  bool mask_bool;
  size_t mask_elem;
  int64_t mstride_q, mstride_k;
  double *lse; /* [B * Lq], after the struct */
} att_ctx;

/* Element offset of batch entry b in operand `which` (0 q, 1 k, 2 v, 3 mask). */
static int64_t lead_off(const att_ctx *c, int which, int64_t b) {
  int64_t off = 0;
  for (int d = c->nlead - 1; d >= 0; d--) {
    off += (b % c->lead_shape[d]) * c->lead_stride[which][d];
    b /= c->lead_shape[d];
  }
  return off;
}

/* exp for float rows: Cody-Waite reduction and a degree-6 polynomial
 * (relative error ~2e-7), written so the row loops vectorise (libm's expf
 * is a scalar call per element). Underflows to 0 below -87.3. */
static inline float fast_expf(float x) {
  const float log2e = 1.44269504f, ln2_hi = 0.693145752f, ln2_lo = 1.42860677e-06f;
  float xc = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  /* round to nearest by the 1.5 * 2^23 trick: vectorises, unlike roundf */
  float n = (xc * log2e + 12582912.0f) - 12582912.0f;
  float r = xc - n * ln2_hi - n * ln2_lo;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t e = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &e, sizeof scale);
  return x < -87.3f ? 0.0f : p * scale;
}

/* Query rows per block: the score block (rows x Lk) stays within ~128 KB. */
static int64_t att_block(int64_t Lk) {
  int64_t r = (int64_t)(32768 / (Lk > 0 ? Lk : 1));
  return r < 16 ? 16 : r;
}

#define T float
#define SFX _f32
#define GEMM eq_nn_small_gemm_f32
#define EXP fast_expf
#include "ops/nn/attention_kernels.inc"
#undef T
#undef SFX
#undef GEMM
#undef EXP
#define T double
#define SFX _f64
#define GEMM eq_nn_gemm_f64
#define EXP exp
#include "ops/nn/attention_kernels.inc"
#undef T
#undef SFX
#undef GEMM
#undef EXP

static size_t bwd_workspace(const att_ctx *c, size_t es) {
  int64_t bq = att_block(c->Lk);
  if (bq > c->Lq) bq = c->Lq;
  return (size_t)omp_get_max_threads() * (size_t)(2 * bq * c->Lk + bq) * es + 64;
}

static eq_status att_backward(eq_node *node) {
  const att_ctx *c = node->ctx;
  eq_tensor *q = node->inputs[0], *k = node->inputs[1], *v = node->inputs[2], *dout = node->out->grad;
  bool fresh[3];
  eq_tensor *g[3];
  if (eq_nn_grads_for_write(node, 3, g, fresh)) return eq_error_code();
  eq_tensor *dq = g[0], *dk = g[1], *dv = g[2];
  if (!eq_nn_workspace(bwd_workspace(c, eq_dtype_size(q->dtype)))) return eq_error_code();
  if (q->dtype == EQ_F32)
    att_bwd_f32(c, eq_f32(q), eq_f32(k), eq_f32(v), eq_f32(node->out), eq_f32(dout), c->lse, dq ? eq_f32(dq) : NULL,
                dk ? eq_f32(dk) : NULL, dv ? eq_f32(dv) : NULL, fresh);
  else
    att_bwd_f64(c, eq_f64(q), eq_f64(k), eq_f64(v), eq_f64(node->out), eq_f64(dout), c->lse, dq ? eq_f64(dq) : NULL,
                dk ? eq_f64(dk) : NULL, dv ? eq_f64(dv) : NULL, fresh);
  return EQ_OK;
}

/* Broadcast strides of the mask against [lead..., Lq, Lk] (NumPy rules). */
static eq_status mask_strides(const eq_tensor *mask, const eq_tensor *q, att_ctx *c) {
  char bm[96], bq[96];
  int full = q->ndim;
  int64_t shape[EQ_MAX_DIMS], st[EQ_MAX_DIMS];
  for (int d = 0; d < full; d++) shape[d] = q->shape[d];
  shape[full - 1] = c->Lk;
  if (mask->ndim > full) goto bad;
  for (int d = 0; d < full; d++) {
    int md = d - (full - mask->ndim);
    if (md < 0) {
      st[d] = 0;
      continue;
    }
    if (mask->shape[md] == shape[d])
      st[d] = shape[d] == 1 ? 0 : mask->stride[md];
    else if (mask->shape[md] == 1)
      st[d] = 0;
    else
      goto bad;
  }
  for (int d = 0; d < c->nlead; d++) c->lead_stride[3][d] = st[d];
  c->mstride_q = st[full - 2];
  c->mstride_k = st[full - 1];
  return EQ_OK;
bad:
  return eq_error(EQ_ERR_SHAPE, "attention: mask %s does not broadcast to the scores' shape (query %s, %lld keys)",
                  eq_shape_str(mask, bm, sizeof bm), eq_shape_str(q, bq, sizeof bq), (long long)c->Lk);
}

eq_tensor *eq_attention(eq_tensor *q, eq_tensor *k, eq_tensor *v, eq_tensor *mask, double scale) {
  const char *op = "attention";
  char b1[96], b2[96], b3[96];
  if (eq_nn_check(op, "q", q, -1, -1) || eq_nn_check(op, "k", k, q->ndim, q->dtype) ||
      eq_nn_check(op, "v", v, q->ndim, q->dtype))
    return NULL;
  bool same_lead = q->ndim >= 2;
  for (int d = 0; same_lead && d < q->ndim - 2; d++)
    same_lead = q->shape[d] == k->shape[d] && q->shape[d] == v->shape[d];
  if (!same_lead || q->shape[q->ndim - 1] != k->shape[k->ndim - 1] || k->shape[k->ndim - 2] != v->shape[v->ndim - 2]) {
    eq_error(EQ_ERR_SHAPE, "attention: q %s, k %s, v %s must be [..., Lq, D], [..., Lk, D], [..., Lk, Dv] with equal leading dims",
             eq_shape_str(q, b1, sizeof b1), eq_shape_str(k, b2, sizeof b2), eq_shape_str(v, b3, sizeof b3));
    return NULL;
  }
  att_ctx c = {0};
  c.nlead = q->ndim - 2;
  c.B = 1;
  for (int d = 0; d < c.nlead; d++) c.B *= (c.lead_shape[d] = q->shape[d]);
  c.Lq = q->shape[q->ndim - 2];
  c.D = q->shape[q->ndim - 1];
  c.Lk = k->shape[k->ndim - 2];
  c.Dv = v->shape[v->ndim - 1];
  c.scale = scale > 0 ? scale : 1.0 / sqrt((double)(c.D > 0 ? c.D : 1));
  if (mask) {
    if (eq_require_cpu(op, mask)) return NULL;
    if (mask->dtype == EQ_BOOL || mask->dtype == EQ_U8) {
      c.mask_bool = true;
    } else if (mask->dtype != q->dtype) {
      eq_error(EQ_ERR_DTYPE, "attention: a float mask must have the query's dtype %s, not %s", eq_dtype_name(q->dtype),
               eq_dtype_name(mask->dtype));
      return NULL;
    }
    if (mask_strides(mask, q, &c)) return NULL;
    c.mask = eq_data_ptr(mask);
    c.mask_elem = eq_dtype_size(mask->dtype);
  }
  eq_tensor *qkv[3] = {q, k, v};
  for (int t = 0; t < 3; t++) {
    eq_tensor *a = qkv[t];
    int nd = a->ndim;
    /* rows must be contiguous and strides non-negative for the GEMMs */
    int64_t cols = a->shape[nd - 1] > 1 ? a->shape[nd - 1] : 1;
    bool usable = (a->stride[nd - 1] == 1 || a->shape[nd - 1] <= 1) &&
                  (a->shape[nd - 2] <= 1 || a->stride[nd - 2] >= cols);
    for (int d = 0; d < nd; d++) usable = usable && a->stride[d] >= 0;
    if (!usable && !(qkv[t] = a = eq_contiguous(a))) return NULL;
    for (int d = 0; d < c.nlead; d++) c.lead_stride[t][d] = a->stride[d];
    c.ld[t] = a->shape[nd - 2] > 1 ? a->stride[nd - 2] : cols;
  }
  eq_tensor *qc = qkv[0], *kc = qkv[1], *vc = qkv[2];
  int64_t shape[EQ_MAX_DIMS];
  for (int d = 0; d < q->ndim; d++) shape[d] = q->shape[d];
  shape[q->ndim - 1] = c.Dv;
  eq_tensor *y = eq_empty(q->dtype, q->ndim, shape);
  if (!y) return NULL;
  eq_tensor *ins[3] = {qc, kc, vc};
  eq_node *node = eq_tape_record(op, y, 3, ins, att_backward);
  if (!node && eq_needs_grad(3, ins)) return NULL;
  size_t es = eq_dtype_size(q->dtype), lse_bytes = (size_t)(c.B * c.Lq) * sizeof(double);
  att_ctx *saved = node ? eq_node_alloc_ctx(node, sizeof c + lse_bytes) : NULL;
  if (node && !saved) return NULL;
  /* Without a node the log-sum-exp goes to the workspace tail. */
  size_t fwd_ws = bwd_workspace(&c, es);
  char *ws = eq_nn_workspace(fwd_ws + lse_bytes);
  if (!ws) return NULL;
  c.lse = saved ? (double *)(saved + 1) : (double *)(ws + fwd_ws);
  if (saved) *saved = c;
  if (c.Lq * c.Dv > 0 && c.B > 0) {
    if (c.Lk == 0) {
      eq_fill_(y, 0);
    } else if (q->dtype == EQ_F32) {
      att_fwd_f32(&c, eq_f32(qc), eq_f32(kc), eq_f32(vc), eq_f32(y), c.lse);
    } else {
      att_fwd_f64(&c, eq_f64(qc), eq_f64(kc), eq_f64(vc), eq_f64(y), c.lse);
    }
  }
  return y;
}
