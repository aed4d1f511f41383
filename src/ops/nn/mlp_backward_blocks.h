/* The fused MLP's float32 backward (mlp.c) in blocks of rows, each thread
 * taking an even share of the rows: per block, the gradient at fc1's output
 * (dY W2) o slope goes to scratch, never to memory, and both weight
 * gradients multiply a block transposed in cache by one read in place, in
 * AVX-512 register tiles (tile_gemm.c). Internal to the library. */
#ifndef EQ_OPS_NN_MLP_BACKWARD_BLOCKS_H
#define EQ_OPS_NN_MLP_BACKWARD_BLOCKS_H

#include "ops/nn/nn_common.h"

/* The backward's operands, contiguous row-major: m rows of `in` inputs,
 * `hidden` hidden and `out` output features; W1 [hidden, in], W2 [out,
 * hidden] as PyTorch stores them; the forward's hidden activation and
 * GELU's slope [m, hidden]. Each gradient is written when its fresh_* flag
 * is set (the buffer may hold garbage), else accumulated into; db1 and db2
 * may be NULL (skipped). */
typedef struct {
  int64_t m, in, hidden, out;
  const float *dy, *x, *w1, *w2, *hidden_act, *slope;
  float *dx, *dw1, *db1, *dw2, *db2;
  bool fresh_dx, fresh_dw1, fresh_db1, fresh_dw2, fresh_db2;
} eq_nn_mlp_f32;

/* Whether the blocked backward runs these sizes: AVX-512 register tiles,
 * no empty dimension, and on more than one thread at least 512 rows per
 * thread (shorter products go to OpenBLAS's threads, one layer at a time). */
bool eq_nn_mlp_backward_blocks_apply(int64_t m, int64_t in, int64_t hidden, int64_t out);

/* Runs the backward where eq_nn_mlp_backward_blocks_apply says so. An
 * error only when its scratch cannot be had. */
eq_status eq_nn_mlp_backward_blocks_f32(const eq_nn_mlp_f32 *p);

#endif
