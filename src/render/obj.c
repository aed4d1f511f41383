/* Wavefront OBJ: v, vt, vn, f (polygons as fans, negative indices), usemtl,
 * mtllib. Other statements (o, g, s, l, p, ...) do not affect the triangles. */
#include <stdlib.h>
#include <string.h>

#include "render/render_internal.h"

typedef struct obj_state {
  eq_vec pos, tex, nrm, tri_pos, tri_tex, tri_nrm, tri_mat;
  eq_vec materials;       /* eq_material */
  eq_vec textures;        /* eq_image */
  eq_vec texture_paths;   /* char * (to share one decode between materials) */
  int current_material;
  int any_tex, any_nrm;
} obj_state;

static void state_free(obj_state *s) {
  eq_vec_free(&s->pos);
  eq_vec_free(&s->tex);
  eq_vec_free(&s->nrm);
  eq_vec_free(&s->tri_pos);
  eq_vec_free(&s->tri_tex);
  eq_vec_free(&s->tri_nrm);
  eq_vec_free(&s->tri_mat);
  eq_vec_free(&s->materials);
  eq_image *imgs = s->textures.data;
  for (size_t i = 0; i < s->textures.count; i++) eq_image_free(&imgs[i]);
  eq_vec_free(&s->textures);
  char **paths = s->texture_paths.data;
  for (size_t i = 0; i < s->texture_paths.count; i++) free(paths[i]);
  eq_vec_free(&s->texture_paths);
}

/* Resolves a 1-based (or negative, relative) OBJ index against `count`. */
static int resolve_index(long v, size_t count, int32_t *out) {
  long idx = v > 0 ? v - 1 : (long)count + v;
  if (v == 0 || idx < 0 || idx >= (long)count) return 0;
  *out = (int32_t)idx;
  return 1;
}

/* `path` is `raw` (as the MTL wrote it) resolved against the MTL file `mtl`. */
static eq_status load_texture(obj_state *s, const char *path, const char *raw, const char *mtl,
                              eq_mesh_open_fn open, void *ctx, int *out) {
  char **paths = s->texture_paths.data;
  for (size_t i = 0; i < s->texture_paths.count; i++)
    if (!strcmp(paths[i], path)) {
      *out = (int)i;
      return EQ_OK;
    }
  void *bytes = NULL;
  size_t n = 0;
  eq_status st = open(ctx, path, &bytes, &n);
  if (st) {
    /* Exporters often leave the author's absolute path: try the file name
     * next to the MTL, then shade with Kd. A missing file is no format error. */
    const char *base = strrchr(raw, '/'), *bs = strrchr(raw, '\\');
    if (bs && (!base || bs > base)) base = bs;
    base = base ? base + 1 : raw;
    char *alt = eq_path_join_relative(mtl, base);
    st = alt && strcmp(alt, path) ? open(ctx, alt, &bytes, &n) : EQ_ERR_IO;
    free(alt);
    if (st) {
      eq_error_clear();
      *out = -1;
      return EQ_OK;
    }
  }
  eq_image img = {0};
  st = eq_image_decode(bytes, n, path, 3, &img);
  free(bytes);
  if (st) {
    eq_error_context("'%s': texture: ", mtl);
    return st;
  }
  char *copy = eq_strdup(path);
  if (!copy || !eq_vec_push(&s->textures, &img, 1) || !eq_vec_push(&s->texture_paths, &copy, 1)) {
    free(copy);
    eq_image_free(&img);
    return eq_error(EQ_ERR_MEMORY, "'%s': out of memory for texture '%s'", mtl, path);
  }
  *out = (int)s->textures.count - 1;
  return EQ_OK;
}

static eq_status load_mtllib(obj_state *s, const char *file, eq_mesh_open_fn open, void *ctx,
                             const char *name, int64_t line) {
  void *bytes = NULL;
  size_t n = 0;
  eq_status st = open(ctx, file, &bytes, &n);
  if (st) { /* a missing library leaves the default material, as viewers do */
    eq_error_clear();
    return EQ_OK;
  }
  eq_mtl_library lib = {0};
  st = eq_mtl_parse(bytes, n, file, &lib);
  free(bytes);
  if (st) return st;
  for (int i = 0; i < lib.count && !st; i++) {
    eq_material m;
    memset(&m, 0, sizeof m);
    memcpy(m.name, lib.entries[i].name, sizeof m.name);
    memcpy(m.diffuse, lib.entries[i].diffuse, sizeof m.diffuse);
    m.texture = -1;
    if (lib.entries[i].texture_path) {
      char *tex_path = eq_path_join_relative(file, lib.entries[i].texture_path);
      if (!tex_path) st = eq_error(EQ_ERR_MEMORY, "out of memory");
      else st = load_texture(s, tex_path, lib.entries[i].texture_path, file, open, ctx, &m.texture);
      free(tex_path);
    }
    if (!st && !eq_vec_push(&s->materials, &m, 1)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
  }
  eq_mtl_free(&lib);
  return st;
}

static int find_material(const obj_state *s, const char *mtl) {
  const eq_material *m = s->materials.data;
  /* The last definition wins, as in most viewers. */
  for (size_t i = s->materials.count; i-- > 0;)
    if (!strncmp(m[i].name, mtl, sizeof m[i].name - 1)) return (int)i;
  return -1;
}

static eq_status parse_face(obj_state *s, char *rest, const char *name, int64_t line) {
  int32_t first[3] = {0}, prev[3] = {0};
  int n = 0;
  char *tok;
  while ((tok = eq_next_token(&rest))) {
    int32_t idx[3] = {-1, -1, -1};
    char *p = tok;
    for (int part = 0; part < 3; part++) {
      if (*p == '/' || *p == '\0') {
        if (part == 0) goto bad;
      } else {
        long v;
        eq_vec *ref = part == 0 ? &s->pos : part == 1 ? &s->tex : &s->nrm;
        size_t count = ref->count / (part == 1 ? 2 : 3);
        if (!eq_parse_long(&p, -2147483647L, 2147483647L, &v)) goto bad;
        if (!resolve_index(v, count, &idx[part]))
          return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: face index %ld out of range (%zu %s defined so far)",
                          name, (long long)line, v, count, part == 0 ? "vertices" : part == 1 ? "texcoords" : "normals");
      }
      if (*p == '\0') break;
      if (*p != '/') goto bad;
      p++;
    }
    if (*p != '\0') goto bad;
    if (idx[1] >= 0) s->any_tex = 1;
    if (idx[2] >= 0) s->any_nrm = 1;
    if (n == 0) memcpy(first, idx, sizeof idx);
    if (n >= 2) {
      int32_t tp[3] = {first[0], prev[0], idx[0]}, tt[3] = {first[1], prev[1], idx[1]},
              tn[3] = {first[2], prev[2], idx[2]};
      int32_t mat = s->current_material;
      if (!eq_vec_push(&s->tri_pos, tp, 3) || !eq_vec_push(&s->tri_tex, tt, 3) ||
          !eq_vec_push(&s->tri_nrm, tn, 3) || !eq_vec_push(&s->tri_mat, &mat, 1))
        return eq_error(EQ_ERR_MEMORY, "'%s': out of memory", name);
      if (s->tri_mat.count > 0x7fffffff / 3)
        return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: too many triangles", name, (long long)line);
    }
    memcpy(prev, idx, sizeof idx);
    n++;
  }
  /* One- and two-vertex faces have no area; exporters write them (Sweet Home 3D
   * furniture has dozens), so they are skipped, not errors. */
  if (n == 0) return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: face without vertices", name, (long long)line);
  return EQ_OK;
bad:
  return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: malformed face vertex '%s' (want v, v/vt, v//vn or v/vt/vn)",
                  name, (long long)line, tok);
}

static eq_status parse_numbers(eq_vec *v, char *rest, int want, int max_extra, const char *what,
                               const char *name, int64_t line) {
  float x[3] = {0, 0, 0};
  int need = want == 2 ? 1 : want; /* "vt u" alone is valid: v defaults to 0 */
  int got = 0;
  while (got < want && eq_parse_float(&rest, &x[got])) got++;
  if (got < need)
    return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: %s needs %d numbers", name, (long long)line, what, want);
  float extra;
  int extras = 0;
  while (eq_parse_float(&rest, &extra)) extras++;
  while (eq_is_blank(*rest)) rest++;
  if (*rest || extras > max_extra)
    return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: malformed %s ('%s')", name, (long long)line, what, rest);
  if (v->count / want >= 0x7fffffff)
    return eq_error(EQ_ERR_FORMAT, "'%s': too many %s entries", name, what);
  if (!eq_vec_push(v, x, (size_t)want)) return eq_error(EQ_ERR_MEMORY, "'%s': out of memory", name);
  return EQ_OK;
}

eq_status eq_mesh_parse_obj(const void *bytes, size_t n, const char *name, eq_mesh_open_fn open,
                            void *ctx, eq_mesh *out) {
  memset(out, 0, sizeof *out);
  eq_lines lines;
  eq_status st = eq_lines_init(&lines, bytes, n, name);
  if (st) return st;
  obj_state s;
  memset(&s, 0, sizeof s);
  eq_vec_init(&s.pos, sizeof(float));
  eq_vec_init(&s.tex, sizeof(float));
  eq_vec_init(&s.nrm, sizeof(float));
  eq_vec_init(&s.tri_pos, sizeof(int32_t));
  eq_vec_init(&s.tri_tex, sizeof(int32_t));
  eq_vec_init(&s.tri_nrm, sizeof(int32_t));
  eq_vec_init(&s.tri_mat, sizeof(int32_t));
  eq_vec_init(&s.materials, sizeof(eq_material));
  eq_vec_init(&s.textures, sizeof(eq_image));
  eq_vec_init(&s.texture_paths, sizeof(char *));
  s.current_material = -1;
  char *line;
  while (!st && (line = eq_lines_next(&lines, 1))) {
    if (!*line) continue;
    char *rest = line;
    char *kw = eq_next_token(&rest);
    int64_t ln = lines.line;
    if (!strcmp(kw, "v")) {
      st = parse_numbers(&s.pos, rest, 3, 4, "vertex", name, ln); /* w or r g b (+a) may follow */
    } else if (!strcmp(kw, "vt")) {
      st = parse_numbers(&s.tex, rest, 2, 1, "texcoord", name, ln);
    } else if (!strcmp(kw, "vn")) {
      st = parse_numbers(&s.nrm, rest, 3, 0, "normal", name, ln);
    } else if (!strcmp(kw, "f") || !strcmp(kw, "fo")) {
      st = parse_face(&s, rest, name, ln);
    } else if (!strcmp(kw, "usemtl")) {
      while (eq_is_blank(*rest)) rest++;
      s.current_material = find_material(&s, rest);
    } else if (!strcmp(kw, "mtllib")) {
      while (eq_is_blank(*rest)) rest++;
      if (!*rest)
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: mtllib without a file name", name, (long long)ln);
      else if (open)
        st = load_mtllib(&s, rest, open, ctx, name, ln);
    }
  }
  eq_lines_free(&lines);
  if (!st && s.tri_pos.count == 0) st = eq_error(EQ_ERR_FORMAT, "'%s': no faces", name);
  if (st) {
    state_free(&s);
    return st;
  }
  if (!s.any_tex) eq_vec_free(&s.tri_tex);
  if (!s.any_nrm) eq_vec_free(&s.tri_nrm);
  out->num_materials = (int)s.materials.count;
  out->materials = eq_vec_take(&s.materials);
  out->num_textures = (int)s.textures.count;
  out->textures = eq_vec_take(&s.textures);
  char **paths = s.texture_paths.data;
  for (size_t i = 0; i < s.texture_paths.count; i++) free(paths[i]);
  eq_vec_free(&s.texture_paths);
  st = eq_mesh_finish(out, name, &s.pos, NULL, &s.tex, &s.nrm, &s.tri_pos,
                      s.any_tex ? &s.tri_tex : NULL, s.any_nrm ? &s.tri_nrm : NULL, &s.tri_mat);
  state_free(&s);
  return st;
}
