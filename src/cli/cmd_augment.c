/* `equivar augment`: writes augmented views of one image as PNGs and prints
 * their sampled parameters (JSON lines), to look at a configuration. */
#include "cli/cli.h"
#include "equivar/fileio.h"
#include "equivar/transforms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(FILE *out) {
  fprintf(out,
          "usage: equivar augment --input IMAGE --out DIR [--config AUG.json | --preset NAME] [--size N]\n"
          "                       [--n N] [--seed S] [--itr KIND] [--k K]\n"
          "Writes N pairs of augmented views of IMAGE to DIR/pair<i>_view<v>.png and prints each\n"
          "view's parameters as a JSON line. --config is an augmentation config (docs/data.md);\n"
          "--preset vicreg|simclr|3diebench|eval|none (default vicreg). --itr adds ITR's g on\n"
          "view 1 (rotation, translation, se2, scale, color, blur, all) and writes its K\n"
          "intermediate targets as pair<i>_target<k>.png.\n");
  return out == stdout ? 0 : 2;
}

static int fail(void) {
  fprintf(stderr, "equivar augment: %s\n", eq_error_message());
  return 1;
}

static int run(int argc, char **argv) {
  if (eq_cli_wants_help(argc, argv)) return usage(stdout);
  const char *input = NULL, *out = NULL, *config = NULL, *preset = "vicreg", *itr = NULL;
  int size = 224, n = 4, k = 2;
  unsigned long long seed = 0;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage(stderr);
    if (!strcmp(a, "--input")) input = v;
    else if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--config")) config = v;
    else if (!strcmp(a, "--preset")) preset = v;
    else if (!strcmp(a, "--size")) size = atoi(v);
    else if (!strcmp(a, "--n")) n = atoi(v);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--itr")) itr = v;
    else if (!strcmp(a, "--k")) k = atoi(v);
    else return usage(stderr);
  }
  if (!input || !out || n < 1 || size < 8 || k < 0 || k > 16) return usage(stderr);
  eq_aug_config cfg[2];
  for (int v = 0; v < 2; v++) {
    if (config) {
      eq_json *j = eq_json_read_file(config);
      eq_status st = j ? eq_aug_config_from_json(j, v, &cfg[v]) : eq_error_code();
      eq_json_free(j);
      if (st) return fail();
    } else if (eq_aug_preset(preset, size, v, &cfg[v])) {
      return fail();
    }
  }
  eq_g_config g = {0};
  if (itr) {
    unsigned kinds;
    if (eq_g_kinds_parse(itr, &kinds)) return fail();
    eq_g_config_default(&g, kinds);
  }
  eq_image img;
  if (eq_image_read(input, 3, &img) || eq_mkdirs(out)) return fail();
  int H = cfg[0].out_h, W = cfg[0].out_w;
  size_t chw = (size_t)3 * H * W;
  float *buf = malloc(chw * sizeof(float)), *u = malloc(chw * sizeof(float));
  eq_tf_workspace ws = {0};
  int rc = buf && u ? 0 : 1;
  char path[4096];
  for (int i = 0; i < n && !rc; i++) {
    eq_philox rng = eq_philox_init(seed, (uint64_t)i);
    for (int v = 0; v < 2 && !rc; v++) {
      const eq_aug_config *c = &cfg[v];
      if (c->out_h != H || c->out_w != W) {
        eq_error(EQ_ERR_VALUE, "the two views differ in size");
        rc = fail();
        break;
      }
      eq_aug_params p;
      eq_aug_sample(c, img.width, img.height, &rng, &p);
      const float *mean = c->normalize ? c->mean : NULL, *std = c->normalize ? c->std : NULL;
      eq_g_params gp = {0};
      int use_g = itr && v == 1;
      eq_status st = eq_aug_apply(c, &p, &img, !use_g, use_g ? u : buf, &ws);
      if (!st && use_g) {
        eq_g_sample(&g, W < H ? W : H, &rng, &gp);
        st = eq_g_apply(&gp, u, H, W, g.blur_kernel, mean, std, buf, &ws);
        for (int j = 1; j <= k && !st; j++) {
          eq_g_params gj = eq_g_params_at(&gp, (float)j / (float)(k + 1));
          float *t = malloc(chw * sizeof(float));
          st = t ? eq_g_apply(&gj, u, H, W, g.blur_kernel, mean, std, t, &ws) : eq_error(EQ_ERR_MEMORY, "out of memory");
          snprintf(path, sizeof path, "%s/pair%d_target%d.png", out, i, j);
          if (!st) st = eq_tf_write_png(path, t, 3, H, W, mean, std);
          free(t);
        }
      }
      snprintf(path, sizeof path, "%s/pair%d_view%d.png", out, i, v);
      if (!st) st = eq_tf_write_png(path, buf, 3, H, W, mean, std);
      if (st) {
        rc = fail();
        break;
      }
      printf("{\"pair\": %d, \"view\": %d, \"crop\": [%g, %g, %g, %g], \"flip\": %d, \"brightness\": %.6g, "
             "\"contrast\": %.6g, \"saturation\": %.6g, \"hue\": %.6g, \"grayscale\": %g, \"blur_sigma\": %.6g, "
             "\"solarize\": %g",
             i, v, p.crop_x, p.crop_y, p.crop_w, p.crop_h, p.flip, p.brightness, p.contrast, p.saturation, p.hue,
             p.grayscale, p.blur_sigma, p.solarize);
      if (use_g)
        printf(", \"g\": {\"angle\": %.6g, \"tx\": %.6g, \"ty\": %.6g, \"scale\": %.6g, \"brightness\": %.6g, "
               "\"contrast\": %.6g, \"saturation\": %.6g, \"hue\": %.6g, \"blur_sigma\": %.6g}",
               gp.angle, gp.tx, gp.ty, gp.scale, gp.brightness, gp.contrast, gp.saturation, gp.hue, gp.blur_sigma);
      printf("}\n");
    }
  }
  free(buf);
  free(u);
  eq_tf_workspace_free(&ws);
  eq_image_free(&img);
  return rc;
}

EQ_CLI_COMMAND(augment, "augment", "write augmented views of an image and print their parameters", run)
