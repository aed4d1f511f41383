/* Factories: each rank computes only its own block, from global indices. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

eq_dnd *eq_dnd_empty(eq_dtype dtype, int ndim, const int64_t *shape, int split, const eq_comm *comm) {
  return dnd_new(dtype, ndim, shape, split, NULL, comm);
}

eq_dnd *eq_dnd_full(eq_dtype dtype, int ndim, const int64_t *shape, double value, int split,
                    const eq_comm *comm) {
  eq_dnd *x = dnd_new(dtype, ndim, shape, split, NULL, comm);
  if (x && eq_fill_(x->local, value)) {
    eq_dnd_free(x);
    return NULL;
  }
  return x;
}

eq_dnd *eq_dnd_zeros(eq_dtype dtype, int ndim, const int64_t *shape, int split, const eq_comm *comm) {
  return eq_dnd_full(dtype, ndim, shape, 0, split, comm);
}

eq_dnd *eq_dnd_ones(eq_dtype dtype, int ndim, const int64_t *shape, int split, const eq_comm *comm) {
  return eq_dnd_full(dtype, ndim, shape, 1, split, comm);
}

static eq_dnd *like(const eq_dnd *x, bool fill, double value) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_*_like: NULL array");
  eq_dnd *y = dnd_new(x->dtype, x->ndim, x->shape, x->split, x->counts, x->comm);
  if (y && fill && eq_fill_(y->local, value)) {
    eq_dnd_free(y);
    return NULL;
  }
  return y;
}

eq_dnd *eq_dnd_empty_like(const eq_dnd *x) { return like(x, false, 0); }
eq_dnd *eq_dnd_zeros_like(const eq_dnd *x) { return like(x, true, 0); }
eq_dnd *eq_dnd_ones_like(const eq_dnd *x) { return like(x, true, 1); }
eq_dnd *eq_dnd_full_like(const eq_dnd *x, double value) { return like(x, true, value); }

/* Fills a 1-d array's block with f(global index). */
static eq_dnd *range_1d(int64_t n, eq_dtype dtype, int split, const eq_comm *comm, double start, double step,
                        double last, bool fix_last, double base, bool log) {
  if (split != EQ_DND_NONE && split != 0)
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd range: split %d for a 1-d array", split);
  eq_dnd *x = dnd_new(dtype, 1, &n, split, NULL, comm);
  if (!x) return NULL;
  int64_t off = split == EQ_DND_NONE ? 0 : x->offsets[x->comm->rank];
  int64_t m = x->local->shape[0];
  char *p = eq_data_ptr(x->local);
  size_t es = eq_dtype_size(dtype);
  for (int64_t i = 0; i < m; i++) {
    int64_t g = off + i;
    double v = fix_last && g == n - 1 ? last : start + (double)g * step;
    if (log) v = pow(base, v);
    eq_store_from_double(p + i * es, dtype, v);
  }
  return x;
}

eq_dnd *eq_dnd_arange(double start, double stop, double step, eq_dtype dtype, int split, const eq_comm *comm) {
  if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step))
    return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_arange: invalid range start=%g stop=%g step=%g", start, stop, step);
  double len = ceil((stop - start) / step);
  int64_t n = len > 0 ? (int64_t)len : 0;
  return range_1d(n, dtype, split, comm, start, step, 0, false, 0, false);
}

eq_dnd *eq_dnd_linspace(double start, double stop, int64_t num, bool endpoint, eq_dtype dtype, int split,
                        const eq_comm *comm) {
  if (num < 0) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_linspace: num %lld < 0", (long long)num);
  int64_t div = endpoint ? num - 1 : num;
  double step = div > 0 ? (stop - start) / (double)div : 0;
  return range_1d(num, dtype, split, comm, start, step, stop, endpoint && num > 1, 0, false);
}

eq_dnd *eq_dnd_logspace(double start, double stop, int64_t num, bool endpoint, double base, eq_dtype dtype,
                        int split, const eq_comm *comm) {
  if (num < 0) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_logspace: num %lld < 0", (long long)num);
  int64_t div = endpoint ? num - 1 : num;
  double step = div > 0 ? (stop - start) / (double)div : 0;
  return range_1d(num, dtype, split, comm, start, step, stop, endpoint && num > 1, base, true);
}

eq_dnd *eq_dnd_eye(int64_t n, int64_t m, eq_dtype dtype, int split, const eq_comm *comm) {
  if (m <= 0) m = n;
  eq_dnd *x = eq_dnd_zeros(dtype, 2, (int64_t[]){n, m}, split, comm);
  if (!x) return NULL;
  int64_t r0 = split == 0 ? x->offsets[x->comm->rank] : 0, c0 = split == 1 ? x->offsets[x->comm->rank] : 0;
  for (int64_t i = 0; i < x->local->shape[0]; i++) {
    int64_t j = r0 + i - c0;
    if (j >= 0 && j < x->local->shape[1]) eq_set_flat(x->local, i * x->local->shape[1] + j, 1);
  }
  return x;
}

eq_dnd *eq_dnd_from_tensor(const eq_tensor *full, int split, const eq_comm *comm) {
  if (!full) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_from_tensor: NULL tensor");
  eq_dnd *x = dnd_alloc(full->dtype, full->ndim, full->shape, split, NULL, comm);
  if (!x) return NULL;
  eq_tensor *v = split == EQ_DND_NONE ? eq_view_of(full)
                                      : dnd_local_rows_view(&(eq_dnd){.local = (eq_tensor *)full}, split,
                                                            x->offsets[x->comm->rank],
                                                            x->offsets[x->comm->rank + 1]);
  x->local = dnd_materialize(v);
  if (!x->local) {
    free(x);
    return NULL;
  }
  return x;
}

eq_dnd *eq_dnd_from_local(eq_tensor *local, int split, const eq_comm *comm) {
  if (!local) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_from_local: NULL tensor");
  if (!comm) comm = eq_comm_world();
  if (split != EQ_DND_NONE && (split < 0 || split >= local->ndim))
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_from_local: split %d out of range for a %d-d block", split, local->ndim);
  int P = comm->size;
  int64_t shape[EQ_MAX_DIMS];
  memcpy(shape, local->shape, sizeof shape);
  int64_t *counts = NULL;
  if (split != EQ_DND_NONE) {
    /* Everyone's (ndim, dtype, shape) to check consistency and build the map. */
    int64_t mine[EQ_MAX_DIMS + 2] = {local->ndim, local->dtype};
    for (int i = 0; i < local->ndim; i++) mine[2 + i] = local->shape[i];
    int64_t *all = calloc((size_t)P * (EQ_MAX_DIMS + 2), sizeof(int64_t));
    counts = calloc((size_t)P, sizeof(int64_t));
    if (!all || !counts) {
      free(all);
      free(counts);
      return DND_FAIL(EQ_ERR_MEMORY, "eq_dnd_from_local: out of memory");
    }
    if (eq_comm_allgather(comm, mine, all, EQ_MAX_DIMS + 2, EQ_I64)) {
      free(all);
      free(counts);
      return NULL;
    }
    int64_t total = 0;
    for (int r = 0; r < P; r++) {
      const int64_t *o = all + (size_t)r * (EQ_MAX_DIMS + 2);
      bool ok = o[0] == local->ndim && o[1] == local->dtype;
      for (int i = 0; ok && i < local->ndim; i++)
        if (i != split && o[2 + i] != local->shape[i]) ok = false;
      if (!ok) {
        char b[96];
        eq_error(EQ_ERR_SHAPE,
                 "eq_dnd_from_local: rank %d's block (ndim %lld, %s) does not match this rank's %s %s outside "
                 "split axis %d",
                 r, (long long)o[0], eq_dtype_name((eq_dtype)o[1]), eq_shape_str(local, b, sizeof b),
                 eq_dtype_name(local->dtype), split);
        free(all);
        free(counts);
        return NULL;
      }
      counts[r] = o[2 + split];
      total += counts[r];
    }
    shape[split] = total;
    free(all);
  }
  eq_tensor *t = eq_is_contiguous(local) ? eq_view_of(local) : dnd_materialize(eq_view_of(local));
  eq_dnd *x = t ? dnd_wrap(t, local->ndim, shape, split, counts, comm) : NULL;
  free(counts);
  return x;
}

/* ---------------------------------------------------------------- random */

typedef enum { RAND_UNIFORM, RAND_NORMAL, RAND_INT } rand_kind;

/* Global C-order index of local element i (local contiguous). */
static inline int64_t global_flat(int64_t i, int64_t cnt, int64_t n_axis, int64_t off, int64_t inner) {
  if (cnt == 0) return 0;
  int64_t block = cnt * inner;
  int64_t o = i / block, rem = i % block;
  return (o * n_axis + off + rem / inner) * inner + rem % inner;
}

static eq_dnd *rand_dnd(eq_dtype dtype, int ndim, const int64_t *shape, double a, double b, uint64_t seed,
                        uint64_t stream, int split, const eq_comm *comm, rand_kind kind) {
  if (kind != RAND_INT && !eq_dtype_is_float(dtype))
    return DND_FAIL(EQ_ERR_DTYPE, "eq_dnd_rand: dtype %s is not floating point", eq_dtype_name(dtype));
  eq_dnd *x = dnd_new(dtype, ndim, shape, split, NULL, comm);
  if (!x) return NULL;
  int64_t n = eq_numel(x->local);
  int ax = split == EQ_DND_NONE ? 0 : split;
  int64_t cnt = ndim ? x->local->shape[ax] : 1, nax = ndim ? shape[ax] : 1;
  int64_t off = split == EQ_DND_NONE ? 0 : x->offsets[x->comm->rank];
  int64_t inner = ndim ? dnd_inner(x->local, ax) : 1;
  char *p = eq_data_ptr(x->local);
  size_t es = eq_dtype_size(dtype);
  uint64_t range = kind == RAND_INT ? (uint64_t)((int64_t)b - (int64_t)a) : 0;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) {
    int64_t g = global_flat(i, cnt, nax, off, inner);
    uint32_t w[4];
    eq_philox_at(seed, stream, (uint64_t)g, w);
    double v;
    /* The same transforms as eq_rand_uniform / eq_rand_normal. */
    if (kind == RAND_NORMAL) {
      double u1 = ((double)w[0] + 1.0) * (1.0 / 4294967296.0);
      double u2 = (double)w[1] * (1.0 / 4294967296.0);
      v = a + b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    } else if (kind == RAND_UNIFORM) {
      double u = ((double)(((uint64_t)w[0] << 21) ^ (w[1] >> 11)) * (1.0 / 9007199254740992.0));
      v = a + (b - a) * u;
    } else {
      /* 64 random bits mod range: bias below 2^-32 for ranges under 2^32. */
      uint64_t r = ((uint64_t)w[0] << 32 | w[1]) % range;
      int64_t iv = (int64_t)a + (int64_t)r;
      if (dtype == EQ_I64) {
        ((int64_t *)p)[i] = iv;
        continue;
      }
      v = (double)iv;
    }
    if (dtype == EQ_F32)
      ((float *)p)[i] = (float)v;
    else
      eq_store_from_double(p + i * es, dtype, v);
  }
  return x;
}

eq_dnd *eq_dnd_rand_uniform(eq_dtype dtype, int ndim, const int64_t *shape, double lo, double hi, uint64_t seed,
                            uint64_t stream, int split, const eq_comm *comm) {
  return rand_dnd(dtype, ndim, shape, lo, hi, seed, stream, split, comm, RAND_UNIFORM);
}

eq_dnd *eq_dnd_rand_normal(eq_dtype dtype, int ndim, const int64_t *shape, double mean, double std, uint64_t seed,
                           uint64_t stream, int split, const eq_comm *comm) {
  return rand_dnd(dtype, ndim, shape, mean, std, seed, stream, split, comm, RAND_NORMAL);
}

eq_dnd *eq_dnd_randint(eq_dtype dtype, int ndim, const int64_t *shape, int64_t lo, int64_t hi, uint64_t seed,
                       uint64_t stream, int split, const eq_comm *comm) {
  if (hi <= lo) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_randint: empty range [%lld, %lld)", (long long)lo, (long long)hi);
  return rand_dnd(dtype, ndim, shape, (double)lo, (double)hi, seed, stream, split, comm, RAND_INT);
}
