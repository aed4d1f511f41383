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

/* Frees a[k] and b[k] for k < n: the two sides of a comparison. */
static inline void free_tensor_pairs(int n, eq_tensor **a, eq_tensor **b) {
  for (int k = 0; k < n; k++) {
    eq_tensor_free(a[k]);
    eq_tensor_free(b[k]);
  }
}

#endif
