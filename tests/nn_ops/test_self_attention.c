/* eq_qkv_attention and eq_self_attention against the ops they fuse,
 * eq_linear, eq_attention_qkv and eq_linear_add (the output projection and
 * the skip connection), on the same inputs: the output and every gradient
 * (x, the weights and biases, the residual), written fresh (first pass) and
 * accumulated (second pass), at 1, 2 and 3 threads. Tall float32 inputs
 * take the fused blocks (a block of images per thread, dO and d(qkv) made
 * in scratch); the rest, float64 and inputs that need no gradient, the
 * ops' kernels in turn. Sizes are ragged against the 16-lane vectors, the
 * 6-row tiles and the blocks of images, and the images do not split evenly
 * over 3 threads; one case has fewer images than threads. Some cases zero
 * rows of the output's gradient, which the fused output projection skips.
 * A slip in a
 * block's rows, a head or a thread's share shows as an O(1) difference;
 * the products are summed in other orders, so float32 agrees to rounding
 * only. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "tensor_compare.h"

enum { X, WQKV, BQKV, WPROJ, BPROJ, RES, N_IN };

typedef struct {
  eq_dtype dt;
  int64_t n, L, C;
  int heads;
  int64_t hd;
  bool bias, x_grad;
  /* the output projection (eq_self_attention), its bias, a residual, the
   * residual being x itself (C == heads * hd) */
  bool proj, proj_bias, residual, residual_is_x;
  /* rows of the output's gradient that are zero (the backward skips them
   * in the output projection): none, all but each image's token 0 (a
   * CLS-pooled ViT's last block), every fourth, or all */
  enum { DY_DENSE, DY_TOKEN0, DY_FOURTH_ZERO, DY_ZERO } dy_rows;
} att_case;

static bool dy_row_is_zero(const att_case *k, int64_t row) {
  switch (k->dy_rows) {
  case DY_TOKEN0: return row % k->L != 0;
  case DY_FOURTH_ZERO: return row % 4 == 3;
  case DY_ZERO: return true;
  default: return false;
  }
}

static eq_tensor *fused(eq_tensor **in, const att_case *k) {
  if (!k->proj) return eq_qkv_attention(in[X], in[WQKV], in[BQKV], k->heads, 0);
  return eq_self_attention(in[X], in[WQKV], in[BQKV], in[WPROJ], in[BPROJ], k->residual_is_x ? in[X] : in[RES],
                           k->heads, 0);
}

static eq_tensor *separate(eq_tensor **in, const att_case *k) {
  eq_tensor *a = eq_attention_qkv(eq_linear(in[X], in[WQKV], in[BQKV]), k->heads, NULL, 0);
  if (!k->proj) return a;
  eq_tensor *r = k->residual_is_x ? in[X] : in[RES];
  return r ? eq_linear_add(a, in[WPROJ], in[BPROJ], r) : eq_linear(a, in[WPROJ], in[BPROJ]);
}

static void check_case(const att_case *k, int threads) {
  omp_set_num_threads(threads);
  double tol = k->dt == EQ_F32 ? 2e-4 : 1e-12; /* dW sums 1600 rows: 4e-5 seen */
  int64_t dim = k->heads * k->hd;
  const int64_t shapes[N_IN][3] = {{k->n, k->L, k->C}, {3 * dim, k->C}, {3 * dim},
                                   {dim, dim},         {dim},           {k->n, k->L, dim}};
  const int ndims[N_IN] = {3, 2, 1, 2, 1, 3};
  const bool present[N_IN] = {true, true, k->bias, k->proj, k->proj_bias, k->residual && !k->residual_is_x};
  const double sd[N_IN] = {1, 0.3, 0.5, 0.3, 0.5, 1};
  /* the leaves on the heap (their gradients are, and go with them); the
   * ops' outputs in the caller's arena */
  eq_arena *arena = eq_arena_set_current(NULL);
  eq_tensor *in[2][N_IN] = {{NULL}};
  for (int j = 0; j < N_IN; j++) {
    if (!present[j]) continue;
    in[0][j] = eq_rand_normal(k->dt, ndims[j], shapes[j], 0, sd[j], 11 + (uint64_t)j, 0);
    in[1][j] = eq_contiguous(in[0][j]);
  }
  eq_tensor *g = eq_rand_normal(k->dt, EQ_DIMS(k->n, k->L, dim), 0, 1, 24, 0);
  for (int64_t e = 0; e < eq_numel(g); e++)
    if (dy_row_is_zero(k, e / dim)) eq_set_flat(g, e, 0.0);
  eq_arena_set_current(arena);
  for (int s = 0; s < 2; s++)
    for (int j = 0; j < N_IN; j++)
      if (in[s][j]) eq_set_requires_grad(in[s][j], j != X || k->x_grad);
  const char *names[N_IN] = {"dx", "dWqkv", "dbqkv", "dWproj", "dbproj", "dresidual"};
  for (int pass = 1; pass <= 2; pass++) {
    eq_tensor *y = fused(in[0], k), *ref = separate(in[1], k);
    CHECK_MSG(y && ref, "%s", eq_error_message());
    if (!y || !ref) break;
    double e = worst_rel_diff(y, ref);
    CHECK_MSG(e < tol, "output: dtype %d n %lld L %lld C %lld heads %d hd %lld proj %d threads %d: %g", (int)k->dt,
              (long long)k->n, (long long)k->L, (long long)k->C, k->heads, (long long)k->hd, k->proj, threads, e);
    CHECK(eq_backward_with(y, g) == EQ_OK && eq_backward_with(ref, g) == EQ_OK);
    eq_tape_clear();
    for (int j = 0; j < N_IN; j++) {
      if (!in[0][j]) continue;
      bool wanted = j != X || k->x_grad || k->residual_is_x;
      CHECK_MSG(!in[0][j]->grad == !wanted, "%s: gradient %s", names[j], wanted ? "missing" : "made though not wanted");
      if (!in[0][j]->grad || !in[1][j]->grad) continue;
      e = worst_rel_diff(in[0][j]->grad, in[1][j]->grad);
      CHECK_MSG(e < tol, "%s pass %d: dtype %d n %lld L %lld C %lld heads %d hd %lld proj %d threads %d: %g", names[j],
                pass, (int)k->dt, (long long)k->n, (long long)k->L, (long long)k->C, k->heads, (long long)k->hd,
                k->proj, threads, e);
    }
  }
  /* without a tape: the same output */
  bool was = eq_set_grad_enabled(false);
  eq_tensor *y = fused(in[0], k), *ref = separate(in[1], k);
  eq_set_grad_enabled(was);
  CHECK_MSG(y && ref && worst_rel_diff(y, ref) < tol, "no-grad output: dtype %d n %lld proj %d threads %d", (int)k->dt,
            (long long)k->n, k->proj, threads);
  for (int s = 0; s < 2; s++)
    for (int j = 0; j < N_IN; j++) eq_tensor_free(in[s][j]);
  eq_tensor_free(g);
}

/* Wrong shapes name the op and the tensors. */
static void check_bad_args(void) {
  eq_tensor *x = eq_zeros(EQ_F32, EQ_DIMS(2, 5, 8)), *w = eq_zeros(EQ_F32, EQ_DIMS(24, 8));
  eq_tensor *wp = eq_zeros(EQ_F32, EQ_DIMS(8, 8)), *bad = eq_zeros(EQ_F32, EQ_DIMS(7, 8));
  eq_tensor *r = eq_zeros(EQ_F32, EQ_DIMS(2, 5, 8)), *r_bad = eq_zeros(EQ_F32, EQ_DIMS(2, 4, 8));
  CHECK(!eq_qkv_attention(x, w, NULL, 3, 0) && strstr(eq_error_message(), "qkv_attention") &&
        strstr(eq_error_message(), "3 heads"));
  CHECK(!eq_qkv_attention(x, bad, NULL, 1, 0) && strstr(eq_error_message(), "[7, 8]"));
  CHECK(!eq_self_attention(x, w, NULL, bad, NULL, NULL, 2, 0) && strstr(eq_error_message(), "proj weight"));
  CHECK(!eq_self_attention(x, w, NULL, wp, NULL, r_bad, 2, 0) && strstr(eq_error_message(), "residual [2, 4, 8]"));
  CHECK(!eq_self_attention(x, w, NULL, NULL, NULL, r, 2, 0) && strstr(eq_error_message(), "residual needs"));
  eq_tensor *x64 = eq_zeros(EQ_F64, EQ_DIMS(2, 5, 8));
  CHECK(!eq_self_attention(x64, w, NULL, wp, NULL, NULL, 2, 0) && eq_error_code() == EQ_ERR_DTYPE);
  eq_tensor *all[] = {x, w, wp, bad, r, r_bad, x64};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) eq_tensor_free(all[i]);
}

int main(void) {
  int threads_max = omp_get_max_threads();
  /* the ops' outputs and intermediates in an arena, reset after each case */
  eq_arena *arena = eq_arena_new(64 << 20);
  eq_arena_set_current(arena);
  const att_case cases[] = {
      /* 1625 rows: the fused blocks at 1-3 threads (512 rows a thread);
       * 25 images, blocks of 2, 8/8/9 images a thread */
      {EQ_F32, 25, 65, 40, 3, 16, true, true, false, false, false, false, DY_DENSE},
      /* no bias; 18 tokens (blocks of 8 images), head dim 12 (not a
       * multiple of 16), 1620 rows */
      {EQ_F32, 90, 18, 24, 2, 12, false, true, false, false, false, false, DY_DENSE},
      /* 630 rows: fused on one thread, the separate ops' kernels on more */
      {EQ_F32, 9, 70, 20, 2, 20, true, true, false, false, false, false, DY_DENSE},
      /* x needs no gradient: the separate ops' kernels (the weights still) */
      {EQ_F32, 25, 65, 40, 3, 16, true, false, false, false, false, false, DY_DENSE},
      {EQ_F64, 5, 17, 8, 2, 4, true, true, false, false, false, false, DY_DENSE},
      /* eq_self_attention: the output projection with its bias and a
       * residual; without them; the residual being x; float64 */
      {EQ_F32, 25, 65, 40, 3, 16, true, true, true, true, true, false, DY_DENSE},
      {EQ_F32, 90, 18, 24, 2, 12, false, true, true, false, false, false, DY_DENSE},
      {EQ_F32, 26, 65, 48, 3, 16, true, true, true, true, true, true, DY_DENSE},
      {EQ_F64, 5, 17, 8, 2, 4, true, true, true, true, true, false, DY_DENSE},
      /* 2 images of 1040 tokens: fused, one thread without an image at 3 */
      {EQ_F32, 2, 1040, 16, 2, 8, true, true, true, true, true, false, DY_DENSE},
      /* the output projection on dY's live rows (fused blocks): token 0 of
       * each image, three rows in four, none */
      {EQ_F32, 25, 65, 40, 3, 16, true, true, true, true, true, false, DY_TOKEN0},
      {EQ_F32, 26, 65, 48, 3, 16, true, true, true, true, true, true, DY_FOURTH_ZERO},
      {EQ_F32, 25, 65, 40, 3, 16, true, true, true, true, true, false, DY_ZERO},
      {EQ_F64, 5, 17, 8, 2, 4, true, true, true, true, true, false, DY_TOKEN0},
      /* 5 tokens, blocks of 26 images: each thread's last block is one
       * image, 5 rows (dense: too few to look for live ones) */
      {EQ_F32, 209, 5, 24, 2, 12, true, true, true, true, true, false, DY_TOKEN0},
  };
  for (int threads = 1; threads <= 3; threads++)
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      check_case(&cases[c], threads);
      eq_arena_reset(arena);
    }
  omp_set_num_threads(threads_max);
  check_bad_args();
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  return EQ_TEST_SUMMARY();
}
