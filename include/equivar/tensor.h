/* equivar tensors: n-d strided arrays with a dtype and a device.
 *
 * Memory: a tensor is created in the calling thread's current arena (see
 * eq_arena_set_current in core.h) when one is set - freed all at once by
 * eq_arena_reset - and on the heap otherwise, where the caller releases it
 * with eq_tensor_free. Views share their base's storage; a heap storage is
 * reference counted, so freeing a base before its heap views is safe. An
 * arena tensor must not outlive the arena's next reset, and an arena view of
 * a heap tensor must not outlive that heap tensor.
 *
 * Every operation that may fail returns NULL (or an eq_status) and records
 * a message naming the operation and the offending shapes (core.h).
 */
#ifndef EQUIVAR_TENSOR_H
#define EQUIVAR_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "equivar/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQ_MAX_DIMS 8

typedef enum eq_dtype {
  EQ_F32 = 0,
  EQ_F64,
  EQ_I32,
  EQ_I64,
  EQ_U8,
  EQ_BOOL, /* one byte, 0 or 1 */
  EQ_BF16, /* storage only (reserved for mixed precision) */
  EQ_F16,  /* storage only */
  EQ_DTYPE_COUNT
} eq_dtype;

size_t eq_dtype_size(eq_dtype dtype);
const char *eq_dtype_name(eq_dtype dtype); /* "float32", ... */
bool eq_dtype_is_float(eq_dtype dtype);    /* F32, F64 (BF16/F16: storage only) */
/* NumPy descr ("<f4") <-> dtype. */
const char *eq_dtype_npy_descr(eq_dtype dtype);
eq_status eq_dtype_from_npy(const char *descr, eq_dtype *out);
/* The dtype of a binary op's result (NumPy-like promotion: bool < u8 < i32 <
 * i64 < f32 < f64). */
eq_dtype eq_dtype_promote(eq_dtype a, eq_dtype b);

typedef enum eq_device_type { EQ_DEVICE_CPU = 0, EQ_DEVICE_CUDA = 1, EQ_DEVICE_COUNT } eq_device_type;

typedef struct eq_device {
  eq_device_type type;
  int index;
} eq_device;

/* Memory backend of one device type. The CPU backend is built in; a CUDA
 * build registers its own when a GPU is first asked for. Ops dispatch on
 * tensor->storage->device.type and report EQ_ERR_DEVICE where a device has
 * no kernel, without touching its memory. */
typedef struct eq_backend {
  const char *name;
  void *(*alloc)(size_t bytes, int device_index);
  void (*free)(void *p, int device_index);
  /* Copies between this device and the host (kind: 0 host->device,
   * 1 device->host, 2 device->device). */
  eq_status (*copy)(void *dst, const void *src, size_t bytes, int kind, int device_index);
  /* Devices of this type the machine has; NULL: one. */
  int (*count)(void);
} eq_backend;

void eq_backend_register(eq_device_type type, const eq_backend *backend);
const eq_backend *eq_backend_get(eq_device_type type); /* NULL if not built */
const char *eq_device_name(eq_device device);          /* "cpu", "cuda:0" */
/* Devices of a type this build and machine have (CPU: 1; another type:
 * its registered backend's count, 0 without one). */
int eq_device_count(eq_device_type type);
/* A contiguous copy of t on `device`. Always a heap tensor (device memory
 * never lives in an arena): release it with eq_tensor_free. */
struct eq_tensor;
struct eq_tensor *eq_to_device(struct eq_tensor *t, eq_device device);

typedef struct eq_storage {
  void *data;
  size_t nbytes;
  eq_device device;
  int refcount;   /* heap storages; arena storages are never counted */
  bool in_arena;  /* data lives in an arena */
  bool owns_data; /* false for eq_tensor_wrap'd memory */
} eq_storage;

struct eq_node;

typedef struct eq_tensor {
  eq_storage *storage;
  int64_t offset; /* in elements, into storage */
  int ndim;
  int64_t shape[EQ_MAX_DIMS];
  int64_t stride[EQ_MAX_DIMS]; /* in elements; 0 for broadcast dims */
  eq_dtype dtype;
  bool in_arena; /* this struct lives in an arena */
  /* autograd (autograd.h) */
  bool requires_grad;
  struct eq_tensor *grad;  /* same shape, contiguous; NULL until backward */
  struct eq_node *grad_fn; /* the tape node that produced it; NULL for leaves */
  const char *name;        /* optional, for parameters and error messages */
} eq_tensor;

/* Shape literal helper: eq_zeros(EQ_F32, EQ_DIMS(2, 3)). */
#define EQ_DIMS(...) \
  (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]) { __VA_ARGS__ }

/* ------------------------------------------------------------- creation */

eq_tensor *eq_empty(eq_dtype dtype, int ndim, const int64_t *shape);
eq_tensor *eq_zeros(eq_dtype dtype, int ndim, const int64_t *shape);
eq_tensor *eq_ones(eq_dtype dtype, int ndim, const int64_t *shape);
eq_tensor *eq_full(eq_dtype dtype, int ndim, const int64_t *shape, double value);
eq_tensor *eq_scalar(eq_dtype dtype, double value); /* 0-d */
/* Copies `data` (C order, `dtype` elements). */
eq_tensor *eq_from_data(eq_dtype dtype, int ndim, const int64_t *shape, const void *data);
/* Wraps external C-order memory without copying; the caller keeps it alive
 * and frees it. */
eq_tensor *eq_tensor_wrap(eq_dtype dtype, int ndim, const int64_t *shape, void *data);
eq_tensor *eq_empty_like(const eq_tensor *t);
eq_tensor *eq_zeros_like(const eq_tensor *t);
/* 0, 1, ..., n-1 */
eq_tensor *eq_arange(eq_dtype dtype, int64_t n);
/* Uniform [lo, hi) / normal(mean, std) from Philox (seed, stream): element i
 * of the result is a pure function of (seed, stream, i). */
eq_tensor *eq_rand_uniform(eq_dtype dtype, int ndim, const int64_t *shape, double lo, double hi,
                           uint64_t seed, uint64_t stream);
eq_tensor *eq_rand_normal(eq_dtype dtype, int ndim, const int64_t *shape, double mean, double std,
                          uint64_t seed, uint64_t stream);

/* Releases a heap tensor (and its storage when no other heap tensor uses it,
 * and its gradient). A no-op for arena tensors and NULL. */
void eq_tensor_free(eq_tensor *t);

/* ------------------------------------------------------------- queries */

int64_t eq_numel(const eq_tensor *t);
bool eq_is_contiguous(const eq_tensor *t);
bool eq_same_shape(const eq_tensor *a, const eq_tensor *b);
/* Pointer to element [0, 0, ...] (CPU tensors). */
void *eq_data_ptr(const eq_tensor *t);
static inline float *eq_f32(const eq_tensor *t) { return (float *)eq_data_ptr(t); }
static inline double *eq_f64(const eq_tensor *t) { return (double *)eq_data_ptr(t); }
/* "[2, 3, 4]" into buf; returns buf. For error messages. */
const char *eq_shape_str(const eq_tensor *t, char *buf, size_t cap);
/* Element at a flat C-order index / at a multi-index, as double; and set.
 * A tensor off the CPU reads as NaN and is not written, with EQ_ERR_DEVICE
 * recorded. */
double eq_get_flat(const eq_tensor *t, int64_t i);
void eq_set_flat(eq_tensor *t, int64_t i, double value);
double eq_get(const eq_tensor *t, const int64_t *index);
/* Copies the elements in C order into `out` (numel elements of t->dtype);
 * a tensor off the CPU: EQ_ERR_DEVICE (eq_to_device brings it back first). */
eq_status eq_to_buffer(const eq_tensor *t, void *out);
/* Normalises a possibly negative axis; records an error naming `op` if out of range. */
eq_status eq_axis(const char *op, int axis, int ndim, int *out);

/* ------------------------------------------------------------- views
 * Differentiable: views are recorded on the autograd tape. */

/* A view when the strides allow, else a contiguous copy. One dim may be -1. */
eq_tensor *eq_reshape(eq_tensor *t, int ndim, const int64_t *shape);
eq_tensor *eq_flatten(eq_tensor *t, int start_dim, int end_dim);
eq_tensor *eq_permute(eq_tensor *t, const int *dims);
eq_tensor *eq_transpose(eq_tensor *t, int dim0, int dim1);
/* Elements start, start+step, ... < stop along `dim` (Python semantics for
 * negative start/stop; step >= 1). */
eq_tensor *eq_slice(eq_tensor *t, int dim, int64_t start, int64_t stop, int64_t step);
/* Index `index` along `dim`, removing that dim. */
eq_tensor *eq_select(eq_tensor *t, int dim, int64_t index);
/* Broadcast to `shape` (NumPy rules) as a stride-0 view. */
eq_tensor *eq_expand(eq_tensor *t, int ndim, const int64_t *shape);
eq_tensor *eq_unsqueeze(eq_tensor *t, int dim);
eq_tensor *eq_squeeze(eq_tensor *t, int dim); /* dim must have size 1 */
/* Contiguous C-order tensor with t's values: a new view when already contiguous. */
eq_tensor *eq_contiguous(eq_tensor *t);
/* Converted copy (not differentiable between float and integer dtypes). */
eq_tensor *eq_to_dtype(eq_tensor *t, eq_dtype dtype);
/* A copy with its own storage. */
eq_tensor *eq_clone(eq_tensor *t);

/* ------------------------------------------------------------- in place
 * Not recorded on the tape. */

/* dst[...] = src[...] with broadcasting of src and dtype conversion. */
eq_status eq_copy_(eq_tensor *dst, const eq_tensor *src);
eq_status eq_fill_(eq_tensor *t, double value);
/* dst[...] += src[...] with broadcasting of src and dtype conversion. */
eq_status eq_accumulate_(eq_tensor *dst, const eq_tensor *src);

/* Broadcast shape of a and b (NumPy rules) into shape/ndim; error names op. */
eq_status eq_broadcast_shapes(const char *op, const eq_tensor *a, const eq_tensor *b, int *ndim,
                              int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
