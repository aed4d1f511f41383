/* TSQR, distributed orthonormalisation and LAPACKE wrappers (linalg.h). */
#include "algo/linalg.h"

#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* QR of the m x c row-major W (m >= c); its R written to R (c x c). */
static int qr_r(double *W, int64_t m, int64_t c, double *R, double *tau) {
  int saved = omp_in_parallel() ? 0 : eq_algo_serial_begin();
  int info = (int)LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)c, W, (lapack_int)c, tau);
  for (int64_t i = 0; i < c; i++)
    for (int64_t j = 0; j < c; j++) R[i * c + j] = j >= i ? W[i * c + j] : 0.0;
  if (saved) eq_algo_serial_end(saved);
  return info;
}

eq_status eq_tsqr_r(const eq_mat *X, const double *mean, const double *extra,
                    const double *extra_mean, int64_t e, double *R) {
  int64_t d = X->d, c = d + e, n = X->n_local;
  const int64_t B = c * 4 > 512 ? c * 4 : 512;
  int nt = EQ_ALGO_PARALLEL(n * c * c) ? omp_get_max_threads() : 1;
  int64_t chunks = (n + B - 1) / B;
  if (nt > chunks) nt = chunks > 0 ? (int)chunks : 1;
  double *stack = eq_calloc((size_t)nt * c * c, sizeof(double));
  int bad = 0;
  if (!stack) return eq_error(EQ_ERR_MEMORY, "%s: out of memory for TSQR", X->op);
#pragma omp parallel num_threads(nt) reduction(| : bad)
  {
    int t = omp_get_thread_num();
    double *W = eq_malloc((size_t)((c + B) * c) * sizeof(double));
    double *tau = eq_malloc((size_t)c * sizeof(double));
    double *Rt = stack + (size_t)t * c * c;
    int64_t lo = chunks * t / nt, hi = chunks * (t + 1) / nt;
    if (!W || !tau) bad = 1;
    for (int64_t ch = lo; ch < hi && !bad; ch++) {
      int64_t s = ch * B, m = n - s < B ? n - s : B;
      memcpy(W, Rt, (size_t)(c * c) * sizeof(double));
      for (int64_t i = 0; i < m; i++) {
        double *w = W + (c + i) * c;
        for (int64_t j = 0; j < d; j++) w[j] = eq_mat_at(X, s + i, j) - (mean ? mean[j] : 0);
        for (int64_t j = 0; j < e; j++) w[d + j] = extra[(s + i) * e + j] - (extra_mean ? extra_mean[j] : 0);
      }
      if (qr_r(W, c + m, c, Rt, tau)) bad = 1;
    }
    eq_free(W), eq_free(tau);
  }
  int P = X->split ? X->size : 1;
  double *all = eq_malloc((size_t)P * c * c * sizeof(double));
  double *tau = eq_malloc((size_t)c * sizeof(double));
  eq_status st = (bad || !all || !tau) ? eq_error(EQ_ERR_MEMORY, "%s: TSQR failed locally", X->op) : EQ_OK;
  /* this rank's R from its threads' */
  if (!st && nt > 1 && qr_r(stack, (int64_t)nt * c, c, stack, tau))
    st = eq_error(EQ_ERR_VALUE, "%s: LAPACKE_dgeqrf failed", X->op);
  st = eq_algo_agree(X->op, X->comm, st);
  if (!st && P > 1) {
    if (MPI_Allgather(stack, (int)(c * c), MPI_DOUBLE, all, (int)(c * c), MPI_DOUBLE, X->comm) != MPI_SUCCESS)
      st = eq_error(EQ_ERR_MPI, "%s: MPI_Allgather of R factors failed", X->op);
    if (!st && qr_r(all, (int64_t)P * c, c, R, tau)) st = eq_error(EQ_ERR_VALUE, "%s: LAPACKE_dgeqrf failed", X->op);
  } else if (!st) {
    memcpy(R, stack, (size_t)(c * c) * sizeof(double));
  }
  eq_free(stack), eq_free(all), eq_free(tau);
  return st;
}

eq_status eq_small_svd(const char *op, double *A, int64_t m, int64_t n, double *U, double *S,
                       double *Vt) {
  int64_t r = m < n ? m : n;
  int saved = eq_algo_serial_begin();
  lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)m, (lapack_int)n, A,
                                   (lapack_int)n, S, U, (lapack_int)r, Vt, (lapack_int)n);
  eq_algo_serial_end(saved);
  if (info) return eq_error(EQ_ERR_VALUE, "%s: LAPACKE_dgesdd failed (info %d)", op, (int)info);
  return EQ_OK;
}

eq_status eq_gram_orth_factor(const char *op, double *G, int64_t l, double tol, double *F) {
  double *D = eq_malloc((size_t)(2 * l + 1) * sizeof(double)), *w = D + l, gmax = 0;
  if (!D) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  for (int64_t i = 0; i < l; i++) gmax = G[i * l + i] > gmax ? G[i * l + i] : gmax;
  for (int64_t i = 0; i < l; i++) D[i] = G[i * l + i] > tol * tol * gmax && G[i * l + i] > 0 ? 1 / sqrt(G[i * l + i]) : 0;
  for (int64_t i = 0; i < l; i++)
    for (int64_t j = 0; j < l; j++) G[i * l + j] *= D[i] * D[j];
  eq_status st = eq_small_eigh(op, G, l, w, F);
  if (!st) {
    double wmax = w[l - 1] > 0 ? w[l - 1] : 0;
    for (int64_t j = 0; j < l; j++) {
      double f = w[j] > tol * wmax && w[j] > 0 ? 1 / sqrt(w[j]) : 0;
      for (int64_t i = 0; i < l; i++) F[i * l + j] *= D[i] * f;
    }
  }
  eq_free(D);
  return st;
}

eq_status eq_small_qr_q(const char *op, double *A, int64_t m, int64_t n) {
  double *tau = eq_malloc((size_t)(n + 1) * sizeof(double));
  if (!tau) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  int saved = eq_algo_serial_begin();
  lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)n, A, (lapack_int)n, tau);
  if (!info)
    info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)n, (lapack_int)n, A, (lapack_int)n, tau);
  eq_algo_serial_end(saved);
  eq_free(tau);
  if (info) return eq_error(EQ_ERR_VALUE, "%s: LAPACKE_dgeqrf/dorgqr failed (info %d)", op, (int)info);
  return EQ_OK;
}

eq_status eq_small_eigh(const char *op, double *A, int64_t n, double *w, double *V) {
  int saved = eq_algo_serial_begin();
  lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, A, (lapack_int)n, w);
  eq_algo_serial_end(saved);
  if (info) return eq_error(EQ_ERR_VALUE, "%s: LAPACKE_dsyevd failed (info %d)", op, (int)info);
  memcpy(V, A, (size_t)(n * n) * sizeof(double));
  return EQ_OK;
}

eq_status eq_small_spd_solve(const char *op, double *A, int64_t n, double *B, int64_t k) {
  int saved = eq_algo_serial_begin();
  lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, (lapack_int)k, A,
                                  (lapack_int)n, B, (lapack_int)k);
  eq_algo_serial_end(saved);
  if (info > 0)
    return eq_error(EQ_ERR_VALUE, "%s: the system matrix is singular or not positive definite (minor %d)",
                    op, (int)info);
  if (info) return eq_error(EQ_ERR_VALUE, "%s: LAPACKE_dposv failed (info %d)", op, (int)info);
  return EQ_OK;
}

eq_status eq_dist_orth(const eq_mat *like, double *Y, int64_t n_local, int64_t l) {
  double *G = eq_malloc((size_t)(l * l) * sizeof(double));
  double *V = eq_malloc((size_t)(l * l) * sizeof(double));
  double *w = eq_malloc((size_t)l * sizeof(double));
  double *T = eq_malloc((size_t)(n_local * l + 1) * sizeof(double));
  eq_status st = (G && V && w && T) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", like->op);
  int saved = EQ_ALGO_PARALLEL(n_local * l * l) ? 0 : eq_algo_serial_begin();
  for (int pass = 0; pass < 2 && !st; pass++) {
    memset(G, 0, (size_t)(l * l) * sizeof(double));
    if (n_local)
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)l, (int)n_local, 1, Y, (int)l, 0, G, (int)l);
    for (int64_t i = 0; i < l; i++)
      for (int64_t j = 0; j < i; j++) G[i * l + j] = G[j * l + i];
    if ((st = eq_mat_sum(like, G, l * l))) break;
    if ((st = eq_small_eigh(like->op, G, l, w, V))) break;
    double wmax = w[l - 1] > 0 ? w[l - 1] : 0;
    for (int64_t j = 0; j < l; j++) {
      double f = w[j] > wmax * 1e-13 && w[j] > 0 ? 1 / sqrt(w[j]) : 0;
      for (int64_t i = 0; i < l; i++) V[i * l + j] *= f;
    }
    if (n_local) {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_local, (int)l, (int)l, 1, Y,
                  (int)l, V, (int)l, 0, T, (int)l);
      memcpy(Y, T, (size_t)(n_local * l) * sizeof(double));
    }
  }
  if (saved) eq_algo_serial_end(saved);
  eq_free(G), eq_free(V), eq_free(w), eq_free(T);
  return st;
}
