/* Each transform against torchvision's tensor functional ops on small images
 * (tests/data/transforms, written by scripts/gen_transform_reference.py). */
#include "eq_test.h"
#include "equivar/json.h"
#include "equivar/npy.h"
#include "equivar/transforms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char root[900];

static void *load(const char *name, eq_npy_info *info) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s.npy", root, name);
  void *data = NULL;
  if (eq_npy_load(p, info, &data)) {
    fprintf(stderr, "%s\n", eq_error_message());
    return NULL;
  }
  return data;
}

static double num(const eq_json *c, const char *k) {
  double v = NAN;
  eq_json_number_or(c, k, NAN, &v);
  return v;
}

/* Max abs difference against the reference; reports the worst. */
static void compare(const char *name, const float *got, const float *ref, size_t n, double tol) {
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    if (!(d <= worst)) worst = d, at = i;
  }
  CHECK_MSG(worst <= tol, "%s: max |equivar - torchvision| = %.3g at %zu (%g vs %g), tolerance %g", name, worst, at,
            got[at], ref[at], tol);
  if (getenv("EQ_VERBOSE")) printf("%-28s max abs diff %.3g\n", name, worst);
}

static void run_case(const eq_json *c, eq_tf_workspace *ws) {
  const char *name, *op, *srcname;
  eq_json_string_or(c, "name", "", &name);
  eq_json_string_or(c, "op", "", &op);
  eq_json_string_or(c, "src", "", &srcname);
  char sname[64];
  snprintf(sname, sizeof sname, "src_%s", srcname);
  eq_npy_info si, ri;
  uint8_t *src = load(sname, &si);
  float *ref = load(name, &ri);
  CHECK_MSG(src && ref, "%s: reference files missing", name);
  if (!src || !ref) {
    free(src);
    free(ref);
    return;
  }
  eq_image img = {(int)si.shape[1], (int)si.shape[0], (int)si.shape[2], src};
  int H = img.height, W = img.width;
  size_t n = (size_t)H * W;
  size_t rn = (size_t)eq_npy_count(&ri);
  float *x = malloc(sizeof(float) * 3 * n);
  float *y = malloc(sizeof(float) * (rn > 3 * n ? rn : 3 * n));
  eq_tf_u8_to_float(&img, x);
  /* float32 arithmetic in a different order than torch's: a few ulps of
   * [0, 1] values; hue goes through divisions and is looser. */
  double tol = 2e-6;
  if (!strcmp(op, "resized_crop")) {
    int oh = (int)num(c, "out_h"), ow = (int)num(c, "out_w");
    CHECK(eq_tf_resized_crop(&img, (float)num(c, "left"), (float)num(c, "top"), (float)num(c, "width"),
                             (float)num(c, "height"), (int)num(c, "flip"), ow, oh, y, ws) == EQ_OK);
    CHECK(rn == (size_t)3 * oh * ow);
    /* The same box from a float source. */
    float *z = malloc(sizeof(float) * rn);
    CHECK(eq_tf_resized_crop_f(x, 3, H, W, (float)num(c, "left"), (float)num(c, "top"), (float)num(c, "width"),
                               (float)num(c, "height"), (int)num(c, "flip"), ow, oh, z, ws) == EQ_OK);
    compare(name, z, ref, rn, 4e-6);
    free(z);
    tol = 4e-6;
  } else if (!strcmp(op, "brightness")) {
    memcpy(y, x, sizeof(float) * 3 * n);
    eq_tf_brightness(y, n, (float)num(c, "factor"));
  } else if (!strcmp(op, "contrast")) {
    memcpy(y, x, sizeof(float) * 3 * n);
    eq_tf_contrast(y, n, (float)num(c, "factor"));
  } else if (!strcmp(op, "saturation")) {
    memcpy(y, x, sizeof(float) * 3 * n);
    eq_tf_saturation(y, n, (float)num(c, "factor"));
  } else if (!strcmp(op, "hue")) {
    memcpy(y, x, sizeof(float) * 3 * n);
    eq_tf_hue(y, n, (float)num(c, "factor"));
    tol = 1e-5;
  } else if (!strcmp(op, "grayscale")) {
    memcpy(y, x, sizeof(float) * 3 * n);
    eq_tf_grayscale(y, n, 1.0f);
  } else if (!strcmp(op, "solarize")) {
    memcpy(y, x, sizeof(float) * 3 * n);
    eq_tf_solarize(y, n, (float)num(c, "threshold"), 1.0f);
  } else if (!strcmp(op, "normalize")) {
    memcpy(y, x, sizeof(float) * 3 * n);
    float mean[3], std[3];
    double md[3], sd[3];
    eq_json_numbers(c, "mean", 3, md);
    eq_json_numbers(c, "std", 3, sd);
    for (int i = 0; i < 3; i++) mean[i] = (float)md[i], std[i] = (float)sd[i];
    eq_tf_normalize(y, 3, n, mean, std);
    tol = 1e-5;
  } else if (!strcmp(op, "blur")) {
    memcpy(y, x, sizeof(float) * 3 * n);
    CHECK(eq_tf_gaussian_blur(y, 3, H, W, (int)num(c, "kernel"), (float)num(c, "sigma"), ws) == EQ_OK);
    tol = 3e-6;
  } else if (!strcmp(op, "affine")) {
    eq_tf_affine(x, 3, H, W, (float)num(c, "angle"), (float)num(c, "tx"), (float)num(c, "ty"), (float)num(c, "scale"),
                 0.0f, y);
    tol = 2e-5; /* torch computes the sampling grid in float32 */
  } else if (!strcmp(op, "pipeline")) {
    eq_aug_config cfg;
    eq_aug_preset("vicreg", (int)num(c, "size"), 0, &cfg);
    cfg.blur_kernel = (int)num(c, "kernel");
    eq_aug_params p = {0};
    p.crop_x = (float)num(c, "left"), p.crop_y = (float)num(c, "top");
    p.crop_w = (float)num(c, "width"), p.crop_h = (float)num(c, "height");
    p.flip = (int)num(c, "flip");
    p.brightness = (float)num(c, "b"), p.contrast = (float)num(c, "c");
    p.saturation = (float)num(c, "s"), p.hue = (float)num(c, "h");
    for (int i = 0; i < 4; i++) p.jitter_order[i] = (uint8_t)i;
    p.grayscale = (float)num(c, "grey");
    p.blur_sigma = (float)num(c, "sigma");
    p.solarize = (float)num(c, "solarize");
    CHECK(eq_aug_apply(&cfg, &p, &img, 1, y, ws) == EQ_OK);
    tol = 1e-4; /* normalised values (x 1/0.225) after a chain of ops */
  } else {
    CHECK_MSG(0, "unknown op %s", op);
  }
  compare(name, y, ref, rn, tol);
  free(x);
  free(y);
  free(src);
  free(ref);
}

int main(void) {
  const char *data = getenv("EQ_TEST_DATA");
  snprintf(root, sizeof root, "%s/transforms", data ? data : "tests/data");
  char p[1024];
  snprintf(p, sizeof p, "%s/cases.json", root);
  eq_json *cases = eq_json_read_file(p);
  CHECK_MSG(cases && cases->type == EQ_JSON_ARRAY && cases->count > 30, "%s", eq_error_message());
  eq_tf_workspace ws = {0};
  for (size_t i = 0; cases && i < cases->count; i++) run_case(&cases->items[i], &ws);
  eq_tf_workspace_free(&ws);
  eq_json_free(cases);
  return EQ_TEST_SUMMARY();
}
