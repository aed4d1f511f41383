/* Linear algebra: properties that pin the results down (Q^T Q = I, Q R = A
 * with R upper triangular and diag(R) >= 0, U S V^T = A, A inv(A) = I, ...)
 * and closed-form solutions, at every split. */
#include "dnd_test_util.h"

static eq_tensor *full(const eq_dnd *x) { return x ? eq_dnd_to_tensor(x) : NULL; }

/* max |A B - C| for full tensors (A m x k, B k x n, C m x n; transpose A when ta). */
static double mm_err(const eq_tensor *A, const eq_tensor *B, const eq_tensor *C, bool ta) {
  int64_t m = ta ? A->shape[1] : A->shape[0], k = ta ? A->shape[0] : A->shape[1], n = B->shape[1];
  double e = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t t = 0; t < k; t++)
        s += (ta ? eq_get_flat(A, t * A->shape[1] + i) : eq_get_flat(A, i * k + t)) * eq_get_flat(B, t * n + j);
      double d = fabs(s - eq_get_flat(C, i * n + j));
      e = d > e ? d : e;
    }
  return e;
}

static eq_tensor *eye_t(int64_t n) {
  eq_tensor *t = eq_zeros(EQ_F64, EQ_DIMS(n, n));
  for (int64_t i = 0; i < n; i++) eq_set_flat(t, i * n + i, 1);
  return t;
}

/* A well-conditioned tall matrix: ref values + 10 on the leading diagonal. */
static eq_tensor *tall(int64_t m, int64_t n) {
  eq_tensor *a = ref_tensor(EQ_F64, EQ_DIMS(m, n));
  for (int64_t i = 0; i < n && i < m; i++) eq_set_flat(a, i * n + i, eq_get_flat(a, i * n + i) + 30);
  return a;
}

static void test_qr_svd_lstsq(void) {
  const int64_t dims[3][2] = {{11, 4}, {5, 5}, {9, 2}};
  for (int di = 0; di < 3; di++) {
    int64_t m = dims[di][0], n = dims[di][1];
    eq_tensor *ra = tall(m, n);
    FOR_SPLITS(s, 2) {
      eq_dnd *a = eq_dnd_from_tensor(ra, s, W);
      eq_dnd *q = NULL, *r = NULL;
      CHECK_MSG(eq_dnd_qr(a, &q, &r) == EQ_OK, "qr: %s", eq_error_message());
      /* TSQR for split 0 / None; the column-block QR keeps split 1 (tests/dnd/test_dnd_qr.c). */
      CHECK(q && q->split == (s == 1 ? 1 : 0) && r && r->split == (s == 1 ? 1 : EQ_DND_NONE));
      eq_tensor *tq = full(q), *tr = full(r), *I = eye_t(n);
      if (tq && tr) {
        CHECK_MSG(mm_err(tq, tq, I, true) < 1e-12, "Q^T Q = I (%lld x %lld, split %d)", (long long)m, (long long)n, s);
        CHECK_MSG(mm_err(tq, tr, ra, false) < 1e-10, "Q R = A");
        for (int64_t i = 0; i < n; i++) {
          CHECK(eq_get_flat(tr, i * n + i) >= 0);
          for (int64_t j = 0; j < i; j++) CHECK(eq_get_flat(tr, i * n + j) == 0);
        }
      }
      /* SVD: U S Vt = A, U orthonormal, S descending. */
      eq_dnd *u = NULL, *sv = NULL, *vt = NULL;
      CHECK(eq_dnd_svd(a, &u, &sv, &vt) == EQ_OK);
      eq_tensor *tu = full(u), *ts = full(sv), *tv = full(vt);
      if (tu && ts && tv) {
        eq_tensor *us = eq_clone(tu);
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++) eq_set_flat(us, i * n + j, eq_get_flat(tu, i * n + j) * eq_get_flat(ts, j));
        CHECK(mm_err(us, tv, ra, false) < 1e-10);
        CHECK(mm_err(tu, tu, I, true) < 1e-12);
        for (int64_t j = 1; j < n; j++) CHECK(eq_get_flat(ts, j) <= eq_get_flat(ts, j - 1));
        eq_tensor_free(us);
      }
      /* lstsq with an exact solution x = (1, -2, 3, ...). */
      eq_tensor *xt = eq_empty(EQ_F64, EQ_DIMS(n));
      for (int64_t j = 0; j < n; j++) eq_set_flat(xt, j, (j % 2 ? -1.0 : 1.0) * (double)(j + 1));
      eq_tensor *bt = eq_zeros(EQ_F64, EQ_DIMS(m));
      for (int64_t i = 0; i < m; i++) {
        double v = 0;
        for (int64_t j = 0; j < n; j++) v += eq_get_flat(ra, i * n + j) * eq_get_flat(xt, j);
        eq_set_flat(bt, i, v);
      }
      FOR_SPLITS(bs, 1) {
        eq_dnd *b = eq_dnd_from_tensor(bt, bs, W);
        eq_dnd *x = eq_dnd_lstsq(a, b);
        check_dnd("lstsq exact", x, xt, EQ_DND_NONE, true, 1e-10);
        eq_dnd_free(x);
        eq_dnd_free(b);
      }
      eq_tensor *ts_[] = {tq, tr, I, tu, ts, tv, xt, bt};
      for (size_t i = 0; i < sizeof ts_ / sizeof *ts_; i++) eq_tensor_free(ts_[i]);
      eq_dnd *ds[] = {a, q, r, u, sv, vt};
      for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) eq_dnd_free(ds[i]);
    }
    eq_tensor_free(ra);
  }
  eq_tensor *wide = ref_tensor(EQ_F64, EQ_DIMS(2, 5));
  eq_dnd *w = eq_dnd_from_tensor(wide, 0, W);
  eq_dnd *q = NULL;
  CHECK(eq_dnd_qr(w, &q, NULL) == EQ_ERR_UNSUPPORTED);
  eq_dnd_free(w);
  eq_tensor_free(wide);
}

static void test_square(void) {
  /* SPD matrix A = B^T B + n I. */
  int64_t n = 6;
  eq_tensor *rb = ref_tensor(EQ_F64, EQ_DIMS(n, n)), *ra = eq_empty(EQ_F64, EQ_DIMS(n, n));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = i == j ? (double)n : 0;
      for (int64_t t = 0; t < n; t++) s += eq_get_flat(rb, t * n + i) * eq_get_flat(rb, t * n + j);
      eq_set_flat(ra, i * n + j, s);
    }
  eq_tensor *I = eye_t(n), *xt = eq_empty(EQ_F64, EQ_DIMS(n)), *bt = eq_empty(EQ_F64, EQ_DIMS(n));
  for (int64_t i = 0; i < n; i++) eq_set_flat(xt, i, (double)i - 2.5);
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += eq_get_flat(ra, i * n + j) * eq_get_flat(xt, j);
    eq_set_flat(bt, i, s);
  }
  FOR_SPLITS(s, 2) {
    eq_dnd *a = eq_dnd_from_tensor(ra, s, W);
    eq_dnd *b = eq_dnd_from_tensor(bt, s == 1 ? 0 : s, W);
    eq_dnd *x = eq_dnd_solve(a, b);
    check_dnd("solve", x, xt, b->split, true, 1e-10);
    int iters = 0;
    eq_dnd *xc = eq_dnd_cg(a, b, NULL, 1e-10, 100, &iters);
    check_dnd("cg", xc, xt, b->split, true, 1e-8);
    CHECK(iters > 0 && iters <= 2 * n);
    eq_dnd *l = eq_dnd_cholesky(a);
    eq_tensor *tl = full(l);
    if (tl) {
      eq_tensor *tlt = eq_clone(tl);
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) eq_set_flat(tlt, i * n + j, eq_get_flat(tl, j * n + i));
      CHECK(mm_err(tl, tlt, ra, false) < 1e-9);
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) CHECK(eq_get_flat(tl, i * n + j) == 0);
      eq_tensor_free(tlt);
    }
    eq_dnd *ai = eq_dnd_inv(a);
    eq_tensor *tai = full(ai);
    if (tai) CHECK(mm_err(ra, tai, I, false) < 1e-10);
    eq_dnd *wv = NULL, *vv = NULL;
    CHECK(eq_dnd_eigh(a, &wv, &vv) == EQ_OK);
    eq_tensor *tw = full(wv), *tv = full(vv);
    if (tw && tv) {
      /* A V = V diag(w), w ascending. */
      eq_tensor *vw = eq_clone(tv);
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) eq_set_flat(vw, i * n + j, eq_get_flat(tv, i * n + j) * eq_get_flat(tw, j));
      CHECK(mm_err(ra, tv, vw, false) < 1e-9);
      for (int64_t j = 1; j < n; j++) CHECK(eq_get_flat(tw, j) >= eq_get_flat(tw, j - 1));
      eq_tensor_free(vw);
    }
    double tr = 0, want = 0;
    for (int64_t i = 0; i < n; i++) want += eq_get_flat(ra, i * n + i);
    CHECK(eq_dnd_trace(a, &tr) == EQ_OK);
    CHECK_CLOSE(tr, want, 1e-12, 0);
    eq_dnd *nrm = eq_dnd_norm(a);
    double nv = 0, nw = 0;
    for (int64_t i = 0; i < n * n; i++) nw += eq_get_flat(ra, i) * eq_get_flat(ra, i);
    CHECK(nrm && eq_dnd_item(nrm, &nv) == EQ_OK);
    CHECK_CLOSE(nv, sqrt(nw), 1e-12, 0);
    eq_dnd *o = eq_dnd_outer(b, b);
    eq_tensor *ro = eq_empty(EQ_F64, EQ_DIMS(n, n));
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) eq_set_flat(ro, i * n + j, eq_get_flat(bt, i) * eq_get_flat(bt, j));
    check_dnd("outer", o, ro, b->split, true, 1e-12);
    eq_tensor_free(ro);
    eq_tensor *ts[] = {tl, tai, tw, tv};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) eq_tensor_free(ts[i]);
    eq_dnd *ds[] = {a, b, x, xc, l, ai, wv, vv, nrm, o};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) eq_dnd_free(ds[i]);
  }
  /* Singular and indefinite input. */
  eq_dnd *z = eq_dnd_zeros(EQ_F64, EQ_DIMS(3, 3), 0, W);
  CHECK(eq_dnd_inv(z) == NULL && eq_error_code() == EQ_ERR_VALUE);
  CHECK(eq_dnd_cholesky(z) == NULL && eq_error_code() == EQ_ERR_VALUE);
  eq_dnd_free(z);
  eq_tensor *ts[] = {rb, ra, I, xt, bt};
  for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) eq_tensor_free(ts[i]);
}

int main(void) {
  DND_TEST_BEGIN();
  test_qr_svd_lstsq();
  test_square();
  return DND_TEST_END();
}
