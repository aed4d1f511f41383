/* Sorting and order statistics against NumPy results stored in tests/data/dnd
 * (scripts/gen_dnd_reference.py) and qsort of the full array. */
#include <stdlib.h>

#include "dnd_test_util.h"
#include "equivar/npy.h"

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void test_stats(void) {
  /* The generator's array: x[k] = ref_value(k, float64), k < 61. */
  eq_tensor *rx = ref_tensor(EQ_F64, EQ_DIMS(61));
  eq_tensor *rperc = dnd_load_ref("stats_percentile.npy"), *rmed = dnd_load_ref("stats_median.npy");
  eq_tensor *rhist = dnd_load_ref("stats_histogram.npy"), *runiq = dnd_load_ref("stats_unique.npy");
  eq_tensor *rsort = dnd_load_ref("stats_sorted.npy");
  CHECK(rperc && rmed && rhist && runiq && rsort);
  if (!(rperc && rmed && rhist && runiq && rsort)) return;
  double q[7] = {0, 10, 25, 50, 75, 90, 100};
  FOR_SPLITS(s, 1) {
    eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
    eq_dnd *p = eq_dnd_percentile(x, q, 7);
    check_dnd("percentile = numpy", p, rperc, EQ_DND_NONE, true, 1e-12);
    eq_dnd *m = eq_dnd_median(x);
    double v = 0;
    CHECK(m && eq_dnd_item(m, &v) == EQ_OK);
    CHECK_CLOSE(v, eq_get_flat(rmed, 0), 1e-12, 0);
    eq_dnd *h = eq_dnd_histogram(x, 7, -9, 14);
    check_dnd("histogram = numpy", h, rhist, EQ_DND_NONE, true, 0);
    eq_dnd *u = eq_dnd_unique(x);
    check_dnd("unique = numpy", u, runiq, EQ_DND_NONE, true, 0);
    eq_dnd *idx = NULL;
    eq_dnd *so = eq_dnd_sort(x, 0, false, &idx);
    check_dnd("sort = numpy", so, rsort, s, true, 0);
    /* argsort: x[idx] == sorted, and ties keep index order (stable). */
    eq_tensor *ti = idx ? eq_dnd_to_tensor(idx) : NULL;
    CHECK(ti != NULL);
    for (int i = 0; ti && i < 61; i++) {
      int64_t k = (int64_t)eq_get_flat(ti, i);
      CHECK(k >= 0 && k < 61 && eq_get_flat(rx, k) == eq_get_flat(rsort, i));
      if (i && eq_get_flat(rsort, i) == eq_get_flat(rsort, i - 1)) CHECK(k > (int64_t)eq_get_flat(ti, i - 1));
    }
    eq_tensor_free(ti);
    eq_dnd *tv = NULL, *tix = NULL;
    CHECK(eq_dnd_topk(x, 5, true, &tv, &tix) == EQ_OK);
    eq_tensor *rtop = eq_empty(EQ_F64, EQ_DIMS(5));
    for (int i = 0; i < 5; i++) eq_set_flat(rtop, i, eq_get_flat(rsort, 60 - i));
    check_dnd("topk largest", tv, rtop, EQ_DND_NONE, true, 0);
    for (int i = 0; tix && i < 5; i++) CHECK(eq_get_flat(rx, (int64_t)eq_get_flat(tix->local, i)) == eq_get_flat(rtop, i));
    eq_dnd_free(tv);
    eq_dnd_free(tix);
    CHECK(eq_dnd_topk(x, 3, false, &tv, &tix) == EQ_OK);
    for (int i = 0; tv && i < 3; i++) CHECK(eq_get_flat(tv->local, i) == eq_get_flat(rsort, i));
    eq_dnd_free(tv);
    eq_dnd_free(tix);
    CHECK(eq_dnd_topk(x, 62, true, &tv, &tix) == EQ_ERR_VALUE);
    eq_tensor_free(rtop);
    eq_dnd *objs[] = {x, p, m, h, u, idx, so};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) eq_dnd_free(objs[i]);
  }
  eq_tensor *ts[] = {rx, rperc, rmed, rhist, runiq, rsort};
  for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) eq_tensor_free(ts[i]);
}

static void test_sort_nd(void) {
  for (int di = 0; di < 3; di++) {
    eq_dtype d = DTYPES[di];
    eq_tensor *rx = ref_tensor(d, EQ_DIMS(7, 5));
    for (int ax = 0; ax < 2; ax++) {
      for (int desc = 0; desc < 2; desc++) {
        eq_tensor *ref = eq_clone(rx);
        int n = ax == 0 ? 7 : 5, lanes = ax == 0 ? 5 : 7;
        for (int l = 0; l < lanes; l++) {
          double buf[7];
          for (int j = 0; j < n; j++) buf[j] = eq_get_flat(rx, ax == 0 ? j * 5 + l : l * 5 + j);
          qsort(buf, (size_t)n, sizeof(double), cmp_d);
          for (int j = 0; j < n; j++) eq_set_flat(ref, ax == 0 ? j * 5 + l : l * 5 + j, desc ? buf[n - 1 - j] : buf[j]);
        }
        FOR_SPLITS(s, 2) {
          eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
          eq_dnd *so = eq_dnd_sort(x, ax, desc, NULL);
          char what[64];
          snprintf(what, sizeof what, "sort %s axis %d desc %d split %d", eq_dtype_name(d), ax, desc, s);
          check_dnd(what, so, ref, s, true, 0);
          eq_dnd_free(so);
          eq_dnd_free(x);
        }
        eq_tensor_free(ref);
      }
    }
    eq_tensor_free(rx);
  }
  /* permutation: a permutation of 0..n-1, independent of the rank count. */
  eq_dnd *p = eq_dnd_permutation(23, 7, 0, 0, W);
  eq_tensor *tp = p ? eq_dnd_to_tensor(p) : NULL;
  eq_dnd *keys = eq_dnd_rand_uniform(EQ_F64, EQ_DIMS(23), 0, 1, 7, 0, EQ_DND_NONE, W);
  int seen[23] = {0};
  for (int i = 0; tp && i < 23; i++) {
    int64_t k = (int64_t)eq_get_flat(tp, i);
    CHECK(k >= 0 && k < 23 && !seen[k]);
    if (k >= 0 && k < 23) seen[k] = 1;
    if (i) CHECK(eq_get_flat(keys->local, k) > eq_get_flat(keys->local, (int64_t)eq_get_flat(tp, i - 1)));
  }
  eq_tensor_free(tp);
  eq_dnd_free(p);
  eq_dnd_free(keys);
}

/* Values no double can hold apart (int64 near 2^62, one apart) and floats
 * with NaN, infinities and signed zeros: sort, descending sort, unique and
 * topk are exact, NaN last in both directions, at every split. */
static void test_sort_exact(void) {
  const int64_t big = (int64_t)1 << 62;
  const int64_t iv[] = {big + 3, -big - 1, big + 1, 5, big + 3, -big, big + 2, -5, big + 1, 0, INT64_MAX, INT64_MIN, 7};
  const int64_t iasc[] = {INT64_MIN, -big - 1, -big, -5, 0, 5, 7, big + 1, big + 1, big + 2, big + 3, big + 3, INT64_MAX};
  const int64_t iuniq[] = {INT64_MIN, -big - 1, -big, -5, 0, 5, 7, big + 1, big + 2, big + 3, INT64_MAX};
  const int n = 13, nu = 11;
  eq_tensor *ti = eq_from_data(EQ_I64, EQ_DIMS(n), iv);
  FOR_SPLITS(s, 1) {
    eq_dnd *x = eq_dnd_from_tensor(ti, s, W);
    eq_dnd *a = eq_dnd_sort(x, 0, false, NULL), *d = eq_dnd_sort(x, 0, true, NULL), *u = eq_dnd_unique(x);
    eq_tensor *ga = a ? eq_dnd_to_tensor(a) : NULL, *gd = d ? eq_dnd_to_tensor(d) : NULL,
              *gu = u ? eq_dnd_to_tensor(u) : NULL;
    CHECK_MSG(ga && gd && gu, "int64 sort/unique at split %d: %s", s, eq_error_message());
    for (int i = 0; ga && gd && i < n; i++) {
      CHECK_MSG(((int64_t *)eq_data_ptr(ga))[i] == iasc[i], "int64 sort split %d [%d]", s, i);
      CHECK_MSG(((int64_t *)eq_data_ptr(gd))[i] == iasc[n - 1 - i], "int64 descending split %d [%d]", s, i);
    }
    CHECK(gu && gu->shape[0] == nu);
    for (int i = 0; gu && gu->shape[0] == nu && i < nu; i++)
      CHECK_MSG(((int64_t *)eq_data_ptr(gu))[i] == iuniq[i], "int64 unique split %d [%d]", s, i);
    eq_dnd *tv = NULL, *tix = NULL;
    CHECK(eq_dnd_topk(x, 3, true, &tv, &tix) == EQ_OK);
    eq_tensor *gt = tv ? eq_dnd_to_tensor(tv) : NULL, *gti = tix ? eq_dnd_to_tensor(tix) : NULL;
    CHECK(gt && gti);
    if (gt && gti) {
      const int64_t *t = eq_data_ptr(gt), *k = eq_data_ptr(gti);
      CHECK(t[0] == INT64_MAX && t[1] == big + 3 && t[2] == big + 3);
      CHECK(k[0] == 10 && k[1] == 0 && k[2] == 4); /* ties by index */
    }
    eq_tensor_free(ga), eq_tensor_free(gd), eq_tensor_free(gu), eq_tensor_free(gt), eq_tensor_free(gti);
    eq_dnd_free(a), eq_dnd_free(d), eq_dnd_free(u), eq_dnd_free(tv), eq_dnd_free(tix), eq_dnd_free(x);
  }
  eq_tensor_free(ti);

  const double fv[] = {2.5, NAN, -INFINITY, -0.0, 1e300, INFINITY, -2.5, 0.0, NAN, 1e-300};
  const double fasc[] = {-INFINITY, -2.5, 0.0, 0.0, 1e-300, 2.5, 1e300, INFINITY, NAN, NAN};
  const double fdesc[] = {INFINITY, 1e300, 2.5, 1e-300, 0.0, 0.0, -2.5, -INFINITY, NAN, NAN};
  eq_tensor *tf = eq_from_data(EQ_F64, EQ_DIMS(10), fv);
  FOR_SPLITS(s, 1) {
    eq_dnd *x = eq_dnd_from_tensor(tf, s, W);
    eq_dnd *a = eq_dnd_sort(x, 0, false, NULL), *d = eq_dnd_sort(x, 0, true, NULL);
    eq_tensor *ga = a ? eq_dnd_to_tensor(a) : NULL, *gd = d ? eq_dnd_to_tensor(d) : NULL;
    CHECK(ga && gd);
    for (int i = 0; ga && gd && i < 10; i++) {
      double va = ((double *)eq_data_ptr(ga))[i], vd = ((double *)eq_data_ptr(gd))[i];
      CHECK_MSG(isnan(fasc[i]) ? isnan(va) : va == fasc[i], "float sort split %d [%d] %g", s, i, va);
      CHECK_MSG(isnan(fdesc[i]) ? isnan(vd) : vd == fdesc[i], "float descending split %d [%d] %g", s, i, vd);
    }
    eq_tensor_free(ga), eq_tensor_free(gd);
    eq_dnd_free(a), eq_dnd_free(d), eq_dnd_free(x);
  }
  eq_tensor_free(tf);
}

int main(void) {
  DND_TEST_BEGIN();
  test_stats();
  test_sort_nd();
  test_sort_exact();
  return DND_TEST_END();
}
