/* The register-tile GEMMs (ops/nn/tile_gemm.c) against a float64
 * reference. eq_nn_small_gemm_f32 (attention's per-head products): every
 * transpose combination, beta 0 (C holds NaN that must not be read) and
 * beta != 0, padded leading dimensions (B's padding NaN, and B ending at
 * its last element), and sizes around the 16-lane vectors and 6-row tiles
 * (1, 5, 6, 7, 15, 16, 17, 64, 65). eq_nn_tile_gemm_f32
 * (the linear layers): with and without a bias, A transposed or not, past
 * the 192-row blocks, with B large enough to be taken in slices of k, with
 * an addend (a residual) and with an elementwise scale (a slope). */
#include <math.h>
#include <string.h>

#include "eq_test.h"
#include "ops/nn/nn_common.h"

static float value(uint64_t i) { /* deterministic values in [-1, 1) */
  i = i * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((i >> 40) & 0xFFFF) / 32768.0f - 1.0f;
}

/* Returns the worst |c - ref| / (sum |a||b| + |beta c0| + |bias|) over C;
 * tile: eq_nn_tile_gemm_f32 (B not transposed) with `bias` (NULL or n
 * floats), else eq_nn_small_gemm_f32. */
static double check_gemm(bool tile, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta,
                         const float *bias, bool with_addend, bool with_scale) {
  int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
  int64_t arows = ta ? k : m, brows = tb ? n : k, bcols = tb ? k : n;
  /* B ends at its last element (no padding after the last row), so that a
   * read past it shows under AddressSanitizer, and its padding columns are
   * NaN: the tiles read B's rows whole, and nothing of the padding may
   * reach C. */
  size_t b_floats = (size_t)((brows - 1) * ldb + bcols);
  float *a = malloc(sizeof(float) * (size_t)(arows * lda)), *b = malloc(sizeof(float) * b_floats);
  float *c = malloc(sizeof(float) * (size_t)(m * ldc)), *c0 = malloc(sizeof(float) * (size_t)(m * ldc));
  for (int64_t i = 0; i < arows * lda; i++) a[i] = value((uint64_t)i);
  for (int64_t i = 0; i < (int64_t)b_floats; i++) b[i] = i % ldb < bcols ? value((uint64_t)i + 1000003) : NAN;
  for (int64_t i = 0; i < m * ldc; i++) c0[i] = beta != 0 ? value((uint64_t)i + 7777) : NAN;
  memcpy(c, c0, sizeof(float) * (size_t)(m * ldc));
  /* an addend R (leading dimension ldc, its padding NaN: never read) */
  float *addend = NULL;
  if (with_addend) {
    addend = malloc(sizeof(float) * (size_t)(m * ldc));
    for (int64_t i = 0; i < m * ldc; i++) addend[i] = i % ldc < n ? value((uint64_t)i + 99991) : NAN;
  }
  /* a scale S, likewise */
  float *s_at = NULL;
  if (with_scale) {
    s_at = malloc(sizeof(float) * (size_t)(m * ldc));
    for (int64_t i = 0; i < m * ldc; i++) s_at[i] = i % ldc < n ? 2.0f * value((uint64_t)i + 31337) : NAN;
  }
  if (!tile)
    eq_nn_small_gemm_f32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else if (!eq_nn_tile_gemm_f32(ta, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, addend, s_at))
    m = 0; /* no AVX-512 here: nothing written, nothing to compare */
  double worst = 0;
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double ref = 0, scale = 0;
      for (int64_t kk = 0; kk < k; kk++) {
        double x = ta ? a[kk * lda + i] : a[i * lda + kk], y = tb ? b[j * ldb + kk] : b[kk * ldb + j];
        ref += x * y;
        scale += fabs(x * y);
      }
      if (bias) {
        ref += bias[j];
        scale += fabs(bias[j]);
      }
      if (addend) {
        ref += addend[i * ldc + j];
        scale += fabs(addend[i * ldc + j]);
      }
      ref *= alpha;
      scale = fabs(alpha) * scale + 1e-30;
      if (with_scale) {
        ref *= s_at[i * ldc + j];
        scale *= fabs(s_at[i * ldc + j]);
        scale += 1e-30;
      }
      if (beta != 0) {
        ref += beta * (double)c0[i * ldc + j];
        scale += fabs(beta * (double)c0[i * ldc + j]);
      }
      double err = fabs((double)c[i * ldc + j] - ref) / scale;
      if (!(err <= worst)) worst = err; /* NaN shows as the worst */
    }
    /* the padding past n is untouched */
    for (int64_t j = n; j < ldc; j++) {
      float want = c0[i * ldc + j], got = c[i * ldc + j];
      if (!(got == want || (isnan(got) && isnan(want)))) worst = INFINITY;
    }
  }
  free(a);
  free(b);
  free(c);
  free(c0);
  free(addend);
  free(s_at);
  return worst;
}

static double check_case(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta) {
  return check_gemm(false, ta, tb, m, n, k, alpha, beta, NULL, false, false);
}

static void check_tile(bool ta, int64_t m, int64_t n, int64_t k, float alpha, float beta, bool with_bias,
                       bool with_addend, bool with_scale) {
  float *bias = NULL;
  if (with_bias) {
    bias = malloc(sizeof(float) * (size_t)n);
    for (int64_t j = 0; j < n; j++) bias[j] = value((uint64_t)j + 4242);
  }
  double err = check_gemm(true, ta, false, m, n, k, alpha, beta, bias, with_addend, with_scale);
  CHECK_MSG(err < 2e-6,
            "tile gemm ta %d m %lld n %lld k %lld alpha %g beta %g bias %d addend %d scale %d: relative error %g", ta,
            (long long)m, (long long)n, (long long)k, alpha, beta, with_bias, with_addend, with_scale, err);
  free(bias);
}

int main(void) {
  const int64_t sizes[] = {1, 5, 6, 7, 15, 16, 17, 64, 65};
  const int ns = (int)(sizeof sizes / sizeof *sizes);
  for (int t = 0; t < 4; t++) {
    bool ta = t & 1, tb = t & 2;
    for (int im = 0; im < ns; im++)
      for (int in = 0; in < ns; in++)
        for (int ik = 0; ik < ns; ik += 2) {
          int64_t m = sizes[im], n = sizes[in], k = sizes[ik];
          float beta = (im + in) % 2 ? 0.0f : 0.5f;
          double err = check_case(ta, tb, m, n, k, 0.125f, beta);
          CHECK_MSG(err < 1e-6, "ta %d tb %d m %lld n %lld k %lld beta %g: relative error %g", ta, tb, (long long)m,
                    (long long)n, (long long)k, beta, err);
        }
  }
  /* Past the stack buffer for a transposed B (n k > 16384) and past 1024
   * rows, the cblas fallback answers. */
  CHECK(check_case(false, true, 9, 200, 100, 1.0f, 0.0f) < 1e-6);
  CHECK(check_case(true, false, 1100, 20, 3, 1.0f, 1.0f) < 1e-6);
  /* eq_nn_tile_gemm_f32: ragged tiles and panels, 401 rows (three row
   * blocks), k n = 600 x 1000 past the 2 MB slicing threshold, beta 0 and
   * not, with and without a bias */
  for (int ta = 0; ta < 2; ta++) {
    check_tile(ta, 401, 70, 20, 1.0f, 0.0f, true, false, false);
    check_tile(ta, 401, 70, 20, 0.5f, 1.0f, false, false, false);
    check_tile(ta, 7, 600, 1000, 1.0f, 0.0f, true, false, false);
    check_tile(ta, 13, 600, 1000, 2.0f, 0.25f, true, false, false);
    check_tile(ta, 1, 1, 1, 1.0f, 0.0f, true, false, false);
    check_tile(ta, 6, 64, 192, 1.0f, 0.0f, false, false, false);
    /* an addend (a residual), with beta 0 and not, within one k slice and
     * across several (added once) */
    check_tile(ta, 401, 70, 20, 1.0f, 0.0f, true, true, false);
    check_tile(ta, 13, 600, 1000, 0.5f, 1.0f, false, true, false);
    /* a scale, alone and with the bias, the addend and beta, within one k
     * slice and across several (applied to each slice's part) */
    check_tile(ta, 401, 70, 20, 1.0f, 0.0f, false, false, true);
    check_tile(ta, 13, 600, 1000, 0.5f, 1.0f, true, true, true);
    check_tile(ta, 7, 65, 192, 1.0f, 0.0f, true, false, true);
  }
  float one = 1;
  /* an empty product */
  CHECK(!eq_nn_tile_gemm_f32(false, 0, 4, 4, 1.0f, &one, 4, &one, 4, 0.0f, &one, 4, NULL, NULL, NULL));
  return EQ_TEST_SUMMARY();
}
