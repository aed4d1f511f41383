/* Mesh lifetime, validation, transforms and loading by file extension. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "equivar/fileio.h"
#include "render/render_internal.h"

void eq_mesh_free(eq_mesh *m) {
  if (!m) return;
  free(m->positions);
  free(m->colors);
  free(m->texcoords);
  free(m->normals);
  free(m->tri_pos);
  free(m->tri_tex);
  free(m->tri_nrm);
  free(m->tri_mat);
  free(m->materials);
  for (int i = 0; i < m->num_textures; i++) eq_image_free(&m->textures[i]);
  free(m->textures);
  memset(m, 0, sizeof *m);
}

static eq_status check_indices(const int32_t *idx, int64_t n, int64_t limit, int allow_none,
                               const char *what, const char *name) {
  if (!idx) return EQ_OK;
  for (int64_t i = 0; i < n; i++) {
    int32_t v = idx[i];
    if (v == -1 && allow_none) continue;
    if (v < 0 || v >= limit)
      return eq_error(EQ_ERR_FORMAT, "'%s': triangle %lld refers to %s %d of %lld", name,
                      (long long)(i / 3), what, (int)v, (long long)limit);
  }
  return EQ_OK;
}

static eq_status check_finite(const float *v, int64_t n, const char *what, const char *name) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(v[i]))
      return eq_error(EQ_ERR_FORMAT, "'%s': %s value %lld is not finite", name, what, (long long)i);
  return EQ_OK;
}

eq_status eq_mesh_validate(const eq_mesh *m, const char *name) {
  eq_status st;
  if (m->num_positions < 0 || m->num_triangles < 0 || m->num_texcoords < 0 || m->num_normals < 0)
    return eq_error(EQ_ERR_VALUE, "'%s': negative counts in mesh", name);
  if ((st = check_finite(m->positions, m->num_positions * 3, "position", name))) return st;
  if ((st = check_finite(m->texcoords, m->texcoords ? m->num_texcoords * 2 : 0, "texcoord", name))) return st;
  if ((st = check_finite(m->normals, m->normals ? m->num_normals * 3 : 0, "normal", name))) return st;
  if ((st = check_indices(m->tri_pos, m->num_triangles * 3, m->num_positions, 0, "position", name))) return st;
  if ((st = check_indices(m->tri_tex, m->num_triangles * 3, m->num_texcoords, 1, "texcoord", name))) return st;
  if ((st = check_indices(m->tri_nrm, m->num_triangles * 3, m->num_normals, 1, "normal", name))) return st;
  if ((st = check_indices(m->tri_mat, m->num_triangles, m->num_materials, 1, "material", name))) return st;
  for (int i = 0; i < m->num_materials; i++)
    if (m->materials[i].texture < -1 || m->materials[i].texture >= m->num_textures)
      return eq_error(EQ_ERR_FORMAT, "'%s': material %d refers to texture %d of %d", name, i,
                      m->materials[i].texture, m->num_textures);
  return EQ_OK;
}

eq_status eq_mesh_finish(eq_mesh *out, const char *name, eq_vec *pos, eq_vec *col, eq_vec *tex,
                         eq_vec *nrm, eq_vec *tri_pos, eq_vec *tri_tex, eq_vec *tri_nrm,
                         eq_vec *tri_mat) {
  out->num_positions = (int64_t)(pos->count / 3);
  out->positions = eq_vec_take(pos);
  if (col) out->colors = eq_vec_take(col);
  if (tex) {
    out->num_texcoords = (int64_t)(tex->count / 2);
    out->texcoords = eq_vec_take(tex);
  }
  if (nrm) {
    out->num_normals = (int64_t)(nrm->count / 3);
    out->normals = eq_vec_take(nrm);
  }
  out->num_triangles = (int64_t)(tri_pos->count / 3);
  out->tri_pos = eq_vec_take(tri_pos);
  if (tri_tex) out->tri_tex = eq_vec_take(tri_tex);
  if (tri_nrm) out->tri_nrm = eq_vec_take(tri_nrm);
  if (tri_mat) out->tri_mat = eq_vec_take(tri_mat);
  eq_status st = eq_mesh_validate(out, name);
  if (st) eq_mesh_free(out);
  return st;
}

void eq_mesh_transform(eq_mesh *m, const float r[9]) {
  float *arrays[2] = {m->positions, m->normals};
  int64_t counts[2] = {m->num_positions, m->normals ? m->num_normals : 0};
  for (int a = 0; a < 2; a++) {
    float *v = arrays[a];
    for (int64_t i = 0; i < counts[a]; i++, v += 3) {
      float x = v[0], y = v[1], z = v[2];
      v[0] = r[0] * x + r[1] * y + r[2] * z;
      v[1] = r[3] * x + r[4] * y + r[5] * z;
      v[2] = r[6] * x + r[7] * y + r[8] * z;
    }
  }
}

static eq_status open_from_disk(void *ctx, const char *path, void **bytes, size_t *size) {
  const char *base = ctx;
  char *full = eq_path_join_relative(base, path);
  if (!full) return eq_error(EQ_ERR_MEMORY, "out of memory");
  eq_status st = eq_read_file(full, bytes, size);
  free(full);
  return st;
}

static int has_ext(const char *path, const char *ext) {
  size_t n = strlen(path), e = strlen(ext);
  return n > e && !strcasecmp(path + n - e, ext);
}

eq_status eq_mesh_load(const char *path, eq_mesh *out) {
  memset(out, 0, sizeof *out);
  int kind = has_ext(path, ".obj") ? 0 : has_ext(path, ".off") ? 1 : has_ext(path, ".ply") ? 2
           : has_ext(path, ".stl") ? 3 : -1;
  if (kind < 0)
    return eq_error(EQ_ERR_UNSUPPORTED, "eq_mesh_load('%s'): unknown mesh extension (want .obj, .off, .ply or .stl)", path);
  void *bytes = NULL;
  size_t n = 0;
  eq_status st = eq_read_file(path, &bytes, &n);
  if (st) return st;
  switch (kind) {
    case 0: st = eq_mesh_parse_obj(bytes, n, path, open_from_disk, (void *)path, out); break;
    case 1: st = eq_mesh_parse_off(bytes, n, path, out); break;
    case 2: st = eq_mesh_parse_ply(bytes, n, path, out); break;
    default: st = eq_mesh_parse_stl(bytes, n, path, out); break;
  }
  free(bytes);
  return st;
}
