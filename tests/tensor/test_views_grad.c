/* Finite-difference checks of the view ops' backward (float64), including
 * broadcast (expand) and non-contiguous inputs. */
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

static eq_tensor *chain_views(eq_tensor *const *in, void *ctx) {
  (void)ctx;
  eq_tensor *x = eq_reshape(in[0], EQ_DIMS(3, 4, 2));
  x = eq_permute(x, (int[]){2, 0, 1});  /* [2, 3, 4] */
  x = eq_slice(x, 2, 1, 4, 2);          /* [2, 3, 2] */
  x = eq_select(x, 0, 1);               /* [3, 2] */
  x = eq_unsqueeze(x, 1);               /* [3, 1, 2] */
  x = eq_expand(x, EQ_DIMS(4, 3, 5, 2)); /* broadcast */
  return eq_contiguous(x);
}

static eq_tensor *noncontiguous_reshape(eq_tensor *const *in, void *ctx) {
  (void)ctx;
  eq_tensor *t = eq_transpose(in[0], 0, 1); /* non-contiguous */
  return eq_flatten(t, 0, -1);              /* reshape must copy */
}

static eq_tensor *dtype_round_trip(eq_tensor *const *in, void *ctx) {
  (void)ctx;
  return eq_to_dtype(eq_clone(in[0]), EQ_F64);
}

int main(void) {
  eq_tensor *x = eq_rand_normal(EQ_F64, EQ_DIMS(24), 0, 1, 5, 0);
  eq_set_requires_grad(x, true);
  CHECK_MSG(eq_gradcheck(chain_views, NULL, 1, &x, NULL) == EQ_OK, "%s", eq_error_message());
  /* Each element of the selected slab was broadcast 4 * 5 = 20 times. */
  eq_tensor *y = eq_rand_normal(EQ_F64, EQ_DIMS(3, 5), 0, 1, 6, 0);
  eq_set_requires_grad(y, true);
  CHECK_MSG(eq_gradcheck(noncontiguous_reshape, NULL, 1, &y, NULL) == EQ_OK, "%s", eq_error_message());
  CHECK_MSG(eq_gradcheck(dtype_round_trip, NULL, 1, &y, NULL) == EQ_OK, "%s", eq_error_message());
  eq_tensor *z = eq_rand_normal(EQ_F64, EQ_DIMS(4), 0, 1, 7, 0);
  eq_set_requires_grad(z, true);
  CHECK(y->grad == NULL && z->grad == NULL); /* gradcheck leaves no gradients */

  eq_arena *arena = eq_arena_new(1 << 16);
  eq_arena_set_current(arena);
  /* Two paths into one input: gradients accumulate. */
  eq_tensor *a = eq_slice(z, 0, 0, 3, 1), *b = eq_slice(z, 0, 1, 4, 1);
  CHECK(eq_backward_with(a, eq_ones(EQ_F64, EQ_DIMS(3))) == EQ_OK);
  CHECK(eq_backward_with(b, eq_ones(EQ_F64, EQ_DIMS(3))) == EQ_OK);
  CHECK(z->grad && eq_get_flat(z->grad, 0) == 1 && eq_get_flat(z->grad, 1) == 2 && eq_get_flat(z->grad, 2) == 2 &&
        eq_get_flat(z->grad, 3) == 1);
  eq_tape_clear();
  /* A broadcast input receives the sum over the broadcast copies. */
  eq_tensor *e = eq_expand(eq_unsqueeze(y, 0), EQ_DIMS(4, 3, 5));
  eq_tensor *seed = eq_ones(EQ_F64, EQ_DIMS(4, 3, 5));
  CHECK(eq_backward_with(e, seed) == EQ_OK);
  CHECK(y->grad && eq_get_flat(y->grad, 0) == 4.0 && eq_get_flat(y->grad, 14) == 4.0);
  eq_tape_clear();
  /* Skip connections: an operand that receives the output gradient
   * unchanged takes its buffer when it can (eq_grad_pass_through). */
  {
    eq_fill_(y->grad, 0);
    eq_tensor *h = eq_mul_scalar(y, 2), *k = eq_mul_scalar(y, 3);
    eq_tensor *sum = eq_add(h, k), *seed = eq_ones(EQ_F64, EQ_DIMS(3, 5));
    sum->grad = eq_ones(EQ_F64, EQ_DIMS(3, 5));
    eq_tensor *g = sum->grad;
    CHECK(eq_grad_pass_through(h, sum->grad_fn) == EQ_OK && h->grad == g && sum->grad == NULL);
    sum->grad = eq_ones(EQ_F64, EQ_DIMS(3, 5));
    g = sum->grad;
    /* h has a gradient now: added to, not replaced */
    CHECK(eq_grad_pass_through(h, sum->grad_fn) == EQ_OK && h->grad != g && sum->grad == g &&
          eq_get_flat(h->grad, 7) == 2.0);
    /* a leaf copies (its gradient outlives the step's arena) */
    CHECK(eq_grad_pass_through(y, sum->grad_fn) == EQ_OK && y->grad != g && sum->grad == g &&
          eq_get_flat(y->grad, 3) == 1.0);
    eq_tape_clear();
    eq_fill_(y->grad, 0);
    /* through backward: (2y + 3y), (2y + 2y) with one operand twice, 2y - 3y,
     * and a broadcast second operand */
    sum = eq_add(eq_mul_scalar(y, 2), eq_mul_scalar(y, 3));
    CHECK(eq_backward_with(sum, seed) == EQ_OK && eq_get_flat(y->grad, 4) == 5.0);
    eq_tensor *twice = eq_mul_scalar(y, 2);
    CHECK(eq_backward_with(eq_add(twice, twice), seed) == EQ_OK && eq_get_flat(y->grad, 4) == 9.0);
    CHECK(eq_backward_with(eq_sub(eq_mul_scalar(y, 2), eq_mul_scalar(y, 3)), seed) == EQ_OK &&
          eq_get_flat(y->grad, 4) == 8.0);
    eq_tensor *row = eq_mul_scalar(eq_slice(y, 0, 0, 1, 1), 1); /* [1, 5]: broadcast over 3 rows */
    CHECK(eq_backward_with(eq_add(eq_mul_scalar(y, 1), row), seed) == EQ_OK && eq_get_flat(y->grad, 4) == 12.0 &&
          eq_get_flat(y->grad, 9) == 9.0);
    eq_tape_clear();
    eq_fill_(y->grad, 0);
  }
  /* Backward of something that needs no grad is a clear error. */
  eq_tensor *c = eq_zeros(EQ_F64, EQ_DIMS(1));
  eq_error_clear();
  CHECK(eq_backward(c) == EQ_ERR_STATE && strstr(eq_error_message(), "require grad"));
  eq_tensor *nonscalar = eq_expand(eq_unsqueeze(y, 0), EQ_DIMS(2, 3, 5));
  CHECK(eq_backward(nonscalar) == EQ_ERR_SHAPE);
  eq_tape_clear();
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  eq_tensor_free(x);
  eq_tensor_free(y);
  eq_tensor_free(z);
  return EQ_TEST_SUMMARY();
}
