/* eq_max_pool2d, eq_avg_pool2d, eq_adaptive_avg_pool2d (NCHW, floor mode). */
#include <math.h>

#include "ops/nn/nn_common.h"

typedef struct pool_geom {
  int64_t planes, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw;
  bool include_pad, adaptive;
} pool_geom;

#define T float
#define SFX _f32
#include "ops/nn/pool_kernels.inc"
#undef T
#undef SFX
#define T double
#define SFX _f64
#include "ops/nn/pool_kernels.inc"
#undef T
#undef SFX

#if defined(__AVX512F__)
#include <immintrin.h>
enum { POOL_ROWS_FLOATS = 16384 }; /* 64 KB of stack for one output row's window rows */

/* Floats per padded copy of an input row: 16 outputs per step, each reading
 * one or two vectors from column sw * b0 + j of the copy. */
static int64_t padded_row_len(const pool_geom *g) {
  int64_t wo16 = (g->Wo + 15) / 16 * 16;
  return g->sw * wo16 + g->kw + 32;
}

/* max_fwd_f32 with 16 output columns per step, for strides 1 and 2. The
 * window's input rows are first copied into -inf padded rows on the stack,
 * so every tap is a plain vector load (stride 2: two loads and an even-lane
 * permute): masked loads with masked-off lanes cost a microcode assist on
 * this CPU and ran 2.7x slower. Padding reads as -inf and never wins; the
 * comparison is the scalar kernel's (strictly greater, or NaN), so values
 * and indices are identical. ResNet-18's 3x3/2 pool: 8 ms per step on one
 * core before (strided scalar taps). */
static void max_fwd_f32_avx512(const pool_geom *g, const float *x, float *y, int32_t *idx) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
  const int64_t lp = padded_row_len(g);
#pragma omp parallel for schedule(static) if (g->planes * g->Ho * g->Wo > 16384)
  for (int64_t pl = 0; pl < g->planes; pl++) {
    float rows[POOL_ROWS_FLOATS];
    const float *xp = x + pl * g->H * g->W;
    for (int64_t oh = 0; oh < g->Ho; oh++) {
      int64_t h0 = oh * g->sh - g->ph;
      for (int64_t i = 0; i < g->kh; i++) {
        float *r = rows + i * lp;
        int64_t ih = h0 + i;
        if (ih < 0 || ih >= g->H) continue; /* skipped below as well */
        for (int64_t c = 0; c < g->pw; c++) r[c] = -INFINITY;
        memcpy(r + g->pw, xp + ih * g->W, (size_t)g->W * sizeof(float));
        for (int64_t c = g->pw + g->W; c < lp; c++) r[c] = -INFINITY;
      }
      for (int64_t b0 = 0; b0 < g->Wo; b0 += 16) {
        int64_t nb = g->Wo - b0 < 16 ? g->Wo - b0 : 16;
        /* first input column of each window, w0 = ow * sw - pw */
        __m512i w0 = _mm512_sub_epi32(_mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32((int32_t)b0)),
                                                         _mm512_set1_epi32((int32_t)g->sw)),
                                      _mm512_set1_epi32((int32_t)g->pw));
        __m512 best = neg_inf;
        __m512i bi = _mm512_add_epi32(_mm512_set1_epi32((int32_t)((h0 < 0 ? 0 : h0) * g->W)),
                                      _mm512_max_epi32(w0, _mm512_setzero_si512()));
        for (int64_t i = 0; i < g->kh; i++) {
          int64_t ih = h0 + i;
          if (ih < 0 || ih >= g->H) continue;
          const float *r = rows + i * lp + g->sw * b0;
          __m512i row = _mm512_set1_epi32((int32_t)(ih * g->W));
          for (int64_t j = 0; j < g->kw; j++) {
            __m512 v = g->sw == 1 ? _mm512_loadu_ps(r + j)
                                  : _mm512_permutex2var_ps(_mm512_loadu_ps(r + j), even, _mm512_loadu_ps(r + j + 16));
            __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            best = _mm512_mask_mov_ps(best, take, v);
            __m512i at = _mm512_add_epi32(row, _mm512_add_epi32(w0, _mm512_set1_epi32((int32_t)j)));
            bi = _mm512_mask_mov_epi32(bi, take, at);
          }
        }
        /* full blocks store whole vectors; the last one stores lane by lane */
        float *yo = y + (pl * g->Ho + oh) * g->Wo + b0;
        int32_t *io = idx + (pl * g->Ho + oh) * g->Wo + b0;
        if (nb == 16) {
          _mm512_storeu_ps(yo, best);
          _mm512_storeu_si512(io, bi);
        } else {
          float bv[16];
          int32_t iv[16];
          _mm512_storeu_ps(bv, best);
          _mm512_storeu_si512(iv, bi);
          for (int64_t o = 0; o < nb; o++) {
            yo[o] = bv[o];
            io[o] = iv[o];
          }
        }
      }
    }
  }
}
#endif

typedef struct pool_ctx {
  pool_geom g;
  int32_t *idx; /* max pool: argmax per output, within its plane */
} pool_ctx;

static eq_status pool_backward(eq_node *node) {
  const pool_ctx *c = node->ctx;
  eq_tensor *dx = eq_nn_grad_of(node, 0), *dy = node->out->grad;
  if (!dx) return eq_error_code();
  bool f32 = dx->dtype == EQ_F32;
  if (c->idx) {
    if (f32)
      max_bwd_f32(&c->g, eq_f32(dy), c->idx, eq_f32(dx));
    else
      max_bwd_f64(&c->g, eq_f64(dy), c->idx, eq_f64(dx));
  } else if (f32) {
    avg_bwd_f32(&c->g, eq_f32(dy), eq_f32(dx));
  } else {
    avg_bwd_f64(&c->g, eq_f64(dy), eq_f64(dx));
  }
  return EQ_OK;
}

/* Validates kernel/stride/padding like PyTorch and fills g. */
static eq_status setup(const char *op, const eq_tensor *x, const int kernel[2], const int stride[2],
                       const int padding[2], pool_geom *g) {
  char b[96];
  if (eq_nn_check(op, "input", x, 4, -1)) return eq_error_code();
  if (!kernel || kernel[0] < 1 || kernel[1] < 1)
    return eq_error(EQ_ERR_VALUE, "%s: kernel (%d, %d) must be positive", op, kernel ? kernel[0] : 0,
                    kernel ? kernel[1] : 0);
  g->planes = x->shape[0] * x->shape[1];
  g->H = x->shape[2];
  g->W = x->shape[3];
  g->kh = kernel[0];
  g->kw = kernel[1];
  g->sh = stride && stride[0] > 0 ? stride[0] : kernel[0];
  g->sw = stride && stride[1] > 0 ? stride[1] : kernel[1];
  g->ph = padding ? padding[0] : 0;
  g->pw = padding ? padding[1] : 0;
  if (g->ph < 0 || g->pw < 0 || 2 * g->ph > g->kh || 2 * g->pw > g->kw)
    return eq_error(EQ_ERR_VALUE, "%s: padding (%lld, %lld) must be between 0 and half the kernel (%lld, %lld)", op,
                    (long long)g->ph, (long long)g->pw, (long long)g->kh, (long long)g->kw);
  if (g->kh > g->H + 2 * g->ph || g->kw > g->W + 2 * g->pw)
    return eq_error(EQ_ERR_SHAPE, "%s: kernel %lldx%lld is larger than the padded input of %s (padding %lld, %lld)", op,
                    (long long)g->kh, (long long)g->kw, eq_shape_str(x, b, sizeof b), (long long)g->ph,
                    (long long)g->pw);
  g->Ho = (g->H + 2 * g->ph - g->kh) / g->sh + 1;
  g->Wo = (g->W + 2 * g->pw - g->kw) / g->sw + 1;
  g->adaptive = false;
  g->include_pad = false;
  return EQ_OK;
}

/* Records the node, then runs the forward (the max pool writes its indices
 * straight into the node's memory when there is a node). */
static eq_tensor *run(const char *op, eq_tensor *x, const pool_geom *g, bool is_max) {
  eq_tensor *xc = eq_nn_contig(x);
  if (!xc) return NULL;
  eq_tensor *y = eq_empty(x->dtype, EQ_DIMS(x->shape[0], x->shape[1], g->Ho, g->Wo));
  if (!y) return NULL;
  eq_node *node = eq_tape_record(op, y, 1, &xc, pool_backward);
  if (!node && eq_needs_grad(1, &xc)) return NULL;
  size_t nidx = is_max ? (size_t)(g->planes * g->Ho * g->Wo) : 0;
  int32_t *idx = NULL;
  if (node) {
    /* One block: the geometry, then the max pool's indices. */
    pool_ctx *c = eq_node_alloc_ctx(node, sizeof *c + nidx * sizeof *idx);
    if (!c) return NULL;
    c->g = *g;
    c->idx = is_max ? (int32_t *)(c + 1) : NULL;
    idx = c->idx;
  } else if (is_max && !(idx = eq_nn_workspace(nidx * sizeof *idx))) {
    return NULL;
  }
  if (x->dtype == EQ_F32) {
    if (is_max) {
#if defined(__AVX512F__)
      /* int32 lane arithmetic: plane offsets stay in int64, columns fit */
      if ((g->sw == 1 || g->sw == 2) && g->kh * padded_row_len(g) <= POOL_ROWS_FLOATS && g->H * g->W < INT32_MAX)
        max_fwd_f32_avx512(g, eq_f32(xc), eq_f32(y), idx);
      else
#endif
        max_fwd_f32(g, eq_f32(xc), eq_f32(y), idx);
    }
    else
      avg_fwd_f32(g, eq_f32(xc), eq_f32(y));
  } else {
    if (is_max)
      max_fwd_f64(g, eq_f64(xc), eq_f64(y), idx);
    else
      avg_fwd_f64(g, eq_f64(xc), eq_f64(y));
  }
  return y;
}

eq_tensor *eq_max_pool2d(eq_tensor *x, const int kernel[2], const int stride[2], const int padding[2]) {
  pool_geom g;
  if (setup("max_pool2d", x, kernel, stride, padding, &g)) return NULL;
  if (g.H * g.W >= INT32_MAX) {
    eq_error(EQ_ERR_SHAPE, "max_pool2d: planes of %lldx%lld exceed the int32 index range", (long long)g.H,
             (long long)g.W);
    return NULL;
  }
  return run("max_pool2d", x, &g, true);
}

eq_tensor *eq_avg_pool2d(eq_tensor *x, const int kernel[2], const int stride[2], const int padding[2],
                         bool count_include_pad) {
  pool_geom g;
  if (setup("avg_pool2d", x, kernel, stride, padding, &g)) return NULL;
  g.include_pad = count_include_pad;
  return run("avg_pool2d", x, &g, false);
}

eq_tensor *eq_adaptive_avg_pool2d(eq_tensor *x, int out_h, int out_w) {
  if (eq_nn_check("adaptive_avg_pool2d", "input", x, 4, -1)) return NULL;
  if (out_h < 1 || out_w < 1) {
    eq_error(EQ_ERR_VALUE, "adaptive_avg_pool2d: output size (%d, %d) must be positive", out_h, out_w);
    return NULL;
  }
  if (x->shape[2] < 1 || x->shape[3] < 1) {
    char b[96];
    eq_error(EQ_ERR_SHAPE, "adaptive_avg_pool2d: input %s has an empty plane", eq_shape_str(x, b, sizeof b));
    return NULL;
  }
  pool_geom g = {0};
  g.planes = x->shape[0] * x->shape[1];
  g.H = x->shape[2];
  g.W = x->shape[3];
  g.Ho = out_h;
  g.Wo = out_w;
  g.adaptive = true;
  return run("adaptive_avg_pool2d", x, &g, false);
}
