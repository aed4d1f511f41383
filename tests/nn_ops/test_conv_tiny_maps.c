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
#include "conv_test_f32.h"
#include "ops/nn/conv_geom.h"
#include "ops/nn/nn_common.h"

static void check_geometry(const geo *c) {
  eq_conv_geom g = geom_of(c);
  char what[128];
  geo_name(c, &g, what, sizeof what);
  eq_conv_algo = EQ_CONV_AUTO;
  if (eq_nn_tile_gemm_available())
    CHECK_MSG(eq_conv_tiny_maps_applies(&g), "%s: the tiny-map path does not apply", what);
  check_f32_against_f64(&g, what);
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
      {1, 1, 2, 2, 1, 3, 1, 1, 1, 1},      /* one image, one channel */
      {5, 3, 2, 2, 7, 3, 1, 1, 1, 1},      /* ragged batch, C < Co */
      {17, 7, 1, 2, 33, 3, 1, 1, 1, 1},    /* one row */
      {17, 33, 2, 1, 7, 3, 1, 1, 1, 1},    /* one column, C > Co */
      {64, 70, 1, 1, 3, 3, 1, 1, 1, 1},    /* a single pixel: only the centre tap */
      {5, 1, 1, 1, 33, 3, 1, 1, 1, 1},     /* single pixel, one input channel */
      {5, 130, 2, 2, 70, 3, 1, 1, 1, 1},   /* C > Co, neither a multiple of 6 or 16 */
      {1, 70, 1, 2, 130, 3, 1, 1, 1, 1},   /* C < Co, one image */
      {17, 130, 2, 1, 1, 3, 1, 1, 1, 1},   /* one output channel */
      {64, 3, 2, 2, 130, 3, 1, 1, 1, 1},   /* few inputs, many outputs */
      {64, 33, 1, 2, 70, 3, 1, 1, 1, 1},   /* full batch, a row */
      {17, 7, 2, 2, 7, 3, 1, 1, 1, 1},     /* C == Co, ragged batch */
      {64, 256, 2, 2, 256, 3, 1, 1, 1, 1}, /* ResNet's last stage */
      {64, 128, 4, 4, 256, 3, 2, 1, 1, 1}, /* its stride-2 entry (fewer channels): 25 of 36 taps inside */
      {5, 6, 5, 5, 7, 2, 3, 0, 1, 1},      /* 2x2 kernel, stride 3: an input row no output sees */
      {5, 7, 4, 4, 9, 3, 1, 0, 1, 1},      /* no padding, 4x4 into 2x2 */
      {3, 5, 2, 2, 6, 3, 1, 2, 2, 1},      /* dilation 2 */
      {3, 4, 3, 3, 5, 5, 2, 2, 1, 1},      /* 5x5, stride 2 */
      {4, 6, 7, 7, 8, 7, 4, 0, 1, 1},      /* 7x7 into a single pixel */
      {2, 3, 1, 1, 4, 2, 3, 2, 1, 1},      /* every output on padding: y 0, gradients kept */
  };
  for (size_t i = 0; i < sizeof geos / sizeof *geos; i++) check_geometry(&geos[i]);
  omp_set_num_threads(threads);
  check_not_applies();
  check_conv2d();
  eq_conv_algo = EQ_CONV_AUTO;
  omp_set_num_threads(threads);
  return EQ_TEST_SUMMARY();
}
