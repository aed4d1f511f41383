/* Per-rank k-means kernels; the estimator (kmeans.c) adds the reductions. */
#ifndef EQ_ALGO_KMEANS_KERNELS_H
#define EQ_ALGO_KMEANS_KERNELS_H

#include "algo/common.h"

/* For each local row the closest of the k centres C (k x d, f64): labels
 * (counts label changes into *changed), exact squared distance (mind),
 * per-cluster sums (k x d) and counts (k), and their total (inertia). Any
 * output may be NULL. Local: nothing is reduced. */
void eq_km_assign(const eq_mat *X, const double *C, int64_t k, int64_t *labels, double *mind,
                  double *sums, double *counts, double *inertia, int64_t *changed);
/* mind[i] = min(mind[i], |x_i - c_j|^2 over the k centres C). */
void eq_km_update_mind(const eq_mat *X, const double *C, int64_t k, double *mind);

/* Manhattan assignment: labels (counts changes), per-cluster counts and
 * the summed distances; local. */
void eq_km_assign_l1(const eq_mat *X, const double *C, int64_t k, int64_t *labels, double *counts,
                     double *inertia, int64_t *changed);
/* C[c] = coordinate-wise median of the rows labelled c; collective. counts
 * (k + 1) holds this rank's cluster counts and one more figure on entry, and
 * their sums over the ranks on return (they travel with the first round).
 * Empty clusters keep their centre. */
eq_status eq_km_medians(const eq_mat *X, const int64_t *labels, int64_t k, double *counts, double *C);
/* Each non-empty centre moves to its closest member row (Manhattan). */
eq_status eq_km_snap_medoids(const eq_mat *X, const int64_t *labels, int64_t k, const double *counts, double *C);
/* Weighted k-means++ then weighted Lloyd on m replicated points P (m x d). */
void eq_km_recluster(const double *P, const double *w, int64_t m, int64_t d, int64_t k, uint64_t seed, double *C);

#endif
