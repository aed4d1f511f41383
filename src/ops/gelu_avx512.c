/* GELU on contiguous float32 in AVX-512 intrinsics. The portable kernels
 * (elementwise.c, elementwise_grad.c) compute the same x Phi(x) through
 * fast_math.h's erfc and exp, which GCC vectorises with clamps and blends
 * for the special cases; here the exponent goes in through vscalefps and
 * the reciprocal is rcp14 plus one Newton step. Same formulas and
 * coefficients, so results agree to float rounding; below e^-86.6 the
 * exponential flushes to 0 as eq_expf does (GELU(-inf) is NaN in both, as
 * in PyTorch).
 *
 * While recording, the forward also writes the slope Phi(x) + x phi(x),
 * sharing Phi (the tail's exponential split into e^P(t) e^-z^2, the second
 * being the Gaussian), and the backward is one multiply. One ViT-Tiny MLP
 * activation (nn_ops_bench gelu [64,65,768], one core, forward + backward):
 * 1.6 + 2.7 ms recomputing Phi in the backward, 2.0 + 1.1 ms keeping the
 * slope. (In a standalone loop the intrinsics took the portable kernels'
 * 2.3 ms forward to 1.6.) */
#include "ops/elementwise_internal.h"

#ifdef __AVX512F__
#include <immintrin.h>

#include "ops/avx512_exp.h"

#define SET1 _mm512_set1_ps

/* t = 1 / (1 + z / 2) and erfc's polynomial P(t) (eq_erfcf_pos). */
static inline __m512 erfc_poly(__m512 z, __m512 *t_out) {
  __m512 d = _mm512_fmadd_ps(z, SET1(0.5f), SET1(1.0f));
  __m512 t = _mm512_rcp14_ps(d);
  t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, SET1(2.0f)));
  __m512 p = SET1(-1.3222319662e-01f);
  p = _mm512_fmadd_ps(p, t, SET1(9.1866386437e-01f));
  p = _mm512_fmadd_ps(p, t, SET1(-2.6606326700e+00f));
  p = _mm512_fmadd_ps(p, t, SET1(4.0661958454e+00f));
  p = _mm512_fmadd_ps(p, t, SET1(-3.4080388425e+00f));
  p = _mm512_fmadd_ps(p, t, SET1(1.5898021509e+00f));
  p = _mm512_fmadd_ps(p, t, SET1(-6.8491403009e-01f));
  p = _mm512_fmadd_ps(p, t, SET1(2.1977999279e-01f));
  p = _mm512_fmadd_ps(p, t, SET1(3.5530989210e-01f));
  p = _mm512_fmadd_ps(p, t, SET1(1.0016277038e+00f));
  *t_out = t;
  return _mm512_fmadd_ps(p, t, SET1(-1.2655706863e+00f));
}

/* z = |x| / sqrt 2, kept below 10 (erfc(10) is 0 in float32). */
static inline __m512 half_abs_scaled(__m512 x) {
  return _mm512_min_ps(_mm512_mul_ps(_mm512_abs_ps(x), SET1(0.70710678118654752f)), SET1(10.0f));
}

/* Phi(x) from erfc(z) / 2 = t e^{P(t) - z^2} / 2 for the tail: 1 minus it
 * for x >= 0. z^2 is split into two floats so its rounding does not reach
 * the exponent. */
static inline __m512 cdf_from_tail(__m512 x, __m512 half_tail) {
  __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(neg, _mm512_sub_ps(SET1(1.0f), half_tail), half_tail);
}

static inline __m512 normal_cdf(__m512 x) {
  __m512 t, z = half_abs_scaled(x), p = erfc_poly(z, &t);
  __m512 z2 = _mm512_mul_ps(z, z), z2lo = _mm512_fmsub_ps(z, z, z2);
  __m512 half_tail = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(t, SET1(0.5f)), eq_exp_nonpos_ps(_mm512_sub_ps(p, z2))),
                                   _mm512_sub_ps(SET1(1.0f), z2lo));
  return cdf_from_tail(x, half_tail);
}

/* Phi(x) and e^{-x^2/2}: the tail's exponential split as e^{P(t)} e^{-z^2},
 * the second being the Gaussian the slope needs. */
static inline __m512 normal_cdf_and_gauss(__m512 x, __m512 *gauss) {
  __m512 t, z = half_abs_scaled(x), p = erfc_poly(z, &t);
  __m512 z2 = _mm512_mul_ps(z, z), z2lo = _mm512_fmsub_ps(z, z, z2);
  /* 0 beyond z^2 = 86.6, so the clamp of z at 10 does not show */
  __m512 g = _mm512_mul_ps(eq_exp_nonpos_ps(_mm512_sub_ps(_mm512_setzero_ps(), z2)), _mm512_sub_ps(SET1(1.0f), z2lo));
  *gauss = g;
  __m512 half_tail = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(t, SET1(0.5f)), eq_exp_nonpos_ps(p)), g);
  return cdf_from_tail(x, half_tail);
}
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
  for (; i + 16 <= n; i += 16) {
    __m512 a = _mm512_loadu_ps(x + i);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(a, normal_cdf(a)));
  }
#endif
  return i;
}

int64_t eq_gelu_slope_f32_avx512(const float *x, float *y, float *slope, int64_t n) {
  int64_t i = 0;
#ifdef __AVX512F__
  for (; i + 16 <= n; i += 16) {
    __m512 a = _mm512_loadu_ps(x + i), gauss, cdf = normal_cdf_and_gauss(a, &gauss);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(a, cdf));
    _mm512_storeu_ps(slope + i, _mm512_fmadd_ps(_mm512_mul_ps(a, SET1(0.39894228040143267794f)), gauss, cdf));
  }
#endif
  return i;
}
