/* Losses with mean reduction, as PyTorch: cross entropy (class indices,
 * label smoothing, ignore_index, [N, C] and [N, C, ...]), MSE and smooth L1.
 * Cross entropy keeps only the targets and the rows' log-sum-exp for its
 * backward. */
#pragma GCC optimize("no-trapping-math")
#include <math.h>
#include <omp.h>

#include "ops/fast_math.h"
#include "ops/ops_internal.h"

#define PAR_IF(M, R) if ((M) > 1 && (M) * (R) > 16384 && !omp_in_parallel())

typedef struct {
  int64_t M, C;
  double smoothing, count;
  int64_t ignore_index;
  int64_t *target; /* M entries */
  double *lse;     /* M entries */
} ce_ctx;

static double row_lse(const char *row, eq_dtype dt, int64_t C, double *sum) {
  double mx = -INFINITY, s = 0, total = 0;
  if (dt == EQ_F32) {
    const float *x = (const float *)row;
    float m[16];
    for (int j = 0; j < 16; j++) m[j] = -INFINITY;
    int64_t c0 = 0;
    for (; c0 + 16 <= C; c0 += 16)
      for (int j = 0; j < 16; j++) m[j] = x[c0 + j] > m[j] ? x[c0 + j] : m[j];
    for (; c0 < C; c0++) mx = x[c0] > mx ? x[c0] : mx;
    for (int j = 0; j < 16; j++) mx = m[j] > mx ? m[j] : mx;
    if (mx == -INFINITY) mx = 0;
    /* explicit lanes: float sums vectorise only so */
    float fs[16] = {0}, ft[16] = {0}, fm = (float)mx;
    int64_t c = 0;
    for (; c + 16 <= C; c += 16)
      for (int j = 0; j < 16; j++) {
        fs[j] += eq_expf(x[c + j] - fm);
        ft[j] += x[c + j];
      }
    for (; c < C; c++) {
      s += eq_expf(x[c] - fm);
      total += x[c];
    }
    for (int j = 0; j < 16; j++) {
      s += fs[j];
      total += ft[j];
    }
  } else {
    const double *x = (const double *)row;
    for (int64_t c = 0; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    if (mx == -INFINITY) mx = 0;
    for (int64_t c = 0; c < C; c++) {
      s += exp(x[c] - mx);
      total += x[c];
    }
  }
  *sum = total;
  return mx + log(s);
}

static eq_status ce_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  const ce_ctx *c = node->ctx;
  EQ_NO_GRAD_BEGIN;
  eq_rows_grad r;
  eq_status st = eq_rows_grad_begin(&r, node, x);
  eq_tensor *rows = r.rows, *gr = r.grad;
  if (!st) {
    double coef = eq_get_flat(g, 0) / c->count, ls = c->smoothing, uniform = ls / (double)c->C;
    int64_t M = c->M, C = c->C;
    bool f32 = x->dtype == EQ_F32;
    const char *X = eq_data_ptr(rows);
    char *G = eq_data_ptr(gr);
#pragma omp parallel for PAR_IF(M, C)
    for (int64_t m = 0; m < M; m++) {
      int64_t t = c->target[m];
      bool ignored = t == c->ignore_index;
      if (f32) {
        const float *xr = (const float *)X + m * C;
        float *gm = (float *)G + m * C;
        float lse = (float)c->lse[m], cf = ignored ? 0.0f : (float)coef, u = (float)uniform;
        for (int64_t k = 0; k < C; k++) gm[k] = cf * (eq_expf(xr[k] - lse) - u);
        if (!ignored) gm[t] -= cf * (float)(1 - ls);
      } else {
        const double *xr = (const double *)X + m * C;
        double *gm = (double *)G + m * C, cf = ignored ? 0.0 : coef;
        for (int64_t k = 0; k < C; k++) gm[k] = cf * (exp(xr[k] - c->lse[m]) - uniform);
        if (!ignored) gm[t] -= cf * (1 - ls);
      }
    }
  }
  st = eq_rows_grad_end(&r, x, st);
  EQ_NO_GRAD_END;
  return st;
}

eq_tensor *eq_cross_entropy(eq_tensor *logits, eq_tensor *targets, double label_smoothing, int64_t ignore_index) {
  const char *op = "cross_entropy";
  char sl[96], st_[96];
  if (eq_require_cpu(op, logits) || eq_require_cpu(op, targets)) return NULL;
  if (!eq_dtype_is_float(logits->dtype)) {
    eq_error(EQ_ERR_DTYPE, "%s: logits must be float32/float64, got %s", op, eq_dtype_name(logits->dtype));
    return NULL;
  }
  if (targets->dtype != EQ_I64 && targets->dtype != EQ_I32) {
    eq_error(EQ_ERR_DTYPE, "%s: targets must be int64 class indices, got %s", op, eq_dtype_name(targets->dtype));
    return NULL;
  }
  bool shape_ok = logits->ndim >= 2 && targets->ndim == logits->ndim - 1 && targets->shape[0] == logits->shape[0];
  for (int d = 2; shape_ok && d < logits->ndim; d++)
    if (targets->shape[d - 1] != logits->shape[d]) shape_ok = false;
  if (!shape_ok) {
    eq_error(EQ_ERR_SHAPE, "%s: logits %s and targets %s: need [N, C, ...] and [N, ...]", op,
             eq_shape_str(logits, sl, sizeof sl), eq_shape_str(targets, st_, sizeof st_));
    return NULL;
  }
  if (!(label_smoothing >= 0 && label_smoothing < 1)) {
    eq_error(EQ_ERR_VALUE, "%s: label_smoothing %g outside [0, 1)", op, label_smoothing);
    return NULL;
  }
  eq_reduce_plan p;
  if (eq_reduce_plan_init(&p, op, logits, 1, (int[]){1}, true)) return NULL;
  int64_t M = p.M, C = p.R;
  /* Targets, validated, into a buffer the tape may keep. */
  int64_t *tv = eq_malloc((size_t)(M ? M : 1) * sizeof *tv);
  double *lse = eq_malloc((size_t)(M ? M : 1) * sizeof *lse);
  eq_tensor *tw = tv ? eq_tensor_wrap(EQ_I64, targets->ndim, targets->shape, tv) : NULL;
  eq_tensor *out = NULL, *rows = NULL;
  bool owned = false;
  if (!tw || !lse || eq_copy_(tw, targets)) goto done;
  for (int64_t m = 0; m < M; m++)
    if (tv[m] != ignore_index || ignore_index < 0) {
      if (tv[m] < 0 || tv[m] >= C) {
        eq_error(EQ_ERR_VALUE, "%s: target %lld (element %lld) outside [0, %lld)%s", op, (long long)tv[m],
                 (long long)m, (long long)C, ignore_index >= 0 ? " and not ignore_index" : "");
        goto done;
      }
    }
  rows = eq_reduce_rows(&p, logits, &owned);
  if (!rows) goto done;
  double total = 0, count = 0;
  {
    const char *X = eq_data_ptr(rows);
    size_t es = eq_dtype_size(logits->dtype);
    bool ls = label_smoothing > 0;
#pragma omp parallel for reduction(+ : total, count) PAR_IF(M, C)
    for (int64_t m = 0; m < M; m++) {
      const char *row = X + (size_t)(m * C) * es;
      double sum;
      lse[m] = row_lse(row, logits->dtype, C, &sum);
      if (ignore_index >= 0 && tv[m] == ignore_index) continue;
      double xt = eq_load_as_double(row + (size_t)tv[m] * es, logits->dtype);
      double nll = lse[m] - xt;
      total += ls ? (1 - label_smoothing) * nll + label_smoothing * (lse[m] - sum / (double)C) : nll;
      count += 1;
    }
  }
  out = eq_scalar(logits->dtype, count > 0 ? total / count : NAN);
  if (out) {
    bool failed;
    eq_node *node = eq_ops_record(op, out, 1, &logits, ce_backward, &failed);
    ce_ctx *c = node ? eq_node_alloc_ctx(node, sizeof *c + (size_t)(M ? M : 1) * (sizeof(int64_t) + sizeof(double)))
                     : NULL;
    if (failed || (node && !c)) {
      out = NULL;
    } else if (node) {
      c->M = M;
      c->C = C;
      c->smoothing = label_smoothing;
      c->count = count;
      c->ignore_index = ignore_index >= 0 ? ignore_index : INT64_MIN;
      c->target = (int64_t *)(c + 1);
      c->lse = (double *)(c->target + (M ? M : 1));
      memcpy(c->target, tv, (size_t)M * sizeof *tv);
      memcpy(c->lse, lse, (size_t)M * sizeof *lse);
      eq_reduce_plan_save(&p, node);
    }
  }
done:
  if (rows && owned) eq_tensor_free(rows);
  eq_tensor_free(tw);
  eq_free(tv);
  eq_free(lse);
  return out;
}

/* ------------------------------------------------------------ mean of f(d) */

enum { LOSS_MSE, LOSS_SMOOTH_L1 };

typedef struct {
  int kind;
  double beta;
} pointwise_ctx;

static inline double loss_value(int kind, double beta, double d) {
  if (kind == LOSS_MSE) return d * d;
  double a = fabs(d);
  return a < beta ? 0.5 * d * d / beta : a - 0.5 * beta;
}

static inline double loss_slope(int kind, double beta, double d) {
  if (kind == LOSS_MSE) return 2 * d;
  if (fabs(d) < beta) return d / beta;
  return d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0);
}

/* f[0] beta, i[0] kind. */
static eq_status pointwise_backward(eq_node *node) {
  eq_tensor *d = node->inputs[0], *g = node->out->grad;
  int kind = (int)node->i[0];
  double beta = node->f[0];
  EQ_NO_GRAD_BEGIN;
  int64_t n = eq_numel(d);
  double coef = eq_get_flat(g, 0) / (double)n;
  eq_tensor *gd = eq_grad_buffer(d);
  eq_status st = gd ? EQ_OK : eq_error_code();
  if (!st) {
    /* d is the contiguous result of the subtraction below. */
    if (d->dtype == EQ_F32) {
      const float *x = eq_data_ptr(d);
      float *o = eq_data_ptr(gd);
      for (int64_t i = 0; i < n; i++) o[i] += (float)(coef * loss_slope(kind, beta, x[i]));
    } else {
      const double *x = eq_data_ptr(d);
      double *o = eq_data_ptr(gd);
      for (int64_t i = 0; i < n; i++) o[i] += coef * loss_slope(kind, beta, x[i]);
    }
  }
  EQ_NO_GRAD_END;
  return st;
}

static eq_tensor *pointwise_loss(const char *op, eq_tensor *input, eq_tensor *target, int kind, double beta) {
  if (eq_require_cpu(op, input) || eq_require_cpu(op, target)) return NULL;
  if (!eq_dtype_is_float(input->dtype) || !eq_dtype_is_float(target->dtype)) {
    eq_error(EQ_ERR_DTYPE, "%s: needs float32/float64 input and target, got %s and %s", op,
             eq_dtype_name(input->dtype), eq_dtype_name(target->dtype));
    return NULL;
  }
  if (!eq_same_shape(input, target)) {
    char a[96], b[96];
    eq_error(EQ_ERR_SHAPE, "%s: input %s and target %s differ in shape", op, eq_shape_str(input, a, sizeof a),
             eq_shape_str(target, b, sizeof b));
    return NULL;
  }
  /* d = input - target (taped: its backward passes the gradient on). */
  eq_tensor *d = eq_sub(input, target);
  if (!d) return NULL;
  int64_t n = eq_numel(d);
  double total = 0;
  if (d->dtype == EQ_F32) {
    const float *x = eq_data_ptr(d);
#pragma omp parallel for reduction(+ : total) if (n > 65536 && !omp_in_parallel())
    for (int64_t i = 0; i < n; i++) total += loss_value(kind, beta, x[i]);
  } else {
    const double *x = eq_data_ptr(d);
#pragma omp parallel for reduction(+ : total) if (n > 65536 && !omp_in_parallel())
    for (int64_t i = 0; i < n; i++) total += loss_value(kind, beta, x[i]);
  }
  eq_tensor *out = eq_scalar(d->dtype, n ? total / (double)n : NAN);
  if (out) {
    bool failed;
    eq_node *node = eq_ops_record(op, out, 1, &d, pointwise_backward, &failed);
    if (failed) out = NULL;
    if (node) {
      node->i[0] = kind;
      node->f[0] = beta;
    }
  }
  if (!out || !out->requires_grad) eq_tensor_free(d);
  return out;
}

eq_tensor *eq_mse_loss(eq_tensor *input, eq_tensor *target) {
  return pointwise_loss("mse_loss", input, target, LOSS_MSE, 0);
}

eq_tensor *eq_smooth_l1_loss(eq_tensor *input, eq_tensor *target, double beta) {
  if (!(beta >= 0)) {
    eq_error(EQ_ERR_VALUE, "smooth_l1_loss: beta %g must be >= 0", beta);
    return NULL;
  }
  return pointwise_loss("smooth_l1_loss", input, target, LOSS_SMOOTH_L1, beta);
}
