/* Which BLAS kernels this process runs, and whether they fall short of the
 * CPU.
 *
 * OpenBLAS (a DYNAMIC_ARCH build, as Debian's) picks its kernels from the CPU
 * unless OPENBLAS_CORETYPE names a core. Two ways that goes wrong, both
 * measured:
 * - an inherited variable naming an AVX2 core on an AVX-512 CPU halves sgemm
 *   on AMD Zen 5 (121 against 222 GFLOP/s per core on this project's
 *   machines, whose environment exports OPENBLAS_CORETYPE=Haswell);
 * - a CPU that Debian 12's OpenBLAS 0.3.21 does not recognise gets its
 *   Prescott (SSE3) kernels: on the "Intel(R) Xeon(R) Processor" of a GPU
 *   node (AVX-512, model masked by its VM) sgemm 2048^3 ran at 20 GFLOP/s on
 *   one thread and 129 on eight, against 142 and 550 with
 *   OPENBLAS_CORETYPE=SkylakeX.
 * The variable is read when OpenBLAS loads, so equivar cannot change it for
 * its own process, and does not override a user's choice (someone may have
 * set it for reproducible rounding across hosts): it says what to set. */
#include "core/blas_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

extern char *openblas_get_corename(void); /* OpenBLAS's, not in its cblas.h */

const char *eq_blas_kernels(void) { return openblas_get_corename(); }

static bool cpu_has_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

static bool cpu_has_avx2(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

/* OpenBLAS's x86-64 cores with AVX-512 kernels, and those with at least
 * AVX2 + FMA ones. */
static bool in_list(const char *name, const char *const *cores, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcasecmp(name, cores[i])) return true;
  return false;
}

static bool is_avx512_core(const char *name) {
  static const char *const cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  return in_list(name, cores, sizeof cores / sizeof *cores);
}

static bool is_avx2_core(const char *name) {
  static const char *const cores[] = {"Haswell", "Zen", "Excavator", "SkylakeX", "Cooperlake", "SapphireRapids"};
  return in_list(name, cores, sizeof cores / sizeof *cores);
}

const char *eq_blas_advice_for(const char *forced, const char *used, bool avx512, bool avx2, char *buf, size_t cap) {
  if (!used) return NULL;
  if (forced && *forced) {
    /* the user's choice, unless it leaves AVX-512 unused */
    if (!avx512 || is_avx512_core(used)) return NULL;
    snprintf(buf, cap,
             "OPENBLAS_CORETYPE=%s holds OpenBLAS to its %s kernels on this AVX-512 CPU; matrix "
             "products can run at half speed (unset it to let OpenBLAS choose)",
             forced, used);
    return buf;
  }
  /* OpenBLAS chose, and fell short of the CPU: a model it does not know
   * (a virtual machine's masked CPUID, a CPU newer than the library). */
  const char *better = avx512 && !is_avx512_core(used) ? "SkylakeX" : avx2 && !is_avx2_core(used) ? "Haswell" : NULL;
  if (!better) return NULL;
  snprintf(buf, cap,
           "OpenBLAS did not recognise this CPU and runs its %s kernels, without the %s this CPU has; "
           "matrix products can run several times slower (start with OPENBLAS_CORETYPE=%s)",
           used, avx512 ? "AVX-512" : "AVX2", better);
  return buf;
}

const char *eq_blas_kernel_advice(void) {
  static char advice[256];
  return eq_blas_advice_for(getenv("OPENBLAS_CORETYPE"), openblas_get_corename(), cpu_has_avx512(), cpu_has_avx2(),
                            advice, sizeof advice);
}
