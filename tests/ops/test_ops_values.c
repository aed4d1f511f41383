/* Float32 values and gradients of the elementwise ops, reductions and
 * matmul against PyTorch 1.13 references (tests/data/ops). */
#include "ops_ref.h"

static eq_arena *arena;

static void next_case(int n, eq_tensor *const *inputs) {
  clear_grads(n, inputs);
  eq_arena_reset(arena);
}

static void test_unary(void) {
  eq_tensor *src[3] = {ref_load("unary_x"), ref_load("unary_pos"), ref_load("unary_unit")};
  if (!src[0] || !src[1] || !src[2]) return;
  for (int k = 0; k < 3; k++) eq_set_requires_grad(src[k], true);
  for (int op = 0; op < EQ_ISNAN; op++) {
    const char *name = eq_unary_op_name((eq_unary_op)op);
    eq_unary_op u = (eq_unary_op)op;
    int which = 0;
    if (u == EQ_LOG || u == EQ_SQRT || u == EQ_RSQRT || u == EQ_LOG1P || u == EQ_RECIPROCAL || u == EQ_LOG2 ||
        u == EQ_LOG10)
      which = 1;
    if (u == EQ_TAN || u == EQ_ASIN || u == EQ_ACOS) which = 2;
    char ref[64];
    snprintf(ref, sizeof ref, "unary_%s", name);
    eq_tensor *out = eq_unary(u, src[which]);
    ref_check(name, out, ref, 2e-6, 1e-6);
    if (u <= EQ_RECIPROCAL) ref_check_grads(name, out, 1, &src[which], ref, 1e-5, 1e-6);
    next_case(3, src);
  }
  /* GELU's tails keep their relative accuracy. */
  eq_tensor *tails = ref_load("gelu_tails_x");
  if (tails) ref_check("gelu tails", eq_gelu(tails, false), "gelu_tails", 1e-5, 1e-30);
  /* Predicates: bool results. */
  eq_tensor *special = eq_from_data(EQ_F32, EQ_DIMS(4), (float[]){1.0f, NAN, INFINITY, -INFINITY});
  eq_tensor *nan = eq_unary(EQ_ISNAN, special), *inf = eq_unary(EQ_ISINF, special);
  eq_tensor *fin = eq_unary(EQ_ISFINITE, special), *lnot = eq_unary(EQ_LOGICAL_NOT, special);
  CHECK(nan->dtype == EQ_BOOL && eq_get_flat(nan, 1) == 1 && eq_get_flat(nan, 0) == 0 && eq_get_flat(nan, 2) == 0);
  CHECK(eq_get_flat(inf, 2) == 1 && eq_get_flat(inf, 3) == 1 && eq_get_flat(inf, 1) == 0);
  CHECK(eq_get_flat(fin, 0) == 1 && eq_get_flat(fin, 1) == 0 && eq_get_flat(fin, 3) == 0);
  CHECK(eq_get_flat(lnot, 0) == 0 && eq_get_flat(lnot, 1) == 0);
  next_case(3, src);
  eq_tensor_free(special);
  eq_tensor_free(tails);
  for (int k = 0; k < 3; k++) eq_tensor_free(src[k]);
}

static void test_binary(void) {
  eq_tensor *in[2] = {ref_load("binary_a"), ref_load("binary_b")};
  if (!in[0] || !in[1]) return;
  eq_set_requires_grad(in[0], true);
  eq_set_requires_grad(in[1], true);
  for (int op = EQ_ADD; op <= EQ_ATAN2; op++) {
    const char *name = eq_binary_op_name((eq_binary_op)op);
    char ref[64];
    snprintf(ref, sizeof ref, "binary_%s", name);
    eq_tensor *out = eq_binary((eq_binary_op)op, in[0], in[1]);
    ref_check(name, out, ref, 2e-6, 1e-6);
    ref_check_grads(name, out, 2, in, ref, 1e-5, 1e-6);
    next_case(2, in);
  }
  /* Python-style division and modulo, integer and float. */
  eq_tensor *ia = ref_load("int_a"), *ib = ref_load("int_b");
  if (ia && ib) {
    ref_check("int floor_divide", eq_binary(EQ_FLOOR_DIV, ia, ib), "int_floor_divide", 0, 0);
    ref_check("int remainder", eq_binary(EQ_REMAINDER, ia, ib), "int_remainder", 0, 0);
    ref_check("int fmod", eq_binary(EQ_FMOD, ia, ib), "int_fmod", 0, 0);
    eq_tensor *fa = eq_mul_scalar(eq_to_dtype(ia, EQ_F32), 1.5), *fb = eq_to_dtype(ib, EQ_F32);
    ref_check("float floor_divide", eq_binary(EQ_FLOOR_DIV, fa, fb), "float_floor_divide", 0, 0);
    ref_check("float remainder", eq_binary(EQ_REMAINDER, fa, fb), "float_remainder", 0, 1e-6);
    ref_check("float fmod", eq_binary(EQ_FMOD, fa, fb), "float_fmod", 0, 0);
    CHECK(eq_binary(EQ_FLOOR_DIV, ia, ib)->dtype == EQ_I32);
    CHECK(eq_div(ia, ib)->dtype == EQ_F32); /* true division */
  }
  next_case(2, in);
  eq_tensor_free(ia);
  eq_tensor_free(ib);
  eq_tensor_free(in[0]);
  eq_tensor_free(in[1]);
}

static void test_reductions(void) {
  eq_tensor *x = ref_load("red_x");
  if (!x) return;
  eq_set_requires_grad(x, true);
  eq_tensor *out;
  out = eq_sum(x, 2, (int[]){0, 2}, false);
  ref_check("sum", out, "red_sum_02", 1e-6, 1e-6);
  ref_check_grads("sum", out, 1, &x, "red_sum_02", 1e-6, 1e-6);
  next_case(1, &x);
  out = eq_mean(x, 1, (int[]){1}, true);
  ref_check("mean", out, "red_mean_1k", 1e-6, 1e-6);
  ref_check_grads("mean", out, 1, &x, "red_mean_1k", 1e-6, 1e-6);
  next_case(1, &x);
  out = eq_var(x, 1, (int[]){0}, 1, false);
  ref_check("var", out, "red_var_0", 1e-5, 1e-6);
  ref_check_grads("var", out, 1, &x, "red_var_0", 1e-5, 1e-6);
  next_case(1, &x);
  out = eq_std(x, 0, NULL, 0, false);
  ref_check("std", out, "red_std_all", 1e-5, 1e-6);
  ref_check_grads("std", out, 1, &x, "red_std_all", 1e-5, 1e-6);
  next_case(1, &x);
  out = eq_prod(x, 1, (int[]){1}, false);
  ref_check("prod", out, "red_prod_1", 1e-5, 1e-6);
  ref_check_grads("prod", out, 1, &x, "red_prod_1", 1e-5, 1e-6);
  next_case(1, &x);
  out = eq_max(x, 1, (int[]){2}, false);
  ref_check("max", out, "red_max_2", 0, 0);
  ref_check_grads("max", out, 1, &x, "red_max_2", 0, 0);
  next_case(1, &x);
  out = eq_min(x, 1, (int[]){0}, false);
  ref_check("min", out, "red_min_0", 0, 0);
  ref_check_grads("min", out, 1, &x, "red_min_0", 0, 0);
  next_case(1, &x);
  out = eq_max(x, 0, NULL, false);
  ref_check("max all", out, "red_amax_all", 0, 0);
  ref_check_grads("max all", out, 1, &x, "red_amax_all", 0, 0);
  next_case(1, &x);
  out = eq_cumsum(x, 1);
  ref_check("cumsum", out, "red_cumsum_1", 1e-6, 1e-6);
  ref_check_grads("cumsum", out, 1, &x, "red_cumsum_1", 1e-6, 1e-6);
  next_case(1, &x);
  out = eq_cumprod(x, 2);
  ref_check("cumprod", out, "red_cumprod_2", 1e-5, 1e-6);
  ref_check_grads("cumprod", out, 1, &x, "red_cumprod_2", 1e-5, 1e-6);
  next_case(1, &x);
  out = eq_argmax(x, 1, false);
  CHECK(out && out->dtype == EQ_I64);
  ref_check("argmax", out, "red_argmax_1", 0, 0);
  ref_check("argmin", eq_argmin(x, 2, false), "red_argmin_2", 0, 0);
  next_case(1, &x);
  eq_tensor_free(x);

  /* A long float32 sum stays accurate (blocked float lanes, double blocks):
   * 2^22 + 1 values of 0.1f against the exact double sum. */
  int64_t n = (1 << 22) + 1;
  eq_tensor *big = eq_full(EQ_F32, 1, &n, 0.1);
  double exact = (double)n * (double)0.1f;
  eq_tensor *s = eq_sum(big, 0, NULL, false);
  CHECK_CLOSE(eq_get_flat(s, 0), exact, 1e-6, 0);
  CHECK_CLOSE(eq_sum_all_double(big), exact, 1e-12, 0);
  /* Column sums over the leading axis (no transpose copy) and the mean. */
  eq_tensor *m = eq_mean(eq_slice(eq_reshape(eq_slice(big, 0, 0, n - 1, 1), EQ_DIMS(-1, 64)), 0, 0, -1, 1), 1,
                         (int[]){0}, false);
  CHECK(m && m->shape[0] == 64);
  if (m) CHECK_CLOSE(eq_get_flat(m, 17), 0.1f, 1e-6, 0);
  /* Variance of values with a large mean: the two-pass scheme keeps it. */
  eq_tensor *shifted = eq_add_scalar(eq_rand_normal(EQ_F32, EQ_DIMS(100000), 0, 1, 3, 0), 1e4);
  eq_tensor *v = eq_var(shifted, 0, NULL, 0, false);
  CHECK_CLOSE(eq_get_flat(v, 0), 1.0, 0.02, 0);
  next_case(0, NULL); /* big and the rest lived in the arena */
}

static void test_matmul(void) {
  const char *cases[] = {"mm", "bmm", "bshared", "bcast", "mv", "vm", "dot"};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char na[64], nb[64], nout[64];
    snprintf(na, sizeof na, "mm_%s_a", cases[c]);
    snprintf(nb, sizeof nb, "mm_%s_b", cases[c]);
    snprintf(nout, sizeof nout, "mm_%s", cases[c]);
    eq_tensor *in[2] = {ref_load(na), ref_load(nb)};
    if (!in[0] || !in[1]) continue;
    eq_set_requires_grad(in[0], true);
    eq_set_requires_grad(in[1], true);
    eq_tensor *out = eq_matmul(in[0], in[1]);
    ref_check(nout, out, nout, 1e-5, 1e-5);
    ref_check_grads(nout, out, 2, in, nout, 1e-5, 1e-5);
    next_case(2, in);
    /* The same product from transposed storage (BLAS transpose flags). */
    if (in[0]->ndim == 2 && in[1]->ndim == 2) {
      eq_tensor *at = eq_contiguous(eq_transpose(in[0], 0, 1)), *bt = eq_contiguous(eq_transpose(in[1], 0, 1));
      eq_tensor *o2 = eq_matmul(eq_transpose(eq_detach(at), 0, 1), eq_transpose(eq_detach(bt), 0, 1));
      ref_check("matmul transposed", o2, nout, 1e-5, 1e-5);
      next_case(2, in);
    }
    eq_tensor_free(in[0]);
    eq_tensor_free(in[1]);
  }
}

int main(void) {
  arena = eq_arena_new(1 << 20);
  eq_arena_set_current(arena);
  test_unary();
  test_binary();
  test_reductions();
  test_matmul();
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  return EQ_TEST_SUMMARY();
}
