/* Central finite differences against the tape's gradients, in float64. */
#include <math.h>
#include <stdio.h>

#include "equivar/autograd.h"
#include "tensor/tensor_internal.h"

/* L = sum(out * w), accumulated in double. */
static double weighted_sum(const eq_tensor *out, const eq_tensor *w) {
  double s = 0;
  int64_t n = eq_numel(out);
  for (int64_t i = 0; i < n; i++) s += eq_get_flat(out, i) * eq_get_flat(w, i);
  return s;
}

static eq_status evaluate(eq_gradcheck_fn fn, void *ctx, eq_tensor *const *inputs, const eq_tensor *w,
                          eq_arena *arena, double *loss) {
  eq_tensor *out = fn(inputs, ctx);
  if (!out) {
    eq_error_context("gradcheck: forward failed: ");
    return eq_error_code();
  }
  *loss = weighted_sum(out, w);
  eq_arena_reset(arena);
  return EQ_OK;
}

eq_status eq_gradcheck(eq_gradcheck_fn fn, void *ctx, int n, eq_tensor *const *inputs, const eq_gradcheck_opts *opts) {
  eq_gradcheck_opts o = {1e-6, 1e-6, 1e-4, 1, 0};
  if (opts) o = *opts;
  if (o.eps <= 0) o.eps = 1e-6;
  for (int k = 0; k < n; k++) {
    if (inputs[k]->dtype != EQ_F64)
      return eq_error(EQ_ERR_DTYPE, "gradcheck: input %d is %s; the check runs in float64", k,
                      eq_dtype_name(inputs[k]->dtype));
    if (inputs[k]->grad) {
      eq_tensor_free(inputs[k]->grad);
      inputs[k]->grad = NULL;
    }
  }
  eq_arena *arena = eq_arena_new(1 << 20);
  if (!arena) return eq_error_code();
  eq_arena *prev_arena = eq_arena_set_current(arena);
  bool prev_grad = eq_set_grad_enabled(true);
  eq_status st = EQ_OK;

  /* Analytic pass. The weights live on the heap: the arena is reset between
   * evaluations. */
  eq_tensor *out = fn(inputs, ctx);
  eq_tensor *w = NULL;
  if (!out) {
    eq_error_context("gradcheck: forward failed: ");
    st = eq_error_code();
    goto done;
  }
  eq_arena_set_current(NULL);
  w = eq_rand_normal(EQ_F64, out->ndim, out->shape, 0, 1, o.seed, 0x6772616463ull);
  eq_arena_set_current(arena);
  if (!w) {
    st = eq_error_code();
    goto done;
  }
  if (!out->requires_grad) {
    st = eq_error(EQ_ERR_STATE, "gradcheck: the output does not depend on any input that requires grad");
    goto done;
  }
  {
    eq_tensor *seed_grad = eq_to_dtype(w, out->dtype);
    if (!seed_grad || (st = eq_backward_with(out, seed_grad))) {
      st = eq_error_code();
      goto done;
    }
  }
  eq_tape_clear();
  eq_arena_reset(arena);

  eq_set_grad_enabled(false);
  for (int k = 0; k < n && !st; k++) {
    eq_tensor *x = inputs[k];
    if (!x->requires_grad) continue;
    int64_t count = eq_numel(x);
    int64_t step = (o.max_coords > 0 && count > o.max_coords) ? (count + o.max_coords - 1) / o.max_coords : 1;
    for (int64_t j = 0; j < count; j += step) {
      double x0 = eq_get_flat(x, j), lp = 0, l0 = 0, lm = 0;
      eq_set_flat(x, j, x0 + o.eps);
      if ((st = evaluate(fn, ctx, inputs, w, arena, &lp))) break;
      eq_set_flat(x, j, x0 - o.eps);
      if ((st = evaluate(fn, ctx, inputs, w, arena, &lm))) break;
      eq_set_flat(x, j, x0);
      if ((st = evaluate(fn, ctx, inputs, w, arena, &l0))) break;
      double right = (lp - l0) / o.eps, left = (l0 - lm) / o.eps;
      /* A kink (relu at 0, max ties): one-sided slopes disagree. */
      if (fabs(right - left) > 1e-3 * (1.0 + fabs(right) + fabs(left))) continue;
      double numeric = (lp - lm) / (2 * o.eps);
      double analytic = x->grad ? eq_get_flat(x->grad, j) : 0.0;
      if (fabs(analytic - numeric) > o.atol + o.rtol * fabs(numeric)) {
        st = eq_error(EQ_ERR_VALUE, "gradcheck: input %d element %lld: analytic %.10g vs numeric %.10g", k,
                      (long long)j, analytic, numeric);
        break;
      }
    }
  }
done:
  /* Leave the inputs as they came: no gradients. */
  for (int k = 0; k < n; k++) {
    eq_tensor_free(inputs[k]->grad);
    inputs[k]->grad = NULL;
  }
  eq_set_grad_enabled(prev_grad);
  eq_tape_clear();
  eq_arena_set_current(prev_arena);
  eq_arena_free(arena);
  eq_tensor_free(w);
  return st;
}
