/* PCA: exact through TSQR + SVD of R, or randomised (Halko, Martinsson &
 * Tropp 2011) with power iterations, both without forming X - mean; or
 * hierarchical (eq_dnd_hsvd of the centred rows). */
#include <math.h>
#include <string.h>

#include "algo/linalg.h"
#include "algo/sketch.h"
#include "equivar/dnd.h"

eq_pca_params eq_pca_defaults(int n_components) {
  eq_pca_params p = {0};
  p.n_components = n_components;
  p.solver = EQ_PCA_FULL;
  p.n_oversamples = 10;
  p.n_iter = -1;
  return p;
}

eq_pca *eq_pca_new(const eq_pca_params *params) {
  if (!params || params->n_components < 1) {
    eq_error(EQ_ERR_VALUE, "eq_pca_new: n_components=%d must be >= 1",
             params ? params->n_components : 0);
    return NULL;
  }
  if (params->solver != EQ_PCA_FULL && params->solver != EQ_PCA_RANDOMIZED &&
      params->solver != EQ_PCA_HIERARCHICAL) {
    eq_error(EQ_ERR_VALUE, "eq_pca_new: unknown solver %d", (int)params->solver);
    return NULL;
  }
  if (params->n_oversamples < 0) {
    eq_error(EQ_ERR_VALUE, "eq_pca_new: n_oversamples=%d < 0", params->n_oversamples);
    return NULL;
  }
  eq_pca *m = eq_calloc(1, sizeof *m);
  if (m) m->params = *params;
  else eq_error(EQ_ERR_MEMORY, "eq_pca_new: out of memory");
  return m;
}

void eq_pca_free(eq_pca *m) {
  if (!m) return;
  eq_tensor_free(m->mean), eq_tensor_free(m->components), eq_tensor_free(m->explained_variance);
  eq_tensor_free(m->explained_variance_ratio), eq_tensor_free(m->singular_values);
  eq_tensor_free(m->var);
  eq_free(m);
}

/* scikit-learn's svd_flip (u-based): the entry of largest magnitude in each
 * column of U is made positive. U's rows are split, so each rank offers
 * its largest |entry| (bv) and that entry's sign (sv); the lowest rank
 * holding the maximum decides, as argmax would. Collective. */
static eq_status agree_signs(const eq_mat *X, const double *bv, double *sv, double *Vt, int64_t k) {
  int64_t d = X->d;
  struct { double v; int r; } *best = eq_malloc((size_t)k * sizeof(*best));
  eq_status st = best ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  st = eq_algo_agree(X->op, X->comm, st);
  if (!st && X->split && X->size > 1) {
    for (int64_t c = 0; c < k; c++) best[c].v = bv[c], best[c].r = X->rank;
    if (MPI_Allreduce(MPI_IN_PLACE, best, (int)k, MPI_DOUBLE_INT, MPI_MAXLOC, X->comm) != MPI_SUCCESS)
      st = eq_error(EQ_ERR_MPI, "%s: MPI_Allreduce(MAXLOC) failed", X->op);
    /* the winner's sign, everyone else 0: one sum spreads it */
    for (int64_t c = 0; c < k && !st; c++) sv[c] = best[c].r == X->rank ? sv[c] : 0;
    if (!st && MPI_Allreduce(MPI_IN_PLACE, sv, (int)k, MPI_DOUBLE, MPI_SUM, X->comm) != MPI_SUCCESS)
      st = eq_error(EQ_ERR_MPI, "%s: MPI_Allreduce of the signs failed", X->op);
  }
  for (int64_t c = 0; c < k && !st; c++)
    if (sv[c] < 0)
      for (int64_t j = 0; j < d; j++) Vt[c * d + j] = -Vt[c * d + j];
  eq_free(best);
  return st;
}

/* U = (X - mean) V^T (the rows' U up to the positive 1/s), then the signs. */
static eq_status flip_signs(const eq_mat *X, const double *mean, double *Vt, int64_t k) {
  int64_t d = X->d;
  double *W = eq_malloc((size_t)(d * k) * sizeof(double)), *shift = eq_calloc((size_t)k, sizeof(double));
  double *U = eq_malloc((size_t)(X->n_local * k + 1) * sizeof(double));
  double *bv = eq_malloc((size_t)(2 * k) * sizeof(double));
  eq_status st = (W && shift && U && bv) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  if (!st) {
    for (int64_t j = 0; j < d; j++)
      for (int64_t c = 0; c < k; c++) W[j * k + c] = Vt[c * d + j], shift[c] += mean[j] * Vt[c * d + j];
    st = eq_mat_xw(X, W, k, shift, U);
  }
  for (int64_t c = 0; c < k && !st; c++) {
    bv[c] = -1, bv[k + c] = 1;
    for (int64_t i = 0; i < X->n_local; i++) {
      double v = U[i * k + c];
      if (fabs(v) > bv[c]) bv[c] = fabs(v), bv[k + c] = v < 0 ? -1 : 1;
    }
  }
  st = eq_algo_agree(X->op, X->comm, st);
  if (!st) st = agree_signs(X, bv, bv + k, Vt, k);
  eq_free(W), eq_free(shift), eq_free(U), eq_free(bv);
  return st;
}

/* Full: R of X - mean by TSQR, then R = U S Vt. */
static eq_status fit_full(const eq_mat *X, const double *mean, double *S, double *Vt) {
  int64_t d = X->d;
  double *R = eq_malloc((size_t)(d * d) * sizeof(double)), *U = eq_malloc((size_t)(d * d) * sizeof(double));
  eq_status st = (R && U) ? eq_tsqr_r(X, mean, NULL, NULL, 0, R) : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  if (!st) st = eq_small_svd(X->op, R, d, d, U, S, Vt);
  eq_free(R), eq_free(U);
  return st;
}

/* Hierarchical: eq_dnd_hsvd of the centred rows (HeAT's PCA with
 * svd_solver="hierarchical"): every rank keeps the k + n_oversamples leading
 * right singular directions (S V) of its block, and the factors are merged
 * pairwise up a binary tree over the ranks, truncating at each node, to k at
 * the root. S and Vt receive k rows. */
static eq_status fit_hierarchical(const eq_mat *X, const eq_pca_params *p, const double *mean, double *S,
                                  double *Vt) {
  int64_t d = X->d, nl = X->n_local, k = p->n_components;
  eq_tensor *C = eq_algo_f64_2d(nl, d, NULL);
  bool dist = X->split && X->size > 1;
  eq_comm *own = dist ? eq_comm_from_mpi(X->comm) : NULL;
  const eq_comm *c = dist ? own : eq_comm_self();
  eq_status st = C && c ? EQ_OK : eq_error_code();
  st = eq_algo_agree(X->op, X->comm, st);
  for (int64_t i = 0; i < nl && !st; i++)
    for (int64_t j = 0; j < d; j++) eq_f64(C)[i * d + j] = eq_mat_at(X, i, j) - mean[j];
  eq_dnd *a = st ? NULL : eq_dnd_from_local(C, 0, c), *s = NULL, *v = NULL;
  if (!st && !a) st = eq_error_code();
  if (!st) st = eq_dnd_hsvd(a, k, 0, p->n_oversamples, NULL, &s, &v, NULL);
  /* v: d x r replicated, r = min(k, n, d) = k (checked by the caller) */
  if (!st && s->shape[0] != k)
    st = eq_error(EQ_ERR_VALUE, "%s: the hierarchical SVD kept %lld directions, not %lld", X->op,
                  (long long)s->shape[0], (long long)k);
  for (int64_t cc = 0; cc < k && !st; cc++) {
    S[cc] = eq_get_flat(s->local, cc);
    for (int64_t j = 0; j < d; j++) Vt[cc * d + j] = eq_get_flat(v->local, j * k + cc);
  }
  eq_dnd_free(a), eq_dnd_free(s), eq_dnd_free(v);
  eq_tensor_free(C);
  eq_comm_free(own);
  return st;
}

/* Randomised, as scikit-learn's randomized_svd: Q = Omega (d x l); n_iter
 * times Q = orth((X - mean)^T (X - mean) Q); then Y = orth((X - mean) Q),
 * B = Y^T (X - mean) and the SVD of the small B. Each power iteration is one
 * pass over the rows (sketch.h) and normalises only the replicated d x l
 * sketch (Householder QR; scikit-learn's LU of the n x l and d x l products
 * spans the same subspaces). The last pass returns Y = (X - mean) Q, its Gram
 * G and Z = (X - mean)^T Y together: Y F is orthonormal for the F that G
 * gives, so B = F^T Z^T without another pass. S and Vt receive l = k +
 * oversamples rows; the signs are decided on U = Y F Ub (svd_flip's U). */
static eq_status fit_randomized(const eq_mat *X, const eq_pca_params *p, const double *mean,
                                int64_t l, double *S, double *Vt) {
  int64_t d = X->d, n = X->n_local, k = p->n_components;
  int iters = p->n_iter >= 0 ? p->n_iter : (p->n_components < 0.1 * (double)(X->n < d ? X->n : d) ? 7 : 4);
  size_t el = X->dt == EQ_F32 ? sizeof(float) : sizeof(double);
  double *Q = eq_malloc((size_t)(d * l) * sizeof(double)), *ZG = eq_malloc((size_t)((d + l) * l) * sizeof(double));
  double *F = eq_malloc((size_t)(l * l) * sizeof(double)), *M = eq_malloc((size_t)(l * k) * sizeof(double));
  double *B = eq_malloc((size_t)(d * l) * sizeof(double)), *Ub = eq_malloc((size_t)(l * l) * sizeof(double));
  double *bv = eq_malloc((size_t)(2 * k) * sizeof(double)), *sv = bv ? bv + k : NULL;
  void *Y = eq_malloc((size_t)(n * l + 1) * el);
  eq_status st = (Q && ZG && F && M && B && Ub && bv && Y) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  st = eq_algo_agree(X->op, X->comm, st);
  double *Z = ZG, *G = ZG + d * l;
  eq_philox g = eq_philox_init(p->seed, 0x706361);
  for (int64_t i = 0; i < d * l && !st; i++) Q[i] = eq_philox_normal(&g);
  for (int it = 0; it < iters && !st; it++) {
    st = eq_sketch_gram_times(X, mean, Q, l, Z);
    if (!st) st = eq_mat_sum(X, Z, d * l);
    if (!st) st = eq_small_qr_q(X->op, Z, d, l);
    if (!st) memcpy(Q, Z, (size_t)(d * l) * sizeof(double));
  }
  if (!st) st = eq_sketch_range(X, mean, Q, l, Z, G, Y);
  if (!st) st = eq_mat_sum(X, ZG, (d + l) * l);
  if (!st) st = eq_gram_orth_factor(X->op, G, l, X->dt == EQ_F32 ? 1e-4 : 1e-12, F);
  int saved = eq_algo_serial_begin();
  if (!st) {
    /* B = F^T Z^T (l x d) */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasTrans, (int)l, (int)d, (int)l, 1, F, (int)l, Z, (int)l, 0, B,
                (int)d);
    st = eq_small_svd(X->op, B, l, d, Ub, S, Vt);
  }
  if (!st) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)l, (int)k, (int)l, 1, F, (int)l, Ub, (int)l, 0,
                M, (int)k);
  }
  eq_algo_serial_end(saved);
  if (!st) st = eq_sketch_absmax(X, Y, l, M, k, bv, sv);
  st = eq_algo_agree(X->op, X->comm, st);
  if (!st) st = agree_signs(X, bv, sv, Vt, k);
  eq_free(Q), eq_free(ZG), eq_free(F), eq_free(M), eq_free(B), eq_free(Ub), eq_free(bv), eq_free(Y);
  return st;
}

eq_status eq_pca_fit(eq_pca *m, eq_rows Xr) {
  const char *op = "eq_pca_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  int64_t d = X.d, n = X.n, k = m->params.n_components, r = n < d ? n : d;
  if (k > r)
    st = eq_error(EQ_ERR_VALUE, "%s: n_components=%lld > min(n_samples=%lld, n_features=%lld)", op,
                  (long long)k, (long long)n, (long long)d);
  else if (n < 2)
    st = eq_error(EQ_ERR_VALUE, "%s: needs at least 2 samples, got %lld", op, (long long)n);
  else if (m->params.solver == EQ_PCA_RANDOMIZED && k >= r)
    st = eq_error(EQ_ERR_VALUE, "%s: the randomised solver needs n_components=%lld < min(n, d)=%lld", op,
                  (long long)k, (long long)r);
  if (st) {
    eq_mat_close(&X);
    return st;
  }
  int64_t l = m->params.solver == EQ_PCA_FULL ? d : (k + m->params.n_oversamples < r ? k + m->params.n_oversamples : r);
  if (m->params.solver == EQ_PCA_HIERARCHICAL) l = k;
  double *mean = eq_malloc((size_t)d * sizeof(double)), *m2 = eq_malloc((size_t)d * sizeof(double));
  double *S = eq_malloc((size_t)(l + d) * sizeof(double)), *Vt = eq_malloc((size_t)(l * d) * sizeof(double));
  if (!mean || !m2 || !S || !Vt) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  if (!st) st = eq_mat_moments(&X, mean, m2);
  if (!st)
    st = m->params.solver == EQ_PCA_FULL           ? fit_full(&X, mean, S, Vt)
         : m->params.solver == EQ_PCA_HIERARCHICAL ? fit_hierarchical(&X, &m->params, mean, S, Vt)
                                                   : fit_randomized(&X, &m->params, mean, l, S, Vt);
  if (!st && m->params.solver != EQ_PCA_RANDOMIZED) st = flip_signs(&X, mean, Vt, k);
  if (!st) {
    double total = 0, kept = 0;
    for (int64_t j = 0; j < d; j++) total += m2[j] / (double)(n - 1);
    eq_tensor_free(m->mean), eq_tensor_free(m->components), eq_tensor_free(m->explained_variance);
    eq_tensor_free(m->explained_variance_ratio), eq_tensor_free(m->singular_values);
    m->mean = eq_algo_f64_1d(d, mean);
    m->components = eq_algo_f64_2d(k, d, Vt);
    m->singular_values = eq_algo_f64_1d(k, S);
    m->explained_variance = eq_algo_f64_1d(k, NULL);
    m->explained_variance_ratio = eq_algo_f64_1d(k, NULL);
    if (!m->mean || !m->components || !m->singular_values || !m->explained_variance ||
        !m->explained_variance_ratio)
      st = eq_error_code();
    for (int64_t c = 0; c < k && !st; c++) {
      double ev = S[c] * S[c] / (double)(n - 1);
      eq_f64(m->explained_variance)[c] = ev;
      eq_f64(m->explained_variance_ratio)[c] = total > 0 ? ev / total : 0;
      kept += ev;
    }
    m->noise_variance = k < r ? (total - kept) / (double)(r - k) : 0;
    eq_tensor_free(m->var);
    m->var = eq_algo_f64_1d(d, NULL);
    if (!m->var) st = eq_error_code();
    for (int64_t j = 0; j < d && !st; j++) eq_f64(m->var)[j] = m2[j] / (double)n;
    if (m->noise_variance < 0) m->noise_variance = 0;
    m->n_samples = n;
    m->n_features = d;
  }
  eq_free(mean), eq_free(m2), eq_free(S), eq_free(Vt);
  eq_mat_close(&X);
  return st;
}

static eq_status check_fitted(const eq_pca *m, const char *op) {
  if (!m || !m->components) return eq_error(EQ_ERR_STATE, "%s: the model is not fitted", op);
  return EQ_OK;
}

eq_tensor *eq_pca_transform(const eq_pca *m, eq_rows Xr) {
  const char *op = "eq_pca_transform";
  if (check_fitted(m, op)) return NULL;
  eq_mat X;
  if (eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  int64_t d = m->n_features, k = m->components->shape[0];
  eq_status st = X.d != d ? eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, the model %lld", op,
                                     (long long)X.d, (long long)d)
                          : EQ_OK;
  double *W = eq_malloc((size_t)(d * k) * sizeof(double)), *shift = eq_calloc((size_t)k, sizeof(double));
  double *Z = eq_malloc((size_t)(X.n_local * k + 1) * sizeof(double));
  if (!st && (!W || !shift || !Z)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  eq_tensor *out = NULL;
  if (!st) {
    const double *V = eq_f64(m->components), *mu = eq_f64(m->mean), *ev = eq_f64(m->explained_variance);
    for (int64_t c = 0; c < k; c++) {
      double f = m->params.whiten ? 1 / sqrt(ev[c] > 0 ? ev[c] : 1) : 1;
      for (int64_t j = 0; j < d; j++) W[j * k + c] = V[c * d + j] * f, shift[c] += mu[j] * V[c * d + j] * f;
    }
    st = eq_mat_xw(&X, W, k, shift, Z);
    if (!st) out = eq_algo_result(X.dt, 2, X.n_local, k, Z);
  }
  eq_free(W), eq_free(shift), eq_free(Z);
  eq_mat_close(&X);
  return out;
}

eq_tensor *eq_pca_inverse_transform(const eq_pca *m, eq_rows Zr) {
  const char *op = "eq_pca_inverse_transform";
  if (check_fitted(m, op)) return NULL;
  eq_mat Z;
  if (eq_mat_open(&Z, op, "Z", Zr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  int64_t d = m->n_features, k = m->components->shape[0];
  eq_status st = Z.d != k ? eq_error(EQ_ERR_SHAPE, "%s: Z has %lld columns, the model %lld components",
                                     op, (long long)Z.d, (long long)k)
                          : EQ_OK;
  double *W = eq_malloc((size_t)(d * k) * sizeof(double)), *shift = eq_malloc((size_t)d * sizeof(double));
  double *X = eq_malloc((size_t)(Z.n_local * d + 1) * sizeof(double));
  if (!st && (!W || !shift || !X)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, Z.comm, st);
  eq_tensor *out = NULL;
  if (!st) {
    const double *V = eq_f64(m->components), *mu = eq_f64(m->mean), *ev = eq_f64(m->explained_variance);
    for (int64_t c = 0; c < k; c++) {
      double f = m->params.whiten ? sqrt(ev[c] > 0 ? ev[c] : 1) : 1;
      for (int64_t j = 0; j < d; j++) W[c * d + j] = V[c * d + j] * f;
    }
    for (int64_t j = 0; j < d; j++) shift[j] = -mu[j];
    st = eq_mat_xw(&Z, W, d, shift, X);
    if (!st) out = eq_algo_result(Z.dt, 2, Z.n_local, d, X);
  }
  eq_free(W), eq_free(shift), eq_free(X);
  eq_mat_close(&Z);
  return out;
}
