/* Public elementwise ops: forward through elementwise.c's kernels, the tape
 * records, and fused backward kernels that accumulate straight into the
 * input's gradient buffer when no broadcast has to be summed back. */
#pragma GCC optimize("no-math-errno", "no-trapping-math") /* vectorisable sqrt and selects */
#include <math.h>

#include "ops/elementwise_internal.h"
#include "ops/elementwise_kernels.h"
#include "ops/fast_math.h"

#define SQRT1_2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794
#define SQRT_2_OVER_PI 0.79788456080286535588

/* ------------------------------------------------------------ unary backward */

typedef struct {
  eq_unary_op op;
  eq_dtype ct;
  bool store; /* set by grad_through */
} ugrad_ctx;

/* g: output gradient, x: input, y: output. */
#define UNARY_GRAD_CASES(T, S)                                                                   \
  case EQ_NEG: EQ_GRAD_LOOPS(T, c->store, -g); return;                                                     \
  case EQ_EXP: EQ_GRAD_LOOPS(T, c->store, g *y); return;                                                   \
  case EQ_LOG: EQ_GRAD_LOOPS(T, c->store, g / x); return;                                                  \
  case EQ_SQRT: EQ_GRAD_LOOPS(T, c->store, g / ((T)2 * y)); return;                                        \
  case EQ_RSQRT: EQ_GRAD_LOOPS(T, c->store, (T)-0.5 * g * y * y * y); return;                              \
  case EQ_ABS: EQ_GRAD_LOOPS(T, c->store, x > 0 ? g : (x < 0 ? -g : (T)0)); return;                        \
  case EQ_TANH: EQ_GRAD_LOOPS(T, c->store, g *((T)1 - y * y)); return;                                     \
  case EQ_SIGMOID: EQ_GRAD_LOOPS(T, c->store, g *y *((T)1 - y)); return;                                   \
  case EQ_RELU: EQ_GRAD_LOOPS(T, c->store, y > 0 ? g : (T)0); return;                                      \
  case EQ_GELU:                                                                                  \
    EQ_GRAD_LOOPS(T, c->store, g *(eq_vcdf##S(x) + x * (T)INV_SQRT_2PI * eq_vexp##S((T)-0.5 * x * x)));   \
    return;                                                                                      \
  case EQ_GELU_TANH:                                                                             \
    EQ_GRAD_LOOPS(T, c->store, g *gelu_tanh_grad_##S(x));                                                  \
    return;                                                                                      \
  case EQ_SILU: EQ_GRAD_LOOPS(T, c->store, g *silu_grad_##S(x)); return;                                   \
  case EQ_SQUARE: EQ_GRAD_LOOPS(T, c->store, (T)2 * g * x); return;                                        \
  case EQ_SIN: EQ_GRAD_LOOPS(T, c->store, g *cos##S(x)); return;                                           \
  case EQ_COS: EQ_GRAD_LOOPS(T, c->store, -g * sin##S(x)); return;                                         \
  case EQ_LOG1P: EQ_GRAD_LOOPS(T, c->store, g / ((T)1 + x)); return;                                       \
  case EQ_EXPM1: EQ_GRAD_LOOPS(T, c->store, g *(y + (T)1)); return;                                        \
  case EQ_RECIPROCAL: EQ_GRAD_LOOPS(T, c->store, -g * y * y); return;                                      \
  default: return;

#define DEFINE_ACT_GRADS(T, S)                                                                   \
  /* With s = sigmoid(2u) = 0.5 (1 + tanh u): s + 2 x s (1 - s) u'(x). */            \
  EQ_FAST_INLINE T gelu_tanh_grad_##S(T x) {                                                      \
    T s = (T)1 / ((T)1 + eq_vexp##S((T)(-2 * SQRT_2_OVER_PI) * (x + (T)0.044715 * x * x * x)));   \
    return s + (T)2 * x * s * ((T)1 - s) * (T)SQRT_2_OVER_PI * ((T)1 + (T)3 * (T)0.044715 * x * x); \
  }                                                                                              \
  EQ_FAST_INLINE T silu_grad_##S(T x) {                                                           \
    T s = (T)1 / ((T)1 + eq_vexp##S(-x));                                                            \
    return s * ((T)1 + x * ((T)1 - s));                                                          \
  }
DEFINE_ACT_GRADS(float, f)
DEFINE_ACT_GRADS(double, )

static void ugrad_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const ugrad_ctx *c = vctx;
  if (c->ct == EQ_F32) {
    switch (c->op) { UNARY_GRAD_CASES(float, f) }
  } else {
    switch (c->op) { UNARY_GRAD_CASES(double, ) }
  }
}

/* Writes the kernel's gradient for input t: straight into t's gradient
 * buffer when shapes and dtypes agree (storing into a fresh one, adding to
 * an existing one), else into a temporary summed back over broadcast dims.
 * operands: {g, x, y} broadcast to g's shape; *store tells the kernel which. */
static eq_status grad_through(eq_tensor *t, eq_dtype ct, const eq_tensor *g, const eq_tensor *x,
                              const eq_tensor *y, eq_iter_kernel kernel, void *ctx, bool *store, const char *op) {
  if (!t->requires_grad) return EQ_OK;
  bool direct = t->dtype == ct && eq_same_shape(t, g), fresh = true;
  eq_tensor *acc = direct ? eq_grad_buffer_uninit(t, &fresh) : eq_empty(ct, g->ndim, g->shape);
  if (!acc) return eq_error_code();
  *store = fresh;
  const eq_tensor *ops[4] = {acc, g, x, y};
  eq_iter it;
  eq_status st = eq_iter_init(&it, op, g->ndim, g->shape, 4, ops);
  if (!st) {
    eq_iter_run(&it, kernel, ctx);
    if (!direct) st = eq_grad_accumulate(t, acc);
  } else if (direct && fresh) {
    memset(eq_data_ptr(acc), 0, (size_t)eq_numel(acc) * eq_dtype_size(acc->dtype)); /* never left undefined */
  }
  if (!direct) eq_tensor_free(acc);
  return st;
}

static eq_status unary_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *y = node->out, *g = y->grad;
  ugrad_ctx c = {(eq_unary_op)node->i[0], y->dtype, false};
  EQ_NO_GRAD_BEGIN;
  eq_status st = grad_through(x, c.ct, g, x, y, ugrad_kernel, &c, &c.store, node->op);
  EQ_NO_GRAD_END;
  return st;
}

/* ------------------------------------------------------------ GELU keeping its slope */

/* dx (+)= g * slope, the slope GELU'(x) kept by the forward (node->ctx). */
static eq_status gelu_slope_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  if (!x->requires_grad) return EQ_OK;
  bool fresh;
  eq_tensor *acc = eq_grad_buffer_uninit(x, &fresh);
  if (!acc) return eq_error_code();
  const float *gp = eq_f32(g), *slope = node->ctx;
  float *dx = eq_f32(acc);
  int64_t n = eq_numel(x);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) dx[i] = (fresh ? 0 : dx[i]) + gp[i] * slope[i];
  return EQ_OK;
}

/* GELU (erf form) on a contiguous float32 CPU input that needs a gradient,
 * with AVX-512: the forward also writes the slope into the node, one pass
 * that shares Phi(x), so the backward is a multiply instead of recomputing
 * Phi and phi (the erfc polynomial, two exponentials and a reciprocal). */
static bool gelu_slope_applies(eq_tensor *x) {
  return eq_gelu_avx512_available() && x->dtype == EQ_F32 && x->storage->device.type == EQ_DEVICE_CPU &&
         eq_is_contiguous(x) && eq_needs_grad(1, &x);
}

void eq_gelu_rows(eq_dtype dt, const void *x, void *y, void *slope, int64_t n) {
  const int64_t chunk = 16384;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i0 = 0; i0 < n; i0 += chunk) {
    int64_t len = n - i0 < chunk ? n - i0 : chunk;
    if (dt == EQ_F32) {
      const float *xp = (const float *)x + i0;
      float *yp = (float *)y + i0, *sp = slope ? (float *)slope + i0 : NULL;
      int64_t i = sp ? eq_gelu_slope_f32_avx512(xp, yp, sp, len) : eq_gelu_f32_avx512(xp, yp, len);
      for (; i < len; i++) {
        float a = xp[i], cdf = eq_normal_cdff(a);
        yp[i] = a * cdf;
        if (sp) sp[i] = cdf + a * (float)INV_SQRT_2PI * eq_expf(-0.5f * a * a);
      }
    } else {
      const double *xp = (const double *)x + i0;
      double *yp = (double *)y + i0, *sp = slope ? (double *)slope + i0 : NULL;
      for (int64_t i = 0; i < len; i++) {
        double a = xp[i], cdf = eq_vcdf(a);
        yp[i] = a * cdf;
        if (sp) sp[i] = cdf + a * INV_SQRT_2PI * exp(-0.5 * a * a);
      }
    }
  }
}

static eq_tensor *gelu_keeping_slope(eq_tensor *x) {
  int64_t n = eq_numel(x);
  eq_tensor *out = eq_empty(EQ_F32, x->ndim, x->shape);
  if (!out) return NULL;
  bool failed;
  eq_node *node = eq_ops_record("gelu", out, 1, &x, gelu_slope_backward, &failed);
  if (!node) { /* out of memory (x needs a gradient, so a node was due) */
    eq_tensor_free(out);
    return NULL;
  }
  float *slope = eq_node_alloc_ctx(node, (size_t)(n ? n : 1) * sizeof(float));
  if (!slope) return NULL; /* out of memory; out belongs to the tape now */
  eq_gelu_rows(EQ_F32, eq_f32(x), eq_f32(out), slope, n);
  return out;
}

eq_tensor *eq_unary(eq_unary_op op, eq_tensor *x) {
  if (op == EQ_GELU && gelu_slope_applies(x)) return gelu_keeping_slope(x);
  eq_tensor *out = eq_unary_raw(op, x);
  if (!out || !eq_unary_is_differentiable(op) || !eq_dtype_is_float(x->dtype)) return out;
  bool failed;
  eq_node *node = eq_ops_record(eq_unary_op_name(op), out, 1, &x, unary_backward, &failed);
  if (failed) return NULL;
  if (node) node->i[0] = op;
  return out;
}

/* ------------------------------------------------------------ binary backward */

typedef struct {
  eq_binary_op op;
  int which; /* 0: gradient of the first operand, 1: of the second */
  eq_dtype ct;
  bool store; /* set by grad_through */
} bgrad_ctx;

/* g: output gradient; x, y: the first and second operands. Ties of
 * maximum/minimum split the gradient, as PyTorch. */
#define BINARY_GRAD_FIRST(T, S)                                                                  \
  case EQ_ADD: case EQ_SUB: EQ_GRAD_LOOPS(T, c->store, g); return;                                         \
  case EQ_MUL: EQ_GRAD_LOOPS(T, c->store, g *y); return;                                                   \
  case EQ_DIV: EQ_GRAD_LOOPS(T, c->store, g / y); return;                                                  \
  case EQ_POW: EQ_GRAD_LOOPS(T, c->store, y == 0 ? (T)0 : g * y * pow##S(x, y - (T)1)); return;            \
  case EQ_MAXIMUM: EQ_GRAD_LOOPS(T, c->store, x > y ? g : (x == y ? (T)0.5 * g : (T)0)); return;           \
  case EQ_MINIMUM: EQ_GRAD_LOOPS(T, c->store, x < y ? g : (x == y ? (T)0.5 * g : (T)0)); return;           \
  case EQ_ATAN2: EQ_GRAD_LOOPS(T, c->store, g *y / (x * x + y * y)); return;                               \
  default: return;
#define BINARY_GRAD_SECOND(T, S)                                                                 \
  case EQ_ADD: EQ_GRAD_LOOPS(T, c->store, g); return;                                                      \
  case EQ_SUB: EQ_GRAD_LOOPS(T, c->store, -g); return;                                                     \
  case EQ_MUL: EQ_GRAD_LOOPS(T, c->store, g *x); return;                                                   \
  case EQ_DIV: EQ_GRAD_LOOPS(T, c->store, -g * x / (y * y)); return;                                       \
  case EQ_POW: EQ_GRAD_LOOPS(T, c->store, (x == 0 && y >= 0) ? (T)0 : g * pow##S(x, y) * log##S(x)); return; \
  case EQ_MAXIMUM: EQ_GRAD_LOOPS(T, c->store, y > x ? g : (x == y ? (T)0.5 * g : (T)0)); return;           \
  case EQ_MINIMUM: EQ_GRAD_LOOPS(T, c->store, y < x ? g : (x == y ? (T)0.5 * g : (T)0)); return;           \
  case EQ_ATAN2: EQ_GRAD_LOOPS(T, c->store, -g * x / (x * x + y * y)); return;                             \
  default: return;

static void bgrad_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const bgrad_ctx *c = vctx;
  if (c->ct == EQ_F32) {
    if (c->which == 0) {
      switch (c->op) { BINARY_GRAD_FIRST(float, f) }
    } else {
      switch (c->op) { BINARY_GRAD_SECOND(float, f) }
    }
  } else {
    if (c->which == 0) {
      switch (c->op) { BINARY_GRAD_FIRST(double, ) }
    } else {
      switch (c->op) { BINARY_GRAD_SECOND(double, ) }
    }
  }
}

/* Gradient for operand `which` (target t) of first op second. */
static eq_status binary_grad(eq_binary_op op, int which, eq_tensor *t, eq_dtype ct, eq_node *node,
                             eq_tensor *first, eq_tensor *second, bool may_take) {
  if (!t->requires_grad) return EQ_OK;
  const eq_tensor *g = node->out->grad;
  const char *name = node->op;
  /* add / sub pass the gradient itself: no kernel, and for the node's last
   * use of it (may_take) the operand takes the buffer where it can. */
  if (op == EQ_ADD || (op == EQ_SUB && which == 0))
    return may_take ? eq_grad_pass_through(t, node) : eq_grad_accumulate(t, g);
  bool o1, o2;
  eq_tensor *x = eq_ops_cast_raw(first, ct, &o1);
  eq_tensor *y = x ? eq_ops_cast_raw(second, ct, &o2) : NULL;
  if (!x || !y) {
    if (x && o1) eq_tensor_free(x);
    return eq_error_code();
  }
  bgrad_ctx c = {op, which, ct, false};
  eq_status st = grad_through(t, ct, g, x, y, bgrad_kernel, &c, &c.store, name);
  if (o1) eq_tensor_free(x);
  if (o2) eq_tensor_free(y);
  return st;
}

static eq_status binary_backward(eq_node *node) {
  eq_binary_op op = (eq_binary_op)node->i[0];
  eq_tensor *a = node->inputs[0], *b = node->inputs[1];
  eq_dtype ct = node->out->dtype;
  EQ_NO_GRAD_BEGIN;
  /* the second operand first: the first may take the gradient's buffer */
  eq_status st = binary_grad(op, 1, b, ct, node, a, b, false);
  if (!st) st = binary_grad(op, 0, a, ct, node, a, b, true);
  EQ_NO_GRAD_END;
  return st;
}

static bool float_differentiable(eq_binary_op op, eq_dtype result) {
  return eq_binary_is_differentiable(op) && eq_dtype_is_float(result);
}

eq_tensor *eq_binary(eq_binary_op op, eq_tensor *a, eq_tensor *b) {
  eq_tensor *out = eq_ops_binary_raw(op, a, b);
  if (!out || !float_differentiable(op, out->dtype)) return out;
  eq_tensor *in[2] = {a, b};
  bool failed;
  eq_node *node = eq_ops_record(eq_binary_op_name(op), out, 2, in, binary_backward, &failed);
  if (failed) return NULL;
  if (node) node->i[0] = op;
  return out;
}

/* i[0] op, i[1] 0 for a op s and 1 for s op a; f[0] s. */
static eq_status scalar_backward(eq_node *node) {
  eq_binary_op op = (eq_binary_op)node->i[0];
  int scalar_first = (int)node->i[1];
  eq_tensor *a = node->inputs[0];
  eq_dtype ct = node->out->dtype;
  eq_stack_scalar sc;
  eq_stack_scalar_init(&sc, ct, node->f[0]);
  EQ_NO_GRAD_BEGIN;
  eq_status st = scalar_first ? binary_grad(op, 1, a, ct, node, &sc.tensor, a, true)
                              : binary_grad(op, 0, a, ct, node, a, &sc.tensor, true);
  EQ_NO_GRAD_END;
  return st;
}

static eq_tensor *scalar_op(eq_binary_op op, eq_tensor *a, double s, bool scalar_first) {
  eq_dtype sd, ct, rt;
  if (eq_scalar_dtypes(op, a->dtype, s, &sd, &ct, &rt)) return NULL;
  eq_stack_scalar sc;
  eq_stack_scalar_init(&sc, sd, s);
  eq_tensor *out = scalar_first ? eq_binary_raw_typed(op, &sc.tensor, a, ct, rt)
                                : eq_binary_raw_typed(op, a, &sc.tensor, ct, rt);
  if (!out || !float_differentiable(op, rt)) return out;
  bool failed;
  eq_node *node = eq_ops_record(eq_binary_op_name(op), out, 1, &a, scalar_backward, &failed);
  if (failed) return NULL;
  if (node) {
    node->i[0] = op;
    node->i[1] = scalar_first;
    node->f[0] = s;
  }
  return out;
}

eq_tensor *eq_binary_scalar(eq_binary_op op, eq_tensor *a, double s) { return scalar_op(op, a, s, false); }
eq_tensor *eq_scalar_binary(eq_binary_op op, double s, eq_tensor *a) { return scalar_op(op, a, s, true); }

eq_tensor *eq_add(eq_tensor *a, eq_tensor *b) { return eq_binary(EQ_ADD, a, b); }
eq_tensor *eq_sub(eq_tensor *a, eq_tensor *b) { return eq_binary(EQ_SUB, a, b); }
eq_tensor *eq_mul(eq_tensor *a, eq_tensor *b) { return eq_binary(EQ_MUL, a, b); }
eq_tensor *eq_div(eq_tensor *a, eq_tensor *b) { return eq_binary(EQ_DIV, a, b); }
eq_tensor *eq_add_scalar(eq_tensor *a, double s) { return eq_binary_scalar(EQ_ADD, a, s); }
eq_tensor *eq_mul_scalar(eq_tensor *a, double s) { return eq_binary_scalar(EQ_MUL, a, s); }
eq_tensor *eq_pow_scalar(eq_tensor *a, double p) { return eq_binary_scalar(EQ_POW, a, p); }
eq_tensor *eq_neg(eq_tensor *x) { return eq_unary(EQ_NEG, x); }
eq_tensor *eq_exp(eq_tensor *x) { return eq_unary(EQ_EXP, x); }
eq_tensor *eq_log(eq_tensor *x) { return eq_unary(EQ_LOG, x); }
eq_tensor *eq_sqrt(eq_tensor *x) { return eq_unary(EQ_SQRT, x); }
eq_tensor *eq_relu(eq_tensor *x) { return eq_unary(EQ_RELU, x); }
eq_tensor *eq_gelu(eq_tensor *x, bool tanh_approximation) {
  return eq_unary(tanh_approximation ? EQ_GELU_TANH : EQ_GELU, x);
}
eq_tensor *eq_sigmoid(eq_tensor *x) { return eq_unary(EQ_SIGMOID, x); }
eq_tensor *eq_tanh(eq_tensor *x) { return eq_unary(EQ_TANH, x); }
eq_tensor *eq_silu(eq_tensor *x) { return eq_unary(EQ_SILU, x); }

/* ------------------------------------------------------------ clamp */

typedef struct {
  double lo, hi;
  eq_dtype ct;
  bool store; /* set by grad_through */
} clamp_ctx;

static void clamp_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const clamp_ctx *c = vctx;
  if (c->ct == EQ_F32) {
    const float lo = (float)c->lo, hi = (float)c->hi;
    EQ_UN_LOOPS(float, float, a < lo ? lo : (a > hi ? hi : a));
  } else {
    const double lo = c->lo, hi = c->hi;
    EQ_UN_LOOPS(double, double, a < lo ? lo : (a > hi ? hi : a));
  }
}

static void clamp_grad_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const clamp_ctx *c = vctx;
  if (c->ct == EQ_F32) {
    const float lo = (float)c->lo, hi = (float)c->hi;
    EQ_GRAD_LOOPS(float, c->store, (x > lo && x < hi) ? g : 0.0f);
  } else {
    const double lo = c->lo, hi = c->hi;
    EQ_GRAD_LOOPS(double, c->store, (x > lo && x < hi) ? g : 0.0);
  }
}

static eq_status clamp_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  clamp_ctx c = {node->f[0], node->f[1], node->out->dtype, false};
  EQ_NO_GRAD_BEGIN;
  eq_status st = grad_through(x, c.ct, g, x, x, clamp_grad_kernel, &c, &c.store, node->op);
  EQ_NO_GRAD_END;
  return st;
}

eq_tensor *eq_clamp(eq_tensor *x, double lo, double hi) {
  if (isnan(lo) || isnan(hi) || lo > hi) {
    eq_error(EQ_ERR_VALUE, "clamp: invalid bounds lo=%g hi=%g (need lo <= hi; use +-INFINITY for one side)", lo,
             hi);
    return NULL;
  }
  if (eq_require_cpu("clamp", x)) return NULL;
  if (!eq_dtype_is_float(x->dtype)) {
    /* Integer bounds within the dtype's range (no out-of-range casts). */
    double tmin = 0, tmax = 1;
    switch (x->dtype) {
    case EQ_I32: tmin = -2147483648.0, tmax = 2147483647.0; break;
    case EQ_I64: tmin = -9.2e18, tmax = 9.2e18; break;
    case EQ_U8: tmax = 255; break;
    default: break;
    }
    lo = ceil(lo) < tmin ? tmin : (ceil(lo) > tmax ? tmax : ceil(lo));
    hi = floor(hi) > tmax ? tmax : (floor(hi) < tmin ? tmin : floor(hi));
    eq_tensor *t = eq_binary_scalar(EQ_MAXIMUM, x, lo);
    if (!t) return NULL;
    eq_tensor *out = eq_binary_scalar(EQ_MINIMUM, t, hi);
    eq_tensor_free(t);
    return out;
  }
  eq_tensor *out = eq_empty(x->dtype, x->ndim, x->shape);
  if (!out) return NULL;
  const eq_tensor *ops[2] = {out, x};
  eq_iter it;
  if (eq_iter_init(&it, "clamp", out->ndim, out->shape, 2, ops)) {
    eq_tensor_free(out);
    return NULL;
  }
  clamp_ctx c = {lo, hi, x->dtype, false};
  eq_iter_run(&it, clamp_kernel, &c);
  bool failed;
  eq_node *node = eq_ops_record("clamp", out, 1, &x, clamp_backward, &failed);
  if (failed) return NULL;
  if (node) {
    node->f[0] = lo;
    node->f[1] = hi;
  }
  return out;
}

/* ------------------------------------------------------------ where */

static void where_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  size_t es = *(const size_t *)vctx;
  char *o = ptr[0];
  const char *c = ptr[1], *a = ptr[2], *b = ptr[3];
#define WHERE_LOOP(T)                                                                  \
  for (int64_t i = 0; i < n; i++, o += stride[0], c += stride[1], a += stride[2], b += stride[3]) \
    *(T *)o = *(const uint8_t *)c ? *(const T *)a : *(const T *)b;
  switch (es) {
  case 1: WHERE_LOOP(uint8_t) break;
  case 2: WHERE_LOOP(uint16_t) break;
  case 4:
    if (stride[0] == 4 && stride[1] == 1 && stride[2] == 4 && stride[3] == 4) {
      float *restrict po = (float *)o;
      const uint8_t *restrict pc = (const uint8_t *)c;
      const float *restrict pa = (const float *)a, *restrict pb = (const float *)b;
      for (int64_t i = 0; i < n; i++) po[i] = pc[i] ? pa[i] : pb[i];
      break;
    }
    WHERE_LOOP(uint32_t) break;
  default: WHERE_LOOP(uint64_t) break;
  }
#undef WHERE_LOOP
}

/* cond is bool; a and b already of dtype `dt`. */
static eq_tensor *where_raw(const eq_tensor *cond, const eq_tensor *a, const eq_tensor *b, eq_dtype dt) {
  int n1, n2;
  int64_t s1[EQ_MAX_DIMS], s2[EQ_MAX_DIMS];
  if (eq_broadcast_shapes("where", a, b, &n1, s1)) return NULL;
  eq_tensor shape_ab = {0};
  shape_ab.ndim = n1;
  memcpy(shape_ab.shape, s1, sizeof s1);
  if (eq_broadcast_shapes("where", cond, &shape_ab, &n2, s2)) return NULL;
  eq_tensor *out = eq_empty(dt, n2, s2);
  if (!out) return NULL;
  const eq_tensor *ops[4] = {out, cond, a, b};
  eq_iter it;
  if (eq_iter_init(&it, "where", n2, s2, 4, ops)) {
    eq_tensor_free(out);
    return NULL;
  }
  size_t es = eq_dtype_size(dt);
  eq_iter_run(&it, where_kernel, &es);
  return out;
}

static eq_status where_backward(eq_node *node) {
  eq_tensor *cond = node->saved[0], *g = node->out->grad;
  bool oc = false;
  if (cond->dtype != EQ_BOOL) {
    cond = eq_ops_binary_scalar_raw(EQ_NOT_EQUAL, cond, 0.0);
    if (!cond) return eq_error_code();
    oc = true;
  }
  eq_stack_scalar zero;
  eq_stack_scalar_init(&zero, g->dtype, 0.0);
  EQ_NO_GRAD_BEGIN;
  eq_status st = EQ_OK;
  for (int k = 0; k < 2 && !st; k++) {
    eq_tensor *t = node->inputs[k];
    if (!t->requires_grad) continue;
    eq_tensor *gk = k == 0 ? where_raw(cond, g, &zero.tensor, g->dtype) : where_raw(cond, &zero.tensor, g, g->dtype);
    st = gk ? eq_grad_accumulate(t, gk) : eq_error_code();
    eq_tensor_free(gk);
  }
  EQ_NO_GRAD_END;
  if (oc) eq_tensor_free(cond);
  return st;
}

eq_tensor *eq_where(eq_tensor *cond, eq_tensor *a, eq_tensor *b) {
  if (eq_require_cpu("where", cond) || eq_require_cpu("where", a) || eq_require_cpu("where", b)) return NULL;
  if ((unsigned)a->dtype >= EQ_BF16 || (unsigned)b->dtype >= EQ_BF16 || (unsigned)cond->dtype >= EQ_BF16) {
    eq_error(EQ_ERR_DTYPE, "where: dtypes %s, %s, %s: bfloat16/float16 are storage only",
             eq_dtype_name(cond->dtype), eq_dtype_name(a->dtype), eq_dtype_name(b->dtype));
    return NULL;
  }
  eq_dtype dt = eq_dtype_promote(a->dtype, b->dtype);
  /* A non-bool condition means "nonzero". */
  eq_tensor *c = cond;
  bool oc = false;
  if (cond->dtype != EQ_BOOL) {
    c = eq_ops_binary_scalar_raw(EQ_NOT_EQUAL, cond, 0.0);
    if (!c) return NULL;
    oc = true;
  }
  bool oa, ob = false;
  eq_tensor *ac = eq_ops_cast_raw(a, dt, &oa);
  eq_tensor *bc = ac ? eq_ops_cast_raw(b, dt, &ob) : NULL;
  eq_tensor *out = bc ? where_raw(c, ac, bc, dt) : NULL;
  if (oa) eq_tensor_free(ac);
  if (ob) eq_tensor_free(bc);
  if (out && eq_dtype_is_float(dt)) {
    eq_tensor *in[2] = {a, b};
    bool failed;
    eq_node *node = eq_ops_record("where", out, 2, in, where_backward, &failed);
    if (failed) out = NULL;
    if (node) node->saved[0] = cond; /* converted again in the backward: nothing to free */
  }
  if (oc) eq_tensor_free(c);
  return out;
}

/* ------------------------------------------------------------ in place */

static eq_status check_inplace_shape(const char *name, const eq_tensor *a, const eq_tensor *b) {
  int ndim;
  int64_t shape[EQ_MAX_DIMS];
  eq_status st = eq_broadcast_shapes(name, a, b, &ndim, shape);
  if (st) return st;
  if (ndim != a->ndim || memcmp(shape, a->shape, sizeof(int64_t) * (size_t)ndim)) {
    char sa[96], sb[96];
    return eq_error(EQ_ERR_SHAPE, "%s (in place): %s does not broadcast to the destination's shape %s", name,
                    eq_shape_str(b, sb, sizeof sb), eq_shape_str(a, sa, sizeof sa));
  }
  return EQ_OK;
}

static eq_status inplace(eq_binary_op op, eq_tensor *a, eq_tensor *b, eq_dtype ct, eq_dtype rt) {
  const char *name = eq_binary_op_name(op);
  if (eq_require_cpu(name, a) || eq_require_cpu(name, b)) return eq_error_code();
  eq_status st = check_inplace_shape(name, a, b);
  if (st) return st;
  if (eq_dtype_promote(rt, a->dtype) != a->dtype)
    return eq_error(EQ_ERR_DTYPE, "%s (in place): result type %s cannot be stored in a %s tensor", name,
                    eq_dtype_name(rt), eq_dtype_name(a->dtype));
  if (ct == a->dtype && rt == a->dtype) {
    bool ob;
    eq_tensor *bc = eq_ops_cast_raw(b, ct, &ob);
    if (!bc) return eq_error_code();
    st = eq_binary_into(op, ct, a, a, bc);
    if (ob) eq_tensor_free(bc);
    return st;
  }
  eq_tensor *tmp = eq_binary_raw_typed(op, a, b, ct, rt);
  if (!tmp) return eq_error_code();
  st = eq_copy_(a, tmp);
  eq_tensor_free(tmp);
  return st;
}

eq_status eq_binary_(eq_binary_op op, eq_tensor *a, const eq_tensor *b) {
  eq_dtype ct, rt;
  eq_status st = eq_binary_dtypes(op, a->dtype, b->dtype, &ct, &rt);
  if (st) return st;
  return inplace(op, a, (eq_tensor *)b, ct, rt);
}

eq_status eq_binary_scalar_(eq_binary_op op, eq_tensor *a, double s) {
  eq_dtype sd, ct, rt;
  eq_status st = eq_scalar_dtypes(op, a->dtype, s, &sd, &ct, &rt);
  if (st) return st;
  eq_stack_scalar sc;
  eq_stack_scalar_init(&sc, sd, s);
  return inplace(op, a, &sc.tensor, ct, rt);
}
