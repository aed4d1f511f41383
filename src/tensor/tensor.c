/* Tensor structs and storages: creation, release, element access. */
#include "equivar/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor_internal.h"

static void *alloc_block(size_t bytes, bool *in_arena) {
  eq_arena *arena = eq_arena_current();
  *in_arena = arena != NULL;
  return arena ? eq_arena_alloc(arena, bytes) : eq_malloc(bytes);
}

eq_tensor *eq_tensor_struct_new(void) {
  bool in_arena;
  eq_tensor *t = alloc_block(sizeof *t, &in_arena);
  if (!t) return NULL;
  memset(t, 0, sizeof *t);
  t->in_arena = in_arena;
  return t;
}

eq_status eq_check_shape(const char *op, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > EQ_MAX_DIMS)
    return eq_error(EQ_ERR_SHAPE, "%s: %d dimensions (supported: 0..%d)", op, ndim, EQ_MAX_DIMS);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return eq_error(EQ_ERR_SHAPE, "%s: negative size %lld in dim %d", op, (long long)shape[i], i);
    if (shape[i] && n > INT64_MAX / shape[i]) return eq_error(EQ_ERR_SHAPE, "%s: shape overflows int64", op);
    n *= shape[i];
  }
  return EQ_OK;
}

void eq_set_contiguous_strides(eq_tensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    t->stride[i] = s;
    s *= t->shape[i] > 0 ? t->shape[i] : 1;
  }
}

/* A contiguous CPU tensor over `data`, or over fresh memory when data is NULL. */
static eq_tensor *contiguous_tensor(const char *op, eq_dtype dtype, int ndim, const int64_t *shape, void *data) {
  if ((unsigned)dtype >= EQ_DTYPE_COUNT) {
    eq_error(EQ_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dtype);
    return NULL;
  }
  if (eq_check_shape(op, ndim, shape)) return NULL;
  eq_tensor *t = eq_tensor_struct_new();
  if (!t) return NULL;
  bool in_arena;
  eq_storage *s = alloc_block(sizeof *s, &in_arena);
  if (!s) {
    eq_tensor_free(t);
    return NULL;
  }
  memset(s, 0, sizeof *s);
  t->ndim = ndim;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    t->shape[i] = shape[i];
    n *= shape[i];
  }
  eq_set_contiguous_strides(t);
  s->nbytes = (size_t)n * eq_dtype_size(dtype);
  if (data) {
    s->data = data;
    s->in_arena = in_arena; /* the struct's lifetime; the caller owns the data */
  } else {
    s->data = alloc_block(s->nbytes, &s->in_arena);
    if (!s->data) {
      if (!in_arena) eq_free(s);
      eq_tensor_free(t);
      return NULL;
    }
    s->owns_data = true;
  }
  s->device = (eq_device){EQ_DEVICE_CPU, 0};
  s->refcount = 1;
  t->storage = s;
  t->dtype = dtype;
  return t;
}

eq_tensor *eq_empty(eq_dtype dtype, int ndim, const int64_t *shape) {
  return contiguous_tensor("eq_empty", dtype, ndim, shape, NULL);
}

eq_tensor *eq_zeros(eq_dtype dtype, int ndim, const int64_t *shape) {
  eq_tensor *t = eq_empty(dtype, ndim, shape);
  if (t) memset(t->storage->data, 0, t->storage->nbytes);
  return t;
}

eq_tensor *eq_full(eq_dtype dtype, int ndim, const int64_t *shape, double value) {
  eq_tensor *t = eq_empty(dtype, ndim, shape);
  if (t && eq_fill_(t, value)) {
    eq_tensor_free(t);
    return NULL;
  }
  return t;
}

eq_tensor *eq_ones(eq_dtype dtype, int ndim, const int64_t *shape) { return eq_full(dtype, ndim, shape, 1.0); }

eq_tensor *eq_scalar(eq_dtype dtype, double value) { return eq_full(dtype, 0, NULL, value); }

eq_tensor *eq_from_data(eq_dtype dtype, int ndim, const int64_t *shape, const void *data) {
  eq_tensor *t = eq_empty(dtype, ndim, shape);
  if (t && t->storage->nbytes) memcpy(t->storage->data, data, t->storage->nbytes);
  return t;
}

eq_tensor *eq_tensor_wrap(eq_dtype dtype, int ndim, const int64_t *shape, void *data) {
  return contiguous_tensor("eq_tensor_wrap", dtype, ndim, shape, data);
}

eq_tensor *eq_empty_like(const eq_tensor *t) { return eq_empty(t->dtype, t->ndim, t->shape); }
eq_tensor *eq_zeros_like(const eq_tensor *t) { return eq_zeros(t->dtype, t->ndim, t->shape); }

eq_tensor *eq_arange(eq_dtype dtype, int64_t n) {
  eq_tensor *t = eq_empty(dtype, 1, &n);
  if (!t) return NULL;
  for (int64_t i = 0; i < n; i++) eq_set_flat(t, i, (double)i);
  return t;
}

static eq_tensor *rand_tensor(eq_dtype dtype, int ndim, const int64_t *shape, double a, double b,
                              uint64_t seed, uint64_t stream, bool normal) {
  if (!eq_dtype_is_float(dtype)) {
    eq_error(EQ_ERR_DTYPE, "eq_rand_%s: dtype %s is not floating point", normal ? "normal" : "uniform",
             eq_dtype_name(dtype));
    return NULL;
  }
  eq_tensor *t = eq_empty(dtype, ndim, shape);
  if (!t) return NULL;
  int64_t n = eq_numel(t);
  /* Element i uses block i of the stream: independent of threads and ranks. */
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) {
    uint32_t w[4];
    eq_philox_at(seed, stream, (uint64_t)i, w);
    double v;
    if (normal) {
      double u1 = ((double)w[0] + 1.0) * (1.0 / 4294967296.0);
      double u2 = (double)w[1] * (1.0 / 4294967296.0);
      v = a + b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    } else {
      double u = ((double)(((uint64_t)w[0] << 21) ^ (w[1] >> 11)) * (1.0 / 9007199254740992.0));
      v = a + (b - a) * u;
    }
    if (dtype == EQ_F32)
      ((float *)t->storage->data)[i] = (float)v;
    else
      ((double *)t->storage->data)[i] = v;
  }
  return t;
}

eq_tensor *eq_rand_uniform(eq_dtype dtype, int ndim, const int64_t *shape, double lo, double hi, uint64_t seed,
                           uint64_t stream) {
  return rand_tensor(dtype, ndim, shape, lo, hi, seed, stream, false);
}

eq_tensor *eq_rand_normal(eq_dtype dtype, int ndim, const int64_t *shape, double mean, double std, uint64_t seed,
                          uint64_t stream) {
  return rand_tensor(dtype, ndim, shape, mean, std, seed, stream, true);
}

void eq_storage_release(eq_storage *s) {
  if (!s || s->in_arena) return;
  if (--s->refcount > 0) return;
  if (s->owns_data) {
    if (s->device.type == EQ_DEVICE_CPU)
      eq_free(s->data);
    else {
      const eq_backend *b = eq_backend_get(s->device.type);
      if (b) b->free(s->data, s->device.index);
    }
  }
  eq_free(s);
}

void eq_storage_retain(eq_storage *s) {
  if (s && !s->in_arena) s->refcount++;
}

void eq_tensor_free(eq_tensor *t) {
  if (!t || t->in_arena) return;
  /* A heap view of arena storage does not own a count on it. */
  if (t->storage && !t->storage->in_arena) eq_storage_release(t->storage);
  if (t->grad && t->grad != t) eq_tensor_free(t->grad);
  eq_free(t);
}

int64_t eq_numel(const eq_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

bool eq_is_contiguous(const eq_tensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->stride[i] != s) return false;
    s *= t->shape[i];
  }
  return true;
}

bool eq_same_shape(const eq_tensor *a, const eq_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

void *eq_data_ptr(const eq_tensor *t) {
  return (char *)t->storage->data + (size_t)t->offset * eq_dtype_size(t->dtype);
}

const char *eq_shape_str(const eq_tensor *t, char *buf, size_t cap) {
  size_t used = 0;
  used += (size_t)snprintf(buf + used, cap - used, "[");
  for (int i = 0; i < t->ndim && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
  if (used < cap) snprintf(buf + used, cap - used, "]");
  return buf;
}

double eq_load_as_double(const void *p, eq_dtype d) {
  switch (d) {
  case EQ_F32: return *(const float *)p;
  case EQ_F64: return *(const double *)p;
  case EQ_I32: return *(const int32_t *)p;
  case EQ_I64: return (double)*(const int64_t *)p;
  case EQ_U8: return *(const uint8_t *)p;
  case EQ_BOOL: return *(const uint8_t *)p != 0;
  case EQ_BF16: {
    uint32_t bits = (uint32_t)(*(const uint16_t *)p) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
  }
  case EQ_F16: return (double)*(const _Float16 *)p;
  default: return 0;
  }
}

void eq_store_from_double(void *p, eq_dtype d, double v) {
  switch (d) {
  case EQ_F32: *(float *)p = (float)v; break;
  case EQ_F64: *(double *)p = v; break;
  case EQ_I32: *(int32_t *)p = (int32_t)v; break;
  case EQ_I64: *(int64_t *)p = (int64_t)v; break;
  case EQ_U8: *(uint8_t *)p = (uint8_t)(int64_t)v; break;
  case EQ_BOOL: *(uint8_t *)p = v != 0; break;
  case EQ_BF16: {
    float f = (float)v;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits += 0x7fff + ((bits >> 16) & 1); /* round to nearest even */
    *(uint16_t *)p = (uint16_t)(bits >> 16);
    break;
  }
  case EQ_F16: *(_Float16 *)p = (_Float16)v; break;
  default: break;
  }
}

static int64_t flat_to_offset(const eq_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    int64_t n = t->shape[d];
    off += (i % n) * t->stride[d];
    i /= n;
  }
  return off;
}

double eq_get_flat(const eq_tensor *t, int64_t i) {
  if (eq_require_cpu("get_flat", t)) return NAN;
  size_t es = eq_dtype_size(t->dtype);
  return eq_load_as_double((char *)t->storage->data + (size_t)flat_to_offset(t, i) * es, t->dtype);
}

void eq_set_flat(eq_tensor *t, int64_t i, double value) {
  if (eq_require_cpu("set_flat", t)) return;
  size_t es = eq_dtype_size(t->dtype);
  eq_store_from_double((char *)t->storage->data + (size_t)flat_to_offset(t, i) * es, t->dtype, value);
}

double eq_get(const eq_tensor *t, const int64_t *index) {
  if (eq_require_cpu("get", t)) return NAN;
  int64_t off = t->offset;
  for (int d = 0; d < t->ndim; d++) off += index[d] * t->stride[d];
  return eq_load_as_double((char *)t->storage->data + (size_t)off * eq_dtype_size(t->dtype), t->dtype);
}

eq_status eq_axis(const char *op, int axis, int ndim, int *out) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= (ndim ? ndim : 1))
    return eq_error(EQ_ERR_SHAPE, "%s: axis %d out of range for a %d-d tensor", op, axis, ndim);
  *out = a;
  return EQ_OK;
}
