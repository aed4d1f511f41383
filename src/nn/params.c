/* The parameter registry: names, flat parameter/gradient buffers, buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "equivar/nn.h"

/* Each parameter starts on a 64-byte boundary of the flat buffer so vector
 * kernels see aligned rows; the padding stays zero in both buffers. */
#define PARAM_ALIGN 16

const char *eq_nn_join(char *buf, size_t cap, const char *prefix, const char *name) {
  if (prefix && prefix[0])
    snprintf(buf, cap, "%s.%s", prefix, name);
  else
    snprintf(buf, cap, "%s", name);
  return buf;
}

eq_params *eq_params_new(void) {
  eq_params *P = calloc(1, sizeof *P);
  if (!P) eq_error(EQ_ERR_MEMORY, "eq_params_new: out of memory");
  return P;
}

void eq_params_free(eq_params *P) {
  if (!P) return;
  for (int i = 0; i < P->count; i++) {
    eq_param *p = &P->items[i];
    if (p->tensor) eq_tensor_free(p->tensor);
    if (p->slot) *p->slot = NULL;
    free(p->name);
  }
  eq_tensor_free(P->flat);
  eq_tensor_free(P->flat_grad);
  eq_free(P->data);
  eq_free(P->grad);
  free(P->items);
  free(P);
}

eq_param *eq_params_find(const eq_params *P, const char *name) {
  for (int i = 0; i < P->count; i++)
    if (!strcmp(P->items[i].name, name)) return &P->items[i];
  return NULL;
}

static eq_status add_entry(eq_params *P, eq_tensor **slot, const char *prefix, const char *name, eq_dtype dtype, int ndim,
                           const int64_t *shape, unsigned flags, eq_init init) {
  char full[256];
  eq_nn_join(full, sizeof full, prefix, name);
  if (P->built) return eq_error(EQ_ERR_STATE, "eq_params_add: '%s' registered after eq_params_build", full);
  if (ndim < 0 || ndim > EQ_MAX_DIMS) return eq_error(EQ_ERR_SHAPE, "eq_params_add: '%s' has %d dims", full, ndim);
  if (eq_params_find(P, full)) return eq_error(EQ_ERR_VALUE, "eq_params_add: duplicate parameter name '%s'", full);
  if (P->count == P->capacity) {
    int cap = P->capacity ? 2 * P->capacity : 64;
    eq_param *g = realloc(P->items, (size_t)cap * sizeof *g);
    if (!g) return eq_error(EQ_ERR_MEMORY, "eq_params_add: out of memory");
    P->items = g;
    P->capacity = cap;
  }
  eq_param *p = &P->items[P->count];
  memset(p, 0, sizeof *p);
  p->name = malloc(strlen(full) + 1);
  if (!p->name) return eq_error(EQ_ERR_MEMORY, "eq_params_add: out of memory");
  strcpy(p->name, full);
  p->slot = slot;
  p->flags = flags;
  p->dtype = dtype;
  p->ndim = ndim;
  p->numel = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] <= 0) {
      free(p->name);
      return eq_error(EQ_ERR_SHAPE, "eq_params_add: '%s' has size %lld in dim %d", full, (long long)shape[d], d);
    }
    p->shape[d] = shape[d];
    p->numel *= shape[d];
  }
  p->offset = -1;
  p->init = init;
  P->count++;
  return EQ_OK;
}

eq_status eq_params_add(eq_params *P, eq_tensor **slot, const char *prefix, const char *name, int ndim,
                        const int64_t *shape, unsigned flags, eq_init init) {
  return add_entry(P, slot, prefix, name, EQ_F32, ndim, shape, flags & ~(unsigned)EQ_PARAM_BUFFER, init);
}

eq_status eq_params_add_buffer(eq_params *P, eq_tensor **slot, const char *prefix, const char *name, eq_dtype dtype,
                               int ndim, const int64_t *shape, double value) {
  return add_entry(P, slot, prefix, name, dtype, ndim, shape, EQ_PARAM_BUFFER | EQ_PARAM_NO_DECAY,
                   (eq_init){EQ_INIT_CONST, value, 0});
}

uint64_t eq_name_hash(const char *name) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
    h ^= *s;
    h *= 1099511628211ull;
  }
  return h;
}

eq_status eq_params_reinit(eq_params *P, uint64_t seed) {
  if (!P->built) return eq_error(EQ_ERR_STATE, "eq_params_reinit: parameters are not built");
  for (int i = 0; i < P->count; i++) {
    eq_param *p = &P->items[i];
    eq_status st = eq_init_tensor(p->tensor, p->init, seed, eq_name_hash(p->name));
    if (st) {
      eq_error_context("initialising '%s': ", p->name);
      return st;
    }
  }
  return EQ_OK;
}

static _Thread_local bool init_enabled = true;

bool eq_nn_set_init_enabled(bool enabled) {
  bool prev = init_enabled;
  init_enabled = enabled;
  return prev;
}

eq_status eq_params_build(eq_params *P, uint64_t seed) {
  if (P->built) return eq_error(EQ_ERR_STATE, "eq_params_build: already built");
  int64_t total = 0;
  for (int i = 0; i < P->count; i++) {
    eq_param *p = &P->items[i];
    if (p->flags & EQ_PARAM_BUFFER) continue;
    p->offset = total;
    total += (p->numel + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN;
  }
  P->numel = total;
  size_t bytes = (size_t)(total ? total : 1) * sizeof(float);
  P->data = eq_calloc(1, bytes);
  P->grad = eq_calloc(1, bytes);
  if (!P->data || !P->grad) return eq_error(EQ_ERR_MEMORY, "eq_params_build: out of memory for %lld parameters", (long long)total);
  /* Parameters persist across steps: never in a step arena. */
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_status st = EQ_OK;
  P->flat = eq_tensor_wrap(EQ_F32, 1, &P->numel, P->data);
  P->flat_grad = eq_tensor_wrap(EQ_F32, 1, &P->numel, P->grad);
  if (!P->flat || !P->flat_grad) st = eq_error_code();
  for (int i = 0; i < P->count && !st; i++) {
    eq_param *p = &P->items[i];
    if (p->flags & EQ_PARAM_BUFFER) {
      p->tensor = eq_zeros(p->dtype, p->ndim, p->shape);
    } else {
      p->tensor = eq_tensor_wrap(EQ_F32, p->ndim, p->shape, P->data + p->offset);
      if (p->tensor) {
        p->tensor->grad = eq_tensor_wrap(EQ_F32, p->ndim, p->shape, P->grad + p->offset);
        if (!p->tensor->grad) st = eq_error_code();
        p->tensor->requires_grad = !(p->flags & EQ_PARAM_FROZEN);
      }
    }
    if (!p->tensor) {
      st = eq_error_code();
      break;
    }
    p->tensor->name = p->name;
    if (p->slot) *p->slot = p->tensor;
  }
  eq_arena_set_current(prev);
  P->built = true;
  if (st) return st;
  if (init_enabled) return eq_params_reinit(P, seed);
  for (int i = 0; i < P->count && !st; i++) /* constants are cheap and give buffers their meaning */
    if (P->items[i].init.kind == EQ_INIT_CONST) st = eq_fill_(P->items[i].tensor, P->items[i].init.a);
  return st;
}

int64_t eq_params_trainable(const eq_params *P) {
  int64_t n = 0;
  for (int i = 0; i < P->count; i++)
    if (!(P->items[i].flags & (EQ_PARAM_BUFFER | EQ_PARAM_FROZEN))) n += P->items[i].numel;
  return n;
}

void eq_params_zero_grad(eq_params *P) {
  if (!P->grad) return;
  /* in chunks over the threads: one thread clearing a model's gradients
   * (11 MB for ViT-Tiny) left the other idle for 0.4-0.7 ms a step */
  const int64_t chunk = 16384;
#pragma omp parallel for schedule(static) if (P->numel >= 4 * chunk)
  for (int64_t i = 0; i < P->numel; i += chunk)
    memset(P->grad + i, 0, (size_t)(P->numel - i < chunk ? P->numel - i : chunk) * sizeof(float));
}

eq_status eq_params_copy(eq_params *dst, const eq_params *src) {
  for (int i = 0; i < dst->count; i++) {
    eq_param *d = &dst->items[i];
    eq_param *s = eq_params_find(src, d->name);
    if (!s) return eq_error(EQ_ERR_VALUE, "eq_params_copy: source has no '%s'", d->name);
    if (!eq_same_shape(d->tensor, s->tensor) || d->dtype != s->dtype)
      return eq_error(EQ_ERR_SHAPE, "eq_params_copy: '%s' differs in shape or dtype", d->name);
  }
  for (int i = 0; i < dst->count; i++) {
    eq_status st = eq_copy_(dst->items[i].tensor, eq_params_find(src, dst->items[i].name)->tensor);
    if (st) return st;
  }
  return EQ_OK;
}
