/* e^a on 16 floats for a <= 0 (or a little above): GELU's tail and the
 * softmax's shifted scores. a = n ln2 + r with a two-part ln2, Cephes'
 * degree-6 polynomial for e^r (as fast_math.h's eq_expf), 2^n through
 * vscalefps, so no exponent-bit arithmetic and no clamps: -inf and anything
 * below -86.6 give 0 (as eq_expf flushes), NaN stays NaN. */
#ifndef EQ_OPS_AVX512_EXP_H
#define EQ_OPS_AVX512_EXP_H

#ifdef __AVX512F__
#include <immintrin.h>

/* The same on nv vectors side by side (nv a literal at the call: the
 * loops unroll and the independent chains overlap). */
static inline __attribute__((always_inline)) void eq_exp_nonpos_ps_n(int nv, const __m512 *a, __m512 *out) {
  __m512 n[4], r[4], p[4];
  for (int u = 0; u < nv; u++)
    n[u] = _mm512_roundscale_ps(_mm512_mul_ps(a[u], _mm512_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  for (int u = 0; u < nv; u++) r[u] = _mm512_fnmadd_ps(n[u], _mm512_set1_ps(0.693359375f), a[u]);
  for (int u = 0; u < nv; u++) r[u] = _mm512_fnmadd_ps(n[u], _mm512_set1_ps(-2.12194440e-4f), r[u]);
  for (int u = 0; u < nv; u++) p[u] = _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500e-4f), r[u], _mm512_set1_ps(1.3981999507e-3f));
  for (int u = 0; u < nv; u++) p[u] = _mm512_fmadd_ps(p[u], r[u], _mm512_set1_ps(8.3334519073e-3f));
  for (int u = 0; u < nv; u++) p[u] = _mm512_fmadd_ps(p[u], r[u], _mm512_set1_ps(4.1665795894e-2f));
  for (int u = 0; u < nv; u++) p[u] = _mm512_fmadd_ps(p[u], r[u], _mm512_set1_ps(1.6666665459e-1f));
  for (int u = 0; u < nv; u++) p[u] = _mm512_fmadd_ps(p[u], r[u], _mm512_set1_ps(5.0000001201e-1f));
  for (int u = 0; u < nv; u++) {
    __m512 e = _mm512_fmadd_ps(_mm512_mul_ps(p[u], r[u]), r[u], _mm512_add_ps(r[u], _mm512_set1_ps(1.0f)));
    /* "not less than" is true for NaN: it passes through (as NaN) */
    out[u] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a[u], _mm512_set1_ps(-86.6f), _CMP_NLT_UQ), _mm512_scalef_ps(e, n[u]));
  }
}

static inline __m512 eq_exp_nonpos_ps(__m512 a) {
  __m512 e;
  eq_exp_nonpos_ps_n(1, &a, &e);
  return e;
}
#endif

#endif
