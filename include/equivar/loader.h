/* The data loader: shuffled, sharded, augmented batches made ahead of time
 * by worker threads.
 *
 * Determinism: the order of an epoch is one permutation of the data set
 * drawn from Philox(seed, epoch), the same on every rank. Global batch b is
 * positions [b G, (b + 1) G) of that order (G = global_batch); rank r of
 * world w takes positions [b G + G r / w, b G + G (r + 1) / w) and reads
 * only those items. Every random choice for the item at global position p
 * (render views, augmentation parameters, g) comes from Philox(seed, epoch,
 * p), so the union of the ranks' batches is the same for any number of
 * ranks and any number of worker threads, bit for bit.
 *
 * Batches: contiguous float32 NCHW buffers (64-byte aligned) for each view,
 * plus labels, item indices, the sampled parameters, latents (3DIEBench) and,
 * for ITR, K intermediate targets u_k = g_{k theta / (K+1)}(u), each made
 * directly from u. A batch stays valid until the next eq_loader_next call;
 * meanwhile the workers fill the next `prefetch` batches. Memory: prefetch + 1
 * slots of n (2 + K) x 3 x H x W floats, n = global_batch / world (at 224 px
 * and n = 256 one slot of two views is 308 MB: lower prefetch there). */
#ifndef EQUIVAR_LOADER_H
#define EQUIVAR_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "equivar/datasets.h"
#include "equivar/json.h"
#include "equivar/transforms.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eq_loader_mode {
  EQ_LOADER_SINGLE = 1,   /* one view per item (evaluation, probes) */
  EQ_LOADER_TWO_VIEWS,    /* two augmentations A1(I), A2(I) of one image */
  EQ_LOADER_RENDER_PAIRS  /* two different renders of one object + latents (3DIEBench) */
} eq_loader_mode;

#define EQ_LOADER_MAX_K 8

typedef struct eq_loader_config {
  const eq_dataset *dataset; /* not owned; must outlive the loader */
  eq_loader_mode mode;
  size_t global_batch;       /* images per step over all ranks */
  int rank, world;           /* this process's shard (plain ints; 0, 1 alone) */
  uint64_t seed;
  int shuffle;               /* 0: data set order every epoch */
  int drop_last;             /* 1: skip a final partial global batch */
  int all_views;             /* SINGLE on a multi-view set: every (object, view) is an item */
  int threads;               /* worker threads (default 2) */
  int prefetch;              /* batches made ahead (default 3) */
  eq_aug_config aug[2];      /* per view; view 1 unused in SINGLE mode */
  int itr_k;                 /* ITR intermediates K (0: none, at most EQ_LOADER_MAX_K) */
  eq_g_config g;             /* applied to view 1 (the second) when g.kinds != 0 */
} eq_loader_config;

typedef struct eq_batch {
  int64_t epoch, step;       /* step within the epoch */
  int64_t global_offset;     /* global position of item 0 within the epoch */
  int n;                     /* items on this rank */
  int channels, height, width;
  float *view[2];            /* n x C x H x W each; view[1] NULL in SINGLE mode */
  int k;                     /* intermediate targets per item */
  float *targets;            /* k x n x C x H x W (target j of item i at (j n + i) C H W); NULL when k = 0 */
  int32_t *labels;           /* n; -1 where unlabelled */
  int64_t *indices;          /* n data set items */
  int32_t *render;           /* n x 2 render (view) numbers used; 0 for single-view sets */
  eq_aug_params *params[2];  /* n each (params[1] NULL in SINGLE mode) */
  eq_g_params *g;            /* n, or NULL without g */
  int latent_dim;            /* 0 without latents */
  float *latents[2];         /* n x latent_dim per view */
} eq_batch;

typedef struct eq_loader eq_loader;

/* Defaults: TWO_VIEWS, batch 256, world 1, shuffle, drop_last, 2 threads,
 * prefetch 3, "vicreg" augmentation at `size` px for both views, no ITR. */
void eq_loader_config_default(eq_loader_config *cfg, int size);
/* {"mode": "single" | "two_views" | "pairs", "batch", "seed", "shuffle",
 *  "drop_last", "all_views", "threads", "prefetch", "augment": {aug config}
 *  (both views; view-dependent presets differ per view) or "views": [{..}, {..}],
 *  "itr": {"K": 2, "transform": {g config}}}. Leaves dataset/rank/world. */
eq_status eq_loader_config_from_json(const eq_json *obj, eq_loader_config *cfg);

/* Starts the workers at (epoch 0, step 0). NULL on a bad config (message
 * names the field). */
eq_loader *eq_loader_new(const eq_loader_config *cfg);
void eq_loader_free(eq_loader *loader);
/* Global batches per epoch (the same on every rank). */
int64_t eq_loader_steps_per_epoch(const eq_loader *loader);
/* Items per epoch (data set size, times views with all_views). */
int64_t eq_loader_epoch_items(const eq_loader *loader);
/* Continues at (epoch, step): for resuming a run. Discards prefetched work. */
eq_status eq_loader_seek(eq_loader *loader, int64_t epoch, int64_t step);
/* The next batch of this rank; epochs follow each other without a pause
 * (check batch->epoch). NULL on a read/decode error (message names the
 * file); the loader is then stopped. */
const eq_batch *eq_loader_next(eq_loader *loader);
/* Seconds eq_loader_next spent waiting for workers, summed (a trainer that
 * sees this grow is input bound). */
double eq_loader_wait_seconds(const eq_loader *loader);

/* The permutation of epoch `epoch` (n items) the loader uses. */
void eq_loader_permutation(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm);

#ifdef __cplusplus
}
#endif
#endif
