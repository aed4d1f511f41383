/* GELU on contiguous float32 in AVX-512 intrinsics. The portable kernels
 * (elementwise.c, elementwise_grad.c) compute the same x Phi(x) through
 * fast_math.h's erfc, t e^{P(t) - z^2}, which GCC vectorises with clamps
 * and blends for the special cases. Here e^{P(t)} is a polynomial of its
 * own (erfc_scaled_poly), the exponent goes in through vscalefps and the
 * reciprocal is rcp14 plus one Newton step; both stay within 3e-7 of
 * erfc relative, so the two agree to a few float roundings. Below e^-86.6
 * the exponential flushes to 0 as eq_expf does (GELU(-inf) is NaN in both,
 * as in PyTorch).
 *
 * While recording, the forward also writes the slope Phi(x) + x phi(x),
 * sharing Phi's Gaussian e^{-z^2}, and the backward is one multiply. One
 * ViT-Tiny MLP activation (nn_ops_bench gelu [64,65,768], one core,
 * forward + backward): 1.6 + 2.7 ms recomputing Phi in the backward, 2.0 +
 * 1.1 ms keeping the slope; with the polynomial for e^{P(t)}, 1.46 -> 0.95
 * ms forward. (In a standalone loop the intrinsics took the portable
 * kernels' 2.3 ms forward to 1.6.) */
#include "ops/elementwise_internal.h"

#ifdef __AVX512F__
#include <immintrin.h>

#include "ops/avx512_exp.h"

#define SET1 _mm512_set1_ps
/* Each step below runs over `nv` independent vectors (a literal at every
 * call, so the loops unroll): one vector's GELU is a ~150-cycle chain of
 * dependent operations, longer than the out-of-order window hides, and
 * four chains side by side took the slope form from 38.7 to 27.0 cycles
 * per vector. Every vector sees the same operations as on its own. */
#define EACH for (int u = 0; u < nv; u++)
enum { INTERLEAVE = 4 };

/* t = 1 / (1 + z / 2) and Q(t) = erfc(z) e^{z^2} / t, a degree-8
 * polynomial fitted to it for z in [0, 10] (t in [1/6, 1]; relative error
 * 4.3e-8 in exact arithmetic, 2.2e-7 in float32). It stands for the
 * portable kernels' e^{P(t)} (eq_erfcf_pos) without that exponential: the
 * slope form then needs one exponential, e^{-z^2}, instead of two. */
static inline __attribute__((always_inline)) void erfc_scaled_poly(int nv, const __m512 *z, __m512 *t, __m512 *q) {
  __m512 d[INTERLEAVE];
  EACH d[u] = _mm512_fmadd_ps(z[u], SET1(0.5f), SET1(1.0f));
  EACH t[u] = _mm512_rcp14_ps(d[u]);
  EACH t[u] = _mm512_mul_ps(t[u], _mm512_fnmadd_ps(d[u], t[u], SET1(2.0f)));
  EACH q[u] = _mm512_fmadd_ps(SET1(-5.9072446078e-02f), t[u], SET1(2.8458961844e-01f));
  EACH q[u] = _mm512_fmadd_ps(q[u], t[u], SET1(-4.8722541332e-01f));
  EACH q[u] = _mm512_fmadd_ps(q[u], t[u], SET1(2.7809104323e-01f));
  EACH q[u] = _mm512_fmadd_ps(q[u], t[u], SET1(-2.6638619602e-02f));
  EACH q[u] = _mm512_fmadd_ps(q[u], t[u], SET1(2.0269094408e-01f));
  EACH q[u] = _mm512_fmadd_ps(q[u], t[u], SET1(2.4310305715e-01f));
  EACH q[u] = _mm512_fmadd_ps(q[u], t[u], SET1(2.8237536550e-01f));
  EACH q[u] = _mm512_fmadd_ps(q[u], t[u], SET1(2.8208640218e-01f));
}

/* z = |x| / sqrt 2, kept below 10 (erfc(10) is 0 in float32), and z^2 as
 * two floats (z2 + z2lo) so its rounding does not reach the exponent. */
static inline __attribute__((always_inline)) void half_abs_scaled(int nv, const __m512 *x, __m512 *z, __m512 *z2,
                                                                  __m512 *z2lo) {
  EACH z[u] = _mm512_min_ps(_mm512_mul_ps(_mm512_abs_ps(x[u]), SET1(0.70710678118654752f)), SET1(10.0f));
  EACH z2[u] = _mm512_mul_ps(z[u], z[u]);
  EACH z2lo[u] = _mm512_fmsub_ps(z[u], z[u], z2[u]);
}

/* Phi(x) from the tail erfc(z) / 2: 1 minus it for x >= 0. */
static inline __attribute__((always_inline)) void cdf_from_tail(int nv, const __m512 *x, const __m512 *half_tail,
                                                                __m512 *cdf) {
  EACH cdf[u] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x[u], _mm512_setzero_ps(), _CMP_LT_OQ),
                                     _mm512_sub_ps(SET1(1.0f), half_tail[u]), half_tail[u]);
}

/* Phi(x) and e^{-x^2/2}, the Gaussian the slope needs, the tail being
 * t Q(t) e^{-z^2} / 2. */
static inline __attribute__((always_inline)) void normal_cdf_and_gauss(int nv, const __m512 *x, __m512 *cdf,
                                                                       __m512 *gauss) {
  __m512 z[INTERLEAVE], z2[INTERLEAVE], z2lo[INTERLEAVE], t[INTERLEAVE], q[INTERLEAVE], e[INTERLEAVE];
  half_abs_scaled(nv, x, z, z2, z2lo);
  erfc_scaled_poly(nv, z, t, q);
  EACH z2[u] = _mm512_sub_ps(_mm512_setzero_ps(), z2[u]);
  eq_exp_nonpos_ps_n(nv, z2, gauss);
  /* 0 beyond z^2 = 86.6, so the clamp of z at 10 does not show */
  EACH gauss[u] = _mm512_mul_ps(gauss[u], _mm512_sub_ps(SET1(1.0f), z2lo[u]));
  EACH e[u] = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(t[u], SET1(0.5f)), q[u]), gauss[u]);
  cdf_from_tail(nv, x, e, cdf);
}

/* GELU over nv vectors at x, and its slope when `with_slope` (a literal),
 * stored past the caches when `stream` (a literal; slope 64-byte aligned). */
static inline __attribute__((always_inline)) void gelu_vectors(int nv, bool with_slope, bool stream, const float *x,
                                                               float *y, float *slope) {
  __m512 a[INTERLEAVE], cdf[INTERLEAVE], gauss[INTERLEAVE];
  EACH a[u] = _mm512_loadu_ps(x + u * 16);
  normal_cdf_and_gauss(nv, a, cdf, gauss);
  EACH _mm512_storeu_ps(y + u * 16, _mm512_mul_ps(a[u], cdf[u]));
  if (with_slope)
    EACH {
      __m512 d = _mm512_fmadd_ps(_mm512_mul_ps(a[u], SET1(0.39894228040143267794f)), gauss[u], cdf[u]);
      if (stream)
        _mm512_stream_ps(slope + u * 16, d);
      else
        _mm512_storeu_ps(slope + u * 16, d);
    }
}
#undef EACH
#endif

bool eq_gelu_avx512_available(void) {
#ifdef __AVX512F__
  return true;
#else
  return false;
#endif
}

int64_t eq_gelu_f32_avx512(const float *x, float *y, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  for (; i + 16 * INTERLEAVE <= n; i += 16 * INTERLEAVE) gelu_vectors(INTERLEAVE, false, false, x + i, y + i, NULL);
  for (; i + 16 <= n; i += 16) gelu_vectors(1, false, false, x + i, y + i, NULL);
#endif
  return i;
}

int64_t eq_gelu_slope_f32_avx512(const float *x, float *y, float *slope, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  /* The slope is read again only by the backward: stored past the caches
   * (where it is aligned for that), it leaves them to the data in use, and
   * its lines are not first read from memory. ViT-Tiny's MLP in the step:
   * forward 6.02 -> 6.10 ms, backward 11.95 -> 11.75 ms. */
  if (((uintptr_t)slope & 63) == 0) {
    for (; i + 16 * INTERLEAVE <= n; i += 16 * INTERLEAVE) gelu_vectors(INTERLEAVE, true, true, x + i, y + i, slope + i);
    for (; i + 16 <= n; i += 16) gelu_vectors(1, true, true, x + i, y + i, slope + i);
    _mm_sfence();
  }
  for (; i + 16 * INTERLEAVE <= n; i += 16 * INTERLEAVE) gelu_vectors(INTERLEAVE, true, false, x + i, y + i, slope + i);
  for (; i + 16 <= n; i += 16) gelu_vectors(1, true, false, x + i, y + i, slope + i);
#endif
  return i;
}
