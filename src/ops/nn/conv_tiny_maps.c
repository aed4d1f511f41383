/* Convolutions whose output map is at most 2 x 2 pixels, in float32
 * AVX-512 register tiles: ResNet-18's last stage at 64 px (512 channels on
 * 2 x 2 maps: its 3x3 convolutions and the stride-2 one into it).
 *
 * Why not Winograd or im2col there: with one tile per image, F(2x2, 3x3)
 * writes and reads a 16 x Co x C transformed weight (16.8 MB for 512
 * channels) for 64 columns of work, and im2col copies 9 columns per pixel
 * for as few. For 64 images, forward and backward: the 3x3 convolution
 * 2.29 + 4.69 ms by Winograd, 1.57 + 3.93 here; the stride-2 one 1.97 +
 * 4.02 ms by im2col, 1.18 + 2.78 here. On so small an output, each output
 * pixel p meets input pixel q(p, t) through tap t of the kernel, for the
 * taps that land inside the input, so
 *   y_p = sum over t of W_t x_q(p,t)   (products of Co x C by C x N)
 * reads each tap of the weights in place (A's strides step over the other
 * taps) while the kernel rows of a block of output channels stay in L2,
 * with no transform and no work on padding. The backward passes are the
 * same products transposed; the weight gradient gathers each tap's products
 * into a block of rows and adds it into dW's strided taps.
 *
 * Each thread takes a contiguous range of the output (forward, weight
 * gradient) or input (data gradient) channels through every step: only the
 * rearranged activations, read-only, are shared between the cores. */
#include "ops/nn/conv_geom.h"
#include "ops/nn/nn_common.h"

/* L2 share for a block's kernel rows (forward, data gradient) or tap sums
 * (weight gradient), next to the rearranged activations (512 KB in
 * ResNet-18's last stage at 64 px). */
#define TINY_BLOCK_BYTES (256 * 1024)

bool eq_conv_tiny_maps_applies(const eq_conv_geom *g) {
  /* Not 1x1 kernels: the downsampling into ResNet-18's last stage lost
   * against im2col (forward 0.29 -> 0.36 ms, backward 0.51 -> 0.74 ms),
   * its rearranged input being mostly pixels no tap reads. */
  return eq_conv_algo == EQ_CONV_AUTO && eq_nn_tile_gemm_available() && g->groups == 1 && g->kh * g->kw > 1 &&
         g->Ho >= 1 && g->Ho <= 2 && g->Wo >= 1 && g->Wo <= 2 && g->N >= 1 && g->C >= 1 && g->Co >= 1 && g->H >= 1 &&
         g->W >= 1;
}

/* The input pixel (row-major) that output pixel p sees through tap t, or
 * -1 where the tap falls on padding. */
static int64_t input_pixel(const eq_conv_geom *g, int64_t p, int64_t t) {
  int64_t iy = p / g->Wo * g->sh - g->ph + t / g->kw * g->dh, ix = p % g->Wo * g->sw - g->pw + t % g->kw * g->dw;
  return iy >= 0 && iy < g->H && ix >= 0 && ix < g->W ? iy * g->W + ix : -1;
}

/* Rows per block: kernel rows (in-channels x taps floats each) or tap sums
 * that fit the L2 share, at least one register tile. */
static int64_t block_rows(int64_t per_row_floats) {
  int64_t rows = TINY_BLOCK_BYTES / (int64_t)sizeof(float) / per_row_floats;
  return rows < 6 ? 6 : rows;
}

size_t eq_conv_tiny_maps_workspace_bytes(const eq_conv_geom *g, int kind) {
  const int64_t P = g->Ho * g->Wo, Q = g->H * g->W, T = g->kh * g->kw, N = g->N, C = g->C, Co = g->Co;
  int64_t floats = (Q * C + P * Co) * N;
  if (kind == 2) floats += (int64_t)omp_get_max_threads() * T * block_rows(T * C) * C;
  return (size_t)floats * sizeof(float) + 64;
}

/* dst[q][c][n] = src[n][c][q] (channels [c0, c1)): the maps as rows of
 * images, B for the products. */
static void to_rows(const float *src, int64_t N, int64_t C, int64_t P, int64_t c0, int64_t c1, float *dst) {
  for (int64_t q = 0; q < P; q++)
    for (int64_t c = c0; c < c1; c++)
      for (int64_t n = 0; n < N; n++) dst[(q * C + c) * N + n] = src[(n * C + c) * P + q];
}

/* dst[n][c][q] (+)= rows[q][c][n] for channels [c0, c1). */
static void from_rows(const float *rows, int64_t N, int64_t C, int64_t P, int64_t c0, int64_t c1, bool add,
                      float *dst) {
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = c0; c < c1; c++)
      for (int64_t q = 0; q < P; q++) {
        float v = rows[(q * C + c) * N + n];
        float *d = dst + (n * C + c) * P + q;
        *d = add ? *d + v : v;
      }
}

/* This thread's share of n channels. */
static void channel_range(int64_t n, int64_t *c0, int64_t *c1) {
  int t = omp_get_thread_num(), nt = omp_get_num_threads();
  *c0 = n * t / nt, *c1 = n * (t + 1) / nt;
}

/* c (m x n, leading dimension n) = A B where nothing was written yet
 * (*written false), else c += A B; A m x k at a (any strides), B k x n
 * (leading dimension n): one tap's share of a pixel's (or a tap's) sum. */
static void add_tap_product(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs, const float *b,
                            float *c, bool *written) {
  eq_nn_tile_gemm_strided_f32(m, n, k, 1.0f, a, ars, acs, b, n, *written ? 1.0f : 0.0f, c, n);
  *written = true;
}

/* The forward (y = sum over taps of W_t x) or, `transposed`, the data
 * gradient (dx = sum over taps of W_t^T dy, added into dx): `in` has
 * in_ch channels on in_px pixels, `out` out_ch channels on out_px pixels;
 * out pixel u and in pixel v meet through tap t where the forward's output
 * pixel sees its input pixel through t. */
static void tap_sums(const eq_conv_geom *g, bool transposed, const float *in, const float *w, float *out, bool add) {
  const int64_t P = g->Ho * g->Wo, Q = g->H * g->W, T = g->kh * g->kw, N = g->N;
  const int64_t in_ch = transposed ? g->Co : g->C, out_ch = transposed ? g->C : g->Co;
  const int64_t in_px = transposed ? P : Q, out_px = transposed ? Q : P;
  /* A(out channel, in channel) = w[co][ci][t]: strides over the kernel's
   * rows (forward) or down its columns (transposed) */
  const int64_t a_row = transposed ? T : g->C * T, a_col = transposed ? g->C * T : T, rows = block_rows(T * in_ch);
  float *in_rows = eq_nn_workspace(eq_conv_tiny_maps_workspace_bytes(g, transposed ? 1 : 0));
  if (!in_rows) return; /* reserved by the caller */
  float *out_rows = in_rows + in_px * in_ch * N;
#pragma omp parallel
  {
    int64_t c0, c1;
    channel_range(in_ch, &c0, &c1);
    to_rows(in, N, in_ch, in_px, c0, c1, in_rows);
#pragma omp barrier
    channel_range(out_ch, &c0, &c1);
    for (int64_t o0 = c0; o0 < c1; o0 += rows) {
      int64_t m = c1 - o0 < rows ? c1 - o0 : rows;
      for (int64_t u = 0; u < out_px; u++) {
        float *c = out_rows + (u * out_ch + o0) * N;
        bool written = false;
        for (int64_t v = 0; v < in_px; v++)
          for (int64_t t = 0; t < T; t++)
            if (transposed ? input_pixel(g, v, t) == u : input_pixel(g, u, t) == v)
              add_tap_product(m, N, in_ch, w + o0 * a_row + t, a_row, a_col, in_rows + v * in_ch * N, c, &written);
        /* every tap on padding, or an input pixel no output sees */
        if (!written) memset(c, 0, (size_t)(m * N) * sizeof(float));
      }
    }
    from_rows(out_rows, N, out_ch, out_px, c0, c1, add, out);
  }
}

void eq_conv_tiny_forward_f32(const eq_conv_geom *g, const float *x, const float *w, float *y, int accumulate) {
  tap_sums(g, false, x, w, y, accumulate != 0);
}

void eq_conv_tiny_backward_data_f32(const eq_conv_geom *g, const float *dy, const float *w, float *dx) {
  tap_sums(g, true, dy, w, dx, true);
}

void eq_conv_tiny_backward_weight_f32(const eq_conv_geom *g, const float *x, const float *dy, float *dw) {
  const int64_t P = g->Ho * g->Wo, Q = g->H * g->W, T = g->kh * g->kw, N = g->N, C = g->C, Co = g->Co;
  const int64_t rows = block_rows(T * C);
  float *dyr = eq_nn_workspace(eq_conv_tiny_maps_workspace_bytes(g, 2));
  if (!dyr) return;
  float *xn = dyr + P * Co * N, *sums = xn + Q * N * C;
#pragma omp parallel
  {
    int64_t c0, c1;
    channel_range(Co, &c0, &c1);
    to_rows(dy, N, Co, P, c0, c1, dyr);
    /* x as xn[q][n][c]: rows along the input channels, B of dW's products */
    int64_t n0, n1;
    channel_range(N, &n0, &n1);
    for (int64_t q = 0; q < Q; q++)
      for (int64_t n = n0; n < n1; n++)
        for (int64_t c = 0; c < C; c++) xn[(q * N + n) * C + c] = x[(n * C + c) * Q + q];
#pragma omp barrier
    float *d = sums + (size_t)omp_get_thread_num() * (size_t)(T * rows * C);
    for (int64_t o0 = c0; o0 < c1; o0 += rows) {
      int64_t m = c1 - o0 < rows ? c1 - o0 : rows;
      /* d[t] = sum over the output pixels p whose tap t lands on input
       * pixel q of dy_p^T x_q (this block's rows); taps that only ever
       * land on padding keep their gradient */
      for (int64_t t = 0; t < T; t++) {
        bool written = false;
        for (int64_t p = 0; p < P; p++) {
          int64_t q = input_pixel(g, p, t);
          if (q >= 0) add_tap_product(m, C, N, dyr + (p * Co + o0) * N, N, 1, xn + q * N * C, d + t * m * C, &written);
        }
        if (!written) memset(d + t * m * C, 0, (size_t)(m * C) * sizeof(float));
      }
      for (int64_t o = 0; o < m; o++)
        for (int64_t c = 0; c < C; c++) {
          float *k = dw + ((o0 + o) * C + c) * T;
          for (int64_t t = 0; t < T; t++) k[t] += d[(t * m + o) * C + c];
        }
    }
  }
}
