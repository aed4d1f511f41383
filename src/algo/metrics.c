/* Metrics on row-split labels and targets: local counts or sums, one
 * all-reduce, the formula on the reduced figures. */
#include <math.h>
#include <string.h>

#include "algo/common.h"

static eq_status open_pair(const char *op, eq_rows a, eq_rows b, int flags, eq_mat *A, eq_mat *B) {
  eq_status st = eq_mat_open(A, op, "y_true", a, flags);
  if (st) return st;
  if ((st = eq_mat_open(B, op, "y_pred", b, flags))) {
    eq_mat_close(A);
    return st;
  }
  st = eq_mat_same_rows(A, B);
  if (!st && A->d != B->d)
    st = eq_error(EQ_ERR_SHAPE, "%s: %lld and %lld columns", op, (long long)A->d, (long long)B->d);
  if (!st && A->n == 0) st = eq_error(EQ_ERR_SHAPE, "%s: no samples", op);
  if (st) eq_mat_close(A), eq_mat_close(B);
  return st;
}

eq_status eq_accuracy(eq_rows y_true, eq_rows y_pred, double *out) {
  eq_mat A, B;
  eq_status st = open_pair("eq_accuracy", y_true, y_pred, EQ_MAT_INT | EQ_MAT_1D, &A, &B);
  if (st) return st;
  double hit = 0;
  for (int64_t i = 0; i < A.n_local; i++) hit += eq_mat_label(&A, i) == eq_mat_label(&B, i);
  st = eq_mat_sum(&A, &hit, 1);
  if (!st) *out = hit / (double)A.n;
  eq_mat_close(&A), eq_mat_close(&B);
  return st;
}

eq_status eq_r2_score(eq_rows y_true, eq_rows y_pred, eq_r2_mode mode, double *out) {
  const char *op = "eq_r2_score";
  if (mode != EQ_R2_UNIFORM_AVERAGE && mode != EQ_R2_GLOBAL_MEAN)
    return eq_error(EQ_ERR_VALUE, "%s: unknown mode %d", op, (int)mode);
  eq_mat A, B;
  eq_status st = open_pair(op, y_true, y_pred, EQ_MAT_FLOAT | EQ_MAT_1D_OR_2D | EQ_MAT_FINITE, &A, &B);
  if (st) return st;
  int64_t t = A.d;
  double *mean = eq_malloc((size_t)(t + 1) * sizeof(double)), *m2 = eq_malloc((size_t)(t + 1) * sizeof(double));
  double *res = eq_calloc((size_t)(t + 2), sizeof(double));
  if (!mean || !m2 || !res) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  if (!st) st = eq_mat_moments(&A, mean, m2);
  if (!st) {
    double gsum = 0;
    for (int64_t i = 0; i < A.n_local; i++)
      for (int64_t j = 0; j < t; j++) {
        double e = eq_mat_at(&A, i, j) - eq_mat_at(&B, i, j);
        res[j] += e * e;
      }
    /* the single global mean is the mean of the column means */
    for (int64_t j = 0; j < t; j++) gsum += mean[j];
    double gm = gsum / (double)t;
    for (int64_t i = 0; i < A.n_local; i++)
      for (int64_t j = 0; j < t; j++) {
        double e = eq_mat_at(&A, i, j) - gm;
        res[t] += e * e;
      }
    st = eq_mat_sum(&A, res, t + 1);
    if (!st) {
      if (mode == EQ_R2_UNIFORM_AVERAGE) {
        double s = 0;
        for (int64_t j = 0; j < t; j++)
          s += m2[j] > 0 ? 1 - res[j] / m2[j] : (res[j] == 0 ? 1 : 0);
        *out = s / (double)t;
      } else {
        double ssr = 0;
        for (int64_t j = 0; j < t; j++) ssr += res[j];
        *out = res[t] > 0 ? 1 - ssr / res[t] : (ssr == 0 ? 1 : 0);
      }
    }
  }
  eq_free(mean), eq_free(m2), eq_free(res);
  eq_mat_close(&A), eq_mat_close(&B);
  return st;
}

/* The all-reduced contingency table (Ka x Kb) of two labelings. */
static eq_status contingency(const char *op, eq_rows a, eq_rows b, double **table, int *ka, int *kb,
                             double *n) {
  eq_mat A, B;
  eq_status st = open_pair(op, a, b, EQ_MAT_INT | EQ_MAT_1D, &A, &B);
  if (st) return st;
  st = eq_mat_n_classes(&A, ka);
  if (!st) st = eq_mat_n_classes(&B, kb);
  if (!st && (double)*ka * *kb > 1e8)
    st = eq_error(EQ_ERR_VALUE, "%s: %d x %d label values make the contingency table too large", op, *ka, *kb);
  int64_t *c = st ? NULL : eq_calloc((size_t)*ka * *kb, sizeof(int64_t));
  if (!st && !c) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, A.comm, st);
  if (!st) {
    for (int64_t i = 0; i < A.n_local; i++) c[eq_mat_label(&A, i) * *kb + eq_mat_label(&B, i)]++;
    st = eq_mat_sum_i64(&A, c, (int64_t)*ka * *kb);
  }
  if (!st) {
    *table = eq_malloc((size_t)*ka * *kb * sizeof(double));
    if (!*table) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
    for (int64_t i = 0; !st && i < (int64_t)*ka * *kb; i++) (*table)[i] = (double)c[i];
    *n = (double)A.n;
  }
  eq_free(c);
  eq_mat_close(&A), eq_mat_close(&B);
  return st;
}

static double entropy(const double *cnt, int k, double n) {
  double h = 0;
  for (int i = 0; i < k; i++)
    if (cnt[i] > 0) h -= cnt[i] / n * log(cnt[i] / n);
  return h;
}

eq_status eq_nmi_score(eq_rows labels_a, eq_rows labels_b, double *out) {
  double *t = NULL, n = 0;
  int ka = 0, kb = 0;
  eq_status st = contingency("eq_nmi_score", labels_a, labels_b, &t, &ka, &kb, &n);
  if (st) return st;
  double *ra = eq_calloc((size_t)ka, sizeof(double)), *cb = eq_calloc((size_t)kb, sizeof(double));
  int ua = 0, ub = 0;
  for (int i = 0; i < ka; i++)
    for (int j = 0; j < kb; j++) ra[i] += t[i * kb + j], cb[j] += t[i * kb + j];
  for (int i = 0; i < ka; i++) ua += ra[i] > 0;
  for (int j = 0; j < kb; j++) ub += cb[j] > 0;
  double mi = 0;
  for (int i = 0; i < ka; i++)
    for (int j = 0; j < kb; j++) {
      double v = t[i * kb + j];
      if (v > 0) mi += v / n * (log(v) + log(n) - log(ra[i]) - log(cb[j]));
    }
  /* scikit-learn's special cases: one cluster each is a perfect match */
  if (ua == 1 && ub == 1) *out = 1;
  else if (mi <= 0) *out = 0;
  else *out = mi / (0.5 * (entropy(ra, ka, n) + entropy(cb, kb, n)));
  eq_free(ra), eq_free(cb), eq_free(t);
  return EQ_OK;
}

eq_status eq_adjusted_rand_score(eq_rows labels_a, eq_rows labels_b, double *out) {
  double *t = NULL, n = 0;
  int ka = 0, kb = 0;
  eq_status st = contingency("eq_adjusted_rand_score", labels_a, labels_b, &t, &ka, &kb, &n);
  if (st) return st;
  /* the pair confusion matrix, as scikit-learn 1.2 */
  double sq = 0, sa = 0, sb = 0;
  for (int i = 0; i < ka; i++) {
    double r = 0;
    for (int j = 0; j < kb; j++) r += t[i * kb + j], sq += t[i * kb + j] * t[i * kb + j];
    sa += r * r;
  }
  for (int j = 0; j < kb; j++) {
    double c = 0;
    for (int i = 0; i < ka; i++) c += t[i * kb + j];
    sb += c * c;
  }
  double tp = sq - n, fp = sb - sq, fn = sa - sq, tn = n * n - fp - fn - sq;
  if (fn == 0 && fp == 0) *out = 1;
  else *out = 2 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn));
  eq_free(t);
  return EQ_OK;
}
