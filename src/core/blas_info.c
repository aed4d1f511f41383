/* Which BLAS kernels this process runs, and whether an inherited
 * OPENBLAS_CORETYPE slows them down.
 *
 * OpenBLAS (a DYNAMIC_ARCH build, as Debian's) picks its kernels from the CPU
 * unless OPENBLAS_CORETYPE names a core. Naming an AVX2 core on an AVX-512
 * CPU halves sgemm on AMD Zen 5: 121 against 222 GFLOP/s per core measured
 * on this project's machines, whose environment exports
 * OPENBLAS_CORETYPE=Haswell. equivar does not override the variable (someone
 * may have set it for reproducible rounding across hosts); it says so once. */
#include "equivar/core.h"

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

/* OpenBLAS's x86-64 cores with AVX-512 kernels; any other forced core on an
 * AVX-512 CPU leaves them unused. */
static bool is_avx512_core(const char *name) {
  static const char *const cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  for (size_t i = 0; i < sizeof cores / sizeof *cores; i++)
    if (!strcasecmp(name, cores[i])) return true;
  return false;
}

const char *eq_blas_kernel_advice(void) {
  static char advice[256];
  const char *forced = getenv("OPENBLAS_CORETYPE");
  if (!forced || !*forced || !cpu_has_avx512()) return NULL;
  const char *used = openblas_get_corename();
  if (is_avx512_core(used)) return NULL;
  snprintf(advice, sizeof advice,
           "OPENBLAS_CORETYPE=%s holds OpenBLAS to its %s kernels on this AVX-512 CPU; matrix "
           "products can run at half speed (unset it to let OpenBLAS choose)",
           forced, used);
  return advice;
}
