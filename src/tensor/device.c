/* Moving tensors between devices. */
#include <string.h>

#include "tensor/tensor_internal.h"

#ifdef EQ_HAVE_CUDA
const eq_backend *eq_cuda_backend(void);
int eq_cuda_device_count(void);
#endif

static const eq_backend *backend_for(eq_device device) {
#ifdef EQ_HAVE_CUDA
  if (device.type == EQ_DEVICE_CUDA && !eq_backend_get(EQ_DEVICE_CUDA) && eq_cuda_device_count() > 0)
    eq_backend_register(EQ_DEVICE_CUDA, eq_cuda_backend());
#endif
  return eq_backend_get(device.type);
}

int eq_device_count(eq_device_type type) {
  if (type == EQ_DEVICE_CPU) return 1;
  const eq_backend *b = (unsigned)type < EQ_DEVICE_COUNT ? backend_for((eq_device){type, 0}) : NULL;
  return b ? (b->count ? b->count() : 1) : 0;
}

eq_tensor *eq_to_device(eq_tensor *t, eq_device device) {
  eq_device from = t->storage->device;
  const eq_backend *dst_backend = backend_for(device);
  if (!dst_backend || device.index < 0 || device.index >= eq_device_count(device.type)) {
    eq_error(EQ_ERR_DEVICE, "eq_to_device: device %s is not available (this build: %s)", eq_device_name(device),
#ifdef EQ_HAVE_CUDA
             "cpu + cuda"
#else
             "cpu only; configure with -DEQ_CUDA=ON for GPUs"
#endif
    );
    return NULL;
  }
  if (from.type != EQ_DEVICE_CPU && !eq_is_contiguous(t)) {
    eq_error(EQ_ERR_UNSUPPORTED, "eq_to_device: non-contiguous tensor on %s", eq_device_name(from));
    return NULL;
  }
  /* Stage through a contiguous host copy where the source is a host view. */
  eq_tensor *host = NULL;
  const void *src = eq_data_ptr(t);
  if (from.type == EQ_DEVICE_CPU && !eq_is_contiguous(t)) {
    host = eq_empty(t->dtype, t->ndim, t->shape);
    if (!host || eq_copy_(host, t)) {
      eq_tensor_free(host);
      return NULL;
    }
    src = eq_data_ptr(host);
  }
  /* Device memory is not arena memory: the result is always a heap tensor. */
  eq_arena *prev_arena = eq_arena_set_current(NULL);
  eq_tensor *out = eq_tensor_struct_new();
  eq_arena_set_current(prev_arena);
  eq_storage *s = out ? eq_malloc(sizeof *s) : NULL;
  size_t bytes = (size_t)eq_numel(t) * eq_dtype_size(t->dtype);
  void *data = s ? dst_backend->alloc(bytes, device.index) : NULL;
  if (!data) {
    eq_free(s);
    eq_tensor_free(out);
    eq_tensor_free(host);
    if (eq_error_code() == EQ_OK) eq_error(EQ_ERR_MEMORY, "eq_to_device: cannot allocate %zu bytes", bytes);
    return NULL;
  }
  memset(s, 0, sizeof *s);
  s->data = data;
  s->nbytes = bytes;
  s->device = device;
  s->refcount = 1;
  s->owns_data = true;
  out->storage = s;
  out->ndim = t->ndim;
  memcpy(out->shape, t->shape, sizeof out->shape);
  eq_set_contiguous_strides(out);
  out->dtype = t->dtype;
  eq_status st;
  if (from.type == EQ_DEVICE_CPU && device.type == EQ_DEVICE_CPU)
    st = (memcpy(data, src, bytes), EQ_OK);
  else if (from.type == EQ_DEVICE_CPU)
    st = dst_backend->copy(data, src, bytes, 0, device.index);
  else if (device.type == EQ_DEVICE_CPU)
    st = backend_for(from)->copy(data, src, bytes, 1, from.index);
  else if (from.type == device.type && from.index == device.index)
    st = dst_backend->copy(data, src, bytes, 2, device.index);
  else
    st = eq_error(EQ_ERR_UNSUPPORTED, "eq_to_device: %s -> %s direct copies are not supported; go through the host",
                  eq_device_name(from), eq_device_name(device));
  eq_tensor_free(host);
  if (st) {
    eq_tensor_free(out);
    return NULL;
  }
  return out;
}
