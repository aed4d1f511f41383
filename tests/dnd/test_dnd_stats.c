/* cov against numpy.cov results stored in tests/data/dnd
 * (scripts/gen_dnd_more_reference.py), bincount against a single-process
 * count, at every split, with errors. */
#include "dnd_test_util.h"

static double ref2_value(int64_t k) { return (double)((k * 13 + 5) % 17) - 8.0 + 0.5 * (double)(k % 2); }

static void test_cov(void) {
  eq_tensor *rm = ref_tensor(EQ_F64, EQ_DIMS(4, 7)), *ry = eq_empty(EQ_F64, EQ_DIMS(2, 7));
  for (int k = 0; k < 14; k++) eq_set_flat(ry, k, ref2_value(k));
  eq_tensor *tv = eq_transpose(rm, 0, 1), *rmt = eq_clone(tv); /* (7, 4): variables in columns */
  eq_tensor_free(tv);
  eq_tensor *c_m = dnd_load_ref("cov_m.npy"), *c_cols = dnd_load_ref("cov_m_cols.npy");
  eq_tensor *c_bias = dnd_load_ref("cov_m_bias.npy"), *c_dd2 = dnd_load_ref("cov_m_ddof2.npy");
  eq_tensor *c_my = dnd_load_ref("cov_m_y.npy"), *c_row0 = dnd_load_ref("cov_row0.npy");
  CHECK(c_m && c_cols && c_bias && c_dd2 && c_my && c_row0);
  if (!(c_m && c_cols && c_bias && c_dd2 && c_my && c_row0)) return;
  eq_tensor *c_t = eq_reshape(c_row0, 0, NULL); /* 0-d */
  /* rm's transpose has the same covariance with rowvar=false */
  FOR_SPLITS(s, 2) FOR_SPLITS(t, 2) {
    eq_dnd *m = eq_dnd_from_tensor(rm, s, W), *y = eq_dnd_from_tensor(ry, t, W);
    eq_dnd *mt = eq_dnd_from_tensor(rmt, s, W);
    char what[64];
    snprintf(what, sizeof what, "cov(m, y) split %d, %d", s, t);
    eq_dnd *r = eq_dnd_cov(m, y, true, false, EQ_DND_DDOF_DEFAULT);
    check_dnd(what, r, c_my, EQ_DND_NONE, true, 1e-12);
    eq_dnd_free(r);
    if (t == EQ_DND_NONE) {
      snprintf(what, sizeof what, "cov split %d", s);
      r = eq_dnd_cov(m, NULL, true, false, EQ_DND_DDOF_DEFAULT);
      check_dnd(what, r, c_m, EQ_DND_NONE, true, 1e-12);
      eq_dnd_free(r);
      r = eq_dnd_cov(mt, NULL, false, false, EQ_DND_DDOF_DEFAULT);
      check_dnd("cov rowvar=false", r, c_m, EQ_DND_NONE, true, 1e-12);
      eq_dnd_free(r);
      r = eq_dnd_cov(m, NULL, false, false, EQ_DND_DDOF_DEFAULT);
      check_dnd("cov 7 column variables", r, c_cols, EQ_DND_NONE, true, 1e-12);
      eq_dnd_free(r);
      r = eq_dnd_cov(m, NULL, true, true, EQ_DND_DDOF_DEFAULT);
      check_dnd("cov bias", r, c_bias, EQ_DND_NONE, true, 1e-12);
      eq_dnd_free(r);
      r = eq_dnd_cov(m, NULL, true, true, 2); /* ddof overrides bias */
      check_dnd("cov ddof 2", r, c_dd2, EQ_DND_NONE, true, 1e-12);
      eq_dnd_free(r);
      /* float32 stays float32 */
      eq_dnd *m32 = eq_dnd_astype(m, EQ_F32);
      r = eq_dnd_cov(m32, NULL, true, false, EQ_DND_DDOF_DEFAULT);
      check_dnd("cov float32", r, c_m, EQ_DND_NONE, true, 1e-6);
      CHECK(r && r->dtype == EQ_F32);
      eq_dnd_free(r);
      eq_dnd_free(m32);
      /* one variable (a row, 1-d): 0-d result */
      eq_tensor *rv = eq_select(rm, 0, 0), *row = eq_clone(rv);
      eq_tensor_free(rv);
      eq_dnd *v = eq_dnd_from_tensor(row, s == EQ_DND_NONE ? s : 0, W);
      r = eq_dnd_cov(v, NULL, true, false, EQ_DND_DDOF_DEFAULT);
      check_dnd("cov of one variable", r, c_t, EQ_DND_NONE, true, 1e-12);
      CHECK(eq_dnd_cov(v, NULL, true, false, 7) == NULL && strstr(eq_error_message(), "degrees of freedom"));
      eq_dnd_free(r);
      eq_dnd_free(v);
      eq_tensor_free(row);
    }
    /* y with a different number of observations */
    eq_dnd *ybad = eq_dnd_zeros(EQ_F64, EQ_DIMS(2, 6), t, W);
    CHECK(eq_dnd_cov(m, ybad, true, false, EQ_DND_DDOF_DEFAULT) == NULL &&
          strstr(eq_error_message(), "number of observations (7 vs 6)"));
    eq_dnd_free(ybad);
    eq_dnd_free(m);
    eq_dnd_free(mt);
    eq_dnd_free(y);
  }
  /* Two observations: ranks 3 and 4 hold empty blocks; cov_ij is
   * (a_i - b_i)(a_j - b_j) / 2 for columns a, b. */
  eq_tensor *r2 = eq_empty(EQ_F64, EQ_DIMS(4, 2)), *c2 = eq_empty(EQ_F64, EQ_DIMS(4, 4));
  for (int i = 0; i < 8; i++) eq_set_flat(r2, i, ref_value(i, EQ_F64));
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      double di = eq_get_flat(r2, 2 * i) - eq_get_flat(r2, 2 * i + 1), dj = eq_get_flat(r2, 2 * j) - eq_get_flat(r2, 2 * j + 1);
      eq_set_flat(c2, i * 4 + j, di * dj / 2);
    }
  FOR_SPLITS(s, 2) {
    eq_dnd *m2 = eq_dnd_from_tensor(r2, s, W), *r = eq_dnd_cov(m2, NULL, true, false, EQ_DND_DDOF_DEFAULT);
    check_dnd("cov of 2 observations", r, c2, EQ_DND_NONE, true, 1e-12);
    eq_dnd_free(r);
    eq_dnd_free(m2);
  }
  eq_tensor_free(r2);
  eq_tensor_free(c2);
  eq_dnd *x3 = eq_dnd_zeros(EQ_F64, EQ_DIMS(2, 2, 2), 0, W);
  CHECK(eq_dnd_cov(x3, NULL, true, false, EQ_DND_DDOF_DEFAULT) == NULL && strstr(eq_error_message(), "m must be 1-d or 2-d"));
  eq_dnd_free(x3);
  eq_tensor_free(c_t);
  eq_tensor *all[9] = {rm, ry, rmt, c_m, c_cols, c_bias, c_dd2, c_my, c_row0};
  for (int i = 0; i < 9; i++) eq_tensor_free(all[i]);
}

static void test_bincount(void) {
  const eq_dtype itypes[3] = {EQ_I64, EQ_I32, EQ_U8};
  const int64_t lens[3] = {11, 2, 0}; /* 2 and 0: empty blocks */
  for (int ti = 0; ti < 3; ti++)
    for (int li = 0; li < 3; li++) {
      int64_t n = lens[li];
      eq_tensor *rx = eq_empty(itypes[ti], 1, &n), *rw = eq_empty(EQ_F64, 1, &n);
      for (int64_t i = 0; i < n; i++) {
        eq_set_flat(rx, i, (double)((i * 7 + 3) % 9));
        eq_set_flat(rw, i, 0.5 * (double)i - 1.25);
      }
      for (int64_t minlen = 0; minlen <= 12; minlen += 12) {
        int64_t maxv = -1;
        for (int64_t i = 0; i < n; i++)
          if ((int64_t)eq_get_flat(rx, i) > maxv) maxv = (int64_t)eq_get_flat(rx, i);
        int64_t len = maxv + 1 > minlen ? maxv + 1 : minlen;
        eq_tensor *rc = eq_zeros(EQ_I64, 1, &len), *rs = eq_zeros(EQ_F64, 1, &len);
        for (int64_t i = 0; i < n; i++) {
          int64_t b = (int64_t)eq_get_flat(rx, i);
          eq_set_flat(rc, b, eq_get_flat(rc, b) + 1);
          eq_set_flat(rs, b, eq_get_flat(rs, b) + eq_get_flat(rw, i));
        }
        FOR_SPLITS(s, 1) FOR_SPLITS(t, 1) {
          eq_dnd *x = eq_dnd_from_tensor(rx, s, W), *w = eq_dnd_from_tensor(rw, t, W);
          char what[96];
          snprintf(what, sizeof what, "bincount %s n=%lld minlength %lld split %d", eq_dtype_name(itypes[ti]),
                   (long long)n, (long long)minlen, s);
          eq_dnd *c = eq_dnd_bincount(x, NULL, minlen);
          check_dnd(what, c, rc, EQ_DND_NONE, true, 0);
          CHECK(c && c->dtype == EQ_I64);
          eq_dnd *cw = eq_dnd_bincount(x, w, minlen);
          snprintf(what, sizeof what, "weighted bincount n=%lld split %d, %d", (long long)n, s, t);
          check_dnd(what, cw, rs, EQ_DND_NONE, true, 1e-12);
          CHECK(cw && cw->dtype == EQ_F64);
          eq_dnd_free(c);
          eq_dnd_free(cw);
          eq_dnd_free(x);
          eq_dnd_free(w);
        }
        eq_tensor_free(rc);
        eq_tensor_free(rs);
      }
      eq_tensor_free(rx);
      eq_tensor_free(rw);
    }
  /* errors: a negative value on one rank fails on every rank */
  eq_tensor *neg = eq_empty(EQ_I64, EQ_DIMS(9));
  for (int i = 0; i < 9; i++) eq_set_flat(neg, i, i == 7 ? -3 : i);
  FOR_SPLITS(s, 1) {
    eq_dnd *x = eq_dnd_from_tensor(neg, s, W);
    CHECK(eq_dnd_bincount(x, NULL, 0) == NULL && strstr(eq_error_message(), "negative value -3"));
    eq_dnd_free(x);
  }
  eq_tensor_free(neg);
  eq_dnd *f = eq_dnd_zeros(EQ_F64, EQ_DIMS(4), 0, W), *i2 = eq_dnd_zeros(EQ_I64, EQ_DIMS(2, 2), 0, W);
  eq_dnd *i4 = eq_dnd_zeros(EQ_I64, EQ_DIMS(4), 0, W), *w3 = eq_dnd_zeros(EQ_F64, EQ_DIMS(3), 0, W);
  CHECK(eq_dnd_bincount(f, NULL, 0) == NULL && strstr(eq_error_message(), "must be an integer array"));
  CHECK(eq_dnd_bincount(i2, NULL, 0) == NULL && strstr(eq_error_message(), "must be 1-d"));
  CHECK(eq_dnd_bincount(i4, NULL, -1) == NULL && strstr(eq_error_message(), "minlength -1"));
  CHECK(eq_dnd_bincount(i4, w3, 0) == NULL && strstr(eq_error_message(), "do not match"));
  eq_dnd_free(f);
  eq_dnd_free(i2);
  eq_dnd_free(i4);
  eq_dnd_free(w3);
}

int main(void) {
  DND_TEST_BEGIN();
  test_cov();
  test_bincount();
  return DND_TEST_END();
}
