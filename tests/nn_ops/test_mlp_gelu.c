/* eq_mlp_gelu against the composition it replaces, eq_linear_add(eq_gelu(
 * eq_linear(x, w1, b1)), w2, b2, residual), run in float64 on the same
 * values: output and every gradient, in float32 (at 1, 2 and 3 threads and
 * on tall inputs, where the products run as register tiles split by rows,
 * fc2's backward applies GELU's slope as it stores and the backward runs in
 * blocks of rows) and float64, fresh and accumulating gradients, with and
 * without the biases and the residual, without recording, and with zero
 * rows in the output's gradient (skipped by the backward). float32 sums
 * in another order than the reference's: its tolerance is what float32
 * sums of these 1601 rows reach (the products one layer at a time, in
 * OpenBLAS, differ from the reference by up to 5e-4). */
#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "eq_test.h"
#include "tensor_compare.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

static double val(uint64_t i) {
  uint64_t h = (i + 7) * 0x9E3779B97F4A7C15ull;
  return 2.0 * ((double)((h >> 40) & 0xFFFF) / 32768.0 - 1.0);
}

static eq_tensor *filled(eq_dtype dt, int ndim, const int64_t *shape, uint64_t seed) {
  eq_tensor *t = eq_empty(dt, ndim, shape);
  for (int64_t i = 0; i < eq_numel(t); i++) eq_set_flat(t, i, val(seed * 1000003 + (uint64_t)i));
  eq_set_requires_grad(t, true);
  return t;
}

enum { X, W1, B1, W2, B2, RES, N_INPUTS };

static eq_tensor *fused(eq_tensor **t, bool bias, bool res) {
  return eq_mlp_gelu(t[X], t[W1], bias ? t[B1] : NULL, t[W2], bias ? t[B2] : NULL, res ? t[RES] : NULL);
}

static eq_tensor *composed(eq_tensor **t, bool bias, bool res) {
  eq_tensor *h = eq_gelu(eq_linear(t[X], t[W1], bias ? t[B1] : NULL), false);
  return res ? eq_linear_add(h, t[W2], bias ? t[B2] : NULL, t[RES]) : eq_linear(h, t[W2], bias ? t[B2] : NULL);
}

/* Which rows of dY are zero: every row live, every fourth row zero (the
 * backward then runs on the other three in blocks), or one row in 65 live
 * (a CLS-pooled ViT's last block). */
typedef enum { ALL_LIVE, FOURTH_ZERO, ONE_IN_65 } dy_rows;

static bool row_is_zero(dy_rows which, int64_t r) {
  return which == FOURTH_ZERO ? r % 4 == 3 : which == ONE_IN_65 ? r % 65 != 0 : false;
}

static void check_sparse_case(eq_dtype dt, int64_t rows, int64_t in, int64_t hidden, int64_t out, bool bias, bool res,
                              int threads, dy_rows which) {
  omp_set_num_threads(threads);
  double tol = dt == EQ_F64 ? 1e-12 : 2e-3;
  const int64_t shapes[N_INPUTS][2] = {{rows, in}, {hidden, in}, {hidden, 0}, {out, hidden}, {out, 0}, {rows, out}};
  /* the same values, for the fused op and the float64 composition */
  eq_tensor *a[N_INPUTS], *b[N_INPUTS];
  for (int k = 0; k < N_INPUTS; k++) {
    int nd = shapes[k][1] ? 2 : 1;
    a[k] = filled(dt, nd, shapes[k], (uint64_t)k + 1);
    b[k] = filled(EQ_F64, nd, shapes[k], (uint64_t)k + 1);
  }
  eq_tensor *g = eq_empty(dt, EQ_DIMS(rows, out)), *g64 = eq_empty(EQ_F64, EQ_DIMS(rows, out));
  for (int64_t i = 0; i < eq_numel(g); i++) {
    double v = row_is_zero(which, i / out) ? 0.0 : val(99 + (uint64_t)i);
    eq_set_flat(g, i, v);
    eq_set_flat(g64, i, v);
  }
  /* The composition's intermediates live in an arena; the leaves and their
   * gradients stay on the heap. */
  eq_arena *arena = eq_arena_new(1 << 20);
  eq_arena *prev_arena = eq_arena_set_current(arena);
  /* Two passes: the first writes fresh gradient buffers, the second adds. */
  for (int pass = 1; pass <= 2; pass++) {
    eq_tensor *ya = fused(a, bias, res), *yb = composed(b, bias, res);
    CHECK(ya && yb);
    if (!ya || !yb) break;
    double e = worst_rel_diff(ya, yb);
    CHECK_MSG(e < tol, "%s rows %lld threads %d bias %d res %d pass %d: output differs by %g", eq_dtype_name(dt),
              (long long)rows, threads, bias, res, pass, e);
    CHECK(eq_backward_with(ya, g) == EQ_OK && eq_backward_with(yb, g64) == EQ_OK);
    eq_tape_clear();
    for (int k = 0; k < N_INPUTS; k++) {
      bool used = (k != B1 && k != B2 && k != RES) || (k == RES ? res : bias);
      if (!used) {
        CHECK(!a[k]->grad);
        continue;
      }
      CHECK(a[k]->grad && b[k]->grad);
      if (!a[k]->grad || !b[k]->grad) continue;
      e = worst_rel_diff(a[k]->grad, b[k]->grad);
      CHECK_MSG(e < tol, "%s rows %lld threads %d bias %d res %d pass %d: gradient of input %d differs by %g",
                eq_dtype_name(dt), (long long)rows, threads, bias, res, pass, k, e);
    }
    eq_arena_reset(arena);
  }
  /* Not recording: the same output. */
  bool prev = eq_set_grad_enabled(false);
  eq_tensor *ya = fused(a, bias, res), *yb = composed(b, bias, res);
  eq_set_grad_enabled(prev);
  CHECK(ya && yb && !ya->requires_grad);
  if (ya && yb)
    CHECK_MSG(worst_rel_diff(ya, yb) < tol, "%s rows %lld: output without recording differs", eq_dtype_name(dt),
              (long long)rows);
  eq_arena_set_current(prev_arena);
  eq_arena_free(arena);
  free_tensor_pairs(N_INPUTS, a, b);
  eq_tensor_free(g);
  eq_tensor_free(g64);
}

static void check_case(eq_dtype dt, int64_t rows, int64_t in, int64_t hidden, int64_t out, bool bias, bool res,
                       int threads) {
  check_sparse_case(dt, rows, in, hidden, out, bias, res, threads, ALL_LIVE);
}

int main(void) {
  int threads_max = omp_get_max_threads();
  for (int threads = 1; threads <= 3; threads++) {
    /* tall: 1601 rows take the row split and the tiles; ragged widths */
    check_case(EQ_F32, 1601, 24, 100, 20, true, true, threads);
    check_case(EQ_F32, 1601, 24, 100, 20, false, false, threads);
    /* more output than hidden features, wider than a block of rows */
    check_case(EQ_F32, 1100, 40, 72, 230, true, true, threads);
    /* dW2's transpose after the blocks split over the threads (hidden x
     * out at least 65536 elements) */
    check_case(EQ_F32, 1100, 20, 700, 100, true, false, threads);
    check_case(EQ_F32, 37, 5, 17, 3, true, false, threads);
    check_case(EQ_F64, 1100, 8, 33, 6, true, true, threads);
    check_case(EQ_F64, 9, 3, 4, 2, false, true, threads);
    /* dY's zero rows skipped (live_rows.h), the live ones in blocks (1201
     * of 1601) or one layer at a time (25 of 1601) */
    check_sparse_case(EQ_F32, 1601, 24, 100, 20, true, true, threads, FOURTH_ZERO);
    check_sparse_case(EQ_F32, 1601, 24, 100, 20, false, false, threads, ONE_IN_65);
    check_sparse_case(EQ_F64, 130, 8, 33, 6, true, true, threads, ONE_IN_65);
  }
  omp_set_num_threads(threads_max);
  return EQ_TEST_SUMMARY();
}
