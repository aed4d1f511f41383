/* Pairwise kernels of row-split A against a replicated B: each rank fills
 * only its rows of the result. */
#include <math.h>
#include <omp.h>

#include "algo/common.h"

static eq_tensor *pairwise(const char *op, eq_rows Ar, const eq_tensor *B, int kind, double gamma) {
  eq_mat A;
  if (eq_mat_open(&A, op, "A", Ar, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  int64_t d = A.d, n = A.n_local;
  double *b = eq_algo_tensor_f64(op, "B", B, -1, d);
  int64_t m = b ? B->shape[0] : 0;
  double *out = b ? eq_malloc((size_t)(n * m + 1) * sizeof(double)) : NULL;
  double *bt = b ? eq_malloc((size_t)(d * m + 1) * sizeof(double)) : NULL;
  eq_status st = !b ? eq_error_code() : ((!out || !bt) ? eq_error(EQ_ERR_MEMORY, "%s: out of memory", op) : EQ_OK);
  st = eq_algo_agree(op, A.comm, st);
  eq_tensor *res = NULL;
  if (!st && kind == 0) {
    if (!(gamma > 0)) gamma = 1.0 / (double)d;
    for (int64_t j = 0; j < m; j++)
      for (int64_t t = 0; t < d; t++) bt[t * m + j] = b[j * d + t];
    st = eq_mat_xw(&A, bt, m, NULL, out);
    for (int64_t i = 0; i < n && !st; i++) {
      double an = 0;
      for (int64_t t = 0; t < d; t++) an += eq_mat_at(&A, i, t) * eq_mat_at(&A, i, t);
      for (int64_t j = 0; j < m; j++) {
        double bn = 0;
        for (int64_t t = 0; t < d; t++) bn += b[j * d + t] * b[j * d + t];
        double d2 = fmax(an + bn - 2 * out[i * m + j], 0.0);
        out[i * m + j] = exp(-gamma * d2);
      }
    }
  } else if (!st) {
#pragma omp parallel for schedule(static) if (EQ_ALGO_PARALLEL(n * m * d))
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < m; j++) {
        double s = 0;
        for (int64_t t = 0; t < d; t++) s += fabs(eq_mat_at(&A, i, t) - b[j * d + t]);
        out[i * m + j] = s;
      }
  }
  if (!st) res = eq_algo_result(A.dt, 2, n, m, out);
  eq_free(b), eq_free(out), eq_free(bt);
  eq_mat_close(&A);
  return res;
}

eq_tensor *eq_rbf_kernel(eq_rows A, const eq_tensor *B, double gamma) {
  return pairwise("eq_rbf_kernel", A, B, 0, gamma);
}

eq_tensor *eq_manhattan_distances(eq_rows A, const eq_tensor *B) {
  return pairwise("eq_manhattan_distances", A, B, 1, 0);
}
