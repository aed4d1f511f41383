/* Workspace and argument checks shared by the NN ops. */
#include "ops/nn/nn_common.h"

#include <stdlib.h>

static _Thread_local void *ws_ptr;
static _Thread_local size_t ws_size;

void *eq_nn_workspace(size_t bytes) {
  if (bytes <= ws_size) return ws_ptr;
  /* Grow geometrically so a model's varying layer sizes settle after a step. */
  size_t want = ws_size * 2 > bytes ? ws_size * 2 : bytes;
  void *p = eq_malloc(want);
  if (!p) return NULL;
  eq_free(ws_ptr);
  ws_ptr = p;
  ws_size = want;
  return p;
}

static _Thread_local void *thread_ws_ptr;
static _Thread_local size_t thread_ws_size;
/* Every thread's block, freed at exit: OpenMP's pool threads outlive main,
 * so their thread-local pointers would otherwise be leaks. */
enum { MAX_THREAD_WORKSPACES = 1024 };
static void *thread_ws_blocks[MAX_THREAD_WORKSPACES];
static int thread_ws_count;
static _Thread_local int thread_ws_slot = -1;

static void free_thread_workspaces(void) {
  for (int i = 0; i < thread_ws_count; i++) eq_free(thread_ws_blocks[i]);
}

void *eq_nn_thread_workspace(size_t bytes) {
  if (bytes <= thread_ws_size && thread_ws_ptr) return thread_ws_ptr;
  size_t want = thread_ws_size * 2 > bytes ? thread_ws_size * 2 : bytes < 64 ? 64 : bytes;
  void *p = eq_malloc(want);
  if (!p) return NULL;
  if (thread_ws_slot < 0) {
#pragma omp critical(eq_nn_thread_workspace)
    {
      if (thread_ws_count == 0) atexit(free_thread_workspaces);
      if (thread_ws_count < MAX_THREAD_WORKSPACES) thread_ws_slot = thread_ws_count++;
    }
  }
  eq_free(thread_ws_ptr);
  thread_ws_ptr = p;
  thread_ws_size = want;
  if (thread_ws_slot >= 0) thread_ws_blocks[thread_ws_slot] = p;
  return p;
}

/* What this (calling) thread's team has reserved: the blocks only grow and
 * the pool's threads stay, so a reservation that fits needs no region. */
static _Thread_local size_t team_reserved;
static _Thread_local int team_threads;

bool eq_nn_thread_workspaces(size_t bytes, int threads) {
  if (bytes == 0 || (bytes <= team_reserved && threads == team_threads)) return true;
  bool ok = true;
#pragma omp parallel num_threads(threads) reduction(&& : ok)
  ok = eq_nn_thread_workspace(bytes) != NULL;
  /* errors are per thread: say it on this one */
  if (!ok) {
    eq_error(EQ_ERR_MEMORY, "out of memory for %zu bytes of scratch on each of %d threads", bytes, threads);
    return false;
  }
  team_reserved = bytes, team_threads = threads;
  return true;
}

eq_status eq_nn_check(const char *op, const char *what, const eq_tensor *t, int ndim, int dtype) {
  if (!t) return eq_error(EQ_ERR_VALUE, "%s: %s is NULL", op, what);
  if (eq_require_cpu(op, t)) return eq_error_code();
  if (t->dtype != EQ_F32 && t->dtype != EQ_F64)
    return eq_error(EQ_ERR_DTYPE, "%s: %s is %s; float32 or float64 expected", op, what, eq_dtype_name(t->dtype));
  if (dtype >= 0 && t->dtype != (eq_dtype)dtype)
    return eq_error(EQ_ERR_DTYPE, "%s: %s is %s but the input is %s", op, what, eq_dtype_name(t->dtype),
                    eq_dtype_name((eq_dtype)dtype));
  if (ndim >= 0 && t->ndim != ndim) {
    char b[96];
    return eq_error(EQ_ERR_SHAPE, "%s: %s has shape %s; %d dims expected", op, what, eq_shape_str(t, b, sizeof b), ndim);
  }
  return EQ_OK;
}

eq_tensor *eq_nn_grad_for_write(eq_node *node, int k, bool *fresh) {
  *fresh = false;
  if (k >= node->n_inputs || !node->inputs[k] || !node->inputs[k]->requires_grad) return NULL;
  eq_tensor *t = node->inputs[k];
  if (t->grad) return t->grad;
  bool leaf = t->grad_fn == NULL;
  eq_arena *prev = leaf ? eq_arena_set_current(NULL) : eq_arena_current();
  t->grad = eq_empty(t->dtype, t->ndim, t->shape);
  if (leaf) eq_arena_set_current(prev);
  *fresh = t->grad != NULL;
  return t->grad;
}

eq_status eq_nn_grads_for_write(eq_node *node, int n, eq_tensor **grads, bool *fresh) {
  for (int k = 0; k < n; k++) {
    grads[k] = eq_nn_grad_for_write(node, k, &fresh[k]);
    if (k < node->n_inputs && node->inputs[k] && node->inputs[k]->requires_grad && !grads[k]) return eq_error_code();
  }
  for (int k = 0; k < n; k++)
    for (int j = 0; j < n && fresh[k]; j++)
      if (j != k && grads[j] == grads[k]) {
        eq_status st = eq_fill_(grads[k], 0);
        if (st) return st;
        fresh[k] = false;
      }
  return EQ_OK;
}
