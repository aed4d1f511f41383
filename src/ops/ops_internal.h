/* Helpers shared by the general ops (the files of src/ops): scratch tensors, grad-mode
 * guards for backward functions, and the reduction layout plan. */
#ifndef EQ_OPS_INTERNAL_H
#define EQ_OPS_INTERNAL_H

#include <string.h>

#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "tensor/iter.h"
#include "tensor/tensor_internal.h"

/* Backward functions build their temporaries with ops; nothing they compute
 * may be recorded on the tape they are walking. */
#define EQ_NO_GRAD_BEGIN bool eq_prev_grad_ = eq_set_grad_enabled(false)
#define EQ_NO_GRAD_END eq_set_grad_enabled(eq_prev_grad_)

/* Records `out` and reports only a real failure (out of memory): a NULL node
 * just means no input needs a gradient. */
static inline eq_node *eq_ops_record(const char *op, eq_tensor *out, int n, eq_tensor *const *inputs,
                                     eq_backward_fn backward, bool *failed) {
  *failed = false;
  if (!eq_needs_grad(n, inputs)) return NULL;
  eq_node *node = eq_tape_record(op, out, n, inputs, backward);
  if (!node) *failed = true;
  return node;
}

/* A raw view of t with a new shape/strides (no tape). */
eq_tensor *eq_ops_raw_view(const eq_tensor *t, int ndim, const int64_t *shape, const int64_t *stride);
/* t as a contiguous tensor: t itself (*owned = false) or a raw copy. */
eq_tensor *eq_ops_contiguous_raw(eq_tensor *t, bool *owned);
/* Raw dtype conversion (no tape); t itself when already `dtype`. */
eq_tensor *eq_ops_cast_raw(eq_tensor *t, eq_dtype dtype, bool *owned);

/* Elementwise internals used by other op files (no tape). */
eq_tensor *eq_ops_binary_raw(eq_binary_op op, eq_tensor *a, eq_tensor *b);
eq_tensor *eq_ops_binary_scalar_raw(eq_binary_op op, eq_tensor *a, double s);

/* Reduction layout: the kept axes first, then the reduced ones, as a
 * [M, R] row-major matrix. */
typedef struct eq_reduce_plan {
  int ndim;
  int perm[EQ_MAX_DIMS]; /* kept axes (in order), then reduced axes */
  int nkept;
  bool reduced[EQ_MAX_DIMS];
  int64_t M, R;
  int out_ndim;
  int64_t out_shape[EQ_MAX_DIMS];  /* keepdim or not, as requested */
  int64_t keep_shape[EQ_MAX_DIMS]; /* x's ndim, reduced axes of size 1 */
} eq_reduce_plan;

eq_status eq_reduce_plan_init(eq_reduce_plan *p, const char *op, const eq_tensor *x, int naxes, const int *axes,
                              bool keepdim);
/* x permuted by plan->perm as a contiguous [M, R] buffer: a view of x when
 * the permutation already is contiguous (*owned = false), else a copy. */
eq_tensor *eq_reduce_rows(const eq_reduce_plan *p, eq_tensor *x, bool *owned);
/* A new tensor of x's shape and dtype `dt` holding [M, R] rows given in the
 * plan's permuted layout (the inverse of eq_reduce_rows). */
eq_tensor *eq_reduce_from_rows(const eq_reduce_plan *p, const eq_tensor *x, const eq_tensor *rows, eq_dtype dt);
/* x->grad += g_rows, where g_rows is [M, R] in the plan's permuted layout. */
eq_status eq_reduce_accumulate_rows(const eq_reduce_plan *p, eq_tensor *x, const eq_tensor *g_rows);
/* g (the output gradient) viewed with x's ndim (reduced axes of size 1). */
eq_tensor *eq_reduce_keepdim_view(const eq_reduce_plan *p, const eq_tensor *g);
/* The scaffold of a row-wise backward: the node's plan, x's rows and a fresh
 * [M, R] gradient block; _end accumulates that block into x's gradient
 * (when st is EQ_OK) and releases both. */
typedef struct eq_rows_grad {
  eq_reduce_plan plan;
  eq_tensor *rows, *grad;
  bool owned;
} eq_rows_grad;
eq_status eq_rows_grad_begin(eq_rows_grad *r, const eq_node *node, eq_tensor *x);
eq_status eq_rows_grad_end(eq_rows_grad *r, eq_tensor *x, eq_status st);
void eq_reduce_plan_save(const eq_reduce_plan *p, eq_node *node);
void eq_reduce_plan_load(eq_reduce_plan *p, const eq_node *node, const eq_tensor *x);

/* Float sums over contiguous runs: blocks summed in float lanes, blocks
 * accumulated in double, so long float32 sums stay accurate and fast. */
double eq_sum_f32(const float *x, int64_t n);
double eq_sum_f64(const double *x, int64_t n);

/* C = op(A) op(B) for float32/float64 2-d strided operands through BLAS
 * (copies only when neither layout fits BLAS). beta scales C first. */
eq_status eq_ops_gemm(const char *op, const eq_tensor *a, const eq_tensor *b, eq_tensor *c, double beta);

#endif
