/* Float64 finite-difference checks of every NN op's backward, including
 * non-contiguous inputs, groups, dilation, stride, padding, output_padding,
 * batch tiles (N > threads with small maps) and masks. */
#include <stdint.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "ops/nn/nn_common.h"

static eq_tensor *param(int ndim, const int64_t *shape, uint64_t seed) {
  eq_tensor *t = eq_rand_normal(EQ_F64, ndim, shape, 0, 1, seed, 0);
  eq_set_requires_grad(t, true);
  return t;
}
#define PARAM(seed, ...) param(EQ_DIMS(__VA_ARGS__), seed)

static void check(const char *what, eq_gradcheck_fn fn, void *ctx, int n, eq_tensor **in) {
  eq_gradcheck_opts o = {1e-6, 1e-6, 1e-5, 3, 64};
  eq_status st = eq_gradcheck(fn, ctx, n, in, &o);
  CHECK_MSG(st == EQ_OK, "%s: %s", what, eq_error_message());
  for (int k = 0; k < n; k++) eq_tensor_free(in[k]);
}

/* ---- linear */
static eq_tensor *f_linear(eq_tensor *const *in, void *ctx) {
  eq_tensor *x = ctx ? eq_transpose(in[0], 0, 1) : in[0]; /* non-contiguous */
  return eq_linear(x, in[1], in[2]);
}

/* residual + linear; ctx non-NULL: without a bias, the residual a
 * transposed (non-contiguous) view */
static eq_tensor *f_linear_add(eq_tensor *const *in, void *ctx) {
  if (ctx) return eq_linear_add(in[0], in[1], NULL, eq_transpose(in[2], 0, 1));
  return eq_linear_add(in[0], in[1], in[3], in[2]);
}

/* residual + fc2(GELU(fc1(x))); ctx 1: no biases, x and the residual
 * transposed views; ctx 2: no residual; ctx 3: the residual is x itself
 * (in == out). Then the backward on the rows of dY that are not zero
 * (live_rows.h): ctx 4: only token 0 of each image reaches the output, as
 * a CLS-pooled ViT's last block; ctx 5: the same with no residual, and x's
 * gradient already holding token 0's when the MLP's backward adds to it
 * (in == out); ctx 6: dY all zero. */
static eq_tensor *f_mlp(eq_tensor *const *in, void *ctx) {
  switch ((int)(intptr_t)ctx) {
  case 1: return eq_mlp_gelu(eq_transpose(in[0], 0, 1), in[1], NULL, in[2], NULL, eq_transpose(in[3], 0, 1));
  case 2: return eq_mlp_gelu(in[0], in[1], in[2], in[3], in[4], NULL);
  case 3: return eq_mlp_gelu(in[0], in[1], in[2], in[3], in[4], in[0]);
  case 4: return eq_select(eq_mlp_gelu(in[0], in[1], in[2], in[3], in[4], in[5]), 1, 0);
  case 5: {
    eq_tensor *y = eq_select(eq_mlp_gelu(in[0], in[1], in[2], in[3], in[4], NULL), 1, 0);
    return eq_add(y, eq_select(in[0], 1, 0)); /* recorded last: its backward runs first */
  }
  case 6: return eq_mul_scalar(eq_mlp_gelu(in[0], in[1], in[2], in[3], in[4], in[5]), 0.0);
  default: return eq_mlp_gelu(in[0], in[1], in[2], in[3], in[4], in[5]);
  }
}

/* ---- conv */
typedef struct conv_case {
  eq_conv2d_params p;
  bool transposed, transpose_input, bias;
} conv_case;
static eq_tensor *f_conv(eq_tensor *const *in, void *ctx) {
  conv_case *c = ctx;
  eq_tensor *x = c->transpose_input ? eq_transpose(in[0], 2, 3) : in[0];
  eq_tensor *b = c->bias ? in[2] : NULL;
  return c->transposed ? eq_conv_transpose2d(x, in[1], b, &c->p) : eq_conv2d(x, in[1], b, &c->p);
}

/* ---- pooling and upsampling */
typedef struct pool_case {
  int kind; /* 0 max, 1 avg, 2 avg include pad, 3 adaptive, 4 nearest, 5 bilinear, 6 bilinear aligned */
  int k[2], s[2], p[2], out[2];
} pool_case;
static eq_tensor *f_pool(eq_tensor *const *in, void *ctx) {
  pool_case *c = ctx;
  eq_tensor *x = eq_transpose(in[0], 2, 3);
  switch (c->kind) {
  case 0: return eq_max_pool2d(x, c->k, c->s, c->p);
  case 1: return eq_avg_pool2d(x, c->k, c->s, c->p, false);
  case 2: return eq_avg_pool2d(x, c->k, c->s, c->p, true);
  case 3: return eq_adaptive_avg_pool2d(x, c->out[0], c->out[1]);
  case 4: return eq_upsample_nearest2d(x, c->out[0], c->out[1]);
  case 5: return eq_upsample_bilinear2d(x, c->out[0], c->out[1], false);
  default: return eq_upsample_bilinear2d(x, c->out[0], c->out[1], true);
  }
}

/* ---- normalisation */
typedef struct norm_case {
  bool training, affine, running;
} norm_case;
static eq_tensor *f_bn(eq_tensor *const *in, void *ctx) {
  norm_case *c = ctx;
  eq_tensor *rm = NULL, *rv = NULL;
  int64_t C = in[0]->shape[1];
  if (c->running) {
    rm = eq_full(EQ_F64, EQ_DIMS(C), 0.3);
    rv = eq_full(EQ_F64, EQ_DIMS(C), 1.7);
  }
  return eq_batch_norm(in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, rm, rv, c->training, 0.1, 1e-5);
}
/* relu(batch_norm(x) + residual): in[3] the residual, or (c->running
 * false and no in[3]) none; ctx's affine false: the residual is x itself. */
typedef struct bn_relu_case {
  norm_case norm;
  int residual; /* 0 none, 1 in[3], 2 x itself */
} bn_relu_case;
static eq_tensor *f_bn_relu(eq_tensor *const *in, void *ctx) {
  bn_relu_case *c = ctx;
  eq_tensor *rm = NULL, *rv = NULL;
  int64_t C = in[0]->shape[1];
  if (c->norm.running) {
    rm = eq_full(EQ_F64, EQ_DIMS(C), 0.3);
    rv = eq_full(EQ_F64, EQ_DIMS(C), 1.7);
  }
  eq_tensor *r = c->residual == 1 ? in[3] : c->residual == 2 ? in[0] : NULL;
  return eq_batch_norm_relu(in[0], c->norm.affine ? in[1] : NULL, c->norm.affine ? in[2] : NULL, rm, rv,
                            c->norm.training, 0.1, 1e-5, r);
}
static eq_tensor *f_ln(eq_tensor *const *in, void *ctx) {
  norm_case *c = ctx;
  eq_tensor *x = eq_transpose(in[0], 0, 1);
  return eq_layer_norm(x, c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, 1e-5);
}

/* ---- attention */
typedef struct att_case {
  eq_tensor *mask;
  double scale;
} att_case;
static eq_tensor *f_att(eq_tensor *const *in, void *ctx) {
  att_case *c = ctx;
  return eq_attention(in[0], in[1], in[2], c->mask, c->scale);
}

/* q, k, v selected from one permuted projection [N, T, 3, heads, hd], as a
 * ViT does: strided views used in place; ctx: an optional mask. */
static eq_tensor *f_att_qkv(eq_tensor *const *in, void *ctx) {
  eq_tensor *p = eq_permute(in[0], (int[]){2, 0, 3, 1, 4}); /* [3, N, heads, T, hd] */
  return eq_attention(eq_select(p, 0, 0), eq_select(p, 0, 1), eq_select(p, 0, 2), ctx, 0);
}
/* The fused form: qkv [..., T, 3 * heads * hd] straight in; ctx: an
 * optional mask. The input is viewed transposed twice (a non-contiguous
 * view of the same values) when it has 4 dims, to go through the copy. */
static eq_tensor *f_att_fused(eq_tensor *const *in, void *ctx) {
  eq_tensor *x = in[0]->ndim == 4 ? eq_transpose(eq_transpose(in[0], 0, 1), 0, 1) : in[0];
  eq_tensor *a = eq_attention_qkv(x, 2, ctx, 0);
  return in[0]->ndim == 4 ? eq_mul(a, a) : a; /* a non-uniform output gradient either way */
}
/* qkv projection and attention in one op: 2 heads; ctx 1: no bias and a
 * transposed (non-contiguous) input with two leading dims. */
static eq_tensor *f_qkv_att(eq_tensor *const *in, void *ctx) {
  if (ctx) {
    eq_tensor *x = eq_transpose(in[0], 0, 1);
    return eq_mul(eq_qkv_attention(x, in[1], NULL, 2, 0), x);
  }
  return eq_qkv_attention(in[0], in[1], in[2], 2, 0);
}
/* with the output projection: ctx 1 adds its bias and a residual */
static eq_tensor *f_self_att(eq_tensor *const *in, void *ctx) {
  if (ctx) return eq_self_attention(in[0], in[1], in[2], in[3], in[4], in[5], 2, 0);
  return eq_self_attention(in[0], in[1], NULL, in[2], NULL, NULL, 2, 0);
}
static eq_tensor *f_att_expanded(eq_tensor *const *in, void *ctx) {
  /* k broadcast over the heads (stride 0) and rows of stride 0: copied */
  eq_tensor *k = eq_expand(eq_unsqueeze(in[1], 1), EQ_DIMS(2, 3, 6, 4));
  eq_tensor *v = eq_expand(eq_unsqueeze(in[2], 2), EQ_DIMS(2, 3, 6, 3));
  return eq_attention(in[0], k, v, NULL, 0);
}

/* One tensor in several roles: the second gradient contribution must
 * accumulate onto the first (which may have been written fresh). */
static eq_tensor *f_shared(eq_tensor *const *in, void *ctx) {
  eq_tensor *x = in[0];
  switch ((int)(intptr_t)ctx) {
  case 0: return eq_linear(x, x, NULL);                                 /* x x^T */
  case 1: return eq_attention(x, x, x, NULL, 0);                        /* self-attention */
  case 2: return eq_conv2d(x, x, NULL, &(eq_conv2d_params){{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}});
  case 3: return eq_layer_norm(x, x, x, 1e-5);                          /* 1-d: one row */
  default: {
    eq_tensor *wb = eq_select(x, 0, 0); /* one view as weight and bias */
    return eq_batch_norm(x, wb, wb, NULL, NULL, true, 0.1, 1e-5);
  }
  }
}

static void attention_checks(void) {
  eq_tensor *in[6];
  /* attention: Lq != Lk, Dv != D, leading [2, 3]; no mask, bool mask
   * broadcast over heads (one row fully masked), float mask. */
  in[0] = PARAM(110, 2, 3, 5, 4), in[1] = PARAM(111, 2, 3, 6, 4), in[2] = PARAM(112, 2, 3, 6, 3);
  att_case c = {NULL, 0};
  check("attention", f_att, &c, 3, in);
  in[0] = PARAM(110, 2, 3, 5, 4), in[1] = PARAM(111, 2, 3, 6, 4), in[2] = PARAM(112, 2, 3, 6, 3);
  eq_tensor *bm = eq_zeros(EQ_BOOL, EQ_DIMS(2, 1, 5, 6));
  for (int64_t e = 0; e < 60; e++) eq_set_flat(bm, e, ((e * 7) % 5) != 0);
  for (int64_t j = 0; j < 6; j++) eq_set_flat(bm, 2 * 6 + j, 0); /* image 0, query 2 sees nothing */
  c.mask = bm;
  c.scale = 0.7;
  check("attention bool mask", f_att, &c, 3, in);
  in[0] = PARAM(110, 2, 3, 5, 4), in[1] = PARAM(111, 2, 3, 6, 4), in[2] = PARAM(112, 2, 3, 6, 3);
  c.mask = eq_rand_normal(EQ_F64, EQ_DIMS(5, 6), 0, 1, 113, 0);
  check("attention float mask", f_att, &c, 3, in);
  in[0] = PARAM(114, 2, 5, 3, 2, 4);
  check("attention strided qkv", f_att_qkv, NULL, 1, in);
  in[0] = PARAM(115, 2, 5, 3, 2, 4);
  eq_tensor *bm2 = eq_zeros(EQ_BOOL, EQ_DIMS(2, 1, 5, 5));
  for (int64_t e = 0; e < 50; e++) eq_set_flat(bm2, e, ((e * 3) % 4) != 0);
  check("attention strided qkv, bool mask", f_att_qkv, bm2, 1, in);
  in[0] = PARAM(116, 2, 3, 5, 4), in[1] = PARAM(117, 2, 6, 4), in[2] = PARAM(118, 2, 3, 3);
  check("attention expanded k, v", f_att_expanded, NULL, 3, in);
  /* eq_attention_qkv: 2 heads of 3, 5 tokens; bool mask over the heads;
   * two leading dims through a non-contiguous view */
  in[0] = PARAM(119, 2, 5, 18);
  check("attention_qkv", f_att_fused, NULL, 1, in);
  in[0] = PARAM(120, 2, 5, 18);
  check("attention_qkv, bool mask", f_att_fused, bm2, 1, in);
  in[0] = PARAM(121, 2, 3, 5, 12);
  check("attention_qkv, leading [2, 3], strided", f_att_fused, NULL, 1, in);
  /* eq_qkv_attention: x [2, 5, 4], 2 heads of 3; then x [3, 2, 4, 6]
   * viewed as [2, 3, 4, 6], heads of 3 (dim 6, the output multiplied by a
   * slice of x for a non-uniform gradient) */
  in[0] = PARAM(122, 2, 5, 4), in[1] = PARAM(123, 18, 4), in[2] = PARAM(124, 18);
  check("qkv_attention", f_qkv_att, NULL, 3, in);
  in[0] = PARAM(125, 3, 2, 4, 6), in[1] = PARAM(126, 18, 6);
  check("qkv_attention, no bias, strided leading dims", f_qkv_att, (void *)1, 2, in);
  /* eq_self_attention: x [2, 5, 4], 2 heads of 3, the projection [6, 6]
   * with its bias and a residual [2, 5, 6]; then without the biases */
  in[0] = PARAM(127, 2, 5, 4), in[1] = PARAM(128, 18, 4), in[2] = PARAM(129, 18), in[3] = PARAM(130, 6, 6);
  in[4] = PARAM(131, 6), in[5] = PARAM(132, 2, 5, 6);
  check("self_attention", f_self_att, (void *)1, 6, in);
  in[0] = PARAM(133, 3, 4, 4), in[1] = PARAM(134, 18, 4), in[2] = PARAM(135, 6, 6);
  check("self_attention, no biases, no residual", f_self_att, NULL, 3, in);
  eq_tensor_free(bm2);
  eq_tensor_free(bm);
  eq_tensor_free(c.mask);
}

int main(void) {
  eq_tensor *in[6];

  /* linear: 3-d input, bias, and a non-contiguous input without bias */
  in[0] = PARAM(1, 2, 3, 4), in[1] = PARAM(2, 5, 4), in[2] = PARAM(3, 5);
  check("linear", f_linear, NULL, 3, in);
  in[0] = PARAM(4, 3, 2, 4), in[1] = PARAM(5, 5, 4), in[2] = PARAM(6, 5);
  check("linear non-contiguous", f_linear, (void *)1, 3, in);
  in[0] = PARAM(4, 5, 3), in[1] = PARAM(5, 4, 3), in[2] = PARAM(6, 5, 4), in[3] = PARAM(7, 4);
  check("linear_add", f_linear_add, NULL, 4, in);
  in[0] = PARAM(8, 5, 3), in[1] = PARAM(9, 4, 3), in[2] = PARAM(10, 4, 5);
  check("linear_add, no bias, strided residual", f_linear_add, (void *)1, 3, in);
  /* mlp_gelu: x [4, 5, 3], hidden 6, out 4 (scaled inputs reach GELU's
   * curved part) */
  in[0] = PARAM(11, 4, 5, 3), in[1] = PARAM(12, 6, 3), in[2] = PARAM(13, 6), in[3] = PARAM(14, 4, 6);
  in[4] = PARAM(15, 4), in[5] = PARAM(16, 4, 5, 4);
  check("mlp_gelu", f_mlp, NULL, 6, in);
  in[0] = PARAM(17, 2, 3), in[1] = PARAM(18, 5, 2), in[2] = PARAM(19, 4, 5), in[3] = PARAM(20, 4, 3);
  check("mlp_gelu, no biases, strided input and residual", f_mlp, (void *)1, 4, in);
  in[0] = PARAM(21, 2, 3, 4), in[1] = PARAM(22, 7, 4), in[2] = PARAM(23, 7), in[3] = PARAM(24, 5, 7);
  in[4] = PARAM(25, 5);
  check("mlp_gelu, no residual", f_mlp, (void *)2, 5, in);
  in[0] = PARAM(26, 3, 4), in[1] = PARAM(27, 6, 4), in[2] = PARAM(28, 6), in[3] = PARAM(29, 4, 6);
  in[4] = PARAM(30, 4);
  check("mlp_gelu, residual is the input", f_mlp, (void *)3, 5, in);
  in[0] = PARAM(31, 4, 5, 3), in[1] = PARAM(32, 6, 3), in[2] = PARAM(33, 6), in[3] = PARAM(34, 4, 6);
  in[4] = PARAM(35, 4), in[5] = PARAM(36, 4, 5, 4);
  check("mlp_gelu, token 0 alone reaches the loss", f_mlp, (void *)4, 6, in);
  in[0] = PARAM(37, 3, 9, 4), in[1] = PARAM(38, 6, 4), in[2] = PARAM(39, 6), in[3] = PARAM(40, 4, 6);
  in[4] = PARAM(41, 4);
  check("mlp_gelu, token 0 alone, x's gradient started", f_mlp, (void *)5, 5, in);
  in[0] = PARAM(42, 2, 5, 3), in[1] = PARAM(43, 6, 3), in[2] = PARAM(44, 6), in[3] = PARAM(45, 4, 6);
  in[4] = PARAM(46, 4), in[5] = PARAM(47, 2, 5, 4);
  check("mlp_gelu, dY zero", f_mlp, (void *)6, 6, in);

  /* conv2d */
  const conv_case convs[] = {
      {{{2, 2}, {1, 1}, {1, 1}, 1, {0, 0}}, false, false, true},   /* stride 2, pad 1 */
      {{{1, 1}, {2, 2}, {2, 2}, 2, {0, 0}}, false, false, true},   /* dilation 2, groups 2 */
      {{{2, 1}, {0, 1}, {1, 2}, 1, {0, 0}}, false, true, false},   /* mixed, non-contiguous input */
      {{{1, 1}, {0, 0}, {1, 1}, 4, {0, 0}}, false, false, true},   /* depthwise */
      {{{1, 1}, {1, 1}, {1, 1}, 1, {0, 0}}, false, false, true},   /* 3x3 "same": the flat im2col */
      {{{1, 1}, {2, 1}, {2, 1}, 2, {0, 0}}, false, true, false},   /* dilated "same", groups */
  };
  const int64_t conv_w[][4] = {{6, 4, 3, 3}, {6, 2, 3, 2}, {3, 4, 2, 3}, {4, 1, 3, 3}, {5, 4, 3, 3}, {4, 2, 3, 3}};
  for (int i = 0; i < 6; i++) {
    conv_case c = convs[i];
    in[0] = PARAM(10 + i, 5, 4, 6, 7); /* 5 images: batch tiles of several images */
    in[1] = param(4, conv_w[i], 20 + i);
    in[2] = PARAM(30 + i, conv_w[i][0]);
    char name[64];
    snprintf(name, sizeof name, "conv2d case %d", i);
    check(name, f_conv, &c, 3, in);
  }
  /* 1x1 stride-1 on large maps (the direct path, no im2col) */
  {
    conv_case c = {{{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}}, false, false, true};
    in[0] = PARAM(40, 2, 3, 17, 16), in[1] = PARAM(41, 5, 3, 1, 1), in[2] = PARAM(42, 5);
    check("conv2d 1x1 direct", f_conv, &c, 3, in);
  }
  /* conv_transpose2d */
  const conv_case tconvs[] = {
      {{{2, 2}, {1, 1}, {1, 1}, 1, {1, 1}}, true, false, true},  /* stride 2, pad 1, output_padding 1 */
      {{{1, 2}, {0, 1}, {2, 1}, 2, {0, 1}}, true, true, true},   /* groups 2, dilation, non-contiguous */
      {{{2, 2}, {0, 0}, {3, 3}, 1, {2, 2}}, true, false, false}, /* output_padding < dilation */
  };
  const int64_t tconv_w[][4] = {{4, 3, 3, 3}, {4, 2, 2, 3}, {4, 2, 2, 2}};
  for (int i = 0; i < 3; i++) {
    conv_case c = tconvs[i];
    in[0] = PARAM(50 + i, 3, 4, 4, 5);
    in[1] = param(4, tconv_w[i], 60 + i);
    in[2] = PARAM(70 + i, tconv_w[i][1] * (c.p.groups ? c.p.groups : 1));
    char name[64];
    snprintf(name, sizeof name, "conv_transpose2d case %d", i);
    check(name, f_conv, &c, 3, in);
  }

  /* pooling and upsampling (input transposed inside: non-contiguous) */
  const pool_case pools[] = {
      {0, {3, 3}, {2, 2}, {1, 1}, {0, 0}}, {0, {2, 3}, {1, 2}, {0, 1}, {0, 0}},
      {1, {3, 3}, {2, 2}, {1, 1}, {0, 0}}, {2, {3, 2}, {2, 1}, {1, 1}, {0, 0}},
      {3, {0, 0}, {0, 0}, {0, 0}, {3, 4}}, {3, {0, 0}, {0, 0}, {0, 0}, {1, 1}},
      {4, {0, 0}, {0, 0}, {0, 0}, {9, 14}}, {4, {0, 0}, {0, 0}, {0, 0}, {3, 4}},
      {5, {0, 0}, {0, 0}, {0, 0}, {9, 11}}, {6, {0, 0}, {0, 0}, {0, 0}, {9, 11}},
      {5, {0, 0}, {0, 0}, {0, 0}, {3, 2}},
  };
  for (int i = 0; i < (int)(sizeof pools / sizeof *pools); i++) {
    pool_case c = pools[i];
    in[0] = PARAM(80 + i, 2, 3, 6, 5);
    char name[64];
    snprintf(name, sizeof name, "pool/upsample case %d (kind %d)", i, c.kind);
    check(name, f_pool, &c, 1, in);
  }

  /* batch norm: 4-d and 2-d, training/eval, with and without affine */
  const norm_case bns[] = {{true, true, true}, {true, false, false}, {false, true, true}, {false, true, false}};
  for (int i = 0; i < 4; i++) {
    norm_case c = bns[i];
    in[0] = PARAM(90 + i, 3, 4, 3, 2), in[1] = PARAM(91 + i, 4), in[2] = PARAM(92 + i, 4);
    char name[64];
    snprintf(name, sizeof name, "batch_norm 4-d case %d", i);
    check(name, f_bn, &c, 3, in);
    in[0] = PARAM(95 + i, 6, 4), in[1] = PARAM(96 + i, 4), in[2] = PARAM(97 + i, 4);
    snprintf(name, sizeof name, "batch_norm 2-d case %d", i);
    check(name, f_bn, &c, 3, in);
    /* planes of 20 values: the plane-streaming path */
    in[0] = PARAM(200 + i, 2, 3, 4, 5), in[1] = PARAM(210 + i, 3), in[2] = PARAM(220 + i, 3);
    snprintf(name, sizeof name, "batch_norm planes case %d", i);
    check(name, f_bn, &c, 3, in);
  }
  /* batch norm with the relu (and skip connection) in the same pass: planes
   * of 20 values and rows of 2, training and eval, with and without a
   * residual, the residual x itself */
  const bn_relu_case bnr[] = {{{true, true, false}, 0}, {{true, true, false}, 1}, {{false, true, true}, 1},
                              {{true, false, false}, 2}, {{false, false, true}, 0}};
  for (int i = 0; i < 5; i++) {
    bn_relu_case c = bnr[i];
    for (int plane = 0; plane < 2; plane++) {
      if (plane)
        in[0] = PARAM(230 + i, 2, 3, 4, 5), in[1] = PARAM(235 + i, 3), in[2] = PARAM(240 + i, 3),
        in[3] = PARAM(245 + i, 2, 3, 4, 5);
      else
        in[0] = PARAM(250 + i, 3, 4, 2), in[1] = PARAM(255 + i, 4), in[2] = PARAM(260 + i, 4),
        in[3] = PARAM(265 + i, 3, 4, 2);
      char name[64];
      snprintf(name, sizeof name, "batch_norm_relu %s case %d", plane ? "planes" : "rows", i);
      check(name, f_bn_relu, &c, c.residual == 1 ? 4 : 3, in);
      if (c.residual != 1) eq_tensor_free(in[3]);
    }
  }
  /* layer norm on a transposed (non-contiguous) input */
  for (int i = 0; i < 2; i++) {
    norm_case c = {true, i == 0, false};
    in[0] = PARAM(100 + i, 7, 3, 5), in[1] = PARAM(101 + i, 5), in[2] = PARAM(102 + i, 5);
    check(i == 0 ? "layer_norm affine" : "layer_norm plain", f_ln, &c, 3, in);
  }

  /* attention, with the probabilities kept for the backward and with
   * them recomputed from the log-sum-exp */
  int64_t keep_default = eq_nn_att_keep_probs_max;
  for (int keep = 1; keep >= 0; keep--) {
    eq_nn_att_keep_probs_max = keep ? keep_default : 0;
    attention_checks();
  }
  eq_nn_att_keep_probs_max = keep_default;
  const int64_t shared_shape[][4] = {{5, 4}, {2, 5, 4}, {2, 2, 3, 3}, {6}, {3, 3}};
  const int shared_nd[] = {2, 3, 4, 1, 2};
  for (int i = 0; i < 5; i++) {
    in[0] = param(shared_nd[i], shared_shape[i], 300 + i);
    char name[64];
    snprintf(name, sizeof name, "shared input case %d", i);
    check(name, f_shared, (void *)(intptr_t)i, 1, in);
  }
  return EQ_TEST_SUMMARY();
}
