/* k-medians and k-medoids (against a NumPy implementation of HeAT's
 * definitions from the same explicit centres), batch-parallel k-means
 * (reaches scikit-learn's best inertia), spectral clustering (against
 * scikit-learn's SpectralClustering on two half moons) and incremental PCA
 * (against scikit-learn's IncrementalPCA, batches of 20 rows); split and
 * replicated rows. */
#include "algo_test.h"

static double ari_full(const eq_tensor *local, const char *ref_name, int split) {
  /* the ARI of this rank's labels against the reference, over all ranks */
  eq_tensor *ref = ref_load(ref_name), *own;
  eq_rows a = rows_of(ref, split, &own);
  eq_rows b = split ? eq_rows_split(local, MPI_COMM_WORLD) : eq_rows_replicated(local);
  double v = -2;
  if (eq_adjusted_rand_score(a, b, &v) != EQ_OK) v = -2;
  eq_tensor_free(own), eq_tensor_free(ref);
  return v;
}

static void kmed(int split) {
  eq_tensor *X = ref_load("kmeans_X"), *init = ref_load("kmeans_init");
  eq_tensor *own;
  eq_rows R = rows_of(X, split, &own);
  const char *names[2] = {"kmedians", "kmedoids"};
  for (int v = 0; v < 2; v++) {
    eq_kmeans_params p = eq_kmeans_defaults(3);
    p.init = EQ_KMEANS_GIVEN;
    p.init_centers = init;
    p.variant = v ? EQ_KMEDOIDS : EQ_KMEDIANS;
    eq_kmeans *m = eq_kmeans_new(&p);
    CHECK(eq_kmeans_fit(m, R) == EQ_OK);
    char n[64];
    snprintf(n, sizeof n, "%s_centers", names[v]);
    eq_tensor *c = ref_load(n);
    CHECK_MSG(max_abs_diff(m->cluster_centers, c) < 1e-12, "%s centres differ by %g", names[v],
              max_abs_diff(m->cluster_centers, c));
    snprintf(n, sizeof n, "%s_inertia", names[v]);
    CHECK_CLOSE(m->inertia, scalar_of(n), 1e-10, 0);
    snprintf(n, sizeof n, "%s_n_iter", names[v]);
    CHECK(m->n_iter == (int)scalar_of(n));
    snprintf(n, sizeof n, "%s_labels", names[v]);
    eq_tensor *lab = eq_kmeans_predict(m, R), *lr = ref_load(n);
    CHECK(lab && max_abs_diff_rows(lab, lr, split) == 0);
    /* medoids are rows of X */
    if (v == 1)
      for (int64_t k = 0; k < 3; k++) {
        bool found = false;
        for (int64_t r = 0; r < X->shape[0] && !found; r++) {
          double e = 0;
          for (int64_t t = 0; t < 4; t++) e += fabs(eq_get_flat(m->cluster_centers, k * 4 + t) - eq_get_flat(X, r * 4 + t));
          found = e == 0;
        }
        CHECK(found);
      }
    eq_tensor_free(c), eq_tensor_free(lab), eq_tensor_free(lr);
    eq_kmeans_free(m);
  }
  /* batch-parallel: local clusterings merged; the optimum on separated blobs */
  eq_kmeans_params p = eq_kmeans_defaults(3);
  p.variant = EQ_KMEANS_BATCH_PARALLEL;
  p.seed = 11;
  eq_kmeans *m = eq_kmeans_new(&p);
  CHECK(eq_kmeans_fit(m, R) == EQ_OK);
  CHECK_CLOSE(m->inertia, scalar_of("kmeans_best_inertia"), 1e-9, 0);
  eq_kmeans_free(m);
  eq_tensor_free(own), eq_tensor_free(X), eq_tensor_free(init);
}

static void spectral(int split) {
  eq_tensor *X = ref_load("spectral_X"), *own;
  eq_rows R = rows_of(X, split, &own);
  eq_spectral_params p = eq_spectral_defaults(2);
  p.gamma = 20;
  eq_spectral *m = eq_spectral_new(&p);
  CHECK(eq_spectral_fit(m, R) == EQ_OK);
  CHECK(m->labels != NULL);
  if (m->labels) {
    CHECK_MSG(ari_full(m->labels, "spectral_truth", split) > 0.999, "ARI vs truth %g",
              ari_full(m->labels, "spectral_truth", split));
    CHECK(ari_full(m->labels, "spectral_labels", split) > 0.999);
    /* the constant-degree direction: the leading eigenvalue is 1 */
    CHECK_CLOSE(eq_f64(m->eigenvalues)[0], 1.0, 1e-8, 1e-8);
    CHECK(m->residual <= 1e-9);
  }
  /* three Lanczos steps cannot resolve the pairs: the convergence check
   * restarts until it does, and the clustering is the same */
  double ev1 = m->eigenvalues ? eq_f64(m->eigenvalues)[1] : NAN;
  eq_spectral_free(m);
  p.krylov = 3;
  m = eq_spectral_new(&p);
  CHECK(eq_spectral_fit(m, R) == EQ_OK);
  if (m->labels) {
    CHECK_MSG(m->restarts >= 1 && m->krylov_steps > 3 && m->residual <= 1e-9, "restarts %d steps %lld residual %g",
              m->restarts, (long long)m->krylov_steps, m->residual);
    CHECK(ari_full(m->labels, "spectral_labels", split) > 0.999);
    CHECK_CLOSE(eq_f64(m->eigenvalues)[1], ev1, 1e-8, 1e-8);
  }
  eq_spectral_free(m);
  p.krylov = 0;
  p.n_clusters = (int)X->shape[0] + 1;
  m = eq_spectral_new(&p);
  CHECK(eq_spectral_fit(m, R) == EQ_ERR_VALUE);
  eq_spectral_free(m);
  eq_tensor_free(own), eq_tensor_free(X);
}

static void ipca(int split) {
  eq_tensor *X = ref_load("pca_X");
  eq_pca_params p = eq_pca_defaults(3);
  eq_pca *m = eq_pca_new(&p);
  for (int64_t s = 0; s < X->shape[0]; s += 20) {
    int64_t e = s + 20 < X->shape[0] ? s + 20 : X->shape[0];
    eq_tensor *v = eq_slice(X, 0, s, e, 1), *c = eq_clone(v), *own;
    CHECK(eq_pca_partial_fit(m, rows_of(c, split, &own)) == EQ_OK);
    eq_tensor_free(v), eq_tensor_free(c), eq_tensor_free(own);
  }
  eq_tensor *ev = ref_load("ipca_explained_variance"), *comp = ref_load("ipca_components");
  CHECK_MSG(max_abs_diff(m->explained_variance, ev) < 1e-8, "ipca ev differ by %g", max_abs_diff(m->explained_variance, ev));
  CHECK_MSG(max_abs_diff(m->components, comp) < 1e-8, "ipca components differ by %g", max_abs_diff(m->components, comp));
  CHECK(m->n_samples == X->shape[0]);
  eq_tensor_free(ev), eq_tensor_free(comp);
  eq_pca_free(m);
  /* a first batch smaller than n_components */
  m = eq_pca_new(&p);
  eq_tensor *v = eq_slice(X, 0, 0, 2, 1), *c = eq_clone(v), *own;
  CHECK(eq_pca_partial_fit(m, rows_of(c, split, &own)) == EQ_ERR_VALUE);
  eq_tensor_free(v), eq_tensor_free(c), eq_tensor_free(own);
  eq_pca_free(m);
  eq_tensor_free(X);
}

int main(int argc, char **argv) {
  test_init(&argc, &argv);
  for (int split = 0; split <= 1; split++) {
    kmed(split);
    spectral(split);
    ipca(split);
  }
  return test_finish();
}
