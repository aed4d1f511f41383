/* Winograd convolution F(m x m, 3 x 3) (Lavin and Gray, "Fast Algorithms
 * for Convolutional Neural Networks", 2016) for 3x3, stride-1, undilated,
 * ungrouped convolutions, the bulk of a ResNet's work. An m x m output tile
 * costs (m+2)^2 multiplies per channel pair instead of 9 m^2: 2.25x fewer
 * for m = 2, 4x fewer for m = 4, and no work at all on padding taps beyond
 * the tile. m = 4 where the output map is at least 4x4, m = 2 on smaller
 * maps (where a 4x4 tile would be mostly padding).
 *
 * Every pass is: transform the input tiles of a block of tiles, then per
 * slab of output channels transform that slab's weights (kept in L2), one
 * GEMM per transform position, transform back. The threads share each
 * block (its transform split over them, a slab each), or, where all the
 * transformed weights fit L2, each thread runs its own images' tiles
 * through every step, so that no block crosses between the cores (for the
 * weight gradient each thread then sums its own tiles, and the sums are
 * added in thread order). Backward-data is the forward
 * pass on dy with the flipped, transposed kernel and padding 2 - p;
 * backward-weight is the adjoint of the forward transforms:
 * dw = G^T (sum over tiles of (A dy A^T) .* (B^T x B)) G, one GEMM per
 * transform position over the tiles. */
#include "ops/nn/conv_geom.h"
#include "ops/nn/nn_common.h"

int eq_conv_algo = EQ_CONV_AUTO;

#define EQ_WINO_INLINE inline __attribute__((always_inline))

/* Lanes a transform processes at once: one AVX-512 register of floats. */
#define VL 16
/* Extra elements between the transform positions' planes of V, M, U, the
 * transformed output gradient and the weight-gradient sums. Unpadded, a plane is C x (tiles per block)
 * elements, often a multiple of 4 KB (64 channels x 224 tiles x 4 bytes =
 * 14 x 4 KB), so a tile group's 36 position vectors all fall in one L1 set
 * (12 ways) and evict each other on every transform. */
#define WINO_XI_PAD VL
/* Budget for one output-channel slab's transformed weights (per thread):
 * twice a Zen 4 core's 1 MB L2, which measured faster than fitting it
 * (fewer slabs: V is packed once per slab), at least 32 channels. */
#define SLAB_BYTES (2 * 1024 * 1024)
/* The transformed weights' budget for splitting the passes by tiles
 * (wino_plan_for): ResNet-18's layer 1 (36 x 64 x 64 floats, 590 KB). */
#define BY_TILES_WEIGHT_BYTES (1024 * 1024)
/* Budget for a block's transformed tiles (shared by the threads, or each
 * thread's own when by tiles): small
 * enough that a block stays in cache from its transform to its GEMMs, but at
 * least EQ_WINO_MIN_BLOCK tiles so the GEMMs stay wide. */
size_t eq_conv_wino_block_bytes = EQ_CONV_WINO_BLOCK_BYTES;
#define EQ_WINO_MIN_BLOCK 64

typedef struct wino_map {
  int m, a;                   /* output tile m x m, input tile a x a */
  int64_t N, C, H, W, ph, pw; /* the map the tiles are cut from, its padding */
  int64_t th, tw, ntiles;     /* tiles down, across, in all (lanes of whole groups of VL images) */
} wino_map;

typedef struct wino_plan {
  wino_map map;
  int threads;
  bool by_tiles; /* each thread its own images' tiles (see wino_plan_for) */
  int64_t slab, nslabs, tb;                 /* output channels per slab, tiles per block */
  bool shared_u;                            /* weights transformed once for all blocks */
  int64_t xt_elems, dyt_elems;              /* the maps rearranged for the lanes */
  int64_t own_in_elems, own_dy_elems;       /* by tiles: a thread's share of them */
  size_t thread_bytes;                      /* each thread's own scratch (eq_nn_thread_workspace) */
  int64_t v_elems, u_elems, m_elems;        /* buffer sizes, elements */
  size_t bytes;
} wino_plan;

/* Below this many channels the GEMMs are too thin to gain from the 4x
 * fewer multiplies, and a reduced-width model's tiny maps would see
 * Winograd's rounding where im2col gives exact zeros (taps whose every input
 * is a ReLU zero), which AdamW then turns into +-lr steps. */
#define EQ_WINO_MIN_CHANNELS 32

bool eq_conv_winograd_applies(const eq_conv_geom *g) {
  if (eq_conv_algo == EQ_CONV_IM2COL) return false;
  bool wide = g->C >= EQ_WINO_MIN_CHANNELS && g->Co >= EQ_WINO_MIN_CHANNELS;
  return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->groups == 1 &&
         g->ph <= 2 && g->pw <= 2 && (eq_conv_algo == EQ_CONV_WINOGRAD || wide) && g->Ho * g->Wo >= 4;
}

/* kind: 0 forward, 1 backward-data, 2 backward-weight (as conv_kernels.c). */
static wino_plan wino_plan_for(const eq_conv_geom *g, int kind, size_t elem) {
  wino_plan p;
  memset(&p, 0, sizeof p);
  wino_map *mp = &p.map;
  /* the pass's input map, its output size and channel counts */
  int64_t cin, cout, oh, ow;
  if (kind == 1) {
    *mp = (wino_map){0, 0, g->N, g->Co, g->Ho, g->Wo, 2 - g->ph, 2 - g->pw, 0, 0, 0};
    cin = g->Co, cout = g->C, oh = g->H, ow = g->W;
  } else {
    *mp = (wino_map){0, 0, g->N, g->C, g->H, g->W, g->ph, g->pw, 0, 0, 0};
    cin = g->C, cout = g->Co, oh = g->Ho, ow = g->Wo;
  }
  mp->m = oh >= 4 && ow >= 4 ? 4 : 2;
  mp->a = mp->m + 2;
  mp->th = (oh + mp->m - 1) / mp->m;
  mp->tw = (ow + mp->m - 1) / mp->m;
  mp->ntiles = (mp->N + VL - 1) / VL * VL * mp->th * mp->tw;
  const int64_t a2 = (int64_t)mp->a * mp->a;
  p.threads = omp_get_max_threads();
  /* By tiles, where all the transformed weights fit one core's L2 and every
   * thread gets images: with the threads sharing each block (the input
   * transform split over them, each output-channel slab's products reading
   * all of it), every block crossed between the cores, and where this VM's
   * two vCPUs sit far apart (a cache line's round trip 387-442 ns against
   * 78-139) layer 1's forward took 2.37-2.46 ms instead of 1.07-1.09. */
  const int64_t ngroups = (mp->N + VL - 1) / VL;
  p.by_tiles = p.threads > 1 && ngroups >= p.threads && (size_t)(a2 * cin * cout) * elem <= BY_TILES_WEIGHT_BYTES;
  if (p.by_tiles) {
    p.slab = cout ? cout : 1;
    p.nslabs = 1;
  } else {
    /* Slabs: a multiple of 8 channels whose transformed weights fit the
     * budget, and at least one slab per thread. */
    int64_t per_thread = (cout + p.threads - 1) / p.threads;
    int64_t slab = (int64_t)(SLAB_BYTES / elem) / (a2 * cin);
    slab = slab / 8 * 8;
    /* below ~32 rows OpenBLAS's kernels lose more than L2 misses cost */
    if (slab < 32) slab = 32;
    if (slab > per_thread) slab = per_thread;
    if (slab < 1) slab = 1;
    /* then as many slabs as that needs, rounded to a multiple of the threads
     * and evened out, so no thread waits on a leftover slab */
    int64_t nslabs = (cout + slab - 1) / slab;
    nslabs = (nslabs + p.threads - 1) / p.threads * p.threads;
    if (nslabs > cout) nslabs = cout;
    p.slab = (cout + nslabs - 1) / nslabs;
    p.nslabs = (cout + p.slab - 1) / p.slab;
  }
  /* Tiles per block: every tile (of the thread's, by tiles) when the
   * transformed block fits. */
  int64_t per_tile = a2 * (kind == 2 ? g->C + g->Co : cin);
  int64_t tb = (int64_t)(eq_conv_wino_block_bytes / elem) / per_tile / VL * VL;
  if (tb < EQ_WINO_MIN_BLOCK) tb = EQ_WINO_MIN_BLOCK;
  int64_t tiles = p.by_tiles ? (ngroups + p.threads - 1) / p.threads * VL * mp->th * mp->tw : mp->ntiles;
  p.tb = tb >= tiles ? tiles : tb; /* both multiples of VL: no padding */
  if (p.by_tiles) { /* a thread's blocks evened out: a short last block cost 8 % on layer 1 */
    int64_t nblocks = (tiles + p.tb - 1) / p.tb;
    p.tb = (tiles / VL + nblocks - 1) / nblocks * VL;
  }
  const int64_t n_lanes = (g->N + VL - 1) / VL * VL, own_lanes = (ngroups + p.threads - 1) / p.threads * VL;
  p.xt_elems = n_lanes * cin * mp->H * mp->W;
  p.own_in_elems = own_lanes * cin * mp->H * mp->W;
  /* In the shared workspace: what more than one thread reads. In each
   * thread's own (eq_nn_thread_workspace): what only it touches, by tiles
   * its lanes, V and M (or the transformed output gradient), else M. */
  int64_t total, own;
  if (kind == 2) {
    p.dyt_elems = n_lanes * g->Co * g->Ho * g->Wo;
    p.own_dy_elems = own_lanes * g->Co * g->Ho * g->Wo;
    p.v_elems = a2 * (g->C * p.tb + WINO_XI_PAD);
    p.m_elems = a2 * (g->Co * p.tb + WINO_XI_PAD); /* the transformed output gradient */
    p.u_elems = a2 * (p.slab * g->C + WINO_XI_PAD);
    /* weight-gradient accumulators: per thread slab by slab with one block,
     * all of them across blocks, all of them per thread by tiles */
    int64_t all = a2 * (g->Co * g->C + WINO_XI_PAD);
    int64_t acc = p.by_tiles ? p.threads * all : p.tb >= mp->ntiles ? p.threads * p.u_elems : all;
    total = p.by_tiles ? acc : p.xt_elems + p.dyt_elems + p.v_elems + p.m_elems + acc;
    own = p.by_tiles ? p.own_in_elems + p.own_dy_elems + p.v_elems + p.m_elems : 0;
  } else {
    p.v_elems = a2 * (cin * p.tb + WINO_XI_PAD);
    p.m_elems = a2 * (p.slab * p.tb + WINO_XI_PAD);
    /* Several blocks: transform the weights once, up front, rather than
     * once per block (slab s at s * a2 * slab * cin). */
    p.shared_u = p.by_tiles || p.tb < mp->ntiles;
    p.u_elems = a2 * (p.slab * cin + WINO_XI_PAD) * (p.shared_u ? p.nslabs : 1);
    total = p.by_tiles ? p.u_elems : p.xt_elems + p.v_elems + (p.shared_u ? p.u_elems : p.threads * p.u_elems);
    own = p.by_tiles ? p.own_in_elems + p.v_elems + p.m_elems : p.m_elems;
  }
  p.bytes = (size_t)total * elem + 64;
  p.thread_bytes = (size_t)own * elem;
  return p;
}

size_t eq_conv_wino_workspace_bytes(const eq_conv_geom *g, int kind, size_t elem) {
  return wino_plan_for(g, kind, elem).bytes;
}

size_t eq_conv_wino_thread_workspace_bytes(const eq_conv_geom *g, int kind, size_t elem) {
  return wino_plan_for(g, kind, elem).thread_bytes;
}

#if defined(__AVX512F__)
#include "ops/nn/simd_transpose.h"
/* The rearrangement into lanes, in registers. */
#define WINO_TRANSPOSE16(src, ld, dst) eq_transpose16_f32(src, ld, dst, 16)
#endif

#define T float
#define SFX _f32
#define GEMM eq_nn_gemm_f32
#include "ops/nn/conv_winograd.inc"
#undef T
#undef SFX
#undef GEMM
#undef WINO_TRANSPOSE16

#define T double
#define SFX _f64
#define GEMM eq_nn_gemm_f64
#include "ops/nn/conv_winograd.inc"
#undef T
#undef SFX
#undef GEMM
