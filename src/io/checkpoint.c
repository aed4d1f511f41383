/* Weight files and training checkpoints over safetensors. */
#include "equivar/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Views of the optimiser's flat state shaped like each parameter. */
typedef struct state_views {
  int count;
  eq_tensor **views;
  char **names;
} state_views;

static void views_free(state_views *v) {
  for (int i = 0; i < v->count; i++) {
    eq_tensor_free(v->views[i]);
    free(v->names[i]);
  }
  free(v->views);
  free(v->names);
  memset(v, 0, sizeof *v);
}

static eq_status views_make(state_views *v, const eq_params *P, const eq_optimizer *o) {
  memset(v, 0, sizeof *v);
  if (!o) return EQ_OK;
  int cap = P->count * o->n_state;
  v->views = calloc((size_t)(cap ? cap : 1), sizeof *v->views);
  v->names = calloc((size_t)(cap ? cap : 1), sizeof *v->names);
  if (!v->views || !v->names) return eq_error(EQ_ERR_MEMORY, "checkpoint: out of memory");
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_status st = EQ_OK;
  for (int k = 0; k < o->n_state && !st; k++)
    for (int i = 0; i < P->count && !st; i++) {
      const eq_param *p = &P->items[i];
      if (p->flags & (EQ_PARAM_BUFFER | EQ_PARAM_FROZEN)) continue;
      const char *sname = eq_optim_state_name(o, k);
      size_t n = strlen(EQ_OPTIM_PREFIX) + strlen(sname) + strlen(p->name) + 2;
      char *name = malloc(n);
      eq_tensor *t = eq_tensor_wrap(EQ_F32, p->ndim, p->shape, o->state[k] + p->offset);
      if (!name || !t) {
        free(name);
        eq_tensor_free(t);
        st = eq_error(EQ_ERR_MEMORY, "checkpoint: out of memory");
        break;
      }
      snprintf(name, n, "%s%s.%s", EQ_OPTIM_PREFIX, sname, p->name);
      v->names[v->count] = name;
      v->views[v->count++] = t;
    }
  eq_arena_set_current(prev);
  return st;
}

static eq_status save(const char *path, const eq_params *P, const eq_optimizer *o, const eq_checkpoint_info *info) {
  eq_st_writer w;
  eq_st_writer_init(&w);
  state_views v;
  eq_status st = views_make(&v, P, o);
  for (int i = 0; i < P->count && !st; i++) st = eq_st_writer_add(&w, P->items[i].name, P->items[i].tensor);
  for (int i = 0; i < v.count && !st; i++) st = eq_st_writer_add(&w, v.names[i], v.views[i]);
  if (!st) st = eq_st_writer_meta(&w, "format", "pt"); /* what the Python library writes for torch */
  if (info && !st) {
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, info->step);
    st = eq_st_writer_meta(&w, "equivar.format", "checkpoint-1");
    if (!st) st = eq_st_writer_meta(&w, "equivar.step", num);
    if (!st) st = eq_st_writer_meta(&w, "equivar.model", info->model);
    if (!st && info->config[0]) st = eq_st_writer_meta(&w, "equivar.config", info->config);
    if (!st && o) {
      snprintf(num, sizeof num, "%" PRId64, o->step);
      st = eq_st_writer_meta(&w, "equivar.optimizer", eq_optim_kind_name(o->cfg.kind));
      if (!st) st = eq_st_writer_meta(&w, "equivar.optimizer_step", num);
    }
  }
  if (!st) st = eq_st_writer_save(&w, path);
  eq_st_writer_free(&w);
  views_free(&v);
  return st;
}

eq_status eq_save_weights(const char *path, const eq_params *P) { return save(path, P, NULL, NULL); }

eq_status eq_checkpoint_save(const char *path, const eq_params *P, const eq_optimizer *o, const eq_checkpoint_info *info) {
  eq_checkpoint_info blank = {0};
  return save(path, P, o, info ? info : &blank);
}

static eq_status parse_i64(const eq_safetensors *f, const char *key, int64_t *out) {
  const char *s = eq_safetensors_meta(f, key);
  if (!s) return eq_error(EQ_ERR_FORMAT, "'%s': metadata '%s' is missing (not an equivar checkpoint?)", f->path, key);
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < 0) return eq_error(EQ_ERR_FORMAT, "'%s': metadata %s = '%s' is not a count", f->path, key, s);
  *out = v;
  return EQ_OK;
}

static eq_status read_info(const eq_safetensors *f, eq_checkpoint_info *info) {
  memset(info, 0, sizeof *info);
  eq_status st = parse_i64(f, "equivar.step", &info->step);
  if (st) return st;
  const char *model = eq_safetensors_meta(f, "equivar.model"), *config = eq_safetensors_meta(f, "equivar.config");
  snprintf(info->model, sizeof info->model, "%s", model ? model : "");
  snprintf(info->config, sizeof info->config, "%s", config ? config : "");
  return EQ_OK;
}

/* Checks every expected tensor, then (strict) that the file has no others;
 * only then copies. */
static eq_status load(const eq_safetensors *f, eq_params *P, const state_views *v, bool strict, bool skip_optim) {
  int matched = 0;
  for (int i = 0; i < P->count; i++) {
    eq_status st = eq_safetensors_check(f, P->items[i].name, P->items[i].tensor);
    if (st) return st;
    matched++;
  }
  for (int i = 0; i < v->count; i++) {
    eq_status st = eq_safetensors_check(f, v->names[i], v->views[i]);
    if (st) return st;
    matched++;
  }
  if (strict && matched != f->count) {
    for (int e = 0; e < f->count; e++) {
      const char *name = f->entries[e].name;
      bool known = eq_params_find(P, name) != NULL;
      for (int i = 0; !known && i < v->count; i++) known = !strcmp(v->names[i], name);
      if (skip_optim && !strncmp(name, EQ_OPTIM_PREFIX, strlen(EQ_OPTIM_PREFIX))) known = true;
      if (!known)
        return eq_error(EQ_ERR_FORMAT, "'%s': unexpected tensor '%s' (the model has no such parameter%s)", f->path, name,
                        strncmp(name, EQ_OPTIM_PREFIX, strlen(EQ_OPTIM_PREFIX)) ? "" : " or optimiser state");
    }
  }
  for (int i = 0; i < P->count; i++) eq_safetensors_read_into(f, P->items[i].name, P->items[i].tensor);
  for (int i = 0; i < v->count; i++) eq_safetensors_read_into(f, v->names[i], v->views[i]);
  return EQ_OK;
}

eq_status eq_load_weights(const char *path, eq_params *P, bool strict) {
  eq_safetensors *f = eq_safetensors_open(path);
  if (!f) return eq_error_code();
  state_views none = {0};
  eq_status st = load(f, P, &none, strict, true);
  eq_safetensors_close(f);
  return st;
}

eq_status eq_checkpoint_peek(const char *path, eq_checkpoint_info *info) {
  eq_safetensors *f = eq_safetensors_open(path);
  if (!f) return eq_error_code();
  eq_status st = read_info(f, info);
  eq_safetensors_close(f);
  return st;
}

eq_status eq_checkpoint_load(const char *path, eq_params *P, eq_optimizer *o, eq_checkpoint_info *info) {
  eq_safetensors *f = eq_safetensors_open(path);
  if (!f) return eq_error_code();
  eq_checkpoint_info tmp;
  int64_t opt_step = 0;
  state_views v = {0};
  eq_status st = read_info(f, &tmp);
  if (!st && o) {
    const char *kind = eq_safetensors_meta(f, "equivar.optimizer");
    if (!kind)
      st = eq_error(EQ_ERR_FORMAT, "'%s' holds no optimiser state (a weights-only file?)", path);
    else if (strcmp(kind, eq_optim_kind_name(o->cfg.kind)))
      st = eq_error(EQ_ERR_VALUE, "'%s' holds %s optimiser state, but the run uses %s", path, kind,
                    eq_optim_kind_name(o->cfg.kind));
    if (!st) st = parse_i64(f, "equivar.optimizer_step", &opt_step);
  }
  if (!st) st = views_make(&v, P, o);
  if (!st) st = load(f, P, &v, true, o == NULL);
  if (!st) {
    if (o) o->step = opt_step;
    if (info) *info = tmp;
  }
  views_free(&v);
  eq_safetensors_close(f);
  return st;
}
