/* meshgrid, repeat, tile, diag: the creation / manipulation functions of
 * HeAT's surface that build a result from replicated metadata plus the local
 * block. Only tile along the split axis and diag of a split vector move data
 * (one request/response exchange, or one relayout); everything else is local. */
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

/* ---------------------------------------------------------------- meshgrid */

eq_status eq_dnd_meshgrid(const eq_dnd *const *xs, int n, const char *indexing, eq_dnd **out) {
  if (!out) return eq_error(EQ_ERR_VALUE, "eq_dnd_meshgrid: NULL output array");
  for (int i = 0; i < n; i++) out[i] = NULL;
  if (n < 1 || n > EQ_MAX_DIMS || !xs)
    return eq_error(EQ_ERR_VALUE, "eq_dnd_meshgrid: need 1 to %d input arrays, got %d", EQ_MAX_DIMS, n);
  if (!indexing || (strcmp(indexing, "xy") != 0 && strcmp(indexing, "ij") != 0))
    return eq_error(EQ_ERR_VALUE, "eq_dnd_meshgrid: indexing must be \"xy\" or \"ij\", got \"%s\"",
                    indexing ? indexing : "(null)");
  int split_in = -1;
  for (int i = 0; i < n; i++) {
    char b[128];
    if (!xs[i]) return eq_error(EQ_ERR_VALUE, "eq_dnd_meshgrid: input %d is NULL", i);
    if (xs[i]->ndim != 1)
      return eq_error(EQ_ERR_SHAPE, "eq_dnd_meshgrid: input %d must be 1-d, got %s", i,
                      eq_dnd_str(xs[i], b, sizeof b));
    if (xs[i]->comm != xs[0]->comm)
      return eq_error(EQ_ERR_VALUE, "eq_dnd_meshgrid: input %d has another communicator than input 0", i);
    if (xs[i]->split != EQ_DND_NONE) {
      if (split_in >= 0)
        return eq_error(EQ_ERR_VALUE, "eq_dnd_meshgrid: inputs %d and %d are both split; at most one may be",
                        split_in, i);
      split_in = i;
    }
  }
  /* "xy" (Cartesian) swaps the first two output axes. */
  bool xy = indexing[0] == 'x' && n >= 2;
  int pos[EQ_MAX_DIMS] = {0};
  int64_t shape[EQ_MAX_DIMS] = {0};
  for (int k = 0; k < n; k++) pos[k] = xy && k < 2 ? 1 - k : k;
  for (int k = 0; k < n; k++) shape[pos[k]] = xs[k]->shape[0];
  int split = split_in < 0 ? EQ_DND_NONE : pos[split_in];
  const int64_t *counts = split_in < 0 ? NULL : xs[split_in]->counts;
  for (int k = 0; k < n; k++) {
    /* Output k varies along pos[k] only: a stride-0 view of the 1-d block. */
    eq_tensor *v = eq_view_of(xs[k]->local);
    if (!v) break;
    int64_t st = v->stride[0];
    v->ndim = n;
    for (int i = 0; i < n; i++) {
      v->shape[i] = shape[i];
      v->stride[i] = 0;
    }
    if (split_in >= 0) v->shape[split] = counts[xs[0]->comm->rank];
    v->stride[pos[k]] = st;
    eq_tensor *t = dnd_materialize(v);
    if (!t || !(out[k] = dnd_wrap(t, n, shape, split, counts, xs[0]->comm))) break;
  }
  if (!out[n - 1]) {
    eq_status code = eq_error_code();
    for (int k = 0; k < n; k++) {
      eq_dnd_free(out[k]);
      out[k] = NULL;
    }
    return code ? code : EQ_ERR_MEMORY;
  }
  return EQ_OK;
}

/* ---------------------------------------------------------------- repeat */

eq_dnd *eq_dnd_repeat(const eq_dnd *x, const int64_t *repeats, int64_t nrepeats, int axis) {
  if (!x || !repeats) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_repeat: NULL argument");
  eq_dnd *flat = NULL;
  if (axis == EQ_DND_ALL_AXES) {
    /* NumPy's axis=None: repeat the C-order flattened array. */
    if (x->ndim != 1 && !(flat = eq_dnd_flatten(x))) return NULL;
    axis = 0;
  }
  const eq_dnd *y = flat ? flat : x;
  int a;
  if (y->ndim == 0) {
    eq_dnd_free(flat);
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_repeat: a 0-d array needs axis EQ_DND_ALL_AXES");
  }
  if (dnd_check_axis("eq_dnd_repeat", y, axis, &a)) {
    eq_dnd_free(flat);
    return NULL;
  }
  int64_t len = y->shape[a];
  if (nrepeats != 1 && nrepeats != len) {
    eq_dnd_free(flat);
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_repeat: %lld repeats for an axis of length %lld (need 1 or %lld)",
                    (long long)nrepeats, (long long)len, (long long)len);
  }
  int64_t total = 0;
  for (int64_t i = 0; i < nrepeats; i++) {
    if (repeats[i] < 0 || repeats[i] > ((int64_t)1 << 40)) {
      eq_dnd_free(flat);
      return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_repeat: repeats[%lld] = %lld is negative or too large",
                      (long long)i, (long long)repeats[i]);
    }
  }
  /* Result length along a and, on the split axis, each rank's share: the
   * repeats of its own rows (replicated metadata: no communication). */
  const eq_comm *c = y->comm;
  int P = c->size, me = c->rank;
  int64_t *counts = y->split == a ? calloc((size_t)P, sizeof(int64_t)) : NULL;
  if (y->split == a && !counts) {
    eq_dnd_free(flat);
    return DND_FAIL(EQ_ERR_MEMORY, "eq_dnd_repeat: out of memory");
  }
  for (int q = 0; q < (counts ? P : 1); q++) {
    int64_t lo = counts ? y->offsets[q] : 0, hi = counts ? y->offsets[q + 1] : len, s = 0;
    for (int64_t g = lo; g < hi; g++) s += nrepeats == 1 ? repeats[0] : repeats[g];
    if (counts) counts[q] = s;
    total += s;
  }
  int64_t shape[EQ_MAX_DIMS];
  memcpy(shape, y->shape, sizeof shape);
  shape[a] = total;
  eq_dnd *r = dnd_new(y->dtype, y->ndim, shape, y->split, y->split == a ? counts : y->counts, c);
  if (r) {
    const eq_tensor *L = y->local;
    int64_t outer = dnd_outer(L, a), rows = L->shape[a];
    size_t row = (size_t)dnd_inner(L, a) * eq_dtype_size(y->dtype);
    int64_t g0 = y->split == a ? y->offsets[me] : 0;
    const char *src = eq_data_ptr(L);
    char *dst = eq_data_ptr(r->local);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < rows; j++, src += row) {
        int64_t k = nrepeats == 1 ? repeats[0] : repeats[g0 + j];
        for (int64_t t = 0; t < k; t++, dst += row) memcpy(dst, src, row);
      }
  }
  free(counts);
  eq_dnd_free(flat);
  return r;
}

/* ---------------------------------------------------------------- tile */

/* Writes src (shape ls, C order) tiled reps[i] times along each dim into dst,
 * sequentially; returns the advanced dst. */
static char *tile_rec(int dim, int nd, const int64_t *ls, const int64_t *reps, const char *src, char *dst,
                      size_t es) {
  size_t block = es;
  for (int i = dim + 1; i < nd; i++) block *= (size_t)ls[i];
  if (dim == nd - 1) {
    for (int64_t t = 0; t < reps[dim]; t++, dst += block * (size_t)ls[dim])
      memcpy(dst, src, block * (size_t)ls[dim]);
    return dst;
  }
  for (int64_t t = 0; t < reps[dim]; t++)
    for (int64_t j = 0; j < ls[dim]; j++) dst = tile_rec(dim + 1, nd, ls, reps, src + (size_t)j * block, dst, es);
  return dst;
}

eq_dnd *eq_dnd_tile(const eq_dnd *x, const int64_t *reps_in, int nreps) {
  if (!x || (!reps_in && nreps > 0)) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_tile: NULL argument");
  if (nreps < 0 || nreps > EQ_MAX_DIMS)
    return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_tile: %d repetition counts (0 to %d allowed)", nreps, EQ_MAX_DIMS);
  for (int i = 0; i < nreps; i++)
    if (reps_in[i] < 0)
      return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_tile: reps[%d] = %lld is negative", i, (long long)reps_in[i]);
  /* NumPy: the shorter of x's shape and reps is padded with leading 1s. */
  int nd = x->ndim > nreps ? x->ndim : nreps, lead = nd - x->ndim;
  int64_t reps[EQ_MAX_DIMS], xs[EQ_MAX_DIMS], ls[EQ_MAX_DIMS], shape[EQ_MAX_DIMS], lres[EQ_MAX_DIMS];
  for (int i = 0; i < nd; i++) {
    reps[i] = i < nd - nreps ? 1 : reps_in[i - (nd - nreps)];
    xs[i] = i < lead ? 1 : x->shape[i - lead];
    ls[i] = i < lead ? 1 : x->local->shape[i - lead];
    shape[i] = xs[i] * reps[i];
  }
  int s = x->split == EQ_DND_NONE ? EQ_DND_NONE : x->split + lead;
  /* Step 1, local: every axis but the split one. */
  memcpy(lres, reps, sizeof reps);
  int64_t yshape[EQ_MAX_DIMS];
  memcpy(yshape, shape, sizeof shape);
  if (s != EQ_DND_NONE) {
    lres[s] = 1;
    yshape[s] = xs[s];
  }
  eq_dnd *y = dnd_new(x->dtype, nd, yshape, s, x->counts, x->comm);
  if (!y) return NULL;
  if (eq_numel(y->local) > 0) tile_rec(0, nd, ls, lres, eq_data_ptr(x->local), eq_data_ptr(y->local), eq_dtype_size(x->dtype));
  if (s == EQ_DND_NONE || reps[s] == 1) return y;
  /* Step 2, the split axis: result row g is y's row g mod n, fetched from its
   * owner by take (one request and one response exchange); balanced. */
  int64_t n = xs[s], m = shape[s];
  eq_dnd *idx = eq_dnd_arange(0, (double)m, 1, EQ_I64, 0, x->comm);
  eq_dnd *r = NULL;
  if (idx) {
    int64_t *p = eq_data_ptr(idx->local);
    for (int64_t i = 0; i < idx->local->shape[0]; i++) p[i] = n ? p[i] % n : 0;
    if (n == 0) {
      r = dnd_new(x->dtype, nd, shape, s, NULL, x->comm);
    } else {
      r = eq_dnd_take(y, s, idx);
    }
  }
  eq_dnd_free(idx);
  eq_dnd_free(y);
  return r;
}

/* ---------------------------------------------------------------- diag */

/* 1-d v -> (n + |k|) square matrix with v on diagonal k. */
static eq_dnd *diag_build(const eq_dnd *v, int64_t k) {
  int64_t n = v->shape[0], ak = k < 0 ? -k : k, N = n + ak;
  int64_t shape[2] = {N, N};
  eq_dnd *r = eq_dnd_zeros(v->dtype, 2, shape, v->split, v->comm);
  if (!r || N == 0) return r;
  /* Row i holds padded[i] with padded = [0]*max(-k,0) ++ v ++ [0]*max(k,0):
   * padding then rebalancing puts each rank's values next to its rows. */
  int64_t pad[2] = {k < 0 ? ak : 0, k > 0 ? ak : 0};
  eq_dnd *p = ak ? eq_dnd_pad(v, pad, 0) : (eq_dnd *)v, *pb = NULL;
  bool ok = p != NULL;
  if (ok && p->split != EQ_DND_NONE && !dnd_same_layout(p, r)) ok = (pb = dnd_relayout(p, 0, r->counts)) != NULL;
  if (!ok) {
    if (p != v) eq_dnd_free(p);
    eq_dnd_free(r);
    return NULL;
  }
  const eq_dnd *src = pb ? pb : p;
  int64_t r0 = r->split == EQ_DND_NONE ? 0 : r->offsets[r->comm->rank], rows = r->local->shape[0];
  size_t es = eq_dtype_size(v->dtype);
  const char *s = eq_data_ptr(src->local);
  char *d = eq_data_ptr(r->local);
  for (int64_t i = 0; i < rows; i++) {
    int64_t gi = r0 + i, gj = gi + k;
    if (gj >= 0 && gj < N && gi - pad[0] >= 0 && gi - pad[0] < n) memcpy(d + (size_t)(i * N + gj) * es, s + (size_t)i * es, es);
  }
  eq_dnd_free(pb);
  if (p != v) eq_dnd_free(p);
  return r;
}

/* 2-d x -> its diagonal k, 1-d; split 0 (unbalanced: each rank keeps the
 * part crossing its block) when x is split, no communication. */
static eq_dnd *diag_extract(const eq_dnd *x, int64_t k) {
  int64_t R = x->shape[0], C = x->shape[1];
  /* Diagonal element d sits at (d + i0, d + j0). */
  int64_t i0 = k < 0 ? -k : 0, j0 = k > 0 ? k : 0;
  int64_t len = R - i0 < C - j0 ? R - i0 : C - j0;
  if (len < 0) len = 0;
  const eq_comm *c = x->comm;
  int P = c->size, me = c->rank;
  int64_t *counts = x->split == EQ_DND_NONE ? NULL : calloc((size_t)P, sizeof(int64_t));
  if (x->split != EQ_DND_NONE && !counts) return DND_FAIL(EQ_ERR_MEMORY, "eq_dnd_diag: out of memory");
  int64_t dlo = 0, dhi = len; /* this rank's diagonal range */
  for (int q = 0; counts && q < P; q++) {
    int64_t base = x->split == 0 ? i0 : j0;
    int64_t lo = x->offsets[q] - base, hi = x->offsets[q + 1] - base;
    if (lo < 0) lo = 0;
    if (hi > len) hi = len;
    counts[q] = hi > lo ? hi - lo : 0;
    if (q == me) {
      dlo = lo;
      dhi = hi > lo ? hi : lo;
    }
  }
  int64_t shape[1] = {len};
  eq_dnd *r = dnd_new(x->dtype, 1, shape, x->split == EQ_DND_NONE ? EQ_DND_NONE : 0, counts, c);
  free(counts);
  if (!r) return NULL;
  const eq_tensor *L = x->local;
  int64_t ro = x->split == 0 ? x->offsets[me] : 0, co = x->split == 1 ? x->offsets[me] : 0;
  size_t es = eq_dtype_size(x->dtype);
  const char *s = eq_data_ptr(L);
  char *d = eq_data_ptr(r->local);
  for (int64_t e = dlo; e < dhi; e++) {
    int64_t li = e + i0 - ro, lj = e + j0 - co;
    memcpy(d + (size_t)(e - dlo) * es, s + (size_t)(li * L->shape[1] + lj) * es, es);
  }
  return r;
}

eq_dnd *eq_dnd_diag(const eq_dnd *x, int64_t k) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_diag: NULL array");
  char b[128];
  if (x->ndim == 1) {
    if (k > ((int64_t)1 << 40) || k < -((int64_t)1 << 40))
      return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_diag: offset %lld too large", (long long)k);
    return diag_build(x, k);
  }
  if (x->ndim == 2) return diag_extract(x, k);
  return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_diag: needs a 1-d or 2-d array, got %s", eq_dnd_str(x, b, sizeof b));
}
