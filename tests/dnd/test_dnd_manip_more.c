/* meshgrid, repeat, tile, diag at every split against single-process
 * references built by index loops on the full array (NumPy's definitions),
 * with odd sizes and ranks holding empty blocks; and their errors. */
#include "dnd_test_util.h"

static void test_meshgrid(void) {
  eq_tensor *r[3] = {ref_tensor(EQ_F64, EQ_DIMS(5)), ref_tensor(EQ_I64, EQ_DIMS(3)), ref_tensor(EQ_F32, EQ_DIMS(1))};
  for (int n = 1; n <= 3; n++)
    for (int ij = 0; ij < 2; ij++)
      for (int sp = -1; sp < n; sp++) { /* which input is split (-1: none) */
        eq_dnd *in[3] = {NULL, NULL, NULL}, *out[3] = {NULL, NULL, NULL};
        for (int k = 0; k < n; k++) in[k] = eq_dnd_from_tensor(r[k], k == sp ? 0 : EQ_DND_NONE, W);
        eq_status st = eq_dnd_meshgrid((const eq_dnd *const *)in, n, ij ? "ij" : "xy", out);
        CHECK_MSG(st == EQ_OK, "meshgrid: %s", eq_error_message());
        int pos[3] = {0, 1, 2};
        if (!ij && n >= 2) pos[0] = 1, pos[1] = 0;
        int64_t shape[3];
        for (int k = 0; k < n; k++) shape[pos[k]] = r[k]->shape[0];
        for (int k = 0; k < n && !st; k++) {
          eq_tensor *ref = eq_empty(r[k]->dtype, n, shape);
          int64_t tot = eq_numel(ref);
          for (int64_t f = 0; f < tot; f++) {
            int64_t idx[3], rem = f;
            for (int d = n - 1; d >= 0; d--) idx[d] = rem % shape[d], rem /= shape[d];
            eq_set_flat(ref, f, eq_get_flat(r[k], idx[pos[k]]));
          }
          char what[80];
          snprintf(what, sizeof what, "meshgrid n=%d %s split input %d out %d", n, ij ? "ij" : "xy", sp, k);
          check_dnd(what, out[k], ref, sp < 0 ? EQ_DND_NONE : pos[sp], true, 0);
          CHECK(out[k] && out[k]->dtype == r[k]->dtype);
          eq_tensor_free(ref);
        }
        for (int k = 0; k < n; k++) {
          eq_dnd_free(in[k]);
          eq_dnd_free(out[k]);
        }
      }
  /* errors: two split inputs, bad indexing, a 2-d input */
  eq_dnd *a = eq_dnd_from_tensor(r[0], 0, W), *b = eq_dnd_from_tensor(r[1], 0, W), *out[2] = {NULL, NULL};
  const eq_dnd *two[2] = {a, b};
  CHECK(eq_dnd_meshgrid(two, 2, "xy", out) == EQ_ERR_VALUE && strstr(eq_error_message(), "both split") &&
        !out[0] && !out[1]);
  CHECK(eq_dnd_meshgrid(two, 2, "yx", out) == EQ_ERR_VALUE && strstr(eq_error_message(), "\"yx\""));
  eq_dnd *m = eq_dnd_zeros(EQ_F64, EQ_DIMS(2, 2), EQ_DND_NONE, W);
  const eq_dnd *bad[2] = {a, m};
  CHECK(eq_dnd_meshgrid(bad, 2, "ij", out) == EQ_ERR_SHAPE && strstr(eq_error_message(), "input 1 must be 1-d"));
  eq_dnd_free(a);
  eq_dnd_free(b);
  eq_dnd_free(m);
  for (int k = 0; k < 3; k++) eq_tensor_free(r[k]);
}

/* NumPy repeat of a 2-d reference (axis 0, 1, or -1000 = flattened). */
static eq_tensor *ref_repeat(const eq_tensor *x, const int64_t *rep, int64_t nrep, int axis) {
  int64_t R = x->shape[0], C = x->shape[1];
  if (axis == EQ_DND_ALL_AXES) {
    int64_t tot = 0;
    for (int64_t i = 0; i < R * C; i++) tot += nrep == 1 ? rep[0] : rep[i];
    eq_tensor *o = eq_empty(x->dtype, 1, &tot);
    int64_t w = 0;
    for (int64_t i = 0; i < R * C; i++)
      for (int64_t t = 0; t < (nrep == 1 ? rep[0] : rep[i]); t++) eq_set_flat(o, w++, eq_get_flat(x, i));
    return o;
  }
  int64_t len = x->shape[axis], tot = 0;
  for (int64_t i = 0; i < len; i++) tot += nrep == 1 ? rep[0] : rep[i];
  int64_t shape[2] = {R, C};
  shape[axis] = tot;
  eq_tensor *o = eq_empty(x->dtype, 2, shape);
  int64_t w = 0;
  for (int64_t g = 0; g < len; g++)
    for (int64_t t = 0; t < (nrep == 1 ? rep[0] : rep[g]); t++, w++)
      for (int64_t j = 0; j < (axis == 0 ? C : R); j++) {
        int64_t src = axis == 0 ? g * C + j : j * C + g, dst = axis == 0 ? w * C + j : j * tot + w;
        eq_set_flat(o, dst, eq_get_flat(x, src));
      }
  return o;
}

static void test_repeat(void) {
  const int64_t scal[1] = {2}, per0[5] = {0, 1, 2, 3, 1}, per1[3] = {3, 0, 2};
  int64_t perall[15];
  for (int i = 0; i < 15; i++) perall[i] = i % 3;
  for (int di = 0; di < 3; di++) {
    eq_tensor *rx = ref_tensor(DTYPES[di], EQ_DIMS(5, 3));
    FOR_SPLITS(s, 2) {
      eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
      struct {
        const int64_t *rep;
        int64_t n;
        int axis;
      } cases[6] = {{scal, 1, 0}, {per0, 5, 0}, {scal, 1, 1}, {per1, 3, 1}, {scal, 1, EQ_DND_ALL_AXES},
                    {perall, 15, EQ_DND_ALL_AXES}};
      for (int c = 0; c < 6; c++) {
        eq_dnd *r = eq_dnd_repeat(x, cases[c].rep, cases[c].n, cases[c].axis);
        eq_tensor *rr = ref_repeat(rx, cases[c].rep, cases[c].n, cases[c].axis);
        char what[80];
        snprintf(what, sizeof what, "repeat %s case %d split %d", eq_dtype_name(DTYPES[di]), c, s);
        int want = cases[c].axis == EQ_DND_ALL_AXES && s != EQ_DND_NONE ? 0 : s;
        check_dnd(what, r, rr, want, false, 0);
        eq_dnd_free(r);
        eq_tensor_free(rr);
      }
      CHECK(eq_dnd_repeat(x, per1, 3, 0) == NULL && strstr(eq_error_message(), "3 repeats for an axis of length 5"));
      const int64_t neg[1] = {-1};
      CHECK(eq_dnd_repeat(x, neg, 1, 1) == NULL && strstr(eq_error_message(), "repeats[0] = -1"));
      CHECK(eq_dnd_repeat(x, scal, 1, 2) == NULL && eq_error_code() == EQ_ERR_SHAPE);
      eq_dnd_free(x);
    }
    eq_tensor_free(rx);
  }
}

static void test_tile(void) {
  const int64_t r1[1] = {2}, r2[2] = {3, 1}, r3[2] = {2, 2}, r4[3] = {2, 1, 3}, r5[2] = {0, 2}, r6[3] = {1, 1, 1};
  const int64_t *reps[6] = {r1, r2, r3, r4, r5, r6};
  const int nr[6] = {1, 2, 2, 3, 2, 3};
  const int64_t shapes[2][2] = {{5, 3}, {2, 1}}; /* (2, 1): empty blocks at 3-4 ranks */
  for (int sh = 0; sh < 2; sh++)
    for (int di = 0; di < 2; di++) {
      eq_tensor *rx = ref_tensor(DTYPES[di + 1], 2, shapes[sh]);
      FOR_SPLITS(s, 2) {
        eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
        for (int c = 0; c < 6; c++) {
          int nd = nr[c] > 2 ? nr[c] : 2, lead = nd - 2;
          int64_t rp[3], xs[3], shape[3];
          for (int i = 0; i < nd; i++) {
            rp[i] = i < nd - nr[c] ? 1 : reps[c][i - (nd - nr[c])];
            xs[i] = i < lead ? 1 : rx->shape[i - lead];
            shape[i] = xs[i] * rp[i];
          }
          eq_tensor *rr = eq_empty(rx->dtype, nd, shape);
          int64_t tot = eq_numel(rr);
          for (int64_t f = 0; f < tot; f++) {
            int64_t idx[3], rem = f, src = 0;
            for (int d = nd - 1; d >= 0; d--) idx[d] = rem % shape[d], rem /= shape[d];
            for (int d = 0; d < nd; d++) src = src * xs[d] + idx[d] % xs[d];
            eq_set_flat(rr, f, eq_get_flat(rx, src));
          }
          eq_dnd *r = eq_dnd_tile(x, reps[c], nr[c]);
          char what[80];
          snprintf(what, sizeof what, "tile (%lld,%lld) case %d split %d", (long long)shapes[sh][0],
                   (long long)shapes[sh][1], c, s);
          check_dnd(what, r, rr, s == EQ_DND_NONE ? s : s + lead, true, 0);
          eq_dnd_free(r);
          eq_tensor_free(rr);
        }
        const int64_t neg[2] = {1, -2};
        CHECK(eq_dnd_tile(x, neg, 2) == NULL && strstr(eq_error_message(), "reps[1] = -2"));
        eq_dnd_free(x);
      }
      eq_tensor_free(rx);
    }
}

static void test_diag(void) {
  for (int di = 0; di < 3; di++) {
    eq_dtype d = DTYPES[di];
    /* 1-d -> 2-d; lengths 5 and 1 (empty blocks), offsets on both sides */
    for (int64_t n = 1; n <= 5; n += 4) {
      eq_tensor *rv = ref_tensor(d, 1, &n);
      FOR_SPLITS(s, 1) {
        eq_dnd *v = eq_dnd_from_tensor(rv, s, W);
        for (int64_t k = -3; k <= 3; k++) {
          int64_t N = n + (k < 0 ? -k : k);
          eq_tensor *rr = eq_zeros(d, EQ_DIMS(N, N));
          for (int64_t i = 0; i < n; i++) eq_set_flat(rr, (i + (k < 0 ? -k : 0)) * N + i + (k > 0 ? k : 0), eq_get_flat(rv, i));
          eq_dnd *r = eq_dnd_diag(v, k);
          char what[80];
          snprintf(what, sizeof what, "diag build n=%lld k=%lld split %d", (long long)n, (long long)k, s);
          check_dnd(what, r, rr, s, true, 0);
          eq_dnd_free(r);
          eq_tensor_free(rr);
        }
        eq_dnd_free(v);
      }
      eq_tensor_free(rv);
    }
    /* 2-d -> 1-d: tall, wide, offsets beyond the matrix (empty diagonal) */
    const int64_t shapes[2][2] = {{5, 4}, {3, 6}};
    for (int sh = 0; sh < 2; sh++) {
      eq_tensor *rx = ref_tensor(d, 2, shapes[sh]);
      int64_t R = shapes[sh][0], C = shapes[sh][1];
      FOR_SPLITS(s, 2) {
        eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
        for (int64_t k = -6; k <= 7; k++) {
          int64_t i0 = k < 0 ? -k : 0, j0 = k > 0 ? k : 0, len = R - i0 < C - j0 ? R - i0 : C - j0;
          if (len < 0) len = 0;
          eq_tensor *rr = eq_empty(d, 1, &len);
          for (int64_t e = 0; e < len; e++) eq_set_flat(rr, e, eq_get_flat(rx, (e + i0) * C + e + j0));
          eq_dnd *r = eq_dnd_diag(x, k);
          char what[80];
          snprintf(what, sizeof what, "diag extract %lldx%lld k=%lld split %d", (long long)R, (long long)C,
                   (long long)k, s);
          check_dnd(what, r, rr, s == EQ_DND_NONE ? s : 0, false, 0);
          eq_dnd_free(r);
          eq_tensor_free(rr);
        }
        eq_dnd_free(x);
      }
      eq_tensor_free(rx);
    }
  }
  eq_dnd *x3 = eq_dnd_zeros(EQ_F32, EQ_DIMS(2, 2, 2), 0, W);
  CHECK(eq_dnd_diag(x3, 0) == NULL && strstr(eq_error_message(), "eq_dnd_diag: needs a 1-d or 2-d array"));
  eq_dnd_free(x3);
}

int main(void) {
  DND_TEST_BEGIN();
  test_meshgrid();
  test_repeat();
  test_tile();
  test_diag();
  return DND_TEST_END();
}
