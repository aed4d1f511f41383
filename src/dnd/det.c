/* Determinant. Replicated: LU (LAPACK getrf) of the local copy on every rank,
 * no communication. Split: Gaussian elimination with partial pivoting on the
 * row blocks where they lie (a split=1 matrix is transposed locally into row
 * blocks of A^T, det(A^T) = det(A)): per column one allgather of each rank's
 * best pivot candidate and one broadcast of the pivot row, then a rank-1
 * update of the rows not yet used. Rows never move between ranks; the
 * permutation is recorded and its parity gives the sign. The product of the
 * pivots is kept as mantissa and exponent, so only a final result outside
 * the double range overflows (to +-inf) or underflows. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

typedef struct {
  double mant;
  long exp;
} scaled;

static void scaled_mul(scaled *s, double v) {
  int e = 0;
  s->mant = frexp(s->mant * v, &e);
  s->exp += e;
}

static double scaled_value(scaled s) {
  if (s.exp > 100000) return s.mant * HUGE_VAL;
  if (s.exp < -100000) return s.mant * 0.0;
  return ldexp(s.mant, (int)s.exp);
}

/* (-1)^(number of transpositions) of the permutation p of 0..n-1 (p is
 * destroyed). */
static double parity(int64_t *p, int64_t n) {
  int64_t cycles = 0;
  for (int64_t i = 0; i < n; i++) {
    if (p[i] < 0) continue;
    cycles++;
    for (int64_t j = i; p[j] >= 0;) {
      int64_t next = p[j];
      p[j] = -1;
      j = next;
    }
  }
  return (n - cycles) % 2 ? -1.0 : 1.0;
}

static eq_status det_replicated(double *A, int64_t n, double *out) {
  int *piv = malloc(sizeof(int) * (size_t)(n + 1));
  if (!piv) return eq_error(EQ_ERR_MEMORY, "eq_dnd_det: out of memory");
  int info = LAPACKE_dgetrf(LAPACK_ROW_MAJOR, (int)n, (int)n, A, (int)n, piv);
  scaled d = {1.0, 0};
  if (info < 0) {
    free(piv);
    return eq_error(EQ_ERR_VALUE, "eq_dnd_det: LAPACK getrf argument %d invalid", -info);
  }
  if (info > 0) d.mant = 0; /* an exactly zero pivot: singular */
  for (int64_t i = 0; i < n && d.mant != 0; i++) {
    scaled_mul(&d, A[i * n + i]);
    if (piv[i] != i + 1) d.mant = -d.mant;
  }
  free(piv);
  *out = scaled_value(d);
  return EQ_OK;
}

/* L: this rank's rows (mr x n) of the row-split matrix, rows starting at
 * global row r0. failed / nan: this rank could not set L up / L holds a
 * NaN (agreed on in the first collective, so that no rank waits for another). */
static eq_status det_rows(const eq_comm *c, double *L, int64_t mr, int64_t n, int64_t r0, bool failed, bool nan,
                          double *out) {
  int P = c->size, me = c->rank;
  int64_t *orig = malloc(sizeof(int64_t) * (size_t)(mr + 1)), *perm = malloc(sizeof(int64_t) * (size_t)(n + 1));
  double *cand = malloc(sizeof(double) * 2 * (size_t)P), *row = malloc(sizeof(double) * (size_t)(n + 2));
  eq_status st = failed ? eq_error_code() : EQ_OK;
  if (!st && !(orig && perm && cand && row)) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_det: out of memory");
  int flags[2] = {st != EQ_OK, nan};
  eq_status st2 = eq_comm_allreduce(c, flags, 2, EQ_I32, EQ_REDUCE_MAX);
  if (!st && (st2 || flags[0])) st = st2 ? st2 : eq_error(EQ_ERR_MPI, "eq_dnd_det: another rank failed to set up");
  nan = flags[1];
  scaled d = {1.0, 0};
  /* Local rows [0, u) are used pivots (swapped to the top locally). */
  int64_t u = 0;
  for (int64_t i = 0; i < mr && !st; i++) orig[i] = r0 + i;
  for (int64_t j = 0; j < n && !st && d.mant != 0 && !nan; j++) {
    double best = 0, mine[2];
    int64_t bi = -1;
    for (int64_t i = u; i < mr; i++) {
      double v = fabs(L[i * n + j]);
      if (isnan(v)) nan = true;
      if (v > best || bi < 0) best = v, bi = i;
    }
    mine[0] = bi < 0 ? -1.0 : (nan ? NAN : best);
    mine[1] = (double)me;
    if ((st = eq_comm_allgather(c, mine, cand, 2, EQ_F64))) break;
    /* Largest candidate wins, ties to the lowest rank: the same on every rank. */
    int owner = -1;
    for (int r = 0; r < P; r++) {
      if (isnan(cand[2 * r])) nan = true;
      if (cand[2 * r] >= 0 && (owner < 0 || cand[2 * r] > cand[2 * owner])) owner = r;
    }
    if (nan || owner < 0) break;
    if (cand[2 * owner] == 0) {
      d.mant = 0; /* the whole remaining column is zero: singular */
      break;
    }
    if (owner == me) {
      /* Pivot row to local position u. */
      if (bi != u) {
        cblas_dswap((int)n, L + bi * n, 1, L + u * n, 1);
        int64_t t = orig[bi];
        orig[bi] = orig[u];
        orig[u] = t;
      }
      row[0] = (double)orig[u];
      memcpy(row + 1, L + u * n + j, sizeof(double) * (size_t)(n - j));
      u++;
    }
    if ((st = eq_comm_bcast(c, row, n - j + 1, EQ_F64, owner))) break;
    perm[j] = (int64_t)row[0];
    double piv = row[1];
    scaled_mul(&d, piv);
    /* Rows [u, mr): column j eliminated, the rest updated (rank 1). */
    int64_t rows = mr - u, cols = n - j - 1;
    if (rows > 0) {
      double *col = L + u * n + j;
      for (int64_t i = 0; i < rows; i++) col[i * n] /= piv;
      if (cols > 0) cblas_dger(CblasRowMajor, (int)rows, (int)cols, -1.0, col, (int)n, row + 2, 1, col + 1, (int)n);
    }
  }
  if (!st) {
    if (nan)
      *out = NAN;
    else if (d.mant == 0)
      *out = 0;
    else
      *out = parity(perm, n) * scaled_value(d);
  }
  free(orig);
  free(perm);
  free(cand);
  free(row);
  return st;
}

eq_status eq_dnd_det(const eq_dnd *a, double *out) {
  char b[128];
  if (!a || !out) return eq_error(EQ_ERR_VALUE, "eq_dnd_det: NULL argument");
  if (a->ndim != 2 || a->shape[0] != a->shape[1])
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_det: needs a square matrix, got %s", eq_dnd_str(a, b, sizeof b));
  int64_t n = a->shape[0];
  /* This rank's rows of A (split 0 / None) or of A^T (split 1) as float64. */
  int64_t mr = a->split == EQ_DND_NONE ? n : a->counts[a->comm->rank];
  double *L = malloc(sizeof(double) * (size_t)(mr * n + 1));
  eq_status st = L ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd_det: out of memory");
  if (!st) {
    eq_tensor *w = eq_tensor_wrap(EQ_F64, 2, (int64_t[]){mr, n}, L);
    eq_tensor *src = a->split == 1 ? eq_transpose(a->local, 0, 1) : eq_view_of(a->local);
    st = w && src ? eq_copy_(w, src) : eq_error_code();
    eq_tensor_free(w);
    eq_tensor_free(src);
  }
  bool nan = false;
  for (int64_t i = 0; i < mr * n && !st && !nan; i++) nan = isnan(L[i]);
  if (a->split != EQ_DND_NONE)
    st = det_rows(a->comm, L, mr, n, a->offsets[a->comm->rank], st != EQ_OK, nan, out);
  else if (!st && nan)
    *out = NAN;
  else if (!st)
    st = det_replicated(L, n, out);
  free(L);
  return st;
}
