/* Sampling, parameter fractions (t = 0 identity, t = 1 the full transform),
 * determinism, presets and JSON configs. */
#include "eq_test.h"
#include "equivar/json.h"
#include "equivar/transforms.h"

#include <stdlib.h>
#include <string.h>

static eq_image make_image(int w, int h) {
  eq_image img;
  eq_image_alloc(&img, w, h, 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        img.pixels[(y * w + x) * 3 + c] = (uint8_t)(127 + 100 * sin(x * 0.3 + y * 0.17 * (c + 1) + c));
  return img;
}

static double max_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

static void test_crop_sampler(void) {
  eq_philox rng = eq_philox_init(42, 0);
  float scale[2] = {0.08f, 1.0f}, ratio[2] = {0.75f, 4.0f / 3.0f};
  double sum_area = 0;
  int n = 2000;
  for (int i = 0; i < n; i++) {
    float x, y, w, h;
    eq_aug_sample_crop(&rng, 120, 90, scale, ratio, &x, &y, &w, &h);
    CHECK(x >= 0 && y >= 0 && x + w <= 120 && y + h <= 90 && w >= 1 && h >= 1);
    CHECK(x == floorf(x) && w == floorf(w));
    double area = w * h / (120.0 * 90.0);
    /* rounding of w and h moves the area and ratio a little outside */
    CHECK(area >= 0.06 && area <= 1.0);
    sum_area += area;
  }
  /* Mean area fraction of accepted boxes: U(0.08, 1) thinned by rejection of
   * too-large boxes, which torchvision gives as ~0.5 for a 4:3 source. */
  CHECK_MSG(sum_area / n > 0.40 && sum_area / n < 0.56, "mean area %g", sum_area / n);
  /* Impossible scale -> the central fallback. */
  float big[2] = {1.0f, 1.0f}, wide[2] = {3.0f, 4.0f};
  float x, y, w, h;
  eq_aug_sample_crop(&rng, 100, 50, big, wide, &x, &y, &w, &h);
  CHECK(w == 100 && h == 33 && x == 0 && y == 8);
}

static void test_sample_and_fractions(void) {
  eq_image img = make_image(48, 40);
  eq_aug_config cfg;
  CHECK(eq_aug_preset("vicreg", 32, 1, &cfg) == EQ_OK);
  cfg.blur_p = 1.0f;
  cfg.solarize_p = 1.0f;
  cfg.jitter_p = 1.0f;
  eq_tf_workspace ws = {0};
  size_t n = 3 * 32 * 32;
  float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
  /* Same generator state -> same parameters -> same pixels. */
  eq_philox r1 = eq_philox_init(7, 3), r2 = eq_philox_init(7, 3);
  eq_aug_params p, q;
  eq_aug_sample(&cfg, 48, 40, &r1, &p);
  eq_aug_sample(&cfg, 48, 40, &r2, &q);
  CHECK(memcmp(&p, &q, sizeof p) == 0);
  CHECK(p.brightness >= -0.4f && p.brightness <= 0.4f && p.hue >= -0.1f && p.hue <= 0.1f);
  CHECK(p.blur_sigma >= 0.1f && p.blur_sigma <= 2.0f && p.solarize == 1.0f);
  /* t = 1 is the full transform, exactly. */
  eq_aug_params p1 = eq_aug_params_at(&p, 48, 40, 1.0f);
  CHECK(eq_aug_apply(&cfg, &p, &img, 1, a, &ws) == EQ_OK);
  CHECK(eq_aug_apply(&cfg, &p1, &img, 1, b, &ws) == EQ_OK);
  CHECK(max_diff(a, b, n) == 0);
  /* t = 0 is the identity: resize only; at the source size, the source. */
  eq_image small = make_image(32, 32);
  eq_aug_sample(&cfg, 32, 32, &r1, &p);
  eq_aug_params p0 = eq_aug_params_at(&p, 32, 32, 0.0f);
  CHECK(eq_aug_apply(&cfg, &p0, &small, 0, a, &ws) == EQ_OK);
  eq_tf_u8_to_float(&small, b);
  CHECK_MSG(max_diff(a, b, n) < 1e-6, "t=0 differs by %g", max_diff(a, b, n));
  /* Intermediate t: parameters scale linearly, crop box interpolates. */
  eq_aug_params ph = eq_aug_params_at(&p, 32, 32, 0.5f);
  CHECK_CLOSE(ph.brightness, 0.5 * p.brightness, 1e-6, 1e-7);
  CHECK_CLOSE(ph.crop_w, 0.5 * (32 + p.crop_w), 1e-6, 1e-5);
  CHECK(eq_aug_apply(&cfg, &ph, &small, 1, a, &ws) == EQ_OK);
  eq_image_free(&small);
  /* Different streams give different parameters. */
  eq_philox r3 = eq_philox_init(7, 4);
  eq_aug_sample(&cfg, 48, 40, &r3, &q);
  CHECK(memcmp(&p, &q, sizeof p) != 0);
  free(a);
  free(b);
  eq_tf_workspace_free(&ws);
  eq_image_free(&img);
}

static void test_g_fractions(void) {
  int S = 24;
  size_t n = (size_t)3 * S * S;
  eq_image img = make_image(S, S);
  float *u = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
  eq_tf_u8_to_float(&img, u);
  eq_tf_workspace ws = {0};
  const float mean[3] = {0.5f, 0.4f, 0.3f}, std[3] = {0.2f, 0.25f, 0.3f};
  eq_g_config cfg;
  eq_g_config_default(&cfg, EQ_G_ALL);
  eq_philox rng = eq_philox_init(1, 2);
  eq_g_params p;
  eq_g_sample(&cfg, S, &rng, &p);
  CHECK(fabsf(p.angle) <= 45 && fabsf(p.tx) <= 10.0f * S / 224 && p.blur_sigma >= 0.1f && p.scale >= 0.75f);
  /* t = 0: normalisation only. */
  eq_g_params p0 = eq_g_params_at(&p, 0.0f);
  CHECK(eq_g_apply(&p0, u, S, S, 0, mean, std, a, &ws) == EQ_OK);
  memcpy(b, u, n * sizeof(float));
  eq_tf_normalize(b, 3, (size_t)S * S, mean, std);
  CHECK(max_diff(a, b, n) < 1e-6);
  /* t = 1: the full transform. */
  eq_g_params p1 = eq_g_params_at(&p, 1.0f);
  CHECK(eq_g_apply(&p, u, S, S, 0, mean, std, a, &ws) == EQ_OK);
  CHECK(eq_g_apply(&p1, u, S, S, 0, mean, std, b, &ws) == EQ_OK);
  CHECK(max_diff(a, b, n) == 0);
  /* ITR's theta_k = k theta / (K + 1): the rotation at 1/3 equals a direct
   * rotation by angle / 3, computed from u (not composed). */
  eq_g_params r = {.kinds = EQ_G_ROTATE, .angle = 30.0f, .scale = 1.0f};
  eq_g_params r3 = eq_g_params_at(&r, 1.0f / 3.0f);
  CHECK_CLOSE(r3.angle, 10.0, 1e-6, 1e-6);
  CHECK(eq_g_apply(&r3, u, S, S, 0, NULL, NULL, a, &ws) == EQ_OK);
  eq_tf_affine(u, 3, S, S, 10.0f, 0, 0, 1.0f, 0.0f, b);
  CHECK(max_diff(a, b, n) < 1e-6);
  /* A rotation by 0 at exact pixel centres reproduces the image. */
  eq_tf_affine(u, 3, S, S, 0.0f, 0, 0, 1.0f, 0.0f, a);
  CHECK(max_diff(a, u, n) == 0);
  /* Integer translation moves pixels and fills zeros. */
  eq_tf_affine(u, 3, S, S, 0.0f, 2.0f, 1.0f, 1.0f, 0.0f, a);
  CHECK(a[5 * S + 7] == u[4 * S + 5] && a[0] == 0.0f && a[S + 1] == 0.0f);
  unsigned kinds;
  CHECK(eq_g_kinds_parse("rotation+blur", &kinds) == EQ_OK && kinds == (EQ_G_ROTATE | EQ_G_BLUR));
  CHECK(eq_g_kinds_parse("se2", &kinds) == EQ_OK && kinds == EQ_G_SE2);
  CHECK(eq_g_kinds_parse("rotaton", &kinds) == EQ_ERR_VALUE && strstr(eq_error_message(), "rotaton"));
  free(u);
  free(a);
  free(b);
  eq_tf_workspace_free(&ws);
  eq_image_free(&img);
}

static void test_config_json(void) {
  const char *text = "{\"preset\": \"vicreg\", \"size\": 64, \"blur\": {\"p\": 0.5, \"sigma\": [0.2, 1.0]},"
                     " \"solarize\": false, \"jitter\": {\"brightness\": 0.3}, \"crop\": {\"scale\": [0.2, 1]}}";
  eq_json *j = eq_json_parse(text, strlen(text), "aug.json");
  eq_aug_config cfg;
  CHECK(j && eq_aug_config_from_json(j, 1, &cfg) == EQ_OK);
  CHECK(cfg.out_h == 64 && cfg.blur_p == 0.5f && cfg.blur_sigma[0] == 0.2f && cfg.solarize_p == 0.0f);
  CHECK(cfg.brightness == 0.3f && cfg.contrast == 0.4f && cfg.jitter_p == 0.8f && cfg.crop_scale[0] == 0.2f);
  CHECK(cfg.normalize && fabsf(cfg.mean[0] - 0.485f) < 1e-7);
  eq_json_free(j);
  const char *bad[] = {"{\"preset\": \"vicrge\"}", "{\"blurr\": 0.5}", "{\"flip\": 1.5}",
                       "{\"blur\": {\"kernel\": 4}}", "{\"jitter\": {\"hue\": 0.7}}", "{\"size\": \"big\"}"};
  for (int i = 0; i < 6; i++) {
    j = eq_json_parse(bad[i], strlen(bad[i]), "aug.json");
    CHECK_MSG(j && eq_aug_config_from_json(j, 0, &cfg) == EQ_ERR_VALUE, "accepted %s", bad[i]);
    eq_json_free(j);
  }
  const char *g = "{\"kind\": \"se2\", \"max_angle\": 30, \"max_shift\": 5}";
  j = eq_json_parse(g, strlen(g), "g.json");
  eq_g_config gc;
  CHECK(j && eq_g_config_from_json(j, &gc) == EQ_OK && gc.kinds == EQ_G_SE2 && gc.max_angle == 30.0f);
  eq_json_free(j);
  /* Presets differ by view where the recipe does. */
  eq_aug_config v0, v1;
  CHECK(eq_aug_preset("vicreg", 224, 0, &v0) == EQ_OK && eq_aug_preset("vicreg", 224, 1, &v1) == EQ_OK);
  CHECK(v0.blur_p == 1.0f && v1.blur_p == 0.1f && v0.solarize_p == 0.0f && v1.solarize_p == 0.2f);
  CHECK(eq_tf_blur_kernel_size(224) == 23 && eq_tf_blur_kernel_size(64) == 7 && eq_tf_blur_kernel_size(20) == 3);
}

static void test_errors(void) {
  eq_image img = make_image(10, 10);
  float out[3 * 16];
  eq_tf_workspace ws = {0};
  CHECK(eq_tf_resized_crop(&img, 5, 5, 6, 2, 0, 4, 4, out, &ws) == EQ_ERR_VALUE);
  CHECK(strstr(eq_error_message(), "10x10") != NULL);
  CHECK(eq_tf_resized_crop(&img, 0, 0, 0, 2, 0, 4, 4, out, &ws) == EQ_ERR_VALUE);
  CHECK(eq_tf_gaussian_blur(out, 3, 4, 4, 4, 1.0f, &ws) == EQ_ERR_VALUE);
  /* Blur larger than the image reflects repeatedly instead of failing. */
  for (int i = 0; i < 48; i++) out[i] = (float)(i % 7) / 7.0f;
  CHECK(eq_tf_gaussian_blur(out, 3, 4, 4, 23, 2.0f, &ws) == EQ_OK);
  for (int i = 0; i < 48; i++) CHECK(out[i] >= 0 && out[i] <= 1);
  eq_tf_workspace_free(&ws);
  eq_image_free(&img);
}

int main(void) {
  test_crop_sampler();
  test_sample_and_fractions();
  test_g_fractions();
  test_config_json();
  test_errors();
  return EQ_TEST_SUMMARY();
}
