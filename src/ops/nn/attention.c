/* eq_attention and eq_attention_qkv: fused scaled dot-product attention.
 * The forward keeps the row log-sum-exp and, up to
 * eq_nn_att_keep_probs_max elements, the probabilities; beyond that the
 * backward recomputes them block by block, so memory is O(L) per row
 * instead of the Lq x Lk matrix. Inputs whose last dim is contiguous are
 * used in place, whatever their other strides (e.g. q, k, v selected from
 * a permuted qkv projection); eq_attention_qkv also writes its output with
 * the heads interleaved in each row and its gradient straight into d(qkv). */
#include <math.h>
#include <stdio.h>

#include "ops/avx512_exp.h"
#include "ops/nn/attention_internal.h"

int64_t eq_nn_att_keep_probs_max = 16 << 20;

/* Element offset of batch entry b in operand `which`. */
static int64_t lead_off(const att_ctx *c, int which, int64_t b) {
  int64_t off = 0;
  for (int d = c->nlead - 1; d >= 0; d--) {
    off += (b % c->lead_shape[d]) * c->lead_stride[which][d];
    b /= c->lead_shape[d];
  }
  return off;
}

/* Operand `which` as a contiguous [lead..., rows, cols] array. */
static void contiguous_layout(att_ctx *c, int which, int64_t rows, int64_t cols) {
  int64_t step = rows * cols;
  for (int d = c->nlead - 1; d >= 0; d--) {
    c->lead_stride[which][d] = step;
    step *= c->lead_shape[d];
  }
  c->ld[which] = cols;
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

/* Softmax of one row of scores in place; its log-sum-exp into *lse unless
 * lse is NULL (the backward has the probabilities: a log per row was 0.4 %
 * of a ViT-Tiny step). A row with every key masked (all -inf) attends to
 * nothing: zeros, -inf. */
static void softmax_row_f64(double *s, int64_t n, double *lse) {
  double m = -INFINITY, sum = 0;
  for (int64_t j = 0; j < n; j++) m = s[j] > m ? s[j] : m;
  if (m == -INFINITY) {
    memset(s, 0, (size_t)n * sizeof *s);
    if (lse) *lse = -INFINITY;
    return;
  }
  for (int64_t j = 0; j < n; j++) sum += (s[j] = exp(s[j] - m));
  for (int64_t j = 0; j < n; j++) s[j] /= sum;
  if (lse) *lse = m + log(sum);
}

#ifdef __AVX512F__
enum { ROW_VECS = 8 }; /* rows of up to 128 floats are held in registers */

/* The row's tail: the last 16 floats, overlapping the full vectors before
 * them, and the mask of its lanes past them. An unmasked load: a masked one
 * with lanes off takes a slow microcode path on this CPU (the softmax's
 * 65th key in a masked vector was 2x slower than a scalar tail). */
static inline __mmask16 tail_lanes(int64_t n) { return (__mmask16)(0xFFFFu << (16 - n % 16)); }

/* Softmax of a row of nv full vectors (a literal) and, when n % 16, the
 * overlapping tail, all in registers: one load and one store per vector
 * where the loop below reads the row three times, and no scalar exp for
 * the tail. Rows from L1, per row of n keys, one core: n 40 1.97 -> 1.18
 * cycles a key, n 17 2.49 -> 2.10, n 65 1.09 -> 1.06 (exp-bound). The
 * tail's lanes that overlap the last full vector compute the same values
 * and are stored twice. Returns false, untouched, for a fully masked row.
 * (The backward's row in registers was slower than its two loops from L1:
 * 0.26 -> 0.36 cycles a key at n 64.) */
static inline __attribute__((always_inline)) bool softmax_row_regs(int nv, float *s, int64_t n, double *lse) {
  __m512 v[ROW_VECS], t = _mm512_set1_ps(-INFINITY);
  const bool has_tail = n % 16 != 0;
  for (int i = 0; i < nv; i++) v[i] = _mm512_loadu_ps(s + 16 * i);
  if (has_tail) t = _mm512_loadu_ps(s + n - 16);
  __m512 vm = t;
  for (int i = 0; i < nv; i++) vm = _mm512_max_ps(vm, v[i]);
  float m = _mm512_reduce_max_ps(vm);
  if (m == -INFINITY) return false;
  const __m512 vmax = _mm512_set1_ps(m);
  __m512 vs = _mm512_setzero_ps();
  for (int i = 0; i < nv; i++) vs = _mm512_add_ps(vs, v[i] = eq_exp_nonpos_ps(_mm512_sub_ps(v[i], vmax)));
  if (has_tail) {
    t = eq_exp_nonpos_ps(_mm512_sub_ps(t, vmax));
    vs = _mm512_mask_add_ps(vs, tail_lanes(n), vs, t);
  }
  float sum = _mm512_reduce_add_ps(vs);
  const __m512 vi = _mm512_set1_ps(1 / sum);
  if (has_tail) _mm512_storeu_ps(s + n - 16, _mm512_mul_ps(t, vi));
  for (int i = 0; i < nv; i++) _mm512_storeu_ps(s + 16 * i, _mm512_mul_ps(v[i], vi));
  if (lse) *lse = (double)m + log((double)sum);
  return true;
}
#endif

/* The float32 row: 16 lanes at a time where the build has AVX-512 (the
 * vectorised scalar form of a 65-key row cost 3.5 cycles an element, about
 * a third of ViT-Tiny's attention forward), in registers up to 128 keys,
 * else the tail element by element. */
static void softmax_row_f32(float *s, int64_t n, double *lse) {
  float m = -INFINITY, sum = 0;
  int64_t j = 0;
#ifdef __AVX512F__
  if (n >= 16 && n <= 16 * ROW_VECS) {
    bool done = false;
    switch (n / 16) { /* the full vectors */
    case 1: done = softmax_row_regs(1, s, n, lse); break;
    case 2: done = softmax_row_regs(2, s, n, lse); break;
    case 3: done = softmax_row_regs(3, s, n, lse); break;
    case 4: done = softmax_row_regs(4, s, n, lse); break;
    case 5: done = softmax_row_regs(5, s, n, lse); break;
    case 6: done = softmax_row_regs(6, s, n, lse); break;
    case 7: done = softmax_row_regs(7, s, n, lse); break;
    default: done = softmax_row_regs(8, s, n, lse); break;
    }
    if (done) return;
    memset(s, 0, (size_t)n * sizeof *s);
    if (lse) *lse = -INFINITY;
    return;
  }
  const int64_t n16 = n / 16 * 16;
  __m512 vm = _mm512_set1_ps(-INFINITY);
  for (; j < n16; j += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(s + j));
  if (n16) m = _mm512_reduce_max_ps(vm);
#endif
  for (; j < n; j++) m = s[j] > m ? s[j] : m;
  if (m == -INFINITY) {
    memset(s, 0, (size_t)n * sizeof *s);
    if (lse) *lse = -INFINITY;
    return;
  }
  j = 0;
#ifdef __AVX512F__
  __m512 vs = _mm512_setzero_ps(), vmax = _mm512_set1_ps(m);
  for (; j < n16; j += 16) {
    __m512 e = eq_exp_nonpos_ps(_mm512_sub_ps(_mm512_loadu_ps(s + j), vmax));
    _mm512_storeu_ps(s + j, e);
    vs = _mm512_add_ps(vs, e);
  }
  if (n16) sum = _mm512_reduce_add_ps(vs);
#endif
  for (; j < n; j++) sum += (s[j] = fast_expf(s[j] - m));
  float inv = 1 / sum;
  j = 0;
#ifdef __AVX512F__
  for (__m512 vi = _mm512_set1_ps(inv); j < n16; j += 16) _mm512_storeu_ps(s + j, _mm512_mul_ps(_mm512_loadu_ps(s + j), vi));
#endif
  for (; j < n; j++) s[j] *= inv;
  if (lse) *lse = (double)m + log((double)sum);
}

/* The softmax's backward on one row: dp = scale p (dp - sum(p dp)). */
static void softmax_grad_row_f64(const double *p, double *dp, int64_t n, double scale) {
  double d = 0;
  for (int64_t j = 0; j < n; j++) d += p[j] * dp[j];
  for (int64_t j = 0; j < n; j++) dp[j] = p[j] * (dp[j] - d) * scale;
}

static void softmax_grad_row_f32(const float *p, float *dp, int64_t n, float scale) {
  float d = 0;
  int64_t j = 0;
#ifdef __AVX512F__
  const int64_t n16 = n / 16 * 16;
  __m512 vd = _mm512_setzero_ps();
  for (; j < n16; j += 16) vd = _mm512_fmadd_ps(_mm512_loadu_ps(p + j), _mm512_loadu_ps(dp + j), vd);
  if (n16) d = _mm512_reduce_add_ps(vd);
#endif
  for (; j < n; j++) d += p[j] * dp[j];
  j = 0;
#ifdef __AVX512F__
  __m512 vdd = _mm512_set1_ps(d), vsc = _mm512_set1_ps(scale);
  for (; j < n16; j += 16) {
    __m512 pv = _mm512_mul_ps(_mm512_loadu_ps(p + j), vsc);
    _mm512_storeu_ps(dp + j, _mm512_mul_ps(pv, _mm512_sub_ps(_mm512_loadu_ps(dp + j), vdd)));
  }
#endif
  for (; j < n; j++) dp[j] = p[j] * (dp[j] - d) * scale;
}

/* dst[0, n) = src[0, n), with streaming stores where they apply: the
 * kept probabilities are read again only by the backward, and written
 * through the caches each line was first read from memory (the score
 * GEMM's stores stalled on it). */
static void store_stream_f32(float *dst, const float *src, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  for (; i < n && ((uintptr_t)(dst + i) & 63); i++) dst[i] = src[i];
  for (; i + 16 <= n; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
  _mm_sfence();
#endif
  for (; i < n; i++) dst[i] = src[i];
}
static void store_stream_f64(double *dst, const double *src, int64_t n) { memcpy(dst, src, (size_t)n * sizeof *dst); }

/* Query rows per block: the score block (rows x Lk) stays within ~128 KB. */
static int64_t att_block(int64_t Lk) {
  int64_t r = (int64_t)(32768 / (Lk > 0 ? Lk : 1));
  return r < 16 ? 16 : r;
}

size_t eq_nn_att_scratch(const att_ctx *c, int blocks) {
  int64_t bq = att_block(c->Lk);
  if (bq > c->Lq) bq = c->Lq;
  return (size_t)(blocks * bq * c->Lk);
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
  return (size_t)omp_get_max_threads() * eq_nn_att_scratch(c, 2) * es + 64;
}

eq_status eq_nn_att_backward(const att_ctx *c, eq_dtype dt, const void *q, const void *k, const void *v,
                             const void *dout, void *dq, void *dk, void *dv, const bool *fresh) {
  if (!eq_nn_workspace(bwd_workspace(c, eq_dtype_size(dt)))) return eq_error_code();
  if (dt == EQ_F32)
    att_bwd_f32(c, q, k, v, dout, c->lse, dq, dk, dv, fresh);
  else
    att_bwd_f64(c, q, k, v, dout, c->lse, dq, dk, dv, fresh);
  return EQ_OK;
}

eq_status eq_nn_att_forward(const att_ctx *c, eq_dtype dt, const void *q, const void *k, const void *v, void *o) {
  if (c->Lq * c->Dv == 0 || c->B == 0 || c->Lk == 0) return EQ_OK;
  if (!eq_nn_workspace(bwd_workspace(c, eq_dtype_size(dt)))) return eq_error_code();
  if (dt == EQ_F32)
    att_fwd_f32(c, q, k, v, o, c->lse);
  else
    att_fwd_f64(c, q, k, v, o, c->lse);
  return EQ_OK;
}

size_t eq_nn_att_state_bytes(const att_ctx *c, size_t elem, bool has_node) {
  /* The backward gets the probabilities up to eq_nn_att_keep_probs_max
   * elements, else the log-sum-exp to recompute them from. */
  int64_t probs = c->B * c->Lq * c->Lk;
  if (!has_node) return 0;
  return probs <= eq_nn_att_keep_probs_max ? (size_t)probs * elem : (size_t)(c->B * c->Lq) * sizeof(double);
}

void eq_nn_att_state_attach(att_ctx *c, void *state, bool has_node) {
  bool keep = has_node && c->B * c->Lq * c->Lk <= eq_nn_att_keep_probs_max;
  c->probs = keep ? state : NULL;
  c->lse = has_node && !keep ? state : NULL;
}

void eq_nn_att_fwd_entry_f32(const att_ctx *c, int64_t b, const float *q, const float *k, const float *v, float *o,
                             float *scratch) {
  fwd_entry_f32(c, b, q, k, v, o, c->lse, scratch);
}

void eq_nn_att_bwd_entry_f32(const att_ctx *c, int64_t b, const float *q, const float *k, const float *v,
                             const float *dout, float *dq, float *dk, float *dv, const bool *fresh, float *scratch) {
  bwd_entry_f32(c, b, q, k, v, dout, c->lse, dq, dk, dv, fresh, scratch);
}

void eq_nn_att_prefetch_entry_f32(const att_ctx *c, const float *q, const float *k, const float *v, int64_t b) {
  prefetch_entry_f32(c, q, k, v, b);
}

void eq_nn_att_qkv_rows_ctx(att_ctx *c, int64_t n, int64_t L, int64_t dim, int heads, double scale) {
  int64_t hd = dim / heads;
  memset(c, 0, sizeof *c);
  c->nlead = 2;
  c->lead_shape[0] = n;
  c->lead_shape[1] = heads;
  c->B = n * heads;
  c->Lq = c->Lk = L;
  c->D = c->Dv = hd;
  c->scale = scale > 0 ? scale : 1.0 / sqrt((double)(hd > 0 ? hd : 1));
  const int in_ops[] = {ATT_Q, ATT_K, ATT_V, ATT_DQ, ATT_DK, ATT_DV};
  for (int t = 0; t < 6; t++) {
    c->lead_stride[in_ops[t]][0] = L * 3 * dim;
    c->lead_stride[in_ops[t]][1] = hd;
    c->ld[in_ops[t]] = 3 * dim;
  }
  c->lead_stride[ATT_OUT][0] = L * dim;
  c->lead_stride[ATT_OUT][1] = hd;
  c->ld[ATT_OUT] = dim;
}

static eq_status att_backward(eq_node *node) {
  eq_tensor *q = node->inputs[0], *k = node->inputs[1], *v = node->inputs[2];
  bool fresh[3];
  eq_tensor *g[3];
  if (eq_nn_grads_for_write(node, 3, g, fresh)) return eq_error_code();
  return eq_nn_att_backward(node->ctx, q->dtype, eq_data_ptr(q), eq_data_ptr(k), eq_data_ptr(v),
                            eq_data_ptr(node->out->grad),
                      g[0] ? eq_data_ptr(g[0]) : NULL, g[1] ? eq_data_ptr(g[1]) : NULL,
                      g[2] ? eq_data_ptr(g[2]) : NULL, fresh);
}

/* eq_attention_qkv: dq, dk, dv are the three thirds of each row of one
 * gradient buffer, all of it written (fresh) or added to. */
static eq_status att_qkv_backward(eq_node *node) {
  const att_ctx *c = node->ctx;
  eq_tensor *qkv = node->inputs[0], *g;
  bool fresh;
  if (eq_nn_grads_for_write(node, 1, &g, &fresh)) return eq_error_code();
  if (!g) return EQ_OK;
  size_t third = (size_t)(c->lead_shape[c->nlead - 1] * c->D) * eq_dtype_size(qkv->dtype);
  const char *in = eq_data_ptr(qkv);
  char *out = eq_data_ptr(g);
  bool fresh3[3] = {fresh, fresh, fresh};
  return eq_nn_att_backward(c, qkv->dtype, in, in + third, in + 2 * third, eq_data_ptr(node->out->grad), out,
                            out + third, out + 2 * third,
                      fresh3);
}

/* Broadcast strides of the mask against the scores [lead..., Lq, Lk]
 * (NumPy rules); `query` names the query in the error. */
static eq_status mask_strides(const char *op, const eq_tensor *mask, const char *query, att_ctx *c) {
  char bm[96];
  int full = c->nlead + 2;
  int64_t shape[EQ_MAX_DIMS], st[EQ_MAX_DIMS];
  for (int d = 0; d < c->nlead; d++) shape[d] = c->lead_shape[d];
  shape[full - 2] = c->Lq;
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
  return eq_error(EQ_ERR_SHAPE, "%s: mask %s does not broadcast to the scores' shape (query %s, %lld keys)", op,
                  eq_shape_str(mask, bm, sizeof bm), query, (long long)c->Lk);
}

/* The mask's dtype and strides into c. */
static eq_status setup_mask(const char *op, eq_tensor *mask, eq_dtype dt, const char *query, att_ctx *c) {
  if (!mask) return EQ_OK;
  if (eq_require_cpu(op, mask)) return eq_error_code();
  if (mask->dtype == EQ_BOOL || mask->dtype == EQ_U8) {
    c->mask_bool = true;
  } else if (mask->dtype != dt) {
    return eq_error(EQ_ERR_DTYPE, "%s: a float mask must have the query's dtype %s, not %s", op, eq_dtype_name(dt),
                    eq_dtype_name(mask->dtype));
  }
  if (mask_strides(op, mask, query, c)) return eq_error_code();
  c->mask = eq_data_ptr(mask);
  c->mask_elem = eq_dtype_size(mask->dtype);
  return EQ_OK;
}

/* Records the node (inputs ins, backward bwd) and runs the forward into y
 * from the data pointers q, k, v: the shared tail of both entry points. */
static eq_tensor *run_forward(const char *op, att_ctx *c, int n_ins, eq_tensor **ins, eq_backward_fn bwd,
                              const void *q, const void *k, const void *v, eq_tensor *y) {
  eq_dtype dt = y->dtype;
  eq_node *node = eq_tape_record(op, y, n_ins, ins, bwd);
  if (!node && eq_needs_grad(n_ins, ins)) return NULL;
  size_t es = eq_dtype_size(dt), state = eq_nn_att_state_bytes(c, es, node != NULL);
  att_ctx *saved = node ? eq_node_alloc_ctx(node, sizeof *c + state) : NULL;
  if (node && !saved) return NULL;
  eq_nn_att_state_attach(c, saved ? (void *)(saved + 1) : NULL, node != NULL);
  if (saved) *saved = *c;
  if (c->Lk == 0 && c->Lq * c->Dv > 0) {
    if (eq_fill_(y, 0)) return NULL;
  } else if (eq_nn_att_forward(c, dt, q, k, v, eq_data_ptr(y))) {
    return NULL;
  }
  return y;
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
  if (setup_mask(op, mask, q->dtype, eq_shape_str(q, b1, sizeof b1), &c)) return NULL;
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
  /* the output and the gradients are contiguous */
  contiguous_layout(&c, ATT_OUT, c.Lq, c.Dv);
  contiguous_layout(&c, ATT_DQ, c.Lq, c.D);
  contiguous_layout(&c, ATT_DK, c.Lk, c.D);
  contiguous_layout(&c, ATT_DV, c.Lk, c.Dv);
  int64_t shape[EQ_MAX_DIMS];
  for (int d = 0; d < q->ndim; d++) shape[d] = q->shape[d];
  shape[q->ndim - 1] = c.Dv;
  eq_tensor *y = eq_empty(q->dtype, q->ndim, shape);
  if (!y) return NULL;
  return run_forward(op, &c, 3, qkv, att_backward, eq_data_ptr(qkv[0]), eq_data_ptr(qkv[1]), eq_data_ptr(qkv[2]), y);
}

eq_tensor *eq_attention_qkv(eq_tensor *qkv, int heads, eq_tensor *mask, double scale) {
  const char *op = "attention_qkv";
  char b1[96];
  if (eq_nn_check(op, "qkv", qkv, -1, -1)) return NULL;
  int nd = qkv->ndim;
  if (nd < 2 || heads < 1 || qkv->shape[nd - 1] % (3 * (int64_t)heads)) {
    eq_error(EQ_ERR_SHAPE, "%s: qkv %s with %d heads: expected [..., L, 3 * heads * head_dim]", op,
             eq_shape_str(qkv, b1, sizeof b1), heads);
    return NULL;
  }
  if (nd + 1 > EQ_MAX_DIMS) { /* the scores are [..., heads, L, L] */
    eq_error(EQ_ERR_SHAPE, "%s: qkv %s has too many dims for a heads dim (at most %d)", op,
             eq_shape_str(qkv, b1, sizeof b1), EQ_MAX_DIMS - 1);
    return NULL;
  }
  eq_tensor *qc = eq_nn_contig(qkv);
  if (!qc) return NULL;
  int64_t L = qkv->shape[nd - 2], dim = qkv->shape[nd - 1] / 3, hd = dim / heads;
  /* [..., L, (3, heads, hd)] seen as q, k, v of [..., heads, L, hd]: the
   * leading dims, then the heads hd apart; rows 3 dim apart */
  att_ctx c = {0};
  c.nlead = nd - 1;
  c.B = heads;
  for (int d = 0; d < nd - 2; d++) c.B *= (c.lead_shape[d] = qkv->shape[d]);
  c.lead_shape[nd - 2] = heads;
  c.Lq = c.Lk = L;
  c.D = c.Dv = hd;
  c.scale = scale > 0 ? scale : 1.0 / sqrt((double)(hd > 0 ? hd : 1));
  int64_t shape[EQ_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = qkv->shape[d];
  shape[nd - 1] = dim;
  eq_tensor *y = eq_empty(qkv->dtype, nd, shape);
  if (!y) return NULL;
  const int in_ops[] = {ATT_Q, ATT_K, ATT_V, ATT_DQ, ATT_DK, ATT_DV};
  for (int t = 0; t < 6; t++) {
    for (int d = 0; d < nd - 2; d++) c.lead_stride[in_ops[t]][d] = qc->stride[d];
    c.lead_stride[in_ops[t]][nd - 2] = hd;
    c.ld[in_ops[t]] = 3 * dim;
  }
  for (int d = 0; d < nd - 2; d++) c.lead_stride[ATT_OUT][d] = y->stride[d];
  c.lead_stride[ATT_OUT][nd - 2] = hd;
  c.ld[ATT_OUT] = dim;
  char query[96];
  snprintf(query, sizeof query, "%s with %d heads", eq_shape_str(qkv, b1, sizeof b1), heads);
  if (setup_mask(op, mask, qkv->dtype, query, &c)) {
    eq_tensor_free(y);
    return NULL;
  }
  const char *base = eq_data_ptr(qc);
  size_t third = (size_t)dim * eq_dtype_size(qkv->dtype);
  return run_forward(op, &c, 1, &qc, att_qkv_backward, base, base + third, base + 2 * third, y);
}
