/* eq_mlp_gelu: residual + GELU(x W1^T + b1) W2^T + b2 in one op, timm's
 * Mlp with the pre-norm block's skip connection. The forward keeps the
 * hidden activation and GELU's slope; the backward writes the gradient at
 * fc1's output as (dY W2) o slope while fc2's products are stored, where
 * eq_linear + eq_gelu + eq_linear_add make a separate pass for it (a
 * multiply reading and writing a [tokens, 4 dim] activation). The products
 * are linear.c's; in float32 with AVX-512 the backward runs in blocks of
 * rows instead (mlp_backward_blocks.c), where that gradient never leaves
 * the cache. */
#include "ops/elementwise_internal.h"
#include "ops/nn/linear_rows.h"
#include "ops/nn/live_rows.h"
#include "ops/nn/mlp_backward_blocks.h"

/* The forward's hidden activation H = GELU(x W1^T + b1) and its slope, both
 * [m, hidden], in the node's context. */
typedef struct {
  void *hidden, *slope;
} mlp_saved;

/* The backward over m rows: dY [m, out], x [m, in], the hidden activation
 * and slope [m, hidden]; grads x, w1, b1, w2, b2 as eq_nn_grads_for_write
 * gives them (NULL: not needed). */
static eq_status backward_rows(eq_dtype dt, int64_t m, int64_t in, int64_t hidden, int64_t out, const void *dy,
                               const void *x, const void *w1, const void *w2, const void *hid, const void *slope,
                               void *const *g, const bool *fresh) {
  if (dt == EQ_F32 && g[0] && g[1] && g[3] && eq_nn_mlp_backward_blocks_apply(m, in, hidden, out)) {
    eq_nn_mlp_f32 p = {m,      in,   hidden, out,  dy,       x,        w1,       w2,       hid,      slope,
                       g[0],   g[1], g[2],   g[3], g[4],     fresh[0], fresh[1], fresh[2], fresh[3], fresh[4]};
    return eq_nn_mlp_backward_blocks_f32(&p);
  }
  eq_tensor *dpre = NULL; /* the gradient at fc1's output */
  if (g[0] || g[1] || g[2]) {
    dpre = eq_empty(dt, EQ_DIMS(m, hidden));
    if (!dpre) return eq_error_code();
  }
  eq_status st = eq_nn_linear_rows_backward(dt, m, hidden, out, dy, hid, w2, dpre ? eq_data_ptr(dpre) : NULL, true,
                                            slope, g[3], fresh[3], g[4], fresh[4]);
  if (!st && dpre)
    st = eq_nn_linear_rows_backward(dt, m, in, hidden, eq_data_ptr(dpre), x, w1, g[0], fresh[0], NULL, g[1], fresh[1],
                                    g[2], fresh[2]);
  eq_tensor_free(dpre);
  return st;
}

/* The backward on dY's live rows alone (live_rows.h), k of the m: their
 * operands gathered, dX scattered back (zero elsewhere). k may be 0. */
static eq_status backward_live_rows(eq_dtype dt, int64_t m, int64_t k, const int64_t *live, int64_t in,
                                    int64_t hidden, int64_t out, const void *dy, const void *x, const void *w1,
                                    const void *w2, const void *hid, const void *slope, void *const *g,
                                    const bool *fresh) {
  size_t es = eq_dtype_size(dt);
  /* dY, x, the hidden activation, the slope and dX of the live rows */
  char *buf = eq_malloc((size_t)k * (size_t)(out + 2 * in + 2 * hidden) * es);
  if (!buf) return eq_error_code();
  char *dyc = buf, *xc = dyc + (size_t)(k * out) * es, *hc = xc + (size_t)(k * in) * es,
       *sc = hc + (size_t)(k * hidden) * es, *dxc = sc + (size_t)(k * hidden) * es;
  eq_nn_gather_rows(dy, (size_t)out * es, k, live, dyc);
  eq_nn_gather_rows(x, (size_t)in * es, k, live, xc);
  eq_nn_gather_rows(hid, (size_t)hidden * es, k, live, hc);
  eq_nn_gather_rows(slope, (size_t)hidden * es, k, live, sc);
  void *gc[5] = {g[0] ? dxc : NULL, g[1], g[2], g[3], g[4]};
  bool fc[5] = {true, fresh[1], fresh[2], fresh[3], fresh[4]};
  eq_status st = EQ_OK;
  if (k > 0) {
    st = backward_rows(dt, k, in, hidden, out, dyc, xc, w1, w2, hc, sc, gc, fc);
  } else {
    /* nothing reaches the weights: fresh gradients are zero */
    const int64_t sizes[5] = {0, hidden * in, hidden, out * hidden, out};
    for (int j = 1; j < 5; j++)
      if (g[j] && fresh[j]) memset(g[j], 0, (size_t)sizes[j] * es);
  }
  if (!st && g[0]) eq_nn_scatter_rows(dt, dxc, in, k, live, g[0], m, fresh[0]);
  eq_free(buf);
  return st;
}

static eq_status mlp_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *w1 = node->inputs[1], *w2 = node->inputs[3], *dy = node->out->grad;
  eq_tensor *residual = node->inputs[5];
  const mlp_saved *sv = node->ctx;
  eq_dtype dt = x->dtype;
  int64_t hidden = w1->shape[0], in = w1->shape[1], out = w2->shape[0], m = eq_numel(x) / (in ? in : 1);
  bool fresh[5];
  eq_tensor *g[5]; /* x, w1, b1, w2, b2 */
  if (eq_nn_grads_for_write(node, 5, g, fresh)) return eq_error_code();
  void *gp[5];
  for (int j = 0; j < 5; j++) gp[j] = g[j] ? eq_data_ptr(g[j]) : NULL;
  /* rows whose dY is zero are skipped (live_rows.h) */
  int64_t *live = eq_malloc((size_t)eq_nn_live_rows_room(m) * sizeof *live);
  if (!live) return eq_error_code();
  int64_t k = eq_nn_live_rows(dt, eq_data_ptr(dy), m, out, live);
  eq_status st = k >= 0 ? backward_live_rows(dt, m, k, live, in, hidden, out, eq_data_ptr(dy), eq_data_ptr(x),
                                                 eq_data_ptr(w1), eq_data_ptr(w2), sv->hidden, sv->slope, gp, fresh)
                            : backward_rows(dt, m, in, hidden, out, eq_data_ptr(dy), eq_data_ptr(x), eq_data_ptr(w1),
                                            eq_data_ptr(w2), sv->hidden, sv->slope, gp, fresh);
  eq_free(live);
  /* after dX is written: the residual may be x itself */
  if (!st && residual) st = eq_grad_pass_through(residual, node);
  return st;
}

/* Checks one of the op's tensors: float, `ndim` dims, x's dtype. */
static eq_status check_arg(const char *what, const eq_tensor *t, int ndim, const eq_tensor *x) {
  return eq_nn_check("mlp_gelu", what, t, ndim, x->dtype);
}

static eq_status check_shapes(eq_tensor *x, eq_tensor *w1, eq_tensor *b1, eq_tensor *w2, eq_tensor *b2,
                              eq_tensor *residual) {
  char bx[96], bw[96], bo[96];
  if (eq_nn_check("mlp_gelu", "input", x, -1, -1) || check_arg("fc1 weight", w1, 2, x) ||
      check_arg("fc2 weight", w2, 2, x) || (b1 && check_arg("fc1 bias", b1, 1, x)) ||
      (b2 && check_arg("fc2 bias", b2, 1, x)) || (residual && check_arg("residual", residual, x->ndim, x)))
    return eq_error_code();
  if (x->ndim < 1 || x->shape[x->ndim - 1] != w1->shape[1])
    return eq_error(EQ_ERR_SHAPE, "mlp_gelu: input %s does not end in fc1 weight %s's in_features %lld",
                    eq_shape_str(x, bx, sizeof bx), eq_shape_str(w1, bw, sizeof bw), (long long)w1->shape[1]);
  if (w2->shape[1] != w1->shape[0])
    return eq_error(EQ_ERR_SHAPE, "mlp_gelu: fc2 weight %s's in_features %lld differ from fc1 weight %s's out_features",
                    eq_shape_str(w2, bo, sizeof bo), (long long)w2->shape[1], eq_shape_str(w1, bw, sizeof bw));
  if (b1 && b1->shape[0] != w1->shape[0])
    return eq_error(EQ_ERR_SHAPE, "mlp_gelu: fc1 bias %s does not match fc1 weight %s's out_features %lld",
                    eq_shape_str(b1, bx, sizeof bx), eq_shape_str(w1, bw, sizeof bw), (long long)w1->shape[0]);
  if (b2 && b2->shape[0] != w2->shape[0])
    return eq_error(EQ_ERR_SHAPE, "mlp_gelu: fc2 bias %s does not match fc2 weight %s's out_features %lld",
                    eq_shape_str(b2, bx, sizeof bx), eq_shape_str(w2, bw, sizeof bw), (long long)w2->shape[0]);
  if (residual) {
    bool same = true;
    for (int d = 0; d + 1 < x->ndim; d++) same = same && residual->shape[d] == x->shape[d];
    if (!same || residual->shape[x->ndim - 1] != w2->shape[0])
      return eq_error(EQ_ERR_SHAPE, "mlp_gelu: residual %s does not match the output shape of input %s and fc2 weight %s",
                      eq_shape_str(residual, bo, sizeof bo), eq_shape_str(x, bx, sizeof bx),
                      eq_shape_str(w2, bw, sizeof bw));
  }
  return EQ_OK;
}

eq_tensor *eq_mlp_gelu(eq_tensor *x, eq_tensor *w1, eq_tensor *b1, eq_tensor *w2, eq_tensor *b2, eq_tensor *residual) {
  if (check_shapes(x, w1, b1, w2, b2, residual)) return NULL;
  eq_tensor *xc = eq_nn_contig(x), *w1c = eq_nn_contig(w1), *b1c = eq_nn_contig(b1), *w2c = eq_nn_contig(w2),
            *b2c = eq_nn_contig(b2), *rc = eq_nn_contig(residual);
  if (!xc || !w1c || !w2c || (b1 && !b1c) || (b2 && !b2c) || (residual && !rc)) return NULL;
  eq_dtype dt = x->dtype;
  int64_t hidden = w1->shape[0], in = w1->shape[1], out = w2->shape[0], m = eq_numel(x) / (in ? in : 1);
  int64_t shape[EQ_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
  shape[x->ndim - 1] = out;
  eq_tensor *y = eq_empty(dt, x->ndim, shape);
  if (!y) return NULL;
  eq_tensor *ins[6] = {xc, w1c, b1c, w2c, b2c, rc};
  size_t es = eq_dtype_size(dt), act = (size_t)(m * hidden) * es;
  eq_node *node = NULL;
  eq_tensor *scratch = NULL; /* the hidden activation when nothing is recorded */
  void *hid, *slope = NULL;
  if (eq_needs_grad(6, ins)) {
    node = eq_tape_record("mlp_gelu", y, 6, ins, mlp_backward);
    if (!node) {
      eq_tensor_free(y);
      return NULL;
    }
    /* from here on y belongs to the tape */
    /* both 64-byte aligned (the context is): the slope takes streaming stores */
    size_t head = (sizeof(mlp_saved) + 63) / 64 * 64, act64 = (act + 63) / 64 * 64;
    mlp_saved *sv = eq_node_alloc_ctx(node, head + act64 + act);
    if (!sv) return NULL;
    hid = sv->hidden = (char *)sv + head;
    slope = sv->slope = (char *)hid + act64;
  } else {
    scratch = eq_empty(dt, EQ_DIMS(m, hidden));
    if (!scratch) {
      eq_tensor_free(y);
      return NULL;
    }
    hid = eq_data_ptr(scratch);
  }
#define PTR(t) ((t) ? eq_data_ptr(t) : NULL)
  eq_status st = eq_nn_linear_rows_forward(dt, m, in, hidden, eq_data_ptr(xc), eq_data_ptr(w1c), PTR(b1c), NULL, hid);
  if (!st) {
    eq_gelu_rows(dt, hid, hid, slope, m * hidden);
    st = eq_nn_linear_rows_forward(dt, m, hidden, out, hid, eq_data_ptr(w2c), PTR(b2c), PTR(rc), eq_data_ptr(y));
  }
#undef PTR
  eq_tensor_free(scratch);
  if (st) {
    if (!node) eq_tensor_free(y);
    return NULL;
  }
  return y;
}
