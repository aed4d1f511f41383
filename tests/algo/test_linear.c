/* Lasso, linear/ridge regression and multinomial logistic regression against
 * scikit-learn (Lasso, LinearRegression, Ridge, LogisticRegression with
 * multi_class="multinomial"); split and replicated rows, float64/float32. */
#include "algo_test.h"

static eq_rows rows_like(eq_tensor *all, int split, eq_tensor **own) { return rows_of(all, split, own); }

static void lasso(int split, eq_dtype dt) {
  eq_tensor *X64 = ref_load("reg_X"), *y64 = ref_load("reg_y");
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64, *y = dt == EQ_F32 ? to_f32(y64) : y64;
  eq_tensor *ox, *oy;
  eq_rows RX = rows_like(X, split, &ox), Ry = rows_like(y, split, &oy);
  double tol = dt == EQ_F32 ? 1e-4 : 1e-8;
  eq_lasso_params p = eq_lasso_defaults(0.1);
  p.tol = 1e-12;
  p.max_iter = 100000;
  eq_lasso *m = eq_lasso_new(&p);
  CHECK(eq_lasso_fit(m, RX, Ry) == EQ_OK);
  eq_tensor *cref = ref_load("lasso_coef");
  CHECK_MSG(max_abs_diff(m->coef, cref) < tol, "lasso coef differ by %g", max_abs_diff(m->coef, cref));
  CHECK_CLOSE(m->intercept, scalar_of("lasso_intercept"), tol, tol);
  /* sparsity: the zero coefficients of the reference are exactly zero */
  for (int64_t j = 0; j < 8; j++)
    if (eq_get_flat(cref, j) == 0) CHECK(eq_f64(m->coef)[j] == 0);
  eq_tensor *pred = eq_lasso_predict(m, RX);
  CHECK(pred && pred->dtype == dt);
  /* prediction = X coef + intercept on this rank's rows */
  if (pred) {
    int64_t s = 0, c = X->shape[0];
    if (split) eq_rows_block(X->shape[0], g_rank, g_size, &s, &c);
    double e = 0;
    for (int64_t i = 0; i < c; i++) {
      double v = m->intercept;
      for (int64_t j = 0; j < 8; j++) v += eq_get_flat(X64, (s + i) * 8 + j) * eq_get_flat(cref, j);
      e = fmax(e, fabs(v - eq_get_flat(pred, i)));
    }
    CHECK(e < tol * 100);
  }
  eq_tensor_free(pred), eq_tensor_free(cref);
  eq_lasso_free(m);
  p = eq_lasso_defaults(0.05);
  p.fit_intercept = false;
  p.tol = 1e-12;
  p.max_iter = 100000;
  m = eq_lasso_new(&p);
  CHECK(eq_lasso_fit(m, RX, Ry) == EQ_OK);
  cref = ref_load("lasso_nointercept_coef");
  CHECK(max_abs_diff(m->coef, cref) < tol * 10);
  CHECK(m->intercept == 0);
  eq_tensor_free(cref);
  eq_lasso_free(m);
  eq_tensor_free(ox), eq_tensor_free(oy);
  if (dt == EQ_F32) eq_tensor_free(X), eq_tensor_free(y);
  eq_tensor_free(X64), eq_tensor_free(y64);
}

static void linreg(int split, eq_dtype dt, eq_linreg_solver solver) {
  eq_tensor *X64 = ref_load("reg_X"), *Y64 = ref_load("reg_Y2");
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64, *Y = dt == EQ_F32 ? to_f32(Y64) : Y64;
  eq_tensor *ox, *oy;
  eq_rows RX = rows_like(X, split, &ox), RY = rows_like(Y, split, &oy);
  double tol = dt == EQ_F32 ? 2e-4 : 1e-9;
  const char *names[2][3] = {{"linreg_coef", "linreg_intercept", NULL},
                             {"ridge_coef", "ridge_intercept", "ridge_predict"}};
  for (int r = 0; r < 2; r++) {
    eq_linreg_params p = eq_linreg_defaults(r ? 3.0 : 0.0);
    p.solver = solver;
    eq_linreg *m = eq_linreg_new(&p);
    CHECK(eq_linreg_fit(m, RX, RY) == EQ_OK);
    eq_tensor *c = ref_load(names[r][0]), *b = ref_load(names[r][1]);
    CHECK_MSG(max_abs_diff(m->coef, c) < tol * 10, "r=%d solver=%d coef differ by %g", r, solver,
              max_abs_diff(m->coef, c));
    CHECK(max_abs_diff(m->intercept, b) < tol * 10);
    if (names[r][2]) {
      eq_tensor *Xs = eq_slice(X, 0, 0, 7, 1), *Xsc = eq_clone(Xs), *pr = ref_load(names[r][2]);
      eq_tensor *got = eq_linreg_predict(m, eq_rows_replicated(Xsc));
      CHECK(got && got->ndim == 2 && max_abs_diff(got, pr) < tol * 100);
      eq_tensor_free(Xs), eq_tensor_free(Xsc), eq_tensor_free(pr), eq_tensor_free(got);
    }
    eq_tensor_free(c), eq_tensor_free(b);
    eq_linreg_free(m);
  }
  /* a constant column: rank deficient for least squares, fine for ridge */
  eq_tensor *Xc = eq_clone(X64);
  for (int64_t i = 0; i < Xc->shape[0]; i++) eq_set_flat(Xc, i * 8 + 3, 1.0);
  eq_tensor *oc;
  eq_rows RC = rows_like(Xc, split, &oc);
  eq_linreg_params p = eq_linreg_defaults(0.0);
  p.solver = solver;
  eq_linreg *m = eq_linreg_new(&p);
  CHECK(eq_linreg_fit(m, RC, RY) == EQ_ERR_VALUE);
  eq_linreg_free(m);
  p.alpha = 1.0;
  m = eq_linreg_new(&p);
  CHECK(eq_linreg_fit(m, RC, RY) == EQ_OK && fabs(eq_f64(m->coef)[3]) < 1e-9);
  eq_linreg_free(m);
  eq_tensor_free(oc), eq_tensor_free(Xc);
  eq_tensor_free(ox), eq_tensor_free(oy);
  if (dt == EQ_F32) eq_tensor_free(X), eq_tensor_free(Y);
  eq_tensor_free(X64), eq_tensor_free(Y64);
}

static void logreg(int split, eq_dtype dt) {
  eq_tensor *X64 = ref_load("logreg_X"), *y = ref_load("logreg_y");
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64;
  eq_tensor *ox, *oy;
  eq_rows RX = rows_like(X, split, &ox), Ry = rows_like(y, split, &oy);
  /* float32: the logits and gradients are float32 GEMMs, whose rounding
   * stops L-BFGS at ~1e-3 of the optimum (build-dependent: -march=native
   * or not) */
  double tol = dt == EQ_F32 ? 3e-3 : 1e-6;
  eq_logreg_params p = eq_logreg_defaults(0.5);
  p.tol = 1e-10;
  p.max_iter = 10000;
  eq_logreg *m = eq_logreg_new(&p);
  CHECK(eq_logreg_fit(m, RX, Ry) == EQ_OK);
  CHECK(m->n_classes == 4);
  /* scikit-learn's answer (its lbfgs stops at a gradient of ~1e-6) and the
   * same optimum polished by SciPy to a gradient of 1e-13. The intercepts
   * are defined up to a common shift (softmax): both have zero mean. */
  eq_tensor *c = ref_load("logreg_coef"), *b = ref_load("logreg_intercept");
  eq_tensor *ct = ref_load("logreg_coef_tight"), *bt = ref_load("logreg_intercept_tight");
  CHECK_MSG(max_abs_diff(m->coef, c) < 2 * tol + 2e-4, "logreg coef differ by %g", max_abs_diff(m->coef, c));
  CHECK_MSG(max_abs_diff(m->intercept, b) < 2 * tol + 5e-4, "intercept differ by %g", max_abs_diff(m->intercept, b));
  CHECK_MSG(max_abs_diff(m->coef, ct) < tol, "logreg coef differ by %g", max_abs_diff(m->coef, ct));
  CHECK_MSG(max_abs_diff(m->intercept, bt) < tol, "intercept differ by %g", max_abs_diff(m->intercept, bt));
  eq_tensor *Xs = eq_slice(X, 0, 0, 13, 1), *Xsc = eq_clone(Xs), *pr = ref_load("logreg_proba");
  eq_tensor *got = eq_logreg_predict_proba(m, eq_rows_replicated(Xsc));
  CHECK(got && max_abs_diff(got, pr) < tol + 1e-4);
  eq_tensor_free(ct), eq_tensor_free(bt);
  eq_tensor *lab = eq_logreg_predict(m, RX), *lref = ref_load("logreg_predict");
  CHECK(lab && max_abs_diff_rows(lab, lref, split) == 0);
  eq_tensor_free(Xs), eq_tensor_free(Xsc), eq_tensor_free(pr), eq_tensor_free(got);
  eq_tensor_free(lab), eq_tensor_free(lref), eq_tensor_free(c), eq_tensor_free(b);
  eq_logreg_free(m);
  /* float labels are rejected */
  eq_tensor *yf = eq_to_dtype(y, EQ_F64), *of;
  m = eq_logreg_new(&p);
  CHECK(eq_logreg_fit(m, RX, rows_like(yf, split, &of)) == EQ_ERR_DTYPE);
  CHECK(strstr(eq_error_message(), "labels") != NULL);
  eq_logreg_free(m);
  eq_tensor_free(yf), eq_tensor_free(of);
  eq_tensor_free(ox), eq_tensor_free(oy);
  if (dt == EQ_F32) eq_tensor_free(X);
  eq_tensor_free(X64), eq_tensor_free(y);
}

int main(int argc, char **argv) {
  test_init(&argc, &argv);
  for (int split = 0; split <= 1; split++)
    for (int f = 0; f < 2; f++) {
      eq_dtype dt = f ? EQ_F32 : EQ_F64;
      lasso(split, dt);
      linreg(split, dt, EQ_LINREG_QR);
      linreg(split, dt, EQ_LINREG_NORMAL);
      logreg(split, dt);
    }
  return test_finish();
}
