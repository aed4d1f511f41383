/* Loader: epoch coverage, the same global order and pixels for any number of
 * ranks and threads, ITR targets, render pairs with latents, seek, errors. */
#include "eq_test.h"
#include "equivar/fileio.h"
#include "equivar/loader.h"
#include "equivar/npy.h"

#include <stdlib.h>
#include <string.h>

#define N 23

static eq_dataset *memory_set(void) {
  eq_image *imgs = calloc(N, sizeof *imgs);
  int32_t *labels = calloc(N, sizeof *labels);
  for (int i = 0; i < N; i++) {
    eq_image_alloc(&imgs[i], 16 + i % 3, 12, 3);
    for (int k = 0; k < imgs[i].width * 12 * 3; k++) imgs[i].pixels[k] = (uint8_t)(k * 5 + i * 17);
    labels[i] = i % 5;
  }
  return eq_dataset_from_images("memory", imgs, labels, N, 5);
}

/* All batches of `epochs` epochs of one rank, pixels of view 0 and 1 kept. */
typedef struct run {
  int64_t index[4][N];
  float *pix[2];
  int64_t count;
} run;

static void collect(const eq_dataset *ds, int world, int threads, run *out) {
  size_t chw = 3 * 8 * 8;
  memset(out, 0, sizeof *out);
  out->pix[0] = calloc(2 * N * chw, sizeof(float));
  out->pix[1] = calloc(2 * N * chw, sizeof(float));
  for (int r = 0; r < world; r++) {
    eq_loader_config cfg;
    eq_loader_config_default(&cfg, 8);
    cfg.dataset = ds;
    cfg.global_batch = 8;
    cfg.drop_last = 0;
    cfg.world = world;
    cfg.rank = r;
    cfg.threads = threads;
    cfg.prefetch = 2;
    cfg.seed = 99;
    eq_loader *l = eq_loader_new(&cfg);
    CHECK_MSG(l != NULL, "%s", eq_error_message());
    if (!l) return;
    CHECK(eq_loader_steps_per_epoch(l) == 3);
    for (int e = 0; e < 2; e++)
      for (int s = 0; s < 3; s++) {
        const eq_batch *b = eq_loader_next(l);
        CHECK(b && b->epoch == e && b->step == s);
        if (!b) return;
        int g = s * 8 < N - 8 ? 8 : N - s * 8; /* global batch size */
        CHECK(b->n == g * (r + 1) / world - g * r / world);
        for (int i = 0; i < b->n; i++) {
          int64_t pos = b->global_offset + i;
          out->index[e][pos] = b->indices[i];
          CHECK(b->labels[i] == b->indices[i] % 5);
          memcpy(out->pix[0] + (e * N + pos) * chw, b->view[0] + i * chw, chw * sizeof(float));
          memcpy(out->pix[1] + (e * N + pos) * chw, b->view[1] + i * chw, chw * sizeof(float));
          out->count++;
        }
      }
    eq_loader_free(l);
  }
}

static void test_order_and_sharding(void) {
  eq_dataset *ds = memory_set();
  run one, many, threads;
  collect(ds, 1, 1, &one);
  CHECK(one.count == 2 * N);
  for (int e = 0; e < 2; e++) {
    int seen[N] = {0};
    for (int p = 0; p < N; p++) seen[one.index[e][p]]++;
    int all = 1;
    for (int i = 0; i < N; i++) all &= seen[i] == 1;
    CHECK_MSG(all, "epoch %d is not a permutation", e);
  }
  CHECK(memcmp(one.index[0], one.index[1], sizeof one.index[0]) != 0);
  for (int world = 2; world <= 3; world++) {
    collect(ds, world, 2, &many);
    CHECK(many.count == 2 * N);
    CHECK_MSG(memcmp(one.index, many.index, sizeof one.index) == 0, "world %d changes the order", world);
    CHECK_MSG(memcmp(one.pix[0], many.pix[0], 2 * N * 192 * sizeof(float)) == 0 &&
                  memcmp(one.pix[1], many.pix[1], 2 * N * 192 * sizeof(float)) == 0,
              "world %d changes the pixels", world);
    free(many.pix[0]);
    free(many.pix[1]);
  }
  collect(ds, 1, 4, &threads);
  CHECK(memcmp(one.pix[0], threads.pix[0], 2 * N * 192 * sizeof(float)) == 0);
  /* The two views differ (independent augmentations). */
  CHECK(memcmp(one.pix[0], one.pix[1], 192 * sizeof(float)) != 0);
  free(threads.pix[0]);
  free(threads.pix[1]);
  free(one.pix[0]);
  free(one.pix[1]);
  int64_t perm[50];
  eq_loader_permutation(5, 3, 50, perm);
  int seen[50] = {0}, ok = 1;
  for (int i = 0; i < 50; i++) seen[perm[i]]++;
  for (int i = 0; i < 50; i++) ok &= seen[i] == 1;
  CHECK(ok);
  eq_dataset_free(ds);
}

static void test_itr_and_seek(void) {
  eq_dataset *ds = memory_set();
  eq_loader_config cfg;
  eq_loader_config_default(&cfg, 8);
  const char *text = "{\"batch\": 4, \"seed\": 3, \"threads\": 2, \"augment\": {\"preset\": \"vicreg\", \"size\": 8},"
                     " \"itr\": {\"K\": 2, \"transform\": {\"kind\": \"se2\"}}}";
  eq_json *j = eq_json_parse(text, strlen(text), "loader.json");
  CHECK(j && eq_loader_config_from_json(j, &cfg) == EQ_OK);
  eq_json_free(j);
  cfg.dataset = ds;
  eq_loader *l = eq_loader_new(&cfg);
  CHECK_MSG(l != NULL, "%s", eq_error_message());
  if (!l) return;
  CHECK(eq_loader_steps_per_epoch(l) == 5); /* 23 / 4, last partial dropped */
  size_t chw = 192;
  float u[192], want[192];
  eq_tf_workspace ws = {0};
  float saved[192];
  int64_t saved_index = -1;
  for (int s = 0; s < 7; s++) {
    const eq_batch *b = eq_loader_next(l);
    CHECK(b && b->k == 2 && b->targets && b->g);
    if (!b) break;
    if (s == 6) { /* epoch 1, step 1 */
      CHECK(b->epoch == 1 && b->step == 1);
      memcpy(saved, b->view[1] + chw, sizeof saved);
      saved_index = b->indices[1];
    }
    if (s != 2) continue;
    for (int i = 0; i < b->n; i++) {
      eq_sample smp;
      CHECK(eq_dataset_get(ds, (size_t)b->indices[i], 0, &smp) == EQ_OK);
      CHECK(eq_aug_apply(&cfg.aug[1], &b->params[1][i], &smp.image, 0, u, &ws) == EQ_OK);
      CHECK(eq_g_apply(&b->g[i], u, 8, 8, 0, cfg.aug[1].mean, cfg.aug[1].std, want, &ws) == EQ_OK);
      CHECK(memcmp(want, b->view[1] + i * chw, sizeof want) == 0);
      for (int k = 1; k <= 2; k++) {
        eq_g_params gk = eq_g_params_at(&b->g[i], k / 3.0f);
        CHECK(eq_g_apply(&gk, u, 8, 8, 0, cfg.aug[1].mean, cfg.aug[1].std, want, &ws) == EQ_OK);
        CHECK(memcmp(want, b->targets + ((k - 1) * b->n + i) * chw, sizeof want) == 0);
      }
      CHECK(fabsf(b->g[i].angle) <= 45.0f && b->g[i].blur_sigma == 0.0f);
      eq_aug_config a0 = cfg.aug[0];
      CHECK(eq_aug_apply(&a0, &b->params[0][i], &smp.image, 1, want, &ws) == EQ_OK);
      CHECK(memcmp(want, b->view[0] + i * chw, sizeof want) == 0);
      eq_sample_free(&smp);
    }
  }
  /* Resume: seek back to (1, 1) gives the same batch again. */
  CHECK(eq_loader_seek(l, 1, 1) == EQ_OK);
  const eq_batch *b = eq_loader_next(l);
  CHECK(b && b->epoch == 1 && b->step == 1 && b->indices[1] == saved_index);
  CHECK(b && memcmp(saved, b->view[1] + chw, sizeof saved) == 0);
  CHECK(eq_loader_seek(l, 0, 9) == EQ_ERR_VALUE);
  eq_loader_free(l);
  eq_tf_workspace_free(&ws);
  eq_dataset_free(ds);
}

static char dir[] = "/tmp/eq_test_loader_XXXXXX";

static void test_render_pairs_and_errors(void) {
  if (!mkdtemp(dir)) return;
  char path[1024];
  const char *objs[] = {"01/a", "01/b", "02/c"};
  for (int o = 0; o < 3; o++)
    for (int v = 0; v < 4; v++) {
      snprintf(path, sizeof path, "%s/%s", dir, objs[o]);
      eq_mkdirs(path);
      eq_image img;
      eq_image_alloc(&img, 10, 10, 3);
      memset(img.pixels, 40 * v + o, 300);
      snprintf(path, sizeof path, "%s/%s/image_%d.png", dir, objs[o], v);
      eq_image_write_png(path, &img);
      eq_image_free(&img);
      float lat[7] = {(float)(o * 10 + v), 1, 2, 3, 4, 5, 6};
      int64_t shape = 7;
      snprintf(path, sizeof path, "%s/%s/latent_%d.npy", dir, objs[o], v);
      eq_npy_save(path, "<f4", 1, &shape, lat);
    }
  eq_dataset *ds = eq_dataset_open_3diebench(dir, NULL, 0, 3);
  CHECK_MSG(ds != NULL, "%s", eq_error_message());
  if (!ds) return;
  eq_loader_config cfg;
  eq_loader_config_default(&cfg, 10);
  cfg.mode = EQ_LOADER_RENDER_PAIRS;
  eq_aug_preset("3diebench", 10, 0, &cfg.aug[0]);
  eq_aug_preset("3diebench", 10, 1, &cfg.aug[1]);
  cfg.dataset = ds;
  cfg.global_batch = 3;
  eq_loader *l = eq_loader_new(&cfg);
  CHECK_MSG(l != NULL, "%s", eq_error_message());
  for (int s = 0; l && s < 4; s++) {
    const eq_batch *b = eq_loader_next(l);
    CHECK(b && b->n == 3 && b->latent_dim == 7);
    for (int i = 0; b && i < 3; i++) {
      int r0 = b->render[2 * i], r1 = b->render[2 * i + 1];
      CHECK(r0 != r1 && r0 >= 0 && r0 < 4 && r1 >= 0 && r1 < 4);
      CHECK(b->latents[0][i * 7] == (float)(b->indices[i] * 10 + r0));
      CHECK(b->latents[1][i * 7] == (float)(b->indices[i] * 10 + r1));
      CHECK(b->labels[i] == (b->indices[i] == 2));
      /* flat image of value 40 r + o, normalised with the 3DIEBench stats */
      float want = ((40 * r1 + (float)b->indices[i]) / 255.0f - 0.5037f) / 0.0999f;
      CHECK_CLOSE(b->view[1][i * 300 + 100 + 55], want, 1e-5, 1e-5);
    }
  }
  eq_loader_free(l);
  /* Single mode over every (object, view). */
  cfg.mode = EQ_LOADER_SINGLE;
  cfg.all_views = 1;
  cfg.global_batch = 12;
  l = eq_loader_new(&cfg);
  if (l) {
    const eq_batch *b = eq_loader_next(l);
    int seen[12] = {0};
    for (int i = 0; b && i < 12; i++) seen[b->indices[i] * 4 + b->render[2 * i]]++;
    int ok = 1;
    for (int i = 0; i < 12; i++) ok &= seen[i] == 1;
    CHECK(ok && eq_loader_epoch_items(l) == 12);
    eq_loader_free(l);
  }
  /* A corrupt render stops the loader with the file's name. */
  snprintf(path, sizeof path, "%s/02/c/image_3.png", dir);
  eq_atomic_file f;
  eq_atomic_open(&f, path);
  fputs("\x89PNG\r\n\x1a\n garbage", f.fp);
  eq_atomic_commit(&f);
  cfg.all_views = 1;
  cfg.global_batch = 12;
  l = eq_loader_new(&cfg);
  CHECK(l != NULL);
  if (l) {
    const eq_batch *b = eq_loader_next(l);
    CHECK(b == NULL && strstr(eq_error_message(), "c/image_3.png") != NULL);
    eq_loader_free(l);
  }
  /* Bad configs are refused with the field named. */
  cfg.mode = EQ_LOADER_TWO_VIEWS;
  cfg.all_views = 0;
  cfg.rank = 2;
  cfg.world = 2;
  CHECK(eq_loader_new(&cfg) == NULL && strstr(eq_error_message(), "rank"));
  cfg.rank = 0;
  cfg.global_batch = 100;
  CHECK(eq_loader_new(&cfg) == NULL && strstr(eq_error_message(), "global batch"));
  eq_dataset_free(ds);
  snprintf(path, sizeof path, "rm -rf %s", dir);
  if (system(path) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
  test_order_and_sharding();
  test_itr_and_seek();
  test_render_pairs_and_errors();
  return EQ_TEST_SUMMARY();
}
