/* Validation, collective error agreement and reductions shared by the
 * algorithms (common.h). */
#include "algo/common.h"

#include <math.h>
#include <omp.h>
#include <string.h>

void eq_rows_block(int64_t n, int rank, int size, int64_t *start, int64_t *count) {
  int64_t chunk = n / size, rem = n % size;
  if (rank < rem) {
    *count = chunk + 1;
    *start = rank * (chunk + 1);
  } else {
    *count = chunk;
    *start = rank * chunk + rem;
  }
}

eq_status eq_algo_agree(const char *op, MPI_Comm comm, eq_status st) {
  if (comm == MPI_COMM_SELF) return st; /* replicated data: nobody to ask (and MPI may be off) */
  int mine = (int)st, worst = mine;
  if (MPI_Allreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
    return eq_error(EQ_ERR_MPI, "%s: MPI_Allreduce failed while agreeing on errors", op);
  if (worst != EQ_OK && mine == EQ_OK)
    return eq_error((eq_status)worst, "%s: failed on another rank: %s", op,
                    eq_status_name((eq_status)worst));
  return (eq_status)worst;
}

static eq_status check_local(eq_mat *m, const char *op, const char *what, eq_rows r, int flags) {
  const eq_tensor *t = r.local;
  if (!t) return eq_error(EQ_ERR_VALUE, "%s: %s is NULL", op, what);
  char buf[96];
  if ((flags & EQ_MAT_1D) && t->ndim != 1)
    return eq_error(EQ_ERR_SHAPE, "%s: %s must be 1-D, got shape %s", op, what,
                    eq_shape_str(t, buf, sizeof buf));
  if ((flags & EQ_MAT_2D) && t->ndim != 2)
    return eq_error(EQ_ERR_SHAPE, "%s: %s must be 2-D (samples, features), got shape %s", op,
                    what, eq_shape_str(t, buf, sizeof buf));
  if ((flags & EQ_MAT_1D_OR_2D) && t->ndim != 1 && t->ndim != 2)
    return eq_error(EQ_ERR_SHAPE, "%s: %s must be 1-D or 2-D, got shape %s", op, what,
                    eq_shape_str(t, buf, sizeof buf));
  if ((flags & EQ_MAT_FLOAT) && t->dtype != EQ_F32 && t->dtype != EQ_F64)
    return eq_error(EQ_ERR_DTYPE, "%s: %s must be float32 or float64, got %s", op, what,
                    eq_dtype_name(t->dtype));
  if ((flags & EQ_MAT_INT) && t->dtype != EQ_I32 && t->dtype != EQ_I64)
    return eq_error(EQ_ERR_DTYPE, "%s: %s must hold int32 or int64 labels, got %s", op, what,
                    eq_dtype_name(t->dtype));
  if (t->storage && t->storage->device.type != EQ_DEVICE_CPU)
    return eq_error(EQ_ERR_DEVICE, "%s: %s must be on the CPU", op, what);
  if (r.split && r.comm == MPI_COMM_NULL)
    return eq_error(EQ_ERR_VALUE, "%s: %s is split over MPI_COMM_NULL", op, what);
  m->dt = t->dtype;
  m->ndim = t->ndim;
  m->n_local = t->ndim ? t->shape[0] : 1;
  m->d = t->ndim == 2 ? t->shape[1] : 1;
  if (eq_is_contiguous(t)) {
    m->x = eq_data_ptr(t);
  } else {
    eq_arena *prev = eq_arena_set_current(NULL);
    m->owned = eq_contiguous((eq_tensor *)t);
    eq_arena_set_current(prev);
    if (!m->owned) return eq_error_code();
    m->x = eq_data_ptr(m->owned);
  }
  return EQ_OK;
}

/* Index of the first NaN/Inf of p[0..cnt) in bad (else unchanged): x * 0
 * is NaN exactly for those, and sixteen independent lanes let the compiler
 * vectorise the scan; a chunk that turns NaN is then searched one by one. */
#define FIND_NONFINITE(T, ptr, cnt, bad)                                      \
  do {                                                                        \
    const T *p_ = (const T *)(ptr);                                           \
    const int64_t C_ = 4096;                                                  \
    for (int64_t s_ = 0; s_ < (cnt) && (bad) < 0; s_ += C_) {                 \
      int64_t e_ = (cnt) - s_ < C_ ? (cnt) : s_ + C_;                         \
      T acc_[16] = {0};                                                       \
      int64_t i_ = s_;                                                        \
      for (; i_ + 16 <= e_; i_ += 16)                                         \
        for (int k_ = 0; k_ < 16; k_++) acc_[k_] += p_[i_ + k_] * (T)0;       \
      for (; i_ < e_; i_++) acc_[0] += p_[i_] * (T)0;                         \
      T sum_ = 0;                                                             \
      for (int k_ = 0; k_ < 16; k_++) sum_ += acc_[k_];                       \
      if (sum_ != 0 || sum_ != sum_)                                          \
        for (i_ = s_; i_ < e_; i_++)                                          \
          if (!isfinite(p_[i_])) {                                            \
            (bad) = i_;                                                       \
            break;                                                            \
          }                                                                   \
    }                                                                         \
  } while (0)

static eq_status check_values(const eq_mat *m, const char *op, const char *what, int flags) {
  int64_t cnt = m->n_local * m->d;
  if (flags & EQ_MAT_FINITE) {
    int64_t bad = -1;
    if (m->dt == EQ_F32) FIND_NONFINITE(float, m->x, cnt, bad);
    else if (m->dt == EQ_F64) FIND_NONFINITE(double, m->x, cnt, bad);
    if (bad >= 0)
      return eq_error(EQ_ERR_VALUE, "%s: %s holds %g at row %lld, column %lld (NaN/Inf rejected)",
                      op, what, eq_mat_at(m, bad / m->d, bad % m->d),
                      (long long)(m->row0 + bad / m->d), (long long)(bad % m->d));
  }
  if (flags & EQ_MAT_INT) {
    for (int64_t i = 0; i < cnt; i++) {
      int64_t v = eq_mat_label(m, i);
      if (v < 0 || v > INT32_MAX - 1)
        return eq_error(EQ_ERR_VALUE, "%s: %s holds label %lld at row %lld (labels must be in [0, 2^31-1))",
                        op, what, (long long)v, (long long)(m->row0 + i));
    }
  }
  return EQ_OK;
}

eq_status eq_mat_open(eq_mat *m, const char *op, const char *what, eq_rows r, int flags) {
  memset(m, 0, sizeof *m);
  m->op = op;
  m->split = r.split;
  m->comm = r.split ? r.comm : MPI_COMM_SELF;
  eq_status st = check_local(m, op, what, r, flags);
  if (r.split && r.comm == MPI_COMM_NULL) return st;
  m->size = 1;
  if (r.split) {
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
  }
  st = eq_algo_agree(op, m->comm, st);
  if (st) {
    eq_mat_close(m);
    return st;
  }
  m->n = m->n_local;
  if (m->split) {
    int64_t dmin = m->d, dmax = m->d, nd[2] = {m->ndim, -m->ndim};
    MPI_Allreduce(MPI_IN_PLACE, &m->n, 1, MPI_INT64_T, MPI_SUM, m->comm);
    MPI_Allreduce(MPI_IN_PLACE, &dmin, 1, MPI_INT64_T, MPI_MIN, m->comm);
    MPI_Allreduce(MPI_IN_PLACE, &dmax, 1, MPI_INT64_T, MPI_MAX, m->comm);
    MPI_Allreduce(MPI_IN_PLACE, nd, 2, MPI_INT64_T, MPI_MAX, m->comm);
    int64_t off = 0;
    MPI_Exscan(&m->n_local, &off, 1, MPI_INT64_T, MPI_SUM, m->comm);
    m->row0 = m->rank ? off : 0;
    if (dmin != dmax || nd[0] != -nd[1]) {
      eq_mat_close(m);
      return eq_error(EQ_ERR_SHAPE,
                      "%s: the ranks' blocks of %s disagree on the trailing shape (columns %lld..%lld)",
                      op, what, (long long)dmin, (long long)dmax);
    }
    int dt[2] = {m->dt, -(int)m->dt};
    MPI_Allreduce(MPI_IN_PLACE, dt, 2, MPI_INT, MPI_MAX, m->comm);
    if (dt[0] != -dt[1]) {
      eq_mat_close(m);
      return eq_error(EQ_ERR_DTYPE, "%s: the ranks' blocks of %s have different dtypes", op, what);
    }
  }
  st = eq_algo_agree(op, m->comm, check_values(m, op, what, flags));
  if (st) eq_mat_close(m);
  return st;
}

void eq_mat_close(eq_mat *m) {
  eq_tensor_free(m->owned);
  m->owned = NULL;
}

eq_status eq_mat_same_rows(const eq_mat *a, const eq_mat *b) {
  eq_status st = EQ_OK;
  if (a->split != b->split)
    st = eq_error(EQ_ERR_VALUE, "%s: one argument is split over the ranks and the other replicated", a->op);
  else if (a->n_local != b->n_local)
    st = eq_error(EQ_ERR_SHAPE, "%s: the arguments have %lld and %lld rows on rank %d", a->op,
                  (long long)a->n_local, (long long)b->n_local, a->rank);
  else if (a->split) {
    int cmp = MPI_UNEQUAL;
    MPI_Comm_compare(a->comm, b->comm, &cmp);
    if (cmp != MPI_IDENT && cmp != MPI_CONGRUENT)
      st = eq_error(EQ_ERR_VALUE, "%s: the arguments are split over different communicators", a->op);
  }
  return eq_algo_agree(a->op, a->comm, st);
}

/* MPI counts are int: reduce in pieces. */
static eq_status mat_reduce(const eq_mat *m, void *buf, int64_t count, MPI_Datatype type,
                            size_t elsize, MPI_Op mop) {
  if (!m->split || m->size == 1) return EQ_OK;
  const int64_t piece = (int64_t)1 << 28;
  for (int64_t i = 0; i < count; i += piece) {
    int c = (int)(count - i < piece ? count - i : piece);
    if (MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * elsize, c, type, mop, m->comm) != MPI_SUCCESS)
      return eq_error(EQ_ERR_MPI, "%s: MPI_Allreduce of %lld elements failed", m->op, (long long)count);
  }
  return EQ_OK;
}

eq_status eq_mat_sum(const eq_mat *m, double *buf, int64_t count) {
  return mat_reduce(m, buf, count, MPI_DOUBLE, sizeof(double), MPI_SUM);
}
eq_status eq_mat_sum_i64(const eq_mat *m, int64_t *buf, int64_t count) {
  return mat_reduce(m, buf, count, MPI_INT64_T, sizeof(int64_t), MPI_SUM);
}
eq_status eq_mat_max(const eq_mat *m, double *buf, int64_t count) {
  return mat_reduce(m, buf, count, MPI_DOUBLE, sizeof(double), MPI_MAX);
}
eq_status eq_mat_min(const eq_mat *m, double *buf, int64_t count) {
  return mat_reduce(m, buf, count, MPI_DOUBLE, sizeof(double), MPI_MIN);
}

eq_status eq_mat_n_classes(const eq_mat *y, int *out) {
  double mx = -1;
  for (int64_t i = 0; i < y->n_local * y->d; i++) {
    double v = (double)eq_mat_label(y, i);
    if (v > mx) mx = v;
  }
  eq_status st = eq_mat_max(y, &mx, 1);
  *out = (int)mx + 1;
  if (!st && *out < 1) st = eq_error(EQ_ERR_SHAPE, "%s: no labels (empty y)", y->op);
  return st;
}

/* Count, mean and sum of squared deviations of rows [lo, hi) of X into
 * (nn, mean, m2): blocks of rows that stay in cache, two passes over each
 * block (mean, then deviations), merged into the running figures with
 * Chan et al.'s formula. */
#define MOMENT_BLOCK(T)                                                                   \
  do {                                                                                    \
    const T *x = (const T *)X->x + lo * d;                                                \
    for (int64_t j = 0; j < d; j++) bm[j] = bq[j] = 0;                                    \
    for (int64_t i = 0; i < m; i++)                                                       \
      for (int64_t j = 0; j < d; j++) bm[j] += (double)x[i * d + j];                      \
    for (int64_t j = 0; j < d; j++) bm[j] /= (double)m;                                   \
    for (int64_t i = 0; i < m; i++)                                                       \
      for (int64_t j = 0; j < d; j++) {                                                   \
        double e = (double)x[i * d + j] - bm[j];                                          \
        bq[j] += e * e;                                                                   \
      }                                                                                   \
  } while (0)

static void moments_merge(double *nn, double *mean, double *m2, double nb, const double *mb, const double *qb,
                          int64_t d) {
  if (nb == 0) return;
  double na = *nn, nt = na + nb;
  for (int64_t j = 0; j < d; j++) {
    double delta = mb[j] - mean[j];
    mean[j] += delta * nb / nt;
    m2[j] += qb[j] + delta * delta * na * nb / nt;
  }
  *nn = nt;
}

static void moments_rows(const eq_mat *X, int64_t lo, int64_t hi, double *nn, double *mean, double *m2,
                         double *bm, double *bq) {
  int64_t d = X->d;
  const int64_t B = d <= 64 ? 2048 : 512;
  *nn = 0;
  for (int64_t j = 0; j < d; j++) mean[j] = m2[j] = 0;
  for (; lo < hi; lo += B) {
    int64_t m = hi - lo < B ? hi - lo : B;
    if (X->dt == EQ_F32) MOMENT_BLOCK(float);
    else MOMENT_BLOCK(double);
    moments_merge(nn, mean, m2, (double)m, bm, bq, d);
  }
}

eq_status eq_mat_moments(const eq_mat *X, double *mean, double *m2) {
  int64_t d = X->d, nl = X->n_local;
  /* Per-thread moments of contiguous row ranges, merged in row order, then
   * a pairwise merge of the ranks' figures in rank order. */
  int nt = EQ_ALGO_PARALLEL(nl * d) ? omp_get_max_threads() : 1;
  double *part = eq_calloc((size_t)nt * (4 * d + 1), sizeof(double));
  double *loc = eq_calloc((size_t)(2 * d + 1), sizeof(double));
  if (!part || !loc) {
    eq_free(part), eq_free(loc);
    return eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  }
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), n_t = omp_get_num_threads();
    double *p = part + (size_t)t * (4 * d + 1);
    moments_rows(X, nl * t / n_t, nl * (t + 1) / n_t, p, p + 1, p + 1 + d, p + 1 + 2 * d, p + 1 + 3 * d);
  }
  for (int t = 0; t < nt; t++) {
    const double *p = part + (size_t)t * (4 * d + 1);
    moments_merge(loc, loc + 1, loc + 1 + d, p[0], p + 1, p + 1 + d, d);
  }
  eq_free(part);
  int P = X->split ? X->size : 1;
  double *all = eq_malloc((size_t)P * (2 * d + 1) * sizeof(double));
  if (!all) {
    eq_free(loc);
    return eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  }
  if (P > 1) {
    if (MPI_Allgather(loc, (int)(2 * d + 1), MPI_DOUBLE, all, (int)(2 * d + 1), MPI_DOUBLE,
                      X->comm) != MPI_SUCCESS) {
      eq_free(loc), eq_free(all);
      return eq_error(EQ_ERR_MPI, "%s: MPI_Allgather of moments failed", X->op);
    }
  } else {
    memcpy(all, loc, (size_t)(2 * d + 1) * sizeof(double));
  }
  double na = 0;
  for (int64_t j = 0; j < d; j++) mean[j] = m2[j] = 0;
  for (int r = 0; r < P; r++) {
    const double *b = all + (size_t)r * (2 * d + 1);
    moments_merge(&na, mean, m2, b[0], b + 1, b + 1 + d, d);
  }
  eq_free(loc), eq_free(all);
  return EQ_OK;
}

eq_tensor *eq_algo_f64_1d(int64_t n, const double *src) {
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *t = src ? eq_from_data(EQ_F64, EQ_DIMS(n), src) : eq_zeros(EQ_F64, EQ_DIMS(n));
  eq_arena_set_current(prev);
  return t;
}

eq_tensor *eq_algo_f64_2d(int64_t r, int64_t c, const double *src) {
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *t = src ? eq_from_data(EQ_F64, EQ_DIMS(r, c), src) : eq_zeros(EQ_F64, EQ_DIMS(r, c));
  eq_arena_set_current(prev);
  return t;
}

eq_tensor *eq_algo_result(eq_dtype dt, int ndim, int64_t rows, int64_t cols, const double *src) {
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *t = ndim == 1 ? eq_empty(dt, EQ_DIMS(rows)) : eq_empty(dt, EQ_DIMS(rows, cols));
  eq_arena_set_current(prev);
  if (!t || !src) return t;
  int64_t cnt = rows * (ndim == 1 ? 1 : cols);
  if (dt == EQ_F32) {
    float *o = eq_f32(t);
    for (int64_t i = 0; i < cnt; i++) o[i] = (float)src[i];
  } else if (dt == EQ_F64) {
    memcpy(eq_f64(t), src, (size_t)cnt * sizeof(double));
  } else {
    for (int64_t i = 0; i < cnt; i++) eq_set_flat(t, i, src[i]);
  }
  return t;
}

double *eq_algo_tensor_f64(const char *op, const char *what, const eq_tensor *t, int64_t r,
                           int64_t c) {
  char buf[96];
  if (!t) {
    eq_error(EQ_ERR_VALUE, "%s: %s is NULL", op, what);
    return NULL;
  }
  if (!eq_dtype_is_float(t->dtype) || t->ndim != 2 || (r >= 0 && t->shape[0] != r) ||
      (c >= 0 && t->shape[1] != c)) {
    eq_error(EQ_ERR_SHAPE, "%s: %s must be a float (%lld, %lld) matrix, got %s %s", op, what,
             (long long)r, (long long)c, eq_dtype_name(t->dtype), eq_shape_str(t, buf, sizeof buf));
    return NULL;
  }
  int64_t cnt = eq_numel(t);
  double *out = eq_malloc((size_t)(cnt ? cnt : 1) * sizeof(double));
  if (!out) {
    eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
    return NULL;
  }
  for (int64_t i = 0; i < cnt; i++) {
    out[i] = eq_get_flat(t, i);
    if (!isfinite(out[i])) {
      eq_free(out);
      eq_error(EQ_ERR_VALUE, "%s: %s holds %g at flat index %lld", op, what, eq_get_flat(t, i),
               (long long)i);
      return NULL;
    }
  }
  return out;
}

eq_status eq_mat_fetch_rows(const eq_mat *X, const int64_t *idx, int64_t cnt, double *out) {
  for (int64_t i = 0; i < cnt * X->d; i++) out[i] = 0;
  for (int64_t i = 0; i < cnt; i++) {
    int64_t r = idx[i] - X->row0;
    if (r < 0 || r >= X->n_local) continue;
    for (int64_t j = 0; j < X->d; j++) out[i * X->d + j] = eq_mat_at(X, r, j);
  }
  return eq_mat_sum(X, out, cnt * X->d);
}

int eq_algo_serial_begin(void) {
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  return saved;
}

void eq_algo_serial_end(int saved) { omp_set_num_threads(saved); }

eq_tensor *eq_algo_argmax_rows(const eq_tensor *P) {
  int64_t n = P->shape[0], K = P->shape[1];
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *r = eq_empty(EQ_I64, EQ_DIMS(n));
  eq_arena_set_current(prev);
  if (!r) return NULL;
  const double *p = eq_f64(P);
  int64_t *o = eq_data_ptr(r);
  for (int64_t i = 0; i < n; i++) {
    int64_t b = 0;
    for (int64_t c = 1; c < K; c++)
      if (p[i * K + c] > p[i * K + b]) b = c;
    o[i] = b;
  }
  return r;
}
