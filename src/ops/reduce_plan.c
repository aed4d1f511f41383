/* Reduction layout: every reduction is computed on x permuted to
 * [kept axes, reduced axes] = a row-major [M, R] matrix (a view when x is
 * already laid out so, else one copy), and its gradient is accumulated back
 * through the same permutation of x's gradient buffer. */
#include "ops/ops_internal.h"

eq_status eq_reduce_plan_init(eq_reduce_plan *p, const char *op, const eq_tensor *x, int naxes, const int *axes,
                              bool keepdim) {
  memset(p, 0, sizeof *p);
  p->ndim = x->ndim;
  if (naxes < 0 || naxes > EQ_MAX_DIMS) return eq_error(EQ_ERR_SHAPE, "%s: %d axes", op, naxes);
  if (naxes == 0) {
    for (int d = 0; d < x->ndim; d++) p->reduced[d] = true;
  } else {
    if (!axes) return eq_error(EQ_ERR_VALUE, "%s: %d axes but no axis list", op, naxes);
    for (int k = 0; k < naxes; k++) {
      int a;
      if (eq_axis(op, axes[k], x->ndim, &a)) return eq_error_code();
      if (x->ndim == 0) continue; /* axis 0 / -1 of a scalar: nothing to reduce */
      if (p->reduced[a]) return eq_error(EQ_ERR_SHAPE, "%s: axis %d given twice", op, axes[k]);
      p->reduced[a] = true;
    }
  }
  int n = 0;
  p->M = 1;
  p->R = 1;
  for (int d = 0; d < x->ndim; d++)
    if (!p->reduced[d]) {
      p->perm[n++] = d;
      p->M *= x->shape[d];
    }
  p->nkept = n;
  for (int d = 0; d < x->ndim; d++)
    if (p->reduced[d]) {
      p->perm[n++] = d;
      p->R *= x->shape[d];
    }
  for (int d = 0; d < x->ndim; d++) p->keep_shape[d] = p->reduced[d] ? 1 : x->shape[d];
  if (keepdim) {
    p->out_ndim = x->ndim;
    memcpy(p->out_shape, p->keep_shape, sizeof p->out_shape);
  } else {
    p->out_ndim = p->nkept;
    for (int k = 0; k < p->nkept; k++) p->out_shape[k] = x->shape[p->perm[k]];
  }
  return EQ_OK;
}

void eq_reduce_plan_save(const eq_reduce_plan *p, eq_node *node) {
  int64_t mask = 0;
  for (int d = 0; d < p->ndim; d++)
    if (p->reduced[d]) mask |= (int64_t)1 << d;
  node->i[0] = mask;
  node->i[1] = p->out_ndim == p->ndim; /* keepdim (either way when nothing is reduced) */
}

void eq_reduce_plan_load(eq_reduce_plan *p, const eq_node *node, const eq_tensor *x) {
  int axes[EQ_MAX_DIMS], n = 0;
  for (int d = 0; d < x->ndim; d++)
    if (node->i[0] & ((int64_t)1 << d)) axes[n++] = d;
  if (n == 0) {
    /* Nothing reduced (a 0-d input): keep the plan's trivial layout. */
    eq_reduce_plan_init(p, node->op, x, 0, NULL, node->i[1] != 0);
    return;
  }
  eq_reduce_plan_init(p, node->op, x, n, axes, node->i[1] != 0);
}

/* x's shape and strides permuted by the plan. */
static void permuted(const eq_reduce_plan *p, const eq_tensor *x, int64_t *shape, int64_t *stride) {
  for (int k = 0; k < p->ndim; k++) {
    shape[k] = x->shape[p->perm[k]];
    stride[k] = x->stride[p->perm[k]];
  }
}

eq_tensor *eq_reduce_rows(const eq_reduce_plan *p, eq_tensor *x, bool *owned) {
  int64_t shape[EQ_MAX_DIMS], stride[EQ_MAX_DIMS];
  permuted(p, x, shape, stride);
  eq_tensor *v = eq_ops_raw_view(x, p->ndim, shape, stride);
  if (!v) return NULL;
  int64_t mr[2] = {p->M, p->R}, rs[2] = {p->R, 1};
  *owned = true;
  if (eq_is_contiguous(v)) {
    eq_tensor *rows = eq_ops_raw_view(v, 2, mr, rs);
    eq_tensor_free(v);
    return rows;
  }
  eq_tensor *c = eq_empty(x->dtype, p->ndim, shape);
  if (!c || eq_copy_(c, v)) {
    eq_tensor_free(v);
    eq_tensor_free(c);
    return NULL;
  }
  eq_tensor_free(v);
  c->ndim = 2;
  c->shape[0] = p->M;
  c->shape[1] = p->R;
  eq_set_contiguous_strides(c);
  return c;
}

eq_status eq_reduce_accumulate_rows(const eq_reduce_plan *p, eq_tensor *x, const eq_tensor *g_rows) {
  if (!x->requires_grad) return EQ_OK;
  eq_tensor *gx = eq_grad_buffer(x);
  if (!gx) return eq_error_code();
  int64_t shape[EQ_MAX_DIMS], stride[EQ_MAX_DIMS], cstride[EQ_MAX_DIMS];
  permuted(p, gx, shape, stride);
  eq_tensor *dst = eq_ops_raw_view(gx, p->ndim, shape, stride);
  int64_t s = 1;
  for (int k = p->ndim - 1; k >= 0; k--) {
    cstride[k] = s;
    s *= shape[k];
  }
  eq_tensor *src = dst ? eq_ops_raw_view(g_rows, p->ndim, shape, cstride) : NULL;
  eq_status st = src ? eq_accumulate_(dst, src) : eq_error_code();
  eq_tensor_free(dst);
  eq_tensor_free(src);
  return st;
}

eq_tensor *eq_reduce_keepdim_view(const eq_reduce_plan *p, const eq_tensor *g) {
  int64_t stride[EQ_MAX_DIMS], s = 1;
  for (int k = p->ndim - 1; k >= 0; k--) {
    stride[k] = s;
    s *= p->keep_shape[k];
  }
  if (!eq_is_contiguous(g)) {
    eq_error(EQ_ERR_STATE, "reduce backward: the output gradient is not contiguous");
    return NULL;
  }
  return eq_ops_raw_view(g, p->ndim, p->keep_shape, stride);
}

/* out (x's shape, dtype dt) from [M, R] rows in the plan's layout. */
eq_tensor *eq_reduce_from_rows(const eq_reduce_plan *p, const eq_tensor *x, const eq_tensor *rows, eq_dtype dt) {
  eq_tensor *out = eq_empty(dt, x->ndim, x->shape);
  if (!out) return NULL;
  int64_t shape[EQ_MAX_DIMS], stride[EQ_MAX_DIMS], cstride[EQ_MAX_DIMS], s = 1;
  for (int k = 0; k < p->ndim; k++) {
    shape[k] = out->shape[p->perm[k]];
    stride[k] = out->stride[p->perm[k]];
  }
  for (int k = p->ndim - 1; k >= 0; k--) {
    cstride[k] = s;
    s *= shape[k];
  }
  eq_tensor *dst = eq_ops_raw_view(out, p->ndim, shape, stride);
  eq_tensor *src = dst ? eq_ops_raw_view(rows, p->ndim, shape, cstride) : NULL;
  eq_status st = src ? eq_copy_(dst, src) : eq_error_code();
  eq_tensor_free(dst);
  eq_tensor_free(src);
  if (st) {
    eq_tensor_free(out);
    return NULL;
  }
  return out;
}


eq_status eq_rows_grad_begin(eq_rows_grad *r, const eq_node *node, eq_tensor *x) {
  eq_reduce_plan_load(&r->plan, node, x);
  r->grad = NULL;
  r->rows = eq_reduce_rows(&r->plan, x, &r->owned);
  if (r->rows) r->grad = eq_empty(x->dtype, 2, r->rows->shape);
  return r->grad ? EQ_OK : eq_error_code();
}

eq_status eq_rows_grad_end(eq_rows_grad *r, eq_tensor *x, eq_status st) {
  if (!st && r->grad) st = eq_reduce_accumulate_rows(&r->plan, x, r->grad);
  eq_tensor_free(r->grad);
  if (r->rows && r->owned) eq_tensor_free(r->rows);
  return st;
}
