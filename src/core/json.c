/* Recursive-descent JSON parser into an eq_json tree. Depth is bounded so a
 * hostile file cannot overflow the stack. */
#include "equivar/json.h"

#include "equivar/fileio.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 256

typedef struct parser {
  const char *s, *p, *end;
  const char *name;
  int failed;
} parser;

static eq_status fail(parser *ps, const char *what) {
  if (ps->failed) return EQ_ERR_FORMAT;
  ps->failed = 1;
  int line = 1, col = 1;
  for (const char *q = ps->s; q < ps->p && q < ps->end; q++) {
    if (*q == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return eq_error(EQ_ERR_FORMAT, "%s:%d:%d: %s", ps->name, line, col, what);
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static void free_node(eq_json *v) {
  if (v->type == EQ_JSON_STRING) free(v->string);
  if (v->type == EQ_JSON_ARRAY || v->type == EQ_JSON_OBJECT) {
    for (size_t i = 0; i < v->count; i++) {
      free_node(&v->items[i]);
      if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
  }
  memset(v, 0, sizeof *v);
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

static size_t put_utf8(char *d, unsigned cp) {
  if (cp < 0x80) {
    d[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (char)(0xC0 | (cp >> 6));
    d[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (char)(0xE0 | (cp >> 12));
    d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  d[0] = (char)(0xF0 | (cp >> 18));
  d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  d[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* At the opening quote; returns a malloc'd decoded string or NULL. */
static char *parse_string(parser *ps) {
  ps->p++;
  const char *start = ps->p;
  while (ps->p < ps->end && *ps->p != '"') {
    if (*ps->p == '\\') ps->p++;
    ps->p++;
  }
  if (ps->p >= ps->end) {
    ps->p = start;
    fail(ps, "unterminated string");
    return NULL;
  }
  size_t raw = (size_t)(ps->p - start);
  char *out = malloc(raw + 1); /* decoding never grows the text */
  if (!out) {
    fail(ps, "out of memory");
    return NULL;
  }
  size_t o = 0;
  for (const char *q = start; q < ps->p; q++) {
    unsigned char c = (unsigned char)*q;
    if (c < 0x20) {
      ps->p = q;
      free(out);
      fail(ps, "control character in string");
      return NULL;
    }
    if (c != '\\') {
      out[o++] = (char)c;
      continue;
    }
    q++;
    switch (*q) {
    case '"': out[o++] = '"'; break;
    case '\\': out[o++] = '\\'; break;
    case '/': out[o++] = '/'; break;
    case 'b': out[o++] = '\b'; break;
    case 'f': out[o++] = '\f'; break;
    case 'n': out[o++] = '\n'; break;
    case 'r': out[o++] = '\r'; break;
    case 't': out[o++] = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (ps->p - q < 5 || !hex4(q + 1, &cp)) {
        ps->p = q;
        free(out);
        fail(ps, "bad \\u escape");
        return NULL;
      }
      q += 4;
      /* A high surrogate followed by \uDC00..DFFF is one code point. */
      if (cp >= 0xD800 && cp < 0xDC00 && ps->p - q >= 7 && q[1] == '\\' && q[2] == 'u' && hex4(q + 3, &lo) &&
          lo >= 0xDC00 && lo < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        q += 6;
      }
      o += put_utf8(out + o, cp);
      break;
    }
    default:
      ps->p = q;
      free(out);
      fail(ps, "bad escape in string");
      return NULL;
    }
  }
  out[o] = '\0';
  ps->p++; /* closing quote */
  return out;
}

static int parse_value(parser *ps, eq_json *v, int depth);

static int append(parser *ps, eq_json *v, size_t *cap, int with_key) {
  if (v->count < *cap) return 1;
  size_t nc = *cap ? *cap * 2 : 4;
  eq_json *items = realloc(v->items, nc * sizeof *items);
  if (!items) return fail(ps, "out of memory"), 0;
  v->items = items;
  if (with_key) {
    char **keys = realloc(v->keys, nc * sizeof *keys);
    if (!keys) return fail(ps, "out of memory"), 0;
    v->keys = keys;
  }
  *cap = nc;
  return 1;
}

static int parse_container(parser *ps, eq_json *v, int depth, int object) {
  v->type = object ? EQ_JSON_OBJECT : EQ_JSON_ARRAY;
  ps->p++;
  size_t cap = 0;
  skip_ws(ps);
  char close = object ? '}' : ']';
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return 1;
  }
  for (;;) {
    if (!append(ps, v, &cap, object)) return 0;
    char *key = NULL;
    skip_ws(ps);
    if (object) {
      if (ps->p >= ps->end || *ps->p != '"') return fail(ps, "expected a string key"), 0;
      const char *key_at = ps->p;
      key = parse_string(ps);
      if (!key) return 0;
      for (size_t i = 0; i < v->count; i++) {
        if (strcmp(v->keys[i], key) == 0) {
          ps->p = key_at;
          free(key);
          return fail(ps, "duplicate key"), 0;
        }
      }
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        free(key);
        return fail(ps, "expected ':'"), 0;
      }
      ps->p++;
    }
    eq_json *item = &v->items[v->count];
    memset(item, 0, sizeof *item);
    if (object) v->keys[v->count] = key;
    v->count++; /* counted before parsing so free_node sees partial items */
    if (!parse_value(ps, item, depth + 1)) return 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == close) {
      ps->p++;
      return 1;
    }
    return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'"), 0;
  }
}

static int parse_number(parser *ps, eq_json *v) {
  const char *q = ps->p;
  if (q < ps->end && *q == '-') q++;
  if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "invalid value"), 0;
  if (*q == '0') q++;
  else while (q < ps->end && *q >= '0' && *q <= '9') q++;
  if (q < ps->end && *q == '.') {
    q++;
    if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "digit expected after '.'"), 0;
    while (q < ps->end && *q >= '0' && *q <= '9') q++;
  }
  if (q < ps->end && (*q == 'e' || *q == 'E')) {
    q++;
    if (q < ps->end && (*q == '+' || *q == '-')) q++;
    if (q >= ps->end || *q < '0' || *q > '9') return fail(ps, "digit expected in exponent"), 0;
    while (q < ps->end && *q >= '0' && *q <= '9') q++;
  }
  char buf[64];
  size_t len = (size_t)(q - ps->p);
  if (len >= sizeof buf) return fail(ps, "number too long"), 0;
  memcpy(buf, ps->p, len);
  buf[len] = '\0';
  v->type = EQ_JSON_NUMBER;
  v->number = strtod(buf, NULL);
  if (!isfinite(v->number)) return fail(ps, "number out of range"), 0;
  ps->p = q;
  return 1;
}

static int literal(parser *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return 0;
  ps->p += n;
  return 1;
}

static int parse_value(parser *ps, eq_json *v, int depth) {
  if (depth > JSON_MAX_DEPTH) return fail(ps, "nesting too deep"), 0;
  skip_ws(ps);
  if (ps->p >= ps->end) return fail(ps, "unexpected end of input"), 0;
  switch (*ps->p) {
  case '{': return parse_container(ps, v, depth, 1);
  case '[': return parse_container(ps, v, depth, 0);
  case '"':
    v->string = parse_string(ps);
    if (!v->string) return 0;
    v->type = EQ_JSON_STRING;
    return 1;
  case 't':
    if (!literal(ps, "true")) break;
    v->type = EQ_JSON_BOOL;
    v->boolean = true;
    return 1;
  case 'f':
    if (!literal(ps, "false")) break;
    v->type = EQ_JSON_BOOL;
    return 1;
  case 'n':
    if (!literal(ps, "null")) break;
    v->type = EQ_JSON_NULL;
    return 1;
  default: return parse_number(ps, v);
  }
  return fail(ps, "invalid literal"), 0;
}

eq_json *eq_json_parse(const char *text, size_t n, const char *name) {
  parser ps = {text, text, text + n, name ? name : "<json>", 0};
  eq_json *root = calloc(1, sizeof *root);
  if (!root) {
    eq_error(EQ_ERR_MEMORY, "%s: out of memory", ps.name);
    return NULL;
  }
  if (parse_value(&ps, root, 0)) {
    skip_ws(&ps);
    if (ps.p == ps.end) return root;
    fail(&ps, "trailing characters after the value");
  }
  eq_json_free(root);
  return NULL;
}

eq_json *eq_json_read_file(const char *path) {
  void *data;
  size_t n;
  if (eq_read_file(path, &data, &n)) return NULL;
  eq_json *root = eq_json_parse(data, n, path);
  free(data);
  return root;
}

void eq_json_free(eq_json *root) {
  if (!root) return;
  free_node(root);
  free(root);
}

const eq_json *eq_json_get(const eq_json *obj, const char *key) {
  if (!obj || obj->type != EQ_JSON_OBJECT) return NULL;
  for (size_t i = 0; i < obj->count; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

const char *eq_json_type_name(eq_json_type type) {
  static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
  return (unsigned)type < 6 ? names[type] : "?";
}

eq_status eq_json_check_keys(const eq_json *obj, const char *where, const char *const *allowed) {
  for (size_t i = 0; obj && obj->type == EQ_JSON_OBJECT && i < obj->count; i++) {
    int ok = 0;
    for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(obj->keys[i], *a);
    if (!ok) return eq_error(EQ_ERR_VALUE, "%s: unknown key '%s'", where, obj->keys[i]);
  }
  return EQ_OK;
}

static const eq_json *typed(const eq_json *obj, const char *key, eq_json_type want, eq_status *st) {
  *st = EQ_OK;
  const eq_json *v = eq_json_get(obj, key);
  if (!v || v->type == EQ_JSON_NULL) return NULL;
  if (v->type != want) {
    *st = eq_error(EQ_ERR_VALUE, "config key '%s': expected a %s, got a %s", key, eq_json_type_name(want),
                   eq_json_type_name(v->type));
    return NULL;
  }
  return v;
}

eq_status eq_json_number_or(const eq_json *obj, const char *key, double dflt, double *out) {
  eq_status st;
  const eq_json *v = typed(obj, key, EQ_JSON_NUMBER, &st);
  *out = v ? v->number : dflt;
  return st;
}

eq_status eq_json_int_or(const eq_json *obj, const char *key, long long dflt, long long *out) {
  eq_status st;
  const eq_json *v = typed(obj, key, EQ_JSON_NUMBER, &st);
  *out = dflt;
  if (!v) return st;
  if (v->number != floor(v->number) || fabs(v->number) > 9007199254740992.0)
    return eq_error(EQ_ERR_VALUE, "config key '%s': expected an integer, got %g", key, v->number);
  *out = (long long)v->number;
  return EQ_OK;
}

eq_status eq_json_bool_or(const eq_json *obj, const char *key, bool dflt, bool *out) {
  eq_status st;
  const eq_json *v = typed(obj, key, EQ_JSON_BOOL, &st);
  *out = v ? v->boolean : dflt;
  return st;
}

eq_status eq_json_string_or(const eq_json *obj, const char *key, const char *dflt, const char **out) {
  eq_status st;
  const eq_json *v = typed(obj, key, EQ_JSON_STRING, &st);
  *out = v ? v->string : dflt;
  return st;
}

eq_status eq_json_numbers(const eq_json *obj, const char *key, int n, double *out) {
  const eq_json *v = eq_json_get(obj, key);
  if (!v || v->type == EQ_JSON_NULL) return EQ_OK;
  if (v->type == EQ_JSON_NUMBER) {
    for (int i = 0; i < n; i++) out[i] = v->number;
    return EQ_OK;
  }
  if (v->type != EQ_JSON_ARRAY || v->count != (size_t)n)
    return eq_error(EQ_ERR_VALUE, "config key '%s': expected a number or an array of %d numbers", key, n);
  for (int i = 0; i < n; i++) {
    if (v->items[i].type != EQ_JSON_NUMBER)
      return eq_error(EQ_ERR_VALUE, "config key '%s': element %d is a %s, not a number", key, i,
                      eq_json_type_name(v->items[i].type));
  }
  for (int i = 0; i < n; i++) out[i] = v->items[i].number;
  return EQ_OK;
}
