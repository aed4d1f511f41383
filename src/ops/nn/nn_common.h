/* Shared plumbing of the NN ops (src/ops/nn): argument checks, the
 * grow-only workspace, BLAS spellings per dtype. Internal to the library. */
#ifndef EQ_OPS_NN_COMMON_H
#define EQ_OPS_NN_COMMON_H

#include <cblas.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "tensor/tensor_internal.h"

/* Scratch memory for one op call, reused across calls by the calling thread
 * so the hot path neither mallocs nor page-faults after the first step. The
 * pointer is valid until the next eq_nn_workspace call on this thread: take
 * everything an op needs in one call. NULL (error recorded) when out of memory. */
void *eq_nn_workspace(size_t bytes);
/* Scratch for the calling thread alone, for use inside a parallel region:
 * no other thread touches it, so its cache lines stay with this core from
 * op to op. (Slices of one shared workspace laid out differently by each
 * op move lines between the cores; where this VM's vCPUs sit far apart,
 * at ~450 ns a line, that cost ResNet-18's step 7 %.) Valid until this
 * thread's next call; grow-only like eq_nn_workspace. NULL (error
 * recorded) when out of memory: reserve first with eq_nn_thread_workspaces. */
void *eq_nn_thread_workspace(size_t bytes);
/* Makes eq_nn_thread_workspace(bytes) succeed on each of `threads` OpenMP
 * threads (call outside a parallel region). False, error recorded, when
 * one of them is out of memory. */
bool eq_nn_thread_workspaces(size_t bytes, int threads);

/* Checks that t is a CPU float32/float64 tensor with `ndim` dims (ndim < 0:
 * any) and, when dtype >= 0, of that dtype. Errors name `op` and `what`. */
eq_status eq_nn_check(const char *op, const char *what, const eq_tensor *t, int ndim, int dtype);

/* t itself when contiguous, else a contiguous copy recorded on the tape. */
static inline eq_tensor *eq_nn_contig(eq_tensor *t) {
  if (!t || eq_is_contiguous(t)) return t;
  return eq_contiguous(t);
}

/* The gradient buffer of input k of a node when it needs one, else NULL. */
static inline eq_tensor *eq_nn_grad_of(eq_node *node, int k) {
  if (k >= node->n_inputs || !node->inputs[k] || !node->inputs[k]->requires_grad) return NULL;
  return eq_grad_buffer(node->inputs[k]);
}

/* The gradient buffer of input k for an op that writes every element:
 * when the input has no gradient yet it is created uninitialised and
 * *fresh is set (write, don't accumulate: saves zeroing and re-reading a
 * whole activation), else the existing buffer (accumulate). Placement as
 * eq_grad_buffer: leaves on the heap, others in the current arena. NULL
 * when the input needs no gradient, or out of memory (error recorded). */
eq_tensor *eq_nn_grad_for_write(eq_node *node, int k, bool *fresh);
/* The same for inputs 0..n-1 at once. One tensor in two input slots shares
 * one buffer, which is then zeroed and accumulated into, never written
 * fresh. Returns EQ_OK, or the error when a needed buffer is missing. */
eq_status eq_nn_grads_for_write(eq_node *node, int n, eq_tensor **grads, bool *fresh);

/* Output positions o in [0, n) with a <= o*s <= b, as [lo, hi) (s > 0):
 * the outputs whose window tap lands inside the input, for convolution and
 * pooling loops that then run without bounds checks. */
static inline void eq_nn_out_range(int64_t a, int64_t b, int64_t s, int64_t n, int64_t *lo, int64_t *hi) {
  int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
  int64_t h = b < 0 ? 0 : b / s + 1;
  if (h > n) h = n;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* Threads for a parallel loop of `work` independent items. */
static inline int eq_nn_threads(int64_t items) {
  int t = omp_get_max_threads();
  return items < t ? (int)(items < 1 ? 1 : items) : t;
}

/* Row-major GEMM: C = alpha op(A) op(B) + beta C, per dtype. */
static inline void eq_nn_gemm_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
static inline void eq_nn_gemm_f64(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                                  int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
/* Attention's forward keeps the softmax probabilities for the backward
 * (saving it the score GEMM and the exponentials, a seventh of its
 * products) when they are at most this many elements (default 16 M, 64 MB
 * in float32; ViT-Tiny at 64 px has 0.8 M per block); longer sequences keep
 * O(L) memory per row and recompute them. Tests set it to 0 to check the
 * recomputing backward. */
extern int64_t eq_nn_att_keep_probs_max;

/* AVX-512 register-tile GEMMs (src/ops/nn/tile_gemm.c); without AVX-512
 * eq_nn_tile_gemm_available() is false and the products go to cblas. */

/* eq_nn_gemm_f32 for small products (attention's per-head GEMMs) without
 * OpenBLAS's per-call costs; cblas_sgemm answers when a transposed B exceeds
 * 16384 floats or without AVX-512. */
void eq_nn_small_gemm_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                          const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* C = alpha (op(A) B + bias + R) o S + beta C, the bias (when not NULL)
 * added to every row, R (addend, when not NULL) an m x n matrix with C's
 * leading dimension (a residual, added as C is stored), S (scale, when not
 * NULL) likewise, multiplying elementwise as C is stored (an activation's
 * slope in a backward), for large products with both operands read in
 * place (B row-major, not transposed). Single-threaded: callers split rows
 * over threads. Returns false, doing nothing, without AVX-512 or for an
 * empty product. beta 0 never reads C. */
bool eq_nn_tile_gemm_f32(bool ta, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                         const float *b, int64_t ldb, float beta, float *c, int64_t ldc, const float *bias,
                         const float *addend, const float *scale);
bool eq_nn_tile_gemm_available(void);
/* C = alpha A B + beta C as eq_nn_tile_gemm_f32, A(i, kk) at a[i * ars +
 * kk * acs] for any strides: an operand read in place from a larger array
 * (one tap of a convolution's kernel, conv_tiny_maps.c). */
bool eq_nn_tile_gemm_strided_f32(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t ars,
                                 int64_t acs, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* Asks the tiles this thread runs next to pull bytes at p into L2, a few
 * cache lines after each tile (at most 4 regions queued; the one asked for
 * last comes first): the next block of rows while this block computes.
 * eq_nn_tile_prefetch_drop forgets what is left. No-ops without AVX-512. */
void eq_nn_tile_prefetch_l2(const void *p, size_t bytes);
void eq_nn_tile_prefetch_drop(void);
/* C = op(A) B + beta C with B row-major, A transposed when `ta`: in the
 * register tiles where they run (single-threaded), else cblas. The float64
 * spelling is cblas's, for templates over both. */
static inline void eq_nn_gemm_nn_f32(bool ta, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (!eq_nn_tile_gemm_f32(ta, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc, NULL, NULL, NULL))
    eq_nn_gemm_f32(ta, false, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
static inline void eq_nn_gemm_nn_f64(bool ta, int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                                     const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  eq_nn_gemm_f64(ta, false, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}
/* dst (cols x rows, leading dimension ldd) = src^T (rows x cols, lds). */
void eq_nn_transpose_f32(int64_t rows, int64_t cols, const float *src, int64_t lds, float *dst, int64_t ldd);
/* A float32 row stride for n columns that the register tiles read as B:
 * rounded up to whole vectors and one more, off a multiple of 4 KB (a
 * 3 KB stride maps a 64-column panel onto a quarter of L1's sets). */
static inline int64_t eq_nn_tile_ld(int64_t n) { return (n + 15) / 16 * 16 + 16; }

#endif
