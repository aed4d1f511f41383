/* Growable arrays, line reading and number parsing for the mesh parsers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/render_internal.h"

void eq_vec_init(eq_vec *v, size_t item_size) {
  v->data = NULL;
  v->count = v->cap = 0;
  v->item = item_size;
}

int eq_vec_push(eq_vec *v, const void *src, size_t n) {
  if (v->count + n > v->cap) {
    size_t cap = v->cap ? v->cap : 64;
    while (cap < v->count + n) {
      if (cap > SIZE_MAX / 2 / v->item) return 0;
      cap *= 2;
    }
    void *d = realloc(v->data, cap * v->item);
    if (!d) return 0;
    v->data = d;
    v->cap = cap;
  }
  memcpy((char *)v->data + v->count * v->item, src, n * v->item);
  v->count += n;
  return 1;
}

void eq_vec_free(eq_vec *v) {
  free(v->data);
  v->data = NULL;
  v->count = v->cap = 0;
}

void *eq_vec_take(eq_vec *v) {
  void *d = v->count ? v->data : NULL;
  if (!d) free(v->data);
  v->data = NULL;
  v->count = v->cap = 0;
  return d;
}

char *eq_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

int eq_is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

eq_status eq_lines_init(eq_lines *l, const void *bytes, size_t n, const char *name) {
  memset(l, 0, sizeof *l);
  if (n && memchr(bytes, 0, n))
    return eq_error(EQ_ERR_FORMAT, "'%s': NUL byte in a text file (binary data?)", name);
  l->text = malloc(n + 1);
  if (!l->text) return eq_error(EQ_ERR_MEMORY, "'%s': out of memory (%zu bytes)", name, n);
  if (n) memcpy(l->text, bytes, n);
  l->text[n] = '\0';
  l->next = l->text;
  l->end = l->text + n;
  return EQ_OK;
}

char *eq_lines_next(eq_lines *l, int strip_comments) {
  if (!l->next || l->next >= l->end) return NULL;
  char *s = l->next;
  char *nl = memchr(s, '\n', (size_t)(l->end - s));
  if (nl) {
    *nl = '\0';
    l->next = nl + 1;
  } else {
    l->next = l->end;
  }
  l->line++;
  if (strip_comments) {
    char *hash = strchr(s, '#');
    if (hash) *hash = '\0';
  }
  while (eq_is_blank(*s)) s++;
  size_t len = strlen(s);
  while (len && eq_is_blank(s[len - 1])) s[--len] = '\0';
  return s;
}

void eq_lines_free(eq_lines *l) {
  free(l->text);
  memset(l, 0, sizeof *l);
}

/* strtof/strtod also accept "nan", "inf" and hex floats; meshes hold none. */
static int plain_number_start(const char *s) {
  if (*s == '+' || *s == '-') s++;
  return (*s >= '0' && *s <= '9') || (*s == '.' && s[1] >= '0' && s[1] <= '9');
}

int eq_parse_double(char **p, double *out) {
  char *s = *p;
  while (eq_is_blank(*s)) s++;
  if (!plain_number_start(s)) return 0;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || !isfinite(v)) return 0;
  if (*end && !eq_is_blank(*end) && *end != '/' && *end != '\n') return 0;
  *out = v;
  *p = end;
  return 1;
}

int eq_parse_float(char **p, float *out) {
  char *s = *p;
  while (eq_is_blank(*s)) s++;
  if (!plain_number_start(s)) return 0;
  char *end = NULL;
  float v = strtof(s, &end);
  if (end == s || !isfinite(v)) return 0;
  if (*end && !eq_is_blank(*end) && *end != '/' && *end != '\n') return 0;
  *out = v;
  *p = end;
  return 1;
}

int eq_parse_long(char **p, long lo, long hi, long *out) {
  char *s = *p;
  while (eq_is_blank(*s)) s++;
  const char *d = s;
  if (*d == '+' || *d == '-') d++;
  if (*d < '0' || *d > '9') return 0;
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || v < lo || v > hi) return 0;
  if (*end && !eq_is_blank(*end) && *end != '/' && *end != '\n') return 0;
  *out = v;
  *p = end;
  return 1;
}

char *eq_next_token(char **p) {
  char *s = *p;
  while (eq_is_blank(*s)) s++;
  if (!*s) {
    *p = s;
    return NULL;
  }
  char *t = s;
  while (*s && !eq_is_blank(*s)) s++;
  if (*s) *s++ = '\0';
  *p = s;
  return t;
}

uint64_t eq_fnv1a64(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

char *eq_path_join_relative(const char *base_file, const char *rel) {
  size_t nb = strlen(base_file), nr = strlen(rel);
  char *buf = malloc(nb + nr + 2);
  if (!buf) return NULL;
  size_t len = 0;
  if (rel[0] != '/') {
    const char *slash = strrchr(base_file, '/');
    if (slash) {
      len = (size_t)(slash - base_file) + 1;
      memcpy(buf, base_file, len);
    }
  }
  memcpy(buf + len, rel, nr + 1);
  for (char *c = buf; *c; c++)
    if (*c == '\\') *c = '/';
  /* Resolve "." and ".." segments in place. */
  char *out = malloc(strlen(buf) + 1);
  if (!out) {
    free(buf);
    return NULL;
  }
  size_t o = 0;
  int absolute = buf[0] == '/';
  char *save = NULL;
  for (char *seg = strtok_r(buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
    if (!strcmp(seg, ".")) continue;
    if (!strcmp(seg, "..")) {
      size_t k = o;
      while (k > 0 && out[k - 1] != '/') k--;
      int parent_is_dotdot = (o - k == 2 && out[k] == '.' && out[k + 1] == '.');
      if (o > 0 && !parent_is_dotdot) {
        o = k > 0 ? k - 1 : 0;
        if (o == 0 && absolute) o = 0;
        continue;
      }
    }
    if (o > 0 || absolute) out[o++] = '/';
    size_t n = strlen(seg);
    memcpy(out + o, seg, n);
    o += n;
  }
  out[o] = '\0';
  free(buf);
  return out;
}
