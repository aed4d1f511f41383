/* The base augmentation A(I): configuration (defaults, presets, JSON),
 * parameter sampling, parameters at a fraction t, and application. */
#include "equivar/transforms.h"

#include "data/tf_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
/* benchmarks.md section 1 */
static const float ie_mean[3] = {0.5016f, 0.5037f, 0.5060f};
static const float ie_std[3] = {0.1030f, 0.0999f, 0.0969f};

void eq_aug_config_default(eq_aug_config *cfg, int size) {
  memset(cfg, 0, sizeof *cfg);
  cfg->out_h = cfg->out_w = size;
  cfg->crop = 1;
  cfg->crop_scale[0] = 0.08f;
  cfg->crop_scale[1] = 1.0f;
  cfg->crop_ratio[0] = 3.0f / 4.0f;
  cfg->crop_ratio[1] = 4.0f / 3.0f;
  cfg->blur_sigma[0] = 0.1f;
  cfg->blur_sigma[1] = 2.0f;
  cfg->solarize_threshold = 0.5f;
  for (int c = 0; c < 3; c++) {
    cfg->mean[c] = 0.0f;
    cfg->std[c] = 1.0f;
  }
}

static void set_norm(eq_aug_config *cfg, const float *mean, const float *std) {
  cfg->normalize = 1;
  memcpy(cfg->mean, mean, sizeof cfg->mean);
  memcpy(cfg->std, std, sizeof cfg->std);
}

eq_status eq_aug_preset(const char *name, int size, int view, eq_aug_config *cfg) {
  if (size <= 0 || size > 8192) return eq_error(EQ_ERR_VALUE, "eq_aug_preset: size %d", size);
  eq_aug_config_default(cfg, size);
  if (!strcmp(name, "vicreg") || !strcmp(name, "barlow")) {
    cfg->flip_p = 0.5f;
    cfg->jitter_p = 0.8f;
    cfg->brightness = 0.4f;
    cfg->contrast = 0.4f;
    cfg->saturation = 0.2f;
    cfg->hue = 0.1f;
    cfg->grayscale_p = 0.2f;
    cfg->blur_p = view == 0 ? 1.0f : 0.1f;
    cfg->solarize_p = view == 0 ? 0.0f : 0.2f;
    set_norm(cfg, imagenet_mean, imagenet_std);
  } else if (!strcmp(name, "simclr")) {
    cfg->flip_p = 0.5f;
    cfg->jitter_p = 0.8f;
    cfg->brightness = cfg->contrast = cfg->saturation = 0.8f;
    cfg->hue = 0.2f;
    cfg->grayscale_p = 0.2f;
    cfg->blur_p = 0.5f;
    set_norm(cfg, imagenet_mean, imagenet_std);
  } else if (!strcmp(name, "3diebench")) {
    cfg->crop = 0;
    set_norm(cfg, ie_mean, ie_std);
  } else if (!strcmp(name, "eval")) {
    cfg->crop = 0;
    set_norm(cfg, imagenet_mean, imagenet_std);
  } else if (!strcmp(name, "none")) {
    cfg->crop = 0;
  } else {
    return eq_error(EQ_ERR_VALUE, "unknown augmentation preset '%s' (vicreg, barlow, simclr, 3diebench, eval, none)",
                    name);
  }
  return EQ_OK;
}

eq_status eq_aug_config_check(const eq_aug_config *c) {
  if (c->out_h <= 0 || c->out_w <= 0 || c->out_h > 8192 || c->out_w > 8192)
    return eq_error(EQ_ERR_VALUE, "augmentation: output size %dx%d", c->out_w, c->out_h);
  if (!(c->crop_scale[0] > 0 && c->crop_scale[0] <= c->crop_scale[1] && c->crop_scale[1] <= 1))
    return eq_error(EQ_ERR_VALUE, "augmentation: crop scale [%g, %g] (need 0 < lo <= hi <= 1)", c->crop_scale[0],
                    c->crop_scale[1]);
  if (!(c->crop_ratio[0] > 0 && c->crop_ratio[0] <= c->crop_ratio[1]))
    return eq_error(EQ_ERR_VALUE, "augmentation: crop ratio [%g, %g]", c->crop_ratio[0], c->crop_ratio[1]);
  const float ps[] = {c->flip_p, c->jitter_p, c->grayscale_p, c->blur_p, c->solarize_p};
  for (int i = 0; i < 5; i++)
    if (!(ps[i] >= 0 && ps[i] <= 1)) return eq_error(EQ_ERR_VALUE, "augmentation: probability %g not in [0, 1]", ps[i]);
  if (!(c->brightness >= 0 && c->contrast >= 0 && c->saturation >= 0 && c->hue >= 0 && c->hue <= 0.5f))
    return eq_error(EQ_ERR_VALUE, "augmentation: jitter %g/%g/%g/%g (non-negative, hue <= 0.5)", c->brightness,
                    c->contrast, c->saturation, c->hue);
  if (!(c->blur_sigma[0] > 0 && c->blur_sigma[0] <= c->blur_sigma[1]))
    return eq_error(EQ_ERR_VALUE, "augmentation: blur sigma [%g, %g]", c->blur_sigma[0], c->blur_sigma[1]);
  if (c->blur_kernel < 0 || c->blur_kernel > 255 || (c->blur_kernel && c->blur_kernel % 2 == 0))
    return eq_error(EQ_ERR_VALUE, "augmentation: blur kernel %d (odd, or 0 for the size rule)", c->blur_kernel);
  for (int i = 0; i < 3; i++)
    if (!(c->std[i] > 0)) return eq_error(EQ_ERR_VALUE, "augmentation: std[%d] = %g", i, c->std[i]);
  return EQ_OK;
}

/* ------------------------------------------------------------ JSON */

static eq_status get_f(const eq_json *o, const char *key, float *v) {
  double d;
  eq_status st = eq_json_number_or(o, key, *v, &d);
  *v = (float)d;
  return st;
}

static eq_status get_f2(const eq_json *o, const char *key, int n, float *v) {
  double d[4];
  for (int i = 0; i < n; i++) d[i] = v[i];
  eq_status st = eq_json_numbers(o, key, n, d);
  for (int i = 0; i < n; i++) v[i] = (float)d[i];
  return st;
}

/* A stage given as false (off), a number (its probability) or an object. */
static const eq_json *stage(const eq_json *obj, const char *key, float *p, int *off) {
  const eq_json *v = eq_json_get(obj, key);
  *off = 0;
  if (!v) return NULL;
  if (v->type == EQ_JSON_BOOL && !v->boolean) *off = 1;
  else if (v->type == EQ_JSON_NUMBER) *p = (float)v->number;
  else if (v->type == EQ_JSON_OBJECT) return v;
  return NULL;
}

eq_status eq_aug_config_from_json(const eq_json *obj, int view, eq_aug_config *cfg) {
  if (!obj || obj->type != EQ_JSON_OBJECT) return eq_error(EQ_ERR_VALUE, "augmentation config: expected an object");
  static const char *const top[] = {"preset", "size", "crop", "flip", "jitter", "grayscale",
                                    "blur", "solarize", "normalize", NULL};
  eq_status st = eq_json_check_keys(obj, "augmentation config", top);
  if (st) return st;
  const char *preset;
  long long size;
  if ((st = eq_json_string_or(obj, "preset", "none", &preset))) return st;
  if ((st = eq_json_int_or(obj, "size", 224, &size))) return st;
  if ((st = eq_aug_preset(preset, (int)size, view, cfg))) return st;
  int off;
  const eq_json *s;
  const eq_json *crop = eq_json_get(obj, "crop");
  if (crop && crop->type == EQ_JSON_BOOL) cfg->crop = crop->boolean;
  if (crop && crop->type == EQ_JSON_OBJECT) {
    static const char *const k[] = {"scale", "ratio", NULL};
    cfg->crop = 1;
    if ((st = eq_json_check_keys(crop, "augmentation config 'crop'", k)) || (st = get_f2(crop, "scale", 2, cfg->crop_scale)) ||
        (st = get_f2(crop, "ratio", 2, cfg->crop_ratio)))
      return st;
  }
  if ((st = get_f(obj, "flip", &cfg->flip_p))) return st;
  if ((s = stage(obj, "jitter", &cfg->jitter_p, &off))) {
    static const char *const k[] = {"p", "brightness", "contrast", "saturation", "hue", "random_order", NULL};
    bool ro = cfg->jitter_random_order;
    if ((st = eq_json_check_keys(s, "augmentation config 'jitter'", k)) || (st = get_f(s, "p", &cfg->jitter_p)) ||
        (st = get_f(s, "brightness", &cfg->brightness)) || (st = get_f(s, "contrast", &cfg->contrast)) ||
        (st = get_f(s, "saturation", &cfg->saturation)) || (st = get_f(s, "hue", &cfg->hue)) ||
        (st = eq_json_bool_or(s, "random_order", ro, &ro)))
      return st;
    cfg->jitter_random_order = ro;
  }
  if (off) cfg->jitter_p = 0;
  if ((s = stage(obj, "grayscale", &cfg->grayscale_p, &off))) return eq_error(EQ_ERR_VALUE, "augmentation config 'grayscale': expected a probability");
  if (off) cfg->grayscale_p = 0;
  if ((s = stage(obj, "blur", &cfg->blur_p, &off))) {
    static const char *const k[] = {"p", "sigma", "kernel", NULL};
    long long kern;
    if ((st = eq_json_check_keys(s, "augmentation config 'blur'", k)) || (st = get_f(s, "p", &cfg->blur_p)) ||
        (st = get_f2(s, "sigma", 2, cfg->blur_sigma)) || (st = eq_json_int_or(s, "kernel", cfg->blur_kernel, &kern)))
      return st;
    cfg->blur_kernel = (int)kern;
  }
  if (off) cfg->blur_p = 0;
  if ((s = stage(obj, "solarize", &cfg->solarize_p, &off))) {
    static const char *const k[] = {"p", "threshold", NULL};
    if ((st = eq_json_check_keys(s, "augmentation config 'solarize'", k)) || (st = get_f(s, "p", &cfg->solarize_p)) ||
        (st = get_f(s, "threshold", &cfg->solarize_threshold)))
      return st;
  }
  if (off) cfg->solarize_p = 0;
  const eq_json *norm = eq_json_get(obj, "normalize");
  if (norm && norm->type == EQ_JSON_BOOL) cfg->normalize = norm->boolean;
  if (norm && norm->type == EQ_JSON_OBJECT) {
    static const char *const k[] = {"mean", "std", NULL};
    cfg->normalize = 1;
    if ((st = eq_json_check_keys(norm, "augmentation config 'normalize'", k)) || (st = get_f2(norm, "mean", 3, cfg->mean)) ||
        (st = get_f2(norm, "std", 3, cfg->std)))
      return st;
  }
  return eq_aug_config_check(cfg);
}

/* ------------------------------------------------------------ sampling */

static float unif(eq_philox *rng, float lo, float hi) { return (float)eq_philox_uniform_range(rng, lo, hi); }

void eq_aug_sample_crop(eq_philox *rng, int src_w, int src_h, const float scale[2], const float ratio[2], float *x,
                        float *y, float *w, float *h) {
  double area = (double)src_w * src_h;
  double lr0 = log(ratio[0]), lr1 = log(ratio[1]);
  for (int attempt = 0; attempt < 10; attempt++) {
    double target = area * eq_philox_uniform_range(rng, scale[0], scale[1]);
    double ar = exp(eq_philox_uniform_range(rng, lr0, lr1));
    /* Python's round(): half to even, which nearbyint gives. */
    int cw = (int)nearbyint(sqrt(target * ar));
    int ch = (int)nearbyint(sqrt(target / ar));
    if (cw > 0 && cw <= src_w && ch > 0 && ch <= src_h) {
      *y = (float)eq_philox_below(rng, (uint64_t)(src_h - ch + 1));
      *x = (float)eq_philox_below(rng, (uint64_t)(src_w - cw + 1));
      *w = (float)cw;
      *h = (float)ch;
      return;
    }
  }
  double in_ratio = (double)src_w / src_h;
  int cw, ch;
  if (in_ratio < ratio[0]) {
    cw = src_w;
    ch = (int)nearbyint(cw / ratio[0]);
  } else if (in_ratio > ratio[1]) {
    ch = src_h;
    cw = (int)nearbyint(ch * ratio[1]);
  } else {
    cw = src_w;
    ch = src_h;
  }
  if (cw < 1) cw = 1;
  if (ch < 1) ch = 1;
  *x = (float)((src_w - cw) / 2);
  *y = (float)((src_h - ch) / 2);
  *w = (float)cw;
  *h = (float)ch;
}

void eq_aug_sample(const eq_aug_config *cfg, int src_w, int src_h, eq_philox *rng, eq_aug_params *p) {
  memset(p, 0, sizeof *p);
  for (int i = 0; i < 4; i++) p->jitter_order[i] = (uint8_t)i;
  if (cfg->crop) {
    eq_aug_sample_crop(rng, src_w, src_h, cfg->crop_scale, cfg->crop_ratio, &p->crop_x, &p->crop_y, &p->crop_w,
                       &p->crop_h);
  } else {
    p->crop_w = (float)src_w;
    p->crop_h = (float)src_h;
  }
  p->flip = eq_philox_uniform(rng) < cfg->flip_p;
  if (eq_philox_uniform(rng) < cfg->jitter_p) {
    /* ColorJitter(b) draws the factor from [max(0, 1 - b), 1 + b]. */
    p->brightness = cfg->brightness > 0 ? unif(rng, fmaxf(-1.0f, -cfg->brightness), cfg->brightness) : 0;
    p->contrast = cfg->contrast > 0 ? unif(rng, fmaxf(-1.0f, -cfg->contrast), cfg->contrast) : 0;
    p->saturation = cfg->saturation > 0 ? unif(rng, fmaxf(-1.0f, -cfg->saturation), cfg->saturation) : 0;
    p->hue = cfg->hue > 0 ? unif(rng, -cfg->hue, cfg->hue) : 0;
    if (cfg->jitter_random_order) {
      for (int i = 3; i > 0; i--) {
        int j = (int)eq_philox_below(rng, (uint64_t)i + 1);
        uint8_t t = p->jitter_order[i];
        p->jitter_order[i] = p->jitter_order[j];
        p->jitter_order[j] = t;
      }
    }
  }
  p->grayscale = eq_philox_uniform(rng) < cfg->grayscale_p ? 1.0f : 0.0f;
  if (eq_philox_uniform(rng) < cfg->blur_p) p->blur_sigma = unif(rng, cfg->blur_sigma[0], cfg->blur_sigma[1]);
  p->solarize = eq_philox_uniform(rng) < cfg->solarize_p ? 1.0f : 0.0f;
}

eq_aug_params eq_aug_params_at(const eq_aug_params *p, int src_w, int src_h, float t) {
  eq_aug_params q = *p;
  float s = 1.0f - t;
  q.crop_x = t * p->crop_x;
  q.crop_y = t * p->crop_y;
  q.crop_w = s * (float)src_w + t * p->crop_w;
  q.crop_h = s * (float)src_h + t * p->crop_h;
  if (t == 1.0f) { /* exact, not rounded through the blend */
    q.crop_x = p->crop_x, q.crop_y = p->crop_y, q.crop_w = p->crop_w, q.crop_h = p->crop_h;
  }
  q.flip = t >= 1.0f ? p->flip : 0;
  q.brightness = t * p->brightness;
  q.contrast = t * p->contrast;
  q.saturation = t * p->saturation;
  q.hue = t * p->hue;
  q.grayscale = t * p->grayscale;
  q.blur_sigma = t * p->blur_sigma;
  q.solarize = t * p->solarize;
  return q;
}

/* ------------------------------------------------------------ applying */

void eq_tf_jitter(float *img, size_t n, const uint8_t order[4], float b, float c, float s, float h) {
  for (int i = 0; i < 4; i++) {
    switch (order[i]) {
    case 0: if (b != 0) eq_tf_brightness(img, n, 1.0f + b); break;
    case 1: if (c != 0) eq_tf_contrast(img, n, 1.0f + c); break;
    case 2: if (s != 0) eq_tf_saturation(img, n, 1.0f + s); break;
    case 3: if (h != 0) eq_tf_hue(img, n, h); break;
    }
  }
}

eq_status eq_aug_apply(const eq_aug_config *cfg, const eq_aug_params *p, const eq_image *src, int normalize,
                       float *dst, eq_tf_workspace *ws) {
  if (src->channels != 1 && src->channels != 3)
    return eq_error(EQ_ERR_VALUE, "eq_aug_apply: source has %d channels (decode with 1 or 3)", src->channels);
  int W = cfg->out_w, H = cfg->out_h;
  size_t n = (size_t)W * H;
  eq_status st = eq_tf_resized_crop(src, p->crop_x, p->crop_y, p->crop_w, p->crop_h, p->flip, W, H, dst, ws);
  if (st) return st;
  if (src->channels == 1) {
    memcpy(dst + n, dst, n * sizeof(float));
    memcpy(dst + 2 * n, dst, n * sizeof(float));
  }
  eq_tf_jitter(dst, n, p->jitter_order, p->brightness, p->contrast, p->saturation, p->hue);
  if (p->grayscale > 0) eq_tf_grayscale(dst, n, p->grayscale);
  if (p->blur_sigma > 0) {
    int k = cfg->blur_kernel ? cfg->blur_kernel : eq_tf_blur_kernel_size(W < H ? W : H);
    if ((st = eq_tf_gaussian_blur(dst, 3, H, W, k, p->blur_sigma, ws))) return st;
  }
  if (p->solarize > 0) eq_tf_solarize(dst, n, cfg->solarize_threshold, p->solarize);
  if (normalize && cfg->normalize) eq_tf_normalize(dst, 3, n, cfg->mean, cfg->std);
  return EQ_OK;
}
