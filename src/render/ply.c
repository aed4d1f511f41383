/* Stanford PLY 1.0 (ascii, binary_little_endian, binary_big_endian).
 * Reads vertex x/y/z (+ nx/ny/nz, + red/green/blue) and the face list
 * vertex_indices (or vertex_index); every other element and property is
 * read past and ignored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/render_internal.h"

enum { PLY_ASCII, PLY_LE, PLY_BE };
enum { T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_F32, T_F64, T_COUNT };
static const int type_size[T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 8};

#define PLY_MAX_PROPS 64
#define PLY_MAX_ELEMENTS 16

typedef struct ply_prop {
  char name[32];
  int type;
  int is_list;
  int count_type;
} ply_prop;

typedef struct ply_element {
  char name[32];
  long count;
  int num_props;
  ply_prop props[PLY_MAX_PROPS];
} ply_element;

typedef struct ply_reader {
  const char *p, *end;
  int format;
  const char *name;
  int64_t line;
} ply_reader;

static int parse_type(const char *s) {
  static const char *names[][2] = {{"char", "int8"},   {"uchar", "uint8"},  {"short", "int16"},
                                   {"ushort", "uint16"}, {"int", "int32"},   {"uint", "uint32"},
                                   {"float", "float32"}, {"double", "float64"}};
  for (int i = 0; i < T_COUNT; i++)
    if (!strcmp(s, names[i][0]) || !strcmp(s, names[i][1])) return i;
  return -1;
}

/* Reads one value of `type`; 0 at the end of data or on a malformed token. */
static int read_value(ply_reader *r, int type, double *out) {
  if (r->format == PLY_ASCII) {
    while (r->p < r->end && (eq_is_blank(*r->p) || *r->p == '\n')) {
      if (*r->p == '\n') r->line++;
      r->p++;
    }
    if (r->p >= r->end) return 0;
    char *q = (char *)r->p;
    double v;
    if (!eq_parse_double(&q, &v)) return 0;
    if (*q && !eq_is_blank(*q) && *q != '\n') return 0;
    if (type < T_F32 && v != floor(v)) return 0;
    r->p = q;
    *out = v;
    return 1;
  }
  int sz = type_size[type];
  if (r->end - r->p < sz) return 0;
  unsigned char b[8];
  for (int i = 0; i < sz; i++) b[i] = (unsigned char)r->p[r->format == PLY_LE ? i : sz - 1 - i];
  r->p += sz;
  switch (type) {
    case T_I8: *out = (int8_t)b[0]; break;
    case T_U8: *out = b[0]; break;
    case T_I16: { int16_t v; memcpy(&v, b, 2); *out = v; break; }
    case T_U16: { uint16_t v; memcpy(&v, b, 2); *out = v; break; }
    case T_I32: { int32_t v; memcpy(&v, b, 4); *out = v; break; }
    case T_U32: { uint32_t v; memcpy(&v, b, 4); *out = v; break; }
    case T_F32: { float v; memcpy(&v, b, 4); *out = v; break; }
    default: { double v; memcpy(&v, b, 8); *out = v; break; }
  }
  return isfinite(*out);
}

static eq_status parse_header(const char *text, size_t n, const char *name, int *format,
                              ply_element *elems, int *num_elems, size_t *data_offset, int64_t *lines) {
  if (n < 4 || memcmp(text, "ply", 3) != 0 || (text[3] != '\n' && text[3] != '\r'))
    return eq_error(EQ_ERR_FORMAT, "'%s': not a PLY file (no 'ply' magic line)", name);
  const char *p = text;
  int64_t line = 0;
  int have_format = 0;
  *num_elems = 0;
  for (;;) {
    const char *nl = memchr(p, '\n', (size_t)(text + n - p));
    if (!nl) return eq_error(EQ_ERR_FORMAT, "'%s': header has no end_header line", name);
    line++;
    char buf[256];
    size_t len = (size_t)(nl - p);
    if (len >= sizeof buf) return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: header line too long", name, (long long)line);
    memcpy(buf, p, len);
    buf[len] = '\0';
    p = nl + 1;
    char *rest = buf;
    char *kw = eq_next_token(&rest);
    if (!kw || !strcmp(kw, "ply") || !strcmp(kw, "comment") || !strcmp(kw, "obj_info")) continue;
    if (!strcmp(kw, "end_header")) break;
    if (!strcmp(kw, "format")) {
      char *f = eq_next_token(&rest), *v = eq_next_token(&rest);
      if (!f || !v || strcmp(v, "1.0"))
        return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: bad format line (want 'format <kind> 1.0')", name, (long long)line);
      if (!strcmp(f, "ascii")) *format = PLY_ASCII;
      else if (!strcmp(f, "binary_little_endian")) *format = PLY_LE;
      else if (!strcmp(f, "binary_big_endian")) *format = PLY_BE;
      else return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: unknown format '%s'", name, (long long)line, f);
      have_format = 1;
    } else if (!strcmp(kw, "element")) {
      char *en = eq_next_token(&rest);
      long count;
      if (!en || !eq_parse_long(&rest, 0, 0x7ffffffe, &count))
        return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: bad element line (want 'element <name> <count>')", name, (long long)line);
      if (*num_elems >= PLY_MAX_ELEMENTS)
        return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: more than %d elements", name, (long long)line, PLY_MAX_ELEMENTS);
      ply_element *e = &elems[(*num_elems)++];
      memset(e, 0, sizeof *e);
      strncpy(e->name, en, sizeof e->name - 1);
      e->count = count;
    } else if (!strcmp(kw, "property")) {
      if (*num_elems == 0)
        return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: property before any element", name, (long long)line);
      ply_element *e = &elems[*num_elems - 1];
      if (e->num_props >= PLY_MAX_PROPS)
        return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: too many properties", name, (long long)line);
      ply_prop *pr = &e->props[e->num_props];
      memset(pr, 0, sizeof *pr);
      char *t = eq_next_token(&rest);
      if (t && !strcmp(t, "list")) {
        char *ct = eq_next_token(&rest), *it = eq_next_token(&rest);
        pr->is_list = 1;
        pr->count_type = ct ? parse_type(ct) : -1;
        pr->type = it ? parse_type(it) : -1;
        if (pr->count_type < 0 || pr->count_type >= T_F32 || pr->type < 0)
          return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: bad list property types", name, (long long)line);
      } else {
        pr->type = t ? parse_type(t) : -1;
        if (pr->type < 0)
          return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: unknown property type '%s'", name, (long long)line, t ? t : "");
      }
      char *pn = eq_next_token(&rest);
      if (!pn) return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: property without a name", name, (long long)line);
      strncpy(pr->name, pn, sizeof pr->name - 1);
      e->num_props++;
    } else {
      return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: unknown header keyword '%s'", name, (long long)line, kw);
    }
  }
  if (!have_format) return eq_error(EQ_ERR_FORMAT, "'%s': header has no format line", name);
  *data_offset = (size_t)(p - text);
  *lines = line;
  return EQ_OK;
}

static int prop_index(const ply_element *e, const char *const *names) {
  for (; *names; names++)
    for (int i = 0; i < e->num_props; i++)
      if (!e->props[i].is_list && !strcmp(e->props[i].name, *names)) return i;
  return -1;
}

eq_status eq_mesh_parse_ply(const void *bytes, size_t n, const char *name, eq_mesh *out) {
  memset(out, 0, sizeof *out);
  char *text = malloc(n + 1); /* NUL-terminated so ascii numbers parse safely */
  if (!text) return eq_error(EQ_ERR_MEMORY, "'%s': out of memory", name);
  if (n) memcpy(text, bytes, n);
  text[n] = '\0';
  ply_element elems[PLY_MAX_ELEMENTS];
  int num_elems = 0, format = PLY_ASCII;
  size_t offset = 0;
  int64_t header_lines = 0;
  eq_status st = parse_header(text, n, name, &format, elems, &num_elems, &offset, &header_lines);
  eq_vec pos, col, tri;
  eq_vec_init(&pos, sizeof(float));
  eq_vec_init(&col, sizeof(float));
  eq_vec_init(&tri, sizeof(int32_t));
  ply_reader r = {text + offset, text + n, format, name, header_lines + 1};
  long num_vertices = -1;
  int any_color = 0;
  for (int ei = 0; !st && ei < num_elems; ei++) {
    ply_element *e = &elems[ei];
    int is_vertex = !strcmp(e->name, "vertex"), is_face = !strcmp(e->name, "face");
    static const char *xn[] = {"x", NULL}, *yn[] = {"y", NULL}, *zn[] = {"z", NULL};
    static const char *rn[] = {"red", "r", "diffuse_red", NULL}, *gn[] = {"green", "g", "diffuse_green", NULL},
                      *bn[] = {"blue", "b", "diffuse_blue", NULL};
    int ix = -1, iy = -1, iz = -1, ir = -1, ig = -1, ib = -1, ilist = -1;
    if (is_vertex) {
      ix = prop_index(e, xn), iy = prop_index(e, yn), iz = prop_index(e, zn);
      ir = prop_index(e, rn), ig = prop_index(e, gn), ib = prop_index(e, bn);
      if (ix < 0 || iy < 0 || iz < 0) {
        st = eq_error(EQ_ERR_FORMAT, "'%s': vertex element lacks x, y or z", name);
        break;
      }
      if (ir < 0 || ig < 0 || ib < 0) ir = ig = ib = -1;
      num_vertices = e->count;
    }
    if (is_face) {
      for (int i = 0; i < e->num_props; i++)
        if (e->props[i].is_list && (!strcmp(e->props[i].name, "vertex_indices") || !strcmp(e->props[i].name, "vertex_index")))
          ilist = i;
      if (ilist < 0) {
        st = eq_error(EQ_ERR_FORMAT, "'%s': face element lacks a vertex_indices list", name);
        break;
      }
      if (num_vertices < 0) {
        st = eq_error(EQ_ERR_FORMAT, "'%s': face element before the vertex element", name);
        break;
      }
    }
    if (e->num_props == 0) continue;
    if ((size_t)e->count > n) {
      st = eq_error(EQ_ERR_FORMAT, "'%s': element '%s' count %ld exceeds the file size", name, e->name, e->count);
      break;
    }
    for (long k = 0; !st && k < e->count; k++) {
      float xyz[3] = {0, 0, 0}, rgb[3] = {0, 0, 0};
      for (int pi = 0; !st && pi < e->num_props; pi++) {
        ply_prop *pr = &e->props[pi];
        double v;
        if (!pr->is_list) {
          if (!read_value(&r, pr->type, &v)) goto truncated;
          if (pi == ix) xyz[0] = (float)v;
          else if (pi == iy) xyz[1] = (float)v;
          else if (pi == iz) xyz[2] = (float)v;
          else if (pi == ir || pi == ig || pi == ib) {
            float c = pr->type >= T_F32 ? (float)v : (float)v / 255.0f;
            rgb[pi == ir ? 0 : pi == ig ? 1 : 2] = c < 0 ? 0 : c > 1 ? 1 : c;
          }
          if (isfinite(v) && (pi == ix || pi == iy || pi == iz) && !isfinite((float)v)) {
            st = eq_error(EQ_ERR_FORMAT, "'%s': %s %ld: coordinate %g overflows float", name, e->name, k, v);
          }
          continue;
        }
        double cnt;
        if (!read_value(&r, pr->count_type, &cnt)) goto truncated;
        if (cnt < 0) {
          st = eq_error(EQ_ERR_FORMAT, "'%s': %s %ld: negative list length %g", name, e->name, k, cnt);
          break;
        }
        if (cnt > (double)(r.end - r.p)) {
          st = eq_error(EQ_ERR_FORMAT, "'%s': truncated: %s %ld: list of %g values, %zu bytes left", name, e->name, k,
                        cnt, (size_t)(r.end - r.p));
          break;
        }
        int32_t first = 0, prev = 0;
        for (long i = 0; i < (long)cnt; i++) {
          if (!read_value(&r, pr->type, &v)) goto truncated;
          if (pi != ilist) continue;
          if (v < 0 || v >= (double)num_vertices || v != floor(v)) {
            st = eq_error(EQ_ERR_FORMAT, "'%s': face %ld: vertex index %g not in [0, %ld)", name, k, v, num_vertices);
            break;
          }
          if (i == 0) first = (int32_t)v;
          if (i >= 2) {
            int32_t t[3] = {first, prev, (int32_t)v};
            if (tri.count / 3 >= 0x7fffffff / 3 || !eq_vec_push(&tri, t, 3)) {
              st = eq_error(EQ_ERR_MEMORY, "'%s': too many triangles", name);
              break;
            }
          }
          prev = (int32_t)v;
        }
        if (!st && pi == ilist && cnt < 3) {
          st = eq_error(EQ_ERR_FORMAT, "'%s': face %ld has %g vertices (need at least 3)", name, k, cnt);
        }
      }
      if (!st && is_vertex) {
        if (!eq_vec_push(&pos, xyz, 3)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
        if (ir >= 0 && !eq_vec_push(&col, rgb, 3)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
        any_color = ir >= 0;
      }
      continue;
    truncated:
      if (format == PLY_ASCII)
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: %s %ld: missing or malformed value", name, (long long)r.line, e->name, k);
      else
        st = eq_error(EQ_ERR_FORMAT, "'%s': truncated or non-finite value in %s %ld of %ld (byte %zu)", name, e->name, k, e->count,
                      (size_t)(r.p - text));
    }
  }
  free(text);
  if (!st && num_vertices < 0) st = eq_error(EQ_ERR_FORMAT, "'%s': no vertex element", name);
  if (!st && tri.count == 0) st = eq_error(EQ_ERR_FORMAT, "'%s': no faces (a point cloud cannot be rendered)", name);
  if (st) {
    eq_vec_free(&pos);
    eq_vec_free(&col);
    eq_vec_free(&tri);
    return st;
  }
  if (!any_color) eq_vec_free(&col);
  return eq_mesh_finish(out, name, &pos, any_color ? &col : NULL, NULL, NULL, &tri, NULL, NULL, NULL);
}
