/* eq_batch_norm over [N, C, *]: per-channel statistics over N and the
 * spatial dims. NCHW keeps one channel's values in N runs of H*W; a channel
 * of a ResNet batch fits in L2, so the passes after the first hit cache.
 * OpenMP over channels. Statistics accumulate in double. */
#include <math.h>

#include "ops/nn/nn_common.h"

typedef struct bn_ctx {
  int64_t N, C, S;
  bool training;
  double *mean, *invstd; /* [C] each, after the struct */
} bn_ctx;

#define BN_KERNELS(T, SFX)                                                                                   \
  /* Batch mean and biased variance of channel c (two passes). */                                          \
  static void stats##SFX(const T *x, int64_t N, int64_t C, int64_t S, int64_t c, double *mean, double *var) { \
    double s = 0;                                                                                            \
    for (int64_t n = 0; n < N; n++) {                                                                        \
      const T *r = x + (n * C + c) * S;                                                                      \
      T part = 0;                                                                                            \
      for (int64_t i = 0; i < S; i++) part += r[i];                                                          \
      s += part;                                                                                             \
    }                                                                                                        \
    double m = s / (double)(N * S), q = 0;                                                                   \
    T mt = (T)m;                                                                                             \
    for (int64_t n = 0; n < N; n++) {                                                                        \
      const T *r = x + (n * C + c) * S;                                                                      \
      T part = 0;                                                                                            \
      for (int64_t i = 0; i < S; i++) part += (r[i] - mt) * (r[i] - mt);                                     \
      q += part;                                                                                             \
    }                                                                                                        \
    *mean = m;                                                                                               \
    *var = q / (double)(N * S);                                                                              \
  }                                                                                                          \
  static void affine##SFX(const T *x, T *y, int64_t N, int64_t C, int64_t S, int64_t c, T scale, T shift) {  \
    for (int64_t n = 0; n < N; n++) {                                                                        \
      const T *r = x + (n * C + c) * S;                                                                      \
      T *o = y + (n * C + c) * S;                                                                            \
      for (int64_t i = 0; i < S; i++) o[i] = r[i] * scale + shift;                                           \
    }                                                                                                        \
  }                                                                                                          \
  /* sum(dy) and sum(dy * (x - mean)) of channel c. */                                                      \
  static void dsums##SFX(const T *x, const T *dy, int64_t N, int64_t C, int64_t S, int64_t c, double mean,   \
                         double *sdy, double *sdyx) {                                                        \
    double a = 0, b = 0;                                                                                     \
    T mt = (T)mean;                                                                                          \
    for (int64_t n = 0; n < N; n++) {                                                                        \
      const T *r = x + (n * C + c) * S, *g = dy + (n * C + c) * S;                                           \
      T pa = 0, pb = 0;                                                                                      \
      for (int64_t i = 0; i < S; i++) {                                                                      \
        pa += g[i];                                                                                          \
        pb += g[i] * (r[i] - mt);                                                                            \
      }                                                                                                      \
      a += pa;                                                                                               \
      b += pb;                                                                                               \
    }                                                                                                        \
    *sdy = a;                                                                                                \
    *sdyx = b;                                                                                               \
  }                                                                                                          \
  /* dx += k * dy + kx * (x - mean) + k0 */                                                                  \
  static void dinput##SFX(const T *x, const T *dy, T *dx, int64_t N, int64_t C, int64_t S, int64_t c, T mean, \
                          T k, T kx, T k0) {                                                                 \
    for (int64_t n = 0; n < N; n++) {                                                                        \
      const T *r = x + (n * C + c) * S, *g = dy + (n * C + c) * S;                                           \
      T *o = dx + (n * C + c) * S;                                                                           \
      for (int64_t i = 0; i < S; i++) o[i] += k * g[i] + kx * (r[i] - mean) + k0;                            \
    }                                                                                                        \
  }

BN_KERNELS(float, _f32)
BN_KERNELS(double, _f64)

static double param_at(const eq_tensor *t, int64_t c, double dflt) { return t ? eq_get_flat(t, c) : dflt; }

static eq_status bn_backward(eq_node *node) {
  const bn_ctx *c = node->ctx;
  eq_tensor *x = node->inputs[0], *w = node->n_inputs > 1 ? node->inputs[1] : NULL, *dy = node->out->grad;
  eq_tensor *dx = eq_nn_grad_of(node, 0), *dw = eq_nn_grad_of(node, 1), *db = eq_nn_grad_of(node, 2);
  if (x->requires_grad && !dx) return eq_error_code();
  if ((node->n_inputs > 1 && node->inputs[1] && node->inputs[1]->requires_grad && !dw) ||
      (node->n_inputs > 2 && node->inputs[2] && node->inputs[2]->requires_grad && !db))
    return eq_error_code();
  const int64_t N = c->N, C = c->C, S = c->S;
  const double M = (double)(N * S);
  bool f32 = x->dtype == EQ_F32;
#pragma omp parallel for schedule(dynamic, 1) if (N * C * S > 16384)
  for (int64_t ch = 0; ch < C; ch++) {
    double sdy, sdyx, mean = c->mean[ch], is = c->invstd[ch], wv = param_at(w, ch, 1.0);
    if (f32)
      dsums_f32(eq_f32(x), eq_f32(dy), N, C, S, ch, mean, &sdy, &sdyx);
    else
      dsums_f64(eq_f64(x), eq_f64(dy), N, C, S, ch, mean, &sdy, &sdyx);
    if (dw) eq_set_flat(dw, ch, eq_get_flat(dw, ch) + sdyx * is);
    if (db) eq_set_flat(db, ch, eq_get_flat(db, ch) + sdy);
    if (!dx) continue;
    /* training: dx = w*is*(dy - sdy/M - xhat*sum(dy*xhat)/M), xhat = (x-mean)*is;
     * eval: the statistics are constants, dx = w*is*dy. */
    double k = wv * is, kx = c->training ? -wv * is * is * is * sdyx / M : 0, k0 = c->training ? -wv * is * sdy / M : 0;
    if (f32)
      dinput_f32(eq_f32(x), eq_f32(dy), eq_f32(dx), N, C, S, ch, (float)mean, (float)k, (float)kx, (float)k0);
    else
      dinput_f64(eq_f64(x), eq_f64(dy), eq_f64(dx), N, C, S, ch, mean, k, kx, k0);
  }
  return EQ_OK;
}

static eq_status check_vec(const char *what, const eq_tensor *t, int64_t C) {
  if (!t) return EQ_OK;
  if (eq_nn_check("batch_norm", what, t, 1, -1)) return eq_error_code();
  if (t->shape[0] != C) {
    char b[96];
    return eq_error(EQ_ERR_SHAPE, "batch_norm: %s has shape %s; [%lld] expected (the input's channels)", what,
                    eq_shape_str(t, b, sizeof b), (long long)C);
  }
  return EQ_OK;
}

eq_tensor *eq_batch_norm(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *running_mean,
                         eq_tensor *running_var, bool training, double momentum, double eps) {
  const char *op = "batch_norm";
  char b[96];
  if (eq_nn_check(op, "input", x, -1, -1)) return NULL;
  if (x->ndim < 2) {
    eq_error(EQ_ERR_SHAPE, "batch_norm: input %s needs at least 2 dims [N, C, ...]", eq_shape_str(x, b, sizeof b));
    return NULL;
  }
  int64_t N = x->shape[0], C = x->shape[1], S = 1;
  for (int d = 2; d < x->ndim; d++) S *= x->shape[d];
  if (check_vec("weight", weight, C) || check_vec("bias", bias, C) || check_vec("running_mean", running_mean, C) ||
      check_vec("running_var", running_var, C))
    return NULL;
  if ((weight && weight->dtype != x->dtype) || (bias && bias->dtype != x->dtype)) {
    eq_error(EQ_ERR_DTYPE, "batch_norm: weight/bias dtype differs from the input's %s", eq_dtype_name(x->dtype));
    return NULL;
  }
  if ((running_mean == NULL) != (running_var == NULL)) {
    eq_error(EQ_ERR_VALUE, "batch_norm: give both running_mean and running_var, or neither");
    return NULL;
  }
  if (!(eps >= 0) || !(momentum >= 0 && momentum <= 1)) {
    eq_error(EQ_ERR_VALUE, "batch_norm: eps %g must be >= 0 and momentum %g in [0, 1]", eps, momentum);
    return NULL;
  }
  bool batch_stats = training || !running_mean;
  if (batch_stats && N * S < 2) {
    eq_error(EQ_ERR_SHAPE, "batch_norm: input %s has one value per channel; batch statistics need more",
             eq_shape_str(x, b, sizeof b));
    return NULL;
  }
  eq_tensor *xc = eq_nn_contig(x);
  if (!xc) return NULL;
  eq_tensor *y = eq_empty(x->dtype, x->ndim, x->shape);
  if (!y) return NULL;
  eq_tensor *ins[3] = {xc, weight, bias};
  eq_node *node = eq_tape_record(op, y, 3, ins, bn_backward);
  if (!node && eq_needs_grad(3, ins)) return NULL;
  bn_ctx tmp;
  bn_ctx *c = node ? eq_node_alloc_ctx(node, sizeof *c + 2 * (size_t)C * sizeof(double)) : &tmp;
  if (!c) return NULL;
  if (!node) {
    double *m = eq_nn_workspace(2 * (size_t)C * sizeof(double));
    if (!m) return NULL;
    c->mean = m;
  } else {
    c->mean = (double *)(c + 1);
  }
  c->invstd = c->mean + C;
  c->N = N, c->C = C, c->S = S, c->training = batch_stats;
  bool f32 = x->dtype == EQ_F32;
  const double unbias = N * S > 1 ? (double)(N * S) / (double)(N * S - 1) : 1.0;
#pragma omp parallel for schedule(dynamic, 1) if (N * C * S > 16384)
  for (int64_t ch = 0; ch < C; ch++) {
    double mean, var;
    if (batch_stats) {
      if (f32)
        stats_f32(eq_f32(xc), N, C, S, ch, &mean, &var);
      else
        stats_f64(eq_f64(xc), N, C, S, ch, &mean, &var);
    } else {
      mean = eq_get_flat(running_mean, ch);
      var = eq_get_flat(running_var, ch);
    }
    double is = 1.0 / sqrt(var + eps);
    c->mean[ch] = mean;
    c->invstd[ch] = is;
    double scale = param_at(weight, ch, 1.0) * is, shift = param_at(bias, ch, 0.0) - mean * scale;
    if (f32)
      affine_f32(eq_f32(xc), eq_f32(y), N, C, S, ch, (float)scale, (float)shift);
    else
      affine_f64(eq_f64(xc), eq_f64(y), N, C, S, ch, scale, shift);
    if (training && running_mean) {
      eq_set_flat(running_mean, ch, (1 - momentum) * eq_get_flat(running_mean, ch) + momentum * mean);
      eq_set_flat(running_var, ch, (1 - momentum) * eq_get_flat(running_var, ch) + momentum * var * unbias);
    }
  }
  return y;
}
