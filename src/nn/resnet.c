/* torchvision ResNet (BasicBlock for 18/34, Bottleneck v1.5 for 50) with an
 * optional small-image stem. Module names match torchvision exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

typedef struct res_block {
  eq_nn_conv2d conv1, conv2, conv3;
  eq_nn_batchnorm bn1, bn2, bn3;
  eq_nn_conv2d down_conv; /* downsample.0 */
  eq_nn_batchnorm down_bn; /* downsample.1 */
  bool bottleneck, has_down;
} res_block;

typedef struct resnet {
  eq_resnet_config cfg;
  eq_nn_conv2d conv1;
  eq_nn_batchnorm bn1;
  int n_blocks[4];
  res_block *blocks[4];
  eq_nn_linear fc;
} resnet;

static const eq_init conv_init = {EQ_INIT_KAIMING_NORMAL_FAN_OUT, 0, 0};

static eq_status conv(eq_params *P, eq_nn_conv2d *m, const char *prefix, const char *name, int in, int out, int k,
                      int stride) {
  char full[256];
  eq_nn_join(full, sizeof full, prefix, name);
  EQ_TRY(eq_nn_conv2d_init(m, P, full, in, out, k, stride, k / 2, 1, false));
  return eq_nn_set_init(P, full, "weight", conv_init);
}

static eq_status bn(eq_params *P, eq_nn_batchnorm *m, const char *prefix, const char *name, int c, bool zero) {
  char full[256];
  eq_nn_join(full, sizeof full, prefix, name);
  EQ_TRY(eq_nn_batchnorm_init(m, P, full, c));
  return zero ? eq_nn_set_init(P, full, "weight", (eq_init){EQ_INIT_CONST, 0, 0}) : EQ_OK;
}

static eq_status block_init(res_block *b, eq_params *P, const char *prefix, int inplanes, int planes, int stride,
                            bool bottleneck, bool zero_init) {
  b->bottleneck = bottleneck;
  int expansion = bottleneck ? 4 : 1;
  if (bottleneck) {
    EQ_TRY(conv(P, &b->conv1, prefix, "conv1", inplanes, planes, 1, 1));
    EQ_TRY(bn(P, &b->bn1, prefix, "bn1", planes, false));
    EQ_TRY(conv(P, &b->conv2, prefix, "conv2", planes, planes, 3, stride));
    EQ_TRY(bn(P, &b->bn2, prefix, "bn2", planes, false));
    EQ_TRY(conv(P, &b->conv3, prefix, "conv3", planes, planes * 4, 1, 1));
    EQ_TRY(bn(P, &b->bn3, prefix, "bn3", planes * 4, zero_init));
  } else {
    EQ_TRY(conv(P, &b->conv1, prefix, "conv1", inplanes, planes, 3, stride));
    EQ_TRY(bn(P, &b->bn1, prefix, "bn1", planes, false));
    EQ_TRY(conv(P, &b->conv2, prefix, "conv2", planes, planes, 3, 1));
    EQ_TRY(bn(P, &b->bn2, prefix, "bn2", planes, zero_init));
  }
  b->has_down = stride != 1 || inplanes != planes * expansion;
  if (b->has_down) {
    EQ_TRY(conv(P, &b->down_conv, prefix, "downsample.0", inplanes, planes * expansion, 1, stride));
    EQ_TRY(bn(P, &b->down_bn, prefix, "downsample.1", planes * expansion, false));
  }
  return EQ_OK;
}

static eq_status block_forward(res_block *b, eq_tensor *x, bool training, eq_tensor **out) {
  eq_tensor *h, *identity = x;
  /* Each norm that a relu follows takes it (and the block's skip connection
   * before it) in the same pass: eq_batch_norm_relu. */
  if (b->has_down) {
    EQ_TRY_T(identity, eq_nn_conv2d_forward(&b->down_conv, x));
    EQ_TRY_T(identity, eq_nn_batchnorm_forward(&b->down_bn, identity, training));
  }
  EQ_TRY_T(h, eq_nn_conv2d_forward(&b->conv1, x));
  EQ_TRY_T(h, eq_nn_batchnorm_relu_forward(&b->bn1, h, training, NULL));
  EQ_TRY_T(h, eq_nn_conv2d_forward(&b->conv2, h));
  if (b->bottleneck) {
    EQ_TRY_T(h, eq_nn_batchnorm_relu_forward(&b->bn2, h, training, NULL));
    EQ_TRY_T(h, eq_nn_conv2d_forward(&b->conv3, h));
    EQ_TRY_T(*out, eq_nn_batchnorm_relu_forward(&b->bn3, h, training, identity));
  } else {
    EQ_TRY_T(*out, eq_nn_batchnorm_relu_forward(&b->bn2, h, training, identity));
  }
  return EQ_OK;
}

static eq_status resnet_forward(eq_backbone *m, eq_tensor *x, bool training, eq_backbone_out *out) {
  resnet *r = m->impl;
  memset(out, 0, sizeof *out);
  if (x->ndim != 4 || x->shape[1] != r->cfg.in_channels) {
    char b[96];
    return eq_error(EQ_ERR_SHAPE, "%s: input %s, expected [N, %d, H, W]", m->name, eq_shape_str(x, b, sizeof b),
                    r->cfg.in_channels);
  }
  eq_tensor *h;
  EQ_TRY_T(h, eq_nn_conv2d_forward(&r->conv1, x));
  EQ_TRY_T(h, eq_nn_batchnorm_relu_forward(&r->bn1, h, training, NULL));
  if (!r->cfg.small_stem) EQ_TRY_T(h, eq_max_pool2d(h, (int[]){3, 3}, (int[]){2, 2}, (int[]){1, 1}));
  for (int l = 0; l < 4; l++)
    for (int i = 0; i < r->n_blocks[l]; i++) EQ_TRY(block_forward(&r->blocks[l][i], h, training, &h));
  out->feature_map = h;
  EQ_TRY_T(out->pooled, eq_mean(h, 2, (int[]){2, 3}, false));
  if (r->cfg.num_classes > 0) EQ_TRY_T(out->logits, eq_nn_linear_forward(&r->fc, out->pooled));
  return EQ_OK;
}

static void resnet_free(resnet *r) {
  if (!r) return;
  for (int l = 0; l < 4; l++) free(r->blocks[l]);
  free(r);
}

static eq_status resnet_build(eq_backbone *m, resnet *r) {
  const eq_resnet_config *c = &r->cfg;
  eq_params *P = m->params;
  static const int counts18[4] = {2, 2, 2, 2}, counts34[4] = {3, 4, 6, 3};
  const int *counts = c->depth == 18 ? counts18 : counts34;
  bool bottleneck = c->depth == 50;
  if (c->small_stem)
    EQ_TRY(conv(P, &r->conv1, "", "conv1", c->in_channels, c->width, 3, 1));
  else
    EQ_TRY(conv(P, &r->conv1, "", "conv1", c->in_channels, c->width, 7, 2));
  EQ_TRY(bn(P, &r->bn1, "", "bn1", c->width, false));
  int inplanes = c->width;
  for (int l = 0; l < 4; l++) {
    int planes = c->width << l;
    r->n_blocks[l] = counts[l];
    r->blocks[l] = calloc((size_t)counts[l], sizeof(res_block));
    if (!r->blocks[l]) return eq_error(EQ_ERR_MEMORY, "resnet: out of memory");
    for (int i = 0; i < counts[l]; i++) {
      char prefix[64];
      snprintf(prefix, sizeof prefix, "layer%d.%d", l + 1, i);
      EQ_TRY(block_init(&r->blocks[l][i], P, prefix, inplanes, planes, i == 0 && l > 0 ? 2 : 1, bottleneck,
                        c->zero_init_residual));
      inplanes = planes * (bottleneck ? 4 : 1);
    }
  }
  m->feature_dim = inplanes;
  if (c->num_classes > 0) EQ_TRY(eq_nn_linear_init(&r->fc, P, "fc", inplanes, c->num_classes, true));
  return EQ_OK;
}

static void resnet_destroy(void *impl) { resnet_free(impl); }

eq_backbone *eq_resnet_new(const eq_resnet_config *cfg, uint64_t seed) {
  eq_resnet_config c = *cfg;
  if (c.in_channels <= 0) c.in_channels = 3;
  if (c.width <= 0) c.width = 64;
  if (c.depth != 18 && c.depth != 34 && c.depth != 50) {
    eq_error(EQ_ERR_VALUE, "eq_resnet_new: depth %d (supported: 18, 34, 50)", c.depth);
    return NULL;
  }
  if (c.num_classes < 0) {
    eq_error(EQ_ERR_VALUE, "eq_resnet_new: num_classes %d", c.num_classes);
    return NULL;
  }
  char name[48];
  snprintf(name, sizeof name, "resnet%d%s", c.depth, c.small_stem ? "-small" : "");
  eq_backbone *m = eq_backbone_alloc(name);
  resnet *r = calloc(1, sizeof *r);
  if (!m || !r) {
    eq_backbone_free(m);
    free(r);
    eq_error(EQ_ERR_MEMORY, "eq_resnet_new: out of memory");
    return NULL;
  }
  r->cfg = c;
  m->impl = r;
  m->destroy = resnet_destroy;
  m->forward = resnet_forward;
  m->num_classes = c.num_classes;
  m->in_channels = c.in_channels;
  if (resnet_build(m, r) || eq_params_build(m->params, seed)) {
    eq_error_context("eq_resnet_new(%s): ", name);
    eq_backbone_free(m);
    return NULL;
  }
  return m;
}
