/* eq_qkv_attention against the two ops it fuses, eq_linear then
 * eq_attention_qkv, on the same inputs: the output and the gradients of x,
 * W and b, written fresh (first pass) and accumulated (second pass), at 1,
 * 2 and 3 threads. Tall float32 inputs take the fused blocks (a block of
 * images per thread, d(qkv) made in scratch); the rest, float64 and inputs
 * that need no gradient, the ops' kernels in turn. Sizes are ragged against
 * the 16-lane vectors, the 6-row tiles and the blocks of images, and the
 * images do not split evenly over 3 threads. A slip in a block's rows, a
 * head or a share of dW shows as an O(1) difference; the products are
 * summed in other orders, so float32 agrees to rounding only. */
#include <math.h>
#include <omp.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "tensor_compare.h"

typedef struct {
  eq_dtype dt;
  int64_t n, L, C;
  int heads;
  int64_t hd;
  bool bias, x_grad;
} qkv_case;

static void check_case(const qkv_case *k, int threads) {
  omp_set_num_threads(threads);
  double tol = k->dt == EQ_F32 ? 2e-4 : 1e-12; /* dW sums 1600 rows: 4e-5 seen */
  int64_t dim = k->heads * k->hd;
  eq_arena *arena = eq_arena_set_current(NULL);
  eq_tensor *x[2], *w[2], *b[2] = {NULL, NULL};
  x[0] = eq_rand_normal(k->dt, EQ_DIMS(k->n, k->L, k->C), 0, 1, 11, 0);
  w[0] = eq_rand_normal(k->dt, EQ_DIMS(3 * dim, k->C), 0, 0.3, 12, 0);
  if (k->bias) b[0] = eq_rand_normal(k->dt, EQ_DIMS(3 * dim), 0, 0.5, 13, 0);
  x[1] = eq_contiguous(x[0]), w[1] = eq_contiguous(w[0]);
  if (k->bias) b[1] = eq_contiguous(b[0]);
  eq_tensor *g = eq_rand_normal(k->dt, EQ_DIMS(k->n, k->L, dim), 0, 1, 14, 0);
  eq_arena_set_current(arena);
  for (int s = 0; s < 2; s++) {
    eq_set_requires_grad(x[s], k->x_grad);
    eq_set_requires_grad(w[s], true);
    if (b[s]) eq_set_requires_grad(b[s], true);
  }
  for (int pass = 1; pass <= 2; pass++) {
    eq_tensor *y = eq_qkv_attention(x[0], w[0], b[0], k->heads, 0);
    eq_tensor *ref = eq_attention_qkv(eq_linear(x[1], w[1], b[1]), k->heads, NULL, 0);
    CHECK_MSG(y && ref, "%s", eq_error_message());
    if (!y || !ref) break;
    double e = worst_rel_diff(y, ref);
    CHECK_MSG(e < tol, "output: dtype %d n %lld L %lld C %lld heads %d hd %lld threads %d: %g", (int)k->dt,
              (long long)k->n, (long long)k->L, (long long)k->C, k->heads, (long long)k->hd, threads, e);
    CHECK(eq_backward_with(y, g) == EQ_OK && eq_backward_with(ref, g) == EQ_OK);
    eq_tape_clear();
    const char *names[3] = {"dx", "dW", "db"};
    eq_tensor *mine[3] = {x[0]->grad, w[0]->grad, b[0] ? b[0]->grad : NULL};
    eq_tensor *theirs[3] = {x[1]->grad, w[1]->grad, b[1] ? b[1]->grad : NULL};
    for (int t = 0; t < 3; t++) {
      bool wanted = t == 0 ? k->x_grad : t == 1 || k->bias;
      CHECK_MSG(!mine[t] == !wanted, "%s: gradient %s", names[t], wanted ? "missing" : "made though not wanted");
      if (!mine[t] || !theirs[t]) continue;
      e = worst_rel_diff(mine[t], theirs[t]);
      CHECK_MSG(e < tol, "%s pass %d: dtype %d n %lld L %lld C %lld heads %d hd %lld threads %d: %g", names[t], pass,
                (int)k->dt, (long long)k->n, (long long)k->L, (long long)k->C, k->heads, (long long)k->hd, threads, e);
    }
  }
  /* without a tape: the same output */
  bool was = eq_set_grad_enabled(false);
  eq_tensor *y = eq_qkv_attention(x[0], w[0], b[0], k->heads, 0);
  eq_tensor *ref = eq_attention_qkv(eq_linear(x[1], w[1], b[1]), k->heads, NULL, 0);
  eq_set_grad_enabled(was);
  CHECK_MSG(y && ref && worst_rel_diff(y, ref) < tol, "no-grad output: dtype %d n %lld threads %d", (int)k->dt,
            (long long)k->n, threads);
  for (int s = 0; s < 2; s++) {
    eq_tensor_free(x[s]);
    eq_tensor_free(w[s]);
    eq_tensor_free(b[s]);
  }
  eq_tensor_free(g);
}

int main(void) {
  int threads_max = omp_get_max_threads();
  /* the ops' outputs and intermediates in an arena, reset after each case */
  eq_arena *arena = eq_arena_new(64 << 20);
  eq_arena_set_current(arena);
  const qkv_case cases[] = {
      /* 1625 rows: the fused blocks at 1-3 threads (512 rows a thread);
       * 25 images, blocks of 2, 8/8/9 images a thread */
      {EQ_F32, 25, 65, 40, 3, 16, true, true},
      /* no bias; 18 tokens (blocks of 8 images), head dim 12 (not a
       * multiple of 16), 1620 rows */
      {EQ_F32, 90, 18, 24, 2, 12, false, true},
      /* 630 rows: fused on one thread, the two ops' kernels on more */
      {EQ_F32, 9, 70, 20, 2, 20, true, true},
      /* x needs no gradient: the two ops' kernels (W and b still) */
      {EQ_F32, 25, 65, 40, 3, 16, true, false},
      {EQ_F64, 5, 17, 8, 2, 4, true, true},
  };
  for (int threads = 1; threads <= 3; threads++)
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      check_case(&cases[c], threads);
      eq_arena_reset(arena);
    }
  omp_set_num_threads(threads_max);
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  return EQ_TEST_SUMMARY();
}
