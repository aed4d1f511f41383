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


/* Digit width of the radix selection: 8 bits (256 bins per median) while
 * the histogram of all k x d x 2 medians stays under 8 MiB, else 4, else
 * 1 (plain bisection). */
static int digit_bits(int64_t m) {
  if ((double)m * 256 * 8 <= 8.0 * (1 << 20)) return 8;
  if ((double)m * 16 * 8 <= 8.0 * (1 << 20)) return 4;
  return 1;
}

/* C[c] = coordinate-wise median (NumPy's: the mean of the two middle values
 * for an even count) of the rows labelled c; empty clusters keep C[c].
 * Exact: a radix selection over the values' order-preserving 64-bit keys,
 * all k x d x 2 middle ranks at once, b bits per round: one pass over the
 * rows and ONE all-reduce of the (k x d x 2) x 2^b histogram per round, 64/b
 * rounds (float32 values differ only in their keys' top 35 bits, so those
 * take ceil(35/b)). The first round's message also carries the counts. */
eq_status eq_km_medians(const eq_mat *X, const int64_t *labels, int64_t k, double *counts, double *C) {
  int64_t d = X->d, m = k * d * 2;
  int b = digit_bits(m), need = X->dt == EQ_F32 ? 35 : 64, rounds = (need + b - 1) / b;
  int64_t nb = (int64_t)1 << b, hn = m * nb + k + 1;
  uint64_t *prefix = eq_calloc((size_t)m, sizeof(uint64_t));
  int64_t *rank = eq_calloc((size_t)m, sizeof(int64_t)), *h = eq_malloc((size_t)hn * sizeof(int64_t));
  eq_status st = (prefix && rank && h) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  st = eq_algo_agree(X->op, X->comm, st);
  for (int r = 0; r < rounds && !st; r++) {
    int shift = 64 - b * (r + 1);
    uint64_t mask = (uint64_t)nb - 1;
    int64_t len = m * nb + (r == 0 ? k + 1 : 0);
    memset(h, 0, (size_t)len * sizeof(int64_t));
    for (int64_t i = 0; i < X->n_local; i++) {
      int64_t c = labels[i];
      for (int64_t t = 0; t < d; t++) {
        uint64_t key = eq_algo_key(eq_mat_at(X, i, t));
        int64_t at = (c * d + t) * 2;
        /* only the keys under each median's known top bits count */
        uint64_t top = r == 0 ? 0 : key >> (shift + b), digit = (key >> shift) & mask;
        if (top == prefix[at]) h[at * nb + (int64_t)digit]++;
        if (top == prefix[at + 1]) h[(at + 1) * nb + (int64_t)digit]++;
      }
    }
    if (r == 0)
      for (int64_t c = 0; c <= k; c++) h[m * nb + c] = (int64_t)counts[c];
    if ((st = eq_mat_sum_i64(X, h, len))) break;
    for (int64_t i = 0; i < m; i++) {
      if (r == 0) {
        int64_t nc = h[m * nb + i / (2 * d)];
        rank[i] = (i % 2) ? nc / 2 : (nc - 1) / 2; /* the two middle ranks */
      }
      if (rank[i] < 0) continue;
      int64_t cum = 0, dig = 0;
      while (dig < nb - 1 && cum + h[i * nb + dig] <= rank[i]) cum += h[i * nb + dig++];
      rank[i] -= cum;
      prefix[i] = (prefix[i] << b) | (uint64_t)dig;
    }
    if (r == 0)
      for (int64_t c = 0; c <= k; c++) counts[c] = (double)h[m * nb + c];
  }
  for (int64_t c = 0; c < k && !st; c++)
    if (counts[c] > 0)
      for (int64_t t = 0; t < d; t++) {
        double v[2];
        for (int w = 0; w < 2; w++) {
          int known = b * rounds;
          uint64_t key = known >= 64 ? prefix[(c * d + t) * 2 + w] : prefix[(c * d + t) * 2 + w] << (64 - known);
          /* float32: the bits below are those of every float of this key,
           * zero for a positive value, one for a negative (inverted) one */
          if (known < 64 && !(key >> 63)) key |= (~(uint64_t)0) >> known;
          v[w] = eq_algo_key_value(key);
        }
        C[c * d + t] = 0.5 * (v[0] + v[1]);
      }
  eq_free(prefix), eq_free(rank), eq_free(h);
  return st;
}

/* Reduction operator for the medoid choice: per cluster [distance, rank,
 * row (d)]; the smaller distance wins, the lower rank on ties (MINLOC's
 * rule), and carries its row along. The row width comes from the type. */
static void snap_min(void *in, void *inout, int *len, MPI_Datatype *type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  int64_t w = bytes / (int)sizeof(double);
  const double *a = in;
  double *b = inout;
  for (int i = 0; i < *len; i++, a += w, b += w)
    if (a[0] < b[0] || (a[0] == b[0] && a[1] < b[1])) memcpy(b, a, (size_t)w * sizeof(double));
}

/* Moves each non-empty centre to its member row closest (Manhattan) to it;
 * ties go to the first row in global order. One all-reduce carries the
 * distances and the winning rows. */
eq_status eq_km_snap_medoids(const eq_mat *X, const int64_t *labels, int64_t k, const double *counts, double *C) {
  int64_t d = X->d, w = d + 2;
  double *best = eq_malloc((size_t)(k * w) * sizeof(double));
  int64_t *arg = eq_malloc((size_t)k * sizeof(int64_t));
  eq_status st = (best && arg) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  st = eq_algo_agree(X->op, X->comm, st);
  for (int64_t c = 0; c < k && !st; c++) best[c * w] = INFINITY, best[c * w + 1] = X->split ? X->rank : 0, arg[c] = -1;
  for (int64_t i = 0; i < X->n_local && !st; i++) {
    int64_t c = labels[i];
    double s = 0;
    for (int64_t t = 0; t < d; t++) s += fabs(eq_mat_at(X, i, t) - C[c * d + t]);
    if (s < best[c * w]) best[c * w] = s, arg[c] = i;
  }
  for (int64_t c = 0; c < k && !st; c++)
    for (int64_t t = 0; t < d; t++) best[c * w + 2 + t] = arg[c] >= 0 ? eq_mat_at(X, arg[c], t) : 0;
  if (!st && X->split && X->size > 1) {
    MPI_Datatype row;
    MPI_Op op;
    if (MPI_Type_contiguous((int)w, MPI_DOUBLE, &row) != MPI_SUCCESS || MPI_Type_commit(&row) != MPI_SUCCESS ||
        MPI_Op_create(snap_min, 1, &op) != MPI_SUCCESS)
      st = eq_error(EQ_ERR_MPI, "%s: cannot create the medoid reduction", X->op);
    else {
      if (MPI_Allreduce(MPI_IN_PLACE, best, (int)k, row, op, X->comm) != MPI_SUCCESS)
        st = eq_error(EQ_ERR_MPI, "%s: MPI_Allreduce of the medoids failed", X->op);
      MPI_Op_free(&op);
      MPI_Type_free(&row);
    }
  }
  for (int64_t c = 0; c < k && !st; c++)
    if (counts[c] > 0) memcpy(C + c * d, best + c * w + 2, (size_t)d * sizeof(double));
  eq_free(best), eq_free(arg);
  return st;
}
