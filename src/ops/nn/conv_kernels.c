/* Convolution as GEMMs: im2col per batch tile, OpenBLAS inside an OpenMP
 * loop over tiles. Tiles group small feature maps (late ResNet stages: 4x4,
 * 2x2) so each GEMM has at least ~256 columns; 1x1 stride-1 convolutions on
 * single images skip im2col and multiply the feature map in place. */
#include "ops/nn/conv_geom.h"
#include "ops/nn/nn_common.h"

/* GCC turns copy and zero loops into memcpy/memset calls, which cost more
 * than the copy itself on 16-element rows. */
#if defined(__GNUC__) && !defined(__clang__)
#define EQ_NO_LIBCALL_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define EQ_NO_LIBCALL_LOOPS
#endif

typedef struct tile_plan {
  int64_t timg, ntiles;
  int threads;
  bool direct, tiled_dw;
  int64_t cols, dybuf, rows, per_thread; /* elements */
  /* shared (the weight gradient's, whose shares thread 0 adds up) or each
   * thread's own (forward, data gradient: eq_nn_thread_workspace) */
  size_t bytes, thread_bytes;
} tile_plan;

/* Columns per GEMM worth aiming for: below ~256 OpenBLAS's kernels run far
 * under peak. */
#define EQ_CONV_MIN_COLS 256

static tile_plan plan_tiles(const eq_conv_geom *g, int kind, size_t elem) {
  tile_plan p;
  const int64_t L = g->Ho * g->Wo, K = g->C / g->groups * g->kh * g->kw;
  int maxt = omp_get_max_threads();
  int64_t per = (g->N + maxt - 1) / maxt;
  p.timg = (EQ_CONV_MIN_COLS + L - 1) / L;
  if (p.timg > per) p.timg = per;
  if (p.timg < 1) p.timg = 1;
  p.ntiles = (g->N + p.timg - 1) / p.timg;
  p.threads = p.ntiles < maxt ? (int)p.ntiles : maxt;
  if (p.threads < 1) p.threads = 1;
  p.direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 && p.timg == 1;
  p.cols = p.direct ? 0 : K * p.timg * L;
  p.dybuf = p.timg > 1 ? g->Co * p.timg * L : 0;
  /* the float32 weight gradient in the register tiles: the columns (or the
   * input) transposed, one row a pixel */
  p.tiled_dw = kind == 2 && elem == sizeof(float) && eq_nn_tile_gemm_available();
  p.rows = p.tiled_dw ? K * p.timg * L : 0;
  int64_t priv = kind == 2 ? g->Co * K : 0;
  /* 64-byte aligned slices per thread: no false sharing. */
  int64_t align = (int64_t)(64 / elem);
  p.cols = (p.cols + align - 1) / align * align;
  p.dybuf = (p.dybuf + align - 1) / align * align;
  p.rows = (p.rows + align - 1) / align * align;
  p.per_thread = p.cols + p.dybuf + p.rows + (priv + align - 1) / align * align;
  p.bytes = kind == 2 ? (size_t)(p.per_thread * p.threads) * elem + 64 : 0;
  p.thread_bytes = kind == 2 ? 0 : (size_t)p.per_thread * elem;
  return p;
}

size_t eq_conv_workspace_bytes(const eq_conv_geom *g, int kind, size_t elem) {
  if (elem == sizeof(float) && eq_conv_tiny_maps_applies(g)) return eq_conv_tiny_maps_workspace_bytes(g, kind);
  if (eq_conv_winograd_applies(g)) return eq_conv_wino_workspace_bytes(g, kind, elem);
  return plan_tiles(g, kind, elem).bytes;
}

size_t eq_conv_thread_workspace_bytes(const eq_conv_geom *g, int kind, size_t elem) {
  if (elem == sizeof(float) && eq_conv_tiny_maps_applies(g)) return 0;
  if (eq_conv_winograd_applies(g)) return eq_conv_wino_thread_workspace_bytes(g, kind, elem);
  return plan_tiles(g, kind, elem).thread_bytes;
}

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* (tap, output vector) pairs im2col_short_rows_f32 handles at most. */
#define SHORT_ROWS_TABLE_MAX 256

#ifdef __AVX512F__
/* How im2col_short_rows_f32 fills each tap's vectors of output pixels,
 * worked out once per geometry (and thread). Where an input row fits a
 * vector, lane l of vector v takes column col[v][l] of input row
 * row[v][r] for the r whose lanes include l: a masked load and a permute
 * per row. Else lane l takes offset col[v][l] of the plane, by a gather. */
typedef struct short_rows_table {
  eq_conv_geom g;
  int64_t nvec, nrows; /* vectors per tap's output map, input rows per vector at most */
  bool by_rows;
  int32_t col[SHORT_ROWS_TABLE_MAX][16], row[SHORT_ROWS_TABLE_MAX][16];
  __mmask16 valid[SHORT_ROWS_TABLE_MAX], lanes[SHORT_ROWS_TABLE_MAX][16], tail;
} short_rows_table;

static _Thread_local short_rows_table short_rows;

/* This thread's table for g, built when g differs from the last one;
 * NULL where the method does not apply. */
static const short_rows_table *short_rows_for(const eq_conv_geom *g) {
  short_rows_table *t = &short_rows;
  if (t->nvec && !memcmp(&t->g, g, sizeof *g)) return t;
  const int64_t L = g->Ho * g->Wo, taps = g->kh * g->kw, nvec = (L + 15) / 16;
  if (g->Wo >= 16 || taps * nvec > SHORT_ROWS_TABLE_MAX || g->H * g->W > INT32_MAX) return NULL;
  t->g = *g;
  t->nvec = nvec;
  t->by_rows = g->W <= 16;
  t->nrows = 0;
  for (int64_t tap = 0; tap < taps; tap++)
    for (int64_t v = 0; v < nvec; v++) {
      const int64_t e = tap * nvec + v, oh0 = v * 16 / g->Wo;
      t->valid[e] = 0;
      for (int r = 0; r < 16; r++) t->row[e][r] = -1, t->lanes[e][r] = 0;
      for (int l = 0; l < 16; l++) {
        int64_t p = v * 16 + l, oh = p / g->Wo, ih = oh * g->sh - g->ph + tap / g->kw * g->dh,
                iw = p % g->Wo * g->sw - g->pw + tap % g->kw * g->dw;
        bool in = p < L && ih >= 0 && ih < g->H && iw >= 0 && iw < g->W;
        t->col[e][l] = !in ? 0 : t->by_rows ? (int32_t)iw : (int32_t)(ih * g->W + iw);
        if (!in) continue;
        t->valid[e] |= (__mmask16)(1u << l);
        t->row[e][oh - oh0] = (int32_t)ih;
        t->lanes[e][oh - oh0] |= (__mmask16)(1u << l);
        if (oh - oh0 + 1 > t->nrows) t->nrows = oh - oh0 + 1;
      }
    }
  t->tail = (__mmask16)(L % 16 ? (1u << (L % 16)) - 1 : 0xFFFF);
  return t;
}
#endif

/* im2col (conv_kernels.inc) where output rows are shorter than a vector:
 * ResNet's stride-2 convolutions into stages 2 and 3 at 64 px have rows of
 * 8 and 4 pixels, where the copy loops spent a quarter of the forward
 * (layer 3's 1.82 ms) on loop overhead. Each tap's output map is one to a
 * few vectors; where an input row fits a vector they are filled by masked
 * row loads and permutes, else by gathers (with which layer 2's stride-2
 * forward took 10-13 % longer); padding taps are masked off, read as 0.
 * Returns false where it does not apply (the caller copies). */
static bool im2col_short_rows_f32(const eq_conv_geom *g, const float *x, int64_t tn, int64_t cg, float *cols,
                                  int64_t ld) {
#ifdef __AVX512F__
  const short_rows_table *t = short_rows_for(g);
  if (!t) return false;
  const int64_t L = g->Ho * g->Wo, taps = g->kh * g->kw, HW = g->H * g->W, img = g->C * HW, nvec = t->nvec;
  const __mmask16 in_row = (__mmask16)(g->W >= 16 ? 0xFFFF : (1u << g->W) - 1);
  for (int64_t c = 0; c < cg; c++)
    for (int64_t tap = 0; tap < taps; tap++) {
      float *dst = cols + (c * taps + tap) * ld;
      for (int64_t n = 0; n < tn; n++) {
        const float *plane = x + n * img + c * HW;
        for (int64_t v = 0; v < nvec; v++) {
          const int64_t e = tap * nvec + v;
          const __m512i col = _mm512_loadu_si512(t->col[e]);
          __m512 val = _mm512_setzero_ps();
          if (!t->by_rows)
            val = _mm512_mask_i32gather_ps(val, t->valid[e], col, plane, 4);
          else
            for (int64_t r = 0; r < t->nrows; r++)
              if (t->lanes[e][r])
                val = _mm512_mask_permutexvar_ps(val, t->lanes[e][r], col,
                                                 _mm512_maskz_loadu_ps(in_row, plane + t->row[e][r] * g->W));
          _mm512_mask_storeu_ps(dst + n * L + v * 16, v == nvec - 1 ? t->tail : (__mmask16)0xFFFF, val);
        }
      }
    }
  return true;
#else
  (void)g, (void)x, (void)tn, (void)cg, (void)cols, (void)ld;
  return false;
#endif
}

/* the tiny-map kernels and the register tiles' weight gradient are
 * float32 only */
#define FLOAT32_KERNELS 1
#define T float
#define SFX _f32
#define GEMM eq_nn_gemm_f32
#define GEMM_NN eq_nn_gemm_nn_f32
#include "ops/nn/conv_kernels.inc"
#undef T
#undef SFX
#undef GEMM
#undef GEMM_NN
#undef FLOAT32_KERNELS
#define FLOAT32_KERNELS 0

#define T double
#define SFX _f64
#define GEMM eq_nn_gemm_f64
#define GEMM_NN eq_nn_gemm_nn_f64
#include "ops/nn/conv_kernels.inc"
#undef T
#undef SFX
#undef GEMM
#undef GEMM_NN
#undef FLOAT32_KERNELS
