/* Sorting and order statistics: sample sort along the split axis of 1-d
 * arrays (regular sampling, one all-to-all), resplit + local sort for n-d
 * arrays, unique, topk, percentile / median, histogram. Keys are compared as
 * (value, global index) pairs: a total order, so results are deterministic
 * and stable at any rank count. NaN sorts last, as in NumPy, in both
 * directions. Values travel as order-preserving 64-bit keys, exact for
 * every dtype (int64 beyond 2^53 included); -0.0 and +0.0 are one key
 * (equal, as NumPy compares them), which comes back as +0.0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

/* A record: the key of a value (see key_of) and its global index. */
typedef struct {
  uint64_t k;
  int64_t i;
} rec;

#define SIGN_BIT ((uint64_t)1 << 63)
#define NAN_KEY UINT64_MAX /* above every number's key; only NaN gets it */

/* int32/int64 keep integer keys; every other dtype goes through double,
 * which holds its values exactly. */
static bool is_float(eq_dtype d) { return d != EQ_I64 && d != EQ_I32; }

static uint64_t double_key(double d) {
  if (d != d) return NAN_KEY;
  if (d == 0) d = 0; /* -0.0 == +0.0 */
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b & SIGN_BIT ? ~b : b | SIGN_BIT;
}

/* Ascending keys become descending ones and back; NaN stays last. */
static uint64_t flip_order(uint64_t k, bool desc, bool fl) {
  if (!desc || (fl && k == NAN_KEY)) return k;
  return ~k;
}

/* Element i (flat, contiguous) of t as an unsigned key in value order. */
static uint64_t key_of(const eq_tensor *t, int64_t i, bool desc) {
  const void *p = eq_data_ptr(t);
  uint64_t k;
  switch (t->dtype) {
  case EQ_F32: k = double_key(((const float *)p)[i]); break;
  case EQ_F64: k = double_key(((const double *)p)[i]); break;
  case EQ_I64: k = (uint64_t)((const int64_t *)p)[i] ^ SIGN_BIT; break;
  case EQ_I32: k = (uint64_t)(int64_t)((const int32_t *)p)[i] ^ SIGN_BIT; break;
  default: k = double_key(eq_get_flat(t, i)); break;
  }
  return flip_order(k, desc, is_float(t->dtype));
}

/* The inverse: element i of t = the value with key k. */
static void put_key(eq_tensor *t, int64_t i, uint64_t k, bool desc) {
  k = flip_order(k, desc, is_float(t->dtype));
  void *p = eq_data_ptr(t);
  if (is_float(t->dtype)) {
    double d = NAN;
    if (k != NAN_KEY) {
      uint64_t b = k & SIGN_BIT ? k ^ SIGN_BIT : ~k;
      memcpy(&d, &b, sizeof d);
    }
    if (t->dtype == EQ_F32)
      ((float *)p)[i] = (float)d;
    else if (t->dtype == EQ_F64)
      ((double *)p)[i] = d;
    else
      eq_set_flat(t, i, d);
    return;
  }
  int64_t v = (int64_t)(k ^ SIGN_BIT);
  if (t->dtype == EQ_I64)
    ((int64_t *)p)[i] = v;
  else
    ((int32_t *)p)[i] = (int32_t)v;
}

static int cmp_rec(const void *pa, const void *pb) {
  const rec *a = pa, *b = pb;
  if (a->k != b->k) return a->k < b->k ? -1 : 1;
  return (a->i > b->i) - (a->i < b->i);
}

static eq_status sort_1d_split(const eq_dnd *x, bool desc, eq_dnd **vals, eq_dnd **idx);

/* Local sort of every lane along axis a of a contiguous tensor. */
static eq_status sort_lanes(const eq_tensor *in, int a, bool desc, int64_t idx_off, eq_tensor *out, eq_tensor *oidx) {
  int64_t outer = dnd_outer(in, a), n = in->shape[a], inner = dnd_inner(in, a);
  rec *r = malloc(sizeof(rec) * (size_t)(n + 1));
  if (!r) return eq_error(EQ_ERR_MEMORY, "eq_dnd_sort: out of memory");
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < inner; k++) {
      for (int64_t j = 0; j < n; j++) r[j] = (rec){key_of(in, (o * n + j) * inner + k, desc), j + idx_off};
      qsort(r, (size_t)n, sizeof(rec), cmp_rec);
      for (int64_t j = 0; j < n; j++) {
        put_key(out, (o * n + j) * inner + k, r[j].k, desc);
        if (oidx) ((int64_t *)eq_data_ptr(oidx))[(o * n + j) * inner + k] = r[j].i;
      }
    }
  free(r);
  return EQ_OK;
}

eq_dnd *eq_dnd_sort(const eq_dnd *x, int axis, bool descending, eq_dnd **indices) {
  if (indices) *indices = NULL;
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_sort: NULL array");
  int a;
  if (dnd_check_axis("eq_dnd_sort", x, axis, &a)) return NULL;
  if (a == x->split && x->ndim == 1 && x->comm->size > 1) {
    eq_dnd *v = NULL, *ix = NULL;
    if (sort_1d_split(x, descending, &v, indices ? &ix : NULL)) return NULL;
    if (indices) *indices = ix;
    return v;
  }
  if (a == x->split && x->comm->size > 1) {
    /* n-d along the split axis: move the split elsewhere, sort, move back. */
    int other = a == 0 ? 1 : 0;
    eq_dnd *t = dnd_relayout(x, other, NULL);
    if (!t) return NULL;
    eq_dnd *ti = NULL;
    eq_dnd *s = eq_dnd_sort(t, a, descending, indices ? &ti : NULL);
    eq_dnd_free(t);
    if (!s) return NULL;
    eq_dnd *r = dnd_relayout(s, x->split, x->counts);
    eq_dnd_free(s);
    if (indices && r) {
      *indices = dnd_relayout(ti, x->split, x->counts);
      if (!*indices) {
        eq_dnd_free(r);
        r = NULL;
      }
    }
    eq_dnd_free(ti);
    return r;
  }
  eq_dnd *r = dnd_new(x->dtype, x->ndim, x->shape, x->split, x->counts, x->comm);
  eq_dnd *ri = indices ? dnd_new(EQ_I64, x->ndim, x->shape, x->split, x->counts, x->comm) : NULL;
  int64_t off = a == x->split ? x->offsets[x->comm->rank] : 0;
  if (!r || (indices && !ri) || sort_lanes(x->local, a, descending, off, r->local, ri ? ri->local : NULL)) {
    eq_dnd_free(r);
    eq_dnd_free(ri);
    return NULL;
  }
  if (indices) *indices = ri;
  return r;
}

static eq_status sort_1d_split(const eq_dnd *x, bool desc, eq_dnd **vals, eq_dnd **idx) {
  const eq_comm *c = x->comm;
  int P = c->size, me = c->rank;
  int64_t n = x->local->shape[0], off = x->offsets[me];
  rec *r = malloc(sizeof(rec) * (size_t)(n + 1));
  rec *samples = malloc(sizeof(rec) * (size_t)(P * P + 1)), *mine = malloc(sizeof(rec) * (size_t)P);
  int64_t *v = calloc((size_t)4 * P, sizeof(int64_t));
  rec *in = NULL;
  eq_status st = r && samples && mine && v ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd_sort: out of memory");
  if (!st) {
    for (int64_t j = 0; j < n; j++) r[j] = (rec){key_of(x->local, j, desc), off + j};
    qsort(r, (size_t)n, sizeof(rec), cmp_rec);
    /* Regular sampling: P candidates per rank (an empty block sends
     * sentinels that sort after every record). */
    for (int k = 0; k < P; k++) {
      if (n) mine[k] = r[(int64_t)k * n / P];
      else mine[k] = (rec){UINT64_MAX, INT64_MAX};
    }
    st = eq_comm_allgather(c, mine, samples, 2 * P, EQ_I64); /* 16-byte records as int64 pairs */
  }
  if (!st) {
    qsort(samples, (size_t)P * P, sizeof(rec), cmp_rec);
    /* Splitter k (k = 1..P-1) = sample k * P; destination of a record = number of splitters <= it. */
    int64_t *sc = v, *sd = v + P, *rc = v + 2 * P, *rd = v + 3 * P;
    int q = 0;
    for (int64_t j = 0; j < n; j++) {
      while (q < P - 1 && cmp_rec(&r[j], &samples[(q + 1) * P]) >= 0) q++;
      sc[q]++;
    }
    for (int k = 1; k < P; k++) sd[k] = sd[k - 1] + sc[k - 1];
    int64_t one[32], dq[32];
    int64_t *ones = P <= 32 ? one : malloc(sizeof(int64_t) * 2 * (size_t)P), *dqs = P <= 32 ? dq : ones + P;
    for (int k = 0; k < P; k++) {
      ones[k] = 1;
      dqs[k] = k;
    }
    st = eq_comm_alltoallv(c, sc, ones, dqs, rc, ones, dqs, EQ_I64);
    if (ones != one) free(ones);
    int64_t total = 0;
    for (int k = 0; k < P; k++) {
      rd[k] = total;
      total += rc[k];
    }
    in = malloc(sizeof(rec) * (size_t)(total + 1));
    if (!st && !in) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_sort: out of memory");
    if (!st) {
      /* Records as int64 pairs: counts and displacements doubled. */
      for (int k = 0; k < 4 * P; k++) v[k] *= 2;
      st = eq_comm_alltoallv(c, r, sc, sd, in, rc, rd, EQ_I64);
    }
    if (!st) {
      qsort(in, (size_t)total, sizeof(rec), cmp_rec);
      int64_t *counts = malloc(sizeof(int64_t) * (size_t)P);
      if (!counts || eq_comm_allgather(c, &total, counts, 1, EQ_I64)) {
        st = counts ? eq_error_code() : eq_error(EQ_ERR_MEMORY, "eq_dnd_sort: out of memory");
      } else {
        eq_dnd *sv = dnd_new(x->dtype, 1, x->shape, 0, counts, c);
        eq_dnd *si = idx ? dnd_new(EQ_I64, 1, x->shape, 0, counts, c) : NULL;
        if (!sv || (idx && !si)) st = eq_error_code();
        for (int64_t j = 0; j < total && !st; j++) {
          put_key(sv->local, j, in[j].k, desc);
          if (si) ((int64_t *)eq_data_ptr(si->local))[j] = in[j].i;
        }
        /* Back to the input's layout. */
        if (!st) {
          *vals = dnd_relayout(sv, 0, x->counts);
          if (!*vals) st = eq_error_code();
          if (!st && idx) {
            *idx = dnd_relayout(si, 0, x->counts);
            if (!*idx) {
              st = eq_error_code();
              eq_dnd_free(*vals);
              *vals = NULL;
            }
          }
        }
        eq_dnd_free(sv);
        eq_dnd_free(si);
      }
      free(counts);
    }
  }
  free(r);
  free(samples);
  free(mine);
  free(v);
  free(in);
  return st;
}

/* ---------------------------------------------------------------- statistics */

/* x flattened and sorted ascending (1-d, split 0 when x is split). */
static eq_dnd *sorted_flat(const eq_dnd *x) {
  eq_dnd *f = eq_dnd_flatten(x);
  if (!f) return NULL;
  eq_dnd *s = eq_dnd_sort(f, 0, false, NULL);
  eq_dnd_free(f);
  return s;
}

/* Element g of a sorted 1-d array, replicated (owner contributes, allreduce). */
static eq_status element_at(const eq_dnd *s, int64_t g, double *out) {
  double v = 0;
  if (s->split == EQ_DND_NONE) {
    *out = eq_get_flat(s->local, g);
    return EQ_OK;
  }
  int me = s->comm->rank;
  if (g >= s->offsets[me] && g < s->offsets[me + 1]) v = eq_get_flat(s->local, g - s->offsets[me]);
  eq_status st = eq_comm_allreduce(s->comm, &v, 1, EQ_F64, EQ_REDUCE_SUM);
  *out = v;
  return st;
}

eq_dnd *eq_dnd_percentile(const eq_dnd *x, const double *q, int nq) {
  if (!x || (!q && nq)) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_percentile: NULL argument");
  for (int k = 0; k < nq; k++)
    if (!(q[k] >= 0 && q[k] <= 100)) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_percentile: q = %g outside [0, 100]", q[k]);
  int64_t n = eq_dnd_numel(x);
  if (n == 0) return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_percentile: empty array");
  eq_dnd *s = sorted_flat(x);
  if (!s) return NULL;
  int64_t nq64 = nq;
  eq_dnd *r = dnd_new(EQ_F64, 1, &nq64, EQ_DND_NONE, NULL, x->comm);
  eq_status st = r ? EQ_OK : eq_error_code();
  for (int k = 0; k < nq && !st; k++) {
    /* NumPy's default "linear" method. */
    double pos = q[k] / 100.0 * (double)(n - 1);
    int64_t lo = (int64_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    double a, b;
    st = element_at(s, lo, &a);
    if (!st) st = element_at(s, hi, &b);
    double frac = pos - (double)lo;
    ((double *)eq_data_ptr(r->local))[k] = frac == 0 ? a : a + (b - a) * frac;
  }
  eq_dnd_free(s);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}

eq_dnd *eq_dnd_median(const eq_dnd *x) {
  double q = 50;
  eq_dnd *p = eq_dnd_percentile(x, &q, 1);
  if (!p) return NULL;
  eq_dnd *r = eq_dnd_reshape(p, 0, NULL, EQ_DND_NONE);
  eq_dnd_free(p);
  return r;
}

eq_dnd *eq_dnd_histogram(const eq_dnd *x, int64_t bins, double lo, double hi) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_histogram: NULL array");
  if (bins < 1 || !(hi > lo)) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_histogram: need bins >= 1 and lo < hi (got %lld, %g, %g)", (long long)bins, lo, hi);
  eq_dnd *r = eq_dnd_zeros(EQ_I64, 1, &bins, EQ_DND_NONE, x->comm);
  if (!r) return NULL;
  int64_t *h = eq_data_ptr(r->local), n = eq_numel(x->local);
  /* A replicated x is counted once (by rank 0). */
  if (x->split != EQ_DND_NONE || x->comm->rank == 0)
    for (int64_t i = 0; i < n; i++) {
      double v = eq_get_flat(x->local, i);
      if (!(v >= lo && v <= hi)) continue;
      int64_t b = (int64_t)((v - lo) / (hi - lo) * (double)bins);
      if (b >= bins) b = bins - 1; /* the last bin is closed */
      h[b]++;
    }
  if (eq_comm_allreduce(x->comm, h, bins, EQ_I64, EQ_REDUCE_SUM)) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}

eq_dnd *eq_dnd_unique(const eq_dnd *x) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_unique: NULL array");
  eq_dnd *s = sorted_flat(x);
  if (!s) return NULL;
  /* Local runs deduplicated (as keys: exact for int64); the sorted blocks
   * are then gathered in rank order. */
  int64_t n = eq_numel(s->local), m = 0;
  uint64_t *u = malloc(sizeof(uint64_t) * (size_t)(n + 1));
  eq_status st = u ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd_unique: out of memory");
  for (int64_t i = 0; i < n && !st; i++) {
    uint64_t k = key_of(s->local, i, false);
    if (m == 0 || u[m - 1] != k) u[m++] = k;
  }
  const eq_comm *c = x->comm;
  int P = s->split == EQ_DND_NONE ? 1 : c->size;
  int64_t *cd = calloc((size_t)2 * c->size, sizeof(int64_t));
  uint64_t *all = NULL;
  int64_t tot = 0;
  if (!st && !cd) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_unique: out of memory");
  if (!st && P > 1) st = eq_comm_allgather(c, &m, cd, 1, EQ_I64);
  else if (!st) cd[0] = m;
  for (int k = 0; k < P; k++) {
    cd[c->size + k] = tot;
    tot += cd[k];
  }
  if (!st) all = malloc(sizeof(uint64_t) * (size_t)(tot + 1));
  if (!st && !all) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_unique: out of memory");
  if (!st && P > 1) st = eq_comm_allgatherv(c, u, all, cd, cd + c->size, EQ_I64);
  else if (!st) memcpy(all, u, sizeof(uint64_t) * (size_t)m);
  eq_dnd *r = NULL;
  if (!st) {
    int64_t k = 0;
    for (int64_t i = 0; i < tot; i++)
      if (k == 0 || all[k - 1] != all[i]) all[k++] = all[i];
    r = dnd_new(x->dtype, 1, &k, EQ_DND_NONE, NULL, c);
    for (int64_t i = 0; r && i < k; i++) put_key(r->local, i, all[i], false);
  }
  free(u);
  free(cd);
  free(all);
  eq_dnd_free(s);
  return r;
}

eq_status eq_dnd_topk(const eq_dnd *x, int64_t k, bool largest, eq_dnd **values, eq_dnd **indices) {
  if (!x || !values || !indices) return eq_error(EQ_ERR_VALUE, "eq_dnd_topk: NULL argument");
  *values = *indices = NULL;
  if (x->ndim != 1) return eq_error(EQ_ERR_SHAPE, "eq_dnd_topk: only 1-d arrays (got %d dims)", x->ndim);
  if (k < 0 || k > x->shape[0])
    return eq_error(EQ_ERR_VALUE, "eq_dnd_topk: k = %lld outside [0, %lld]", (long long)k, (long long)x->shape[0]);
  const eq_comm *c = x->comm;
  bool split = x->split == 0 && c->size > 1;
  int64_t n = eq_numel(x->local), off = x->split == 0 ? x->offsets[c->rank] : 0;
  int P = split ? c->size : 1;
  rec *r = malloc(sizeof(rec) * (size_t)(n + 1)), *cand = malloc(sizeof(rec) * (size_t)(P * k + 1));
  eq_status st = r && cand ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd_topk: out of memory");
  if (!st) {
    for (int64_t j = 0; j < n; j++) r[j] = (rec){key_of(x->local, j, largest), off + j};
    qsort(r, (size_t)n, sizeof(rec), cmp_rec);
    /* k local candidates (padded with sentinels that sort last), gathered. */
    rec *mine = malloc(sizeof(rec) * (size_t)(k + 1));
    if (!mine) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_topk: out of memory");
    for (int64_t j = 0; j < k && !st; j++) mine[j] = j < n ? r[j] : (rec){UINT64_MAX, INT64_MAX};
    if (!st && split) st = eq_comm_allgather(c, mine, cand, 2 * k, EQ_I64);
    else if (!st) memcpy(cand, mine, sizeof(rec) * (size_t)k);
    free(mine);
  }
  if (!st) {
    qsort(cand, (size_t)(P * k), sizeof(rec), cmp_rec);
    *values = dnd_new(x->dtype, 1, &k, EQ_DND_NONE, NULL, c);
    *indices = dnd_new(EQ_I64, 1, &k, EQ_DND_NONE, NULL, c);
    if (!*values || !*indices) st = eq_error_code();
    for (int64_t j = 0; j < k && !st; j++) {
      put_key((*values)->local, j, cand[j].k, largest);
      ((int64_t *)eq_data_ptr((*indices)->local))[j] = cand[j].i;
    }
  }
  free(r);
  free(cand);
  if (st) {
    eq_dnd_free(*values);
    eq_dnd_free(*indices);
    *values = *indices = NULL;
  }
  return st;
}

eq_dnd *eq_dnd_permutation(int64_t n, uint64_t seed, uint64_t stream, int split, const eq_comm *comm) {
  if (n < 0) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_permutation: n = %lld < 0", (long long)n);
  /* The argsort of counter-based random keys: the same permutation at any rank count. */
  eq_dnd *keys = eq_dnd_rand_uniform(EQ_F64, 1, &n, 0, 1, seed, stream, split == EQ_DND_NONE ? EQ_DND_NONE : 0, comm);
  if (!keys) return NULL;
  eq_dnd *idx = NULL;
  eq_dnd *s = eq_dnd_sort(keys, 0, false, &idx);
  eq_dnd_free(keys);
  eq_dnd_free(s);
  return idx;
}
