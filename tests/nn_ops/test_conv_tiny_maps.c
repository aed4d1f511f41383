/* The float32 tiny-map convolution path (conv_tiny_maps.c: any kernel,
 * stride, padding and dilation whose output map is at most 2x2, as in a
 * ResNet's last stage at low resolution) against the float64 im2col kernels:
 * forward (fresh, written over NaN, and accumulating), backward-data and
 * backward-weight onto known starting buffers, at 1, 2 and 3 threads, plus
 * conv2d end to end through autograd. The path is reached only through
 * eq_conv_algo AUTO, so nothing else would tell a wrong tap, a lost accumulate
 * or a ragged batch split from a working kernel; a geometry check on its own
 * would not catch the path silently not running, hence the applies checks both
 * ways. */
#include <omp.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/core.h"
#include "equivar/ops.h"
#include "conv_test_arrays.h"
#include "ops/nn/conv_geom.h"
#include "ops/nn/nn_common.h"

/* Square kernel k, stride s, padding pad, dilation dil. */
typedef struct geo {
  int N, C, H, W, Co, k, s, pad, dil;
} geo;

static eq_conv_geom geom_of(const geo *c) {
  int k = c->k, s = c->s, pad = c->pad, dil = c->dil;
  eq_conv_geom g = {c->N, c->C, c->H, c->W, c->Co, 0, 0, k, k, s, s, pad, pad, dil, dil, 1};
  g.Ho = (g.H + 2 * pad - dil * (k - 1) - 1) / s + 1;
  g.Wo = (g.W + 2 * pad - dil * (k - 1) - 1) / s + 1;
  return g;
}

static void check_geometry(const geo *c) {
  eq_conv_geom g = geom_of(c);
  size_t nx = (size_t)(g.N * g.C * g.H * g.W), nw = (size_t)(g.Co * g.C * g.kh * g.kw),
         ny = (size_t)(g.N * g.Co * g.Ho * g.Wo);
  char what[128];
  snprintf(what, sizeof what, "N%d C%d %dx%d Co%d k%lld s%lld p%lld d%lld", c->N, c->C, c->H, c->W, c->Co,
           (long long)g.kh, (long long)g.sh, (long long)g.ph, (long long)g.dh);

  eq_conv_algo = EQ_CONV_AUTO;
  if (eq_nn_tile_gemm_available())
    CHECK_MSG(eq_conv_tiny_maps_applies(&g), "%s: the tiny-map path does not apply", what);

  double *x = eq_malloc(nx * 8), *w = eq_malloc(nw * 8), *dy = eq_malloc(ny * 8);
  double *y0 = eq_malloc(ny * 8), *dx0 = eq_malloc(nx * 8), *dw0 = eq_malloc(nw * 8);
  fill(x, nx, 1), fill(w, nw, 2), fill(dy, ny, 3);
  fill(y0, ny, 4), fill(dx0, nx, 5), fill(dw0, nw, 6); /* starting buffers */

  /* references: im2col in float64, accumulating onto the starts */
  double *y_ref = eq_malloc(ny * 8), *ya_ref = eq_malloc(ny * 8), *dx_ref = eq_malloc(nx * 8),
         *dw_ref = eq_malloc(nw * 8);
  memcpy(ya_ref, y0, ny * 8), memcpy(dx_ref, dx0, nx * 8), memcpy(dw_ref, dw0, nw * 8);
  eq_conv_algo = EQ_CONV_IM2COL;
  eq_conv_forward_f64(&g, x, w, y_ref, 0);
  eq_conv_forward_f64(&g, x, w, ya_ref, 1);
  eq_conv_backward_data_f64(&g, dy, w, dx_ref);
  eq_conv_backward_weight_f64(&g, x, dy, dw_ref);
  eq_conv_algo = EQ_CONV_AUTO;

  float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *dyf = to_f32(dy, ny);
  float *y0f = to_f32(y0, ny), *dx0f = to_f32(dx0, nx), *dw0f = to_f32(dw0, nw);
  float *yf = eq_malloc(ny * 4), *yaf = eq_malloc(ny * 4), *dxf = eq_malloc(nx * 4), *dwf = eq_malloc(nw * 4);
  for (int t = 1; t <= 3; t++) {
    omp_set_num_threads(t);
    for (size_t i = 0; i < ny; i++) yf[i] = NAN; /* accumulate = 0 must write every element */
    memcpy(yaf, y0f, ny * 4), memcpy(dxf, dx0f, nx * 4), memcpy(dwf, dw0f, nw * 4);
    eq_conv_forward_f32(&g, xf, wf, yf, 0);
    eq_conv_forward_f32(&g, xf, wf, yaf, 1);
    eq_conv_backward_data_f32(&g, dyf, wf, dxf);
    eq_conv_backward_weight_f32(&g, xf, dyf, dwf);
    double ey = rel_err_f32(yf, y_ref, ny), eya = rel_err_f32(yaf, ya_ref, ny);
    double edx = rel_err_f32(dxf, dx_ref, nx), edw = rel_err_f32(dwf, dw_ref, nw);
    CHECK_MSG(ey <= 2e-5, "%s threads %d: forward error %g", what, t, ey);
    CHECK_MSG(eya <= 2e-5, "%s threads %d: forward-accumulate error %g", what, t, eya);
    CHECK_MSG(edx <= 2e-5, "%s threads %d: backward-data error %g", what, t, edx);
    CHECK_MSG(edw <= 2e-5, "%s threads %d: backward-weight error %g", what, t, edw);
  }
  /* Same threads, same bits: a second forward over different garbage. */
  omp_set_num_threads(2);
  float *y1 = eq_malloc(ny * 4), *y2 = eq_malloc(ny * 4);
  for (size_t i = 0; i < ny; i++) y1[i] = NAN, y2[i] = -7.0f;
  eq_conv_forward_f32(&g, xf, wf, y1, 0);
  eq_conv_forward_f32(&g, xf, wf, y2, 0);
  CHECK_MSG(memcmp(y1, y2, ny * 4) == 0, "%s: two forwards at 2 threads differ", what);

  eq_free(x), eq_free(w), eq_free(dy), eq_free(y0), eq_free(dx0), eq_free(dw0);
  eq_free(y_ref), eq_free(ya_ref), eq_free(dx_ref), eq_free(dw_ref);
  eq_free(xf), eq_free(wf), eq_free(dyf), eq_free(y0f), eq_free(dx0f), eq_free(dw0f);
  eq_free(yf), eq_free(yaf), eq_free(dxf), eq_free(dwf), eq_free(y1), eq_free(y2);
}

/* Geometries outside the path: they must keep going to the other kernels. */
static void check_not_applies(void) {
  eq_conv_algo = EQ_CONV_AUTO;
  eq_conv_geom g3 = {2, 8, 3, 3, 8, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1}; /* 3x3 output */
  eq_conv_geom p0 = {2, 8, 2, 2, 8, 0, 0, 3, 3, 1, 1, 0, 0, 1, 1, 1}; /* an empty output */
  eq_conv_geom s2 = {2, 8, 6, 6, 8, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1}; /* stride 2 into 3x3 */
  eq_conv_geom h3 = {2, 8, 3, 2, 8, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1}; /* 3x2 output */
  eq_conv_geom gr = {2, 8, 2, 2, 8, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2}; /* grouped */
  CHECK_MSG(!eq_conv_tiny_maps_applies(&g3), "applies to a 3x3 output");
  CHECK_MSG(!eq_conv_tiny_maps_applies(&p0), "applies to an empty output");
  CHECK_MSG(!eq_conv_tiny_maps_applies(&s2), "applies to stride 2 into a 3x3 output");
  CHECK_MSG(!eq_conv_tiny_maps_applies(&h3), "applies to a 3x2 output");
  CHECK_MSG(!eq_conv_tiny_maps_applies(&gr), "applies to a grouped convolution");
  eq_conv_geom k1 = {17, 40, 4, 4, 70, 2, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1}; /* 1x1 downsampling */
  CHECK_MSG(!eq_conv_tiny_maps_applies(&k1), "applies to a 1x1 kernel");
  /* IM2COL must force the old path, or the end-to-end comparison below
   * compares the tiny-map path with itself. */
  eq_conv_geom ok = {6, 40, 2, 2, 24, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  eq_conv_algo = EQ_CONV_IM2COL;
  CHECK_MSG(!eq_conv_tiny_maps_applies(&ok), "applies with eq_conv_algo = EQ_CONV_IM2COL");
  eq_conv_algo = EQ_CONV_AUTO;
}

/* conv2d through autograd with the given algorithm; output and the two
 * gradients copied out as doubles. */
static void run_conv2d(int algo, double *y_out, double *dx_out, double *dw_out) {
  eq_conv_algo = algo;
  eq_tensor *x = eq_rand_normal(EQ_F32, EQ_DIMS(6, 40, 2, 2), 0, 1, 11, 0);
  eq_tensor *w = eq_rand_normal(EQ_F32, EQ_DIMS(24, 40, 3, 3), 0, 0.2, 12, 0);
  eq_tensor *g = eq_rand_normal(EQ_F32, EQ_DIMS(6, 24, 2, 2), 0, 1, 13, 0);
  eq_set_requires_grad(x, true);
  eq_set_requires_grad(w, true);
  eq_conv2d_params p = {{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}};
  eq_tensor *y = eq_conv2d(x, w, NULL, &p);
  CHECK_MSG(y != NULL, "conv2d: %s", eq_error_message());
  if (y) {
    CHECK_MSG(eq_backward_with(y, g) == EQ_OK, "conv2d backward: %s", eq_error_message());
    for (int64_t i = 0; i < 6 * 24 * 4; i++) y_out[i] = eq_get_flat(y, i);
    for (int64_t i = 0; i < 6 * 40 * 4; i++) dx_out[i] = x->grad ? eq_get_flat(x->grad, i) : NAN;
    for (int64_t i = 0; i < 24 * 40 * 9; i++) dw_out[i] = w->grad ? eq_get_flat(w->grad, i) : NAN;
  }
  eq_tape_clear();
  eq_tensor_free(y);
  eq_tensor_free(x), eq_tensor_free(w), eq_tensor_free(g);
  eq_conv_algo = EQ_CONV_AUTO;
}

static void check_conv2d(void) {
  enum { NY = 6 * 24 * 4, NX = 6 * 40 * 4, NW = 24 * 40 * 9 };
  static double y[2][NY], dx[2][NX], dw[2][NW];
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < NY; i++) y[k][i] = NAN;
    for (int i = 0; i < NX; i++) dx[k][i] = NAN;
    for (int i = 0; i < NW; i++) dw[k][i] = NAN;
  }
  run_conv2d(EQ_CONV_IM2COL, y[0], dx[0], dw[0]);
  run_conv2d(EQ_CONV_AUTO, y[1], dx[1], dw[1]);
  double ey = rel_err_f64(y[1], y[0], NY), edx = rel_err_f64(dx[1], dx[0], NX), edw = rel_err_f64(dw[1], dw[0], NW);
  CHECK_MSG(ey <= 2e-5 && max_abs(y[0], NY) > 0, "conv2d output: AUTO vs IM2COL error %g", ey);
  CHECK_MSG(edx <= 2e-5 && max_abs(dx[0], NX) > 0, "conv2d input grad: AUTO vs IM2COL error %g", edx);
  CHECK_MSG(edw <= 2e-5 && max_abs(dw[0], NW) > 0, "conv2d weight grad: AUTO vs IM2COL error %g", edw);
}

int main(void) {
  int threads = omp_get_max_threads();
  const geo geos[] = {
      {1, 1, 2, 2, 1, 3, 1, 1, 1},      /* one image, one channel */
      {5, 3, 2, 2, 7, 3, 1, 1, 1},      /* ragged batch, C < Co */
      {17, 7, 1, 2, 33, 3, 1, 1, 1},    /* one row */
      {17, 33, 2, 1, 7, 3, 1, 1, 1},    /* one column, C > Co */
      {64, 70, 1, 1, 3, 3, 1, 1, 1},    /* a single pixel: only the centre tap */
      {5, 1, 1, 1, 33, 3, 1, 1, 1},     /* single pixel, one input channel */
      {5, 130, 2, 2, 70, 3, 1, 1, 1},   /* C > Co, neither a multiple of 6 or 16 */
      {1, 70, 1, 2, 130, 3, 1, 1, 1},   /* C < Co, one image */
      {17, 130, 2, 1, 1, 3, 1, 1, 1},   /* one output channel */
      {64, 3, 2, 2, 130, 3, 1, 1, 1},   /* few inputs, many outputs */
      {64, 33, 1, 2, 70, 3, 1, 1, 1},   /* full batch, a row */
      {17, 7, 2, 2, 7, 3, 1, 1, 1},     /* C == Co, ragged batch */
      {64, 256, 2, 2, 256, 3, 1, 1, 1}, /* ResNet's last stage */
      {64, 128, 4, 4, 256, 3, 2, 1, 1}, /* its stride-2 entry (fewer channels): 25 of 36 taps inside */
      {5, 6, 5, 5, 7, 2, 3, 0, 1},      /* 2x2 kernel, stride 3: an input row no output sees */
      {5, 7, 4, 4, 9, 3, 1, 0, 1},      /* no padding, 4x4 into 2x2 */
      {3, 5, 2, 2, 6, 3, 1, 2, 2},      /* dilation 2 */
      {3, 4, 3, 3, 5, 5, 2, 2, 1},      /* 5x5, stride 2 */
      {4, 6, 7, 7, 8, 7, 4, 0, 1},      /* 7x7 into a single pixel */
      {2, 3, 1, 1, 4, 2, 3, 2, 1},      /* every output on padding: y 0, gradients kept */
  };
  for (size_t i = 0; i < sizeof geos / sizeof *geos; i++) check_geometry(&geos[i]);
  omp_set_num_threads(threads);
  check_not_applies();
  check_conv2d();
  eq_conv_algo = EQ_CONV_AUTO;
  omp_set_num_threads(threads);
  return EQ_TEST_SUMMARY();
}
