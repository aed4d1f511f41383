/* IDX decoding with an explicit payload limit (the fuzz target uses a small
 * one); not public. */
#ifndef EQ_DATA_IDX_INTERNAL_H
#define EQ_DATA_IDX_INTERNAL_H

#include "equivar/datasets.h"

eq_status eq_idx_decode_limited(const void *bytes, size_t n, const char *name, size_t max_bytes, eq_idx *out);

#endif
