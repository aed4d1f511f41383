/* IDX (MNIST) parsing, raw and gzip'd. */
#include "data/idx_internal.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  eq_idx idx;
  if (eq_idx_decode_limited(data, size, "fuzz.idx", 1u << 24, &idx) == EQ_OK) {
    uint64_t total = 1;
    for (int i = 0; i < idx.ndim; i++) total *= (uint64_t)idx.dims[i];
    if (total && (idx.data[0] | idx.data[total - 1]) == 0x1FF) abort(); /* touch both ends */
    eq_idx_free(&idx);
  }
  return 0;
}
