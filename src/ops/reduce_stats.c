/* var, std (two-pass), prod, max/min (+ arg), argmax/argmin, all/any:
 * row kernels on the plan's [M, R] layout and their backward. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "ops/ops_internal.h"

#define PAR_IF(M, R) if ((M) > 1 && (M) * (R) > 32768 && !omp_in_parallel())

static eq_status check_dtype(const char *op, const eq_tensor *x) {
  if (eq_require_cpu(op, x)) return eq_error_code();
  if ((unsigned)x->dtype >= EQ_BF16)
    return eq_error(EQ_ERR_DTYPE, "%s: dtype %s is storage only", op, eq_dtype_name(x->dtype));
  return EQ_OK;
}

/* ------------------------------------------------------------ var / std */

/* Mean and sum of squared deviations of one row (two passes). */
static void row_moments(const void *row, eq_dtype dt, int64_t R, double *mean, double *ssd) {
  if (dt == EQ_F32) {
    const float *restrict x = row;
    double mu = eq_sum_f32(x, R) / (double)R;
    float muf = (float)mu;
    double total = 0, corr = 0;
    for (int64_t b = 0; b < R; b += 1024) {
      int64_t m = R - b < 1024 ? R - b : 1024;
      float acc[16] = {0}, cacc[16] = {0}, s = 0, cs = 0;
      int64_t i = 0;
      for (; i + 16 <= m; i += 16)
        for (int j = 0; j < 16; j++) {
          float d = x[b + i + j] - muf;
          acc[j] += d * d;
          cacc[j] += d;
        }
      for (; i < m; i++) {
        float d = x[b + i] - muf;
        s += d * d;
        cs += d;
      }
      for (int j = 0; j < 16; j++) {
        s += acc[j];
        cs += cacc[j];
      }
      total += s;
      corr += cs;
    }
    /* The deviations' sum corrects for rounding of the mean. */
    *mean = mu;
    *ssd = total - corr * corr / (double)R;
  } else {
    const double *restrict x = row;
    double mu = eq_sum_f64(x, R) / (double)R, s = 0, cs = 0;
    for (int64_t i = 0; i < R; i++) {
      double d = x[i] - mu;
      s += d * d;
      cs += d;
    }
    *mean = mu;
    *ssd = s - cs * cs / (double)R;
  }
  if (*ssd < 0) *ssd = 0;
}

static eq_status var_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *out = node->out, *g = out->grad;
  bool is_std = node->i[2] != 0;
  double div = node->f[0];
  EQ_NO_GRAD_BEGIN;
  eq_rows_grad r;
  eq_status st = eq_rows_grad_begin(&r, node, x);
  const eq_reduce_plan *p = &r.plan;
  eq_tensor *rows = r.rows, *gr = r.grad;
  if (!st) {
    int64_t M = p->M, R = p->R;
    const char *xr = eq_data_ptr(rows);
    char *o = eq_data_ptr(gr);
    size_t es = eq_dtype_size(x->dtype);
    /* out and g are contiguous with M elements in the plan's order. */
#pragma omp parallel for PAR_IF(M, R)
    for (int64_t m = 0; m < M; m++) {
      double mean, ssd;
      row_moments(xr + (size_t)(m * R) * es, x->dtype, R, &mean, &ssd);
      double gm = eq_load_as_double((const char *)eq_data_ptr(g) + (size_t)m * es, x->dtype);
      if (is_std) {
        double sd = eq_load_as_double((const char *)eq_data_ptr(out) + (size_t)m * es, x->dtype);
        gm = sd > 0 ? gm / (2 * sd) : 0; /* masked at 0, as PyTorch */
      }
      double c = 2 * gm / div;
      if (x->dtype == EQ_F32) {
        const float *xrow = (const float *)xr + m * R;
        float *orow = (float *)o + m * R, cf = (float)c, mf = (float)mean;
        for (int64_t k = 0; k < R; k++) orow[k] = cf * (xrow[k] - mf);
      } else {
        const double *xrow = (const double *)xr + m * R;
        double *orow = (double *)o + m * R;
        for (int64_t k = 0; k < R; k++) orow[k] = c * (xrow[k] - mean);
      }
    }
  }
  st = eq_rows_grad_end(&r, x, st);
  EQ_NO_GRAD_END;
  return st;
}

static eq_tensor *var_like(const char *op, eq_tensor *x, int naxes, const int *axes, int correction, bool keepdim,
                           bool is_std) {
  if (check_dtype(op, x)) return NULL;
  if (correction < 0) {
    eq_error(EQ_ERR_VALUE, "%s: correction %d must be >= 0", op, correction);
    return NULL;
  }
  if (!eq_dtype_is_float(x->dtype)) {
    bool owned;
    eq_tensor *xf = eq_ops_cast_raw(x, EQ_F32, &owned);
    if (!xf) return NULL;
    bool prev = eq_set_grad_enabled(false);
    eq_tensor *out = var_like(op, xf, naxes, axes, correction, keepdim, is_std);
    eq_set_grad_enabled(prev);
    if (owned) eq_tensor_free(xf);
    return out;
  }
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, x, naxes, axes, keepdim)) return NULL;
  bool owned;
  eq_tensor *rows = eq_reduce_rows(&p, x, &owned);
  if (!rows) return NULL;
  eq_tensor *out = eq_empty(x->dtype, p.out_ndim, p.out_shape);
  double div = (double)p.R - correction;
  if (out) {
    int64_t M = p.M, R = p.R;
    const char *xr = eq_data_ptr(rows);
    char *o = eq_data_ptr(out);
    size_t es = eq_dtype_size(x->dtype);
#pragma omp parallel for PAR_IF(M, R)
    for (int64_t m = 0; m < M; m++) {
      double v = NAN, mean, ssd;
      if (R > 0 && div > 0) {
        row_moments(xr + (size_t)(m * R) * es, x->dtype, R, &mean, &ssd);
        v = ssd / div;
        if (is_std) v = sqrt(v);
      }
      eq_store_from_double(o + (size_t)m * es, x->dtype, v);
    }
  }
  if (owned) eq_tensor_free(rows);
  if (!out) return NULL;
  bool failed;
  eq_node *node = eq_ops_record(op, out, 1, &x, var_backward, &failed);
  if (failed) return NULL;
  if (node) {
    eq_reduce_plan_save(&p, node);
    node->i[2] = is_std;
    node->f[0] = div;
  }
  return out;
}

eq_tensor *eq_var(eq_tensor *x, int naxes, const int *axes, int correction, bool keepdim) {
  return var_like("var", x, naxes, axes, correction, keepdim, false);
}

eq_tensor *eq_std(eq_tensor *x, int naxes, const int *axes, int correction, bool keepdim) {
  return var_like("std", x, naxes, axes, correction, keepdim, true);
}

/* ------------------------------------------------------------ prod */

static eq_status prod_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  EQ_NO_GRAD_BEGIN;
  eq_rows_grad r;
  eq_status st = eq_rows_grad_begin(&r, node, x);
  const eq_reduce_plan *p = &r.plan;
  eq_tensor *rows = r.rows, *gr = r.grad;
  if (!st) {
    int64_t M = p->M, R = p->R;
    for (int64_t m = 0; m < M; m++) {
      /* d prod / d x_k = product of the others: prefix * suffix products,
       * exact with zeros. */
      double gm = eq_get_flat(g, m), suffix = 1;
      for (int64_t k = R - 1; k >= 0; k--) {
        eq_set_flat(gr, m * R + k, suffix);
        suffix *= eq_get_flat(rows, m * R + k);
      }
      double prefix = 1;
      for (int64_t k = 0; k < R; k++) {
        eq_set_flat(gr, m * R + k, gm * prefix * eq_get_flat(gr, m * R + k));
        prefix *= eq_get_flat(rows, m * R + k);
      }
    }
  }
  st = eq_rows_grad_end(&r, x, st);
  EQ_NO_GRAD_END;
  return st;
}

eq_tensor *eq_prod(eq_tensor *x, int naxes, const int *axes, bool keepdim) {
  if (check_dtype("prod", x)) return NULL;
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, "prod", x, naxes, axes, keepdim)) return NULL;
  bool is_float = eq_dtype_is_float(x->dtype);
  eq_dtype cd = is_float ? EQ_F64 : EQ_I64;
  bool oc, owned;
  eq_tensor *xc = eq_ops_cast_raw(x, cd, &oc);
  if (!xc) return NULL;
  eq_tensor *rows = eq_reduce_rows(&p, xc, &owned);
  eq_tensor *out = rows ? eq_empty(is_float ? x->dtype : EQ_I64, p.out_ndim, p.out_shape) : NULL;
  if (out) {
    int64_t M = p.M, R = p.R;
    if (is_float) {
      const double *r = eq_data_ptr(rows);
      for (int64_t m = 0; m < M; m++) {
        double s = 1;
        for (int64_t k = 0; k < R; k++) s *= r[m * R + k];
        eq_set_flat(out, m, s);
      }
    } else {
      const int64_t *r = eq_data_ptr(rows);
      int64_t *o = eq_data_ptr(out);
      for (int64_t m = 0; m < M; m++) {
        uint64_t s = 1;
        for (int64_t k = 0; k < R; k++) s *= (uint64_t)r[m * R + k];
        o[m] = (int64_t)s;
      }
    }
  }
  if (rows && owned) eq_tensor_free(rows);
  if (oc) eq_tensor_free(xc);
  if (!out || !is_float) return out;
  bool failed;
  eq_node *node = eq_ops_record("prod", out, 1, &x, prod_backward, &failed);
  if (failed) return NULL;
  if (node) eq_reduce_plan_save(&p, node);
  return out;
}

/* ------------------------------------------------------------ max / min / arg */

/* First extremum of each row; NaN wins (propagates), as PyTorch. idx may be
 * NULL; val may be NULL. Rows of float32/float64/int64. */
#define EXTREMUM_ROWS(T, BETTER, ISNAN)                                                   \
  do {                                                                                    \
    const T *base = (const T *)xr;                                                        \
    _Pragma("omp parallel for if (M > 1 && M * R > 32768 && !omp_in_parallel())")       \
    for (int64_t m = 0; m < M; m++) {                                                     \
      const T *row = base + m * R;                                                        \
      T best = row[0];                                                                    \
      int64_t bi = 0;                                                                     \
      if (!ISNAN(best))                                                                   \
        for (int64_t k = 1; k < R; k++) {                                                 \
          T v = row[k];                                                                   \
          if (ISNAN(v)) {                                                                 \
            best = v;                                                                     \
            bi = k;                                                                       \
            break;                                                                        \
          }                                                                               \
          if (BETTER(v, best)) {                                                          \
            best = v;                                                                     \
            bi = k;                                                                       \
          }                                                                               \
        }                                                                                 \
      if (val) ((T *)val)[m] = best;                                                      \
      if (idx) idx[m] = bi;                                                               \
    }                                                                                     \
  } while (0)

#define GT(a, b) ((a) > (b))
#define LT(a, b) ((a) < (b))
#define FNAN(v) ((v) != (v))
#define NONAN(v) ((void)(v), false)

static void extremum_rows(const void *xr, eq_dtype dt, int64_t M, int64_t R, bool is_max, void *val, int64_t *idx) {
  if (dt == EQ_F32) {
    if (is_max) EXTREMUM_ROWS(float, GT, FNAN);
    else EXTREMUM_ROWS(float, LT, FNAN);
  } else if (dt == EQ_F64) {
    if (is_max) EXTREMUM_ROWS(double, GT, FNAN);
    else EXTREMUM_ROWS(double, LT, FNAN);
  } else {
    if (is_max) EXTREMUM_ROWS(int64_t, GT, NONAN);
    else EXTREMUM_ROWS(int64_t, LT, NONAN);
  }
}

/* ctx: int64 [M] index of the extremum within each row. */
static eq_status extremum_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  const int64_t *idx = node->ctx;
  eq_reduce_plan p;
  eq_reduce_plan_load(&p, node, x);
  EQ_NO_GRAD_BEGIN;
  eq_tensor *gr = eq_zeros(x->dtype, 2, (int64_t[]){p.M, p.R});
  eq_status st = gr ? EQ_OK : eq_error_code();
  if (!st) {
    for (int64_t m = 0; m < p.M; m++) eq_set_flat(gr, m * p.R + idx[m], eq_get_flat(g, m));
    st = eq_reduce_accumulate_rows(&p, x, gr);
  }
  eq_tensor_free(gr);
  EQ_NO_GRAD_END;
  return st;
}

/* Values (want_values) or int64 indices of the extremum over the plan. */
static eq_tensor *extremum(const char *op, eq_tensor *x, const eq_reduce_plan *p, bool is_max, bool want_values) {
  if (p->R == 0) {
    char b[96];
    eq_error(EQ_ERR_SHAPE, "%s: cannot reduce over an empty axis of %s", op, eq_shape_str(x, b, sizeof b));
    return NULL;
  }
  bool is_float = eq_dtype_is_float(x->dtype);
  bool oc, owned;
  eq_tensor *xc = eq_ops_cast_raw(x, is_float ? x->dtype : EQ_I64, &oc);
  if (!xc) return NULL;
  eq_tensor *rows = eq_reduce_rows(p, xc, &owned);
  eq_tensor *out = NULL, *vals = NULL;
  if (rows) {
    bool record = want_values && is_float && eq_needs_grad(1, &x);
    int64_t *idx = NULL;
    eq_tensor *idx_t = NULL;
    if (!want_values) {
      idx_t = eq_empty(EQ_I64, p->out_ndim, p->out_shape);
      idx = idx_t ? eq_data_ptr(idx_t) : NULL;
      out = idx_t;
    } else {
      vals = eq_empty(xc->dtype, p->out_ndim, p->out_shape);
      if (vals && record) {
        idx = malloc((size_t)p->M * sizeof *idx);
        if (!idx) eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
      }
      out = vals;
    }
    if (out && (idx || !(record || !want_values))) {
      extremum_rows(eq_data_ptr(rows), xc->dtype, p->M, p->R, is_max, vals ? eq_data_ptr(vals) : NULL, idx);
      if (want_values && !is_float) {
        /* Back to the input's integer dtype. */
        bool ov;
        eq_tensor *conv = eq_ops_cast_raw(vals, x->dtype, &ov);
        if (ov) eq_tensor_free(vals);
        out = conv;
      }
      if (record && out) {
        bool failed;
        eq_node *node = eq_ops_record(op, out, 1, &x, extremum_backward, &failed);
        int64_t *saved = node ? eq_node_alloc_ctx(node, (size_t)p->M * sizeof *saved) : NULL;
        if (failed || (node && !saved)) {
          out = NULL;
        } else if (node) {
          memcpy(saved, idx, (size_t)p->M * sizeof *saved);
          eq_reduce_plan_save(p, node);
        }
      }
    } else {
      eq_tensor_free(out);
      out = NULL;
    }
    if (want_values) free(idx);
    if (owned) eq_tensor_free(rows);
  }
  if (oc) eq_tensor_free(xc);
  return out;
}

static eq_tensor *max_min(const char *op, eq_tensor *x, int naxes, const int *axes, bool keepdim, bool is_max) {
  if (check_dtype(op, x)) return NULL;
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, x, naxes, axes, keepdim)) return NULL;
  return extremum(op, x, &p, is_max, true);
}

eq_tensor *eq_max(eq_tensor *x, int naxes, const int *axes, bool keepdim) {
  return max_min("max", x, naxes, axes, keepdim, true);
}
eq_tensor *eq_min(eq_tensor *x, int naxes, const int *axes, bool keepdim) {
  return max_min("min", x, naxes, axes, keepdim, false);
}

static eq_tensor *arg(const char *op, eq_tensor *x, int axis, bool keepdim, bool is_max) {
  if (check_dtype(op, x)) return NULL;
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, x, 1, &axis, keepdim)) return NULL;
  return extremum(op, x, &p, is_max, false);
}

eq_tensor *eq_argmax(eq_tensor *x, int axis, bool keepdim) { return arg("argmax", x, axis, keepdim, true); }
eq_tensor *eq_argmin(eq_tensor *x, int axis, bool keepdim) { return arg("argmin", x, axis, keepdim, false); }

/* ------------------------------------------------------------ all / any */

static eq_tensor *all_any(const char *op, eq_tensor *x, int naxes, const int *axes, bool keepdim, bool is_all) {
  if (check_dtype(op, x)) return NULL;
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, x, naxes, axes, keepdim)) return NULL;
  /* Truth of each element as bool (NaN is true), then a byte scan. */
  eq_tensor *b = x;
  bool ob = false;
  if (x->dtype != EQ_BOOL) {
    b = eq_ops_binary_scalar_raw(EQ_NOT_EQUAL, x, 0.0);
    if (!b) return NULL;
    ob = true;
  }
  bool owned;
  eq_tensor *rows = eq_reduce_rows(&p, b, &owned);
  eq_tensor *out = rows ? eq_empty(EQ_BOOL, p.out_ndim, p.out_shape) : NULL;
  if (out) {
    const uint8_t *r = eq_data_ptr(rows);
    uint8_t *o = eq_data_ptr(out);
    for (int64_t m = 0; m < p.M; m++) {
      uint8_t acc = is_all ? 1 : 0;
      const uint8_t *row = r + m * p.R;
      if (is_all) {
        for (int64_t k = 0; k < p.R; k++) acc &= row[k];
      } else {
        for (int64_t k = 0; k < p.R; k++) acc |= row[k];
      }
      o[m] = acc;
    }
  }
  if (rows && owned) eq_tensor_free(rows);
  if (ob) eq_tensor_free(b);
  return out;
}

eq_tensor *eq_all(eq_tensor *x, int naxes, const int *axes, bool keepdim) {
  return all_any("all", x, naxes, axes, keepdim, true);
}
eq_tensor *eq_any(eq_tensor *x, int naxes, const int *axes, bool keepdim) {
  return all_any("any", x, naxes, axes, keepdim, false);
}
