/* The Winograd convolution kernels against the im2col ones: forward,
 * backward-data and backward-weight, float64 (to ~1e-12) and float32 (to
 * float32 rounding of the float64 result), on tile-aligned and ragged
 * maps, both tile sizes (m = 4 on maps of at least 4x4, m = 2 below),
 * paddings 0-2, channel counts off the slab and lane multiples, several
 * tile blocks, and the accumulate forms; plus float64 finite-difference
 * checks of conv2d and conv_transpose2d with Winograd forced. */
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/core.h"
#include "equivar/ops.h"
#include "conv_test_arrays.h"
#include "ops/nn/conv_geom.h"

typedef struct geo {
  int N, C, H, W, Co, ph, pw;
} geo;

static void check_geometry(const geo *c, size_t block_bytes) {
  eq_conv_geom g = {c->N, c->C, c->H, c->W, c->Co, 0, 0, 3, 3, 1, 1, c->ph, c->pw, 1, 1, 1};
  g.Ho = g.H + 2 * g.ph - 2;
  g.Wo = g.W + 2 * g.pw - 2;
  size_t nx = (size_t)(g.N * g.C * g.H * g.W), nw = (size_t)(g.Co * g.C * 9), ny = (size_t)(g.N * g.Co * g.Ho * g.Wo);
  double *x = eq_malloc(nx * 8), *w = eq_malloc(nw * 8), *dy = eq_malloc(ny * 8);
  fill(x, nx, 1), fill(w, nw, 2), fill(dy, ny, 3);
  /* references: im2col in float64, accumulating onto a known start */
  double *y_ref = eq_malloc(ny * 8), *dx_ref = eq_malloc(nx * 8), *dw_ref = eq_malloc(nw * 8);
  eq_conv_algo = EQ_CONV_IM2COL;
  eq_conv_forward_f64(&g, x, w, y_ref, 0);
  for (size_t i = 0; i < nx; i++) dx_ref[i] = 0.5;
  for (size_t i = 0; i < nw; i++) dw_ref[i] = -0.25;
  eq_conv_backward_data_f64(&g, dy, w, dx_ref);
  eq_conv_backward_weight_f64(&g, x, dy, dw_ref);

  eq_conv_algo = EQ_CONV_WINOGRAD;
  eq_conv_wino_block_bytes = block_bytes;
  CHECK(eq_conv_winograd_applies(&g));
  double *y = eq_malloc(ny * 8), *dx = eq_malloc(nx * 8), *dw = eq_malloc(nw * 8);
  for (size_t i = 0; i < ny; i++) y[i] = 99; /* overwritten */
  for (size_t i = 0; i < nx; i++) dx[i] = 0.5;
  for (size_t i = 0; i < nw; i++) dw[i] = -0.25;
  eq_conv_forward_f64(&g, x, w, y, 0);
  eq_conv_backward_data_f64(&g, dy, w, dx);
  eq_conv_backward_weight_f64(&g, x, dy, dw);
  char what[128];
  snprintf(what, sizeof what, "N%d C%d %dx%d Co%d pad %d,%d block %zu", c->N, c->C, c->H, c->W, c->Co, c->ph, c->pw,
           block_bytes);
  CHECK_MSG(rel_err_f64(y, y_ref, ny) < 1e-12, "%s: f64 forward error %g", what, rel_err_f64(y, y_ref, ny));
  CHECK_MSG(rel_err_f64(dx, dx_ref, nx) < 1e-12, "%s: f64 backward-data error %g", what, rel_err_f64(dx, dx_ref, nx));
  CHECK_MSG(rel_err_f64(dw, dw_ref, nw) < 1e-12, "%s: f64 backward-weight error %g", what,
            rel_err_f64(dw, dw_ref, nw));
  /* forward accumulate: y += conv */
  eq_conv_forward_f64(&g, x, w, y, 1);
  for (size_t i = 0; i < ny; i++) y[i] -= 2 * y_ref[i];
  CHECK_MSG(max_abs(y, ny) < 1e-12 * max_abs(y_ref, ny), "%s: f64 forward accumulate", what);

  /* float32: within a few ulps of the float64 result, relative to its scale */
  float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *dyf = to_f32(dy, ny);
  float *yf = eq_malloc(ny * 4), *dxf = eq_malloc(nx * 4), *dwf = eq_malloc(nw * 4);
  for (size_t i = 0; i < nx; i++) dxf[i] = 0.5f;
  for (size_t i = 0; i < nw; i++) dwf[i] = -0.25f;
  eq_conv_forward_f32(&g, xf, wf, yf, 0);
  eq_conv_backward_data_f32(&g, dyf, wf, dxf);
  eq_conv_backward_weight_f32(&g, xf, dyf, dwf);
  CHECK_MSG(rel_err_f32(yf, y_ref, ny) < 2e-5, "%s: f32 forward error %g", what, rel_err_f32(yf, y_ref, ny));
  CHECK_MSG(rel_err_f32(dxf, dx_ref, nx) < 2e-5, "%s: f32 backward-data error %g", what,
            rel_err_f32(dxf, dx_ref, nx));
  CHECK_MSG(rel_err_f32(dwf, dw_ref, nw) < 2e-5, "%s: f32 backward-weight error %g", what,
            rel_err_f32(dwf, dw_ref, nw));
  eq_conv_algo = EQ_CONV_AUTO;
  eq_conv_wino_block_bytes = EQ_CONV_WINO_BLOCK_BYTES;
  eq_free(x), eq_free(w), eq_free(dy), eq_free(y_ref), eq_free(dx_ref), eq_free(dw_ref);
  eq_free(y), eq_free(dx), eq_free(dw), eq_free(xf), eq_free(wf), eq_free(dyf), eq_free(yf), eq_free(dxf), eq_free(dwf);
}

typedef struct conv_case {
  bool transposed;
  int pad;
} conv_case;
static eq_tensor *f_conv(eq_tensor *const *in, void *ctx) {
  const conv_case *c = ctx;
  eq_conv2d_params p = {{1, 1}, {c->pad, c->pad}, {1, 1}, 1, {0, 0}};
  return c->transposed ? eq_conv_transpose2d(in[0], in[1], in[2], &p) : eq_conv2d(in[0], in[1], in[2], &p);
}

static eq_tensor *param(int ndim, const int64_t *shape, uint64_t seed) {
  eq_tensor *t = eq_rand_normal(EQ_F64, ndim, shape, 0, 1, seed, 0);
  eq_set_requires_grad(t, true);
  return t;
}
#define PARAM(seed, ...) param(EQ_DIMS(__VA_ARGS__), seed)

int main(void) {
  const geo geos[] = {
      {2, 8, 16, 16, 8, 1, 1},  /* m = 4, aligned */
      {3, 9, 7, 5, 10, 1, 1},   /* ragged tiles, channels off the lanes */
      {1, 8, 2, 2, 16, 1, 1},   /* m = 2, one tile */
      {2, 12, 3, 3, 8, 1, 1},   /* m = 2, ragged */
      {2, 8, 6, 9, 8, 0, 2},    /* mixed padding */
      {2, 8, 5, 5, 8, 2, 2},    /* padding 2: backward-data pads 0 */
      {1, 17, 4, 4, 33, 1, 1},  /* slab remainders */
      {2, 40, 9, 11, 24, 1, 0}, /* several lane groups */
      {16, 8, 4, 4, 8, 1, 1},   /* whole 16 x 16 blocks for the lane rearrangement */
      {17, 32, 5, 7, 8, 1, 1},  /* whole and partial blocks, a partial image group */
  };
  for (size_t i = 0; i < sizeof geos / sizeof *geos; i++) check_geometry(&geos[i], EQ_CONV_WINO_BLOCK_BYTES);
  /* Tiny budgets: blocks of the 64-tile minimum, so several blocks (and
   * the weight gradient accumulated across them). */
  const geo many[] = {{3, 8, 20, 20, 8, 1, 1}, {4, 8, 33, 17, 40, 1, 1}, {40, 32, 3, 3, 8, 1, 1}};
  for (size_t i = 0; i < sizeof many / sizeof *many; i++) check_geometry(&many[i], 1024);
  /* The ops end to end through autograd, Winograd forced. */
  eq_conv_algo = EQ_CONV_WINOGRAD;
  for (int t = 0; t < 2; t++)
    for (int pad = 0; pad <= 2; pad++) {
      conv_case c = {t == 1, pad};
      if (c.transposed && pad == 2) continue; /* output would be smaller than the 3x3 kernel */
      eq_tensor *in[3] = {PARAM(1 + pad, 2, 8, 6, 5), PARAM(2 + pad, 8, 8, 3, 3), PARAM(3 + pad, 8)};
      eq_gradcheck_opts o = {1e-6, 1e-6, 1e-5, 7, 64};
      eq_status st = eq_gradcheck(f_conv, &c, 3, in, &o);
      CHECK_MSG(st == EQ_OK, "%s pad %d: %s", t ? "conv_transpose2d" : "conv2d", pad, eq_error_message());
      for (int k = 0; k < 3; k++) eq_tensor_free(in[k]);
    }
  eq_conv_algo = EQ_CONV_AUTO;
  return EQ_TEST_SUMMARY();
}
