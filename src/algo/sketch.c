/* Block-fused thin products of the centred rows (sketch.h).
 *
 * Why not two GEMMs over the whole matrix: with l ~ 26 columns a GEMM does
 * only l multiply-adds per element of X, so OpenBLAS spends a third of its
 * time packing X, and X Q followed by X^T Y streams X from memory twice.
 * Here a block of rows is centred into a cache-resident buffer once and
 * both products read it there. float32 blocks use register-tiled AVX-512
 * kernels that read the block in place (no packing); float64, and builds
 * without AVX-512, call BLAS on the cached block. */
#include "algo/sketch.h"

#include <math.h>
#include <omp.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* 256 rows x 256 float32 features = 256 KiB: the block stays in L2 while
 * both products read it. Float32 partial sums cover at most this many rows
 * before they are added into float64. */
enum { ROWS = 256 };

typedef struct sketch_job {
  const eq_mat *X;
  const double *mean, *Q;
  double *Z, *G;
  void *Y;
  int64_t l;
  int bad;
} sketch_job;

/* BLAS on one cached block: y (m x lp) = xc q; acc (ny x nx) += y^T x for
 * the first ny columns of y and nx of x. */
#define BLAS_KERNELS(T, SFX, GEMM)                                                                   \
  static void SFX(times_blas)(const T *xc, int64_t m, int64_t d, const T *q, int64_t lp, T *y,    \
                              const char *pf, int64_t pfn) {                                       \
    (void)pf, (void)pfn;                                                                           \
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)lp, (int)d, 1, xc, (int)d, q,     \
         (int)lp, 0, y, (int)lp);                                                                  \
  }                                                                                                \
  static void SFX(t_times_blas)(const T *x, int64_t ldx, int64_t nx, const T *y, int64_t ldy, int64_t ny,   \
                                int64_t m, double *acc, T *tmp) {                                  \
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ny, (int)nx, (int)m, 1, y, (int)ldy, x,     \
         (int)ldx, 0, tmp, (int)nx);                                                               \
    for (int64_t i = 0; i < ny * nx; i++) acc[i] += (double)tmp[i];                                \
  }
#define SFX_F32(name) name##_f32
#define SFX_F64(name) name##_f64
BLAS_KERNELS(double, SFX_F64, cblas_dgemm)
#if !defined(__AVX512F__)
BLAS_KERNELS(float, SFX_F32, cblas_sgemm)
#endif

#if defined(__AVX512F__)
/* float32 columns are padded to whole 16-lane vectors; the tiles below are
 * R rows x NV vectors of accumulators (R = 8, NV = 2: 16 of the 32 zmm
 * registers), so each loaded vector and each broadcast feeds several FMAs. */
static inline __attribute__((always_inline)) void times_tile(const float *x, int64_t d, const float *q,
                                                             int64_t lp, float *y, const int R,
                                                             const int NV) {
  __m512 acc[8][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < d; k++) {
    __m512 q0 = _mm512_loadu_ps(q + k * lp), q1 = NV > 1 ? _mm512_loadu_ps(q + k * lp + 16) : q0;
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      __m512 b = _mm512_set1_ps(x[r * d + k]);
      acc[r][0] = _mm512_fmadd_ps(b, q0, acc[r][0]);
      if (NV > 1) acc[r][1] = _mm512_fmadd_ps(b, q1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    _mm512_storeu_ps(y + r * lp, acc[r][0]);
    if (NV > 1) _mm512_storeu_ps(y + r * lp + 16, acc[r][1]);
  }
}

/* y = xc q, and meanwhile the pfn bytes at pf (the next block this thread
 * reads) are prefetched into L2 a slice per row tile, so that block's
 * centring does not wait on memory. */
static void times_f32(const float *xc, int64_t m, int64_t d, const float *q, int64_t lp, float *y, const char *pf,
                      int64_t pfn) {
  int64_t tiles = (m + 7) / 8, slice = tiles ? (pfn / tiles + 63) / 64 * 64 : 0;
  for (int64_t c = 0; c < lp; c += 32) {
    int two = lp - c >= 32;
    for (int64_t i = 0, t = 0; i < m; t++) {
      for (int64_t o = t * slice; c == 0 && pf && o < (t + 1) * slice && o < pfn; o += 64)
        _mm_prefetch(pf + o, _MM_HINT_T1);
      if (i + 8 <= m) {
        if (two) times_tile(xc + i * d, d, q + c, lp, y + i * lp + c, 8, 2);
        else times_tile(xc + i * d, d, q + c, lp, y + i * lp + c, 8, 1);
        i += 8;
      } else {
        if (two) times_tile(xc + i * d, d, q + c, lp, y + i * lp + c, 1, 2);
        else times_tile(xc + i * d, d, q + c, lp, y + i * lp + c, 1, 1);
        i++;
      }
    }
  }
}

/* acc (C x 32 of the ny x nx f64 Z^T, row stride lda) += y[:, 0..C)^T
 * x[:, 0..32) over the m rows: x's columns are the vector lanes (masked
 * past nx), so the y side needs no padding; C <= 13 rows of two vectors
 * keep 26 accumulators in registers. */
static inline __attribute__((always_inline)) void t_times_tile(const float *x, int64_t ldx, const float *y,
                                                               int64_t ldy, int64_t m, __mmask16 k0,
                                                               __mmask16 k1, int width, double *acc,
                                                               int64_t lda, const int C) {
  __m512 a[13][2];
#pragma GCC unroll 13
  for (int c = 0; c < C; c++) a[c][0] = a[c][1] = _mm512_setzero_ps();
  for (int64_t i = 0; i < m; i++) {
    __m512 x0 = _mm512_maskz_loadu_ps(k0, x + i * ldx), x1 = _mm512_maskz_loadu_ps(k1, x + i * ldx + 16);
#pragma GCC unroll 13
    for (int c = 0; c < C; c++) {
      __m512 b = _mm512_set1_ps(y[i * ldy + c]);
      a[c][0] = _mm512_fmadd_ps(b, x0, a[c][0]);
      a[c][1] = _mm512_fmadd_ps(b, x1, a[c][1]);
    }
  }
  float t[13][32];
#pragma GCC unroll 13
  for (int c = 0; c < C; c++) {
    _mm512_storeu_ps(t[c], a[c][0]);
    _mm512_storeu_ps(t[c] + 16, a[c][1]);
  }
  for (int c = 0; c < C; c++)
    for (int j = 0; j < width; j++) acc[c * lda + j] += (double)t[c][j];
}


static void t_times_f32(const float *x, int64_t ldx, int64_t nx, const float *y, int64_t ldy, int64_t ny,
                        int64_t m, double *acc, float *tmp) {
  (void)tmp;
  /* rows of Z^T in equal tiles of at most 13 */
  int64_t tiles = (ny + 12) / 13, C = tiles ? (ny + tiles - 1) / tiles : 0;
  for (int64_t j = 0; j < nx; j += 32) {
    int w = nx - j < 32 ? (int)(nx - j) : 32;
    __mmask16 k0 = (__mmask16)(w >= 16 ? 0xFFFF : (1u << w) - 1), k1 = (__mmask16)(w > 16 ? (w >= 32 ? 0xFFFF : (1u << (w - 16)) - 1) : 0);
    for (int64_t c = 0; c < ny; c += C) {
      const float *xj = x + j, *yc = y + c;
      double *ac = acc + c * nx + j;
      switch (ny - c < C ? ny - c : C) {
#define TILE(n) \
  case n: t_times_tile(xj, ldx, yc, ldy, m, k0, k1, w, ac, nx, n); break;
        TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6) TILE(7) TILE(8) TILE(9) TILE(10) TILE(11) TILE(12) TILE(13)
#undef TILE
        default: break;
      }
    }
  }
}
#define PAD_F32(l) (((l) + 15) / 16 * 16)
#else
#define times_f32 times_blas_f32
#define t_times_f32 t_times_blas_f32
#define PAD_F32(l) (l)
#endif
#define times_f64 times_blas_f64
#define t_times_f64 t_times_blas_f64

#define T float
#define SFX SFX_F32
#define PAD PAD_F32
#define GEMM cblas_sgemm
#include "algo/sketch_impl.h"
#undef T
#undef SFX
#undef PAD
#undef GEMM
#define T double
#define GEMM cblas_dgemm
#define SFX SFX_F64
#define PAD(l) (l)
#include "algo/sketch_impl.h"

static eq_status run(sketch_job *j) {
  j->bad = 0;
  if (j->X->n_local == 0) {
    for (int64_t i = 0; i < j->X->d * j->l; i++) j->Z[i] = 0;
    for (int64_t i = 0; j->G && i < j->l * j->l; i++) j->G[i] = 0;
    return EQ_OK;
  }
  if (j->X->dt == EQ_F32) pass_f32(j);
  else pass_f64(j);
  return j->bad ? eq_error(EQ_ERR_MEMORY, "%s: out of memory in a sketch pass", j->X->op) : EQ_OK;
}

eq_status eq_sketch_gram_times(const eq_mat *X, const double *mean, const double *Q, int64_t l, double *Z) {
  sketch_job j = {.X = X, .mean = mean, .Q = Q, .Z = Z, .l = l};
  return run(&j);
}

eq_status eq_sketch_range(const eq_mat *X, const double *mean, const double *Q, int64_t l, double *Z,
                          double *G, void *Y) {
  sketch_job j = {.X = X, .mean = mean, .Q = Q, .Z = Z, .G = G, .Y = Y, .l = l};
  return run(&j);
}

eq_status eq_sketch_absmax(const eq_mat *X, const void *Y, int64_t l, const double *M, int64_t k,
                           double *absmax, double *sign) {
  int bad = X->dt == EQ_F32 ? absmax_f32(Y, X->n_local, l, M, k, absmax, sign)
                            : absmax_f64(Y, X->n_local, l, M, k, absmax, sign);
  return bad ? eq_error(EQ_ERR_MEMORY, "%s: out of memory deciding the signs", X->op) : EQ_OK;
}
