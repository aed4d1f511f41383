/* The worked example of docs/algo.md, compiled and run as a test at 1-4
 * ranks: each rank makes its block of a 3-blob data set, then
 * StandardScaler -> PCA(2) -> KMeans(3, k-means||) -> adjusted Rand index
 * against the true blobs, and a logistic-regression probe -> accuracy. */
#include <mpi.h>
#include <stdio.h>

#include "equivar/algo.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  /* 3 well separated blobs in 8 dimensions; row i belongs to blob i % 3 */
  const int64_t n = 3000, d = 8;
  int64_t start, count;
  eq_rows_block(n, rank, size, &start, &count);
  eq_tensor *X = eq_empty(EQ_F32, EQ_DIMS(count, d));
  eq_tensor *truth = eq_empty(EQ_I64, EQ_DIMS(count));
  for (int64_t i = 0; i < count; i++) {
    int64_t g = start + i, blob = g % 3;
    eq_philox rng = eq_philox_init(42, (uint64_t)g); /* per global row: rank independent */
    for (int64_t j = 0; j < d; j++)
      eq_f32(X)[i * d + j] = (float)(10.0 * (j == blob) + eq_philox_normal(&rng));
    ((int64_t *)eq_data_ptr(truth))[i] = blob;
  }
  eq_rows rows = eq_rows_split(X, MPI_COMM_WORLD);
  eq_rows labels = eq_rows_split(truth, MPI_COMM_WORLD);

  eq_scaler_params sp = eq_scaler_defaults(EQ_SCALER_STANDARD);
  eq_scaler *scaler = eq_scaler_new(&sp);
  eq_pca_params pp = eq_pca_defaults(2);
  eq_pca *pca = eq_pca_new(&pp);
  eq_kmeans_params kp = eq_kmeans_defaults(3);
  kp.init = EQ_KMEANS_PARALLEL;
  kp.seed = 7;
  eq_kmeans *km = eq_kmeans_new(&kp);
  eq_logreg_params lp = eq_logreg_defaults(1.0);
  eq_logreg *probe = eq_logreg_new(&lp);

  int ok = 0;
  eq_tensor *Xs = NULL, *Z = NULL, *clusters = NULL, *pred = NULL;
  double ari = 0, acc = 0;
  if (eq_scaler_fit(scaler, rows) == EQ_OK && (Xs = eq_scaler_transform(scaler, rows)) &&
      eq_pca_fit(pca, eq_rows_split(Xs, MPI_COMM_WORLD)) == EQ_OK &&
      (Z = eq_pca_transform(pca, eq_rows_split(Xs, MPI_COMM_WORLD))) &&
      eq_kmeans_fit(km, eq_rows_split(Z, MPI_COMM_WORLD)) == EQ_OK &&
      (clusters = eq_kmeans_predict(km, eq_rows_split(Z, MPI_COMM_WORLD))) &&
      eq_adjusted_rand_score(labels, eq_rows_split(clusters, MPI_COMM_WORLD), &ari) == EQ_OK &&
      eq_logreg_fit(probe, rows, labels) == EQ_OK && (pred = eq_logreg_predict(probe, rows)) &&
      eq_accuracy(labels, eq_rows_split(pred, MPI_COMM_WORLD), &acc) == EQ_OK)
    ok = 1;
  if (!ok) fprintf(stderr, "rank %d: %s\n", rank, eq_error_message());
  if (rank == 0 && ok)
    printf("explained variance ratio %.3f %.3f, inertia %.1f, ARI %.4f, probe accuracy %.4f\n",
           eq_f64(pca->explained_variance_ratio)[0], eq_f64(pca->explained_variance_ratio)[1], km->inertia,
           ari, acc);
  /* separated blobs: the clustering and the probe recover them exactly */
  int pass = ok && ari > 0.999 && acc > 0.999;

  eq_tensor_free(Xs), eq_tensor_free(Z), eq_tensor_free(clusters), eq_tensor_free(pred);
  eq_scaler_free(scaler), eq_pca_free(pca), eq_kmeans_free(km), eq_logreg_free(probe);
  eq_tensor_free(X), eq_tensor_free(truth);
  MPI_Finalize();
  return pass ? 0 : 1;
}
