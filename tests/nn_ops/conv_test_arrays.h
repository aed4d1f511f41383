/* Arrays for the convolution kernel tests (test_conv_winograd.c,
 * test_conv_tiny_maps.c): deterministic operands exact in float32, and the
 * error of a result against a float64 reference. */
#ifndef EQ_TESTS_CONV_TEST_ARRAYS_H
#define EQ_TESTS_CONV_TEST_ARRAYS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "equivar/core.h"

/* Multiples of 2^-15 in [-1, 1): exact in float, so float32 kernels see
 * the same operands as a float64 reference. */
static inline void fill(double *p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    p[i] = (double)((seed >> 8) & 0xffff) / 32768.0 - 1.0;
  }
}

static inline double max_abs(const double *p, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fabs(p[i]) > m ? fabs(p[i]) : m;
  return m;
}

/* max |got - ref| / max |ref| (the absolute error where ref is all zero);
 * NaN in got (a NaN start left unwritten) makes it NaN, which fails every
 * bound. */
static inline double rel_err_f64(const double *got, const double *ref, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(got[i] - ref[i]);
    if (!(d <= e)) e = d;
  }
  double s = max_abs(ref, n);
  return s > 0 ? e / s : e;
}

static inline double rel_err_f32(const float *got, const double *ref, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    if (!(d <= e)) e = d;
  }
  double s = max_abs(ref, n);
  return s > 0 ? e / s : e;
}

/* A float32 copy (eq_malloc: free with eq_free). */
static inline float *to_f32(const double *p, size_t n) {
  float *q = eq_malloc(n * sizeof *q);
  for (size_t i = 0; i < n; i++) q[i] = (float)p[i];
  return q;
}

#endif
