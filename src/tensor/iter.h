/* Strided N-d iteration over up to EQ_ITER_MAX_OPERANDS tensors broadcast to
 * one shape. Dimensions that are contiguous for every operand are merged, so
 * the kernel usually sees one long run. Operand 0 is conventionally the
 * output. Runs in parallel (OpenMP) over the outer index when large. */
#ifndef EQ_TENSOR_ITER_H
#define EQ_TENSOR_ITER_H

#include "equivar/tensor.h"

#define EQ_ITER_MAX_OPERANDS 4

typedef struct eq_iter {
  int ndim; /* after merging; the last dim is the inner run */
  int64_t shape[EQ_MAX_DIMS];
  int n_operands;
  int64_t stride[EQ_ITER_MAX_OPERANDS][EQ_MAX_DIMS]; /* bytes */
  char *base[EQ_ITER_MAX_OPERANDS];
  int64_t numel;
} eq_iter;

/* Kernel over one inner run: ptr[k] is operand k's first element and
 * stride[k] its byte stride along the run; n elements. */
typedef void (*eq_iter_kernel)(char **ptr, const int64_t *stride, int64_t n, void *ctx);

/* Operands are broadcast to (ndim, shape); an operand that cannot broadcast
 * is an EQ_ERR_SHAPE naming `op`. */
eq_status eq_iter_init(eq_iter *it, const char *op, int ndim, const int64_t *shape, int n_operands,
                       const eq_tensor *const *operands);
/* Serial when numel < EQ_ITER_PARALLEL_MIN. */
#define EQ_ITER_PARALLEL_MIN 32768
void eq_iter_run(const eq_iter *it, eq_iter_kernel kernel, void *ctx);

#endif
