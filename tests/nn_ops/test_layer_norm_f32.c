/* eq_layer_norm in float32 against the same op in float64 on the same
 * values: output and the gradients of x, weight and bias, written fresh and
 * then accumulated. Rows of a multiple of 16 run the AVX-512 row kernels
 * (layer_norm_rows.c), the others the portable loops: widths 16, 48, 192
 * (ViT-Tiny's), 384 and 10, 200 for contrast; with the weight and bias,
 * without either, with only one; rows that do not shift the mean to zero
 * (an offset of 3 on every element); at 1 and 2 threads and on enough rows
 * to split over them. */
#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "tensor_compare.h"

static double val(uint64_t i) {
  uint64_t h = (i + 11) * 0x9E3779B97F4A7C15ull;
  return 2.0 * ((double)((h >> 40) & 0xFFFF) / 32768.0 - 1.0);
}

static eq_tensor *filled(eq_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double offset, bool grad) {
  eq_tensor *t = eq_empty(dt, ndim, shape);
  for (int64_t i = 0; i < eq_numel(t); i++) eq_set_flat(t, i, offset + val(seed * 1000003 + (uint64_t)i));
  eq_set_requires_grad(t, grad);
  return t;
}

enum { X, W, B, N_INPUTS };

/* Affine parts: bit 0 the weight, bit 1 the bias. `x_grad`: whether x
 * asks for its gradient (without it, only the weight's and bias's). */
static void check_case(int64_t rows, int64_t D, int affine, bool x_grad, int threads) {
  omp_set_num_threads(threads);
  const double tol = 2e-5;
  const int64_t shapes[N_INPUTS][2] = {{rows, D}, {D, 0}, {D, 0}};
  const double offsets[N_INPUTS] = {3.0, 1.0, 0.0};
  eq_tensor *a[N_INPUTS], *b[N_INPUTS];
  for (int k = 0; k < N_INPUTS; k++) {
    int nd = shapes[k][1] ? 2 : 1;
    bool grad = k == X ? x_grad : true;
    a[k] = filled(EQ_F32, nd, shapes[k], (uint64_t)k + 1, offsets[k], grad);
    b[k] = filled(EQ_F64, nd, shapes[k], (uint64_t)k + 1, offsets[k], grad);
  }
  eq_tensor *g = filled(EQ_F32, 2, shapes[X], 77, 0.0, false), *g64 = filled(EQ_F64, 2, shapes[X], 77, 0.0, false);
  eq_tensor *wa = affine & 1 ? a[W] : NULL, *ba = affine & 2 ? a[B] : NULL;
  eq_tensor *wb = affine & 1 ? b[W] : NULL, *bb = affine & 2 ? b[B] : NULL;
  /* Two passes: the first writes fresh gradient buffers, the second adds. */
  for (int pass = 1; pass <= 2; pass++) {
    eq_tensor *ya = eq_layer_norm(a[X], wa, ba, 1e-5), *yb = eq_layer_norm(b[X], wb, bb, 1e-5);
    CHECK(ya && yb);
    if (!ya || !yb) break;
    double e = worst_rel_diff(ya, yb);
    CHECK_MSG(e < tol, "rows %lld D %lld affine %d threads %d pass %d: output differs by %g", (long long)rows,
              (long long)D, affine, threads, pass, e);
    CHECK(eq_backward_with(ya, g) == EQ_OK && eq_backward_with(yb, g64) == EQ_OK);
    eq_tape_clear();
    eq_tensor_free(ya);
    eq_tensor_free(yb);
    for (int k = 0; k < N_INPUTS; k++) {
      bool used = k == X ? x_grad : (affine >> (k - 1)) & 1;
      if (!used) {
        CHECK(!a[k]->grad);
        continue;
      }
      CHECK(a[k]->grad && b[k]->grad);
      if (!a[k]->grad || !b[k]->grad) continue;
      /* the weight's and bias's gradients sum over the rows */
      double scale = k == X ? 1.0 : 1.0 + (double)rows / 64;
      e = worst_rel_diff(a[k]->grad, b[k]->grad) / scale;
      CHECK_MSG(e < tol, "rows %lld D %lld affine %d x_grad %d threads %d pass %d: gradient of input %d differs by %g",
                (long long)rows, (long long)D, affine, x_grad, threads, pass, k, e);
    }
  }
  free_tensor_pairs(N_INPUTS, a, b);
  eq_tensor_free(g);
  eq_tensor_free(g64);
}

int main(void) {
  int threads_max = omp_get_max_threads();
  const int64_t widths[] = {16, 48, 192, 384, 10, 200};
  for (int threads = 1; threads <= 2; threads++)
    for (int iw = 0; iw < 6; iw++)
      for (int affine = 0; affine < 4; affine++) {
        check_case(3, widths[iw], affine, true, threads);
        check_case(300, widths[iw], affine, true, threads);
      }
  check_case(300, 192, 3, false, 2);
  check_case(1, 16, 3, false, 1);
  omp_set_num_threads(threads_max);
  return EQ_TEST_SUMMARY();
}
