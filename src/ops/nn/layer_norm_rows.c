/* Layer norm rows in AVX-512 (layer_norm_rows.h). The portable loops in
 * layer_norm.c reduce each row's sums through the stack, element by
 * element, and test the optional weight in the loop. Here a row's sums
 * stay in four vector accumulators and reduce in registers: ViT-Tiny's
 * norms at [64,65,192], 2 threads, forward 0.077-0.079 -> 0.057 ms,
 * backward unchanged (nn_ops_bench); their share of its training step
 * 2.0 -> 1.4-1.8 % (perf). The arithmetic is the portable loops' (two
 * passes for the variance, rstd in double). */
#include "ops/nn/layer_norm_rows.h"

#ifdef __AVX512F__
#include <immintrin.h>
#include <math.h>

enum { VEC = 16, PREFETCH_ROWS = 2 };

static bool takes(int64_t D) { return D > 0 && D % VEC == 0; }

/* sum over the row of f(i) for vectors i, four accumulators side by side */
#define ROW_SUM(result, EXPR)                                                                                          \
  do {                                                                                                                 \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                                          \
    int64_t i = 0;                                                                                                     \
    for (; i + 4 * VEC <= D; i += 4 * VEC) {                                                                           \
      acc0 = _mm512_add_ps(acc0, EXPR(i));                                                                             \
      acc1 = _mm512_add_ps(acc1, EXPR(i + VEC));                                                                       \
      acc2 = _mm512_add_ps(acc2, EXPR(i + 2 * VEC));                                                                   \
      acc3 = _mm512_add_ps(acc3, EXPR(i + 3 * VEC));                                                                   \
    }                                                                                                                  \
    for (; i < D; i += VEC) acc0 = _mm512_add_ps(acc0, EXPR(i));                                                       \
    result = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));                \
  } while (0)

bool eq_ln_row_fwd_f32(const float *x, const float *w, const float *b, float *y, int64_t D, double eps, double *mean,
                       double *rstd) {
  if (!takes(D)) return false;
  float s, q;
#define X_AT(i) _mm512_loadu_ps(x + (i))
  ROW_SUM(s, X_AT);
  const float m = s / (float)D;
  const __m512 vm = _mm512_set1_ps(m);
#define DEV_SQ_AT(i) _mm512_mul_ps(_mm512_sub_ps(X_AT(i), vm), _mm512_sub_ps(X_AT(i), vm))
  ROW_SUM(q, DEV_SQ_AT);
  const float is = (float)(1.0 / sqrt((double)(q / (float)D) + eps));
  const __m512 vis = _mm512_set1_ps(is), one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  for (int64_t i = 0; i < D; i += VEC) {
    __m512 xh = _mm512_mul_ps(_mm512_sub_ps(X_AT(i), vm), vis);
    __m512 wv = w ? _mm512_loadu_ps(w + i) : one, bv = b ? _mm512_loadu_ps(b + i) : zero;
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(xh, wv, bv));
  }
#undef DEV_SQ_AT
  *mean = m;
  *rstd = is;
  return true;
}

bool eq_ln_row_bwd_f32(const float *x, const float *w, const float *dy, float *dx, bool fresh_dx, float mean,
                       float rstd, int64_t D, float *dw_acc, float *db_acc) {
  if (!takes(D)) return false;
  const __m512 vm = _mm512_set1_ps(mean), vis = _mm512_set1_ps(rstd);
  __m512 s1v = _mm512_setzero_ps(), s2v = s1v;
  for (int64_t i = 0; i < D; i += VEC) {
    /* two rows ahead into L1: without, this backward took 0.112-0.119 ms
     * for [64,65,192] on 2 threads, with it 0.101-0.108 (nn_ops_bench) */
    _mm_prefetch((const char *)(x + i + PREFETCH_ROWS * D), _MM_HINT_T0);
    _mm_prefetch((const char *)(dy + i + PREFETCH_ROWS * D), _MM_HINT_T0);
    __m512 gy = _mm512_loadu_ps(dy + i), xh = _mm512_mul_ps(_mm512_sub_ps(X_AT(i), vm), vis);
    __m512 g = w ? _mm512_mul_ps(gy, _mm512_loadu_ps(w + i)) : gy;
    s1v = _mm512_add_ps(s1v, g);
    s2v = _mm512_fmadd_ps(g, xh, s2v);
    _mm512_storeu_ps(dw_acc + i, _mm512_fmadd_ps(gy, xh, _mm512_loadu_ps(dw_acc + i)));
    _mm512_storeu_ps(db_acc + i, _mm512_add_ps(gy, _mm512_loadu_ps(db_acc + i)));
  }
  if (!dx) return true;
  const __m512 s1 = _mm512_set1_ps(_mm512_reduce_add_ps(s1v) / (float)D);
  const __m512 s2 = _mm512_set1_ps(_mm512_reduce_add_ps(s2v) / (float)D);
  for (int64_t i = 0; i < D; i += VEC) {
    __m512 gy = _mm512_loadu_ps(dy + i), xh = _mm512_mul_ps(_mm512_sub_ps(X_AT(i), vm), vis);
    __m512 g = w ? _mm512_mul_ps(gy, _mm512_loadu_ps(w + i)) : gy;
    __m512 d = _mm512_mul_ps(vis, _mm512_fnmadd_ps(xh, s2, _mm512_sub_ps(g, s1)));
    _mm512_storeu_ps(dx + i, fresh_dx ? d : _mm512_add_ps(_mm512_loadu_ps(dx + i), d));
  }
  return true;
}
#undef X_AT
#undef ROW_SUM

#else

bool eq_ln_row_fwd_f32(const float *x, const float *w, const float *b, float *y, int64_t D, double eps, double *mean,
                       double *rstd) {
  (void)x, (void)w, (void)b, (void)y, (void)D, (void)eps, (void)mean, (void)rstd;
  return false;
}

bool eq_ln_row_bwd_f32(const float *x, const float *w, const float *dy, float *dx, bool fresh_dx, float mean,
                       float rstd, int64_t D, float *dw_acc, float *db_acc) {
  (void)x, (void)w, (void)dy, (void)dx, (void)fresh_dx, (void)mean, (void)rstd, (void)D, (void)dw_acc, (void)db_acc;
  return false;
}

#endif
