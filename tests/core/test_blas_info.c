/* eq_blas_kernels / eq_blas_kernel_advice, and the decision behind it for
 * CPUs and choices this machine lacks. ctest runs this with
 * OPENBLAS_CORETYPE=Haswell in its environment (tests/core/CMakeLists.txt),
 * so OpenBLAS loads its AVX2 kernels whatever the CPU. */
#include <stdlib.h>
#include <string.h>

#include "core/blas_info.h"
#include "eq_test.h"
#include "equivar/core.h"

static bool cpu_has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}

/* The decision on its own, for CPUs and OpenBLAS choices this machine does
 * not have. */
static void check_decisions(void) {
  char buf[256];
  /* OpenBLAS chose, and chose what the CPU has: nothing to say */
  CHECK(eq_blas_advice_for(NULL, "Cooperlake", true, true, buf, sizeof buf) == NULL);
  CHECK(eq_blas_advice_for("", "SkylakeX", true, true, buf, sizeof buf) == NULL);
  CHECK(eq_blas_advice_for(NULL, "Zen", false, true, buf, sizeof buf) == NULL);
  CHECK(eq_blas_advice_for(NULL, "Prescott", false, false, buf, sizeof buf) == NULL);
  /* an unrecognised AVX-512 CPU (the GPU node's masked Xeon): SkylakeX */
  const char *a = eq_blas_advice_for(NULL, "Prescott", true, true, buf, sizeof buf);
  CHECK_MSG(a && strstr(a, "did not recognise") && strstr(a, "Prescott") && strstr(a, "AVX-512") &&
                strstr(a, "OPENBLAS_CORETYPE=SkylakeX"),
            "%s", a ? a : "no advice");
  /* an unrecognised AVX2 CPU: Haswell */
  a = eq_blas_advice_for(NULL, "Nehalem", false, true, buf, sizeof buf);
  CHECK_MSG(a && strstr(a, "AVX2") && strstr(a, "OPENBLAS_CORETYPE=Haswell"), "%s", a ? a : "no advice");
  /* AVX2 kernels chosen on an AVX-512 CPU by OpenBLAS itself: SkylakeX */
  a = eq_blas_advice_for(NULL, "Haswell", true, true, buf, sizeof buf);
  CHECK(a && strstr(a, "OPENBLAS_CORETYPE=SkylakeX"));
  /* forced: only when it leaves AVX-512 unused, and never a second guess otherwise */
  CHECK(eq_blas_advice_for("Haswell", "Haswell", false, true, buf, sizeof buf) == NULL);
  CHECK(eq_blas_advice_for("Prescott", "Prescott", false, true, buf, sizeof buf) == NULL);
  a = eq_blas_advice_for("Haswell", "Haswell", true, true, buf, sizeof buf);
  CHECK(a && strstr(a, "OPENBLAS_CORETYPE=Haswell") && strstr(a, "unset it"));
  /* a small buffer is cut, not overrun */
  char small[16];
  a = eq_blas_advice_for(NULL, "Prescott", true, true, small, sizeof small);
  CHECK(a == small && strlen(small) == sizeof small - 1);
}

int main(void) {
  check_decisions();
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
  /* Without the variable the Haswell kernels loaded look like OpenBLAS's own
   * choice: short of an AVX-512 CPU, enough for an AVX2 one. */
  unsetenv("OPENBLAS_CORETYPE");
  advice = eq_blas_kernel_advice();
  if (cpu_has_avx512())
    CHECK_MSG(advice && strstr(advice, "OPENBLAS_CORETYPE=SkylakeX"), "%s", advice ? advice : "no advice");
  else
    CHECK_MSG(advice == NULL, "advice '%s'", advice);
  return EQ_TEST_SUMMARY();
}
