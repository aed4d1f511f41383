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
  CHECK_MSG(max_abs_diff(m->components, comp) < tol * 10, "components differ by %g (split=%d dt=%d solver=%d)",
            max_abs_diff(m->components, comp), split, dt, solver);
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

/* The randomised solver against the exact one (itself checked against
 * scikit-learn above) where the sketch is smaller than the data: n x d rows
 * with singular values falling geometrically over a large mean (the blocks are centred in
 * cache, so the offset costs no digits), l = k + 10 not a multiple of the
 * 16-lane padding, and l > 32 (two column groups); also rank-deficient
 * rows (rank 4 < l). Singular values and the signed components agree. */
static void randomized_vs_exact(int split, eq_dtype dt, int64_t n, int64_t d, int k, int rank, double decay,
                                double offset) {
  eq_tensor *A = eq_empty(EQ_F64, EQ_DIMS(n, d));
  eq_philox g = eq_philox_init(11, (uint64_t)(n * 1000 + d));
  double *a = eq_f64(A);
  for (int64_t i = 0; i < n * d; i++) a[i] = offset;
  for (int r = 0; r < rank; r++) {
    double s = pow(decay, r), *u = malloc(n * sizeof(double)), *v = malloc(d * sizeof(double));
    for (int64_t i = 0; i < n; i++) u[i] = eq_philox_normal(&g);
    for (int64_t j = 0; j < d; j++) v[j] = eq_philox_normal(&g);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < d; j++) a[i * d + j] += s * u[i] * v[j];
    free(u), free(v);
  }
  eq_tensor *X = dt == EQ_F32 ? to_f32(A) : A, *own;
  eq_rows R = rows_of(X, split, &own);
  eq_pca_params p = eq_pca_defaults(k);
  eq_pca *ex = eq_pca_new(&p);
  p.solver = EQ_PCA_RANDOMIZED;
  p.seed = 9;
  eq_pca *rd = eq_pca_new(&p);
  CHECK(eq_pca_fit(ex, R) == EQ_OK && eq_pca_fit(rd, R) == EQ_OK);
  double tol = dt == EQ_F32 ? 2e-4 : 1e-8;
  for (int c = 0; c < k; c++) {
    double e = eq_f64(ex->singular_values)[c], r = eq_f64(rd->singular_values)[c];
    CHECK_MSG(fabs(e - r) <= tol * eq_f64(ex->singular_values)[0], "s[%d] %g vs exact %g (n=%lld d=%lld k=%d dt=%d)", c,
              r, e, (long long)n, (long long)d, k, dt);
  }
  double dv = max_abs_diff(ex->components, rd->components);
  CHECK_MSG(dv < (dt == EQ_F32 ? 5e-3 : 1e-6), "components differ by %g (n=%lld d=%lld k=%d dt=%d split=%d)", dv,
            (long long)n, (long long)d, k, dt, split);
  eq_pca_free(ex), eq_pca_free(rd);
  eq_tensor_free(own);
  if (X != A) eq_tensor_free(X);
  eq_tensor_free(A);
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
    for (int f = 0; f < 2; f++) {
      eq_dtype dt = f ? EQ_F64 : EQ_F32;
      randomized_vs_exact(split, dt, 301, 37, 5, 37, 0.5, 100.0);
      randomized_vs_exact(split, dt, 203, 70, 30, 70, 0.9, 0.0);
      randomized_vs_exact(split, dt, 150, 40, 3, 4, 0.5, 5.0);
      /* fewer rows than ranks at 4 ranks: empty local blocks */
      randomized_vs_exact(split, dt, 3, 6, 1, 3, 0.5, 1.0);
    }
    degenerate(split);
  }
  return test_finish();
}
