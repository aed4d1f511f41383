/* eq_qkv_attention: eq_attention_qkv(eq_linear(x, W, b), heads) in one op,
 * timm's qkv projection and attention.
 *
 * Why one op: run as two, the projection writes the [m, 3 dim] qkv rows to
 * memory and the attention reads them back, and in the backward the
 * attention writes d(qkv) (read from memory first, as any store to a line
 * not in cache) for the projection's backward to read again. In the
 * ViT-Tiny step these streams, not the products, set the attention's pace.
 * Here, in float32 with AVX-512 on tall inputs, each thread takes its
 * images a block at a time: the forward projects a block's rows and runs
 * their attention while the rows are in L2, and the backward makes a
 * block's d(qkv) in its scratch and hands it straight to the projection's
 * blocked backward (linear_backward_blocks.c). Elsewhere it runs the two
 * ops' kernels one after the other. */
#include "ops/nn/attention_internal.h"
#include "ops/nn/linear_backward_blocks.h"
#include "ops/nn/linear_rows.h"

/* The node's context: the attention's, then its state (probabilities or
 * log-sum-exp) and the projection qkv [m, 3 dim], each 64-byte aligned. */
typedef struct {
  att_ctx att;
  int64_t n, L, in, dim;
  void *qkv;
} qkv_att_saved;

/* Images per block: at least 128 rows, so the products are not too short. */
static int64_t images_per_block(int64_t L) { return L >= 128 ? 1 : (127 + L) / L; }

static bool blocks_apply(eq_dtype dt, int64_t m, int64_t in) {
  return dt == EQ_F32 && in > 0 && eq_nn_grad_blocks_apply(m);
}

/* The forward by blocks of images on each thread: qkv rows = x W^T + b,
 * then the attention of the block's images into y. */
static eq_status forward_blocks(const qkv_att_saved *s, const float *x, const float *w, const float *bias, float *qkv,
                                float *y) {
  const att_ctx *c = &s->att;
  const int64_t L = s->L, in = s->in, out = 3 * s->dim, ldt = eq_nn_tile_ld(out), group = images_per_block(L);
  const int64_t heads = c->lead_shape[1];
  int threads = omp_get_max_threads();
  size_t wt_floats = (size_t)(in * ldt + 15) / 16 * 16, scratch = (eq_nn_att_scratch(c, 1) + 15) / 16 * 16;
  float *wt = eq_nn_workspace((wt_floats + (size_t)threads * scratch) * sizeof(float));
  if (!wt) return eq_error_code();
  /* W^T for the tiles, its row stride off a multiple of 4 KB (as linear.c) */
  eq_nn_transpose_f32(out, in, w, in, wt, ldt);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    float *att_ws = wt + wt_floats + (size_t)t * scratch;
    int64_t i0 = s->n * t / threads, i1 = s->n * (t + 1) / threads;
    for (int64_t g0 = i0; g0 < i1; g0 += group) {
      int64_t g1 = g0 + group < i1 ? g0 + group : i1;
      eq_nn_tile_gemm_f32(false, (g1 - g0) * L, out, in, 1.0f, x + g0 * L * in, in, wt, ldt, 0.0f, qkv + g0 * L * out,
                          out, bias, NULL, NULL);
      for (int64_t e = g0 * heads; e < g1 * heads; e++)
        eq_nn_att_fwd_entry_f32(c, e, qkv, qkv + s->dim, qkv + 2 * s->dim, y, att_ws);
    }
  }
  return EQ_OK;
}

/* The backward's d(qkv), made a block of images at a time for the
 * projection's blocked backward. */
typedef struct {
  const qkv_att_saved *s;
  const float *qkv, *dy;
} dqkv_source;

static const float *dqkv_rows(const eq_nn_dy_rows *src, int64_t r0, int64_t rows, float *scratch, int64_t *ld) {
  const dqkv_source *a = src->ctx;
  const qkv_att_saved *s = a->s;
  const int64_t out = 3 * s->dim, heads = s->att.lead_shape[1], hd = s->dim / heads, img0 = r0 / s->L;
  static const bool fresh[3] = {true, true, true};
  float *att_ws = scratch + rows * out;
  for (int64_t i = 0; i < rows / s->L; i++)
    for (int64_t h = 0; h < heads; h++) {
      float *dq = scratch + i * s->L * out + h * hd;
      eq_nn_att_bwd_entry_f32(&s->att, (img0 + i) * heads + h, a->qkv, a->qkv + s->dim, a->qkv + 2 * s->dim, a->dy, dq,
                              dq + s->dim, dq + 2 * s->dim, fresh, att_ws);
    }
  *ld = out;
  return scratch;
}

/* The next block's output gradient, projection rows and probabilities
 * into L2 while this block computes. */
static void dqkv_next(const eq_nn_dy_rows *src, int64_t r0, int64_t rows) {
  const dqkv_source *a = src->ctx;
  const qkv_att_saved *s = a->s;
  eq_nn_tile_prefetch_l2(a->dy + r0 * s->dim, (size_t)(rows * s->dim) * sizeof(float));
  eq_nn_tile_prefetch_l2(a->qkv + r0 * 3 * s->dim, (size_t)(rows * 3 * s->dim) * sizeof(float));
  if (s->att.probs)
    eq_nn_tile_prefetch_l2((const float *)s->att.probs + r0 / s->L * s->att.lead_shape[1] * s->L * s->L,
                           (size_t)(rows / s->L * s->att.lead_shape[1] * s->L * s->L) * sizeof(float));
}

static eq_status qkv_att_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *w = node->inputs[1], *dy = node->out->grad;
  const qkv_att_saved *s = node->ctx;
  eq_dtype dt = x->dtype;
  const int64_t m = s->n * s->L, out = 3 * s->dim;
  bool fresh[3];
  eq_tensor *g[3]; /* x, w, b */
  if (eq_nn_grads_for_write(node, 3, g, fresh)) return eq_error_code();
#define PTR(t) ((t) ? eq_data_ptr(t) : NULL)
  if (g[0] && g[1] && blocks_apply(dt, m, s->in)) {
    dqkv_source a = {s, s->qkv, eq_data_ptr(dy)};
    const int64_t group = images_per_block(s->L);
    eq_nn_dy_rows src = {dqkv_rows, dqkv_next, &a, NULL, (size_t)(group * s->L * out) + eq_nn_att_scratch(&s->att, 2),
                         s->L,      group};
    return eq_nn_linear_backward_rows_f32(m, s->in, out, &src, eq_data_ptr(x), eq_data_ptr(w), eq_data_ptr(g[0]),
                                          fresh[0], eq_data_ptr(g[1]), fresh[1], PTR(g[2]), fresh[2]);
  }
  eq_tensor *dqkv = eq_empty(dt, EQ_DIMS(m, out));
  if (!dqkv) return eq_error_code();
  size_t third = (size_t)s->dim * eq_dtype_size(dt);
  const char *qkv = s->qkv;
  char *d = eq_data_ptr(dqkv);
  const bool fresh3[3] = {true, true, true};
  eq_status st = eq_nn_att_backward(&s->att, dt, qkv, qkv + third, qkv + 2 * third, eq_data_ptr(dy), d, d + third,
                                    d + 2 * third, fresh3);
  if (!st)
    st = eq_nn_linear_rows_backward(dt, m, s->in, out, d, eq_data_ptr(x), eq_data_ptr(w), PTR(g[0]), fresh[0], NULL,
                                    PTR(g[1]), fresh[1], PTR(g[2]), fresh[2]);
#undef PTR
  eq_tensor_free(dqkv);
  return st;
}

static eq_status check_args(eq_tensor *x, eq_tensor *w, eq_tensor *b, int heads) {
  const char *op = "qkv_attention";
  char bx[96], bw[96];
  if (eq_nn_check(op, "input", x, -1, -1) || eq_nn_check(op, "weight", w, 2, x->dtype) ||
      (b && eq_nn_check(op, "bias", b, 1, x->dtype)))
    return eq_error_code();
  if (x->ndim < 2 || x->shape[x->ndim - 1] != w->shape[1])
    return eq_error(EQ_ERR_SHAPE, "%s: input %s must be [..., L, C] with C the weight %s's in_features %lld", op,
                    eq_shape_str(x, bx, sizeof bx), eq_shape_str(w, bw, sizeof bw), (long long)w->shape[1]);
  if (heads < 1 || w->shape[0] % (3 * (int64_t)heads))
    return eq_error(EQ_ERR_SHAPE, "%s: weight %s with %d heads: its out_features must be 3 * heads * head_dim", op,
                    eq_shape_str(w, bw, sizeof bw), heads);
  if (b && b->shape[0] != w->shape[0])
    return eq_error(EQ_ERR_SHAPE, "%s: bias %s does not match weight %s's out_features %lld", op,
                    eq_shape_str(b, bx, sizeof bx), eq_shape_str(w, bw, sizeof bw), (long long)w->shape[0]);
  return EQ_OK;
}

eq_tensor *eq_qkv_attention(eq_tensor *x, eq_tensor *w, eq_tensor *b, int heads, double scale) {
  if (check_args(x, w, b, heads)) return NULL;
  eq_tensor *xc = eq_nn_contig(x), *wc = eq_nn_contig(w), *bc = eq_nn_contig(b);
  if (!xc || !wc || (b && !bc)) return NULL;
  eq_dtype dt = x->dtype;
  int nd = x->ndim;
  qkv_att_saved s = {.L = x->shape[nd - 2], .in = x->shape[nd - 1], .dim = w->shape[0] / 3, .n = 1};
  for (int d = 0; d < nd - 2; d++) s.n *= x->shape[d];
  eq_nn_att_qkv_rows_ctx(&s.att, s.n, s.L, s.dim, heads, scale);
  int64_t shape[EQ_MAX_DIMS], m = s.n * s.L;
  for (int d = 0; d < nd; d++) shape[d] = x->shape[d];
  shape[nd - 1] = s.dim;
  eq_tensor *y = eq_empty(dt, nd, shape);
  if (!y) return NULL;
  eq_tensor *ins[3] = {xc, wc, bc}, *scratch = NULL; /* the projection when nothing is recorded */
  size_t es = eq_dtype_size(dt);
  eq_node *node = NULL;
  if (eq_needs_grad(3, ins)) {
    node = eq_tape_record("qkv_attention", y, 3, ins, qkv_att_backward);
    if (!node) {
      eq_tensor_free(y);
      return NULL;
    }
    /* from here on y belongs to the tape */
    size_t head = (sizeof s + 63) / 64 * 64, state = (eq_nn_att_state_bytes(&s.att, es, true) + 63) / 64 * 64;
    char *ctx = eq_node_alloc_ctx(node, head + state + (size_t)(m * 3 * s.dim) * es);
    if (!ctx) return NULL;
    eq_nn_att_state_attach(&s.att, ctx + head, es, true);
    s.qkv = ctx + head + state;
    memcpy(ctx, &s, sizeof s);
  } else {
    eq_nn_att_state_attach(&s.att, NULL, es, false);
    if (!(scratch = eq_empty(dt, EQ_DIMS(m, 3 * s.dim)))) {
      eq_tensor_free(y);
      return NULL;
    }
    s.qkv = eq_data_ptr(scratch);
  }
  const void *bias = bc ? eq_data_ptr(bc) : NULL;
  eq_status st;
  if (blocks_apply(dt, m, s.in)) {
    st = forward_blocks(&s, eq_data_ptr(xc), eq_data_ptr(wc), bias, s.qkv, eq_data_ptr(y));
  } else {
    size_t third = (size_t)s.dim * es;
    const char *qkv = s.qkv;
    st = eq_nn_linear_rows_forward(dt, m, s.in, 3 * s.dim, eq_data_ptr(xc), eq_data_ptr(wc), bias, NULL, s.qkv);
    if (!st) st = eq_nn_att_forward(&s.att, dt, qkv, qkv + third, qkv + 2 * third, eq_data_ptr(y));
  }
  eq_tensor_free(scratch);
  if (st) {
    if (!node) eq_tensor_free(y);
    return NULL;
  }
  return y;
}
