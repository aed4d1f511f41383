/* sum, mean, sum_all_double: blocked float sums (float lanes inside a block,
 * double across blocks), a column kernel for reductions over leading axes
 * (no transpose copy), deterministic for any thread count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "ops/ops_internal.h"

#define SUM_BLOCK 1024
#define SUM_LANES 16
/* Long single rows are split into chunks of this many elements, summed in
 * parallel and combined in chunk order: the result does not depend on the
 * thread count. */
#define SUM_CHUNK 65536

double eq_sum_f32(const float *restrict x, int64_t n) {
  double total = 0;
  for (int64_t b = 0; b < n; b += SUM_BLOCK) {
    int64_t m = n - b < SUM_BLOCK ? n - b : SUM_BLOCK;
    const float *restrict p = x + b;
    float acc[SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + SUM_LANES <= m; i += SUM_LANES)
      for (int j = 0; j < SUM_LANES; j++) acc[j] += p[i + j];
    float s = 0;
    for (; i < m; i++) s += p[i];
    for (int j = 0; j < SUM_LANES; j++) s += acc[j];
    total += s;
  }
  return total;
}

double eq_sum_f64(const double *restrict x, int64_t n) {
  double acc[8] = {0}, s = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += x[i + j];
  for (; i < n; i++) s += x[i];
  for (int j = 0; j < 8; j++) s += acc[j];
  return s;
}

static double sum_run(const void *x, eq_dtype dt, int64_t n) {
  return dt == EQ_F32 ? eq_sum_f32(x, n) : eq_sum_f64(x, n);
}

/* Sum of one long contiguous run, chunked and parallel. */
static double sum_long(const void *x, eq_dtype dt, int64_t n) {
  int64_t chunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
  if (chunks <= 1 || omp_in_parallel()) return sum_run(x, dt, n);
  double *part = malloc((size_t)chunks * sizeof *part);
  if (!part) return sum_run(x, dt, n);
  size_t es = eq_dtype_size(dt);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; c++) {
    int64_t lo = c * SUM_CHUNK, m = n - lo < SUM_CHUNK ? n - lo : SUM_CHUNK;
    part[c] = sum_run((const char *)x + (size_t)lo * es, dt, m);
  }
  double s = 0;
  for (int64_t c = 0; c < chunks; c++) s += part[c];
  free(part);
  return s;
}

/* out[m] = scale * sum(rows[m, :]) for float rows. */
static void sum_rows_float(const eq_tensor *rows, eq_tensor *out, double scale) {
  int64_t M = rows->shape[0], R = rows->shape[1];
  eq_dtype dt = rows->dtype;
  size_t es = eq_dtype_size(dt);
  const char *x = eq_data_ptr(rows);
  char *o = eq_data_ptr(out);
  if (M == 1) {
    double s = sum_long(x, dt, R) * scale;
    if (dt == EQ_F32)
      *(float *)o = (float)s;
    else
      *(double *)o = s;
    return;
  }
#pragma omp parallel for schedule(static) if (M * R > 32768 && !omp_in_parallel())
  for (int64_t m = 0; m < M; m++) {
    double s = sum_run(x + (size_t)(m * R) * es, dt, R) * scale;
    if (dt == EQ_F32)
      ((float *)o)[m] = (float)s;
    else
      ((double *)o)[m] = s;
  }
}

/* out[a, j] = scale * sum_r x[a, r, j] for contiguous x viewed as [A, Rr, B];
 * double accumulators per column keep long float32 columns accurate. Threads
 * split the columns. */
static eq_status sum_columns_float(const void *xv, eq_dtype dt, int64_t A, int64_t Rr, int64_t B, void *ov,
                                   double scale) {
  int nt = (A * Rr * B > 32768 && !omp_in_parallel()) ? omp_get_max_threads() : 1;
  eq_status st = EQ_OK;
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    int64_t j0 = B * t / T, j1 = B * (t + 1) / T, w = j1 - j0;
    double *acc = w > 0 ? malloc((size_t)w * sizeof *acc) : NULL;
    if (w > 0 && !acc) {
#pragma omp critical
      st = eq_error(EQ_ERR_MEMORY, "sum: out of memory for %lld column accumulators", (long long)w);
    } else if (w > 0) {
      for (int64_t a = 0; a < A; a++) {
        for (int64_t j = 0; j < w; j++) acc[j] = 0;
        if (dt == EQ_F32) {
          const float *x = (const float *)xv + a * Rr * B + j0;
          for (int64_t r = 0; r < Rr; r++) {
            const float *restrict row = x + r * B;
            for (int64_t j = 0; j < w; j++) acc[j] += row[j];
          }
          float *restrict o = (float *)ov + a * B + j0;
          for (int64_t j = 0; j < w; j++) o[j] = (float)(acc[j] * scale);
        } else {
          const double *x = (const double *)xv + a * Rr * B + j0;
          for (int64_t r = 0; r < Rr; r++) {
            const double *restrict row = x + r * B;
            for (int64_t j = 0; j < w; j++) acc[j] += row[j];
          }
          double *restrict o = (double *)ov + a * B + j0;
          for (int64_t j = 0; j < w; j++) o[j] = acc[j] * scale;
        }
      }
      free(acc);
    }
  }
  return st;
}

/* Narrow, tall column blocks ([Rr, B] with small B): threads take chunks of
 * COL_CHUNK rows into per-chunk double partials, combined in chunk order, so
 * each thread streams whole rows and the result does not depend on the
 * thread count. */
#define COL_CHUNK 4096
static eq_status sum_columns_chunked(const void *xv, eq_dtype dt, int64_t A, int64_t Rr, int64_t B, void *ov,
                                     double scale) {
  int64_t chunks = (Rr + COL_CHUNK - 1) / COL_CHUNK;
  double *part = malloc((size_t)(chunks * B) * sizeof *part);
  if (!part) return eq_error(EQ_ERR_MEMORY, "sum: out of memory for %lld partial sums", (long long)(chunks * B));
  for (int64_t a = 0; a < A; a++) {
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int64_t c = 0; c < chunks; c++) {
      double *restrict acc = part + c * B;
      int64_t r0 = c * COL_CHUNK, r1 = r0 + COL_CHUNK < Rr ? r0 + COL_CHUNK : Rr;
      for (int64_t j = 0; j < B; j++) acc[j] = 0;
      if (dt == EQ_F32) {
        const float *x = (const float *)xv + a * Rr * B;
        for (int64_t r = r0; r < r1; r++)
          for (int64_t j = 0; j < B; j++) acc[j] += x[r * B + j];
      } else {
        const double *x = (const double *)xv + a * Rr * B;
        for (int64_t r = r0; r < r1; r++)
          for (int64_t j = 0; j < B; j++) acc[j] += x[r * B + j];
      }
    }
    for (int64_t c = 1; c < chunks; c++)
      for (int64_t j = 0; j < B; j++) part[j] += part[c * B + j];
    for (int64_t j = 0; j < B; j++) {
      if (dt == EQ_F32)
        ((float *)ov)[a * B + j] = (float)(part[j] * scale);
      else
        ((double *)ov)[a * B + j] = part[j] * scale;
    }
  }
  free(part);
  return EQ_OK;
}

/* For contiguous x whose reduced axes form one block [r0, r1) followed by
 * kept axes: A, Rr, B of the [A, Rr, B] view. */
static bool column_layout(const eq_reduce_plan *p, const eq_tensor *x, int64_t *A, int64_t *Rr, int64_t *B) {
  if (!eq_is_contiguous(x)) return false;
  int first = -1, last = -1;
  for (int d = 0; d < x->ndim; d++)
    if (p->reduced[d] && x->shape[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  if (first < 0) return false;
  for (int d = first; d <= last; d++)
    if (!p->reduced[d] && x->shape[d] != 1) return false;
  int64_t a = 1, r = 1, b = 1;
  for (int d = 0; d < first; d++) a *= x->shape[d];
  for (int d = first; d <= last; d++) r *= x->shape[d];
  for (int d = last + 1; d < x->ndim; d++) b *= x->shape[d];
  if (b < 16) return false; /* the row kernel on a transposed copy is faster */
  *A = a;
  *Rr = r;
  *B = b;
  return true;
}

/* Float sum over the plan, scaled; out has the plan's output shape. */
static eq_tensor *float_sum(const eq_reduce_plan *p, eq_tensor *x, double scale) {
  eq_tensor *out = eq_empty(x->dtype, p->out_ndim, p->out_shape);
  if (!out) return NULL;
  int64_t A, Rr, B;
  if (p->R == 0) {
    eq_fill_(out, 0.0);
    return out;
  }
  if (column_layout(p, x, &A, &Rr, &B)) {
    bool chunked = B <= 256 && Rr >= 2 * COL_CHUNK;
    eq_status st = chunked ? sum_columns_chunked(eq_data_ptr(x), x->dtype, A, Rr, B, eq_data_ptr(out), scale)
                           : sum_columns_float(eq_data_ptr(x), x->dtype, A, Rr, B, eq_data_ptr(out), scale);
    if (st) {
      eq_tensor_free(out);
      return NULL;
    }
    return out;
  }
  bool owned;
  eq_tensor *rows = eq_reduce_rows(p, x, &owned);
  if (!rows) {
    eq_tensor_free(out);
    return NULL;
  }
  sum_rows_float(rows, out, scale);
  if (owned) eq_tensor_free(rows);
  return out;
}

/* Integer and bool sums: int64 accumulation and result (as PyTorch). */
static eq_tensor *int_sum(const eq_reduce_plan *p, eq_tensor *x) {
  bool oc, orows;
  eq_tensor *xi = eq_ops_cast_raw(x, EQ_I64, &oc);
  if (!xi) return NULL;
  eq_tensor *rows = eq_reduce_rows(p, xi, &orows);
  eq_tensor *out = rows ? eq_empty(EQ_I64, p->out_ndim, p->out_shape) : NULL;
  if (out) {
    const int64_t *r = eq_data_ptr(rows);
    int64_t *o = eq_data_ptr(out);
    for (int64_t m = 0; m < p->M; m++) {
      uint64_t s = 0; /* wraps like NumPy's int64 */
      for (int64_t k = 0; k < p->R; k++) s += (uint64_t)r[m * p->R + k];
      o[m] = (int64_t)s;
    }
  }
  if (rows && orows) eq_tensor_free(rows);
  if (oc) eq_tensor_free(xi);
  return out;
}

/* f[0]: the scale (1 for sum, 1/R for mean). */
static eq_status sum_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  eq_reduce_plan p;
  eq_reduce_plan_load(&p, node, x);
  EQ_NO_GRAD_BEGIN;
  eq_status st;
  eq_tensor *gk = eq_reduce_keepdim_view(&p, g);
  eq_tensor *scaled = NULL;
  if (gk && node->f[0] != 1.0) scaled = eq_ops_binary_scalar_raw(EQ_MUL, gk, node->f[0]);
  const eq_tensor *src = node->f[0] != 1.0 ? scaled : gk;
  if (!src) {
    st = eq_error_code();
  } else {
    eq_tensor *gx = eq_grad_buffer(x);
    st = gx ? eq_accumulate_(gx, src) : eq_error_code(); /* broadcasts over the reduced axes */
  }
  eq_tensor_free(scaled);
  eq_tensor_free(gk);
  EQ_NO_GRAD_END;
  return st;
}

static eq_tensor *sum_like(const char *op, eq_tensor *x, int naxes, const int *axes, bool keepdim, bool mean) {
  if (eq_require_cpu(op, x)) return NULL;
  if ((unsigned)x->dtype >= EQ_BF16) {
    eq_error(EQ_ERR_DTYPE, "%s: dtype %s is storage only", op, eq_dtype_name(x->dtype));
    return NULL;
  }
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, x, naxes, axes, keepdim)) return NULL;
  if (!eq_dtype_is_float(x->dtype)) {
    if (!mean) return int_sum(&p, x);
    /* mean of integers: float32, as the other float ops on integers. */
    bool owned;
    eq_tensor *xf = eq_ops_cast_raw(x, EQ_F32, &owned);
    if (!xf) return NULL;
    eq_tensor *out = float_sum(&p, xf, p.R ? 1.0 / (double)p.R : NAN);
    if (owned) eq_tensor_free(xf);
    return out;
  }
  double scale = mean ? (p.R ? 1.0 / (double)p.R : NAN) : 1.0;
  eq_tensor *out = float_sum(&p, x, scale);
  if (!out) return NULL;
  bool failed;
  eq_node *node = eq_ops_record(op, out, 1, &x, sum_backward, &failed);
  if (failed) return NULL;
  if (node) {
    eq_reduce_plan_save(&p, node);
    node->f[0] = scale;
  }
  return out;
}

eq_tensor *eq_sum(eq_tensor *x, int naxes, const int *axes, bool keepdim) {
  return sum_like("sum", x, naxes, axes, keepdim, false);
}

eq_tensor *eq_mean(eq_tensor *x, int naxes, const int *axes, bool keepdim) {
  return sum_like("mean", x, naxes, axes, keepdim, true);
}

/* Double lanes throughout: a reference-quality sum for tests and logs. */
static double sum_f32_in_double(const float *restrict x, int64_t n) {
  double acc[8] = {0}, s = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j];
  for (; i < n; i++) s += x[i];
  for (int j = 0; j < 8; j++) s += acc[j];
  return s;
}

double eq_sum_all_double(const eq_tensor *x) {
  if (eq_require_cpu("sum_all_double", x)) return NAN;
  int64_t n = eq_numel(x);
  if (eq_is_contiguous(x) && x->dtype == EQ_F32) return sum_f32_in_double(eq_data_ptr(x), n);
  if (eq_is_contiguous(x) && x->dtype == EQ_F64) return sum_long(eq_data_ptr(x), x->dtype, n);
  /* Other dtypes and layouts: a float64 copy (exact for every integer that a
   * double holds). */
  eq_tensor *c = eq_empty(EQ_F64, x->ndim, x->shape);
  if (!c || eq_copy_(c, x)) {
    eq_tensor_free(c);
    return NAN;
  }
  double s = sum_long(eq_data_ptr(c), EQ_F64, n);
  eq_tensor_free(c);
  return s;
}
