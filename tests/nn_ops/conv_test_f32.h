/* The float32 convolution kernels against the float64 im2col kernels, for
 * the tests of one float32 path each (test_conv_tiny_maps.c,
 * test_conv_im2col_f32.c): forward (fresh, written over NaN, and
 * accumulating), backward-data and backward-weight onto known starting
 * buffers, at 1, 2 and 3 threads, and the same bits from two forwards. The
 * caller sets eq_conv_algo's choice and checks that its path applies. */
#ifndef EQ_TESTS_CONV_TEST_F32_H
#define EQ_TESTS_CONV_TEST_F32_H

#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "conv_test_arrays.h"
#include "eq_test.h"
#include "ops/nn/conv_geom.h"

/* Square kernel k, stride s, padding pad, dilation dil; groups (0: 1). */
typedef struct geo {
  int N, C, H, W, Co, k, s, pad, dil, groups;
} geo;

static inline eq_conv_geom geom_of(const geo *c) {
  int k = c->k, s = c->s, pad = c->pad, dil = c->dil;
  eq_conv_geom g = {c->N, c->C, c->H, c->W, c->Co, 0, 0, k, k, s, s, pad, pad, dil, dil, c->groups ? c->groups : 1};
  g.Ho = (g.H + 2 * pad - dil * (k - 1) - 1) / s + 1;
  g.Wo = (g.W + 2 * pad - dil * (k - 1) - 1) / s + 1;
  return g;
}

static inline void geo_name(const geo *c, const eq_conv_geom *g, char *what, size_t n) {
  snprintf(what, n, "N%d C%d %dx%d Co%d k%lld s%lld p%lld d%lld g%lld", c->N, c->C, c->H, c->W, c->Co,
           (long long)g->kh, (long long)g->sh, (long long)g->ph, (long long)g->dh, (long long)g->groups);
}

/* The kernels eq_conv_algo chooses now, in float32, against the float64
 * im2col kernels. */
static void check_f32_against_f64(const eq_conv_geom *gp, const char *what) {
  const eq_conv_geom g = *gp;
  const int algo = eq_conv_algo;
  size_t nx = (size_t)(g.N * g.C * g.H * g.W), nw = (size_t)(g.Co * g.C / g.groups * g.kh * g.kw),
         ny = (size_t)(g.N * g.Co * g.Ho * g.Wo);
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
  eq_conv_algo = algo;

  float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *dyf = to_f32(dy, ny);
  float *y0f = to_f32(y0, ny), *dx0f = to_f32(dx0, nx), *dw0f = to_f32(dw0, nw);
  float *yf = eq_malloc(ny * 4), *yaf = eq_malloc(ny * 4), *dxf = eq_malloc(nx * 4), *dwf = eq_malloc(nw * 4);
  int threads = omp_get_max_threads();
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
  omp_set_num_threads(threads);

  eq_free(x), eq_free(w), eq_free(dy), eq_free(y0), eq_free(dx0), eq_free(dw0);
  eq_free(y_ref), eq_free(ya_ref), eq_free(dx_ref), eq_free(dw_ref);
  eq_free(xf), eq_free(wf), eq_free(dyf), eq_free(y0f), eq_free(dx0f), eq_free(dw0f);
  eq_free(yf), eq_free(yaf), eq_free(dxf), eq_free(dwf), eq_free(y1), eq_free(y2);
}

#endif
