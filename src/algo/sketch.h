/* Thin products of the centred rows Xc = X - 1 mean^T that the randomised
 * PCA repeats (power iterations). The rows are visited one block at a time:
 * each block is read from memory once, centred in cache (the data are never
 * centred as a whole, and a large mean cannot cancel digits away), and every
 * product the pass needs is taken from that cached block. Computed in X's
 * dtype (float32 stays float32; partial sums over at most 256 rows, then
 * float64); the thin operands are f64, row-major, l columns. Z and G are
 * this rank's partial sums: the caller reduces them over the ranks. */
#ifndef EQ_ALGO_SKETCH_H
#define EQ_ALGO_SKETCH_H

#include "algo/common.h"

/* Z (d x l) = Xc^T (Xc Q) for Q (d x l): one pass over the local rows. */
eq_status eq_sketch_gram_times(const eq_mat *X, const double *mean, const double *Q, int64_t l, double *Z);
/* The same pass, also keeping Y = Xc Q: Z (d x l) = Xc^T Y, G (l x l) =
 * Y^T Y, and Y itself (n_local x l, in X's dtype) in Y. */
eq_status eq_sketch_range(const eq_mat *X, const double *mean, const double *Q, int64_t l, double *Z,
                          double *G, void *Y);
/* For each column c of U = Y M (Y from eq_sketch_range, M l x k, f64): the
 * largest |U[i, c]| over the local rows (the first such i on ties) in
 * absmax[c] (-1 without rows) and the sign of that entry (+1 or -1) in
 * sign[c]. */
eq_status eq_sketch_absmax(const eq_mat *X, const void *Y, int64_t l, const double *M, int64_t k,
                           double *absmax, double *sign);

#endif
