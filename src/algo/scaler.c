/* Scalers (fit: one reduction of moments, extrema or exact quantiles;
 * transform: (x - offset) / scale per column) and the row Normalizer. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "algo/common.h"

eq_scaler_params eq_scaler_defaults(eq_scaler_kind kind) {
  eq_scaler_params p = {kind, true, true, {0, 1}, {25, 75}};
  return p;
}

eq_scaler *eq_scaler_new(const eq_scaler_params *params) {
  if (!params || params->kind < EQ_SCALER_STANDARD || params->kind > EQ_SCALER_ROBUST ||
      !(params->feature_range[0] < params->feature_range[1]) ||
      !(params->quantile_range[0] >= 0 && params->quantile_range[0] < params->quantile_range[1] &&
        params->quantile_range[1] <= 100)) {
    eq_error(EQ_ERR_VALUE, "eq_scaler_new: needs a known kind, feature_range lo < hi and 0 <= quantile_range lo < hi <= 100");
    return NULL;
  }
  eq_scaler *m = eq_calloc(1, sizeof *m);
  if (m) m->params = *params;
  else eq_error(EQ_ERR_MEMORY, "eq_scaler_new: out of memory");
  return m;
}

void eq_scaler_free(eq_scaler *m) {
  if (!m) return;
  eq_tensor_free(m->offset), eq_tensor_free(m->scale), eq_tensor_free(m->stat_a), eq_tensor_free(m->stat_b);
  eq_free(m);
}


/* Exact order statistics: the values of global 0-based ranks r[0..nt) of
 * every column, by bisection over the key space (64 rounds, each one pass
 * over the local rows and one all-reduce of counts). out: d x nt. */
static eq_status order_stats(const eq_mat *X, const int64_t *r, int nt, double *out) {
  int64_t d = X->d, m = d * nt;
  uint64_t *lo = eq_malloc((size_t)m * sizeof(uint64_t)), *hi = eq_malloc((size_t)m * sizeof(uint64_t));
  uint64_t *mid = eq_malloc((size_t)m * sizeof(uint64_t));
  int64_t *cnt = eq_malloc((size_t)m * sizeof(int64_t));
  eq_status st = (lo && hi && mid && cnt) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  for (int64_t i = 0; i < m && !st; i++) lo[i] = 0, hi[i] = UINT64_MAX;
  for (int round = 0; round < 64 && !st; round++) {
    for (int64_t i = 0; i < m; i++) mid[i] = lo[i] + (hi[i] - lo[i]) / 2, cnt[i] = 0;
    for (int64_t i = 0; i < X->n_local; i++)
      for (int64_t j = 0; j < d; j++) {
        uint64_t k = eq_algo_key(eq_mat_at(X, i, j));
        for (int t = 0; t < nt; t++) cnt[j * nt + t] += k <= mid[j * nt + t];
      }
    if ((st = eq_mat_sum_i64(X, cnt, m))) break;
    for (int64_t i = 0; i < m; i++) {
      if (cnt[i] >= r[i % nt] + 1) hi[i] = mid[i];
      else lo[i] = mid[i] + 1;
    }
  }
  for (int64_t i = 0; i < m && !st; i++) out[i] = eq_algo_key_value(lo[i]);
  eq_free(lo), eq_free(hi), eq_free(mid), eq_free(cnt);
  return st;
}

eq_status eq_scaler_fit(eq_scaler *m, eq_rows Xr) {
  const char *op = "eq_scaler_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  if (X.n < 1) st = eq_error(EQ_ERR_SHAPE, "%s: no samples", op);
  int64_t d = X.d;
  double *off = eq_calloc((size_t)d, sizeof(double)), *sc = eq_malloc((size_t)d * sizeof(double));
  double *a = eq_calloc((size_t)d, sizeof(double)), *b = eq_calloc((size_t)d, sizeof(double));
  double *q = eq_malloc((size_t)(d * 6) * sizeof(double));
  if (!st && (!off || !sc || !a || !b || !q)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  const eq_scaler_params *p = &m->params;
  for (int64_t j = 0; j < d && !st; j++) sc[j] = 1;
  if (!st) switch (p->kind) {
      case EQ_SCALER_STANDARD:
        st = eq_mat_moments(&X, a, b);
        for (int64_t j = 0; j < d && !st; j++) {
          b[j] /= (double)X.n; /* variance, ddof 0 */
          double s = sqrt(b[j]);
          if (p->with_centering) off[j] = a[j];
          /* a (near) constant column keeps scale 1, as scikit-learn */
          if (p->with_scaling) sc[j] = s <= 10 * DBL_EPSILON * fmax(1.0, fabs(a[j])) ? 1 : s;
        }
        break;
      case EQ_SCALER_MINMAX:
      case EQ_SCALER_MAXABS: {
        for (int64_t j = 0; j < d; j++) a[j] = INFINITY, b[j] = -INFINITY;
        for (int64_t i = 0; i < X.n_local; i++)
          for (int64_t j = 0; j < d; j++) {
            double v = eq_mat_at(&X, i, j);
            if (p->kind == EQ_SCALER_MAXABS) v = fabs(v);
            a[j] = fmin(a[j], v), b[j] = fmax(b[j], v);
          }
        st = eq_mat_min(&X, a, d);
        if (!st) st = eq_mat_max(&X, b, d);
        for (int64_t j = 0; j < d && !st; j++) {
          if (p->kind == EQ_SCALER_MAXABS) {
            a[j] = b[j];
            sc[j] = b[j] == 0 ? 1 : b[j];
          } else {
            double range = b[j] - a[j], span = p->feature_range[1] - p->feature_range[0];
            if (range == 0) range = 1;
            sc[j] = range / span;
            off[j] = a[j] - p->feature_range[0] * sc[j];
          }
        }
        break;
      }
      case EQ_SCALER_ROBUST: {
        /* NumPy's linear interpolation between order statistics */
        double qs[3] = {p->quantile_range[0], 50, p->quantile_range[1]};
        int64_t r[6];
        double frac[3];
        for (int t = 0; t < 3; t++) {
          double h = (double)(X.n - 1) * qs[t] / 100;
          r[2 * t] = (int64_t)floor(h);
          r[2 * t + 1] = r[2 * t] + 1 < X.n ? r[2 * t] + 1 : r[2 * t];
          frac[t] = h - floor(h);
        }
        st = order_stats(&X, r, 6, q);
        for (int64_t j = 0; j < d && !st; j++) {
          double v[3];
          for (int t = 0; t < 3; t++) {
            double x0 = q[j * 6 + 2 * t], x1 = q[j * 6 + 2 * t + 1];
            v[t] = x0 + frac[t] * (x1 - x0);
          }
          a[j] = v[1];
          b[j] = v[2] - v[0];
          if (p->with_centering) off[j] = v[1];
          if (p->with_scaling) sc[j] = b[j] == 0 ? 1 : b[j];
        }
        break;
      }
    }
  if (!st) {
    eq_tensor_free(m->offset), eq_tensor_free(m->scale), eq_tensor_free(m->stat_a), eq_tensor_free(m->stat_b);
    m->offset = eq_algo_f64_1d(d, off);
    m->scale = eq_algo_f64_1d(d, sc);
    m->stat_a = eq_algo_f64_1d(d, a);
    m->stat_b = eq_algo_f64_1d(d, b);
    m->n_features = d;
    if (!m->offset || !m->scale || !m->stat_a || !m->stat_b) st = eq_error_code();
  }
  eq_free(off), eq_free(sc), eq_free(a), eq_free(b), eq_free(q);
  eq_mat_close(&X);
  return st;
}

static eq_tensor *apply(const eq_scaler *m, eq_rows Xr, bool inverse) {
  const char *op = inverse ? "eq_scaler_inverse_transform" : "eq_scaler_transform";
  if (!m || !m->scale) {
    eq_error(EQ_ERR_STATE, "%s: the scaler is not fitted", op);
    return NULL;
  }
  eq_mat X;
  if (eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D)) return NULL;
  int64_t d = m->n_features;
  eq_status st = X.d != d ? eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, the scaler %lld", op,
                                     (long long)X.d, (long long)d)
                          : EQ_OK;
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *out = st ? NULL : eq_empty(X.dt, EQ_DIMS(X.n_local, d));
  eq_arena_set_current(prev);
  if (!st && !out) st = eq_error_code();
  st = eq_algo_agree(op, X.comm, st);
  if (st) {
    eq_mat_close(&X);
    return NULL;
  }
  const double *off = eq_f64(m->offset), *sc = eq_f64(m->scale);
  int64_t n = X.n_local;
  /* NaN passes through (scikit-learn's scalers ignore NaN in transform) */
  if (X.dt == EQ_F32) {
    const float *x = X.x;
    float *o = eq_f32(out);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < d; j++)
        o[i * d + j] = inverse ? (float)(x[i * d + j] * sc[j] + off[j]) : (float)((x[i * d + j] - off[j]) / sc[j]);
  } else {
    const double *x = X.x;
    double *o = eq_f64(out);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < d; j++)
        o[i * d + j] = inverse ? x[i * d + j] * sc[j] + off[j] : (x[i * d + j] - off[j]) / sc[j];
  }
  eq_mat_close(&X);
  return out;
}

eq_tensor *eq_scaler_transform(const eq_scaler *m, eq_rows X) { return apply(m, X, false); }
eq_tensor *eq_scaler_inverse_transform(const eq_scaler *m, eq_rows X) { return apply(m, X, true); }

eq_tensor *eq_normalize_rows(eq_rows Xr, eq_norm norm) {
  const char *op = "eq_normalize_rows";
  if (norm < EQ_NORM_L2 || norm > EQ_NORM_MAX) {
    eq_error(EQ_ERR_VALUE, "%s: unknown norm %d", op, (int)norm);
    return NULL;
  }
  eq_mat X;
  if (eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *out = eq_empty(X.dt, EQ_DIMS(X.n_local, X.d));
  eq_arena_set_current(prev);
  for (int64_t i = 0; out && i < X.n_local; i++) {
    double s = 0;
    for (int64_t j = 0; j < X.d; j++) {
      double v = eq_mat_at(&X, i, j);
      if (norm == EQ_NORM_L2) s += v * v;
      else if (norm == EQ_NORM_L1) s += fabs(v);
      else s = fmax(s, fabs(v));
    }
    if (norm == EQ_NORM_L2) s = sqrt(s);
    if (s == 0) s = 1;
    for (int64_t j = 0; j < X.d; j++) {
      double v = eq_mat_at(&X, i, j) / s;
      if (X.dt == EQ_F32) eq_f32(out)[i * X.d + j] = (float)v;
      else eq_f64(out)[i * X.d + j] = v;
    }
  }
  eq_mat_close(&X);
  return out;
}
