/* Meshes prepared for rendering: recentred, scaled, flattened per corner. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/model.h"

void eq_render_model_free(eq_render_model *m) {
  if (!m) return;
  free(m->pos);
  free(m->tri);
  free(m->nrm);
  free(m->uv);
  free(m->col);
  free(m->tex);
  for (int i = 0; i < m->num_textures; i++) eq_image_free(&m->textures[i]);
  free(m->textures);
  free(m);
}

int64_t eq_render_model_triangles(const eq_render_model *m) { return m->num_triangles; }

static void cross3(const float a[3], const float b[3], float o[3]) {
  o[0] = a[1] * b[2] - a[2] * b[1];
  o[1] = a[2] * b[0] - a[0] * b[2];
  o[2] = a[0] * b[1] - a[1] * b[0];
}

static int normalize3(float v[3]) {
  float n2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
  if (!(n2 > 1e-30f) || !isfinite(n2)) return 0;
  float inv = 1.0f / sqrtf(n2);
  v[0] *= inv, v[1] *= inv, v[2] *= inv;
  return 1;
}

eq_status eq_render_model_new(eq_mesh *mesh, const char *name, eq_render_model **out) {
  *out = NULL;
  eq_status st = eq_mesh_validate(mesh, name);
  if (st) return st;
  int64_t nt = mesh->num_triangles, np = mesh->num_positions;
  if (nt <= 0) return eq_error(EQ_ERR_VALUE, "'%s': mesh has no triangles", name);
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int64_t i = 0; i < nt * 3; i++) {
    const float *p = mesh->positions + 3 * (int64_t)mesh->tri_pos[i];
    for (int c = 0; c < 3; c++) {
      if (p[c] < lo[c]) lo[c] = p[c];
      if (p[c] > hi[c]) hi[c] = p[c];
    }
  }
  double half_diag = 0.5 * sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                                (hi[2] - lo[2]) * (hi[2] - lo[2]));
  if (!(half_diag > 1e-20) || !isfinite(half_diag))
    return eq_error(EQ_ERR_VALUE, "'%s': mesh has zero or infinite extent (bounding box half diagonal %g)", name, half_diag);
  double scale = EQ_RENDER_OBJECT_RADIUS / half_diag;
  eq_render_model *m = calloc(1, sizeof *m);
  if (!m) return eq_error(EQ_ERR_MEMORY, "out of memory");
  m->num_triangles = nt;
  m->num_positions = np;
  m->pos = malloc(sizeof(float) * 3 * (size_t)np);
  m->tri = malloc(sizeof(int32_t) * 3 * (size_t)nt);
  m->nrm = malloc(sizeof(float) * 9 * (size_t)nt);
  m->col = malloc(sizeof(float) * 9 * (size_t)nt);
  m->tex = malloc(sizeof(int32_t) * (size_t)nt);
  float *vn = calloc((size_t)np * 3, sizeof(float)); /* area-weighted vertex normals */
  int any_tex = 0;
  if (!m->pos || !m->tri || !m->nrm || !m->col || !m->tex || !vn) {
    free(vn);
    eq_render_model_free(m);
    return eq_error(EQ_ERR_MEMORY, "'%s': out of memory preparing %lld triangles", name, (long long)nt);
  }
  for (int64_t i = 0; i < np; i++)
    for (int c = 0; c < 3; c++)
      m->pos[3 * i + c] = (float)(((double)mesh->positions[3 * i + c] - 0.5 * (lo[c] + hi[c])) * scale);
  memcpy(m->tri, mesh->tri_pos, sizeof(int32_t) * 3 * (size_t)nt);
  for (int64_t t = 0; t < nt; t++) {
    const float *a = m->pos + 3 * m->tri[3 * t], *b = m->pos + 3 * m->tri[3 * t + 1], *c = m->pos + 3 * m->tri[3 * t + 2];
    float e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]}, fn[3];
    cross3(e1, e2, fn);
    for (int k = 0; k < 3; k++)
      for (int j = 0; j < 3; j++) vn[3 * m->tri[3 * t + k] + j] += fn[j];
  }
  for (int64_t t = 0; t < nt; t++) {
    const int32_t *tp = m->tri + 3 * t;
    const float *a = m->pos + 3 * tp[0], *b = m->pos + 3 * tp[1], *c = m->pos + 3 * tp[2];
    float e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]}, fn[3];
    cross3(e1, e2, fn);
    if (!normalize3(fn)) fn[0] = 0, fn[1] = 0, fn[2] = 1;
    int mat = mesh->tri_mat ? mesh->tri_mat[t] : -1;
    const eq_material *mt = mat >= 0 ? &mesh->materials[mat] : NULL;
    int tex = mt ? mt->texture : -1;
    for (int k = 0; k < 3; k++) {
      float n[3] = {0, 0, 0};
      int ok = 0;
      int32_t ni = mesh->tri_nrm ? mesh->tri_nrm[3 * t + k] : -1;
      if (ni >= 0) {
        memcpy(n, mesh->normals + 3 * (int64_t)ni, sizeof n);
        ok = normalize3(n);
      }
      if (!ok) {
        memcpy(n, vn + 3 * (int64_t)tp[k], sizeof n);
        ok = normalize3(n);
        /* past ~37 degrees from the face (a crease: cube edges) flat looks right */
        if (ok && n[0] * fn[0] + n[1] * fn[1] + n[2] * fn[2] < 0.8f) ok = 0;
      }
      if (!ok) memcpy(n, fn, sizeof n);
      memcpy(m->nrm + 9 * t + 3 * k, n, sizeof n);
      float rgb[3] = {0.7f, 0.7f, 0.7f};
      if (mesh->colors) memcpy(rgb, mesh->colors + 3 * (int64_t)tp[k], sizeof rgb);
      else if (mt) memcpy(rgb, mt->diffuse, sizeof rgb);
      for (int j = 0; j < 3; j++) m->col[9 * t + 3 * k + j] = rgb[j] * rgb[j]; /* display to linear */
      if (!mesh->tri_tex || mesh->tri_tex[3 * t + k] < 0) tex = -1;
    }
    m->tex[t] = tex;
    if (tex >= 0) any_tex = 1;
  }
  free(vn);
  if (any_tex) {
    m->uv = malloc(sizeof(float) * 6 * (size_t)nt);
    if (!m->uv) {
      eq_render_model_free(m);
      return eq_error(EQ_ERR_MEMORY, "'%s': out of memory", name);
    }
    for (int64_t t = 0; t < nt; t++)
      for (int k = 0; k < 3; k++) {
        int32_t ti = mesh->tri_tex ? mesh->tri_tex[3 * t + k] : -1;
        m->uv[6 * t + 2 * k] = ti >= 0 ? mesh->texcoords[2 * (int64_t)ti] : 0.0f;
        m->uv[6 * t + 2 * k + 1] = ti >= 0 ? mesh->texcoords[2 * (int64_t)ti + 1] : 0.0f;
      }
    for (int i = 0; i < mesh->num_textures; i++)
      if (mesh->textures[i].channels != 3 || mesh->textures[i].width <= 0 || mesh->textures[i].height <= 0) {
        eq_render_model_free(m);
        return eq_error(EQ_ERR_VALUE, "'%s': texture %d is not a non-empty RGB image", name, i);
      }
    m->num_textures = mesh->num_textures;
    m->textures = mesh->textures;
    mesh->num_textures = 0;
    mesh->textures = NULL;
    for (int i = 0; i < mesh->num_materials; i++) mesh->materials[i].texture = -1;
  }
  *out = m;
  return EQ_OK;
}
