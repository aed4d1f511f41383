/* ITR's extra transformation g_theta on the second view, its sampler and
 * its fractions (methods.md section 4). */
#include "equivar/transforms.h"

#include "data/tf_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  unsigned bits;
} kind_names[] = {{"rotation", EQ_G_ROTATE}, {"rot", EQ_G_ROTATE},     {"translation", EQ_G_TRANSLATE},
                  {"trans", EQ_G_TRANSLATE}, {"se2", EQ_G_SE2},         {"scale", EQ_G_SCALE},
                  {"color", EQ_G_JITTER},    {"colour", EQ_G_JITTER},   {"jitter", EQ_G_JITTER},
                  {"blur", EQ_G_BLUR},       {"all", EQ_G_ALL},         {"none", 0}};

eq_status eq_g_kinds_parse(const char *name, unsigned *kinds) {
  *kinds = 0;
  const char *p = name;
  while (*p) {
    size_t len = strcspn(p, "+");
    int found = 0;
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
      if (strlen(kind_names[i].name) == len && !strncmp(p, kind_names[i].name, len)) {
        *kinds |= kind_names[i].bits;
        found = 1;
      }
    }
    if (!found)
      return eq_error(EQ_ERR_VALUE, "transformation '%s': unknown kind '%.*s' (rotation, translation, se2, scale, "
                      "color, blur, all; join with '+')", name, (int)len, p);
    p += len;
    if (*p == '+') p++;
  }
  return EQ_OK;
}

void eq_g_config_default(eq_g_config *cfg, unsigned kinds) {
  memset(cfg, 0, sizeof *cfg);
  cfg->kinds = kinds;
  cfg->max_angle = 45.0f;
  cfg->max_shift = 10.0f;
  cfg->scale_range[0] = 0.75f;
  cfg->scale_range[1] = 1.25f;
  cfg->jitter[0] = cfg->jitter[1] = cfg->jitter[2] = 0.4f;
  cfg->jitter[3] = 0.1f;
  cfg->blur_sigma[0] = 0.1f;
  cfg->blur_sigma[1] = 2.0f;
}

eq_status eq_g_config_from_json(const eq_json *obj, eq_g_config *cfg) {
  if (!obj || obj->type != EQ_JSON_OBJECT) return eq_error(EQ_ERR_VALUE, "transformation config: expected an object");
  static const char *const allowed[] = {"kind", "max_angle", "max_shift", "scale", "jitter", "blur_sigma", "blur_kernel", NULL};
  eq_status st = eq_json_check_keys(obj, "transformation config", allowed);
  if (st) return st;
  const char *kind;
  st = eq_json_string_or(obj, "kind", "rotation", &kind);
  unsigned kinds;
  if (st || (st = eq_g_kinds_parse(kind, &kinds))) return st;
  eq_g_config_default(cfg, kinds);
  double v[4];
  if ((st = eq_json_number_or(obj, "max_angle", cfg->max_angle, v))) return st;
  cfg->max_angle = (float)v[0];
  if ((st = eq_json_number_or(obj, "max_shift", cfg->max_shift, v))) return st;
  cfg->max_shift = (float)v[0];
  v[0] = cfg->scale_range[0], v[1] = cfg->scale_range[1];
  if ((st = eq_json_numbers(obj, "scale", 2, v))) return st;
  cfg->scale_range[0] = (float)v[0], cfg->scale_range[1] = (float)v[1];
  for (int i = 0; i < 4; i++) v[i] = cfg->jitter[i];
  if ((st = eq_json_numbers(obj, "jitter", 4, v))) return st;
  for (int i = 0; i < 4; i++) cfg->jitter[i] = (float)v[i];
  v[0] = cfg->blur_sigma[0], v[1] = cfg->blur_sigma[1];
  if ((st = eq_json_numbers(obj, "blur_sigma", 2, v))) return st;
  cfg->blur_sigma[0] = (float)v[0], cfg->blur_sigma[1] = (float)v[1];
  long long k;
  if ((st = eq_json_int_or(obj, "blur_kernel", 0, &k))) return st;
  cfg->blur_kernel = (int)k;
  if (!(cfg->max_angle >= 0 && cfg->max_angle <= 180 && cfg->max_shift >= 0 && cfg->scale_range[0] > 0 &&
        cfg->scale_range[0] <= cfg->scale_range[1] && cfg->jitter[3] <= 0.5f && cfg->blur_sigma[0] > 0 &&
        cfg->blur_sigma[0] <= cfg->blur_sigma[1] && k >= 0 && (k == 0 || k % 2 == 1)))
    return eq_error(EQ_ERR_VALUE, "transformation config: a range is invalid (angle %g, shift %g, scale [%g, %g], "
                    "hue %g, blur sigma [%g, %g], kernel %lld)", cfg->max_angle, cfg->max_shift, cfg->scale_range[0],
                    cfg->scale_range[1], cfg->jitter[3], cfg->blur_sigma[0], cfg->blur_sigma[1], k);
  return EQ_OK;
}

static float unif(eq_philox *rng, float lo, float hi) { return (float)eq_philox_uniform_range(rng, lo, hi); }

void eq_g_sample(const eq_g_config *cfg, int out_size, eq_philox *rng, eq_g_params *p) {
  memset(p, 0, sizeof *p);
  p->kinds = cfg->kinds;
  p->scale = 1.0f;
  if (cfg->kinds & EQ_G_ROTATE) p->angle = unif(rng, -cfg->max_angle, cfg->max_angle);
  if (cfg->kinds & EQ_G_TRANSLATE) {
    float m = cfg->max_shift * (float)out_size / 224.0f;
    p->tx = unif(rng, -m, m);
    p->ty = unif(rng, -m, m);
  }
  if (cfg->kinds & EQ_G_SCALE) p->scale = unif(rng, cfg->scale_range[0], cfg->scale_range[1]);
  if (cfg->kinds & EQ_G_JITTER) {
    p->brightness = unif(rng, -cfg->jitter[0], cfg->jitter[0]);
    p->contrast = unif(rng, -cfg->jitter[1], cfg->jitter[1]);
    p->saturation = unif(rng, -cfg->jitter[2], cfg->jitter[2]);
    p->hue = unif(rng, -cfg->jitter[3], cfg->jitter[3]);
  }
  if (cfg->kinds & EQ_G_BLUR) p->blur_sigma = unif(rng, cfg->blur_sigma[0], cfg->blur_sigma[1]);
}

eq_g_params eq_g_params_at(const eq_g_params *p, float t) {
  eq_g_params q = *p;
  q.angle = t * p->angle;
  q.tx = t * p->tx;
  q.ty = t * p->ty;
  q.scale = 1.0f + t * (p->scale - 1.0f);
  q.brightness = t * p->brightness;
  q.contrast = t * p->contrast;
  q.saturation = t * p->saturation;
  q.hue = t * p->hue;
  q.blur_sigma = t * p->blur_sigma;
  return q;
}

eq_status eq_g_apply(const eq_g_params *p, const float *u, int height, int width, int blur_kernel, const float *mean,
                     const float *std, float *dst, eq_tf_workspace *ws) {
  size_t n = (size_t)height * width;
  int warp = p->angle != 0 || p->tx != 0 || p->ty != 0 || p->scale != 1.0f;
  if (!(p->scale > 0)) return eq_error(EQ_ERR_VALUE, "eq_g_apply: scale %g", p->scale);
  float *work = warp ? eq_tf_scratch(ws, 0, 3 * n) : dst;
  if (!work) return eq_error(EQ_ERR_MEMORY, "eq_g_apply: out of memory");
  memcpy(work, u, 3 * n * sizeof(float));
  static const uint8_t order[4] = {0, 1, 2, 3};
  eq_tf_jitter(work, n, order, p->brightness, p->contrast, p->saturation, p->hue);
  if (p->blur_sigma > 0) {
    int k = blur_kernel ? blur_kernel : eq_tf_blur_kernel_size(width < height ? width : height);
    eq_status st = eq_tf_gaussian_blur(work, 3, height, width, k, p->blur_sigma, ws);
    if (st) return st;
  }
  if (mean && std) eq_tf_normalize(work, 3, n, mean, std);
  if (warp) eq_tf_affine(work, 3, height, width, p->angle, p->tx, p->ty, p->scale, 0.0f, dst);
  return EQ_OK;
}

eq_status eq_tf_write_png(const char *path, const float *img, int channels, int height, int width, const float *mean,
                          const float *std) {
  size_t n = (size_t)height * width;
  float *tmp = malloc(n * channels * sizeof(float));
  if (!tmp) return eq_error(EQ_ERR_MEMORY, "eq_tf_write_png('%s'): out of memory", path);
  for (int c = 0; c < channels; c++)
    for (size_t i = 0; i < n; i++)
      tmp[c * n + i] = mean && std ? img[c * n + i] * std[c] + mean[c] : img[c * n + i];
  eq_image out;
  eq_status st = eq_tf_float_to_u8(tmp, channels, height, width, &out);
  free(tmp);
  if (st) return st;
  st = eq_image_write_png(path, &out);
  eq_image_free(&out);
  return st;
}
