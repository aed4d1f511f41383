/* k-means against scikit-learn's KMeans (lloyd) from the same explicit
 * centres; the random initialisations against the best inertia of 20
 * k-means++ restarts; split and replicated rows, float64 and float32. */
#include "algo_test.h"

static void run(int split, eq_dtype dt) {
  eq_tensor *X64 = ref_load("kmeans_X"), *init = ref_load("kmeans_init");
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64;
  eq_tensor *own;
  eq_rows R = rows_of(X, split, &own);
  double tol = dt == EQ_F32 ? 2e-4 : 1e-9;

  eq_kmeans_params p = eq_kmeans_defaults(3);
  p.init = EQ_KMEANS_GIVEN;
  p.init_centers = init;
  eq_kmeans *m = eq_kmeans_new(&p);
  CHECK(eq_kmeans_fit(m, R) == EQ_OK);
  eq_tensor *c_ref = ref_load("kmeans_centers"), *l_ref = ref_load("kmeans_labels");
  CHECK_MSG(max_abs_diff(m->cluster_centers, c_ref) < tol * 10, "split=%d dt=%d centres differ by %g",
            split, dt, max_abs_diff(m->cluster_centers, c_ref));
  CHECK_CLOSE(m->inertia, scalar_of("kmeans_inertia"), tol, 0);
  CHECK(m->n_iter == (int)scalar_of("kmeans_n_iter"));
  eq_tensor *lab = eq_kmeans_predict(m, R);
  CHECK(lab && max_abs_diff_rows(lab, l_ref, split) == 0);
  /* predictions for new (replicated) points */
  eq_tensor *Xq = ref_load("kmeans_Xq"), *pq = ref_load("kmeans_predict");
  eq_tensor *lq = eq_kmeans_predict(m, eq_rows_replicated(Xq));
  CHECK(lq && max_abs_diff(lq, pq) == 0);
  double best = scalar_of("kmeans_best_inertia");
  CHECK_CLOSE(m->inertia, best, tol, 0);
  eq_tensor_free(lab), eq_tensor_free(lq), eq_tensor_free(Xq), eq_tensor_free(pq);
  eq_kmeans_free(m);

  /* max_iter caps the iterations (sklearn max_iter=2, tol=0) */
  p.max_iter = 2;
  p.tol = 0;
  m = eq_kmeans_new(&p);
  CHECK(eq_kmeans_fit(m, R) == EQ_OK);
  eq_tensor *c2 = ref_load("kmeans_maxiter2_centers");
  CHECK(m->n_iter == 2);
  CHECK(max_abs_diff(m->cluster_centers, c2) < tol * 10);
  CHECK_CLOSE(m->inertia, scalar_of("kmeans_maxiter2_inertia"), tol, 0);
  eq_tensor_free(c2);
  eq_kmeans_free(m);

  /* every random initialisation reaches the optimum on separated blobs,
   * and draws the same centres for any number of ranks */
  eq_kmeans_init inits[3] = {EQ_KMEANS_RANDOM, EQ_KMEANS_PLUSPLUS, EQ_KMEANS_PARALLEL};
  for (int i = 0; i < 3; i++)
    for (uint64_t seed = 1; seed <= 3; seed++) {
      eq_kmeans_params q = eq_kmeans_defaults(3);
      q.init = inits[i];
      q.seed = seed;
      eq_tensor *c0 = eq_kmeans_init_centers(&q, R);
      eq_tensor *c1 = eq_kmeans_init_centers(&q, eq_rows_replicated(X));
      CHECK_MSG(c0 && c1 && max_abs_diff(c0, c1) < 1e-12, "init %d seed %d depends on the ranks", i,
                (int)seed);
      m = eq_kmeans_new(&q);
      CHECK(eq_kmeans_fit(m, R) == EQ_OK);
      if (inits[i] == EQ_KMEANS_RANDOM) {
        /* random rows may start two centres in one blob: only >= optimum */
        CHECK(m->inertia >= best * (1 - 1e-6));
        /* the centres start at rows of X */
        for (int64_t c = 0; c < 3; c++) {
          bool found = false;
          for (int64_t r = 0; r < X->shape[0] && !found; r++) {
            double e = 0;
            for (int64_t t = 0; t < X->shape[1]; t++)
              e += fabs(eq_get_flat(c0, c * X->shape[1] + t) - eq_get_flat(X, r * X->shape[1] + t));
            found = e == 0;
          }
          CHECK(found);
        }
      } else {
        CHECK_MSG(fabs(m->inertia - best) <= tol * best, "init %d seed %d inertia %g vs %g", i,
                  (int)seed, m->inertia, best);
      }
      eq_tensor_free(c0), eq_tensor_free(c1);
      eq_kmeans_free(m);
    }

  /* degenerate inputs: k > n is an error; k == n puts a centre on each row */
  p = eq_kmeans_defaults((int)X->shape[0] + 1);
  m = eq_kmeans_new(&p);
  CHECK(eq_kmeans_fit(m, R) == EQ_ERR_VALUE);
  CHECK(strstr(eq_error_message(), "n_clusters") != NULL);
  eq_kmeans_free(m);
  eq_tensor *few = eq_slice(X, 0, 0, 5, 1), *fewc = eq_clone(few), *fo;
  p = eq_kmeans_defaults(5);
  m = eq_kmeans_new(&p);
  CHECK(eq_kmeans_fit(m, rows_of(fewc, split, &fo)) == EQ_OK);
  CHECK(m->inertia < 1e-9);
  eq_kmeans_free(m);
  eq_tensor_free(fo), eq_tensor_free(few), eq_tensor_free(fewc);

  eq_tensor_free(own), eq_tensor_free(c_ref), eq_tensor_free(l_ref);
  if (X != X64) eq_tensor_free(X);
  eq_tensor_free(X64), eq_tensor_free(init);
}

static void nan_rejected(void) {
  eq_tensor *X = ref_load("kmeans_X");
  eq_set_flat(X, 77 * 4 + 2, NAN); /* on the last rank's block */
  eq_tensor *own;
  eq_kmeans_params p = eq_kmeans_defaults(3);
  eq_kmeans *m = eq_kmeans_new(&p);
  CHECK(eq_kmeans_fit(m, rows_of(X, 1, &own)) == EQ_ERR_VALUE);
  CHECK(m->cluster_centers == NULL);
  CHECK(eq_kmeans_predict(m, eq_rows_replicated(X)) == NULL);
  eq_kmeans_free(m);
  eq_tensor_free(own), eq_tensor_free(X);
  p.n_clusters = 0;
  CHECK(eq_kmeans_new(&p) == NULL);
}

int main(int argc, char **argv) {
  test_init(&argc, &argv);
  for (int split = 0; split <= 1; split++) {
    run(split, EQ_F64);
    run(split, EQ_F32);
  }
  nan_rejected();
  return test_finish();
}
