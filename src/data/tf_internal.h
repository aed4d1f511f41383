/* Helpers shared by the transform sources; not public. */
#ifndef EQ_DATA_TF_INTERNAL_H
#define EQ_DATA_TF_INTERNAL_H

#include "equivar/transforms.h"

/* Scratch slot `slot` (0..2) of at least n floats; NULL when out of memory. */
float *eq_tf_scratch(eq_tf_workspace *ws, int slot, size_t n);

#endif
