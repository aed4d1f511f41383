/* Broadcast-aware strided iteration with dimension merging. */
#include "tensor/iter.h"

#include <omp.h>
#include <string.h>

eq_status eq_iter_init(eq_iter *it, const char *op, int ndim, const int64_t *shape, int n_operands,
                       const eq_tensor *const *operands) {
  memset(it, 0, sizeof *it);
  it->n_operands = n_operands;
  int64_t full_stride[EQ_ITER_MAX_OPERANDS][EQ_MAX_DIMS];
  for (int k = 0; k < n_operands; k++) {
    const eq_tensor *t = operands[k];
    if (t->ndim > ndim) {
      char b[96];
      return eq_error(EQ_ERR_SHAPE, "%s: operand %d of shape %s has more dims than the result (%d)", op, k,
                      eq_shape_str(t, b, sizeof b), ndim);
    }
    size_t es = eq_dtype_size(t->dtype);
    int lead = ndim - t->ndim;
    for (int d = 0; d < ndim; d++) {
      if (d < lead) {
        full_stride[k][d] = 0;
        continue;
      }
      int64_t n = t->shape[d - lead];
      if (n == shape[d])
        full_stride[k][d] = n == 1 ? 0 : t->stride[d - lead] * (int64_t)es;
      else if (n == 1)
        full_stride[k][d] = 0;
      else {
        char b[96];
        return eq_error(EQ_ERR_SHAPE, "%s: operand %d of shape %s does not broadcast to dim %d of size %lld", op,
                        k, eq_shape_str(t, b, sizeof b), d, (long long)shape[d]);
      }
    }
    it->base[k] = (char *)eq_data_ptr(t);
  }
  /* Drop size-1 dims and merge neighbours that are contiguous for all. */
  int m = 0;
  it->numel = 1;
  for (int d = 0; d < ndim; d++) {
    it->numel *= shape[d];
    if (shape[d] == 1) continue;
    if (m > 0) {
      bool mergeable = true;
      for (int k = 0; k < n_operands; k++)
        if (it->stride[k][m - 1] != full_stride[k][d] * shape[d]) mergeable = false;
      if (mergeable) {
        it->shape[m - 1] *= shape[d];
        for (int k = 0; k < n_operands; k++) it->stride[k][m - 1] = full_stride[k][d];
        continue;
      }
    }
    it->shape[m] = shape[d];
    for (int k = 0; k < n_operands; k++) it->stride[k][m] = full_stride[k][d];
    m++;
  }
  if (m == 0) {
    it->shape[0] = 1;
    for (int k = 0; k < n_operands; k++) it->stride[k][0] = 0;
    m = 1;
  }
  it->ndim = m;
  return EQ_OK;
}

static void run_range(const eq_iter *it, int64_t begin, int64_t end, eq_iter_kernel kernel, void *ctx) {
  int outer = it->ndim - 1;
  int64_t inner = it->shape[outer];
  int64_t idx[EQ_MAX_DIMS];
  char *ptr[EQ_ITER_MAX_OPERANDS];
  int64_t inner_stride[EQ_ITER_MAX_OPERANDS];
  for (int k = 0; k < it->n_operands; k++) inner_stride[k] = it->stride[k][outer];
  /* Decompose the first outer index into a multi-index. */
  int64_t r = begin;
  for (int d = outer - 1; d >= 0; d--) {
    idx[d] = r % it->shape[d];
    r /= it->shape[d];
  }
  for (int k = 0; k < it->n_operands; k++) {
    ptr[k] = it->base[k];
    for (int d = 0; d < outer; d++) ptr[k] += idx[d] * it->stride[k][d];
  }
  for (int64_t o = begin; o < end; o++) {
    kernel(ptr, inner_stride, inner, ctx);
    for (int d = outer - 1; d >= 0; d--) {
      idx[d]++;
      for (int k = 0; k < it->n_operands; k++) ptr[k] += it->stride[k][d];
      if (idx[d] < it->shape[d]) break;
      for (int k = 0; k < it->n_operands; k++) ptr[k] -= it->shape[d] * it->stride[k][d];
      idx[d] = 0;
    }
  }
}

void eq_iter_run(const eq_iter *it, eq_iter_kernel kernel, void *ctx) {
  if (it->numel == 0) return;
  int64_t outer_count = it->numel / it->shape[it->ndim - 1];
  if (it->numel < EQ_ITER_PARALLEL_MIN || omp_in_parallel() || omp_get_max_threads() == 1) {
    run_range(it, 0, outer_count, kernel, ctx);
    return;
  }
  if (outer_count == 1) {
    /* One long run: split it between threads. */
    int64_t n = it->shape[it->ndim - 1];
#pragma omp parallel
    {
      int nt = omp_get_num_threads(), t = omp_get_thread_num();
      int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
      char *ptr[EQ_ITER_MAX_OPERANDS];
      int64_t stride[EQ_ITER_MAX_OPERANDS];
      for (int k = 0; k < it->n_operands; k++) {
        stride[k] = it->stride[k][0];
        ptr[k] = it->base[k] + lo * stride[k];
      }
      if (hi > lo) kernel(ptr, stride, hi - lo, ctx);
    }
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t lo = outer_count * t / nt, hi = outer_count * (t + 1) / nt;
    if (hi > lo) run_range(it, lo, hi, kernel, ctx);
  }
}
