/* Vectorisable float32 exp for the hot loops (softmax, losses, activations):
 * libm's expf is a call the compiler cannot vectorise without
 * -fno-math-errno. Range reduction x = n ln2 + r with a two-part ln2, a
 * degree-6 polynomial for e^r on [-ln2/2, ln2/2] (Cephes' expf
 * coefficients), 2^n through the exponent bits. Error about 1-2 ulp;
 * results below ~1e-38 flush to 0, above 88.72 give inf, NaN stays NaN. */
#ifndef EQ_FAST_MATH_H
#define EQ_FAST_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Forced: in the large kernel switches GCC's inlining budget otherwise
 * leaves calls in the loops, which then do not vectorise. */
#define EQ_FAST_INLINE static inline __attribute__((always_inline))

EQ_FAST_INLINE float eq_expf(float x) {
  const float hi = 88.7228393f, lo = -86.6f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  xc = xc == xc ? xc : 0.0f; /* NaN: any finite value, replaced at the end (no UB in the int conversion) */
  float n = floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float e = p * r * r + r + 1.0f;
  /* 2^(n-1) * 2 keeps n = 128 (x near the top) representable. */
  uint32_t bits = (uint32_t)((int32_t)n + 126) << 23; /* n + 126 in [1, 254] */
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  float res = e * scale * 2.0f;
  res = x > hi ? INFINITY : res;
  res = x < lo ? 0.0f : res;
  return x != x ? x : res;
}

/* tanh: an odd polynomial x + x^3 Q(x^2) below |x| = 0.625 (least-squares
 * fit, relative error 2e-9 in exact arithmetic), 1 - 2 / (e^{2|x|} + 1)
 * above; about 2 ulp. */
EQ_FAST_INLINE float eq_tanhf(float x) {
  float a = fabsf(x), z = x * x;
  float q = 2.3392921222e-03f;
  q = q * z - 8.3860814845e-03f;
  q = q * z + 2.1782145213e-02f;
  q = q * z - 5.3960934319e-02f;
  q = q * z + 1.3333310863e-01f;
  q = q * z - 3.3333333222e-01f;
  float small = x + x * z * q;
  float big = 1.0f - 2.0f / (eq_expf(2.0f * a) + 1.0f);
  big = x < 0 ? -big : big;
  return a < 0.625f ? small : big;
}

/* erfc(z) for z >= 0 as t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), P of
 * degree 10 fitted by least squares on [0, 10] (relative error 2.4e-8 in
 * exact arithmetic, about 1e-6 in float32 for large z); z^2 is split into
 * two floats so its rounding does not reach the exponent. */
EQ_FAST_INLINE float eq_erfcf_pos(float z) {
  z = z > 10.0f ? 10.0f : z; /* erfc(10) = 2e-45: 0 in float32; keeps inf finite */
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = -1.3222319662e-01f;
  p = p * t + 9.1866386437e-01f;
  p = p * t - 2.6606326700e+00f;
  p = p * t + 4.0661958454e+00f;
  p = p * t - 3.4080388425e+00f;
  p = p * t + 1.5898021509e+00f;
  p = p * t - 6.8491403009e-01f;
  p = p * t + 2.1977999279e-01f;
  p = p * t + 3.5530989210e-01f;
  p = p * t + 1.0016277038e+00f;
  p = p * t - 1.2655706863e+00f;
  float z2 = z * z, z2lo = fmaf(z, z, -z2);
  return t * eq_expf(p - z2) * (1.0f - z2lo);
}

/* Phi(x) = erfc(-x / sqrt 2) / 2, the standard normal CDF (GELU's gate). */
EQ_FAST_INLINE float eq_normal_cdff(float x) {
  float z = fabsf(x) * 0.70710678118654752f;
  float half_tail = 0.5f * eq_erfcf_pos(z);
  return x < 0 ? half_tail : 1.0f - half_tail;
}

/* Type-suffixed spellings for the kernel templates (S = f or empty): the
 * float32 forms vectorise, the float64 ones are libm. */
EQ_FAST_INLINE float eq_vexpf(float x) { return eq_expf(x); }
EQ_FAST_INLINE double eq_vexp(double x) { return exp(x); }
EQ_FAST_INLINE float eq_vtanhf(float x) { return eq_tanhf(x); }
EQ_FAST_INLINE double eq_vtanh(double x) { return tanh(x); }
EQ_FAST_INLINE float eq_vcdff(float x) { return eq_normal_cdff(x); }
EQ_FAST_INLINE double eq_vcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }

#endif
