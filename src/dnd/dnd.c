/* Distributed array structs, layout metadata and the general data mover. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

void eq_dnd_chunk(int64_t n, int size, int rank, int64_t *count, int64_t *offset) {
  int64_t chunk = n / size, rem = n % size;
  if (rank < rem) {
    *count = chunk + 1;
    *offset = rank * (chunk + 1);
  } else {
    *count = chunk;
    *offset = rank * chunk + rem;
  }
}

void dnd_balanced_counts(int64_t n, int P, int64_t *counts) {
  for (int r = 0; r < P; r++) {
    int64_t off;
    eq_dnd_chunk(n, P, r, &counts[r], &off);
  }
}

eq_dnd *dnd_alloc(eq_dtype dtype, int ndim, const int64_t *shape, int split, const int64_t *counts,
                  const eq_comm *comm) {
  if (!comm) comm = eq_comm_world();
  if (eq_check_shape("eq_dnd", ndim, shape)) return NULL;
  if (split != EQ_DND_NONE && (split < 0 || split >= ndim))
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd: split axis %d out of range for a %d-d array", split, ndim);
  if ((unsigned)dtype >= EQ_DTYPE_COUNT) return DND_FAIL(EQ_ERR_DTYPE, "eq_dnd: invalid dtype %d", (int)dtype);
  int P = comm->size;
  size_t extra = split == EQ_DND_NONE ? 0 : (size_t)(2 * P + 1) * sizeof(int64_t);
  /* One block for the struct and its layout: one allocation per result. */
  eq_dnd *x = malloc(sizeof *x + extra);
  if (!x) return DND_FAIL(EQ_ERR_MEMORY, "eq_dnd: out of memory");
  memset(x, 0, sizeof *x);
  x->ndim = ndim;
  for (int i = 0; i < ndim; i++) x->shape[i] = shape[i];
  x->dtype = dtype;
  x->device = (eq_device){EQ_DEVICE_CPU, 0};
  x->split = split;
  x->comm = comm;
  if (split != EQ_DND_NONE) {
    x->counts = (int64_t *)(x + 1);
    x->offsets = x->counts + P;
    if (counts) {
      int64_t total = 0;
      for (int r = 0; r < P; r++) {
        if (counts[r] < 0) {
          free(x);
          return DND_FAIL(EQ_ERR_VALUE, "eq_dnd: negative block size %lld for rank %d", (long long)counts[r], r);
        }
        total += counts[r];
      }
      if (total != shape[split]) {
        free(x);
        return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd: block sizes sum to %lld, split axis %d has %lld", (long long)total,
                        split, (long long)shape[split]);
      }
      memcpy(x->counts, counts, (size_t)P * sizeof(int64_t));
    } else {
      dnd_balanced_counts(shape[split], P, x->counts);
    }
    x->offsets[0] = 0;
    for (int r = 0; r < P; r++) x->offsets[r + 1] = x->offsets[r] + x->counts[r];
  }
  return x;
}

void eq_dnd_lshape(const eq_dnd *x, int rank, int64_t *out) {
  for (int i = 0; i < x->ndim; i++) out[i] = x->shape[i];
  if (x->split != EQ_DND_NONE) out[x->split] = x->counts[rank];
}

eq_dnd *dnd_wrap(eq_tensor *local, int ndim, const int64_t *shape, int split, const int64_t *counts,
                 const eq_comm *comm) {
  eq_dnd *x = dnd_alloc(local ? local->dtype : EQ_F32, ndim, shape, split, counts, comm);
  if (!x || !local) {
    eq_tensor_free(local);
    free(x);
    return NULL;
  }
  x->local = local;
  return x;
}

eq_dnd *dnd_new(eq_dtype dtype, int ndim, const int64_t *shape, int split, const int64_t *counts,
                const eq_comm *comm) {
  eq_dnd *x = dnd_alloc(dtype, ndim, shape, split, counts, comm);
  if (!x) return NULL;
  int64_t ls[EQ_MAX_DIMS];
  eq_dnd_lshape(x, x->comm->rank, ls);
  /* Local blocks live on the heap even while an arena is current: arrays
   * outlive training steps. */
  eq_arena *prev = eq_arena_set_current(NULL);
  x->local = eq_empty(dtype, ndim, ls);
  eq_arena_set_current(prev);
  if (!x->local) {
    free(x);
    return NULL;
  }
  return x;
}

void eq_dnd_free(eq_dnd *x) {
  if (!x) return;
  eq_tensor_free(x->local);
  free(x);
}

int64_t eq_dnd_numel(const eq_dnd *x) {
  int64_t n = 1;
  for (int i = 0; i < x->ndim; i++) n *= x->shape[i];
  return n;
}

bool eq_dnd_is_balanced(const eq_dnd *x) {
  if (x->split == EQ_DND_NONE) return true;
  for (int r = 0; r < x->comm->size; r++) {
    int64_t c, o;
    eq_dnd_chunk(x->shape[x->split], x->comm->size, r, &c, &o);
    if (c != x->counts[r]) return false;
  }
  return true;
}

bool dnd_same_layout(const eq_dnd *a, const eq_dnd *b) {
  if (a->split != b->split || a->comm != b->comm) return false;
  if (a->split == EQ_DND_NONE) return true;
  return memcmp(a->counts, b->counts, (size_t)a->comm->size * sizeof(int64_t)) == 0;
}

const char *eq_dnd_str(const eq_dnd *x, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "dnd[");
  for (int i = 0; i < x->ndim && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)x->shape[i]);
  if (used < cap) {
    if (x->split == EQ_DND_NONE)
      snprintf(buf + used, cap - used, "] %s split=None", eq_dtype_name(x->dtype));
    else
      snprintf(buf + used, cap - used, "] %s split=%d", eq_dtype_name(x->dtype), x->split);
  }
  return buf;
}

const char *dnd_name(const eq_dnd *x, char *buf, size_t cap) { return eq_dnd_str(x, buf, cap); }

eq_status dnd_check_axis(const char *op, const eq_dnd *x, int axis, int *out) {
  int a = axis < 0 ? axis + x->ndim : axis;
  if (a < 0 || a >= x->ndim) {
    char b[128];
    return eq_error(EQ_ERR_SHAPE, "%s: axis %d out of range for %s", op, axis, eq_dnd_str(x, b, sizeof b));
  }
  *out = a;
  return EQ_OK;
}

eq_tensor *dnd_materialize(eq_tensor *view) {
  if (!view) return NULL;
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *t = eq_empty(view->dtype, view->ndim, view->shape);
  eq_arena_set_current(prev);
  if (t && eq_copy_(t, view)) {
    eq_tensor_free(t);
    t = NULL;
  }
  eq_tensor_free(view);
  return t;
}

int64_t dnd_outer(const eq_tensor *t, int axis) {
  int64_t n = 1;
  for (int i = 0; i < axis; i++) n *= t->shape[i];
  return n;
}

int64_t dnd_inner(const eq_tensor *t, int axis) {
  int64_t n = 1;
  for (int i = axis + 1; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

eq_tensor *dnd_local_rows_view(const eq_dnd *x, int axis, int64_t lo, int64_t hi) {
  eq_tensor *v = eq_view_of(x->local);
  if (!v) return NULL;
  v->ndim = x->local->ndim;
  for (int i = 0; i < v->ndim; i++) {
    v->shape[i] = x->local->shape[i];
    v->stride[i] = x->local->stride[i];
  }
  v->offset = x->local->offset + lo * x->local->stride[axis];
  v->shape[axis] = hi - lo;
  return v;
}

/* ---------------------------------------------------------------- mover */

/* Global range of `rank`'s block along axis a in a layout. */
static void block_range(int ndim_split, const int64_t *offsets, const int64_t *counts, int64_t n, int a, int rank,
                        int64_t *lo, int64_t *hi) {
  if (a == ndim_split) {
    *lo = offsets[rank];
    *hi = offsets[rank] + counts[rank];
  } else {
    *lo = 0;
    *hi = n;
  }
}

typedef struct {
  int split;
  const int64_t *counts, *offsets;
} layout;

/* Intersection box of src rank p's block and dst rank q's block. Returns
 * false when empty. lo/hi global. */
static bool box(const eq_dnd *x, layout s, layout t, int p, int q, int64_t *lo, int64_t *hi) {
  for (int a = 0; a < x->ndim; a++) {
    int64_t l1, h1, l2, h2;
    block_range(s.split, s.offsets, s.counts, x->shape[a], a, p, &l1, &h1);
    block_range(t.split, t.offsets, t.counts, x->shape[a], a, q, &l2, &h2);
    lo[a] = l1 > l2 ? l1 : l2;
    hi[a] = h1 < h2 ? h1 : h2;
    if (hi[a] <= lo[a]) return false;
  }
  return true;
}

/* A subarray datatype for box [lo, hi) inside the block of layout l on rank r. */
static int make_subarray(const eq_dnd *x, layout l, int r, const int64_t *lo, const int64_t *hi, MPI_Datatype *out) {
  int sizes[EQ_MAX_DIMS], sub[EQ_MAX_DIMS], starts[EQ_MAX_DIMS];
  for (int a = 0; a < x->ndim; a++) {
    int64_t blo = a == l.split ? l.offsets[r] : 0;
    int64_t bn = a == l.split ? l.counts[r] : x->shape[a];
    sizes[a] = (int)bn;
    sub[a] = (int)(hi[a] - lo[a]);
    starts[a] = (int)(lo[a] - blo);
  }
  int rc = MPI_Type_create_subarray(x->ndim, sizes, sub, starts, MPI_ORDER_C, eq_comm_mpi_type(x->dtype), out);
  if (rc == MPI_SUCCESS) rc = MPI_Type_commit(out);
  return rc;
}

/* A view of the box [lo, hi) of tensor t that holds rank r's block of layout l. */
static eq_tensor *box_view(eq_tensor *t, const eq_dnd *x, layout l, int r, const int64_t *lo, const int64_t *hi) {
  eq_tensor *v = eq_view_of(t);
  if (!v) return NULL;
  v->ndim = t->ndim;
  v->offset = t->offset;
  for (int a = 0; a < t->ndim; a++) {
    int64_t blo = a == l.split ? l.offsets[r] : 0;
    v->shape[a] = hi[a] - lo[a];
    v->stride[a] = t->stride[a];
    v->offset += (lo[a] - blo) * t->stride[a];
  }
  return v;
}

static bool dims_fit_int(const eq_dnd *x, layout s, layout t, int me) {
  for (int a = 0; a < x->ndim; a++) {
    if (x->shape[a] > INT_MAX) return false;
  }
  (void)s, (void)t, (void)me;
  return true;
}

/* Copies x's local box into dst's local box (both on this rank). */
static eq_status copy_box(eq_tensor *dst, eq_tensor *src, const eq_dnd *x, layout s, layout t, int me) {
  int64_t lo[EQ_MAX_DIMS], hi[EQ_MAX_DIMS];
  if (!box(x, s, t, me, me, lo, hi)) return EQ_OK;
  eq_tensor *vs = box_view(src, x, s, me, lo, hi), *vd = box_view(dst, x, t, me, lo, hi);
  eq_status st = vs && vd ? eq_copy_(vd, vs) : eq_error_code();
  eq_tensor_free(vs);
  eq_tensor_free(vd);
  return st;
}

/* Pack / Alltoallv / unpack: for arrays with a dim beyond the int range. */
static eq_status move_packed(const eq_dnd *x, layout s, layout t, eq_tensor *dst) {
  const eq_comm *c = x->comm;
  int P = c->size, me = c->rank;
  int64_t *v = calloc((size_t)4 * P, sizeof(int64_t));
  if (!v) return eq_error(EQ_ERR_MEMORY, "eq_dnd_resplit: out of memory");
  int64_t *sc = v, *sd = v + P, *rc = v + 2 * P, *rd = v + 3 * P;
  int64_t lo[EQ_MAX_DIMS], hi[EQ_MAX_DIMS], stot = 0, rtot = 0;
  for (int q = 0; q < P; q++) {
    sd[q] = stot;
    if (box(x, s, t, me, q, lo, hi)) {
      int64_t n = 1;
      for (int a = 0; a < x->ndim; a++) n *= hi[a] - lo[a];
      sc[q] = n;
    }
    stot += sc[q];
    rd[q] = rtot;
    if (box(x, s, t, q, me, lo, hi)) {
      int64_t n = 1;
      for (int a = 0; a < x->ndim; a++) n *= hi[a] - lo[a];
      rc[q] = n;
    }
    rtot += rc[q];
  }
  size_t es = eq_dtype_size(x->dtype);
  char *sb = malloc((size_t)stot * es + 1), *rb = malloc((size_t)rtot * es + 1);
  eq_status st = EQ_OK;
  if (!sb || !rb) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_resplit: out of memory for %lld elements", (long long)stot);
  for (int q = 0; q < P && !st; q++) {
    if (!sc[q]) continue;
    box(x, s, t, me, q, lo, hi);
    int64_t sh[EQ_MAX_DIMS];
    for (int a = 0; a < x->ndim; a++) sh[a] = hi[a] - lo[a];
    eq_tensor *w = eq_tensor_wrap(x->dtype, x->ndim, sh, sb + sd[q] * es);
    eq_tensor *vs = box_view(x->local, x, s, me, lo, hi);
    st = w && vs ? eq_copy_(w, vs) : eq_error_code();
    eq_tensor_free(w);
    eq_tensor_free(vs);
  }
  if (!st) st = eq_comm_alltoallv(c, sb, sc, sd, rb, rc, rd, x->dtype);
  for (int q = 0; q < P && !st; q++) {
    if (!rc[q]) continue;
    box(x, s, t, q, me, lo, hi);
    int64_t sh[EQ_MAX_DIMS];
    for (int a = 0; a < x->ndim; a++) sh[a] = hi[a] - lo[a];
    eq_tensor *w = eq_tensor_wrap(x->dtype, x->ndim, sh, rb + rd[q] * es);
    eq_tensor *vd = box_view(dst, x, t, me, lo, hi);
    st = w && vd ? eq_copy_(vd, w) : eq_error_code();
    eq_tensor_free(w);
    eq_tensor_free(vd);
  }
  free(sb);
  free(rb);
  free(v);
  return st;
}

eq_dnd *dnd_relayout(const eq_dnd *x, int split, const int64_t *counts) {
  eq_dnd *y = dnd_new(x->dtype, x->ndim, x->shape, split, counts, x->comm);
  if (!y) return NULL;
  const eq_comm *c = x->comm;
  int P = c->size, me = c->rank;
  layout s = {x->split, x->counts, x->offsets}, t = {y->split, y->counts, y->offsets};
  eq_status st = EQ_OK;
  if (x->split == EQ_DND_NONE || P == 1) {
    /* Replicated source (or one rank): every rank already holds its box. */
    st = copy_box(y->local, x->local, x, s, t, me);
  } else if (!dims_fit_int(x, s, t, me)) {
    st = move_packed(x, s, t, y->local);
  } else {
    /* One MPI_Alltoallw with subarray datatypes: no packing buffers. */
    MPI_Datatype *types = malloc(sizeof(MPI_Datatype) * 2 * (size_t)P);
    int *ints = malloc(sizeof(int) * 4 * (size_t)P);
    if (!types || !ints) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_resplit: out of memory");
    int64_t lo[EQ_MAX_DIMS], hi[EQ_MAX_DIMS];
    int created = 0;
    for (int q = 0; q < P && !st; q++) {
      ints[q] = ints[2 * P + q] = 0;
      ints[P + q] = ints[3 * P + q] = 0;
      types[q] = types[P + q] = MPI_BYTE;
      if (box(x, s, t, me, q, lo, hi)) {
        if ((st = eq_comm_check(make_subarray(x, s, me, lo, hi, &types[q]), "MPI_Type_create_subarray"))) break;
        ints[q] = 1;
      }
      if (box(x, s, t, q, me, lo, hi)) {
        if ((st = eq_comm_check(make_subarray(x, t, me, lo, hi, &types[P + q]), "MPI_Type_create_subarray")))
          break;
        ints[2 * P + q] = 1;
      }
      created = q + 1;
    }
    if (!st) {
      void *sbuf = eq_data_ptr(x->local), *rbuf = eq_data_ptr(y->local);
      static char dummy[64];
      if (!eq_numel(x->local)) sbuf = dummy;
      if (!eq_numel(y->local)) rbuf = dummy;
      st = eq_comm_check(MPI_Alltoallw(sbuf, ints, ints + P, types, rbuf, ints + 2 * P, ints + 3 * P, types + P,
                                       c->mpi),
                         "MPI_Alltoallw");
    }
    for (int q = 0; q < created; q++) {
      if (ints[q]) MPI_Type_free(&types[q]);
      if (ints[2 * P + q]) MPI_Type_free(&types[P + q]);
    }
    free(types);
    free(ints);
  }
  if (st) {
    eq_dnd_free(y);
    return NULL;
  }
  return y;
}

eq_dnd *eq_dnd_resplit(const eq_dnd *x, int split) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_resplit: NULL array");
  if (split != EQ_DND_NONE && dnd_check_axis("eq_dnd_resplit", x, split, &split)) return NULL;
  return dnd_relayout(x, split, NULL);
}

eq_dnd *eq_dnd_balance(const eq_dnd *x) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_balance: NULL array");
  return dnd_relayout(x, x->split, NULL);
}

eq_dnd *eq_dnd_redistribute(const eq_dnd *x, const int64_t *counts) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_redistribute: NULL array");
  if (x->split == EQ_DND_NONE) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_redistribute: array is not split");
  return dnd_relayout(x, x->split, counts);
}

eq_dnd *eq_dnd_copy(const eq_dnd *x) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_copy: NULL array");
  eq_dnd *y = dnd_alloc(x->dtype, x->ndim, x->shape, x->split, x->counts, x->comm);
  if (!y) return NULL;
  y->local = dnd_materialize(eq_view_of(x->local));
  if (!y->local) {
    free(y);
    return NULL;
  }
  return y;
}

eq_dnd *eq_dnd_astype(const eq_dnd *x, eq_dtype dtype) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_astype: NULL array");
  eq_dnd *y = dnd_new(dtype, x->ndim, x->shape, x->split, x->counts, x->comm);
  if (y && eq_copy_(y->local, x->local)) {
    eq_dnd_free(y);
    return NULL;
  }
  return y;
}

eq_tensor *eq_dnd_to_tensor(const eq_dnd *x) {
  if (!x) {
    eq_error(EQ_ERR_VALUE, "eq_dnd_to_tensor: NULL array");
    return NULL;
  }
  eq_dnd *y = dnd_relayout(x, EQ_DND_NONE, NULL);
  if (!y) return NULL;
  eq_tensor *t = y->local;
  y->local = NULL;
  eq_dnd_free(y);
  return t;
}
