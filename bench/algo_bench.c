/* Timing driver of bench/algo.sh (not a test): one case per run, under
 * mpirun at 1 or 2 ranks. Each rank generates its own block of rows from
 * Philox (the same global data for any rank count), the fit is timed
 * between barriers, and rank 0 prints "seconds=<median of reps> iters=<n>".
 *   algo_bench kmeans|kmedians|lasso1|lasso10|pca_full|pca_rand|knn [scale] [reps]
 * scale (default 1) multiplies the row counts (0.1 for a quick check). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "equivar/algo.h"

static int rank_, size_;

/* This rank's block of an (n, d) float32 matrix: uniform [0, 1) from
 * (seed, global element index). */
static eq_tensor *block(int64_t n, int64_t d, uint64_t seed, int64_t *row0) {
  int64_t s, c;
  eq_rows_block(n, rank_, size_, &s, &c);
  eq_tensor *t = eq_empty(EQ_F32, EQ_DIMS(c, d));
  float *p = eq_f32(t);
  for (int64_t i = 0; i < c * d; i += 4) {
    uint32_t w[4];
    eq_philox_at(seed, 0, (uint64_t)((s * d + i) / 4), w);
    for (int k = 0; k < 4 && i + k < c * d; k++) p[i + k] = eq_u32_to_unit_float(w[k]);
  }
  if (row0) *row0 = s;
  return t;
}

static double now_sync(void) {
  MPI_Barrier(MPI_COMM_WORLD);
  return eq_now_seconds();
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  /* before MPI starts: every rank parses the same arguments and stops alike */
  const char *usage = "algo_bench kmeans|kmedians|lasso1|lasso10|pca_full|pca_rand|knn [scale=1] [reps=3]";
  bench_help(argc, argv, usage);
  double scale = bench_positive_arg(argc, argv, 2, "scale", 1.0, 100.0, usage);
  int reps = (int)bench_long_arg(argc, argv, 3, "reps", 3, 1, 16, usage);
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (argc < 2) {
    if (!rank_) fprintf(stderr, "usage: %s\n", usage);
    MPI_Finalize();
    return 2;
  }
  const char *c = argv[1];
  double times[17];
  int iters = 0;
  /* one untimed warm-up first: MPI connections, page faults, BLAS buffers */
  reps += 1;
  eq_status st = EQ_OK;
  if (!strcmp(c, "kmeans") || !strcmp(c, "kmedians")) {
    /* kmedians has no scikit-learn peer: equivar alone, 1 -> 2 ranks (the
     * exact distributed medians), 10 iterations on 200,000 rows */
    bool med = !strcmp(c, "kmedians");
    int64_t n = (int64_t)((med ? 200000 : 1000000) * scale), d = 32;
    eq_tensor *X = block(n, d, med ? 7 : 1, NULL);
    eq_rows R = eq_rows_split(X, MPI_COMM_WORLD);
    /* kmeans: the same 8 starting centres as the peer, rows 0, 1000, ..., 7000 */
    eq_kmeans_params p = eq_kmeans_defaults(8);
    p.max_iter = med ? 10 : 30;
    p.tol = 0;
    p.init = EQ_KMEANS_RANDOM;
    p.seed = 3;
    if (med) p.variant = EQ_KMEDIANS;
    eq_tensor *init = med ? NULL : eq_kmeans_init_centers(&p, R);
    if (!med) p.init = EQ_KMEANS_GIVEN, p.init_centers = init;
    for (int r = 0; r < reps && !st; r++) {
      eq_kmeans *m = eq_kmeans_new(&p);
      double t0 = now_sync();
      st = eq_kmeans_fit(m, R);
      times[r] = now_sync() - t0;
      iters = m->n_iter;
      eq_kmeans_free(m);
    }
    eq_tensor_free(init), eq_tensor_free(X);
  } else if (!strcmp(c, "lasso1") || !strcmp(c, "lasso10")) {
    int64_t n = (int64_t)(2000000 * scale), d = 32, s;
    eq_tensor *X = block(n, d, 2, &s);
    eq_tensor *y = eq_empty(EQ_F32, EQ_DIMS(X->shape[0]));
    for (int64_t i = 0; i < X->shape[0]; i++) {
      const float *x = eq_f32(X) + i * d;
      eq_f32(y)[i] = 2 * x[0] - 3 * x[5] + x[17] + 0.1f * x[31];
    }
    eq_lasso_params p = eq_lasso_defaults(0.001);
    p.max_iter = c[5] == '1' && c[6] == '0' ? 10 : 1;
    p.tol = 0;
    for (int r = 0; r < reps && !st; r++) {
      eq_lasso *m = eq_lasso_new(&p);
      double t0 = now_sync();
      st = eq_lasso_fit(m, eq_rows_split(X, MPI_COMM_WORLD), eq_rows_split(y, MPI_COMM_WORLD));
      times[r] = now_sync() - t0;
      iters = m->n_iter;
      eq_lasso_free(m);
    }
    eq_tensor_free(X), eq_tensor_free(y);
  } else if (!strcmp(c, "pca_full") || !strcmp(c, "pca_rand")) {
    int64_t n = (int64_t)(200000 * scale), d = 256;
    eq_tensor *X = block(n, d, 4, NULL);
    eq_pca_params p = eq_pca_defaults(16);
    p.solver = c[4] == 'f' ? EQ_PCA_FULL : EQ_PCA_RANDOMIZED;
    for (int r = 0; r < reps && !st; r++) {
      eq_pca *m = eq_pca_new(&p);
      double t0 = now_sync();
      st = eq_pca_fit(m, eq_rows_split(X, MPI_COMM_WORLD));
      times[r] = now_sync() - t0;
      eq_pca_free(m);
    }
    eq_tensor_free(X);
  } else if (!strcmp(c, "knn")) {
    int64_t n = (int64_t)(100000 * scale), nq = (int64_t)(10000 * scale), d = 128, s;
    eq_tensor *X = block(n, d, 5, &s);
    eq_tensor *y = eq_empty(EQ_I64, EQ_DIMS(X->shape[0]));
    for (int64_t i = 0; i < X->shape[0]; i++) ((int64_t *)eq_data_ptr(y))[i] = (s + i) % 10;
    eq_tensor *Q = block(nq, d, 6, NULL);
    eq_knn_params p = eq_knn_defaults(20);
    for (int r = 0; r < reps && !st; r++) {
      eq_knn *m = eq_knn_new(&p);
      double t0 = now_sync();
      st = eq_knn_fit(m, eq_rows_split(X, MPI_COMM_WORLD), eq_rows_split(y, MPI_COMM_WORLD));
      eq_tensor *L = st ? NULL : eq_knn_predict(m, eq_rows_split(Q, MPI_COMM_WORLD));
      times[r] = now_sync() - t0;
      if (!L && !st) st = eq_error_code();
      eq_tensor_free(L);
      eq_knn_free(m);
    }
    eq_tensor_free(X), eq_tensor_free(y), eq_tensor_free(Q);
  } else {
    if (!rank_) fprintf(stderr, "algo_bench: unknown case '%s'\n", c);
    MPI_Finalize();
    return 2;
  }
  if (st) {
    fprintf(stderr, "algo_bench %s: %s\n", c, eq_error_message());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  reps -= 1;
  qsort(times + 1, (size_t)reps, sizeof(double), cmp);
  if (!rank_) printf("seconds=%.4f iters=%d\n", times[1 + reps / 2], iters);
  MPI_Finalize();
  return 0;
}
