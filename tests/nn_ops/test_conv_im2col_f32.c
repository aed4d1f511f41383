/* The float32 im2col convolutions (conv_kernels.inc: the stem, the stride-2
 * and 1x1 downsampling convolutions of a ResNet, and anything Winograd and
 * the tiny-map path leave), whose products run in the register tiles where
 * AVX-512 is (the weight gradient on the columns transposed to one row a
 * pixel), against the float64 im2col kernels. The geometries cover one
 * image a GEMM and several (maps under 256 pixels), several tiles a thread
 * (so the weight gradient accumulates across GEMMs onto a known start),
 * the direct 1x1 path, groups, dilation and ragged batches. */
#include "eq_test.h"
#include "conv_test_f32.h"
#include "ops/nn/nn_common.h"

static void check_geometry(const geo *c) {
  eq_conv_geom g = geom_of(c);
  char what[128];
  geo_name(c, &g, what, sizeof what);
  eq_conv_algo = EQ_CONV_AUTO;
  CHECK_MSG(!eq_conv_tiny_maps_applies(&g) && !eq_conv_winograd_applies(&g), "%s: not an im2col geometry", what);
  check_f32_against_f64(&g, what);
}

int main(void) {
  const geo geos[] = {
      {8, 3, 32, 32, 16, 7, 2, 3, 1, 1},  /* a stem: 7x7 stride 2, one image a GEMM, 4 a thread */
      {9, 20, 16, 16, 24, 3, 2, 1, 1, 1}, /* 3x3 stride 2 into 8x8: 4 images a GEMM, ragged */
      {40, 64, 8, 8, 48, 3, 2, 1, 1, 1},  /* into 4x4: 16 images a GEMM, 3 GEMMs */
      {10, 24, 8, 8, 40, 1, 2, 0, 1, 1},  /* 1x1 stride 2 */
      {5, 16, 16, 16, 24, 1, 1, 0, 1, 1}, /* 1x1 stride 1: the map multiplied in place */
      {6, 8, 16, 16, 12, 3, 1, 1, 1, 1},  /* 3x3 stride 1, too few channels for Winograd */
      {4, 6, 12, 12, 10, 3, 1, 2, 2, 1},  /* dilation 2 */
      {4, 8, 10, 10, 12, 3, 2, 1, 1, 2},  /* 2 groups */
      {7, 5, 11, 13, 9, 5, 3, 2, 1, 1},   /* 5x5 stride 3, a ragged map */
      {3, 4, 20, 14, 6, 3, 2, 1, 1, 1},   /* rows of 7 pixels: a vector spans 4 output rows */
      {3, 4, 20, 20, 5, 3, 3, 1, 1, 1},   /* input rows longer than a vector: gathers */
      {2, 3, 9, 69, 4, 5, 2, 1, 2, 1},    /* stride 2 into rows of 32, dilation 2 */
  };
  for (size_t i = 0; i < sizeof geos / sizeof *geos; i++) check_geometry(&geos[i]);
  eq_conv_algo = EQ_CONV_AUTO;
  return EQ_TEST_SUMMARY();
}
