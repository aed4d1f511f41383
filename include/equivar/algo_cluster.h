/* Clustering: k-means (Lloyd) with random, k-means++ and scalable k-means||
 * initialisation, HeAT's k-medians and k-medoids, batch-parallel k-means,
 * and spectral clustering. See algo.h for the conventions every estimator
 * follows. */
#ifndef EQUIVAR_ALGO_CLUSTER_H
#define EQUIVAR_ALGO_CLUSTER_H

#include "equivar/algo.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eq_kmeans_init {
  EQ_KMEANS_RANDOM = 0,   /* k distinct rows drawn uniformly */
  EQ_KMEANS_PLUSPLUS,     /* greedy k-means++ (Arthur & Vassilvitskii 2007; the best
                             of 2 + ln k D^2-sampled rows per centre, as scikit-learn) */
  EQ_KMEANS_PARALLEL,     /* k-means|| (Bahmani et al. 2012): a few rounds of
                             oversampling, then weighted k-means++ of the candidates */
  EQ_KMEANS_GIVEN         /* params.init_centers */
} eq_kmeans_init;

typedef enum eq_kmeans_variant {
  EQ_KMEANS_LLOYD = 0,      /* k-means: squared Euclidean, centre = mean */
  EQ_KMEDIANS,              /* HeAT's KMedians: Manhattan assignment, centre =
                               coordinate-wise median (exact, distributed by
                               bisection: 64 all-reduces per iteration) */
  EQ_KMEDOIDS,              /* HeAT's KMedoids: as k-medians, then the centre
                               snaps to its member row closest to the median */
  EQ_KMEANS_BATCH_PARALLEL  /* HeAT's BatchParallelKMeans: each rank clusters
                               its own rows (Lloyd, no communication), then the
                               ranks' k centres, weighted by their sizes, are
                               clustered into k (weighted k-means++ + Lloyd) */
} eq_kmeans_variant;

typedef struct eq_kmeans_params {
  int n_clusters;                 /* k >= 1, and k <= n_samples at fit */
  eq_kmeans_init init;
  const eq_tensor *init_centers;  /* (k, d), any float dtype; for EQ_KMEANS_GIVEN */
  int max_iter;                   /* Lloyd iterations, >= 1 (default 300) */
  /* Stop when the summed squared centre shift <= tol * mean column variance
   * of X (scikit-learn's rule); also stops when no label changes. */
  double tol;                     /* default 1e-4 */
  uint64_t seed;                  /* for the random initialisations */
  double oversampling;            /* k-means||: expected candidates per round, in
                                     units of k (default 2, i.e. l = 2k) */
  int rounds;                     /* k-means|| rounds (default 5) */
  eq_kmeans_variant variant;      /* default EQ_KMEANS_LLOYD */
} eq_kmeans_params;

typedef struct eq_kmeans {
  eq_kmeans_params params;
  eq_tensor *cluster_centers; /* (k, d) float64 after fit */
  double inertia;             /* sum of squared distances to the closest centre
                                 (k-medians/medoids: of Manhattan distances) */
  int n_iter;                 /* Lloyd iterations run */
} eq_kmeans;

eq_kmeans_params eq_kmeans_defaults(int n_clusters);
eq_kmeans *eq_kmeans_new(const eq_kmeans_params *params);
/* X: (n, d) float32/float64 without NaN/Inf. Computes in X's dtype (float32
 * stays float32; sums of a cluster accumulate in float64). */
eq_status eq_kmeans_fit(eq_kmeans *m, eq_rows X);
/* Index of the closest centre for each local row: int64 (n_local,). */
eq_tensor *eq_kmeans_predict(const eq_kmeans *m, eq_rows X);
/* Labels of the training rows as fit would assign them, and the inertia of
 * X (collective: the global sum) into *inertia when non-NULL. */
eq_tensor *eq_kmeans_predict_inertia(const eq_kmeans *m, eq_rows X, double *inertia);
void eq_kmeans_free(eq_kmeans *m);

/* Only the initialisation: (k, d) float64 centres, replicated. */
eq_tensor *eq_kmeans_init_centers(const eq_kmeans_params *params, eq_rows X);

/* ------------------------------------------------------------- spectral
 * Spectral clustering (scikit-learn's SpectralClustering, affinity "rbf"):
 * affinity exp(-gamma |x - y|^2) without the diagonal, the k leading
 * eigenvectors of D^-1/2 W D^-1/2 by eq_dnd_lanczos (full
 * reorthogonalisation; a pass whose k Ritz pairs have residual norms above
 * 1e-9 restarts from the sum of their Ritz vectors with twice the steps, up
 * to n), divided by sqrt(degree), then the best of n_init k-means++ runs on
 * those rows. Each rank holds its rows of the affinity and of the Lanczos
 * basis (O(n (n + krylov) / P) memory) and a replicated copy of X. */
typedef struct eq_spectral_params {
  int n_clusters; /* >= 2 */
  double gamma;   /* rbf width (default 1) */
  int krylov;     /* Lanczos steps of the first pass; 0: min(n, 4k + 40) */
  int n_init;     /* k-means restarts (default 10) */
  uint64_t seed;
} eq_spectral_params;

typedef struct eq_spectral {
  eq_spectral_params params;
  eq_tensor *labels;      /* int64 (n_local,): the labels of this rank's rows */
  eq_tensor *eigenvalues; /* (k,) the leading eigenvalues of D^-1/2 W D^-1/2 */
  int64_t krylov_steps;   /* Lanczos steps of the last (converged) pass */
  int restarts;           /* passes restarted because a wanted pair had not converged */
  double residual;        /* max |A y - theta y| of the k Ritz pairs (<= 1e-9 unless
                             the steps reached n) */
} eq_spectral;

eq_spectral_params eq_spectral_defaults(int n_clusters);
eq_spectral *eq_spectral_new(const eq_spectral_params *params);
/* Fits and labels X's rows (scikit-learn's fit_predict; there is no predict
 * for new rows). */
eq_status eq_spectral_fit(eq_spectral *m, eq_rows X);
void eq_spectral_free(eq_spectral *m);

#ifdef __cplusplus
}
#endif
#endif
