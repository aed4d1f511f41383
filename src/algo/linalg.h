/* Distributed dense linear algebra the estimators share: TSQR of centred
 * rows, orthonormalisation of row-split column blocks, small LAPACK
 * wrappers. Row-major f64 throughout; small results are replicated. */
#ifndef EQ_ALGO_LINALG_H
#define EQ_ALGO_LINALG_H

#include <lapacke.h>

#include "algo/common.h"

/* R (d x d, upper triangular, row-major) of the QR factorisation of the
 * global matrix [X - mean | extra] ... with `extra` (n_local x e, f64, may
 * be NULL with e = 0) appended as columns: (d + e) x (d + e). Each OpenMP
 * thread folds its rows block by block into its own R (Householder QR of [R;
 * block]), then the threads' and the ranks' R factors are stacked and
 * factorised again (the TSQR reduction tree, flattened). Replicated. */
eq_status eq_tsqr_r(const eq_mat *X, const double *mean, const double *extra,
                    const double *extra_mean, int64_t e, double *R);

/* Makes the l columns of the row-split matrix Y (n_local x l, f64)
 * orthonormal in place: Y <- Y V diag(1/sqrt(lambda)) from the eigenpairs of
 * the all-reduced Gram Y^T Y, twice (as CholeskyQR2); directions with
 * negligible lambda become zero columns, so rank-deficient Y is harmless. */
eq_status eq_dist_orth(const eq_mat *like, double *Y, int64_t n_local, int64_t l);

/* F (l x l) such that Y F has orthonormal columns, or zero ones for the
 * directions Y lacks, from the Gram G = Y^T Y (l x l, destroyed) alone:
 * scaled to unit diagonal first (columns of very different lengths cost
 * no accuracy), then the eigenpairs. Columns shorter than tol x the longest
 * and eigenvalues below tol x the largest (of the scaled Gram) count as
 * missing; tol ~ 1000 x the unit roundoff Y was computed in. */
eq_status eq_gram_orth_factor(const char *op, double *G, int64_t l, double tol, double *F);
/* Replaces the m x n row-major A (m >= n) by the orthonormal Q of its
 * Householder QR: well defined however ill-conditioned or rank-deficient A. */
eq_status eq_small_qr_q(const char *op, double *A, int64_t m, int64_t n);
/* Thin SVD of the m x n row-major A (destroyed): U (m x r), S (r), Vt (r x n),
 * r = min(m, n). */
eq_status eq_small_svd(const char *op, double *A, int64_t m, int64_t n, double *U, double *S,
                       double *Vt);
/* Eigenpairs of the symmetric n x n A (destroyed), ascending; vectors in
 * the columns of V (row-major). */
eq_status eq_small_eigh(const char *op, double *A, int64_t n, double *w, double *V);
/* Solves the symmetric positive definite A X = B in place (B n x k). */
eq_status eq_small_spd_solve(const char *op, double *A, int64_t n, double *B, int64_t k);

#endif
