/* One supervised training step (forward, cross-entropy, backward, SGD with
 * momentum 0.9) of torchvision's ResNet-18 or a ViT-Tiny, timed.
 *
 *   build/bench/train_step <resnet18|vit-tiny> [batch=64] [steps=5] [warmup=2]
 *
 * Images 3x64x64, 128-class head. Prints
 *   model=<m> batch=<b> median_s=<s> images_per_s=<v>
 * with the median over `steps` timed steps after `warmup` untimed ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"
#include "equivar/optim.h"
#include "ops/nn/conv_geom.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *usage = "train_step <resnet18|vit-tiny> [batch=64] [steps=5] [warmup=2]";
  bench_help(argc, argv, usage);
  if (argc < 2 || (strcmp(argv[1], "resnet18") && strcmp(argv[1], "vit-tiny"))) {
    fprintf(stderr, "train_step: the model must be resnet18 or vit-tiny, got '%s'\nusage: %s\n",
            argc < 2 ? "" : argv[1], usage);
    return 2;
  }
  int batch = (int)bench_long_arg(argc, argv, 2, "batch", 64, 1, 4096, usage);
  int steps = (int)bench_long_arg(argc, argv, 3, "steps", 5, 1, 100, usage);
  int warmup = (int)bench_long_arg(argc, argv, 4, "warmup", 2, 0, 100, usage);
  if (getenv("EQ_WINO_BLOCK_BYTES")) eq_conv_wino_block_bytes = (size_t)atol(getenv("EQ_WINO_BLOCK_BYTES"));
  const int size = 64, classes = 128;
  eq_backbone *m;
  if (!strcmp(argv[1], "resnet18")) {
    eq_resnet_config c = {.depth = 18, .width = 64, .num_classes = classes};
    m = eq_resnet_new(&c, 1);
  } else {
    /* ViT-Tiny as in docs/PERFORMANCE.md: patch 8 -> 64 tokens + CLS, dim 192, depth 6, 3 heads, MLP 768. */
    eq_vit_config c = {.image_size = size, .patch_size = 8, .dim = 192, .depth = 6, .heads = 3, .mlp_dim = 768,
                       .num_classes = classes};
    m = eq_vit_new(&c, 1);
  }
  eq_optim_config oc = eq_optim_defaults(EQ_OPTIM_SGD);
  eq_optimizer *opt = m ? eq_optim_new(m->params, &oc) : NULL;
  eq_tensor *x = eq_rand_normal(EQ_F32, EQ_DIMS(batch, 3, size, size), 0, 1, 5, 0);
  eq_tensor *y = eq_empty(EQ_I64, EQ_DIMS(batch));
  eq_arena *arena = eq_arena_new(256 << 20);
  if (!m || !opt || !x || !y || !arena) {
    fprintf(stderr, "train_step: %s\n", eq_error_message());
    return 1;
  }
  for (int i = 0; i < batch; i++) ((int64_t *)eq_data_ptr(y))[i] = (i * 37) % classes;
  double *times = calloc((size_t)steps, sizeof *times);
  for (int s = 0; s < warmup + steps; s++) {
    double t0 = eq_now_seconds();
    eq_arena *prev = eq_arena_set_current(arena);
    eq_backbone_out out;
    eq_tensor *loss = NULL;
    eq_status st = eq_backbone_forward(m, x, true, &out);
    if (!st && !(loss = eq_cross_entropy(out.logits, y, 0.0, -100))) st = eq_error_code();
    eq_params_zero_grad(m->params);
    if (!st) st = eq_backward(loss);
    eq_tape_clear();
    eq_arena_reset(arena);
    eq_arena_set_current(prev);
    if (!st) st = eq_optim_step(opt, 0.01);
    if (st) {
      fprintf(stderr, "train_step: %s\n", eq_error_message());
      return 1;
    }
    if (s >= warmup) times[s - warmup] = eq_now_seconds() - t0;
  }
  qsort(times, (size_t)steps, sizeof *times, cmp);
  double med = steps % 2 ? times[steps / 2] : 0.5 * (times[steps / 2 - 1] + times[steps / 2]);
  printf("model=%s batch=%d median_s=%.4f images_per_s=%.2f\n", argv[1], batch, med, batch / med);
  free(times);
  eq_arena_free(arena);
  eq_tensor_free(x);
  eq_tensor_free(y);
  eq_optim_free(opt);
  eq_backbone_free(m);
  return 0;
}
