/* Sweet Home 3D furniture catalogs: a .sh3f file is a ZIP archive whose
 * PluginFurnitureCatalog.properties lists models as name#N, model#N,
 * modelRotation#N, ... (N = 1, 2, ...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/catalog.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) return o[0] = (char)cp, 1;
  if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), 2;
  o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[2] = (char)(0x80 | (cp & 0x3f));
  return 3;
}

/* Decodes one logical line (escapes, ISO-8859-1) into UTF-8 key and value. */
static eq_status decode_line(const char *s, size_t n, char *buf, char **key, char **value, const char *name, int64_t line) {
  size_t o = 0, key_end = (size_t)-1;
  int in_key = 1, skip_sep = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (skip_sep) {
      if (c == ' ' || c == '\t' || c == '\f') continue;
      if ((c == '=' || c == ':') && skip_sep == 1) {
        skip_sep = 2;
        continue;
      }
      skip_sep = 0;
    }
    if (in_key && (c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f')) {
      key_end = o;
      buf[o++] = '\0';
      in_key = 0;
      skip_sep = (c == '=' || c == ':') ? 2 : 1;
      continue;
    }
    if (c == '\\' && i + 1 < n) {
      char e = s[++i];
      if (e == 'u') {
        if (i + 4 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0 || hexval(s[i + 3]) < 0 || hexval(s[i + 4]) < 0)
          return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: malformed \\u escape", name, (long long)line);
        unsigned cp = (unsigned)(hexval(s[i + 1]) << 12 | hexval(s[i + 2]) << 8 | hexval(s[i + 3]) << 4 | hexval(s[i + 4]));
        i += 4;
        o += put_utf8(buf + o, cp ? cp : '?');
      } else {
        buf[o++] = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 'f' ? '\f' : e;
      }
    } else {
      o += put_utf8(buf + o, c); /* ISO-8859-1 byte = code point */
    }
  }
  if (in_key) {
    key_end = o;
    buf[o++] = '\0';
  }
  buf[o] = '\0';
  *key = buf;
  *value = buf + key_end + 1;
  return EQ_OK;
}

eq_status eq_properties_parse(const void *bytes, size_t n, const char *name, eq_properties_fn fn, void *ctx) {
  const char *s = bytes, *end = s + n;
  /* A logical line never decodes to more than 3 bytes per input byte. */
  char *logical = malloc(n + 1), *buf = malloc(3 * n + 2);
  if (!logical || !buf) {
    free(logical);
    free(buf);
    return eq_error(EQ_ERR_MEMORY, "out of memory");
  }
  eq_status st = EQ_OK;
  int64_t line = 0;
  while (s < end && !st) {
    size_t len = 0;
    int64_t first_line = line + 1;
    int continued = 1, first = 1;
    while (continued && s < end) {
      const char *nl = s;
      while (nl < end && *nl != '\n' && *nl != '\r') nl++;
      line++;
      const char *p = s;
      if (!first)
        while (p < nl && (*p == ' ' || *p == '\t' || *p == '\f')) p++; /* continuation indent */
      size_t k = (size_t)(nl - p);
      /* an odd number of trailing backslashes continues the line */
      size_t bs = 0;
      while (bs < k && p[k - 1 - bs] == '\\') bs++;
      continued = bs % 2 == 1;
      memcpy(logical + len, p, continued ? k - 1 : k);
      len += continued ? k - 1 : k;
      s = nl;
      if (s < end && *s == '\r') s++;
      if (s < end && *s == '\n') s++;
      first = 0;
    }
    size_t i = 0;
    while (i < len && (logical[i] == ' ' || logical[i] == '\t' || logical[i] == '\f')) i++;
    if (i == len || logical[i] == '#' || logical[i] == '!') continue;
    char *key, *value;
    st = decode_line(logical + i, len - i, buf, &key, &value, name, first_line);
    if (!st) st = fn(ctx, key, value);
  }
  free(logical);
  free(buf);
  return st;
}

static int is_word_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

void eq_render_class_from_name(const char *name, char *out, size_t cap) {
  /* the last run of ASCII letters/digits that holds a letter ("Bill 10" -> "bill") */
  const char *e = name + strlen(name), *pick_b = NULL, *pick_e = NULL;
  while (e > name && !pick_b) {
    while (e > name && !is_word_char(e[-1])) e--;
    const char *b = e;
    while (b > name && is_word_char(b[-1])) b--;
    for (const char *c = b; c < e; c++)
      if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')) {
        pick_b = b, pick_e = e;
        break;
      }
    e = b;
  }
  size_t o = 0;
  for (const char *c = pick_b; c && c < pick_e && o + 1 < cap; c++) out[o++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
  out[o] = '\0';
  if (!o) snprintf(out, cap, "object");
}

typedef struct catalog_entry {
  char *name, *model;
  float rot[9];
  int has_rot;
} catalog_entry;

typedef struct catalog_ctx {
  catalog_entry *entries;
  int cap; /* entries are indexed by N - 1 */
  const char *path;
} catalog_ctx;

static eq_status on_property(void *vctx, const char *key, const char *value) {
  catalog_ctx *c = vctx;
  const char *hash = strchr(key, '#');
  if (!hash) return EQ_OK;
  size_t klen = (size_t)(hash - key);
  int is_name = klen == 4 && !strncmp(key, "name", 4), is_model = klen == 5 && !strncmp(key, "model", 5);
  int is_rot = klen == 13 && !strncmp(key, "modelRotation", 13);
  if (!is_name && !is_model && !is_rot) return EQ_OK;
  char *endp;
  long n = strtol(hash + 1, &endp, 10);
  if (*endp || n < 1 || n > 100000) return eq_error(EQ_ERR_FORMAT, "'%s': catalog key '%s' has a bad index", c->path, key);
  if (n > c->cap) {
    int cap = c->cap ? c->cap : 64;
    while (cap < n) cap *= 2;
    catalog_entry *e = realloc(c->entries, sizeof *e * (size_t)cap);
    if (!e) return eq_error(EQ_ERR_MEMORY, "out of memory");
    memset(e + c->cap, 0, sizeof *e * (size_t)(cap - c->cap));
    c->entries = e;
    c->cap = cap;
  }
  catalog_entry *e = &c->entries[n - 1];
  if (is_rot) {
    char *p = (char *)value;
    for (int i = 0; i < 9; i++)
      if (!eq_parse_float(&p, &e->rot[i]))
        return eq_error(EQ_ERR_FORMAT, "'%s': %s needs 9 numbers, got '%s'", c->path, key, value);
    e->has_rot = 1;
    return EQ_OK;
  }
  char **slot = is_name ? &e->name : &e->model;
  free(*slot);
  *slot = eq_strdup(value);
  return *slot ? EQ_OK : eq_error(EQ_ERR_MEMORY, "out of memory");
}

eq_status eq_render_catalog_add(eq_render_source *s, const char *path) {
  eq_zip *zip = NULL;
  eq_status st = eq_zip_open(path, &zip);
  if (st) return st;
  int idx = eq_zip_find(zip, "PluginFurnitureCatalog.properties");
  if (idx < 0) {
    eq_zip_close(zip);
    return eq_error(EQ_ERR_FORMAT, "'%s': no PluginFurnitureCatalog.properties (not a Sweet Home 3D furniture library?)", path);
  }
  void *bytes = NULL;
  size_t n = 0;
  st = eq_zip_extract(zip, idx, &bytes, &n);
  if (st) {
    eq_zip_close(zip);
    return st;
  }
  catalog_ctx ctx = {NULL, 0, path};
  st = eq_properties_parse(bytes, n, path, on_property, &ctx);
  free(bytes);
  int archive = s->num_archives;
  if (!st) {
    eq_zip **za = realloc(s->archives, sizeof *za * (size_t)(archive + 1));
    char **pa = za ? realloc(s->archive_paths, sizeof *pa * (size_t)(archive + 1)) : NULL;
    if (za) s->archives = za;
    if (pa) s->archive_paths = pa;
    char *copy = eq_strdup(path);
    if (!za || !pa || !copy) {
      free(copy);
      st = eq_error(EQ_ERR_MEMORY, "out of memory");
    } else {
      s->archives[archive] = zip;
      s->archive_paths[archive] = copy;
      s->num_archives++;
      zip = NULL;
    }
  }
  /* Sweet Home 3D models are y-up; the scene is z-up: rotate +90 deg about x
   * after the catalog's own modelRotation. */
  static const float Y_UP_TO_Z_UP[9] = {1, 0, 0, 0, 0, -1, 0, 1, 0};
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char stem[128];
  eq_render_sanitize(base, stem, sizeof stem, 1);
  char *dot = strrchr(stem, '.');
  if (dot) *dot = '\0';
  for (int i = 0; i < ctx.cap && !st; i++) {
    catalog_entry *e = &ctx.entries[i];
    if (!e->model) continue;
    float rot[9];
    if (e->has_rot) {
      for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
          float acc = 0;
          for (int k = 0; k < 3; k++) acc += Y_UP_TO_Z_UP[3 * r + k] * e->rot[3 * k + c];
          rot[3 * r + c] = acc;
        }
    } else {
      memcpy(rot, Y_UP_TO_Z_UP, sizeof rot);
    }
    char cls[64], id[272], model_stem[128];
    eq_render_class_from_name(e->name ? e->name : "", cls, sizeof cls);
    const char *mb = strrchr(e->model, '/');
    eq_render_sanitize(mb ? mb + 1 : e->model, model_stem, sizeof model_stem, 0);
    char *mdot = strrchr(model_stem, '.');
    if (mdot) *mdot = '\0';
    snprintf(id, sizeof id, "%s.%s", stem, model_stem);
    st = eq_render_source_add(s, id, cls, e->model, archive, rot);
  }
  for (int i = 0; i < ctx.cap; i++) {
    free(ctx.entries[i].name);
    free(ctx.entries[i].model);
  }
  free(ctx.entries);
  eq_zip_close(zip);
  return st;
}
