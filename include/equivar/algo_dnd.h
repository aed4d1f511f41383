/* The algorithms on the dnd layer's distributed arrays (dnd.h): an eq_dnd
 * split along rows (split 0) or replicated (EQ_DND_NONE) is an eq_rows, and
 * a per-row result comes back as an eq_dnd split like the input.
 *
 *   eq_rows X;
 *   if (eq_rows_from_dnd(Xd, &X)) ...;          // no copy, no communication
 *   eq_kmeans_fit(m, X);
 *   eq_dnd *labels = eq_dnd_from_rows_result(eq_kmeans_predict(m, X), Xd);
 */
#ifndef EQUIVAR_ALGO_DND_H
#define EQUIVAR_ALGO_DND_H

#include "equivar/algo.h"
#include "equivar/dnd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A view of x's local block (x must outlive the view). x must be split
 * along axis 0 or replicated; a column-split matrix is an EQ_ERR_UNSUPPORTED
 * error (eq_dnd_resplit(x, 0) first: the algorithms need whole rows). A
 * one-rank communicator without MPI gives replicated rows. */
eq_status eq_rows_from_dnd(const eq_dnd *x, eq_rows *out);

/* Wraps a result computed on like's rows (eq_*_predict/transform: a heap
 * tensor with like's local row count) as a distributed array with like's
 * split and communicator. Takes `local` over (frees it, also on failure);
 * NULL local (a failed predict) gives NULL with its error kept. Collective. */
eq_dnd *eq_dnd_from_rows_result(eq_tensor *local, const eq_dnd *like);

/* The rbf kernel exp(-gamma |x - y|^2) of two distributed matrices, built
 * on eq_dnd_cdist (quadratic expansion; split and memory as its result:
 * rows of x when x is split, O(rows / ranks x n_y) per rank); then a local
 * exp, no further communication. gamma <= 0: 1 / n_features. */
eq_dnd *eq_dnd_rbf(const eq_dnd *x, const eq_dnd *y, double gamma);
/* Manhattan distances sum_j |x_j - y_j|: x split along rows (or
 * replicated), y replicated or gathered (eq_dnd_resplit(y, EQ_DND_NONE):
 * the smaller operand); the result is split like x. */
eq_dnd *eq_dnd_manhattan(const eq_dnd *x, const eq_dnd *y);

#ifdef __cplusplus
}
#endif
#endif
