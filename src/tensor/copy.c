/* Strided copy with broadcasting and dtype conversion; fill. */
#include <string.h>

#include "tensor/iter.h"
#include "tensor/tensor_internal.h"

typedef struct {
  eq_dtype dst, src;
} copy_ctx;

#define COPY_LOOP(TD, TS)                                                    \
  do {                                                                       \
    char *o = ptr[0];                                                        \
    const char *s = ptr[1];                                                  \
    for (int64_t i = 0; i < n; i++, o += stride[0], s += stride[1])          \
      *(TD *)o = (TD) * (const TS *)s;                                       \
  } while (0)

static void copy_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const copy_ctx *c = vctx;
  size_t es = eq_dtype_size(c->dst);
  if (c->dst == c->src) {
    if (stride[0] == (int64_t)es && stride[1] == (int64_t)es) {
      memcpy(ptr[0], ptr[1], (size_t)n * es);
      return;
    }
    switch (es) {
    case 1: COPY_LOOP(uint8_t, uint8_t); return;
    case 2: COPY_LOOP(uint16_t, uint16_t); return;
    case 4: COPY_LOOP(uint32_t, uint32_t); return;
    case 8: COPY_LOOP(uint64_t, uint64_t); return;
    }
  }
  if (c->dst == EQ_F32 && c->src == EQ_F64) {
    COPY_LOOP(float, double);
    return;
  }
  if (c->dst == EQ_F64 && c->src == EQ_F32) {
    COPY_LOOP(double, float);
    return;
  }
  if (c->dst == EQ_F32 && c->src == EQ_U8) {
    COPY_LOOP(float, uint8_t);
    return;
  }
  char *o = ptr[0];
  const char *s = ptr[1];
  for (int64_t i = 0; i < n; i++, o += stride[0], s += stride[1])
    eq_store_from_double(o, c->dst, eq_load_as_double(s, c->src));
}

eq_status eq_copy_(eq_tensor *dst, const eq_tensor *src) {
  if (eq_require_cpu("eq_copy_", dst) || eq_require_cpu("eq_copy_", src)) return eq_error_code();
  const eq_tensor *ops[2] = {dst, src};
  eq_iter it;
  eq_status st = eq_iter_init(&it, "eq_copy_", dst->ndim, dst->shape, 2, ops);
  if (st) return st;
  copy_ctx c = {dst->dtype, src->dtype};
  eq_iter_run(&it, copy_kernel, &c);
  return EQ_OK;
}

typedef struct {
  eq_dtype dtype;
  _Alignas(8) unsigned char value[8];
} fill_ctx;

static void fill_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const fill_ctx *c = vctx;
  size_t es = eq_dtype_size(c->dtype);
  char *o = ptr[0];
  if (es == 4 && stride[0] == 4) {
    uint32_t v;
    memcpy(&v, c->value, 4);
    uint32_t *p = (uint32_t *)o;
    for (int64_t i = 0; i < n; i++) p[i] = v;
    return;
  }
  for (int64_t i = 0; i < n; i++, o += stride[0]) memcpy(o, c->value, es);
}

eq_status eq_fill_(eq_tensor *t, double value) {
  if (eq_require_cpu("eq_fill_", t)) return eq_error_code();
  fill_ctx c = {t->dtype, {0}};
  eq_store_from_double(c.value, t->dtype, value);
  const eq_tensor *ops[1] = {t};
  eq_iter it;
  eq_status st = eq_iter_init(&it, "eq_fill_", t->ndim, t->shape, 1, ops);
  if (st) return st;
  eq_iter_run(&it, fill_kernel, &c);
  return EQ_OK;
}

eq_status eq_to_buffer(const eq_tensor *t, void *out) {
  if (eq_require_cpu("to_buffer", t)) return eq_error_code();
  eq_tensor *dst = eq_tensor_wrap(t->dtype, t->ndim, t->shape, out);
  if (!dst) return eq_error_code();
  eq_status st = eq_copy_(dst, t);
  eq_tensor_free(dst);
  return st;
}

eq_status eq_broadcast_shapes(const char *op, const eq_tensor *a, const eq_tensor *b, int *ndim, int64_t *shape) {
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int i = 0; i < n; i++) {
    int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
    int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      char sa[96], sb[96];
      return eq_error(EQ_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)", op,
                      eq_shape_str(a, sa, sizeof sa), eq_shape_str(b, sb, sizeof sb), i, (long long)da,
                      (long long)db);
    }
    shape[i] = da == 1 ? db : da;
  }
  *ndim = n;
  return EQ_OK;
}

typedef struct {
  eq_dtype dst, src;
} acc_ctx;

static void accumulate_kernel(char **ptr, const int64_t *stride, int64_t n, void *vctx) {
  const acc_ctx *c = vctx;
  char *o = ptr[0];
  const char *s = ptr[1];
  if (c->dst == EQ_F32 && c->src == EQ_F32) {
    if (stride[0] == 4 && stride[1] == 4) {
      float *restrict po = (float *)o;
      const float *restrict ps = (const float *)s;
      for (int64_t i = 0; i < n; i++) po[i] += ps[i];
      return;
    }
    for (int64_t i = 0; i < n; i++, o += stride[0], s += stride[1]) *(float *)o += *(const float *)s;
    return;
  }
  if (c->dst == EQ_F64 && c->src == EQ_F64) {
    for (int64_t i = 0; i < n; i++, o += stride[0], s += stride[1]) *(double *)o += *(const double *)s;
    return;
  }
  for (int64_t i = 0; i < n; i++, o += stride[0], s += stride[1])
    eq_store_from_double(o, c->dst, eq_load_as_double(o, c->dst) + eq_load_as_double(s, c->src));
}

eq_status eq_accumulate_(eq_tensor *dst, const eq_tensor *src) {
  if (eq_require_cpu("eq_accumulate_", dst) || eq_require_cpu("eq_accumulate_", src)) return eq_error_code();
  const eq_tensor *ops[2] = {dst, src};
  eq_iter it;
  eq_status st = eq_iter_init(&it, "eq_accumulate_", dst->ndim, dst->shape, 2, ops);
  if (st) return st;
  acc_ctx c = {dst->dtype, src->dtype};
  eq_iter_run(&it, accumulate_kernel, &c);
  return EQ_OK;
}
