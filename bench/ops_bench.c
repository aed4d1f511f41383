/* Micro-benchmark of the general ops (tuning aid, not a test): prints
 * `case=<name> us=<median microseconds per call>` for each case, or only the
 * cases whose name contains argv[1]. */
#include <stdio.h>
#include <string.h>

#include "equivar/autograd.h"
#include "equivar/ops.h"

static eq_arena *arena;

typedef void (*body_fn)(void *ctx);

static void run_case(const char *name, const char *filter, body_fn body, void *ctx, int reps) {
  if (filter && !strstr(name, filter)) return;
  double times[64];
  if (reps > 64) reps = 64;
  body(ctx); /* warm up */
  eq_arena_reset(arena);
  eq_tape_clear();
  for (int r = 0; r < reps; r++) {
    double t0 = eq_now_seconds();
    body(ctx);
    times[r] = eq_now_seconds() - t0;
    eq_tape_clear();
    eq_arena_reset(arena);
  }
  for (int i = 0; i < reps; i++)
    for (int j = i + 1; j < reps; j++)
      if (times[j] < times[i]) {
        double t = times[i];
        times[i] = times[j];
        times[j] = t;
      }
  printf("case=%s us=%.3f\n", name, times[reps / 2] * 1e6);
  fflush(stdout);
}

typedef struct {
  eq_tensor *a, *b, *c;
  int op;
  int n;
} args;

static void tiny_add(void *v) {
  args *x = v;
  eq_arena *prev = eq_arena_set_current(NULL); /* heap, as NumPy */
  for (int i = 0; i < x->n; i++) eq_tensor_free(eq_add_scalar(x->a, 1.0));
  eq_arena_set_current(prev);
}
static void unary(void *v) {
  args *x = v;
  eq_unary((eq_unary_op)x->op, x->a);
}
static void binary(void *v) {
  args *x = v;
  eq_binary((eq_binary_op)x->op, x->a, x->b);
}
static void unary_fwd_bwd(void *v) {
  args *x = v;
  eq_tensor *y = eq_unary((eq_unary_op)x->op, x->a);
  eq_backward_with(y, x->b);
}
static void bias_fwd_bwd(void *v) {
  args *x = v;
  eq_tensor *y = eq_add(x->a, x->b);
  eq_backward_with(y, x->c);
}
static void sum_all(void *v) { eq_sum(((args *)v)->a, 0, NULL, false); }
static void mean_last(void *v) { eq_mean(((args *)v)->a, 1, (int[]){-1}, false); }
static void std_last(void *v) { eq_std(((args *)v)->a, 1, (int[]){-1}, 0, false); }
static void sum_first(void *v) { eq_sum(((args *)v)->a, 1, (int[]){0}, false); }
static void softmax_last(void *v) { eq_softmax(((args *)v)->a, -1); }
static void ce(void *v) {
  args *x = v;
  eq_backward(eq_cross_entropy(x->a, x->b, 0.0, -1));
}
static void mm(void *v) { eq_matmul(((args *)v)->a, ((args *)v)->b); }

int main(int argc, char **argv) {
  const char *f = argc > 1 ? argv[1] : NULL;
  arena = eq_arena_new(1 << 26);
  eq_arena_set_current(arena);
  eq_arena_set_current(NULL);
  eq_tensor *tiny = eq_rand_normal(EQ_F32, EQ_DIMS(4), 0, 1, 1, 0);
  int64_t n = 1 << 22;
  eq_tensor *big = eq_rand_normal(EQ_F32, 1, &n, 0, 1, 2, 0), *big2 = eq_rand_normal(EQ_F32, 1, &n, 0, 1, 3, 0);
  eq_tensor *g = eq_rand_normal(EQ_F32, 1, &n, 0, 1, 4, 0);
  eq_tensor *mat = eq_rand_normal(EQ_F32, EQ_DIMS(1 << 20, 64), 0, 1, 5, 0);
  eq_tensor *act = eq_rand_normal(EQ_F32, EQ_DIMS(256, 1024), 0, 1, 6, 0), *bias = eq_rand_normal(EQ_F32, EQ_DIMS(1024), 0, 1, 7, 0);
  eq_tensor *logits = eq_rand_normal(EQ_F32, EQ_DIMS(4096, 1000), 0, 1, 8, 0);
  eq_tensor *targets = eq_zeros(EQ_I64, EQ_DIMS(4096));
  eq_tensor *m1 = eq_rand_normal(EQ_F32, EQ_DIMS(1024, 1024), 0, 1, 9, 0);
  eq_tensor *bm = eq_rand_normal(EQ_F32, EQ_DIMS(256, 64, 64), 0, 1, 10, 0);
  eq_set_requires_grad(bias, true);
  eq_set_requires_grad(act, true);
  eq_set_requires_grad(logits, true);
  eq_arena_set_current(arena);

  args a = {tiny, NULL, NULL, 0, 1000};
  run_case("tiny_add_scalar_x1000", f, tiny_add, &a, 15);
  const int un[] = {EQ_RELU, EQ_EXP, EQ_SIGMOID, EQ_TANH, EQ_GELU, EQ_GELU_TANH, EQ_SILU, EQ_SQRT};
  for (size_t i = 0; i < sizeof un / sizeof *un; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s_4M", eq_unary_op_name((eq_unary_op)un[i]));
    args u = {big, NULL, NULL, un[i], 0};
    run_case(name, f, unary, &u, 9);
  }
  eq_set_requires_grad(big, true);
  const int ung[] = {EQ_RELU, EQ_GELU, EQ_GELU_TANH};
  for (size_t i = 0; i < sizeof ung / sizeof *ung; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s_fwd_bwd_4M", eq_unary_op_name((eq_unary_op)ung[i]));
    args u = {big, g, NULL, ung[i], 0};
    run_case(name, f, unary_fwd_bwd, &u, 9);
  }
  eq_set_requires_grad(big, false);
  args b = {big, big2, NULL, EQ_ADD, 0};
  run_case("add_4M", f, binary, &b, 9);
  b.op = EQ_MUL;
  run_case("mul_4M", f, binary, &b, 9);
  eq_tensor *gact = eq_ones(EQ_F32, EQ_DIMS(256, 1024));
  args bb = {act, bias, gact, 0, 0};
  run_case("bias_add_fwd_bwd_256x1024", f, bias_fwd_bwd, &bb, 15);
  args s = {big, NULL, NULL, 0, 0};
  run_case("sum_all_4M", f, sum_all, &s, 9);
  args m = {mat, NULL, NULL, 0, 0};
  run_case("mean_axis1_1Mx64", f, mean_last, &m, 9);
  run_case("std_axis1_1Mx64", f, std_last, &m, 9);
  run_case("sum_axis0_1Mx64", f, sum_first, &m, 9);
  args sm = {logits, targets, NULL, 0, 0};
  run_case("softmax_4096x1000", f, softmax_last, &sm, 9);
  run_case("cross_entropy_fwd_bwd_4096x1000", f, ce, &sm, 9);
  args mmv = {m1, m1, NULL, 0, 0};
  run_case("matmul_1024", f, mm, &mmv, 5);
  args bmm = {bm, bm, NULL, 0, 0};
  run_case("bmm_256x64x64", f, mm, &bmm, 9);
  eq_arena_set_current(NULL);
  return 0;
}
