/* concat, stack, split (views), index_select, gather, with backward
 * (slices of the gradient; scatter-add for the index ops). */
#include <omp.h>

#include "ops/ops_internal.h"

/* ------------------------------------------------------------ concat */

/* A raw view of t restricted to [start, start + len) along axis. */
static eq_tensor *narrow_raw(const eq_tensor *t, int axis, int64_t start, int64_t len) {
  eq_tensor *v = eq_view_of(t);
  if (!v) return NULL;
  v->offset += start * t->stride[axis];
  v->shape[axis] = len;
  return v;
}

/* i[0] axis, i[1 + k] the start of input k along it. */
static eq_status concat_backward(eq_node *node) {
  eq_tensor *g = node->out->grad;
  int axis = (int)node->i[0];
  EQ_NO_GRAD_BEGIN;
  eq_status st = EQ_OK;
  for (int k = 0; k < node->n_inputs && !st; k++) {
    eq_tensor *x = node->inputs[k];
    if (!x->requires_grad) continue;
    eq_tensor *piece = narrow_raw(g, axis, node->i[1 + k], x->shape[axis]);
    st = piece ? eq_grad_accumulate(x, piece) : eq_error_code();
    eq_tensor_free(piece);
  }
  EQ_NO_GRAD_END;
  return st;
}

static eq_tensor *concat_direct(int n, eq_tensor *const *xs, int axis, eq_dtype dt) {
  int64_t shape[EQ_MAX_DIMS];
  memcpy(shape, xs[0]->shape, sizeof shape);
  shape[axis] = 0;
  for (int k = 0; k < n; k++) shape[axis] += xs[k]->shape[axis];
  eq_tensor *out = eq_empty(dt, xs[0]->ndim, shape);
  if (!out) return NULL;
  int64_t start = 0;
  for (int k = 0; k < n; k++) {
    eq_tensor *dst = narrow_raw(out, axis, start, xs[k]->shape[axis]);
    eq_status st = dst ? eq_copy_(dst, xs[k]) : eq_error_code();
    eq_tensor_free(dst);
    if (st) {
      eq_tensor_free(out);
      return NULL;
    }
    start += xs[k]->shape[axis];
  }
  return out;
}

eq_tensor *eq_concat(int n, eq_tensor *const *xs, int axis) {
  if (n < 1 || !xs) {
    eq_error(EQ_ERR_VALUE, "concat: needs at least one tensor, got %d", n);
    return NULL;
  }
  int nd = xs[0]->ndim, a;
  if (nd == 0) {
    eq_error(EQ_ERR_SHAPE, "concat: cannot concatenate 0-d tensors (use stack)");
    return NULL;
  }
  if (eq_axis("concat", axis, nd, &a)) return NULL;
  eq_dtype dt = xs[0]->dtype;
  for (int k = 0; k < n; k++) {
    if (eq_require_cpu("concat", xs[k])) return NULL;
    bool ok = xs[k]->ndim == nd;
    for (int d = 0; ok && d < nd; d++)
      if (d != a && xs[k]->shape[d] != xs[0]->shape[d]) ok = false;
    if (!ok) {
      char s0[96], sk[96];
      eq_error(EQ_ERR_SHAPE, "concat: tensor %d of shape %s does not match tensor 0 of shape %s outside axis %d", k,
               eq_shape_str(xs[k], sk, sizeof sk), eq_shape_str(xs[0], s0, sizeof s0), a);
      return NULL;
    }
    dt = eq_dtype_promote(dt, xs[k]->dtype);
  }
  bool grad = eq_dtype_is_float(dt) && eq_needs_grad(n, xs);
  if (!grad) return concat_direct(n, xs, a, dt);
  if (n > EQ_NODE_MAX_INPUTS) {
    /* More inputs than a tape node holds: concatenate groups, then the
     * groups (each level is differentiable). */
    eq_tensor *groups[EQ_NODE_MAX_INPUTS * EQ_NODE_MAX_INPUTS];
    int ng = 0, per = (n + EQ_NODE_MAX_INPUTS - 1) / EQ_NODE_MAX_INPUTS;
    if (per < 2) per = 2;
    for (int k = 0; k < n; k += per) {
      int m = n - k < per ? n - k : per;
      groups[ng] = eq_concat(m, xs + k, a);
      if (!groups[ng]) return NULL;
      ng++;
    }
    return eq_concat(ng, groups, a);
  }
  eq_tensor *out = concat_direct(n, xs, a, dt);
  if (!out) return NULL;
  bool failed;
  eq_node *node = eq_ops_record("concat", out, n, xs, concat_backward, &failed);
  if (failed) return NULL;
  if (node) {
    node->i[0] = a;
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
      node->i[1 + k] = start;
      start += xs[k]->shape[a];
    }
  }
  return out;
}

eq_tensor *eq_stack(int n, eq_tensor *const *xs, int axis) {
  if (n < 1 || !xs) {
    eq_error(EQ_ERR_VALUE, "stack: needs at least one tensor, got %d", n);
    return NULL;
  }
  for (int k = 1; k < n; k++)
    if (!eq_same_shape(xs[k], xs[0])) {
      char s0[96], sk[96];
      eq_error(EQ_ERR_SHAPE, "stack: tensor %d of shape %s differs from tensor 0 of shape %s", k,
               eq_shape_str(xs[k], sk, sizeof sk), eq_shape_str(xs[0], s0, sizeof s0));
      return NULL;
    }
  int nd = xs[0]->ndim + 1;
  int a = axis < 0 ? axis + nd : axis;
  if (a < 0 || a >= nd) {
    eq_error(EQ_ERR_SHAPE, "stack: axis %d out of range for %d-d results", axis, nd);
    return NULL;
  }
  eq_tensor *small[16], **ex = n <= 16 ? small : eq_malloc((size_t)n * sizeof *ex);
  if (!ex) return NULL;
  eq_tensor *out = NULL;
  int made = 0;
  for (; made < n; made++) {
    ex[made] = eq_unsqueeze(xs[made], a);
    if (!ex[made]) break;
  }
  if (made == n) out = eq_concat(n, ex, a);
  /* The views stay alive when the tape refers to them (arena steps). */
  if (!out || !out->requires_grad)
    for (int k = 0; k < made; k++) eq_tensor_free(ex[k]);
  if (ex != small) eq_free(ex);
  return out;
}

eq_status eq_split(eq_tensor *x, int axis, int n, const int64_t *sizes, eq_tensor **out) {
  int a;
  if (eq_axis("split", axis, x->ndim, &a)) return eq_error_code();
  if (n < 1) return eq_error(EQ_ERR_VALUE, "split: %d pieces", n);
  int64_t total = 0;
  for (int k = 0; k < n; k++) {
    if (sizes[k] < 0) return eq_error(EQ_ERR_VALUE, "split: negative size %lld for piece %d", (long long)sizes[k], k);
    total += sizes[k];
  }
  if (total != x->shape[a]) {
    char b[96];
    return eq_error(EQ_ERR_SHAPE, "split: sizes add up to %lld but axis %d of %s has %lld", (long long)total, a,
                    eq_shape_str(x, b, sizeof b), (long long)x->shape[a]);
  }
  int64_t start = 0;
  for (int k = 0; k < n; k++) {
    out[k] = eq_slice(x, a, start, start + sizes[k], 1);
    if (!out[k]) {
      for (int j = 0; j < k; j++) eq_tensor_free(out[j]);
      return eq_error_code();
    }
    start += sizes[k];
  }
  return EQ_OK;
}

/* ------------------------------------------------------------ index_select */

/* The index as a contiguous int64 tensor, each value checked against n
 * (negative values count from the end, as Python). */
static eq_tensor *checked_index(const char *op, eq_tensor *index, int64_t n, bool *owned) {
  if (index->dtype != EQ_I64 && index->dtype != EQ_I32) {
    eq_error(EQ_ERR_DTYPE, "%s: index must be int64 (or int32), got %s", op, eq_dtype_name(index->dtype));
    return NULL;
  }
  eq_tensor *idx = index;
  *owned = false;
  if (index->dtype != EQ_I64 || !eq_is_contiguous(index)) {
    idx = eq_empty(EQ_I64, index->ndim, index->shape);
    if (!idx || eq_copy_(idx, index)) {
      eq_tensor_free(idx);
      return NULL;
    }
    *owned = true;
  }
  const int64_t *v = eq_data_ptr(idx);
  int64_t m = eq_numel(idx);
  for (int64_t i = 0; i < m; i++)
    if (v[i] < -n || v[i] >= n) {
      eq_error(EQ_ERR_VALUE, "%s: index %lld (element %lld) out of range for size %lld", op, (long long)v[i],
               (long long)i, (long long)n);
      if (*owned) eq_tensor_free(idx);
      return NULL;
    }
  return idx;
}

static inline int64_t wrap(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

/* dst[o, j, :] (+)= src[o, idx[j], :] or, scattering, dst[o, idx[j], :] +=
 * src[o, j, :], on contiguous [outer, *, inner] float/any buffers. */
static eq_status index_select_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  int a = (int)node->i[0];
  const int64_t *idx = node->ctx;
  int64_t m = node->i[1];
  EQ_NO_GRAD_BEGIN;
  eq_tensor *gx = eq_grad_buffer(x);
  eq_status st = gx ? EQ_OK : eq_error_code();
  if (!st) {
    int64_t outer = 1, inner = 1, n = x->shape[a];
    for (int d = 0; d < a; d++) outer *= x->shape[d];
    for (int d = a + 1; d < x->ndim; d++) inner *= x->shape[d];
    char *dst = eq_data_ptr(gx);
    const char *src = eq_data_ptr(g);
    bool f32 = x->dtype == EQ_F32;
#pragma omp parallel for if (outer > 1 && outer * m * inner > 32768 && !omp_in_parallel())
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < m; j++) {
        int64_t r = wrap(idx[j], n);
        if (f32) {
          float *restrict d = (float *)dst + (o * n + r) * inner;
          const float *restrict s = (const float *)src + (o * m + j) * inner;
          for (int64_t k = 0; k < inner; k++) d[k] += s[k];
        } else {
          double *restrict d = (double *)dst + (o * n + r) * inner;
          const double *restrict s = (const double *)src + (o * m + j) * inner;
          for (int64_t k = 0; k < inner; k++) d[k] += s[k];
        }
      }
  }
  EQ_NO_GRAD_END;
  return st;
}

eq_tensor *eq_index_select(eq_tensor *x, int axis, eq_tensor *index) {
  int a;
  if (eq_require_cpu("index_select", x) || eq_axis("index_select", axis, x->ndim, &a)) return NULL;
  if (index->ndim != 1) {
    char b[96];
    eq_error(EQ_ERR_SHAPE, "index_select: index must be 1-d, got shape %s", eq_shape_str(index, b, sizeof b));
    return NULL;
  }
  if (x->ndim == 0) {
    eq_error(EQ_ERR_SHAPE, "index_select: 0-d input");
    return NULL;
  }
  bool oi, ox;
  eq_tensor *idx = checked_index("index_select", index, x->shape[a], &oi);
  if (!idx) return NULL;
  eq_tensor *xc = eq_ops_contiguous_raw(x, &ox);
  int64_t shape[EQ_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  int64_t m = index->shape[0];
  shape[a] = m;
  eq_tensor *out = xc ? eq_empty(x->dtype, x->ndim, shape) : NULL;
  if (out) {
    int64_t outer = 1, inner = 1, n = x->shape[a];
    for (int d = 0; d < a; d++) outer *= x->shape[d];
    for (int d = a + 1; d < x->ndim; d++) inner *= x->shape[d];
    size_t row = (size_t)inner * eq_dtype_size(x->dtype);
    const char *src = eq_data_ptr(xc);
    char *dst = eq_data_ptr(out);
    const int64_t *iv = eq_data_ptr(idx);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < m; j++)
        memcpy(dst + (size_t)(o * m + j) * row, src + (size_t)(o * n + wrap(iv[j], n)) * row, row);
    if (eq_dtype_is_float(x->dtype)) {
      bool failed;
      eq_node *node = eq_ops_record("index_select", out, 1, &x, index_select_backward, &failed);
      int64_t *saved = node ? eq_node_alloc_ctx(node, (size_t)(m ? m : 1) * sizeof *saved) : NULL;
      if (failed || (node && !saved)) {
        out = NULL;
      } else if (node) {
        memcpy(saved, iv, (size_t)m * sizeof *saved);
        node->i[0] = a;
        node->i[1] = m;
      }
    }
  }
  if (ox) eq_tensor_free(xc);
  if (oi) eq_tensor_free(idx);
  return out;
}

/* ------------------------------------------------------------ gather */

/* For every element of the index (contiguous, shape `shape`), the element
 * offset into a tensor with `stride` where the `axis` coordinate is replaced
 * by the index value. */
static void gather_offsets(int ndim, const int64_t *shape, const int64_t *stride, int axis, int64_t n,
                           const int64_t *iv, int64_t *off) {
  int64_t count = 1;
  for (int d = 0; d < ndim; d++) count *= shape[d];
  int64_t pos[EQ_MAX_DIMS] = {0};
  for (int64_t e = 0; e < count; e++) {
    int64_t o = 0;
    for (int d = 0; d < ndim; d++) o += (d == axis ? wrap(iv[e], n) : pos[d]) * stride[d];
    off[e] = o;
    for (int d = ndim - 1; d >= 0; d--) {
      if (++pos[d] < shape[d]) break;
      pos[d] = 0;
    }
  }
}

/* ctx: element offsets into x's (contiguous) gradient, one per output. */
static eq_status gather_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  const int64_t *off = node->ctx;
  EQ_NO_GRAD_BEGIN;
  eq_tensor *gx = eq_grad_buffer(x);
  eq_status st = gx ? EQ_OK : eq_error_code();
  if (!st) {
    int64_t count = eq_numel(g);
    if (x->dtype == EQ_F32) {
      float *d = eq_data_ptr(gx);
      const float *s = eq_data_ptr(g);
      for (int64_t e = 0; e < count; e++) d[off[e]] += s[e];
    } else {
      double *d = eq_data_ptr(gx);
      const double *s = eq_data_ptr(g);
      for (int64_t e = 0; e < count; e++) d[off[e]] += s[e];
    }
  }
  EQ_NO_GRAD_END;
  return st;
}

eq_tensor *eq_gather(eq_tensor *x, int axis, eq_tensor *index) {
  int a;
  if (eq_require_cpu("gather", x) || eq_axis("gather", axis, x->ndim, &a)) return NULL;
  char sx[96], si[96];
  bool ok = index->ndim == x->ndim;
  for (int d = 0; ok && d < x->ndim; d++)
    if (d != a && index->shape[d] > x->shape[d]) ok = false;
  if (!ok) {
    eq_error(EQ_ERR_SHAPE, "gather: index of shape %s does not fit input %s (same ndim, no larger outside axis %d)",
             eq_shape_str(index, si, sizeof si), eq_shape_str(x, sx, sizeof sx), a);
    return NULL;
  }
  bool oi;
  eq_tensor *idx = checked_index("gather", index, x->ndim ? x->shape[a] : 1, &oi);
  if (!idx) return NULL;
  int64_t count = eq_numel(idx);
  int64_t *off = eq_malloc((size_t)(count ? count : 1) * sizeof *off);
  eq_tensor *out = off ? eq_empty(x->dtype, index->ndim, index->shape) : NULL;
  if (out) {
    gather_offsets(x->ndim, index->shape, x->stride, a, x->ndim ? x->shape[a] : 1, eq_data_ptr(idx), off);
    size_t es = eq_dtype_size(x->dtype);
    const char *src = eq_data_ptr(x);
    char *dst = eq_data_ptr(out);
    for (int64_t e = 0; e < count; e++) memcpy(dst + (size_t)e * es, src + off[e] * (int64_t)es, es);
    if (eq_dtype_is_float(x->dtype) && eq_needs_grad(1, &x)) {
      /* The backward scatters into x's contiguous gradient buffer. */
      int64_t cstride[EQ_MAX_DIMS], s = 1;
      for (int d = x->ndim - 1; d >= 0; d--) {
        cstride[d] = s;
        s *= x->shape[d];
      }
      bool failed;
      eq_node *node = eq_ops_record("gather", out, 1, &x, gather_backward, &failed);
      int64_t *saved = node ? eq_node_alloc_ctx(node, (size_t)(count ? count : 1) * sizeof *saved) : NULL;
      if (failed || !saved) {
        out = NULL;
      } else {
        gather_offsets(x->ndim, index->shape, cstride, a, x->ndim ? x->shape[a] : 1, eq_data_ptr(idx), saved);
      }
    }
  }
  eq_free(off);
  if (oi) eq_tensor_free(idx);
  return out;
}
