/* Bump allocator in chunks; reset keeps the memory for the next step. */
#include "equivar/core.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define EQ_ALIGN 64

/* Blocks of at least 4 MB (as NumPy's) start on a 2 MB boundary and are
 * offered to transparent huge pages, which Debian's kernels give only on
 * request (madvise mode). A training step streams hundreds of MB of
 * activations, gradients and scratch; on 4 KB pages its passes miss the
 * second-level TLB, whose few thousand entries cover about 12 MB. */
enum { HUGE_BLOCK_MIN = 4u << 20, HUGE_PAGE_BYTES = 2u << 20 };

static void *aligned_block(size_t bytes) {
  if (bytes > SIZE_MAX - HUGE_PAGE_BYTES) return NULL; /* the roundings below would wrap */
  if (bytes < HUGE_BLOCK_MIN) return aligned_alloc(EQ_ALIGN, (bytes + EQ_ALIGN - 1) / EQ_ALIGN * EQ_ALIGN);
  size_t whole = (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
  void *p = aligned_alloc(HUGE_PAGE_BYTES, whole);
#ifdef MADV_HUGEPAGE
  /* advice: where the kernel declines, the block stays on 4 KB pages */
  if (p) madvise(p, whole, MADV_HUGEPAGE);
#endif
  return p;
}

typedef struct arena_chunk {
  struct arena_chunk *next;
  size_t capacity; /* usable bytes after the header */
  size_t used;
  unsigned char *base;
} arena_chunk;

struct eq_arena {
  arena_chunk *chunks; /* first chunk is the one being filled */
  size_t used_total;   /* bytes handed out since the last reset */
  size_t peak;
  size_t next_chunk_bytes;
};

static _Thread_local eq_arena *current_arena = NULL;

void *eq_malloc(size_t bytes) {
  if (bytes == 0) bytes = EQ_ALIGN;
  void *p = aligned_block(bytes);
  if (!p) eq_error(EQ_ERR_MEMORY, "out of memory allocating %zu bytes", bytes);
  return p;
}

void *eq_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) {
    eq_error(EQ_ERR_MEMORY, "allocation of %zu x %zu bytes overflows", count, size);
    return NULL;
  }
  void *p = eq_malloc(count * size);
  if (p) memset(p, 0, count * size);
  return p;
}

void eq_free(void *p) { free(p); }

static arena_chunk *chunk_new(size_t capacity) {
  arena_chunk *c = malloc(sizeof *c);
  if (!c) return NULL;
  c->base = aligned_block(capacity);
  if (!c->base) {
    free(c);
    return NULL;
  }
  c->capacity = capacity;
  c->used = 0;
  c->next = NULL;
  return c;
}

eq_arena *eq_arena_new(size_t initial_bytes) {
  eq_arena *a = calloc(1, sizeof *a);
  if (!a) {
    eq_error(EQ_ERR_MEMORY, "out of memory creating an arena");
    return NULL;
  }
  a->next_chunk_bytes = initial_bytes < (1u << 20) ? (1u << 20) : initial_bytes;
  return a;
}

void eq_arena_free(eq_arena *a) {
  if (!a) return;
  if (current_arena == a) current_arena = NULL;
  for (arena_chunk *c = a->chunks, *n; c; c = n) {
    n = c->next;
    free(c->base);
    free(c);
  }
  free(a);
}

void *eq_arena_alloc(eq_arena *a, size_t bytes) {
  if (bytes > SIZE_MAX / 4) { /* the rounding and the chunk doubling below would wrap */
    eq_error(EQ_ERR_MEMORY, "arena out of memory allocating %zu bytes (%zu in use)", bytes, a->used_total);
    return NULL;
  }
  size_t need = (bytes + EQ_ALIGN - 1) / EQ_ALIGN * EQ_ALIGN;
  if (need == 0) need = EQ_ALIGN;
  arena_chunk *c = a->chunks;
  if (!c || c->capacity - c->used < need) {
    /* Look for a spare chunk kept from before the last reset. */
    arena_chunk *prev = NULL, *fit = NULL;
    for (arena_chunk *s = c ? c->next : NULL, *sp = c; s; sp = s, s = s->next) {
      if (s->used == 0 && s->capacity >= need) {
        fit = s;
        prev = sp;
        break;
      }
    }
    if (fit) {
      prev->next = fit->next;
    } else {
      size_t cap = a->next_chunk_bytes;
      while (cap < need) cap *= 2;
      fit = chunk_new(cap);
      if (!fit) {
        eq_error(EQ_ERR_MEMORY, "arena out of memory allocating %zu bytes (%zu in use)",
                 bytes, a->used_total);
        return NULL;
      }
      a->next_chunk_bytes = cap * 2;
    }
    fit->next = a->chunks;
    a->chunks = fit;
    c = fit;
  }
  void *p = c->base + c->used;
  c->used += need;
  a->used_total += need;
  if (a->used_total > a->peak) a->peak = a->used_total;
  return p;
}

void eq_arena_reset(eq_arena *a) {
  if (!a) return;
  /* Coalesce into one chunk big enough for the last step so the next step
   * fills a single block. */
  size_t total_capacity = 0;
  int chunk_count = 0;
  for (arena_chunk *c = a->chunks; c; c = c->next) {
    total_capacity += c->capacity;
    chunk_count++;
  }
  if (chunk_count > 1) {
    for (arena_chunk *c = a->chunks, *n; c; c = n) {
      n = c->next;
      free(c->base);
      free(c);
    }
    a->chunks = chunk_new(total_capacity);
    if (a->chunks) a->next_chunk_bytes = total_capacity;
  } else if (a->chunks) {
    a->chunks->used = 0;
  }
  a->used_total = 0;
}

size_t eq_arena_used(const eq_arena *a) { return a ? a->used_total : 0; }
size_t eq_arena_peak(const eq_arena *a) { return a ? a->peak : 0; }

eq_arena *eq_arena_set_current(eq_arena *a) {
  eq_arena *prev = current_arena;
  current_arena = a;
  return prev;
}

eq_arena *eq_arena_current(void) { return current_arena; }
