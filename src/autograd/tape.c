/* The per-thread tape: recording, backward, gradient buffers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "tensor/iter.h"
#include "tensor/tensor_internal.h"

typedef struct tape {
  eq_node **nodes;
  int64_t count, capacity;
  eq_arena *memory;        /* nodes and their ctx blocks */
} tape;

static _Thread_local tape the_tape;
static _Thread_local bool grad_enabled = true;

bool eq_grad_enabled(void) { return grad_enabled; }

bool eq_set_grad_enabled(bool enabled) {
  bool prev = grad_enabled;
  grad_enabled = enabled;
  return prev;
}

bool eq_needs_grad(int n, eq_tensor *const *inputs) {
  if (!grad_enabled) return false;
  for (int k = 0; k < n; k++)
    if (inputs[k] && inputs[k]->requires_grad) return true;
  return false;
}

eq_node *eq_tape_record(const char *op, eq_tensor *out, int n, eq_tensor *const *inputs, eq_backward_fn backward) {
  if (!eq_needs_grad(n, inputs)) return NULL;
  tape *tp = &the_tape;
  if (n > EQ_NODE_MAX_INPUTS) {
    eq_error(EQ_ERR_STATE, "%s: %d inputs exceed the tape's limit of %d", op, n, EQ_NODE_MAX_INPUTS);
    return NULL;
  }
  if (!tp->memory && !(tp->memory = eq_arena_new(1 << 20))) return NULL;
  if (tp->count == tp->capacity) {
    int64_t cap = tp->capacity ? tp->capacity * 2 : 1024;
    eq_node **grown = realloc(tp->nodes, (size_t)cap * sizeof *grown);
    if (!grown) {
      eq_error(EQ_ERR_MEMORY, "%s: out of memory growing the autograd tape", op);
      return NULL;
    }
    tp->nodes = grown;
    tp->capacity = cap;
  }
  eq_node *node = eq_arena_alloc(tp->memory, sizeof *node);
  if (!node) return NULL;
  memset(node, 0, sizeof *node);
  node->op = op;
  node->out = out;
  node->n_inputs = n;
  for (int k = 0; k < n; k++) node->inputs[k] = inputs[k];
  node->backward = backward;
  node->index = tp->count;
  tp->nodes[tp->count++] = node;
  out->requires_grad = true;
  out->grad_fn = node;
  return node;
}

void *eq_node_alloc_ctx(eq_node *node, size_t bytes) {
  void *p = eq_arena_alloc(the_tape.memory, bytes);
  if (p) node->ctx = p;
  return p;
}

int64_t eq_tape_size(void) { return the_tape.count; }

void eq_tape_clear(void) {
  /* Tensors computed before the clear keep a stale grad_fn; backward from
   * them is refused (eq_backward_with checks the node is still on the tape). */
  the_tape.count = 0;
  eq_arena_reset(the_tape.memory);
}

eq_tensor *eq_grad_buffer_uninit(eq_tensor *t, bool *fresh) {
  *fresh = false;
  if (t->grad) return t->grad;
  bool leaf = t->grad_fn == NULL;
  eq_arena *prev = leaf ? eq_arena_set_current(NULL) : eq_arena_current();
  t->grad = eq_empty(t->dtype, t->ndim, t->shape);
  if (leaf) eq_arena_set_current(prev);
  *fresh = t->grad != NULL;
  return t->grad;
}

eq_tensor *eq_grad_buffer(eq_tensor *t) {
  bool fresh;
  eq_tensor *g = eq_grad_buffer_uninit(t, &fresh);
  if (g && fresh) memset(eq_data_ptr(g), 0, (size_t)eq_numel(g) * eq_dtype_size(g->dtype));
  return g;
}

eq_tensor *eq_sum_to_shape(const eq_tensor *g, int ndim, const int64_t *shape) {
  eq_tensor *out = eq_zeros(g->dtype, ndim, shape);
  if (!out) return NULL;
  /* out is broadcast (stride 0) over the summed dims; run serially so the
   * accumulation into shared elements does not race. */
  const eq_tensor *ops[1] = {g};
  eq_iter it;
  if (eq_iter_init(&it, "sum_to_shape", g->ndim, g->shape, 1, ops)) {
    eq_tensor_free(out);
    return NULL;
  }
  if (ndim > g->ndim) {
    eq_error(EQ_ERR_SHAPE, "sum_to_shape: target has more dims than the gradient");
    eq_tensor_free(out);
    return NULL;
  }
  int lead = g->ndim - ndim;
  int64_t ostride[EQ_MAX_DIMS];
  for (int d = 0; d < g->ndim; d++) {
    if (d < lead) {
      ostride[d] = 0;
      continue;
    }
    int64_t n = shape[d - lead];
    if (n != g->shape[d] && n != 1) {
      char b[96];
      eq_error(EQ_ERR_SHAPE, "sum_to_shape: gradient %s does not reduce to size %lld in dim %d",
               eq_shape_str(g, b, sizeof b), (long long)n, d);
      eq_tensor_free(out);
      return NULL;
    }
    ostride[d] = n == 1 ? 0 : out->stride[d - lead];
  }
  if (eq_dtype_is_float(g->dtype)) {
    /* The ops' reduction kernels: parallel, vectorised, and without a
     * transpose copy when the summed axes lead. */
    int axes[EQ_MAX_DIMS], n = 0;
    for (int d = 0; d < g->ndim; d++)
      if (d < lead || (shape[d - lead] == 1 && g->shape[d] != 1)) axes[n++] = d;
    if (n > 0) {
      bool prev = eq_set_grad_enabled(false);
      eq_tensor *s = eq_sum((eq_tensor *)g, n, axes, false);
      eq_set_grad_enabled(prev);
      if (!s) {
        eq_tensor_free(out);
        return NULL;
      }
      /* s is fresh and contiguous with the target's element count. */
      s->ndim = ndim;
      for (int d = 0; d < ndim; d++) s->shape[d] = shape[d];
      eq_set_contiguous_strides(s);
      eq_tensor_free(out);
      return s;
    }
  }
  eq_tensor view = *out;
  view.ndim = g->ndim;
  view.in_arena = true; /* never freed through this alias */
  for (int d = 0; d < g->ndim; d++) {
    view.shape[d] = g->shape[d];
    view.stride[d] = ostride[d];
  }
  const eq_tensor *pair[2] = {&view, g};
  eq_iter acc;
  if (eq_iter_init(&acc, "sum_to_shape", g->ndim, g->shape, 2, pair)) {
    eq_tensor_free(out);
    return NULL;
  }
  int64_t total = acc.numel;
  for (int64_t flat = 0; flat < total; flat++) {
    int64_t r = flat, oo = 0, go = 0;
    for (int d = acc.ndim - 1; d >= 0; d--) {
      int64_t i = r % acc.shape[d];
      r /= acc.shape[d];
      oo += i * acc.stride[0][d];
      go += i * acc.stride[1][d];
    }
    char *po = acc.base[0] + oo;
    const char *pg = acc.base[1] + go;
    if (g->dtype == EQ_F32)
      *(float *)po += *(const float *)pg;
    else if (g->dtype == EQ_F64)
      *(double *)po += *(const double *)pg;
    else
      eq_store_from_double(po, g->dtype, eq_load_as_double(po, g->dtype) + eq_load_as_double(pg, g->dtype));
  }
  return out;
}

eq_status eq_grad_accumulate(eq_tensor *t, const eq_tensor *g) {
  if (!t->requires_grad) return EQ_OK;
  if (eq_same_shape(t, g)) {
    /* The first gradient to arrive is copied, not added to zeros: one pass
     * over the buffer instead of two (residual adds, views). */
    bool fresh;
    eq_tensor *buf = eq_grad_buffer_uninit(t, &fresh);
    if (!buf) return eq_error_code();
    if (!fresh) return eq_accumulate_(buf, g);
    eq_status st = eq_copy_(buf, g);
    if (st) memset(eq_data_ptr(buf), 0, (size_t)eq_numel(buf) * eq_dtype_size(buf->dtype)); /* never undefined */
    return st;
  }
  eq_tensor *buf = eq_grad_buffer(t);
  if (!buf) return eq_error_code();
  eq_tensor *reduced = eq_sum_to_shape(g, t->ndim, t->shape);
  if (!reduced) return eq_error_code();
  eq_status st = eq_accumulate_(buf, reduced);
  eq_tensor_free(reduced);
  return st;
}

eq_status eq_grad_pass_through(eq_tensor *t, eq_node *node) {
  eq_tensor *g = node->out->grad;
  if (!t->requires_grad) return EQ_OK;
  if (t->grad || !t->grad_fn || t == node->out || g->dtype != t->dtype || !eq_same_shape(t, g) ||
      !eq_is_contiguous(g))
    return eq_grad_accumulate(t, g);
  t->grad = g;
  node->out->grad = NULL;
  return EQ_OK;
}

static eq_status check_finite(const char *what, const eq_tensor *t) {
  if (!eq_dtype_is_float(t->dtype)) return EQ_OK;
  int64_t n = eq_numel(t);
  for (int64_t i = 0; i < n; i++) {
    double v = eq_get_flat(t, i);
    if (!isfinite(v)) return eq_error(EQ_ERR_VALUE, "%s is %g (not finite): check the learning rate and inputs", what, v);
  }
  return EQ_OK;
}

eq_status eq_backward_with(eq_tensor *out, const eq_tensor *grad_out) {
  if (!out->requires_grad)
    return eq_error(EQ_ERR_STATE, "backward: the output does not require grad (no parameter reaches it, or grad mode was off)");
  if (!out->grad_fn) return eq_grad_accumulate(out, grad_out);
  tape *tp = &the_tape;
  eq_node *start = out->grad_fn;
  if (start->index >= tp->count || tp->nodes[start->index] != start)
    return eq_error(EQ_ERR_STATE, "backward: the tape was cleared since this output was computed");
  eq_status st = eq_grad_accumulate(out, grad_out);
  if (st) return st;
  for (int64_t k = start->index; k >= 0; k--) {
    eq_node *node = tp->nodes[k];
    if (!node->out->grad) continue; /* does not lead to the output */
    if (!node->backward)
      return eq_error(EQ_ERR_STATE, "backward: %s was already backpropagated through; recompute the forward",
                      node->op);
    st = node->backward(node);
    if (st) {
      eq_error_context("backward of %s: ", node->op);
      return st;
    }
    /* As in PyTorch, a non-leaf's gradient is consumed, and each node runs
     * once: a second backward sharing part of this graph adds nothing twice. */
    node->backward = NULL;
    eq_tensor *consumed = node->out->grad;
    node->out->grad = NULL;
    eq_tensor_free(consumed);
  }
  return EQ_OK;
}

eq_status eq_backward(eq_tensor *loss) {
  if (eq_numel(loss) != 1) {
    char b[96];
    return eq_error(EQ_ERR_SHAPE, "backward: the loss must have one element, got shape %s",
                    eq_shape_str(loss, b, sizeof b));
  }
  eq_status st = check_finite("backward: the loss", loss);
  if (st) return st;
  eq_tensor *one = eq_full(loss->dtype, loss->ndim, loss->shape, 1.0);
  if (!one) return eq_error_code();
  st = eq_backward_with(loss, one);
  eq_tensor_free(one);
  return st;
}

eq_tensor *eq_detach(eq_tensor *t) {
  eq_tensor *v = eq_view_of(t);
  if (v) {
    v->requires_grad = false;
    v->grad_fn = NULL;
  }
  return v;
}

void eq_set_requires_grad(eq_tensor *t, bool requires_grad) { t->requires_grad = requires_grad; }
