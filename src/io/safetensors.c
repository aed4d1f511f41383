/* safetensors reading (validated up front) and atomic writing. */
#include "equivar/safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "equivar/fileio.h"
#include "equivar/json.h"

/* The header of a real checkpoint is a few hundred KB; this bound only stops
 * a corrupt length field from asking for gigabytes. */
#define ST_MAX_HEADER (100u << 20)

static const struct {
  const char *name;
  eq_dtype dtype;
} st_dtypes[] = {{"F32", EQ_F32}, {"F64", EQ_F64}, {"I32", EQ_I32}, {"I64", EQ_I64},
                 {"U8", EQ_U8},   {"BOOL", EQ_BOOL}, {"BF16", EQ_BF16}, {"F16", EQ_F16}};

const char *eq_st_dtype_name(eq_dtype dtype) {
  for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (st_dtypes[i].dtype == dtype) return st_dtypes[i].name;
  return NULL;
}

eq_status eq_st_dtype_parse(const char *name, eq_dtype *out) {
  for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (!strcmp(st_dtypes[i].name, name)) {
      *out = st_dtypes[i].dtype;
      return EQ_OK;
    }
  return eq_error(EQ_ERR_DTYPE, "unsupported safetensors dtype '%s'", name);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

void eq_safetensors_close(eq_safetensors *f) {
  if (!f) return;
  for (int i = 0; i < f->count; i++) free(f->entries[i].name);
  for (int i = 0; i < f->meta_count; i++) {
    free(f->meta_keys[i]);
    free(f->meta_values[i]);
  }
  free(f->entries);
  free(f->meta_keys);
  free(f->meta_values);
  free(f->file);
  free(f->path);
  free(f);
}

static eq_status parse_entry(eq_safetensors *f, const char *name, const eq_json *v, eq_st_entry *e) {
  if (v->type != EQ_JSON_OBJECT)
    return eq_error(EQ_ERR_FORMAT, "'%s': header entry of tensor '%s' is not an object", f->path, name);
  const eq_json *dt = eq_json_get(v, "dtype"), *sh = eq_json_get(v, "shape"), *off = eq_json_get(v, "data_offsets");
  if (!dt || dt->type != EQ_JSON_STRING || !sh || sh->type != EQ_JSON_ARRAY || !off || off->type != EQ_JSON_ARRAY ||
      off->count != 2)
    return eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' lacks a valid dtype, shape or data_offsets", f->path, name);
  if (eq_st_dtype_parse(dt->string, &e->dtype))
    return eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' has unsupported dtype '%s'", f->path, name, dt->string);
  if (sh->count > EQ_MAX_DIMS)
    return eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' has %zu dims (max %d)", f->path, name, sh->count, EQ_MAX_DIMS);
  e->ndim = (int)sh->count;
  double numel = 1;
  for (int d = 0; d < e->ndim; d++) {
    const eq_json *x = &sh->items[d];
    if (x->type != EQ_JSON_NUMBER || x->number < 0 || x->number != (double)(int64_t)x->number)
      return eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' has an invalid size in dim %d", f->path, name, d);
    e->shape[d] = (int64_t)x->number;
    numel *= x->number;
  }
  for (int k = 0; k < 2; k++)
    if (off->items[k].type != EQ_JSON_NUMBER || off->items[k].number < 0 ||
        off->items[k].number != (double)(uint64_t)off->items[k].number)
      return eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' has invalid data_offsets", f->path, name);
  e->begin = (uint64_t)off->items[0].number;
  e->end = (uint64_t)off->items[1].number;
  double want = numel * (double)eq_dtype_size(e->dtype);
  if (e->end < e->begin || (double)(e->end - e->begin) != want)
    return eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' spans bytes [%llu, %llu) but its %s shape needs %.0f bytes",
                    f->path, name, (unsigned long long)e->begin, (unsigned long long)e->end, dt->string, want);
  if (e->end > f->payload_size)
    return eq_error(EQ_ERR_FORMAT,
                    "'%s' is truncated: tensor '%s' needs bytes [%llu, %llu) of the data section, which has %zu",
                    f->path, name, (unsigned long long)e->begin, (unsigned long long)e->end, f->payload_size);
  e->name = dup_str(name);
  return e->name ? EQ_OK : eq_error(EQ_ERR_MEMORY, "out of memory reading '%s'", f->path);
}

static int by_begin(const void *a, const void *b) {
  const eq_st_entry *x = *(const eq_st_entry *const *)a, *y = *(const eq_st_entry *const *)b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Tensors must tile the data section: no overlap, no hole, nothing after. */
static eq_status check_tiling(eq_safetensors *f) {
  if (f->count == 0) {
    if (f->payload_size) return eq_error(EQ_ERR_FORMAT, "'%s': %zu trailing bytes after an empty header", f->path, f->payload_size);
    return EQ_OK;
  }
  const eq_st_entry **order = malloc((size_t)f->count * sizeof *order);
  if (!order) return eq_error(EQ_ERR_MEMORY, "out of memory reading '%s'", f->path);
  for (int i = 0; i < f->count; i++) order[i] = &f->entries[i];
  qsort(order, (size_t)f->count, sizeof *order, by_begin);
  uint64_t pos = 0;
  eq_status st = EQ_OK;
  for (int i = 0; i < f->count && !st; i++) {
    if (order[i]->begin != pos)
      st = eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' starts at byte %llu, expected %llu (overlap or hole)", f->path,
                    order[i]->name, (unsigned long long)order[i]->begin, (unsigned long long)pos);
    pos = order[i]->end;
  }
  if (!st && pos != f->payload_size)
    st = eq_error(EQ_ERR_FORMAT, "'%s': %llu bytes after the last tensor", f->path,
                  (unsigned long long)(f->payload_size - pos));
  free(order);
  return st;
}

static eq_status parse_header(eq_safetensors *f) {
  const unsigned char *b = f->file;
  if (f->file_size < 8) return eq_error(EQ_ERR_FORMAT, "'%s' is truncated: %zu bytes, no header length", f->path, f->file_size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
  if (n > ST_MAX_HEADER) return eq_error(EQ_ERR_FORMAT, "'%s': header length %llu is implausible (corrupt file?)", f->path, (unsigned long long)n);
  if (n > f->file_size - 8)
    return eq_error(EQ_ERR_FORMAT, "'%s' is truncated: header of %llu bytes, file has %zu", f->path, (unsigned long long)n,
                    f->file_size - 8);
  f->payload = b + 8 + n;
  f->payload_size = f->file_size - 8 - (size_t)n;
  eq_json *root = eq_json_parse((const char *)b + 8, (size_t)n, f->path);
  if (!root) return EQ_ERR_FORMAT;
  eq_status st = EQ_OK;
  if (root->type != EQ_JSON_OBJECT) {
    st = eq_error(EQ_ERR_FORMAT, "'%s': header is not a JSON object", f->path);
    goto done;
  }
  f->entries = calloc(root->count ? root->count : 1, sizeof *f->entries);
  if (!f->entries) {
    st = eq_error(EQ_ERR_MEMORY, "out of memory reading '%s'", f->path);
    goto done;
  }
  for (size_t i = 0; i < root->count && !st; i++) {
    const char *key = root->keys[i];
    const eq_json *v = &root->items[i];
    if (!strcmp(key, "__metadata__")) {
      if (v->type != EQ_JSON_OBJECT) {
        st = eq_error(EQ_ERR_FORMAT, "'%s': __metadata__ is not an object", f->path);
        break;
      }
      f->meta_keys = calloc(v->count + 1, sizeof(char *));
      f->meta_values = calloc(v->count + 1, sizeof(char *));
      if (!f->meta_keys || !f->meta_values) {
        st = eq_error(EQ_ERR_MEMORY, "out of memory reading '%s'", f->path);
        break;
      }
      for (size_t m = 0; m < v->count; m++) {
        if (v->items[m].type != EQ_JSON_STRING) {
          st = eq_error(EQ_ERR_FORMAT, "'%s': metadata '%s' is not a string", f->path, v->keys[m]);
          break;
        }
        f->meta_keys[f->meta_count] = dup_str(v->keys[m]);
        f->meta_values[f->meta_count] = dup_str(v->items[m].string);
        f->meta_count++;
      }
      continue;
    }
    st = parse_entry(f, key, v, &f->entries[f->count]);
    if (!st) f->count++;
  }
  if (!st) st = check_tiling(f);
done:
  eq_json_free(root);
  return st;
}

eq_safetensors *eq_safetensors_open(const char *path) {
  eq_safetensors *f = calloc(1, sizeof *f);
  if (!f || !(f->path = dup_str(path))) {
    free(f);
    eq_error(EQ_ERR_MEMORY, "out of memory opening '%s'", path);
    return NULL;
  }
  if (eq_read_file(path, &f->file, &f->file_size) || parse_header(f)) {
    eq_safetensors_close(f);
    return NULL;
  }
  return f;
}

const eq_st_entry *eq_safetensors_find(const eq_safetensors *f, const char *name) {
  for (int i = 0; i < f->count; i++)
    if (!strcmp(f->entries[i].name, name)) return &f->entries[i];
  return NULL;
}

const char *eq_safetensors_meta(const eq_safetensors *f, const char *key) {
  for (int i = 0; i < f->meta_count; i++)
    if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
  return NULL;
}

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "[");
  for (int d = 0; d < ndim && n < cap; d++) n += (size_t)snprintf(buf + n, cap - n, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (n < cap) snprintf(buf + n, cap - n, "]");
}

eq_status eq_safetensors_check(const eq_safetensors *f, const char *name, const eq_tensor *dst) {
  const eq_st_entry *e = eq_safetensors_find(f, name);
  if (!e) return eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' is missing", f->path, name);
  bool same = e->ndim == dst->ndim;
  for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == dst->shape[d];
  if (!same) {
    char a[128], b[128];
    shape_str(e->ndim, e->shape, a, sizeof a);
    shape_str(dst->ndim, dst->shape, b, sizeof b);
    return eq_error(EQ_ERR_SHAPE, "'%s': tensor '%s' has shape %s, expected %s", f->path, name, a, b);
  }
  if (e->dtype != dst->dtype)
    return eq_error(EQ_ERR_DTYPE, "'%s': tensor '%s' has dtype %s, expected %s", f->path, name,
                    eq_st_dtype_name(e->dtype), eq_st_dtype_name(dst->dtype));
  return EQ_OK;
}

eq_status eq_safetensors_read_into(const eq_safetensors *f, const char *name, eq_tensor *dst) {
  eq_status st = eq_safetensors_check(f, name, dst);
  if (st) return st;
  const eq_st_entry *e = eq_safetensors_find(f, name);
  if (eq_is_contiguous(dst)) {
    if (e->end > e->begin) memcpy(eq_data_ptr(dst), f->payload + e->begin, (size_t)(e->end - e->begin));
    return EQ_OK;
  }
  /* Strided destination: wrap the bytes and copy through the tensor core. */
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *src = eq_tensor_wrap(e->dtype, e->ndim, e->shape, (void *)(f->payload + e->begin));
  eq_arena_set_current(prev);
  if (!src) return eq_error_code();
  st = eq_copy_(dst, src);
  eq_tensor_free(src);
  return st;
}

eq_tensor *eq_safetensors_get(const eq_safetensors *f, const char *name) {
  const eq_st_entry *e = eq_safetensors_find(f, name);
  if (!e) {
    eq_error(EQ_ERR_FORMAT, "'%s': tensor '%s' is missing", f->path, name);
    return NULL;
  }
  eq_tensor *t = eq_empty(e->dtype, e->ndim, e->shape);
  if (t && e->end > e->begin) memcpy(eq_data_ptr(t), f->payload + e->begin, (size_t)(e->end - e->begin));
  return t;
}

/* ------------------------------------------------------------------ writer */

void eq_st_writer_init(eq_st_writer *w) { memset(w, 0, sizeof *w); }

void eq_st_writer_free(eq_st_writer *w) {
  for (int i = 0; i < w->count; i++) free(w->names[i]);
  for (int i = 0; i < w->meta_count; i++) {
    free(w->meta_keys[i]);
    free(w->meta_values[i]);
  }
  free(w->names);
  free(w->tensors);
  free(w->meta_keys);
  free(w->meta_values);
  memset(w, 0, sizeof *w);
}

eq_status eq_st_writer_add(eq_st_writer *w, const char *name, const eq_tensor *t) {
  if (!name || !name[0] || !strcmp(name, "__metadata__"))
    return eq_error(EQ_ERR_VALUE, "safetensors writer: invalid tensor name '%s'", name ? name : "(null)");
  if (!eq_st_dtype_name(t->dtype))
    return eq_error(EQ_ERR_DTYPE, "safetensors writer: tensor '%s' has unsupported dtype %s", name, eq_dtype_name(t->dtype));
  if (t->storage->device.type != EQ_DEVICE_CPU)
    return eq_error(EQ_ERR_DEVICE, "safetensors writer: tensor '%s' is not on the CPU", name);
  for (int i = 0; i < w->count; i++)
    if (!strcmp(w->names[i], name)) return eq_error(EQ_ERR_VALUE, "safetensors writer: duplicate tensor name '%s'", name);
  if (w->count == w->capacity) {
    int cap = w->capacity ? 2 * w->capacity : 64;
    char **n = realloc(w->names, (size_t)cap * sizeof *n);
    if (n) w->names = n;
    const eq_tensor **t2 = realloc(w->tensors, (size_t)cap * sizeof *t2);
    if (t2) w->tensors = t2;
    if (!n || !t2) return eq_error(EQ_ERR_MEMORY, "safetensors writer: out of memory");
    w->capacity = cap;
  }
  if (!(w->names[w->count] = dup_str(name))) return eq_error(EQ_ERR_MEMORY, "safetensors writer: out of memory");
  w->tensors[w->count++] = t;
  return EQ_OK;
}

eq_status eq_st_writer_meta(eq_st_writer *w, const char *key, const char *value) {
  for (int i = 0; i < w->meta_count; i++)
    if (!strcmp(w->meta_keys[i], key)) {
      char *v = dup_str(value);
      if (!v) return eq_error(EQ_ERR_MEMORY, "safetensors writer: out of memory");
      free(w->meta_values[i]);
      w->meta_values[i] = v;
      return EQ_OK;
    }
  if (w->meta_count == w->meta_capacity) {
    int cap = w->meta_capacity ? 2 * w->meta_capacity : 8;
    char **k = realloc(w->meta_keys, (size_t)cap * sizeof *k);
    if (k) w->meta_keys = k;
    char **v = realloc(w->meta_values, (size_t)cap * sizeof *v);
    if (v) w->meta_values = v;
    if (!k || !v) return eq_error(EQ_ERR_MEMORY, "safetensors writer: out of memory");
    w->meta_capacity = cap;
  }
  w->meta_keys[w->meta_count] = dup_str(key);
  w->meta_values[w->meta_count] = dup_str(value);
  if (!w->meta_keys[w->meta_count] || !w->meta_values[w->meta_count])
    return eq_error(EQ_ERR_MEMORY, "safetensors writer: out of memory");
  w->meta_count++;
  return EQ_OK;
}

/* A growable string for the JSON header. */
typedef struct strbuf {
  char *s;
  size_t n, cap;
  bool failed;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->n + n + 1 > cap) cap *= 2;
    char *g = realloc(b->s, cap);
    if (!g) {
      b->failed = true;
      return;
    }
    b->s = g;
    b->cap = cap;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = '\0';
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(strbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      sb_put(b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      sb_str(b, esc);
    } else {
      sb_put(b, (const char *)p, 1);
    }
  }
  sb_put(b, "\"", 1);
}

static _Thread_local const eq_st_writer *sort_writer; /* qsort has no context argument */
static int by_name_index(const void *a, const void *b) {
  return strcmp(sort_writer->names[*(const int *)a], sort_writer->names[*(const int *)b]);
}

eq_status eq_st_writer_save(const eq_st_writer *w, const char *path) {
  int *order = malloc((size_t)(w->count ? w->count : 1) * sizeof *order);
  if (!order) return eq_error(EQ_ERR_MEMORY, "saving '%s': out of memory", path);
  for (int i = 0; i < w->count; i++) order[i] = i;
  sort_writer = w;
  qsort(order, (size_t)w->count, sizeof *order, by_name_index);
  strbuf h = {0};
  sb_str(&h, "{");
  bool first = true;
  if (w->meta_count) {
    sb_str(&h, "\"__metadata__\":{");
    for (int i = 0; i < w->meta_count; i++) {
      if (i) sb_str(&h, ",");
      sb_json_string(&h, w->meta_keys[i]);
      sb_str(&h, ":");
      sb_json_string(&h, w->meta_values[i]);
    }
    sb_str(&h, "}");
    first = false;
  }
  uint64_t pos = 0;
  for (int k = 0; k < w->count; k++) {
    const eq_tensor *t = w->tensors[order[k]];
    uint64_t bytes = (uint64_t)eq_numel(t) * eq_dtype_size(t->dtype);
    char num[64];
    if (!first) sb_str(&h, ",");
    first = false;
    sb_json_string(&h, w->names[order[k]]);
    sb_str(&h, ":{\"dtype\":\"");
    sb_str(&h, eq_st_dtype_name(t->dtype));
    sb_str(&h, "\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
      snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t->shape[d]);
      sb_str(&h, num);
    }
    snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)pos, (unsigned long long)(pos + bytes));
    sb_str(&h, num);
    pos += bytes;
  }
  sb_str(&h, "}");
  while (!h.failed && h.n % 8) sb_str(&h, " ");
  if (h.failed) {
    free(order);
    free(h.s);
    return eq_error(EQ_ERR_MEMORY, "saving '%s': out of memory", path);
  }
  eq_atomic_file af;
  eq_status st = eq_atomic_open(&af, path);
  if (st) {
    free(order);
    free(h.s);
    return st;
  }
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
  bool ok = fwrite(len, 1, 8, af.fp) == 8 && fwrite(h.s, 1, h.n, af.fp) == h.n;
  void *scratch = NULL;
  size_t scratch_cap = 0;
  for (int k = 0; ok && k < w->count; k++) {
    const eq_tensor *t = w->tensors[order[k]];
    size_t bytes = (size_t)eq_numel(t) * eq_dtype_size(t->dtype);
    if (!bytes) continue;
    const void *src = eq_data_ptr(t);
    if (!eq_is_contiguous(t)) {
      if (bytes > scratch_cap) {
        free(scratch);
        scratch = malloc(bytes);
        scratch_cap = scratch ? bytes : 0;
      }
      if (!scratch || eq_to_buffer(t, scratch)) {
        ok = false;
        break;
      }
      src = scratch;
    }
    ok = fwrite(src, 1, bytes, af.fp) == bytes;
  }
  free(scratch);
  free(order);
  free(h.s);
  if (!ok) {
    st = eq_error(EQ_ERR_IO, "writing '%s' failed: %s", path, strerror(errno));
    eq_atomic_abort(&af);
    return st;
  }
  return eq_atomic_commit(&af);
}
