/* float32 GEMM for the small per-head products of attention (e.g. 65 x 65 x
 * 64 for ViT-Tiny at 64 px: 192 heads x 7 products per block and step).
 * Through cblas_sgemm each such call pays OpenBLAS's interface, buffer and
 * packing costs; attention ran at 87 GFLOP/s on one core (33 % of its FMA
 * peak). Here the A operand is read in place (transposed or not), B is used
 * in place or transposed once into a stack buffer, and a 6 x 64 register
 * tile of C accumulates over the whole k. Larger or non-AVX-512 cases go to
 * cblas_sgemm. */
#include "ops/nn/nn_common.h"

#ifdef __AVX512F__
#include <immintrin.h>

#include "ops/nn/simd_transpose.h"

enum { TILE_ROWS = 6, VEC = 16, MAX_VECS = 4, SCRATCH_FLOATS = 16384 /* 64 KB of stack */ };

/* C[i0 .. i0+rows, j0 .. j0+nv*16 (masked by `last`)] = alpha A B + beta C,
 * for one register tile. A(i, kk) = a[i * ars + kk * acs]; B row-major
 * (ldb). `nv` is a literal at every call so the tile stays in registers. */
static inline __attribute__((always_inline)) void tile(int nv, int64_t rows, int64_t k, float alpha, const float *a,
                                                      int64_t ars, int64_t acs, const float *b, int64_t ldb,
                                                      __mmask16 last, float beta, float *c, int64_t ldc) {
  __m512 acc[TILE_ROWS][MAX_VECS];
  for (int r = 0; r < TILE_ROWS; r++)
    for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
  /* Rows past the edge read row 0 of the tile (in bounds) and are not stored. */
  int64_t roff[TILE_ROWS];
  for (int r = 0; r < TILE_ROWS; r++) roff[r] = (r < rows ? r : 0) * ars;
  for (int64_t kk = 0; kk < k; kk++) {
    __m512 bv[MAX_VECS];
    const float *br = b + kk * ldb;
    for (int v = 0; v < nv; v++)
      bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, br + v * VEC) : _mm512_loadu_ps(br + v * VEC);
    const float *ak = a + kk * acs;
    for (int r = 0; r < TILE_ROWS; r++) {
      __m512 av = _mm512_set1_ps(ak[roff[r]]);
      for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < TILE_ROWS; r++) {
    if (r >= rows) break;
    float *cr = c + r * ldc;
    for (int v = 0; v < nv; v++) {
      __mmask16 m = v == nv - 1 ? last : (__mmask16)0xFFFF;
      __m512 out = _mm512_mul_ps(va, acc[r][v]);
      /* beta 0 never reads C: it may hold garbage (an uninitialised buffer). */
      if (beta != 0) out = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, cr + v * VEC), out);
      _mm512_mask_storeu_ps(cr + v * VEC, m, out);
    }
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

static void gemm_nn(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t ars, int64_t acs,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += MAX_VECS * VEC) {
    int64_t nj = n - j0 < MAX_VECS * VEC ? n - j0 : MAX_VECS * VEC;
    int nv = (int)((nj + VEC - 1) / VEC);
    int rem = (int)(nj - (nv - 1) * VEC);
    __mmask16 last = (__mmask16)(rem == VEC ? 0xFFFF : (1u << rem) - 1);
    for (int64_t i0 = 0; i0 < m; i0 += TILE_ROWS) {
      int64_t rows = m - i0 < TILE_ROWS ? m - i0 : TILE_ROWS;
      const float *ai = a + i0 * ars;
      const float *bj = b + j0;
      float *cij = c + i0 * ldc + j0;
      switch (nv) {
      case 4: tile(4, rows, k, alpha, ai, ars, acs, bj, ldb, last, beta, cij, ldc); break;
      case 3: tile(3, rows, k, alpha, ai, ars, acs, bj, ldb, last, beta, cij, ldc); break;
      case 2: tile(2, rows, k, alpha, ai, ars, acs, bj, ldb, last, beta, cij, ldc); break;
      default: tile(1, rows, k, alpha, ai, ars, acs, bj, ldb, last, beta, cij, ldc); break;
      }
    }
  }
}
#endif

void eq_nn_small_gemm_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                          const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
#ifdef __AVX512F__
  if (m > 0 && n > 0 && k > 0 && m <= 1024 && (!tb || n * k <= SCRATCH_FLOATS)) {
    int64_t ars = ta ? 1 : lda, acs = ta ? lda : 1;
    if (!tb) {
      gemm_nn(m, n, k, alpha, a, ars, acs, b, ldb, beta, c, ldc);
      return;
    }
    /* B is stored n x k. Its first n16 rows are transposed once (16 x 16
     * blocks in registers) so that they become vectors along C's rows; the
     * ragged last columns of C, e.g. the 65th key, are dot products along k
     * instead of a tile that would use one lane in 16. */
    float bt[SCRATCH_FLOATS];
    int64_t n16 = n / VEC * VEC, k16 = k / VEC * VEC;
    for (int64_t j = 0; j < n16; j += VEC) {
      for (int64_t kk = 0; kk < k16; kk += VEC) eq_transpose16_f32(b + j * ldb + kk, ldb, bt + kk * n16 + j, n16);
      for (int64_t jj = j; jj < j + VEC; jj++)
        for (int64_t kk = k16; kk < k; kk++) bt[kk * n16 + jj] = b[jj * ldb + kk];
    }
    if (n16) gemm_nn(m, n16, k, alpha, a, ars, acs, bt, n16, beta, c, ldc);
    for (int64_t j = n16; j < n; j++) edge_column(m, k, alpha, a, ars, acs, b + j * ldb, beta, c + j, ldc);
    return;
  }
#endif
  eq_nn_gemm_f32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
