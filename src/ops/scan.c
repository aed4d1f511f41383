/* Inclusive scans (cumsum, cumprod) along one axis, accumulated in double
 * (float) or int64 (integers, whose result is int64 as PyTorch). */
#include <stdlib.h>

#include "ops/ops_internal.h"

/* x's values in the plan's [M, R] row layout, as float64 or int64. */
static eq_tensor *rows_as(const eq_reduce_plan *p, eq_tensor *x, eq_dtype dt) {
  bool oc, orow;
  eq_tensor *xc = eq_ops_cast_raw(x, dt, &oc);
  if (!xc) return NULL;
  eq_tensor *rows = eq_reduce_rows(p, xc, &orow);
  eq_tensor *res = NULL;
  if (rows) {
    /* A private contiguous copy, so it may be overwritten. */
    res = eq_empty(dt, 2, rows->shape);
    if (res && eq_copy_(res, rows)) {
      eq_tensor_free(res);
      res = NULL;
    }
    if (orow) eq_tensor_free(rows);
  }
  if (oc) eq_tensor_free(xc);
  return res;
}

static void scan_rows(eq_tensor *rows, bool prod) {
  int64_t M = rows->shape[0], R = rows->shape[1];
  if (rows->dtype == EQ_F64) {
    double *r = eq_data_ptr(rows);
    for (int64_t m = 0; m < M; m++) {
      double acc = prod ? 1 : 0;
      for (int64_t k = 0; k < R; k++) r[m * R + k] = acc = prod ? acc * r[m * R + k] : acc + r[m * R + k];
    }
  } else {
    int64_t *r = eq_data_ptr(rows);
    for (int64_t m = 0; m < M; m++) {
      uint64_t acc = prod ? 1 : 0;
      for (int64_t k = 0; k < R; k++) {
        acc = prod ? acc * (uint64_t)r[m * R + k] : acc + (uint64_t)r[m * R + k];
        r[m * R + k] = (int64_t)acc;
      }
    }
  }
}

/* cumsum: gx = reverse cumsum of g. cumprod: gx_k = sum_{j>=k} g_j y_j / x_k
 * before the first zero z of the row; at z the product of the others is
 * built up explicitly; after z the gradient is 0. */
static eq_status scan_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  bool prod = node->i[2] != 0;
  eq_reduce_plan p;
  eq_reduce_plan_load(&p, node, x);
  EQ_NO_GRAD_BEGIN;
  eq_status st = EQ_OK;
  eq_tensor *gr = rows_as(&p, g, EQ_F64), *xr = prod ? rows_as(&p, x, EQ_F64) : NULL;
  if (!gr || (prod && !xr)) st = eq_error_code();
  if (!st) {
    int64_t M = p.M, R = p.R;
    double *G = eq_data_ptr(gr);
    for (int64_t m = 0; m < M; m++) {
      double *gm = G + m * R;
      if (!prod) {
        double acc = 0;
        for (int64_t k = R - 1; k >= 0; k--) gm[k] = acc += gm[k];
        continue;
      }
      const double *xm = (const double *)eq_data_ptr(xr) + m * R;
      int64_t z = R;
      for (int64_t k = 0; k < R; k++)
        if (xm[k] == 0) {
          z = k;
          break;
        }
      /* prefix[k] = prod_{i<k} x_i, y_j = prefix[j] * x_j */
      double pre = 1, tail = 0, *gx = malloc((size_t)(R ? R : 1) * sizeof *gx);
      if (!gx) {
        st = eq_error(EQ_ERR_MEMORY, "cumprod backward: out of memory");
        break;
      }
      double *y = malloc((size_t)(R ? R : 1) * sizeof *y);
      if (!y) {
        free(gx);
        st = eq_error(EQ_ERR_MEMORY, "cumprod backward: out of memory");
        break;
      }
      for (int64_t k = 0; k < R; k++) y[k] = pre *= xm[k];
      for (int64_t k = R - 1; k >= 0; k--) {
        tail += gm[k] * y[k];
        gx[k] = k < z ? tail / xm[k] : 0;
      }
      if (z < R) {
        double before = z > 0 ? y[z - 1] : 1, run = before, acc = 0;
        for (int64_t j = z; j < R; j++) {
          if (j > z) run *= xm[j];
          acc += gm[j] * run;
        }
        gx[z] = acc;
      }
      memcpy(gm, gx, (size_t)R * sizeof *gx);
      free(gx);
      free(y);
    }
  }
  if (!st) {
    eq_tensor *back = eq_ops_cast_raw(gr, x->dtype, &(bool){false});
    st = back ? eq_reduce_accumulate_rows(&p, x, back) : eq_error_code();
    if (back != gr) eq_tensor_free(back);
  }
  eq_tensor_free(gr);
  eq_tensor_free(xr);
  EQ_NO_GRAD_END;
  return st;
}

static eq_tensor *scan(const char *op, eq_tensor *x, int axis, bool prod) {
  if (eq_require_cpu(op, x)) return NULL;
  if ((unsigned)x->dtype >= EQ_BF16) {
    eq_error(EQ_ERR_DTYPE, "%s: dtype %s is storage only", op, eq_dtype_name(x->dtype));
    return NULL;
  }
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, x, 1, &axis, true)) return NULL;
  bool is_float = eq_dtype_is_float(x->dtype);
  eq_tensor *rows = rows_as(&p, x, is_float ? EQ_F64 : EQ_I64);
  if (!rows) return NULL;
  scan_rows(rows, prod);
  eq_tensor *out = eq_reduce_from_rows(&p, x, rows, is_float ? x->dtype : EQ_I64);
  eq_tensor_free(rows);
  if (!out || !is_float) return out;
  bool failed;
  eq_node *node = eq_ops_record(op, out, 1, &x, scan_backward, &failed);
  if (failed) return NULL;
  if (node) {
    eq_reduce_plan_save(&p, node);
    node->i[2] = prod;
  }
  return out;
}

eq_tensor *eq_cumsum(eq_tensor *x, int axis) { return scan("cumsum", x, axis, false); }
eq_tensor *eq_cumprod(eq_tensor *x, int axis) { return scan("cumprod", x, axis, true); }
