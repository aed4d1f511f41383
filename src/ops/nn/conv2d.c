/* eq_conv2d and eq_conv_transpose2d: argument checks, bias, autograd.
 * The transposed convolution is the adjoint of a convolution, so both run on
 * the same three kernels (conv_kernels.c) with roles swapped. */
#include <stdio.h>

#include "ops/nn/conv_geom.h"
#include "ops/nn/nn_common.h"

typedef struct conv_ctx {
  eq_conv_geom g;
  bool transposed;
} conv_ctx;

static int norm1(int v) { return v <= 0 ? 1 : v; }

/* out[n][c][:] += b[c] */
static void add_bias(eq_tensor *out, const eq_tensor *b) {
  int64_t N = out->shape[0], C = out->shape[1], L = out->shape[2] * out->shape[3];
  if (out->dtype == EQ_F32) {
    float *y = eq_f32(out);
    const float *bb = eq_f32(b);
#pragma omp parallel for schedule(static) if (N * C * L > 32768)
    for (int64_t nc = 0; nc < N * C; nc++) {
      float v = bb[nc % C], *r = y + nc * L;
      for (int64_t l = 0; l < L; l++) r[l] += v;
    }
  } else {
    double *y = eq_f64(out);
    const double *bb = eq_f64(b);
#pragma omp parallel for schedule(static) if (N * C * L > 32768)
    for (int64_t nc = 0; nc < N * C; nc++) {
      double v = bb[nc % C], *r = y + nc * L;
      for (int64_t l = 0; l < L; l++) r[l] += v;
    }
  }
}

/* db[c] += sum over n, spatial of dy[n][c] */
static void bias_grad(const eq_tensor *dy, eq_tensor *db) {
  int64_t N = dy->shape[0], C = dy->shape[1], L = dy->shape[2] * dy->shape[3];
#pragma omp parallel for schedule(static) if (N * C * L > 32768)
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    for (int64_t n = 0; n < N; n++) {
      if (dy->dtype == EQ_F32) {
        const float *r = eq_f32(dy) + (n * C + c) * L;
        float part = 0;
#pragma omp simd reduction(+ : part)
        for (int64_t l = 0; l < L; l++) part += r[l];
        s += part;
      } else {
        const double *r = eq_f64(dy) + (n * C + c) * L;
#pragma omp simd reduction(+ : s)
        for (int64_t l = 0; l < L; l++) s += r[l];
      }
    }
    if (db->dtype == EQ_F32)
      eq_f32(db)[c] += (float)s;
    else
      eq_f64(db)[c] += s;
  }
}

static void run_forward(const eq_conv_geom *g, const eq_tensor *x, const eq_tensor *w, eq_tensor *y, int acc) {
  if (x->dtype == EQ_F32)
    eq_conv_forward_f32(g, eq_f32(x), eq_f32(w), eq_f32(y), acc);
  else
    eq_conv_forward_f64(g, eq_f64(x), eq_f64(w), eq_f64(y), acc);
}
static void run_backward_data(const eq_conv_geom *g, const eq_tensor *dy, const eq_tensor *w, eq_tensor *dx) {
  if (dy->dtype == EQ_F32)
    eq_conv_backward_data_f32(g, eq_f32(dy), eq_f32(w), eq_f32(dx));
  else
    eq_conv_backward_data_f64(g, eq_f64(dy), eq_f64(w), eq_f64(dx));
}
static void run_backward_weight(const eq_conv_geom *g, const eq_tensor *x, const eq_tensor *dy, eq_tensor *dw) {
  if (x->dtype == EQ_F32)
    eq_conv_backward_weight_f32(g, eq_f32(x), eq_f32(dy), eq_f32(dw));
  else
    eq_conv_backward_weight_f64(g, eq_f64(x), eq_f64(dy), eq_f64(dw));
}

/* Reserves the largest workspace any of the kernels will ask for, so they
 * cannot fail half-way. */
static eq_status reserve(const char *op, const eq_conv_geom *g, size_t elem) {
  size_t need = 0, need_each = 0;
  for (int k = 0; k < 3; k++) {
    size_t b = eq_conv_workspace_bytes(g, k, elem), t = eq_conv_thread_workspace_bytes(g, k, elem);
    if (b > need) need = b;
    if (t > need_each) need_each = t;
  }
  if (!eq_nn_workspace(need) || !eq_nn_thread_workspaces(need_each, omp_get_max_threads())) {
    eq_error_context("%s: ", op);
    return eq_error_code();
  }
  return EQ_OK;
}

/* No multiply-adds at all (an empty batch, map or channel set): BLAS would
 * reject the zero leading dimensions, so the kernels are skipped. */
static bool conv_empty(const eq_conv_geom *g) { return g->N * g->Co * g->Ho * g->Wo * g->C == 0; }

static eq_status conv_backward(eq_node *node) {
  const conv_ctx *c = node->ctx;
  eq_tensor *x = node->inputs[0], *w = node->inputs[1], *dy = node->out->grad;
  eq_tensor *dx = eq_nn_grad_of(node, 0), *dw = eq_nn_grad_of(node, 1), *db = eq_nn_grad_of(node, 2);
  if ((x->requires_grad && !dx) || (w->requires_grad && !dw) || (node->n_inputs > 2 && node->inputs[2]->requires_grad && !db))
    return eq_error_code();
  if (reserve(node->op, &c->g, eq_dtype_size(x->dtype))) return eq_error_code();
  if (conv_empty(&c->g)) {
    /* no products: only the bias has a gradient */
  } else if (!c->transposed) {
    if (dx) run_backward_data(&c->g, dy, w, dx);
    if (dw) run_backward_weight(&c->g, x, dy, dw);
  } else {
    /* y = conv^T(x): dx = conv(dy), dw from (conv input dy, conv output-grad x). */
    if (dx) run_forward(&c->g, dy, w, dx, 1);
    if (dw) run_backward_weight(&c->g, dy, x, dw);
  }
  if (db) bias_grad(dy, db);
  return EQ_OK;
}

/* Shared checks; fills everything of g but the spatial sizes. */
static eq_status check_common(const char *op, const eq_tensor *x, const eq_tensor *w, const eq_tensor *b,
                              const eq_conv2d_params *p, int64_t bias_len) {
  char bw[96], bb[96];
  if (eq_nn_check(op, "input", x, 4, -1) || eq_nn_check(op, "weight", w, 4, x->dtype)) return eq_error_code();
  if (b && eq_nn_check(op, "bias", b, 1, x->dtype)) return eq_error_code();
  if (b && b->shape[0] != bias_len)
    return eq_error(EQ_ERR_SHAPE, "%s: bias has shape %s; [%lld] expected for weight %s", op,
                    eq_shape_str(b, bb, sizeof bb), (long long)bias_len, eq_shape_str(w, bw, sizeof bw));
  if (p) {
    for (int d = 0; d < 2; d++)
      if (p->stride[d] < 0 || p->padding[d] < 0 || p->dilation[d] < 0 || p->output_padding[d] < 0)
        return eq_error(EQ_ERR_VALUE, "%s: negative stride/padding/dilation/output_padding (%d, %d, %d, %d)", op,
                        p->stride[d], p->padding[d], p->dilation[d], p->output_padding[d]);
    if (p->groups < 0) return eq_error(EQ_ERR_VALUE, "%s: groups %d is negative", op, p->groups);
  }
  return EQ_OK;
}

static void fill_params(eq_conv_geom *g, const eq_conv2d_params *p, const eq_tensor *w) {
  g->kh = w->shape[2];
  g->kw = w->shape[3];
  g->sh = norm1(p ? p->stride[0] : 1);
  g->sw = norm1(p ? p->stride[1] : 1);
  g->ph = p ? p->padding[0] : 0;
  g->pw = p ? p->padding[1] : 0;
  g->dh = norm1(p ? p->dilation[0] : 1);
  g->dw = norm1(p ? p->dilation[1] : 1);
  g->groups = norm1(p ? p->groups : 1);
}

static eq_tensor *finish(const char *op, eq_tensor *x, eq_tensor *w, eq_tensor *b, eq_tensor *y, const eq_conv_geom *g,
                         bool transposed) {
  if (b) add_bias(y, b);
  eq_tensor *ins[3] = {x, w, b};
  eq_node *node = eq_tape_record(op, y, b ? 3 : 2, ins, conv_backward);
  if (node) {
    conv_ctx *c = eq_node_alloc_ctx(node, sizeof *c);
    if (!c) return NULL;
    c->g = *g;
    c->transposed = transposed;
  } else if (eq_needs_grad(b ? 3 : 2, ins)) {
    return NULL;
  }
  return y;
}

eq_tensor *eq_conv2d(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, const eq_conv2d_params *p) {
  const char *op = "conv2d";
  if (check_common(op, x, weight, bias, p, weight ? weight->shape[0] : 0)) return NULL;
  eq_conv_geom g;
  fill_params(&g, p, weight);
  char bx[96], bw[96];
  g.N = x->shape[0];
  g.C = x->shape[1];
  g.H = x->shape[2];
  g.W = x->shape[3];
  g.Co = weight->shape[0];
  if (g.C % g.groups || g.Co % g.groups || weight->shape[1] * g.groups != g.C) {
    eq_error(EQ_ERR_SHAPE, "conv2d: input %s and weight %s do not match with groups=%lld (weight dim 1 x groups must be the input channels, and groups must divide both channel counts)",
             eq_shape_str(x, bx, sizeof bx), eq_shape_str(weight, bw, sizeof bw), (long long)g.groups);
    return NULL;
  }
  int64_t eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1;
  if (g.kh < 1 || g.kw < 1 || eh > g.H + 2 * g.ph || ew > g.W + 2 * g.pw) {
    eq_error(EQ_ERR_SHAPE, "conv2d: kernel %lldx%lld (dilated %lldx%lld) is larger than the padded input %lldx%lld (input %s, weight %s)",
             (long long)g.kh, (long long)g.kw, (long long)eh, (long long)ew, (long long)(g.H + 2 * g.ph),
             (long long)(g.W + 2 * g.pw), eq_shape_str(x, bx, sizeof bx), eq_shape_str(weight, bw, sizeof bw));
    return NULL;
  }
  g.Ho = (g.H + 2 * g.ph - eh) / g.sh + 1;
  g.Wo = (g.W + 2 * g.pw - ew) / g.sw + 1;
  eq_tensor *xc = eq_nn_contig(x), *wc = eq_nn_contig(weight), *bc = eq_nn_contig(bias);
  if (!xc || !wc || (bias && !bc)) return NULL;
  if (reserve(op, &g, eq_dtype_size(x->dtype))) return NULL;
  eq_tensor *y = eq_empty(x->dtype, EQ_DIMS(g.N, g.Co, g.Ho, g.Wo));
  if (!y) return NULL;
  if (!conv_empty(&g))
    run_forward(&g, xc, wc, y, 0);
  else if (eq_fill_(y, 0))
    return NULL;
  return finish(op, xc, wc, bc, y, &g, false);
}

eq_tensor *eq_conv_transpose2d(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, const eq_conv2d_params *p) {
  const char *op = "conv_transpose2d";
  int groups = norm1(p ? p->groups : 1);
  if (check_common(op, x, weight, bias, p, weight ? weight->shape[1] * groups : 0)) return NULL;
  eq_conv_geom g;
  fill_params(&g, p, weight);
  char bx[96], bw[96];
  /* As a convolution: its output is x, its input the transposed output. */
  g.N = x->shape[0];
  g.Co = x->shape[1];
  g.Ho = x->shape[2];
  g.Wo = x->shape[3];
  g.C = weight->shape[1] * g.groups;
  if (weight->shape[0] != g.Co || g.Co % g.groups) {
    eq_error(EQ_ERR_SHAPE, "conv_transpose2d: input %s and weight %s do not match with groups=%lld (weight dim 0 must be the input channels, divisible by groups)",
             eq_shape_str(x, bx, sizeof bx), eq_shape_str(weight, bw, sizeof bw), (long long)g.groups);
    return NULL;
  }
  int oph = p ? p->output_padding[0] : 0, opw = p ? p->output_padding[1] : 0;
  if ((oph >= g.sh && oph >= g.dh) || (opw >= g.sw && opw >= g.dw)) {
    eq_error(EQ_ERR_VALUE, "conv_transpose2d: output_padding (%d, %d) must be smaller than stride (%lld, %lld) or dilation (%lld, %lld)",
             oph, opw, (long long)g.sh, (long long)g.sw, (long long)g.dh, (long long)g.dw);
    return NULL;
  }
  g.H = (g.Ho - 1) * g.sh - 2 * g.ph + g.dh * (g.kh - 1) + oph + 1;
  g.W = (g.Wo - 1) * g.sw - 2 * g.pw + g.dw * (g.kw - 1) + opw + 1;
  if (g.kh < 1 || g.kw < 1 || g.H < 1 || g.W < 1) {
    eq_error(EQ_ERR_SHAPE, "conv_transpose2d: output size %lldx%lld is not positive (input %s, weight %s, padding %lld, %lld)",
             (long long)g.H, (long long)g.W, eq_shape_str(x, bx, sizeof bx), eq_shape_str(weight, bw, sizeof bw),
             (long long)g.ph, (long long)g.pw);
    return NULL;
  }
  eq_tensor *xc = eq_nn_contig(x), *wc = eq_nn_contig(weight), *bc = eq_nn_contig(bias);
  if (!xc || !wc || (bias && !bc)) return NULL;
  if (reserve(op, &g, eq_dtype_size(x->dtype))) return NULL;
  eq_tensor *y = eq_zeros(x->dtype, EQ_DIMS(g.N, g.C, g.H, g.W));
  if (!y) return NULL;
  if (!conv_empty(&g)) run_backward_data(&g, xc, wc, y);
  return finish(op, xc, wc, bc, y, &g, true);
}
