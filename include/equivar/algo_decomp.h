/* Decomposition: PCA (full, through a TSQR of the centred data and an SVD of
 * its small R factor; or randomised, Halko et al. 2011) and incremental PCA
 * (partial_fit, as scikit-learn's IncrementalPCA). See algo.h. */
#ifndef EQUIVAR_ALGO_DECOMP_H
#define EQUIVAR_ALGO_DECOMP_H

#include "equivar/algo.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eq_pca_solver {
  EQ_PCA_FULL = 0,  /* exact: TSQR (per-rank Householder QR, then QR of the
                       stacked R factors) and an SVD of the d x d R */
  EQ_PCA_RANDOMIZED, /* range finder with power iterations; needs n_components < d */
  EQ_PCA_HIERARCHICAL /* HeAT's hierarchical SVD (eq_dnd_hsvd of the centred
                         rows, safetyshift = n_oversamples): each rank keeps
                         the k + n_oversamples leading directions (S V) of its
                         block, the factors are merged pairwise up a binary
                         tree over the ranks (ceil(log2 P) levels), truncating
                         at every merge, to k at the root; exact when k +
                         n_oversamples >= the rank of the data, else
                         approximate. Forms the centred local rows (float64). */
} eq_pca_solver;

typedef struct eq_pca_params {
  int n_components;  /* 1 <= k <= min(n, d) */
  eq_pca_solver solver;
  bool whiten;       /* transform divides by sqrt(explained_variance) */
  int n_oversamples; /* randomised, hierarchical: extra directions (default 10) */
  int n_iter;        /* randomised: power iterations (default 7, as scikit-learn
                        when k < 0.1 min(n, d); 4 otherwise: -1 chooses) */
  uint64_t seed;
} eq_pca_params;

typedef struct eq_pca {
  eq_pca_params params;
  int64_t n_samples, n_features;
  eq_tensor *mean;                     /* (d,) */
  eq_tensor *components;               /* (k, d), rows orthonormal; signs as
                                          scikit-learn's svd_flip (largest |u| > 0
                                          is not available for split rows: we make
                                          the largest |component| entry positive) */
  eq_tensor *explained_variance;       /* (k,), ddof = 1 */
  eq_tensor *explained_variance_ratio; /* (k,) */
  eq_tensor *singular_values;          /* (k,) */
  double noise_variance;               /* mean of the discarded variances (full) */
  eq_tensor *var;                      /* (d,) per-feature variance (partial_fit) */
} eq_pca;

eq_pca_params eq_pca_defaults(int n_components);
eq_pca *eq_pca_new(const eq_pca_params *params);
eq_status eq_pca_fit(eq_pca *m, eq_rows X);
/* IncrementalPCA: merges one more batch (its rows split or replicated)
 * into the model: TSQR of the centred batch, then one SVD of the stack
 * [singular_values x components; R; mean correction] (replicated, small).
 * The first batch needs >= n_components rows. fit() forgets the batches;
 * signs follow scikit-learn's IncrementalPCA (largest |component| entry
 * positive). params.solver is ignored. */
eq_status eq_pca_partial_fit(eq_pca *m, eq_rows X);
/* (n_local, k) in X's dtype: (X - mean) components^T [/ sqrt(ev)]. */
eq_tensor *eq_pca_transform(const eq_pca *m, eq_rows X);
/* (n_local, d) in Z's dtype from Z (n_local, k). */
eq_tensor *eq_pca_inverse_transform(const eq_pca *m, eq_rows Z);
void eq_pca_free(eq_pca *m);

#ifdef __cplusplus
}
#endif
#endif
