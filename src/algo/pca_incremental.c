/* Incremental PCA (Ross et al. 2008, scikit-learn's IncrementalPCA): each
 * batch's centred rows are reduced to their TSQR factor R, stacked under
 * the current S V and a mean-correction row (all small, replicated), and
 * one SVD of that stack gives the updated components. */
#include <math.h>
#include <string.h>

#include "algo/linalg.h"

eq_status eq_pca_partial_fit(eq_pca *m, eq_rows Xr) {
  const char *op = "eq_pca_partial_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  int64_t d = X.d, nb = X.n, k = m->params.n_components;
  bool first = m->n_samples == 0 || !m->components;
  if (!first && d != m->n_features)
    st = eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, earlier batches %lld", op, (long long)d,
                  (long long)m->n_features);
  else if (k > d)
    st = eq_error(EQ_ERR_VALUE, "%s: n_components=%lld > n_features=%lld", op, (long long)k, (long long)d);
  else if (first && k > nb)
    st = eq_error(EQ_ERR_VALUE, "%s: n_components=%lld > the first batch's %lld rows", op, (long long)k,
                  (long long)nb);
  else if (nb < 1)
    st = eq_error(EQ_ERR_VALUE, "%s: empty batch", op);
  if (st) {
    eq_mat_close(&X);
    return st;
  }
  int64_t rows = k + d + 1;
  double *bmean = eq_malloc((size_t)d * sizeof(double)), *bm2 = eq_malloc((size_t)d * sizeof(double));
  double *R = eq_malloc((size_t)(d * d) * sizeof(double)), *S = eq_calloc((size_t)rows * d, sizeof(double));
  double *sv = eq_malloc((size_t)(d + rows) * sizeof(double)), *U = eq_malloc((size_t)(rows * d) * sizeof(double));
  double *Vt = eq_malloc((size_t)(d * d) * sizeof(double));
  if (!bmean || !bm2 || !R || !S || !sv || !U || !Vt) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  if (!st) st = eq_mat_moments(&X, bmean, bm2);
  if (!st) st = eq_tsqr_r(&X, bmean, NULL, NULL, 0, R);
  if (!st) {
    double n0 = (double)m->n_samples, nt = n0 + (double)nb;
    /* the stack [S V ; R ; sqrt(n0 nb / nt) (mean_old - batch mean)] */
    int64_t r0 = 0;
    if (!first) {
      const double *V = eq_f64(m->components), *s = eq_f64(m->singular_values);
      for (int64_t c = 0; c < k; c++)
        for (int64_t j = 0; j < d; j++) S[c * d + j] = s[c] * V[c * d + j];
      r0 = k;
    }
    memcpy(S + r0 * d, R, (size_t)(d * d) * sizeof(double));
    int64_t used = r0 + d;
    if (!first) {
      const double *mu = eq_f64(m->mean);
      double f = sqrt(n0 * (double)nb / nt);
      for (int64_t j = 0; j < d; j++) S[used * d + j] = f * (mu[j] - bmean[j]);
      used++;
    }
    int64_t r = used < d ? used : d;
    st = eq_small_svd(op, S, used, d, U, sv, Vt);
    if (!st) {
      /* scikit-learn flips on V here: the largest |entry| of each row positive */
      for (int64_t c = 0; c < r; c++) {
        int64_t a = 0;
        for (int64_t j = 1; j < d; j++)
          if (fabs(Vt[c * d + j]) > fabs(Vt[c * d + a])) a = j;
        if (Vt[c * d + a] < 0)
          for (int64_t j = 0; j < d; j++) Vt[c * d + j] = -Vt[c * d + j];
      }
      /* running mean and variance (pairwise merge) */
      double *mean = eq_malloc((size_t)d * sizeof(double)), *m2 = eq_malloc((size_t)d * sizeof(double));
      double total_var = 0, kept = 0;
      for (int64_t j = 0; j < d; j++) {
        if (first) {
          mean[j] = bmean[j], m2[j] = bm2[j];
        } else {
          double mo = eq_f64(m->mean)[j], delta = bmean[j] - mo;
          mean[j] = mo + delta * (double)nb / nt;
          m2[j] = eq_f64(m->var)[j] * n0 + bm2[j] + delta * delta * n0 * (double)nb / nt;
        }
        total_var += m2[j];
      }
      eq_tensor *nm = eq_algo_f64_1d(d, mean), *nv = eq_algo_f64_1d(d, NULL), *nc = eq_algo_f64_2d(k, d, Vt);
      eq_tensor *ns = eq_algo_f64_1d(k, sv), *ne = eq_algo_f64_1d(k, NULL), *nr = eq_algo_f64_1d(k, NULL);
      if (!nm || !nv || !nc || !ns || !ne || !nr) st = eq_error_code();
      for (int64_t j = 0; j < d && !st; j++) eq_f64(nv)[j] = m2[j] / nt;
      for (int64_t c = 0; c < k && !st; c++) {
        double ev = sv[c] * sv[c] / (nt - 1);
        eq_f64(ne)[c] = ev;
        eq_f64(nr)[c] = total_var > 0 ? sv[c] * sv[c] / total_var : 0;
        kept += ev;
      }
      if (!st) {
        eq_tensor_free(m->mean), eq_tensor_free(m->var), eq_tensor_free(m->components);
        eq_tensor_free(m->singular_values), eq_tensor_free(m->explained_variance);
        eq_tensor_free(m->explained_variance_ratio);
        m->mean = nm, m->var = nv, m->components = nc, m->singular_values = ns;
        m->explained_variance = ne, m->explained_variance_ratio = nr;
        m->n_samples = (int64_t)nt;
        m->n_features = d;
        double rest = 0;
        for (int64_t c = k; c < r; c++) rest += sv[c] * sv[c] / (nt - 1);
        m->noise_variance = k < r ? rest / (double)(r - k) : 0;
      } else {
        eq_tensor_free(nm), eq_tensor_free(nv), eq_tensor_free(nc), eq_tensor_free(ns), eq_tensor_free(ne),
            eq_tensor_free(nr);
      }
      eq_free(mean), eq_free(m2);
      (void)kept;
    }
  }
  eq_free(bmean), eq_free(bm2), eq_free(R), eq_free(S), eq_free(sv), eq_free(U), eq_free(Vt);
  eq_mat_close(&X);
  return st;
}
