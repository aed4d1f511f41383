/* Helpers shared by the tensor core's files and the op implementations. */
#ifndef EQ_TENSOR_INTERNAL_H
#define EQ_TENSOR_INTERNAL_H

#include "equivar/tensor.h"

/* A zeroed tensor struct in the current arena (or heap), no storage. */
eq_tensor *eq_tensor_struct_new(void);
void eq_storage_retain(eq_storage *s);
void eq_storage_release(eq_storage *s);
void eq_set_contiguous_strides(eq_tensor *t);
eq_status eq_check_shape(const char *op, int ndim, const int64_t *shape);
/* A view struct sharing t's storage (shape/strides to be filled in). */
eq_tensor *eq_view_of(const eq_tensor *t);

double eq_load_as_double(const void *p, eq_dtype d);
void eq_store_from_double(void *p, eq_dtype d, double v);

/* Ops run on CPU only for now: records an error naming `op` otherwise. */
static inline eq_status eq_require_cpu(const char *op, const eq_tensor *t) {
  if (t->storage->device.type != EQ_DEVICE_CPU)
    return eq_error(EQ_ERR_DEVICE, "%s: no kernel for device %s", op, eq_device_name(t->storage->device));
  return EQ_OK;
}

#endif
