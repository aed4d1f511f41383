/* Row sparsity of a gradient: which rows of an output gradient are not all
 * zero, and the gathers and scatters that let a backward run on those rows
 * alone. A row whose output gradient is zero adds nothing to any weight
 * gradient and gets a zero input gradient, so skipping it is exact. It
 * arises wherever a loss reads only some tokens: a ViT pooled by its CLS
 * token sends gradient to one of its last block's 65 rows an image.
 * Internal to the library. */
#ifndef EQ_OPS_NN_LIVE_ROWS_H
#define EQ_OPS_NN_LIVE_ROWS_H

#include "ops/nn/nn_common.h"

/* The rows of g (m rows of n float32 or float64, contiguous) holding a
 * nonzero element, in order, into idx (room for eq_nn_live_rows_room(m)),
 * and their count; -1 when the products are better run on all m rows: at
 * least 8 rows and at most 7 in 8 live are worth the gathers. Zero of
 * either sign counts as zero; NaN does not. The scan stops once too many
 * rows are live, so a dense gradient costs one 64-byte chunk a row. n may
 * be 0 (no row is live). */
int64_t eq_nn_live_rows(eq_dtype dt, const void *g, int64_t m, int64_t n, int64_t *idx);
static inline int64_t eq_nn_live_rows_room(int64_t m) { return m - m / 8 + 1; }

/* dst's k rows = src's rows idx[0..k), rows of row_bytes each. */
void eq_nn_gather_rows(const void *src, size_t row_bytes, int64_t k, const int64_t *idx, void *dst);

/* dst's rows idx[r] get src's row r (k rows of n elements): written when
 * `fresh` (and every other one of dst's m rows zeroed), else added. */
void eq_nn_scatter_rows(eq_dtype dt, const void *src, int64_t n, int64_t k, const int64_t *idx, void *dst, int64_t m,
                        bool fresh);

#endif
