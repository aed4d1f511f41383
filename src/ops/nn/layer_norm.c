/* eq_layer_norm over the last dim: one row per thread step, two passes over
 * the row in L1. Backward: per-row dx, per-thread partial sums of the weight
 * and bias gradients reduced at the end. float32 rows of a multiple of 16
 * go to the AVX-512 row kernels (layer_norm_rows.c). */
#include <math.h>

#include "ops/nn/layer_norm_rows.h"
#include "ops/nn/nn_common.h"

/* The row kernels for float32 (false: no such kernel, the caller's loops
 * run); float64 has none. */
static bool row_fwd_f32(const float *x, const float *w, const float *b, float *y, int64_t D, double eps, double *mean,
                        double *rstd) {
  return eq_ln_row_fwd_f32(x, w, b, y, D, eps, mean, rstd);
}
static bool row_fwd_f64(const double *x, const double *w, const double *b, double *y, int64_t D, double eps,
                        double *mean, double *rstd) {
  return false;
}
static bool row_bwd_f32(const float *x, const float *w, const float *dy, float *dx, bool fresh_dx, double mean,
                        double rstd, int64_t D, float *dw_acc, float *db_acc) {
  return eq_ln_row_bwd_f32(x, w, dy, dx, fresh_dx, (float)mean, (float)rstd, D, dw_acc, db_acc);
}
static bool row_bwd_f64(const double *x, const double *w, const double *dy, double *dx, bool fresh_dx, double mean,
                        double rstd, int64_t D, double *dw_acc, double *db_acc) {
  return false;
}

typedef struct ln_ctx {
  int64_t rows, D;
  double *mean, *rstd; /* [rows] each, after the struct */
} ln_ctx;

#define LN_KERNELS(T, SFX)                                                                                   \
  static void fwd##SFX(const T *x, const T *w, const T *b, T *y, int64_t rows, int64_t D, double eps,       \
                       double *mean, double *rstd) {                                                         \
    _Pragma("omp parallel for schedule(static) if (rows * D > 16384)")                                      \
    for (int64_t r = 0; r < rows; r++) {                                                                     \
      const T *xr = x + r * D;                                                                               \
      T *yr = y + r * D;                                                                                     \
      if (row_fwd##SFX(xr, w, b, yr, D, eps, mean + r, rstd + r)) continue;                                  \
      T s = 0;                                                                                               \
      _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < D; i++) s += xr[i];                                                            \
      T m = s / (T)D, q = 0;                                                                                 \
      _Pragma("omp simd reduction(+ : q)") for (int64_t i = 0; i < D; i++) q += (xr[i] - m) * (xr[i] - m);                                        \
      T is = (T)(1.0 / sqrt((double)(q / (T)D) + eps));                                                      \
      if (w && b)                                                                                            \
        for (int64_t i = 0; i < D; i++) yr[i] = (xr[i] - m) * is * w[i] + b[i];                              \
      else                                                                                                   \
        for (int64_t i = 0; i < D; i++) yr[i] = (xr[i] - m) * is * (w ? w[i] : 1) + (b ? b[i] : 0);          \
      mean[r] = m;                                                                                           \
      rstd[r] = is;                                                                                          \
    }                                                                                                        \
  }                                                                                                          \
  /* acc: per-thread [2 * D] partial sums (dw then db), nthreads of them. */                                \
  static void bwd##SFX(const T *x, const T *w, const T *dy, T *dx, T *dw, T *db, int64_t rows, int64_t D,    \
                       const double *mean, const double *rstd, T *acc, const bool *fresh) {                                     \
    _Pragma("omp parallel if (rows * D > 16384)") {                                                         \
      int nt = omp_get_num_threads(), tid = omp_get_thread_num();                                            \
      T *aw = acc + (size_t)tid * 2 * D, *ab = aw + D;                                                       \
      memset(aw, 0, 2 * (size_t)D * sizeof(T));                                                              \
      _Pragma("omp for schedule(static)") for (int64_t r = 0; r < rows; r++) {                              \
        const T *xr = x + r * D, *gr = dy + r * D;                                                           \
        if (row_bwd##SFX(xr, w, gr, dx ? dx + r * D : NULL, fresh[0], mean[r], rstd[r], D, aw, ab)) continue; \
        T m = (T)mean[r], is = (T)rstd[r], s1 = 0, s2 = 0;                                                   \
        _Pragma("omp simd reduction(+ : s1, s2)") for (int64_t i = 0; i < D; i++) {                         \
          T xh = (xr[i] - m) * is, g = gr[i] * (w ? w[i] : 1);                                               \
          s1 += g;                                                                                           \
          s2 += g * xh;                                                                                      \
          aw[i] += gr[i] * xh;                                                                               \
          ab[i] += gr[i];                                                                                    \
        }                                                                                                    \
        if (dx) {                                                                                            \
          T *o = dx + r * D;                                                                                 \
          s1 /= (T)D;                                                                                        \
          s2 /= (T)D;                                                                                        \
          for (int64_t i = 0; i < D; i++) {                                                                  \
            T xh = (xr[i] - m) * is, g = gr[i] * (w ? w[i] : 1);                                             \
            o[i] = (fresh[0] ? 0 : o[i]) + is * (g - s1 - xh * s2);                                          \
          }                                                                                                  \
        }                                                                                                    \
      }                                                                                                      \
      _Pragma("omp for schedule(static)") for (int64_t i = 0; i < D; i++) {                                 \
        T sw = 0, sb = 0;                                                                                    \
        for (int t = 0; t < nt; t++) {                                                                       \
          sw += acc[(size_t)t * 2 * D + i];                                                                  \
          sb += acc[(size_t)t * 2 * D + D + i];                                                              \
        }                                                                                                    \
        if (dw) dw[i] = (fresh[1] ? 0 : dw[i]) + sw;                                                         \
        if (db) db[i] = (fresh[2] ? 0 : db[i]) + sb;                                                         \
      }                                                                                                      \
    }                                                                                                        \
  }

LN_KERNELS(float, _f32)
LN_KERNELS(double, _f64)

static eq_status ln_backward(eq_node *node) {
  const ln_ctx *c = node->ctx;
  eq_tensor *x = node->inputs[0], *w = node->inputs[1], *dy = node->out->grad;
  bool fresh[3];
  eq_tensor *g[3];
  if (eq_nn_grads_for_write(node, 3, g, fresh)) return eq_error_code();
  eq_tensor *dx = g[0], *dw = g[1], *db = g[2];
  size_t es = eq_dtype_size(x->dtype);
  void *acc = eq_nn_workspace((size_t)omp_get_max_threads() * 2 * (size_t)c->D * es);
  if (!acc) return eq_error_code();
  if (x->dtype == EQ_F32)
    bwd_f32(eq_f32(x), w ? eq_f32(w) : NULL, eq_f32(dy), dx ? eq_f32(dx) : NULL, dw ? eq_f32(dw) : NULL,
            db ? eq_f32(db) : NULL, c->rows, c->D, c->mean, c->rstd, acc, fresh);
  else
    bwd_f64(eq_f64(x), w ? eq_f64(w) : NULL, eq_f64(dy), dx ? eq_f64(dx) : NULL, dw ? eq_f64(dw) : NULL,
            db ? eq_f64(db) : NULL, c->rows, c->D, c->mean, c->rstd, acc, fresh);
  return EQ_OK;
}

eq_tensor *eq_layer_norm(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, double eps) {
  const char *op = "layer_norm";
  char b1[96], b2[96];
  if (eq_nn_check(op, "input", x, -1, -1)) return NULL;
  if (x->ndim < 1 || x->shape[x->ndim - 1] < 1) {
    eq_error(EQ_ERR_SHAPE, "layer_norm: input %s has no last dim to normalise", eq_shape_str(x, b1, sizeof b1));
    return NULL;
  }
  int64_t D = x->shape[x->ndim - 1], rows = eq_numel(x) / D;
  eq_tensor *const params[2] = {weight, bias};
  for (int k = 0; k < 2; k++) {
    if (!params[k]) continue;
    if (eq_nn_check(op, k ? "bias" : "weight", params[k], 1, x->dtype)) return NULL;
    if (params[k]->shape[0] != D) {
      eq_error(EQ_ERR_SHAPE, "layer_norm: %s %s does not match the last dim of input %s", k ? "bias" : "weight",
               eq_shape_str(params[k], b1, sizeof b1), eq_shape_str(x, b2, sizeof b2));
      return NULL;
    }
  }
  if (!(eps >= 0)) {
    eq_error(EQ_ERR_VALUE, "layer_norm: eps %g must be >= 0", eps);
    return NULL;
  }
  eq_tensor *xc = eq_nn_contig(x), *wc = eq_nn_contig(weight), *bc = eq_nn_contig(bias);
  if (!xc || (weight && !wc) || (bias && !bc)) return NULL;
  eq_tensor *y = eq_empty(x->dtype, x->ndim, x->shape);
  if (!y) return NULL;
  eq_tensor *ins[3] = {xc, wc, bc};
  eq_node *node = eq_tape_record(op, y, 3, ins, ln_backward);
  if (!node && eq_needs_grad(3, ins)) return NULL;
  size_t stats = 2 * (size_t)rows * sizeof(double);
  ln_ctx *c = node ? eq_node_alloc_ctx(node, sizeof *c + stats) : NULL;
  double *m = c ? (double *)(c + 1) : eq_nn_workspace(stats);
  if ((node && !c) || !m) return NULL;
  if (c) *c = (ln_ctx){rows, D, m, m + rows};
  if (x->dtype == EQ_F32)
    fwd_f32(eq_f32(xc), wc ? eq_f32(wc) : NULL, bc ? eq_f32(bc) : NULL, eq_f32(y), rows, D, eps, m, m + rows);
  else
    fwd_f64(eq_f64(xc), wc ? eq_f64(wc) : NULL, bc ? eq_f64(bc) : NULL, eq_f64(y), rows, D, eps, m, m + rows);
  return y;
}
