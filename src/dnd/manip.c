/* Shape manipulation: transpose, reshape, expand/squeeze, concatenate,
 * stack, flip, roll, pad, tril/triu. Local where the split axis is not
 * touched; otherwise one relayout. */
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

/* A dnd with the given layout whose local block is a copy of `view` (freed). */
static eq_dnd *from_view(eq_tensor *view, int ndim, const int64_t *shape, int split, const int64_t *counts,
                         const eq_comm *comm) {
  eq_tensor *t = dnd_materialize(view);
  if (!t) return NULL;
  return dnd_wrap(t, ndim, shape, split, counts, comm);
}

eq_dnd *eq_dnd_transpose(const eq_dnd *x, const int *perm) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_transpose: NULL array");
  int p[EQ_MAX_DIMS];
  bool seen[EQ_MAX_DIMS] = {false};
  for (int i = 0; i < x->ndim; i++) {
    p[i] = perm ? perm[i] : x->ndim - 1 - i;
    if (p[i] < 0) p[i] += x->ndim;
    if (p[i] < 0 || p[i] >= x->ndim || seen[p[i]])
      return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_transpose: invalid permutation entry %d at %d", perm ? perm[i] : -1, i);
    seen[p[i]] = true;
  }
  int64_t shape[EQ_MAX_DIMS];
  int split = EQ_DND_NONE;
  for (int i = 0; i < x->ndim; i++) {
    shape[i] = x->shape[p[i]];
    if (p[i] == x->split) split = i;
  }
  eq_tensor *v = eq_view_of(x->local);
  if (!v) return NULL;
  for (int i = 0; i < x->ndim; i++) {
    v->shape[i] = x->local->shape[p[i]];
    v->stride[i] = x->local->stride[p[i]];
  }
  return from_view(v, x->ndim, shape, split, x->counts, x->comm);
}

eq_dnd *eq_dnd_expand_dims(const eq_dnd *x, int axis) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_expand_dims: NULL array");
  int a = axis < 0 ? axis + x->ndim + 1 : axis;
  if (a < 0 || a > x->ndim || x->ndim >= EQ_MAX_DIMS)
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_expand_dims: axis %d out of range for a %d-d array", axis, x->ndim);
  int64_t shape[EQ_MAX_DIMS], ls[EQ_MAX_DIMS];
  for (int i = 0, j = 0; i <= x->ndim; i++) {
    shape[i] = i == a ? 1 : x->shape[j];
    ls[i] = i == a ? 1 : x->local->shape[j];
    if (i != a) j++;
  }
  int split = x->split == EQ_DND_NONE ? EQ_DND_NONE : (x->split >= a ? x->split + 1 : x->split);
  eq_tensor *v = eq_view_of(x->local);
  if (!v) return NULL;
  v->ndim = x->ndim + 1;
  memcpy(v->shape, ls, sizeof ls);
  eq_set_contiguous_strides(v);
  return from_view(v, x->ndim + 1, shape, split, x->counts, x->comm);
}

eq_dnd *eq_dnd_squeeze(const eq_dnd *x, int axis) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_squeeze: NULL array");
  int a;
  if (dnd_check_axis("eq_dnd_squeeze", x, axis, &a)) return NULL;
  if (x->shape[a] != 1) {
    char b[128];
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_squeeze: axis %d of %s has size %lld, not 1", a, eq_dnd_str(x, b, sizeof b),
                    (long long)x->shape[a]);
  }
  eq_dnd *src = NULL;
  if (a == x->split && !(src = dnd_relayout(x, EQ_DND_NONE, NULL))) return NULL;
  const eq_dnd *s = src ? src : x;
  int64_t shape[EQ_MAX_DIMS], ls[EQ_MAX_DIMS];
  for (int i = 0, j = 0; i < x->ndim; i++) {
    if (i == a) continue;
    shape[j] = s->shape[i];
    ls[j++] = s->local->shape[i];
  }
  int split = s->split == EQ_DND_NONE ? EQ_DND_NONE : (s->split > a ? s->split - 1 : s->split);
  eq_tensor *v = eq_view_of(s->local);
  eq_dnd *r = NULL;
  if (v) {
    v->ndim = x->ndim - 1;
    memcpy(v->shape, ls, sizeof ls);
    eq_set_contiguous_strides(v);
    r = from_view(v, x->ndim - 1, shape, split, s->counts, x->comm);
  }
  eq_dnd_free(src);
  return r;
}

eq_dnd *eq_dnd_reshape(const eq_dnd *x, int ndim, const int64_t *shape_in, int new_split) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_reshape: NULL array");
  if (ndim < 0 || ndim > EQ_MAX_DIMS) return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_reshape: %d dims", ndim);
  int64_t shape[EQ_MAX_DIMS], known = 1, total = eq_dnd_numel(x);
  int infer = -1;
  for (int i = 0; i < ndim; i++) {
    shape[i] = shape_in[i];
    if (shape[i] == -1 && infer < 0)
      infer = i;
    else if (shape[i] < 0)
      return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_reshape: invalid size %lld in dim %d", (long long)shape[i], i);
    else
      known *= shape[i];
  }
  if (infer >= 0) shape[infer] = known ? total / known : 0;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  char b[128];
  if (n != total)
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_reshape: cannot reshape %s (%lld elements) into %d dims of %lld elements",
                    eq_dnd_str(x, b, sizeof b), (long long)total, ndim, (long long)n);
  if (new_split != EQ_DND_NONE && (new_split < 0 || new_split >= ndim))
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_reshape: new split %d out of range for %d dims", new_split, ndim);
  const eq_comm *c = x->comm;
  if (x->split == EQ_DND_NONE || new_split == EQ_DND_NONE) {
    /* Replicated source (or result): reshape the full array locally. */
    eq_dnd *full = x->split == EQ_DND_NONE ? (eq_dnd *)x : dnd_relayout(x, EQ_DND_NONE, NULL);
    if (!full) return NULL;
    eq_tensor *t = eq_reshape(full->local, ndim, shape);
    eq_dnd *r = NULL;
    if (t) {
      eq_dnd tmp = {.local = t};
      eq_tensor *v = new_split == EQ_DND_NONE ? eq_view_of(t) : NULL;
      if (new_split == EQ_DND_NONE)
        r = from_view(v, ndim, shape, EQ_DND_NONE, NULL, c);
      else {
        eq_dnd *probe = dnd_alloc(x->dtype, ndim, shape, new_split, NULL, c);
        if (probe) {
          r = from_view(dnd_local_rows_view(&tmp, new_split, probe->offsets[c->rank], probe->offsets[c->rank + 1]),
                        ndim, shape, new_split, NULL, c);
          free(probe);
        }
      }
      eq_tensor_free(t);
    }
    if (full != x) eq_dnd_free(full);
    return r;
  }
  /* Split source: contiguous flat ranges move in one all-to-all. */
  eq_dnd *src = x->split == 0 ? (eq_dnd *)x : dnd_relayout(x, 0, NULL);
  if (!src) return NULL;
  eq_dnd *r = ndim ? dnd_new(x->dtype, ndim, shape, 0, NULL, c) : NULL;
  int P = c->size, me = c->rank;
  int64_t srow = 1, trow = 1;
  for (int i = 1; i < x->ndim; i++) srow *= x->shape[i];
  for (int i = 1; i < ndim; i++) trow *= shape[i];
  int64_t *v = calloc((size_t)4 * P, sizeof(int64_t));
  eq_status st = r && v ? EQ_OK : (r ? eq_error(EQ_ERR_MEMORY, "eq_dnd_reshape: out of memory") : eq_error_code());
  if (!st) {
    int64_t slo = src->offsets[me] * srow, shi = src->offsets[me + 1] * srow;
    int64_t tlo = r->offsets[me] * trow, thi = r->offsets[me + 1] * trow;
    for (int q = 0; q < P; q++) {
      int64_t ql = r->offsets[q] * trow, qh = r->offsets[q + 1] * trow;
      int64_t lo = slo > ql ? slo : ql, hi = shi < qh ? shi : qh;
      v[q] = hi > lo ? hi - lo : 0;
      v[P + q] = hi > lo ? lo - slo : 0;
      ql = src->offsets[q] * srow, qh = src->offsets[q + 1] * srow;
      lo = tlo > ql ? tlo : ql, hi = thi < qh ? thi : qh;
      v[2 * P + q] = hi > lo ? hi - lo : 0;
      v[3 * P + q] = hi > lo ? lo - tlo : 0;
    }
    st = eq_comm_alltoallv(c, eq_data_ptr(src->local), v, v + P, eq_data_ptr(r->local), v + 2 * P, v + 3 * P,
                           x->dtype);
  }
  free(v);
  if (src != x) eq_dnd_free(src);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  if (new_split != 0) {
    eq_dnd *t = dnd_relayout(r, new_split, NULL);
    eq_dnd_free(r);
    r = t;
  }
  return r;
}

eq_dnd *eq_dnd_flatten(const eq_dnd *x) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_flatten: NULL array");
  int64_t n = eq_dnd_numel(x);
  return eq_dnd_reshape(x, 1, &n, x->split == EQ_DND_NONE ? EQ_DND_NONE : 0);
}

/* Copies src (local tensor) into dst's local block at offset `at` along axis. */
static eq_status place(eq_tensor *dst, const eq_tensor *src, int axis, int64_t at) {
  eq_tensor *v = eq_view_of(dst);
  if (!v) return eq_error_code();
  v->offset += at * dst->stride[axis];
  v->shape[axis] = src->shape[axis];
  eq_status st = eq_copy_(v, src);
  eq_tensor_free(v);
  return st;
}

eq_dnd *eq_dnd_concatenate(const eq_dnd *const *xs, int n, int axis) {
  if (n < 1 || !xs || !xs[0]) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_concatenate: no arrays");
  const eq_dnd *x0 = xs[0];
  int a;
  if (dnd_check_axis("eq_dnd_concatenate", x0, axis, &a)) return NULL;
  eq_dtype d = x0->dtype;
  int split = EQ_DND_NONE;
  const eq_dnd *lay = NULL;
  int64_t shape[EQ_MAX_DIMS];
  memcpy(shape, x0->shape, sizeof shape);
  shape[a] = 0;
  for (int i = 0; i < n; i++) {
    char b0[128], b1[128];
    if (!xs[i]) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_concatenate: array %d is NULL", i);
    bool ok = xs[i]->ndim == x0->ndim && xs[i]->comm == x0->comm;
    for (int k = 0; ok && k < x0->ndim; k++)
      if (k != a && xs[i]->shape[k] != x0->shape[k]) ok = false;
    if (!ok)
      return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_concatenate: %s and %s differ outside axis %d",
                      eq_dnd_str(x0, b0, sizeof b0), eq_dnd_str(xs[i], b1, sizeof b1), a);
    d = eq_dtype_promote(d, xs[i]->dtype);
    shape[a] += xs[i]->shape[a];
    if (split == EQ_DND_NONE && xs[i]->split != EQ_DND_NONE) {
      split = xs[i]->split;
      lay = xs[i];
    }
  }
  eq_dnd *r = dnd_new(d, x0->ndim, shape, split, split == a || split == EQ_DND_NONE ? NULL : lay->counts, x0->comm);
  if (!r) return NULL;
  int me = x0->comm->rank, P = x0->comm->size;
  int64_t base = 0;
  eq_status st = EQ_OK;
  for (int i = 0; i < n && !st; i++) {
    const eq_dnd *xi = xs[i];
    eq_dnd *moved = NULL;
    int64_t at = base;
    if (split == EQ_DND_NONE) {
      /* all replicated */
    } else if (split != a) {
      if (!dnd_same_layout(xi, r)) moved = dnd_relayout(xi, split, r->counts);
      if (!moved && !dnd_same_layout(xi, r)) st = eq_error_code();
    } else {
      /* The part of this input that lands in each rank's result block. */
      int64_t *cnt = calloc((size_t)P, sizeof(int64_t));
      if (!cnt) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_concatenate: out of memory");
      for (int q = 0; q < P && !st; q++) {
        int64_t lo = r->offsets[q] > base ? r->offsets[q] : base;
        int64_t hi = r->offsets[q + 1] < base + xi->shape[a] ? r->offsets[q + 1] : base + xi->shape[a];
        cnt[q] = hi > lo ? hi - lo : 0;
      }
      if (!st) {
        moved = dnd_relayout(xi, a, cnt);
        if (!moved) st = eq_error_code();
      }
      int64_t lo = r->offsets[me] > base ? r->offsets[me] : base;
      at = lo - r->offsets[me];
      free(cnt);
    }
    if (!st) {
      const eq_tensor *src = moved ? moved->local : xi->local;
      if (split == a && src->shape[a] == 0) at = 0;
      st = place(r->local, src, a, at);
    }
    eq_dnd_free(moved);
    base += xi->shape[a];
  }
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}

eq_dnd *eq_dnd_stack(const eq_dnd *const *xs, int n, int axis) {
  if (n < 1 || !xs) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_stack: no arrays");
  eq_dnd **ex = calloc((size_t)n, sizeof *ex);
  if (!ex) return DND_FAIL(EQ_ERR_MEMORY, "eq_dnd_stack: out of memory");
  eq_dnd *r = NULL;
  int i = 0;
  for (; i < n; i++)
    if (!(ex[i] = eq_dnd_expand_dims(xs[i], axis))) break;
  if (i == n) r = eq_dnd_concatenate((const eq_dnd *const *)ex, n, axis);
  for (int k = 0; k < n; k++) eq_dnd_free(ex[k]);
  free(ex);
  return r;
}

eq_dnd *eq_dnd_flip(const eq_dnd *x, int axis) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_flip: NULL array");
  int a;
  if (dnd_check_axis("eq_dnd_flip", x, axis, &a)) return NULL;
  eq_tensor *v = eq_view_of(x->local);
  if (!v) return NULL;
  if (v->shape[a] > 0) {
    v->offset += (v->shape[a] - 1) * v->stride[a];
    v->stride[a] = -v->stride[a];
  }
  if (a != x->split) return from_view(v, x->ndim, x->shape, x->split, x->counts, x->comm);
  /* Along the split axis: rank r's flipped block becomes rank P-1-r's. */
  const eq_comm *c = x->comm;
  int P = c->size, me = c->rank, partner = P - 1 - me;
  int64_t *rc = malloc(sizeof(int64_t) * (size_t)P);
  eq_tensor *flipped = dnd_materialize(v);
  if (!rc || !flipped) {
    free(rc);
    eq_tensor_free(flipped);
    return DND_FAIL(EQ_ERR_MEMORY, "eq_dnd_flip: out of memory");
  }
  for (int r = 0; r < P; r++) rc[r] = x->counts[P - 1 - r];
  eq_dnd *r = dnd_new(x->dtype, x->ndim, x->shape, a, rc, c);
  eq_status st = r ? eq_comm_sendrecv(c, eq_data_ptr(flipped), eq_numel(flipped), partner, eq_data_ptr(r->local),
                                      eq_numel(r->local), partner, x->dtype)
                   : eq_error_code();
  eq_tensor_free(flipped);
  free(rc);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  if (eq_dnd_is_balanced(x) && !eq_dnd_is_balanced(r)) {
    eq_dnd *b = dnd_relayout(r, a, NULL);
    eq_dnd_free(r);
    r = b;
  }
  return r;
}

eq_dnd *eq_dnd_roll(const eq_dnd *x, int64_t shift, int axis) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_roll: NULL array");
  int a;
  if (dnd_check_axis("eq_dnd_roll", x, axis, &a)) return NULL;
  int64_t n = x->shape[a];
  int64_t s = n ? ((shift % n) + n) % n : 0;
  if (s == 0) return eq_dnd_copy(x);
  /* roll = [x[n-s:], x[:n-s]] */
  eq_dnd *p1 = eq_dnd_slice(x, a, n - s, n, 1), *p2 = p1 ? eq_dnd_slice(x, a, 0, n - s, 1) : NULL;
  eq_dnd *r = NULL;
  if (p1 && p2) {
    const eq_dnd *parts[2] = {p1, p2};
    r = eq_dnd_concatenate(parts, 2, a);
    if (r && a != x->split && x->split != EQ_DND_NONE && !dnd_same_layout(r, x)) {
      eq_dnd *t = dnd_relayout(r, x->split, x->counts);
      eq_dnd_free(r);
      r = t;
    }
  }
  eq_dnd_free(p1);
  eq_dnd_free(p2);
  return r;
}

eq_dnd *eq_dnd_pad(const eq_dnd *x, const int64_t *pad, double value) {
  if (!x || !pad) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_pad: NULL argument");
  for (int i = 0; i < 2 * x->ndim; i++)
    if (pad[i] < 0) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_pad: negative pad %lld at %d", (long long)pad[i], i);
  /* Non-split axes: pad the local block. */
  int64_t shape[EQ_MAX_DIMS], ls[EQ_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) {
    bool sp = i == x->split;
    shape[i] = x->shape[i] + (sp ? 0 : pad[2 * i] + pad[2 * i + 1]);
    ls[i] = x->local->shape[i] + (sp ? 0 : pad[2 * i] + pad[2 * i + 1]);
  }
  eq_dnd *mid = dnd_alloc(x->dtype, x->ndim, shape, x->split, x->counts, x->comm);
  if (!mid) return NULL;
  eq_arena *prev = eq_arena_set_current(NULL);
  mid->local = eq_full(x->dtype, x->ndim, ls, value);
  eq_arena_set_current(prev);
  if (!mid->local) {
    free(mid);
    return NULL;
  }
  eq_tensor *v = eq_view_of(mid->local);
  eq_status st = v ? EQ_OK : eq_error_code();
  if (v) {
    for (int i = 0; i < x->ndim; i++) {
      if (i == x->split) continue;
      v->offset += pad[2 * i] * v->stride[i];
      v->shape[i] = x->local->shape[i];
    }
    st = eq_copy_(v, x->local);
    eq_tensor_free(v);
  }
  if (st || x->split == EQ_DND_NONE || (pad[2 * x->split] == 0 && pad[2 * x->split + 1] == 0)) {
    if (st) {
      eq_dnd_free(mid);
      return NULL;
    }
    return mid;
  }
  /* Split axis: [before, mid, after]. */
  int a = x->split;
  int64_t sb[EQ_MAX_DIMS], sa[EQ_MAX_DIMS];
  memcpy(sb, shape, sizeof sb);
  memcpy(sa, shape, sizeof sa);
  sb[a] = pad[2 * a];
  sa[a] = pad[2 * a + 1];
  eq_dnd *before = eq_dnd_full(x->dtype, x->ndim, sb, value, a, x->comm);
  eq_dnd *after = eq_dnd_full(x->dtype, x->ndim, sa, value, a, x->comm);
  eq_dnd *r = NULL;
  if (before && after) {
    const eq_dnd *parts[3] = {before, mid, after};
    r = eq_dnd_concatenate(parts, 3, a);
  }
  eq_dnd_free(before);
  eq_dnd_free(after);
  eq_dnd_free(mid);
  return r;
}

static eq_dnd *tri(const eq_dnd *x, int64_t k, bool lower) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_tril/triu: NULL array");
  if (x->ndim < 2) return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_tril/triu: needs at least 2 dims, got %d", x->ndim);
  eq_dnd *r = eq_dnd_copy(x);
  if (!r) return NULL;
  int nd = x->ndim, me = x->comm->rank;
  int64_t r0 = x->split == nd - 2 ? x->offsets[me] : 0, c0 = x->split == nd - 1 ? x->offsets[me] : 0;
  eq_tensor *L = r->local;
  int64_t rows = L->shape[nd - 2], cols = L->shape[nd - 1], area = rows * cols;
  int64_t batch = area > 0 ? eq_numel(L) / area : 0;
  size_t es = eq_dtype_size(L->dtype);
  char *p = eq_data_ptr(L);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        int64_t gi = r0 + i, gj = c0 + j;
        bool keep = lower ? gj - gi <= k : gj - gi >= k;
        if (!keep) memset(p + ((b * rows + i) * cols + j) * es, 0, es);
      }
  return r;
}

eq_dnd *eq_dnd_tril(const eq_dnd *x, int64_t k) { return tri(x, k, true); }
eq_dnd *eq_dnd_triu(const eq_dnd *x, int64_t k) { return tri(x, k, false); }
