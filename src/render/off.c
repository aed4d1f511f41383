/* Object File Format: [ST][C][N]OFF header, counts, one vertex per line
 * (x y z [normal] [colour] [uv]), one face per line (k i0 .. ik-1 [colour]).
 * Comments start with '#'. */
#include <stdlib.h>
#include <string.h>

#include "render/render_internal.h"

#define OFF_MAX_NUMBERS 32

static int parse_keyword(const char *kw, int *has_n, int *has_c, int *has_st) {
  *has_n = *has_c = *has_st = 0;
  if (!strncmp(kw, "ST", 2)) *has_st = 1, kw += 2;
  if (*kw == 'C') *has_c = 1, kw++;
  if (*kw == 'N') *has_n = 1, kw++;
  return !strcmp(kw, "OFF");
}

eq_status eq_mesh_parse_off(const void *bytes, size_t n, const char *name, eq_mesh *out) {
  memset(out, 0, sizeof *out);
  eq_lines lines;
  eq_status st = eq_lines_init(&lines, bytes, n, name);
  if (st) return st;
  eq_vec pos, col, tri;
  eq_vec_init(&pos, sizeof(float));
  eq_vec_init(&col, sizeof(float));
  eq_vec_init(&tri, sizeof(int32_t));
  int has_n = 0, has_c = 0, has_st = 0, have_header = 0, have_counts = 0, any_color = 0;
  long nv = 0, nf = 0, faces = 0;
  char *line;
  while (!st && (line = eq_lines_next(&lines, 1))) {
    if (!*line) continue;
    char *rest = line;
    int64_t ln = lines.line;
    if (!have_header) {
      char *kw = eq_next_token(&rest);
      if (!parse_keyword(kw, &has_n, &has_c, &has_st)) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: not an OFF file (header '%s'; want OFF, COFF, NOFF, CNOFF or STOFF)",
                      name, (long long)ln, kw);
        break;
      }
      have_header = 1;
      while (eq_is_blank(*rest)) rest++;
      if (!*rest) continue; /* counts on the next line */
    }
    if (!have_counts) {
      long ne;
      if (!eq_parse_long(&rest, 0, 0x7ffffffe, &nv) || !eq_parse_long(&rest, 0, 0x7ffffffe / 3, &nf)) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: expected 'vertices faces [edges]' counts, got '%s'", name, (long long)ln, line);
        break;
      }
      eq_parse_long(&rest, 0, 0x7fffffff, &ne);
      have_counts = 1;
      if (nv > (long)(n / 6) + 1 || nf > (long)(n / 6) + 1) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: counts %ld vertices, %ld faces do not fit a %zu-byte file", name, (long long)ln, nv, nf, n);
        break;
      }
      continue;
    }
    if ((long)(pos.count / 3) < nv) {
      float v[OFF_MAX_NUMBERS];
      int k = 0;
      while (k < OFF_MAX_NUMBERS && eq_parse_float(&rest, &v[k])) k++;
      while (eq_is_blank(*rest)) rest++;
      int need = 3 + (has_n ? 3 : 0) + (has_c ? 3 : 0) + (has_st ? 2 : 0);
      if (k < need || *rest) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: vertex %zu needs %d numbers, got '%s'", name, (long long)ln, pos.count / 3, need, line);
        break;
      }
      if (!eq_vec_push(&pos, v, 3)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
      if (has_c) {
        float *c = v + 3 + (has_n ? 3 : 0);
        float scale = (c[0] > 1 || c[1] > 1 || c[2] > 1) ? 1.0f / 255.0f : 1.0f; /* ints 0..255 or floats */
        float rgb[3];
        for (int i = 0; i < 3; i++) {
          rgb[i] = c[i] * scale;
          rgb[i] = rgb[i] < 0 ? 0 : rgb[i] > 1 ? 1 : rgb[i];
        }
        any_color = 1;
        if (!eq_vec_push(&col, rgb, 3)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
      }
      continue;
    }
    if (faces < nf) {
      long k;
      if (!eq_parse_long(&rest, 0, 1 << 20, &k) || k < 3) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: face %ld must start with a vertex count >= 3, got '%s'", name, (long long)ln, faces, line);
        break;
      }
      int32_t first = 0, prev = 0;
      for (long i = 0; i < k && !st; i++) {
        long idx;
        if (!eq_parse_long(&rest, 0, nv - 1, &idx)) {
          st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: face %ld: vertex index %ld missing or not in [0, %ld)", name, (long long)ln, faces, i, nv);
          break;
        }
        if (i == 0) first = (int32_t)idx;
        if (i >= 2) {
          int32_t t[3] = {first, prev, (int32_t)idx};
          if (tri.count / 3 >= 0x7fffffff / 3 || !eq_vec_push(&tri, t, 3)) st = eq_error(EQ_ERR_MEMORY, "'%s': too many triangles", name);
        }
        prev = (int32_t)idx;
      }
      faces++; /* a face colour may follow the indices: ignored */
      continue;
    }
    /* Trailing data (edges) is allowed and ignored. */
  }
  eq_lines_free(&lines);
  if (!st && !have_header) st = eq_error(EQ_ERR_FORMAT, "'%s': empty file, no OFF header", name);
  if (!st && !have_counts) st = eq_error(EQ_ERR_FORMAT, "'%s': truncated after the header (no counts)", name);
  if (!st && (long)(pos.count / 3) < nv)
    st = eq_error(EQ_ERR_FORMAT, "'%s': truncated: %zu of %ld vertices", name, pos.count / 3, nv);
  if (!st && faces < nf) st = eq_error(EQ_ERR_FORMAT, "'%s': truncated: %ld of %ld faces", name, faces, nf);
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
