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
  /* The vectorised float32 paths over a wide range, against float64. */
  eq_tensor *wide = ref_load("wide_x");
  const eq_unary_op wide_ops[] = {EQ_EXP, EQ_SIGMOID, EQ_TANH, EQ_SILU, EQ_GELU_TANH};
  for (size_t k = 0; wide && k < sizeof wide_ops / sizeof *wide_ops; k++) {
    char ref[64];
    snprintf(ref, sizeof ref, "wide_%s", eq_unary_op_name(wide_ops[k]));
    /* gelu_tanh: its exponent 2u is rounded to float32 (|2u| up to ~90). */
    ref_check(ref, eq_unary(wide_ops[k], wide), ref, wide_ops[k] == EQ_GELU_TANH ? 1.5e-5 : 3e-7, 1e-37);
  }
  eq_tensor_free(wide);
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

static void test_softmax_losses(void) {
  eq_tensor *x = ref_load("sm_x");
  if (!x) return;
  eq_set_requires_grad(x, true);
  eq_tensor *out = eq_softmax(x, 1);
  ref_check("softmax", out, "sm_softmax_1", 2e-6, 1e-7);
  ref_check_grads("softmax", out, 1, &x, "sm_softmax_1", 1e-5, 1e-6);
  next_case(1, &x);
  out = eq_log_softmax(x, 0);
  ref_check("log_softmax", out, "sm_log_softmax_0", 2e-6, 1e-6);
  ref_check_grads("log_softmax", out, 1, &x, "sm_log_softmax_0", 1e-5, 1e-6);
  next_case(1, &x);
  out = eq_l2_normalize(x, 1, 1e-12);
  ref_check("l2_normalize", out, "sm_l2n_1", 2e-6, 1e-7);
  ref_check_grads("l2_normalize", out, 1, &x, "sm_l2n_1", 1e-5, 1e-6);
  next_case(1, &x);
  eq_tensor_free(x);

  eq_tensor *logits = ref_load("ce_logits"), *target = ref_load("ce_target");
  if (logits && target) {
    eq_set_requires_grad(logits, true);
    out = eq_cross_entropy(logits, target, 0.0, 255);
    ref_check("cross_entropy", out, "ce_plain", 2e-6, 1e-6);
    CHECK(eq_backward(out) == EQ_OK);
    ref_check("cross_entropy grad", logits->grad, "ce_plain_g0", 1e-5, 1e-7);
    next_case(1, &logits);
    out = eq_cross_entropy(logits, target, 0.1, 255);
    ref_check("cross_entropy smoothed", out, "ce_smooth", 2e-6, 1e-6);
    CHECK(eq_backward(out) == EQ_OK);
    ref_check("cross_entropy smoothed grad", logits->grad, "ce_smooth_g0", 1e-5, 1e-7);
    next_case(1, &logits);
    /* A target outside [0, C) that is not ignore_index is an error. */
    eq_error_clear();
    CHECK(eq_cross_entropy(logits, target, 0.0, -1) == NULL && eq_error_code() == EQ_ERR_VALUE &&
          strstr(eq_error_message(), "255"));
  }
  eq_tensor_free(logits);
  eq_tensor_free(target);
  eq_tensor *l3 = ref_load("ce3_logits"), *t3 = ref_load("ce3_target");
  if (l3 && t3) {
    eq_set_requires_grad(l3, true);
    out = eq_cross_entropy(l3, t3, 0.2, -1);
    ref_check("cross_entropy [N, C, d]", out, "ce3", 2e-6, 1e-6);
    CHECK(eq_backward(out) == EQ_OK);
    ref_check("cross_entropy [N, C, d] grad", l3->grad, "ce3_g0", 1e-5, 1e-7);
    next_case(1, &l3);
  }
  eq_tensor_free(l3);
  eq_tensor_free(t3);
  eq_tensor *reg[2] = {ref_load("reg_input"), ref_load("reg_target")};
  if (reg[0] && reg[1]) {
    eq_set_requires_grad(reg[0], true);
    eq_set_requires_grad(reg[1], true);
    out = eq_mse_loss(reg[0], reg[1]);
    ref_check("mse_loss", out, "reg_mse", 2e-6, 1e-7);
    CHECK(eq_backward(out) == EQ_OK);
    ref_check("mse_loss grad input", reg[0]->grad, "reg_mse_g0", 1e-5, 1e-7);
    ref_check("mse_loss grad target", reg[1]->grad, "reg_mse_g1", 1e-5, 1e-7);
    next_case(2, reg);
    out = eq_smooth_l1_loss(reg[0], reg[1], 0.5);
    ref_check("smooth_l1_loss", out, "reg_smooth_l1", 2e-6, 1e-7);
    CHECK(eq_backward(out) == EQ_OK);
    ref_check("smooth_l1_loss grad input", reg[0]->grad, "reg_smooth_l1_g0", 1e-5, 1e-7);
    ref_check("smooth_l1_loss grad target", reg[1]->grad, "reg_smooth_l1_g1", 1e-5, 1e-7);
    next_case(2, reg);
  }
  eq_tensor_free(reg[0]);
  eq_tensor_free(reg[1]);
}

static void test_indexing(void) {
  eq_tensor *x = ref_load("gather_x"), *gi = ref_load("gather_index"), *si = ref_load("isel_index");
  if (x && gi && si) {
    eq_set_requires_grad(x, true);
    eq_tensor *out = eq_gather(x, 1, gi);
    ref_check("gather", out, "gather", 0, 0);
    ref_check_grads("gather", out, 1, &x, "gather", 1e-6, 1e-7);
    next_case(1, &x);
    out = eq_index_select(x, 1, si);
    ref_check("index_select", out, "isel", 0, 0);
    ref_check_grads("index_select", out, 1, &x, "isel", 1e-6, 1e-7);
    next_case(1, &x);
    eq_error_clear();
    eq_tensor *bad = eq_from_data(EQ_I64, EQ_DIMS(1), (int64_t[]){4});
    CHECK(eq_index_select(x, 1, bad) == NULL && eq_error_code() == EQ_ERR_VALUE);
    next_case(1, &x);
  }
  eq_tensor_free(x);
  eq_tensor_free(gi);
  eq_tensor_free(si);
  /* concat / stack / split: exact copies */
  eq_tensor *a = eq_arange(EQ_F32, 6), *b = eq_arange(EQ_I32, 4);
  eq_tensor *a2 = eq_reshape(a, EQ_DIMS(2, 3)), *b2 = eq_reshape(b, EQ_DIMS(2, 2));
  eq_tensor *cat = eq_concat(2, (eq_tensor *[]){a2, b2}, 1);
  CHECK(cat && cat->dtype == EQ_F32 && cat->shape[1] == 5 && eq_get_flat(cat, 3) == 0 && eq_get_flat(cat, 9) == 3 &&
        eq_get_flat(cat, 5) == 3);
  eq_tensor *st = eq_stack(2, (eq_tensor *[]){a2, a2}, 2);
  CHECK(st && st->ndim == 3 && st->shape[2] == 2 && eq_get_flat(st, 5) == 2);
  eq_tensor *pieces[2];
  CHECK(eq_split(cat, 1, 2, (int64_t[]){4, 1}, pieces) == EQ_OK && pieces[1]->shape[1] == 1 &&
        eq_get_flat(pieces[1], 1) == 3 && pieces[0]->storage == cat->storage);
  eq_error_clear();
  CHECK(eq_split(cat, 1, 2, (int64_t[]){4, 2}, pieces) == EQ_ERR_SHAPE && strstr(eq_error_message(), "[2, 5]"));
  CHECK(eq_concat(2, (eq_tensor *[]){a2, eq_arange(EQ_F32, 3)}, 0) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  next_case(0, NULL);
  eq_tensor_free(a);
  eq_tensor_free(b);
}

static void test_dropout(void) {
  int64_t n = 100000;
  eq_tensor *x = eq_ones(EQ_F32, 1, &n);
  eq_tensor *d = eq_dropout(x, 0.25, true, 42, 3);
  int64_t kept = 0;
  bool scaled = true;
  for (int64_t i = 0; i < n; i++) {
    double v = eq_get_flat(d, i);
    if (v != 0) {
      kept++;
      scaled &= fabs(v - 1 / 0.75) < 1e-6;
    }
  }
  CHECK(scaled);
  CHECK_CLOSE((double)kept / (double)n, 0.75, 0.01, 0);
  /* The mask is a pure function of (seed, stream, index). */
  eq_tensor *head = eq_dropout(eq_slice(x, 0, 0, 1000, 1), 0.25, true, 42, 3);
  bool same = true;
  for (int64_t i = 0; i < 1000; i++) same &= eq_get_flat(head, i) == eq_get_flat(d, i);
  CHECK(same);
  eq_tensor *other = eq_dropout(x, 0.25, true, 42, 4);
  int64_t differ = 0;
  for (int64_t i = 0; i < n; i++) differ += (eq_get_flat(other, i) != 0) != (eq_get_flat(d, i) != 0);
  CHECK(differ > n / 5);
  eq_tensor *eval = eq_dropout(x, 0.25, false, 42, 3);
  CHECK(eval && eq_sum_all_double(eval) == (double)n);
  CHECK(eq_dropout(x, 1.5, true, 1, 1) == NULL && eq_error_code() == EQ_ERR_VALUE);
  next_case(0, NULL);
}

int main(void) {
  arena = eq_arena_new(1 << 20);
  eq_arena_set_current(arena);
  test_unary();
  test_binary();
  test_reductions();
  test_matmul();
  test_softmax_losses();
  test_indexing();
  test_dropout();
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  return EQ_TEST_SUMMARY();
}
