/* Helpers shared by the dnd layer's files. */
#ifndef EQ_DND_INTERNAL_H
#define EQ_DND_INTERNAL_H

#include "equivar/dnd.h"
#include "tensor/tensor_internal.h"

int64_t eq_comm_chunk_elems(size_t elem_size);
eq_status eq_comm_check(int rc, const char *what);

/* A new array struct with layout metadata; local NULL. counts NULL with a
 * split: canonical balanced. */
eq_dnd *dnd_alloc(eq_dtype dtype, int ndim, const int64_t *shape, int split, const int64_t *counts,
                  const eq_comm *comm);
/* dnd_alloc + an empty local block of the right local shape. */
eq_dnd *dnd_new(eq_dtype dtype, int ndim, const int64_t *shape, int split, const int64_t *counts,
                const eq_comm *comm);
/* Wraps an existing contiguous local tensor (takes ownership). */
eq_dnd *dnd_wrap(eq_tensor *local, int ndim, const int64_t *shape, int split, const int64_t *counts,
                 const eq_comm *comm);
/* Balanced counts of n over P into counts[P]. */
void dnd_balanced_counts(int64_t n, int P, int64_t *counts);
bool dnd_same_layout(const eq_dnd *a, const eq_dnd *b);
/* A contiguous heap copy of a (possibly strided) view; frees the view. */
eq_tensor *dnd_materialize(eq_tensor *view);
/* Returns NULL with `msg` when x is NULL (for chaining). */
const char *dnd_name(const eq_dnd *x, char *buf, size_t cap);
eq_status dnd_check_axis(const char *op, const eq_dnd *x, int axis, int *out);
/* Redistributes x into layout (split, counts) - the general data mover (one
 * MPI_Alltoallw with subarray datatypes, no packing). counts NULL:
 * balanced. */
eq_dnd *dnd_relayout(const eq_dnd *x, int split, const int64_t *counts);
/* x's local block sliced to the rows [lo, hi) of the global axis (for a
 * replicated x or a split on another axis): a view. */
eq_tensor *dnd_local_rows_view(const eq_dnd *x, int axis, int64_t lo, int64_t hi);
/* A view of a replicated operand covering the result's local block of `res_split`
 * given the result's (ndim, counts, offsets). */
int64_t dnd_outer(const eq_tensor *t, int axis);
int64_t dnd_inner(const eq_tensor *t, int axis);

/* QR of a split=1 matrix by column blocks in rank order (qr_block.c): Q
 * (m x min(m, n)) and R (min(m, n) x n), both split 1; either may be NULL. */
eq_status dnd_qr_columns(const eq_dnd *a, eq_dnd **q, eq_dnd **r);

#define DND_FAIL(...) (eq_error(__VA_ARGS__), (eq_dnd *)NULL)

#endif
