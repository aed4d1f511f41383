/* A linear layer's float32 backward in blocks of rows, each thread taking
 * an even share of the rows: per block, dX = dY W, then dW (+)= dY^T X
 * with the block of dY, still in cache, read down its columns and the
 * block of X along its rows, both in place, in AVX-512 register tiles
 * (tile_gemm.c; transposing dY's block first cost 4-5 % more), instead of
 * OpenBLAS packing both operands of dW from memory. Also the pieces the
 * fused MLP's blocked backward (mlp_backward_blocks.c) shares. Internal to
 * the library. */
#ifndef EQ_OPS_NN_LINEAR_BACKWARD_BLOCKS_H
#define EQ_OPS_NN_LINEAR_BACKWARD_BLOCKS_H

#include "ops/nn/nn_common.h"

enum {
  /* Rows per block: a block's gradients stay in L2 next to the tiles'
   * operands (96 measured best of 48-192 in the MLP). */
  EQ_NN_GRAD_BLOCK_ROWS = 96,
};

/* Whether a backward of m rows runs in blocks: AVX-512 register tiles and,
 * on more than one thread, at least 512 rows per thread (shorter products
 * go to OpenBLAS's threads). */
bool eq_nn_grad_blocks_apply(int64_t m);

/* One block of `rows` rows on this thread: dX (+)= dY W (beta_dx 0 or 1;
 * dx NULL: skipped), dW [out, in] (+)= dY^T X (beta_dw), bias_sums [out]
 * (NULL: skipped) += dY's column sums. dY [rows, out] with leading dimension ldy; X [rows,
 * in] and dX contiguous; W [out, in] with leading dimension ldw. */
void eq_nn_linear_block_backward_f32(int64_t rows, int64_t in, int64_t out, const float *dy, int64_t ldy,
                                     const float *x, const float *w, int64_t ldw, float *dx, float beta_dx, float *dw,
                                     float beta_dw, float *bias_sums);

/* sums[j] += the column sums of a (rows x cols, leading dimension ld). */
void eq_nn_add_column_sums_f32(int64_t rows, int64_t cols, const float *a, int64_t ld, float *sums);

/* dst[e] += shares[s * stride + e] for s = 0 .. n_shares-1 in that order
 * (so that the sum does not depend on the threads' timing), e < n. */
void eq_nn_add_shares_f32(int n_shares, const float *shares, size_t stride, int64_t n, float *dst);

/* The backward of y = x W^T + b over m rows where eq_nn_grad_blocks_apply
 * says so: dX (NULL: not wanted) and dW are written when their fresh_* flag
 * is set (the buffer may hold garbage), else accumulated into; db likewise,
 * or NULL. An error only when its scratch cannot be had. */
eq_status eq_nn_linear_backward_blocks_f32(int64_t m, int64_t in, int64_t out, const float *dy, const float *x,
                                           const float *w, float *dx, bool fresh_dx, float *dw, bool fresh_dw,
                                           float *db, bool fresh_db);

/* Where a blocked backward's dY comes from: rows read in place, or made a
 * block at a time by the caller (self_attention.c's attention backward). */
typedef struct eq_nn_dy_rows {
  /* dY's rows [r0, r0 + rows) and, in *ld, their leading dimension: in
   * place, or made in this thread's scratch (scratch_floats) */
  const float *(*rows)(const struct eq_nn_dy_rows *dy, int64_t r0, int64_t rows, float *scratch, int64_t *ld);
  /* the rows [r0, r0 + rows) of the next block, to queue for L2
   * (eq_nn_tile_prefetch_l2) while this one computes; NULL: none */
  void (*next)(const struct eq_nn_dy_rows *dy, int64_t r0, int64_t rows);
  const void *ctx, *data;
  size_t scratch_floats;
  /* the threads' shares and the blocks are whole multiples of `unit` rows
   * (m must be one), block_units of them a block */
  int64_t unit, block_units;
} eq_nn_dy_rows;

/* eq_nn_linear_backward_blocks_f32 with dY from a source. */
eq_status eq_nn_linear_backward_rows_f32(int64_t m, int64_t in, int64_t out, const eq_nn_dy_rows *dy, const float *x,
                                         const float *w, float *dx, bool fresh_dx, float *dw, bool fresh_dw, float *db,
                                         bool fresh_db);

#endif
