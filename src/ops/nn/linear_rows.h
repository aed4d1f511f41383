/* The linear layer's products on contiguous row-major data (linear.c),
 * shared by eq_linear, eq_linear_add and the fused MLP (mlp.c): m rows of
 * `in` input and `out` output features, W [out, in] as PyTorch stores it.
 * float32 or float64 (dt); tall products are split by rows over the
 * threads, in float32 with AVX-512 as register tiles. Internal to the
 * library. */
#ifndef EQ_OPS_NN_LINEAR_ROWS_H
#define EQ_OPS_NN_LINEAR_ROWS_H

#include "ops/nn/nn_common.h"

/* y = x W^T + bias + residual (bias [out] and residual [m, out] may be
 * NULL). Uses this thread's workspace (eq_nn_workspace). */
eq_status eq_nn_linear_rows_forward(eq_dtype dt, int64_t m, int64_t in, int64_t out, const void *x, const void *w,
                                    const void *bias, const void *residual, void *y);

/* dX = (dY W) o dx_scale, dW (+)= dY^T X, db (+)= the column sums of dY.
 * Each gradient is skipped when NULL, written when its fresh_* flag is set
 * (the buffer may hold garbage) and accumulated into otherwise. dx_scale
 * [m, in] (NULL: none) multiplies dX elementwise as it is stored (the slope
 * of the activation that produced x) and needs fresh_dx. Uses this
 * thread's workspace. */
eq_status eq_nn_linear_rows_backward(eq_dtype dt, int64_t m, int64_t in, int64_t out, const void *dy, const void *x,
                                     const void *w, void *dx, bool fresh_dx, const void *dx_scale, void *dw,
                                     bool fresh_dw, void *db, bool fresh_db);

#endif
