// CUDA memory backend: device allocation and host/device copies. Built only
// with -DEQ_CUDA=ON; registered by src/tensor/device.c on first use.
#include <cuda_runtime.h>

extern "C" {
#include "equivar/tensor.h"
}

static void *cuda_alloc(size_t bytes, int index) {
  if (cudaSetDevice(index) != cudaSuccess) return NULL;
  void *p = NULL;
  cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
  if (err != cudaSuccess) {
    eq_error(EQ_ERR_MEMORY, "cuda:%d: cannot allocate %zu bytes: %s", index, bytes, cudaGetErrorString(err));
    return NULL;
  }
  return p;
}

static void cuda_free(void *p, int index) {
  cudaSetDevice(index);
  cudaFree(p);
}

static eq_status cuda_copy(void *dst, const void *src, size_t bytes, int kind, int index) {
  static const cudaMemcpyKind kinds[3] = {cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost,
                                          cudaMemcpyDeviceToDevice};
  if (kind < 0 || kind > 2) return eq_error(EQ_ERR_VALUE, "cuda copy: invalid direction %d", kind);
  cudaSetDevice(index);
  cudaError_t err = cudaMemcpy(dst, src, bytes, kinds[kind]);
  if (err != cudaSuccess)
    return eq_error(EQ_ERR_DEVICE, "cuda:%d: copy of %zu bytes failed: %s", index, bytes, cudaGetErrorString(err));
  return EQ_OK;
}

extern "C" int eq_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

static const eq_backend cuda_backend = {"cuda", cuda_alloc, cuda_free, cuda_copy, eq_cuda_device_count};

extern "C" const eq_backend *eq_cuda_backend(void) { return &cuda_backend; }
