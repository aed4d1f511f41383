/* Clustering: k-means (Lloyd) with random, k-means++ and scalable k-means||
 * initialisation. See algo.h for the conventions every estimator follows. */
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
} eq_kmeans_params;

typedef struct eq_kmeans {
  eq_kmeans_params params;
  eq_tensor *cluster_centers; /* (k, d) float64 after fit */
  double inertia;             /* sum of squared distances to the closest centre */
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

#ifdef __cplusplus
}
#endif
#endif
