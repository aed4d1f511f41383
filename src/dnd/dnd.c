/* Distributed array structs, layout metadata and the general data mover. */
#include <limits.h>
#include <stdint.h>
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

/* `rows` runs of `run` bytes, dst and src advancing by their byte strides:
 * the movers' inner loop. The common short runs (a resplit of a few columns
 * moves 4 - 64 bytes per row) are constant-size copies the compiler turns
 * into a few vector moves; a libc call per run would cost more than the copy. */
static void copy_runs(char *dst, int64_t dstride, const char *src, int64_t sstride, int64_t rows, size_t run) {
#define RUNS(N)                                                                                                   \
  for (int64_t r = 0; r < rows; r++) memcpy(dst + r * dstride, src + r * sstride, N);                           \
  return
  switch (run) {
  case 4: RUNS(4);
  case 8: RUNS(8);
  case 12: RUNS(12);
  case 16: RUNS(16);
  case 24: RUNS(24);
  case 32: RUNS(32);
  case 48: RUNS(48);
  case 64: RUNS(64);
  default: RUNS(run);
  }
#undef RUNS
}

/* dst[...] = src[...] for two views of one shape and dtype: dims merged where
 * both are contiguous, then rows of contiguous runs (one memcpy when both are
 * wholly contiguous); other strides go through eq_copy_. */
static eq_status copy_view(eq_tensor *dst, const eq_tensor *src) {
  int nd = 0;
  int64_t shape[EQ_MAX_DIMS], sd[EQ_MAX_DIMS], ss[EQ_MAX_DIMS];
  for (int d = 0; d < dst->ndim; d++) {
    if (dst->shape[d] == 1) continue;
    if (dst->shape[d] == 0) return EQ_OK;
    if (nd > 0 && sd[nd - 1] == dst->stride[d] * dst->shape[d] && ss[nd - 1] == src->stride[d] * dst->shape[d]) {
      shape[nd - 1] *= dst->shape[d];
      sd[nd - 1] = dst->stride[d];
      ss[nd - 1] = src->stride[d];
      continue;
    }
    shape[nd] = dst->shape[d], sd[nd] = dst->stride[d], ss[nd++] = src->stride[d];
  }
  if (nd == 0) shape[0] = 1, sd[0] = ss[0] = 1, nd = 1;
  if (sd[nd - 1] != 1 || ss[nd - 1] != 1) return eq_copy_(dst, src);
  size_t es = eq_dtype_size(dst->dtype);
  char *pd = eq_data_ptr(dst);
  const char *ps = eq_data_ptr(src);
  size_t run = (size_t)shape[nd - 1] * es;
  if (nd == 1) {
    memcpy(pd, ps, run);
    return EQ_OK;
  }
  /* Outer multi-index over dims [0, nd - 2); rows along dim nd - 2. */
  int64_t idx[EQ_MAX_DIMS] = {0}, rows = shape[nd - 2], outer = 1;
  for (int d = 0; d < nd - 2; d++) outer *= shape[d];
  for (int64_t o = 0; o < outer; o++) {
    int64_t od = 0, os = 0;
    for (int d = 0; d < nd - 2; d++) od += idx[d] * sd[d], os += idx[d] * ss[d];
    copy_runs(pd + od * (int64_t)es, sd[nd - 2] * (int64_t)es, ps + os * (int64_t)es, ss[nd - 2] * (int64_t)es, rows,
              run);
    for (int d = nd - 3; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
  }
  return EQ_OK;
}

/* Copies x's local box into dst's local box (both on this rank). */
static eq_status copy_box(eq_tensor *dst, eq_tensor *src, const eq_dnd *x, layout s, layout t, int me) {
  int64_t lo[EQ_MAX_DIMS], hi[EQ_MAX_DIMS];
  if (!box(x, s, t, me, me, lo, hi)) return EQ_OK;
  eq_tensor *vs = box_view(src, x, s, me, lo, hi), *vd = box_view(dst, x, t, me, lo, hi);
  eq_status st = vs && vd ? copy_view(vd, vs) : eq_error_code();
  eq_tensor_free(vs);
  eq_tensor_free(vd);
  return st;
}

/* A strided box view flattened to (rows x run): dims merged where contiguous. */
typedef struct {
  int nd;
  int64_t shape[EQ_MAX_DIMS], stride[EQ_MAX_DIMS]; /* elements */
  char *base;
  size_t es;
} boxwalk;

static void walk_init(boxwalk *w, const eq_tensor *v) {
  w->es = eq_dtype_size(v->dtype);
  w->base = eq_data_ptr(v);
  w->nd = 0;
  for (int d = 0; d < v->ndim; d++) {
    if (v->shape[d] == 1) continue;
    if (w->nd > 0 && w->stride[w->nd - 1] == v->stride[d] * v->shape[d]) {
      w->shape[w->nd - 1] *= v->shape[d];
      w->stride[w->nd - 1] = v->stride[d];
      continue;
    }
    w->shape[w->nd] = v->shape[d];
    w->stride[w->nd++] = v->stride[d];
  }
  if (w->nd == 0) {
    w->shape[0] = 1;
    w->stride[0] = 1;
    w->nd = 1;
  }
}

static bool walk_contiguous(const boxwalk *w) { return w->nd == 1 && w->stride[0] == 1; }

/* Copies elements [e0, e0 + n) of the box's C-order stream to (pack) or
 * from buf. */
static void walk_copy(const boxwalk *w, int64_t e0, int64_t n, char *buf, bool pack) {
  int last = w->nd - 1;
  int64_t L = w->shape[last], sL = w->stride[last];
  int64_t row = e0 / L, col = e0 % L;
  int64_t idx[EQ_MAX_DIMS], off = 0;
  for (int d = last - 1; d >= 0; d--) {
    idx[d] = row % w->shape[d];
    row /= w->shape[d];
    off += idx[d] * w->stride[d];
  }
  size_t es = w->es;
  while (n > 0) {
    if (col == 0 && sL == 1 && last > 0 && n >= L) {
      /* Whole rows up to the end of dim last - 1 in one go. */
      int64_t rows = w->shape[last - 1] - idx[last - 1];
      if (rows > n / L) rows = n / L;
      char *p = w->base + off * (int64_t)es;
      int64_t rs = w->stride[last - 1] * (int64_t)es, run = L * (int64_t)es;
      pack ? copy_runs(buf, run, p, rs, rows, (size_t)run) : copy_runs(p, rs, buf, run, rows, (size_t)run);
      buf += rows * run;
      n -= rows * L;
      off += (rows - 1) * w->stride[last - 1];
      idx[last - 1] += rows - 1;
      for (int d = last - 1; d >= 0; d--) {
        off += w->stride[d];
        if (++idx[d] < w->shape[d]) break;
        off -= w->shape[d] * w->stride[d];
        idx[d] = 0;
      }
      continue;
    }
    int64_t k = L - col < n ? L - col : n;
    char *p = w->base + (off + col * sL) * (int64_t)es;
    if (sL == 1)
      pack ? memcpy(buf, p, (size_t)k * es) : memcpy(p, buf, (size_t)k * es);
    else if (es == 4)
      for (int64_t i = 0; i < k; i++)
        pack ? (((uint32_t *)buf)[i] = *(uint32_t *)(p + i * sL * 4)) : (*(uint32_t *)(p + i * sL * 4) = ((uint32_t *)buf)[i]);
    else if (es == 8)
      for (int64_t i = 0; i < k; i++)
        pack ? (((uint64_t *)buf)[i] = *(uint64_t *)(p + i * sL * 8)) : (*(uint64_t *)(p + i * sL * 8) = ((uint64_t *)buf)[i]);
    else
      for (int64_t i = 0; i < k; i++)
        pack ? memcpy(buf + i * es, p + i * sL * (int64_t)es, es) : memcpy(p + i * sL * (int64_t)es, buf + i * es, es);
    buf += k * (int64_t)es;
    n -= k;
    col = 0;
    for (int d = last - 1; d >= 0; d--) {
      off += w->stride[d];
      if (++idx[d] < w->shape[d]) break;
      off -= w->shape[d] * w->stride[d];
      idx[d] = 0;
    }
  }
}

/* Bytes packed per message: two such buffers are the mover's only extra
 * memory, whatever the array size. Small enough that the rows a chunk
 * touches are still in cache for the matching slice of the local copy. */
#define DND_MOVE_CHUNK ((int64_t)2 << 20)

/* The local part of a move (x's box that stays on this rank), copied in row
 * slices along the box's first dim between the chunks of the first exchange
 * round: a slice reads the source rows the last chunk's packing just read
 * (0 -> 1) or writes the destination rows its unpacking just wrote (1 -> 0),
 * so they are copied from cache instead of memory. */
typedef struct {
  eq_tensor *src, *dst; /* box views, NULL when the box is empty */
  int64_t rows, done;
} local_part;

static eq_status local_upto(local_part *l, int64_t upto) {
  if (!l->src || upto <= l->done) return EQ_OK;
  eq_tensor *vs = eq_view_of(l->src), *vd = eq_view_of(l->dst);
  eq_status st = vs && vd ? EQ_OK : eq_error_code();
  if (!st) {
    eq_tensor *v[2] = {vs, vd}, *o[2] = {l->src, l->dst};
    for (int i = 0; i < 2; i++) {
      v[i]->ndim = o[i]->ndim;
      for (int d = 0; d < o[i]->ndim; d++) v[i]->shape[d] = o[i]->shape[d], v[i]->stride[d] = o[i]->stride[d];
      v[i]->offset = o[i]->offset + l->done * o[i]->stride[0];
      v[i]->shape[0] = upto - l->done;
    }
    st = copy_view(vd, vs);
  }
  eq_tensor_free(vs);
  eq_tensor_free(vd);
  if (!st) l->done = upto;
  return st;
}

/* P - 1 rounds of pairwise exchange (round k: send to me + k, receive from
 * me - k), each box streamed in bounded chunks; contiguous boxes are sent
 * and received in place without packing. */
static eq_status move_pairwise(const eq_dnd *x, layout s, layout t, eq_tensor *dst) {
  const eq_comm *c = x->comm;
  int P = c->size, me = c->rank;
  size_t es = eq_dtype_size(x->dtype);
  int64_t chunk = eq_comm_chunk_elems(es);
  if (chunk > DND_MOVE_CHUNK / (int64_t)es) chunk = DND_MOVE_CHUNK / (int64_t)es;
  if (chunk < 1) chunk = 1;
  char *sbuf = NULL, *rbuf = NULL;
  local_part lp = {NULL, NULL, 0, 0};
  eq_status st = EQ_OK;
  int64_t llo[EQ_MAX_DIMS], lhi[EQ_MAX_DIMS];
  if (box(x, s, t, me, me, llo, lhi)) {
    lp.src = box_view(x->local, x, s, me, llo, lhi);
    lp.dst = box_view(dst, x, t, me, llo, lhi);
    if (!lp.src || !lp.dst) st = eq_error_code();
    else lp.rows = lp.src->shape[0];
  }
  MPI_Datatype type = eq_comm_mpi_type(x->dtype);
  for (int k = 1; k < P && !st; k++) {
    int to = (me + k) % P, from = (me - k + P) % P;
    int64_t lo[EQ_MAX_DIMS], hi[EQ_MAX_DIMS], ns = 0, nr = 0;
    eq_tensor *sv = NULL, *rv = NULL;
    boxwalk sw, rw;
    if (box(x, s, t, me, to, lo, hi)) {
      sv = box_view(x->local, x, s, me, lo, hi);
      if (!sv) st = eq_error_code();
      else {
        walk_init(&sw, sv);
        ns = eq_numel(sv);
      }
    }
    if (!st && box(x, s, t, from, me, lo, hi)) {
      rv = box_view(dst, x, t, me, lo, hi);
      if (!rv) st = eq_error_code();
      else {
        walk_init(&rw, rv);
        nr = eq_numel(rv);
      }
    }
    bool s_direct = ns && walk_contiguous(&sw), r_direct = nr && walk_contiguous(&rw);
    if (!st && ((ns && !s_direct && !sbuf) || (nr && !r_direct && !rbuf))) {
      if (!sbuf) sbuf = malloc((size_t)chunk * es);
      if (!rbuf) rbuf = malloc((size_t)chunk * es);
      if (!sbuf || !rbuf) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_resplit: out of memory");
    }
    for (int64_t e = 0; !st && (e < ns || e < nr); e += chunk) {
      MPI_Request req[2];
      int nreq = 0, rc = MPI_SUCCESS;
      int64_t kr = nr - e < chunk ? nr - e : chunk, ks = ns - e < chunk ? ns - e : chunk;
      char *rp = NULL;
      if (kr > 0) {
        rp = r_direct ? rw.base + e * (int64_t)es : rbuf;
        rc = MPI_Irecv(rp, (int)kr, type, from, 902, c->mpi, &req[nreq++]);
      }
      if (rc == MPI_SUCCESS && ks > 0) {
        char *sp = s_direct ? sw.base + e * (int64_t)es : sbuf;
        if (!s_direct) walk_copy(&sw, e, ks, sbuf, true);
        rc = MPI_Isend(sp, (int)ks, type, to, 902, c->mpi, &req[nreq++]);
      }
      if (rc == MPI_SUCCESS) rc = MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
      if ((st = eq_comm_check(rc, "eq_dnd_resplit (MPI_Isend/Irecv)"))) break;
      if (kr > 0 && !r_direct) walk_copy(&rw, e, kr, rbuf, false);
      if (k == 1) {
        double total = (double)(ns > nr ? ns : nr), done = (double)(e + chunk) < total ? (double)(e + chunk) : total;
        st = local_upto(&lp, (int64_t)((double)lp.rows * (done / total)));
      }
    }
    eq_tensor_free(sv);
    eq_tensor_free(rv);
  }
  if (!st) st = local_upto(&lp, lp.rows);
  eq_tensor_free(lp.src);
  eq_tensor_free(lp.dst);
  free(sbuf);
  free(rbuf);
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
  } else {
    st = move_pairwise(x, s, t, y->local);
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
