/* Gaussian naive Bayes: per-class means and variances from two passes over
 * the local rows (class sums, then squared deviations from the global
 * class means), each one all-reduce; batches merged as scikit-learn's
 * _update_mean_variance. */
#include <math.h>
#include <string.h>

#include "algo/common.h"

eq_gnb_params eq_gnb_defaults(void) {
  eq_gnb_params p = {1e-9, 0};
  return p;
}

eq_gnb *eq_gnb_new(const eq_gnb_params *params) {
  if (!params || !(params->var_smoothing >= 0) || params->n_classes < 0) {
    eq_error(EQ_ERR_VALUE, "eq_gnb_new: needs var_smoothing >= 0 and n_classes >= 0");
    return NULL;
  }
  eq_gnb *m = eq_calloc(1, sizeof *m);
  if (m) m->params = *params;
  else eq_error(EQ_ERR_MEMORY, "eq_gnb_new: out of memory");
  return m;
}

static void reset(eq_gnb *m) {
  eq_tensor_free(m->class_count), eq_tensor_free(m->theta), eq_tensor_free(m->var), eq_tensor_free(m->class_prior);
  m->class_count = m->theta = m->var = m->class_prior = NULL;
  m->n_classes = 0;
  m->n_features = 0;
  m->epsilon = 0;
}

void eq_gnb_free(eq_gnb *m) {
  if (!m) return;
  reset(m);
  eq_free(m);
}

eq_status eq_gnb_fit(eq_gnb *m, eq_rows X, eq_rows y) {
  if (!m) return eq_error(EQ_ERR_VALUE, "eq_gnb_fit: model is NULL");
  reset(m);
  return eq_gnb_partial_fit(m, X, y);
}

eq_status eq_gnb_partial_fit(eq_gnb *m, eq_rows Xr, eq_rows yr) {
  const char *op = "eq_gnb_partial_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X, y;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  if ((st = eq_mat_open(&y, op, "y", yr, EQ_MAT_INT | EQ_MAT_1D))) {
    eq_mat_close(&X);
    return st;
  }
  st = eq_mat_same_rows(&X, &y);
  int K = 0;
  if (!st) st = eq_mat_n_classes(&y, &K);
  bool first = m->theta == NULL;
  int64_t d = X.d;
  if (!st) {
    int want = first ? m->params.n_classes : m->n_classes;
    if (want && K > want) st = eq_error(EQ_ERR_VALUE, "%s: label %d >= n_classes=%d", op, K - 1, want);
    if (want) K = want;
    if (!first && d != m->n_features)
      st = eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, earlier batches %lld", op, (long long)d,
                    (long long)m->n_features);
  }
  double *buf = st ? NULL : eq_calloc((size_t)(K * d + K), sizeof(double));
  double *mean = st ? NULL : eq_malloc((size_t)d * sizeof(double)), *m2 = st ? NULL : eq_malloc((size_t)d * sizeof(double));
  if (!st && (!buf || !mean || !m2)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  if (!st) {
    /* epsilon from this batch's largest column variance, as scikit-learn */
    st = eq_mat_moments(&X, mean, m2);
    double vmax = 0;
    for (int64_t j = 0; j < d; j++) vmax = fmax(vmax, X.n ? m2[j] / (double)X.n : 0);
    double eps = m->params.var_smoothing * vmax;
    double *sum = buf, *cnt = buf + K * d;
    for (int64_t i = 0; i < X.n_local; i++) {
      int64_t c = eq_mat_label(&y, i);
      cnt[c] += 1;
      for (int64_t j = 0; j < d; j++) sum[c * d + j] += eq_mat_at(&X, i, j);
    }
    if (!st) st = eq_mat_sum(&X, buf, K * d + K);
    for (int64_t c = 0; c < K * d && !st; c++) sum[c] = cnt[c / d] > 0 ? sum[c] / cnt[c / d] : 0;
    double *ssd = eq_calloc((size_t)(K * d + 1), sizeof(double));
    if (!ssd && !st) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
    for (int64_t i = 0; i < X.n_local && !st; i++) {
      int64_t c = eq_mat_label(&y, i);
      for (int64_t j = 0; j < d; j++) {
        double e = eq_mat_at(&X, i, j) - sum[c * d + j];
        ssd[c * d + j] += e * e;
      }
    }
    if (!st) st = eq_mat_sum(&X, ssd, K * d);
    if (!st && first) {
      m->class_count = eq_algo_f64_1d(K, NULL);
      m->theta = eq_algo_f64_2d(K, d, NULL);
      m->var = eq_algo_f64_2d(K, d, NULL);
      m->class_prior = eq_algo_f64_1d(K, NULL);
      if (!m->class_count || !m->theta || !m->var || !m->class_prior) st = eq_error_code();
      m->n_classes = K;
      m->n_features = d;
    }
    if (!st) {
      double *cc = eq_f64(m->class_count), *th = eq_f64(m->theta), *va = eq_f64(m->var);
      double total = 0;
      for (int64_t c = 0; c < K; c++) {
        double np = cc[c], nn = cnt[c], nt = np + nn;
        for (int64_t j = 0; j < d && nn > 0; j++) {
          double mu_new = sum[c * d + j], var_new = ssd[c * d + j] / nn;
          /* scikit-learn takes the earlier epsilon out with the NEW batch's
           * value (it reassigns epsilon_ first); kept for equal results */
          double mu_old = th[c * d + j], var_old = first ? 0 : va[c * d + j] - eps;
          if (np == 0) {
            th[c * d + j] = mu_new, va[c * d + j] = var_new;
          } else {
            double s = np * var_old + nn * var_new + nn * np / nt * (mu_old - mu_new) * (mu_old - mu_new);
            th[c * d + j] = (nn * mu_new + np * mu_old) / nt;
            va[c * d + j] = s / nt;
          }
        }
        if (nn == 0) /* unchanged, as (var - eps) + eps */
          for (int64_t j = 0; j < d && !first; j++) va[c * d + j] -= eps;
        cc[c] = nt;
        total += nt;
      }
      for (int64_t i = 0; i < K * d; i++) va[i] += eps;
      for (int64_t c = 0; c < K; c++) eq_f64(m->class_prior)[c] = total > 0 ? cc[c] / total : 0;
      m->epsilon = eps;
    }
    eq_free(ssd);
  }
  if (st && first) reset(m);
  eq_free(buf), eq_free(mean), eq_free(m2);
  eq_mat_close(&X), eq_mat_close(&y);
  return st;
}

eq_tensor *eq_gnb_predict_proba(const eq_gnb *m, eq_rows Xr) {
  const char *op = "eq_gnb_predict_proba";
  if (!m || !m->theta) {
    eq_error(EQ_ERR_STATE, "%s: the model is not fitted", op);
    return NULL;
  }
  eq_mat X;
  if (eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  int64_t K = m->n_classes, d = m->n_features;
  eq_status st = X.d != d ? eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, the model %lld", op,
                                     (long long)X.d, (long long)d)
                          : EQ_OK;
  double *P = eq_malloc((size_t)(X.n_local * K + 1) * sizeof(double)), *base = eq_malloc((size_t)K * sizeof(double));
  if (!st && (!P || !base)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  eq_tensor *res = NULL;
  if (!st) {
    const double *th = eq_f64(m->theta), *va = eq_f64(m->var), *pr = eq_f64(m->class_prior);
    for (int64_t c = 0; c < K; c++) {
      double s = 0;
      for (int64_t j = 0; j < d; j++) s += log(2 * M_PI * va[c * d + j]);
      base[c] = (pr[c] > 0 ? log(pr[c]) : -INFINITY) - 0.5 * s;
    }
    for (int64_t i = 0; i < X.n_local; i++) {
      double *p = P + i * K, mx = -INFINITY, tot = 0;
      for (int64_t c = 0; c < K; c++) {
        double s = 0;
        for (int64_t j = 0; j < d; j++) {
          double e = eq_mat_at(&X, i, j) - th[c * d + j];
          s += e * e / va[c * d + j];
        }
        p[c] = base[c] - 0.5 * s;
        mx = fmax(mx, p[c]);
      }
      for (int64_t c = 0; c < K; c++) tot += (p[c] = exp(p[c] - mx));
      for (int64_t c = 0; c < K; c++) p[c] /= tot;
    }
    res = eq_algo_result(EQ_F64, 2, X.n_local, K, P);
  }
  eq_free(P), eq_free(base);
  eq_mat_close(&X);
  return res;
}

eq_tensor *eq_gnb_predict(const eq_gnb *m, eq_rows X) {
  eq_tensor *P = eq_gnb_predict_proba(m, X);
  if (!P) return NULL;
  eq_tensor *r = eq_algo_argmax_rows(P);
  eq_tensor_free(P);
  return r;
}
