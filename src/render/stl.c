/* STL: binary (80-byte header, uint32 count, 50 bytes per triangle) or ascii
 * (solid / facet / outer loop / vertex ... / endloop / endfacet / endsolid).
 * Binary is recognised by its exact size, since many binary files start
 * with "solid" too. Facet normals are ignored (recomputed from the winding). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/render_internal.h"

static uint32_t read_u32le(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float read_f32le(const unsigned char *p) {
  uint32_t u = read_u32le(p);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static eq_status parse_binary(const unsigned char *b, uint32_t count, const char *name, eq_mesh *out) {
  eq_vec pos, tri;
  eq_vec_init(&pos, sizeof(float));
  eq_vec_init(&tri, sizeof(int32_t));
  eq_status st = EQ_OK;
  for (uint32_t t = 0; t < count && !st; t++) {
    const unsigned char *f = b + 84 + 50 * (size_t)t + 12; /* skip the normal */
    for (int v = 0; v < 3; v++) {
      float xyz[3];
      for (int c = 0; c < 3; c++) {
        xyz[c] = read_f32le(f + 12 * v + 4 * c);
        if (!isfinite(xyz[c])) {
          st = eq_error(EQ_ERR_FORMAT, "'%s': triangle %u vertex %d is not finite", name, t, v);
          break;
        }
      }
      if (st) break;
      int32_t idx = (int32_t)(pos.count / 3);
      if (!eq_vec_push(&pos, xyz, 3) || !eq_vec_push(&tri, &idx, 1)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
    }
  }
  if (st) {
    eq_vec_free(&pos);
    eq_vec_free(&tri);
    return st;
  }
  return eq_mesh_finish(out, name, &pos, NULL, NULL, NULL, &tri, NULL, NULL, NULL);
}

static eq_status parse_ascii(const void *bytes, size_t n, const char *name, eq_mesh *out) {
  eq_lines lines;
  eq_status st = eq_lines_init(&lines, bytes, n, name);
  if (st) return st;
  eq_vec pos, tri;
  eq_vec_init(&pos, sizeof(float));
  eq_vec_init(&tri, sizeof(int32_t));
  int in_loop = 0, in_solid = 0, loop_vertices = 0;
  int32_t first = 0, prev = 0;
  char *line;
  while (!st && (line = eq_lines_next(&lines, 0))) {
    if (!*line) continue;
    char *rest = line;
    char *kw = eq_next_token(&rest);
    int64_t ln = lines.line;
    if (!strcmp(kw, "solid")) {
      in_solid = 1;
    } else if (!in_solid) {
      st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: '%s' outside 'solid ... endsolid'", name, (long long)ln, kw);
    } else if (!strcmp(kw, "facet") || !strcmp(kw, "endfacet") || !strcmp(kw, "endsolid")) {
      if (in_loop) st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: '%s' inside an open loop", name, (long long)ln, kw);
      if (!strcmp(kw, "endsolid")) in_solid = 0;
    } else if (!strcmp(kw, "outer")) {
      if (in_loop) st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: nested 'outer loop'", name, (long long)ln);
      in_loop = 1;
      loop_vertices = 0;
    } else if (!strcmp(kw, "endloop")) {
      if (!in_loop || loop_vertices < 3)
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: endloop after %d vertices (need an open loop of at least 3)", name,
                      (long long)ln, loop_vertices);
      in_loop = 0;
    } else if (!strcmp(kw, "vertex")) {
      float xyz[3];
      int got = 0;
      while (got < 3 && eq_parse_float(&rest, &xyz[got])) got++;
      while (eq_is_blank(*rest)) rest++;
      if (!in_loop) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: vertex outside 'outer loop'", name, (long long)ln);
      } else if (got < 3 || *rest) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: vertex needs 3 finite numbers", name, (long long)ln);
      } else {
        int32_t idx = (int32_t)(pos.count / 3);
        if (pos.count / 3 >= 0x7ffffffe || !eq_vec_push(&pos, xyz, 3)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
        if (loop_vertices == 0) first = idx;
        if (!st && loop_vertices >= 2) {
          int32_t t[3] = {first, prev, idx};
          if (!eq_vec_push(&tri, t, 3)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
        }
        prev = idx;
        loop_vertices++;
      }
    } else {
      st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: unknown keyword '%s'", name, (long long)ln, kw);
    }
  }
  eq_lines_free(&lines);
  if (!st && in_loop) st = eq_error(EQ_ERR_FORMAT, "'%s': truncated inside a facet", name);
  if (!st && tri.count == 0) st = eq_error(EQ_ERR_FORMAT, "'%s': no facets", name);
  if (st) {
    eq_vec_free(&pos);
    eq_vec_free(&tri);
    return st;
  }
  return eq_mesh_finish(out, name, &pos, NULL, NULL, NULL, &tri, NULL, NULL, NULL);
}

eq_status eq_mesh_parse_stl(const void *bytes, size_t n, const char *name, eq_mesh *out) {
  memset(out, 0, sizeof *out);
  const unsigned char *b = bytes;
  if (n >= 84) {
    uint32_t count = read_u32le(b + 80);
    if ((uint64_t)count * 50 + 84 == n) {
      if (count == 0) return eq_error(EQ_ERR_FORMAT, "'%s': binary STL with no triangles", name);
      return parse_binary(b, count, name, out);
    }
  }
  size_t i = 0;
  while (i < n && (eq_is_blank((char)b[i]) || b[i] == '\n')) i++;
  if (n - i >= 5 && !memcmp(b + i, "solid", 5)) return parse_ascii(bytes, n, name, out);
  if (n >= 84)
    return eq_error(EQ_ERR_FORMAT, "'%s': not an STL file: binary size %zu does not match 84 + 50 * %u triangles, and no 'solid' ascii header",
                    name, n, read_u32le(b + 80));
  return eq_error(EQ_ERR_FORMAT, "'%s': not an STL file (%zu bytes: too short for binary, no 'solid' header)", name, n);
}
