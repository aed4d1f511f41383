/* The parameter registry and initialisers: flat-buffer aliasing, alignment,
 * name-keyed determinism, and each initialiser's distribution against its
 * PyTorch definition (bounds, mean, standard deviation). */
#include "eq_test.h"
#include "equivar/nn.h"
#include "equivar/optim.h"
#include "equivar/safetensors.h"

#include <string.h>

static void moments(const eq_tensor *t, double *mean, double *std, double *lo, double *hi) {
  int64_t n = eq_numel(t);
  double s = 0, s2 = 0;
  *lo = INFINITY;
  *hi = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    double v = eq_get_flat(t, i);
    s += v;
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
  }
  *mean = s / n;
  for (int64_t i = 0; i < n; i++) {
    double d = eq_get_flat(t, i) - *mean;
    s2 += d * d;
  }
  *std = sqrt(s2 / n);
}

static void test_flat_buffers(void) {
  eq_params *P = eq_params_new();
  eq_nn_linear fc;
  eq_nn_conv2d conv;
  eq_nn_batchnorm bn;
  CHECK(eq_nn_conv2d_init(&conv, P, "stem", 3, 5, 3, 1, 1, 1, true) == EQ_OK);
  CHECK(eq_nn_batchnorm_init(&bn, P, "stem.bn", 5) == EQ_OK);
  CHECK(eq_nn_linear_init(&fc, P, "fc", 7, 3, true) == EQ_OK);
  CHECK(eq_nn_linear_init(&fc, P, "fc", 7, 3, true) == EQ_ERR_VALUE); /* duplicate name */
  CHECK(strstr(eq_error_message(), "fc.weight"));
  CHECK(eq_params_build(P, 42) == EQ_OK);
  CHECK(conv.weight && conv.bias && bn.running_var && fc.weight);
  CHECK(eq_params_trainable(P) == 5 * 3 * 9 + 5 + 5 + 5 + 21 + 3);
  /* Parameters are views of the flat buffer, gradients of the flat gradient
   * buffer, each 64-byte aligned. */
  for (int i = 0; i < P->count; i++) {
    eq_param *p = &P->items[i];
    if (p->flags & EQ_PARAM_BUFFER) {
      CHECK(p->offset == -1 && p->tensor->grad == NULL && !p->tensor->requires_grad);
      continue;
    }
    CHECK(eq_data_ptr(p->tensor) == (void *)(P->data + p->offset));
    CHECK(eq_data_ptr(p->tensor->grad) == (void *)(P->grad + p->offset));
    CHECK(((uintptr_t)eq_data_ptr(p->tensor)) % 64 == 0);
    CHECK(p->tensor->requires_grad && !strcmp(p->tensor->name, p->name));
  }
  eq_params_zero_grad(P);
  eq_f32(fc.weight->grad)[2] = 5;
  CHECK(P->grad[eq_params_find(P, "fc.weight")->offset + 2] == 5);
  CHECK(eq_get_flat(bn.running_var, 0) == 1 && eq_get_flat(bn.weight, 4) == 1 && eq_get_flat(bn.bias, 0) == 0);
  CHECK(bn.num_batches_tracked->dtype == EQ_I64 && bn.num_batches_tracked->ndim == 0);
  CHECK(eq_params_add(P, NULL, "", "late", EQ_DIMS(2), 0, (eq_init){0}) == EQ_ERR_STATE);
  /* Flags: biases and norms are excluded from weight decay. */
  CHECK(eq_params_find(P, "stem.bias")->flags & EQ_PARAM_NO_DECAY);
  CHECK(eq_params_find(P, "stem.bn.weight")->flags & EQ_PARAM_NO_DECAY);
  CHECK(!(eq_params_find(P, "fc.weight")->flags & EQ_PARAM_NO_DECAY));

  /* The same name gets the same values whatever else is registered. */
  eq_params *Q = eq_params_new();
  eq_nn_linear other, fc2;
  CHECK(eq_nn_linear_init(&other, Q, "other", 4, 4, false) == EQ_OK);
  CHECK(eq_nn_linear_init(&fc2, Q, "fc", 7, 3, true) == EQ_OK);
  CHECK(eq_params_build(Q, 42) == EQ_OK);
  CHECK(memcmp(eq_data_ptr(fc.weight), eq_data_ptr(fc2.weight), 21 * sizeof(float)) == 0);
  CHECK(eq_params_reinit(Q, 43) == EQ_OK);
  CHECK(memcmp(eq_data_ptr(fc.weight), eq_data_ptr(fc2.weight), 21 * sizeof(float)) != 0);
  eq_params_free(Q);
  eq_params_free(P);
  CHECK(fc.weight == NULL); /* freeing clears the module fields */
}

static void test_initialisers(void) {
  eq_params *P = eq_params_new();
  eq_tensor *ku = NULL, *bias = NULL, *kn = NULL, *tn = NULL, *nm = NULL;
  /* nn.Linear(256, 64): weight and bias U(+-1/16). */
  CHECK(eq_params_add(P, &ku, "", "ku", EQ_DIMS(64, 256), 0, (eq_init){EQ_INIT_KAIMING_UNIFORM_DEFAULT, 0, 0}) == EQ_OK);
  CHECK(eq_params_add(P, &bias, "", "bias", EQ_DIMS(4096), 0, (eq_init){EQ_INIT_FAN_IN_UNIFORM, 256, 0}) == EQ_OK);
  /* torchvision conv 3x3, 64 -> 128: N(0, sqrt(2 / (128 * 9))). */
  CHECK(eq_params_add(P, &kn, "", "kn", EQ_DIMS(128, 64, 3, 3), 0, (eq_init){EQ_INIT_KAIMING_NORMAL_FAN_OUT, 0, 0}) == EQ_OK);
  CHECK(eq_params_add(P, &tn, "", "tn", EQ_DIMS(20000), 0, (eq_init){EQ_INIT_TRUNC_NORMAL, 1.0, 0}) == EQ_OK);
  CHECK(eq_params_add(P, &nm, "", "nm", EQ_DIMS(20000), 0, (eq_init){EQ_INIT_NORMAL, 3.0, 0.5}) == EQ_OK);
  CHECK(eq_params_build(P, 7) == EQ_OK);
  double mean, std, lo, hi;
  moments(ku, &mean, &std, &lo, &hi);
  CHECK(lo >= -1.0 / 16 && hi < 1.0 / 16 && hi > 0.99 / 16 && lo < -0.99 / 16);
  CHECK_CLOSE(std, (1.0 / 16) / sqrt(3.0), 0.02, 0);
  moments(bias, &mean, &std, &lo, &hi);
  CHECK(lo >= -1.0 / 16 && hi < 1.0 / 16 && fabs(mean) < 0.003);
  moments(kn, &mean, &std, &lo, &hi);
  CHECK_CLOSE(std, sqrt(2.0 / (128 * 9)), 0.02, 0);
  CHECK(fabs(mean) < 0.002);
  /* std 1 truncated at +-2: std of the truncated normal is 0.8796. */
  moments(tn, &mean, &std, &lo, &hi);
  CHECK(lo >= -2 && hi <= 2 && hi > 1.9);
  CHECK_CLOSE(std, 0.8796, 0.02, 0);
  moments(nm, &mean, &std, &lo, &hi);
  CHECK_CLOSE(mean, 3.0, 0, 0.02);
  CHECK_CLOSE(std, 0.5, 0.03, 0);
  double fi, fo;
  eq_init_fans(EQ_DIMS(128, 64, 3, 3), &fi, &fo);
  CHECK(fi == 576 && fo == 1152);
  eq_tensor *ints = eq_zeros(EQ_I64, EQ_DIMS(3));
  CHECK(eq_init_tensor(ints, (eq_init){EQ_INIT_NORMAL, 0, 1}, 1, 1) == EQ_ERR_DTYPE);
  eq_tensor_free(ints);
  eq_params_free(P);
}

static void test_mlp_names(void) {
  eq_params *P = eq_params_new();
  eq_nn_mlp m;
  int dims[4] = {8, 16, 16, 4};
  CHECK(eq_nn_mlp_init(&m, P, "projector", 3, dims, true, EQ_ACT_RELU, false) == EQ_OK);
  CHECK(eq_params_build(P, 1) == EQ_OK);
  /* nn.Sequential(Linear, BatchNorm1d, ReLU, Linear, BatchNorm1d, ReLU, Linear(bias=False)) */
  const char *want[] = {"projector.0.weight", "projector.0.bias", "projector.1.weight", "projector.1.running_var",
                        "projector.3.weight", "projector.4.num_batches_tracked", "projector.6.weight"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECK_MSG(eq_params_find(P, want[i]), "%s", want[i]);
  CHECK(!eq_params_find(P, "projector.6.bias") && !eq_params_find(P, "projector.2.weight"));
  eq_params_free(P);
}

/* Fixed 2-d sin-cos positions equal MAE's table (zero CLS row) and stay a
 * buffer (no gradient, not re-initialised). */
static void test_sincos(void) {
  eq_vit_config c = {.image_size = 16, .patch_size = 4, .dim = 16, .depth = 1, .heads = 2, .sincos_pos = true};
  eq_backbone *m = eq_vit_new(&c, 3);
  CHECK_MSG(m != NULL, "%s", eq_error_message());
  if (!m) return;
  eq_param *p = eq_params_find(m->params, "pos_embed");
  CHECK(p && (p->flags & EQ_PARAM_BUFFER) && !p->tensor->requires_grad);
  const char *data = getenv("EQ_TEST_DATA");
  char path[512];
  snprintf(path, sizeof path, "%s/models/sincos_g4_d16.safetensors", data ? data : "tests/data");
  eq_safetensors *f = eq_safetensors_open(path);
  CHECK_MSG(f != NULL, "%s", eq_error_message());
  eq_tensor *want = f ? eq_safetensors_get(f, "pos_embed") : NULL;
  CHECK(want && eq_same_shape(want, p->tensor));
  for (int64_t i = 0; want && i < eq_numel(want); i++) CHECK_CLOSE(eq_get_flat(p->tensor, i), eq_get_flat(want, i), 0, 1e-6);
  CHECK(eq_params_reinit(m->params, 9) == EQ_OK);
  for (int64_t i = 0; want && i < eq_numel(want); i++) CHECK_CLOSE(eq_get_flat(p->tensor, i), eq_get_flat(want, i), 0, 1e-6);
  eq_tensor_free(want);
  eq_safetensors_close(f);
  eq_backbone_free(m);
}

/* An MLP head runs and produces [N, out]; BatchNorm counts its batches. */
static void test_mlp_forward(void) {
  eq_params *P = eq_params_new();
  eq_nn_mlp m;
  int dims[3] = {6, 8, 3};
  CHECK(eq_nn_mlp_init(&m, P, "head", 2, dims, true, EQ_ACT_GELU, true) == EQ_OK);
  CHECK(eq_params_build(P, 2) == EQ_OK);
  eq_tensor *x = eq_rand_normal(EQ_F32, EQ_DIMS(5, 6), 0, 1, 1, 1);
  eq_tensor *y = eq_nn_mlp_forward(&m, x, true);
  CHECK(y && y->ndim == 2 && y->shape[0] == 5 && y->shape[1] == 3);
  CHECK(eq_get_flat(m.bn[0].num_batches_tracked, 0) == 1);
  eq_tensor *loss = y ? eq_sum(y, 0, NULL, false) : NULL;
  CHECK(loss && eq_backward(loss) == EQ_OK);
  CHECK(eq_grad_norm(P) > 0);
  eq_tape_clear();
  eq_tensor_free(loss);
  eq_tensor_free(y);
  eq_tensor_free(x);
  eq_params_free(P);
}

int main(void) {
  test_sincos();
  test_mlp_forward();
  test_flat_buffers();
  test_initialisers();
  test_mlp_names();
  return EQ_TEST_SUMMARY();
}
