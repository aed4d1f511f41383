/* GELU (erf form) in float32 against float64 x Phi(x) and Phi(x) + x phi(x),
 * on each path: the forward that keeps the slope (a contiguous input that
 * needs a gradient, as in ViT's MLPs; AVX-512 intrinsics where the build
 * has them, gelu_avx512.c), the forward alone, and a strided input (the
 * portable kernels). 100004 values over [-14, 14] (into the tail where Phi
 * underflows), lengths that leave a ragged tail, a fresh and an
 * accumulating backward, and the special values: GELU(+inf) = inf,
 * GELU(-inf) = NaN (as PyTorch), NaN stays NaN. eq_gelu_rows with its
 * slope 64-byte aligned (streaming stores) and not: the same bits. */
#include <math.h>
#include <stdint.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "ops/elementwise_internal.h"

static double cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

enum path { KEEP_SLOPE, FORWARD_ONLY, STRIDED };

/* KEEP_SLOPE: a contiguous input that needs a gradient (the forward keeps
 * the slope); FORWARD_ONLY: no gradient; STRIDED: a transposed view, which
 * goes through the portable kernels and their backward. */
static void check_range(int64_t n, enum path path) {
  /* the leaves on the heap (their gradients are, and go with them); the
   * ops' intermediates in the caller's arena */
  eq_arena *arena = eq_arena_set_current(NULL);
  eq_tensor *x = eq_empty(EQ_F32, EQ_DIMS(n)), *g = eq_empty(EQ_F32, EQ_DIMS(n));
  eq_arena_set_current(arena);
  for (int64_t i = 0; i < n; i++) {
    eq_set_flat(x, i, -14.0 + 28.0 * (double)i / (double)(n - 1));
    eq_set_flat(g, i, 0.5 + (double)(i % 7) / 4.0);
  }
  eq_set_requires_grad(x, path != FORWARD_ONLY);
  int64_t bad_y = 0, bad_g = 0;
  for (int pass = 1; pass <= (path == FORWARD_ONLY ? 1 : 2); pass++) { /* the second backward adds to the first */
    /* STRIDED: x seen as [n / 2, 2] transposed (n even), values in the same order after flattening back */
    eq_tensor *in = path == STRIDED ? eq_transpose(eq_reshape(x, EQ_DIMS(2, n / 2)), 0, 1) : x;
    eq_tensor *y = eq_gelu(in, false);
    CHECK_MSG(y != NULL, "%s", eq_error_message());
    if (!y) break;
    if (path == STRIDED) y = eq_reshape(eq_transpose(y, 0, 1), EQ_DIMS(n));
    if (path != FORWARD_ONLY) CHECK(eq_backward_with(y, g) == EQ_OK);
    eq_tape_clear();
    for (int64_t i = 0; i < n; i++) {
      double a = eq_get_flat(x, i), gi = eq_get_flat(g, i), want = a * cdf(a);
      if (pass == 1 && !(fabs(eq_get_flat(y, i) - want) <= 2e-5 * fabs(want) + 1e-36)) bad_y++;
      if (path == FORWARD_ONLY) continue;
      double dwant = pass * gi * (cdf(a) + a * pdf(a)), scale = pass * gi * (cdf(a) + fabs(a) * pdf(a));
      if (!(fabs(eq_get_flat(x->grad, i) - dwant) <= 2e-5 * scale + 1e-36)) bad_g++;
    }
  }
  CHECK_MSG(bad_y == 0, "n %lld path %d: %lld values off", (long long)n, (int)path, (long long)bad_y);
  CHECK_MSG(bad_g == 0, "n %lld path %d: %lld gradients off", (long long)n, (int)path, (long long)bad_g);
  eq_tensor_free(x);
  eq_tensor_free(g);
}

/* The slope written through streaming stores (aligned) and plain ones
 * (one float off alignment) holds the same values, as does the output. */
static void check_slope_alignment(void) {
  const int64_t n = 4099;
  float *x = eq_malloc(sizeof(float) * (size_t)n), *y = eq_malloc(sizeof(float) * (size_t)n);
  float *y2 = eq_malloc(sizeof(float) * (size_t)n), *buf = eq_malloc(sizeof(float) * (size_t)(2 * n + 32));
  for (int64_t i = 0; i < n; i++) x[i] = -9.0f + 18.0f * (float)i / (float)n;
  float *aligned = buf, *off = buf + n + 17; /* eq_malloc is 64-byte aligned: off is not */
  eq_gelu_rows(EQ_F32, x, y, aligned, n);
  eq_gelu_rows(EQ_F32, x, y2, off, n);
  int64_t differ = 0;
  for (int64_t i = 0; i < n; i++) differ += aligned[i] != off[i] || y[i] != y2[i];
  CHECK_MSG(differ == 0, "%lld of %lld GELU values or slopes differ between aligned and unaligned slope buffers",
            (long long)differ, (long long)n);
  eq_free(x), eq_free(y), eq_free(y2), eq_free(buf);
}

int main(void) {
  check_slope_alignment();
  eq_arena *arena = eq_arena_new(16 << 20);
  eq_arena_set_current(arena);
  for (int path = KEEP_SLOPE; path <= STRIDED; path++) {
    check_range(100004, (enum path)path);
    check_range(18, (enum path)path);
    check_range(14, (enum path)path);
  }
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  eq_tensor *s = eq_from_data(EQ_F32, EQ_DIMS(16), (float[]){INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 1e-30f, -1e-30f,
                                                              1.0f, -1.0f, 3.0f, -3.0f, 8.0f, -8.0f, 20.0f, -20.0f, 5.0f});
  eq_set_requires_grad(s, true);
  eq_tensor *y = eq_gelu(s, false);
  CHECK(y && eq_get_flat(y, 0) == INFINITY && isnan(eq_get_flat(y, 1)) && isnan(eq_get_flat(y, 2)));
  CHECK(y && eq_get_flat(y, 3) == 0 && eq_get_flat(y, 4) == 0 && eq_get_flat(y, 13) == 20.0f);
  CHECK(y && eq_get_flat(y, 14) <= 0 && eq_get_flat(y, 14) > -1e-37);
  eq_tensor *ones = eq_ones(EQ_F32, EQ_DIMS(16));
  CHECK(y && eq_backward_with(y, ones) == EQ_OK);
  CHECK(s->grad && isnan(eq_get_flat(s->grad, 2)) && fabs(eq_get_flat(s->grad, 3) - 0.5) < 1e-6 &&
        eq_get_flat(s->grad, 13) == 1.0);
  eq_tape_clear();
  eq_tensor_free(y);
  eq_tensor_free(ones);
  eq_tensor_free(s);
  return EQ_TEST_SUMMARY();
}
