/* GFLOP/s of the convolution kernels (forward, backward-data,
 * backward-weight) at torchvision ResNet-18's layer shapes for a batch of 64
 * images of 64x64, plus the whole network's conv time per training step.
 *
 *   build/bench/conv_bench [batch] [reps] [--wall]
 *
 * EQ_CONV_ALGO=im2col or winograd forces one algorithm where both apply.
 *
 * Times are process CPU time / threads (see cpu_seconds). Prints one line per layer shape and a summary line
 * `case=resnet18_convs ... equivar=<GFLOP/s>`. */
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_args.h"
#include "equivar/core.h"
#include "ops/nn/conv_geom.h"

typedef struct layer {
  const char *name, *tag;
  int cin, cout, k, s, p, hin, count; /* count: how many convs of this shape in ResNet-18 */
} layer;

static const layer layers[] = {
    {"conv1 7x7/2", "conv1", 3, 64, 7, 2, 3, 64, 1},
    {"layer1 3x3", "l1_3x3", 64, 64, 3, 1, 1, 16, 4},
    {"layer2 3x3/2", "l2_3x3s2", 64, 128, 3, 2, 1, 16, 1},
    {"layer2 3x3", "l2_3x3", 128, 128, 3, 1, 1, 8, 3},
    {"layer2 ds 1x1/2", "l2_ds", 64, 128, 1, 2, 0, 16, 1},
    {"layer3 3x3/2", "l3_3x3s2", 128, 256, 3, 2, 1, 8, 1},
    {"layer3 3x3", "l3_3x3", 256, 256, 3, 1, 1, 4, 3},
    {"layer3 ds 1x1/2", "l3_ds", 128, 256, 1, 2, 0, 8, 1},
    {"layer4 3x3/2", "l4_3x3s2", 256, 512, 3, 2, 1, 4, 1},
    {"layer4 3x3", "l4_3x3", 512, 512, 3, 1, 1, 2, 3},
    {"layer4 ds 1x1/2", "l4_ds", 256, 512, 1, 2, 0, 4, 1},
};

static float *filled(size_t n, unsigned seed) {
  float *p = eq_malloc(n * sizeof *p);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    p[i] = (float)((seed >> 9) & 0xffff) / 65536.0f - 0.5f;
  }
  return p;
}

/* Process CPU seconds divided by the thread count: on a shared machine the
 * wall clock counts the time other jobs hold our cores; this does not (and
 * counts OpenMP spin-waiting, so it errs on the slow side). */
static bool use_wall; /* --wall: wall-clock seconds instead (to compare with a peer) */
static double cpu_seconds(void) {
  if (use_wall) return eq_now_seconds();
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return ((double)t.tv_sec + 1e-9 * (double)t.tv_nsec) / eq_num_threads();
}

/* Best of `reps` after one warm-up. */
static double best_time(int kind, const eq_conv_geom *g, float *x, float *w, float *y, int reps) {
  double best = 1e30;
  for (int r = 0; r <= reps; r++) {
    double t0 = cpu_seconds();
    if (kind == 0)
      eq_conv_forward_f32(g, x, w, y, 0);
    else if (kind == 1)
      eq_conv_backward_data_f32(g, y, w, x);
    else
      eq_conv_backward_weight_f32(g, x, y, w);
    double t = cpu_seconds() - t0;
    if (r > 0 && t < best) best = t;
  }
  return best;
}

int main(int argc, char **argv) {
  const char *usage = "conv_bench [batch=64] [reps=5] [--wall]";
  bench_help(argc, argv, usage);
  int batch = (int)bench_long_arg(argc, argv, 1, "batch", 64, 1, 4096, usage);
  int reps = (int)bench_long_arg(argc, argv, 2, "reps", 5, 1, 1000, usage);
  if (argc > 3 && strcmp(argv[3], "--wall")) {
    fprintf(stderr, "conv_bench: the third argument can only be --wall, got '%s'\nusage: %s\n", argv[3], usage);
    return 2;
  }
  use_wall = argc > 3;
  /* EQ_CONV_ALGO=im2col|winograd: force one path, to compare them */
  const char *algo = getenv("EQ_CONV_ALGO");
  if (getenv("EQ_WINO_BLOCK_BYTES")) eq_conv_wino_block_bytes = (size_t)atol(getenv("EQ_WINO_BLOCK_BYTES"));
  if (algo) eq_conv_algo = !strcmp(algo, "im2col") ? EQ_CONV_IM2COL : !strcmp(algo, "winograd") ? EQ_CONV_WINOGRAD : EQ_CONV_AUTO;
  printf("threads=%d batch=%d reps=%d (best of reps; %s)\n", eq_num_threads(), batch, reps,
         use_wall ? "wall clock" : "process CPU time / threads");
  printf("%-18s %9s %9s %9s   GFLOP/s: %7s %7s %7s\n", "layer", "MFLOP", "fwd ms", "bwd ms", "fwd", "bwd-dat", "bwd-wt");
  double total_flop = 0, total_time = 0;
  for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
    const layer *l = &layers[i];
    eq_conv_geom g = {batch, l->cin, l->hin, l->hin, l->cout, 0, 0, l->k, l->k, l->s, l->s, l->p, l->p, 1, 1, 1};
    g.Ho = (g.H + 2 * g.ph - g.kh) / g.sh + 1;
    g.Wo = g.Ho;
    size_t nx = (size_t)(g.N * g.C * g.H * g.W), nw = (size_t)(g.Co * g.C * g.kh * g.kw),
           ny = (size_t)(g.N * g.Co * g.Ho * g.Wo);
    float *x = filled(nx, 1), *w = filled(nw, 2), *y = filled(ny, 3);
    double flop = 2.0 * (double)g.N * (double)(g.Co * g.Ho * g.Wo) * (double)(g.C * g.kh * g.kw);
    double tf = best_time(0, &g, x, w, y, reps), td = best_time(1, &g, x, w, y, reps),
           tw = best_time(2, &g, x, w, y, reps);
    /* conv1's input gradient is never needed in training */
    bool need_dx = i != 0;
    printf("%-18s %9.1f %9.2f %9.2f   GFLOP/s: %7.1f %7.1f %7.1f\n", l->name, flop / 1e6, tf * 1e3,
           ((need_dx ? td : 0) + tw) * 1e3, flop / tf / 1e9, flop / td / 1e9, flop / tw / 1e9);
    printf("layer=%s fwd_gflops=%.2f bwd_gflops=%.2f\n", l->tag, flop / tf / 1e9,
           (need_dx ? 2 : 1) * flop / ((need_dx ? td : 0) + tw) / 1e9);
    total_flop += l->count * flop * (need_dx ? 3 : 2);
    total_time += l->count * (tf + (need_dx ? td : 0) + tw);
    eq_free(x), eq_free(w), eq_free(y);
  }
  printf("case=resnet18_convs batch=%d total_gflop=%.2f time_ms=%.1f equivar=%.1f unit=GFLOP/s\n", batch,
         total_flop / 1e9, total_time * 1e3, total_flop / total_time / 1e9);
  return 0;
}
