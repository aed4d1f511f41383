/* Clock and thread-count helpers. */
#include "equivar/core.h"

#include <omp.h>
#include <time.h>

double eq_now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int eq_num_threads(void) { return omp_get_max_threads(); }

void eq_set_num_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}
