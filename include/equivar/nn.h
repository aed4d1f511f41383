/* equivar nn: named parameters in flat buffers, initialisers, layers and
 * backbones (ResNet, ViT).
 *
 * Parameters. A model's trainable parameters live in ONE flat float32 buffer
 * and their gradients in ONE flat gradient buffer of the same layout: each
 * parameter is an eq_tensor view into the first, and its ->grad a view into
 * the second. Data-parallel training all-reduces the flat gradient buffer
 * once and the optimiser (optim.h) runs one loop over the flat buffers.
 * Buffers (BatchNorm running statistics, num_batches_tracked, fixed
 * positional tables) are persistent state without gradients; they have their
 * own tensors.
 *
 * Construction is two-phase: modules register their parameters (name, shape,
 * flags, initialiser) into an eq_params, giving the address of the field
 * that receives the tensor; eq_params_build then allocates the flat buffers,
 * fills every registered field and runs the initialisers. Each initialiser
 * draws from Philox keyed by (seed, hash of the parameter name), so a
 * parameter's initial value does not depend on registration order, thread
 * or rank count.
 *
 * Names follow torchvision (ResNet) and timm (ViT), so eq_save_weights
 * (checkpoint.h) writes files that torchvision / timm load with strict=True.
 *
 * Modules are plain structs: named parameters + buffers + a forward
 * function taking `training` where behaviour differs. SSL heads and decoders
 * are built from the same pieces (eq_nn_linear, eq_nn_conv2d,
 * eq_nn_batchnorm, eq_nn_mlp) registered into the model's eq_params.
 */
#ifndef EQUIVAR_NN_H
#define EQUIVAR_NN_H

#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "equivar/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ initialisers */

typedef enum eq_init_kind {
  EQ_INIT_NONE = 0,       /* left as zeros (filled by the caller) */
  EQ_INIT_CONST,          /* a */
  EQ_INIT_UNIFORM,        /* U[a, b) */
  EQ_INIT_NORMAL,         /* N(mean a, std b) */
  EQ_INIT_TRUNC_NORMAL,   /* N(0, std a) redrawn outside [-2, 2] (absolute, as
                             torch.nn.init.trunc_normal_ / timm) */
  EQ_INIT_KAIMING_UNIFORM_DEFAULT, /* kaiming_uniform_(a=sqrt(5)) on fan_in:
                             U(+-1/sqrt(fan_in)); nn.Linear / nn.Conv2d weights */
  EQ_INIT_FAN_IN_UNIFORM, /* U(+-1/sqrt(a)): nn.Linear / nn.Conv2d bias, a = fan_in */
  EQ_INIT_KAIMING_NORMAL_FAN_OUT /* N(0, sqrt(2 / fan_out)) (relu gain): torchvision ResNet convs */
} eq_init_kind;

typedef struct eq_init {
  eq_init_kind kind;
  double a, b;
} eq_init;

/* Fan-in / fan-out of a weight as PyTorch computes them: dim 1 / dim 0 times
 * the product of the remaining dims. */
void eq_init_fans(int ndim, const int64_t *shape, double *fan_in, double *fan_out);
/* Fills a float32/float64 tensor (any strides) from Philox (seed, stream). */
eq_status eq_init_tensor(eq_tensor *t, eq_init init, uint64_t seed, uint64_t stream);
/* A 64-bit FNV-1a hash: the Philox stream of a parameter is its name's hash. */
uint64_t eq_name_hash(const char *name);

/* ------------------------------------------------------------ parameters */

enum {
  EQ_PARAM_NO_DECAY = 1 << 0, /* no weight decay and no LARS adaptation (biases, norms, tokens) */
  EQ_PARAM_BUFFER = 1 << 1,   /* persistent state, not trained, not in the flat buffers */
  EQ_PARAM_FROZEN = 1 << 2    /* in the flat buffer but requires_grad = false */
};

typedef struct eq_param {
  char *name;          /* "layer1.0.conv1.weight" */
  eq_tensor *tensor;   /* after build */
  eq_tensor **slot;    /* the module field that receives `tensor` (may be NULL) */
  unsigned flags;
  eq_dtype dtype;      /* float32 for parameters; buffers may be int64 */
  int ndim;
  int64_t shape[EQ_MAX_DIMS];
  int64_t numel;
  int64_t offset;      /* element offset into the flat buffers; -1 for buffers */
  eq_init init;
} eq_param;

typedef struct eq_params {
  int count, capacity;
  eq_param *items;     /* in registration order */
  float *data;         /* flat parameters (64-byte aligned) */
  float *grad;         /* flat gradients, same layout */
  eq_tensor *flat;      /* 1-d float32 views of data / grad */
  eq_tensor *flat_grad;
  int64_t numel;       /* elements in the flat buffers */
  bool built;
} eq_params;

eq_params *eq_params_new(void);
/* Frees every parameter, buffer and the flat buffers. NULL is a no-op. */
void eq_params_free(eq_params *P);
/* Registers a parameter called `prefix.name` (or `name` when prefix is empty
 * or NULL). Errors on a duplicate name or after build. */
eq_status eq_params_add(eq_params *P, eq_tensor **slot, const char *prefix, const char *name, int ndim,
                        const int64_t *shape, unsigned flags, eq_init init);
/* Registers a buffer (EQ_PARAM_BUFFER implied) of any dtype, initialised to `value`. */
eq_status eq_params_add_buffer(eq_params *P, eq_tensor **slot, const char *prefix, const char *name, eq_dtype dtype,
                               int ndim, const int64_t *shape, double value);
/* Allocates the flat buffers, fills the slots and initialises everything
 * (unless initialisation is switched off, below). */
eq_status eq_params_build(eq_params *P, uint64_t seed);
/* Per thread: when off, eq_params_build leaves parameters at zero and
 * buffers at their constants - for weights loaded from a file right after,
 * or to inspect an architecture without paying for random draws. Returns
 * the previous setting (default on). */
bool eq_nn_set_init_enabled(bool enabled);
/* Re-runs every initialiser (same result as a fresh build with `seed`). */
eq_status eq_params_reinit(eq_params *P, uint64_t seed);
eq_param *eq_params_find(const eq_params *P, const char *name);
/* Number of trainable elements (excludes buffers and frozen parameters). */
int64_t eq_params_trainable(const eq_params *P);
/* Zeroes the flat gradient buffer. */
void eq_params_zero_grad(eq_params *P);
/* Copies parameter values and buffers from src to dst (same names, shapes). */
eq_status eq_params_copy(eq_params *dst, const eq_params *src);

/* "prefix.name" into buf (or "name" when prefix is empty); returns buf. */
const char *eq_nn_join(char *buf, size_t cap, const char *prefix, const char *name);

/* ------------------------------------------------------------ layers */

/* nn.Linear: weight [out, in], bias [out]; PyTorch's default initialisation. */
typedef struct eq_nn_linear {
  eq_tensor *weight, *bias;
  int in, out;
} eq_nn_linear;
eq_status eq_nn_linear_init(eq_nn_linear *m, eq_params *P, const char *prefix, int in, int out, bool bias);
eq_tensor *eq_nn_linear_forward(const eq_nn_linear *m, eq_tensor *x);

/* nn.Conv2d (square kernel): weight [out, in/groups, k, k], optional bias. */
typedef struct eq_nn_conv2d {
  eq_tensor *weight, *bias;
  int in, out, kernel;
  eq_conv2d_params p;
} eq_nn_conv2d;
eq_status eq_nn_conv2d_init(eq_nn_conv2d *m, eq_params *P, const char *prefix, int in, int out, int kernel, int stride,
                            int padding, int groups, bool bias);
eq_tensor *eq_nn_conv2d_forward(const eq_nn_conv2d *m, eq_tensor *x);

/* nn.BatchNorm2d / nn.BatchNorm1d (momentum 0.1, eps 1e-5): weight, bias,
 * running_mean, running_var, num_batches_tracked (int64 scalar). */
typedef struct eq_nn_batchnorm {
  eq_tensor *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
  int channels;
  double momentum, eps;
} eq_nn_batchnorm;
eq_status eq_nn_batchnorm_init(eq_nn_batchnorm *m, eq_params *P, const char *prefix, int channels);
eq_tensor *eq_nn_batchnorm_forward(eq_nn_batchnorm *m, eq_tensor *x, bool training);
/* relu(bn(x) + residual), residual NULL or of x's shape (eq_batch_norm_relu). */
eq_tensor *eq_nn_batchnorm_relu_forward(eq_nn_batchnorm *m, eq_tensor *x, bool training, eq_tensor *residual);

/* nn.LayerNorm over the last dim: weight 1, bias 0. */
typedef struct eq_nn_layernorm {
  eq_tensor *weight, *bias;
  int dim;
  double eps;
} eq_nn_layernorm;
eq_status eq_nn_layernorm_init(eq_nn_layernorm *m, eq_params *P, const char *prefix, int dim, double eps);
eq_tensor *eq_nn_layernorm_forward(const eq_nn_layernorm *m, eq_tensor *x);

/* An MLP as torch.nn.Sequential: for each hidden layer Linear [-> BatchNorm1d]
 * -> activation, then a final Linear. Names follow Sequential indices
 * (prefix.0.weight, prefix.1.running_mean, ...), as in the VICReg/SimCLR
 * projectors. `dims` holds n_layers + 1 sizes (input first). */
typedef enum eq_activation { EQ_ACT_RELU, EQ_ACT_GELU, EQ_ACT_NONE } eq_activation;
#define EQ_MLP_MAX_LAYERS 8
typedef struct eq_nn_mlp {
  int n_layers;
  eq_nn_linear linear[EQ_MLP_MAX_LAYERS];
  eq_nn_batchnorm bn[EQ_MLP_MAX_LAYERS];
  bool batchnorm, last_bias;
  eq_activation act;
} eq_nn_mlp;
eq_status eq_nn_mlp_init(eq_nn_mlp *m, eq_params *P, const char *prefix, int n_layers, const int *dims, bool batchnorm,
                         eq_activation act, bool last_bias);
eq_tensor *eq_nn_mlp_forward(eq_nn_mlp *m, eq_tensor *x, bool training);

eq_tensor *eq_nn_activation(eq_activation act, eq_tensor *x);

/* ------------------------------------------------------------ backbones */

typedef struct eq_backbone_out {
  eq_tensor *feature_map; /* ResNet: pre-pool map [N, C, h, w]; ViT: all tokens after the final norm [N, 1 + L, D] */
  eq_tensor *pooled;      /* [N, feature_dim]: global average pool (ResNet) or the CLS token (ViT) */
  eq_tensor *logits;      /* [N, num_classes] when the model has a head, else NULL */
} eq_backbone_out;

typedef struct eq_backbone eq_backbone;
struct eq_backbone {
  char name[48];      /* "resnet18", "vit-tiny", ... */
  eq_params *params;  /* owned */
  int feature_dim;    /* size of `pooled` */
  int num_classes;    /* 0: no head */
  int in_channels;
  int image_size;     /* ViT: the input size it was built for; ResNet: 0 (any) */
  eq_status (*forward)(eq_backbone *m, eq_tensor *x, bool training, eq_backbone_out *out);
  void *impl;                /* the model's modules */
  void (*destroy)(void *impl);
};

/* torchvision ResNet. depth 18/34 use BasicBlock, 50 Bottleneck (v1.5:
 * stride on the 3x3). width: planes of layer1 (64 in torchvision; the
 * layers use width, 2w, 4w, 8w). small_stem: conv1 3x3 stride 1, no max-pool
 * (for 32-64 px images). num_classes 0: no fc. Initialisation as
 * torchvision: kaiming_normal_(fan_out, relu) for convs, BN weight 1 bias 0,
 * fc as nn.Linear; zero_init_residual zeroes each block's last BN weight. */
typedef struct eq_resnet_config {
  int depth;
  int width;
  int in_channels;
  int num_classes;
  bool small_stem;
  bool zero_init_residual;
} eq_resnet_config;
eq_backbone *eq_resnet_new(const eq_resnet_config *cfg, uint64_t seed);

/* timm VisionTransformer: conv patch embedding, CLS token, positions (learned
 * pos_embed of [1, 1 + L, D] with trunc_normal(.02), or fixed 2-d sin-cos
 * stored as the buffer pos_embed), pre-norm blocks (LayerNorm eps 1e-6,
 * qkv with bias, exact GELU), final norm, CLS pooling, optional head.
 * Initialisation as timm's default: trunc_normal(.02) for Linear weights,
 * zero biases, cls_token N(0, 1e-6), LayerNorm 1/0, patch conv as nn.Conv2d. */
typedef struct eq_vit_config {
  int image_size, patch_size, in_channels;
  int dim, depth, heads, mlp_dim;
  int num_classes;
  bool sincos_pos; /* false: learned */
} eq_vit_config;
eq_backbone *eq_vit_new(const eq_vit_config *cfg, uint64_t seed);

/* Named models: resnet18, resnet34, resnet50 (ImageNet stem),
 * resnet18-small, resnet34-small, resnet50-small (3x3 stride-1 stem, no
 * max-pool), vit-tiny (dim 192, depth 12, 3 heads), vit-small (dim 384,
 * depth 12, 6 heads), both with MLP 4x dim and learned positions.
 * patch_size 0 means 16 for ViTs (ignored by ResNets); width 0 means 64 for
 * ResNets (planes of layer1; ignored by ViTs). Unknown names give
 * EQ_ERR_VALUE listing the known ones. */
eq_backbone *eq_backbone_new(const char *name, int image_size, int patch_size, int width, int num_classes,
                             uint64_t seed);
const char *eq_backbone_names(void); /* "resnet18, resnet18-small, ..." */
eq_status eq_backbone_forward(eq_backbone *m, eq_tensor *x, bool training, eq_backbone_out *out);
void eq_backbone_free(eq_backbone *m);

#ifdef __cplusplus
}
#endif
#endif
