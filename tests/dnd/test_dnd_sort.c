/* Sorting and order statistics against NumPy results stored in tests/data/dnd
 * (scripts/gen_dnd_reference.py) and qsort of the full array. */
#include <stdlib.h>

#include "dnd_test_util.h"
#include "equivar/npy.h"

static eq_tensor *load_ref(const char *name) {
  char path[512];
  const char *root = getenv("EQ_TEST_DATA");
  snprintf(path, sizeof path, "%s/dnd/%s", root ? root : "tests/data", name);
  eq_npy_info info;
  void *data = NULL;
  if (eq_npy_load(path, &info, &data)) {
    fprintf(stderr, "%s\n", eq_error_message());
    return NULL;
  }
  eq_dtype d;
  eq_dtype_from_npy(info.descr, &d);
  eq_tensor *t = eq_from_data(d, info.ndim, info.shape, data);
  free(data);
  return t;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void test_stats(void) {
  /* The generator's array: x[k] = ref_value(k, float64), k < 61. */
  eq_tensor *rx = ref_tensor(EQ_F64, EQ_DIMS(61));
  eq_tensor *rperc = load_ref("stats_percentile.npy"), *rmed = load_ref("stats_median.npy");
  eq_tensor *rhist = load_ref("stats_histogram.npy"), *runiq = load_ref("stats_unique.npy");
  eq_tensor *rsort = load_ref("stats_sorted.npy");
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

int main(void) {
  DND_TEST_BEGIN();
  test_stats();
  test_sort_nd();
  return DND_TEST_END();
}
