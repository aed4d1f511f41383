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

static inline float eq_expf(float x) {
  const float hi = 88.7228393f, lo = -86.6f;
  float xc = x > hi ? hi : (x < lo ? lo : x);
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
  int32_t bits = ((int32_t)n + 126) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  float res = e * scale * 2.0f;
  res = x > hi ? INFINITY : res;
  res = x < lo ? 0.0f : res;
  return x != x ? x : res;
}

#endif
