/* Elementwise forward kernels: unary and binary ops on every dtype, with the
 * dtype rules of ops.h. The tape and the backward live in
 * elementwise_grad.c. */
#pragma GCC optimize("no-math-errno", "no-trapping-math") /* vectorisable sqrt and selects */
#include <math.h>
#ifdef __AVX__
#include <immintrin.h>
#endif

#include "ops/elementwise_kernels.h"
#include "ops/fast_math.h"
#include "ops/elementwise_internal.h"

static const char *const unary_names[EQ_UNARY_OP_COUNT] = {
    "neg",  "exp",  "log",   "sqrt",  "rsqrt", "abs",  "tanh",  "sigmoid", "relu",  "gelu",  "gelu_tanh",
    "silu", "square", "sin", "cos",   "log1p", "expm1", "reciprocal", "floor", "ceil", "round", "trunc",
    "sign", "tan",  "asin",  "acos",  "atan",  "sinh", "cosh",  "log2",    "log10", "exp2",  "isnan",
    "isinf", "isfinite", "logical_not"};

static const char *const binary_names[EQ_BINARY_OP_COUNT] = {
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "floor_divide", "fmod", "remainder",
    "bitwise_and", "bitwise_or", "bitwise_xor", "equal", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "logical_and", "logical_or", "logical_xor"};

const char *eq_unary_op_name(eq_unary_op op) {
  return (unsigned)op < EQ_UNARY_OP_COUNT ? unary_names[op] : "unknown_unary_op";
}

const char *eq_binary_op_name(eq_binary_op op) {
  return (unsigned)op < EQ_BINARY_OP_COUNT ? binary_names[op] : "unknown_binary_op";
}

/* ------------------------------------------------------------ dtype rules */

static bool unary_is_float_op(eq_unary_op op) {
  switch (op) {
  case EQ_NEG: case EQ_ABS: case EQ_RELU: case EQ_SQUARE: case EQ_SIGN: case EQ_FLOOR: case EQ_CEIL:
  case EQ_ROUND: case EQ_TRUNC: case EQ_ISNAN: case EQ_ISINF: case EQ_ISFINITE: case EQ_LOGICAL_NOT:
    return false;
  default: return true;
  }
}

bool eq_unary_is_predicate(eq_unary_op op) { return op >= EQ_ISNAN && op <= EQ_LOGICAL_NOT; }
bool eq_unary_is_differentiable(eq_unary_op op) { return op <= EQ_RECIPROCAL; }
bool eq_binary_is_predicate(eq_binary_op op) { return op >= EQ_EQUAL && op <= EQ_LOGICAL_XOR; }
bool eq_binary_is_differentiable(eq_binary_op op) { return op <= EQ_ATAN2; }

eq_status eq_unary_dtypes(eq_unary_op op, eq_dtype in, eq_dtype *compute, eq_dtype *result) {
  if ((unsigned)op >= EQ_UNARY_OP_COUNT) return eq_error(EQ_ERR_VALUE, "eq_unary: invalid op %d", (int)op);
  if ((unsigned)in >= EQ_BF16)
    return eq_error(EQ_ERR_DTYPE, "%s: dtype %s is storage only", eq_unary_op_name(op), eq_dtype_name(in));
  eq_dtype ct = in;
  if (!eq_dtype_is_float(in) && unary_is_float_op(op)) ct = EQ_F32;
  if (in == EQ_BOOL && (op == EQ_NEG || op == EQ_SIGN || op == EQ_SQUARE))
    return eq_error(EQ_ERR_DTYPE, "%s: not defined for bool (use logical_not)", eq_unary_op_name(op));
  *compute = ct;
  *result = eq_unary_is_predicate(op) ? EQ_BOOL : ct;
  return EQ_OK;
}

eq_status eq_binary_dtypes(eq_binary_op op, eq_dtype a, eq_dtype b, eq_dtype *compute, eq_dtype *result) {
  const char *name = eq_binary_op_name(op);
  if ((unsigned)op >= EQ_BINARY_OP_COUNT) return eq_error(EQ_ERR_VALUE, "eq_binary: invalid op %d", (int)op);
  if ((unsigned)a >= EQ_BF16 || (unsigned)b >= EQ_BF16)
    return eq_error(EQ_ERR_DTYPE, "%s: dtypes %s and %s: bfloat16/float16 are storage only", name,
                    eq_dtype_name(a), eq_dtype_name(b));
  eq_dtype ct = eq_dtype_promote(a, b);
  bool is_float = eq_dtype_is_float(ct);
  switch (op) {
  case EQ_DIV: case EQ_ATAN2:
    if (!is_float) ct = EQ_F32; /* true division, as PyTorch */
    break;
  case EQ_BITWISE_AND: case EQ_BITWISE_OR: case EQ_BITWISE_XOR:
    if (is_float)
      return eq_error(EQ_ERR_DTYPE, "%s: needs integer or bool operands, got %s and %s", name, eq_dtype_name(a),
                      eq_dtype_name(b));
    break;
  case EQ_SUB: case EQ_POW: case EQ_FLOOR_DIV: case EQ_FMOD: case EQ_REMAINDER:
    if (ct == EQ_BOOL)
      return eq_error(EQ_ERR_DTYPE, "%s: not defined for bool operands (use logical_xor or a cast)", name);
    break;
  default: break;
  }
  *compute = ct;
  *result = eq_binary_is_predicate(op) ? EQ_BOOL : ct;
  return EQ_OK;
}

/* ------------------------------------------------------------ unary kernels */

typedef struct {
  eq_unary_op op;
  eq_dtype ct;
} unary_ctx;

#define SQRT1_2 0.70710678118654752440
#define SQRT_2_OVER_PI 0.79788456080286535588

/* GELU as x * Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation
 * in 1 + erf(x / sqrt 2) for negative x, so the tails keep their relative
 * accuracy. */
#define UNARY_FLOAT_CASES(T, S)                                                                 \
  case EQ_NEG: EQ_UN_LOOPS(T, T, -a); return;                                                   \
  case EQ_EXP: EQ_UN_LOOPS(T, T, eq_vexp##S(a)); return;                                            \
  case EQ_LOG: EQ_UN_LOOPS(T, T, log##S(a)); return;                                            \
  case EQ_SQRT: EQ_UN_LOOPS(T, T, sqrt##S(a)); return;                                          \
  case EQ_RSQRT: EQ_UN_LOOPS(T, T, (T)1 / sqrt##S(a)); return;                                  \
  case EQ_ABS: EQ_UN_LOOPS(T, T, fabs##S(a)); return;                                           \
  case EQ_TANH: EQ_UN_LOOPS(T, T, eq_vtanh##S(a)); return;                                          \
  case EQ_SIGMOID: EQ_UN_LOOPS(T, T, (T)1 / ((T)1 + eq_vexp##S(-a))); return;                       \
  case EQ_RELU: EQ_UN_LOOPS(T, T, a < 0 ? (T)0 : a); return;                                    \
  case EQ_GELU: EQ_UN_LOOPS(T, T, a *eq_vcdf##S(a)); return;               \
  case EQ_GELU_TANH: /* 0.5 (1 + tanh u) = sigmoid(2u): no cancellation for x < 0 */          \
    EQ_UN_LOOPS(T, T, a / ((T)1 + eq_vexp##S((T)(-2 * SQRT_2_OVER_PI) * (a + (T)0.044715 * a * a * a)))); \
    return;                                                                                     \
  case EQ_SILU: EQ_UN_LOOPS(T, T, a / ((T)1 + eq_vexp##S(-a))); return;                             \
  case EQ_SQUARE: EQ_UN_LOOPS(T, T, a *a); return;                                              \
  case EQ_SIN: EQ_UN_LOOPS(T, T, sin##S(a)); return;                                            \
  case EQ_COS: EQ_UN_LOOPS(T, T, cos##S(a)); return;                                            \
  case EQ_LOG1P: EQ_UN_LOOPS(T, T, log1p##S(a)); return;                                        \
  case EQ_EXPM1: EQ_UN_LOOPS(T, T, expm1##S(a)); return;                                        \
  case EQ_RECIPROCAL: EQ_UN_LOOPS(T, T, (T)1 / a); return;                                      \
  case EQ_FLOOR: EQ_UN_LOOPS(T, T, floor##S(a)); return;                                        \
  case EQ_CEIL: EQ_UN_LOOPS(T, T, ceil##S(a)); return;                                          \
  case EQ_ROUND: EQ_UN_LOOPS(T, T, nearbyint##S(a)); return; /* half to even, as PyTorch */     \
  case EQ_TRUNC: EQ_UN_LOOPS(T, T, trunc##S(a)); return;                                        \
  case EQ_SIGN: EQ_UN_LOOPS(T, T, a != a ? a : (T)((a > 0) - (a < 0))); return;                 \
  case EQ_TAN: EQ_UN_LOOPS(T, T, tan##S(a)); return;                                            \
  case EQ_ASIN: EQ_UN_LOOPS(T, T, asin##S(a)); return;                                          \
  case EQ_ACOS: EQ_UN_LOOPS(T, T, acos##S(a)); return;                                          \
  case EQ_ATAN: EQ_UN_LOOPS(T, T, atan##S(a)); return;                                          \
  case EQ_SINH: EQ_UN_LOOPS(T, T, sinh##S(a)); return;                                          \
  case EQ_COSH: EQ_UN_LOOPS(T, T, cosh##S(a)); return;                                          \
  case EQ_LOG2: EQ_UN_LOOPS(T, T, log2##S(a)); return;                                          \
  case EQ_LOG10: EQ_UN_LOOPS(T, T, log10##S(a)); return;                                        \
  case EQ_EXP2: EQ_UN_LOOPS(T, T, exp2##S(a)); return;                                          \
  case EQ_ISNAN: EQ_UN_LOOPS(uint8_t, T, a != a); return;                                       \
  case EQ_ISINF: EQ_UN_LOOPS(uint8_t, T, isinf(a)); return;                                     \
  case EQ_ISFINITE: EQ_UN_LOOPS(uint8_t, T, isfinite(a)); return;                               \
  case EQ_LOGICAL_NOT: EQ_UN_LOOPS(uint8_t, T, a == 0); return;                                 \
  default: return;

/* a < 0 without a type-limits warning for unsigned T. */
#define IS_NEG(T, a) ((a) < (T)1 && (a) != 0)

/* Integer unary ops (the float ones never reach here: converted first).
 * Negation goes through the unsigned type: wrap-around, no UB. */
#define UNARY_INT_CASES(T, UT)                                                                  \
  case EQ_NEG: EQ_UN_LOOPS(T, T, (UT)0 - (UT)a); return;                                        \
  case EQ_ABS: EQ_UN_LOOPS(T, T, IS_NEG(T, a) ? (UT)0 - (UT)a : (UT)a); return;                        \
  case EQ_RELU: EQ_UN_LOOPS(T, T, IS_NEG(T, a) ? 0 : a); return;                                \
  case EQ_SQUARE: EQ_UN_LOOPS(T, T, (UT)a * (UT)a); return;                                     \
  case EQ_SIGN: EQ_UN_LOOPS(T, T, (a > 0) - IS_NEG(T, a)); return;                                   \
  case EQ_FLOOR: case EQ_CEIL: case EQ_ROUND: case EQ_TRUNC: EQ_UN_LOOPS(T, T, a); return;      \
  case EQ_ISNAN: case EQ_ISINF: EQ_UN_LOOPS(uint8_t, T, 0 * a); return;                         \
  case EQ_ISFINITE: EQ_UN_LOOPS(uint8_t, T, 1 + 0 * a); return;                                 \
  case EQ_LOGICAL_NOT: EQ_UN_LOOPS(uint8_t, T, a == 0); return;                                 \
  default: return;

/* GCC keeps sqrtf's errno path (a branch per element, no vectorising)
 * unless the whole build has -fno-math-errno, so the contiguous float32
 * sqrt / rsqrt use the instruction directly. */
static bool sqrt_f32_simd(eq_unary_op op, char **ptr, const int64_t *stride, int64_t n) {
#ifdef __AVX__
  if ((op != EQ_SQRT && op != EQ_RSQRT) || stride[0] != 4 || stride[1] != 4) return false;
  float *o = (float *)ptr[0];
  const float *x = (const float *)ptr[1];
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 r = _mm256_sqrt_ps(_mm256_loadu_ps(x + i));
    _mm256_storeu_ps(o + i, op == EQ_SQRT ? r : _mm256_div_ps(one, r));
  }
  for (; i < n; i++) o[i] = op == EQ_SQRT ? sqrtf(x[i]) : 1.0f / sqrtf(x[i]);
  return true;
#else
  (void)op, (void)ptr, (void)stride, (void)n;
  return false;
#endif
}

static void unary_f32(eq_unary_op op, char **ptr, const int64_t *stride, int64_t n) {
  if (sqrt_f32_simd(op, ptr, stride, n)) return;
  char *rest[2] = {ptr[0], ptr[1]};
  if (op == EQ_GELU && stride[0] == 4 && stride[1] == 4) { /* the vectors in intrinsics, the tail below */
    int64_t done = eq_gelu_f32_avx512((const float *)ptr[1], (float *)ptr[0], n);
    rest[0] += done * 4, rest[1] += done * 4, n -= done;
  }
  ptr = rest;
  switch (op) { UNARY_FLOAT_CASES(float, f) }
}
static void unary_f64(eq_unary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { UNARY_FLOAT_CASES(double, ) }
}
static void unary_i32(eq_unary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { UNARY_INT_CASES(int32_t, uint32_t) }
}
static void unary_i64(eq_unary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { UNARY_INT_CASES(int64_t, uint64_t) }
}
static void unary_u8(eq_unary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { UNARY_INT_CASES(uint8_t, uint8_t) }
}

static void unary_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const unary_ctx *c = vctx;
  switch (c->ct) {
  case EQ_F32: unary_f32(c->op, ptr, stride, n); return;
  case EQ_F64: unary_f64(c->op, ptr, stride, n); return;
  case EQ_I32: unary_i32(c->op, ptr, stride, n); return;
  case EQ_I64: unary_i64(c->op, ptr, stride, n); return;
  case EQ_U8: case EQ_BOOL: unary_u8(c->op, ptr, stride, n); return;
  default: return;
  }
}

eq_status eq_unary_into(eq_unary_op op, eq_dtype ct, eq_tensor *out, const eq_tensor *x) {
  const eq_tensor *ops[2] = {out, x};
  eq_iter it;
  eq_status st = eq_iter_init(&it, eq_unary_op_name(op), out->ndim, out->shape, 2, ops);
  if (st) return st;
  unary_ctx c = {op, ct};
  eq_iter_run(&it, unary_kernel, &c);
  return EQ_OK;
}

/* ------------------------------------------------------------ binary kernels */

typedef struct {
  eq_binary_op op;
  eq_dtype ct;
} binary_ctx;

#define CMP_CASES(T)                                                                            \
  case EQ_EQUAL: EQ_BIN_LOOPS(uint8_t, T, a == b); return;                                      \
  case EQ_NOT_EQUAL: EQ_BIN_LOOPS(uint8_t, T, a != b); return;                                  \
  case EQ_LESS: EQ_BIN_LOOPS(uint8_t, T, a < b); return;                                        \
  case EQ_LESS_EQUAL: EQ_BIN_LOOPS(uint8_t, T, a <= b); return;                                 \
  case EQ_GREATER: EQ_BIN_LOOPS(uint8_t, T, a > b); return;                                     \
  case EQ_GREATER_EQUAL: EQ_BIN_LOOPS(uint8_t, T, a >= b); return;                              \
  case EQ_LOGICAL_AND: EQ_BIN_LOOPS(uint8_t, T, (a != 0) & (b != 0)); return;                   \
  case EQ_LOGICAL_OR: EQ_BIN_LOOPS(uint8_t, T, (a != 0) | (b != 0)); return;                    \
  case EQ_LOGICAL_XOR: EQ_BIN_LOOPS(uint8_t, T, (a != 0) ^ (b != 0)); return;

/* Python-style floor division and modulo on floats, as NumPy/PyTorch. */
#define FLOAT_REMAINDER(T, S, a, b) ((b) == 0 ? fmod##S(a, b) : ((a) - floor##S((a) / (b)) * (b)))

/* maximum/minimum propagate NaN, as PyTorch. */
#define BINARY_FLOAT_CASES(T, S)                                                                \
  case EQ_ADD: EQ_BIN_LOOPS(T, T, a + b); return;                                               \
  case EQ_SUB: EQ_BIN_LOOPS(T, T, a - b); return;                                               \
  case EQ_MUL: EQ_BIN_LOOPS(T, T, a *b); return;                                                \
  case EQ_DIV: EQ_BIN_LOOPS(T, T, a / b); return;                                               \
  case EQ_POW: EQ_BIN_LOOPS(T, T, pow##S(a, b)); return;                                        \
  case EQ_MAXIMUM: EQ_BIN_LOOPS(T, T, (a > b || a != a) ? a : b); return;                       \
  case EQ_MINIMUM: EQ_BIN_LOOPS(T, T, (a < b || a != a) ? a : b); return;                       \
  case EQ_ATAN2: EQ_BIN_LOOPS(T, T, atan2##S(a, b)); return;                                    \
  case EQ_FLOOR_DIV: EQ_BIN_LOOPS(T, T, floor##S(a / b)); return;                               \
  case EQ_FMOD: EQ_BIN_LOOPS(T, T, fmod##S(a, b)); return;                                      \
  case EQ_REMAINDER: EQ_BIN_LOOPS(T, T, FLOAT_REMAINDER(T, S, a, b)); return;                   \
    CMP_CASES(T)                                                                                \
  default: return;

static inline int64_t ipow64(int64_t base, int64_t e) {
  if (e < 0) return base == 1 ? 1 : (base == -1 ? ((e & 1) ? -1 : 1) : 0);
  uint64_t r = 1, b = (uint64_t)base;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return (int64_t)r;
}

/* Integer division by zero gives 0 (NumPy's result, without the trap), and
 * MIN / -1 wraps. Arithmetic goes through the unsigned type: no UB. */
static inline int64_t ifloordiv(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return (int64_t)(0 - (uint64_t)a);
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}
static inline int64_t ifmod(int64_t a, int64_t b) { return (b == 0 || b == -1) ? 0 : a % b; }
static inline int64_t iremainder(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

#define BINARY_INT_CASES(T, UT)                                                                 \
  case EQ_ADD: EQ_BIN_LOOPS(T, T, (UT)a + (UT)b); return;                                       \
  case EQ_SUB: EQ_BIN_LOOPS(T, T, (UT)a - (UT)b); return;                                       \
  case EQ_MUL: EQ_BIN_LOOPS(T, T, (UT)a * (UT)b); return;                                       \
  case EQ_POW: EQ_BIN_LOOPS(T, T, ipow64(a, b)); return;                                        \
  case EQ_MAXIMUM: EQ_BIN_LOOPS(T, T, a > b ? a : b); return;                                   \
  case EQ_MINIMUM: EQ_BIN_LOOPS(T, T, a < b ? a : b); return;                                   \
  case EQ_FLOOR_DIV: EQ_BIN_LOOPS(T, T, ifloordiv(a, b)); return;                               \
  case EQ_FMOD: EQ_BIN_LOOPS(T, T, ifmod(a, b)); return;                                        \
  case EQ_REMAINDER: EQ_BIN_LOOPS(T, T, iremainder(a, b)); return;                              \
  case EQ_BITWISE_AND: EQ_BIN_LOOPS(T, T, a &b); return;                                        \
  case EQ_BITWISE_OR: EQ_BIN_LOOPS(T, T, a | b); return;                                        \
  case EQ_BITWISE_XOR: EQ_BIN_LOOPS(T, T, a ^ b); return;                                       \
    CMP_CASES(T)                                                                                \
  default: return;

/* bool arithmetic is logic: add = or, mul = and (as NumPy and PyTorch). */
#define BINARY_BOOL_CASES                                                                       \
  case EQ_ADD: case EQ_MAXIMUM: case EQ_BITWISE_OR: EQ_BIN_LOOPS(uint8_t, uint8_t, a | b); return; \
  case EQ_MUL: case EQ_MINIMUM: case EQ_BITWISE_AND: EQ_BIN_LOOPS(uint8_t, uint8_t, a &b); return; \
  case EQ_BITWISE_XOR: EQ_BIN_LOOPS(uint8_t, uint8_t, a ^ b); return;                           \
    CMP_CASES(uint8_t)                                                                          \
  default: return;

static void binary_f32(eq_binary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { BINARY_FLOAT_CASES(float, f) }
}
static void binary_f64(eq_binary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { BINARY_FLOAT_CASES(double, ) }
}
static void binary_i32(eq_binary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { BINARY_INT_CASES(int32_t, uint32_t) }
}
static void binary_i64(eq_binary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { BINARY_INT_CASES(int64_t, uint64_t) }
}
static void binary_u8(eq_binary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { BINARY_INT_CASES(uint8_t, uint8_t) }
}
static void binary_bool(eq_binary_op op, char **ptr, const int64_t *stride, int64_t n) {
  switch (op) { BINARY_BOOL_CASES }
}

static void binary_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const binary_ctx *c = vctx;
  switch (c->ct) {
  case EQ_F32: binary_f32(c->op, ptr, stride, n); return;
  case EQ_F64: binary_f64(c->op, ptr, stride, n); return;
  case EQ_I32: binary_i32(c->op, ptr, stride, n); return;
  case EQ_I64: binary_i64(c->op, ptr, stride, n); return;
  case EQ_U8: binary_u8(c->op, ptr, stride, n); return;
  case EQ_BOOL: binary_bool(c->op, ptr, stride, n); return;
  default: return;
  }
}

eq_status eq_binary_into(eq_binary_op op, eq_dtype ct, eq_tensor *out, const eq_tensor *a, const eq_tensor *b) {
  const eq_tensor *ops[3] = {out, a, b};
  eq_iter it;
  eq_status st = eq_iter_init(&it, eq_binary_op_name(op), out->ndim, out->shape, 3, ops);
  if (st) return st;
  binary_ctx c = {op, ct};
  eq_iter_run(&it, binary_kernel, &c);
  return EQ_OK;
}

/* ------------------------------------------------------------ shared helpers */

eq_tensor *eq_ops_raw_view(const eq_tensor *t, int ndim, const int64_t *shape, const int64_t *stride) {
  eq_tensor *v = eq_view_of(t);
  if (!v) return NULL;
  v->ndim = ndim;
  for (int d = 0; d < ndim; d++) {
    v->shape[d] = shape[d];
    v->stride[d] = stride[d];
  }
  return v;
}

eq_tensor *eq_ops_cast_raw(eq_tensor *t, eq_dtype dtype, bool *owned) {
  *owned = false;
  if (t->dtype == dtype) return t;
  eq_tensor *c = eq_empty(dtype, t->ndim, t->shape);
  if (!c) return NULL;
  if (eq_copy_(c, t)) {
    eq_tensor_free(c);
    return NULL;
  }
  *owned = true;
  return c;
}

eq_tensor *eq_ops_contiguous_raw(eq_tensor *t, bool *owned) {
  *owned = false;
  if (eq_is_contiguous(t)) return t;
  eq_tensor *c = eq_empty(t->dtype, t->ndim, t->shape);
  if (!c) return NULL;
  if (eq_copy_(c, t)) {
    eq_tensor_free(c);
    return NULL;
  }
  *owned = true;
  return c;
}

/* A 0-d tensor on the caller's stack holding one scalar of `dtype`. */
void eq_stack_scalar_init(eq_stack_scalar *s, eq_dtype dtype, double value) {
  memset(s, 0, sizeof *s);
  eq_store_from_double(s->value, dtype, value);
  s->storage.data = s->value;
  s->storage.nbytes = sizeof s->value;
  s->storage.device = (eq_device){EQ_DEVICE_CPU, 0};
  s->storage.in_arena = true; /* never counted or freed */
  s->tensor.storage = &s->storage;
  s->tensor.dtype = dtype;
  s->tensor.in_arena = true;
}

eq_tensor *eq_unary_raw(eq_unary_op op, eq_tensor *x) {
  const char *name = eq_unary_op_name(op);
  if (eq_require_cpu(name, x)) return NULL;
  eq_dtype ct, rt;
  if (eq_unary_dtypes(op, x->dtype, &ct, &rt)) return NULL;
  bool owned;
  eq_tensor *xc = eq_ops_cast_raw(x, ct, &owned);
  if (!xc) return NULL;
  eq_tensor *out = eq_empty(rt, x->ndim, x->shape);
  if (out && eq_unary_into(op, ct, out, xc)) {
    eq_tensor_free(out);
    out = NULL;
  }
  if (owned) eq_tensor_free(xc);
  return out;
}

eq_tensor *eq_binary_raw_typed(eq_binary_op op, eq_tensor *a, eq_tensor *b, eq_dtype ct, eq_dtype rt) {
  const char *name = eq_binary_op_name(op);
  if (eq_require_cpu(name, a) || eq_require_cpu(name, b)) return NULL;
  int ndim;
  int64_t shape[EQ_MAX_DIMS];
  if (eq_broadcast_shapes(name, a, b, &ndim, shape)) return NULL;
  bool oa, ob;
  eq_tensor *ac = eq_ops_cast_raw(a, ct, &oa);
  if (!ac) return NULL;
  eq_tensor *bc = eq_ops_cast_raw(b, ct, &ob);
  eq_tensor *out = bc ? eq_empty(rt, ndim, shape) : NULL;
  if (out && eq_binary_into(op, ct, out, ac, bc)) {
    eq_tensor_free(out);
    out = NULL;
  }
  if (oa) eq_tensor_free(ac);
  if (ob) eq_tensor_free(bc);
  return out;
}

eq_tensor *eq_ops_binary_raw(eq_binary_op op, eq_tensor *a, eq_tensor *b) {
  eq_dtype ct, rt;
  if (eq_binary_dtypes(op, a->dtype, b->dtype, &ct, &rt)) return NULL;
  return eq_binary_raw_typed(op, a, b, ct, rt);
}

/* NumPy's weak scalar rule: the scalar takes the tensor's dtype, except that
 * a non-integral scalar with an integer tensor computes in float32 (as
 * PyTorch: int_tensor * 0.5 is float). */
eq_status eq_scalar_dtypes(eq_binary_op op, eq_dtype t, double s, eq_dtype *scalar_dtype, eq_dtype *compute,
                           eq_dtype *result) {
  eq_dtype sd = t;
  if (!eq_dtype_is_float(t) && (s != floor(s) || !isfinite(s))) sd = EQ_F32;
  if (t == EQ_BOOL && s != 0 && s != 1 && sd == EQ_BOOL) sd = EQ_I64;
  *scalar_dtype = sd;
  return eq_binary_dtypes(op, t, sd, compute, result);
}

eq_tensor *eq_ops_binary_scalar_raw(eq_binary_op op, eq_tensor *a, double s) {
  eq_dtype sd, ct, rt;
  if (eq_scalar_dtypes(op, a->dtype, s, &sd, &ct, &rt)) return NULL;
  eq_stack_scalar sc;
  eq_stack_scalar_init(&sc, sd, s);
  return eq_binary_raw_typed(op, a, &sc.tensor, ct, rt);
}
