/* Device memory backends; the CPU one is built in. */
#include "equivar/tensor.h"

#include <stdio.h>
#include <string.h>

static void *cpu_alloc(size_t bytes, int index) {
  (void)index;
  return eq_malloc(bytes);
}

static void cpu_free(void *p, int index) {
  (void)index;
  eq_free(p);
}

static eq_status cpu_copy(void *dst, const void *src, size_t bytes, int kind, int index) {
  (void)kind;
  (void)index;
  memcpy(dst, src, bytes);
  return EQ_OK;
}

static const eq_backend cpu_backend = {"cpu", cpu_alloc, cpu_free, cpu_copy, NULL};
static const eq_backend *backends[EQ_DEVICE_COUNT] = {[EQ_DEVICE_CPU] = &cpu_backend};

void eq_backend_register(eq_device_type type, const eq_backend *backend) {
  if ((unsigned)type < EQ_DEVICE_COUNT) backends[type] = backend;
}

const eq_backend *eq_backend_get(eq_device_type type) {
  return (unsigned)type < EQ_DEVICE_COUNT ? backends[type] : NULL;
}

const char *eq_device_name(eq_device device) {
  static _Thread_local char buf[32];
  if (device.type == EQ_DEVICE_CPU) return "cpu";
  snprintf(buf, sizeof buf, "%s:%d", device.type == EQ_DEVICE_CUDA ? "cuda" : "device", device.index);
  return buf;
}
