/* Shared between elementwise.c (kernels, dtype rules) and
 * elementwise_grad.c (public entry points, tape, backward). */
#ifndef EQ_ELEMENTWISE_INTERNAL_H
#define EQ_ELEMENTWISE_INTERNAL_H

#include "ops/ops_internal.h"

bool eq_unary_is_predicate(eq_unary_op op);
bool eq_unary_is_differentiable(eq_unary_op op);
bool eq_binary_is_predicate(eq_binary_op op);
bool eq_binary_is_differentiable(eq_binary_op op);

/* compute: the dtype the kernel runs in (inputs are converted to it);
 * result: the output dtype (compute, or bool for predicates). */
eq_status eq_unary_dtypes(eq_unary_op op, eq_dtype in, eq_dtype *compute, eq_dtype *result);
eq_status eq_binary_dtypes(eq_binary_op op, eq_dtype a, eq_dtype b, eq_dtype *compute, eq_dtype *result);
eq_status eq_scalar_dtypes(eq_binary_op op, eq_dtype t, double s, eq_dtype *scalar_dtype, eq_dtype *compute,
                           eq_dtype *result);

/* Kernels into an existing output; inputs already of dtype `ct`. */
eq_status eq_unary_into(eq_unary_op op, eq_dtype ct, eq_tensor *out, const eq_tensor *x);
eq_status eq_binary_into(eq_binary_op op, eq_dtype ct, eq_tensor *out, const eq_tensor *a, const eq_tensor *b);

eq_tensor *eq_unary_raw(eq_unary_op op, eq_tensor *x);
eq_tensor *eq_binary_raw_typed(eq_binary_op op, eq_tensor *a, eq_tensor *b, eq_dtype ct, eq_dtype rt);

/* GELU (erf form) on contiguous float32 with AVX-512 (gelu_avx512.c): each
 * does the whole 16-element vectors of its n and returns how many that was
 * (0 without AVX-512); the caller finishes the rest. The slope form also
 * writes GELU'(x) = Phi(x) + x phi(x), for a backward that is one multiply
 * (eq_gelu while recording). */
bool eq_gelu_avx512_available(void);
int64_t eq_gelu_f32_avx512(const float *x, float *y, int64_t n);
int64_t eq_gelu_slope_f32_avx512(const float *x, float *y, float *slope, int64_t n);
/* y = GELU(x) (erf form) over n contiguous float32 or float64 elements (dt)
 * and, when slope is not NULL, slope = GELU'(x); y may be x. Threaded.
 * The values are eq_gelu's: the slope form's while recording, else the
 * plain one's. */
void eq_gelu_rows(eq_dtype dt, const void *x, void *y, void *slope, int64_t n);

/* A scalar as a 0-d tensor on the stack: no allocation per call. */
typedef struct eq_stack_scalar {
  eq_tensor tensor;
  eq_storage storage;
  _Alignas(8) unsigned char value[8];
} eq_stack_scalar;
void eq_stack_scalar_init(eq_stack_scalar *s, eq_dtype dtype, double value);

#endif
