/* kNN (Euclidean/cosine, uniform/distance weights as scikit-learn's
 * KNeighborsClassifier; exp(sim/T) votes as the SSL protocol, NumPy
 * reference) and Gaussian naive Bayes (fit and partial_fit in two batches)
 * against the stored references; split and replicated training rows and
 * queries, float64 and float32. */
#include "algo_test.h"

static void knn(int split, int qsplit, eq_dtype dt) {
  eq_tensor *X64 = ref_load("knn_X"), *y = ref_load("knn_y"), *Q64 = ref_load("knn_Xq");
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64, *Q = dt == EQ_F32 ? to_f32(Q64) : Q64;
  eq_tensor *ox, *oy, *oq;
  eq_rows RX = rows_of(X, split, &ox), Ry = rows_of(y, split, &oy), RQ = rows_of(Q, qsplit, &oq);
  double tol = dt == EQ_F32 ? 1e-4 : 1e-9;
  const char *metric[2] = {"euclidean", "cosine"}, *weights[2] = {"uniform", "distance"};
  for (int mt = 0; mt < 2; mt++)
    for (int w = 0; w < 3; w++) {
      if (w == 2 && mt == 0) continue;
      eq_knn_params p = eq_knn_defaults(7);
      p.metric = mt ? EQ_KNN_COSINE : EQ_KNN_EUCLIDEAN;
      p.weights = w == 0 ? EQ_KNN_UNIFORM : (w == 1 ? EQ_KNN_DISTANCE : EQ_KNN_EXP);
      p.temperature = 0.1;
      eq_knn *m = eq_knn_new(&p);
      CHECK(eq_knn_fit(m, RX, Ry) == EQ_OK);
      char name[64];
      if (w == 2) snprintf(name, sizeof name, "knn_ssl_proba");
      else snprintf(name, sizeof name, "knn_%s_%s_proba", metric[mt], weights[w]);
      eq_tensor *pr = ref_load(name), *P = eq_knn_predict_proba(m, RQ);
      CHECK_MSG(P && max_abs_diff_rows(P, pr, qsplit) < tol, "%s split=%d qsplit=%d dt=%d: %g", name, split,
                qsplit, dt, P ? max_abs_diff_rows(P, pr, qsplit) : -1.0);
      if (w < 2) {
        snprintf(name, sizeof name, "knn_%s_%s_predict", metric[mt], weights[w]);
        eq_tensor *lr = ref_load(name), *L = eq_knn_predict(m, RQ);
        CHECK(L && max_abs_diff_rows(L, lr, qsplit) == 0);
        eq_tensor_free(lr), eq_tensor_free(L);
      }
      eq_tensor_free(pr), eq_tensor_free(P);
      eq_knn_free(m);
    }
  /* k > n is an error; k == n works */
  eq_knn_params p = eq_knn_defaults((int)X->shape[0] + 1);
  eq_knn *m = eq_knn_new(&p);
  CHECK(eq_knn_fit(m, RX, Ry) == EQ_ERR_VALUE && strstr(eq_error_message(), "n_neighbors"));
  CHECK(eq_knn_predict(m, RQ) == NULL && eq_error_code() == EQ_ERR_STATE);
  eq_knn_free(m);
  p.n_neighbors = (int)X->shape[0];
  m = eq_knn_new(&p);
  CHECK(eq_knn_fit(m, RX, Ry) == EQ_OK);
  eq_tensor *P = eq_knn_predict_proba(m, RQ);
  /* every query sees every training row: the class frequencies */
  CHECK(P != NULL);
  if (P) {
    double f[3] = {0, 0, 0};
    for (int64_t i = 0; i < y->shape[0]; i++) f[eq_get_flat(y, i) > 1.5 ? 2 : (int)eq_get_flat(y, i)] += 1;
    CHECK_CLOSE(eq_get_flat(P, 0), f[0] / (double)y->shape[0], 1e-12, 1e-12);
  }
  eq_tensor_free(P);
  eq_knn_free(m);
  eq_tensor_free(ox), eq_tensor_free(oy), eq_tensor_free(oq);
  if (dt == EQ_F32) eq_tensor_free(X), eq_tensor_free(Q);
  eq_tensor_free(X64), eq_tensor_free(Q64), eq_tensor_free(y);
}

/* Both row sets split (the query blocks travel around the ring of ranks)
 * against the same queries replicated (every rank scans them all; the
 * candidates are merged): the same neighbours, so bit-identical votes. The
 * features are small integers, so many distances tie and the global index
 * must break the ties alike; nq = 3 leaves empty query blocks at 4 ranks,
 * and k = 9 exceeds some ranks' training blocks. */
static void knn_ring_identical(eq_dtype dt, int64_t nq) {
  int64_t n = 23, d = 5;
  eq_tensor *X = eq_empty(dt, EQ_DIMS(n, d)), *Q = eq_empty(dt, EQ_DIMS(nq, d)), *y = eq_empty(EQ_I64, EQ_DIMS(n));
  eq_philox g = eq_philox_init(3, 4);
  for (int64_t i = 0; i < n * d; i++) eq_set_flat(X, i, (double)eq_philox_below(&g, 3));
  for (int64_t i = 0; i < nq * d; i++) eq_set_flat(Q, i, (double)eq_philox_below(&g, 3));
  for (int64_t i = 0; i < n; i++) eq_set_flat(y, i, (double)(i % 4));
  for (int mt = 0; mt < 2; mt++) {
    eq_knn_params p = eq_knn_defaults(9);
    p.metric = mt ? EQ_KNN_COSINE : EQ_KNN_EUCLIDEAN;
    p.weights = EQ_KNN_DISTANCE;
    eq_knn *m = eq_knn_new(&p);
    eq_tensor *ox, *oy, *oq;
    CHECK(eq_knn_fit(m, rows_of(X, 1, &ox), rows_of(y, 1, &oy)) == EQ_OK);
    eq_tensor *Pr = eq_knn_predict_proba(m, eq_rows_replicated(Q)), *Ps = eq_knn_predict_proba(m, rows_of(Q, 1, &oq));
    CHECK(Pr && Ps);
    if (Pr && Ps) {
      int64_t s, c;
      eq_rows_block(nq, g_rank, g_size, &s, &c);
      CHECK(Ps->shape[0] == c);
      for (int64_t i = 0; i < c * Ps->shape[1]; i++)
        CHECK_MSG(eq_get_flat(Ps, i) == eq_get_flat(Pr, s * Ps->shape[1] + i), "ring proba %lld: %.17g vs %.17g",
                  (long long)i, eq_get_flat(Ps, i), eq_get_flat(Pr, s * Ps->shape[1] + i));
    }
    eq_tensor_free(Pr), eq_tensor_free(Ps), eq_tensor_free(ox), eq_tensor_free(oy), eq_tensor_free(oq);
    eq_knn_free(m);
  }
  eq_tensor_free(X), eq_tensor_free(Q), eq_tensor_free(y);
}

static void gnb(int split, eq_dtype dt) {
  eq_tensor *X64 = ref_load("knn_X"), *y = ref_load("knn_y"), *Q = ref_load("knn_Xq");
  eq_tensor *X = dt == EQ_F32 ? to_f32(X64) : X64;
  eq_tensor *ox, *oy;
  eq_rows RX = rows_of(X, split, &ox), Ry = rows_of(y, split, &oy);
  double tol = dt == EQ_F32 ? 1e-5 : 1e-10;
  eq_gnb_params p = eq_gnb_defaults();
  eq_gnb *m = eq_gnb_new(&p);
  CHECK(eq_gnb_fit(m, RX, Ry) == EQ_OK);
  eq_tensor *th = ref_load("gnb_theta"), *va = ref_load("gnb_var"), *pr = ref_load("gnb_prior");
  CHECK(max_abs_diff(m->theta, th) < tol * 10);
  CHECK(max_abs_diff(m->var, va) < tol * 10);
  CHECK(max_abs_diff(m->class_prior, pr) < 1e-12);
  eq_tensor *P = eq_gnb_predict_proba(m, eq_rows_replicated(Q)), *Pr = ref_load("gnb_proba");
  CHECK(P && max_abs_diff(P, Pr) < tol * 100);
  eq_tensor_free(P), eq_tensor_free(Pr), eq_tensor_free(th), eq_tensor_free(va), eq_tensor_free(pr);
  eq_gnb_free(m);

  /* two batches, rows [0, 40) then [40, 90), each split over the ranks */
  m = eq_gnb_new(&p);
  for (int b = 0; b < 2; b++) {
    eq_tensor *xs = eq_slice(X, 0, b ? 40 : 0, b ? 90 : 40, 1), *ys = eq_slice(y, 0, b ? 40 : 0, b ? 90 : 40, 1);
    eq_tensor *xc = eq_clone(xs), *yc = eq_clone(ys), *o1, *o2;
    if (b == 0) m->params.n_classes = 3;
    CHECK(eq_gnb_partial_fit(m, rows_of(xc, split, &o1), rows_of(yc, split, &o2)) == EQ_OK);
    eq_tensor_free(xs), eq_tensor_free(ys), eq_tensor_free(xc), eq_tensor_free(yc), eq_tensor_free(o1), eq_tensor_free(o2);
  }
  th = ref_load("gnb_partial_theta");
  va = ref_load("gnb_partial_var");
  CHECK(max_abs_diff(m->theta, th) < tol * 10);
  CHECK_MSG(max_abs_diff(m->var, va) < tol * 10, "partial var differs by %g", max_abs_diff(m->var, va));
  eq_tensor_free(th), eq_tensor_free(va);
  /* a batch with another number of features */
  eq_tensor *bad = eq_slice(X, 1, 0, 3, 1), *badc = eq_clone(bad), *ob;
  CHECK(eq_gnb_partial_fit(m, rows_of(badc, split, &ob), Ry) == EQ_ERR_SHAPE);
  eq_tensor_free(bad), eq_tensor_free(badc), eq_tensor_free(ob);
  eq_gnb_free(m);
  eq_tensor_free(ox), eq_tensor_free(oy), eq_tensor_free(Q);
  if (dt == EQ_F32) eq_tensor_free(X);
  eq_tensor_free(X64), eq_tensor_free(y);
}

int main(int argc, char **argv) {
  test_init(&argc, &argv);
  for (int split = 0; split <= 1; split++)
    for (int f = 0; f < 2; f++) {
      for (int qs = 0; qs <= 1; qs++) knn(split, qs, f ? EQ_F32 : EQ_F64);
      knn_ring_identical(f ? EQ_F32 : EQ_F64, split ? 3 : 41);
      gnb(split, f ? EQ_F32 : EQ_F64);
    }
  return test_finish();
}
