/* eq_upsample_nearest2d and eq_upsample_bilinear2d (NCHW), with PyTorch's
 * source-index rules (legacy "nearest": floor(dst * in/out) in float). Both
 * are separable: per output row/column two source indices and two weights
 * (nearest: one index, weight 1), computed once per call. */
#include <math.h>

#include "ops/nn/nn_common.h"

typedef struct up_ctx {
  int64_t planes, H, W, Ho, Wo;
  bool bilinear, align_corners;
} up_ctx;

typedef struct axis_map {
  int64_t *i0, *i1;
  double *l0, *l1;
} axis_map;

static int64_t nearest_src(int64_t dst, int64_t in, int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  float scale = (float)in / (float)out;
  int64_t s = (int64_t)floorf((float)dst * scale);
  return s < in - 1 ? s : in - 1;
}

static void build_axis(const up_ctx *c, int64_t in, int64_t out, axis_map *m) {
  double scale;
  if (c->align_corners)
    scale = out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0;
  else
    scale = (double)in / (double)out;
  for (int64_t d = 0; d < out; d++) {
    if (!c->bilinear) {
      m->i0[d] = m->i1[d] = nearest_src(d, in, out);
      m->l0[d] = 1;
      m->l1[d] = 0;
      continue;
    }
    double src = c->align_corners ? scale * (double)d : scale * ((double)d + 0.5) - 0.5;
    if (src < 0) src = 0;
    int64_t i = (int64_t)src;
    if (i > in - 1) i = in - 1;
    double lam = src - (double)i;
    if (lam < 0) lam = 0;
    if (lam > 1) lam = 1;
    m->i0[d] = i;
    m->i1[d] = i < in - 1 ? i + 1 : i;
    m->l0[d] = 1 - lam;
    m->l1[d] = lam;
  }
}

/* Carves both axes' maps out of one workspace block. */
static eq_status build_maps(const up_ctx *c, axis_map *mh, axis_map *mw) {
  size_t n = (size_t)(c->Ho + c->Wo);
  char *ws = eq_nn_workspace(n * 2 * (sizeof(int64_t) + sizeof(double)));
  if (!ws) return eq_error_code();
  int64_t *ip = (int64_t *)ws;
  double *dp = (double *)(ip + 2 * n);
  mh->i0 = ip, mh->i1 = ip + c->Ho, mw->i0 = ip + 2 * c->Ho, mw->i1 = ip + 2 * c->Ho + c->Wo;
  mh->l0 = dp, mh->l1 = dp + c->Ho, mw->l0 = dp + 2 * c->Ho, mw->l1 = dp + 2 * c->Ho + c->Wo;
  build_axis(c, c->H, c->Ho, mh);
  build_axis(c, c->W, c->Wo, mw);
  return EQ_OK;
}

#define UP_KERNELS(T, SFX)                                                                                   \
  static void fwd##SFX(const up_ctx *c, const axis_map *mh, const axis_map *mw, const T *x, T *y) {         \
    _Pragma("omp parallel for schedule(static) if (c->planes * c->Ho * c->Wo > 16384)")                     \
    for (int64_t pl = 0; pl < c->planes; pl++) {                                                            \
      const T *xp = x + pl * c->H * c->W;                                                                    \
      T *yp = y + pl * c->Ho * c->Wo;                                                                        \
      for (int64_t oh = 0; oh < c->Ho; oh++) {                                                               \
        const T *r0 = xp + mh->i0[oh] * c->W, *r1 = xp + mh->i1[oh] * c->W;                                  \
        T a0 = (T)mh->l0[oh], a1 = (T)mh->l1[oh];                                                            \
        T *yr = yp + oh * c->Wo;                                                                             \
        if (!c->bilinear)                                                                                    \
          for (int64_t ow = 0; ow < c->Wo; ow++) yr[ow] = r0[mw->i0[ow]];                                    \
        else                                                                                                 \
          for (int64_t ow = 0; ow < c->Wo; ow++) {                                                           \
            int64_t j0 = mw->i0[ow], j1 = mw->i1[ow];                                                        \
            T b0 = (T)mw->l0[ow], b1 = (T)mw->l1[ow];                                                        \
            yr[ow] = a0 * (b0 * r0[j0] + b1 * r0[j1]) + a1 * (b0 * r1[j0] + b1 * r1[j1]);                    \
          }                                                                                                  \
      }                                                                                                      \
    }                                                                                                        \
  }                                                                                                          \
  static void bwd##SFX(const up_ctx *c, const axis_map *mh, const axis_map *mw, const T *dy, T *dx) {       \
    _Pragma("omp parallel for schedule(static) if (c->planes * c->Ho * c->Wo > 16384)")                     \
    for (int64_t pl = 0; pl < c->planes; pl++) {                                                            \
      T *dp = dx + pl * c->H * c->W;                                                                         \
      const T *gp = dy + pl * c->Ho * c->Wo;                                                                 \
      for (int64_t oh = 0; oh < c->Ho; oh++) {                                                               \
        T *r0 = dp + mh->i0[oh] * c->W, *r1 = dp + mh->i1[oh] * c->W;                                        \
        T a0 = (T)mh->l0[oh], a1 = (T)mh->l1[oh];                                                            \
        const T *gr = gp + oh * c->Wo;                                                                       \
        if (!c->bilinear)                                                                                    \
          for (int64_t ow = 0; ow < c->Wo; ow++) r0[mw->i0[ow]] += gr[ow];                                   \
        else                                                                                                 \
          for (int64_t ow = 0; ow < c->Wo; ow++) {                                                           \
            int64_t j0 = mw->i0[ow], j1 = mw->i1[ow];                                                        \
            T b0 = (T)mw->l0[ow], b1 = (T)mw->l1[ow], v = gr[ow];                                            \
            r0[j0] += a0 * b0 * v;                                                                           \
            r0[j1] += a0 * b1 * v;                                                                           \
            r1[j0] += a1 * b0 * v;                                                                           \
            r1[j1] += a1 * b1 * v;                                                                           \
          }                                                                                                  \
      }                                                                                                      \
    }                                                                                                        \
  }

UP_KERNELS(float, _f32)
UP_KERNELS(double, _f64)

static eq_status up_backward(eq_node *node) {
  const up_ctx *c = node->ctx;
  eq_tensor *dx = eq_nn_grad_of(node, 0), *dy = node->out->grad;
  if (!dx) return eq_error_code();
  axis_map mh, mw;
  if (build_maps(c, &mh, &mw)) return eq_error_code();
  if (dx->dtype == EQ_F32)
    bwd_f32(c, &mh, &mw, eq_f32(dy), eq_f32(dx));
  else
    bwd_f64(c, &mh, &mw, eq_f64(dy), eq_f64(dx));
  return EQ_OK;
}

static eq_tensor *upsample(const char *op, eq_tensor *x, int out_h, int out_w, bool bilinear, bool align_corners) {
  if (eq_nn_check(op, "input", x, 4, -1)) return NULL;
  char b[96];
  if (out_h < 1 || out_w < 1) {
    eq_error(EQ_ERR_VALUE, "%s: output size (%d, %d) must be positive", op, out_h, out_w);
    return NULL;
  }
  if (x->shape[2] < 1 || x->shape[3] < 1) {
    eq_error(EQ_ERR_SHAPE, "%s: input %s has an empty plane", op, eq_shape_str(x, b, sizeof b));
    return NULL;
  }
  up_ctx c = {x->shape[0] * x->shape[1], x->shape[2], x->shape[3], out_h, out_w, bilinear, align_corners};
  eq_tensor *xc = eq_nn_contig(x);
  if (!xc) return NULL;
  eq_tensor *y = eq_empty(x->dtype, EQ_DIMS(x->shape[0], x->shape[1], out_h, out_w));
  if (!y) return NULL;
  axis_map mh, mw;
  if (build_maps(&c, &mh, &mw)) return NULL;
  if (x->dtype == EQ_F32)
    fwd_f32(&c, &mh, &mw, eq_f32(xc), eq_f32(y));
  else
    fwd_f64(&c, &mh, &mw, eq_f64(xc), eq_f64(y));
  eq_node *node = eq_tape_record(op, y, 1, &xc, up_backward);
  if (!node && eq_needs_grad(1, &xc)) return NULL;
  if (node) {
    up_ctx *saved = eq_node_alloc_ctx(node, sizeof *saved);
    if (!saved) return NULL;
    *saved = c;
  }
  return y;
}

eq_tensor *eq_upsample_nearest2d(eq_tensor *x, int out_h, int out_w) {
  return upsample("upsample_nearest2d", x, out_h, out_w, false, false);
}

eq_tensor *eq_upsample_bilinear2d(eq_tensor *x, int out_h, int out_w, bool align_corners) {
  return upsample("upsample_bilinear2d", x, out_h, out_w, true, align_corners);
}
