/* k-medians and k-medoids (HeAT's variants): rows go to the closest centre
 * in Manhattan distance; a centre moves to the coordinate-wise median of its
 * rows (exact, distributed: bisection over the values' bit patterns), and
 * for k-medoids then snaps to the member row closest to that median. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "algo/kmeans_kernels.h"

void eq_km_assign_l1(const eq_mat *X, const double *C, int64_t k, int64_t *labels, double *counts,
                     double *inertia, int64_t *changed) {
  int64_t d = X->d, n = X->n_local, ch = 0;
  double in = 0;
  if (counts) memset(counts, 0, (size_t)k * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    int64_t best = 0;
    double bv = INFINITY;
    for (int64_t j = 0; j < k; j++) {
      double s = 0;
      for (int64_t t = 0; t < d; t++) s += fabs(eq_mat_at(X, i, t) - C[j * d + t]);
      if (s < bv) bv = s, best = j;
    }
    in += bv;
    if (labels[i] != best) ch++;
    labels[i] = best;
    if (counts) counts[best] += 1;
  }
  if (inertia) *inertia = in;
  if (changed) *changed = ch;
}


/* C[c] = coordinate-wise median (NumPy's: the mean of the two middle values
 * for an even count) of the rows labelled c; empty clusters keep C[c]. */
eq_status eq_km_medians(const eq_mat *X, const int64_t *labels, int64_t k, const double *counts, double *C) {
  int64_t d = X->d, m = k * d * 2;
  uint64_t *lo = eq_malloc((size_t)m * sizeof(uint64_t)), *hi = eq_malloc((size_t)m * sizeof(uint64_t));
  uint64_t *mid = eq_malloc((size_t)m * sizeof(uint64_t));
  int64_t *cnt = eq_malloc((size_t)m * sizeof(int64_t));
  eq_status st = (lo && hi && mid && cnt) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  for (int64_t i = 0; i < m && !st; i++) lo[i] = 0, hi[i] = UINT64_MAX;
  for (int round = 0; round < 64 && !st; round++) {
    for (int64_t i = 0; i < m; i++) mid[i] = lo[i] + (hi[i] - lo[i]) / 2, cnt[i] = 0;
    for (int64_t i = 0; i < X->n_local; i++) {
      int64_t c = labels[i];
      for (int64_t t = 0; t < d; t++) {
        uint64_t key = eq_algo_key(eq_mat_at(X, i, t));
        int64_t at = (c * d + t) * 2;
        cnt[at] += key <= mid[at];
        cnt[at + 1] += key <= mid[at + 1];
      }
    }
    if ((st = eq_mat_sum_i64(X, cnt, m))) break;
    for (int64_t i = 0; i < m; i++) {
      int64_t nc = (int64_t)counts[i / (2 * d)];
      int64_t r = (i % 2) ? nc / 2 : (nc - 1) / 2; /* the two middle ranks */
      if (cnt[i] >= r + 1) hi[i] = mid[i];
      else lo[i] = mid[i] + 1;
    }
  }
  for (int64_t c = 0; c < k && !st; c++)
    if (counts[c] > 0)
      for (int64_t t = 0; t < d; t++)
        C[c * d + t] = 0.5 * (eq_algo_key_value(lo[(c * d + t) * 2]) + eq_algo_key_value(lo[(c * d + t) * 2 + 1]));
  eq_free(lo), eq_free(hi), eq_free(mid), eq_free(cnt);
  return st;
}

/* Moves each non-empty centre to its member row closest (Manhattan) to it;
 * ties go to the first row in global order. */
eq_status eq_km_snap_medoids(const eq_mat *X, const int64_t *labels, int64_t k, const double *counts, double *C) {
  int64_t d = X->d;
  struct { double v; int r; } *best = eq_malloc((size_t)k * sizeof(*best));
  int64_t *arg = eq_malloc((size_t)k * sizeof(int64_t));
  double *rows = eq_calloc((size_t)(k * d), sizeof(double));
  eq_status st = (best && arg && rows) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  for (int64_t c = 0; c < k && !st; c++) best[c].v = INFINITY, best[c].r = X->split ? X->rank : 0, arg[c] = -1;
  for (int64_t i = 0; i < X->n_local && !st; i++) {
    int64_t c = labels[i];
    double s = 0;
    for (int64_t t = 0; t < d; t++) s += fabs(eq_mat_at(X, i, t) - C[c * d + t]);
    if (s < best[c].v) best[c].v = s, arg[c] = i;
  }
  if (!st && X->split && X->size > 1 &&
      MPI_Allreduce(MPI_IN_PLACE, best, (int)k, MPI_DOUBLE_INT, MPI_MINLOC, X->comm) != MPI_SUCCESS)
    st = eq_error(EQ_ERR_MPI, "%s: MPI_Allreduce(MINLOC) failed", X->op);
  for (int64_t c = 0; c < k && !st; c++)
    if (best[c].r == (X->split ? X->rank : 0) && arg[c] >= 0)
      for (int64_t t = 0; t < d; t++) rows[c * d + t] = eq_mat_at(X, arg[c], t);
  if (!st) st = eq_mat_sum(X, rows, k * d);
  for (int64_t c = 0; c < k && !st; c++)
    if (counts[c] > 0) memcpy(C + c * d, rows + c * d, (size_t)d * sizeof(double));
  eq_free(best), eq_free(arg), eq_free(rows);
  return st;
}
