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
    if (is_max)
      max_fwd_f32(g, eq_f32(xc), eq_f32(y), idx);
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
