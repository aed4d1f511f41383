/* Elementwise operations: operand alignment (broadcasting + redistribution
 * rules) and the local kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"
#include "tensor/iter.h"

/* ---------------------------------------------------------------- alignment */

typedef struct {
  int ndim;
  int64_t shape[EQ_MAX_DIMS];
  int split;
  const eq_dnd *layout_of; /* the operand whose counts the result takes */
  eq_dnd *owned[3];        /* redistributed copies to free */
  eq_tensor *view[3];      /* local operands aligned to the result block */
} aligned;

static void aligned_free(aligned *al, int n) {
  for (int k = 0; k < n; k++) {
    eq_dnd_free(al->owned[k]);
    eq_tensor_free(al->view[k]);
  }
}

/* Aligns n operands (n <= 3) to one result layout. On failure everything is
 * released. */
static eq_status align(const char *op, int n, const eq_dnd *const *in, aligned *al) {
  memset(al, 0, sizeof *al);
  const eq_dnd *x[3];
  for (int k = 0; k < n; k++) {
    if (!in[k]) return eq_error(EQ_ERR_VALUE, "%s: NULL operand %d", op, k);
    if (in[k]->comm != in[0]->comm) return eq_error(EQ_ERR_VALUE, "%s: operands on different communicators", op);
    x[k] = in[k];
  }
  /* Global broadcast shape. */
  int nd = 0;
  for (int k = 0; k < n; k++) nd = x[k]->ndim > nd ? x[k]->ndim : nd;
  for (int i = 0; i < nd; i++) {
    int64_t s = 1;
    for (int k = 0; k < n; k++) {
      int j = i - (nd - x[k]->ndim);
      int64_t d = j >= 0 ? x[k]->shape[j] : 1;
      if (d == s || d == 1) continue;
      if (s != 1) {
        char b0[128], b1[128];
        return eq_error(EQ_ERR_SHAPE, "%s: %s and %s do not broadcast (result dim %d: %lld vs %lld)", op,
                        eq_dnd_str(x[0], b0, sizeof b0), eq_dnd_str(x[k], b1, sizeof b1), i, (long long)s,
                        (long long)d);
      }
      s = d;
    }
    al->shape[i] = s;
  }
  al->ndim = nd;
  /* The result's split: the first operand split on an axis that is not broadcast. */
  al->split = EQ_DND_NONE;
  for (int k = 0; k < n; k++) {
    if (x[k]->split == EQ_DND_NONE) continue;
    int rs = x[k]->split + (nd - x[k]->ndim);
    if (x[k]->shape[x[k]->split] != al->shape[rs]) continue; /* a broadcast size-1 split */
    al->split = rs;
    al->layout_of = x[k];
    break;
  }
  /* Bring every split operand onto the result layout. */
  for (int k = 0; k < n; k++) {
    if (x[k]->split == EQ_DND_NONE || x[k] == al->layout_of) continue;
    int rs = x[k]->split + (nd - x[k]->ndim);
    int want = EQ_DND_NONE;
    const int64_t *counts = NULL;
    if (al->split != EQ_DND_NONE) {
      int j = al->split - (nd - x[k]->ndim);
      if (j >= 0 && x[k]->shape[j] == al->shape[al->split]) {
        want = j;
        counts = al->layout_of->counts;
      }
    }
    if (rs == al->split && want != EQ_DND_NONE && dnd_same_layout(x[k], al->layout_of)) continue;
    al->owned[k] = dnd_relayout(x[k], want, counts);
    if (!al->owned[k]) {
      aligned_free(al, n);
      return eq_error_code();
    }
    x[k] = al->owned[k];
  }
  /* Local views. */
  int me = in[0]->comm->rank;
  for (int k = 0; k < n; k++) {
    const eq_dnd *o = x[k];
    int j = al->split == EQ_DND_NONE ? -1 : al->split - (nd - o->ndim);
    if (o->split == EQ_DND_NONE && j >= 0 && o->shape[j] != 1)
      al->view[k] = dnd_local_rows_view(o, j, al->layout_of->offsets[me], al->layout_of->offsets[me + 1]);
    else
      al->view[k] = eq_view_of(o->local);
    if (!al->view[k]) {
      aligned_free(al, n);
      return eq_error_code();
    }
  }
  return EQ_OK;
}

static eq_dnd *aligned_result(const aligned *al, eq_dtype dtype, const eq_comm *comm) {
  return dnd_new(dtype, al->ndim, al->shape, al->split, al->layout_of ? al->layout_of->counts : NULL, comm);
}

/* The operand as `dtype`: the view itself or a converted copy. */
static eq_tensor *as_dtype(eq_tensor *t, eq_dtype dtype, eq_tensor **tmp) {
  *tmp = NULL;
  if (t->dtype == dtype) return t;
  *tmp = eq_to_dtype(t, dtype);
  return *tmp;
}

/* ---------------------------------------------------------------- binary kernels */

static bool is_compare(eq_dnd_binop op) { return op >= EQ_DND_EQ; }

static inline double py_mod(double x, double y) {
  double r = fmod(x, y);
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return r;
}

static inline int64_t ipow(int64_t b, int64_t e) {
  if (e < 0) return b == 1 ? 1 : (b == -1 ? (e & 1 ? -1 : 1) : 0);
  int64_t r = 1;
  while (e) {
    if (e & 1) r = (int64_t)((uint64_t)r * (uint64_t)b);
    b = (int64_t)((uint64_t)b * (uint64_t)b);
    e >>= 1;
  }
  return r;
}

static inline int64_t ifloordiv(int64_t x, int64_t y) {
  if (y == 0) return 0;
  int64_t q = x / y;
  if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
  return q;
}

static inline int64_t imod(int64_t x, int64_t y) {
  if (y == 0) return 0;
  int64_t r = x % y;
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return r;
}

static inline double fmaxnan(double x, double y) { return x != x ? x : (y != y ? y : (x > y ? x : y)); }
static inline double fminnan(double x, double y) { return x != x ? x : (y != y ? y : (x < y ? x : y)); }

/* One loop per (type, op): contiguous runs vectorise. */
#define EW_LOOP(OT, T, EXPR)                                                            \
  do {                                                                                  \
    if (s0 == (int64_t)sizeof(OT) && s1 == (int64_t)sizeof(T) && s2 == (int64_t)sizeof(T)) { \
      OT *restrict o = (OT *)p0;                                                        \
      const T *restrict pa = (const T *)p1, *restrict pb = (const T *)p2;               \
      for (int64_t i = 0; i < n; i++) {                                                 \
        T x = pa[i], y = pb[i];                                                         \
        o[i] = (OT)(EXPR);                                                              \
      }                                                                                 \
    } else if (s0 == (int64_t)sizeof(OT) && s1 == (int64_t)sizeof(T) && s2 == 0) {      \
      OT *restrict o = (OT *)p0;                                                        \
      const T *restrict pa = (const T *)p1;                                             \
      const T y = *(const T *)p2;                                                       \
      for (int64_t i = 0; i < n; i++) {                                                 \
        T x = pa[i];                                                                    \
        o[i] = (OT)(EXPR);                                                              \
      }                                                                                 \
    } else {                                                                            \
      for (int64_t i = 0; i < n; i++, p0 += s0, p1 += s1, p2 += s2) {                   \
        T x = *(const T *)p1, y = *(const T *)p2;                                       \
        *(OT *)p0 = (OT)(EXPR);                                                         \
      }                                                                                 \
    }                                                                                   \
  } while (0)

#define FLOAT_BINARY(T, NAME)                                                                        \
  static void NAME(eq_dnd_binop op, char *p0, char *p1, char *p2, int64_t s0, int64_t s1, int64_t s2, \
                   int64_t n) {                                                                      \
    switch (op) {                                                                                    \
    case EQ_DND_ADD: EW_LOOP(T, T, x + y); break;                                                    \
    case EQ_DND_SUB: EW_LOOP(T, T, x - y); break;                                                    \
    case EQ_DND_MUL: EW_LOOP(T, T, x * y); break;                                                    \
    case EQ_DND_DIV: EW_LOOP(T, T, x / y); break;                                                    \
    case EQ_DND_FLOORDIV: EW_LOOP(T, T, floor((double)x / (double)y)); break;                        \
    case EQ_DND_MOD: EW_LOOP(T, T, py_mod(x, y)); break;                                             \
    case EQ_DND_POW: EW_LOOP(T, T, pow(x, y)); break;                                                \
    case EQ_DND_MAXIMUM: EW_LOOP(T, T, fmaxnan(x, y)); break;                                        \
    case EQ_DND_MINIMUM: EW_LOOP(T, T, fminnan(x, y)); break;                                        \
    case EQ_DND_ATAN2: EW_LOOP(T, T, atan2(x, y)); break;                                            \
    case EQ_DND_HYPOT: EW_LOOP(T, T, hypot(x, y)); break;                                            \
    case EQ_DND_EQ: EW_LOOP(uint8_t, T, x == y); break;                                              \
    case EQ_DND_NE: EW_LOOP(uint8_t, T, x != y); break;                                              \
    case EQ_DND_LT: EW_LOOP(uint8_t, T, x < y); break;                                               \
    case EQ_DND_LE: EW_LOOP(uint8_t, T, x <= y); break;                                              \
    case EQ_DND_GT: EW_LOOP(uint8_t, T, x > y); break;                                               \
    case EQ_DND_GE: EW_LOOP(uint8_t, T, x >= y); break;                                              \
    case EQ_DND_LOGICAL_AND: EW_LOOP(uint8_t, T, (x != 0) && (y != 0)); break;                      \
    case EQ_DND_LOGICAL_OR: EW_LOOP(uint8_t, T, (x != 0) || (y != 0)); break;                       \
    case EQ_DND_LOGICAL_XOR: EW_LOOP(uint8_t, T, (x != 0) != (y != 0)); break;                      \
    default: break;                                                                                  \
    }                                                                                                \
  }

FLOAT_BINARY(float, bin_f32)
FLOAT_BINARY(double, bin_f64)

static void bin_i64(eq_dnd_binop op, char *p0, char *p1, char *p2, int64_t s0, int64_t s1, int64_t s2, int64_t n) {
  typedef int64_t T;
  switch (op) {
  case EQ_DND_ADD: EW_LOOP(T, T, (T)((uint64_t)x + (uint64_t)y)); break;
  case EQ_DND_SUB: EW_LOOP(T, T, (T)((uint64_t)x - (uint64_t)y)); break;
  case EQ_DND_MUL: EW_LOOP(T, T, (T)((uint64_t)x * (uint64_t)y)); break;
  case EQ_DND_FLOORDIV: EW_LOOP(T, T, ifloordiv(x, y)); break;
  case EQ_DND_MOD: EW_LOOP(T, T, imod(x, y)); break;
  case EQ_DND_POW: EW_LOOP(T, T, ipow(x, y)); break;
  case EQ_DND_MAXIMUM: EW_LOOP(T, T, x > y ? x : y); break;
  case EQ_DND_MINIMUM: EW_LOOP(T, T, x < y ? x : y); break;
  case EQ_DND_EQ: EW_LOOP(uint8_t, T, x == y); break;
  case EQ_DND_NE: EW_LOOP(uint8_t, T, x != y); break;
  case EQ_DND_LT: EW_LOOP(uint8_t, T, x < y); break;
  case EQ_DND_LE: EW_LOOP(uint8_t, T, x <= y); break;
  case EQ_DND_GT: EW_LOOP(uint8_t, T, x > y); break;
  case EQ_DND_GE: EW_LOOP(uint8_t, T, x >= y); break;
  case EQ_DND_LOGICAL_AND: EW_LOOP(uint8_t, T, (x != 0) && (y != 0)); break;
  case EQ_DND_LOGICAL_OR: EW_LOOP(uint8_t, T, (x != 0) || (y != 0)); break;
  case EQ_DND_LOGICAL_XOR: EW_LOOP(uint8_t, T, (x != 0) != (y != 0)); break;
  default: break;
  }
}

/* Other dtypes (i32, u8, bool): through double, exact for them. */
static double bin_scalar(eq_dnd_binop op, double x, double y, bool integer) {
  switch (op) {
  case EQ_DND_ADD: return x + y;
  case EQ_DND_SUB: return x - y;
  case EQ_DND_MUL: return x * y;
  case EQ_DND_DIV: return x / y;
  case EQ_DND_FLOORDIV: return integer && y == 0 ? 0 : floor(x / y);
  case EQ_DND_MOD: return integer && y == 0 ? 0 : py_mod(x, y);
  case EQ_DND_POW: return integer ? (double)ipow((int64_t)x, (int64_t)y) : pow(x, y);
  case EQ_DND_MAXIMUM: return fmaxnan(x, y);
  case EQ_DND_MINIMUM: return fminnan(x, y);
  case EQ_DND_ATAN2: return atan2(x, y);
  case EQ_DND_HYPOT: return hypot(x, y);
  case EQ_DND_EQ: return x == y;
  case EQ_DND_NE: return x != y;
  case EQ_DND_LT: return x < y;
  case EQ_DND_LE: return x <= y;
  case EQ_DND_GT: return x > y;
  case EQ_DND_GE: return x >= y;
  case EQ_DND_LOGICAL_AND: return (x != 0) && (y != 0);
  case EQ_DND_LOGICAL_OR: return (x != 0) || (y != 0);
  case EQ_DND_LOGICAL_XOR: return (x != 0) != (y != 0);
  default: return 0;
  }
}

typedef struct {
  eq_dnd_binop op;
  eq_dtype ct, out;
} bin_ctx;

static void bin_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const bin_ctx *c = vctx;
  char *p0 = ptr[0], *p1 = ptr[1], *p2 = ptr[2];
  int64_t s0 = stride[0], s1 = stride[1], s2 = stride[2];
  switch (c->ct) {
  case EQ_F32: bin_f32(c->op, p0, p1, p2, s0, s1, s2, n); return;
  case EQ_F64: bin_f64(c->op, p0, p1, p2, s0, s1, s2, n); return;
  case EQ_I64: bin_i64(c->op, p0, p1, p2, s0, s1, s2, n); return;
  default: {
    bool integer = !eq_dtype_is_float(c->ct);
    for (int64_t i = 0; i < n; i++, p0 += s0, p1 += s1, p2 += s2)
      eq_store_from_double(p0, c->out, bin_scalar(c->op, eq_load_as_double(p1, c->ct), eq_load_as_double(p2, c->ct), integer));
  }
  }
}

/* Compute dtype and result dtype of op on (a, b). */
static void binary_dtypes(eq_dnd_binop op, eq_dtype a, eq_dtype b, eq_dtype *ct, eq_dtype *out) {
  eq_dtype p = eq_dtype_promote(a, b);
  if (!eq_dtype_is_float(p) && (op == EQ_DND_DIV || op == EQ_DND_ATAN2 || op == EQ_DND_HYPOT)) p = EQ_F64;
  if (p == EQ_BOOL && op <= EQ_DND_HYPOT && op != EQ_DND_MAXIMUM && op != EQ_DND_MINIMUM) p = EQ_I64;
  *ct = p;
  *out = is_compare(op) ? EQ_BOOL : p;
}

static eq_status run_binary(const char *opname, eq_dnd_binop op, eq_tensor *out, eq_tensor *a, eq_tensor *b,
                            eq_dtype ct) {
  eq_tensor *ta, *tb;
  eq_tensor *ca = as_dtype(a, ct, &ta), *cb = as_dtype(b, ct, &tb);
  eq_status st = EQ_OK;
  if (!ca || !cb) st = eq_error_code();
  if (!st) {
    const eq_tensor *ops[3] = {out, ca, cb};
    eq_iter it;
    st = eq_iter_init(&it, opname, out->ndim, out->shape, 3, ops);
    bin_ctx c = {op, ct, out->dtype};
    if (!st) eq_iter_run(&it, bin_kernel, &c);
  }
  eq_tensor_free(ta);
  eq_tensor_free(tb);
  return st;
}

eq_dnd *eq_dnd_binary(eq_dnd_binop op, const eq_dnd *a, const eq_dnd *b) {
  if ((unsigned)op >= EQ_DND_BINOP_COUNT) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_binary: invalid op %d", (int)op);
  const eq_dnd *in[2] = {a, b};
  aligned al;
  if (align("eq_dnd_binary", 2, in, &al)) return NULL;
  eq_dtype ct, out;
  binary_dtypes(op, a->dtype, b->dtype, &ct, &out);
  eq_dnd *r = aligned_result(&al, out, a->comm);
  if (r && run_binary("eq_dnd_binary", op, r->local, al.view[0], al.view[1], ct)) {
    eq_dnd_free(r);
    r = NULL;
  }
  aligned_free(&al, 2);
  return r;
}

/* The dtype a Python scalar takes next to an array of dtype d (NEP 50). */
static eq_dtype weak_scalar_dtype(eq_dtype d, double s) {
  if (eq_dtype_is_float(d)) return d;
  if (s == floor(s) && fabs(s) < 9.2e18) return d == EQ_BOOL ? EQ_I64 : d;
  return EQ_F64;
}

eq_dnd *eq_dnd_binary_scalar(eq_dnd_binop op, const eq_dnd *a, double s, bool scalar_first) {
  if (!a) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_binary_scalar: NULL array");
  if ((unsigned)op >= EQ_DND_BINOP_COUNT) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_binary_scalar: invalid op %d", (int)op);
  eq_dtype sd = weak_scalar_dtype(a->dtype, s), ct, out;
  binary_dtypes(op, a->dtype, sd, &ct, &out);
  /* The scalar as a 0-d tensor on the stack: no allocation. */
  _Alignas(8) unsigned char val[8];
  eq_store_from_double(val, ct, s);
  eq_storage st = {.data = val, .nbytes = 8, .device = {EQ_DEVICE_CPU, 0}, .refcount = 1};
  eq_tensor sc = {.storage = &st, .ndim = 0, .dtype = ct};
  eq_dnd *r = dnd_new(out, a->ndim, a->shape, a->split, a->counts, a->comm);
  if (!r) return NULL;
  eq_status rc = scalar_first ? run_binary("eq_dnd_binary_scalar", op, r->local, &sc, a->local, ct)
                              : run_binary("eq_dnd_binary_scalar", op, r->local, a->local, &sc, ct);
  if (rc) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}

eq_dnd *eq_dnd_add(const eq_dnd *a, const eq_dnd *b) { return eq_dnd_binary(EQ_DND_ADD, a, b); }
eq_dnd *eq_dnd_sub(const eq_dnd *a, const eq_dnd *b) { return eq_dnd_binary(EQ_DND_SUB, a, b); }
eq_dnd *eq_dnd_mul(const eq_dnd *a, const eq_dnd *b) { return eq_dnd_binary(EQ_DND_MUL, a, b); }
eq_dnd *eq_dnd_div(const eq_dnd *a, const eq_dnd *b) { return eq_dnd_binary(EQ_DND_DIV, a, b); }

eq_status eq_dnd_binary_(eq_dnd_binop op, eq_dnd *a, const eq_dnd *b) {
  eq_dnd *r = eq_dnd_binary(op, a, b);
  if (!r) return eq_error_code();
  eq_status st = EQ_OK;
  char b0[128], b1[128];
  if (r->ndim != a->ndim || memcmp(r->shape, a->shape, sizeof(int64_t) * (size_t)a->ndim))
    st = eq_error(EQ_ERR_SHAPE, "eq_dnd_binary_: result %s does not fit in place into %s", eq_dnd_str(r, b0, sizeof b0),
                  eq_dnd_str(a, b1, sizeof b1));
  else if (!dnd_same_layout(r, a)) {
    eq_dnd *t = dnd_relayout(r, a->split, a->counts);
    eq_dnd_free(r);
    r = t;
    if (!r) return eq_error_code();
  }
  if (!st) st = eq_copy_(a->local, r->local);
  eq_dnd_free(r);
  return st;
}

eq_status eq_dnd_binary_scalar_(eq_dnd_binop op, eq_dnd *a, double s) {
  eq_dnd *r = eq_dnd_binary_scalar(op, a, s, false);
  if (!r) return eq_error_code();
  eq_status st = eq_copy_(a->local, r->local);
  eq_dnd_free(r);
  return st;
}

/* ---------------------------------------------------------------- unary */

static bool unop_keeps_int(eq_dnd_unop op) {
  return op == EQ_DND_NEG || op == EQ_DND_ABS || op == EQ_DND_SIGN || op == EQ_DND_SQUARE || op == EQ_DND_FLOOR ||
         op == EQ_DND_CEIL || op == EQ_DND_ROUND || op == EQ_DND_TRUNC;
}

static bool unop_bool(eq_dnd_unop op) {
  return op == EQ_DND_ISNAN || op == EQ_DND_ISINF || op == EQ_DND_ISFINITE || op == EQ_DND_LOGICAL_NOT;
}

static inline double un_scalar(eq_dnd_unop op, double x) {
  switch (op) {
  case EQ_DND_NEG: return -x;
  case EQ_DND_ABS: return fabs(x);
  case EQ_DND_SIGN: return x > 0 ? 1 : (x < 0 ? -1 : (x == 0 ? 0 : x));
  case EQ_DND_SQUARE: return x * x;
  case EQ_DND_SQRT: return sqrt(x);
  case EQ_DND_RECIPROCAL: return 1.0 / x;
  case EQ_DND_EXP: return exp(x);
  case EQ_DND_EXPM1: return expm1(x);
  case EQ_DND_LOG: return log(x);
  case EQ_DND_LOG2: return log2(x);
  case EQ_DND_LOG10: return log10(x);
  case EQ_DND_LOG1P: return log1p(x);
  case EQ_DND_SIN: return sin(x);
  case EQ_DND_COS: return cos(x);
  case EQ_DND_TAN: return tan(x);
  case EQ_DND_ASIN: return asin(x);
  case EQ_DND_ACOS: return acos(x);
  case EQ_DND_ATAN: return atan(x);
  case EQ_DND_SINH: return sinh(x);
  case EQ_DND_COSH: return cosh(x);
  case EQ_DND_TANH: return tanh(x);
  case EQ_DND_SIGMOID: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
  case EQ_DND_FLOOR: return floor(x);
  case EQ_DND_CEIL: return ceil(x);
  case EQ_DND_ROUND: return nearbyint(x); /* half to even, as NumPy */
  case EQ_DND_TRUNC: return trunc(x);
  case EQ_DND_ISNAN: return isnan(x);
  case EQ_DND_ISINF: return isinf(x);
  case EQ_DND_ISFINITE: return isfinite(x);
  case EQ_DND_LOGICAL_NOT: return x == 0;
  default: return 0;
  }
}

typedef struct {
  eq_dnd_unop op;
  eq_dtype in, out;
} un_ctx;

static void un_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const un_ctx *c = vctx;
  char *p0 = ptr[0], *p1 = ptr[1];
  if (c->in == EQ_F32 && c->out == EQ_F32 && stride[0] == 4 && stride[1] == 4) {
    float *restrict o = (float *)p0;
    const float *restrict a = (const float *)p1;
    switch (c->op) {
    case EQ_DND_NEG: for (int64_t i = 0; i < n; i++) o[i] = -a[i]; return;
    case EQ_DND_ABS: for (int64_t i = 0; i < n; i++) o[i] = fabsf(a[i]); return;
    case EQ_DND_SQUARE: for (int64_t i = 0; i < n; i++) o[i] = a[i] * a[i]; return;
    case EQ_DND_SQRT: for (int64_t i = 0; i < n; i++) o[i] = sqrtf(a[i]); return;
    case EQ_DND_EXP: for (int64_t i = 0; i < n; i++) o[i] = expf(a[i]); return;
    case EQ_DND_LOG: for (int64_t i = 0; i < n; i++) o[i] = logf(a[i]); return;
    default: break;
    }
  }
  if (c->in == EQ_F64 && c->out == EQ_F64 && stride[0] == 8 && stride[1] == 8) {
    double *restrict o = (double *)p0;
    const double *restrict a = (const double *)p1;
    switch (c->op) {
    case EQ_DND_NEG: for (int64_t i = 0; i < n; i++) o[i] = -a[i]; return;
    case EQ_DND_ABS: for (int64_t i = 0; i < n; i++) o[i] = fabs(a[i]); return;
    case EQ_DND_SQUARE: for (int64_t i = 0; i < n; i++) o[i] = a[i] * a[i]; return;
    case EQ_DND_SQRT: for (int64_t i = 0; i < n; i++) o[i] = sqrt(a[i]); return;
    case EQ_DND_EXP: for (int64_t i = 0; i < n; i++) o[i] = exp(a[i]); return;
    case EQ_DND_LOG: for (int64_t i = 0; i < n; i++) o[i] = log(a[i]); return;
    default: break;
    }
  }
  if (c->in == EQ_I64 && c->out == EQ_I64) {
    for (int64_t i = 0; i < n; i++, p0 += stride[0], p1 += stride[1]) {
      int64_t x = *(const int64_t *)p1, r = x;
      switch (c->op) {
      case EQ_DND_NEG: r = (int64_t)(0 - (uint64_t)x); break;
      case EQ_DND_ABS: r = x < 0 ? (int64_t)(0 - (uint64_t)x) : x; break;
      case EQ_DND_SIGN: r = (x > 0) - (x < 0); break;
      case EQ_DND_SQUARE: r = (int64_t)((uint64_t)x * (uint64_t)x); break;
      default: break; /* floor/ceil/round/trunc: identity */
      }
      *(int64_t *)p0 = r;
    }
    return;
  }
  for (int64_t i = 0; i < n; i++, p0 += stride[0], p1 += stride[1])
    eq_store_from_double(p0, c->out, un_scalar(c->op, eq_load_as_double(p1, c->in)));
}

eq_dnd *eq_dnd_unary(eq_dnd_unop op, const eq_dnd *a) {
  if (!a) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_unary: NULL array");
  if ((unsigned)op >= EQ_DND_UNOP_COUNT) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_unary: invalid op %d", (int)op);
  eq_dtype out = unop_bool(op) ? EQ_BOOL
                 : eq_dtype_is_float(a->dtype) || unop_keeps_int(op) ? (a->dtype == EQ_BOOL && op != EQ_DND_ABS ? EQ_I64 : a->dtype)
                                                                    : EQ_F64;
  eq_dnd *r = dnd_new(out, a->ndim, a->shape, a->split, a->counts, a->comm);
  if (!r) return NULL;
  const eq_tensor *ops[2] = {r->local, a->local};
  eq_iter it;
  if (eq_iter_init(&it, "eq_dnd_unary", r->local->ndim, r->local->shape, 2, ops)) {
    eq_dnd_free(r);
    return NULL;
  }
  un_ctx c = {op, a->dtype, out};
  eq_iter_run(&it, un_kernel, &c);
  return r;
}

eq_dnd *eq_dnd_clip(const eq_dnd *a, double lo, double hi) {
  if (lo > hi) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_clip: lo %g > hi %g", lo, hi);
  eq_dnd *t = eq_dnd_binary_scalar(EQ_DND_MAXIMUM, a, lo, false);
  if (!t) return NULL;
  eq_dnd *r = eq_dnd_binary_scalar(EQ_DND_MINIMUM, t, hi, false);
  eq_dnd_free(t);
  return r;
}

/* ---------------------------------------------------------------- where / allclose */

typedef struct {
  eq_dtype c, a, b, out;
} where_ctx;

static void where_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const where_ctx *w = vctx;
  char *o = ptr[0], *c = ptr[1], *a = ptr[2], *b = ptr[3];
  size_t es = eq_dtype_size(w->out);
  if (w->a == w->out && w->b == w->out && w->c == EQ_BOOL) {
    for (int64_t i = 0; i < n; i++, o += stride[0], c += stride[1], a += stride[2], b += stride[3])
      memcpy(o, *(const uint8_t *)c ? a : b, es);
    return;
  }
  for (int64_t i = 0; i < n; i++, o += stride[0], c += stride[1], a += stride[2], b += stride[3]) {
    bool t = eq_load_as_double(c, w->c) != 0;
    eq_store_from_double(o, w->out, t ? eq_load_as_double(a, w->a) : eq_load_as_double(b, w->b));
  }
}

eq_dnd *eq_dnd_where(const eq_dnd *cond, const eq_dnd *a, const eq_dnd *b) {
  const eq_dnd *in[3] = {cond, a, b};
  aligned al;
  if (align("eq_dnd_where", 3, in, &al)) return NULL;
  eq_dtype out = eq_dtype_promote(a->dtype, b->dtype);
  eq_dnd *r = aligned_result(&al, out, a->comm);
  if (r) {
    const eq_tensor *ops[4] = {r->local, al.view[0], al.view[1], al.view[2]};
    eq_iter it;
    if (eq_iter_init(&it, "eq_dnd_where", r->local->ndim, r->local->shape, 4, ops)) {
      eq_dnd_free(r);
      r = NULL;
    } else {
      where_ctx w = {cond->dtype, a->dtype, b->dtype, out};
      eq_iter_run(&it, where_kernel, &w);
    }
  }
  aligned_free(&al, 3);
  return r;
}

typedef struct {
  double rtol, atol;
  eq_dtype a, b;
  int bad;
} close_ctx;

static void close_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  close_ctx *c = vctx;
  char *a = ptr[0], *b = ptr[1];
  for (int64_t i = 0; i < n; i++, a += stride[0], b += stride[1]) {
    double x = eq_load_as_double(a, c->a), y = eq_load_as_double(b, c->b);
    if (!(fabs(x - y) <= c->atol + c->rtol * fabs(y)) && !(x == y)) c->bad = 1;
  }
}

eq_status eq_dnd_allclose(const eq_dnd *a, const eq_dnd *b, double rtol, double atol, bool *out) {
  const eq_dnd *in[2] = {a, b};
  aligned al;
  if (align("eq_dnd_allclose", 2, in, &al)) return eq_error_code();
  /* Broadcast both to the result block. */
  int64_t ls[EQ_MAX_DIMS];
  memcpy(ls, al.shape, sizeof ls);
  if (al.split != EQ_DND_NONE) ls[al.split] = al.layout_of->counts[a->comm->rank];
  eq_tensor *ea = eq_expand(al.view[0], al.ndim, ls), *eb = ea ? eq_expand(al.view[1], al.ndim, ls) : NULL;
  eq_status st = EQ_OK;
  close_ctx c = {rtol, atol, a->dtype, b->dtype, 0};
  if (!ea || !eb)
    st = eq_error_code();
  else {
    const eq_tensor *ops[2] = {ea, eb};
    eq_iter it;
    st = eq_iter_init(&it, "eq_dnd_allclose", al.ndim, ls, 2, ops);
    /* Threads only ever store 1 into the flag: a benign race. */
    if (!st)
      eq_iter_run(&it, close_kernel, &c);
  }
  eq_tensor_free(ea);
  eq_tensor_free(eb);
  aligned_free(&al, 2);
  if (st) return st;
  uint8_t ok = c.bad ? 0 : 1;
  st = eq_comm_allreduce(a->comm, &ok, 1, EQ_U8, EQ_REDUCE_MIN);
  *out = ok != 0;
  return st;
}
