/* Timings of the non-convolution NN ops at the shapes of the issue-2
 * benchmark models (batch 64): ViT-Tiny's attention, GELU, layer norm and
 * linear layers, ResNet-18's batch norm and max pool. Forward and backward
 * through the public API and the tape, best of `reps` after a warm-up.
 *
 *   build/bench/nn_ops_bench [reps] [name filter]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_args.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

/* One thread: process CPU seconds, as the shared machine's wall clock
 * counts other jobs' time on our core. More threads: wall seconds, since
 * the process clock lags for the other threads while they run (it showed
 * twice the machine's peak). */
static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(eq_num_threads() == 1 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef eq_tensor *(*fwd_fn)(eq_tensor **in, void *ctx);

static const char *only; /* run only cases whose name contains this */

/* A case whose name contains the filter, or a group of cases (named by
 * their common prefix) whose name the filter contains: "qkv_attention
 * 4160" runs that one case of the "qkv_attention" group. */
static bool wanted(const char *name) { return !only || strstr(name, only) || strstr(only, name); }

/* Prints the best forward and backward times. */
static void timeit(const char *name, fwd_fn f, void *ctx, int n, eq_tensor **in, double flop, double bytes, int reps) {
  if (!wanted(name)) return;
  eq_arena *arena = eq_arena_new(64 << 20);
  double bf = 1e30, bb = 1e30;
  for (int r = 0; r <= reps; r++) {
    eq_arena_set_current(arena);
    double t0 = cpu_seconds();
    eq_tensor *y = f(in, ctx);
    double t1 = cpu_seconds();
    if (!y) {
      fprintf(stderr, "%s: %s\n", name, eq_error_message());
      exit(1);
    }
    eq_tensor *dy = eq_ones(y->dtype, y->ndim, y->shape);
    double t2 = cpu_seconds();
    if (eq_backward_with(y, dy)) {
      fprintf(stderr, "%s: %s\n", name, eq_error_message());
      exit(1);
    }
    double t3 = cpu_seconds();
    if (r > 0) {
      bf = t1 - t0 < bf ? t1 - t0 : bf;
      bb = t3 - t2 < bb ? t3 - t2 : bb;
    }
    eq_tape_clear();
    eq_arena_reset(arena);
    /* Parameter gradients persist across steps, zeroed (as SGD does). */
    for (int k = 0; k < n; k++)
      if (in[k]->grad) eq_fill_(in[k]->grad, 0);
  }
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  printf("%-28s fwd %8.3f ms  bwd %8.3f ms", name, bf * 1e3, bb * 1e3);
  if (flop > 0) printf("   %6.1f / %6.1f GFLOP/s", flop / bf / 1e9, 2 * flop / bb / 1e9);
  if (bytes > 0) printf("   fwd %5.1f GB/s", bytes / bf / 1e9);
  printf("\n");
}

static eq_tensor *p_att(eq_tensor **in, void *c) { return eq_attention(in[0], in[1], in[2], NULL, 0); }
static eq_tensor *p_att_qkv(eq_tensor **in, void *c) { return eq_attention_qkv(in[0], 3, NULL, 0); }
static eq_tensor *p_qkv_att(eq_tensor **in, void *c) { return eq_qkv_attention(in[0], in[1], in[2], 3, 0); }
/* the same as separate ops, as the ViT block ran them before eq_qkv_attention */
static eq_tensor *p_qkv_att_ops(eq_tensor **in, void *c) {
  return eq_attention_qkv(eq_linear(in[0], in[1], in[2]), 3, NULL, 0);
}
static eq_tensor *p_self_att(eq_tensor **in, void *c) {
  return eq_self_attention(in[0], in[1], in[2], in[3], in[4], in[5], 3, 0);
}
/* and with the output projection and skip connection as eq_linear_add */
static eq_tensor *p_self_att_ops(eq_tensor **in, void *c) {
  return eq_linear_add(eq_qkv_attention(in[0], in[1], in[2], 3, 0), in[3], in[4], in[5]);
}
static eq_tensor *p_gelu(eq_tensor **in, void *c) { return eq_gelu(in[0], false); }
static eq_tensor *p_ln(eq_tensor **in, void *c) { return eq_layer_norm(in[0], in[1], in[2], 1e-6); }
static eq_tensor *p_lin(eq_tensor **in, void *c) { return eq_linear(in[0], in[1], in[2]); }
static eq_tensor *p_mlp(eq_tensor **in, void *c) { return eq_mlp_gelu(in[0], in[1], in[2], in[3], in[4], in[5]); }
/* the same as separate ops, as the ViT block ran them before eq_mlp_gelu */
static eq_tensor *p_mlp_ops(eq_tensor **in, void *c) {
  return eq_linear_add(eq_gelu(eq_linear(in[0], in[1], in[2]), false), in[3], in[4], in[5]);
}
static eq_tensor *p_bn(eq_tensor **in, void *c) {
  return eq_batch_norm(in[0], in[1], in[2], NULL, NULL, true, 0.1, 1e-5);
}
/* a ResNet block's end: relu(bn(x) + identity), fused and as the three ops */
static eq_tensor *p_bn_relu(eq_tensor **in, void *c) {
  return eq_batch_norm_relu(in[0], in[1], in[2], NULL, NULL, true, 0.1, 1e-5, in[3]);
}
static eq_tensor *p_bn_relu_ops(eq_tensor **in, void *c) {
  return eq_relu(eq_add(eq_batch_norm(in[0], in[1], in[2], NULL, NULL, true, 0.1, 1e-5), in[3]));
}
static eq_tensor *p_mp(eq_tensor **in, void *c) {
  return eq_max_pool2d(in[0], (int[]){3, 3}, (int[]){2, 2}, (int[]){1, 1});
}

static eq_tensor *leaf(int ndim, const int64_t *shape, uint64_t seed) {
  eq_tensor *t = eq_rand_normal(EQ_F32, ndim, shape, 0, 1, seed, 0);
  eq_set_requires_grad(t, true);
  return t;
}
#define LEAF(seed, ...) leaf(EQ_DIMS(__VA_ARGS__), seed)

int main(int argc, char **argv) {
  const char *usage = "nn_ops_bench [reps=5] [name filter]";
  bench_help(argc, argv, usage);
  int reps = (int)bench_long_arg(argc, argv, 1, "reps", 5, 1, 1000, usage);
  only = argc > 2 ? argv[2] : NULL;
  printf(
      "threads=%d reps=%d (best of reps, CPU time on 1 thread, else wall time; backward GFLOP/s counts 2x forward)\n",
      eq_num_threads(), reps);
  eq_tensor *in[6];
  /* ViT-Tiny: 64 images x 3 heads, 65 tokens, head dim 64; separate q, k,
   * v and the fused qkv projection the model uses */
  if (wanted("attention [64,3,65,64]")) {
    in[0] = LEAF(1, 64, 3, 65, 64), in[1] = LEAF(2, 64, 3, 65, 64), in[2] = LEAF(3, 64, 3, 65, 64);
    timeit("attention [64,3,65,64]", p_att, NULL, 3, in, 4.0 * 64 * 3 * 65 * 65 * 64, 0, reps);
    for (int k = 0; k < 3; k++) eq_tensor_free(in[k]);
  }
  if (wanted("attention_qkv [64,65,576] 3 heads")) {
    in[0] = LEAF(7, 64, 65, 576);
    timeit("attention_qkv [64,65,576] 3 heads", p_att_qkv, NULL, 1, in, 4.0 * 64 * 3 * 65 * 65 * 64, 0, reps);
    eq_tensor_free(in[0]);
  }
  /* ViT-Tiny's qkv projection and attention, fused and as two ops */
  if (wanted("qkv_attention") || wanted("self_attention")) {
    in[0] = LEAF(30, 64, 65, 192), in[1] = LEAF(31, 576, 192), in[2] = LEAF(32, 576);
    double flop = 2.0 * 4160 * 192 * 576 + 4.0 * 64 * 3 * 65 * 65 * 64;
    timeit("qkv_attention 4160x192, 3 heads", p_qkv_att, NULL, 3, in, flop, 0, reps);
    timeit("qkv_attention as separate ops", p_qkv_att_ops, NULL, 3, in, flop, 0, reps);
    in[3] = LEAF(33, 192, 192), in[4] = LEAF(34, 192), in[5] = LEAF(35, 64, 65, 192);
    flop += 2.0 * 4160 * 192 * 192;
    timeit("self_attention 4160x192, 3 heads", p_self_att, NULL, 6, in, flop, 0, reps);
    timeit("self_attention as qkv_attention + linear_add", p_self_att_ops, NULL, 6, in, flop, 0, reps);
    for (int k = 0; k < 6; k++) eq_tensor_free(in[k]);
  }
  if (wanted("gelu [64,65,768]")) { /* the MLP's activation */
    in[0] = LEAF(8, 64, 65, 768);
    timeit("gelu [64,65,768]", p_gelu, NULL, 1, in, 0, 2.0 * 4 * 64 * 65 * 768, reps);
    eq_tensor_free(in[0]);
  }
  in[0] = LEAF(4, 64, 65, 192), in[1] = LEAF(5, 192), in[2] = LEAF(6, 192);
  timeit("layer_norm [64,65,192]", p_ln, NULL, 3, in, 0, 2.0 * 4 * 64 * 65 * 192, reps);
  eq_tensor_free(in[1]), eq_tensor_free(in[2]);
  const int64_t lin[][2] = {{192, 576}, {192, 192}, {192, 768}, {768, 192}};
  for (int i = 0; i < 4; i++) {
    in[1] = LEAF(7 + i, lin[i][1], lin[i][0]), in[2] = LEAF(8 + i, lin[i][1]);
    char name[64];
    snprintf(name, sizeof name, "linear 4160x%lld->%lld", (long long)lin[i][0], (long long)lin[i][1]);
    eq_tensor *x = in[0];
    if (lin[i][0] != 192) x = in[0] = LEAF(20 + i, 64, 65, lin[i][0]);
    timeit(name, p_lin, NULL, 3, in, 2.0 * 4160 * lin[i][0] * lin[i][1], 0, reps);
    eq_tensor_free(in[1]), eq_tensor_free(in[2]);
    if (x != in[0] || lin[i][0] != 192) eq_tensor_free(x), in[0] = LEAF(4, 64, 65, 192);
  }
  eq_tensor_free(in[0]);
  /* ViT-Tiny's MLP with its skip connection: fused, and as separate ops */
  if (wanted("mlp_gelu")) {
    in[0] = LEAF(70, 64, 65, 192), in[1] = LEAF(71, 768, 192), in[2] = LEAF(72, 768), in[3] = LEAF(73, 192, 768);
    in[4] = LEAF(74, 192), in[5] = LEAF(75, 64, 65, 192);
    double flop = 2.0 * 2 * 4160 * 192 * 768;
    timeit("mlp_gelu 4160x192->768->192", p_mlp, NULL, 6, in, flop, 0, reps);
    timeit("mlp_gelu as separate ops", p_mlp_ops, NULL, 6, in, flop, 0, reps);
    for (int k = 0; k < 6; k++) eq_tensor_free(in[k]);
  }
  /* ResNet-18 at 64x64: bn1 on conv1's output, layer1's bn, max pool */
  const int64_t bns[][4] = {{64, 64, 32, 32}, {64, 64, 16, 16}, {64, 512, 2, 2}};
  for (int i = 0; i < 3 && wanted("batch_norm"); i++) {
    in[0] = leaf(4, bns[i], 30 + i), in[1] = LEAF(40 + i, bns[i][1]), in[2] = LEAF(50 + i, bns[i][1]);
    char name[64];
    snprintf(name, sizeof name, "batch_norm [%lld,%lld,%lld,%lld]", (long long)bns[i][0], (long long)bns[i][1],
             (long long)bns[i][2], (long long)bns[i][3]);
    timeit(name, p_bn, NULL, 3, in, 0, 2.0 * 4 * bns[i][0] * bns[i][1] * bns[i][2] * bns[i][3], reps);
    for (int k = 0; k < 3; k++) eq_tensor_free(in[k]);
  }
  if (wanted("batch_norm_relu")) {
    in[0] = LEAF(64, 64, 64, 16, 16), in[1] = LEAF(65, 64), in[2] = LEAF(66, 64), in[3] = LEAF(67, 64, 64, 16, 16);
    double bytes = 3.0 * 4 * 64 * 64 * 16 * 16; /* x and the residual in, the output out */
    timeit("batch_norm_relu [64,64,16,16] + residual", p_bn_relu, NULL, 4, in, 0, bytes, reps);
    timeit("batch_norm_relu as separate ops", p_bn_relu_ops, NULL, 4, in, 0, bytes, reps);
    for (int k = 0; k < 4; k++) eq_tensor_free(in[k]);
  }
  /* a VICReg projector's BatchNorm1d */
  if (wanted("batch_norm [256,8192]")) {
    in[0] = LEAF(61, 256, 8192), in[1] = LEAF(62, 8192), in[2] = LEAF(63, 8192);
    timeit("batch_norm [256,8192]", p_bn, NULL, 3, in, 0, 2.0 * 4 * 256 * 8192, reps);
    for (int k = 0; k < 3; k++) eq_tensor_free(in[k]);
  }
  if (wanted("max_pool2d 3/2 [64,64,32,32]")) {
    in[0] = LEAF(60, 64, 64, 32, 32);
    timeit("max_pool2d 3/2 [64,64,32,32]", p_mp, NULL, 1, in, 0, 1.25 * 4 * 64 * 64 * 32 * 32, reps);
    eq_tensor_free(in[0]);
  }
  return 0;
}
