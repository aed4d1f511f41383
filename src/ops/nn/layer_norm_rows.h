/* Layer norm of one float32 row in AVX-512 intrinsics, for rows whose
 * length is a multiple of 16 (ViT's 192, 384, 768). Internal to
 * layer_norm.c. */
#ifndef EQ_OPS_NN_LAYER_NORM_ROWS_H
#define EQ_OPS_NN_LAYER_NORM_ROWS_H

#include <stdbool.h>
#include <stdint.h>

/* y = (x - mean) rstd w + b over the row, mean and rstd = 1 / sqrt(var +
 * eps) (biased variance, two passes) written to *mean and *rstd. w and b
 * may each be NULL (1 and 0). Returns false, doing nothing, where no row
 * kernel takes rows of D (not a multiple of 16, or a build without
 * AVX-512): the caller's portable loops run. */
bool eq_ln_row_fwd_f32(const float *x, const float *w, const float *b, float *y, int64_t D, double eps, double *mean,
                       double *rstd);

/* One row's backward: dx = rstd (g - mean(g) - xh mean(g xh)) with xh the
 * normalised row and g = dy w, added onto dx unless `fresh_dx` (dx may be
 * NULL); dw_acc += dy xh and db_acc += dy (D floats each). Returns false,
 * doing nothing, as the forward. */
bool eq_ln_row_bwd_f32(const float *x, const float *w, const float *dy, float *dx, bool fresh_dx, float mean,
                       float rstd, int64_t D, float *dw_acc, float *db_acc);

#endif
