/* Optimisers, clipping and the schedule against PyTorch (torch.optim.SGD /
 * AdamW, clip_grad_norm_) and the VICReg LARS, on two parameters (a decayed
 * weight and a no-decay bias) with five fixed gradients from
 * scripts/gen_model_reference.py. */
#include "eq_test.h"
#include "equivar/optim.h"
#include "equivar/safetensors.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static eq_safetensors *ref;

static eq_params *make_params(eq_tensor **w, eq_tensor **b) {
  eq_params *P = eq_params_new();
  CHECK(eq_params_add(P, w, "", "w", EQ_DIMS(3, 4), 0, (eq_init){EQ_INIT_NONE, 0, 0}) == EQ_OK);
  CHECK(eq_params_add(P, b, "", "b", EQ_DIMS(3), EQ_PARAM_NO_DECAY, (eq_init){EQ_INIT_NONE, 0, 0}) == EQ_OK);
  CHECK(eq_params_build(P, 0) == EQ_OK);
  CHECK(eq_safetensors_read_into(ref, "w0", *w) == EQ_OK);
  CHECK(eq_safetensors_read_into(ref, "b0", *b) == EQ_OK);
  return P;
}

static void compare(const char *what, const eq_tensor *got, const char *name, double tol) {
  eq_tensor *want = eq_safetensors_get(ref, name);
  CHECK_MSG(want != NULL, "%s", eq_error_message());
  if (!want) return;
  double worst = 0;
  for (int64_t i = 0; i < eq_numel(want); i++) {
    double d = fabs(eq_get_flat(got, i) - eq_get_flat(want, i));
    if (d > worst) worst = d;
  }
  CHECK_MSG(worst <= tol, "%s: %s differs from PyTorch by %g (tolerance %g)", what, name, worst, tol);
  eq_tensor_free(want);
}

static void run_case(const char *name, eq_optim_config cfg, double lr) {
  eq_tensor *w = NULL, *b = NULL;
  eq_params *P = make_params(&w, &b);
  eq_optimizer *o = eq_optim_new(P, &cfg);
  CHECK(o != NULL);
  for (int s = 0; s < 5 && o; s++) {
    char gw[16], gb[16];
    snprintf(gw, sizeof gw, "gw%d", s);
    snprintf(gb, sizeof gb, "gb%d", s);
    CHECK(eq_safetensors_read_into(ref, gw, w->grad) == EQ_OK);
    CHECK(eq_safetensors_read_into(ref, gb, b->grad) == EQ_OK);
    CHECK(eq_optim_step(o, lr) == EQ_OK);
  }
  char key[64];
  snprintf(key, sizeof key, "%s.w", name);
  compare(name, w, key, 2e-6);
  snprintf(key, sizeof key, "%s.b", name);
  compare(name, b, key, 2e-6);
  CHECK(o && o->step == 5);
  eq_optim_free(o);
  eq_params_free(P);
}

static void test_optimizers(void) {
  eq_optim_config c = eq_optim_defaults(EQ_OPTIM_SGD);
  c.weight_decay = 1e-3;
  run_case("sgd", c, 0.1);
  c.nesterov = true;
  run_case("sgd_nesterov", c, 0.1);
  c = eq_optim_defaults(EQ_OPTIM_SGD);
  c.momentum = 0.8;
  c.dampening = 0.3;
  run_case("sgd_damp", c, 0.1);
  c = eq_optim_defaults(EQ_OPTIM_SGD);
  c.momentum = 0;
  c.weight_decay = 1e-3;
  run_case("sgd_plain", c, 0.1);
  c = eq_optim_defaults(EQ_OPTIM_ADAMW);
  c.beta2 = 0.99;
  c.eps = 1e-6;
  c.weight_decay = 0.01;
  run_case("adamw", c, 0.01);
  c = eq_optim_defaults(EQ_OPTIM_LARS);
  c.weight_decay = 1e-2;
  c.trust_coefficient = 0.02;
  run_case("lars", c, 0.2);
}

/* SGD and AdamW over a model large enough that the step runs over the
 * threads (over 65536 elements): a decayed weight split between them, then
 * small ones handed out whole, a frozen one, a no-decay bias and another
 * weight. Three steps at 1, 2 and 3 threads against the update written out
 * element by element here; the frozen one must not move. */
static void test_flat_split(void) {
  const int64_t shapes[4][2] = {{200, 400}, {50, 1}, {400, 1}, {77, 13}};
  const int flags[4] = {0, EQ_PARAM_FROZEN, EQ_PARAM_NO_DECAY, 0};
  const char *names[4] = {"w1", "f", "b", "w2"};
  const eq_optim_kind kinds[2] = {EQ_OPTIM_SGD, EQ_OPTIM_ADAMW};
  int threads_max = omp_get_max_threads();
  for (int kind = 0; kind < 2; kind++)
    for (int threads = 1; threads <= 3; threads++) {
      omp_set_num_threads(threads);
      eq_params *P = eq_params_new();
      eq_tensor *t[4];
      for (int i = 0; i < 4; i++)
        CHECK(eq_params_add(P, &t[i], "", names[i], 2, shapes[i], flags[i], (eq_init){EQ_INIT_NONE, 0, 0}) == EQ_OK);
      CHECK(eq_params_build(P, 0) == EQ_OK);
      int64_t n = P->numel;
      double *p = malloc((size_t)n * sizeof *p), *m1 = calloc((size_t)n, sizeof *m1),
             *m2 = calloc((size_t)n, sizeof *m2);
      for (int64_t e = 0; e < n; e++) p[e] = P->data[e] = (float)(((e * 37) % 101) - 50) / 64;
      eq_optim_config c = eq_optim_defaults(kinds[kind]);
      c.weight_decay = 0.05;
      if (kinds[kind] == EQ_OPTIM_SGD) c.nesterov = true;
      eq_optimizer *o = eq_optim_new(P, &c);
      CHECK(o != NULL);
      const double lr = 0.1;
      for (int s = 1; s <= 3 && o; s++) {
        for (int64_t e = 0; e < n; e++) P->grad[e] = (float)(((e * 53 + s * 7) % 97) - 48) / 32;
        CHECK(eq_optim_step(o, lr) == EQ_OK);
        for (int i = 0; i < 4; i++) {
          const eq_param *pp = eq_params_find(P, names[i]);
          double wd = flags[i] == EQ_PARAM_NO_DECAY ? 0 : c.weight_decay;
          for (int64_t e = pp->offset; flags[i] != EQ_PARAM_FROZEN && e < pp->offset + pp->numel; e++) {
            double g = P->grad[e];
            if (kinds[kind] == EQ_OPTIM_SGD) {
              g += wd * p[e];
              m1[e] = s == 1 ? g : c.momentum * m1[e] + (1 - c.dampening) * g;
              p[e] -= lr * (g + c.momentum * m1[e]);
            } else {
              m1[e] = c.beta1 * m1[e] + (1 - c.beta1) * g;
              m2[e] = c.beta2 * m2[e] + (1 - c.beta2) * g * g;
              double bc1 = 1 - pow(c.beta1, s), bc2 = 1 - pow(c.beta2, s);
              p[e] = p[e] * (1 - lr * wd) - lr / bc1 * m1[e] / (sqrt(m2[e] / bc2) + c.eps);
            }
          }
        }
      }
      double worst = 0;
      for (int64_t e = 0; e < n; e++) worst = fmax(worst, fabs(P->data[e] - p[e]) / (1 + fabs(p[e])));
      CHECK_MSG(worst < 1e-5, "%s at %d threads: worst relative difference %g", kind ? "adamw" : "sgd", threads, worst);
      eq_optim_free(o);
      eq_params_free(P);
      free(p), free(m1), free(m2);
    }
  omp_set_num_threads(threads_max);
}

static void test_invalid(void) {
  eq_tensor *w = NULL, *b = NULL;
  eq_params *P = make_params(&w, &b);
  eq_optim_config c = eq_optim_defaults(EQ_OPTIM_SGD);
  c.momentum = 0;
  c.nesterov = true;
  CHECK(eq_optim_new(P, &c) == NULL && eq_error_code() == EQ_ERR_VALUE);
  c = eq_optim_defaults(EQ_OPTIM_ADAMW);
  c.beta1 = 1.0;
  CHECK(eq_optim_new(P, &c) == NULL && strstr(eq_error_message(), "adamw"));
  c = eq_optim_defaults(EQ_OPTIM_SGD);
  eq_optimizer *o = eq_optim_new(P, &c);
  CHECK(eq_optim_step(o, NAN) == EQ_ERR_VALUE);
  eq_optim_kind k;
  CHECK(eq_optim_kind_parse("lars", &k) == EQ_OK && k == EQ_OPTIM_LARS);
  CHECK(eq_optim_kind_parse("adam", &k) == EQ_ERR_VALUE && strstr(eq_error_message(), "adam"));
  eq_optim_free(o);
  eq_params_free(P);
  eq_params *unbuilt = eq_params_new();
  CHECK(eq_optim_new(unbuilt, &c) == NULL && eq_error_code() == EQ_ERR_STATE);
  eq_params_free(unbuilt);
}

static void test_clip(void) {
  eq_tensor *w = NULL, *b = NULL;
  eq_params *P = make_params(&w, &b);
  CHECK(eq_safetensors_read_into(ref, "gw0", w->grad) == EQ_OK);
  CHECK(eq_safetensors_read_into(ref, "gb0", b->grad) == EQ_OK);
  eq_tensor *norm = eq_safetensors_get(ref, "clip.norm");
  CHECK_CLOSE(eq_grad_norm(P), eq_get_flat(norm, 0), 1e-6, 0);
  /* Above the limit: scaled; below: untouched. */
  CHECK_CLOSE(eq_clip_grad_norm(P, 1.5), eq_get_flat(norm, 0), 1e-6, 0);
  compare("clip", w->grad, "clip.gw", 1e-6);
  compare("clip", b->grad, "clip.gb", 1e-6);
  double before = eq_grad_norm(P);
  CHECK_CLOSE(eq_clip_grad_norm(P, 100), before, 1e-12, 0);
  CHECK_CLOSE(eq_grad_norm(P), before, 1e-12, 0);
  eq_get_flat(w->grad, 0);
  eq_set_flat(w->grad, 3, NAN);
  CHECK(isnan(eq_clip_grad_norm(P, 1.0)));
  eq_params_zero_grad(P);
  CHECK(eq_grad_norm(P) == 0);
  eq_tensor_free(norm);
  eq_params_free(P);
}

static void test_schedule(void) {
  /* warm-up 2 of 10 steps, 1.0 -> 0.1 */
  CHECK_CLOSE(eq_lr_cosine(0, 10, 2, 1.0, 0.1), 0.5, 1e-12, 0);
  CHECK_CLOSE(eq_lr_cosine(1, 10, 2, 1.0, 0.1), 1.0, 1e-12, 0);
  CHECK_CLOSE(eq_lr_cosine(2, 10, 2, 1.0, 0.1), 1.0, 1e-12, 0);
  CHECK_CLOSE(eq_lr_cosine(9, 10, 2, 1.0, 0.1), 0.1, 1e-12, 0);
  CHECK_CLOSE(eq_lr_cosine(50, 10, 2, 1.0, 0.1), 0.1, 1e-12, 0);
  /* half way through the decay (step 2 + 3.5 of 7): the mean of the two */
  CHECK_CLOSE(0.5 * (eq_lr_cosine(5, 10, 2, 1.0, 0.1) + eq_lr_cosine(6, 10, 2, 1.0, 0.1)), 0.55, 1e-12, 0);
  CHECK(eq_lr_cosine(4, 10, 2, 1.0, 0.1) > eq_lr_cosine(5, 10, 2, 1.0, 0.1));
  CHECK_CLOSE(eq_lr_cosine(0, 10, 0, 1.0, 0.0), 1.0, 1e-12, 0);
  CHECK_CLOSE(eq_lr_cosine(3, 3, 5, 1.0, 0.0), 0.8, 1e-12, 0); /* still warming up */
}

int main(void) {
  const char *data = getenv("EQ_TEST_DATA");
  char p[512];
  snprintf(p, sizeof p, "%s/models/optim_ref.safetensors", data ? data : "tests/data");
  ref = eq_safetensors_open(p);
  if (!ref) {
    fprintf(stderr, "%s\n", eq_error_message());
    return 1;
  }
  test_optimizers();
  test_flat_split();
  test_invalid();
  test_clip();
  test_schedule();
  eq_safetensors_close(ref);
  return EQ_TEST_SUMMARY();
}
