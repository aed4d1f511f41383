/* Every op given a tensor on a device without kernels (cuda, until the CUDA
 * kernels exist) refuses it with EQ_ERR_DEVICE, naming the op and the
 * device, and never reads or writes the device's memory from the host.
 *
 * Without a GPU the test registers its own "cuda" backend whose memory is
 * mapped PROT_NONE: an op that touched it would crash the test instead of
 * passing. With a CUDA build on a GPU the real backend is used, and a host
 * dereference of device memory crashes the same way. Also: round trips of
 * every dtype, an empty tensor, views of a device tensor, and that device
 * memory is given back. */
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

/* ------------------------------------------------- the poisoned "cuda" */

static int live_allocs;

static size_t mapped_bytes(size_t bytes) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (bytes + sizeof(size_t) + page - 1) / page * page + page;
}

/* A header page (readable, holds the size) and the data pages, PROT_NONE
 * except while a copy runs. */
static void *poisoned_alloc(size_t bytes, int index) {
  (void)index;
  size_t page = (size_t)sysconf(_SC_PAGESIZE), total = mapped_bytes(bytes);
  char *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return NULL;
  *(size_t *)base = bytes;
  mprotect(base + page, total - page, PROT_NONE);
  live_allocs++;
  return base + page;
}

static size_t poisoned_size(const void *p) { return *(const size_t *)((const char *)p - sysconf(_SC_PAGESIZE)); }

static void poisoned_free(void *p, int index) {
  (void)index;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  munmap((char *)p - page, mapped_bytes(poisoned_size(p)));
  live_allocs--;
}

static void set_access(const void *p, int prot) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  mprotect((void *)p, mapped_bytes(poisoned_size(p)) - page, prot);
}

static eq_status poisoned_copy(void *dst, const void *src, size_t bytes, int kind, int index) {
  (void)index;
  if (kind != 1) set_access(dst, PROT_READ | PROT_WRITE);
  if (kind != 0) set_access(src, PROT_READ);
  memcpy(dst, src, bytes);
  if (kind != 1) set_access(dst, PROT_NONE);
  if (kind != 0) set_access(src, PROT_NONE);
  return EQ_OK;
}

static int one_device(void) { return 1; }

static const eq_backend poisoned = {"poisoned cuda", poisoned_alloc, poisoned_free, poisoned_copy, one_device};

/* --------------------------------------------------------------- checks */

static const eq_device gpu = {EQ_DEVICE_CUDA, 0};

/* The op's result is NULL (or its status an error), EQ_ERR_DEVICE, and the
 * message names the op and the device. */
#define REFUSES(expr, op)                                                                                              \
  do {                                                                                                                 \
    eq_error_clear();                                                                                                  \
    eq_tensor *r_ = (expr);                                                                                            \
    CHECK_MSG(r_ == NULL && eq_error_code() == EQ_ERR_DEVICE && strstr(eq_error_message(), op) &&                      \
                  strstr(eq_error_message(), "cuda:0"),                                                                \
              "%s: %s", #expr, r_ ? "returned a tensor" : eq_error_message());                                         \
  } while (0)

#define REFUSES_STATUS(expr, op)                                                                                       \
  do {                                                                                                                 \
    eq_error_clear();                                                                                                  \
    eq_status s_ = (expr);                                                                                             \
    CHECK_MSG(s_ == EQ_ERR_DEVICE && strstr(eq_error_message(), op) && strstr(eq_error_message(), "cuda:0"), "%s: %s", \
              #expr, eq_error_message());                                                                              \
  } while (0)

static eq_tensor *on_gpu(eq_tensor *host) {
  eq_tensor *d = eq_to_device(host, gpu);
  CHECK_MSG(d != NULL, "eq_to_device: %s", eq_error_message());
  return d;
}

/* host -> device -> host for every dtype, from a strided view. */
static void check_round_trips(void) {
  const eq_dtype dts[] = {EQ_F32, EQ_F64, EQ_I32, EQ_I64, EQ_U8, EQ_BOOL};
  for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
    eq_tensor *x = eq_empty(dts[i], EQ_DIMS(5, 7));
    for (int64_t e = 0; e < 35; e++) eq_set_flat(x, e, dts[i] == EQ_BOOL ? (double)(e % 3 == 0) : (double)(e % 11));
    eq_tensor *xt = eq_transpose(x, 0, 1), *d = on_gpu(xt);
    eq_tensor *back = d ? eq_to_device(d, (eq_device){EQ_DEVICE_CPU, 0}) : NULL;
    CHECK_MSG(back && back->dtype == dts[i] && back->ndim == 2 && back->shape[0] == 7, "round trip of %s",
              eq_dtype_name(dts[i]));
    int bad = 0;
    for (int64_t e = 0; back && e < 35; e++) bad += eq_get_flat(back, e) != eq_get_flat(xt, e);
    CHECK_MSG(bad == 0, "%s: %d elements differ after the round trip", eq_dtype_name(dts[i]), bad);
    /* device -> device on the same device */
    eq_tensor *d2 = d ? eq_to_device(d, gpu) : NULL,
              *back2 = d2 ? eq_to_device(d2, (eq_device){EQ_DEVICE_CPU, 0}) : NULL;
    CHECK(back2 && eq_get_flat(back2, 34) == eq_get_flat(xt, 34));
    eq_tensor_free(back2);
    eq_tensor_free(d2);
    eq_tensor_free(back);
    eq_tensor_free(d);
    eq_tensor_free(xt);
    eq_tensor_free(x);
  }
  eq_tensor *empty = eq_zeros(EQ_F32, EQ_DIMS(0, 4)), *de = on_gpu(empty);
  CHECK(de && eq_numel(de) == 0 && de->shape[1] == 4);
  eq_tensor_free(de);
  eq_tensor_free(empty);
  eq_error_clear();
  CHECK(eq_to_device(empty = eq_ones(EQ_F32, EQ_DIMS(2)), (eq_device){EQ_DEVICE_CUDA, 99}) == NULL);
  CHECK(eq_error_code() == EQ_ERR_DEVICE && strstr(eq_error_message(), "cuda:99"));
  eq_tensor_free(empty);
}

/* Each op, given device operands, refuses them. */
static void check_ops_refuse(void) {
  eq_tensor *hx = eq_rand_normal(EQ_F32, EQ_DIMS(2, 3, 8, 8), 0, 1, 1, 0);
  eq_tensor *hw = eq_rand_normal(EQ_F32, EQ_DIMS(4, 3, 3, 3), 0, 1, 2, 0);
  eq_tensor *hm = eq_rand_normal(EQ_F32, EQ_DIMS(6, 8), 0, 1, 3, 0);
  eq_tensor *hl = eq_rand_normal(EQ_F32, EQ_DIMS(8, 8), 0, 1, 4, 0);
  eq_tensor *hv = eq_rand_normal(EQ_F32, EQ_DIMS(8), 0, 1, 5, 0);
  eq_tensor *hq = eq_rand_normal(EQ_F32, EQ_DIMS(2, 5, 24), 0, 1, 6, 0);
  eq_tensor *hy = eq_zeros(EQ_I64, EQ_DIMS(6));
  eq_tensor *x = on_gpu(hx), *w = on_gpu(hw), *m = on_gpu(hm), *l = on_gpu(hl), *v = on_gpu(hv), *q = on_gpu(hq);
  eq_tensor *y = on_gpu(hy);
  if (!x || !w || !m || !l || !v || !q || !y) return;
  eq_set_requires_grad(m, true);
  int axis1[] = {1};
  /* elementwise, host and device operands mixed too */
  REFUSES(eq_add(m, m), "add");
  REFUSES(eq_mul(hm, m), "mul");
  REFUSES(eq_sub(m, hm), "sub");
  REFUSES(eq_div(m, m), "div");
  REFUSES(eq_add_scalar(m, 1), "add");
  REFUSES(eq_pow_scalar(m, 2), "pow");
  REFUSES(eq_exp(m), "exp");
  REFUSES(eq_log(m), "log");
  REFUSES(eq_sqrt(m), "sqrt");
  REFUSES(eq_relu(m), "relu");
  REFUSES(eq_gelu(m, false), "gelu");
  REFUSES(eq_sigmoid(m), "sigmoid");
  REFUSES(eq_tanh(m), "tanh");
  REFUSES(eq_silu(m), "silu");
  REFUSES(eq_neg(m), "neg");
  REFUSES(eq_clamp(m, -1, 1), "clamp");
  REFUSES(eq_where(eq_zeros(EQ_BOOL, EQ_DIMS(6, 8)), m, hm), "where");
  REFUSES_STATUS(eq_binary_(EQ_ADD, m, hm), "add");
  REFUSES_STATUS(eq_fill_(m, 0), "fill");
  REFUSES_STATUS(eq_copy_(hm, m), "copy");
  REFUSES_STATUS(eq_copy_(m, hm), "copy");
  REFUSES(eq_contiguous(eq_transpose(m, 0, 1)), "contiguous");
  REFUSES(eq_to_dtype(m, EQ_F64), "to_dtype");
  REFUSES(eq_clone(m), "clone");
  /* reductions */
  REFUSES(eq_sum(m, 1, axis1, false), "sum");
  REFUSES(eq_mean(m, 0, NULL, false), "mean");
  REFUSES(eq_max(m, 1, axis1, true), "max");
  REFUSES(eq_var(m, 1, axis1, 1, false), "var");
  REFUSES(eq_argmax(m, 1, false), "argmax");
  REFUSES(eq_cumsum(m, 1), "cumsum");
  REFUSES(eq_all(m, 0, NULL, false), "all");
  /* linear algebra and nn */
  REFUSES(eq_matmul(m, l), "matmul");
  REFUSES(eq_matmul(hm, l), "matmul");
  REFUSES(eq_linear(m, l, v), "linear");
  REFUSES(eq_linear(hm, hl, v), "linear");
  REFUSES(eq_linear_add(m, l, NULL, m), "linear");
  REFUSES(eq_conv2d(x, w, NULL, &(eq_conv2d_params){.padding = {1, 1}}), "conv2d");
  REFUSES(eq_conv2d(hx, w, NULL, &(eq_conv2d_params){.padding = {1, 1}}), "conv2d");
  REFUSES(eq_conv_transpose2d(x, eq_transpose(w, 0, 1), NULL, &(eq_conv2d_params){0}), "conv_transpose2d");
  REFUSES(eq_max_pool2d(x, (int[]){2, 2}, (int[]){2, 2}, (int[]){0, 0}), "max_pool2d");
  REFUSES(eq_avg_pool2d(x, (int[]){2, 2}, (int[]){2, 2}, (int[]){0, 0}, true), "avg_pool2d");
  REFUSES(eq_adaptive_avg_pool2d(x, 1, 1), "adaptive_avg_pool2d");
  REFUSES(eq_upsample_nearest2d(x, 16, 16), "upsample");
  REFUSES(eq_upsample_bilinear2d(x, 16, 16, false), "upsample");
  REFUSES(eq_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), "batch_norm");
  REFUSES(eq_batch_norm_relu(hx, NULL, NULL, NULL, NULL, true, 0.1, 1e-5, x), "batch_norm_relu");
  REFUSES(eq_layer_norm(m, v, v, 1e-5), "layer_norm");
  REFUSES(eq_layer_norm(hm, v, NULL, 1e-5), "layer_norm");
  REFUSES(eq_softmax(m, 1), "softmax");
  REFUSES(eq_log_softmax(m, 1), "log_softmax");
  REFUSES(eq_attention(q, q, q, NULL, 0), "attention");
  REFUSES(eq_attention_qkv(q, 2, NULL, 0), "attention");
  REFUSES(eq_dropout(m, 0.5, true, 1, 0), "dropout");
  REFUSES(eq_l2_normalize(m, 1, 1e-12), "l2_normalize");
  REFUSES(eq_cross_entropy(m, y, 0, -100), "cross_entropy");
  REFUSES(eq_mse_loss(m, hm), "mse_loss");
  REFUSES(eq_smooth_l1_loss(m, m, 1), "smooth_l1_loss");
  /* the fused ops */
  eq_tensor *hw1 = eq_rand_normal(EQ_F32, EQ_DIMS(32, 8), 0, 1, 7, 0),
            *hw2 = eq_rand_normal(EQ_F32, EQ_DIMS(8, 32), 0, 1, 8, 0);
  eq_tensor *hwq = eq_rand_normal(EQ_F32, EQ_DIMS(24, 8), 0, 1, 9, 0);
  eq_tensor *w2 = on_gpu(hw2), *wq = on_gpu(hwq);
  REFUSES(eq_mlp_gelu(m, hw1, NULL, hw2, NULL, NULL), "mlp_gelu");
  REFUSES(eq_mlp_gelu(hm, hw1, NULL, w2, NULL, NULL), "mlp_gelu");
  REFUSES(eq_qkv_attention(eq_reshape(m, EQ_DIMS(2, 3, 8)), hwq, NULL, 2, 0), "attention");
  REFUSES(eq_self_attention(eq_reshape(hm, EQ_DIMS(2, 3, 8)), wq, NULL, hl, NULL, NULL, 2, 0), "attention");
  /* shapes: concat, index_select, gather */
  REFUSES(eq_concat(2, (eq_tensor *[]){m, hm}, 0), "concat");
  REFUSES(eq_index_select(m, 0, eq_zeros(EQ_I64, EQ_DIMS(2))), "index_select");
  REFUSES(eq_gather(m, 1, eq_zeros(EQ_I64, EQ_DIMS(6, 2))), "gather");
  /* element access and export */
  eq_error_clear();
  CHECK(isnan(eq_get_flat(m, 0)) && eq_error_code() == EQ_ERR_DEVICE && strstr(eq_error_message(), "cuda:0"));
  eq_error_clear();
  eq_set_flat(m, 0, 1.0);
  CHECK(eq_error_code() == EQ_ERR_DEVICE && strstr(eq_error_message(), "cuda:0"));
  float buf[48];
  REFUSES_STATUS(eq_to_buffer(m, buf), "to_buffer");
  eq_error_clear();
  CHECK(isnan(eq_sum_all_double(m)));
  /* views only relabel: they need no kernel; a reshape that needs a copy
   * refuses like any op */
  eq_tensor *view = eq_reshape(eq_transpose(eq_reshape(m, EQ_DIMS(8, 6)), 0, 1), EQ_DIMS(6, 1, 8));
  CHECK_MSG(view && view->storage == m->storage && view->shape[2] == 8, "views of a device tensor: %s",
            eq_error_message());
  eq_error_clear();
  CHECK(eq_reshape(eq_transpose(m, 0, 1), EQ_DIMS(48)) == NULL && eq_error_code() == EQ_ERR_DEVICE);
  eq_tensor *sl = eq_slice(m, 0, 1, 4, 1);
  CHECK_MSG(sl && sl->storage->device.type == EQ_DEVICE_CUDA, "slice: %s", eq_error_message());
  eq_tensor *all[] = {x, w, m, l, v, q, y, w2, wq, hx, hw, hm, hl, hv, hq, hy, hw1, hw2, hwq};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) eq_tensor_free(all[i]);
}

int main(void) {
  bool real = eq_device_count(EQ_DEVICE_CUDA) > 0;
  if (!real) eq_backend_register(EQ_DEVICE_CUDA, &poisoned);
  CHECK(eq_device_count(EQ_DEVICE_CUDA) >= 1);
  printf("device backend: %s\n", real ? eq_backend_get(EQ_DEVICE_CUDA)->name : poisoned.name);
  eq_arena *arena = eq_arena_new(16 << 20);
  eq_arena_set_current(arena);
  check_round_trips();
  check_ops_refuse();
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  if (!real) CHECK_MSG(live_allocs == 0, "%d device allocations were not given back", live_allocs);
  return EQ_TEST_SUMMARY();
}
