/* Loop templates of the elementwise kernels: one tight loop per (op, dtype)
 * and layout (contiguous, scalar operand, strided) so the compiler
 * vectorises the contiguous cases; no per-element calls through pointers. */
#ifndef EQ_ELEMENTWISE_KERNELS_H
#define EQ_ELEMENTWISE_KERNELS_H

#include <stdint.h>

/* out = EXPR(a, b) over n elements; ptr/stride as eq_iter_kernel. */
#define EQ_BIN_LOOPS(TO, TI, EXPR)                                                       \
  do {                                                                                   \
    char *po_ = ptr[0];                                                                  \
    const char *pa_ = ptr[1], *pb_ = ptr[2];                                             \
    int64_t so_ = stride[0], sa_ = stride[1], sb_ = stride[2];                           \
    if (so_ == (int64_t)sizeof(TO) && sa_ == (int64_t)sizeof(TI) && sb_ == (int64_t)sizeof(TI)) { \
      TO *restrict o_ = (TO *)po_;                                                       \
      const TI *restrict x_ = (const TI *)pa_, *restrict y_ = (const TI *)pb_;           \
      for (int64_t i_ = 0; i_ < n; i_++) {                                               \
        TI a = x_[i_], b = y_[i_];                                                       \
        o_[i_] = (TO)(EXPR);                                                             \
      }                                                                                  \
    } else if (so_ == (int64_t)sizeof(TO) && sa_ == (int64_t)sizeof(TI) && sb_ == 0) {   \
      TO *restrict o_ = (TO *)po_;                                                       \
      const TI *restrict x_ = (const TI *)pa_;                                           \
      const TI b = *(const TI *)pb_;                                                     \
      for (int64_t i_ = 0; i_ < n; i_++) {                                               \
        TI a = x_[i_];                                                                   \
        o_[i_] = (TO)(EXPR);                                                             \
      }                                                                                  \
    } else if (so_ == (int64_t)sizeof(TO) && sa_ == 0 && sb_ == (int64_t)sizeof(TI)) {   \
      TO *restrict o_ = (TO *)po_;                                                       \
      const TI *restrict y_ = (const TI *)pb_;                                           \
      const TI a = *(const TI *)pa_;                                                     \
      for (int64_t i_ = 0; i_ < n; i_++) {                                               \
        TI b = y_[i_];                                                                   \
        o_[i_] = (TO)(EXPR);                                                             \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t i_ = 0; i_ < n; i_++, po_ += so_, pa_ += sa_, pb_ += sb_) {           \
        TI a = *(const TI *)pa_, b = *(const TI *)pb_;                                   \
        *(TO *)po_ = (TO)(EXPR);                                                         \
      }                                                                                  \
    }                                                                                    \
  } while (0)

/* out = EXPR(a) over n elements. */
#define EQ_UN_LOOPS(TO, TI, EXPR)                                                        \
  do {                                                                                   \
    char *po_ = ptr[0];                                                                  \
    const char *pa_ = ptr[1];                                                            \
    int64_t so_ = stride[0], sa_ = stride[1];                                            \
    if (so_ == (int64_t)sizeof(TO) && sa_ == (int64_t)sizeof(TI)) {                      \
      TO *restrict o_ = (TO *)po_;                                                       \
      const TI *restrict x_ = (const TI *)pa_;                                           \
      for (int64_t i_ = 0; i_ < n; i_++) {                                               \
        TI a = x_[i_];                                                                   \
        o_[i_] = (TO)(EXPR);                                                             \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t i_ = 0; i_ < n; i_++, po_ += so_, pa_ += sa_) {                       \
        TI a = *(const TI *)pa_;                                                         \
        *(TO *)po_ = (TO)(EXPR);                                                         \
      }                                                                                  \
    }                                                                                    \
  } while (0)

/* acc += EXPR(g, x, y) over n elements, or acc = EXPR when STORE (a fresh
 * buffer, never zero-filled): ptr[0] the gradient being written, ptr[1] the
 * output gradient g, ptr[2] / ptr[3] two saved tensors x and y (an input and
 * the output, or both inputs). */
#define EQ_GRAD_LOOPS(T, STORE, EXPR)                                                    \
  do {                                                                                   \
    char *p0_ = ptr[0];                                                                  \
    const char *p1_ = ptr[1], *p2_ = ptr[2], *p3_ = ptr[3];                              \
    int64_t s0_ = stride[0], s1_ = stride[1], s2_ = stride[2], s3_ = stride[3];          \
    const int64_t e_ = (int64_t)sizeof(T);                                               \
    const bool store_ = (STORE);                                                         \
    if (s0_ == e_ && s1_ == e_ && s2_ == e_ && s3_ == e_) {                              \
      T *restrict o_ = (T *)p0_;                                                         \
      const T *restrict g_ = (const T *)p1_, *restrict xx_ = (const T *)p2_,             \
                        *restrict yy_ = (const T *)p3_;                                  \
      if (store_) {                                                                      \
        for (int64_t i_ = 0; i_ < n; i_++) {                                             \
          T g = g_[i_], x = xx_[i_], y = yy_[i_];                                        \
          (void)g, (void)x, (void)y;                                                     \
          o_[i_] = (EXPR);                                                               \
        }                                                                                \
      } else {                                                                           \
        for (int64_t i_ = 0; i_ < n; i_++) {                                             \
          T g = g_[i_], x = xx_[i_], y = yy_[i_];                                        \
          (void)g, (void)x, (void)y;                                                     \
          o_[i_] += (EXPR);                                                              \
        }                                                                                \
      }                                                                                  \
    } else {                                                                             \
      for (int64_t i_ = 0; i_ < n; i_++, p0_ += s0_, p1_ += s1_, p2_ += s2_, p3_ += s3_) { \
        T g = *(const T *)p1_, x = *(const T *)p2_, y = *(const T *)p3_;                 \
        (void)g, (void)x, (void)y;                                                       \
        T v_ = (EXPR);                                                                   \
        *(T *)p0_ = store_ ? v_ : *(T *)p0_ + v_;                                        \
      }                                                                                  \
    }                                                                                    \
  } while (0)

#endif
