/* dtype-generic BLAS helpers of common.h: the data stay in their dtype (a
 * float32 matrix is never promoted), small operands are converted, products
 * are accumulated in float64 per block of rows. */
#include <omp.h>

#include "algo/common.h"

#define T float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#define SYRK cblas_ssyrk
#include "algo/blas_impl.h"
#undef T
#undef SFX
#undef GEMM
#undef SYRK
#define T double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#define SYRK cblas_dsyrk
#include "algo/blas_impl.h"

eq_status eq_mat_xw(const eq_mat *X, const double *W, int64_t k, const double *shift, double *out) {
  if (X->n_local == 0 || k == 0) return EQ_OK;
  if (X->dt == EQ_F32)
    xw_f32(X->x, X->n_local, X->d, W, k, shift, out);
  else
    xw_f64(X->x, X->n_local, X->d, W, k, shift, out);
  return EQ_OK;
}

eq_status eq_mat_xtv(const eq_mat *X, const double *V, int64_t k, double *out) {
  if (X->n_local == 0) {
    for (int64_t i = 0; i < X->d * k; i++) out[i] = 0;
    return EQ_OK;
  }
  if (X->dt == EQ_F32)
    xtv_f32(X->x, X->n_local, X->d, V, k, out);
  else
    xtv_f64(X->x, X->n_local, X->d, V, k, out);
  return EQ_OK;
}

eq_status eq_mat_gram_local(const eq_mat *X, const double *mean, double *G) {
  if (X->n_local == 0) {
    for (int64_t i = 0; i < X->d * X->d; i++) G[i] = 0;
    return EQ_OK;
  }
  if (X->dt == EQ_F32)
    gram_f32(X->x, X->n_local, X->d, mean, G);
  else
    gram_f64(X->x, X->n_local, X->d, mean, G);
  return EQ_OK;
}
