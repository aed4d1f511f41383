/* GELU (erf form) in float32, the path ViT MLPs take (AVX-512 intrinsics
 * where the build has them, gelu_avx512.c; else the portable kernel),
 * against float64 x Phi(x) and Phi(x) + x phi(x): 100003 values over
 * [-14, 14] (into the tail where Phi underflows), lengths that leave a
 * ragged tail, a fresh and an accumulating backward, and the special
 * values: GELU(+inf) = inf, GELU(-inf) = NaN (as PyTorch), NaN stays NaN. */
#include <math.h>
#include <stdint.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

static double cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double pdf(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

static void check_range(int64_t n) {
  eq_tensor *x = eq_empty(EQ_F32, EQ_DIMS(n)), *g = eq_empty(EQ_F32, EQ_DIMS(n));
  for (int64_t i = 0; i < n; i++) {
    eq_set_flat(x, i, -14.0 + 28.0 * (double)i / (double)(n - 1));
    eq_set_flat(g, i, 0.5 + (double)(i % 7) / 4.0);
  }
  eq_set_requires_grad(x, true);
  int64_t bad_y = 0, bad_g = 0;
  for (int pass = 1; pass <= 2; pass++) { /* the second backward adds to the first */
    eq_tensor *y = eq_gelu(x, false);
    CHECK_MSG(y != NULL, "%s", eq_error_message());
    if (!y) break;
    CHECK(eq_backward_with(y, g) == EQ_OK);
    eq_tape_clear();
    for (int64_t i = 0; i < n; i++) {
      double a = eq_get_flat(x, i), gi = eq_get_flat(g, i), want = a * cdf(a);
      if (pass == 1 && !(fabs(eq_get_flat(y, i) - want) <= 2e-5 * fabs(want) + 1e-36)) bad_y++;
      double dwant = pass * gi * (cdf(a) + a * pdf(a)), scale = pass * gi * (cdf(a) + fabs(a) * pdf(a));
      if (!(fabs(eq_get_flat(x->grad, i) - dwant) <= 2e-5 * scale + 1e-36)) bad_g++;
    }
    eq_tensor_free(y);
  }
  CHECK_MSG(bad_y == 0, "n %lld: %lld values off", (long long)n, (long long)bad_y);
  CHECK_MSG(bad_g == 0, "n %lld: %lld gradients off", (long long)n, (long long)bad_g);
  eq_tensor_free(x);
  eq_tensor_free(g);
}

int main(void) {
  check_range(100003);
  check_range(17);
  check_range(15);
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
