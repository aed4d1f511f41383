/* max_pool2d in float32 (the vector kernel where the build has AVX-512)
 * against float64 (the scalar kernel): values and the chosen index, seen
 * through the gradient, over strides 1-3, paddings, kernels 1-5, ragged
 * widths, ties, -inf and NaN. Max pooling is exact, so both must agree
 * bit for bit (NaN with NaN). */
#include <math.h>
#include <stdint.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

static double input_value(uint64_t i) {
  uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  unsigned r = (unsigned)(h % 97);
  if (r == 0) return NAN;
  if (r == 1) return -INFINITY;
  return (double)(int)(h % 7) - 3.0; /* few distinct values: many ties */
}

static void check_case(int64_t h, int64_t w, int k, int s, int p) {
  const int64_t n = 2, c = 3;
  eq_tensor *x64 = eq_empty(EQ_F64, EQ_DIMS(n, c, h, w));
  for (int64_t i = 0; i < n * c * h * w; i++) eq_set_flat(x64, i, input_value((uint64_t)(i + 31 * w + 7 * k + s)));
  eq_tensor *x32 = eq_to_dtype(x64, EQ_F32);
  eq_set_requires_grad(x64, true);
  eq_set_requires_grad(x32, true);
  eq_tensor *y64 = eq_max_pool2d(x64, (int[]){k, k}, (int[]){s, s}, (int[]){p, p});
  eq_tensor *y32 = eq_max_pool2d(x32, (int[]){k, k}, (int[]){s, s}, (int[]){p, p});
  CHECK_MSG(y64 && y32, "h %lld w %lld k %d s %d p %d: %s", (long long)h, (long long)w, k, s, p, eq_error_message());
  if (!y64 || !y32) return;
  int64_t ny = eq_numel(y64);
  int bad = 0;
  for (int64_t i = 0; i < ny; i++) {
    double a = eq_get_flat(y64, i), b = eq_get_flat(y32, i);
    if (!(a == b || (isnan(a) && isnan(b)))) bad++;
  }
  CHECK_MSG(bad == 0, "values: h %lld w %lld k %d s %d p %d: %d of %lld differ", (long long)h, (long long)w, k, s, p,
            bad, (long long)ny);
  /* Distinct output gradients: dx shows which input each output chose. */
  eq_tensor *g64 = eq_empty(EQ_F64, y64->ndim, y64->shape), *g32 = eq_empty(EQ_F32, y32->ndim, y32->shape);
  for (int64_t i = 0; i < ny; i++) {
    eq_set_flat(g64, i, (double)(i % 1000 + 1));
    eq_set_flat(g32, i, (double)(i % 1000 + 1));
  }
  CHECK(eq_backward_with(y64, g64) == EQ_OK);
  CHECK(eq_backward_with(y32, g32) == EQ_OK);
  bad = 0;
  for (int64_t i = 0; i < eq_numel(x64); i++)
    if (eq_get_flat(x64->grad, i) != eq_get_flat(x32->grad, i)) bad++;
  CHECK_MSG(bad == 0, "indices: h %lld w %lld k %d s %d p %d: %d input gradients differ", (long long)h, (long long)w, k,
            s, p, bad);
  eq_tape_clear();
  eq_tensor *all[] = {x64, x32, y64, y32, g64, g32};
  for (int i = 0; i < 6; i++) eq_tensor_free(all[i]);
}

int main(void) {
  const int64_t widths[] = {1, 2, 5, 16, 17, 32, 33, 47};
  for (int k = 1; k <= 5; k++)
    for (int s = 1; s <= 3; s++)
      for (int p = 0; p <= k / 2; p++)
        for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
          int64_t w = widths[wi], h = 3 + (int64_t)wi % 4;
          if (w + 2 * p < k || h + 2 * p < k) continue;
          check_case(h, w, k, s, p);
        }
  check_case(32, 32, 3, 2, 1); /* ResNet-18's stem pool */
  return EQ_TEST_SUMMARY();
}
