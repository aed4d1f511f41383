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

#ifdef __cplusplus
}
#endif
#endif
