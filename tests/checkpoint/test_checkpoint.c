/* Weight files and checkpoints: round trips, resume giving bit-identical
 * results, and every mismatch refused with the model left untouched. */
#include "eq_test.h"
#include "equivar/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/eq_test_ckpt_XXXXXX";

static void path_in(char *buf, const char *name) { snprintf(buf, 512, "%s/%s", dir, name); }

/* A toy model: conv-like weight, bias, a BatchNorm-like buffer pair. */
typedef struct toy {
  eq_params *P;
  eq_tensor *w, *b, *mean, *count, *extra;
} toy;

static toy toy_new(uint64_t seed, int width, bool extra) {
  toy t = {0};
  t.P = eq_params_new();
  CHECK(eq_params_add(t.P, &t.w, "layer", "weight", EQ_DIMS(width, 3, 2, 2), 0, (eq_init){EQ_INIT_KAIMING_UNIFORM_DEFAULT, 0, 0}) == EQ_OK);
  CHECK(eq_params_add(t.P, &t.b, "layer", "bias", EQ_DIMS(width), EQ_PARAM_NO_DECAY, (eq_init){EQ_INIT_FAN_IN_UNIFORM, 12, 0}) == EQ_OK);
  CHECK(eq_params_add_buffer(t.P, &t.mean, "bn", "running_mean", EQ_F32, EQ_DIMS(width), 0.5) == EQ_OK);
  CHECK(eq_params_add_buffer(t.P, &t.count, "bn", "num_batches_tracked", EQ_I64, 0, NULL, 0) == EQ_OK);
  if (extra) CHECK(eq_params_add(t.P, &t.extra, "", "head.weight", EQ_DIMS(2, 2), 0, (eq_init){EQ_INIT_NORMAL, 0, 1}) == EQ_OK);
  CHECK(eq_params_build(t.P, seed) == EQ_OK);
  return t;
}

/* Gradient of 0.5 ||p - 1||^2 plus a step-dependent term, written straight
 * into the flat gradient buffer (no autograd needed). */
static void fake_backward(eq_params *P, int step) {
  for (int64_t i = 0; i < P->numel; i++) P->grad[i] = P->data[i] - 1.0f + 0.01f * (float)((i + step) % 7);
}

static void train(toy *t, eq_optimizer *o, int from, int to) {
  for (int s = from; s < to; s++) {
    eq_params_zero_grad(t->P);
    fake_backward(t->P, s);
    CHECK(eq_optim_step(o, eq_lr_cosine(s, 10, 2, 0.1, 0.0)) == EQ_OK);
    *(int64_t *)eq_data_ptr(t->count) += 1;
    eq_f32(t->mean)[0] += 0.25f;
  }
}

static bool same_values(const eq_params *a, const eq_params *b) {
  if (a->numel != b->numel || memcmp(a->data, b->data, (size_t)a->numel * sizeof(float))) return false;
  for (int i = 0; i < a->count; i++) {
    const eq_tensor *x = a->items[i].tensor, *y = b->items[i].tensor;
    for (int64_t k = 0; k < eq_numel(x); k++)
      if (eq_get_flat(x, k) != eq_get_flat(y, k)) return false;
  }
  return true;
}

static void test_resume(eq_optim_kind kind) {
  char p[512];
  path_in(p, "ckpt.safetensors");
  eq_optim_config cfg = eq_optim_defaults(kind);
  cfg.weight_decay = 1e-2;
  /* A: 10 uninterrupted steps. B: 6 steps, checkpoint, a fresh process state
   * (different seed) restored from it, 4 more steps. */
  toy a = toy_new(1, 4, false), b = toy_new(1, 4, false), c = toy_new(99, 4, false);
  eq_optimizer *oa = eq_optim_new(a.P, &cfg), *ob = eq_optim_new(b.P, &cfg), *oc = eq_optim_new(c.P, &cfg);
  train(&a, oa, 0, 10);
  train(&b, ob, 0, 6);
  eq_checkpoint_info info = {.step = 6};
  snprintf(info.model, sizeof info.model, "toy");
  snprintf(info.config, sizeof info.config, "{\"lr\": 0.1}");
  CHECK(eq_checkpoint_save(p, b.P, ob, &info) == EQ_OK);
  eq_checkpoint_info got;
  CHECK(eq_checkpoint_peek(p, &got) == EQ_OK && got.step == 6 && !strcmp(got.model, "toy"));
  memset(&got, 0, sizeof got);
  CHECK_MSG(eq_checkpoint_load(p, c.P, oc, &got) == EQ_OK, "%s", eq_error_message());
  CHECK(got.step == 6 && !strcmp(got.config, "{\"lr\": 0.1}") && oc->step == 6);
  CHECK(same_values(b.P, c.P));
  train(&c, oc, 6, 10);
  CHECK_MSG(same_values(a.P, c.P), "%s: resumed run differs from the uninterrupted one", eq_optim_kind_name(kind));
  /* The file names its optimiser state as PyTorch does. */
  eq_safetensors *f = eq_safetensors_open(p);
  CHECK(f && eq_safetensors_find(f, kind == EQ_OPTIM_ADAMW ? "optim.exp_avg_sq.layer.weight" : "optim.momentum_buffer.layer.bias"));
  CHECK(f && !strcmp(eq_safetensors_meta(f, "equivar.optimizer"), eq_optim_kind_name(kind)));
  eq_safetensors_close(f);
  eq_optim_free(oa);
  eq_optim_free(ob);
  eq_optim_free(oc);
  eq_params_free(a.P);
  eq_params_free(b.P);
  eq_params_free(c.P);
}

static void expect_refused(const char *what, eq_status st, const char *needle, const toy *t, const toy *before) {
  CHECK_MSG(st != EQ_OK, "%s: accepted", what);
  CHECK_MSG(strstr(eq_error_message(), needle) != NULL, "%s: message '%s' lacks '%s'", what, eq_error_message(), needle);
  CHECK_MSG(same_values(t->P, before->P), "%s: the model changed", what);
}

static void test_errors(void) {
  char p[512], q[512];
  path_in(p, "w.safetensors");
  toy src = toy_new(5, 4, false), dst = toy_new(6, 4, false), dst_copy = toy_new(6, 4, false);
  CHECK(eq_save_weights(p, src.P) == EQ_OK);
  /* Weights-only file: loads, and carries no training metadata. */
  toy ok = toy_new(6, 4, false);
  CHECK(eq_load_weights(p, ok.P, true) == EQ_OK && same_values(ok.P, src.P));
  eq_checkpoint_info info;
  CHECK(eq_checkpoint_peek(p, &info) == EQ_ERR_FORMAT && strstr(eq_error_message(), "equivar.step"));
  /* Missing tensor: the model has head.weight, the file does not. */
  toy bigger = toy_new(6, 4, true), bigger_copy = toy_new(6, 4, true);
  expect_refused("missing", eq_load_weights(p, bigger.P, true), "'head.weight' is missing", &bigger, &bigger_copy);
  CHECK(strstr(eq_error_message(), "w.safetensors"));
  /* Extra tensor: strict refuses it, non-strict ignores it. */
  path_in(q, "big.safetensors");
  CHECK(eq_save_weights(q, bigger.P) == EQ_OK);
  expect_refused("extra", eq_load_weights(q, dst.P, true), "unexpected tensor 'head.weight'", &dst, &dst_copy);
  CHECK(eq_load_weights(q, dst.P, false) == EQ_OK);
  CHECK(eq_params_copy(dst.P, dst_copy.P) == EQ_OK); /* restore */
  /* Shape mismatch names the tensor and both shapes. */
  toy narrow = toy_new(6, 3, false), narrow_copy = toy_new(6, 3, false);
  expect_refused("shape", eq_load_weights(p, narrow.P, true), "'layer.weight' has shape [4, 3, 2, 2], expected [3, 3, 2, 2]",
                 &narrow, &narrow_copy);
  /* Truncated file: the last good file is what counts, and nothing changes. */
  path_in(q, "trunc.safetensors");
  CHECK(eq_save_weights(q, src.P) == EQ_OK);
  CHECK(truncate(q, 200) == 0);
  expect_refused("truncated", eq_load_weights(q, dst.P, true), "trunc.safetensors", &dst, &dst_copy);
  /* Checkpoint for another optimiser, or none at all. */
  eq_optim_config sgd = eq_optim_defaults(EQ_OPTIM_SGD), adam = eq_optim_defaults(EQ_OPTIM_ADAMW);
  eq_optimizer *os = eq_optim_new(src.P, &sgd), *oa = eq_optim_new(dst.P, &adam);
  path_in(q, "sgd.safetensors");
  eq_checkpoint_info in = {.step = 3};
  CHECK(eq_checkpoint_save(q, src.P, os, &in) == EQ_OK);
  expect_refused("optimiser kind", eq_checkpoint_load(q, dst.P, oa, NULL), "holds sgd optimiser state", &dst, &dst_copy);
  expect_refused("no optimiser", eq_checkpoint_load(p, dst.P, oa, NULL), "equivar.step", &dst, &dst_copy);
  /* A checkpoint also loads as plain weights (its optim.* are skipped). */
  CHECK(eq_load_weights(q, dst.P, true) == EQ_OK && same_values(dst.P, src.P));
  CHECK(eq_checkpoint_load(q, dst.P, NULL, &info) == EQ_OK && info.step == 3);
  /* Saving over an existing file is atomic: a failed save (unwritable
   * directory) leaves the old one. */
  CHECK(eq_save_weights("/nonexistent-dir/x.safetensors", src.P) == EQ_ERR_IO);
  eq_optim_free(os);
  eq_optim_free(oa);
  toy *all[] = {&src, &dst, &dst_copy, &ok, &bigger, &bigger_copy, &narrow, &narrow_copy};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) eq_params_free(all[i]->P);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  test_resume(EQ_OPTIM_SGD);
  test_resume(EQ_OPTIM_ADAMW);
  test_resume(EQ_OPTIM_LARS);
  test_errors();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
  return EQ_TEST_SUMMARY();
}
