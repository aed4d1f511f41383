/* A linear layer's float32 backward in blocks of rows (see
 * linear_backward_blocks.h). In the ViT-Tiny step OpenBLAS ran dW = dY^T X
 * at about 79 % of the FMA peak against the tiles' 91 % for dX: it packs
 * both operands from memory, where here dY's block was just read by dX. */
#include "ops/nn/linear_backward_blocks.h"

bool eq_nn_grad_blocks_apply(int64_t m) {
  int threads = omp_get_max_threads();
  return eq_nn_tile_gemm_available() && m > 0 && (threads == 1 || m >= 512 * (int64_t)threads);
}

void eq_nn_add_column_sums_f32(int64_t rows, int64_t cols, const float *a, int64_t ld, float *sums) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < cols; j++) sums[j] += a[r * ld + j];
}

void eq_nn_add_shares_f32(int n_shares, const float *shares, size_t stride, int64_t n, float *dst) {
  if (n_shares <= 0) return;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t e = 0; e < n; e++)
    for (int s = 0; s < n_shares; s++) dst[e] += shares[(size_t)s * stride + (size_t)e];
}

void eq_nn_linear_block_backward_f32(int64_t rows, int64_t in, int64_t out, const float *dy, int64_t ldy,
                                     const float *x, const float *w, int64_t ldw, float *dx, float beta_dx, float *dw,
                                     float beta_dw, float *bias_sums) {
  if (dx) eq_nn_tile_gemm_f32(false, rows, in, out, 1.0f, dy, ldy, w, ldw, beta_dx, dx, in, NULL, NULL, NULL);
  eq_nn_tile_gemm_f32(true, out, in, rows, 1.0f, dy, ldy, x, in, beta_dw, dw, in, NULL, NULL, NULL);
  if (bias_sums) eq_nn_add_column_sums_f32(rows, out, dy, ldy, bias_sums);
}

eq_status eq_nn_linear_backward_rows_f32(int64_t m, int64_t in, int64_t out, const eq_nn_dy_rows *dy, const float *x,
                                         const float *w, float *dx, bool fresh_dx, float *dw, bool fresh_dw, float *db,
                                         bool fresh_db) {
  int threads = omp_get_max_threads();
  const int64_t unit = dy->unit, units = m / unit, block = dy->block_units * unit;
  /* One allocation, on this thread. Per thread: the bias sums and dY's
   * scratch; after thread 0, which accumulates into dW, its share of dW. */
  size_t per_thread = (size_t)out + (dy->scratch_floats + 15) / 16 * 16, share = (size_t)(out * in);
  float *ws = eq_nn_workspace(((size_t)threads * per_thread + (size_t)(threads - 1) * share) * sizeof(float));
  if (!ws) return eq_error_code();
  float *shares = ws + (size_t)threads * per_thread;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    float *sums = ws + (size_t)t * per_thread, *scratch = sums + out;
    float *dw_t = t ? shares + (size_t)(t - 1) * share : dw;
    memset(sums, 0, (size_t)out * sizeof(float));
    int64_t r0 = units * t / threads * unit, r1 = units * (t + 1) / threads * unit;
    /* fewer units than threads: a thread without rows still owes its share */
    if (r0 == r1 && (t > 0 || fresh_dw)) memset(dw_t, 0, (size_t)share * sizeof(float));
    for (int64_t b0 = r0; b0 < r1; b0 += block) {
      int64_t rows = r1 - b0 < block ? r1 - b0 : block;
      bool fresh = b0 == r0 && (t > 0 || fresh_dw);
      /* the next block's rows into L2 while this one computes, as the MLP's */
      int64_t n0 = b0 + rows, next = r1 - n0 < block ? r1 - n0 : block;
      if (next > 0) {
        eq_nn_tile_prefetch_l2(x + n0 * in, (size_t)(next * in) * sizeof(float));
        if (dy->next) dy->next(dy, n0, next);
      }
      int64_t ldy;
      const float *dyb = dy->rows(dy, b0, rows, scratch, &ldy);
      eq_nn_linear_block_backward_f32(rows, in, out, dyb, ldy, x + b0 * in, w, in, dx ? dx + b0 * in : NULL,
                                      fresh_dx ? 0.0f : 1.0f, dw_t, fresh ? 0.0f : 1.0f, db ? sums : NULL);
    }
    eq_nn_tile_prefetch_drop();
  }
  eq_nn_add_shares_f32(threads - 1, shares, share, out * in, dw);
  for (int t = 0; db && t < threads; t++) {
    const float *sums = ws + (size_t)t * per_thread;
    for (int64_t j = 0; j < out; j++) db[j] = (t == 0 && fresh_db ? 0 : db[j]) + sums[j];
  }
  return EQ_OK;
}

/* dY given: its rows read in place, the next block's queued for L2. */
static const float *given_rows(const eq_nn_dy_rows *dy, int64_t r0, int64_t rows, float *scratch, int64_t *ld) {
  (void)rows, (void)scratch;
  const int64_t *out = dy->ctx;
  *ld = *out;
  return (const float *)dy->data + r0 * *out;
}

static void given_next(const eq_nn_dy_rows *dy, int64_t r0, int64_t rows) {
  const int64_t *out = dy->ctx;
  eq_nn_tile_prefetch_l2((const float *)dy->data + r0 * *out, (size_t)(rows * *out) * sizeof(float));
}

eq_status eq_nn_linear_backward_blocks_f32(int64_t m, int64_t in, int64_t out, const float *dy, const float *x,
                                           const float *w, float *dx, bool fresh_dx, float *dw, bool fresh_dw,
                                           float *db, bool fresh_db) {
  eq_nn_dy_rows src = {given_rows, given_next, &out, dy, 0, 1, EQ_NN_GRAD_BLOCK_ROWS};
  return eq_nn_linear_backward_rows_f32(m, in, out, &src, x, w, dx, fresh_dx, dw, fresh_dw, db, fresh_db);
}
