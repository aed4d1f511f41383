/* Per-rank k-means kernels (kmeans_kernels.h) in the data's dtype. */
#include "algo/kmeans_kernels.h"

#include <omp.h>

#define T float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#include "algo/kmeans_impl.h"
#undef T
#undef SFX
#undef GEMM
#define T double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#include "algo/kmeans_impl.h"

void eq_km_assign(const eq_mat *X, const double *C, int64_t k, int64_t *labels, double *mind,
                  double *sums, double *counts, double *inertia, int64_t *changed) {
  if (X->n_local == 0) {
    for (int64_t i = 0; sums && i < k * X->d; i++) sums[i] = 0;
    for (int64_t i = 0; counts && i < k; i++) counts[i] = 0;
    if (inertia) *inertia = 0;
    if (changed) *changed = 0;
    return;
  }
  if (X->dt == EQ_F32)
    assign_f32(X->x, X->n_local, X->d, C, k, labels, mind, sums, counts, inertia, changed);
  else
    assign_f64(X->x, X->n_local, X->d, C, k, labels, mind, sums, counts, inertia, changed);
}

void eq_km_update_mind(const eq_mat *X, const double *C, int64_t k, double *mind) {
  if (X->n_local == 0) return;
  if (X->dt == EQ_F32)
    update_mind_f32(X->x, X->n_local, X->d, C, k, mind);
  else
    update_mind_f64(X->x, X->n_local, X->d, C, k, mind);
}
