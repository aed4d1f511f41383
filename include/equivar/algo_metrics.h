/* Metrics (accuracy, R^2, NMI, adjusted Rand, silhouette) and pairwise
 * kernels (rbf, manhattan) on row-distributed data. All metrics are
 * collective and return the same value on every rank. Labels are integer
 * tensors (int32/int64) with values >= 0. See algo.h. */
#ifndef EQUIVAR_ALGO_METRICS_H
#define EQUIVAR_ALGO_METRICS_H

#include "equivar/algo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fraction of equal labels. */
eq_status eq_accuracy(eq_rows y_true, eq_rows y_pred, double *out);

typedef enum eq_r2_mode {
  EQ_R2_UNIFORM_AVERAGE = 0, /* scikit-learn's r2_score: the mean of the R^2 of
                                each output column (a constant column scores 1
                                if predicted exactly, else 0) */
  EQ_R2_GLOBAL_MEAN          /* 1 - sum (y - yhat)^2 / sum (y - mean)^2 with ONE
                                scalar mean over all outputs (the reference
                                code of the equivariance benchmarks) */
} eq_r2_mode;
/* y, yhat: (n,) or (n, t) float. */
eq_status eq_r2_score(eq_rows y_true, eq_rows y_pred, eq_r2_mode mode, double *out);

/* Normalised mutual information (arithmetic mean of the entropies, as
 * scikit-learn's default) and the adjusted Rand index of two labelings. */
eq_status eq_nmi_score(eq_rows labels_a, eq_rows labels_b, double *out);
eq_status eq_adjusted_rand_score(eq_rows labels_a, eq_rows labels_b, double *out);

/* Mean silhouette coefficient (Euclidean). Memory per rank O(n_local x
 * block); the other ranks' rows travel around a ring. */
eq_status eq_silhouette_score(eq_rows X, eq_rows labels, double *out);

/* Pairwise kernels between the rows of A (split or replicated) and B
 * (replicated, same dtype or converted): results (n_local_A, n_B) in A's
 * dtype, split like A, so memory per rank is O(rows / ranks x n_B). (Plain
 * Euclidean distances of distributed arrays: eq_dnd_cdist in dnd.h; the
 * same kernels on eq_dnd arrays: eq_dnd_rbf, eq_dnd_manhattan in algo_dnd.h.) */
/* exp(-gamma |a - b|^2), |a - b|^2 by the quadratic expansion (one GEMM,
 * clamped at 0); gamma <= 0 means 1 / n_features, as scikit-learn. */
eq_tensor *eq_rbf_kernel(eq_rows A, const eq_tensor *B, double gamma);
/* sum_j |a_j - b_j|, exact. */
eq_tensor *eq_manhattan_distances(eq_rows A, const eq_tensor *B);

#ifdef __cplusplus
}
#endif
#endif
