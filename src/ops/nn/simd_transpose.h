/* A 16 x 16 float32 block transposed in AVX-512 registers: used by the
 * Winograd lane rearrangement (conv_winograd.c) and the small GEMMs of
 * attention and the linear layers (tile_gemm.c). */
#ifndef EQ_OPS_NN_SIMD_TRANSPOSE_H
#define EQ_OPS_NN_SIMD_TRANSPOSE_H

#if defined(__AVX512F__)
#include <immintrin.h>
#include <stdint.h>

/* dst[p * ldd + l] = src[l * lds + p] for p, l < 16: 16 rows in, 64
 * shuffles, 16 rows out, instead of 256 scalar moves. */
static inline void eq_transpose16_f32(const float *src, int64_t lds, float *dst, int64_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) { /* interleave pairs of rows */
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) { /* 4 x 4 blocks within each 128-bit lane */
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) { /* then the 128-bit lanes */
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
  for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + i * ldd, r[i]);
}
#endif

#endif
