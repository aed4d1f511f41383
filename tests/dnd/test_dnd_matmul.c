/* matmul for every split combination and dtype, vectors, cdist (exact and
 * quadratic) against loops on the full arrays. */
#include "dnd_test_util.h"

static eq_tensor *ref_matmul(const eq_tensor *a, const eq_tensor *b) {
  int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
  eq_tensor *r = eq_empty(EQ_F64, EQ_DIMS(m, n));
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t t = 0; t < k; t++) s += eq_get_flat(a, i * k + t) * eq_get_flat(b, t * n + j);
      eq_set_flat(r, i * n + j, s);
    }
  return r;
}

static void test_matmul(void) {
  /* (m, k, n) with sizes below, at and above the rank count, and k = 1. */
  const int64_t dims[][3] = {{7, 5, 6}, {2, 9, 3}, {5, 1, 4}, {1, 3, 1}};
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
    for (int ti = 0; ti < 3; ti++) {
      eq_dtype d = DTYPES[ti];
      eq_tensor *ra = ref_tensor(d, EQ_DIMS(dims[di][0], dims[di][1]));
      eq_tensor *rb = ref_tensor(d, EQ_DIMS(dims[di][1], dims[di][2]));
      eq_tensor *ref = ref_matmul(ra, rb);
      FOR_SPLITS(s, 2) FOR_SPLITS(t, 2) {
        eq_dnd *a = eq_dnd_from_tensor(ra, s, W), *b = eq_dnd_from_tensor(rb, t, W);
        eq_dnd *r = eq_dnd_matmul(a, b);
        int want = s != EQ_DND_NONE ? s : t;
        char what[96];
        snprintf(what, sizeof what, "matmul %zu %s split %d@%d", di, eq_dtype_name(d), s, t);
        check_dnd(what, r, ref, want, true, d == EQ_F32 ? 1e-5 : 1e-12);
        CHECK(r && r->dtype == d);
        eq_dnd_free(r);
        eq_dnd_free(a);
        eq_dnd_free(b);
      }
      eq_tensor_free(ra);
      eq_tensor_free(rb);
      eq_tensor_free(ref);
    }
  }
  /* Unbalanced operands. */
  eq_tensor *ra = ref_tensor(EQ_F64, EQ_DIMS(6, 5)), *rb = ref_tensor(EQ_F64, EQ_DIMS(5, 4));
  eq_tensor *ref = ref_matmul(ra, rb);
  int64_t ca[16] = {0}, cb[16] = {0};
  ca[W->size - 1] = 5;
  cb[0] = 5;
  eq_dnd *a1 = eq_dnd_from_tensor(ra, 1, W), *b0 = eq_dnd_from_tensor(rb, 0, W);
  eq_dnd *ua = eq_dnd_redistribute(a1, ca), *ub = eq_dnd_redistribute(b0, cb);
  eq_dnd *r = eq_dnd_matmul(ua, ub);
  check_dnd("matmul unbalanced 1@0", r, ref, 1, true, 1e-12);
  eq_dnd_free(r);
  eq_dnd *a0 = eq_dnd_from_tensor(ra, 0, W);
  r = eq_dnd_matmul(a0, ub);
  check_dnd("matmul 0@unbalanced 0", r, ref, 0, true, 1e-12);
  eq_dnd_free(r);
  /* Vectors: matrix @ vector, vector @ vector. */
  eq_tensor *rv = ref_tensor(EQ_F64, EQ_DIMS(5));
  eq_dnd *v = eq_dnd_from_tensor(rv, 0, W);
  eq_dnd *mv = eq_dnd_matmul(a0, v);
  eq_tensor *rmv = eq_empty(EQ_F64, EQ_DIMS(6));
  for (int i = 0; i < 6; i++) {
    double s = 0;
    for (int t = 0; t < 5; t++) s += eq_get_flat(ra, i * 5 + t) * eq_get_flat(rv, t);
    eq_set_flat(rmv, i, s);
  }
  check_dnd("matrix @ vector", mv, rmv, 0, true, 1e-12);
  eq_dnd *vv = eq_dnd_matmul(v, v);
  double dot = 0, got = 0;
  for (int t = 0; t < 5; t++) dot += eq_get_flat(rv, t) * eq_get_flat(rv, t);
  CHECK(vv && vv->ndim == 0 && eq_dnd_item(vv, &got) == EQ_OK && got == dot);
  /* Shape mismatch. */
  CHECK(eq_dnd_matmul(a0, a0) == NULL && strstr(eq_error_message(), "cannot multiply") != NULL);
  eq_dnd *objs[] = {a1, b0, ua, ub, a0, v, mv, vv};
  for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) eq_dnd_free(objs[i]);
  eq_tensor_free(ra);
  eq_tensor_free(rb);
  eq_tensor_free(ref);
  eq_tensor_free(rv);
  eq_tensor_free(rmv);
}

static void test_cdist(void) {
  for (int ti = 0; ti < 2; ti++) {
    eq_dtype d = DTYPES[ti];
    eq_tensor *rx = ref_tensor(d, EQ_DIMS(7, 3)), *ry = eq_empty(d, EQ_DIMS(5, 3));
    for (int i = 0; i < 15; i++) eq_set_flat(ry, i, ref_value(i * 3 + 1, d) * 0.5);
    eq_tensor *ref = eq_empty(EQ_F64, EQ_DIMS(7, 5));
    for (int i = 0; i < 7; i++)
      for (int j = 0; j < 5; j++) {
        double s = 0;
        for (int t = 0; t < 3; t++) {
          double dl = eq_get_flat(rx, i * 3 + t) - eq_get_flat(ry, j * 3 + t);
          s += dl * dl;
        }
        eq_set_flat(ref, i * 5 + j, sqrt(s));
      }
    FOR_SPLITS(s, 2) FOR_SPLITS(t, 2) for (int q = 0; q < 2; q++) {
      eq_dnd *x = eq_dnd_from_tensor(rx, s, W), *y = eq_dnd_from_tensor(ry, t, W);
      eq_dnd *r = eq_dnd_cdist(x, y, q);
      int want = s != EQ_DND_NONE ? 0 : (t != EQ_DND_NONE ? 1 : EQ_DND_NONE);
      char what[96];
      snprintf(what, sizeof what, "cdist %s %d,%d quadratic %d", eq_dtype_name(d), s, t, q);
      check_dnd(what, r, ref, want, true, q ? (d == EQ_F32 ? 1e-4 : 1e-9) : (d == EQ_F32 ? 1e-6 : 1e-14));
      eq_dnd_free(r);
      eq_dnd_free(x);
      eq_dnd_free(y);
    }
    eq_tensor_free(rx);
    eq_tensor_free(ry);
    eq_tensor_free(ref);
  }
}

int main(void) {
  DND_TEST_BEGIN();
  for (int pass = 0; pass < 2; pass++) {
    /* pass 1: a 16-byte message limit, so circulating blocks travel in pieces
     * of one row, each row in several messages. */
    int64_t old = eq_comm_set_max_message(pass ? 16 : 0);
    test_matmul();
    test_cdist();
    eq_comm_set_max_message(old);
  }
  return DND_TEST_END();
}
