/* The software rasteriser: one view of a prepared model in the 3DIEBench
 * scene. Pass 1 projects the vertices and z-buffers triangle ids with their
 * screen-space barycentrics; pass 2 shades each sample once (perspective-
 * correct interpolation, Lambert + spot cone + ambient) or, where no triangle
 * covers it, intersects the view ray with the floor plane; pass 3 box-filters
 * the supersamples. Float operations run in a fixed order and no libm call
 * depends on a pixel, so the output is the same on every machine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "render/model.h"

/* Camera: distance 2.5 at spherical (theta, phi) = (pi/4, pi/2), looking at the
 * origin with +z up: eye (0, 2.5 sin(pi/4), 2.5 cos(pi/4)). */
#define SQRT1_2 0.70710678118654752440f
static const float EYE[3] = {0.0f, 2.5f * SQRT1_2, 2.5f * SQRT1_2};
static const float FWD[3] = {0.0f, -SQRT1_2, -SQRT1_2};
static const float RIGHT[3] = {-1.0f, 0.0f, 0.0f};
static const float UP[3] = {0.0f, -SQRT1_2, SQRT1_2};
/* 1 / tan(20 deg): a 40 degree field of view (Blender's default lens is 39.6). */
#define FOCAL 2.7474774194546216f
#define FLOOR_Z (-1.0f)
#define LIGHT_RADIUS 4.0f
#define AMBIENT 0.3f
#define LIGHT_GAIN 1.5f
/* Spot cone: full light inside 25 degrees of its axis, none beyond 35. */
#define SPOT_COS_INNER 0.90630778703664996f
#define SPOT_COS_OUTER 0.81915204428899179f
#define NEAR_Z 0.05f
/* Shadow map: as many texels as image samples, over the object's bounding sphere
 * (radius 0.75 at distance 4: focal = sqrt(4^2 - 0.75^2) / 0.75, less 5 %). */
#define SHADOW_FOCAL 4.98f
#define SHADOW_BIAS 0.02f

static float srgb_to_linear_lut[256];
static int lut_ready = 0; /* benign race: every thread writes the same values */

static void init_lut(void) {
  if (lut_ready) return;
  for (int i = 0; i < 256; i++) {
    float v = (float)i / 255.0f;
    srgb_to_linear_lut[i] = v * v;
  }
  __atomic_store_n(&lut_ready, 1, __ATOMIC_RELEASE);
}

eq_render_options eq_render_default_options(int size) {
  eq_render_options o;
  o.size = size;
  o.supersample = 2;
  o.shadows = 1;
  return o;
}

typedef struct view_setup {
  float rot[9];
  float light_pos[3], spot_dir[3], light_rgb[3], floor_rgb[3];
  float lf[3], lr[3], lu[3]; /* the light's forward, right, up */
} view_setup;

static void light_frame(const view_setup *v, float lf[3], float lr[3], float lu[3]);

static void setup_view(const double quat[4], const eq_render_latents *l, view_setup *v) {
  double m[9];
  eq_render_quat_to_matrix(quat, m);
  for (int i = 0; i < 9; i++) v->rot[i] = (float)m[i];
  double st, ct, sp, cp;
  eq_det_sincos(l->light_theta, &st, &ct);
  eq_det_sincos(l->light_phi, &sp, &cp);
  double dir[3] = {st * cp, st * sp, ct};
  for (int i = 0; i < 3; i++) {
    v->light_pos[i] = (float)(LIGHT_RADIUS * dir[i]);
    v->spot_dir[i] = (float)-dir[i]; /* aimed at the origin */
  }
  float lc[3], fc[3];
  eq_hsv_to_rgb(l->light_hue, 1.0f, 0.8f, lc);
  eq_hsv_to_rgb(l->floor_hue, 0.6f, 0.6f, fc);
  for (int i = 0; i < 3; i++) {
    v->light_rgb[i] = LIGHT_GAIN * lc[i];
    v->floor_rgb[i] = fc[i] * fc[i];
  }
  light_frame(v, v->lf, v->lr, v->lu);
}

/* Z-buffers the model's triangles into an S x S grid of samples at pixel
 * centres. `sv` holds per position (screen x, screen y, 1/z) at `stride`
 * floats apart; 1/z == 0 marks a vertex behind the near plane. With tri_id,
 * also records the nearest triangle and its screen barycentrics. */
static void raster_triangles(const eq_render_model *m, const float *sv, int stride, int S, float *depth,
                             int32_t *tri_id, float *bary) {
  for (int64_t t = 0; t < m->num_triangles; t++) {
    const float *a = sv + stride * m->tri[3 * t], *b = sv + stride * m->tri[3 * t + 1], *c = sv + stride * m->tri[3 * t + 2];
    if (a[2] == 0.0f || b[2] == 0.0f || c[2] == 0.0f) continue; /* behind the near plane */
    float minx = fminf(a[0], fminf(b[0], c[0])), maxx = fmaxf(a[0], fmaxf(b[0], c[0]));
    float miny = fminf(a[1], fminf(b[1], c[1])), maxy = fmaxf(a[1], fmaxf(b[1], c[1]));
    /* samples sit at pixel centres (x + 0.5); clamp before converting to int */
    minx = fmaxf(minx, -1.0f), miny = fmaxf(miny, -1.0f);
    maxx = fminf(maxx, (float)S + 1.0f), maxy = fminf(maxy, (float)S + 1.0f);
    if (!(minx <= maxx) || !(miny <= maxy)) continue;
    int x0 = (int)ceilf(minx - 0.5f), x1 = (int)floorf(maxx - 0.5f);
    int y0 = (int)ceilf(miny - 0.5f), y1 = (int)floorf(maxy - 0.5f);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > S - 1) x1 = S - 1;
    if (y1 > S - 1) y1 = S - 1;
    if (x0 > x1 || y0 > y1) continue; /* covers no sample centre: most triangles of big meshes */
    float area = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]);
    if (!(fabsf(area) > 1e-12f)) continue;
    float inv_area = 1.0f / area;
    for (int y = y0; y <= y1; y++) {
      float py = (float)y + 0.5f;
      for (int x = x0; x <= x1; x++) {
        float px = (float)x + 0.5f;
        float w0 = ((b[0] - px) * (c[1] - py) - (c[0] - px) * (b[1] - py)) * inv_area;
        float w1 = ((c[0] - px) * (a[1] - py) - (a[0] - px) * (c[1] - py)) * inv_area;
        float w2 = 1.0f - w0 - w1;
        if (w0 < 0 || w1 < 0 || w2 < 0) continue;
        float iz = w0 * a[2] + w1 * b[2] + w2 * c[2];
        size_t k = (size_t)y * S + x;
        if (iz > depth[k]) {
          depth[k] = iz;
          if (tri_id) {
            tri_id[k] = (int32_t)t;
            bary[2 * k] = w1;
            bary[2 * k + 1] = w2;
          }
        }
      }
    }
  }
}

/* Shadow map: the object's depth (as 1/z) seen from the spot light, in a
 * frustum that just holds the object's bounding sphere. */
static void light_frame(const view_setup *v, float lf[3], float lr[3], float lu[3]) {
  for (int i = 0; i < 3; i++) lf[i] = v->spot_dir[i];
  float up[3] = {0.0f, 0.0f, 1.0f};
  if (fabsf(lf[2]) > 0.99f) up[1] = 1.0f, up[2] = 0.0f; /* light straight above */
  lr[0] = lf[1] * up[2] - lf[2] * up[1];
  lr[1] = lf[2] * up[0] - lf[0] * up[2];
  lr[2] = lf[0] * up[1] - lf[1] * up[0];
  float n = 1.0f / sqrtf(lr[0] * lr[0] + lr[1] * lr[1] + lr[2] * lr[2]);
  lr[0] *= n, lr[1] *= n, lr[2] *= n;
  lu[0] = lr[1] * lf[2] - lr[2] * lf[1];
  lu[1] = lr[2] * lf[0] - lr[0] * lf[2];
  lu[2] = lr[0] * lf[1] - lr[1] * lf[0];
}

/* Light-space (x, y, 1/z) of a world point, x and y in shadow-map texels. */
static void to_light(const view_setup *v, int M, const float p[3], float out[3]) {
  float d[3] = {p[0] - v->light_pos[0], p[1] - v->light_pos[1], p[2] - v->light_pos[2]};
  float x = d[0] * v->lr[0] + d[1] * v->lr[1] + d[2] * v->lr[2];
  float y = d[0] * v->lu[0] + d[1] * v->lu[1] + d[2] * v->lu[2];
  float z = d[0] * v->lf[0] + d[1] * v->lf[1] + d[2] * v->lf[2];
  float iz = z > NEAR_Z ? 1.0f / z : 0.0f;
  const float half = 0.5f * (float)M;
  out[0] = half + half * SHADOW_FOCAL * x * iz;
  out[1] = half - half * SHADOW_FOCAL * y * iz;
  out[2] = iz;
}

/* `lv` receives 3 floats per position. */
static void shadow_map(const eq_render_model *m, const view_setup *v, int M, const float *vert, float *lv, float *smap) {
  for (int64_t i = 0; i < m->num_positions; i++) to_light(v, M, vert + 6 * i, lv + 3 * i);
  for (size_t i = 0; i < (size_t)M * M; i++) smap[i] = 0.0f;
  raster_triangles(m, lv, 3, M, smap, NULL, NULL);
}

/* Fraction of the spot light reaching p: 2 x 2 depth comparisons,
 * bilinearly weighted, with a bias growing at grazing angles. */
typedef struct shadow {
  const float *map;
  int size;
} shadow;

static float visibility(const view_setup *v, const shadow *sh, const float p[3], float ndotl) {
  const int M = sh->size;
  const float *smap = sh->map;
  float l[3];
  to_light(v, M, p, l);
  if (l[2] == 0.0f) return 1.0f;
  float z = 1.0f / l[2];
  float bias = SHADOW_BIAS * (2.0f - ndotl);
  float x = l[0] - 0.5f, y = l[1] - 0.5f;
  float fx0 = floorf(x), fy0 = floorf(y);
  if (!(fx0 >= -1.0f && fx0 < (float)M && fy0 >= -1.0f && fy0 < (float)M)) return 1.0f;
  float fx = x - fx0, fy = y - fy0;
  int x0 = (int)fx0, y0 = (int)fy0;
  float lit[4];
  for (int k = 0; k < 4; k++) {
    int xx = x0 + (k & 1), yy = y0 + (k >> 1);
    float occ = (xx >= 0 && yy >= 0 && xx < M && yy < M) ? smap[(size_t)yy * M + xx] : 0.0f;
    lit[k] = (occ > 0.0f && 1.0f / occ + bias < z) ? 0.0f : 1.0f;
  }
  return (lit[0] * (1.0f - fx) + lit[1] * fx) * (1.0f - fy) + (lit[2] * (1.0f - fx) + lit[3] * fx) * fy;
}

static void sample_texture(const eq_image *t, float u, float v, float rgb[3]) {
  float x = (u - floorf(u)) * (float)t->width - 0.5f;
  float vv = 1.0f - v; /* OBJ: v = 0 is the bottom row */
  float y = (vv - floorf(vv)) * (float)t->height - 0.5f;
  float fx0 = floorf(x), fy0 = floorf(y);
  float fx = x - fx0, fy = y - fy0;
  int x0 = (int)fx0, y0 = (int)fy0;
  int x1 = x0 + 1, y1 = y0 + 1;
  int w = t->width, h = t->height;
  x0 = ((x0 % w) + w) % w, x1 = ((x1 % w) + w) % w;
  y0 = ((y0 % h) + h) % h, y1 = ((y1 % h) + h) % h;
  const uint8_t *p00 = t->pixels + 3 * ((size_t)y0 * w + x0), *p01 = t->pixels + 3 * ((size_t)y0 * w + x1);
  const uint8_t *p10 = t->pixels + 3 * ((size_t)y1 * w + x0), *p11 = t->pixels + 3 * ((size_t)y1 * w + x1);
  for (int c = 0; c < 3; c++) {
    float top = srgb_to_linear_lut[p00[c]] * (1.0f - fx) + srgb_to_linear_lut[p01[c]] * fx;
    float bot = srgb_to_linear_lut[p10[c]] * (1.0f - fx) + srgb_to_linear_lut[p11[c]] * fx;
    rgb[c] = top * (1.0f - fy) + bot * fy;
  }
}

/* Lambert from the spot light inside its cone, plus white ambient. */
static void shade(const view_setup *v, const shadow *sh, const float p[3], const float n[3], const float albedo[3],
                  float out[3]) {
  float L[3] = {v->light_pos[0] - p[0], v->light_pos[1] - p[1], v->light_pos[2] - p[2]};
  float d2 = L[0] * L[0] + L[1] * L[1] + L[2] * L[2];
  float inv = d2 > 0 ? 1.0f / sqrtf(d2) : 0.0f;
  L[0] *= inv, L[1] *= inv, L[2] *= inv;
  float ndotl = n[0] * L[0] + n[1] * L[1] + n[2] * L[2];
  if (ndotl < 0) ndotl = 0;
  float cosang = -(L[0] * v->spot_dir[0] + L[1] * v->spot_dir[1] + L[2] * v->spot_dir[2]);
  float s = (cosang - SPOT_COS_OUTER) / (SPOT_COS_INNER - SPOT_COS_OUTER);
  s = s < 0 ? 0 : s > 1 ? 1 : s;
  s = s * s * (3.0f - 2.0f * s);
  float k = s * ndotl;
  if (sh && k > 0.0f) k *= visibility(v, sh, p, ndotl);
  for (int c = 0; c < 3; c++) out[c] = albedo[c] * (AMBIENT + v->light_rgb[c] * k);
}

eq_status eq_render_view_quat(const eq_render_model *m, const double quat[4], const eq_render_latents *l,
                              const eq_render_options *o, eq_image *out) {
  memset(out, 0, sizeof *out);
  if (!m || !quat || !l || !o) return eq_error(EQ_ERR_VALUE, "eq_render_view: NULL argument");
  if (o->size < 8 || o->size > 4096 || o->supersample < 1 || o->supersample > 4)
    return eq_error(EQ_ERR_VALUE, "eq_render_view: size %d (want 8..4096) or supersample %d (want 1..4) out of range",
                    o->size, o->supersample);
  double qn = quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] + quat[3] * quat[3];
  if (!(qn > 1e-12) || !isfinite(qn)) return eq_error(EQ_ERR_VALUE, "eq_render_view: rotation quaternion has norm^2 %g", qn);
  for (int i = 0; i < 7; i++) {
    float x = i < 3 ? l->rotation[i] : i == 3 ? l->floor_hue : i == 4 ? l->light_theta : i == 5 ? l->light_phi : l->light_hue;
    if (!isfinite(x) || fabsf(x) > 1e4f) return eq_error(EQ_ERR_VALUE, "eq_render_view: latent %d is %g", i, x);
  }
  init_lut();
  view_setup v;
  setup_view(quat, l, &v);
  const int S = o->size * o->supersample;
  const size_t ns = (size_t)S * S;
  float *vert = malloc(sizeof(float) * 6 * (size_t)m->num_positions); /* world xyz, screen x y, 1/z */
  int32_t *tri_id = malloc(sizeof(int32_t) * ns);
  float *bary = malloc(sizeof(float) * 2 * ns);
  float *depth = malloc(sizeof(float) * ns);
  float *lin = malloc(sizeof(float) * 3 * ns);
  float *smap = NULL, *lvert = NULL;
  eq_status st = EQ_OK;
  if (!vert || !tri_id || !bary || !depth || !lin) {
    st = eq_error(EQ_ERR_MEMORY, "eq_render_view: out of memory for a %dx%d render", S, S);
    goto done;
  }
  /* Pass 0: vertices to world and screen. */
  const float half = 0.5f * (float)S;
  for (int64_t i = 0; i < m->num_positions; i++) {
    const float *p = m->pos + 3 * i;
    float *w = vert + 6 * i;
    for (int r = 0; r < 3; r++) w[r] = v.rot[3 * r] * p[0] + v.rot[3 * r + 1] * p[1] + v.rot[3 * r + 2] * p[2];
    float d[3] = {w[0] - EYE[0], w[1] - EYE[1], w[2] - EYE[2]};
    float xc = d[0] * RIGHT[0] + d[1] * RIGHT[1] + d[2] * RIGHT[2];
    float yc = d[0] * UP[0] + d[1] * UP[1] + d[2] * UP[2];
    float zc = d[0] * FWD[0] + d[1] * FWD[1] + d[2] * FWD[2];
    float iz = zc > NEAR_Z ? 1.0f / zc : 0.0f;
    w[3] = half + half * FOCAL * xc * iz;
    w[4] = half - half * FOCAL * yc * iz;
    w[5] = iz;
  }
  for (size_t i = 0; i < ns; i++) {
    tri_id[i] = -1;
    depth[i] = 0.0f;
  }
  /* Pass 1: z-buffer of triangle ids (larger 1/z is nearer). */
  raster_triangles(m, vert + 3, 6, S, depth, tri_id, bary);
  shadow sh = {NULL, S};
  if (o->shadows) {
    smap = malloc(sizeof(float) * (size_t)sh.size * sh.size);
    lvert = malloc(sizeof(float) * 3 * (size_t)m->num_positions);
    if (!smap || !lvert) {
      st = eq_error(EQ_ERR_MEMORY, "eq_render_view: out of memory for the shadow map");
      goto done;
    }
    shadow_map(m, &v, sh.size, vert, lvert, smap);
    sh.map = smap;
  }
  /* Pass 2: shade every sample once. */
  for (int y = 0; y < S; y++) {
    for (int x = 0; x < S; x++) {
      size_t k = (size_t)y * S + x;
      float *px = lin + 3 * k;
      int32_t t = tri_id[k];
      if (t >= 0) {
        const int32_t *tp = m->tri + 3 * t;
        const float *va = vert + 6 * tp[0], *vb = vert + 6 * tp[1], *vc = vert + 6 * tp[2];
        float s1 = bary[2 * k], s2 = bary[2 * k + 1], s0 = 1.0f - s1 - s2;
        /* perspective-correct weights */
        float p0 = s0 * va[5], p1 = s1 * vb[5], p2 = s2 * vc[5];
        float inv = 1.0f / (p0 + p1 + p2);
        p0 *= inv, p1 *= inv, p2 *= inv;
        float P[3], nm[3], n[3], albedo[3];
        for (int c = 0; c < 3; c++) P[c] = p0 * va[c] + p1 * vb[c] + p2 * vc[c];
        const float *cn = m->nrm + 9 * t;
        for (int c = 0; c < 3; c++) nm[c] = p0 * cn[c] + p1 * cn[3 + c] + p2 * cn[6 + c];
        for (int r = 0; r < 3; r++) n[r] = v.rot[3 * r] * nm[0] + v.rot[3 * r + 1] * nm[1] + v.rot[3 * r + 2] * nm[2];
        float nn = n[0] * n[0] + n[1] * n[1] + n[2] * n[2];
        float ninv = nn > 0 ? 1.0f / sqrtf(nn) : 0.0f;
        n[0] *= ninv, n[1] *= ninv, n[2] *= ninv;
        /* two-sided: many furniture models mix windings */
        float vd = (EYE[0] - P[0]) * n[0] + (EYE[1] - P[1]) * n[1] + (EYE[2] - P[2]) * n[2];
        if (vd < 0) n[0] = -n[0], n[1] = -n[1], n[2] = -n[2];
        int tex = m->tex[t];
        if (tex >= 0) {
          const float *uv = m->uv + 6 * t;
          float u = p0 * uv[0] + p1 * uv[2] + p2 * uv[4];
          float vv = p0 * uv[1] + p1 * uv[3] + p2 * uv[5];
          sample_texture(&m->textures[tex], u, vv, albedo);
        } else {
          const float *cc = m->col + 9 * t;
          for (int c = 0; c < 3; c++) albedo[c] = p0 * cc[c] + p1 * cc[3 + c] + p2 * cc[6 + c];
        }
        shade(&v, o->shadows ? &sh : NULL, P, n, albedo, px);
      } else {
        float sx = ((float)x + 0.5f - half) / (half * FOCAL);
        float sy = (half - ((float)y + 0.5f)) / (half * FOCAL);
        float D[3];
        for (int c = 0; c < 3; c++) D[c] = FWD[c] + sx * RIGHT[c] + sy * UP[c];
        if (D[2] >= -1e-6f) {
          px[0] = px[1] = px[2] = 0.0f; /* above the horizon (not in the default view) */
          continue;
        }
        float tt = (FLOOR_Z - EYE[2]) / D[2];
        float P[3] = {EYE[0] + tt * D[0], EYE[1] + tt * D[1], FLOOR_Z};
        static const float up[3] = {0.0f, 0.0f, 1.0f};
        shade(&v, o->shadows ? &sh : NULL, P, up, v.floor_rgb, px);
      }
    }
  }
  /* Pass 3: box filter, back to display values (gamma 2), 8 bits. */
  st = eq_image_alloc(out, o->size, o->size, 3);
  if (st) goto done;
  const int ss = o->supersample;
  const float norm = 1.0f / (float)(ss * ss);
  for (int y = 0; y < o->size; y++)
    for (int x = 0; x < o->size; x++)
      for (int c = 0; c < 3; c++) {
        float acc = 0.0f;
        for (int dy = 0; dy < ss; dy++)
          for (int dx = 0; dx < ss; dx++) {
            float s = lin[3 * ((size_t)(y * ss + dy) * S + (x * ss + dx)) + c];
            acc += s < 0 ? 0 : s > 1 ? 1 : s;
          }
        float d = sqrtf(acc * norm) * 255.0f + 0.5f;
        out->pixels[3 * ((size_t)y * o->size + x) + c] = (uint8_t)(d > 255.0f ? 255.0f : d);
      }
done:
  free(smap);
  free(lvert);
  free(vert);
  free(tri_id);
  free(bary);
  free(depth);
  free(lin);
  return st;
}

eq_status eq_render_view(const eq_render_model *m, const eq_render_latents *l, const eq_render_options *o,
                         eq_image *out) {
  if (!l) return eq_error(EQ_ERR_VALUE, "eq_render_view: NULL latents");
  double q[4];
  eq_euler_xyz_to_quat(l->rotation, q);
  return eq_render_view_quat(m, q, l, o, out);
}
