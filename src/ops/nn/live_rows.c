/* Row sparsity of a gradient (see live_rows.h). */
#include "ops/nn/live_rows.h"

/* Whether a row of n floats of `word` bytes has a nonzero bit outside the
 * sign bits: 64-byte chunks ORed without branches, which GCC vectorises,
 * and a test after each, so a dense row is decided by its first chunk. */
#define ROW_IS_LIVE(T, SIGN)                                                                                           \
  static bool row_is_live_##T(const T *w, int64_t n) {                                                                 \
    enum { CHUNK = 64 / sizeof(T) };                                                                                   \
    int64_t j = 0;                                                                                                     \
    for (; j + CHUNK <= n; j += CHUNK) {                                                                               \
      T any = 0;                                                                                                       \
      for (int e = 0; e < CHUNK; e++) any |= w[j + e];                                                                 \
      if (any & ~(T)(SIGN)) return true;                                                                               \
    }                                                                                                                  \
    T any = 0;                                                                                                         \
    for (; j < n; j++) any |= w[j];                                                                                    \
    return (any & ~(T)(SIGN)) != 0;                                                                                    \
  }
ROW_IS_LIVE(uint32_t, 0x80000000u)
ROW_IS_LIVE(uint64_t, 0x8000000000000000ull)
#undef ROW_IS_LIVE

int64_t eq_nn_live_rows(eq_dtype dt, const void *g, int64_t m, int64_t n, int64_t *idx) {
  /* under 8 rows, 7 in 8 would be every row */
  const int64_t limit = eq_nn_live_rows_room(m) - 1;
  if (m < 8) return -1;
  int64_t k = 0;
  for (int64_t r = 0; r < m && k <= limit; r++) {
    bool live = dt == EQ_F32 ? row_is_live_uint32_t((const uint32_t *)g + r * n, n)
                             : row_is_live_uint64_t((const uint64_t *)g + r * n, n);
    if (live) idx[k++] = r;
  }
  return k > limit ? -1 : k;
}

void eq_nn_gather_rows(const void *src, size_t row_bytes, int64_t k, const int64_t *idx, void *dst) {
  for (int64_t r = 0; r < k; r++)
    memcpy((char *)dst + (size_t)r * row_bytes, (const char *)src + (size_t)idx[r] * row_bytes, row_bytes);
}

void eq_nn_scatter_rows(eq_dtype dt, const void *src, int64_t n, int64_t k, const int64_t *idx, void *dst, int64_t m,
                        bool fresh) {
  size_t es = eq_dtype_size(dt), row = (size_t)n * es;
  if (fresh) {
    /* the rows between live ones, then the live ones */
    int64_t next = 0;
    for (int64_t r = 0; r <= k; r++) {
      int64_t upto = r < k ? idx[r] : m;
      memset((char *)dst + (size_t)next * row, 0, (size_t)(upto - next) * row);
      if (r < k) memcpy((char *)dst + (size_t)upto * row, (const char *)src + (size_t)r * row, row);
      next = upto + 1;
    }
    return;
  }
  for (int64_t r = 0; r < k; r++) {
    if (dt == EQ_F32) {
      float *d = (float *)dst + idx[r] * n;
      const float *s = (const float *)src + r * n;
      for (int64_t j = 0; j < n; j++) d[j] += s[j];
    } else {
      double *d = (double *)dst + idx[r] * n;
      const double *s = (const double *)src + r * n;
      for (int64_t j = 0; j < n; j++) d[j] += s[j];
    }
  }
}
