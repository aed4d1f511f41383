/* float32 GEMM in AVX-512 register tiles: a 6 x 64 tile of C accumulates
 * over k with A read in place (broadcasts, transposed or not) and B read in
 * place along its rows.
 *
 * Two users. Attention's small per-head products (e.g. 65 x 65 x 64 for
 * ViT-Tiny at 64 px, 192 heads x 6 products per block and step): through
 * cblas_sgemm each such call pays OpenBLAS's interface, buffer and packing
 * costs (87 GFLOP/s on one core, 33 % of its FMA peak). And the tall
 * products of the linear layers (4160 x 192 x 768 and the like), where
 * reading A in place skips OpenBLAS's packing of the activations and the
 * bias (and eq_linear_add's residual) seed the accumulators instead of a
 * pass over C: ViT-Tiny's linear forwards went from 210-217 to 237-260
 * GFLOP/s on one core (nn_ops_bench). Also, with A at any strides, the
 * convolutions into tiny maps, one kernel tap read in place
 * (conv_tiny_maps.c).
 * Without AVX-512 everything goes to cblas_sgemm. */
#include "ops/nn/nn_common.h"

#ifdef __AVX512F__
#include <immintrin.h>

#include "ops/nn/simd_transpose.h"

enum {
  TILE_ROWS = 6,
  VEC = 16,
  MAX_VECS = 4,
  SCRATCH_FLOATS = 16384, /* 64 KB of stack for a transposed small B */
  /* Rows of A per sweep over B's column panels: 192 x k floats of A stay in
   * L2 while each panel is used by all of their tiles. */
  ROW_BLOCK = 192,
  /* A B larger than this (k n floats, 2 MB) is taken in slices of k of at
   * most SLICE_FLOATS (512 KB, half of L2), C accumulating over the slices,
   * so that each slice is reused from L2 by all row blocks (a B that is a
   * whole activation, as in dY^T X). */
  SLICE_ABOVE = 524288,
  SLICE_FLOATS = 131072,
};

/* C[i0 .. i0+rows, j0 .. j0+nv*16 (masked by `last`)] = alpha (A B + bias +
 * R) o S + beta C, R an addend and S a scale (elementwise), both with C's
 * leading dimension (or NULL), for one register tile. `nv`, `has_addend`
 * and `has_scale` are literals at every call so the tile stays in
 * registers. A(i, kk) = a[i * ars + kk * acs]; B row-major (ldb); bias
 * indexed by C's column. */
static inline __attribute__((always_inline)) void tile(int nv, bool has_addend, bool has_scale, int64_t rows, int64_t k,
                                                      int64_t kfull, float alpha, const float *a, int64_t ars,
                                                      int64_t acs, const float *b, int64_t ldb, __mmask16 last,
                                                      float beta, const float *bias, const float *addend,
                                                      const float *scale, float *c, int64_t ldc) {
  /* The bias and the addend seed the accumulators: read in the store, they
   * made GCC spill the accumulators in the k loop (3x slower). `has_addend`
   * is a literal at every call, so the common case keeps the plain seed. */
  __m512 acc[TILE_ROWS][MAX_VECS], seed[MAX_VECS];
  for (int v = 0; v < nv; v++)
    seed[v] = bias ? _mm512_maskz_loadu_ps(v == nv - 1 ? last : (__mmask16)0xFFFF, bias + v * VEC) : _mm512_setzero_ps();
  for (int r = 0; r < TILE_ROWS; r++) {
    /* rows past the edge: row 0's addend (in bounds, not stored) */
    const float *arow = has_addend ? addend + (r < rows ? r : 0) * ldc : NULL;
    for (int v = 0; v < nv; v++)
      acc[r][v] = has_addend ? _mm512_add_ps(seed[v], _mm512_maskz_loadu_ps(v == nv - 1 ? last : (__mmask16)0xFFFF,
                                                                            arow + v * VEC))
                             : seed[v];
  }
  /* The scale is read as the tile is stored: fetched now, its cache lines
   * arrive during the k loop (loaded only at the end they stalled the
   * stores, 30 % of a 4160 x 768 x 192 product). */
  if (has_scale)
    for (int r = 0; r < TILE_ROWS && r < rows; r++)
      for (int v = 0; v < nv; v++) _mm_prefetch((const char *)(scale + r * ldc + v * VEC), _MM_HINT_T0);
  /* C itself when the tile adds onto it: a weight gradient accumulating
   * over blocks of rows stalled every tile's stores on it (the MLP's
   * blocked backward in nn_ops_bench: its dW products 97-107 -> 79-89 M
   * TSC cycles over 11 calls) */
  if (beta != 0)
    for (int r = 0; r < TILE_ROWS && r < rows; r++)
      for (int v = 0; v < nv; v++) _mm_prefetch((const char *)(c + r * ldc + v * VEC), _MM_HINT_T0);
  /* Rows past the edge read row 0 of the tile (in bounds) and are not stored. */
  int64_t roff[TILE_ROWS];
  for (int r = 0; r < TILE_ROWS; r++) roff[r] = (r < rows ? r : 0) * ars;
  /* B's rows are loaded whole, also past the panel's last column, in the
   * first `kfull` steps: those lanes are never stored, and the caller has
   * checked that the reads stay inside B (row kk's excess is row kk + 1's
   * start). Masked loads in every step cost the ViT-Tiny training step
   * 1 % (387.7 -> 391.8 img/s without them). */
#define K_STEP(kk, LOAD_LAST)                                                                   \
  do {                                                                                          \
    __m512 bv[MAX_VECS];                                                                        \
    const float *br = b + (kk) * ldb, *ak = a + (kk) * acs;                                     \
    for (int v = 0; v < nv; v++) bv[v] = v == nv - 1 ? LOAD_LAST : _mm512_loadu_ps(br + v * VEC); \
    for (int r = 0; r < TILE_ROWS; r++) {                                                       \
      __m512 av = _mm512_set1_ps(ak[roff[r]]);                                                  \
      for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);           \
    }                                                                                           \
  } while (0)
  for (int64_t kk = 0; kk < kfull; kk++) K_STEP(kk, _mm512_loadu_ps(br + v * VEC));
  for (int64_t kk = kfull; kk < k; kk++) K_STEP(kk, _mm512_maskz_loadu_ps(last, br + v * VEC));
#undef K_STEP
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  /* Unrolled, so the accumulators stay registers: with the scale's loads
   * GCC kept this loop, and the k loop then stored the accumulators to the
   * stack on every step (3.3x slower). */
#pragma GCC unroll 6
  for (int r = 0; r < TILE_ROWS; r++) {
    if (r >= rows) break;
    float *cr = c + r * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
      __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
      __m512 out = _mm512_mul_ps(va, acc[r][v]);
      if (has_scale) out = _mm512_mul_ps(out, _mm512_maskz_loadu_ps(m, scale + r * ldc + v * VEC));
      /* beta 0 never reads C: it may hold garbage (an uninitialised buffer). */
      if (beta != 0) out = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, cr + v * VEC), out);
      _mm512_mask_storeu_ps(cr + v * VEC, m, out);
    }
  }
}

/* This thread's regions to pull into L2 while the tiles run
 * (eq_nn_tile_prefetch_l2): 16 lines after each tile, so the next block's
 * rows arrive spread over this block's products instead of in one burst. */
enum { PREFETCH_REGIONS = 6, PREFETCH_LINES_PER_TILE = 16 };
static _Thread_local struct {
  const char *next[PREFETCH_REGIONS];
  size_t left[PREFETCH_REGIONS];
  int count;
} prefetch_queue;

static void prefetch_some(void) {
  int lines = PREFETCH_LINES_PER_TILE;
  while (prefetch_queue.count && lines) {
    int r = prefetch_queue.count - 1;
    for (; lines && prefetch_queue.left[r]; lines--) {
      _mm_prefetch(prefetch_queue.next[r], _MM_HINT_T1);
      size_t step = prefetch_queue.left[r] < 64 ? prefetch_queue.left[r] : 64;
      prefetch_queue.next[r] += step, prefetch_queue.left[r] -= step;
    }
    if (!prefetch_queue.left[r]) prefetch_queue.count--;
  }
}

/* One slice of k: row blocks of A, within each the 64-column panels of B,
 * within each the 6-row tiles. */
static void gemm_slice(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t ars, int64_t acs,
                       const float *b, int64_t ldb, float beta, const float *bias, const float *addend,
                       const float *scale, float *c, int64_t ldc) {
  for (int64_t ib = 0; ib < m; ib += ROW_BLOCK) {
    int64_t ie = m - ib < ROW_BLOCK ? m : ib + ROW_BLOCK;
    for (int64_t j0 = 0; j0 < n; j0 += MAX_VECS * VEC) {
      int64_t nj = n - j0 < MAX_VECS * VEC ? n - j0 : MAX_VECS * VEC;
      int nv = (int)((nj + VEC - 1) / VEC);
      int rem = (int)(nj - (nv - 1) * VEC);
      __mmask16 last = (__mmask16)(rem == VEC ? 0xFFFF : (1u << rem) - 1);
      /* Rows of B read whole (see tile): all of them for a full panel,
       * else all but the last, whose excess (< 16 floats) may pass B's
       * end; none where a row is shorter than the excess could span. */
      int64_t kfull = rem == VEC ? k : ldb >= VEC ? k - 1 : 0;
      const float *bj = b + j0, *biasj = bias ? bias + j0 : NULL;
      for (int64_t i0 = ib; i0 < ie; i0 += TILE_ROWS) {
        int64_t rows = ie - i0 < TILE_ROWS ? ie - i0 : TILE_ROWS;
        const float *ai = a + i0 * ars;
        float *cij = c + i0 * ldc + j0;
        const float *rij = addend ? addend + i0 * ldc + j0 : NULL, *sij = scale ? scale + i0 * ldc + j0 : NULL;
        /* The next tile's addend rows, which seed its accumulators before
         * its k loop starts: fetched now, they arrive during this tile's
         * (eq_linear_add's residual stalled the start of every tile:
         * ViT-Tiny's projection forward 0.88 -> 0.73 ms with this). */
        if (addend)
          for (int64_t r = i0 + TILE_ROWS; r < i0 + 2 * TILE_ROWS && r < ie; r++)
            for (int v = 0; v < nv; v++) _mm_prefetch((const char *)(addend + r * ldc + j0 + v * VEC), _MM_HINT_T0);
#define TILE(NV, ADD, SCALE) \
  tile(NV, ADD, SCALE, rows, k, kfull, alpha, ai, ars, acs, bj, ldb, last, beta, biasj, rij, sij, cij, ldc)
#define TILES(ADD, SCALE)           \
  switch (nv) {                     \
  case 4: TILE(4, ADD, SCALE); break; \
  case 3: TILE(3, ADD, SCALE); break; \
  case 2: TILE(2, ADD, SCALE); break; \
  default: TILE(1, ADD, SCALE); break; \
  }
        if (scale) {
          if (addend) {
            TILES(true, true)
          } else {
            TILES(false, true)
          }
        } else if (addend) {
          TILES(true, false)
        } else {
          TILES(false, false)
        }
#undef TILES
#undef TILE
        if (prefetch_queue.count) prefetch_some();
      }
    }
  }
}

static void gemm_nn(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t ars, int64_t acs,
                    const float *b, int64_t ldb, float beta, const float *bias, const float *addend,
                    const float *scale, float *c, int64_t ldc) {
  int64_t slice = k;
  if (k * n > SLICE_ABOVE) {
    int64_t slices = (k * n + SLICE_FLOATS - 1) / SLICE_FLOATS;
    slice = (k + slices - 1) / slices;
  }
  for (int64_t k0 = 0; k0 < k; k0 += slice) {
    int64_t kn = k - k0 < slice ? k - k0 : slice;
    /* the first slice applies beta, the bias and the addend, the others add
     * on; the scale applies to every slice's part, as it distributes over
     * the sum */
    gemm_slice(m, n, kn, alpha, a + k0 * acs, ars, acs, b + k0 * ldb, ldb, k0 ? 1.0f : beta, k0 ? NULL : bias,
               k0 ? NULL : addend, scale, c, ldc);
  }
}

/* c[i * ldc] = alpha dot(A row i, bcol) + beta c[i * ldc] for i < m, where
 * bcol is contiguous along k (a row of the stored, to-be-transposed B). */
static void edge_column(int64_t m, int64_t k, float alpha, const float *a, int64_t ars, int64_t acs,
                        const float *bcol, float beta, float *c, int64_t ldc) {
  for (int64_t i = 0; i < m; i++) {
    const float *ai = a + i * ars;
    float dot;
    if (acs == 1) {
      __m512 acc = _mm512_setzero_ps();
      int64_t kk = 0;
      for (; kk + VEC <= k; kk += VEC) acc = _mm512_fmadd_ps(_mm512_loadu_ps(ai + kk), _mm512_loadu_ps(bcol + kk), acc);
      dot = _mm512_reduce_add_ps(acc);
      /* the tail element by element: masked loads with lanes off take a
       * slow microcode path on this CPU */
      for (; kk < k; kk++) dot += ai[kk] * bcol[kk];
    } else {
      dot = 0;
      for (int64_t kk = 0; kk < k; kk++) dot += ai[kk * acs] * bcol[kk];
    }
    float *ci = c + i * ldc;
    *ci = beta != 0 ? alpha * dot + beta * *ci : alpha * dot;
  }
}

/* The 16 x 16 blocks of src^T (rows16 x cols16 of src); the ragged edges
 * are the caller's. */
static void transpose_blocks(int64_t rows16, int64_t cols16, const float *src, int64_t lds, float *dst, int64_t ldd) {
  for (int64_t i = 0; i < rows16; i += VEC)
    for (int64_t j = 0; j < cols16; j += VEC) eq_transpose16_f32(src + i * lds + j, lds, dst + j * ldd + i, ldd);
}
#endif

void eq_nn_tile_prefetch_l2(const void *p, size_t bytes) {
#ifdef __AVX512F__
  if (!bytes || prefetch_queue.count == PREFETCH_REGIONS) return;
  /* a stack: the region asked for last is fetched first */
  prefetch_queue.next[prefetch_queue.count] = p;
  prefetch_queue.left[prefetch_queue.count++] = bytes;
#else
  (void)p, (void)bytes;
#endif
}

void eq_nn_tile_prefetch_drop(void) {
#ifdef __AVX512F__
  prefetch_queue.count = 0;
#endif
}

bool eq_nn_tile_gemm_available(void) {
#ifdef __AVX512F__
  return true;
#else
  return false;
#endif
}

void eq_nn_transpose_f32(int64_t rows, int64_t cols, const float *src, int64_t lds, float *dst, int64_t ldd) {
  int64_t r16 = 0, c16 = 0;
#ifdef __AVX512F__
  r16 = rows / VEC * VEC, c16 = cols / VEC * VEC;
  /* A weight's transpose for the tiles, once per call outside the GEMM's
   * parallel region: on one thread it left the other idle (about 0.9 ms
   * of a ViT-Tiny step). */
#pragma omp parallel for schedule(static) if (r16 * c16 >= 65536 && !omp_in_parallel())
  for (int64_t i = 0; i < r16; i += VEC) transpose_blocks(VEC, c16, src + i * lds, lds, dst + i, ldd);
#endif
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = i < r16 ? c16 : 0; j < cols; j++) dst[j * ldd + i] = src[i * lds + j];
}

bool eq_nn_tile_gemm_f32(bool ta, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                         const float *b, int64_t ldb, float beta, float *c, int64_t ldc, const float *bias,
                         const float *addend, const float *scale) {
#ifdef __AVX512F__
  if (m <= 0 || n <= 0 || k <= 0) return false;
  gemm_nn(m, n, k, alpha, a, ta ? 1 : lda, ta ? lda : 1, b, ldb, beta, bias, addend, scale, c, ldc);
  return true;
#else
  (void)ta, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb, (void)beta, (void)addend;
  (void)c, (void)ldc, (void)bias, (void)scale;
  return false;
#endif
}

bool eq_nn_tile_gemm_strided_f32(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t ars,
                                 int64_t acs, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
#ifdef __AVX512F__
  if (m <= 0 || n <= 0 || k <= 0) return false;
  gemm_nn(m, n, k, alpha, a, ars, acs, b, ldb, beta, NULL, NULL, NULL, c, ldc);
  return true;
#else
  (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)ars, (void)acs, (void)b, (void)ldb, (void)beta, (void)c;
  (void)ldc;
  return false;
#endif
}

void eq_nn_small_gemm_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                          const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
#ifdef __AVX512F__
  if (m > 0 && n > 0 && k > 0 && (!tb || n * k <= SCRATCH_FLOATS)) {
    int64_t ars = ta ? 1 : lda, acs = ta ? lda : 1;
    if (!tb) {
      gemm_nn(m, n, k, alpha, a, ars, acs, b, ldb, beta, NULL, NULL, NULL, c, ldc);
      return;
    }
    /* B is stored n x k. Its first n16 rows are transposed once (16 x 16
     * blocks in registers) so that they become vectors along C's rows; the
     * ragged last columns of C, e.g. the 65th key, are dot products along k
     * instead of a tile that would use one lane in 16. */
    float bt[SCRATCH_FLOATS];
    int64_t n16 = n / VEC * VEC, k16 = k / VEC * VEC;
    transpose_blocks(n16, k16, b, ldb, bt, n16);
    for (int64_t j = 0; j < n16; j++)
      for (int64_t kk = k16; kk < k; kk++) bt[kk * n16 + j] = b[j * ldb + kk];
    if (n16) gemm_nn(m, n16, k, alpha, a, ars, acs, bt, n16, beta, NULL, NULL, NULL, c, ldc);
    for (int64_t j = n16; j < n; j++) edge_column(m, k, alpha, a, ars, acs, b + j * ldb, beta, c + j, ldc);
    return;
  }
#endif
  eq_nn_gemm_f32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
