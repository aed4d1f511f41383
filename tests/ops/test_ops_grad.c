/* Float64 finite-difference checks (eq_gradcheck) of every differentiable
 * general op, with broadcast and non-contiguous (transposed, sliced) inputs. */
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

static eq_tensor *param(int ndim, const int64_t *shape, uint64_t seed) {
  eq_tensor *t = eq_rand_normal(EQ_F64, ndim, shape, 0, 1, seed, 0);
  eq_set_requires_grad(t, true);
  return t;
}

/* Positive values (log, sqrt, pow base, ...). */
static eq_tensor *positive(int ndim, const int64_t *shape, uint64_t seed) {
  eq_tensor *t = eq_rand_uniform(EQ_F64, ndim, shape, 0.5, 2.0, seed, 0);
  eq_set_requires_grad(t, true);
  return t;
}

#define GRADCHECK(fn, ctx, n, ...)                                                              \
  do {                                                                                          \
    eq_tensor *in_[] = {__VA_ARGS__};                                                           \
    eq_status st_ = eq_gradcheck(fn, ctx, n, in_, NULL);                                        \
    CHECK_MSG(st_ == EQ_OK, "%s: %s", #fn, eq_error_message());                                 \
  } while (0)

/* ---- elementwise */

static eq_tensor *unary_fn(eq_tensor *const *in, void *ctx) { return eq_unary(*(eq_unary_op *)ctx, in[0]); }
/* The op on a transposed (non-contiguous) view. */
static eq_tensor *unary_t_fn(eq_tensor *const *in, void *ctx) {
  return eq_unary(*(eq_unary_op *)ctx, eq_transpose(in[0], 0, 1));
}
static eq_tensor *binary_fn(eq_tensor *const *in, void *ctx) {
  return eq_binary(*(eq_binary_op *)ctx, in[0], in[1]);
}
/* Non-contiguous operands: a sliced with step 2, b transposed. */
static eq_tensor *binary_strided_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *a = eq_slice(in[0], 1, 0, 8, 2);  /* [3, 4] */
  eq_tensor *b = eq_transpose(in[1], 0, 1);   /* [3, 4] */
  return eq_binary(*(eq_binary_op *)ctx, a, b);
}
static eq_tensor *scalar_fn(eq_tensor *const *in, void *ctx) {
  eq_binary_op op = *(eq_binary_op *)ctx;
  return eq_binary_scalar(op, in[0], op == EQ_POW ? 2.5 : 1.7);
}
static eq_tensor *rscalar_fn(eq_tensor *const *in, void *ctx) {
  return eq_scalar_binary(*(eq_binary_op *)ctx, 1.3, in[0]);
}
static eq_tensor *clamp_fn(eq_tensor *const *in, void *ctx) { return eq_clamp(in[0], -0.5, 0.7); }
static eq_tensor *where_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *cond = eq_binary_scalar(EQ_GREATER, in[2], 0.0);
  return eq_where(cond, in[0], in[1]);
}
static eq_tensor *mixed_fn(eq_tensor *const *in, void *ctx) {
  /* a float32 tensor combined with a float64 one: result float64, the
   * float32 side's gradient converted back. */
  return eq_mul(eq_to_dtype(in[0], EQ_F32), eq_exp(in[1]));
}

static void test_elementwise(void) {
  eq_tensor *x = param(EQ_DIMS(3, 4), 1), *xt = param(EQ_DIMS(4, 3), 2), *p = positive(EQ_DIMS(3, 4), 3);
  eq_tensor *pt = positive(EQ_DIMS(4, 3), 4);
  for (int op = EQ_NEG; op <= EQ_RECIPROCAL; op++) {
    eq_unary_op u = (eq_unary_op)op;
    bool needs_positive = u == EQ_LOG || u == EQ_SQRT || u == EQ_RSQRT || u == EQ_RECIPROCAL || u == EQ_LOG1P;
    eq_tensor *in = needs_positive ? p : x, *in_t = needs_positive ? pt : xt;
    eq_status st = eq_gradcheck(unary_fn, &u, 1, &in, NULL);
    CHECK_MSG(st == EQ_OK, "unary %s: %s", eq_unary_op_name(u), eq_error_message());
    st = eq_gradcheck(unary_t_fn, &u, 1, &in_t, NULL);
    CHECK_MSG(st == EQ_OK, "unary %s (transposed): %s", eq_unary_op_name(u), eq_error_message());
  }
  /* Broadcasting [3, 1, 4] with [2, 4] and [4]. */
  eq_tensor *a = positive(EQ_DIMS(3, 1, 4), 5), *b = positive(EQ_DIMS(2, 4), 6), *c = param(EQ_DIMS(4), 7);
  eq_tensor *wide = param(EQ_DIMS(3, 8), 8), *tall = param(EQ_DIMS(4, 3), 9);
  for (int op = EQ_ADD; op <= EQ_ATAN2; op++) {
    eq_binary_op bop = (eq_binary_op)op;
    eq_tensor *in[2] = {a, b};
    eq_status st = eq_gradcheck(binary_fn, &bop, 2, in, NULL);
    CHECK_MSG(st == EQ_OK, "binary %s (broadcast): %s", eq_binary_op_name(bop), eq_error_message());
    eq_tensor *in2[2] = {b, c};
    if (bop != EQ_POW) {
      st = eq_gradcheck(binary_fn, &bop, 2, in2, NULL);
      CHECK_MSG(st == EQ_OK, "binary %s (broadcast 2): %s", eq_binary_op_name(bop), eq_error_message());
      eq_tensor *in3[2] = {wide, tall};
      st = eq_gradcheck(binary_strided_fn, &bop, 2, in3, NULL);
      CHECK_MSG(st == EQ_OK, "binary %s (strided): %s", eq_binary_op_name(bop), eq_error_message());
    }
    st = eq_gradcheck(scalar_fn, &bop, 1, &p, NULL);
    CHECK_MSG(st == EQ_OK, "binary_scalar %s: %s", eq_binary_op_name(bop), eq_error_message());
    st = eq_gradcheck(rscalar_fn, &bop, 1, &p, NULL);
    CHECK_MSG(st == EQ_OK, "scalar_binary %s: %s", eq_binary_op_name(bop), eq_error_message());
  }
  GRADCHECK(clamp_fn, NULL, 1, x);
  eq_tensor *selector = eq_rand_normal(EQ_F64, EQ_DIMS(3, 1), 0, 1, 11, 0);
  GRADCHECK(where_fn, NULL, 3, x, c, selector);
  eq_tensor *x32 = eq_rand_normal(EQ_F64, EQ_DIMS(4), 0, 1, 12, 0);
  eq_set_requires_grad(x32, true);
  eq_gradcheck_opts loose = {1e-3, 1e-4, 1e-3, 1, 0}; /* float32 rounding in the path */
  eq_tensor *mixed_in[2] = {x32, c};
  CHECK_MSG(eq_gradcheck(mixed_fn, NULL, 2, mixed_in, &loose) == EQ_OK, "mixed: %s", eq_error_message());
  eq_tensor *all[] = {x, xt, p, pt, a, b, c, wide, tall, selector, x32};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) eq_tensor_free(all[i]);
}

/* ---- reductions */

typedef struct {
  int naxes;
  int axes[3];
  bool keepdim;
  int kind; /* 0 sum, 1 mean, 2 var, 3 std, 4 max, 5 min, 6 prod */
} red_case;

static eq_tensor *reduce_fn(eq_tensor *const *in, void *vctx) {
  const red_case *c = vctx;
  eq_tensor *x = in[0];
  switch (c->kind) {
  case 0: return eq_sum(x, c->naxes, c->axes, c->keepdim);
  case 1: return eq_mean(x, c->naxes, c->axes, c->keepdim);
  case 2: return eq_var(x, c->naxes, c->axes, 1, c->keepdim);
  case 3: return eq_std(x, c->naxes, c->axes, 0, c->keepdim);
  case 4: return eq_max(x, c->naxes, c->axes, c->keepdim);
  case 5: return eq_min(x, c->naxes, c->axes, c->keepdim);
  default: return eq_prod(x, c->naxes, c->axes, c->keepdim);
  }
}
/* The same on a permuted (non-contiguous) input. */
static eq_tensor *reduce_perm_fn(eq_tensor *const *in, void *vctx) {
  eq_tensor *x = eq_permute(in[0], (int[]){2, 0, 1});
  eq_tensor *p[1] = {x};
  return reduce_fn(p, vctx);
}
static eq_tensor *cumsum_fn(eq_tensor *const *in, void *ctx) { return eq_cumsum(in[0], *(int *)ctx); }
static eq_tensor *cumprod_fn(eq_tensor *const *in, void *ctx) { return eq_cumprod(in[0], *(int *)ctx); }

static void test_reductions(void) {
  eq_tensor *x = param(EQ_DIMS(3, 4, 5), 21);
  eq_tensor *p = positive(EQ_DIMS(3, 4, 5), 22);
  red_case cases[] = {
      {0, {0}, false, 0},      {1, {0}, false, 0}, {1, {-1}, true, 0}, {2, {0, 2}, false, 0}, {1, {1}, true, 0},
      {0, {0}, false, 1},      {1, {2}, false, 1}, {2, {0, 1}, true, 1},
      {0, {0}, false, 2},      {1, {1}, false, 2}, {2, {0, 2}, true, 2},
      {1, {0}, false, 3},      {1, {2}, true, 3},
      {0, {0}, false, 4},      {1, {1}, false, 4}, {2, {0, 2}, true, 4},
      {1, {0}, false, 5},      {1, {2}, true, 5},
      {0, {0}, false, 6},      {1, {1}, false, 6},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    eq_tensor *in = cases[i].kind == 6 ? p : x;
    eq_status st = eq_gradcheck(reduce_fn, &cases[i], 1, &in, NULL);
    CHECK_MSG(st == EQ_OK, "reduction case %zu (kind %d): %s", i, cases[i].kind, eq_error_message());
    st = eq_gradcheck(reduce_perm_fn, &cases[i], 1, &in, NULL);
    CHECK_MSG(st == EQ_OK, "reduction case %zu (kind %d, permuted): %s", i, cases[i].kind, eq_error_message());
  }
  /* prod with zeros: exact gradients from prefix/suffix products. */
  eq_tensor *z = eq_from_data(EQ_F64, EQ_DIMS(2, 3), (double[]){0, 2, 3, 0, 0, 4});
  eq_set_requires_grad(z, true);
  red_case pc = {1, {1}, false, 6};
  GRADCHECK(reduce_fn, &pc, 1, z);
  for (int axis = 0; axis < 3; axis++) {
    GRADCHECK(cumsum_fn, &axis, 1, x);
    GRADCHECK(cumprod_fn, &axis, 1, p);
  }
  eq_tensor_free(x);
  eq_tensor_free(p);
  eq_tensor_free(z);
}

/* ---- matmul */

static eq_tensor *matmul_fn(eq_tensor *const *in, void *ctx) { return eq_matmul(in[0], in[1]); }
static eq_tensor *matmul_tt_fn(eq_tensor *const *in, void *ctx) {
  /* Both operands transposed views: BLAS transpose flags, no copies. */
  return eq_matmul(eq_transpose(in[0], -1, -2), eq_transpose(in[1], -1, -2));
}
static eq_tensor *matmul_sliced_fn(eq_tensor *const *in, void *ctx) {
  /* A column slice with step 2: neither layout fits BLAS, so a copy. */
  return eq_matmul(eq_slice(in[0], 1, 0, 6, 2), in[1]);
}

static void test_matmul(void) {
  eq_tensor *a = param(EQ_DIMS(3, 4), 31), *b = param(EQ_DIMS(4, 5), 32), *v = param(EQ_DIMS(4), 33);
  eq_tensor *w = param(EQ_DIMS(3), 34);
  eq_tensor *ba = param(EQ_DIMS(2, 3, 4), 35), *bb = param(EQ_DIMS(2, 4, 5), 36);
  eq_tensor *b1 = param(EQ_DIMS(2, 1, 3, 4), 37), *b2 = param(EQ_DIMS(3, 4, 2), 38);
  eq_tensor *at = param(EQ_DIMS(4, 3), 39), *bt = param(EQ_DIMS(5, 4), 40), *wide = param(EQ_DIMS(3, 6), 41);
  eq_tensor *k3 = param(EQ_DIMS(3, 5), 42);
  GRADCHECK(matmul_fn, NULL, 2, a, b);       /* 2-d @ 2-d */
  GRADCHECK(matmul_fn, NULL, 2, a, v);       /* 2-d @ 1-d */
  GRADCHECK(matmul_fn, NULL, 2, w, a);       /* 1-d @ 2-d */
  GRADCHECK(matmul_fn, NULL, 2, v, v);       /* 1-d @ 1-d */
  GRADCHECK(matmul_fn, NULL, 2, ba, bb);     /* batched */
  GRADCHECK(matmul_fn, NULL, 2, ba, b);      /* batched @ shared (folded) */
  GRADCHECK(matmul_fn, NULL, 2, a, bb);      /* shared @ batched */
  GRADCHECK(matmul_fn, NULL, 2, b1, b2);     /* broadcast batch [2,1] x [3] */
  GRADCHECK(matmul_fn, NULL, 2, ba, v);      /* batched @ 1-d */
  GRADCHECK(matmul_tt_fn, NULL, 2, at, bt);  /* transposed views */
  GRADCHECK(matmul_sliced_fn, NULL, 2, wide, k3);
  eq_tensor *all[] = {a, b, v, w, ba, bb, b1, b2, at, bt, wide, k3};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) eq_tensor_free(all[i]);
}

/* ---- shape ops, softmax, normalisation, dropout, losses */

static eq_tensor *concat_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *parts[3] = {in[0], eq_transpose(in[1], 0, 1), in[2]};
  return eq_concat(3, parts, 1);
}
static eq_tensor *concat_many_fn(eq_tensor *const *in, void *ctx) {
  /* More inputs than a tape node holds: grouped concatenation. */
  eq_tensor *parts[9];
  for (int k = 0; k < 9; k++) parts[k] = eq_slice(in[0], 0, k % 3, k % 3 + 1, 1);
  return eq_concat(9, parts, 0);
}
static eq_tensor *stack_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *parts[2] = {in[0], eq_mul(in[0], in[0])};
  return eq_stack(2, parts, 1);
}
static eq_tensor *split_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *pieces[3];
  if (eq_split(in[0], 1, 3, (int64_t[]){1, 3, 2}, pieces)) return NULL;
  eq_tensor *swapped[3] = {pieces[2], eq_exp(pieces[0]), pieces[1]};
  return eq_concat(3, swapped, 1);
}
static eq_tensor *index_select_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *idx = eq_from_data(EQ_I64, EQ_DIMS(4), (int64_t[]){2, 0, 2, -1});
  return eq_index_select(in[0], *(int *)ctx, idx);
}
static eq_tensor *gather_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *idx = eq_from_data(EQ_I64, EQ_DIMS(3, 3), (int64_t[]){0, 0, 3, 1, 2, 1, 3, 3, 3});
  return eq_gather(eq_transpose(in[0], 0, 1), 1, idx); /* [3, 4] view of a [4, 3] input */
}
static eq_tensor *softmax_fn(eq_tensor *const *in, void *ctx) { return eq_softmax(in[0], *(int *)ctx); }
static eq_tensor *log_softmax_fn(eq_tensor *const *in, void *ctx) { return eq_log_softmax(in[0], *(int *)ctx); }
static eq_tensor *l2n_fn(eq_tensor *const *in, void *ctx) { return eq_l2_normalize(in[0], *(int *)ctx, 1e-12); }
static eq_tensor *dropout_fn(eq_tensor *const *in, void *ctx) { return eq_dropout(in[0], 0.3, true, 7, 1); }
static eq_tensor *ce_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *t = eq_from_data(EQ_I64, EQ_DIMS(4), (int64_t[]){1, 9, 0, 4});
  return eq_cross_entropy(in[0], t, 0.1, 9);
}
static eq_tensor *ce3_fn(eq_tensor *const *in, void *ctx) {
  eq_tensor *t = eq_from_data(EQ_I64, EQ_DIMS(2, 3), (int64_t[]){0, 2, 1, 1, 1, 0});
  return eq_cross_entropy(in[0], t, 0.0, -1);
}
static eq_tensor *mse_fn(eq_tensor *const *in, void *ctx) { return eq_mse_loss(in[0], in[1]); }
static eq_tensor *smooth_l1_fn(eq_tensor *const *in, void *ctx) { return eq_smooth_l1_loss(in[0], in[1], 0.5); }

static void test_nn_ops(void) {
  eq_tensor *a = param(EQ_DIMS(3, 2), 51), *b = param(EQ_DIMS(4, 3), 52), *c = param(EQ_DIMS(3, 1), 53);
  eq_tensor *x = param(EQ_DIMS(3, 6), 54), *y = param(EQ_DIMS(3, 6), 55), *sq = param(EQ_DIMS(4, 3), 56);
  eq_tensor *logits = param(EQ_DIMS(4, 5), 57), *logits3 = param(EQ_DIMS(2, 3, 3), 58);
  GRADCHECK(concat_fn, NULL, 3, a, b, c);
  GRADCHECK(concat_many_fn, NULL, 1, a);
  GRADCHECK(stack_fn, NULL, 1, a);
  GRADCHECK(split_fn, NULL, 1, x);
  for (int axis = 0; axis < 2; axis++) {
    GRADCHECK(index_select_fn, &axis, 1, sq);
    GRADCHECK(softmax_fn, &axis, 1, x);
    GRADCHECK(log_softmax_fn, &axis, 1, x);
    GRADCHECK(l2n_fn, &axis, 1, x);
  }
  GRADCHECK(gather_fn, NULL, 1, sq);
  GRADCHECK(dropout_fn, NULL, 1, x);
  GRADCHECK(ce_fn, NULL, 1, logits);
  GRADCHECK(ce3_fn, NULL, 1, logits3);
  GRADCHECK(mse_fn, NULL, 2, x, y);
  GRADCHECK(smooth_l1_fn, NULL, 2, x, y);
  eq_tensor *all[] = {a, b, c, x, y, sq, logits, logits3};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) eq_tensor_free(all[i]);
}

int main(void) {
  test_nn_ops();
  test_elementwise();
  test_reductions();
  test_matmul();
  return EQ_TEST_SUMMARY();
}
