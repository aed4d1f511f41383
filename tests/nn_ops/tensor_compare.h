/* Comparing two tensors of the same shape in the NN op tests. */
#ifndef EQ_TESTS_TENSOR_COMPARE_H
#define EQ_TESTS_TENSOR_COMPARE_H

#include <math.h>

#include "equivar/tensor.h"

/* The worst |a - b| / (1 + |b|) over the elements; NaN anywhere shows as
 * the worst. */
static inline double worst_rel_diff(const eq_tensor *a, const eq_tensor *b) {
  double worst = 0;
  for (int64_t i = 0; i < eq_numel(b); i++) {
    double e = fabs(eq_get_flat(a, i) - eq_get_flat(b, i)) / (1 + fabs(eq_get_flat(b, i)));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

#endif
