/* Geometry of a 2-d convolution seen as GEMMs over im2col columns; shared by
 * conv2d and conv_transpose2d (whose forward is conv2d's backward-data). */
#ifndef EQ_OPS_NN_CONV_GEOM_H
#define EQ_OPS_NN_CONV_GEOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct eq_conv_geom {
  int64_t N, C, H, W; /* the convolution's input */
  int64_t Co, Ho, Wo; /* its output */
  int64_t kh, kw, sh, sw, ph, pw, dh, dw, groups;
} eq_conv_geom;

/* Kernels, for float (_f32) and double (_f64). All run OpenMP over batch
 * tiles with single-threaded BLAS inside.
 *  forward:      y  = conv(x, w)         (accumulate: y += conv(x, w))
 *  backward_data:  dx += conv^T(dy, w)
 *  backward_weight: dw += sum over the batch of dy (x) im2col(x) */
void eq_conv_forward_f32(const eq_conv_geom *g, const float *x, const float *w, float *y, int accumulate);
void eq_conv_backward_data_f32(const eq_conv_geom *g, const float *dy, const float *w, float *dx);
void eq_conv_backward_weight_f32(const eq_conv_geom *g, const float *x, const float *dy, float *dw);
void eq_conv_forward_f64(const eq_conv_geom *g, const double *x, const double *w, double *y, int accumulate);
void eq_conv_backward_data_f64(const eq_conv_geom *g, const double *dy, const double *w, double *dx);
void eq_conv_backward_weight_f64(const eq_conv_geom *g, const double *x, const double *dy, double *dw);
/* Workspace bytes each kernel needs, shared (eq_nn_workspace) and on each
 * thread (eq_nn_thread_workspace), so the op can fail cleanly before
 * starting. */
size_t eq_conv_workspace_bytes(const eq_conv_geom *g, int kind, size_t elem);
size_t eq_conv_thread_workspace_bytes(const eq_conv_geom *g, int kind, size_t elem);

/* Which algorithm the kernels above use for the convolutions Winograd can
 * do (3x3, stride 1, undilated, ungrouped, padding <= 2): EQ_CONV_AUTO picks
 * Winograd when both channel counts are >= 32, EQ_CONV_IM2COL never,
 * EQ_CONV_WINOGRAD whenever it can. Library-internal: tests and benchmarks
 * set it to compare the two paths. Not thread-safe to change mid-run. */
enum { EQ_CONV_AUTO, EQ_CONV_IM2COL, EQ_CONV_WINOGRAD };
extern int eq_conv_algo;
/* Bytes of transformed tiles per Winograd block; tests lower it to
 * exercise blocking. */
#define EQ_CONV_WINO_BLOCK_BYTES (2u << 20)
extern size_t eq_conv_wino_block_bytes;
bool eq_conv_winograd_applies(const eq_conv_geom *g);
size_t eq_conv_wino_workspace_bytes(const eq_conv_geom *g, int kind, size_t elem);
size_t eq_conv_wino_thread_workspace_bytes(const eq_conv_geom *g, int kind, size_t elem);
void eq_conv_wino_forward_f32(const eq_conv_geom *g, const float *x, const float *w, float *y, int accumulate);
void eq_conv_wino_backward_data_f32(const eq_conv_geom *g, const float *dy, const float *w, float *dx);
void eq_conv_wino_backward_weight_f32(const eq_conv_geom *g, const float *x, const float *dy, float *dw);
void eq_conv_wino_forward_f64(const eq_conv_geom *g, const double *x, const double *w, double *y, int accumulate);
void eq_conv_wino_backward_data_f64(const eq_conv_geom *g, const double *dy, const double *w, double *dx);
void eq_conv_wino_backward_weight_f64(const eq_conv_geom *g, const double *x, const double *dy, double *dw);

/* Convolutions into output maps of at most 2 x 2 pixels (any kernel but
 * 1x1, any stride, padding and dilation; ungrouped) as float32
 * register-tile products over the taps that land inside the input, each
 * tap of the weights read in place (conv_tiny_maps.c). The float32 kernels
 * above take them where eq_conv_tiny_maps_applies (with eq_conv_algo AUTO
 * and AVX-512), before Winograd and im2col. Same contracts as the kernels
 * above. */
bool eq_conv_tiny_maps_applies(const eq_conv_geom *g);
size_t eq_conv_tiny_maps_workspace_bytes(const eq_conv_geom *g, int kind);
void eq_conv_tiny_forward_f32(const eq_conv_geom *g, const float *x, const float *w, float *y, int accumulate);
void eq_conv_tiny_backward_data_f32(const eq_conv_geom *g, const float *dy, const float *w, float *dx);
void eq_conv_tiny_backward_weight_f32(const eq_conv_geom *g, const float *x, const float *dy, float *dw);
#endif
