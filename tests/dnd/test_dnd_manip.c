/* Manipulation and indexing at every split: references from the tensor
 * core's views on the full array, or loops. */
#include "dnd_test_util.h"

static eq_tensor *mat(eq_tensor *view) { /* contiguous copy, frees the view */
  eq_tensor *c = eq_clone(view);
  eq_tensor_free(view);
  return c;
}

static void test_transpose_reshape(void) {
  for (int di = 0; di < 3; di++) {
    eq_dtype d = DTYPES[di];
    eq_tensor *rx = ref_tensor(d, EQ_DIMS(5, 3, 4));
    FOR_SPLITS(s, 3) {
      eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
      int perm[3] = {2, 0, 1};
      eq_dnd *t = eq_dnd_transpose(x, perm);
      eq_tensor *rt = mat(eq_permute(rx, perm));
      int want = s == EQ_DND_NONE ? s : (s == 2 ? 0 : s + 1);
      check_dnd("transpose", t, rt, want, true, 0);
      /* reshape to (4, 15) and (60,) and (3, 5, 2, 2) with several new splits */
      const int64_t shapes[3][4] = {{4, 15}, {60}, {3, 5, 2, 2}};
      const int nds[3] = {2, 1, 4};
      for (int k = 0; k < 3; k++) FOR_SPLITS(ns, nds[k]) {
        eq_dnd *r = eq_dnd_reshape(x, nds[k], shapes[k], ns);
        eq_tensor *rr = eq_reshape(rx, nds[k], shapes[k]);
        char what[96];
        snprintf(what, sizeof what, "reshape %d split %d -> %d", k, s, ns);
        check_dnd(what, r, rr, ns, true, 0);
        eq_dnd_free(r);
        eq_tensor_free(rr);
      }
      eq_dnd *bad = eq_dnd_reshape(x, 2, (int64_t[]){7, 9}, 0);
      CHECK(bad == NULL && strstr(eq_error_message(), "cannot reshape") != NULL);
      eq_dnd *ex = eq_dnd_expand_dims(x, 1);
      eq_tensor *rex = eq_reshape(rx, EQ_DIMS(5, 1, 3, 4));
      check_dnd("expand_dims", ex, rex, s == EQ_DND_NONE ? s : (s >= 1 ? s + 1 : s), true, 0);
      eq_dnd *sq = eq_dnd_squeeze(ex, 1);
      check_dnd("squeeze", sq, rx, s, true, 0);
      eq_dnd *fl = eq_dnd_flatten(x);
      eq_tensor *rfl = eq_reshape(rx, EQ_DIMS(60));
      check_dnd("flatten", fl, rfl, s == EQ_DND_NONE ? s : 0, true, 0);
      eq_dnd_free(fl);
      eq_tensor_free(rfl);
      eq_dnd_free(ex);
      eq_dnd_free(sq);
      eq_tensor_free(rex);
      eq_dnd_free(t);
      eq_tensor_free(rt);
      eq_dnd_free(x);
    }
    eq_tensor_free(rx);
  }
  /* squeeze of a split size-1 axis */
  eq_tensor *r1 = ref_tensor(EQ_F64, EQ_DIMS(1, 4));
  eq_dnd *x1 = eq_dnd_from_tensor(r1, 0, W);
  eq_dnd *s1 = eq_dnd_squeeze(x1, 0);
  eq_tensor *r1s = eq_reshape(r1, EQ_DIMS(4));
  check_dnd("squeeze split axis", s1, r1s, EQ_DND_NONE, true, 0);
  CHECK(eq_dnd_squeeze(x1, 1) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  eq_dnd_free(s1);
  eq_dnd_free(x1);
  eq_tensor_free(r1s);
  eq_tensor_free(r1);
}

static void test_concat_flip_roll_pad(void) {
  eq_tensor *ra = ref_tensor(EQ_F64, EQ_DIMS(3, 4)), *rb = eq_empty(EQ_F64, EQ_DIMS(5, 4));
  for (int i = 0; i < 20; i++) eq_set_flat(rb, i, 100 + i);
  FOR_SPLITS(s, 2) FOR_SPLITS(t, 2) {
    eq_dnd *a = eq_dnd_from_tensor(ra, s, W), *b = eq_dnd_from_tensor(rb, t, W);
    const eq_dnd *parts[3] = {a, b, a};
    eq_dnd *c = eq_dnd_concatenate(parts, 3, 0);
    eq_tensor *rc = eq_empty(EQ_F64, EQ_DIMS(11, 4));
    for (int i = 0; i < 11; i++)
      for (int j = 0; j < 4; j++)
        eq_set_flat(rc, i * 4 + j, i < 3 ? eq_get_flat(ra, i * 4 + j) : (i < 8 ? eq_get_flat(rb, (i - 3) * 4 + j) : eq_get_flat(ra, (i - 8) * 4 + j)));
    int want = s != EQ_DND_NONE ? s : t;
    char what[64];
    snprintf(what, sizeof what, "concatenate axis 0 split %d,%d", s, t);
    check_dnd(what, c, rc, want, true, 0);
    eq_dnd_free(c);
    eq_tensor_free(rc);
    eq_dnd_free(a);
    eq_dnd_free(b);
  }
  /* axis 1 concatenation and stack */
  eq_tensor *rt = eq_transpose(rb, 0, 1);
  eq_tensor *rbt = mat(rt);
  FOR_SPLITS(s, 2) {
    eq_dnd *a = eq_dnd_from_tensor(ra, s, W);
    eq_tensor *ra2 = eq_empty(EQ_F64, EQ_DIMS(3, 2));
    for (int i = 0; i < 6; i++) eq_set_flat(ra2, i, -i);
    eq_dnd *b = eq_dnd_from_tensor(ra2, s == EQ_DND_NONE ? EQ_DND_NONE : s, W);
    const eq_dnd *parts[2] = {a, b};
    eq_dnd *c = eq_dnd_concatenate(parts, 2, 1);
    eq_tensor *rc = eq_empty(EQ_F64, EQ_DIMS(3, 6));
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 6; j++) eq_set_flat(rc, i * 6 + j, j < 4 ? eq_get_flat(ra, i * 4 + j) : eq_get_flat(ra2, i * 2 + j - 4));
    check_dnd("concatenate axis 1", c, rc, s, true, 0);
    const eq_dnd *two[2] = {a, a};
    eq_dnd *st = eq_dnd_stack(two, 2, 0);
    eq_tensor *rst = eq_empty(EQ_F64, EQ_DIMS(2, 3, 4));
    for (int i = 0; i < 24; i++) eq_set_flat(rst, i, eq_get_flat(ra, i % 12));
    check_dnd("stack", st, rst, s == EQ_DND_NONE ? s : s + 1, true, 0);
    /* flip / roll along each axis */
    for (int ax = 0; ax < 2; ax++) {
      eq_dnd *f = eq_dnd_flip(a, ax);
      eq_dnd *r = eq_dnd_roll(a, ax == 0 ? 2 : -1, ax);
      eq_tensor *rf = eq_empty(EQ_F64, EQ_DIMS(3, 4)), *rr = eq_empty(EQ_F64, EQ_DIMS(3, 4));
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
          int fi = ax == 0 ? 2 - i : i, fj = ax == 1 ? 3 - j : j;
          eq_set_flat(rf, i * 4 + j, eq_get_flat(ra, fi * 4 + fj));
          int ri = ax == 0 ? (i - 2 + 3) % 3 : i, rj = ax == 1 ? (j + 1) % 4 : j;
          eq_set_flat(rr, i * 4 + j, eq_get_flat(ra, ri * 4 + rj));
        }
      check_dnd("flip", f, rf, s, true, 0);
      check_dnd("roll", r, rr, s, false, 0);
      eq_dnd_free(f);
      eq_dnd_free(r);
      eq_tensor_free(rf);
      eq_tensor_free(rr);
    }
    int64_t pad[4] = {1, 2, 0, 3};
    eq_dnd *p = eq_dnd_pad(a, pad, -7);
    eq_tensor *rp = eq_full(EQ_F64, EQ_DIMS(6, 7), -7);
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 4; j++) eq_set_flat(rp, (i + 1) * 7 + j, eq_get_flat(ra, i * 4 + j));
    check_dnd("pad", p, rp, s, true, 0);
    eq_dnd *lo = eq_dnd_tril(a, 0), *up = eq_dnd_triu(a, 1);
    eq_tensor *rlo = eq_empty(EQ_F64, EQ_DIMS(3, 4)), *rup = eq_empty(EQ_F64, EQ_DIMS(3, 4));
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 4; j++) {
        eq_set_flat(rlo, i * 4 + j, j <= i ? eq_get_flat(ra, i * 4 + j) : 0);
        eq_set_flat(rup, i * 4 + j, j >= i + 1 ? eq_get_flat(ra, i * 4 + j) : 0);
      }
    check_dnd("tril", lo, rlo, s, true, 0);
    check_dnd("triu", up, rup, s, true, 0);
    eq_dnd *objs[] = {a, b, c, st, p, lo, up};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) eq_dnd_free(objs[i]);
    eq_tensor *rs[] = {ra2, rc, rst, rp, rlo, rup};
    for (size_t i = 0; i < sizeof rs / sizeof *rs; i++) eq_tensor_free(rs[i]);
  }
  eq_tensor_free(rbt);
  eq_tensor_free(ra);
  eq_tensor_free(rb);
}

static void test_indexing(void) {
  for (int di = 0; di < 3; di++) {
    eq_dtype d = DTYPES[di];
    eq_tensor *rx = ref_tensor(d, EQ_DIMS(9, 4));
    FOR_SPLITS(s, 2) {
      eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
      for (int ax = 0; ax < 2; ax++) {
        /* slices: 1:8:3, -3:, ::2, empty 5:2 */
        const int64_t sl[4][3] = {{1, 8, 3}, {-3, 100, 1}, {0, 100, 2}, {5, 2, 1}};
        for (int k = 0; k < 4; k++) {
          eq_dnd *y = eq_dnd_slice(x, ax, sl[k][0], sl[k][1], sl[k][2]);
          eq_tensor *ry = mat(eq_slice(rx, ax, sl[k][0], sl[k][1], sl[k][2]));
          char what[64];
          snprintf(what, sizeof what, "slice %d axis %d split %d", k, ax, s);
          check_dnd(what, y, ry, s, false, 0);
          eq_dnd_free(y);
          eq_tensor_free(ry);
        }
        for (int64_t idx = -2; idx < 3; idx++) {
          eq_dnd *y = eq_dnd_select(x, ax, idx);
          eq_tensor *ry = mat(eq_select(rx, ax, idx));
          int want = s == EQ_DND_NONE || s == ax ? EQ_DND_NONE : (s > ax ? s - 1 : s);
          check_dnd("select", y, ry, want, true, 0);
          eq_dnd_free(y);
          eq_tensor_free(ry);
        }
      }
      CHECK(eq_dnd_getitem(x, 9) == NULL && strstr(eq_error_message(), "out of range") != NULL);
      /* Boolean mask of the full shape: x > 0. */
      FOR_SPLITS(ms, 2) {
        eq_dnd *xm = eq_dnd_from_tensor(rx, ms, W);
        eq_dnd *mask = eq_dnd_binary_scalar(EQ_DND_GT, xm, 0, false);
        eq_dnd *sel = eq_dnd_mask_select(x, mask);
        int64_t cnt = 0;
        for (int i = 0; i < 36; i++) cnt += eq_get_flat(rx, i) > 0;
        eq_tensor *rsel = eq_empty(d, EQ_DIMS(cnt));
        for (int i = 0, k = 0; i < 36; i++)
          if (eq_get_flat(rx, i) > 0) eq_set_flat(rsel, k++, eq_get_flat(rx, i));
        check_dnd("mask_select", sel, rsel, s == EQ_DND_NONE && ms == EQ_DND_NONE ? EQ_DND_NONE : 0, false, 0);
        /* mask_fill on a copy */
        eq_dnd *cp = eq_dnd_copy(x);
        CHECK(eq_dnd_mask_fill(cp, mask, 0) == EQ_OK);
        eq_tensor *rf = eq_empty(d, EQ_DIMS(9, 4));
        for (int i = 0; i < 36; i++) eq_set_flat(rf, i, eq_get_flat(rx, i) > 0 ? 0 : eq_get_flat(rx, i));
        check_dnd("mask_fill", cp, rf, s, true, 0);
        eq_dnd_free(cp);
        eq_tensor_free(rf);
        eq_dnd_free(sel);
        eq_tensor_free(rsel);
        eq_dnd_free(mask);
        eq_dnd_free(xm);
      }
      /* Row mask (1-d): rows with an even index. */
      eq_tensor *rm = eq_empty(EQ_BOOL, EQ_DIMS(9));
      for (int i = 0; i < 9; i++) eq_set_flat(rm, i, i % 2 == 0);
      FOR_SPLITS(ms, 1) {
        eq_dnd *m = eq_dnd_from_tensor(rm, ms, W);
        eq_dnd *sel = eq_dnd_mask_select(x, m);
        eq_tensor *rsel = mat(eq_slice(rx, 0, 0, 9, 2));
        check_dnd("row mask", sel, rsel, s == EQ_DND_NONE ? EQ_DND_NONE : s, false, 0);
        eq_dnd_free(sel);
        eq_tensor_free(rsel);
        eq_dnd_free(m);
      }
      eq_tensor_free(rm);
      /* take along each axis with replicated and split indices (negative, repeated). */
      int64_t iv[6] = {3, -1, 0, 3, 2, 1};
      eq_tensor *ri = eq_from_data(EQ_I64, EQ_DIMS(6), iv);
      for (int ax = 0; ax < 2; ax++) FOR_SPLITS(is, 1) {
        eq_dnd *I = eq_dnd_from_tensor(ri, is, W);
        eq_dnd *y = eq_dnd_take(x, ax, I);
        int64_t n0 = ax == 0 ? 6 : 9, n1 = ax == 0 ? 4 : 6;
        eq_tensor *ry = eq_empty(d, EQ_DIMS(n0, n1));
        for (int i = 0; i < n0; i++)
          for (int j = 0; j < n1; j++) {
            int64_t r = ax == 0 ? (iv[i] + 9) % 9 : i, c = ax == 1 ? (iv[j] + 4) % 4 : j;
            eq_set_flat(ry, i * n1 + j, eq_get_flat(rx, r * 4 + c));
          }
        int want = s == ax ? ax : (s == EQ_DND_NONE ? (is == 0 ? ax : EQ_DND_NONE) : s);
        char what[64];
        snprintf(what, sizeof what, "take axis %d split %d idx split %d", ax, s, is);
        check_dnd(what, y, ry, want, s == ax && is == EQ_DND_NONE, 0);
        eq_dnd_free(y);
        eq_tensor_free(ry);
        eq_dnd_free(I);
      }
      eq_tensor_free(ri);
      int64_t badv[1] = {9};
      eq_tensor *rbad = eq_from_data(EQ_I64, EQ_DIMS(1), badv);
      eq_dnd *bad = eq_dnd_from_tensor(rbad, EQ_DND_NONE, W);
      CHECK(eq_dnd_take(x, 0, bad) == NULL && strstr(eq_error_message(), "out of range") != NULL);
      eq_dnd_free(bad);
      eq_tensor_free(rbad);
      /* put rows {7, 0, 4} = -1, -2, -3 */
      int64_t pv[3] = {7, 0, 4};
      eq_tensor *rpi = eq_from_data(EQ_I64, EQ_DIMS(3), pv);
      eq_tensor *rpv = eq_empty(d, EQ_DIMS(3, 4));
      for (int i = 0; i < 12; i++) eq_set_flat(rpv, i, -(i / 4) - 1);
      FOR_SPLITS(is, 1) {
        eq_dnd *cp = eq_dnd_copy(x), *I = eq_dnd_from_tensor(rpi, is, W), *V = eq_dnd_from_tensor(rpv, is, W);
        CHECK(eq_dnd_put(cp, I, V) == EQ_OK);
        eq_tensor *rr = eq_clone(rx);
        for (int k = 0; k < 3; k++)
          for (int j = 0; j < 4; j++) eq_set_flat(rr, pv[k] * 4 + j, -k - 1);
        check_dnd("put", cp, rr, s, true, 0);
        eq_dnd_free(cp);
        eq_dnd_free(I);
        eq_dnd_free(V);
        eq_tensor_free(rr);
      }
      eq_tensor_free(rpi);
      eq_tensor_free(rpv);
      /* set_slice: x[1:8:2, :] = v (v replicated, split) and x[:, 1:3] = 5 */
      eq_tensor *rv = eq_empty(d, EQ_DIMS(4, 4));
      for (int i = 0; i < 16; i++) eq_set_flat(rv, i, 50 + i);
      FOR_SPLITS(vs, 2) {
        eq_dnd *cp = eq_dnd_copy(x), *v = eq_dnd_from_tensor(rv, vs, W);
        CHECK(eq_dnd_set_slice(cp, 0, 1, 8, 2, v) == EQ_OK);
        CHECK(eq_dnd_set_slice_scalar(cp, 1, 1, 3, 1, 5) == EQ_OK);
        eq_tensor *rr = eq_clone(rx);
        for (int k = 0; k < 4; k++)
          for (int j = 0; j < 4; j++) eq_set_flat(rr, (1 + 2 * k) * 4 + j, 50 + k * 4 + j);
        for (int i = 0; i < 9; i++)
          for (int j = 1; j < 3; j++) eq_set_flat(rr, i * 4 + j, 5);
        check_dnd("set_slice", cp, rr, s, true, 0);
        eq_dnd_free(cp);
        eq_dnd_free(v);
        eq_tensor_free(rr);
      }
      /* broadcast row value */
      eq_dnd *cp = eq_dnd_copy(x), *row = eq_dnd_arange(0, 4, 1, d, EQ_DND_NONE, W);
      CHECK(eq_dnd_set_slice(cp, 0, 0, 9, 4, row) == EQ_OK);
      eq_tensor *rr = eq_clone(rx);
      for (int i = 0; i < 9; i += 4)
        for (int j = 0; j < 4; j++) eq_set_flat(rr, i * 4 + j, j);
      check_dnd("set_slice broadcast", cp, rr, s, true, 0);
      eq_dnd_free(cp);
      eq_dnd_free(row);
      eq_tensor_free(rr);
      eq_tensor_free(rv);
      eq_dnd_free(x);
    }
    eq_tensor_free(rx);
  }
}

int main(void) {
  DND_TEST_BEGIN();
  test_transpose_reshape();
  test_concat_flip_roll_pad();
  test_indexing();
  return DND_TEST_END();
}
