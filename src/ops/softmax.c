/* softmax, log_softmax and l2_normalize along one axis: row kernels on the
 * reduction plan's [M, R] layout (a view when the axis is last), with the
 * row maximum subtracted before exp. */
#pragma GCC optimize("no-trapping-math") /* lets the select-heavy loops vectorise */
#include <math.h>
#include <omp.h>

#include "ops/fast_math.h"
#include "ops/ops_internal.h"

#define PAR_IF(M, R) if ((M) > 1 && (M) * (R) > 16384 && !omp_in_parallel())

enum { SOFTMAX, LOG_SOFTMAX };

static float row_max_f32(const float *restrict x, int64_t R) {
  float m[16];
  for (int j = 0; j < 16; j++) m[j] = -INFINITY;
  int64_t k = 0;
  for (; k + 16 <= R; k += 16)
    for (int j = 0; j < 16; j++) m[j] = x[k + j] > m[j] ? x[k + j] : m[j];
  float mx = -INFINITY;
  for (; k < R; k++) mx = x[k] > mx ? x[k] : mx;
  for (int j = 0; j < 16; j++) mx = m[j] > mx ? m[j] : mx;
  return mx;
}

/* Float sums need explicit lanes to vectorise (no reassociation without
 * -ffast-math): 16 partial sums, combined at the end. */
#define LANES 16

/* y = softmax(x) or log_softmax(x) of one float32 row. */
static void row_forward_f32(const float *restrict x, float *restrict y, int64_t R, int kind) {
  float mx = row_max_f32(x, R);
  if (mx == -INFINITY) mx = 0; /* an all -inf row: NaN below, as PyTorch */
  float acc[LANES] = {0}, s = 0;
  int64_t k = 0;
  if (kind == SOFTMAX) {
    for (; k + LANES <= R; k += LANES)
      for (int j = 0; j < LANES; j++) {
        float e = eq_expf(x[k + j] - mx);
        y[k + j] = e;
        acc[j] += e;
      }
    for (; k < R; k++) s += y[k] = eq_expf(x[k] - mx);
    for (int j = 0; j < LANES; j++) s += acc[j];
    float inv = 1.0f / s;
    for (k = 0; k < R; k++) y[k] *= inv;
  } else {
    for (; k + LANES <= R; k += LANES)
      for (int j = 0; j < LANES; j++) acc[j] += eq_expf(x[k + j] - mx);
    for (; k < R; k++) s += eq_expf(x[k] - mx);
    for (int j = 0; j < LANES; j++) s += acc[j];
    float lse = mx + logf(s);
    for (k = 0; k < R; k++) y[k] = x[k] - lse;
  }
}

static void row_forward_f64(const double *restrict x, double *restrict y, int64_t R, int kind) {
  double mx = -INFINITY, s = 0;
  for (int64_t k = 0; k < R; k++) mx = x[k] > mx ? x[k] : mx;
  if (mx == -INFINITY) mx = 0;
  if (kind == SOFTMAX) {
    for (int64_t k = 0; k < R; k++) s += y[k] = exp(x[k] - mx);
    double inv = 1.0 / s;
    for (int64_t k = 0; k < R; k++) y[k] *= inv;
  } else {
    for (int64_t k = 0; k < R; k++) s += exp(x[k] - mx);
    double lse = mx + log(s);
    for (int64_t k = 0; k < R; k++) y[k] = x[k] - lse;
  }
}

/* softmax: gx = y (g - sum(g y)); log_softmax: gx = g - exp(y) sum(g). */
static void row_backward_f32(const float *restrict y, const float *restrict g, float *restrict gx, int64_t R,
                             int kind) {
  float acc[LANES] = {0}, s = 0;
  int64_t k = 0;
  if (kind == SOFTMAX) {
    for (; k + LANES <= R; k += LANES)
      for (int j = 0; j < LANES; j++) acc[j] += g[k + j] * y[k + j];
    for (; k < R; k++) s += g[k] * y[k];
  } else {
    for (; k + LANES <= R; k += LANES)
      for (int j = 0; j < LANES; j++) acc[j] += g[k + j];
    for (; k < R; k++) s += g[k];
  }
  for (int j = 0; j < LANES; j++) s += acc[j];
  if (kind == SOFTMAX)
    for (k = 0; k < R; k++) gx[k] = y[k] * (g[k] - s);
  else
    for (k = 0; k < R; k++) gx[k] = g[k] - eq_expf(y[k]) * s;
}

static void row_backward_f64(const double *restrict y, const double *restrict g, double *restrict gx, int64_t R,
                             int kind) {
  double s = 0;
  if (kind == SOFTMAX) {
    for (int64_t k = 0; k < R; k++) s += g[k] * y[k];
    for (int64_t k = 0; k < R; k++) gx[k] = y[k] * (g[k] - s);
  } else {
    for (int64_t k = 0; k < R; k++) s += g[k];
    for (int64_t k = 0; k < R; k++) gx[k] = g[k] - exp(y[k]) * s;
  }
}

static bool identity_perm(const eq_reduce_plan *p) {
  for (int k = 0; k < p->ndim; k++)
    if (p->perm[k] != k) return false;
  return true;
}

static eq_status softmax_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *y = node->out, *g = y->grad;
  int kind = (int)node->i[2];
  eq_reduce_plan p;
  eq_reduce_plan_load(&p, node, x);
  EQ_NO_GRAD_BEGIN;
  bool oy, og;
  eq_tensor *yr = eq_reduce_rows(&p, y, &oy);
  eq_tensor *gr = yr ? eq_reduce_rows(&p, g, &og) : NULL;
  eq_tensor *gx = gr ? eq_empty(x->dtype, 2, yr->shape) : NULL;
  eq_status st = gx ? EQ_OK : eq_error_code();
  if (!st) {
    int64_t M = p.M, R = p.R;
    if (x->dtype == EQ_F32) {
      const float *Y = eq_data_ptr(yr), *G = eq_data_ptr(gr);
      float *O = eq_data_ptr(gx);
#pragma omp parallel for PAR_IF(M, R)
      for (int64_t m = 0; m < M; m++) row_backward_f32(Y + m * R, G + m * R, O + m * R, R, kind);
    } else {
      const double *Y = eq_data_ptr(yr), *G = eq_data_ptr(gr);
      double *O = eq_data_ptr(gx);
#pragma omp parallel for PAR_IF(M, R)
      for (int64_t m = 0; m < M; m++) row_backward_f64(Y + m * R, G + m * R, O + m * R, R, kind);
    }
    st = eq_reduce_accumulate_rows(&p, x, gx);
  }
  eq_tensor_free(gx);
  if (gr && og) eq_tensor_free(gr);
  if (yr && oy) eq_tensor_free(yr);
  EQ_NO_GRAD_END;
  return st;
}

static eq_tensor *softmax_like(const char *op, eq_tensor *x, int axis, int kind) {
  if (eq_require_cpu(op, x)) return NULL;
  if (!eq_dtype_is_float(x->dtype)) {
    eq_error(EQ_ERR_DTYPE, "%s: needs float32/float64, got %s", op, eq_dtype_name(x->dtype));
    return NULL;
  }
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, x, 1, &axis, true)) return NULL;
  bool owned;
  eq_tensor *rows = eq_reduce_rows(&p, x, &owned);
  if (!rows) return NULL;
  /* With the axis last the rows are the output's own layout. */
  bool direct = identity_perm(&p);
  eq_tensor *res = direct ? eq_empty(x->dtype, x->ndim, x->shape) : eq_empty(x->dtype, 2, rows->shape);
  eq_tensor *out = res;
  if (res) {
    int64_t M = p.M, R = p.R;
    if (x->dtype == EQ_F32) {
      const float *X = eq_data_ptr(rows);
      float *Y = eq_data_ptr(res);
#pragma omp parallel for PAR_IF(M, R)
      for (int64_t m = 0; m < M; m++) row_forward_f32(X + m * R, Y + m * R, R, kind);
    } else {
      const double *X = eq_data_ptr(rows);
      double *Y = eq_data_ptr(res);
#pragma omp parallel for PAR_IF(M, R)
      for (int64_t m = 0; m < M; m++) row_forward_f64(X + m * R, Y + m * R, R, kind);
    }
    if (!direct) {
      out = eq_reduce_from_rows(&p, x, res, x->dtype);
      eq_tensor_free(res);
    }
  }
  if (owned) eq_tensor_free(rows);
  if (!out) return NULL;
  bool failed;
  eq_node *node = eq_ops_record(op, out, 1, &x, softmax_backward, &failed);
  if (failed) return NULL;
  if (node) {
    eq_reduce_plan_save(&p, node);
    node->i[2] = kind;
  }
  return out;
}

eq_tensor *eq_softmax(eq_tensor *x, int axis) { return softmax_like("softmax", x, axis, SOFTMAX); }
eq_tensor *eq_log_softmax(eq_tensor *x, int axis) { return softmax_like("log_softmax", x, axis, LOG_SOFTMAX); }

/* ------------------------------------------------------------ l2_normalize */

/* Rows in double: y = x / max(||x||, eps). Backward: where the norm exceeds
 * eps, gx = (g - y sum(g y)) / norm; else the divisor is the constant eps
 * and gx = g / eps. */
static eq_status l2n_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  double eps = node->f[0];
  eq_reduce_plan p;
  eq_reduce_plan_load(&p, node, x);
  EQ_NO_GRAD_BEGIN;
  bool ox, og;
  eq_tensor *xr = eq_reduce_rows(&p, x, &ox);
  eq_tensor *gr = xr ? eq_reduce_rows(&p, g, &og) : NULL;
  eq_tensor *gx = gr ? eq_empty(x->dtype, 2, xr->shape) : NULL;
  eq_status st = gx ? EQ_OK : eq_error_code();
  if (!st) {
    int64_t M = p.M, R = p.R;
    bool f32 = x->dtype == EQ_F32;
    const char *X = eq_data_ptr(xr), *G = eq_data_ptr(gr);
    char *O = eq_data_ptr(gx);
#pragma omp parallel for PAR_IF(M, R)
    for (int64_t m = 0; m < M; m++) {
      double ss = 0, gy = 0;
      for (int64_t k = 0; k < R; k++) {
        double xv = f32 ? ((const float *)X)[m * R + k] : ((const double *)X)[m * R + k];
        double gv = f32 ? ((const float *)G)[m * R + k] : ((const double *)G)[m * R + k];
        ss += xv * xv;
        gy += gv * xv;
      }
      double norm = sqrt(ss);
      bool clamped = !(norm > eps);
      double d = clamped ? eps : norm, c = clamped ? 0 : gy / (norm * norm);
      for (int64_t k = 0; k < R; k++) {
        double xv = f32 ? ((const float *)X)[m * R + k] : ((const double *)X)[m * R + k];
        double gv = f32 ? ((const float *)G)[m * R + k] : ((const double *)G)[m * R + k];
        double v = (gv - xv * c) / d;
        if (f32)
          ((float *)O)[m * R + k] = (float)v;
        else
          ((double *)O)[m * R + k] = v;
      }
    }
    st = eq_reduce_accumulate_rows(&p, x, gx);
  }
  eq_tensor_free(gx);
  if (gr && og) eq_tensor_free(gr);
  if (xr && ox) eq_tensor_free(xr);
  EQ_NO_GRAD_END;
  return st;
}

eq_tensor *eq_l2_normalize(eq_tensor *x, int axis, double eps) {
  const char *op = "l2_normalize";
  if (eq_require_cpu(op, x)) return NULL;
  if (!eq_dtype_is_float(x->dtype)) {
    eq_error(EQ_ERR_DTYPE, "%s: needs float32/float64, got %s", op, eq_dtype_name(x->dtype));
    return NULL;
  }
  if (!(eps >= 0)) {
    eq_error(EQ_ERR_VALUE, "%s: eps %g must be >= 0", op, eps);
    return NULL;
  }
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, x, 1, &axis, true)) return NULL;
  bool owned;
  eq_tensor *rows = eq_reduce_rows(&p, x, &owned);
  if (!rows) return NULL;
  eq_tensor *res = eq_empty(x->dtype, 2, rows->shape), *out = NULL;
  if (res) {
    int64_t M = p.M, R = p.R;
    bool f32 = x->dtype == EQ_F32;
    const char *X = eq_data_ptr(rows);
    char *Y = eq_data_ptr(res);
#pragma omp parallel for PAR_IF(M, R)
    for (int64_t m = 0; m < M; m++) {
      if (f32) {
        const float *xr = (const float *)X + m * R;
        float *yr = (float *)Y + m * R;
        double ss = 0;
        for (int64_t k = 0; k < R; k++) ss += (double)xr[k] * xr[k];
        double n = sqrt(ss);
        float inv = (float)(1.0 / (n > eps ? n : eps));
        for (int64_t k = 0; k < R; k++) yr[k] = xr[k] * inv;
      } else {
        const double *xr = (const double *)X + m * R;
        double *yr = (double *)Y + m * R, ss = 0;
        for (int64_t k = 0; k < R; k++) ss += xr[k] * xr[k];
        double n = sqrt(ss), d = n > eps ? n : eps;
        for (int64_t k = 0; k < R; k++) yr[k] = xr[k] / d;
      }
    }
    out = eq_reduce_from_rows(&p, x, res, x->dtype);
    eq_tensor_free(res);
  }
  if (owned) eq_tensor_free(rows);
  if (!out) return NULL;
  bool failed;
  eq_node *node = eq_ops_record(op, out, 1, &x, l2n_backward, &failed);
  if (failed) return NULL;
  if (node) {
    eq_reduce_plan_save(&p, node);
    node->f[0] = eps;
  }
  return out;
}
