/* Lasso by cyclic coordinate descent on the all-reduced centred Gram matrix
 * (scikit-learn's "gram" variant, with its duality-gap stopping test). */
#include <math.h>
#include <string.h>

#include "algo/common.h"

eq_lasso_params eq_lasso_defaults(double alpha) {
  eq_lasso_params p = {alpha, true, 1000, 1e-4};
  return p;
}

eq_lasso *eq_lasso_new(const eq_lasso_params *params) {
  if (!params || !(params->alpha >= 0) || params->max_iter < 1 || !(params->tol >= 0)) {
    eq_error(EQ_ERR_VALUE, "eq_lasso_new: needs alpha >= 0 (got %g), max_iter >= 1 (got %d), tol >= 0 (got %g)",
             params ? params->alpha : NAN, params ? params->max_iter : 0, params ? params->tol : NAN);
    return NULL;
  }
  eq_lasso *m = eq_calloc(1, sizeof *m);
  if (m) m->params = *params;
  else eq_error(EQ_ERR_MEMORY, "eq_lasso_new: out of memory");
  return m;
}

void eq_lasso_free(eq_lasso *m) {
  if (!m) return;
  eq_tensor_free(m->coef);
  eq_free(m);
}

static double soft(double x, double t) { return x > t ? x - t : (x < -t ? x + t : 0); }

/* The duality gap of scikit-learn's enet_coordinate_descent_gram (beta = 0),
 * with a = alpha * n. */
static double dual_gap(const double *G, const double *q, const double *Gw, const double *w,
                       int64_t d, double a, double ynorm2) {
  double dual = 0, qw = 0, wGw = 0, l1 = 0;
  for (int64_t j = 0; j < d; j++) {
    double xta = q[j] - Gw[j];
    if (fabs(xta) > dual) dual = fabs(xta);
    qw += q[j] * w[j];
    wGw += w[j] * Gw[j];
    l1 += fabs(w[j]);
  }
  (void)G;
  double r2 = ynorm2 + wGw - 2 * qw, cst = 1, gap;
  if (dual > a) {
    cst = a / dual;
    gap = 0.5 * (r2 + r2 * cst * cst);
  } else {
    gap = r2;
  }
  return gap + a * l1 - cst * (ynorm2 - qw);
}

eq_status eq_lasso_fit(eq_lasso *m, eq_rows Xr, eq_rows yr) {
  const char *op = "eq_lasso_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X, y;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  if ((st = eq_mat_open(&y, op, "y", yr, EQ_MAT_FLOAT | EQ_MAT_1D_OR_2D | EQ_MAT_FINITE))) {
    eq_mat_close(&X);
    return st;
  }
  st = eq_mat_same_rows(&X, &y);
  if (!st && y.d != 1)
    st = eq_error(EQ_ERR_SHAPE, "%s: y must have one column, got %lld", op, (long long)y.d);
  if (!st && X.n < 1) st = eq_error(EQ_ERR_SHAPE, "%s: no samples", op);
  int64_t d = X.d, n = X.n_local;
  size_t red = (size_t)(d * d + d + 2);
  double *buf = eq_calloc(red, sizeof(double)), *mean = eq_calloc((size_t)d, sizeof(double));
  double *m2 = eq_malloc((size_t)d * sizeof(double)), *yc = eq_malloc((size_t)(n + 1) * sizeof(double));
  double *w = eq_calloc((size_t)d, sizeof(double)), *Gw = eq_calloc((size_t)d, sizeof(double));
  if (!st && (!buf || !mean || !m2 || !yc || !w || !Gw)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  double ymean = 0;
  if (!st && m->params.fit_intercept) {
    st = eq_mat_moments(&X, mean, m2);
    if (!st) st = eq_mat_moments(&y, &ymean, m2);
  }
  if (!st) {
    double *G = buf, *q = buf + d * d;
    for (int64_t i = 0; i < n; i++) yc[i] = eq_mat_at(&y, i, 0) - ymean;
    st = eq_mat_gram_local(&X, mean, G);
    if (!st) st = eq_mat_xtv(&X, yc, 1, q);
    double ys = 0, yy = 0;
    for (int64_t i = 0; i < n; i++) ys += yc[i], yy += yc[i] * yc[i];
    for (int64_t j = 0; j < d; j++) q[j] -= mean[j] * ys;
    buf[d * d + d] = yy;
    if (!st) st = eq_mat_sum(&X, buf, (int64_t)red);
  }
  int it = 0;
  if (!st) {
    const double *G = buf, *q = buf + d * d;
    double ynorm2 = buf[d * d + d], a = m->params.alpha * (double)X.n;
    double tol = m->params.tol * ynorm2;
    for (; it < m->params.max_iter;) {
      double wmax = 0, dwmax = 0;
      for (int64_t j = 0; j < d; j++) {
        double gjj = G[j * d + j];
        if (gjj == 0) continue; /* a constant column stays at 0 */
        double old = w[j];
        double rho = q[j] - Gw[j] + gjj * old;
        double nw = soft(rho, a) / gjj;
        double dw = nw - old;
        if (dw != 0) {
          for (int64_t k = 0; k < d; k++) Gw[k] += dw * G[k * d + j];
          w[j] = nw;
        }
        if (fabs(dw) > dwmax) dwmax = fabs(dw);
        if (fabs(nw) > wmax) wmax = fabs(nw);
      }
      it++;
      if (wmax == 0 || dwmax / wmax < m->params.tol || it == m->params.max_iter) {
        if (dual_gap(G, q, Gw, w, d, a, ynorm2) < tol) break;
      }
    }
    double b = ymean;
    for (int64_t j = 0; j < d; j++) b -= mean[j] * w[j];
    eq_tensor_free(m->coef);
    m->coef = eq_algo_f64_1d(d, w);
    m->intercept = m->params.fit_intercept ? b : 0;
    m->n_iter = it;
    if (!m->coef) st = eq_error_code();
  }
  eq_free(buf), eq_free(mean), eq_free(m2), eq_free(yc), eq_free(w), eq_free(Gw);
  eq_mat_close(&X), eq_mat_close(&y);
  return st;
}

eq_tensor *eq_lasso_predict(const eq_lasso *m, eq_rows Xr) {
  const char *op = "eq_lasso_predict";
  if (!m || !m->coef) {
    eq_error(EQ_ERR_STATE, "%s: the model is not fitted", op);
    return NULL;
  }
  eq_mat X;
  if (eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  eq_status st = X.d != m->coef->shape[0] ? eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, the model %lld",
                                                      op, (long long)X.d, (long long)m->coef->shape[0])
                                           : EQ_OK;
  double *out = eq_malloc((size_t)(X.n_local + 1) * sizeof(double));
  double shift = -m->intercept;
  if (!st && !out) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  eq_tensor *res = NULL;
  if (!st && !(st = eq_mat_xw(&X, eq_f64(m->coef), 1, &shift, out)))
    res = eq_algo_result(X.dt, 1, X.n_local, 1, out);
  eq_free(out);
  eq_mat_close(&X);
  return res;
}
