/* NumPy .npy files (format versions 1.0-3.0): header parsing, whole-array
 * load and atomic save. The distributed layer reads and writes per-rank
 * blocks at offsets computed from eq_npy_info. */
#ifndef EQUIVAR_NPY_H
#define EQUIVAR_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "equivar/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQ_NPY_MAX_DIMS 8

typedef struct eq_npy_info {
  char descr[16];      /* NumPy dtype string, e.g. "<f4", "<i8", "|u1", "|b1" */
  size_t item_size;    /* bytes per element */
  int fortran_order;   /* 1 for column-major data */
  int ndim;
  int64_t shape[EQ_NPY_MAX_DIMS];
  int64_t data_offset; /* bytes from the start of the file to the data */
} eq_npy_info;

/* Parses the header in `bytes` (the file's first n bytes). `name` appears in
 * error messages. Rejects big-endian, object and structured dtypes. */
eq_status eq_npy_parse_header(const void *bytes, size_t n, const char *name, eq_npy_info *info);
/* Reads and parses only the header of `path`. */
eq_status eq_npy_read_info(const char *path, eq_npy_info *info);
/* Number of elements (product of shape); -1 if that overflows. */
int64_t eq_npy_count(const eq_npy_info *info);
/* Loads the whole array into a malloc'd buffer; checks the file holds all of it. */
eq_status eq_npy_load(const char *path, eq_npy_info *info, void **data);
/* Formats a version-1.0 header (padded to a multiple of 64 bytes) into buf;
 * returns its length, or 0 if cap is too small. */
size_t eq_npy_format_header(char *buf, size_t cap, const char *descr, int ndim, const int64_t *shape);
/* Writes a C-order array atomically (temp file, fsync, rename). */
eq_status eq_npy_save(const char *path, const char *descr, int ndim, const int64_t *shape,
                      const void *data);

#ifdef __cplusplus
}
#endif
#endif
