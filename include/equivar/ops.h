/* equivar ops: the tensor core's compute operations, forward and backward.
 *
 * Every op returns a new tensor (current arena, or heap: tensor.h) or NULL
 * with an error naming the op and the offending shapes/dtypes/values.
 * Differentiable ops (float32/float64) record themselves on the autograd tape
 * when an input requires grad (autograd.h); integer and bool results never do.
 * Broadcasting follows NumPy. Ops dispatch on the device of their inputs; the
 * CPU kernels use OpenMP and OpenBLAS (BLAS runs single-threaded inside our
 * parallel regions, so threads never oversubscribe the cores).
 */
#ifndef EQUIVAR_OPS_H
#define EQUIVAR_OPS_H

#include "equivar/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ elementwise */

typedef enum eq_unary_op {
  /* differentiable */
  EQ_NEG, EQ_EXP, EQ_LOG, EQ_SQRT, EQ_RSQRT, EQ_ABS, EQ_TANH, EQ_SIGMOID, EQ_RELU,
  EQ_GELU,      /* exact: x * Phi(x) (erf) */
  EQ_GELU_TANH, /* tanh approximation */
  EQ_SILU, EQ_SQUARE, EQ_SIN, EQ_COS, EQ_LOG1P, EQ_EXPM1, EQ_RECIPROCAL,
  /* not differentiable (gradient 0 or undefined) */
  EQ_FLOOR, EQ_CEIL, EQ_ROUND, EQ_TRUNC, EQ_SIGN, EQ_TAN, EQ_ASIN, EQ_ACOS, EQ_ATAN,
  EQ_SINH, EQ_COSH, EQ_LOG2, EQ_LOG10, EQ_EXP2,
  /* predicates: bool results */
  EQ_ISNAN, EQ_ISINF, EQ_ISFINITE, EQ_LOGICAL_NOT,
  EQ_UNARY_OP_COUNT
} eq_unary_op;

typedef enum eq_binary_op {
  /* differentiable */
  EQ_ADD, EQ_SUB, EQ_MUL, EQ_DIV, EQ_POW, EQ_MAXIMUM, EQ_MINIMUM, EQ_ATAN2,
  /* not differentiable */
  EQ_FLOOR_DIV, EQ_FMOD, EQ_REMAINDER, EQ_BITWISE_AND, EQ_BITWISE_OR, EQ_BITWISE_XOR,
  /* comparisons and logic: bool results */
  EQ_EQUAL, EQ_NOT_EQUAL, EQ_LESS, EQ_LESS_EQUAL, EQ_GREATER, EQ_GREATER_EQUAL,
  EQ_LOGICAL_AND, EQ_LOGICAL_OR, EQ_LOGICAL_XOR,
  EQ_BINARY_OP_COUNT
} eq_binary_op;

const char *eq_unary_op_name(eq_unary_op op);
const char *eq_binary_op_name(eq_binary_op op);

/* Result dtype: float ops on integer inputs give float32 (exp, sqrt, ...;
 * div and atan2 too: true division, as PyTorch); arithmetic promotes
 * (eq_dtype_promote); predicates give bool. Integer arithmetic wraps, and
 * integer division/modulo by zero gives 0 (no trap). bool operands: add and
 * maximum are logical or, mul and minimum logical and; sub, pow and the
 * division ops reject bool, bitwise ops reject floats (EQ_ERR_DTYPE).
 * Float32 exp, sigmoid, silu, tanh and both GELUs use vectorised
 * approximations within a few ulp (GELU's tails keep relative accuracy). */
eq_tensor *eq_unary(eq_unary_op op, eq_tensor *x);
eq_tensor *eq_binary(eq_binary_op op, eq_tensor *a, eq_tensor *b);
/* a op s, with the scalar taking a's dtype (NumPy's weak scalar rule),
 * except that a non-integral s with an integer or bool tensor computes in
 * float32 (int_tensor * 0.5 is float, as PyTorch). */
eq_tensor *eq_binary_scalar(eq_binary_op op, eq_tensor *a, double s);
/* s op a. */
eq_tensor *eq_scalar_binary(eq_binary_op op, double s, eq_tensor *a);

/* Convenience spellings. */
eq_tensor *eq_add(eq_tensor *a, eq_tensor *b);
eq_tensor *eq_sub(eq_tensor *a, eq_tensor *b);
eq_tensor *eq_mul(eq_tensor *a, eq_tensor *b);
eq_tensor *eq_div(eq_tensor *a, eq_tensor *b);
eq_tensor *eq_add_scalar(eq_tensor *a, double s);
eq_tensor *eq_mul_scalar(eq_tensor *a, double s);
eq_tensor *eq_pow_scalar(eq_tensor *a, double p);
eq_tensor *eq_neg(eq_tensor *x);
eq_tensor *eq_exp(eq_tensor *x);
eq_tensor *eq_log(eq_tensor *x);
eq_tensor *eq_sqrt(eq_tensor *x);
eq_tensor *eq_relu(eq_tensor *x);
eq_tensor *eq_gelu(eq_tensor *x, bool tanh_approximation);
eq_tensor *eq_sigmoid(eq_tensor *x);
eq_tensor *eq_tanh(eq_tensor *x);
eq_tensor *eq_silu(eq_tensor *x);
/* min(max(x, lo), hi) with lo <= hi (else EQ_ERR_VALUE; +-INFINITY for one
 * side); gradient passes where lo < x < hi. */
eq_tensor *eq_clamp(eq_tensor *x, double lo, double hi);
/* cond ? a : b with broadcasting; cond is bool (or nonzero). Differentiable in a and b. */
eq_tensor *eq_where(eq_tensor *cond, eq_tensor *a, eq_tensor *b);

/* In place, not recorded: a = a op b (b broadcast to a). */
eq_status eq_binary_(eq_binary_op op, eq_tensor *a, const eq_tensor *b);
eq_status eq_binary_scalar_(eq_binary_op op, eq_tensor *a, double s);

/* ------------------------------------------------------------ reductions
 * axes: `naxes` axes (negative allowed); naxes == 0 reduces over all axes.
 * keepdim keeps reduced axes as size 1. Integer and bool sums, products and
 * scans give int64 (as PyTorch); mean/var/std of integers give float32;
 * max/min keep the input dtype and propagate NaN. Float32 sums accumulate in
 * float lanes within blocks of 1024 and in double across blocks, and do not
 * depend on the thread count. */

eq_tensor *eq_sum(eq_tensor *x, int naxes, const int *axes, bool keepdim);
eq_tensor *eq_mean(eq_tensor *x, int naxes, const int *axes, bool keepdim);
eq_tensor *eq_prod(eq_tensor *x, int naxes, const int *axes, bool keepdim);
/* Gradient goes to the (first) arg-extremum, as PyTorch's max(dim). */
eq_tensor *eq_max(eq_tensor *x, int naxes, const int *axes, bool keepdim);
eq_tensor *eq_min(eq_tensor *x, int naxes, const int *axes, bool keepdim);
/* Variance with `correction` (0: population, NumPy's default; 1: unbiased),
 * computed by a two-pass (or Welford) scheme, never E[x^2] - E[x]^2. */
eq_tensor *eq_var(eq_tensor *x, int naxes, const int *axes, int correction, bool keepdim);
eq_tensor *eq_std(eq_tensor *x, int naxes, const int *axes, int correction, bool keepdim);
/* int64 indices of the first extremum along one axis. */
eq_tensor *eq_argmax(eq_tensor *x, int axis, bool keepdim);
eq_tensor *eq_argmin(eq_tensor *x, int axis, bool keepdim);
/* bool results */
eq_tensor *eq_all(eq_tensor *x, int naxes, const int *axes, bool keepdim);
eq_tensor *eq_any(eq_tensor *x, int naxes, const int *axes, bool keepdim);
/* Inclusive scans along one axis (differentiable for float). */
eq_tensor *eq_cumsum(eq_tensor *x, int axis);
eq_tensor *eq_cumprod(eq_tensor *x, int axis);
/* Sum of all elements as a double (no tape; for tests and logging); NaN
 * with EQ_ERR_DEVICE for a tensor off the CPU. */
double eq_sum_all_double(const eq_tensor *x);

/* ------------------------------------------------------------ linear algebra */

/* NumPy matmul: 1-d and 2-d operands and batched (broadcast) leading dims.
 * float32/float64 through OpenBLAS. */
eq_tensor *eq_matmul(eq_tensor *a, eq_tensor *b);
/* y = x W^T + b: x [..., in], weight [out, in] (PyTorch layout), bias [out] or NULL. */
eq_tensor *eq_linear(eq_tensor *x, eq_tensor *weight, eq_tensor *bias);
/* residual + x W^T + b, residual of the output's shape and dtype: a
 * pre-norm block's skip connection added as the product is stored, without
 * a separate add over the output (and its copy of the gradient). */
eq_tensor *eq_linear_add(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *residual);
/* residual + GELU(x W1^T + b1) W2^T + b2: timm's Mlp (fc1, erf GELU, fc2,
 * no dropout) and a pre-norm block's skip connection as one op. x [...,
 * in], w1 [hidden, in], w2 [out, hidden]; the biases and the residual
 * ([..., out]) may be NULL. Equal to eq_linear_add(eq_gelu(eq_linear(x,
 * w1, b1), false), w2, b2, residual), but the backward forms the gradient
 * at fc1's output as fc2's products are stored, without a pass over the
 * hidden activation, and no pre-activation is kept. */
eq_tensor *eq_mlp_gelu(eq_tensor *x, eq_tensor *w1, eq_tensor *b1, eq_tensor *w2, eq_tensor *b2, eq_tensor *residual);

/* ------------------------------------------------------------ shape ops */

eq_tensor *eq_concat(int n, eq_tensor *const *xs, int axis);
eq_tensor *eq_stack(int n, eq_tensor *const *xs, int axis);
/* Views of consecutive pieces along `axis` with the given sizes (which must
 * add up to the axis length); out[] receives n tensors. */
eq_status eq_split(eq_tensor *x, int axis, int n, const int64_t *sizes, eq_tensor **out);
/* x.index_select(axis, index): index is a 1-d int64 tensor. */
eq_tensor *eq_index_select(eq_tensor *x, int axis, eq_tensor *index);
/* torch.gather: out[i][j] = x[i][index[i][j]] along `axis`; index int64 of x's ndim. */
eq_tensor *eq_gather(eq_tensor *x, int axis, eq_tensor *index);

/* ------------------------------------------------------------ NN ops (NCHW) */

typedef struct eq_conv2d_params {
  int stride[2];   /* default {1, 1} (0 is read as 1) */
  int padding[2];  /* zero padding, {top/bottom, left/right} */
  int dilation[2]; /* default {1, 1} (0 is read as 1) */
  int groups;      /* default 1 (0 is read as 1) */
  int output_padding[2]; /* conv_transpose2d only */
} eq_conv2d_params;

/* x [N, C_in, H, W], weight [C_out, C_in/groups, kH, kW], bias [C_out] or NULL. */
eq_tensor *eq_conv2d(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, const eq_conv2d_params *p);
/* x [N, C_in, H, W], weight [C_in, C_out/groups, kH, kW] (PyTorch layout). */
eq_tensor *eq_conv_transpose2d(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, const eq_conv2d_params *p);

eq_tensor *eq_max_pool2d(eq_tensor *x, const int kernel[2], const int stride[2], const int padding[2]);
eq_tensor *eq_avg_pool2d(eq_tensor *x, const int kernel[2], const int stride[2], const int padding[2],
                         bool count_include_pad);
eq_tensor *eq_adaptive_avg_pool2d(eq_tensor *x, int out_h, int out_w);
eq_tensor *eq_upsample_nearest2d(eq_tensor *x, int out_h, int out_w);
eq_tensor *eq_upsample_bilinear2d(eq_tensor *x, int out_h, int out_w, bool align_corners);

/* Batch norm over [N, C, ...]: per-channel statistics over N and the
 * spatial dims. training: batch statistics (biased variance for the
 * normalisation) and running stats updated in place with `momentum` using the
 * unbiased variance, as PyTorch; eval: running statistics. weight/bias [C] or
 * NULL; running_mean/var [C] or NULL (then training statistics always). */
eq_tensor *eq_batch_norm(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *running_mean,
                         eq_tensor *running_var, bool training, double momentum, double eps);
/* relu(batch_norm(x) + residual), residual of x's shape or NULL (none): a
 * ResNet block's norm, skip connection and activation in one pass over the
 * output, where the three ops take one each (gradients as the three's). */
eq_tensor *eq_batch_norm_relu(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *running_mean,
                              eq_tensor *running_var, bool training, double momentum, double eps,
                              eq_tensor *residual);
/* Layer norm over the last dim; weight/bias [D] or NULL. */
eq_tensor *eq_layer_norm(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, double eps);

/* Softmax / log-softmax along `axis`. */
eq_tensor *eq_softmax(eq_tensor *x, int axis);
eq_tensor *eq_log_softmax(eq_tensor *x, int axis);

/* Fused scaled dot-product attention: softmax(q k^T * scale + mask) v.
 * q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv] (same leading dims, e.g.
 * [B, heads]); mask NULL, bool (true = keep) or float (added), broadcastable
 * to [..., Lq, Lk]; scale <= 0 means 1/sqrt(D). Saves only the row
 * log-sum-exp for the backward (no Lq x Lk probabilities kept). q, k, v
 * whose last dim is contiguous are read in place (e.g. selected from a
 * permuted qkv projection: no eq_contiguous needed). The mask is a constant
 * (no gradient) and must stay alive until the backward; a query row whose
 * keys are all masked gives zeros (PyTorch: NaN). */
eq_tensor *eq_attention(eq_tensor *q, eq_tensor *k, eq_tensor *v, eq_tensor *mask, double scale);

/* Multi-head self-attention on a fused projection, as timm's Attention:
 * qkv [..., L, 3 * heads * hd] holds q, k, v for each head along its last
 * dim in (3, heads, hd) order; returns [..., L, heads * hd] with the heads
 * side by side. Equal to eq_attention on q, k, v = qkv reshaped to [..., L,
 * 3, heads, hd], permuted to [3, ..., heads, L, hd] and selected, with the
 * result transposed back and reshaped, but with none of those copies: the
 * output is written in place and the backward writes d(qkv) directly. mask
 * broadcasts to [..., heads, L, L]; scale <= 0 means 1/sqrt(hd). */
eq_tensor *eq_attention_qkv(eq_tensor *qkv, int heads, eq_tensor *mask, double scale);

/* eq_attention_qkv(eq_linear(x, w, b), heads, NULL, scale) in one op, timm's
 * qkv projection and attention: x [..., L, C], w [3 dim, C] (PyTorch's
 * layout, dim a multiple of heads), b [3 dim] or NULL; returns [..., L,
 * dim]. In float32 with AVX-512 on tall inputs each thread takes its
 * images a few at a time, so that the attention reads the projection from
 * cache and the backward's d(qkv) never goes to memory. No mask: use the
 * two ops for one. */
eq_tensor *eq_qkv_attention(eq_tensor *x, eq_tensor *w, eq_tensor *b, int heads, double scale);

/* timm's Attention with the pre-norm block's skip connection in one op:
 * residual + eq_linear(eq_qkv_attention(x, w_qkv, b_qkv, heads, scale),
 * w_proj, b_proj). w_proj [dim, dim]; b_proj and residual ([..., L, dim])
 * may be NULL. As eq_qkv_attention, a few images at a time per thread, so
 * that the attention's output and its gradient stay in cache too. */
eq_tensor *eq_self_attention(eq_tensor *x, eq_tensor *w_qkv, eq_tensor *b_qkv, eq_tensor *w_proj, eq_tensor *b_proj,
                             eq_tensor *residual, int heads, double scale);

/* Inverted dropout: zeroes with probability p and scales by 1/(1-p) when
 * training; identity otherwise. The mask is a pure function of (seed, stream,
 * element index). */
eq_tensor *eq_dropout(eq_tensor *x, double p, bool training, uint64_t seed, uint64_t stream);

/* x / max(||x||_2, eps) along `axis` (torch.nn.functional.normalize). */
eq_tensor *eq_l2_normalize(eq_tensor *x, int axis, double eps);

/* ------------------------------------------------------------ losses (mean over the batch) */

/* logits [N, C] (or [N, C, ...]), targets int64 [N] (or [N, ...]) with values
 * in [0, C) or ignore_index (< 0 disables); label_smoothing in [0, 1).
 * The mean is over the targets that are not ignored (NaN when all are). */
eq_tensor *eq_cross_entropy(eq_tensor *logits, eq_tensor *targets, double label_smoothing, int64_t ignore_index);
/* input and target of the same shape; beta = 0 is the L1 loss. */
eq_tensor *eq_mse_loss(eq_tensor *input, eq_tensor *target);
eq_tensor *eq_smooth_l1_loss(eq_tensor *input, eq_tensor *target, double beta);

#ifdef __cplusplus
}
#endif
#endif
