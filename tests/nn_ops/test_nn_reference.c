/* Float32 forward outputs and gradients of the NN ops against PyTorch
 * (tests/data/nn_ops, written by scripts/gen_nn_ops_reference.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/npy.h"
#include "equivar/ops.h"

#define MAX_IN 3

static const char *data_dir(void) {
  const char *d = getenv("EQ_TEST_DATA");
  return d ? d : "tests/data";
}

/* tests/data/nn_ops/<case>.<name>.npy as a heap tensor (float32, or bool). */
static eq_tensor *load(const char *c, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/nn_ops/%s.%s.npy", data_dir(), c, name);
  eq_npy_info info;
  void *data = NULL;
  if (eq_npy_load(path, &info, &data)) {
    fprintf(stderr, "cannot load %s: %s\n", path, eq_error_message());
    exit(1);
  }
  eq_dtype dt;
  if (eq_dtype_from_npy(info.descr, &dt)) {
    fprintf(stderr, "%s: %s\n", path, eq_error_message());
    exit(1);
  }
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *t = eq_from_data(dt, info.ndim, info.shape, data);
  eq_arena_set_current(prev);
  free(data);
  return t;
}

/* max |a - b| / (atol + rtol |b|) <= 1 over all elements. */
static void compare(const char *c, const char *what, const eq_tensor *got, const eq_tensor *want, double rtol,
                    double atol) {
  CHECK_MSG(got && eq_same_shape(got, want), "%s: %s has the wrong shape", c, what);
  if (!got || !eq_same_shape(got, want)) return;
  double worst = 0;
  int64_t at = 0, n = eq_numel(want);
  for (int64_t i = 0; i < n; i++) {
    double a = eq_get_flat(got, i), b = eq_get_flat(want, i);
    double r = fabs(a - b) / (atol + rtol * fabs(b));
    if (!(r <= worst)) worst = r, at = i;
  }
  CHECK_MSG(worst <= 1, "%s: %s element %lld: %.8g vs PyTorch %.8g", c, what, (long long)at, eq_get_flat(got, at),
            eq_get_flat(want, at));
}

typedef eq_tensor *(*op_fn)(eq_tensor **in, const char *c);

/* Loads the named inputs, runs op, backpropagates dy and compares y and
 * every input gradient. */
static void run_case(const char *c, op_fn op, int n, const char *const *names, double rtol, double atol) {
  eq_arena *arena = eq_arena_new(1 << 20);
  eq_arena_set_current(arena);
  eq_tensor *in[MAX_IN];
  for (int k = 0; k < n; k++) {
    in[k] = load(c, names[k]);
    eq_set_requires_grad(in[k], true);
  }
  eq_tensor *y = op(in, c);
  CHECK_MSG(y != NULL, "%s: %s", c, eq_error_message());
  if (y) {
    eq_tensor *want = load(c, "y"), *dy = load(c, "dy");
    compare(c, "output", y, want, rtol, atol);
    CHECK_MSG(eq_backward_with(y, dy) == EQ_OK, "%s: %s", c, eq_error_message());
    for (int k = 0; k < n; k++) {
      char gname[32];
      snprintf(gname, sizeof gname, "d%s", names[k]);
      eq_tensor *g = load(c, gname);
      compare(c, gname, in[k]->grad, g, rtol, atol);
      eq_tensor_free(g);
    }
    eq_tensor_free(want);
    eq_tensor_free(dy);
  }
  eq_tape_clear();
  for (int k = 0; k < n; k++) eq_tensor_free(in[k]);
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
}

static eq_tensor *op_linear(eq_tensor **in, const char *c) { return eq_linear(in[0], in[1], in[2]); }
static eq_tensor *op_conv(eq_tensor **in, const char *c) {
  eq_conv2d_params p = {{1, 1}, {0, 0}, {1, 1}, 1, {0, 0}};
  if (!strcmp(c, "conv_a")) p = (eq_conv2d_params){{2, 2}, {1, 1}, {1, 1}, 2, {0, 0}};
  if (!strcmp(c, "conv_b")) p = (eq_conv2d_params){{1, 2}, {2, 1}, {2, 1}, 1, {0, 0}};
  if (!strcmp(c, "conv_c")) return eq_conv2d(in[0], in[1], NULL, &(eq_conv2d_params){{2, 2}, {0, 0}, {1, 1}, 1, {0, 0}});
  return eq_conv2d(in[0], in[1], in[2], &p);
}
static eq_tensor *op_convt(eq_tensor **in, const char *c) {
  eq_conv2d_params p = {{2, 2}, {1, 1}, {1, 1}, 3, {1, 1}};
  if (!strcmp(c, "convt_b")) p = (eq_conv2d_params){{1, 2}, {0, 1}, {2, 1}, 1, {0, 0}};
  return eq_conv_transpose2d(in[0], in[1], in[2], &p);
}
static eq_tensor *op_pool(eq_tensor **in, const char *c) {
  if (!strcmp(c, "maxpool")) return eq_max_pool2d(in[0], (int[]){3, 3}, (int[]){2, 2}, (int[]){1, 1});
  if (!strcmp(c, "avgpool_pad")) return eq_avg_pool2d(in[0], (int[]){3, 3}, (int[]){2, 2}, (int[]){1, 1}, true);
  if (!strcmp(c, "avgpool_nopad")) return eq_avg_pool2d(in[0], (int[]){3, 2}, (int[]){2, 1}, (int[]){1, 1}, false);
  if (!strcmp(c, "adaptive")) return eq_adaptive_avg_pool2d(in[0], 3, 4);
  if (!strcmp(c, "nearest")) return eq_upsample_nearest2d(in[0], 9, 7);
  if (!strcmp(c, "nearest2x")) return eq_upsample_nearest2d(in[0], 10, 8);
  if (!strcmp(c, "bilinear")) return eq_upsample_bilinear2d(in[0], 9, 7, false);
  if (!strcmp(c, "bilinear_ac")) return eq_upsample_bilinear2d(in[0], 9, 7, true);
  return eq_upsample_bilinear2d(in[0], 3, 3, false);
}

static eq_tensor *bn_rm, *bn_rv;
static eq_tensor *op_bn(eq_tensor **in, const char *c) {
  return eq_batch_norm(in[0], in[1], in[2], bn_rm, bn_rv, strcmp(c, "bn_eval") != 0, 0.1, 1e-5);
}
static eq_tensor *op_ln(eq_tensor **in, const char *c) { return eq_layer_norm(in[0], in[1], in[2], 1e-5); }

static eq_tensor *att_mask;
static eq_tensor *op_att(eq_tensor **in, const char *c) {
  return eq_attention(in[0], in[1], in[2], att_mask, strcmp(c, "attn_bool") ? 0 : 0.5);
}

int main(void) {
  const char *xwb[] = {"x", "w", "b"}, *qkv[] = {"q", "k", "v"};
  run_case("linear", op_linear, 3, xwb, 1e-4, 1e-5);
  run_case("conv_a", op_conv, 3, xwb, 1e-4, 1e-4);
  run_case("conv_b", op_conv, 3, xwb, 1e-4, 1e-4);
  run_case("conv_c", op_conv, 2, xwb, 1e-4, 1e-4);
  run_case("convt_a", op_convt, 3, xwb, 1e-4, 1e-4);
  run_case("convt_b", op_convt, 3, xwb, 1e-4, 1e-4);
  const char *pools[] = {"maxpool", "avgpool_pad", "avgpool_nopad", "adaptive", "nearest",
                         "nearest2x", "bilinear", "bilinear_ac", "bilinear_down"};
  for (int i = 0; i < 9; i++) run_case(pools[i], op_pool, 1, xwb, 1e-5, 1e-6);
  const char *bns[] = {"bn4d", "bn2d", "bn_eval", "bn_planes"};
  for (int i = 0; i < 4; i++) {
    bn_rm = load(bns[i], "rm_in");
    bn_rv = load(bns[i], "rv_in");
    run_case(bns[i], op_bn, 3, xwb, 1e-4, 1e-5);
    eq_tensor *rm = load(bns[i], "rm_out"), *rv = load(bns[i], "rv_out");
    compare(bns[i], "running_mean", bn_rm, rm, 1e-5, 1e-6);
    compare(bns[i], "running_var", bn_rv, rv, 1e-5, 1e-6);
    eq_tensor_free(rm), eq_tensor_free(rv), eq_tensor_free(bn_rm), eq_tensor_free(bn_rv);
  }
  run_case("layernorm", op_ln, 3, xwb, 1e-4, 1e-5);
  run_case("attn", op_att, 3, qkv, 1e-4, 1e-5);
  att_mask = load("attn_bool", "mask");
  run_case("attn_bool", op_att, 3, qkv, 1e-4, 1e-5);
  eq_tensor_free(att_mask);
  att_mask = load("attn_float", "mask");
  run_case("attn_float", op_att, 3, qkv, 1e-4, 1e-5);
  eq_tensor_free(att_mask);
  return EQ_TEST_SUMMARY();
}
