/* Views (reshape, permute, slice, select, expand, squeeze) and their
 * backward: a view's gradient is the same view of the input's gradient
 * buffer, accumulated into (expand instead sums over the broadcast dims). */
#include <stdio.h>
#include <string.h>

#include "equivar/autograd.h"
#include "tensor/tensor_internal.h"

enum view_kind { VIEW_RESHAPE, VIEW_PERMUTE, VIEW_SLICE, VIEW_SELECT, VIEW_EXPAND, VIEW_IDENTITY };

eq_tensor *eq_view_of(const eq_tensor *t) {
  eq_tensor *v = eq_tensor_struct_new();
  if (!v) return NULL;
  v->storage = t->storage;
  /* Heap views keep heap storage alive; arena views rely on the arena's
   * shorter lifetime (tensor.h). */
  if (!v->in_arena) eq_storage_retain(t->storage);
  v->offset = t->offset;
  v->ndim = t->ndim;
  memcpy(v->shape, t->shape, sizeof v->shape);
  memcpy(v->stride, t->stride, sizeof v->stride);
  v->dtype = t->dtype;
  return v;
}

/* ---- raw views (no tape) */

static eq_status resolve_reshape(const char *op, const eq_tensor *t, int ndim, const int64_t *shape,
                                 int64_t *out) {
  if (ndim < 0 || ndim > EQ_MAX_DIMS)
    return eq_error(EQ_ERR_SHAPE, "%s: %d dimensions (supported: 0..%d)", op, ndim, EQ_MAX_DIMS);
  int infer = -1;
  int64_t known = 1, total = eq_numel(t);
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == -1) {
      if (infer >= 0) return eq_error(EQ_ERR_SHAPE, "%s: more than one -1 in the new shape", op);
      infer = i;
    } else if (shape[i] < 0) {
      return eq_error(EQ_ERR_SHAPE, "%s: negative size %lld", op, (long long)shape[i]);
    } else {
      known *= shape[i];
    }
    out[i] = shape[i];
  }
  if (infer >= 0) {
    if (known == 0 || total % known)
      goto mismatch;
    out[infer] = total / known;
    known *= out[infer];
  }
  if (known != total) goto mismatch;
  return EQ_OK;
mismatch : {
  char b[96];
  return eq_error(EQ_ERR_SHAPE, "%s: cannot reshape %s (%lld elements) to %d dims with %lld elements", op,
                  eq_shape_str(t, b, sizeof b), (long long)total, ndim, (long long)known);
}
}

/* Strides for viewing t with a new shape without copying, if possible
 * (NumPy's attempt_nocopy_reshape, restricted to what we need). */
static bool reshape_strides(const eq_tensor *t, int ndim, const int64_t *shape, int64_t *stride) {
  if (eq_is_contiguous(t)) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
      stride[i] = s;
      s *= shape[i] ? shape[i] : 1;
    }
    return true;
  }
  /* Group old and new dims into runs with equal element counts; each old run
   * must be internally contiguous. */
  int oi = 0, ni = 0;
  int on = t->ndim;
  while (oi < on && ni < ndim) {
    int64_t op = t->shape[oi], np = shape[ni];
    int ostart = oi, nstart = ni;
    while (op != np) {
      if (op < np)
        op *= t->shape[++oi];
      else
        np *= shape[++ni];
    }
    for (int k = ostart; k < oi; k++)
      if (t->shape[k + 1] != 1 && t->stride[k] != t->stride[k + 1] * t->shape[k + 1]) return false;
    int64_t s = t->stride[oi];
    for (int k = ni; k >= nstart; k--) {
      stride[k] = s;
      s *= shape[k];
    }
    oi++;
    ni++;
  }
  for (; ni < ndim; ni++) stride[ni] = 1; /* trailing size-1 dims */
  return true;
}

static eq_tensor *permute_raw(eq_tensor *t, const int *dims, const char *op) {
  bool seen[EQ_MAX_DIMS] = {false};
  for (int i = 0; i < t->ndim; i++) {
    if (dims[i] < 0 || dims[i] >= t->ndim || seen[dims[i]]) {
      eq_error(EQ_ERR_SHAPE, "%s: invalid permutation of %d dims (entry %d = %d)", op, t->ndim, i, dims[i]);
      return NULL;
    }
    seen[dims[i]] = true;
  }
  eq_tensor *v = eq_view_of(t);
  if (!v) return NULL;
  for (int i = 0; i < t->ndim; i++) {
    v->shape[i] = t->shape[dims[i]];
    v->stride[i] = t->stride[dims[i]];
  }
  return v;
}

static eq_tensor *slice_raw(eq_tensor *t, int dim, int64_t start, int64_t stop, int64_t step) {
  eq_tensor *v = eq_view_of(t);
  if (!v) return NULL;
  int64_t n = start < stop ? (stop - start + step - 1) / step : 0;
  v->offset += start * t->stride[dim];
  v->shape[dim] = n;
  v->stride[dim] = t->stride[dim] * step;
  return v;
}

static eq_tensor *select_raw(eq_tensor *t, int dim, int64_t index) {
  eq_tensor *v = eq_view_of(t);
  if (!v) return NULL;
  v->offset += index * t->stride[dim];
  for (int i = dim; i + 1 < t->ndim; i++) {
    v->shape[i] = t->shape[i + 1];
    v->stride[i] = t->stride[i + 1];
  }
  v->ndim = t->ndim - 1;
  return v;
}

/* ---- backward */

static eq_status view_backward(eq_node *node) {
  eq_tensor *in = node->inputs[0], *gout = node->out->grad;
  int kind = (int)node->i[0];
  if (kind == VIEW_EXPAND || kind == VIEW_IDENTITY) return eq_grad_accumulate(in, gout);
  /* A reshape or permute covers all of its input: a fresh gradient buffer
   * is then written by a copy, with no zeroing first. */
  bool covers = kind == VIEW_RESHAPE || kind == VIEW_PERMUTE, fresh = false;
  eq_tensor *gin = covers ? eq_grad_buffer_uninit(in, &fresh) : eq_grad_buffer(in);
  if (!gin) return eq_error_code();
  eq_tensor *alias = NULL;
  switch (kind) {
  case VIEW_RESHAPE: {
    alias = eq_view_of(gin);
    if (!alias) return eq_error_code();
    alias->ndim = node->out->ndim;
    memcpy(alias->shape, node->out->shape, sizeof alias->shape);
    eq_set_contiguous_strides(alias);
    break;
  }
  case VIEW_PERMUTE: {
    int dims[EQ_MAX_DIMS];
    for (int k = 0; k < in->ndim; k++) dims[k] = (int)node->i[1 + k];
    alias = permute_raw(gin, dims, node->op);
    break;
  }
  case VIEW_SLICE: alias = slice_raw(gin, (int)node->i[1], node->i[2], node->i[3], node->i[4]); break;
  case VIEW_SELECT: alias = select_raw(gin, (int)node->i[1], node->i[2]); break;
  }
  /* alias has out's shape and points into in->grad. */
  eq_status st = !alias ? eq_error_code() : fresh ? eq_copy_(alias, gout) : eq_accumulate_(alias, gout);
  eq_tensor_free(alias);
  if (st && fresh) memset(eq_data_ptr(gin), 0, (size_t)eq_numel(gin) * eq_dtype_size(gin->dtype)); /* never undefined */
  return st;
}

static eq_tensor *record_view(const char *op, eq_tensor *in, eq_tensor *out, int kind, const int64_t *args,
                              int nargs) {
  if (!out) return NULL;
  eq_node *node = eq_tape_record(op, out, 1, &in, view_backward);
  if (node) {
    node->i[0] = kind;
    for (int k = 0; k < nargs; k++) node->i[1 + k] = args[k];
  } else if (eq_error_code() == EQ_ERR_MEMORY) {
    return NULL;
  }
  return out;
}

/* ---- public views */

eq_tensor *eq_reshape(eq_tensor *t, int ndim, const int64_t *shape) {
  int64_t resolved[EQ_MAX_DIMS], stride[EQ_MAX_DIMS];
  if (resolve_reshape("eq_reshape", t, ndim, shape, resolved)) return NULL;
  eq_tensor *v;
  if (reshape_strides(t, ndim, resolved, stride)) {
    v = eq_view_of(t);
    if (!v) return NULL;
    v->ndim = ndim;
    memcpy(v->shape, resolved, sizeof(int64_t) * (size_t)ndim);
    memcpy(v->stride, stride, sizeof(int64_t) * (size_t)ndim);
  } else {
    bool prev = eq_set_grad_enabled(false);
    v = eq_contiguous(t);
    eq_set_grad_enabled(prev);
    if (!v) return NULL;
    v->ndim = ndim;
    memcpy(v->shape, resolved, sizeof(int64_t) * (size_t)ndim);
    eq_set_contiguous_strides(v);
  }
  return record_view("reshape", t, v, VIEW_RESHAPE, NULL, 0);
}

eq_tensor *eq_flatten(eq_tensor *t, int start_dim, int end_dim) {
  int s, e;
  if (t->ndim == 0) return eq_reshape(t, 1, (int64_t[]){1});
  if (eq_axis("eq_flatten", start_dim, t->ndim, &s) || eq_axis("eq_flatten", end_dim, t->ndim, &e)) return NULL;
  if (s > e) {
    eq_error(EQ_ERR_SHAPE, "eq_flatten: start_dim %d after end_dim %d", start_dim, end_dim);
    return NULL;
  }
  int64_t shape[EQ_MAX_DIMS];
  int n = 0;
  for (int i = 0; i < s; i++) shape[n++] = t->shape[i];
  int64_t m = 1;
  for (int i = s; i <= e; i++) m *= t->shape[i];
  shape[n++] = m;
  for (int i = e + 1; i < t->ndim; i++) shape[n++] = t->shape[i];
  return eq_reshape(t, n, shape);
}

eq_tensor *eq_permute(eq_tensor *t, const int *dims) {
  eq_tensor *v = permute_raw(t, dims, "eq_permute");
  if (!v) return NULL;
  /* The backward applies the inverse permutation to the gradient buffer:
   * gin viewed with inverse(dims) has out's layout. */
  int64_t inv[EQ_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) inv[i] = dims[i];
  return record_view("permute", t, v, VIEW_PERMUTE, inv, t->ndim);
}

eq_tensor *eq_transpose(eq_tensor *t, int dim0, int dim1) {
  int a, b;
  if (eq_axis("eq_transpose", dim0, t->ndim, &a) || eq_axis("eq_transpose", dim1, t->ndim, &b)) return NULL;
  int dims[EQ_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) dims[i] = i;
  dims[a] = b;
  dims[b] = a;
  return eq_permute(t, dims);
}

eq_tensor *eq_slice(eq_tensor *t, int dim, int64_t start, int64_t stop, int64_t step) {
  int d;
  if (eq_axis("eq_slice", dim, t->ndim, &d)) return NULL;
  if (step < 1) {
    eq_error(EQ_ERR_VALUE, "eq_slice: step %lld must be >= 1", (long long)step);
    return NULL;
  }
  int64_t n = t->shape[d];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (start > n) start = n;
  if (stop > n) stop = n;
  if (stop < start) stop = start;
  eq_tensor *v = slice_raw(t, d, start, stop, step);
  int64_t args[4] = {d, start, stop, step};
  return record_view("slice", t, v, VIEW_SLICE, args, 4);
}

eq_tensor *eq_select(eq_tensor *t, int dim, int64_t index) {
  int d;
  if (eq_axis("eq_select", dim, t->ndim, &d)) return NULL;
  int64_t n = t->shape[d];
  if (index < -n || index >= n) {
    char b[96];
    eq_error(EQ_ERR_VALUE, "eq_select: index %lld out of range for dim %d of %s", (long long)index, d,
             eq_shape_str(t, b, sizeof b));
    return NULL;
  }
  if (index < 0) index += n;
  eq_tensor *v = select_raw(t, d, index);
  int64_t args[2] = {d, index};
  return record_view("select", t, v, VIEW_SELECT, args, 2);
}

eq_tensor *eq_expand(eq_tensor *t, int ndim, const int64_t *shape) {
  if (ndim < t->ndim || ndim > EQ_MAX_DIMS) {
    char b[96];
    eq_error(EQ_ERR_SHAPE, "eq_expand: cannot expand %s to %d dims", eq_shape_str(t, b, sizeof b), ndim);
    return NULL;
  }
  eq_tensor *v = eq_view_of(t);
  if (!v) return NULL;
  int lead = ndim - t->ndim;
  for (int i = 0; i < ndim; i++) {
    int64_t src = i < lead ? 1 : t->shape[i - lead];
    int64_t target = shape[i] == -1 ? src : shape[i];
    if (src != target && src != 1) {
      char b[96];
      eq_error(EQ_ERR_SHAPE, "eq_expand: %s does not broadcast to size %lld in dim %d",
               eq_shape_str(t, b, sizeof b), (long long)target, i);
      eq_tensor_free(v);
      return NULL;
    }
    v->shape[i] = target;
    v->stride[i] = (i < lead || src != target) ? 0 : t->stride[i - lead];
  }
  v->ndim = ndim;
  return record_view("expand", t, v, VIEW_EXPAND, NULL, 0);
}

eq_tensor *eq_unsqueeze(eq_tensor *t, int dim) {
  int d = dim < 0 ? dim + t->ndim + 1 : dim;
  if (d < 0 || d > t->ndim || t->ndim >= EQ_MAX_DIMS) {
    eq_error(EQ_ERR_SHAPE, "eq_unsqueeze: dim %d out of range for a %d-d tensor", dim, t->ndim);
    return NULL;
  }
  int64_t shape[EQ_MAX_DIMS];
  for (int i = 0, j = 0; i <= t->ndim; i++) shape[i] = i == d ? 1 : t->shape[j++];
  return eq_reshape(t, t->ndim + 1, shape);
}

eq_tensor *eq_squeeze(eq_tensor *t, int dim) {
  int d;
  if (eq_axis("eq_squeeze", dim, t->ndim, &d)) return NULL;
  if (t->shape[d] != 1) {
    char b[96];
    eq_error(EQ_ERR_SHAPE, "eq_squeeze: dim %d of %s has size %lld, not 1", d, eq_shape_str(t, b, sizeof b),
             (long long)t->shape[d]);
    return NULL;
  }
  int64_t shape[EQ_MAX_DIMS];
  for (int i = 0, j = 0; i < t->ndim; i++)
    if (i != d) shape[j++] = t->shape[i];
  return eq_reshape(t, t->ndim - 1, shape);
}

static eq_tensor *copy_as(eq_tensor *t, eq_dtype dtype, const char *op) {
  if (eq_require_cpu(op, t)) return NULL; /* named as the caller's op, not eq_copy_ */
  eq_tensor *c = eq_empty(dtype, t->ndim, t->shape);
  if (!c) return NULL;
  if (eq_copy_(c, t)) {
    eq_tensor_free(c);
    return NULL;
  }
  if (eq_dtype_is_float(dtype) && eq_dtype_is_float(t->dtype))
    return record_view(op, t, c, VIEW_IDENTITY, NULL, 0);
  return c;
}

eq_tensor *eq_contiguous(eq_tensor *t) {
  if (eq_is_contiguous(t)) {
    eq_tensor *v = eq_view_of(t);
    return record_view("contiguous", t, v, VIEW_IDENTITY, NULL, 0);
  }
  return copy_as(t, t->dtype, "contiguous");
}

eq_tensor *eq_clone(eq_tensor *t) { return copy_as(t, t->dtype, "clone"); }

eq_tensor *eq_to_dtype(eq_tensor *t, eq_dtype dtype) {
  if ((unsigned)dtype >= EQ_DTYPE_COUNT) {
    eq_error(EQ_ERR_DTYPE, "eq_to_dtype: invalid dtype %d", (int)dtype);
    return NULL;
  }
  return copy_as(t, dtype, "to_dtype");
}
