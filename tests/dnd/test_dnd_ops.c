/* Elementwise operations (broadcasting, redistribution rules, dtypes) and
 * reductions / scans along every axis at every split, against references
 * computed here on the full array. */
#include "dnd_test_util.h"

/* Reference binary op on doubles (the ops tested here are exact in every
 * dtype for the reference values). */
static double ref_bin(eq_dnd_binop op, double x, double y) {
  switch (op) {
  case EQ_DND_ADD: return x + y;
  case EQ_DND_SUB: return x - y;
  case EQ_DND_MUL: return x * y;
  case EQ_DND_MAXIMUM: return x > y ? x : y;
  case EQ_DND_LT: return x < y;
  case EQ_DND_EQ: return x == y;
  default: return 0;
  }
}

/* a (shape sa) op b (shape sb) with NumPy broadcasting, reference on full tensors. */
static eq_tensor *ref_binary(eq_dnd_binop op, const eq_tensor *a, const eq_tensor *b, eq_dtype out) {
  int nd;
  int64_t shape[EQ_MAX_DIMS];
  eq_broadcast_shapes("ref", a, b, &nd, shape);
  eq_tensor *r = eq_empty(out, nd, shape);
  eq_tensor *ea = eq_expand((eq_tensor *)a, nd, shape), *eb = eq_expand((eq_tensor *)b, nd, shape);
  eq_tensor *ca = eq_contiguous(ea), *cb = eq_contiguous(eb);
  for (int64_t i = 0; i < eq_numel(r); i++) eq_set_flat(r, i, ref_bin(op, eq_get_flat(ca, i), eq_get_flat(cb, i)));
  eq_tensor_free(ea);
  eq_tensor_free(eb);
  eq_tensor_free(ca);
  eq_tensor_free(cb);
  return r;
}

static void test_binary(void) {
  /* (5, 4) op (5, 4), (4,), (5, 1), (1, 4) at every split pair. */
  const int64_t sb[4][2] = {{5, 4}, {4, 0}, {5, 1}, {1, 4}};
  const int nb[4] = {2, 1, 2, 2};
  const eq_dnd_binop ops[] = {EQ_DND_ADD, EQ_DND_SUB, EQ_DND_MUL, EQ_DND_MAXIMUM, EQ_DND_LT, EQ_DND_EQ};
  for (int di = 0; di < 3; di++) {
    eq_dtype d = DTYPES[di];
    eq_tensor *ra = ref_tensor(d, EQ_DIMS(5, 4));
    for (int bi = 0; bi < 4; bi++) {
      eq_tensor *rb = ref_tensor(di == 2 ? EQ_F64 : d, nb[bi], sb[bi]);
      for (int k = 0; k < nb[bi]; k++) (void)0;
      FOR_SPLITS(s, 2) FOR_SPLITS(t, nb[bi]) {
        eq_dnd *a = eq_dnd_from_tensor(ra, s, W), *b = eq_dnd_from_tensor(rb, t, W);
        for (size_t oi = 0; oi < sizeof ops / sizeof *ops; oi++) {
          eq_dnd *r = eq_dnd_binary(ops[oi], a, b);
          eq_dtype od = ops[oi] >= EQ_DND_EQ ? EQ_BOOL : eq_dtype_promote(d, rb->dtype);
          eq_tensor *ref = ref_binary(ops[oi], ra, rb, od);
          /* Result split: a's when a is split, else b's mapped to result axes. */
          int want = s != EQ_DND_NONE ? s : (t == EQ_DND_NONE ? EQ_DND_NONE : t + (2 - nb[bi]));
          if (s == EQ_DND_NONE && t != EQ_DND_NONE && rb->shape[t] == 1) want = EQ_DND_NONE;
          char what[96];
          snprintf(what, sizeof what, "binary op %d %s b#%d split %d,%d", (int)ops[oi], eq_dtype_name(d), bi, s, t);
          check_dnd(what, r, ref, want, true, tol_of(d));
          CHECK_MSG(r && r->dtype == od, "%s dtype", what);
          eq_dnd_free(r);
          eq_tensor_free(ref);
        }
        eq_dnd_free(a);
        eq_dnd_free(b);
      }
      eq_tensor_free(rb);
    }
    eq_tensor_free(ra);
  }
  /* Unbalanced partner on the same split: redistributed to a's layout. */
  eq_tensor *ra = ref_tensor(EQ_F64, EQ_DIMS(7, 3));
  eq_dnd *a = eq_dnd_from_tensor(ra, 0, W);
  int64_t counts[16] = {0};
  counts[0] = 7;
  eq_dnd *u = eq_dnd_redistribute(a, counts);
  eq_dnd *r = eq_dnd_add(u, a);
  eq_tensor *ref = ref_binary(EQ_DND_ADD, ra, ra, EQ_F64);
  check_dnd("unbalanced + balanced", r, ref, 0, false, 0);
  CHECK(r && r->counts[0] == 7);
  eq_dnd_free(r);
  /* Shape mismatch: a clear error. */
  eq_tensor *rc = ref_tensor(EQ_F64, EQ_DIMS(4));
  eq_dnd *c = eq_dnd_from_tensor(rc, 0, W);
  CHECK(eq_dnd_add(a, c) == NULL && strstr(eq_error_message(), "do not broadcast") != NULL);
  /* In place. */
  eq_dnd *acopy = eq_dnd_copy(a);
  CHECK(eq_dnd_binary_(EQ_DND_ADD, acopy, u) == EQ_OK);
  check_dnd("in place add", acopy, ref, 0, true, 0);
  eq_tensor_free(ref);
  eq_dnd_free(acopy);
  eq_dnd_free(c);
  eq_tensor_free(rc);
  eq_dnd_free(u);
  eq_dnd_free(a);
  eq_tensor_free(ra);
}

static void test_scalar_unary(void) {
  for (int di = 0; di < 3; di++) {
    eq_dtype d = DTYPES[di];
    eq_tensor *ra = ref_tensor(d, EQ_DIMS(6, 5));
    int64_t n = 30;
    FOR_SPLITS(s, 2) {
      eq_dnd *a = eq_dnd_from_tensor(ra, s, W);
      /* a + 2 keeps the dtype; 2 - a; a * 1.5 (float64 for ints); a / 2. */
      eq_dnd *p = eq_dnd_binary_scalar(EQ_DND_ADD, a, 2, false);
      eq_dnd *q = eq_dnd_binary_scalar(EQ_DND_SUB, a, 2, true);
      eq_dnd *m = eq_dnd_binary_scalar(EQ_DND_MUL, a, 1.5, false);
      eq_dnd *v = eq_dnd_binary_scalar(EQ_DND_DIV, a, 2, false);
      eq_dnd *ng = eq_dnd_unary(EQ_DND_NEG, a), *ab = eq_dnd_unary(EQ_DND_ABS, a);
      eq_dnd *ex = eq_dnd_unary(EQ_DND_EXP, a), *fl = eq_dnd_unary(EQ_DND_FLOOR, a);
      eq_dnd *cl = eq_dnd_clip(a, -2, 3);
      eq_dnd *fd = eq_dnd_binary_scalar(EQ_DND_FLOORDIV, a, 4, false);
      eq_dnd *md = eq_dnd_binary_scalar(EQ_DND_MOD, a, 4, false);
      CHECK(p && p->dtype == d && m && m->dtype == (d == EQ_I64 ? EQ_F64 : d) && v &&
            v->dtype == (d == EQ_I64 ? EQ_F64 : d) && ex && ex->dtype == (d == EQ_I64 ? EQ_F64 : d));
      eq_tensor *rp = eq_empty(EQ_F64, EQ_DIMS(6, 5)), *rq = eq_empty(EQ_F64, EQ_DIMS(6, 5)),
                *rm = eq_empty(EQ_F64, EQ_DIMS(6, 5)), *rv = eq_empty(EQ_F64, EQ_DIMS(6, 5)),
                *rn = eq_empty(EQ_F64, EQ_DIMS(6, 5)), *rab = eq_empty(EQ_F64, EQ_DIMS(6, 5)),
                *rex = eq_empty(EQ_F64, EQ_DIMS(6, 5)), *rfl = eq_empty(EQ_F64, EQ_DIMS(6, 5)),
                *rcl = eq_empty(EQ_F64, EQ_DIMS(6, 5)), *rfd = eq_empty(EQ_F64, EQ_DIMS(6, 5)),
                *rmd = eq_empty(EQ_F64, EQ_DIMS(6, 5));
      for (int64_t i = 0; i < n; i++) {
        double x = ref_value(i, d);
        eq_set_flat(rp, i, x + 2);
        eq_set_flat(rq, i, 2 - x);
        eq_set_flat(rm, i, x * 1.5);
        eq_set_flat(rv, i, x / 2);
        eq_set_flat(rn, i, -x);
        eq_set_flat(rab, i, fabs(x));
        eq_set_flat(rex, i, exp(x));
        eq_set_flat(rfl, i, floor(x));
        eq_set_flat(rcl, i, x < -2 ? -2 : (x > 3 ? 3 : x));
        eq_set_flat(rfd, i, floor(x / 4));
        eq_set_flat(rmd, i, x - 4 * floor(x / 4)); /* Python's sign convention */
      }
      double tol = tol_of(d);
      check_dnd("a + 2", p, rp, s, true, tol);
      check_dnd("2 - a", q, rq, s, true, tol);
      check_dnd("a * 1.5", m, rm, s, true, tol);
      check_dnd("a / 2", v, rv, s, true, tol);
      check_dnd("-a", ng, rn, s, true, tol);
      check_dnd("abs", ab, rab, s, true, tol);
      check_dnd("exp", ex, rex, s, true, d == EQ_F32 ? 1e-6 : 1e-14);
      check_dnd("floor", fl, rfl, s, true, tol);
      check_dnd("clip", cl, rcl, s, true, tol);
      check_dnd("floordiv", fd, rfd, s, true, tol);
      check_dnd("mod", md, rmd, s, true, tol);
      /* where(a > 0, a, -1) */
      eq_dnd *cond = eq_dnd_binary_scalar(EQ_DND_GT, a, 0, false);
      eq_dnd *mone = eq_dnd_full(d, 0, NULL, -1, EQ_DND_NONE, W);
      eq_dnd *w = eq_dnd_where(cond, a, mone);
      eq_tensor *rw = eq_empty(EQ_F64, EQ_DIMS(6, 5));
      for (int64_t i = 0; i < n; i++) eq_set_flat(rw, i, ref_value(i, d) > 0 ? ref_value(i, d) : -1);
      check_dnd("where", w, rw, s, true, tol);
      bool close = false;
      CHECK(eq_dnd_allclose(a, a, 0, 0, &close) == EQ_OK && close);
      CHECK(eq_dnd_allclose(a, p, 0, 1.5, &close) == EQ_OK && !close);
      CHECK(eq_dnd_allclose(a, p, 0, 2.5, &close) == EQ_OK && close);
      eq_tensor *refs[] = {rp, rq, rm, rv, rn, rab, rex, rfl, rcl, rfd, rmd, rw};
      for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) eq_tensor_free(refs[i]);
      eq_dnd *ds[] = {a, p, q, m, v, ng, ab, ex, fl, cl, fd, md, cond, mone, w};
      for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) eq_dnd_free(ds[i]);
    }
    eq_tensor_free(ra);
  }
}

/* Reference reduction over axis (or all: axis = -1) of a full tensor. */
typedef enum { K_SUM, K_PROD, K_MEAN, K_VAR, K_STD, K_MIN, K_MAX, K_ARGMIN, K_ARGMAX, K_ALL, K_ANY, K_COUNT } kind;

static eq_tensor *ref_reduce(const eq_tensor *x, int axis, kind k, int ddof) {
  int64_t outer = 1, n, inner = 1;
  int64_t rshape[EQ_MAX_DIMS];
  int rnd = 0;
  if (axis < 0) {
    n = eq_numel(x);
  } else {
    for (int i = 0; i < axis; i++) outer *= x->shape[i];
    n = x->shape[axis];
    for (int i = axis + 1; i < x->ndim; i++) inner *= x->shape[i];
    for (int i = 0; i < x->ndim; i++)
      if (i != axis) rshape[rnd++] = x->shape[i];
  }
  eq_tensor *r = eq_empty(EQ_F64, rnd, rshape);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t kk = 0; kk < inner; kk++) {
      double s = 0, p = 1, mn = INFINITY, mx = -INFINITY, al = 1, an = 0;
      int64_t amin = 0, amax = 0;
      for (int64_t j = 0; j < n; j++) {
        double v = eq_get_flat(x, (o * n + j) * inner + kk);
        s += v;
        p *= v;
        if (v < mn) mn = v, amin = j;
        if (v > mx) mx = v, amax = j;
        if (v == 0) al = 0;
        if (v != 0) an = 1;
      }
      double mean = s / n, m2 = 0;
      for (int64_t j = 0; j < n; j++) {
        double dv = eq_get_flat(x, (o * n + j) * inner + kk) - mean;
        m2 += dv * dv;
      }
      double v = 0;
      switch (k) {
      case K_SUM: v = s; break;
      case K_PROD: v = p; break;
      case K_MEAN: v = mean; break;
      case K_VAR: v = m2 / (n - ddof); break;
      case K_STD: v = sqrt(m2 / (n - ddof)); break;
      case K_MIN: v = mn; break;
      case K_MAX: v = mx; break;
      case K_ARGMIN: v = (double)amin; break;
      case K_ARGMAX: v = (double)amax; break;
      case K_ALL: v = al; break;
      case K_ANY: v = an; break;
      default: break;
      }
      eq_set_flat(r, o * inner + kk, v);
    }
  return r;
}

static eq_dnd *run_reduce(const eq_dnd *x, int axis, kind k, int ddof) {
  switch (k) {
  case K_SUM: return eq_dnd_sum(x, axis, false);
  case K_PROD: return eq_dnd_prod(x, axis, false);
  case K_MEAN: return eq_dnd_mean(x, axis, false);
  case K_VAR: return eq_dnd_var(x, axis, ddof, false);
  case K_STD: return eq_dnd_std(x, axis, ddof, false);
  case K_MIN: return eq_dnd_min(x, axis, false);
  case K_MAX: return eq_dnd_max(x, axis, false);
  case K_ARGMIN: return eq_dnd_argmin(x, axis, false);
  case K_ARGMAX: return eq_dnd_argmax(x, axis, false);
  case K_ALL: return eq_dnd_all(x, axis, false);
  default: return eq_dnd_any(x, axis, false);
  }
}

static void test_reductions(void) {
  const int64_t shapes[2][3] = {{7, 3, 5}, {2, 5, 0}};
  const int nds[2] = {3, 2};
  for (int si = 0; si < 2; si++) {
    int nd = nds[si];
    for (int di = 0; di < 3; di++) {
      eq_dtype d = DTYPES[di];
      eq_tensor *rx = ref_tensor(d, nd, shapes[si]);
      FOR_SPLITS(s, nd) {
        eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
        for (int axis = -1; axis < nd; axis++) {
          int dax = axis < 0 ? EQ_DND_ALL_AXES : axis;
          for (int k = 0; k < K_COUNT; k++) {
            if (k == K_PROD && si == 0 && axis < 0) continue; /* overflows int64 */
            int ddof = k == K_VAR || k == K_STD ? 1 : 0;
            eq_dnd *r = run_reduce(x, dax, (kind)k, ddof);
            eq_tensor *ref = ref_reduce(rx, axis, (kind)k, ddof);
            int want = s == EQ_DND_NONE || axis < 0 || axis == s ? EQ_DND_NONE : (axis < s ? s - 1 : s);
            char what[128];
            snprintf(what, sizeof what, "reduce %d shape#%d %s split %d axis %d", k, si, eq_dtype_name(d), s, axis);
            double tol = d == EQ_F32 ? 1e-5 : 1e-11;
            check_dnd(what, r, ref, want, true, tol);
            eq_dtype wd = (k == K_ARGMIN || k == K_ARGMAX) ? EQ_I64
                          : (k == K_ALL || k == K_ANY)     ? EQ_BOOL
                          : (k >= K_MEAN && k <= K_STD && d == EQ_I64) ? EQ_F64
                                                                        : d;
            CHECK_MSG(r && r->dtype == wd, "%s: dtype", what);
            eq_dnd_free(r);
            eq_tensor_free(ref);
          }
        }
        /* keepdims along the split axis. */
        eq_dnd *kd = eq_dnd_sum(x, 0, true);
        CHECK(kd && kd->ndim == nd && kd->shape[0] == 1 && kd->split == (s == 0 || s == EQ_DND_NONE ? EQ_DND_NONE : s));
        eq_dnd_free(kd);
        eq_dnd_free(x);
      }
      eq_tensor_free(rx);
    }
  }
  /* NaN propagates through min / argmax; ties give the first index. */
  double vals[6] = {3, 1, 1, NAN, 0, 9};
  eq_tensor *t = eq_from_data(EQ_F64, EQ_DIMS(6), vals);
  eq_dnd *x = eq_dnd_from_tensor(t, 0, W);
  eq_dnd *mn = eq_dnd_min(x, 0, false), *am = eq_dnd_argmax(x, 0, false);
  double v = 0;
  CHECK(eq_dnd_item(mn, &v) == EQ_OK && isnan(v));
  CHECK(eq_dnd_item(am, &v) == EQ_OK && v == 3);
  eq_dnd_free(mn);
  eq_dnd_free(am);
  eq_dnd_free(x);
  eq_tensor_free(t);
  double v2[5] = {4, 1, 7, 1, 7};
  t = eq_from_data(EQ_F64, EQ_DIMS(5), v2);
  x = eq_dnd_from_tensor(t, 0, W);
  eq_dnd *a1 = eq_dnd_argmin(x, 0, false), *a2 = eq_dnd_argmax(x, EQ_DND_ALL_AXES, false);
  CHECK(eq_dnd_item(a1, &v) == EQ_OK && v == 1);
  CHECK(eq_dnd_item(a2, &v) == EQ_OK && v == 2);
  eq_dnd_free(a1);
  eq_dnd_free(a2);
  eq_dnd_free(x);
  eq_tensor_free(t);
  /* Stability: var of 1e9 + small values (naive sum of squares loses it all). */
  eq_tensor *big = eq_empty(EQ_F64, EQ_DIMS(1001));
  for (int i = 0; i < 1001; i++) eq_set_flat(big, i, 1e9 + (i % 7));
  eq_dnd *bx = eq_dnd_from_tensor(big, 0, W);
  eq_dnd *bv = eq_dnd_var(bx, 0, 0, false);
  double m = 0, m2 = 0;
  for (int i = 0; i < 1001; i++) m += (i % 7);
  m /= 1001;
  for (int i = 0; i < 1001; i++) m2 += ((i % 7) - m) * ((i % 7) - m);
  CHECK(eq_dnd_item(bv, &v) == EQ_OK);
  CHECK_CLOSE(v, m2 / 1001, 1e-9, 0);
  eq_dnd_free(bv);
  eq_dnd_free(bx);
  eq_tensor_free(big);
  /* Errors. */
  eq_dnd *e = eq_dnd_zeros(EQ_F32, EQ_DIMS(0, 3), 0, W);
  CHECK(eq_dnd_max(e, 0, false) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  CHECK(eq_dnd_sum(e, 2, false) == NULL && strstr(eq_error_message(), "axis 2") != NULL);
  eq_dnd_free(e);
}

static void test_scans(void) {
  for (int di = 0; di < 3; di++) {
    eq_dtype d = DTYPES[di];
    eq_tensor *rx = ref_tensor(d, EQ_DIMS(7, 4));
    FOR_SPLITS(s, 2) for (int axis = 0; axis < 2; axis++) {
      eq_dnd *x = eq_dnd_from_tensor(rx, s, W);
      eq_dnd *cs = eq_dnd_cumsum(x, axis);
      eq_dnd *cp = eq_dnd_cumprod(x, axis);
      eq_tensor *rs = eq_empty(EQ_F64, EQ_DIMS(7, 4)), *rp = eq_empty(EQ_F64, EQ_DIMS(7, 4));
      for (int i = 0; i < 7; i++)
        for (int j = 0; j < 4; j++) {
          double s1 = 0, p1 = 1;
          int lim = axis == 0 ? i : j;
          for (int k = 0; k <= lim; k++) {
            double v = eq_get_flat(rx, axis == 0 ? k * 4 + j : i * 4 + k);
            s1 += v;
            p1 *= v;
          }
          eq_set_flat(rs, i * 4 + j, s1);
          eq_set_flat(rp, i * 4 + j, p1);
        }
      check_dnd("cumsum", cs, rs, s, true, tol_of(d));
      check_dnd("cumprod", cp, rp, s, true, d == EQ_F32 ? 1e-5 : 1e-12);
      eq_dnd_free(cs);
      eq_dnd_free(cp);
      eq_dnd_free(x);
      eq_tensor_free(rs);
      eq_tensor_free(rp);
    }
    eq_tensor_free(rx);
  }
}

int main(void) {
  DND_TEST_BEGIN();
  test_binary();
  test_scalar_unary();
  test_reductions();
  test_scans();
  return DND_TEST_END();
}
