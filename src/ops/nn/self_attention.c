/* eq_self_attention (and eq_qkv_attention, the same without the output
 * projection): timm's Attention in one op, the qkv projection, the
 * attention of eq_attention_qkv, the output projection and the block's
 * skip connection.
 *
 * Why one op: run as separate ops, each writes a [tokens, features]
 * activation to memory for the next to read back: qkv, the attention's
 * output, and in the backward the output projection's dX and d(qkv), each
 * line of which is first read from memory, as any store to a line not in
 * cache (ViT-Tiny's attention forward: 0.65-0.70 ms with its inputs in
 * cache, 0.83-0.95 from memory). Here, in float32 with AVX-512 on tall
 * inputs, each thread takes its images a block at a time: the forward
 * projects a block's rows, runs their attention and projects its output
 * while the rows are in L2; the backward makes a block's output-projection
 * gradient and d(qkv) in its scratch and hands d(qkv) straight to the qkv
 * projection's blocked backward (linear_backward_blocks.c). Elsewhere it
 * runs the separate ops' kernels one after the other. */
#include "ops/nn/attention_internal.h"
#include "ops/nn/linear_backward_blocks.h"
#include "ops/nn/linear_rows.h"
#include "ops/nn/live_rows.h"

/* The node's context: this, then the attention's state (probabilities or
 * log-sum-exp), qkv [m, 3 dim] and, with an output projection, the
 * attention's output [m, dim], each 64-byte aligned. */
typedef struct {
  att_ctx att;
  int64_t n, L, in, dim;
  bool proj; /* an output projection: its input is `o` */
  void *qkv, *o;
} self_att;

enum { IN_X, IN_WQKV, IN_BQKV, IN_WPROJ, IN_BPROJ, IN_RESIDUAL, N_INPUTS };

/* Images per block: at least 128 rows, so the products are not too short. */
static int64_t images_per_block(int64_t L) { return L >= 128 ? 1 : (127 + L) / L; }

static bool blocks_apply(eq_dtype dt, int64_t m, int64_t in) {
  return dt == EQ_F32 && in > 0 && eq_nn_grad_blocks_apply(m);
}

/* A weight transposed for the tiles into ws, its row stride off a
 * multiple of 4 KB (as linear.c); returns the floats it took. */
static size_t transposed_weight(const float *w, int64_t out, int64_t in, float *ws, int64_t *ldt) {
  *ldt = eq_nn_tile_ld(out);
  if (ws) eq_nn_transpose_f32(out, in, w, in, ws, *ldt);
  return (size_t)(in * *ldt + 15) / 16 * 16;
}

/* The forward by blocks of images on each thread: qkv rows = x Wqkv^T + b,
 * the attention of the block's images into o, then y = o Wproj^T + b +
 * residual (with a projection). */
static eq_status forward_blocks(const self_att *s, eq_tensor *const *in, float *y) {
  const att_ctx *c = &s->att;
  const int64_t L = s->L, out = 3 * s->dim, group = images_per_block(L), heads = c->lead_shape[1];
  const float *x = eq_data_ptr(in[IN_X]), *bqkv = in[IN_BQKV] ? eq_data_ptr(in[IN_BQKV]) : NULL;
  const float *bproj = in[IN_BPROJ] ? eq_data_ptr(in[IN_BPROJ]) : NULL;
  const float *res = in[IN_RESIDUAL] ? eq_data_ptr(in[IN_RESIDUAL]) : NULL;
  float *qkv = s->qkv, *o = s->proj ? s->o : y;
  int threads = omp_get_max_threads();
  int64_t ld_qkv, ld_proj = 0;
  size_t wq = transposed_weight(NULL, out, s->in, NULL, &ld_qkv);
  size_t wp = s->proj ? transposed_weight(NULL, s->dim, s->dim, NULL, &ld_proj) : 0;
  size_t scratch = (eq_nn_att_scratch(c, 1) + 15) / 16 * 16;
  float *ws = eq_nn_workspace((wq + wp + (size_t)threads * scratch) * sizeof(float));
  if (!ws) return eq_error_code();
  float *wt_qkv = ws, *wt_proj = ws + wq;
  transposed_weight(eq_data_ptr(in[IN_WQKV]), out, s->in, wt_qkv, &ld_qkv);
  if (s->proj) transposed_weight(eq_data_ptr(in[IN_WPROJ]), s->dim, s->dim, wt_proj, &ld_proj);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    float *att_ws = ws + wq + wp + (size_t)t * scratch;
    int64_t i0 = s->n * t / threads, i1 = s->n * (t + 1) / threads;
    for (int64_t g0 = i0; g0 < i1; g0 += group) {
      int64_t g1 = g0 + group < i1 ? g0 + group : i1, r0 = g0 * L, rows = (g1 - g0) * L;
      eq_nn_tile_gemm_f32(false, rows, out, s->in, 1.0f, x + r0 * s->in, s->in, wt_qkv, ld_qkv, 0.0f, qkv + r0 * out,
                          out, bqkv, NULL, NULL);
      for (int64_t e = g0 * heads; e < g1 * heads; e++)
        eq_nn_att_fwd_entry_f32(c, e, qkv, qkv + s->dim, qkv + 2 * s->dim, o, att_ws);
      if (s->proj)
        eq_nn_tile_gemm_f32(false, rows, s->dim, s->dim, 1.0f, o + r0 * s->dim, s->dim, wt_proj, ld_proj, 0.0f,
                            y + r0 * s->dim, s->dim, bproj, res ? res + r0 * s->dim : NULL, NULL);
    }
  }
  return EQ_OK;
}

/* The backward's d(qkv), made a block of images at a time for the qkv
 * projection's blocked backward: with an output projection, first its
 * gradients from the block's dY (dO = dY Wproj into the scratch, each
 * thread's share of dWproj and of the bias sums). */
typedef struct {
  const self_att *s;
  const float *dy, *wproj;
  float **dwproj;  /* per thread: its share of dWproj (thread 0: the gradient itself) */
  float **db_sums; /* per thread: the bias sums, or NULL */
  bool *started;   /* per thread: whether its share has been written */
  bool fresh_dwproj;
} dqkv_source;

/* Scratch floats a block of `rows` rows needs for the output projection's
 * backward on dY's live rows (live_rows.h): their indices, dY, the
 * attention output and dO. */
static int64_t live_index_floats(int64_t rows) { return (2 * eq_nn_live_rows_room(rows) + 15) / 16 * 16; }
static int64_t live_scratch_floats(int64_t rows, int64_t dim) {
  return live_index_floats(rows) + (3 * rows * dim + 15) / 16 * 16; /* 64-byte multiples */
}

/* The output projection's backward for a block: dO = dY Wproj into dout,
 * this thread's share of dWproj and the bias sums; on dY's live rows alone
 * where live_rows.h finds few enough (a CLS-pooled ViT's last block: 1 row
 * in 65), dO's other rows zero. */
static void proj_backward(const dqkv_source *a, int64_t r0, int64_t rows, float *dout, float *live_ws) {
  const self_att *s = a->s;
  const int64_t dim = s->dim;
  const int t = omp_get_thread_num();
  const float *dy = a->dy + r0 * dim, *o = (const float *)s->o + r0 * dim;
  const float beta_w = a->started[t] || (t == 0 && !a->fresh_dwproj) ? 1.0f : 0.0f;
  int64_t *live = (int64_t *)live_ws, k = eq_nn_live_rows(EQ_F32, dy, rows, dim, live);
  if (k < 0) {
    eq_nn_linear_block_backward_f32(rows, dim, dim, dy, dim, o, a->wproj, dim, dout, 0.0f, a->dwproj[t], beta_w,
                                    a->db_sums[t]);
    a->started[t] = true;
    return;
  }
  float *dyc = live_ws + live_index_floats(rows), *oc = dyc + rows * dim, *doutc = oc + rows * dim;
  eq_nn_gather_rows(dy, (size_t)dim * sizeof(float), k, live, dyc);
  eq_nn_gather_rows(o, (size_t)dim * sizeof(float), k, live, oc);
  if (k > 0) {
    eq_nn_linear_block_backward_f32(k, dim, dim, dyc, dim, oc, a->wproj, dim, doutc, 0.0f, a->dwproj[t], beta_w,
                                    a->db_sums[t]);
    a->started[t] = true; /* else its share stays unwritten, zeroed at the end */
  }
  eq_nn_scatter_rows(EQ_F32, doutc, dim, k, live, dout, rows, true);
}

static const float *dqkv_rows(const eq_nn_dy_rows *src, int64_t r0, int64_t rows, float *scratch, int64_t *ld) {
  const dqkv_source *a = src->ctx;
  const self_att *s = a->s;
  const int64_t out = 3 * s->dim, heads = s->att.lead_shape[1], hd = s->dim / heads, img0 = r0 / s->L;
  static const bool fresh[3] = {true, true, true};
  float *dqkv = scratch, *dout = scratch + rows * out, *live_ws = dout + rows * s->dim,
        *att_ws = live_ws + live_scratch_floats(rows, s->dim);
  const float *qkv = s->qkv, *dy = a->dy + r0 * s->dim;
  if (s->proj) {
    proj_backward(a, r0, rows, dout, live_ws);
  } else {
    dout = (float *)dy;
  }
  for (int64_t i = 0; i < rows / s->L; i++)
    for (int64_t h = 0; h < heads; h++) {
      float *dq = dqkv + i * s->L * out + h * hd;
      eq_nn_att_bwd_entry_f32(&s->att, (img0 + i) * heads + h, qkv, qkv + s->dim, qkv + 2 * s->dim,
                              dout + i * s->L * s->dim + h * hd, dq, dq + s->dim, dq + 2 * s->dim, fresh, att_ws);
    }
  *ld = out;
  return dqkv;
}

/* The next block's output gradient, qkv rows, probabilities and (with an
 * output projection) attention output into L2 while this block computes. */
static void dqkv_next(const eq_nn_dy_rows *src, int64_t r0, int64_t rows) {
  const dqkv_source *a = src->ctx;
  const self_att *s = a->s;
  const int64_t per_image = s->att.lead_shape[1] * s->L * s->L;
  /* a stack: the last asked for comes first, as the block uses them */
  if (s->att.probs)
    eq_nn_tile_prefetch_l2((const float *)s->att.probs + r0 / s->L * per_image,
                           (size_t)(rows / s->L * per_image) * sizeof(float));
  eq_nn_tile_prefetch_l2((const float *)s->qkv + r0 * 3 * s->dim, (size_t)(rows * 3 * s->dim) * sizeof(float));
  if (s->proj) eq_nn_tile_prefetch_l2((const float *)s->o + r0 * s->dim, (size_t)(rows * s->dim) * sizeof(float));
  eq_nn_tile_prefetch_l2(a->dy + r0 * s->dim, (size_t)(rows * s->dim) * sizeof(float));
}

#define PTR(t) ((t) ? eq_data_ptr(t) : NULL)

/* float32 blocks: the qkv projection's blocked backward with d(qkv) from
 * dqkv_rows; then the threads' shares of dWproj and its bias sums. */
static eq_status backward_blocks(const self_att *s, eq_node *node, eq_tensor *const *g, const bool *fresh) {
  eq_tensor *const *in = node->inputs;
  int threads = omp_get_max_threads();
  const int64_t group = images_per_block(s->L), dd = s->dim * s->dim;
  /* the output projection's shares and sums, after thread 0's (which go to
   * the gradients), and the threads' pointers to them */
  float *extra = NULL, **dwproj = NULL, **db_sums = NULL;
  bool *started = NULL;
  if (s->proj) {
    size_t floats = ((size_t)((threads - 1) * dd + threads * s->dim) + 15) / 16 * 16; /* pointers after, aligned */
    extra = eq_malloc(floats * sizeof(float) + (size_t)threads * (2 * sizeof(float *) + sizeof(bool)));
    if (!extra)
      return eq_error(EQ_ERR_MEMORY, "self_attention backward: out of memory for %d threads' shares", threads);
    dwproj = (float **)(extra + floats), db_sums = dwproj + threads, started = (bool *)(db_sums + threads);
    for (int t = 0; t < threads; t++) {
      dwproj[t] = t ? extra + (t - 1) * dd : eq_data_ptr(g[IN_WPROJ]);
      db_sums[t] = g[IN_BPROJ] ? extra + (threads - 1) * dd + t * s->dim : NULL;
      if (db_sums[t]) memset(db_sums[t], 0, (size_t)s->dim * sizeof(float));
      started[t] = false;
    }
  }
  dqkv_source a = {s, eq_data_ptr(node->out->grad), PTR(in[IN_WPROJ]), dwproj, db_sums, started, fresh[IN_WPROJ]};
  /* per thread: a block's d(qkv), its dO (with a projection) and the attention's scratch */
  size_t scratch = (size_t)(group * s->L * 4 * s->dim + live_scratch_floats(group * s->L, s->dim)) +
                   eq_nn_att_scratch(&s->att, 2);
  eq_nn_dy_rows src = {dqkv_rows, dqkv_next, &a, NULL, scratch, s->L, group};
  eq_status st = eq_nn_linear_backward_rows_f32(
      s->n * s->L, s->in, 3 * s->dim, &src, eq_data_ptr(in[IN_X]), eq_data_ptr(in[IN_WQKV]), eq_data_ptr(g[IN_X]),
      fresh[IN_X], eq_data_ptr(g[IN_WQKV]), fresh[IN_WQKV], PTR(g[IN_BQKV]), fresh[IN_BQKV]);
  if (!st && s->proj) {
    /* a thread with no rows wrote no share: zero it before adding */
    for (int t = 1; t < threads; t++)
      if (!started[t]) memset(dwproj[t], 0, (size_t)dd * sizeof(float));
    if (!started[0] && fresh[IN_WPROJ]) memset(dwproj[0], 0, (size_t)dd * sizeof(float));
    eq_nn_add_shares_f32(threads - 1, extra, (size_t)dd, dd, dwproj[0]);
    float *db = PTR(g[IN_BPROJ]);
    for (int t = 0; db && t < threads; t++)
      for (int64_t j = 0; j < s->dim; j++) db[j] = (t == 0 && fresh[IN_BPROJ] ? 0 : db[j]) + db_sums[t][j];
  }
  eq_free(extra);
  return st;
}

/* Anywhere else: the separate ops' kernels in turn, through a d(qkv) (and
 * dO) buffer. */
static eq_status backward_ops(const self_att *s, eq_node *node, eq_tensor *const *g, const bool *fresh) {
  eq_tensor *const *in = node->inputs;
  eq_dtype dt = in[IN_X]->dtype;
  const int64_t m = s->n * s->L, out = 3 * s->dim;
  size_t es = eq_dtype_size(dt), third = (size_t)s->dim * es;
  eq_tensor *dqkv = eq_empty(dt, EQ_DIMS(m, out)), *dout = s->proj ? eq_empty(dt, EQ_DIMS(m, s->dim)) : NULL;
  eq_status st = !dqkv || (s->proj && !dout) ? eq_error_code() : EQ_OK;
  const void *dy = eq_data_ptr(node->out->grad);
  if (!st && s->proj) {
    st = eq_nn_linear_rows_backward(dt, m, s->dim, s->dim, dy, s->o, eq_data_ptr(in[IN_WPROJ]), eq_data_ptr(dout), true,
                                    NULL, PTR(g[IN_WPROJ]), fresh[IN_WPROJ], PTR(g[IN_BPROJ]), fresh[IN_BPROJ]);
    dy = eq_data_ptr(dout);
  }
  const char *qkv = s->qkv;
  char *d = dqkv ? eq_data_ptr(dqkv) : NULL;
  const bool fresh3[3] = {true, true, true};
  if (!st)
    st = eq_nn_att_backward(&s->att, dt, qkv, qkv + third, qkv + 2 * third, dy, d, d + third, d + 2 * third, fresh3);
  if (!st)
    st =
        eq_nn_linear_rows_backward(dt, m, s->in, out, d, eq_data_ptr(in[IN_X]), eq_data_ptr(in[IN_WQKV]), PTR(g[IN_X]),
                                   fresh[IN_X], NULL, PTR(g[IN_WQKV]), fresh[IN_WQKV], PTR(g[IN_BQKV]), fresh[IN_BQKV]);
  eq_tensor_free(dqkv);
  eq_tensor_free(dout);
  return st;
}

static eq_status self_att_backward(eq_node *node) {
  const self_att *s = node->ctx;
  bool fresh[N_INPUTS];
  eq_tensor *g[N_INPUTS];
  if (eq_nn_grads_for_write(node, N_INPUTS - 1, g, fresh)) return eq_error_code();
  eq_status st =
      g[IN_X] && g[IN_WQKV] && (!s->proj || g[IN_WPROJ]) && blocks_apply(node->inputs[IN_X]->dtype, s->n * s->L, s->in)
          ? backward_blocks(s, node, g, fresh)
          : backward_ops(s, node, g, fresh);
  /* the skip connection's gradient is dY itself, after dX is written (the
   * residual may be x) */
  if (!st && node->inputs[IN_RESIDUAL]) st = eq_grad_pass_through(node->inputs[IN_RESIDUAL], node);
  return st;
}

static eq_status check_args(const char *op, eq_tensor *const *in, int heads) {
  char b1[96], b2[96];
  const char *what[N_INPUTS] = {"input", "qkv weight", "qkv bias", "proj weight", "proj bias", "residual"};
  const int ndims[N_INPUTS] = {-1, 2, 1, 2, 1, -1};
  eq_tensor *x = in[IN_X], *w = in[IN_WQKV], *wp = in[IN_WPROJ], *r = in[IN_RESIDUAL];
  if (eq_nn_check(op, what[IN_X], x, -1, -1)) return eq_error_code();
  for (int k = 1; k < N_INPUTS; k++)
    if (in[k] && eq_nn_check(op, what[k], in[k], ndims[k], x->dtype)) return eq_error_code();
  if (!w) return eq_error(EQ_ERR_VALUE, "%s: the qkv weight is required", op);
  if (x->ndim < 2 || x->shape[x->ndim - 1] != w->shape[1])
    return eq_error(EQ_ERR_SHAPE, "%s: input %s must be [..., L, C] with C the qkv weight %s's in_features %lld", op,
                    eq_shape_str(x, b1, sizeof b1), eq_shape_str(w, b2, sizeof b2), (long long)w->shape[1]);
  if (heads < 1 || w->shape[0] % (3 * (int64_t)heads))
    return eq_error(EQ_ERR_SHAPE, "%s: qkv weight %s with %d heads: its out_features must be 3 * heads * head_dim", op,
                    eq_shape_str(w, b2, sizeof b2), heads);
  int64_t dim = w->shape[0] / 3;
  if (in[IN_BQKV] && in[IN_BQKV]->shape[0] != w->shape[0])
    return eq_error(EQ_ERR_SHAPE, "%s: qkv bias %s does not match qkv weight %s's out_features %lld", op,
                    eq_shape_str(in[IN_BQKV], b1, sizeof b1), eq_shape_str(w, b2, sizeof b2), (long long)w->shape[0]);
  if (wp && (wp->shape[0] != dim || wp->shape[1] != dim))
    return eq_error(EQ_ERR_SHAPE, "%s: proj weight %s must be [%lld, %lld] (the attention's width)", op,
                    eq_shape_str(wp, b1, sizeof b1), (long long)dim, (long long)dim);
  if (in[IN_BPROJ] && (!wp || in[IN_BPROJ]->shape[0] != dim))
    return eq_error(EQ_ERR_SHAPE, "%s: proj bias %s needs a proj weight and %lld elements", op,
                    eq_shape_str(in[IN_BPROJ], b1, sizeof b1), (long long)dim);
  if (r && !wp) return eq_error(EQ_ERR_VALUE, "%s: a residual needs the output projection (proj weight)", op);
  if (r) {
    bool same = r->ndim == x->ndim && r->shape[x->ndim - 1] == dim;
    for (int d = 0; same && d + 1 < x->ndim; d++) same = r->shape[d] == x->shape[d];
    if (!same)
      return eq_error(EQ_ERR_SHAPE, "%s: residual %s does not match the output shape of input %s with width %lld", op,
                      eq_shape_str(r, b1, sizeof b1), eq_shape_str(x, b2, sizeof b2), (long long)dim);
  }
  return EQ_OK;
}

/* Both entry points: in[] as the IN_* slots (NULL where absent). */
static eq_tensor *self_attention(const char *op, eq_tensor **in, int heads, double scale) {
  if (check_args(op, in, heads)) return NULL;
  for (int k = 0; k < N_INPUTS; k++)
    if (in[k] && !(in[k] = eq_nn_contig(in[k]))) return NULL;
  eq_tensor *x = in[IN_X];
  eq_dtype dt = x->dtype;
  int nd = x->ndim;
  self_att s = {.L = x->shape[nd - 2],
                .in = x->shape[nd - 1],
                .dim = in[IN_WQKV]->shape[0] / 3,
                .n = 1,
                .proj = in[IN_WPROJ] != NULL};
  for (int d = 0; d < nd - 2; d++) s.n *= x->shape[d];
  eq_nn_att_qkv_rows_ctx(&s.att, s.n, s.L, s.dim, heads, scale);
  const int64_t m = s.n * s.L;
  int64_t shape[EQ_MAX_DIMS];
  for (int d = 0; d < nd; d++) shape[d] = x->shape[d];
  shape[nd - 1] = s.dim;
  eq_tensor *y = eq_empty(dt, nd, shape);
  if (!y) return NULL;
  size_t es = eq_dtype_size(dt), qkv_bytes = (size_t)(m * 3 * s.dim) * es, o_bytes = (size_t)(m * s.dim) * es;
  eq_tensor *scratch = NULL; /* qkv and o when nothing is recorded */
  eq_node *node = NULL;
  if (eq_needs_grad(N_INPUTS, in)) {
    node = eq_tape_record(op, y, N_INPUTS, in, self_att_backward);
    if (!node) {
      eq_tensor_free(y);
      return NULL;
    }
    /* from here on y belongs to the tape */
    size_t head = (sizeof s + 63) / 64 * 64, state = (eq_nn_att_state_bytes(&s.att, es, true) + 63) / 64 * 64;
    size_t qkv64 = (qkv_bytes + 63) / 64 * 64;
    char *ctx = eq_node_alloc_ctx(node, head + state + qkv64 + (s.proj ? o_bytes : 0));
    if (!ctx) return NULL;
    eq_nn_att_state_attach(&s.att, ctx + head, true);
    s.qkv = ctx + head + state;
    s.o = s.proj ? ctx + head + state + qkv64 : NULL;
    memcpy(ctx, &s, sizeof s);
  } else {
    eq_nn_att_state_attach(&s.att, NULL, false);
    if (!(scratch = eq_empty(dt, EQ_DIMS(m * 3 * s.dim + (s.proj ? m * s.dim : 0))))) {
      eq_tensor_free(y);
      return NULL;
    }
    s.qkv = eq_data_ptr(scratch);
    s.o = s.proj ? (char *)s.qkv + qkv_bytes : NULL;
  }
  eq_status st;
  if (blocks_apply(dt, m, s.in)) {
    st = forward_blocks(&s, in, eq_data_ptr(y));
  } else {
    size_t third = (size_t)s.dim * es;
    const char *qkv = s.qkv;
    void *o = s.proj ? s.o : eq_data_ptr(y);
    st = eq_nn_linear_rows_forward(dt, m, s.in, 3 * s.dim, eq_data_ptr(x), eq_data_ptr(in[IN_WQKV]), PTR(in[IN_BQKV]),
                                   NULL, s.qkv);
    if (!st) st = eq_nn_att_forward(&s.att, dt, qkv, qkv + third, qkv + 2 * third, o);
    if (!st && s.proj)
      st = eq_nn_linear_rows_forward(dt, m, s.dim, s.dim, o, eq_data_ptr(in[IN_WPROJ]), PTR(in[IN_BPROJ]),
                                     PTR(in[IN_RESIDUAL]), eq_data_ptr(y));
  }
  eq_tensor_free(scratch);
  if (st) {
    if (!node) eq_tensor_free(y);
    return NULL;
  }
  return y;
}
#undef PTR

eq_tensor *eq_self_attention(eq_tensor *x, eq_tensor *w_qkv, eq_tensor *b_qkv, eq_tensor *w_proj, eq_tensor *b_proj,
                             eq_tensor *residual, int heads, double scale) {
  eq_tensor *in[N_INPUTS] = {x, w_qkv, b_qkv, w_proj, b_proj, residual};
  return self_attention("self_attention", in, heads, scale);
}

eq_tensor *eq_qkv_attention(eq_tensor *x, eq_tensor *w, eq_tensor *b, int heads, double scale) {
  eq_tensor *in[N_INPUTS] = {x, w, b, NULL, NULL, NULL};
  return self_attention("qkv_attention", in, heads, scale);
}
