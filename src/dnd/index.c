/* Indexing: basic slices (no communication), integer selection (owner
 * broadcast), boolean masks (redistributed to the array's layout, never
 * gathered), integer-array take/put (requests to owners in one all-to-all)
 * and slice / mask assignment. */
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

/* Python slice normalisation; returns the length. */
static int64_t norm_slice(int64_t n, int64_t *start, int64_t *stop, int64_t step) {
  int64_t s = *start, e = *stop;
  if (s < 0) s += n;
  if (e < 0) e += n;
  if (s < 0) s = 0;
  if (s > n) s = n;
  if (e > n) e = n;
  if (e < s) e = s;
  *start = s;
  *stop = e;
  return (e - s + step - 1) / step;
}

/* Indices i in [0, len) with start + i*step inside [lo, hi). */
static void slice_part(int64_t start, int64_t step, int64_t len, int64_t lo, int64_t hi, int64_t *ilo, int64_t *ihi) {
  int64_t a = lo - start <= 0 ? 0 : (lo - start + step - 1) / step;
  int64_t b = hi - start <= 0 ? 0 : (hi - start + step - 1) / step;
  if (a > len) a = len;
  if (b > len) b = len;
  if (b < a) b = a;
  *ilo = a;
  *ihi = b;
}

/* Per-rank counts of the slice along the split axis and this rank's local
 * slice view. counts may be NULL. */
static eq_tensor *slice_view(const eq_dnd *x, int a, int64_t start, int64_t step, int64_t len, int64_t *counts) {
  eq_tensor *v = eq_view_of(x->local);
  if (!v) return NULL;
  int64_t lstart = start, llen = len;
  if (a == x->split) {
    int me = x->comm->rank;
    for (int q = 0; q < x->comm->size; q++) {
      int64_t ilo, ihi;
      slice_part(start, step, len, x->offsets[q], x->offsets[q + 1], &ilo, &ihi);
      if (counts) counts[q] = ihi - ilo;
      if (q == me) {
        lstart = start + ilo * step - x->offsets[me];
        llen = ihi - ilo;
      }
    }
  }
  v->offset += (llen ? lstart : 0) * v->stride[a];
  v->shape[a] = llen;
  v->stride[a] *= step;
  return v;
}

eq_dnd *eq_dnd_slice(const eq_dnd *x, int axis, int64_t start, int64_t stop, int64_t step) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_slice: NULL array");
  int a;
  if (dnd_check_axis("eq_dnd_slice", x, axis, &a)) return NULL;
  if (step < 1) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_slice: step %lld must be >= 1", (long long)step);
  int64_t len = norm_slice(x->shape[a], &start, &stop, step);
  int64_t shape[EQ_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[a] = len;
  int P = x->comm->size;
  int64_t stack_counts[16], *counts = P <= 16 ? stack_counts : malloc(sizeof(int64_t) * (size_t)P);
  if (!counts) return DND_FAIL(EQ_ERR_MEMORY, "eq_dnd_slice: out of memory");
  eq_tensor *v = slice_view(x, a, start, step, len, counts);
  eq_dnd *r = NULL;
  if (v) {
    eq_tensor *t = dnd_materialize(v);
    r = t ? dnd_wrap(t, x->ndim, shape, x->split, a == x->split ? counts : x->counts, x->comm) : NULL;
  }
  if (counts != stack_counts) free(counts);
  return r;
}

eq_dnd *eq_dnd_select(const eq_dnd *x, int axis, int64_t index) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_select: NULL array");
  int a;
  if (dnd_check_axis("eq_dnd_select", x, axis, &a)) return NULL;
  int64_t n = x->shape[a];
  if (index < -n || index >= n) {
    char b[128];
    return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_select: index %lld out of range for axis %d of %s", (long long)index, a,
                    eq_dnd_str(x, b, sizeof b));
  }
  if (index < 0) index += n;
  int64_t shape[EQ_MAX_DIMS], ls[EQ_MAX_DIMS];
  for (int i = 0, j = 0; i < x->ndim; i++)
    if (i != a) {
      shape[j] = x->shape[i];
      ls[j++] = x->local->shape[i];
    }
  int split = x->split == EQ_DND_NONE || x->split == a ? EQ_DND_NONE : (x->split > a ? x->split - 1 : x->split);
  eq_dnd *r = dnd_alloc(x->dtype, x->ndim - 1, shape, split, split == EQ_DND_NONE ? NULL : x->counts, x->comm);
  if (!r) return NULL;
  eq_arena *prev = eq_arena_set_current(NULL);
  r->local = eq_empty(x->dtype, x->ndim - 1, ls);
  eq_arena_set_current(prev);
  if (!r->local) {
    free(r);
    return NULL;
  }
  int owner = -1;
  int64_t li = index;
  if (a == x->split) {
    /* The owner of the row, found in the replicated layout; it broadcasts. */
    int lo = 0, hi = x->comm->size - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) / 2;
      if (x->offsets[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    owner = lo;
    li = index - x->offsets[owner];
  }
  eq_status st = EQ_OK;
  if (owner < 0 || owner == x->comm->rank) {
    /* Copy the selected sub-block (x->local is contiguous). */
    int64_t outer = dnd_outer(x->local, a), inner = dnd_inner(x->local, a), cnt = x->local->shape[a];
    size_t es = eq_dtype_size(x->dtype);
    const char *src = (const char *)eq_data_ptr(x->local) + (size_t)(li * inner) * es;
    char *dst = eq_data_ptr(r->local);
    if (outer == 1)
      memcpy(dst, src, (size_t)inner * es);
    else
      for (int64_t o = 0; o < outer; o++) memcpy(dst + o * inner * es, src + o * cnt * inner * es, (size_t)inner * es);
  }
  if (owner >= 0) st = eq_comm_bcast(x->comm, eq_data_ptr(r->local), eq_numel(r->local), x->dtype, owner);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}

eq_dnd *eq_dnd_getitem(const eq_dnd *x, int64_t index) { return eq_dnd_select(x, 0, index); }

/* ---------------------------------------------------------------- masks */

/* Counts of every rank from this rank's count (one allgather). */
static eq_status gather_counts(const eq_comm *c, int64_t mine, int64_t *counts) {
  return eq_comm_allgather(c, &mine, counts, 1, EQ_I64);
}

/* `m` brought onto x's layout along x's split (m replicated: sliced locally). */
static eq_dnd *mask_on_layout(const eq_dnd *x, const eq_dnd *m, int mask_axis) {
  if (x->split == EQ_DND_NONE) return m->split == EQ_DND_NONE ? eq_dnd_copy(m) : dnd_relayout(m, EQ_DND_NONE, NULL);
  if (m->split == mask_axis && dnd_same_layout(&(eq_dnd){.split = mask_axis, .counts = m->counts, .comm = m->comm},
                                                &(eq_dnd){.split = mask_axis, .counts = x->counts, .comm = x->comm}))
    return eq_dnd_copy(m);
  return dnd_relayout(m, mask_axis, x->counts);
}

eq_dnd *eq_dnd_mask_select(const eq_dnd *x, const eq_dnd *mask) {
  if (!x || !mask) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_mask_select: NULL argument");
  char b0[128], b1[128];
  bool full = mask->ndim == x->ndim && memcmp(mask->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim) == 0;
  bool rows = !full && mask->ndim == 1 && x->ndim >= 1 && mask->shape[0] == x->shape[0];
  if (!full && !rows)
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_mask_select: mask %s matches neither the shape nor the rows of %s",
                    eq_dnd_str(mask, b0, sizeof b0), eq_dnd_str(x, b1, sizeof b1));
  const eq_comm *c = x->comm;
  eq_dnd *xs = NULL, *ms = NULL, *r = NULL;
  const eq_dnd *X = x;
  if (full && x->split != EQ_DND_NONE && x->split != 0) {
    /* C order of the selection = rank order only along axis 0. */
    if (!(xs = dnd_relayout(x, 0, NULL))) return NULL;
    X = xs;
  }
  if (full && X->split == EQ_DND_NONE && mask->split != EQ_DND_NONE) {
    /* Replicated x, split mask: cut x to the mask's rows (local). */
    ms = mask->split == 0 ? eq_dnd_copy(mask) : dnd_relayout(mask, 0, NULL);
    if (!ms) goto done;
    xs = dnd_relayout(x, 0, ms->counts);
    if (!xs) goto done;
    X = xs;
  } else if (rows && X->split != 0 && X->split != EQ_DND_NONE) {
    ms = mask->split == EQ_DND_NONE ? eq_dnd_copy(mask) : dnd_relayout(mask, EQ_DND_NONE, NULL);
  } else {
    ms = mask_on_layout(X, mask, 0);
  }
  if (!ms) goto done;
  const eq_tensor *L = X->local, *M = ms->local;
  size_t es = eq_dtype_size(x->dtype);
  int64_t rowsz = full ? 1 : dnd_inner(L, 0), nsel = 0;
  int64_t nm = eq_numel(M);
  for (int64_t i = 0; i < nm; i++) nsel += eq_get_flat(M, i) != 0;
  int64_t shape[EQ_MAX_DIMS], ls[EQ_MAX_DIMS];
  int nd = full ? 1 : x->ndim;
  memcpy(shape, x->shape, sizeof shape);
  memcpy(ls, L->shape, sizeof ls);
  ls[0] = nsel;
  int split = X->split;
  int64_t *counts = NULL;
  if (split == 0) {
    counts = malloc(sizeof(int64_t) * (size_t)c->size);
    if (!counts || gather_counts(c, nsel, counts)) {
      free(counts);
      if (!counts) eq_error(EQ_ERR_MEMORY, "eq_dnd_mask_select: out of memory");
      goto done;
    }
    shape[0] = 0;
    for (int q = 0; q < c->size; q++) shape[0] += counts[q];
  } else if (split == EQ_DND_NONE) {
    shape[0] = nsel;
  } else {
    shape[0] = nsel; /* rows mask on a column split: every rank selects the same rows */
  }
  eq_tensor *t = eq_empty(x->dtype, nd, ls);
  if (t) {
    const char *src = eq_data_ptr(L);
    char *dst = eq_data_ptr(t);
    int64_t k = 0;
    for (int64_t i = 0; i < nm; i++)
      if (eq_get_flat(M, i) != 0) memcpy(dst + (k++) * rowsz * es, src + i * rowsz * es, (size_t)rowsz * es);
    r = dnd_wrap(t, nd, shape, split, split == 0 ? counts : X->counts, c);
  }
  free(counts);
done:
  eq_dnd_free(xs);
  eq_dnd_free(ms);
  return r;
}

eq_status eq_dnd_mask_fill(eq_dnd *x, const eq_dnd *mask, double value) {
  if (!x || !mask) return eq_error(EQ_ERR_VALUE, "eq_dnd_mask_fill: NULL argument");
  char b0[128], b1[128];
  if (mask->ndim != x->ndim || memcmp(mask->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim))
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_mask_fill: mask %s does not have the shape of %s",
                    eq_dnd_str(mask, b0, sizeof b0), eq_dnd_str(x, b1, sizeof b1));
  eq_dnd *m = mask_on_layout(x, mask, x->split);
  if (!m) return eq_error_code();
  int64_t n = eq_numel(x->local);
  for (int64_t i = 0; i < n; i++)
    if (eq_get_flat(m->local, i) != 0) eq_set_flat(x->local, i, value);
  eq_dnd_free(m);
  return EQ_OK;
}

/* ---------------------------------------------------------------- take / put */

/* Sub-block j along axis a of a contiguous tensor, packed into dst. */
static void pack_entry(const eq_tensor *t, int a, int64_t j, char *dst) {
  int64_t outer = dnd_outer(t, a), inner = dnd_inner(t, a), cnt = t->shape[a];
  size_t es = eq_dtype_size(t->dtype);
  const char *src = (const char *)eq_data_ptr(t) + (size_t)(j * inner) * es;
  for (int64_t o = 0; o < outer; o++) memcpy(dst + o * inner * es, src + o * cnt * inner * es, (size_t)inner * es);
}

static void unpack_entry(eq_tensor *t, int a, int64_t j, const char *src) {
  int64_t outer = dnd_outer(t, a), inner = dnd_inner(t, a), cnt = t->shape[a];
  size_t es = eq_dtype_size(t->dtype);
  char *dst = (char *)eq_data_ptr(t) + (size_t)(j * inner) * es;
  for (int64_t o = 0; o < outer; o++) memcpy(dst + o * cnt * inner * es, src + o * inner * es, (size_t)inner * es);
}

/* One all-to-all of whole entries (rows of `entry` elements): the counts
 * and displacements, given in entries, scaled to elements. */
static eq_status alltoallv_entries(const eq_comm *c, const void *send, const int64_t *sc, const int64_t *sd,
                                   void *recv, const int64_t *rc, const int64_t *rd, int64_t entry, eq_dtype d,
                                   const char *op) {
  int P = c->size;
  int64_t *w = malloc(sizeof(int64_t) * 4 * (size_t)P);
  if (!w) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  for (int q = 0; q < P; q++) {
    w[q] = sc[q] * entry;
    w[P + q] = sd[q] * entry;
    w[2 * P + q] = rc[q] * entry;
    w[3 * P + q] = rd[q] * entry;
  }
  eq_status st = eq_comm_alltoallv(c, send, w, w + P, recv, w + 2 * P, w + 3 * P, d);
  free(w);
  return st;
}

static int owner_of(const eq_dnd *x, int64_t g) {
  int lo = 0, hi = x->comm->size - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (x->offsets[mid] <= g) lo = mid;
    else hi = mid - 1;
  }
  /* Skip empty blocks that share the offset. */
  while (lo < x->comm->size - 1 && x->counts[lo] == 0) lo++;
  return lo;
}

/* Local int64 indices (normalised, checked on every rank collectively). */
static eq_status norm_indices(const eq_dnd *x, int a, const eq_tensor *idx, int64_t **out) {
  int64_t n = eq_numel(idx), N = x->shape[a];
  int64_t *v = malloc(sizeof(int64_t) * (size_t)(n + 1));
  if (!v) return eq_error(EQ_ERR_MEMORY, "eq_dnd_take: out of memory");
  int64_t bad = 0, badv = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t g = (int64_t)eq_get_flat(idx, i);
    if (g < 0) g += N;
    if (g < 0 || g >= N) {
      bad = 1;
      badv = (int64_t)eq_get_flat(idx, i);
    }
    v[i] = g;
  }
  int64_t flags[2] = {bad, bad ? badv : INT64_MIN};
  eq_status st = eq_comm_allreduce(x->comm, flags, 2, EQ_I64, EQ_REDUCE_MAX);
  if (!st && flags[0]) {
    char b[128];
    st = eq_error(EQ_ERR_VALUE, "eq_dnd_take/put: index %lld out of range for axis %d of %s", (long long)flags[1], a,
                  eq_dnd_str(x, b, sizeof b));
  }
  if (st) {
    free(v);
    return st;
  }
  *out = v;
  return EQ_OK;
}

eq_dnd *eq_dnd_take(const eq_dnd *x, int axis, const eq_dnd *indices) {
  if (!x || !indices) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_take: NULL argument");
  int a;
  if (dnd_check_axis("eq_dnd_take", x, axis, &a)) return NULL;
  if (indices->ndim != 1 || eq_dtype_is_float(indices->dtype))
    return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_take: indices must be a 1-d integer array");
  const eq_comm *c = x->comm;
  int P = c->size;
  eq_dnd *idx_owned = NULL;
  const eq_dnd *I = indices;
  /* Which indices this rank resolves, and the result layout. */
  int rsplit;
  const int64_t *rcounts = NULL;
  eq_tensor *myidx = NULL;
  if (x->split == a) {
    rsplit = a;
    if (I->split == EQ_DND_NONE) {
      idx_owned = dnd_relayout(I, 0, NULL); /* local cut of a replicated array */
      if (!idx_owned) return NULL;
      I = idx_owned;
    }
    rcounts = I->counts;
    myidx = I->local;
  } else if (x->split == EQ_DND_NONE) {
    rsplit = I->split == 0 ? a : EQ_DND_NONE;
    rcounts = I->split == 0 ? I->counts : NULL;
    myidx = I->local;
  } else {
    /* x split on another axis needs every index: the (1-d) key is gathered. */
    rsplit = x->split;
    rcounts = x->counts;
    if (I->split != EQ_DND_NONE) {
      if (!(idx_owned = dnd_relayout(I, EQ_DND_NONE, NULL))) return NULL;
      I = idx_owned;
    }
    myidx = I->local;
  }
  int64_t *g = NULL;
  if (norm_indices(x, a, myidx, &g)) {
    eq_dnd_free(idx_owned);
    return NULL;
  }
  int64_t n = eq_numel(myidx);
  int64_t shape[EQ_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[a] = I->shape[0];
  eq_dnd *r = dnd_new(x->dtype, x->ndim, shape, rsplit, rcounts, c);
  eq_status st = r ? EQ_OK : eq_error_code();
  int64_t entry = dnd_outer(x->local, a) * dnd_inner(x->local, a);
  size_t es = eq_dtype_size(x->dtype);
  if (!st && x->split != a) {
    char *tmp = malloc((size_t)entry * es + 1);
    if (!tmp) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_take: out of memory");
    for (int64_t i = 0; i < n && !st; i++) {
      pack_entry(x->local, a, g[i], tmp);
      unpack_entry(r->local, a, i, tmp);
    }
    free(tmp);
  } else if (!st) {
    /* Requests grouped by owner (counting sort), one all-to-all each way. */
    int64_t *v = calloc((size_t)6 * P, sizeof(int64_t));
    int64_t *order = malloc(sizeof(int64_t) * (size_t)(n + 1)), *req = malloc(sizeof(int64_t) * (size_t)(n + 1));
    int *own = malloc(sizeof(int) * (size_t)(n + 1));
    if (!v || !order || !req || !own) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_take: out of memory");
    int64_t *sc = v, *sd = v + P, *rc = v + 2 * P, *rd = v + 3 * P, *fill = v + 4 * P;
    for (int64_t i = 0; i < n && !st; i++) {
      own[i] = owner_of(x, g[i]);
      sc[own[i]]++;
    }
    for (int q = 1; q < P; q++) sd[q] = sd[q - 1] + sc[q - 1];
    for (int64_t i = 0; i < n && !st; i++) {
      int64_t pos = sd[own[i]] + fill[own[i]]++;
      order[pos] = i;
      req[pos] = g[i] - x->offsets[own[i]];
    }
    /* counts exchange: every rank tells each owner how many it asks for. */
    if (!st) {
      int64_t *ones = malloc(sizeof(int64_t) * 4 * (size_t)P);
      if (!ones) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_take: out of memory");
      for (int q = 0; q < P && !st; q++) {
        ones[q] = 1;
        ones[P + q] = q;
        ones[2 * P + q] = 1;
        ones[3 * P + q] = q;
      }
      if (!st) st = eq_comm_alltoallv(c, sc, ones, ones + P, rc, ones + 2 * P, ones + 3 * P, EQ_I64);
      free(ones);
    }
    int64_t nin = 0;
    for (int q = 0; q < P; q++) {
      rd[q] = nin;
      nin += rc[q];
    }
    int64_t *inreq = malloc(sizeof(int64_t) * (size_t)(nin + 1));
    char *rows_out = malloc((size_t)(nin * entry) * es + 1), *rows_in = malloc((size_t)(n * entry) * es + 1);
    if (!st && (!inreq || !rows_out || !rows_in)) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_take: out of memory");
    if (!st) st = eq_comm_alltoallv(c, req, sc, sd, inreq, rc, rd, EQ_I64);
    for (int64_t i = 0; i < nin && !st; i++) pack_entry(x->local, a, inreq[i], rows_out + i * entry * es);
    /* Replies: directions swapped. */
    if (!st) st = alltoallv_entries(c, rows_out, rc, rd, rows_in, sc, sd, entry, x->dtype, "eq_dnd_take");
    for (int64_t pos = 0; pos < n && !st; pos++) unpack_entry(r->local, a, order[pos], rows_in + pos * entry * es);
    free(inreq);
    free(rows_out);
    free(rows_in);
    free(v);
    free(order);
    free(req);
    free(own);
  }
  free(g);
  eq_dnd_free(idx_owned);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}

eq_status eq_dnd_put(eq_dnd *x, const eq_dnd *indices, const eq_dnd *values) {
  if (!x || !indices || !values) return eq_error(EQ_ERR_VALUE, "eq_dnd_put: NULL argument");
  if (indices->ndim != 1 || eq_dtype_is_float(indices->dtype))
    return eq_error(EQ_ERR_VALUE, "eq_dnd_put: indices must be a 1-d integer array");
  char b0[128], b1[128];
  bool ok = values->ndim == x->ndim && values->shape[0] == indices->shape[0];
  for (int i = 1; ok && i < x->ndim; i++) ok = values->shape[i] == x->shape[i];
  if (!ok)
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_put: values %s do not hold one row of %s per index",
                    eq_dnd_str(values, b0, sizeof b0), eq_dnd_str(x, b1, sizeof b1));
  const eq_comm *c = x->comm;
  int P = c->size;
  eq_dnd *I = NULL, *V = NULL;
  eq_status st = EQ_OK;
  if (x->split != 0) {
    /* Every rank applies every assignment to its columns. */
    I = dnd_relayout(indices, EQ_DND_NONE, NULL);
    V = I ? dnd_relayout(values, x->split, x->split == EQ_DND_NONE ? NULL : x->counts) : NULL;
    if (!I || !V) {
      st = eq_error_code();
      goto done;
    }
    int64_t *g = NULL;
    if ((st = norm_indices(x, 0, I->local, &g))) goto done;
    int64_t n = eq_numel(I->local), entry = dnd_inner(x->local, 0);
    size_t es = eq_dtype_size(x->dtype);
    eq_tensor *vv = V->dtype == x->dtype ? NULL : eq_to_dtype(V->local, x->dtype);
    const char *src = eq_data_ptr(vv ? vv : V->local);
    for (int64_t i = 0; i < n; i++)
      memcpy((char *)eq_data_ptr(x->local) + g[i] * entry * es, src + i * entry * es, (size_t)entry * es);
    eq_tensor_free(vv);
    free(g);
    goto done;
  }
  /* x split 0: (index, row) pairs travel to the owners. */
  I = indices->split == 0 ? eq_dnd_copy(indices) : dnd_relayout(indices, 0, NULL);
  V = I ? dnd_relayout(values, 0, I->counts) : NULL;
  if (!I || !V) {
    st = eq_error_code();
    goto done;
  }
  {
    int64_t *g = NULL;
    if ((st = norm_indices(x, 0, I->local, &g))) goto done;
    int64_t n = eq_numel(I->local), entry = dnd_inner(x->local, 0);
    size_t es = eq_dtype_size(x->dtype);
    eq_tensor *vv = V->dtype == x->dtype ? NULL : eq_to_dtype(V->local, x->dtype);
    const char *src = eq_data_ptr(vv ? vv : V->local);
    int64_t *v = calloc((size_t)9 * P, sizeof(int64_t));
    int64_t *req = malloc(sizeof(int64_t) * (size_t)(n + 1));
    char *rows = malloc((size_t)(n * entry) * es + 1);
    int *own = malloc(sizeof(int) * (size_t)(n + 1));
    if (!v || !req || !rows || !own) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_put: out of memory");
    int64_t *sc = v, *sd = v + P, *rc = v + 2 * P, *rd = v + 3 * P, *fill = v + 4 * P, *one = v + 5 * P,
            *dq = v + 6 * P;
    /* one / dq: one count per peer at displacement q (the counts exchange). */
    for (int64_t i = 0; i < n && !st; i++) {
      own[i] = owner_of(x, g[i]);
      sc[own[i]]++;
    }
    for (int q = 0; q < P; q++) {
      one[q] = 1;
      dq[q] = q;
      if (q) sd[q] = sd[q - 1] + sc[q - 1];
    }
    for (int64_t i = 0; i < n && !st; i++) {
      int64_t pos = sd[own[i]] + fill[own[i]]++;
      req[pos] = g[i] - x->offsets[own[i]];
      memcpy(rows + pos * entry * es, src + i * entry * es, (size_t)entry * es);
    }
    if (!st) st = eq_comm_alltoallv(c, sc, one, dq, rc, one, dq, EQ_I64);
    int64_t nin = 0;
    for (int q = 0; q < P; q++) {
      rd[q] = nin;
      nin += rc[q];
    }
    int64_t *inreq = malloc(sizeof(int64_t) * (size_t)(nin + 1));
    char *inrows = malloc((size_t)(nin * entry) * es + 1);
    if (!st && (!inreq || !inrows)) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_put: out of memory");
    if (!st) st = eq_comm_alltoallv(c, req, sc, sd, inreq, rc, rd, EQ_I64);
    if (!st) st = alltoallv_entries(c, rows, sc, sd, inrows, rc, rd, entry, x->dtype, "eq_dnd_put");
    /* In rank order then request order: the last assignment to an index wins, as in NumPy. */
    for (int64_t i = 0; i < nin && !st; i++)
      memcpy((char *)eq_data_ptr(x->local) + inreq[i] * entry * es, inrows + i * entry * es, (size_t)entry * es);
    free(inreq);
    free(inrows);
    free(v);
    free(req);
    free(rows);
    free(own);
    free(g);
    eq_tensor_free(vv);
  }
done:
  eq_dnd_free(I);
  eq_dnd_free(V);
  return st;
}

/* ---------------------------------------------------------------- slice assignment */

eq_status eq_dnd_set_slice(eq_dnd *x, int axis, int64_t start, int64_t stop, int64_t step, const eq_dnd *value) {
  if (!x || !value) return eq_error(EQ_ERR_VALUE, "eq_dnd_set_slice: NULL argument");
  int a;
  if (dnd_check_axis("eq_dnd_set_slice", x, axis, &a)) return eq_error_code();
  if (step < 1) return eq_error(EQ_ERR_VALUE, "eq_dnd_set_slice: step %lld must be >= 1", (long long)step);
  int64_t len = norm_slice(x->shape[a], &start, &stop, step);
  int P = x->comm->size, me = x->comm->rank;
  int64_t *counts = malloc(sizeof(int64_t) * (size_t)P);
  if (!counts) return eq_error(EQ_ERR_MEMORY, "eq_dnd_set_slice: out of memory");
  eq_tensor *dst = slice_view(x, a, start, step, len, counts);
  if (!dst) {
    free(counts);
    return eq_error_code();
  }
  /* The slice's global shape; value must broadcast to it. */
  int64_t sshape[EQ_MAX_DIMS];
  memcpy(sshape, x->shape, sizeof sshape);
  sshape[a] = len;
  const int64_t *lay = a == x->split ? counts : x->counts;
  char b0[128];
  eq_status st = EQ_OK;
  if (value->ndim > x->ndim) st = eq_error(EQ_ERR_SHAPE, "eq_dnd_set_slice: value %s has too many dims", eq_dnd_str(value, b0, sizeof b0));
  for (int i = 0; i < value->ndim && !st; i++) {
    int64_t d = value->shape[i], want = sshape[i + x->ndim - value->ndim];
    if (d != want && d != 1)
      st = eq_error(EQ_ERR_SHAPE, "eq_dnd_set_slice: value %s does not broadcast to the slice (dim %d: %lld)",
                    eq_dnd_str(value, b0, sizeof b0), i, (long long)want);
  }
  eq_dnd *moved = NULL;
  eq_tensor *src = NULL;
  if (!st) {
    int j = x->split == EQ_DND_NONE ? -1 : x->split - (x->ndim - value->ndim);
    bool along = j >= 0 && value->shape[j] != 1;
    if (!along) {
      /* value is broadcast along x's split (or x replicated): every rank needs all of it. */
      if (value->split != EQ_DND_NONE && !(moved = dnd_relayout(value, EQ_DND_NONE, NULL))) st = eq_error_code();
      src = moved ? eq_view_of(moved->local) : eq_view_of(value->local);
    } else if (value->split == EQ_DND_NONE) {
      int64_t off = 0;
      for (int q = 0; q < me; q++) off += lay[q];
      src = dnd_local_rows_view(value, j, off, off + lay[me]);
    } else {
      if (!(moved = dnd_relayout(value, j, lay))) st = eq_error_code();
      else src = eq_view_of(moved->local);
    }
    if (!st && !src) st = eq_error_code();
  }
  if (!st) st = eq_copy_(dst, src);
  eq_tensor_free(src);
  eq_tensor_free(dst);
  eq_dnd_free(moved);
  free(counts);
  return st;
}

eq_status eq_dnd_set_slice_scalar(eq_dnd *x, int axis, int64_t start, int64_t stop, int64_t step, double value) {
  if (!x) return eq_error(EQ_ERR_VALUE, "eq_dnd_set_slice_scalar: NULL array");
  int a;
  if (dnd_check_axis("eq_dnd_set_slice_scalar", x, axis, &a)) return eq_error_code();
  if (step < 1) return eq_error(EQ_ERR_VALUE, "eq_dnd_set_slice_scalar: step %lld must be >= 1", (long long)step);
  int64_t len = norm_slice(x->shape[a], &start, &stop, step);
  eq_tensor *dst = slice_view(x, a, start, step, len, NULL);
  if (!dst) return eq_error_code();
  eq_status st = eq_fill_(dst, value);
  eq_tensor_free(dst);
  return st;
}
