/* Parametric image transforms, their samplers, and augmentation pipelines.
 *
 * Every transform is a pure function of explicit parameters. Samplers draw
 * the parameters from a Philox generator and return them, so a trainer can
 * log them, condition on them (SIE) or regress them (the synthetic tasks),
 * and can apply the same transform at a fraction t of its parameters (ITR's
 * intermediate targets theta_k = k * theta / (K + 1), each computed directly
 * from the source, never by composing steps).
 *
 * Images: sources are 8-bit interleaved (eq_image, HWC); everything after the
 * first resampling is float32 planar CHW with values nominally in [0, 1], the
 * layout of a torch tensor. Definitions follow torchvision's tensor
 * functional API (torchvision.transforms.functional, 0.14) so results agree
 * with it to float rounding; docs/data.md lists each definition and the
 * tolerances the tests check.
 *
 * Conventions (as torchvision):
 *  - pixel centres at integer + 0.5; resampling is bilinear, antialiased when
 *    shrinking (torchvision resize(antialias=True), i.e. PIL's triangle filter);
 *  - angles in degrees, positive = counter-clockwise on screen, about the
 *    image centre; translations in output pixels, +x right, +y down;
 *  - geometric warps fill outside the source with `fill` (0 by default; the
 *    pipelines warp after normalisation, so 0 means "the mean colour").
 */
#ifndef EQUIVAR_TRANSFORMS_H
#define EQUIVAR_TRANSFORMS_H

#include <stddef.h>
#include <stdint.h>

#include "equivar/core.h"
#include "equivar/image.h"
#include "equivar/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ primitives */

/* Scratch memory reused across calls (one per thread). Zero-initialise. */
typedef struct eq_tf_workspace {
  float *buf[3];
  size_t cap[3];
} eq_tf_workspace;
void eq_tf_workspace_free(eq_tf_workspace *ws);

/* uint8 HWC -> float CHW in [0, 1] (x / 255), and back (round, clamp). */
void eq_tf_u8_to_float(const eq_image *src, float *dst);
eq_status eq_tf_float_to_u8(const float *src, int channels, int height, int width, eq_image *dst);

/* torchvision resized_crop(img, top=y, left=x, height=h, width=w, size=(out_h,
 * out_w), bilinear, antialias=True) from an 8-bit source straight to float
 * CHW (channels of src), with the horizontal flip folded in. The box is in
 * source pixels and may be fractional (intermediate crops); it must lie
 * inside the source. */
eq_status eq_tf_resized_crop(const eq_image *src, float x, float y, float w, float h, int flip, int out_w,
                             int out_h, float *dst, eq_tf_workspace *ws);
/* The same from a float CHW source. */
eq_status eq_tf_resized_crop_f(const float *src, int channels, int height, int width, float x, float y, float w,
                               float h, int flip, int out_w, int out_h, float *dst, eq_tf_workspace *ws);
/* torchvision affine(img, -angle, translate=(tx, ty), scale, shear=0) with
 * bilinear sampling (grid_sample, align_corners=False, zero padding where
 * fill = 0: taps outside the source read `fill`). dst != src. The angle turns
 * counter-clockwise as in torchvision's rotate(angle) (= this with no shift
 * and scale 1); torchvision's affine() counts its angle clockwise. */
void eq_tf_affine(const float *src, int channels, int height, int width, float angle_deg, float tx, float ty,
                  float scale, float fill, float *dst);
void eq_tf_hflip(float *img, int channels, int height, int width);
/* Photometric ops, in place on RGB (channels 3) float CHW; n = height*width.
 * brightness: clamp(f x); contrast: clamp(f x + (1-f) mean(grey(x)));
 * saturation: clamp(f x + (1-f) grey(x)); hue: rotate H in HSV by h
 * (h in [-0.5, 0.5]); grey weights 0.2989, 0.587, 0.114. */
void eq_tf_brightness(float *img, size_t n, float factor);
void eq_tf_contrast(float *img, size_t n, float factor);
void eq_tf_saturation(float *img, size_t n, float factor);
void eq_tf_hue(float *img, size_t n, float hue);
/* ColorJitter with offsets (factor = 1 + offset; hue as is) in the given
 * order (0 b, 1 c, 2 s, 3 h); zero offsets are skipped. */
void eq_tf_jitter(float *img, size_t n, const uint8_t order[4], float b, float c, float s, float h);
/* Blend towards grey: amount 1 = rgb_to_grayscale (3 equal channels). */
void eq_tf_grayscale(float *img, size_t n, float amount);
/* x >= threshold -> 1 - x, blended: amount 1 = torchvision solarize. */
void eq_tf_solarize(float *img, size_t n, float threshold, float amount);
/* (x - mean[c]) / std[c] per channel. */
void eq_tf_normalize(float *img, int channels, size_t n, const float *mean, const float *std);
/* torchvision gaussian_blur(img, [k, k], [sigma, sigma]): separable kernel
 * exp(-x^2 / 2 sigma^2) over x = -(k-1)/2 .. (k-1)/2, normalised, reflect
 * padding. k odd >= 1; sigma <= 0 leaves the image unchanged. */
eq_status eq_tf_gaussian_blur(float *img, int channels, int height, int width, int k, float sigma,
                              eq_tf_workspace *ws);
/* The kernel-size rule of the SimCLR/BYOL/VICReg recipes: 10 % of the
 * image side, made odd (23 at 224 px, 7 at 64 px), at least 3. */
int eq_tf_blur_kernel_size(int side);

/* -------------------------------------------- the base augmentation A(I) */

/* Distributions of one view's augmentation (torchvision's RandomResizedCrop,
 * RandomHorizontalFlip, RandomApply(ColorJitter), RandomGrayscale,
 * GaussianBlur, RandomSolarize, Normalize; in that order). */
typedef struct eq_aug_config {
  int out_h, out_w;
  int crop;              /* 0: resize the whole source to out size */
  float crop_scale[2];   /* area fraction range, default 0.08..1 */
  float crop_ratio[2];   /* aspect ratio range, default 3/4..4/3 */
  float flip_p;
  float jitter_p;
  float brightness, contrast, saturation, hue; /* torchvision ColorJitter args */
  int jitter_random_order; /* 0: b, c, s, h (fixed; default); 1: torchvision's random permutation */
  float grayscale_p;
  float blur_p;
  float blur_sigma[2];
  int blur_kernel;       /* 0: eq_tf_blur_kernel_size(min(out_h, out_w)) */
  float solarize_p;
  float solarize_threshold;
  int normalize;
  float mean[3], std[3];
} eq_aug_config;

/* One view's sampled parameters. Offsets, not factors: the jitter factor is
 * 1 + brightness etc., so a fraction t of the parameters is t * offset and
 * t = 0 is the identity. */
typedef struct eq_aug_params {
  float crop_x, crop_y, crop_w, crop_h; /* source box (integers when sampled) */
  int flip;
  float brightness, contrast, saturation, hue; /* 0 when jitter not applied */
  uint8_t jitter_order[4];                     /* 0 b, 1 c, 2 s, 3 h */
  float grayscale;                             /* amount, 0 or 1 when sampled */
  float blur_sigma;                            /* 0: no blur */
  float solarize;                              /* amount, 0 or 1 when sampled */
} eq_aug_params;

/* Defaults: 224 px, crop 0.08..1, no other augmentation, no normalisation. */
void eq_aug_config_default(eq_aug_config *cfg, int size);
/* Named presets for view 0 / view 1 at `size` px:
 *  "vicreg" (and "barlow"): crop 0.08-1, flip 0.5, jitter 0.4/0.4/0.2/0.1
 *      p 0.8, grey 0.2, blur p 1.0 / 0.1, solarize p 0.0 / 0.2, ImageNet norm;
 *  "simclr": crop 0.08-1, flip 0.5, jitter 0.8/0.8/0.8/0.2 p 0.8, grey 0.2,
 *      blur p 0.5 both, no solarize, ImageNet norm;
 *  "3diebench": no crop (resize), no augmentation, 3DIEBench norm;
 *  "eval": no crop, no augmentation, ImageNet norm;
 *  "none": resize only, no normalisation. */
eq_status eq_aug_preset(const char *name, int size, int view, eq_aug_config *cfg);
/* Reads a view config from JSON: {"preset": name, "size": n, then any of
 * "crop": {"scale": [lo, hi], "ratio": [lo, hi]} or false, "flip": p,
 * "jitter": {"p", "brightness", "contrast", "saturation", "hue",
 * "random_order"}, "grayscale": p, "blur": {"p", "sigma": [lo, hi],
 * "kernel"}, "solarize": {"p", "threshold"}, "normalize": {"mean", "std"}
 * or false}. Unknown keys are errors (typos must not pass silently). */
eq_status eq_aug_config_from_json(const eq_json *obj, int view, eq_aug_config *cfg);
eq_status eq_aug_config_check(const eq_aug_config *cfg);

/* torchvision RandomResizedCrop.get_params: up to 10 tries of area and
 * log-uniform ratio, w = round(sqrt(area * r)), h = round(sqrt(area / r)),
 * then the central fallback. Uses the generator's uniforms. */
void eq_aug_sample_crop(eq_philox *rng, int src_w, int src_h, const float scale[2], const float ratio[2],
                        float *x, float *y, float *w, float *h);
void eq_aug_sample(const eq_aug_config *cfg, int src_w, int src_h, eq_philox *rng, eq_aug_params *p);
/* Parameters at fraction t in [0, 1]: crop box moved linearly from the whole
 * source (t = 0) to the sampled box (t = 1); jitter offsets, blur sigma,
 * grey and solarize amounts times t; the flip (discrete) only at t = 1. */
eq_aug_params eq_aug_params_at(const eq_aug_params *p, int src_w, int src_h, float t);
/* Applies A with parameters p to src and writes a float CHW image of
 * cfg->out_h x cfg->out_w x 3 (grey sources are expanded). `normalize`
 * 0 skips the normalisation (ITR's u is normalised after g). */
eq_status eq_aug_apply(const eq_aug_config *cfg, const eq_aug_params *p, const eq_image *src, int normalize,
                       float *dst, eq_tf_workspace *ws);

/* ------------------------------------- ITR's extra transformation g_theta */

enum {
  EQ_G_ROTATE = 1,
  EQ_G_TRANSLATE = 2,
  EQ_G_SE2 = EQ_G_ROTATE | EQ_G_TRANSLATE,
  EQ_G_SCALE = 4,
  EQ_G_JITTER = 8,
  EQ_G_BLUR = 16,
  EQ_G_ALL = 31
};

typedef struct eq_g_config {
  unsigned kinds;           /* EQ_G_* bits */
  float max_angle;          /* degrees, uniform in [-max, max]; default 45 */
  float max_shift;          /* px at 224, scaled by out size / 224; default 10 */
  float scale_range[2];     /* default 0.75..1.25 */
  float jitter[4];          /* b, c, s ranges +-, hue +-; default 0.4 0.4 0.4 0.1 */
  float blur_sigma[2];      /* default 0.1..2 */
  int blur_kernel;          /* 0: size rule */
} eq_g_config;

typedef struct eq_g_params {
  unsigned kinds;
  float angle, tx, ty, scale; /* degrees; output px; factor */
  float brightness, contrast, saturation, hue; /* offsets: factor = 1 + x */
  float blur_sigma;
} eq_g_params;

/* kinds from a name: "rotation", "translation", "se2", "scale", "color",
 * "blur", "all"; or "a+b". */
eq_status eq_g_kinds_parse(const char *name, unsigned *kinds);
void eq_g_config_default(eq_g_config *cfg, unsigned kinds);
/* {"kind": "se2", "max_angle", "max_shift", "scale": [lo, hi],
 *  "jitter": [b, c, s, h], "blur_sigma": [lo, hi], "blur_kernel"} */
eq_status eq_g_config_from_json(const eq_json *obj, eq_g_config *cfg);
void eq_g_sample(const eq_g_config *cfg, int out_size, eq_philox *rng, eq_g_params *p);
/* Parameters at fraction t: angle, shifts, jitter offsets and sigma times t,
 * scale 1 + t (s - 1). */
eq_g_params eq_g_params_at(const eq_g_params *p, float t);
/* u (float CHW, 3 channels, unnormalised [0, 1]) -> g(u): colour jitter
 * (b, c, s, h), blur, then normalisation (mean/std may be NULL: none), then
 * the warp (rotation, translation, scale) with zero fill. dst != u. */
eq_status eq_g_apply(const eq_g_params *p, const float *u, int height, int width, int blur_kernel,
                     const float *mean, const float *std, float *dst, eq_tf_workspace *ws);

/* Writes a float CHW image (un-normalising with mean/std when given) as PNG;
 * for looking at augmentations. */
eq_status eq_tf_write_png(const char *path, const float *img, int channels, int height, int width,
                          const float *mean, const float *std);

#ifdef __cplusplus
}
#endif
#endif
