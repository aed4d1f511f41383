/* Mean silhouette coefficient: the ranks' blocks of rows (with their labels)
 * travel around a ring, so each rank sums the distances from its rows to
 * every cluster while holding only two blocks. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "algo/common.h"

eq_status eq_silhouette_score(eq_rows Xr, eq_rows lr, double *out) {
  const char *op = "eq_silhouette_score";
  eq_mat X, L;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  if ((st = eq_mat_open(&L, op, "labels", lr, EQ_MAT_INT | EQ_MAT_1D))) {
    eq_mat_close(&X);
    return st;
  }
  st = eq_mat_same_rows(&X, &L);
  int K = 0;
  if (!st) st = eq_mat_n_classes(&L, &K);
  int64_t d = X.d, n = X.n_local, maxb = n;
  int P = X.split ? X.size : 1;
  if (!st && P > 1) MPI_Allreduce(MPI_IN_PLACE, &maxb, 1, MPI_INT64_T, MPI_MAX, X.comm);
  /* block = [count, labels..., rows...] as doubles */
  size_t cap = (size_t)(1 + maxb + maxb * d);
  double *cur = st ? NULL : eq_malloc(cap * sizeof(double)), *nxt = st ? NULL : eq_malloc(cap * sizeof(double));
  double *sum = st ? NULL : eq_calloc((size_t)(n * K + 1), sizeof(double));
  double *size = st ? NULL : eq_calloc((size_t)K + 1, sizeof(double));
  if (!st && (!cur || !nxt || !sum || !size)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  if (!st) {
    cur[0] = (double)n;
    for (int64_t i = 0; i < n; i++) {
      cur[1 + i] = (double)eq_mat_label(&L, i);
      for (int64_t t = 0; t < d; t++) cur[1 + n + i * d + t] = eq_mat_at(&X, i, t);
    }
  }
  for (int step = 0; step < P && !st; step++) {
    int64_t nb = (int64_t)cur[0];
    const double *lab = cur + 1, *rows = cur + 1 + nb;
    for (int64_t j = 0; j < nb; j++) size[(int64_t)lab[j]] += 1;
#pragma omp parallel for schedule(static) if (EQ_ALGO_PARALLEL(n * nb * d))
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < nb; j++) {
        double s = 0;
        for (int64_t t = 0; t < d; t++) {
          double e = eq_mat_at(&X, i, t) - rows[j * d + t];
          s += e * e;
        }
        sum[i * K + (int64_t)lab[j]] += sqrt(s);
      }
    if (step + 1 < P) {
      int to = (X.rank + 1) % P, from = (X.rank + P - 1) % P;
      if (MPI_Sendrecv(cur, (int)cap, MPI_DOUBLE, to, 7, nxt, (int)cap, MPI_DOUBLE, from, 7, X.comm,
                       MPI_STATUS_IGNORE) != MPI_SUCCESS)
        st = eq_error(EQ_ERR_MPI, "%s: MPI_Sendrecv of a block failed", op);
      double *tmp = cur;
      cur = nxt, nxt = tmp;
    }
  }
  if (!st) {
    int used = 0;
    for (int c = 0; c < K; c++) used += size[c] > 0;
    if (used < 2 || used > X.n - 1)
      st = eq_error(EQ_ERR_VALUE, "%s: needs 2 <= number of labels (%d) <= n_samples - 1 (%lld)", op, used,
                    (long long)X.n - 1);
  }
  if (!st) {
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t c = eq_mat_label(&L, i);
      if (size[c] <= 1) continue; /* a singleton cluster scores 0 */
      double a = sum[i * K + c] / (size[c] - 1), b = INFINITY;
      for (int k = 0; k < K; k++)
        if (k != c && size[k] > 0) b = fmin(b, sum[i * K + k] / size[k]);
      total += (b - a) / fmax(a, b);
    }
    st = eq_mat_sum(&X, &total, 1);
    if (!st) *out = total / (double)X.n;
  }
  eq_free(cur), eq_free(nxt), eq_free(sum), eq_free(size);
  eq_mat_close(&X), eq_mat_close(&L);
  return st;
}
