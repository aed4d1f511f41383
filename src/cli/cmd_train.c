/* `equivar train`: supervised training of a backbone on a generated,
 * learnable task (oriented colour gratings whose class is the orientation),
 * with a progress bar, JSON-lines log, checkpoints and resume. It exercises
 * the whole learning core: backbones, autograd, optimisers, schedules,
 * checkpoints. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "equivar/checkpoint.h"
#include "equivar/json.h"
#include "equivar/progress.h"

typedef struct train_opts {
  const char *model, *optimizer, *log, *save, *resume;
  int64_t steps, batch, size, classes, patch, width, warmup, save_every, stop_after, seed, threads;
  double lr, weight_decay, momentum, clip;
  bool lr_set, wd_set;
} train_opts;

static void usage(FILE *out) {
  fprintf(out,
          "usage: equivar train [options]\n\n"
          "Trains a backbone with a classification head on generated images (colour\n"
          "gratings; the class sets orientation and dominant colour) and prints the\n"
          "loss falling.\n\n"
          "  --model NAME       %s (default resnet18-small)\n"
          "  --steps N          total optimiser steps (default 30); with --resume, the\n"
          "                     run continues from the checkpoint's step up to N\n"
          "  --batch N          images per step (default 32)\n"
          "  --size N           image side in pixels (default 32)\n"
          "  --classes N        number of orientations / classes (default 10)\n"
          "  --patch N          ViT patch size (default 4)\n"
          "  --width N          ResNet width: planes of layer1 (default 64, torchvision's)\n"
          "  --optimizer NAME   sgd | adamw | lars (default sgd)\n"
          "  --lr X             peak learning rate (default 0.05 sgd, 1e-3 adamw, 0.2 lars)\n"
          "  --weight-decay X   (default 5e-4 sgd/lars, 0.05 adamw; not on biases/norms)\n"
          "  --momentum X       sgd/lars momentum (default 0.9)\n"
          "  --warmup N         linear warm-up steps, then cosine to 0 (default steps/10)\n"
          "  --clip X           clip the gradient norm at X (default 0: off)\n"
          "  --seed N           initialisation and data seed (default 0)\n"
          "  --threads N        OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
          "  --log FILE         append one JSON object per step to FILE\n"
          "  --save FILE        write a safetensors checkpoint at the end (atomically)\n"
          "  --save-every N     also every N steps\n"
          "  --stop-after N     stop (and save) after N steps of this invocation, as a\n"
          "                     preempted job would; --resume continues the same schedule\n"
          "  --resume FILE      continue from a checkpoint (model, optimiser, step)\n"
          "  -h, --help         this text\n\n"
          "The checkpoint's weights use torchvision/timm names; drop the 'optim.' keys\n"
          "to load it into PyTorch with strict=True.\n",
          eq_backbone_names());
}

static int parse_int(const char *opt, const char *s, int64_t lo, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || !*s || *end || v < lo) {
    fprintf(stderr, "equivar train: %s expects an integer >= %lld, got '%s'\n", opt, (long long)lo, s);
    return 1;
  }
  *out = v;
  return 0;
}

static int parse_num(const char *opt, const char *s, double *out) {
  char *end = NULL;
  double v = strtod(s, &end);
  if (!*s || *end || !isfinite(v) || v < 0) {
    fprintf(stderr, "equivar train: %s expects a non-negative number, got '%s'\n", opt, s);
    return 1;
  }
  *out = v;
  return 0;
}

static void set_defaults(train_opts *o) {
  *o = (train_opts){.model = NULL, .optimizer = "sgd", .steps = 30, .batch = 32, .size = 32, .classes = 10, .patch = 4,
                    .warmup = -1, .momentum = 0.9};
}

/* Options a resumed run takes from its checkpoint's config unless given
 * again. Strings point into `j`, which the caller keeps alive. */
static int apply_config(train_opts *o, const eq_json *j) {
  long long v[8] = {o->classes, o->size, o->patch, o->width, o->seed, o->batch, o->steps, o->warmup};
  int bad = eq_json_int_or(j, "classes", v[0], &v[0]) || eq_json_int_or(j, "size", v[1], &v[1]) ||
            eq_json_int_or(j, "patch", v[2], &v[2]) || eq_json_int_or(j, "width", v[3], &v[3]) ||
            eq_json_int_or(j, "seed", v[4], &v[4]) || eq_json_int_or(j, "batch", v[5], &v[5]) ||
            eq_json_int_or(j, "steps", v[6], &v[6]) || eq_json_int_or(j, "warmup", v[7], &v[7]) ||
            eq_json_number_or(j, "lr", o->lr, &o->lr) ||
            eq_json_number_or(j, "weight_decay", o->weight_decay, &o->weight_decay) ||
            eq_json_number_or(j, "momentum", o->momentum, &o->momentum) ||
            eq_json_number_or(j, "clip", o->clip, &o->clip) ||
            eq_json_string_or(j, "optimizer", o->optimizer, &o->optimizer) ||
            eq_json_string_or(j, "model", o->model, &o->model);
  o->steps = v[6];
  o->warmup = v[7];
  o->lr_set = eq_json_get(j, "lr") != NULL;
  o->wd_set = eq_json_get(j, "weight_decay") != NULL;
  o->classes = v[0];
  o->size = v[1];
  o->patch = v[2];
  o->width = v[3];
  o->seed = v[4];
  o->batch = v[5];
  return bad;
}

static int parse_args(int argc, char **argv, train_opts *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) {
      fprintf(stderr, "equivar train: unknown option or missing value: '%s' (see --help)\n", a);
      return 1;
    }
    const char *v = argv[++i];
    int bad = 0;
    if (!strcmp(a, "--model")) o->model = v;
    else if (!strcmp(a, "--optimizer")) o->optimizer = v;
    else if (!strcmp(a, "--log")) o->log = v;
    else if (!strcmp(a, "--save")) o->save = v;
    else if (!strcmp(a, "--resume")) o->resume = v;
    else if (!strcmp(a, "--steps")) bad = parse_int(a, v, 1, &o->steps);
    else if (!strcmp(a, "--batch")) bad = parse_int(a, v, 2, &o->batch);
    else if (!strcmp(a, "--size")) bad = parse_int(a, v, 8, &o->size);
    else if (!strcmp(a, "--classes")) bad = parse_int(a, v, 2, &o->classes);
    else if (!strcmp(a, "--patch")) bad = parse_int(a, v, 1, &o->patch);
    else if (!strcmp(a, "--width")) bad = parse_int(a, v, 1, &o->width);
    else if (!strcmp(a, "--warmup")) bad = parse_int(a, v, 0, &o->warmup);
    else if (!strcmp(a, "--save-every")) bad = parse_int(a, v, 1, &o->save_every);
    else if (!strcmp(a, "--stop-after")) bad = parse_int(a, v, 1, &o->stop_after);
    else if (!strcmp(a, "--seed")) bad = parse_int(a, v, 0, &o->seed);
    else if (!strcmp(a, "--threads")) bad = parse_int(a, v, 1, &o->threads);
    else if (!strcmp(a, "--lr")) bad = parse_num(a, v, &o->lr), o->lr_set = true;
    else if (!strcmp(a, "--weight-decay")) bad = parse_num(a, v, &o->weight_decay), o->wd_set = true;
    else if (!strcmp(a, "--momentum")) bad = parse_num(a, v, &o->momentum);
    else if (!strcmp(a, "--clip")) bad = parse_num(a, v, &o->clip);
    else {
      fprintf(stderr, "equivar train: unknown option '%s' (see --help)\n", a);
      return 1;
    }
    if (bad) return 1;
  }
  if (o->batch > 4096 || o->size > 1024 || o->classes > 100000 || o->width > 1024) {
    fprintf(stderr, "equivar train: batch %lld / size %lld / classes %lld too large for this demo\n",
            (long long)o->batch, (long long)o->size, (long long)o->classes);
    return 1;
  }
  return 0;
}

/* Sample `index` of the generated task: a sinusoidal grating in a random
 * colour, at a random phase and frequency, with pixel noise. Its class k sets
 * the orientation, k * pi / classes (+- 10 % of the spacing), and which colour
 * channel is strongest (k mod 3): learnable in tens of steps. Pure function
 * of (seed, index), so a resumed run sees the same data. */
static int64_t make_sample(float *img, int64_t size, int64_t classes, uint64_t seed, uint64_t index) {
  eq_philox g = eq_philox_init(seed ^ 0x7261696e696e67ull, index);
  int64_t label = (int64_t)eq_philox_below(&g, (uint64_t)classes);
  double theta = ((double)label + eq_philox_uniform_range(&g, -0.1, 0.1)) * M_PI / (double)classes;
  double freq = eq_philox_uniform_range(&g, 2.5, 3.5) / (double)size; /* cycles per pixel */
  double phase = 2 * M_PI * eq_philox_uniform(&g);
  float colour[3];
  for (int c = 0; c < 3; c++) colour[c] = (float)eq_philox_uniform_range(&g, 0.3, 1.0) * (c == label % 3 ? 1.5f : 1.0f);
  double ct = cos(theta), st = sin(theta);
  int64_t plane = size * size;
  for (int64_t y = 0; y < size; y++)
    for (int64_t x = 0; x < size; x++) {
      float t = (float)sin(2 * M_PI * freq * ((double)x * ct + (double)y * st) + phase);
      for (int c = 0; c < 3; c++) img[c * plane + y * size + x] = colour[c] * t + 0.2f * (float)eq_philox_normal(&g);
    }
  return label;
}

static void make_batch(eq_tensor *x, eq_tensor *y, const train_opts *o, int64_t step) {
  float *px = eq_f32(x);
  int64_t *py = eq_data_ptr(y), per = 3 * o->size * o->size;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < o->batch; i++)
    py[i] = make_sample(px + i * per, o->size, o->classes, (uint64_t)o->seed, (uint64_t)(step * o->batch + i));
}

static void config_json(char *buf, size_t cap, const train_opts *o, const char *model) {
  snprintf(buf, cap,
           "{\"model\": \"%s\", \"classes\": %lld, \"size\": %lld, \"patch\": %lld, \"width\": %lld, \"batch\": %lld, \"steps\": %lld, "
           "\"optimizer\": \"%s\", \"lr\": %.17g, \"weight_decay\": %.17g, \"momentum\": %.17g, \"clip\": %.17g, "
           "\"warmup\": %lld, \"seed\": %lld}",
           model, (long long)o->classes, (long long)o->size, (long long)o->patch, (long long)o->width, (long long)o->batch,
           (long long)o->steps, o->optimizer, o->lr, o->weight_decay, o->momentum, o->clip, (long long)o->warmup,
           (long long)o->seed);
}

/* A resumed run continues the same model and data stream: settings that
 * fix them must match the checkpoint's. */
static int check_resume(const char *path, const train_opts *ck, const train_opts *o) {
  if (ck->classes == o->classes && ck->size == o->size && ck->seed == o->seed && ck->patch == o->patch &&
      ck->width == o->width && !strcmp(ck->optimizer, o->optimizer) && !strcmp(ck->model, o->model))
    return 0;
  fprintf(stderr,
          "equivar train: '%s' holds a run of --model %s --classes %lld --size %lld --seed %lld --patch %lld "
          "--width %lld --optimizer %s; this run asks for --model %s --classes %lld --size %lld --seed %lld "
          "--patch %lld --width %lld --optimizer %s (leave them out to continue the checkpoint's run)\n",
          path, ck->model, (long long)ck->classes, (long long)ck->size, (long long)ck->seed, (long long)ck->patch,
          (long long)ck->width, ck->optimizer, o->model, (long long)o->classes, (long long)o->size, (long long)o->seed,
          (long long)o->patch, (long long)o->width, o->optimizer);
  return 1;
}

static int fail(const char *what) {
  fprintf(stderr, "equivar train: %s: %s\n", what, eq_error_message());
  return 1;
}

static int run(train_opts *o) {
  eq_checkpoint_info info = {0};
  eq_optim_kind kind;
  if (eq_optim_kind_parse(o->optimizer, &kind)) return fail("bad --optimizer");
  if (!o->lr_set) o->lr = kind == EQ_OPTIM_ADAMW ? 1e-3 : kind == EQ_OPTIM_LARS ? 0.2 : 0.05;
  if (!o->wd_set) o->weight_decay = kind == EQ_OPTIM_ADAMW ? 0.05 : 5e-4;
  if (o->warmup < 0) o->warmup = o->steps / 10;
  if (o->threads > 0) eq_set_num_threads((int)o->threads);
  const char *blas_advice = eq_blas_kernel_advice();
  if (blas_advice) fprintf(stderr, "equivar train: note: %s\n", blas_advice);

  eq_backbone *m = eq_backbone_new(o->model, (int)o->size, (int)o->patch, (int)o->width, (int)o->classes, (uint64_t)o->seed);
  if (!m) return fail("cannot build the model");
  eq_optim_config oc = eq_optim_defaults(kind);
  oc.weight_decay = o->weight_decay;
  if (kind != EQ_OPTIM_ADAMW) oc.momentum = o->momentum;
  eq_optimizer *opt = eq_optim_new(m->params, &oc);
  int rc = 1;
  eq_jsonl *log = NULL;
  eq_arena *arena = eq_arena_new(64 << 20);
  eq_tensor *x = eq_empty(EQ_F32, EQ_DIMS(o->batch, 3, o->size, o->size));
  eq_tensor *y = eq_empty(EQ_I64, EQ_DIMS(o->batch));
  if (!opt || !arena || !x || !y) {
    fail("setup");
    goto done;
  }
  int64_t start = 0;
  if (o->resume) {
    if (eq_checkpoint_load(o->resume, m->params, opt, &info)) {
      fail("cannot resume");
      goto done;
    }
    start = info.step;
    printf("resumed %s from '%s' at step %lld\n", m->name, o->resume, (long long)start);
  }
  if (o->log && !(log = eq_jsonl_open(o->log))) {
    fail("cannot open the log");
    goto done;
  }
  if (start >= o->steps) {
    printf("nothing to do: the checkpoint is at step %lld of %lld\n", (long long)start, (long long)o->steps);
    rc = 0;
    goto done;
  }
  printf("training %s (%lld parameters) on %lld generated %lldx%lld images per step, %lld classes, %s lr %g\n",
         m->name, (long long)eq_params_trainable(m->params), (long long)o->batch, (long long)o->size,
         (long long)o->size, (long long)o->classes, o->optimizer, o->lr);
  eq_checkpoint_info save_info = {0};
  snprintf(save_info.model, sizeof save_info.model, "%s", m->name);
  config_json(save_info.config, sizeof save_info.config, o, m->name);
  int64_t end = o->stop_after && start + o->stop_after < o->steps ? start + o->stop_after : o->steps;
  eq_progress bar;
  eq_progress_start(&bar, "train", (end - start) * o->batch, "img");
  int64_t every = o->steps / 10 > 0 ? o->steps / 10 : 1;
  double first_loss = NAN, last_loss = NAN, t_run = eq_now_seconds();
  for (int64_t step = start; step < end; step++) {
    double t0 = eq_now_seconds();
    make_batch(x, y, o, step);
    eq_arena *prev = eq_arena_set_current(arena);
    eq_backbone_out out;
    eq_tensor *loss = NULL;
    eq_status st = eq_backbone_forward(m, x, true, &out);
    /* A diverged model shows first in its logits: stop before the loss. */
    for (int64_t i = 0; !st && i < o->batch * o->classes; i++)
      if (!isfinite(eq_f32(out.logits)[i]))
        st = eq_error(EQ_ERR_VALUE, "the logits are not finite at step %lld (diverged: lower --lr or set --clip)",
                      (long long)step + 1);
    if (!st && !(loss = eq_cross_entropy(out.logits, y, 0.0, -100))) st = eq_error_code();
    double loss_v = loss ? eq_get_flat(loss, 0) : NAN, acc = 0;
    if (!st) {
      const float *lg = eq_f32(out.logits);
      const int64_t *py = eq_data_ptr(y);
      for (int64_t i = 0; i < o->batch; i++) {
        int64_t best = 0;
        for (int64_t c = 1; c < o->classes; c++)
          if (lg[i * o->classes + c] > lg[i * o->classes + best]) best = c;
        acc += best == py[i];
      }
      acc /= (double)o->batch;
      eq_params_zero_grad(m->params);
      if (!isfinite(loss_v))
        st = eq_error(EQ_ERR_VALUE, "the loss is %g at step %lld (diverged: lower --lr or set --clip)", loss_v,
                      (long long)step + 1);
      else
        st = eq_backward(loss);
    }
    eq_tape_clear();
    eq_arena_reset(arena);
    eq_arena_set_current(prev);
    double gnorm = st ? NAN : (o->clip > 0 ? eq_clip_grad_norm(m->params, o->clip) : eq_grad_norm(m->params));
    if (!st && !isfinite(gnorm))
      st = eq_error(EQ_ERR_VALUE, "the gradient norm is %g at step %lld (diverged: lower --lr or set --clip)", gnorm,
                    (long long)step + 1);
    double lr = eq_lr_cosine(step, o->steps, o->warmup, o->lr, 0.0);
    if (!st) st = eq_optim_step(opt, lr);
    if (st) {
      eq_progress_finish(&bar);
      fail("training stopped");
      if (o->save) fprintf(stderr, "equivar train: '%s' was not overwritten (it holds the last good state, if any)\n", o->save);
      goto done;
    }
    double dt = eq_now_seconds() - t0;
    if (step == start) first_loss = loss_v;
    last_loss = loss_v;
    eq_progress_add(&bar, o->batch);
    if (log) {
      eq_jsonl_begin(log);
      eq_jsonl_int(log, "step", step + 1);
      eq_jsonl_num(log, "loss", loss_v);
      eq_jsonl_num(log, "accuracy", acc);
      eq_jsonl_num(log, "lr", lr);
      eq_jsonl_num(log, "grad_norm", gnorm);
      eq_jsonl_num(log, "images_per_s", (double)o->batch / dt);
      eq_jsonl_end(log);
    }
    if ((step + 1) % every == 0 || step + 1 == end) {
      if (bar.enabled) fputc('\n', stderr);
      printf("step %4lld/%lld  loss %.4f  batch accuracy %.2f  lr %.4g  %.1f img/s\n", (long long)step + 1,
             (long long)o->steps, loss_v, acc, lr, (double)o->batch / dt);
      fflush(stdout);
    }
    bool periodic = o->save_every && (step + 1) % o->save_every == 0;
    if (o->save && (periodic || step + 1 == end)) {
      save_info.step = step + 1;
      if (eq_checkpoint_save(o->save, m->params, opt, &save_info)) {
        eq_progress_finish(&bar);
        fail("cannot save the checkpoint");
        goto done;
      }
    }
  }
  eq_progress_finish(&bar);
  double took = eq_now_seconds() - t_run;
  printf("loss %.4f -> %.4f over steps %lld-%lld in %.1f s (%.1f img/s)\n", first_loss, last_loss, (long long)start + 1,
         (long long)end, took, (double)(end - start) * (double)o->batch / took);
  if (o->save) printf("saved checkpoint '%s' (step %lld of %lld)\n", o->save, (long long)end, (long long)o->steps);
  if (end < o->steps)
    printf("stopped after step %lld of %lld: continue with --resume %s\n", (long long)end, (long long)o->steps,
           o->save ? o->save : "<checkpoint> (none saved: pass --save)");
  rc = 0;
done:
  eq_jsonl_close(log);
  eq_tensor_free(x);
  eq_tensor_free(y);
  eq_arena_free(arena);
  eq_optim_free(opt);
  eq_backbone_free(m);
  return rc;
}

static int cmd_train(int argc, char **argv) {
  if (eq_cli_wants_help(argc, argv)) {
    usage(stdout);
    return 0;
  }
  train_opts o, ck;
  set_defaults(&o);
  const char *resume = NULL;
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], "--resume")) resume = argv[i + 1];
  eq_json *config = NULL;
  eq_checkpoint_info info;
  if (resume) {
    if (eq_checkpoint_peek(resume, &info)) return fail("cannot resume");
    o.model = info.model;
    if (info.config[0] && (!(config = eq_json_parse(info.config, strlen(info.config), resume)) || apply_config(&o, config))) {
      eq_json_free(config);
      return fail("cannot resume: bad run config in the checkpoint");
    }
  }
  ck = o;
  int rc = parse_args(argc, argv, &o) ? 2 : 0;
  if (!o.model) o.model = "resnet18-small";
  if (!rc && resume && check_resume(resume, &ck, &o)) rc = 2;
  if (!rc) rc = run(&o);
  eq_json_free(config);
  return rc;
}

EQ_CLI_COMMAND(train, "train", "train a backbone on generated images (loss, checkpoints, resume)", cmd_train)
