/* equivar core: error reporting, per-step memory arenas, counter-based RNG.
 *
 * Conventions used by every equivar function:
 *  - Functions returning a pointer return NULL on failure; functions returning
 *    eq_status return EQ_OK (0) on success.
 *  - On failure the function has recorded a message naming the operation and
 *    the offending shapes / values / file; read it with eq_error_message().
 *    The record is per thread.
 *  - Nothing is left half-done: outputs are either complete or not produced.
 */
#ifndef EQUIVAR_CORE_H
#define EQUIVAR_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

typedef enum eq_status {
  EQ_OK = 0,
  EQ_ERR_SHAPE,       /* incompatible or invalid shapes */
  EQ_ERR_DTYPE,       /* unsupported or mismatched dtype */
  EQ_ERR_DEVICE,      /* tensors on different / unsupported devices */
  EQ_ERR_VALUE,       /* an argument value out of range, NaN/Inf where not allowed */
  EQ_ERR_IO,          /* file system or stream failure */
  EQ_ERR_FORMAT,      /* malformed, truncated or mismatched file contents */
  EQ_ERR_MEMORY,      /* allocation failed */
  EQ_ERR_MPI,         /* a communication call failed */
  EQ_ERR_UNSUPPORTED, /* valid request the build does not implement */
  EQ_ERR_STATE        /* API used in the wrong order (e.g. backward twice) */
} eq_status;

/* Records an error for the calling thread and returns `code` so callers can
 * write `return eq_error(EQ_ERR_SHAPE, "...", ...);`. printf-style message. */
eq_status eq_error(eq_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prepends context ("while loading 'x.safetensors': ") to the current message. */
void eq_error_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
eq_status eq_error_code(void);
const char *eq_error_message(void); /* "" when no error is recorded */
void eq_error_clear(void);
const char *eq_status_name(eq_status code);

/* ---------------------------------------------------------------- arenas */

/* An arena hands out 64-byte aligned blocks by bumping a pointer and frees
 * them all at once. A training step allocates its activations and gradients
 * from one arena and resets it afterwards: no malloc/free and, after the
 * first step, no page faults on the hot path. */
typedef struct eq_arena eq_arena;

eq_arena *eq_arena_new(size_t initial_bytes);
void eq_arena_free(eq_arena *arena);
/* Returns NULL (and records EQ_ERR_MEMORY) when memory is exhausted. */
void *eq_arena_alloc(eq_arena *arena, size_t bytes);
/* Forgets every block; keeps the memory for the next step. */
void eq_arena_reset(eq_arena *arena);
size_t eq_arena_used(const eq_arena *arena);
size_t eq_arena_peak(const eq_arena *arena);

/* The calling thread's current arena: tensors created while one is current
 * live in it (see tensor.h). NULL means the heap. Returns the previous one. */
eq_arena *eq_arena_set_current(eq_arena *arena);
eq_arena *eq_arena_current(void);

/* Aligned heap memory (64 bytes; blocks of 4 MB and more on 2 MB
 * boundaries, offered to transparent huge pages, as are arena chunks);
 * eq_free(NULL) is a no-op. */
void *eq_malloc(size_t bytes);
void *eq_calloc(size_t count, size_t size);
void eq_free(void *p);

/* ---------------------------------------------------------------- RNG */

/* Philox4x32-10, counter based: the value at (key, counter) does not depend
 * on which thread or rank draws it, so random tensors, augmentations and
 * initialisations are identical for any number of threads and ranks. */
typedef struct eq_philox {
  uint32_t key[2];
  uint32_t counter[4];
} eq_philox;

/* One generator per (seed, stream): streams separate uses (e.g. step, rank,
 * sample) of one seed. */
eq_philox eq_philox_init(uint64_t seed, uint64_t stream);
/* Four fresh 32-bit words; advances the counter by one. */
void eq_philox_next4(eq_philox *g, uint32_t out[4]);
/* Random access: the four words at block index `block` of (seed, stream). */
void eq_philox_at(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]);
/* Conversions from one 32-bit word (uniform in [0, 1), never 1). */
static inline float eq_u32_to_unit_float(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
static inline double eq_u32_to_unit_double(uint32_t x) { return (double)x * (1.0 / 4294967296.0); }
/* Draws from one generator. */
uint32_t eq_philox_u32(eq_philox *g);
double eq_philox_uniform(eq_philox *g);            /* [0, 1), 53 bits */
double eq_philox_uniform_range(eq_philox *g, double lo, double hi);
double eq_philox_normal(eq_philox *g);             /* Box-Muller, mean 0, std 1 */
uint64_t eq_philox_below(eq_philox *g, uint64_t n); /* uniform in [0, n), unbiased */

/* ---------------------------------------------------------------- misc */

double eq_now_seconds(void); /* monotonic clock */
int eq_num_threads(void);    /* OpenMP threads equivar uses */
void eq_set_num_threads(int n);
/* The BLAS kernel family in use, as OpenBLAS names it ("Cooperlake",
 * "Haswell", ...). */
const char *eq_blas_kernels(void);
/* NULL, or a one-line explanation, naming the OPENBLAS_CORETYPE to start
 * with, when OpenBLAS runs kernels below what this CPU could: the
 * environment's OPENBLAS_CORETYPE keeps it off AVX-512 (about half the
 * matrix-product speed on AMD Zen 5), or it did not recognise the CPU and
 * fell back to older kernels (SSE3 on a VM's masked Xeon: 4-7x slower).
 * equivar never overrides the variable. The text lives in a static buffer. */
const char *eq_blas_kernel_advice(void);

#ifdef __cplusplus
}
#endif
#endif
