/* Hierarchical SVD against NumPy's singular values of the same matrices
 * (tests/data/dnd/hsvd_*.npy, scripts/gen_dnd_linalg_reference.py): exact
 * rank (tight), full rank (the error estimate bounds the true error
 * |A - U S V^T|_F / |A|_F), rtol truncation, fewer columns than ranks, at
 * every split and float32 / float64; layouts of U, S, V; bad arguments. */
#include "dnd_test_util.h"

/* A reference file; the test cannot run without it. */
static eq_tensor *must_load(const char *name) {
  eq_tensor *t = dnd_load_ref(name);
  if (!t) exit(2);
  return t;
}

typedef struct result {
  eq_tensor *u, *s, *v; /* gathered */
  double err_est, true_err;
  int64_t r;
} result;

/* Runs hsvd on A (full reference) at split / dtype; checks the layouts and
 * computes the true relative error of U diag(S) V^T. */
static bool run(const eq_tensor *A64, int split, eq_dtype dt, int64_t maxrank, double rtol, int64_t shift,
                result *res) {
  eq_tensor *A = eq_to_dtype((eq_tensor *)A64, dt);
  eq_dnd *a = eq_dnd_from_tensor(A, split, W);
  eq_dnd *u = NULL, *s = NULL, *v = NULL;
  eq_status st = eq_dnd_hsvd(a, maxrank, rtol, shift, &u, &s, &v, &res->err_est);
  CHECK_MSG(st == EQ_OK, "hsvd split=%d dt=%d: %s", split, dt, eq_error_message());
  bool ok = st == EQ_OK && u && s && v;
  if (ok) {
    int64_t m = A->shape[0], n = A->shape[1], r = s->shape[0];
    res->r = r;
    CHECK(u->ndim == 2 && u->shape[0] == m && u->shape[1] == r && u->dtype == dt);
    CHECK(v->ndim == 2 && v->shape[0] == n && v->shape[1] == r && v->dtype == dt);
    CHECK(s->ndim == 1 && s->split == EQ_DND_NONE && s->dtype == dt);
    CHECK(r >= 1 && r <= (m < n ? m : n) && (maxrank == 0 || r <= maxrank));
    /* U follows A's rows when A is row-split, V A's columns when column-split */
    CHECK(u->split == (split == 0 ? 0 : EQ_DND_NONE) && v->split == (split == 1 ? 0 : EQ_DND_NONE));
    if (split == 0) CHECK(u->local->shape[0] == a->local->shape[0]);
    if (split == 1) CHECK(v->local->shape[0] == a->local->shape[1]);
    res->u = eq_dnd_to_tensor(u), res->s = eq_dnd_to_tensor(s), res->v = eq_dnd_to_tensor(v);
    double e2 = 0, a2 = 0;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double x = eq_get_flat(A64, i * n + j), y = 0;
        for (int64_t t = 0; t < r; t++)
          y += eq_get_flat(res->u, i * r + t) * eq_get_flat(res->s, t) * eq_get_flat(res->v, j * r + t);
        e2 += (x - y) * (x - y), a2 += x * x;
      }
    res->true_err = sqrt(e2 / a2);
  }
  eq_dnd_free(a), eq_dnd_free(u), eq_dnd_free(s), eq_dnd_free(v);
  eq_tensor_free(A);
  return ok;
}

static void release(result *r) { eq_tensor_free(r->u), eq_tensor_free(r->s), eq_tensor_free(r->v); }

/* Exact rank 4: the four singular values to rounding, a reconstruction to
 * rounding, orthonormal factors; extra directions carry ~0. */
static void test_lowrank(void) {
  eq_tensor *A = must_load("hsvd_lowrank.npy"), *ref = must_load("hsvd_lowrank_s.npy");
  for (int di = 0; di < 2; di++) {
    eq_dtype dt = di ? EQ_F64 : EQ_F32;
    double tol = dt == EQ_F64 ? 1e-11 : 3e-6;
    FOR_SPLITS(split, 2) {
      const int64_t ranks[3] = {4, 4, 7}, shifts[3] = {0, 5, 2};
      for (int c = 0; c < 3; c++) {
        result r = {0};
        if (!run(A, split, dt, ranks[c], 0, shifts[c], &r)) continue;
        CHECK(r.r == ranks[c]);
        for (int64_t i = 0; i < 4; i++)
          CHECK_MSG(fabs(eq_get_flat(r.s, i) - eq_get_flat(ref, i)) <= tol * eq_get_flat(ref, 0),
                    "lowrank split=%d dt=%d maxrank=%lld: s[%lld] = %.12g vs %.12g", split, dt,
                    (long long)ranks[c], (long long)i, eq_get_flat(r.s, i), eq_get_flat(ref, i));
        for (int64_t i = 4; i < r.r; i++) CHECK(fabs(eq_get_flat(r.s, i)) <= tol * eq_get_flat(ref, 0));
        CHECK_MSG(r.true_err <= tol && r.err_est <= 10 * tol, "lowrank: true %g est %g", r.true_err, r.err_est);
        CHECK(dnd_orth_err(r.u, 4) < 10 * tol && dnd_orth_err(r.v, 4) < 10 * tol);
        release(&r);
      }
    }
  }
  eq_tensor_free(A), eq_tensor_free(ref);
}

/* Full rank, singular values 3 * 0.7^i: the estimate bounds the true error
 * and is not wildly pessimistic; the leading values are close; rtol mode
 * meets the tolerance with no fewer directions than the optimum needs. */
static void test_fullrank(void) {
  eq_tensor *A = must_load("hsvd_full.npy"), *ref = must_load("hsvd_full_s.npy");
  int64_t q = eq_numel(ref);
  for (int di = 0; di < 2; di++) {
    eq_dtype dt = di ? EQ_F64 : EQ_F32;
    double eps = dt == EQ_F64 ? 1e-12 : 1e-5;
    FOR_SPLITS(split, 2) {
      for (int shift = 0; shift <= 5; shift += 5) {
        result r = {0};
        if (!run(A, split, dt, 5, 0, shift, &r)) continue;
        CHECK(r.r == 5);
        /* the optimal rank-5 error is the floor of any rank-5 approximation */
        double opt = 0, tot = 0;
        for (int64_t i = 0; i < q; i++) {
          double x = eq_get_flat(ref, i);
          tot += x * x;
          if (i >= 5) opt += x * x;
        }
        opt = sqrt(opt / tot);
        CHECK_MSG(r.true_err >= opt * (1 - 1e-6) - eps, "true %g below optimum %g", r.true_err, opt);
        CHECK_MSG(r.err_est >= r.true_err * (1 - 1e-6) - eps, "split=%d dt=%d shift=%d: estimate %g < true error %g",
                  split, dt, shift, r.err_est, r.true_err);
        CHECK_MSG(r.err_est <= 3 * opt, "estimate %g vs optimum %g", r.err_est, opt);
        for (int64_t i = 0; i < 3; i++) CHECK_CLOSE(eq_get_flat(r.s, i), eq_get_flat(ref, i), shift ? 1e-3 : 5e-2, 0);
        release(&r);
      }
      const double rtols[2] = {0.05, 0.01};
      for (int t = 0; t < 2; t++) {
        result r = {0};
        if (!run(A, split, dt, 0, rtols[t], 0, &r)) continue;
        int64_t need = q; /* smallest rank whose optimal error is <= rtol */
        double tail = 0, tot = 0;
        for (int64_t i = 0; i < q; i++) tot += eq_get_flat(ref, i) * eq_get_flat(ref, i);
        for (int64_t i = q - 1; i >= 0; i--) {
          tail += eq_get_flat(ref, i) * eq_get_flat(ref, i);
          if (tail > rtols[t] * rtols[t] * tot) break;
          need = i;
        }
        CHECK_MSG(r.err_est <= rtols[t] * (1 + 1e-9) && r.true_err <= r.err_est * (1 + 1e-6) + eps,
                  "rtol %g split=%d: est %g true %g", rtols[t], split, r.err_est, r.true_err);
        CHECK_MSG(r.r >= need, "rtol %g: rank %lld < %lld", rtols[t], (long long)r.r, (long long)need);
        release(&r);
      }
    }
  }
  eq_tensor_free(A), eq_tensor_free(ref);
}

/* 9 x 3 and its 3 x 9 transpose: a rank may hold no columns at all. */
static void test_thin(void) {
  eq_tensor *A = must_load("hsvd_thin.npy"), *ref = must_load("hsvd_thin_s.npy");
  eq_tensor *At = eq_transpose(A, 0, 1), *Atc = eq_clone(At);
  for (int di = 0; di < 2; di++) {
    eq_dtype dt = di ? EQ_F64 : EQ_F32;
    double tol = dt == EQ_F64 ? 1e-11 : 3e-6;
    FOR_SPLITS(split, 2) {
      for (int tr = 0; tr < 2; tr++) {
        result r = {0};
        if (!run(tr ? Atc : A, split, dt, 3, 0, 1, &r)) continue;
        CHECK(r.r == 3);
        for (int64_t i = 0; i < 3; i++) CHECK_CLOSE(eq_get_flat(r.s, i), eq_get_flat(ref, i), tol, 0);
        CHECK(r.true_err <= tol && r.err_est <= tol);
        release(&r);
      }
    }
  }
  eq_tensor_free(A), eq_tensor_free(ref), eq_tensor_free(At), eq_tensor_free(Atc);
}

static void test_errors(void) {
  eq_tensor *A = must_load("hsvd_thin.npy");
  eq_dnd *a = eq_dnd_from_tensor(A, 0, W), *u = NULL;
  double e = 0;
  CHECK(eq_dnd_hsvd(NULL, 2, 0, 0, &u, NULL, NULL, &e) == EQ_ERR_VALUE && !u);
  CHECK(eq_dnd_hsvd(a, -1, 0, 0, &u, NULL, NULL, &e) == EQ_ERR_VALUE && strstr(eq_error_message(), "maxrank=-1"));
  CHECK(eq_dnd_hsvd(a, 0, 1.5, 0, &u, NULL, NULL, &e) == EQ_ERR_VALUE && strstr(eq_error_message(), "rtol=1.5"));
  CHECK(eq_dnd_hsvd(a, 0, NAN, 0, &u, NULL, NULL, &e) == EQ_ERR_VALUE);
  CHECK(eq_dnd_hsvd(a, 0, 0, 0, &u, NULL, NULL, &e) == EQ_ERR_VALUE && strstr(eq_error_message(), "maxrank > 0"));
  CHECK(eq_dnd_hsvd(a, 2, 0, -3, &u, NULL, NULL, &e) == EQ_ERR_VALUE && strstr(eq_error_message(), "safetyshift"));
  eq_dnd *vec = eq_dnd_arange(0, 5, 1, EQ_F64, 0, W), *ints = eq_dnd_astype(a, EQ_I64);
  CHECK(eq_dnd_hsvd(vec, 2, 0, 0, &u, NULL, NULL, &e) == EQ_ERR_SHAPE && strstr(eq_error_message(), "2-d"));
  CHECK(eq_dnd_hsvd(ints, 2, 0, 0, &u, NULL, NULL, &e) == EQ_ERR_DTYPE && strstr(eq_error_message(), "float"));
  /* the convenience forms: HeAT's defaults (safetyshift 5) */
  eq_dnd *s = NULL;
  CHECK(eq_dnd_hsvd_rank(a, 2, NULL, &s, NULL, &e) == EQ_OK && s && s->shape[0] == 2);
  eq_dnd_free(s), s = NULL;
  CHECK(eq_dnd_hsvd_rtol(a, 0.5, NULL, &s, NULL, &e) == EQ_OK && s && e <= 0.5);
  eq_dnd_free(s), eq_dnd_free(vec), eq_dnd_free(ints), eq_dnd_free(a), eq_tensor_free(A);
}

int main(void) {
  DND_TEST_BEGIN();
  test_lowrank();
  test_fullrank();
  test_thin();
  test_errors();
  return DND_TEST_END();
}
