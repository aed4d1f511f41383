/* Communication layer, layouts, creation, resplit / balance / redistribute,
 * random arrays: against single-process references at every split axis. */
#include "dnd_test_util.h"

static void test_comm(void) {
  int P = W->size, me = W->rank;
  for (int pass = 0; pass < 2; pass++) {
    /* pass 1: tiny message limit, so every collective takes its chunked path. */
    int64_t old = eq_comm_set_max_message(pass ? 24 : 0);
    double v[10];
    for (int i = 0; i < 10; i++) v[i] = me + i;
    CHECK(eq_comm_allreduce(W, v, 10, EQ_F64, EQ_REDUCE_SUM) == EQ_OK);
    for (int i = 0; i < 10; i++) CHECK(v[i] == P * (P - 1) / 2.0 + P * i);
    int64_t b[7];
    for (int i = 0; i < 7; i++) b[i] = me == P - 1 ? 100 + i : -1;
    CHECK(eq_comm_bcast(W, b, 7, EQ_I64, P - 1) == EQ_OK);
    for (int i = 0; i < 7; i++) CHECK(b[i] == 100 + i);
    /* allgatherv: rank r sends r + 1 values r. */
    int64_t counts[16], displs[16], tot = 0;
    for (int r = 0; r < P; r++) {
      counts[r] = r + 1;
      displs[r] = tot;
      tot += r + 1;
    }
    float send[16], recv[64];
    for (int i = 0; i <= me; i++) send[i] = (float)me;
    CHECK(eq_comm_allgatherv(W, send, recv, counts, displs, EQ_F32) == EQ_OK);
    for (int r = 0; r < P; r++)
      for (int i = 0; i <= r; i++) CHECK(recv[displs[r] + i] == (float)r);
    /* alltoallv: rank r sends q + 1 values (100 r + q) to rank q. */
    int64_t sc[16], sd[16], rc[16], rd[16], st = 0, rt = 0;
    int64_t sb[64], rb[64];
    for (int q = 0; q < P; q++) {
      sc[q] = q + 1;
      sd[q] = st;
      for (int i = 0; i <= q; i++) sb[st + i] = 100 * me + q;
      st += q + 1;
      rc[q] = me + 1;
      rd[q] = rt;
      rt += me + 1;
    }
    CHECK(eq_comm_alltoallv(W, sb, sc, sd, rb, rc, rd, EQ_I64) == EQ_OK);
    for (int q = 0; q < P; q++)
      for (int i = 0; i <= me; i++) CHECK(rb[rd[q] + i] == 100 * q + me);
    double ex_in[3] = {me + 1.0, 2.0, 1.0}, ex_out[3];
    CHECK(eq_comm_exscan(W, ex_in, ex_out, 3, EQ_F64, EQ_REDUCE_SUM) == EQ_OK);
    CHECK(ex_out[0] == me * (me + 1) / 2.0 && ex_out[1] == 2.0 * me && ex_out[2] == me);
    /* A large resplit through the chunked paths too. */
    eq_tensor *ref = ref_tensor(EQ_F64, EQ_DIMS(7, 5));
    eq_dnd *x = eq_dnd_from_tensor(ref, 0, W);
    eq_dnd *y = eq_dnd_resplit(x, EQ_DND_NONE);
    check_dnd("chunked resplit", y, ref, EQ_DND_NONE, true, 0);
    eq_dnd_free(x);
    eq_dnd_free(y);
    eq_tensor_free(ref);
    /* Axis-to-axis moves of a 3-d array: strided packing and unpacking, and
     * the local part copied in slices between the (many) chunks. */
    eq_tensor *r3 = ref_tensor(EQ_F32, EQ_DIMS(5, 4, 6));
    for (int from = 0; from < 3; from++)
      for (int to = 0; to < 3; to++) {
        eq_dnd *a = eq_dnd_from_tensor(r3, from, W), *b3 = a ? eq_dnd_resplit(a, to) : NULL;
        char what[64];
        snprintf(what, sizeof what, "resplit 3-d %d -> %d (pass %d)", from, to, pass);
        check_dnd(what, b3, r3, to, true, 0);
        eq_dnd_free(a);
        eq_dnd_free(b3);
      }
    eq_tensor_free(r3);
    eq_comm_set_max_message(old);
  }
  CHECK(eq_comm_world() == W);
  CHECK(eq_comm_self()->size == 1);
}

static void test_chunking(void) {
  int64_t c, o;
  eq_dnd_chunk(10, 4, 0, &c, &o);
  CHECK(c == 3 && o == 0);
  eq_dnd_chunk(10, 4, 1, &c, &o);
  CHECK(c == 3 && o == 3);
  eq_dnd_chunk(10, 4, 2, &c, &o);
  CHECK(c == 2 && o == 6);
  eq_dnd_chunk(10, 4, 3, &c, &o);
  CHECK(c == 2 && o == 8);
  eq_dnd_chunk(2, 4, 3, &c, &o);
  CHECK(c == 0 && o == 2);
}

/* Shapes with sizes not divisible by P, fewer rows than ranks and an empty dim. */
static const int64_t SHAPES[][3] = {{7, 5, 0}, {2, 9, 0}, {1, 3, 0}, {11, 0, 0}, {5, 3, 4}, {0, 4, 0}};
static const int SHAPE_ND[] = {2, 2, 2, 1, 3, 2};

static void test_from_tensor_and_resplit(void) {
  for (size_t si = 0; si < sizeof SHAPE_ND / sizeof *SHAPE_ND; si++) {
    int nd = SHAPE_ND[si];
    for (int di = 0; di < 3; di++) {
      eq_dtype d = DTYPES[di];
      eq_tensor *ref = ref_tensor(d, nd, SHAPES[si]);
      FOR_SPLITS(s, nd) {
        eq_dnd *x = eq_dnd_from_tensor(ref, s, W);
        char what[96];
        snprintf(what, sizeof what, "from_tensor shape#%zu %s split %d", si, eq_dtype_name(d), s);
        check_dnd(what, x, ref, s, true, 0);
        FOR_SPLITS(t, nd) {
          eq_dnd *y = eq_dnd_resplit(x, t);
          snprintf(what, sizeof what, "resplit shape#%zu %s %d->%d", si, eq_dtype_name(d), s, t);
          check_dnd(what, y, ref, t, true, 0);
          eq_dnd_free(y);
        }
        if (s != EQ_DND_NONE) {
          /* Everything on the last rank, then balance back. */
          int64_t counts[16] = {0};
          counts[W->size - 1] = x->shape[s];
          eq_dnd *u = eq_dnd_redistribute(x, counts);
          snprintf(what, sizeof what, "redistribute shape#%zu split %d", si, s);
          check_dnd(what, u, ref, s, false, 0);
          CHECK(u && u->local->shape[s] == (W->rank == W->size - 1 ? x->shape[s] : 0));
          eq_dnd *b = eq_dnd_balance(u);
          check_dnd("balance", b, ref, s, true, 0);
          /* Resplit of the unbalanced array to another axis. */
          eq_dnd *r2 = eq_dnd_resplit(u, nd - 1 - s);
          check_dnd("resplit unbalanced", r2, ref, nd - 1 - s, true, 0);
          eq_dnd_free(r2);
          eq_dnd_free(u);
          eq_dnd_free(b);
          /* Bad counts are an error. */
          counts[0] += 1;
          CHECK(eq_dnd_redistribute(x, counts) == NULL && eq_error_code() == EQ_ERR_SHAPE);
        }
        eq_dnd *c = eq_dnd_astype(x, EQ_F64);
        check_dnd("astype", c, ref, s, true, 0);
        eq_dnd_free(c);
        eq_dnd_free(x);
      }
      eq_tensor_free(ref);
    }
  }
  eq_tensor *ref = ref_tensor(EQ_F32, EQ_DIMS(3, 4));
  CHECK(eq_dnd_from_tensor(ref, 2, W) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  eq_dnd *x = eq_dnd_from_tensor(ref, 0, W);
  CHECK(eq_dnd_resplit(x, 5) == NULL && strstr(eq_error_message(), "axis 5") != NULL);
  eq_dnd_free(x);
  eq_tensor_free(ref);
}

static void test_from_local(void) {
  int me = W->rank;
  /* Rank r holds r + 1 rows of a global array whose row i is all i. */
  int64_t rows = me + 1, start = (int64_t)me * (me + 1) / 2, n = (int64_t)W->size * (W->size + 1) / 2;
  eq_tensor *loc = eq_empty(EQ_F64, EQ_DIMS(rows, 3));
  for (int64_t i = 0; i < rows * 3; i++) eq_set_flat(loc, i, (double)(start + i / 3));
  eq_dnd *x = eq_dnd_from_local(loc, 0, W);
  eq_tensor *ref = eq_empty(EQ_F64, EQ_DIMS(n, 3));
  for (int64_t i = 0; i < n * 3; i++) eq_set_flat(ref, i, (double)(i / 3));
  check_dnd("from_local", x, ref, 0, false, 0);
  CHECK(x && x->counts[W->size - 1] == W->size && x->offsets[me] == start);
  /* No data moved: the block is the caller's storage. */
  CHECK(x && eq_data_ptr(x->local) == eq_data_ptr(loc));
  eq_dnd_free(x);
  eq_tensor_free(loc);
  eq_tensor_free(ref);
  /* Inconsistent blocks: an error on every rank. */
  eq_tensor *bad = eq_zeros(EQ_F32, EQ_DIMS(2, me == 0 ? 4 : 3));
  eq_dnd *y = eq_dnd_from_local(bad, 0, W);
  if (W->size > 1)
    CHECK(y == NULL && strstr(eq_error_message(), "does not match") != NULL);
  else
    CHECK(y != NULL);
  eq_dnd_free(y);
  eq_tensor_free(bad);
}

static void test_factories(void) {
  FOR_SPLITS(s, 2) {
    eq_dnd *z = eq_dnd_zeros(EQ_F32, EQ_DIMS(5, 3), s, W);
    eq_tensor *rz = eq_zeros(EQ_F32, EQ_DIMS(5, 3));
    check_dnd("zeros", z, rz, s, true, 0);
    eq_dnd *f = eq_dnd_full_like(z, 2.5);
    eq_tensor *rf = eq_full(EQ_F32, EQ_DIMS(5, 3), 2.5);
    check_dnd("full_like", f, rf, s, true, 0);
    eq_dnd *o = eq_dnd_ones(EQ_I64, EQ_DIMS(5, 3), s, W);
    eq_tensor *ro = eq_ones(EQ_I64, EQ_DIMS(5, 3));
    check_dnd("ones", o, ro, s, true, 0);
    eq_dnd *e = eq_dnd_eye(5, 3, EQ_F64, s, W);
    eq_tensor *re = eq_zeros(EQ_F64, EQ_DIMS(5, 3));
    for (int i = 0; i < 3; i++) eq_set_flat(re, i * 3 + i, 1);
    check_dnd("eye", e, re, s, true, 0);
    eq_dnd *el = eq_dnd_empty_like(e);
    CHECK(el && el->split == s && el->dtype == EQ_F64);
    eq_dnd_free(el);
    eq_dnd *zl = eq_dnd_zeros_like(e), *ol = eq_dnd_ones_like(e);
    eq_tensor *r1 = eq_ones(EQ_F64, EQ_DIMS(5, 3)), *r0 = eq_zeros(EQ_F64, EQ_DIMS(5, 3));
    check_dnd("zeros_like", zl, r0, s, true, 0);
    check_dnd("ones_like", ol, r1, s, true, 0);
    eq_dnd *empty = eq_dnd_empty(EQ_F32, EQ_DIMS(5, 3), s, W);
    CHECK(empty && eq_numel(empty->local) == (s == EQ_DND_NONE ? 15 : (s == 0 ? empty->counts[W->rank] * 3 : 5 * empty->counts[W->rank])));
    eq_dnd_free(empty);
    eq_dnd_free(zl);
    eq_dnd_free(ol);
    eq_tensor_free(r1);
    eq_tensor_free(r0);
    eq_dnd_free(z);
    eq_dnd_free(f);
    eq_dnd_free(o);
    eq_dnd_free(e);
    eq_tensor_free(rz);
    eq_tensor_free(rf);
    eq_tensor_free(ro);
    eq_tensor_free(re);
  }
  for (int s = EQ_DND_NONE; s <= 0; s++) {
    /* NumPy: arange(2, 9.5, 1.5), linspace(0, 1, 5), logspace(0, 3, 4), linspace(0,1,4,endpoint=False) */
    eq_dnd *a = eq_dnd_arange(2, 9.5, 1.5, EQ_F64, s, W);
    eq_tensor *ra = eq_from_data(EQ_F64, EQ_DIMS(5), (double[]){2, 3.5, 5, 6.5, 8});
    check_dnd("arange", a, ra, s, true, 0);
    eq_dnd *ai = eq_dnd_arange(0, 7, 1, EQ_I64, s, W);
    eq_tensor *rai = eq_from_data(EQ_I64, EQ_DIMS(7), (int64_t[]){0, 1, 2, 3, 4, 5, 6});
    check_dnd("arange int", ai, rai, s, true, 0);
    eq_dnd *l = eq_dnd_linspace(0, 1, 5, true, EQ_F64, s, W);
    eq_tensor *rl = eq_from_data(EQ_F64, EQ_DIMS(5), (double[]){0, 0.25, 0.5, 0.75, 1});
    check_dnd("linspace", l, rl, s, true, 1e-15);
    eq_dnd *l2 = eq_dnd_linspace(0, 1, 4, false, EQ_F32, s, W);
    eq_tensor *rl2 = eq_from_data(EQ_F64, EQ_DIMS(4), (double[]){0, 0.25, 0.5, 0.75});
    check_dnd("linspace no endpoint", l2, rl2, s, true, 0);
    eq_dnd *g = eq_dnd_logspace(0, 3, 4, true, 10, EQ_F64, s, W);
    eq_tensor *rg = eq_from_data(EQ_F64, EQ_DIMS(4), (double[]){1, 10, 100, 1000});
    check_dnd("logspace", g, rg, s, true, 1e-14);
    eq_dnd_free(a);
    eq_dnd_free(ai);
    eq_dnd_free(l);
    eq_dnd_free(l2);
    eq_dnd_free(g);
    eq_tensor_free(ra);
    eq_tensor_free(rai);
    eq_tensor_free(rl);
    eq_tensor_free(rl2);
    eq_tensor_free(rg);
  }
  CHECK(eq_dnd_arange(0, 1, 0, EQ_F64, 0, W) == NULL && eq_error_code() == EQ_ERR_VALUE);
}

static void test_random(void) {
  eq_tensor *ru = eq_rand_uniform(EQ_F32, EQ_DIMS(6, 5, 3), -2, 3, 42, 7);
  eq_tensor *rn = eq_rand_normal(EQ_F64, EQ_DIMS(6, 5, 3), 1, 2, 42, 8);
  FOR_SPLITS(s, 3) {
    eq_dnd *u = eq_dnd_rand_uniform(EQ_F32, EQ_DIMS(6, 5, 3), -2, 3, 42, 7, s, W);
    check_dnd("rand_uniform = single-process", u, ru, s, true, 0);
    eq_dnd *n = eq_dnd_rand_normal(EQ_F64, EQ_DIMS(6, 5, 3), 1, 2, 42, 8, s, W);
    check_dnd("rand_normal = single-process", n, rn, s, true, 0);
    eq_dnd *ri = eq_dnd_randint(EQ_I64, EQ_DIMS(6, 5, 3), -3, 4, 5, 0, s, W);
    eq_dnd *ri0 = eq_dnd_randint(EQ_I64, EQ_DIMS(6, 5, 3), -3, 4, 5, 0, EQ_DND_NONE, W);
    eq_tensor *rit = eq_dnd_to_tensor(ri0);
    check_dnd("randint independent of split", ri, rit, s, true, 0);
    double lo = 10, hi = -10;
    for (int64_t i = 0; i < 90; i++) {
      double v = eq_get_flat(rit, i);
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      CHECK(v == floor(v));
    }
    CHECK(lo == -3 && hi == 3);
    eq_tensor_free(rit);
    eq_dnd_free(ri);
    eq_dnd_free(ri0);
    eq_dnd_free(u);
    eq_dnd_free(n);
  }
  eq_tensor_free(ru);
  eq_tensor_free(rn);
}

int main(void) {
  DND_TEST_BEGIN();
  test_comm();
  test_chunking();
  test_from_tensor_and_resplit();
  test_from_local();
  test_factories();
  test_random();
  return DND_TEST_END();
}
