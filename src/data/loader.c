/* The loader: a ring of batch slots filled item by item by a pthread pool.
 * Workers claim single items (not whole batches), so one slow JPEG does not
 * hold a batch back while other workers idle, and the batch the trainer
 * asks for next is always the one being finished first. */
#include "equivar/loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_IN_USE };

#define PERM_SALT 0x5851F42D4C957F2Dull

typedef struct slot {
  eq_batch b;
  int64_t seq; /* global batch sequence number: epoch * steps + step */
  int state, claimed, done;
  int64_t *items; /* epoch-order values of the n positions (item or item*views+view) */
} slot;

struct eq_loader {
  eq_loader_config cfg;
  int views;     /* renders per data set item */
  int64_t items; /* per epoch */
  int64_t steps; /* global batches per epoch */
  int nmax;
  size_t chw;
  int latent_dim;
  slot *slots;
  int nslots;
  pthread_t *threads;
  int nthreads;
  pthread_mutex_t mu;
  pthread_cond_t work_cv, ready_cv, idle_cv;
  int64_t next_fill, next_out;
  int in_use, busy, paused, stop, failed;
  eq_status err_code;
  char err[1024];
  int64_t perm_epoch;
  int64_t *perm;
  double wait_s;
};

void eq_loader_config_default(eq_loader_config *cfg, int size) {
  memset(cfg, 0, sizeof *cfg);
  cfg->mode = EQ_LOADER_TWO_VIEWS;
  cfg->global_batch = 256;
  cfg->world = 1;
  cfg->shuffle = 1;
  cfg->drop_last = 1;
  cfg->threads = 2;
  cfg->prefetch = 3;
  eq_aug_preset("vicreg", size, 0, &cfg->aug[0]);
  eq_aug_preset("vicreg", size, 1, &cfg->aug[1]);
  eq_g_config_default(&cfg->g, 0);
}

eq_status eq_loader_config_from_json(const eq_json *obj, eq_loader_config *cfg) {
  if (!obj || obj->type != EQ_JSON_OBJECT) return eq_error(EQ_ERR_VALUE, "loader config: expected an object");
  static const char *const allowed[] = {"mode", "batch", "seed", "shuffle", "drop_last", "all_views", "threads",
                                        "prefetch", "augment", "views", "itr", NULL};
  eq_status st = eq_json_check_keys(obj, "loader config", allowed);
  if (st) return st;
  const char *mode;
  long long v;
  bool b;
  if ((st = eq_json_string_or(obj, "mode", "two_views", &mode))) return st;
  if (!strcmp(mode, "single")) cfg->mode = EQ_LOADER_SINGLE;
  else if (!strcmp(mode, "two_views")) cfg->mode = EQ_LOADER_TWO_VIEWS;
  else if (!strcmp(mode, "pairs")) cfg->mode = EQ_LOADER_RENDER_PAIRS;
  else return eq_error(EQ_ERR_VALUE, "loader config: mode '%s' (single, two_views, pairs)", mode);
  if ((st = eq_json_int_or(obj, "batch", (long long)cfg->global_batch, &v))) return st;
  if (v < 1) return eq_error(EQ_ERR_VALUE, "loader config: batch %lld", v);
  cfg->global_batch = (size_t)v;
  if ((st = eq_json_int_or(obj, "seed", (long long)cfg->seed, &v))) return st;
  cfg->seed = (uint64_t)v;
  if ((st = eq_json_bool_or(obj, "shuffle", cfg->shuffle, &b))) return st;
  cfg->shuffle = b;
  if ((st = eq_json_bool_or(obj, "drop_last", cfg->drop_last, &b))) return st;
  cfg->drop_last = b;
  if ((st = eq_json_bool_or(obj, "all_views", cfg->all_views, &b))) return st;
  cfg->all_views = b;
  if ((st = eq_json_int_or(obj, "threads", cfg->threads, &v))) return st;
  cfg->threads = (int)v;
  if ((st = eq_json_int_or(obj, "prefetch", cfg->prefetch, &v))) return st;
  cfg->prefetch = (int)v;
  const eq_json *aug = eq_json_get(obj, "augment"), *views = eq_json_get(obj, "views");
  if (aug && views) return eq_error(EQ_ERR_VALUE, "loader config: give \"augment\" or \"views\", not both");
  if (aug) {
    for (int i = 0; i < 2; i++)
      if ((st = eq_aug_config_from_json(aug, i, &cfg->aug[i]))) return st;
  }
  if (views) {
    if (views->type != EQ_JSON_ARRAY || views->count < 1 || views->count > 2)
      return eq_error(EQ_ERR_VALUE, "loader config: \"views\" must be an array of 1 or 2 augmentation configs");
    for (int i = 0; i < 2; i++)
      if ((st = eq_aug_config_from_json(&views->items[views->count == 1 ? 0 : i], i, &cfg->aug[i]))) return st;
  }
  const eq_json *itr = eq_json_get(obj, "itr");
  if (itr) {
    if (itr->type != EQ_JSON_OBJECT) return eq_error(EQ_ERR_VALUE, "loader config: \"itr\" must be an object");
    if ((st = eq_json_int_or(itr, "K", 2, &v))) return st;
    cfg->itr_k = (int)v;
    const eq_json *t = eq_json_get(itr, "transform");
    if (!t) return eq_error(EQ_ERR_VALUE, "loader config: \"itr\" needs a \"transform\"");
    if ((st = eq_g_config_from_json(t, &cfg->g))) return st;
  }
  return EQ_OK;
}

void eq_loader_permutation(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  eq_philox rng = eq_philox_init(seed ^ PERM_SALT, (uint64_t)epoch);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)eq_philox_below(&rng, (uint64_t)i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

/* Size of global batch `step` and this rank's slice [lo, hi) of it. */
static void slice(const eq_loader *l, int64_t step, int64_t *lo, int64_t *hi) {
  int64_t G = (int64_t)l->cfg.global_batch;
  int64_t g = step * G + G <= l->items ? G : l->items - step * G;
  *lo = g * l->cfg.rank / l->cfg.world;
  *hi = g * (l->cfg.rank + 1) / l->cfg.world;
}

/* Under the lock: gives `s` the next batch in sequence. */
static void assign(eq_loader *l, slot *s) {
  int64_t seq = l->next_fill++;
  int64_t epoch = seq / l->steps, step = seq % l->steps;
  if (l->cfg.shuffle && epoch != l->perm_epoch) {
    eq_loader_permutation(l->cfg.seed, epoch, l->items, l->perm);
    l->perm_epoch = epoch;
  }
  int64_t lo, hi;
  slice(l, step, &lo, &hi);
  int64_t base = step * (int64_t)l->cfg.global_batch + lo;
  for (int64_t i = 0; i < hi - lo; i++) s->items[i] = l->cfg.shuffle ? l->perm[base + i] : base + i;
  s->seq = seq;
  s->b.epoch = epoch;
  s->b.step = step;
  s->b.global_offset = base;
  s->b.n = (int)(hi - lo);
  s->claimed = s->done = 0;
  s->state = s->b.n ? SLOT_FILLING : SLOT_READY;
}

/* One item: read, sample, augment, write into the slot. Runs unlocked. */
static eq_status make_item(eq_loader *l, slot *s, int i, eq_tf_workspace *ws, float *u) {
  const eq_loader_config *c = &l->cfg;
  eq_batch *b = &s->b;
  int64_t pos = b->global_offset + i;
  eq_philox rng = eq_philox_init(c->seed, ((uint64_t)b->epoch << 40) ^ (uint64_t)pos);
  int64_t v = s->items[i];
  int64_t item = c->all_views ? v / l->views : v;
  int r0 = c->all_views ? (int)(v % l->views) : 0, r1 = r0;
  if (!c->all_views && l->views > 1) {
    r0 = (int)eq_philox_below(&rng, (uint64_t)l->views);
    if (c->mode == EQ_LOADER_RENDER_PAIRS) {
      r1 = (int)eq_philox_below(&rng, (uint64_t)l->views - 1);
      if (r1 >= r0) r1++;
    }
  }
  b->indices[i] = item;
  b->render[2 * i] = r0;
  b->render[2 * i + 1] = r1;
  int nviews = c->mode == EQ_LOADER_SINGLE ? 1 : 2;
  eq_sample smp[2];
  memset(smp, 0, sizeof smp);
  eq_status st = eq_dataset_get(c->dataset, (size_t)item, r0, &smp[0]);
  if (!st && c->mode == EQ_LOADER_RENDER_PAIRS) st = eq_dataset_get(c->dataset, (size_t)item, r1, &smp[1]);
  if (st) goto done;
  b->labels[i] = smp[0].label;
  for (int k = 0; k < nviews && !st; k++) {
    const eq_sample *sm = &smp[c->mode == EQ_LOADER_RENDER_PAIRS ? k : 0];
    const eq_aug_config *a = &c->aug[k];
    eq_aug_params *p = &b->params[k][i];
    eq_aug_sample(a, sm->image.width, sm->image.height, &rng, p);
    float *dst = b->view[k] + (size_t)i * l->chw;
    if (l->latent_dim) {
      if (sm->latent_dim != l->latent_dim) {
        st = eq_error(EQ_ERR_FORMAT, "data set %s: item %lld has %d latents, item 0 has %d",
                      eq_dataset_name(c->dataset), (long long)item, sm->latent_dim, l->latent_dim);
        break;
      }
      memcpy(b->latents[k] + (size_t)i * l->latent_dim, sm->latent, sizeof(float) * l->latent_dim);
    }
    if (k == 1 && c->g.kinds) {
      /* ITR: u = A2(I) unnormalised; v2 = g(u) and the targets g_{j/(K+1)}(u)
       * each straight from u, normalised like the inputs. */
      st = eq_aug_apply(a, p, &sm->image, 0, u, ws);
      if (st) break;
      eq_g_params *g = &b->g[i];
      eq_g_sample(&c->g, a->out_w < a->out_h ? a->out_w : a->out_h, &rng, g);
      const float *mean = a->normalize ? a->mean : NULL, *std = a->normalize ? a->std : NULL;
      st = eq_g_apply(g, u, a->out_h, a->out_w, c->g.blur_kernel, mean, std, dst, ws);
      for (int j = 1; j <= c->itr_k && !st; j++) {
        eq_g_params gj = eq_g_params_at(g, (float)j / (float)(c->itr_k + 1));
        float *t = b->targets + ((size_t)(j - 1) * b->n + i) * l->chw;
        st = eq_g_apply(&gj, u, a->out_h, a->out_w, c->g.blur_kernel, mean, std, t, ws);
      }
    } else {
      st = eq_aug_apply(a, p, &sm->image, 1, dst, ws);
    }
  }
done:
  eq_sample_free(&smp[0]);
  eq_sample_free(&smp[1]);
  return st;
}

static void *worker(void *arg) {
  eq_loader *l = arg;
  eq_tf_workspace ws = {0};
  float *u = malloc(sizeof(float) * l->chw);
  pthread_mutex_lock(&l->mu);
  if (!u && !l->failed) {
    l->failed = 1;
    l->err_code = EQ_ERR_MEMORY;
    snprintf(l->err, sizeof l->err, "loader: out of memory");
    pthread_cond_broadcast(&l->ready_cv);
  }
  while (!l->stop) {
    slot *work = NULL;
    if (!l->paused && !l->failed) {
      for (int k = 0; k < l->nslots; k++) {
        slot *s = &l->slots[k];
        if (s->state == SLOT_FILLING && s->claimed < s->b.n && (!work || s->seq < work->seq)) work = s;
      }
    }
    if (work) {
      int i = work->claimed++;
      l->busy++;
      pthread_mutex_unlock(&l->mu);
      eq_status st = make_item(l, work, i, &ws, u);
      pthread_mutex_lock(&l->mu);
      l->busy--;
      if (st && !l->failed) {
        l->failed = 1;
        l->err_code = st;
        snprintf(l->err, sizeof l->err, "%s", eq_error_message());
      }
      if (++work->done == work->b.n) {
        work->state = SLOT_READY;
        pthread_cond_broadcast(&l->ready_cv);
      }
      if (!l->busy) pthread_cond_broadcast(&l->idle_cv);
      if (st) pthread_cond_broadcast(&l->ready_cv);
      continue;
    }
    slot *free_slot = NULL;
    if (!l->paused && !l->failed && l->next_fill < l->next_out + l->nslots) {
      for (int k = 0; k < l->nslots && !free_slot; k++)
        if (l->slots[k].state == SLOT_FREE) free_slot = &l->slots[k];
    }
    if (free_slot) {
      assign(l, free_slot);
      if (free_slot->state == SLOT_READY) pthread_cond_broadcast(&l->ready_cv);
      pthread_cond_broadcast(&l->work_cv);
      continue;
    }
    pthread_cond_wait(&l->work_cv, &l->mu);
  }
  pthread_mutex_unlock(&l->mu);
  free(u);
  eq_tf_workspace_free(&ws);
  return NULL;
}

static void free_slots(eq_loader *l) {
  for (int k = 0; l->slots && k < l->nslots; k++) {
    eq_batch *b = &l->slots[k].b;
    eq_free(b->view[0]);
    eq_free(b->view[1]);
    eq_free(b->targets);
    free(b->labels);
    free(b->indices);
    free(b->render);
    free(b->params[0]);
    free(b->params[1]);
    free(b->g);
    free(b->latents[0]);
    free(b->latents[1]);
    free(l->slots[k].items);
  }
  free(l->slots);
}

static eq_status check_config(const eq_loader_config *c, int views) {
  if (!c->dataset) return eq_error(EQ_ERR_VALUE, "loader: no data set");
  if (c->mode < EQ_LOADER_SINGLE || c->mode > EQ_LOADER_RENDER_PAIRS) return eq_error(EQ_ERR_VALUE, "loader: mode %d", c->mode);
  if (c->global_batch < 1) return eq_error(EQ_ERR_VALUE, "loader: global batch %zu", c->global_batch);
  if (c->world < 1 || c->rank < 0 || c->rank >= c->world)
    return eq_error(EQ_ERR_VALUE, "loader: rank %d of world %d", c->rank, c->world);
  if (c->threads < 1 || c->threads > 256) return eq_error(EQ_ERR_VALUE, "loader: %d threads", c->threads);
  if (c->prefetch < 1 || c->prefetch > 64) return eq_error(EQ_ERR_VALUE, "loader: prefetch %d", c->prefetch);
  if (c->itr_k < 0 || c->itr_k > EQ_LOADER_MAX_K) return eq_error(EQ_ERR_VALUE, "loader: ITR K = %d (0..%d)", c->itr_k, EQ_LOADER_MAX_K);
  if (c->itr_k && !c->g.kinds) return eq_error(EQ_ERR_VALUE, "loader: ITR K = %d without a transformation", c->itr_k);
  if (c->g.kinds && c->mode == EQ_LOADER_SINGLE) return eq_error(EQ_ERR_VALUE, "loader: a transformation g needs two views");
  if (c->mode == EQ_LOADER_RENDER_PAIRS && views < 2)
    return eq_error(EQ_ERR_VALUE, "loader: render pairs need a multi-view data set (%s has %d view)",
                    eq_dataset_name(c->dataset), views);
  if (c->all_views && c->mode != EQ_LOADER_SINGLE) return eq_error(EQ_ERR_VALUE, "loader: all_views is for single-view mode");
  int nv = c->mode == EQ_LOADER_SINGLE ? 1 : 2;
  for (int k = 0; k < nv; k++) {
    eq_status st = eq_aug_config_check(&c->aug[k]);
    if (st) return st;
  }
  if (nv == 2 && (c->aug[0].out_h != c->aug[1].out_h || c->aug[0].out_w != c->aug[1].out_w))
    return eq_error(EQ_ERR_VALUE, "loader: the two views differ in size (%dx%d vs %dx%d)", c->aug[0].out_w,
                    c->aug[0].out_h, c->aug[1].out_w, c->aug[1].out_h);
  return EQ_OK;
}

eq_loader *eq_loader_new(const eq_loader_config *cfg) {
  int views = cfg->dataset ? eq_dataset_views(cfg->dataset) : 1;
  if (check_config(cfg, views)) return NULL;
  eq_loader *l = calloc(1, sizeof *l);
  if (!l) {
    eq_error(EQ_ERR_MEMORY, "loader: out of memory");
    return NULL;
  }
  l->cfg = *cfg;
  l->views = views;
  l->items = (int64_t)eq_dataset_size(cfg->dataset) * (cfg->all_views ? views : 1);
  int64_t G = (int64_t)cfg->global_batch;
  l->steps = cfg->drop_last ? l->items / G : (l->items + G - 1) / G;
  if (l->steps < 1) {
    eq_error(EQ_ERR_VALUE, "loader: %lld items make no global batch of %lld", (long long)l->items, (long long)G);
    free(l);
    return NULL;
  }
  /* Item 0 tells the latent width and checks the data set is readable. */
  eq_sample probe;
  if (eq_dataset_get(cfg->dataset, 0, 0, &probe)) {
    free(l);
    return NULL;
  }
  l->latent_dim = probe.latent_dim;
  eq_sample_free(&probe);
  l->nmax = (int)((G + cfg->world - 1) / cfg->world);
  l->chw = (size_t)3 * cfg->aug[0].out_h * cfg->aug[0].out_w;
  l->nslots = cfg->prefetch + 1;
  l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
  l->perm = cfg->shuffle ? malloc(sizeof(int64_t) * (size_t)l->items) : NULL;
  l->perm_epoch = -1;
  l->in_use = -1;
  int ok = l->slots && (!cfg->shuffle || l->perm);
  int nv = cfg->mode == EQ_LOADER_SINGLE ? 1 : 2;
  size_t n = (size_t)l->nmax;
  for (int k = 0; ok && k < l->nslots; k++) {
    eq_batch *b = &l->slots[k].b;
    b->channels = 3;
    b->height = cfg->aug[0].out_h;
    b->width = cfg->aug[0].out_w;
    b->k = cfg->g.kinds ? cfg->itr_k : 0;
    b->latent_dim = l->latent_dim;
    for (int v = 0; v < nv; v++) {
      b->view[v] = eq_malloc(sizeof(float) * n * l->chw);
      b->params[v] = calloc(n, sizeof(eq_aug_params));
      ok &= b->view[v] && b->params[v];
      if (l->latent_dim) ok &= (b->latents[v] = calloc(n * l->latent_dim, sizeof(float))) != NULL;
    }
    if (b->k) ok &= (b->targets = eq_malloc(sizeof(float) * n * l->chw * b->k)) != NULL;
    if (cfg->g.kinds) ok &= (b->g = calloc(n, sizeof(eq_g_params))) != NULL;
    b->labels = calloc(n, sizeof(int32_t));
    b->indices = calloc(n, sizeof(int64_t));
    b->render = calloc(2 * n, sizeof(int32_t));
    l->slots[k].items = calloc(n, sizeof(int64_t));
    ok &= b->labels && b->indices && b->render && l->slots[k].items;
  }
  if (!ok) {
    eq_error(EQ_ERR_MEMORY, "loader: out of memory for %d batches of %d x %zu floats", l->nslots, l->nmax, l->chw);
    free_slots(l);
    free(l->perm);
    free(l);
    return NULL;
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->work_cv, NULL);
  pthread_cond_init(&l->ready_cv, NULL);
  pthread_cond_init(&l->idle_cv, NULL);
  l->threads = calloc((size_t)cfg->threads, sizeof(pthread_t));
  for (int t = 0; l->threads && t < cfg->threads; t++) {
    if (pthread_create(&l->threads[t], NULL, worker, l) != 0) break;
    l->nthreads++;
  }
  if (l->nthreads == 0) {
    eq_loader_free(l);
    eq_error(EQ_ERR_STATE, "loader: cannot start worker threads");
    return NULL;
  }
  return l;
}

void eq_loader_free(eq_loader *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->work_cv);
  pthread_mutex_unlock(&l->mu);
  for (int t = 0; t < l->nthreads; t++) pthread_join(l->threads[t], NULL);
  free(l->threads);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->work_cv);
  pthread_cond_destroy(&l->ready_cv);
  pthread_cond_destroy(&l->idle_cv);
  free_slots(l);
  free(l->perm);
  free(l);
}

int64_t eq_loader_steps_per_epoch(const eq_loader *l) { return l->steps; }
int64_t eq_loader_epoch_items(const eq_loader *l) { return l->items; }
double eq_loader_wait_seconds(const eq_loader *l) { return l->wait_s; }

eq_status eq_loader_seek(eq_loader *l, int64_t epoch, int64_t step) {
  if (epoch < 0 || step < 0 || step >= l->steps)
    return eq_error(EQ_ERR_VALUE, "eq_loader_seek: epoch %lld step %lld (%lld steps per epoch)", (long long)epoch,
                    (long long)step, (long long)l->steps);
  pthread_mutex_lock(&l->mu);
  l->paused = 1;
  while (l->busy) pthread_cond_wait(&l->idle_cv, &l->mu);
  for (int k = 0; k < l->nslots; k++) l->slots[k].state = SLOT_FREE;
  l->in_use = -1;
  l->next_fill = l->next_out = epoch * l->steps + step;
  l->paused = 0;
  pthread_cond_broadcast(&l->work_cv);
  pthread_mutex_unlock(&l->mu);
  return EQ_OK;
}

const eq_batch *eq_loader_next(eq_loader *l) {
  pthread_mutex_lock(&l->mu);
  if (l->in_use >= 0) {
    l->slots[l->in_use].state = SLOT_FREE;
    l->in_use = -1;
  }
  pthread_cond_broadcast(&l->work_cv);
  double t0 = 0;
  int waited = 0;
  for (;;) {
    if (l->failed) {
      eq_status code = l->err_code;
      char msg[1024];
      memcpy(msg, l->err, sizeof msg);
      pthread_mutex_unlock(&l->mu);
      eq_error(code, "%s", msg);
      return NULL;
    }
    slot *s = NULL;
    for (int k = 0; k < l->nslots; k++)
      if (l->slots[k].state == SLOT_READY && l->slots[k].seq == l->next_out) s = &l->slots[k];
    if (s) {
      s->state = SLOT_IN_USE;
      l->in_use = (int)(s - l->slots);
      l->next_out++;
      pthread_cond_broadcast(&l->work_cv);
      if (waited) l->wait_s += eq_now_seconds() - t0;
      pthread_mutex_unlock(&l->mu);
      return &s->b;
    }
    if (!waited) {
      waited = 1;
      t0 = eq_now_seconds();
    }
    pthread_cond_wait(&l->ready_cv, &l->mu);
  }
}
