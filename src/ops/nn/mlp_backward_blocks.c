/* The MLP's float32 backward in blocks of rows (see mlp_backward_blocks.h).
 *
 * Why blocks: run layer by layer, the backward streams the [m, hidden]
 * gradient at fc1's output through memory three times (written by fc2's dX,
 * read by fc1's dX and again by fc1's dW), and each dW = dY^T X in OpenBLAS
 * packs its operands from memory. Taken a block of rows at a time, that
 * gradient lives in this thread's scratch and each dW multiplies two blocks
 * in L2, both read in place by the register tiles (the first one down its
 * columns). */
#include "ops/nn/mlp_backward_blocks.h"

#include "ops/nn/linear_backward_blocks.h"

enum { BLOCK_ROWS = EQ_NN_GRAD_BLOCK_ROWS };

/* One thread's gradients, written (its first block, `fresh`) or
 * accumulated: dW1 [hidden, in]; dW2 transposed, [hidden, out]; the bias
 * sums (from zero; NULL: skipped). */
typedef struct {
  float *dw1, *dw2t, *db1, *db2;
  bool fresh_dw1;
} thread_grads;

/* Reads one float of each cache line of a[0 .. n): a sequential stream
 * the hardware prefetcher runs ahead of, into cache for the tiles. */
static void touch_lines(const float *a, int64_t n) {
  float sum = 0;
  for (int64_t e = 0; e < n; e += 16) sum += a[e];
  volatile float sink = sum; /* keeps the loads */
  (void)sink;
}

/* Rows [r0, r1) of the backward on this thread: w2 is W2 with its rows
 * padded to ldw2; dh (BLOCK_ROWS x hidden) is the thread's scratch. */
static void backward_rows(const eq_nn_mlp_f32 *p, const float *w2, int64_t ldw2, int64_t r0, int64_t r1,
                          thread_grads *g, float *dh) {
  int64_t in = p->in, hidden = p->hidden, out = p->out;
  for (int64_t b0 = r0; b0 < r1; b0 += BLOCK_ROWS) {
    int64_t rows = r1 - b0 < BLOCK_ROWS ? r1 - b0 : BLOCK_ROWS;
    const float *dy = p->dy + b0 * out, *h = p->hidden_act + b0 * hidden;
    bool first = b0 == r0;
    /* the gradient at fc1's output: (dY W2) o slope. The slope comes from
     * memory: read by the tiles as they store, panel by panel, its lines
     * stalled them (ViT-Tiny's MLP backward 1393-1406 -> 1368-1391 ms
     * over 20 steps with this pass first). Only the first block's: the
     * next block's rows come into L2 while this one computes (ViT-Tiny
     * step 359-370 -> 373-381 img/s, with the linear layers' alike). */
    if (first) touch_lines(p->slope + b0 * hidden, rows * hidden);
    int64_t n0 = b0 + rows, next = r1 - n0 < BLOCK_ROWS ? r1 - n0 : BLOCK_ROWS;
    if (next > 0) {
      eq_nn_tile_prefetch_l2(p->x + n0 * in, (size_t)(next * in) * sizeof(float));
      eq_nn_tile_prefetch_l2(p->hidden_act + n0 * hidden, (size_t)(next * hidden) * sizeof(float));
      eq_nn_tile_prefetch_l2(p->dy + n0 * out, (size_t)(next * out) * sizeof(float));
      eq_nn_tile_prefetch_l2(p->slope + n0 * hidden, (size_t)(next * hidden) * sizeof(float));
    }
    eq_nn_tile_gemm_f32(false, rows, hidden, out, 1.0f, dy, out, w2, ldw2, 0.0f, dh, hidden, NULL, NULL,
                        p->slope + b0 * hidden);
    /* dW2^T (+)= H^T dY, H read down its columns: as dW2 = dY^T H the
     * tiles would take 64-column panels of H's rows, and a row stride of
     * 3 KB (ViT-Tiny's 768 hidden features) maps a panel onto a quarter of
     * L1's sets (95 % of the FMA peak against 99-100 % this way, hot).
     * H's block first in one sequential pass: the queue's prefetch of it
     * left part to this product's broadcasts, which stalled on it (in the
     * ViT-Tiny step this product 498-528 -> 456-483 M TSC cycles a thread
     * over 72 calls, the pass 16-20 M). */
    touch_lines(h, rows * hidden);
    eq_nn_tile_gemm_f32(true, hidden, out, rows, 1.0f, h, hidden, dy, out, first ? 0.0f : 1.0f, g->dw2t, out, NULL,
                        NULL, NULL);
    if (g->db2) eq_nn_add_column_sums_f32(rows, out, dy, out, g->db2);
    /* fc1 as a linear layer whose output gradient is dh */
    eq_nn_linear_block_backward_f32(rows, in, hidden, dh, hidden, p->x + b0 * in, p->w1, in, p->dx + b0 * in,
                                    p->fresh_dx ? 0.0f : 1.0f, g->dw1, first && g->fresh_dw1 ? 0.0f : 1.0f, g->db1);
  }
  eq_nn_tile_prefetch_drop();
}

bool eq_nn_mlp_backward_blocks_apply(int64_t m, int64_t in, int64_t hidden, int64_t out) {
  return in > 0 && hidden > 0 && out > 0 && eq_nn_grad_blocks_apply(m);
}

eq_status eq_nn_mlp_backward_blocks_f32(const eq_nn_mlp_f32 *p) {
  int64_t m = p->m, in = p->in, hidden = p->hidden, out = p->out;
  int threads = omp_get_max_threads();
  /* W2's rows padded, as the forward pads W^T */
  int64_t ldw2 = eq_nn_tile_ld(hidden);
  /* One allocation, on this thread. Per thread: the block's gradient at
   * fc1's output, its dW2^T and bias sums; after thread 0, which
   * accumulates into the output, its share of dW1. Then W2 padded and, to
   * accumulate into, dW2 transposed back. */
  size_t per_thread = (size_t)(BLOCK_ROWS * hidden + hidden * out + hidden + out), dw1_share = (size_t)(hidden * in);
  float *ws = eq_nn_workspace(((size_t)threads * per_thread + (size_t)(threads - 1) * dw1_share + (size_t)(out * ldw2) +
                               (p->fresh_dw2 ? 0 : (size_t)(out * hidden))) *
                              sizeof(float));
  if (!ws) return eq_error_code();
  float *dw1_shares = ws + (size_t)threads * per_thread, *w2 = dw1_shares + (size_t)(threads - 1) * dw1_share;
  for (int64_t o = 0; o < out; o++) memcpy(w2 + o * ldw2, p->w2 + o * hidden, (size_t)hidden * sizeof(float));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    float *dh = ws + (size_t)t * per_thread, *dw2t = dh + BLOCK_ROWS * hidden, *sums = dw2t + hidden * out;
    memset(sums, 0, (size_t)(hidden + out) * sizeof(float));
    thread_grads g = {
        .dw1 = t ? dw1_shares + (size_t)(t - 1) * dw1_share : p->dw1,
        .dw2t = dw2t,
        .db1 = p->db1 ? sums : NULL,
        .db2 = p->db2 ? sums + hidden : NULL,
        .fresh_dw1 = t > 0 || p->fresh_dw1,
    };
    backward_rows(p, w2, ldw2, m * t / threads, m * (t + 1) / threads, &g, dh);
  }
  /* The threads' shares, added in thread order so that the sums do not
   * depend on timing: dW1 onto thread 0's, dW2^T into thread 0's, then
   * transposed into dW2. */
  float *dw2t0 = ws + BLOCK_ROWS * hidden;
  eq_nn_add_shares_f32(threads - 1, dw1_shares, dw1_share, hidden * in, p->dw1);
  eq_nn_add_shares_f32(threads - 1, dw2t0 + per_thread, per_thread, hidden * out, dw2t0);
  if (p->fresh_dw2) {
    eq_nn_transpose_f32(hidden, out, dw2t0, out, p->dw2, hidden);
  } else {
    float *dw2 = w2 + out * ldw2;
    eq_nn_transpose_f32(hidden, out, dw2t0, out, dw2, hidden);
#pragma omp parallel for schedule(static) if (out * hidden >= 65536)
    for (int64_t e = 0; e < out * hidden; e++) p->dw2[e] += dw2[e];
  }
  for (int t = 0; t < threads; t++) {
    const float *sums = ws + (size_t)t * per_thread + (size_t)(BLOCK_ROWS * hidden + hidden * out);
    bool first = t == 0;
    for (int64_t j = 0; p->db1 && j < hidden; j++) p->db1[j] = (first && p->fresh_db1 ? 0 : p->db1[j]) + sums[j];
    for (int64_t j = 0; p->db2 && j < out; j++) p->db2[j] = (first && p->fresh_db2 ? 0 : p->db2[j]) + sums[hidden + j];
  }
  return EQ_OK;
}
