/* Classification: k-nearest neighbours (Euclidean or cosine, uniform,
 * distance or exp(similarity / T) weighted votes: the kNN protocol of the SSL
 * papers) and Gaussian naive Bayes with partial_fit. See algo.h. */
#ifndef EQUIVAR_ALGO_CLASSIFY_H
#define EQUIVAR_ALGO_CLASSIFY_H

#include "equivar/algo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- kNN */
typedef enum eq_knn_metric { EQ_KNN_EUCLIDEAN = 0, EQ_KNN_COSINE } eq_knn_metric;
typedef enum eq_knn_weights {
  EQ_KNN_UNIFORM = 0, /* one vote each */
  EQ_KNN_DISTANCE,    /* 1 / distance (an exact match takes all the weight) */
  EQ_KNN_EXP          /* exp(cosine similarity / temperature) (Wu et al. 2018) */
} eq_knn_weights;

typedef struct eq_knn_params {
  int n_neighbors;    /* >= 1, <= n_train */
  eq_knn_metric metric;
  eq_knn_weights weights;
  double temperature; /* EQ_KNN_EXP (default 0.07) */
  int n_classes;      /* 0: global max label + 1 */
} eq_knn_params;

/* fit keeps a reference to the training rows (the caller keeps them alive
 * and unchanged until the model is freed) plus their squared norms. */
typedef struct eq_knn {
  eq_knn_params params;
  int n_classes;
  eq_rows X, y;
  int64_t n_train;
  void *priv; /* cached norms */
} eq_knn;

eq_knn_params eq_knn_defaults(int n_neighbors);
eq_knn *eq_knn_new(const eq_knn_params *params);
/* X (n, d) float; y (n,) int32/int64 labels >= 0. */
eq_status eq_knn_fit(eq_knn *m, eq_rows X, eq_rows y);
/* The queries may be split or replicated, over the same communicator as the
 * training rows when either is split. Each rank scores the queries against
 * its training block; the k best candidates per query are merged over the
 * ranks (memory O(queries x k) plus one block of distances). */
eq_tensor *eq_knn_predict(const eq_knn *m, eq_rows Q);       /* int64 (nq_local,) */
eq_tensor *eq_knn_predict_proba(const eq_knn *m, eq_rows Q); /* f64 (nq_local, K) */
void eq_knn_free(eq_knn *m);

/* ------------------------------------------------------------- Gaussian NB */
typedef struct eq_gnb_params {
  double var_smoothing; /* added variance, as a fraction of the largest column
                           variance of each batch (default 1e-9) */
  int n_classes;        /* 0: from the first batch's labels */
} eq_gnb_params;

typedef struct eq_gnb {
  eq_gnb_params params;
  int n_classes;
  int64_t n_features;
  eq_tensor *class_count; /* (K,) */
  eq_tensor *theta;       /* (K, d) means */
  eq_tensor *var;         /* (K, d) variances (+ epsilon) */
  eq_tensor *class_prior; /* (K,) */
  double epsilon;
} eq_gnb;

eq_gnb_params eq_gnb_defaults(void);
eq_gnb *eq_gnb_new(const eq_gnb_params *params);
/* Forgets earlier batches, then partial_fit. */
eq_status eq_gnb_fit(eq_gnb *m, eq_rows X, eq_rows y);
/* Merges one more batch into the per-class means and variances (Chan et
 * al.'s pairwise update, so batches in any split give the same model). */
eq_status eq_gnb_partial_fit(eq_gnb *m, eq_rows X, eq_rows y);
eq_tensor *eq_gnb_predict(const eq_gnb *m, eq_rows X);       /* int64 */
eq_tensor *eq_gnb_predict_proba(const eq_gnb *m, eq_rows X); /* f64 (n_local, K) */
void eq_gnb_free(eq_gnb *m);

#ifdef __cplusplus
}
#endif
#endif
