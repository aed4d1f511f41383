/* The decision behind eq_blas_kernel_advice, apart from the process's own
 * CPU and OpenBLAS, so that tests can give it any. Internal to the library. */
#ifndef EQ_CORE_BLAS_INFO_H
#define EQ_CORE_BLAS_INFO_H

#include <stddef.h>

#include "equivar/core.h"

/* The advice (written into buf, cap bytes) for OpenBLAS running the `used`
 * core's kernels, `forced` the OPENBLAS_CORETYPE in the environment (NULL or
 * empty: none), on a CPU with or without AVX-512 and AVX2 + FMA; NULL when
 * the kernels use what the CPU has or the user chose them knowingly. */
const char *eq_blas_advice_for(const char *forced, const char *used, bool avx512, bool avx2, char *buf, size_t cap);

#endif
