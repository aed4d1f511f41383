/* PCA against scikit-learn's PCA(svd_solver="full") (components with its
 * sign convention, explained variance and ratio, singular values, mean,
 * transform, inverse, whitening); the randomised solver against the same
 * figures; split and replicated rows, float64 and float32. */
#include "algo_test.h"

static void run(int split, eq_dtype dt, eq_pca_solver solver) {
  eq_tensor *X64 = ref_load("pca_X");
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64;
  eq_tensor *own;
  eq_rows R = rows_of(X, split, &own);
  double tol = dt == EQ_F32 ? 2e-4 : (solver == EQ_PCA_FULL ? 1e-9 : 1e-6);

  eq_pca_params p = eq_pca_defaults(3);
  p.solver = solver;
  p.seed = 5;
  eq_pca *m = eq_pca_new(&p);
  CHECK(eq_pca_fit(m, R) == EQ_OK);
  const char *names[4] = {"pca_explained_variance", "pca_explained_variance_ratio",
                          "pca_singular_values", "pca_mean"};
  eq_tensor *got[4] = {m->explained_variance, m->explained_variance_ratio, m->singular_values, m->mean};
  for (int i = 0; i < 4; i++) {
    eq_tensor *ref = ref_load(names[i]);
    for (int64_t j = 0; j < eq_numel(ref); j++)
      CHECK_MSG(fabs(eq_get_flat(got[i], j) - eq_get_flat(ref, j)) <= tol * (fabs(eq_get_flat(ref, j)) + 1),
                "%s[%lld] split=%d dt=%d solver=%d: %g vs %g", names[i], (long long)j, split, dt, solver,
                eq_get_flat(got[i], j), eq_get_flat(ref, j));
    eq_tensor_free(ref);
  }
  eq_tensor *comp = ref_load("pca_components");
  CHECK_MSG(max_abs_diff(m->components, comp) < tol * 10, "components differ by %g",
            max_abs_diff(m->components, comp));
  eq_tensor *Z = eq_pca_transform(m, R), *Zref = ref_load("pca_transform");
  CHECK(Z && Z->dtype == dt && max_abs_diff_rows(Z, Zref, split) < tol * 100);
  eq_tensor *Xi = eq_pca_inverse_transform(m, split ? eq_rows_split(Z, MPI_COMM_WORLD) : eq_rows_replicated(Z));
  eq_tensor *Xiref = ref_load("pca_inverse");
  CHECK(Xi && max_abs_diff_rows(Xi, Xiref, split) < tol * 100);
  eq_tensor_free(Z), eq_tensor_free(Zref), eq_tensor_free(Xi), eq_tensor_free(Xiref), eq_tensor_free(comp);
  eq_pca_free(m);

  /* whitening: unit-variance scores; the inverse undoes it */
  p.whiten = true;
  m = eq_pca_new(&p);
  CHECK(eq_pca_fit(m, R) == EQ_OK);
  Z = eq_pca_transform(m, R);
  Zref = ref_load("pca_whiten_transform");
  CHECK(Z && max_abs_diff_rows(Z, Zref, split) < tol * 100);
  Xi = eq_pca_inverse_transform(m, split ? eq_rows_split(Z, MPI_COMM_WORLD) : eq_rows_replicated(Z));
  Xiref = ref_load("pca_inverse");
  CHECK(Xi && max_abs_diff_rows(Xi, Xiref, split) < tol * 100);
  eq_tensor_free(Z), eq_tensor_free(Zref), eq_tensor_free(Xi), eq_tensor_free(Xiref);
  eq_pca_free(m);

  /* too many components; transform before fit */
  p = eq_pca_defaults(7);
  p.solver = solver;
  m = eq_pca_new(&p);
  CHECK(eq_pca_transform(m, R) == NULL && eq_error_code() == EQ_ERR_STATE);
  CHECK(eq_pca_fit(m, R) == EQ_ERR_VALUE && strstr(eq_error_message(), "n_components=7"));
  eq_pca_free(m);
  eq_tensor_free(own);
  if (X != X64) eq_tensor_free(X);
  eq_tensor_free(X64);
}

/* A constant column and rank-deficient data: the constant direction has
 * zero variance, the others are found. */
static void degenerate(int split) {
  eq_tensor *X = ref_load("pca_X");
  for (int64_t i = 0; i < X->shape[0]; i++) eq_set_flat(X, i * 6 + 4, 3.0);
  eq_tensor *own;
  eq_rows R = rows_of(X, split, &own);
  eq_pca_params p = eq_pca_defaults(6);
  eq_pca *m = eq_pca_new(&p);
  CHECK(eq_pca_fit(m, R) == EQ_OK);
  CHECK(fabs(eq_f64(m->explained_variance)[5]) < 1e-9);
  for (int64_t j = 0; j < 6; j++) CHECK(fabs(eq_f64(m->components)[j * 6 + 4]) < 1e-6 || j == 5);
  eq_pca_free(m);
  p = eq_pca_defaults(2);
  p.solver = EQ_PCA_RANDOMIZED;
  m = eq_pca_new(&p);
  CHECK(eq_pca_fit(m, R) == EQ_OK);
  CHECK(isfinite(eq_f64(m->explained_variance)[1]));
  eq_pca_free(m);
  eq_set_flat(X, 3, NAN);
  eq_tensor_free(own);
  R = rows_of(X, split, &own);
  m = eq_pca_new(&p);
  CHECK(eq_pca_fit(m, R) == EQ_ERR_VALUE);
  eq_pca_free(m);
  eq_tensor_free(own), eq_tensor_free(X);
}

/* Truncated to k = 3 directions per rank on rank-3-plus-noise data: the
 * leading variances stay within 1 % of the exact ones. */
static void hierarchical_truncated(int split) {
  eq_tensor *X = ref_load("pca_X"), *ev = ref_load("pca_explained_variance"), *own;
  eq_pca_params p = eq_pca_defaults(3);
  p.solver = EQ_PCA_HIERARCHICAL;
  p.n_oversamples = 0;
  eq_pca *m = eq_pca_new(&p);
  CHECK(eq_pca_fit(m, rows_of(X, split, &own)) == EQ_OK);
  for (int c = 0; c < 3; c++) CHECK_CLOSE(eq_f64(m->explained_variance)[c], eq_get_flat(ev, c), 1e-2, 0);
  eq_pca_free(m);
  eq_tensor_free(own), eq_tensor_free(X), eq_tensor_free(ev);
}

/* Exact rank 3 in 24 features with 3 + 2 directions kept per node: every
 * leaf and merge of the tree truncates, and the result is still
 * scikit-learn's (scripts/gen_algo_hpca_reference.py). */
static void hierarchical_lowrank(int split, eq_dtype dt) {
  eq_tensor *X64 = ref_load("hpca_X"), *own;
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64;
  eq_tensor *ev = ref_load("hpca_explained_variance"), *sv = ref_load("hpca_singular_values");
  eq_tensor *comp = ref_load("hpca_components");
  double tol = dt == EQ_F32 ? 1e-4 : 1e-9;
  eq_pca_params p = eq_pca_defaults(3);
  p.solver = EQ_PCA_HIERARCHICAL;
  p.n_oversamples = 2;
  eq_pca *m = eq_pca_new(&p);
  CHECK(eq_pca_fit(m, rows_of(X, split, &own)) == EQ_OK);
  if (m->components) {
    for (int c = 0; c < 3; c++) {
      CHECK_CLOSE(eq_f64(m->explained_variance)[c], eq_get_flat(ev, c), tol, 0);
      CHECK_CLOSE(eq_f64(m->singular_values)[c], eq_get_flat(sv, c), tol, 0);
    }
    CHECK_MSG(max_abs_diff(m->components, comp) < 10 * tol, "hierarchical components differ by %g (split %d dt %d)",
              max_abs_diff(m->components, comp), split, dt);
  }
  eq_pca_free(m);
  eq_tensor_free(own), eq_tensor_free(ev), eq_tensor_free(sv), eq_tensor_free(comp);
  if (X != X64) eq_tensor_free(X);
  eq_tensor_free(X64);
}

int main(int argc, char **argv) {
  test_init(&argc, &argv);
  for (int split = 0; split <= 1; split++) {
    /* hierarchical with k + 10 >= d = 6 directions per rank: exact */
    eq_pca_solver solvers[3] = {EQ_PCA_FULL, EQ_PCA_RANDOMIZED, EQ_PCA_HIERARCHICAL};
    for (int s = 0; s < 3; s++) {
      run(split, EQ_F64, solvers[s]);
      run(split, EQ_F32, solvers[s]);
    }
    hierarchical_truncated(split);
    hierarchical_lowrank(split, EQ_F64);
    hierarchical_lowrank(split, EQ_F32);
    degenerate(split);
  }
  return test_finish();
}
