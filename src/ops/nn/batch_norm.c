/* eq_batch_norm over [N, C, *]: per-channel statistics over N and the
 * spatial dims. Planes of at least BN_PLANE_MIN values stream through
 * memory in order, OpenMP over planes: each plane's mean and squared
 * deviations come from two passes over the plane in L1, and planes combine
 * exactly (Chan et al.'s pairwise formula) per channel. Walking one channel
 * across the batch instead strides by C*H*W, which aliases in the caches.
 * Smaller planes ([N, C] and late ResNet stages) walk blocks of channels
 * and whole rows instead. Statistics accumulate in double. */
#include <math.h>

#include "ops/nn/nn_common.h"

typedef struct bn_ctx {
  int64_t N, C, S;
  bool training;
  bool relu;             /* eq_batch_norm_relu: a relu after (and the skip connection before it) */
  double *mean, *invstd; /* [C] each, after the struct */
} bn_ctx;

/* Planes at least this long stream plane by plane (bn_kernels.inc). */
#define BN_PLANE_MIN 16
/* Channels per block of the small-plane statistics. */
#define BN_BLOCK 64

#define T float
#define SFX _f32
#include "ops/nn/bn_kernels.inc"
#undef T
#undef SFX
#define T double
#define SFX _f64
#include "ops/nn/bn_kernels.inc"
#undef T
#undef SFX

static double param_at(const eq_tensor *t, int64_t c, double dflt) { return t ? eq_get_flat(t, c) : dflt; }

static eq_status bn_backward(eq_node *node) {
  const bn_ctx *c = node->ctx;
  eq_tensor *x = node->inputs[0], *w = node->n_inputs > 1 ? node->inputs[1] : NULL, *dy = node->out->grad;
  bool fr[3];
  eq_tensor *g[3];
  if (eq_nn_grads_for_write(node, 3, g, fr)) return eq_error_code();
  eq_tensor *dx = g[0], *dw = g[1], *db = g[2];
  const bool fresh = fr[0];
  const int64_t N = c->N, C = c->C, S = c->S;
  const double M = (double)(N * S);
  const bool f32 = x->dtype == EQ_F32;
  /* through the relu first, in place: the output's gradient is this node's
   * to use, and becomes the skip connection's (eq_grad_pass_through below) */
  if (c->relu) {
    if (f32)
      relu_mask_f32(eq_f32(node->out), eq_f32(dy), N * C * S);
    else
      relu_mask_f64(eq_f64(node->out), eq_f64(dy), N * C * S);
  }
  /* per channel: sdy, sdyx, k, kx, k0; then partials / coefficient rows */
  size_t es = eq_dtype_size(x->dtype), extra = (size_t)(2 * N * C) * sizeof(double);
  if ((size_t)(3 * C * S) * es > extra) extra = (size_t)(3 * C * S) * es;
  double *ws = eq_nn_workspace(5 * (size_t)C * sizeof(double) + extra);
  if (!ws) return eq_error_code();
  double *sdy = ws, *sdyx = ws + C, *k = ws + 2 * C, *kx = ws + 3 * C, *k0 = ws + 4 * C, *tail = ws + 5 * C;
  if (f32)
    bn_dsums_f32(eq_f32(x), eq_f32(dy), N, C, S, c->mean, sdy, sdyx, tail);
  else
    bn_dsums_f64(eq_f64(x), eq_f64(dy), N, C, S, c->mean, sdy, sdyx, tail);
  for (int64_t ch = 0; ch < C; ch++) {
    double is = c->invstd[ch], wv = param_at(w, ch, 1.0);
    if (dw) eq_set_flat(dw, ch, (fr[1] ? 0 : eq_get_flat(dw, ch)) + sdyx[ch] * is);
    if (db) eq_set_flat(db, ch, (fr[2] ? 0 : eq_get_flat(db, ch)) + sdy[ch]);
    /* training: dx = w*is*(dy - sdy/M - xhat*sum(dy*xhat)/M), xhat = (x-mean)*is,
     * i.e. k dy + kx x + (k0 - kx mean); eval: the statistics are constants,
     * dx = w*is*dy. */
    k[ch] = wv * is;
    kx[ch] = c->training ? -wv * is * is * is * sdyx[ch] / M : 0;
    k0[ch] = (c->training ? -wv * is * sdy[ch] / M : 0) - kx[ch] * c->mean[ch];
  }
  if (dx) {
    if (f32)
      bn_apply_f32(eq_f32(dy), eq_f32(x), eq_f32(dx), N, C, S, k, kx, k0, fresh, (float *)tail);
    else
      bn_apply_f64(eq_f64(dy), eq_f64(x), eq_f64(dx), N, C, S, k, kx, k0, fresh, (double *)tail);
  }
  /* after dx is written: the skip connection may be x itself */
  return node->n_inputs > 3 ? eq_grad_pass_through(node->inputs[3], node) : EQ_OK;
}

static eq_status check_vec(const char *op, const char *what, const eq_tensor *t, int64_t C) {
  if (!t) return EQ_OK;
  if (eq_nn_check(op, what, t, 1, -1)) return eq_error_code();
  if (t->shape[0] != C) {
    char b[96];
    return eq_error(EQ_ERR_SHAPE, "%s: %s has shape %s; [%lld] expected (the input's channels)", op, what,
                    eq_shape_str(t, b, sizeof b), (long long)C);
  }
  return EQ_OK;
}

/* Batch norm and, with `relu`, the skip connection `residual` (or none) and
 * a relu on the output in the same pass. */
static eq_tensor *batch_norm(const char *op, eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *running_mean,
                             eq_tensor *running_var, bool training, double momentum, double eps, bool relu,
                             eq_tensor *residual) {
  char b[96], b2[96];
  if (eq_nn_check(op, "input", x, -1, -1)) return NULL;
  if (x->ndim < 2) {
    eq_error(EQ_ERR_SHAPE, "%s: input %s needs at least 2 dims [N, C, ...]", op, eq_shape_str(x, b, sizeof b));
    return NULL;
  }
  int64_t N = x->shape[0], C = x->shape[1], S = 1;
  for (int d = 2; d < x->ndim; d++) S *= x->shape[d];
  if (check_vec(op, "weight", weight, C) || check_vec(op, "bias", bias, C) ||
      check_vec(op, "running_mean", running_mean, C) || check_vec(op, "running_var", running_var, C))
    return NULL;
  if ((weight && weight->dtype != x->dtype) || (bias && bias->dtype != x->dtype)) {
    eq_error(EQ_ERR_DTYPE, "%s: weight/bias dtype differs from the input's %s", op, eq_dtype_name(x->dtype));
    return NULL;
  }
  if (residual) {
    if (eq_nn_check(op, "residual", residual, x->ndim, x->dtype)) return NULL;
    if (!eq_same_shape(residual, x)) {
      eq_error(EQ_ERR_SHAPE, "%s: residual %s differs from input %s in shape", op, eq_shape_str(residual, b, sizeof b),
               eq_shape_str(x, b2, sizeof b2));
      return NULL;
    }
  }
  if ((running_mean == NULL) != (running_var == NULL)) {
    eq_error(EQ_ERR_VALUE, "%s: give both running_mean and running_var, or neither", op);
    return NULL;
  }
  if (!(eps >= 0) || !(momentum >= 0 && momentum <= 1)) {
    eq_error(EQ_ERR_VALUE, "%s: eps %g must be >= 0 and momentum %g in [0, 1]", op, eps, momentum);
    return NULL;
  }
  bool batch_stats = training || !running_mean;
  if (batch_stats && N * S < 2) {
    eq_error(EQ_ERR_SHAPE, "%s: input %s has one value per channel; batch statistics need more", op,
             eq_shape_str(x, b, sizeof b));
    return NULL;
  }
  eq_tensor *xc = eq_nn_contig(x), *rc = residual ? eq_nn_contig(residual) : NULL;
  if (!xc || (residual && !rc)) return NULL;
  eq_tensor *y = eq_empty(x->dtype, x->ndim, x->shape);
  if (!y) return NULL;
  eq_tensor *ins[4] = {xc, weight, bias, rc};
  int n_ins = rc ? 4 : 3;
  eq_node *node = eq_tape_record(op, y, n_ins, ins, bn_backward);
  if (!node && eq_needs_grad(n_ins, ins)) return NULL;
  bool f32 = x->dtype == EQ_F32;
  size_t es = eq_dtype_size(x->dtype), extra = (size_t)(2 * N * C) * sizeof(double);
  if ((size_t)(3 * C * S) * es > extra) extra = (size_t)(3 * C * S) * es;
  /* mean, var -> invstd, scale, shift per channel; partials / coefficient rows */
  double *ws = eq_nn_workspace(4 * (size_t)C * sizeof(double) + extra);
  if (!ws) return NULL;
  double *mean = ws, *invstd = ws + C, *scale = ws + 2 * C, *shift = ws + 3 * C, *tail = ws + 4 * C;
  if (batch_stats) {
    if (f32)
      bn_stats_f32(eq_f32(xc), N, C, S, mean, invstd, tail);
    else
      bn_stats_f64(eq_f64(xc), N, C, S, mean, invstd, tail);
  } else {
    for (int64_t ch = 0; ch < C; ch++) {
      mean[ch] = eq_get_flat(running_mean, ch);
      invstd[ch] = eq_get_flat(running_var, ch);
    }
  }
  const double unbias = N * S > 1 ? (double)(N * S) / (double)(N * S - 1) : 1.0;
  for (int64_t ch = 0; ch < C; ch++) {
    double var = invstd[ch];
    if (training && running_mean) {
      eq_set_flat(running_mean, ch, (1 - momentum) * eq_get_flat(running_mean, ch) + momentum * mean[ch]);
      eq_set_flat(running_var, ch, (1 - momentum) * eq_get_flat(running_var, ch) + momentum * var * unbias);
    }
    invstd[ch] = 1.0 / sqrt(var + eps);
    scale[ch] = param_at(weight, ch, 1.0) * invstd[ch];
    shift[ch] = param_at(bias, ch, 0.0) - mean[ch] * scale[ch];
  }
  if (relu && f32)
    bn_apply_relu_f32(eq_f32(xc), rc ? eq_f32(rc) : NULL, eq_f32(y), N, C, S, scale, shift, (float *)tail);
  else if (relu)
    bn_apply_relu_f64(eq_f64(xc), rc ? eq_f64(rc) : NULL, eq_f64(y), N, C, S, scale, shift, (double *)tail);
  else if (f32)
    bn_apply_f32(eq_f32(xc), NULL, eq_f32(y), N, C, S, scale, NULL, shift, true, (float *)tail);
  else
    bn_apply_f64(eq_f64(xc), NULL, eq_f64(y), N, C, S, scale, NULL, shift, true, (double *)tail);
  if (node) {
    bn_ctx *c = eq_node_alloc_ctx(node, sizeof *c + 2 * (size_t)C * sizeof(double));
    if (!c) return NULL;
    c->N = N, c->C = C, c->S = S, c->training = batch_stats, c->relu = relu;
    c->mean = (double *)(c + 1);
    c->invstd = c->mean + C;
    memcpy(c->mean, mean, (size_t)C * sizeof(double));
    memcpy(c->invstd, invstd, (size_t)C * sizeof(double));
  }
  return y;
}

eq_tensor *eq_batch_norm(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *running_mean,
                         eq_tensor *running_var, bool training, double momentum, double eps) {
  return batch_norm("batch_norm", x, weight, bias, running_mean, running_var, training, momentum, eps, false, NULL);
}

eq_tensor *eq_batch_norm_relu(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *running_mean,
                              eq_tensor *running_var, bool training, double momentum, double eps, eq_tensor *residual) {
  return batch_norm("batch_norm_relu", x, weight, bias, running_mean, running_var, training, momentum, eps, true,
                    residual);
}
