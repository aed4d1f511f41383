/* eq_blas_kernels / eq_blas_kernel_advice. ctest runs this with
 * OPENBLAS_CORETYPE=Haswell in its environment (tests/core/CMakeLists.txt),
 * so OpenBLAS loads its AVX2 kernels whatever the CPU. */
#include <stdlib.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/core.h"

static bool cpu_has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}

int main(void) {
  const char *forced = getenv("OPENBLAS_CORETYPE");
  CHECK_MSG(forced && !strcmp(forced, "Haswell"), "run through ctest, which sets OPENBLAS_CORETYPE=Haswell");
  /* OpenBLAS honours the variable at load time. */
  CHECK_MSG(!strcmp(eq_blas_kernels(), "Haswell"), "kernels '%s'", eq_blas_kernels());
  const char *advice = eq_blas_kernel_advice();
  if (cpu_has_avx512()) {
    CHECK(advice != NULL);
    CHECK(advice && strstr(advice, "OPENBLAS_CORETYPE=Haswell") && strstr(advice, "unset it"));
  } else {
    CHECK_MSG(advice == NULL, "no AVX-512 here, yet advice '%s'", advice);
  }
  /* Without the variable there is nothing to advise, whatever was loaded. */
  unsetenv("OPENBLAS_CORETYPE");
  CHECK(eq_blas_kernel_advice() == NULL);
  return EQ_TEST_SUMMARY();
}
