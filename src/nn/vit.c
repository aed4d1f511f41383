/* timm-layout Vision Transformer: patch embedding, CLS token, positions,
 * pre-norm blocks, final norm, CLS pooling, optional head. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

typedef struct vit_block {
  eq_nn_layernorm norm1, norm2;
  eq_nn_linear qkv, proj, fc1, fc2;
} vit_block;

typedef struct vit {
  eq_vit_config cfg;
  eq_nn_conv2d patch;
  eq_tensor *cls_token, *pos_embed;
  vit_block *blocks;
  eq_nn_layernorm norm;
  eq_nn_linear head;
} vit;

static const eq_init timm_linear = {EQ_INIT_TRUNC_NORMAL, 0.02, 0};
static const eq_init zero = {EQ_INIT_CONST, 0, 0};

static eq_status linear(eq_params *P, eq_nn_linear *m, const char *prefix, const char *name, int in, int out) {
  char full[256];
  eq_nn_join(full, sizeof full, prefix, name);
  EQ_TRY(eq_nn_linear_init(m, P, full, in, out, true));
  EQ_TRY(eq_nn_set_init(P, full, "weight", timm_linear));
  return eq_nn_set_init(P, full, "bias", zero);
}

/* MAE's fixed 2-d sin-cos table: the first half of each row encodes the
 * column, the second half the row; the CLS position is zero. */
static void fill_sincos(eq_tensor *t, int grid, int dim) {
  float *p = eq_f32(t);
  int quarter = dim / 4;
  memset(p, 0, (size_t)dim * sizeof *p);
  for (int r = 0; r < grid; r++)
    for (int c = 0; c < grid; c++) {
      float *row = p + (size_t)(1 + r * grid + c) * dim;
      for (int half = 0; half < 2; half++) {
        double pos = half == 0 ? c : r;
        for (int i = 0; i < quarter; i++) {
          double omega = 1.0 / pow(10000.0, (double)i / quarter);
          row[half * 2 * quarter + i] = (float)sin(pos * omega);
          row[half * 2 * quarter + quarter + i] = (float)cos(pos * omega);
        }
      }
    }
}

static eq_status vit_build(eq_backbone *m, vit *v) {
  const eq_vit_config *c = &v->cfg;
  eq_params *P = m->params;
  int grid = c->image_size / c->patch_size, tokens = 1 + grid * grid;
  EQ_TRY(eq_nn_conv2d_init(&v->patch, P, "patch_embed.proj", c->in_channels, c->dim, c->patch_size, c->patch_size, 0, 1,
                           true));
  EQ_TRY(eq_params_add(P, &v->cls_token, "", "cls_token", 3, (int64_t[]){1, 1, c->dim}, EQ_PARAM_NO_DECAY,
                       (eq_init){EQ_INIT_NORMAL, 0, 1e-6}));
  if (c->sincos_pos) {
    /* Filled once after build; a fixed table, so re-initialisation keeps it. */
    EQ_TRY(eq_params_add_buffer(P, &v->pos_embed, "", "pos_embed", EQ_F32, 3, (int64_t[]){1, tokens, c->dim}, 0));
    EQ_TRY(eq_nn_set_init(P, "", "pos_embed", (eq_init){EQ_INIT_NONE, 0, 0}));
  } else
    EQ_TRY(eq_params_add(P, &v->pos_embed, "", "pos_embed", 3, (int64_t[]){1, tokens, c->dim}, EQ_PARAM_NO_DECAY,
                         (eq_init){EQ_INIT_TRUNC_NORMAL, 0.02, 0}));
  v->blocks = calloc((size_t)c->depth, sizeof *v->blocks);
  if (!v->blocks) return eq_error(EQ_ERR_MEMORY, "vit: out of memory");
  for (int i = 0; i < c->depth; i++) {
    char prefix[64], name[96];
    vit_block *b = &v->blocks[i];
    snprintf(prefix, sizeof prefix, "blocks.%d", i);
    EQ_TRY(eq_nn_layernorm_init(&b->norm1, P, eq_nn_join(name, sizeof name, prefix, "norm1"), c->dim, 1e-6));
    EQ_TRY(linear(P, &b->qkv, prefix, "attn.qkv", c->dim, 3 * c->dim));
    EQ_TRY(linear(P, &b->proj, prefix, "attn.proj", c->dim, c->dim));
    EQ_TRY(eq_nn_layernorm_init(&b->norm2, P, eq_nn_join(name, sizeof name, prefix, "norm2"), c->dim, 1e-6));
    EQ_TRY(linear(P, &b->fc1, prefix, "mlp.fc1", c->dim, c->mlp_dim));
    EQ_TRY(linear(P, &b->fc2, prefix, "mlp.fc2", c->mlp_dim, c->dim));
  }
  EQ_TRY(eq_nn_layernorm_init(&v->norm, P, "norm", c->dim, 1e-6));
  if (c->num_classes > 0) EQ_TRY(linear(P, &v->head, "", "head", c->dim, c->num_classes));
  m->feature_dim = c->dim;
  return EQ_OK;
}

static eq_status block_forward(const vit *v, const vit_block *b, eq_tensor *x, eq_tensor **out) {
  const eq_vit_config *c = &v->cfg;
  eq_tensor *h;
  EQ_TRY_T(h, eq_nn_layernorm_forward(&b->norm1, x));
  /* timm's Attention (qkv projection, reshape to [N, T, 3, heads, hd],
   * permute, attention, transpose and reshape back, output projection)
   * and the skip connection, in one op */
  EQ_TRY_T(x, eq_self_attention(h, b->qkv.weight, b->qkv.bias, b->proj.weight, b->proj.bias, x, c->heads, 0));
  EQ_TRY_T(h, eq_nn_layernorm_forward(&b->norm2, x));
  /* fc1, GELU, fc2 and the skip connection in one op */
  EQ_TRY_T(*out, eq_mlp_gelu(h, b->fc1.weight, b->fc1.bias, b->fc2.weight, b->fc2.bias, x));
  return EQ_OK;
}

static eq_status vit_forward(eq_backbone *m, eq_tensor *x, bool training, eq_backbone_out *out) {
  vit *v = m->impl;
  const eq_vit_config *c = &v->cfg;
  memset(out, 0, sizeof *out);
  if (x->ndim != 4 || x->shape[1] != c->in_channels || x->shape[2] != c->image_size || x->shape[3] != c->image_size) {
    char b[96];
    return eq_error(EQ_ERR_SHAPE, "%s: input %s, expected [N, %d, %d, %d]", m->name, eq_shape_str(x, b, sizeof b),
                    c->in_channels, c->image_size, c->image_size);
  }
  int64_t n = x->shape[0];
  eq_tensor *h, *cls;
  /* The patch embedding, a convolution whose stride is its kernel, as
   * the linear layer it is on the patches: the image cut into rows of
   * patches, then one product in the register tiles, already [N, L, D].
   * Through conv2d (im2col, then the output transposed out of NCHW) the
   * ViT-Tiny benchmark's took 1.39 + 1.39 ms forward and backward; 0.86 +
   * 0.87 this way. The weight keeps timm's [D, C, p, p]. */
  const int64_t g = c->image_size / c->patch_size, ps = c->patch_size, k = (int64_t)c->in_channels * ps * ps;
  eq_tensor *patches, *w;
  EQ_TRY_T(patches, eq_reshape(x, EQ_DIMS(n, c->in_channels, g, ps, g, ps)));
  EQ_TRY_T(patches, eq_permute(patches, (const int[]){0, 2, 4, 1, 3, 5})); /* [N, g, g, C, p, p] */
  EQ_TRY_T(patches, eq_contiguous(patches));
  EQ_TRY_T(patches, eq_reshape(patches, EQ_DIMS(n, g * g, k)));
  EQ_TRY_T(w, eq_reshape(v->patch.weight, EQ_DIMS(c->dim, k)));
  EQ_TRY_T(h, eq_linear(patches, w, v->patch.bias)); /* [N, L, D] */
  EQ_TRY_T(cls, eq_expand(v->cls_token, 3, (int64_t[]){n, 1, c->dim}));
  EQ_TRY_T(h, eq_concat(2, (eq_tensor *[]){cls, h}, 1)); /* [N, 1 + L, D] */
  EQ_TRY_T(h, eq_add(h, v->pos_embed));
  for (int i = 0; i < c->depth; i++) EQ_TRY(block_forward(v, &v->blocks[i], h, &h));
  EQ_TRY_T(out->feature_map, eq_nn_layernorm_forward(&v->norm, h));
  EQ_TRY_T(out->pooled, eq_select(out->feature_map, 1, 0));
  if (c->num_classes > 0) EQ_TRY_T(out->logits, eq_nn_linear_forward(&v->head, out->pooled));
  return EQ_OK;
}

static void vit_destroy(void *impl) {
  vit *v = impl;
  if (v) free(v->blocks);
  free(v);
}

eq_backbone *eq_vit_new(const eq_vit_config *cfg, uint64_t seed) {
  eq_vit_config c = *cfg;
  if (c.in_channels <= 0) c.in_channels = 3;
  if (c.mlp_dim <= 0) c.mlp_dim = 4 * c.dim;
  if (c.image_size <= 0 || c.patch_size <= 0 || c.image_size % c.patch_size || c.dim <= 0 || c.depth <= 0 ||
      c.heads <= 0 || c.dim % c.heads || c.num_classes < 0 || (c.sincos_pos && c.dim % 4)) {
    eq_error(EQ_ERR_VALUE,
             "eq_vit_new: invalid config image_size=%d patch_size=%d dim=%d depth=%d heads=%d num_classes=%d "
             "(image_size must be a multiple of patch_size, dim of heads%s)",
             c.image_size, c.patch_size, c.dim, c.depth, c.heads, c.num_classes, c.sincos_pos ? " and of 4" : "");
    return NULL;
  }
  char name[48];
  snprintf(name, sizeof name, "vit-d%d-l%d-p%d", c.dim, c.depth, c.patch_size);
  eq_backbone *m = eq_backbone_alloc(name);
  vit *v = calloc(1, sizeof *v);
  if (!m || !v) {
    eq_backbone_free(m);
    free(v);
    eq_error(EQ_ERR_MEMORY, "eq_vit_new: out of memory");
    return NULL;
  }
  v->cfg = c;
  m->impl = v;
  m->destroy = vit_destroy;
  m->forward = vit_forward;
  m->num_classes = c.num_classes;
  m->in_channels = c.in_channels;
  m->image_size = c.image_size;
  if (vit_build(m, v) || eq_params_build(m->params, seed)) {
    eq_error_context("eq_vit_new: ");
    eq_backbone_free(m);
    return NULL;
  }
  if (c.sincos_pos) fill_sincos(v->pos_embed, c.image_size / c.patch_size, c.dim);
  return m;
}
