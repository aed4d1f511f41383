/* Linear and ridge regression: TSQR of the centred [X | Y] (default) or the
 * Cholesky factorisation of the all-reduced Gram matrix. */
#include <math.h>
#include <string.h>

#include "algo/linalg.h"

eq_linreg_params eq_linreg_defaults(double alpha) {
  eq_linreg_params p = {alpha, true, EQ_LINREG_QR};
  return p;
}

eq_linreg *eq_linreg_new(const eq_linreg_params *params) {
  if (!params || !(params->alpha >= 0) ||
      (params->solver != EQ_LINREG_QR && params->solver != EQ_LINREG_NORMAL)) {
    eq_error(EQ_ERR_VALUE, "eq_linreg_new: needs alpha >= 0 (got %g) and a known solver",
             params ? params->alpha : NAN);
    return NULL;
  }
  eq_linreg *m = eq_calloc(1, sizeof *m);
  if (m) m->params = *params;
  else eq_error(EQ_ERR_MEMORY, "eq_linreg_new: out of memory");
  return m;
}

void eq_linreg_free(eq_linreg *m) {
  if (!m) return;
  eq_tensor_free(m->coef), eq_tensor_free(m->intercept);
  eq_free(m);
}

/* W (d x t) from R = [[R11, R12], [0, R22]] of [Xc | Yc]: R11 W = R12, or for
 * ridge the least squares of [R11; sqrt(alpha) I] W = [R12; 0] by one more QR. */
static eq_status solve_qr(const char *op, const double *R, int64_t d, int64_t t, double alpha,
                          double *W) {
  int64_t c = d + t;
  double *M = eq_calloc((size_t)(2 * d * c), sizeof(double)), *tau = eq_malloc((size_t)c * sizeof(double));
  if (!M || !tau) {
    eq_free(M), eq_free(tau);
    return eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  }
  for (int64_t i = 0; i < d; i++)
    for (int64_t j = 0; j < c; j++) M[i * c + j] = R[i * c + j];
  int64_t rows = d;
  if (alpha > 0) {
    for (int64_t i = 0; i < d; i++) M[(d + i) * c + i] = sqrt(alpha);
    rows = 2 * d;
    int saved = eq_algo_serial_begin();
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)rows, (lapack_int)c, M, (lapack_int)c, tau);
    eq_algo_serial_end(saved);
  }
  double dmax = 0;
  for (int64_t i = 0; i < d; i++) dmax = fmax(dmax, fabs(M[i * c + i]));
  eq_status st = EQ_OK;
  for (int64_t i = 0; i < d && !st; i++)
    if (!(fabs(M[i * c + i]) > dmax * 1e-12))
      st = eq_error(EQ_ERR_VALUE, "%s: X is rank deficient (column %lld is a combination of the others "
                    "or constant); use alpha > 0", op, (long long)i);
  if (!st) {
    for (int64_t i = 0; i < d; i++)
      for (int64_t j = 0; j < t; j++) W[i * t + j] = M[i * c + d + j];
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, (int)d, (int)t, 1, M,
                (int)c, W, (int)t);
  }
  eq_free(M), eq_free(tau);
  return st;
}

eq_status eq_linreg_fit(eq_linreg *m, eq_rows Xr, eq_rows Yr) {
  const char *op = "eq_linreg_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X, Y;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  if ((st = eq_mat_open(&Y, op, "y", Yr, EQ_MAT_FLOAT | EQ_MAT_1D_OR_2D | EQ_MAT_FINITE))) {
    eq_mat_close(&X);
    return st;
  }
  st = eq_mat_same_rows(&X, &Y);
  int64_t d = X.d, t = Y.d, n = X.n_local, c = d + t;
  if (!st && X.n < 1) st = eq_error(EQ_ERR_SHAPE, "%s: no samples", op);
  double *mean = eq_calloc((size_t)c, sizeof(double)), *m2 = eq_malloc((size_t)c * sizeof(double));
  double *Yd = eq_malloc((size_t)(n * t + 1) * sizeof(double)), *W = eq_malloc((size_t)(d * t) * sizeof(double));
  double *R = eq_malloc((size_t)(c * c) * sizeof(double));
  if (!st && (!mean || !m2 || !Yd || !W || !R)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  if (!st && m->params.fit_intercept) {
    st = eq_mat_moments(&X, mean, m2);
    if (!st) st = eq_mat_moments(&Y, mean + d, m2);
  }
  if (!st) {
    for (int64_t i = 0; i < n * t; i++) Yd[i] = eq_mat_at(&Y, i / t, i % t);
    if (m->params.solver == EQ_LINREG_QR) {
      st = eq_tsqr_r(&X, mean, Yd, mean + d, t, R);
      if (!st) st = solve_qr(op, R, d, t, m->params.alpha, W);
    } else {
      /* [G | Xc^T Yc] reduced at once */
      double *buf = eq_malloc((size_t)(d * d + d * t) * sizeof(double));
      if (!buf) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
      if (!st) st = eq_mat_gram_local(&X, mean, buf);
      for (int64_t i = 0; i < n * t && !st; i++) Yd[i] -= mean[d + i % t];
      if (!st) st = eq_mat_xtv(&X, Yd, t, buf + d * d);
      if (!st) {
        for (int64_t j = 0; j < t; j++) {
          double s = 0;
          for (int64_t i = 0; i < n; i++) s += Yd[i * t + j];
          for (int64_t k = 0; k < d; k++) buf[d * d + k * t + j] -= mean[k] * s;
        }
        st = eq_mat_sum(&X, buf, d * d + d * t);
      }
      if (!st) {
        for (int64_t j = 0; j < d; j++) buf[j * d + j] += m->params.alpha;
        memcpy(W, buf + d * d, (size_t)(d * t) * sizeof(double));
        st = eq_small_spd_solve(op, buf, d, W, t);
      }
      eq_free(buf);
    }
  }
  if (!st) {
    eq_tensor_free(m->coef), eq_tensor_free(m->intercept);
    m->coef = eq_algo_f64_2d(t, d, NULL);
    m->intercept = eq_algo_f64_1d(t, NULL);
    if (!m->coef || !m->intercept) st = eq_error_code();
    for (int64_t j = 0; j < t && !st; j++) {
      double b = mean[d + j];
      for (int64_t k = 0; k < d; k++) {
        eq_f64(m->coef)[j * d + k] = W[k * t + j];
        b -= mean[k] * W[k * t + j];
      }
      eq_f64(m->intercept)[j] = m->params.fit_intercept ? b : 0;
    }
    m->y_was_1d = Y.ndim == 1;
  }
  eq_free(mean), eq_free(m2), eq_free(Yd), eq_free(W), eq_free(R);
  eq_mat_close(&X), eq_mat_close(&Y);
  return st;
}

eq_tensor *eq_linreg_predict(const eq_linreg *m, eq_rows Xr) {
  const char *op = "eq_linreg_predict";
  if (!m || !m->coef) {
    eq_error(EQ_ERR_STATE, "%s: the model is not fitted", op);
    return NULL;
  }
  eq_mat X;
  if (eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  int64_t t = m->coef->shape[0], d = m->coef->shape[1];
  eq_status st = X.d != d ? eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, the model %lld", op,
                                     (long long)X.d, (long long)d)
                          : EQ_OK;
  double *W = eq_malloc((size_t)(d * t) * sizeof(double)), *shift = eq_malloc((size_t)t * sizeof(double));
  double *out = eq_malloc((size_t)(X.n_local * t + 1) * sizeof(double));
  if (!st && (!W || !shift || !out)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  eq_tensor *res = NULL;
  if (!st) {
    for (int64_t j = 0; j < t; j++) {
      shift[j] = -eq_f64(m->intercept)[j];
      for (int64_t k = 0; k < d; k++) W[k * t + j] = eq_f64(m->coef)[j * d + k];
    }
    if (!(st = eq_mat_xw(&X, W, t, shift, out)))
      res = eq_algo_result(X.dt, m->y_was_1d ? 1 : 2, X.n_local, t, out);
  }
  eq_free(W), eq_free(shift), eq_free(out);
  eq_mat_close(&X);
  return res;
}
