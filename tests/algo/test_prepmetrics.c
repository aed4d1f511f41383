/* Scalers, Normalizer, metrics (accuracy, both R^2 forms, NMI, ARI,
 * silhouette) and pairwise kernels against scikit-learn; split and
 * replicated rows, float64 and float32. */
#include "algo_test.h"

static void scalers(int split, eq_dtype dt) {
  eq_tensor *X64 = ref_load("pre_X");
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64;
  eq_tensor *own;
  eq_rows R = rows_of(X, split, &own);
  double tol = dt == EQ_F32 ? 1e-5 : 1e-12;
  const char *names[4] = {"standard", "minmax", "maxabs", "robust"};
  for (int k = 0; k < 4; k++) {
    eq_scaler_params p = eq_scaler_defaults((eq_scaler_kind)k);
    eq_scaler *m = eq_scaler_new(&p);
    CHECK(eq_scaler_fit(m, R) == EQ_OK);
    char name[64];
    snprintf(name, sizeof name, "pre_%s_transform", names[k]);
    eq_tensor *ref = ref_load(name), *Z = eq_scaler_transform(m, R);
    CHECK_MSG(Z && Z->dtype == dt && max_abs_diff_rows(Z, ref, split) < tol * 100, "%s split=%d dt=%d: %g",
              names[k], split, dt, Z ? max_abs_diff_rows(Z, ref, split) : -1.0);
    /* the constant column (3) maps to 0 except for max-abs (x / |x| = 1) */
    if (Z) CHECK(eq_get_flat(Z, 3) == (k == 2 ? 1.0 : 0.0) || Z->shape[0] == 0);
    eq_tensor *Xi = eq_scaler_inverse_transform(m, split ? eq_rows_split(Z, MPI_COMM_WORLD) : eq_rows_replicated(Z));
    CHECK(Xi && max_abs_diff_rows(Xi, X64, split) < tol * 1e4);
    eq_tensor_free(ref), eq_tensor_free(Z), eq_tensor_free(Xi);
    eq_scaler_free(m);
  }
  const char *nn[3] = {"l2", "l1", "max"};
  for (int k = 0; k < 3; k++) {
    char name[64];
    snprintf(name, sizeof name, "pre_normalizer_%s", nn[k]);
    eq_tensor *ref = ref_load(name), *Z = eq_normalize_rows(R, (eq_norm)k);
    CHECK(Z && max_abs_diff_rows(Z, ref, split) < tol * 10);
    eq_tensor_free(ref), eq_tensor_free(Z);
  }
  /* NaN rejected at fit, not fitted -> error */
  eq_scaler_params p = eq_scaler_defaults(EQ_SCALER_ROBUST);
  eq_scaler *m = eq_scaler_new(&p);
  CHECK(eq_scaler_transform(m, R) == NULL && eq_error_code() == EQ_ERR_STATE);
  eq_tensor *Xn = eq_clone(X64), *on;
  eq_set_flat(Xn, 7, NAN);
  CHECK(eq_scaler_fit(m, rows_of(Xn, split, &on)) == EQ_ERR_VALUE);
  eq_tensor_free(Xn), eq_tensor_free(on);
  eq_scaler_free(m);
  eq_tensor_free(own);
  if (dt == EQ_F32) eq_tensor_free(X);
  eq_tensor_free(X64);
}

static void metrics(int split) {
  eq_tensor *yt = ref_load("met_true"), *yp = ref_load("met_pred"), *sc = ref_load("met_scores");
  eq_tensor *o1, *o2;
  eq_rows A = rows_of(yt, split, &o1), B = rows_of(yp, split, &o2);
  double v = -1;
  CHECK(eq_accuracy(A, B, &v) == EQ_OK);
  CHECK_CLOSE(v, eq_get_flat(sc, 0), 1e-12, 1e-12);
  CHECK(eq_nmi_score(A, B, &v) == EQ_OK);
  CHECK_CLOSE(v, eq_get_flat(sc, 1), 1e-10, 1e-12);
  CHECK(eq_adjusted_rand_score(A, B, &v) == EQ_OK);
  CHECK_CLOSE(v, eq_get_flat(sc, 2), 1e-10, 1e-12);
  CHECK(eq_adjusted_rand_score(A, A, &v) == EQ_OK && v == 1.0);
  CHECK(eq_nmi_score(A, A, &v) == EQ_OK && fabs(v - 1) < 1e-12);
  eq_tensor_free(o1), eq_tensor_free(o2), eq_tensor_free(yt), eq_tensor_free(yp), eq_tensor_free(sc);

  eq_tensor *Yt = ref_load("met_Ytrue"), *Yp = ref_load("met_Ypred"), *r2 = ref_load("met_r2");
  A = rows_of(Yt, split, &o1), B = rows_of(Yp, split, &o2);
  CHECK(eq_r2_score(A, B, EQ_R2_UNIFORM_AVERAGE, &v) == EQ_OK);
  CHECK_CLOSE(v, eq_get_flat(r2, 0), 1e-10, 1e-12);
  CHECK(eq_r2_score(A, B, EQ_R2_GLOBAL_MEAN, &v) == EQ_OK);
  CHECK_CLOSE(v, eq_get_flat(r2, 1), 1e-10, 1e-12);
  CHECK(eq_r2_score(A, A, EQ_R2_GLOBAL_MEAN, &v) == EQ_OK && v == 1.0);
  eq_tensor *short_ = eq_slice(Yp, 1, 0, 2, 1), *sc2 = eq_clone(short_), *o3;
  CHECK(eq_r2_score(A, rows_of(sc2, split, &o3), EQ_R2_GLOBAL_MEAN, &v) == EQ_ERR_SHAPE);
  eq_tensor_free(short_), eq_tensor_free(sc2), eq_tensor_free(o3);
  eq_tensor_free(o1), eq_tensor_free(o2), eq_tensor_free(Yt), eq_tensor_free(Yp), eq_tensor_free(r2);

  eq_tensor *X = ref_load("met_sil_X"), *lab = ref_load("met_sil_labels");
  A = rows_of(X, split, &o1), B = rows_of(lab, split, &o2);
  CHECK(eq_silhouette_score(A, B, &v) == EQ_OK);
  CHECK_CLOSE(v, scalar_of("met_silhouette"), 1e-10, 1e-12);
  eq_tensor_free(o1), eq_tensor_free(o2), eq_tensor_free(X), eq_tensor_free(lab);
}

static void spatial(int split, eq_dtype dt) {
  eq_tensor *A64 = ref_load("sp_A"), *B = ref_load("sp_B");
  eq_tensor *A = dt == EQ_F32 ? to_f32(A64) : A64;
  eq_tensor *own;
  eq_rows R = rows_of(A, split, &own);
  double tol = dt == EQ_F32 ? 1e-5 : 1e-12;
  eq_tensor *K = eq_rbf_kernel(R, B, 0.3), *Kr = ref_load("sp_rbf");
  CHECK(K && K->dtype == dt && max_abs_diff_rows(K, Kr, split) < tol * 10);
  eq_tensor *M = eq_manhattan_distances(R, B), *Mr = ref_load("sp_manhattan");
  CHECK(M && max_abs_diff_rows(M, Mr, split) < tol * 10);
  eq_tensor *Bbad = eq_slice(B, 1, 0, 3, 1), *Bb = eq_clone(Bbad);
  CHECK(eq_rbf_kernel(R, Bb, 0.3) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  eq_tensor_free(Bbad), eq_tensor_free(Bb);
  eq_tensor_free(K), eq_tensor_free(Kr), eq_tensor_free(M), eq_tensor_free(Mr), eq_tensor_free(own);
  if (dt == EQ_F32) eq_tensor_free(A);
  eq_tensor_free(A64), eq_tensor_free(B);
}

int main(int argc, char **argv) {
  test_init(&argc, &argv);
  for (int split = 0; split <= 1; split++) {
    scalers(split, EQ_F64);
    scalers(split, EQ_F32);
    metrics(split);
    spatial(split, EQ_F64);
    spatial(split, EQ_F32);
  }
  return test_finish();
}
