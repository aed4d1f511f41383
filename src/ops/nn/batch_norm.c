/* eq_batch_norm over [N, C, *]: per-channel statistics over N and the
 * spatial dims. Planes of at least BN_PLANE_MIN values stream through
 * memory in order, OpenMP over planes: each plane's mean and squared
 * deviations come from two passes over the plane in L1, and planes combine
 * exactly (Chan et al.'s pairwise formula) per channel. Walking one channel
 * across the batch instead strides by C*H*W, which aliases in the caches.
 * Smaller planes ([N, C] and late ResNet stages) run per channel.
 * Statistics accumulate in double. */
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
      _Pragma("omp simd reduction(+ : part)") for (int64_t i = 0; i < S; i++) part += r[i];                                                        \
      s += part;                                                                                             \
    }                                                                                                        \
    double m = s / (double)(N * S), q = 0;                                                                   \
    T mt = (T)m;                                                                                             \
    for (int64_t n = 0; n < N; n++) {                                                                        \
      const T *r = x + (n * C + c) * S;                                                                      \
      T part = 0;                                                                                            \
      _Pragma("omp simd reduction(+ : part)") for (int64_t i = 0; i < S; i++) part += (r[i] - mt) * (r[i] - mt);                                     \
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
      _Pragma("omp simd reduction(+ : pa, pb)") for (int64_t i = 0; i < S; i++) {                         \
        pa += g[i];                                                                                          \
        pb += g[i] * (r[i] - mt);                                                                            \
      }                                                                                                      \
      a += pa;                                                                                               \
      b += pb;                                                                                               \
    }                                                                                                        \
    *sdy = a;                                                                                                \
    *sdyx = b;                                                                                               \
  }                                                                                                          \
  /* dx (+)= k * dy + kx * (x - mean) + k0 over one run of S values */                                       \
  static void drun##SFX(const T *r, const T *g, T *o, int64_t S, T mean, T k, T kx, T k0, bool fresh) {      \
    if (fresh)                                                                                               \
      for (int64_t i = 0; i < S; i++) o[i] = k * g[i] + kx * (r[i] - mean) + k0;                             \
    else                                                                                                     \
      for (int64_t i = 0; i < S; i++) o[i] += k * g[i] + kx * (r[i] - mean) + k0;                            \
  }                                                                                                          \
  /* One plane's mean and sum of squared deviations. */                                                     \
  static void plane_stats##SFX(const T *r, int64_t S, double *mean, double *m2) {                           \
    T s = 0;                                                                                                 \
    _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < S; i++) s += r[i];                                                             \
    T m = s / (T)S, q = 0;                                                                                   \
    _Pragma("omp simd reduction(+ : q)") for (int64_t i = 0; i < S; i++) q += (r[i] - m) * (r[i] - m);                                           \
    *mean = m;                                                                                               \
    *m2 = q;                                                                                                 \
  }

BN_KERNELS(float, _f32)
BN_KERNELS(double, _f64)

static double param_at(const eq_tensor *t, int64_t c, double dflt) { return t ? eq_get_flat(t, c) : dflt; }

/* Planes at least this long stream plane by plane (see the top). */
#define BN_PLANE_MIN 16

static eq_status bn_backward(eq_node *node) {
  const bn_ctx *c = node->ctx;
  eq_tensor *x = node->inputs[0], *w = node->n_inputs > 1 ? node->inputs[1] : NULL, *dy = node->out->grad;
  bool fr[3];
  eq_tensor *g[3];
  if (eq_nn_grads_for_write(node, 3, g, fr)) return eq_error_code();
  eq_tensor *dx = g[0], *dw = g[1], *db = g[2];
  const bool fresh = fr[0];
  const int64_t N = c->N, C = c->C, S = c->S, P = N * C;
  const double M = (double)(N * S);
  const bool f32 = x->dtype == EQ_F32, planes = S >= BN_PLANE_MIN;
  /* sums per channel: sdy, sdyx, then k, kx, k0; per plane partials */
  double *ws = eq_nn_workspace((5 * (size_t)C + (planes ? 2 * (size_t)P : 0)) * sizeof(double));
  if (!ws) return eq_error_code();
  double *sdy = ws, *sdyx = ws + C, *k = ws + 2 * C, *kx = ws + 3 * C, *k0 = ws + 4 * C, *pa = ws + 5 * C, *pb = pa + P;
  if (planes) {
#pragma omp parallel for schedule(static) if (P * S > 16384)
    for (int64_t p = 0; p < P; p++) {
      if (f32)
        dsums_f32(eq_f32(x), eq_f32(dy), 1, 1, S, p, c->mean[p % C], &pa[p], &pb[p]);
      else
        dsums_f64(eq_f64(x), eq_f64(dy), 1, 1, S, p, c->mean[p % C], &pa[p], &pb[p]);
    }
    for (int64_t ch = 0; ch < C; ch++) {
      double a = 0, b = 0;
      for (int64_t n = 0; n < N; n++) a += pa[n * C + ch], b += pb[n * C + ch];
      sdy[ch] = a, sdyx[ch] = b;
    }
  } else {
#pragma omp parallel for schedule(static) if (P * S > 16384)
    for (int64_t ch = 0; ch < C; ch++) {
      if (f32)
        dsums_f32(eq_f32(x), eq_f32(dy), N, C, S, ch, c->mean[ch], &sdy[ch], &sdyx[ch]);
      else
        dsums_f64(eq_f64(x), eq_f64(dy), N, C, S, ch, c->mean[ch], &sdy[ch], &sdyx[ch]);
    }
  }
  for (int64_t ch = 0; ch < C; ch++) {
    double is = c->invstd[ch], wv = param_at(w, ch, 1.0);
    if (dw) eq_set_flat(dw, ch, (fr[1] ? 0 : eq_get_flat(dw, ch)) + sdyx[ch] * is);
    if (db) eq_set_flat(db, ch, (fr[2] ? 0 : eq_get_flat(db, ch)) + sdy[ch]);
    /* training: dx = w*is*(dy - sdy/M - xhat*sum(dy*xhat)/M), xhat = (x-mean)*is;
     * eval: the statistics are constants, dx = w*is*dy. */
    k[ch] = wv * is;
    kx[ch] = c->training ? -wv * is * is * is * sdyx[ch] / M : 0;
    k0[ch] = c->training ? -wv * is * sdy[ch] / M : 0;
  }
  if (!dx) return EQ_OK;
  /* One run = one plane (n, c) of S values. */
#pragma omp parallel for schedule(static) if (P * S > 16384)
  for (int64_t p = 0; p < P; p++) {
    int64_t ch = p % C;
    if (f32)
      drun_f32(eq_f32(x) + p * S, eq_f32(dy) + p * S, eq_f32(dx) + p * S, S, (float)c->mean[ch], (float)k[ch],
               (float)kx[ch], (float)k0[ch], fresh);
    else
      drun_f64(eq_f64(x) + p * S, eq_f64(dy) + p * S, eq_f64(dx) + p * S, S, c->mean[ch], k[ch], kx[ch], k0[ch],
               fresh);
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
  const int64_t P = N * C;
  const bool planes = batch_stats && S >= BN_PLANE_MIN;
  /* mean, invstd, scale, shift per channel; plane partials */
  double *ws = eq_nn_workspace((4 * (size_t)C + (planes ? 2 * (size_t)P : 0)) * sizeof(double));
  if (!ws) return NULL;
  double *mean = ws, *invstd = ws + C, *scale = ws + 2 * C, *shift = ws + 3 * C, *pm = ws + 4 * C, *pq = pm + P;
  bool f32 = x->dtype == EQ_F32;
  if (planes) {
#pragma omp parallel for schedule(static) if (P * S > 16384)
    for (int64_t p = 0; p < P; p++) {
      if (f32)
        plane_stats_f32(eq_f32(xc) + p * S, S, &pm[p], &pq[p]);
      else
        plane_stats_f64(eq_f64(xc) + p * S, S, &pm[p], &pq[p]);
    }
    for (int64_t ch = 0; ch < C; ch++) {
      double m = 0, q = 0;
      for (int64_t n = 0; n < N; n++) m += pm[n * C + ch];
      m /= (double)N;
      for (int64_t n = 0; n < N; n++) {
        double d = pm[n * C + ch] - m;
        q += pq[n * C + ch] + (double)S * d * d;
      }
      mean[ch] = m;
      invstd[ch] = q / (double)(N * S); /* the variance, for now */
    }
  } else {
#pragma omp parallel for schedule(static) if (P * S > 16384)
    for (int64_t ch = 0; ch < C; ch++) {
      if (!batch_stats) {
        mean[ch] = eq_get_flat(running_mean, ch);
        invstd[ch] = eq_get_flat(running_var, ch);
      } else if (f32) {
        stats_f32(eq_f32(xc), N, C, S, ch, &mean[ch], &invstd[ch]);
      } else {
        stats_f64(eq_f64(xc), N, C, S, ch, &mean[ch], &invstd[ch]);
      }
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
#pragma omp parallel for schedule(static) if (P * S > 16384)
  for (int64_t p = 0; p < P; p++) {
    int64_t ch = p % C;
    if (f32)
      affine_f32(eq_f32(xc) + p * S, eq_f32(y) + p * S, 1, 1, S, 0, (float)scale[ch], (float)shift[ch]);
    else
      affine_f64(eq_f64(xc) + p * S, eq_f64(y) + p * S, 1, 1, S, 0, scale[ch], shift[ch]);
  }
  if (node) {
    bn_ctx *c = eq_node_alloc_ctx(node, sizeof *c + 2 * (size_t)C * sizeof(double));
    if (!c) return NULL;
    c->N = N, c->C = C, c->S = S, c->training = batch_stats;
    c->mean = (double *)(c + 1);
    c->invstd = c->mean + C;
    memcpy(c->mean, mean, (size_t)C * sizeof(double));
    memcpy(c->invstd, invstd, (size_t)C * sizeof(double));
  }
  return y;
}
