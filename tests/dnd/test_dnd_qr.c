/* QR of column-split matrices (block Gram-Schmidt in rank order, no resplit)
 * and det at every split, against NumPy (tests/data/dnd/qr_*.npy, det.npy
 * from scripts/gen_dnd_reference.py): tall, square and wide matrices, column
 * counts not divisible by the ranks, empty blocks, float32 / float64; the
 * split-0 TSQR of the same matrix gives the same Q and R (signs included); a
 * Hilbert matrix (cond 5e10) keeps Q orthonormal to 1e-13, which a single
 * projection pass does not. */
#include <stdlib.h>

#include "dnd_test_util.h"
#include "equivar/npy.h"

static const char *data_path(const char *name) {
  static char buf[512];
  const char *root = getenv("EQ_TEST_DATA");
  snprintf(buf, sizeof buf, "%s/dnd/%s", root ? root : "tests/data", name);
  return buf;
}

/* A float64 reference file, or NULL (with a failed check). */
static double *load_ref(const char *name, int64_t want) {
  eq_npy_info info;
  void *data = NULL;
  eq_status st = eq_npy_load(data_path(name), &info, &data);
  CHECK_MSG(st == EQ_OK, "load %s: %s", name, eq_error_message());
  if (st) return NULL;
  CHECK_MSG(eq_npy_count(&info) == want && info.item_size == 8, "%s: %lld values", name,
            (long long)eq_npy_count(&info));
  if (eq_npy_count(&info) != want) {
    free(data);
    return NULL;
  }
  return data;
}

/* max |Q R - A| / max |A|, on gathered copies. */
static double recon_err(const eq_tensor *q, const eq_tensor *r, const eq_tensor *a) {
  int64_t m = q->shape[0], k = q->shape[1], n = r->shape[1];
  double e = 0, amax = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t t = 0; t < k; t++) s += eq_get_flat(q, i * k + t) * eq_get_flat(r, t * n + j);
      e = fmax(e, fabs(s - eq_get_flat(a, i * n + j)));
      amax = fmax(amax, fabs(eq_get_flat(a, i * n + j)));
    }
  return e / (amax > 0 ? amax : 1);
}

static bool upper_nonneg(const eq_tensor *r) {
  int64_t k = r->shape[0], n = r->shape[1];
  for (int64_t i = 0; i < k; i++) {
    if (eq_get_flat(r, i * n + i) < 0) return false;
    for (int64_t j = 0; j < i && j < n; j++)
      if (eq_get_flat(r, i * n + j) != 0) return false;
  }
  return true;
}

/* The layout the split-1 QR promises: Q's column blocks are a's clipped to k. */
static void check_layout(const char *what, const eq_dnd *a, const eq_dnd *q, const eq_dnd *r) {
  int64_t k = a->shape[0] < a->shape[1] ? a->shape[0] : a->shape[1];
  CHECK_MSG(q->split == 1 && r->split == 1, "%s: splits %d %d", what, q->split, r->split);
  CHECK_MSG(q->shape[0] == a->shape[0] && q->shape[1] == k && r->shape[0] == k && r->shape[1] == a->shape[1],
            "%s: shapes", what);
  for (int p = 0; p < a->comm->size; p++) {
    int64_t lo = a->offsets[p] < k ? a->offsets[p] : k, hi = a->offsets[p + 1] < k ? a->offsets[p + 1] : k;
    CHECK_MSG(q->counts[p] == hi - lo && r->counts[p] == a->counts[p], "%s: counts of rank %d", what, p);
  }
}

static void test_against_numpy(void) {
  const int64_t cases[][2] = {{11, 4}, {5, 5}, {9, 2}, {13, 7}, {3, 7}, {4, 9}, {2, 5}, {6, 1}};
  const eq_dtype dts[2] = {EQ_F64, EQ_F32};
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    int64_t m = cases[ci][0], n = cases[ci][1], k = m < n ? m : n;
    char name[64];
    snprintf(name, sizeof name, "qr_%lldx%lld.npy", (long long)m, (long long)n);
    double *ref = load_ref(name, m * k + k * n);
    if (!ref) continue;
    eq_tensor *rq = eq_tensor_wrap(EQ_F64, 2, (int64_t[]){m, k}, ref);
    eq_tensor *rr = eq_tensor_wrap(EQ_F64, 2, (int64_t[]){k, n}, ref + m * k);
    for (int di = 0; di < 2; di++) {
      eq_dtype d = dts[di];
      eq_tensor *ra = ref_tensor(d, EQ_DIMS(m, n));
      for (int64_t i = 0; i < k; i++) eq_set_flat(ra, i * n + i, eq_get_flat(ra, i * n + i) + 30);
      eq_dnd *a = eq_dnd_from_tensor(ra, 1, W), *q = NULL, *r = NULL;
      snprintf(name, sizeof name, "qr %lldx%lld %s split 1", (long long)m, (long long)n, eq_dtype_name(d));
      CHECK_MSG(a && eq_dnd_qr(a, &q, &r) == EQ_OK, "%s: %s", name, eq_error_message());
      if (q && r) {
        check_layout(name, a, q, r);
        CHECK(q->dtype == d && r->dtype == d);
        /* Q, R against NumPy (diag(R) >= 0 fixes the signs). */
        check_dnd(name, q, rq, 1, false, tol_of(d));
        check_dnd(name, r, rr, 1, eq_dnd_is_balanced(a), tol_of(d) * 10);
        eq_tensor *tq = eq_dnd_to_tensor(q), *tr = eq_dnd_to_tensor(r);
        if (tq && tr) {
          double oe = dnd_orth_err(tq, tq->shape[1]), re = recon_err(tq, tr, ra);
          CHECK_MSG(oe < (d == EQ_F64 ? 1e-13 : 1e-6), "%s: |Q^T Q - I| = %g", name, oe);
          CHECK_MSG(re < (d == EQ_F64 ? 1e-14 : 1e-6), "%s: |QR - A| / |A| = %g", name, re);
          CHECK_MSG(upper_nonneg(tr), "%s: R not upper triangular with diag >= 0", name);
        }
        eq_tensor_free(tq);
        eq_tensor_free(tr);
      }
      /* Only R, only Q: the same factors. */
      eq_dnd *r2 = NULL, *q2 = NULL;
      CHECK(eq_dnd_qr(a, NULL, &r2) == EQ_OK && eq_dnd_qr(a, &q2, NULL) == EQ_OK);
      check_dnd("qr R only", r2, rr, 1, false, tol_of(d) * 10);
      check_dnd("qr Q only", q2, rq, 1, false, tol_of(d));
      if (m >= n) {
        /* The split-0 TSQR of the same matrix: the same factors, signs included. */
        eq_dnd *a0 = eq_dnd_from_tensor(ra, 0, W), *q0 = NULL, *r0 = NULL;
        CHECK(eq_dnd_qr(a0, &q0, &r0) == EQ_OK);
        check_dnd("tsqr Q", q0, rq, 0, true, tol_of(d));
        check_dnd("tsqr R", r0, rr, EQ_DND_NONE, true, tol_of(d) * 10);
        eq_dnd_free(a0);
        eq_dnd_free(q0);
        eq_dnd_free(r0);
      }
      eq_dnd *ds[] = {a, q, r, q2, r2};
      for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) eq_dnd_free(ds[i]);
      eq_tensor_free(ra);
    }
    eq_tensor_free(rq);
    eq_tensor_free(rr);
    free(ref);
  }
}

static void test_ill_conditioned_and_edges(void) {
  /* Hilbert 40 x 10 (cond 4.8e10). */
  int64_t m = 40, n = 10;
  eq_tensor *h = eq_empty(EQ_F64, EQ_DIMS(m, n));
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) eq_set_flat(h, i * n + j, 1.0 / (double)(i + j + 1));
  eq_dnd *a = eq_dnd_from_tensor(h, 1, W), *q = NULL, *r = NULL;
  CHECK(eq_dnd_qr(a, &q, &r) == EQ_OK);
  eq_tensor *tq = q ? eq_dnd_to_tensor(q) : NULL, *tr = r ? eq_dnd_to_tensor(r) : NULL;
  if (tq && tr) {
    double oe = dnd_orth_err(tq, tq->shape[1]), re = recon_err(tq, tr, h);
    CHECK_MSG(oe < 1e-13, "Hilbert: |Q^T Q - I| = %g", oe);
    CHECK_MSG(re < 1e-14, "Hilbert: |QR - A| / |A| = %g", re);
    CHECK(upper_nonneg(tr));
  }
  eq_tensor_free(tq);
  eq_tensor_free(tr);
  eq_dnd_free(a);
  eq_dnd_free(q);
  eq_dnd_free(r);
  eq_tensor_free(h);
  /* No rows / no columns: empty factors of the right shapes. */
  const int64_t empties[2][2] = {{0, 3}, {4, 0}};
  for (int e = 0; e < 2; e++) {
    eq_dnd *z = eq_dnd_zeros(EQ_F32, EQ_DIMS(empties[e][0], empties[e][1]), 1, W);
    q = r = NULL;
    CHECK(z && eq_dnd_qr(z, &q, &r) == EQ_OK);
    CHECK(q && r && q->shape[0] == empties[e][0] && q->shape[1] == 0 && r->shape[0] == 0 &&
          r->shape[1] == empties[e][1] && q->split == 1 && r->split == 1);
    eq_dnd_free(z);
    eq_dnd_free(q);
    eq_dnd_free(r);
  }
  /* Errors: not 2-d; wide with split 0 (TSQR needs m >= n). */
  eq_dnd *v = eq_dnd_ones(EQ_F64, EQ_DIMS(5), 0, W);
  CHECK(eq_dnd_qr(v, &q, &r) == EQ_ERR_SHAPE && q == NULL && r == NULL);
  eq_dnd *w = eq_dnd_ones(EQ_F64, EQ_DIMS(2, 5), 0, W);
  CHECK(eq_dnd_qr(w, &q, NULL) == EQ_ERR_UNSUPPORTED && strstr(eq_error_message(), "split 1"));
  eq_dnd_free(v);
  eq_dnd_free(w);
}

/* Hadamard's bound (product of the row norms): the scale of det's rounding error. */
static double hadamard(const eq_tensor *a) {
  int64_t n = a->shape[0];
  double h = 1;
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += eq_get_flat(a, i * n + j) * eq_get_flat(a, i * n + j);
    h *= sqrt(s);
  }
  return h;
}

static void check_det(const char *what, const eq_tensor *ra, double want, double rtol) {
  double tol = rtol * hadamard(ra);
  FOR_SPLITS(s, 2) {
    eq_dnd *a = eq_dnd_from_tensor(ra, s, W);
    double got = -12345;
    eq_status st = a ? eq_dnd_det(a, &got) : eq_error_code();
    CHECK_MSG(st == EQ_OK, "%s split %d: %s", what, s, eq_error_message());
    CHECK_MSG(fabs(got - want) <= tol, "%s split %d: det %.17g vs NumPy %.17g (tol %g)", what, s, got, want, tol);
    eq_dnd_free(a);
  }
}

static void test_det(void) {
  double *ref = load_ref("det.npy", 11);
  if (!ref) return;
  char what[64];
  for (int64_t n = 1; n <= 9; n++) {
    eq_tensor *a = ref_tensor(EQ_F64, EQ_DIMS(n, n));
    snprintf(what, sizeof what, "det %lldx%lld", (long long)n, (long long)n);
    check_det(what, a, ref[n - 1], 1e-14);
    eq_tensor_free(a);
  }
  /* Zero diagonal: every column needs a row exchange. */
  eq_tensor *p = ref_tensor(EQ_F64, EQ_DIMS(6, 6));
  for (int i = 0; i < 6; i++) eq_set_flat(p, i * 6 + i, 0);
  check_det("det zero diagonal", p, ref[9], 1e-14);
  eq_tensor *big = ref_tensor(EQ_F64, EQ_DIMS(6, 6));
  for (int i = 0; i < 36; i++) eq_set_flat(big, i, eq_get_flat(big, i) * 1e40);
  check_det("det * 1e240", big, ref[10], 1e-14);
  /* float32 input of the 5 x 5 case (its values are exact in float32). */
  eq_tensor *a5 = ref_tensor(EQ_F32, EQ_DIMS(5, 5));
  check_det("det float32", a5, ref[4], 1e-6);
  /* Exactly singular: two equal rows; the empty matrix; a NaN. */
  eq_tensor *sg = ref_tensor(EQ_F64, EQ_DIMS(5, 5));
  for (int j = 0; j < 5; j++) eq_set_flat(sg, 3 * 5 + j, eq_get_flat(sg, 1 * 5 + j));
  check_det("det singular", sg, 0, 1e-15);
  eq_tensor *e0 = eq_zeros(EQ_F64, EQ_DIMS(0, 0));
  check_det("det 0x0", e0, 1, 0);
  eq_tensor *nan = ref_tensor(EQ_F64, EQ_DIMS(4, 4));
  eq_set_flat(nan, 14, NAN);
  FOR_SPLITS(s, 2) {
    eq_dnd *a = eq_dnd_from_tensor(nan, s, W);
    double got = 0;
    CHECK(a && eq_dnd_det(a, &got) == EQ_OK && isnan(got));
    eq_dnd_free(a);
  }
  eq_dnd *ns = eq_dnd_ones(EQ_F64, EQ_DIMS(3, 4), 0, W);
  double got;
  CHECK(eq_dnd_det(ns, &got) == EQ_ERR_SHAPE && strstr(eq_error_message(), "eq_dnd_det"));
  eq_dnd_free(ns);
  eq_tensor *ts[] = {p, big, a5, sg, e0, nan};
  for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) eq_tensor_free(ts[i]);
  free(ref);
}

int main(void) {
  DND_TEST_BEGIN();
  test_against_numpy();
  test_ill_conditioned_and_edges();
  test_det();
  return DND_TEST_END();
}
