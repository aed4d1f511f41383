/* Internal plumbing of the algorithms: one validated view of an eq_rows
 * (global row count, offset, contiguous data), collective error agreement,
 * reductions that are no-ops on replicated data, and dtype-generic BLAS
 * helpers that compute in the data's dtype and hand back float64. */
#ifndef EQ_ALGO_COMMON_H
#define EQ_ALGO_COMMON_H

#include <cblas.h>
#include <mpi.h>
#include <string.h>

#include "equivar/algo.h"

typedef struct eq_mat {
  const char *op;
  MPI_Comm comm; /* MPI_COMM_SELF for replicated rows */
  int rank, size;
  bool split;
  eq_dtype dt;
  int ndim;
  int64_t n_local, n, row0, d; /* d = 1 for 1-D */
  const void *x;               /* contiguous local rows */
  eq_tensor *owned;            /* the contiguous copy, when one was needed */
} eq_mat;

enum {
  EQ_MAT_FLOAT = 1,   /* float32/float64 only */
  EQ_MAT_INT = 2,     /* int32/int64 labels (>= 0) only */
  EQ_MAT_FINITE = 4,  /* reject NaN/Inf */
  EQ_MAT_1D = 8,      /* must be 1-D */
  EQ_MAT_2D = 16,     /* must be 2-D */
  EQ_MAT_1D_OR_2D = 32
};

/* Validates r (collectively: every rank gets the same status), computes the
 * global shape and this rank's offset. `what` names the argument ("X"). */
eq_status eq_mat_open(eq_mat *m, const char *op, const char *what, eq_rows r, int flags);
void eq_mat_close(eq_mat *m);
/* Checks that b has the same rows (local counts, split, communicator) as a. */
eq_status eq_mat_same_rows(const eq_mat *a, const eq_mat *b);

/* Every rank learns the worst status; a rank that was fine records
 * "<op>: failed on another rank". Returns the agreed status. */
eq_status eq_algo_agree(const char *op, MPI_Comm comm, eq_status st);

/* In-place sums/max/min over the ranks of m (nothing to do when replicated). */
eq_status eq_mat_sum(const eq_mat *m, double *buf, int64_t count);
eq_status eq_mat_sum_i64(const eq_mat *m, int64_t *buf, int64_t count);
eq_status eq_mat_max(const eq_mat *m, double *buf, int64_t count);
eq_status eq_mat_min(const eq_mat *m, double *buf, int64_t count);

/* Element (i, j) of the local rows as double; row pointers. */
static inline double eq_mat_at(const eq_mat *m, int64_t i, int64_t j) {
  return m->dt == EQ_F32 ? (double)((const float *)m->x)[i * m->d + j]
                         : ((const double *)m->x)[i * m->d + j];
}
/* Integer label i (int32/int64 matrices). */
static inline int64_t eq_mat_label(const eq_mat *m, int64_t i) {
  return m->dt == EQ_I32 ? ((const int32_t *)m->x)[i] : ((const int64_t *)m->x)[i];
}
/* Global max label + 1 (collective). */
eq_status eq_mat_n_classes(const eq_mat *y, int *out);

/* out (n_local x k, f64) = X_local (n_local x d) W (d x k, f64, row-major),
 * computed in X's dtype; minus row vector `shift` (k) when non-NULL. */
eq_status eq_mat_xw(const eq_mat *X, const double *W, int64_t k, const double *shift, double *out);
/* out (d x k, f64) = X_local^T V (V n_local x k, f64); local, not reduced. */
eq_status eq_mat_xtv(const eq_mat *X, const double *V, int64_t k, double *out);
/* Column means (global) and the local centred Gram (X - mean)^T (X - mean)
 * of this rank's rows; computed in X's dtype in blocks, summed in f64. */
eq_status eq_mat_gram_local(const eq_mat *X, const double *mean, double *G);
/* Global column mean and sum of squared deviations (Chan et al.'s pairwise
 * merge of the per-rank moments; never sum(x^2) - n mean^2). */
eq_status eq_mat_moments(const eq_mat *X, double *mean, double *m2);

/* Heap f64 tensors. */
eq_tensor *eq_algo_f64_1d(int64_t n, const double *src);
eq_tensor *eq_algo_f64_2d(int64_t r, int64_t c, const double *src);
/* A new local result (n_local rows) in dtype dt from f64 data. */
eq_tensor *eq_algo_result(eq_dtype dt, int ndim, int64_t rows, int64_t cols, const double *src);

/* Tensor to a contiguous f64 copy (caller eq_free's); checks 2-D shape (r, c)
 * when r >= 0 / c >= 0. NULL + error naming op/what otherwise. */
double *eq_algo_tensor_f64(const char *op, const char *what, const eq_tensor *t, int64_t r, int64_t c);


/* Copies the global rows idx[0..cnt) of X into out (cnt x d, f64) on every
 * rank (the owners contribute, one all-reduce). */
eq_status eq_mat_fetch_rows(const eq_mat *X, const int64_t *idx, int64_t cnt, double *out);

/* OpenMP regions only pay off above ~a million multiply-adds; below that the
 * thread start-up (and, when ranks oversubscribe the cores, spinning
 * barriers) costs more than the work. */
#define EQ_ALGO_PARALLEL(work) ((double)(work) > 1e6)

/* OpenBLAS (OpenMP build) threads even tiny calls (dsymv inside dsyevd) when
 * the caller's OpenMP thread count is > 1; around small LAPACK/BLAS calls
 * the count is set to 1 and restored after. */
int eq_algo_serial_begin(void);
void eq_algo_serial_end(int saved);

/* Order-preserving map of finite doubles to unsigned keys, and back: exact
 * order statistics bisect over these keys (scaler.c, kmedians.c). */
static inline uint64_t eq_algo_key(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return (b >> 63) ? ~b : (b | (1ULL << 63));
}
static inline double eq_algo_key_value(uint64_t k) {
  uint64_t b = (k >> 63) ? (k & ~(1ULL << 63)) : ~k;
  double v;
  memcpy(&v, &b, sizeof v);
  return v;
}

/* Index of the largest entry of each row of the f64 (rows, K) P (first on
 * ties): a new int64 (rows,) heap tensor. */
eq_tensor *eq_algo_argmax_rows(const eq_tensor *P);

#endif
