/* Dtype rules, integer and bool ops, in-place ops, and the errors of bad
 * shapes/dtypes (code, op name and shapes in the message). */
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

static bool msg_has(const char *a, const char *b) {
  const char *m = eq_error_message();
  return strstr(m, a) && (!b || strstr(m, b));
}

static void test_errors(void) {
  eq_tensor *a = eq_zeros(EQ_F32, EQ_DIMS(2, 3)), *b = eq_zeros(EQ_F32, EQ_DIMS(4));
  eq_error_clear();
  CHECK(eq_add(a, b) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  CHECK_MSG(msg_has("add", "[2, 3]") && msg_has("[4]", NULL), "%s", eq_error_message());
  eq_tensor *m = eq_zeros(EQ_F32, EQ_DIMS(3, 5));
  CHECK(eq_matmul(m, a) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  CHECK_MSG(msg_has("matmul", "[3, 5]") && msg_has("[2, 3]", NULL), "%s", eq_error_message());
  eq_tensor *i = eq_zeros(EQ_I32, EQ_DIMS(2, 3));
  CHECK(eq_matmul(i, i) == NULL && eq_error_code() == EQ_ERR_DTYPE && msg_has("matmul", "int32"));
  CHECK(eq_binary(EQ_BITWISE_AND, a, a) == NULL && eq_error_code() == EQ_ERR_DTYPE && msg_has("bitwise_and", "float32"));
  eq_tensor *bl = eq_zeros(EQ_BOOL, EQ_DIMS(2, 3));
  CHECK(eq_sub(bl, bl) == NULL && eq_error_code() == EQ_ERR_DTYPE && msg_has("sub", "bool"));
  CHECK(eq_neg(bl) == NULL && eq_error_code() == EQ_ERR_DTYPE);
  CHECK(eq_sum(a, 1, (int[]){2}, false) == NULL && eq_error_code() == EQ_ERR_SHAPE && msg_has("sum", "axis 2"));
  CHECK(eq_mean(a, 2, (int[]){1, -1}, false) == NULL && eq_error_code() == EQ_ERR_SHAPE && msg_has("twice", NULL));
  eq_tensor *empty = eq_zeros(EQ_F32, EQ_DIMS(2, 0));
  CHECK(eq_max(empty, 1, (int[]){1}, false) == NULL && eq_error_code() == EQ_ERR_SHAPE && msg_has("max", "empty"));
  eq_tensor *s = eq_sum(empty, 1, (int[]){1}, false);
  CHECK(s && s->shape[0] == 2 && eq_get_flat(s, 1) == 0);
  CHECK(eq_clamp(a, 1, 0) == NULL && eq_error_code() == EQ_ERR_VALUE && msg_has("clamp", NULL));
  /* in place: the result must fit the destination's shape and dtype */
  CHECK(eq_binary_(EQ_ADD, b, a) == EQ_ERR_SHAPE && msg_has("add", NULL));
  CHECK(eq_binary_scalar_(EQ_MUL, i, 0.5) == EQ_ERR_DTYPE && msg_has("int32", "float32"));
  eq_tensor *arr[] = {a, b, m, i, bl, empty, s};
  for (size_t k = 0; k < sizeof arr / sizeof *arr; k++) eq_tensor_free(arr[k]);
}

static void test_dtypes(void) {
  eq_tensor *i32 = eq_from_data(EQ_I32, EQ_DIMS(4), (int32_t[]){-3, 0, 5, 7});
  eq_tensor *i64 = eq_from_data(EQ_I64, EQ_DIMS(4), (int64_t[]){1, 2, 3, -4});
  eq_tensor *u8 = eq_from_data(EQ_U8, EQ_DIMS(4), (uint8_t[]){250, 1, 2, 3});
  eq_tensor *f32 = eq_from_data(EQ_F32, EQ_DIMS(4), (float[]){0.5f, -1.5f, 2.5f, 3.5f});
  eq_tensor *bl = eq_from_data(EQ_BOOL, EQ_DIMS(4), (uint8_t[]){1, 0, 1, 0});
  eq_arena *arena = eq_arena_new(1 << 16);
  eq_arena_set_current(arena);
  eq_tensor *t;
  t = eq_add(i32, i64);
  CHECK(t->dtype == EQ_I64 && eq_get_flat(t, 3) == 3);
  t = eq_add(i32, f32);
  CHECK(t->dtype == EQ_F32 && eq_get_flat(t, 0) == -2.5);
  t = eq_add(u8, u8); /* wraps like NumPy's uint8 */
  CHECK(t->dtype == EQ_U8 && eq_get_flat(t, 0) == 244);
  t = eq_exp(i32); /* float ops on integers: float32 */
  CHECK(t->dtype == EQ_F32);
  CHECK_CLOSE(eq_get_flat(t, 2), exp(5.0), 1e-6, 0);
  t = eq_neg(i32);
  CHECK(t->dtype == EQ_I32 && eq_get_flat(t, 0) == 3);
  t = eq_unary(EQ_ABS, i64);
  CHECK(t->dtype == EQ_I64 && eq_get_flat(t, 3) == 4);
  t = eq_add_scalar(i32, 2); /* weak scalar: stays int32 */
  CHECK(t->dtype == EQ_I32 && eq_get_flat(t, 0) == -1);
  t = eq_mul_scalar(i32, 0.5); /* non-integral scalar: float32 */
  CHECK(t->dtype == EQ_F32 && eq_get_flat(t, 0) == -1.5);
  t = eq_add_scalar(f32, 1e300); /* the scalar takes float32 */
  CHECK(t->dtype == EQ_F32);
  t = eq_binary(EQ_POW, i64, i64);
  CHECK(t->dtype == EQ_I64 && eq_get_flat(t, 2) == 27 && eq_get_flat(t, 3) == 0); /* 3^3; (-4)^-4 -> 0 */
  t = eq_binary(EQ_LESS, i32, f32);
  CHECK(t->dtype == EQ_BOOL && eq_get_flat(t, 0) == 1 && eq_get_flat(t, 1) == 0);
  t = eq_binary_scalar(EQ_EQUAL, i32, 5);
  CHECK(t->dtype == EQ_BOOL && eq_get_flat(t, 2) == 1 && eq_get_flat(t, 0) == 0);
  t = eq_binary(EQ_LOGICAL_XOR, bl, i32);
  CHECK(t->dtype == EQ_BOOL && eq_get_flat(t, 0) == 0 && eq_get_flat(t, 1) == 0 && eq_get_flat(t, 2) == 0 &&
        eq_get_flat(t, 3) == 1);
  t = eq_add(bl, bl); /* bool + bool = or */
  CHECK(t->dtype == EQ_BOOL && eq_get_flat(t, 0) == 1 && eq_get_flat(t, 1) == 0);
  t = eq_binary(EQ_BITWISE_XOR, i32, i32);
  CHECK(t->dtype == EQ_I32 && eq_get_flat(t, 0) == 0);
  t = eq_binary_scalar(EQ_FLOOR_DIV, i32, 0); /* no trap: 0, as NumPy */
  CHECK(t && eq_get_flat(t, 0) == 0);
  t = eq_sum(i32, 0, NULL, false);
  CHECK(t->dtype == EQ_I64 && eq_get_flat(t, 0) == 9);
  t = eq_sum(bl, 0, NULL, false);
  CHECK(t->dtype == EQ_I64 && eq_get_flat(t, 0) == 2);
  t = eq_mean(i32, 0, NULL, false);
  CHECK(t->dtype == EQ_F32 && eq_get_flat(t, 0) == 2.25);
  t = eq_max(u8, 0, NULL, false);
  CHECK(t->dtype == EQ_U8 && eq_get_flat(t, 0) == 250);
  t = eq_min(i64, 1, (int[]){0}, true);
  CHECK(t->dtype == EQ_I64 && t->ndim == 1 && eq_get_flat(t, 0) == -4);
  t = eq_prod(i32, 0, NULL, false);
  CHECK(t->dtype == EQ_I64 && eq_get_flat(t, 0) == 0);
  t = eq_argmin(i32, 0, false);
  CHECK(t->dtype == EQ_I64 && t->ndim == 0 && eq_get_flat(t, 0) == 0);
  t = eq_all(bl, 0, NULL, false);
  CHECK(t->dtype == EQ_BOOL && eq_get_flat(t, 0) == 0);
  t = eq_any(i32, 0, NULL, false);
  CHECK(t->dtype == EQ_BOOL && eq_get_flat(t, 0) == 1);
  t = eq_cumsum(u8, 0);
  CHECK(t->dtype == EQ_I64 && eq_get_flat(t, 3) == 256);
  t = eq_var(i32, 0, NULL, 0, false);
  CHECK(t->dtype == EQ_F32);
  CHECK_CLOSE(eq_get_flat(t, 0), 15.6875, 1e-6, 0);
  t = eq_clamp(i32, -1, 5);
  CHECK(t->dtype == EQ_I32 && eq_get_flat(t, 0) == -1 && eq_get_flat(t, 3) == 5);
  t = eq_where(bl, i32, f32);
  CHECK(t->dtype == EQ_F32 && eq_get_flat(t, 0) == -3 && eq_get_flat(t, 1) == -1.5);
  t = eq_where(i32, f32, eq_scalar(EQ_F32, 9)); /* nonzero condition */
  CHECK(eq_get_flat(t, 0) == 0.5 && eq_get_flat(t, 1) == 9);
  /* NaN propagates through maximum and max */
  eq_tensor *nan = eq_from_data(EQ_F32, EQ_DIMS(3), (float[]){1.0f, NAN, 3.0f});
  t = eq_binary_scalar(EQ_MAXIMUM, nan, 2.0);
  CHECK(t && isnan(eq_get_flat(t, 1)) && eq_get_flat(t, 2) == 3.0);
  t = eq_max(nan, 0, NULL, false);
  CHECK(t && isnan(eq_get_flat(t, 0)));
  t = eq_argmax(nan, 0, false);
  CHECK(t && eq_get_flat(t, 0) == 1);
  /* in place */
  eq_tensor *acc = eq_zeros(EQ_F32, EQ_DIMS(2, 4));
  CHECK(eq_binary_(EQ_ADD, acc, f32) == EQ_OK && eq_get_flat(acc, 5) == -1.5); /* broadcast */
  CHECK(eq_binary_scalar_(EQ_MUL, acc, 2) == EQ_OK && eq_get_flat(acc, 6) == 5);
  CHECK(eq_binary_(EQ_ADD, acc, i32) == EQ_OK && eq_get_flat(acc, 0) == -2);
  eq_tensor *iacc = eq_from_data(EQ_I32, EQ_DIMS(4), (int32_t[]){1, 2, 3, 4});
  CHECK(eq_binary_scalar_(EQ_FLOOR_DIV, iacc, 2) == EQ_OK && eq_get_flat(iacc, 2) == 1);
  CHECK(eq_binary_(EQ_LESS, acc, f32) == EQ_OK && eq_get_flat(acc, 0) == 1); /* bool into float */
  /* integer ops are never recorded */
  eq_tensor *w = eq_ones(EQ_F32, EQ_DIMS(4));
  eq_set_requires_grad(w, true);
  t = eq_binary(EQ_GREATER, w, f32);
  CHECK(t && !t->requires_grad);
  t = eq_argmax(w, 0, false);
  CHECK(t && !t->requires_grad);
  t = eq_add(w, f32);
  CHECK(t && t->requires_grad);
  eq_tape_clear();
  CHECK(strcmp(eq_unary_op_name(EQ_GELU_TANH), "gelu_tanh") == 0);
  CHECK(strcmp(eq_binary_op_name(EQ_LOGICAL_XOR), "logical_xor") == 0);
  CHECK(strcmp(eq_binary_op_name((eq_binary_op)999), "unknown_binary_op") == 0);
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  eq_tensor *arr[] = {i32, i64, u8, f32, bl};
  for (size_t k = 0; k < sizeof arr / sizeof *arr; k++) eq_tensor_free(arr[k]);
}

int main(void) {
  test_errors();
  test_dtypes();
  return EQ_TEST_SUMMARY();
}
