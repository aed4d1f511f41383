/* `equivar bench-augment`: two-view augmentation throughput through the
 * loader (decoded in-memory sources, worker threads, float NCHW batches).
 * Used by bench/augment.sh; prints "img/s=<source images per second>". */
#include "cli/cli.h"
#include "equivar/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU seconds of the whole process (all threads): on a shared machine,
 * images per CPU-second is the steadier per-core figure. */
static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int usage(FILE *out) {
  fprintf(out, "usage: equivar bench-augment [--size N] [--src N] [--threads T] [--seconds S] [--images N]\n"
               "                             [--preset vicreg|simclr] [--itr KIND] [--k K]\n"
               "Two-view augmentation of --images decoded RGB sources of --src x --src pixels to\n"
               "--size px views through the loader with T worker threads; prints source images per\n"
               "second of wall time (img/s) and per second of process CPU time (img/cpu-s).\n"
               "--itr adds ITR's transformation g (rotation, se2, ...) and K intermediate targets.\n");
  return out == stdout ? 0 : 2;
}

static int run(int argc, char **argv) {
  if (eq_cli_wants_help(argc, argv)) return usage(stdout);
  int size = 64, src = 96, threads = 1, images = 256, k = 2;
  double seconds = 2.0;
  const char *preset = "vicreg", *itr = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage(stderr);
    if (!strcmp(a, "--size")) size = atoi(v);
    else if (!strcmp(a, "--src")) src = atoi(v);
    else if (!strcmp(a, "--threads")) threads = atoi(v);
    else if (!strcmp(a, "--seconds")) seconds = atof(v);
    else if (!strcmp(a, "--images")) images = atoi(v);
    else if (!strcmp(a, "--preset")) preset = v;
    else if (!strcmp(a, "--itr")) itr = v;
    else if (!strcmp(a, "--k")) k = atoi(v);
    else return usage(stderr);
    i++;
  }
  if (size < 8 || src < 8 || threads < 1 || images < 1 || seconds <= 0) return usage(stderr);
  /* Smooth colour fields plus noise: content does not change the cost of
   * any stage (no data-dependent branches beyond clamping). */
  eq_image *imgs = calloc((size_t)images, sizeof *imgs);
  int32_t *labels = calloc((size_t)images, sizeof *labels);
  if (!imgs || !labels) return 1;
  eq_philox rng = eq_philox_init(1, 0);
  for (int n = 0; n < images; n++) {
    if (eq_image_alloc(&imgs[n], src, src, 3)) return 1;
    for (int y = 0; y < src; y++)
      for (int x = 0; x < src; x++)
        for (int c = 0; c < 3; c++)
          imgs[n].pixels[((size_t)y * src + x) * 3 + c] =
              (uint8_t)((x * (c + 1) + y * (3 - c) + n * 11) % 200 + (eq_philox_u32(&rng) & 31));
  }
  eq_dataset *ds = eq_dataset_from_images("bench", imgs, labels, (size_t)images, 1);
  eq_loader_config cfg;
  eq_loader_config_default(&cfg, size);
  if (eq_aug_preset(preset, size, 0, &cfg.aug[0]) || eq_aug_preset(preset, size, 1, &cfg.aug[1])) {
    fprintf(stderr, "equivar bench-augment: %s\n", eq_error_message());
    return 2;
  }
  if (itr) {
    unsigned kinds;
    if (eq_g_kinds_parse(itr, &kinds)) {
      fprintf(stderr, "equivar bench-augment: %s\n", eq_error_message());
      return 2;
    }
    eq_g_config_default(&cfg.g, kinds);
    cfg.itr_k = k;
  }
  cfg.dataset = ds;
  cfg.global_batch = 32;
  cfg.threads = threads;
  cfg.prefetch = 2 * threads;
  eq_loader *l = eq_loader_new(&cfg);
  if (!l) {
    fprintf(stderr, "equivar bench-augment: %s\n", eq_error_message());
    return 1;
  }
  /* Warm up (first touches of the batch buffers), then time whole batches. */
  for (int i = 0; i < 2; i++) eq_loader_next(l);
  double t0 = eq_now_seconds(), t = t0, c0 = cpu_seconds();
  long done = 0;
  while (t - t0 < seconds) {
    const eq_batch *b = eq_loader_next(l);
    if (!b) {
      fprintf(stderr, "equivar bench-augment: %s\n", eq_error_message());
      return 1;
    }
    done += b->n;
    t = eq_now_seconds();
  }
  double cpu = cpu_seconds() - c0;
  printf("size=%d src=%d threads=%d preset=%s itr=%s images=%ld seconds=%.3f cpu_seconds=%.3f img/s=%.1f "
         "img/cpu-s=%.1f\n", size, src, threads, preset, itr ? itr : "none", done, t - t0, cpu, done / (t - t0),
         done / cpu);
  eq_loader_free(l);
  eq_dataset_free(ds);
  return 0;
}

EQ_CLI_COMMAND(bench_augment, "bench-augment", "benchmark: two-view augmentation throughput (bench/augment.sh)", run)
