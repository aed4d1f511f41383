/* Reductions: a local pass over (outer, n, inner) and, along the split axis,
 * one Allreduce of per-rank partials. Moments merge with Chan's pairwise
 * formula; arg-reductions carry global indices. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

typedef enum { R_SUM, R_PROD, R_MIN, R_MAX, R_ARGMIN, R_ARGMAX, R_ALL, R_ANY, R_MEAN, R_VAR } rkind;

typedef struct {
  double v;
  int64_t i;
} vl_f;
typedef struct {
  int64_t v;
  int64_t i;
} vl_i;
typedef struct {
  double n, mean, m2;
} moments;

static inline void chan_merge(moments *a, const moments *b) {
  if (b->n == 0) return;
  if (a->n == 0) {
    *a = *b;
    return;
  }
  double n = a->n + b->n, d = b->mean - a->mean;
  a->mean += d * (b->n / n);
  a->m2 += b->m2 + d * d * (a->n * b->n / n);
  a->n = n;
}

/* NaN counts as the extreme (NumPy propagates it); ties keep the first. */
static inline bool better_f(double v, int64_t vi, double best, int64_t bi, bool is_min) {
  if (v != v) return best == best || vi < bi;
  if (best != best) return false;
  if (v == best) return vi < bi;
  return is_min ? v < best : v > best;
}

static inline bool better_i(int64_t v, int64_t vi, int64_t best, int64_t bi, bool is_min) {
  if (v == best) return vi < bi;
  return is_min ? v < best : v > best;
}

/* ---------------------------------------------------------------- local kernels */

/* Loads element k of a typed buffer. */
#define LD(T, p, k) ((const T *)(p))[k]

/* Contiguous runs with 8 independent accumulators: without -ffast-math the
 * compiler keeps one serial add chain per loop, several times slower. */
#define DEF_RUNS(T, SUFFIX)                                                          \
  static inline double run_sum_##SUFFIX(const T *x, int64_t n) {                    \
    double a[8] = {0};                                                              \
    int64_t j = 0;                                                                  \
    for (; j + 8 <= n; j += 8)                                                      \
      for (int u = 0; u < 8; u++) a[u] += (double)x[j + u];                         \
    double s = 0;                                                                   \
    for (; j < n; j++) s += (double)x[j];                                           \
    return s + ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));  \
  }                                                                                 \
  static inline double run_sqdev_##SUFFIX(const T *x, int64_t n, double m) {        \
    double a[8] = {0};                                                              \
    int64_t j = 0;                                                                  \
    for (; j + 8 <= n; j += 8)                                                      \
      for (int u = 0; u < 8; u++) {                                                 \
        double d = (double)x[j + u] - m;                                            \
        a[u] += d * d;                                                              \
      }                                                                             \
    double s = 0;                                                                   \
    for (; j < n; j++) {                                                            \
      double d = (double)x[j] - m;                                                  \
      s += d * d;                                                                   \
    }                                                                               \
    return s + ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));  \
  }
DEF_RUNS(float, f32)
DEF_RUNS(double, f64)
DEF_RUNS(int64_t, i64)
DEF_RUNS(int32_t, i32)
DEF_RUNS(uint8_t, u8)

/* Sums / products / min / max / arg over axis, per type T with accumulator A. */
#define DEF_LOCAL(T, SUFFIX, A, ISFLOAT)                                                                       \
  static void sum_##SUFFIX(const void *xp, int64_t outer, int64_t n, int64_t inner, A *acc, bool prod) {      \
    const T *x = xp;                                                                                           \
    int64_t m = outer * inner;                                                                                 \
    for (int64_t k = 0; k < m; k++) acc[k] = prod ? 1 : 0;                                                     \
    int nt = omp_get_max_threads();                                                                            \
    A *part = NULL;                                                                                            \
    if (!(outer >= nt || outer * n * inner < 65536 || nt == 1))                                                \
      part = malloc(sizeof(A) * (size_t)(nt * m));                                                             \
    if (!part) {                                                                                               \
      _Pragma("omp parallel for schedule(static) if (outer >= nt && outer * n * inner >= 65536)")              \
      for (int64_t o = 0; o < outer; o++) {                                                                    \
        A *ao = acc + o * inner;                                                                               \
        const T *xo = x + o * n * inner;                                                                       \
        if (inner == 1) {                                                                                      \
          A s = prod ? 1 : 0;                                                                                  \
          if (prod)                                                                                            \
            for (int64_t j = 0; j < n; j++) s *= (A)xo[j];                                                     \
          else if (ISFLOAT)                                                                                    \
            s = (A)run_sum_##SUFFIX(xo, n);                                                                    \
          else                                                                                                 \
            for (int64_t j = 0; j < n; j++) s += (A)xo[j];                                                     \
          ao[0] = s;                                                                                           \
          continue;                                                                                            \
        }                                                                                                      \
        for (int64_t j = 0; j < n; j++) {                                                                      \
          const T *row = xo + j * inner;                                                                       \
          if (prod)                                                                                            \
            for (int64_t k = 0; k < inner; k++) ao[k] *= (A)row[k];                                            \
          else                                                                                                 \
            for (int64_t k = 0; k < inner; k++) ao[k] += (A)row[k];                                            \
        }                                                                                                      \
      }                                                                                                        \
      return;                                                                                                  \
    }                                                                                                          \
    /* Few outer rows: threads split the reduced axis, partials merge in thread order. */                     \
    _Pragma("omp parallel num_threads(nt)") {                                                                  \
      int t = omp_get_thread_num(), tn = omp_get_num_threads();                                                \
      A *pa = part + (int64_t)t * m;                                                                           \
      for (int64_t k = 0; k < m; k++) pa[k] = prod ? 1 : 0;                                                    \
      int64_t lo = n * t / tn, hi = n * (t + 1) / tn;                                                          \
      for (int64_t o = 0; o < outer; o++)                                                                      \
        for (int64_t j = lo; j < hi; j++) {                                                                    \
          const T *row = x + (o * n + j) * inner;                                                              \
          A *ao = pa + o * inner;                                                                              \
          if (prod)                                                                                            \
            for (int64_t k = 0; k < inner; k++) ao[k] *= (A)row[k];                                            \
          else                                                                                                 \
            for (int64_t k = 0; k < inner; k++) ao[k] += (A)row[k];                                            \
        }                                                                                                      \
    }                                                                                                          \
    for (int t = 0; t < nt; t++)                                                                               \
      for (int64_t k = 0; k < m; k++) acc[k] = prod ? acc[k] * part[(int64_t)t * m + k] : acc[k] + part[(int64_t)t * m + k]; \
    free(part);                                                                                                \
  }                                                                                                            \
  static void ext_##SUFFIX(const void *xp, int64_t outer, int64_t n, int64_t inner, A *best, int64_t *idx,     \
                           bool is_min) {                                                                      \
    const T *x = xp;                                                                                           \
    _Pragma("omp parallel for schedule(static) if (outer * n * inner >= 65536)")                               \
    for (int64_t o = 0; o < outer; o++) {                                                                      \
      for (int64_t k = 0; k < inner; k++) {                                                                    \
        A b = 0;                                                                                               \
        int64_t bi = -1;                                                                                       \
        for (int64_t j = 0; j < n; j++) {                                                                      \
          A v = (A)x[(o * n + j) * inner + k];                                                                 \
          if (bi < 0 || (ISFLOAT ? better_f((double)v, j, (double)b, bi, is_min)                               \
                                 : better_i((int64_t)v, j, (int64_t)b, bi, is_min))) {                          \
            b = v;                                                                                             \
            bi = j;                                                                                            \
          }                                                                                                    \
        }                                                                                                      \
        best[o * inner + k] = b;                                                                               \
        idx[o * inner + k] = bi;                                                                               \
      }                                                                                                        \
    }                                                                                                          \
  }                                                                                                            \
  static void mom_##SUFFIX(const void *xp, int64_t outer, int64_t n, int64_t inner, moments *out,              \
                          bool mean_only) {                                                                    \
    const T *x = xp;                                                                                           \
    int64_t m = outer * inner;                                                                                 \
    int nt = omp_get_max_threads();                                                                            \
    if (n * m < 65536) nt = 1;                                                                                 \
    if (outer >= nt || nt == 1) {                                                                              \
      /* Independent outputs per thread: two passes (mean, then squared deviations). */                       \
      _Pragma("omp parallel num_threads(nt)") {                                                                \
        double *s = malloc(sizeof(double) * (size_t)(2 * inner)), *q = s ? s + inner : NULL;                   \
        _Pragma("omp for schedule(static)")                                                                    \
        for (int64_t o = 0; o < outer; o++) {                                                                  \
          const T *xo = x + o * n * inner;                                                                     \
          moments *pm = out + o * inner;                                                                       \
          if (inner == 1) {                                                                                    \
            double mean = run_sum_##SUFFIX(xo, n) / (double)n;                                                 \
            pm[0] = (moments){(double)n, mean, mean_only ? 0 : run_sqdev_##SUFFIX(xo, n, mean)};               \
            continue;                                                                                          \
          }                                                                                                    \
          if (!s) {                                                                                            \
            for (int64_t k = 0; k < inner; k++) {                                                              \
              double sum = 0, m2 = 0;                                                                          \
              for (int64_t j = 0; j < n; j++) sum += (double)xo[j * inner + k];                                \
              double mean = sum / (double)n;                                                                   \
              if (!mean_only)                                                                                  \
                for (int64_t j = 0; j < n; j++) {                                                              \
                  double d = (double)xo[j * inner + k] - mean;                                                 \
                  m2 += d * d;                                                                                 \
                }                                                                                              \
              pm[k] = (moments){(double)n, mean, m2};                                                          \
            }                                                                                                  \
            continue;                                                                                          \
          }                                                                                                    \
          for (int64_t k = 0; k < inner; k++) s[k] = q[k] = 0;                                                 \
          for (int64_t j = 0; j < n; j++) {                                                                    \
            const T *row = xo + j * inner;                                                                     \
            for (int64_t k = 0; k < inner; k++) s[k] += (double)row[k];                                        \
          }                                                                                                    \
          for (int64_t k = 0; k < inner; k++) s[k] /= (double)n;                                               \
          if (!mean_only)                                                                                      \
            for (int64_t j = 0; j < n; j++) {                                                                  \
              const T *row = xo + j * inner;                                                                   \
              for (int64_t k = 0; k < inner; k++) {                                                            \
                double d = (double)row[k] - s[k];                                                              \
                q[k] += d * d;                                                                                 \
              }                                                                                                \
            }                                                                                                  \
          for (int64_t k = 0; k < inner; k++) pm[k] = (moments){(double)n, s[k], q[k]};                        \
        }                                                                                                      \
        free(s);                                                                                               \
      }                                                                                                        \
      return;                                                                                                  \
    }                                                                                                          \
    /* Few outputs: threads split the reduced axis; per-thread moments merge (Chan). */                       \
    moments *part = calloc((size_t)(nt * m), sizeof(moments));                                                 \
    double *tmp = calloc((size_t)(nt * inner), sizeof(double));                                                \
    if (!part || !tmp) {                                                                                       \
      free(part);                                                                                              \
      free(tmp);                                                                                               \
      for (int64_t k = 0; k < m; k++) out[k] = (moments){0, NAN, NAN};                                         \
      return;                                                                                                  \
    }                                                                                                          \
    _Pragma("omp parallel num_threads(nt)") {                                                                  \
      int t = omp_get_thread_num(), tn = omp_get_num_threads();                                                \
      int64_t lo = n * t / tn, hi = n * (t + 1) / tn;                                                          \
      double *s = tmp + (int64_t)t * inner;                                                                    \
      for (int64_t o = 0; o < outer; o++) {                                                                    \
        moments *pm = part + (int64_t)t * m + o * inner;                                                       \
        if (hi <= lo) continue;                                                                                \
        for (int64_t k = 0; k < inner; k++) s[k] = 0;                                                          \
        for (int64_t j = lo; j < hi; j++) {                                                                    \
          const T *row = x + (o * n + j) * inner;                                                              \
          for (int64_t k = 0; k < inner; k++) s[k] += (double)row[k];                                          \
        }                                                                                                      \
        double cnt = (double)(hi - lo);                                                                        \
        for (int64_t k = 0; k < inner; k++) {                                                                  \
          pm[k].n = cnt;                                                                                       \
          pm[k].mean = s[k] / cnt;                                                                             \
          s[k] = 0;                                                                                            \
        }                                                                                                      \
        if (!mean_only)                                                                                        \
          for (int64_t j = lo; j < hi; j++) {                                                                  \
            const T *row = x + (o * n + j) * inner;                                                            \
            for (int64_t k = 0; k < inner; k++) {                                                              \
              double d = (double)row[k] - pm[k].mean;                                                          \
              s[k] += d * d;                                                                                   \
            }                                                                                                  \
          }                                                                                                    \
        for (int64_t k = 0; k < inner; k++) pm[k].m2 = s[k];                                                   \
      }                                                                                                        \
    }                                                                                                          \
    for (int64_t k = 0; k < m; k++) {                                                                          \
      out[k] = (moments){0, 0, 0};                                                                             \
      for (int t = 0; t < nt; t++) chan_merge(&out[k], &part[(int64_t)t * m + k]);                             \
    }                                                                                                          \
    free(part);                                                                                                \
    free(tmp);                                                                                                 \
  }

DEF_LOCAL(float, f32, double, 1)
DEF_LOCAL(double, f64, double, 1)
DEF_LOCAL(int64_t, i64, int64_t, 0)
DEF_LOCAL(int32_t, i32, int64_t, 0)
DEF_LOCAL(uint8_t, u8, int64_t, 0)

/* ---------------------------------------------------------------- MPI ops */

static void vl_reduce(void *in, void *inout, int *len, bool is_float, bool is_min) {
  for (int k = 0; k < *len; k++) {
    if (is_float) {
      vl_f *a = (vl_f *)in + k, *b = (vl_f *)inout + k;
      if (a->i >= 0 && (b->i < 0 || better_f(a->v, a->i, b->v, b->i, is_min))) *b = *a;
    } else {
      vl_i *a = (vl_i *)in + k, *b = (vl_i *)inout + k;
      if (a->i >= 0 && (b->i < 0 || better_i(a->v, a->i, b->v, b->i, is_min))) *b = *a;
    }
  }
}
static void op_fmin(void *a, void *b, int *n, MPI_Datatype *t) { vl_reduce(a, b, n, true, true); }
static void op_fmax(void *a, void *b, int *n, MPI_Datatype *t) { vl_reduce(a, b, n, true, false); }
static void op_imin(void *a, void *b, int *n, MPI_Datatype *t) { vl_reduce(a, b, n, false, true); }
static void op_imax(void *a, void *b, int *n, MPI_Datatype *t) { vl_reduce(a, b, n, false, false); }
static void op_moments(void *in, void *inout, int *len, MPI_Datatype *t) {
  /* MPI applies a non-commutative op as inout = in (+) inout with `in` from
   * the lower ranks. */
  for (int k = 0; k < *len; k++) {
    moments a = ((moments *)in)[k];
    chan_merge(&a, (moments *)inout + k);
    ((moments *)inout)[k] = a;
  }
}

static MPI_Op g_ops[5];
static MPI_Datatype g_t16, g_t24;

static eq_status custom_allreduce(const eq_comm *c, void *buf, int64_t count, int which) {
  if (c->size == 1 || count == 0) return EQ_OK;
  if (!g_t16) {
    MPI_Type_contiguous(2, MPI_INT64_T, &g_t16);
    MPI_Type_commit(&g_t16);
    MPI_Type_contiguous(3, MPI_DOUBLE, &g_t24);
    MPI_Type_commit(&g_t24);
    MPI_Op_create(op_fmin, 0, &g_ops[0]);
    MPI_Op_create(op_fmax, 0, &g_ops[1]);
    MPI_Op_create(op_imin, 0, &g_ops[2]);
    MPI_Op_create(op_imax, 0, &g_ops[3]);
    MPI_Op_create(op_moments, 0, &g_ops[4]);
  }
  size_t es = which == 4 ? 24 : 16;
  int64_t chunk = eq_comm_chunk_elems(es);
  for (int64_t at = 0; at < count; at += chunk) {
    int n = (int)(count - at < chunk ? count - at : chunk);
    eq_status st = eq_comm_check(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + at * es, n, which == 4 ? g_t24 : g_t16,
                                               g_ops[which], c->mpi),
                                 "MPI_Allreduce");
    if (st) return st;
  }
  return EQ_OK;
}

/* ---------------------------------------------------------------- driver */

static int64_t global_flat(int64_t i, int64_t cnt, int64_t n_axis, int64_t off, int64_t inner) {
  if (cnt == 0) return 0;
  int64_t block = cnt * inner;
  int64_t o = i / block, rem = i % block;
  return (o * n_axis + off + rem / inner) * inner + rem % inner;
}

static eq_dnd *reduce(const char *name, const eq_dnd *x, int axis, bool keepdims, rkind kind, int64_t ddof,
                      bool want_std) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "%s: NULL array", name);
  bool all_axes = axis == EQ_DND_ALL_AXES || x->ndim == 0;
  int ax = 0;
  if (!all_axes && dnd_check_axis(name, x, axis, &ax)) return NULL;
  eq_dtype d = x->dtype;
  if (d == EQ_BF16 || d == EQ_F16) return DND_FAIL(EQ_ERR_DTYPE, "%s: %s is storage only", name, eq_dtype_name(d));
  bool isf = eq_dtype_is_float(d);
  const eq_tensor *L = x->local;
  int64_t outer, n, inner;
  if (all_axes) {
    outer = 1;
    n = eq_numel(L);
    inner = 1;
  } else {
    outer = dnd_outer(L, ax);
    n = L->shape[ax];
    inner = dnd_inner(L, ax);
  }
  bool across = x->split != EQ_DND_NONE && (all_axes || ax == x->split) && x->comm->size > 1;
  /* Result layout. */
  int rnd = 0, rsplit = EQ_DND_NONE;
  int64_t rshape[EQ_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) {
    if (all_axes || i == ax) {
      if (keepdims) rshape[rnd++] = 1;
      continue;
    }
    if (i == x->split) rsplit = rnd;
    rshape[rnd++] = x->shape[i];
  }
  eq_dtype rd;
  switch (kind) {
  case R_SUM:
  case R_PROD: rd = isf ? d : EQ_I64; break;
  case R_MIN:
  case R_MAX: rd = d; break;
  case R_ARGMIN:
  case R_ARGMAX: rd = EQ_I64; break;
  case R_ALL:
  case R_ANY: rd = EQ_BOOL; break;
  default: rd = isf ? d : EQ_F64;
  }
  if ((kind == R_MIN || kind == R_MAX || kind == R_ARGMIN || kind == R_ARGMAX) && !all_axes &&
      x->shape[ax] == 0)
    return DND_FAIL(EQ_ERR_SHAPE, "%s: reduction over the empty axis %d has no identity", name, ax);
  if ((kind == R_MIN || kind == R_MAX || kind == R_ARGMIN || kind == R_ARGMAX) && all_axes && eq_dnd_numel(x) == 0)
    return DND_FAIL(EQ_ERR_SHAPE, "%s: reduction of an empty array has no identity", name);
  eq_dnd *r = dnd_new(rd, rnd, rshape, rsplit, rsplit == EQ_DND_NONE ? NULL : x->counts, x->comm);
  if (!r) return NULL;
  int64_t m = outer * inner;
  /* The offset that turns a local index along the axis into a global one. */
  int64_t off = x->split != EQ_DND_NONE && !all_axes && ax == x->split ? x->offsets[x->comm->rank] : 0;
  const void *xp = eq_data_ptr(L);
  eq_status st = EQ_OK;
  void *acc = NULL;
  char *out = eq_data_ptr(r->local);
#define DISPATCH(FN, ...)                                                                 \
  switch (d) {                                                                            \
  case EQ_F32: FN##_f32(__VA_ARGS__); break;                                              \
  case EQ_F64: FN##_f64(__VA_ARGS__); break;                                              \
  case EQ_I64: FN##_i64(__VA_ARGS__); break;                                              \
  case EQ_I32: FN##_i32(__VA_ARGS__); break;                                              \
  default: FN##_u8(__VA_ARGS__); break;                                                   \
  }
  if (kind == R_SUM || kind == R_PROD) {
    acc = malloc(8 * (size_t)(m ? m : 1));
    if (!acc) goto oom;
    DISPATCH(sum, xp, outer, n, inner, acc, kind == R_PROD);
    if (across)
      st = eq_comm_allreduce(x->comm, acc, m, isf ? EQ_F64 : EQ_I64, kind == R_SUM ? EQ_REDUCE_SUM : EQ_REDUCE_PROD);
    for (int64_t k = 0; k < m && !st; k++) {
      if (isf)
        eq_store_from_double(out + k * eq_dtype_size(rd), rd, ((double *)acc)[k]);
      else
        ((int64_t *)out)[k] = ((int64_t *)acc)[k];
    }
  } else if (kind == R_ALL || kind == R_ANY) {
    /* min / max of (x != 0). */
    uint8_t *b = (uint8_t *)out;
    for (int64_t k = 0; k < m; k++) b[k] = kind == R_ALL;
    size_t es = eq_dtype_size(d);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < n; j++)
        for (int64_t k = 0; k < inner; k++) {
          bool t = eq_load_as_double((const char *)xp + ((o * n + j) * inner + k) * es, d) != 0;
          if (kind == R_ALL && !t) b[o * inner + k] = 0;
          if (kind == R_ANY && t) b[o * inner + k] = 1;
        }
    if (across) st = eq_comm_allreduce(x->comm, b, m, EQ_U8, kind == R_ALL ? EQ_REDUCE_MIN : EQ_REDUCE_MAX);
  } else if (kind == R_MEAN || kind == R_VAR) {
    moments *mo = eq_malloc(sizeof(moments) * (size_t)(m ? m : 1)); /* huge pages where large */
    acc = mo;
    if (!mo) goto oom;
    if (n == 0)
      for (int64_t k = 0; k < m; k++) mo[k] = (moments){0, 0, 0};
    else
      DISPATCH(mom, xp, outer, n, inner, mo, kind == R_MEAN);
    if (across) st = custom_allreduce(x->comm, mo, m, 4);
    for (int64_t k = 0; k < m && !st; k++) {
      double v;
      if (kind == R_MEAN)
        v = mo[k].n > 0 ? mo[k].mean : NAN;
      else {
        double den = mo[k].n - (double)ddof;
        v = den > 0 ? mo[k].m2 / den : NAN;
        if (want_std) v = sqrt(v);
      }
      if (rd == EQ_F32)
        ((float *)out)[k] = (float)v;
      else
        ((double *)out)[k] = v;
    }
  } else {
    bool is_min = kind == R_MIN || kind == R_ARGMIN;
    acc = malloc(16 * (size_t)(m ? m : 1));
    if (!acc) goto oom;
    /* vl pairs: values then indices in separate halves first, then interleave. */
    void *best = acc;
    int64_t *idx = malloc(8 * (size_t)(m ? m : 1));
    if (!idx) goto oom;
    if (n > 0) {
      DISPATCH(ext, xp, outer, n, inner, best, idx, is_min);
    } else {
      for (int64_t k = 0; k < m; k++) idx[k] = -1;
    }
    /* Interleave into (value, global index) pairs from the end backwards. */
    vl_f *pf = acc;
    vl_i *pi = acc;
    for (int64_t k = m - 1; k >= 0; k--) {
      int64_t gi = idx[k] < 0 ? -1 : idx[k] + off;
      if (all_axes && idx[k] >= 0 && x->split != EQ_DND_NONE)
        gi = global_flat(idx[k], L->shape[x->split], x->shape[x->split], x->offsets[x->comm->rank],
                         dnd_inner(L, x->split));
      if (isf) {
        double v = ((double *)best)[k];
        pf[k] = (vl_f){v, gi};
      } else {
        int64_t v = ((int64_t *)best)[k];
        pi[k] = (vl_i){v, gi};
      }
    }
    free(idx);
    if (across) st = custom_allreduce(x->comm, acc, m, (isf ? 0 : 2) + (is_min ? 0 : 1));
    for (int64_t k = 0; k < m && !st; k++) {
      if (kind == R_ARGMIN || kind == R_ARGMAX)
        ((int64_t *)out)[k] = isf ? pf[k].i : pi[k].i;
      else if (isf)
        eq_store_from_double(out + k * eq_dtype_size(rd), rd, pf[k].v);
      else if (rd == EQ_I64)
        ((int64_t *)out)[k] = pi[k].v; /* exact beyond 2^53 */
      else
        eq_store_from_double(out + k * eq_dtype_size(rd), rd, (double)pi[k].v);
    }
  }
#undef DISPATCH
  free(acc);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
oom:
  free(acc);
  eq_dnd_free(r);
  return DND_FAIL(EQ_ERR_MEMORY, "%s: out of memory", name);
}

eq_dnd *eq_dnd_sum(const eq_dnd *x, int axis, bool keepdims) { return reduce("eq_dnd_sum", x, axis, keepdims, R_SUM, 0, false); }
eq_dnd *eq_dnd_prod(const eq_dnd *x, int axis, bool keepdims) { return reduce("eq_dnd_prod", x, axis, keepdims, R_PROD, 0, false); }
eq_dnd *eq_dnd_mean(const eq_dnd *x, int axis, bool keepdims) { return reduce("eq_dnd_mean", x, axis, keepdims, R_MEAN, 0, false); }
eq_dnd *eq_dnd_var(const eq_dnd *x, int axis, int64_t ddof, bool keepdims) {
  return reduce("eq_dnd_var", x, axis, keepdims, R_VAR, ddof, false);
}
eq_dnd *eq_dnd_std(const eq_dnd *x, int axis, int64_t ddof, bool keepdims) {
  return reduce("eq_dnd_std", x, axis, keepdims, R_VAR, ddof, true);
}
eq_dnd *eq_dnd_min(const eq_dnd *x, int axis, bool keepdims) { return reduce("eq_dnd_min", x, axis, keepdims, R_MIN, 0, false); }
eq_dnd *eq_dnd_max(const eq_dnd *x, int axis, bool keepdims) { return reduce("eq_dnd_max", x, axis, keepdims, R_MAX, 0, false); }
eq_dnd *eq_dnd_argmin(const eq_dnd *x, int axis, bool keepdims) {
  return reduce("eq_dnd_argmin", x, axis, keepdims, R_ARGMIN, 0, false);
}
eq_dnd *eq_dnd_argmax(const eq_dnd *x, int axis, bool keepdims) {
  return reduce("eq_dnd_argmax", x, axis, keepdims, R_ARGMAX, 0, false);
}
eq_dnd *eq_dnd_all(const eq_dnd *x, int axis, bool keepdims) { return reduce("eq_dnd_all", x, axis, keepdims, R_ALL, 0, false); }
eq_dnd *eq_dnd_any(const eq_dnd *x, int axis, bool keepdims) { return reduce("eq_dnd_any", x, axis, keepdims, R_ANY, 0, false); }

/* ---------------------------------------------------------------- scans */

static eq_dnd *scan(const char *name, const eq_dnd *x, int axis, bool prod) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "%s: NULL array", name);
  int ax;
  if (dnd_check_axis(name, x, axis, &ax)) return NULL;
  bool isf = eq_dtype_is_float(x->dtype);
  eq_dtype rd = isf ? x->dtype : EQ_I64;
  eq_dnd *r = dnd_new(rd, x->ndim, x->shape, x->split, x->counts, x->comm);
  if (!r) return NULL;
  const eq_tensor *L = x->local;
  int64_t outer = dnd_outer(L, ax), n = L->shape[ax], inner = dnd_inner(L, ax), m = outer * inner;
  size_t es = eq_dtype_size(x->dtype), rs = eq_dtype_size(rd);
  const char *xp = eq_data_ptr(L);
  char *op = eq_data_ptr(r->local);
  bool across = x->split == ax && x->comm->size > 1;
  void *tot = malloc(8 * (size_t)(m ? m : 1)), *pre = malloc(8 * (size_t)(m ? m : 1));
  if (!tot || !pre) {
    free(tot);
    free(pre);
    eq_dnd_free(r);
    return DND_FAIL(EQ_ERR_MEMORY, "%s: out of memory", name);
  }
#pragma omp parallel for schedule(static) if (outer * n * inner >= 65536)
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < inner; k++) {
      double sd = prod ? 1 : 0;
      int64_t si = prod ? 1 : 0;
      for (int64_t j = 0; j < n; j++) {
        int64_t e = (o * n + j) * inner + k;
        if (isf) {
          double v = eq_load_as_double(xp + e * es, x->dtype);
          sd = prod ? sd * v : sd + v;
          eq_store_from_double(op + e * rs, rd, sd);
        } else {
          int64_t v = x->dtype == EQ_I64 ? ((const int64_t *)xp)[e] : (int64_t)eq_load_as_double(xp + e * es, x->dtype);
          si = prod ? (int64_t)((uint64_t)si * (uint64_t)v) : (int64_t)((uint64_t)si + (uint64_t)v);
          ((int64_t *)op)[e] = si;
        }
      }
      if (isf)
        ((double *)tot)[o * inner + k] = sd;
      else
        ((int64_t *)tot)[o * inner + k] = si;
    }
  eq_status st = EQ_OK;
  if (across) {
    /* Block totals of the lower ranks, then fold them into this block. */
    eq_dtype td = isf ? EQ_F64 : EQ_I64;
    st = eq_comm_exscan(x->comm, tot, pre, m, td, prod ? EQ_REDUCE_PROD : EQ_REDUCE_SUM);
    for (int64_t o = 0; o < outer && !st; o++)
      for (int64_t j = 0; j < n; j++)
        for (int64_t k = 0; k < inner; k++) {
          int64_t e = (o * n + j) * inner + k;
          if (isf) {
            double p = ((double *)pre)[o * inner + k], v = eq_load_as_double(op + e * rs, rd);
            eq_store_from_double(op + e * rs, rd, prod ? p * v : p + v);
          } else {
            int64_t p = ((int64_t *)pre)[o * inner + k];
            int64_t *v = (int64_t *)op + e;
            *v = prod ? (int64_t)((uint64_t)*v * (uint64_t)p) : (int64_t)((uint64_t)*v + (uint64_t)p);
          }
        }
  }
  free(tot);
  free(pre);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}

eq_dnd *eq_dnd_cumsum(const eq_dnd *x, int axis) { return scan("eq_dnd_cumsum", x, axis, false); }
eq_dnd *eq_dnd_cumprod(const eq_dnd *x, int axis) { return scan("eq_dnd_cumprod", x, axis, true); }

eq_status eq_dnd_item(const eq_dnd *x, double *out) {
  if (!x) return eq_error(EQ_ERR_VALUE, "eq_dnd_item: NULL array");
  if (eq_dnd_numel(x) != 1) {
    char b[128];
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_item: %s does not have exactly one element", eq_dnd_str(x, b, sizeof b));
  }
  double v = eq_numel(x->local) ? eq_get_flat(x->local, 0) : 0;
  if (x->split != EQ_DND_NONE) {
    int owner = 0;
    while (x->counts[owner] == 0) owner++;
    eq_status st = eq_comm_bcast(x->comm, &v, 1, EQ_F64, owner);
    if (st) return st;
  }
  *out = v;
  return EQ_OK;
}
