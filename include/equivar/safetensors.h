/* safetensors files: the weight format of Hugging Face and PyTorch tools.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 *   {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *    ..., "__metadata__": {"<key>": "<string>", ...}}
 * then the tensors' little-endian C-order bytes; offsets are relative to the
 * end of the header. equivar writes tensors sorted by name (as the Python
 * library does), packed without gaps, and the header padded with spaces to
 * a multiple of 8 bytes.
 *
 * Reading validates the whole file before any tensor is used: a truncated
 * file, malformed header, unknown dtype, offsets that do not match the shape,
 * overlap or leave holes give EQ_ERR_FORMAT naming the file and the tensor.
 */
#ifndef EQUIVAR_SAFETENSORS_H
#define EQUIVAR_SAFETENSORS_H

#include "equivar/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eq_st_entry {
  char *name;
  eq_dtype dtype;
  int ndim;
  int64_t shape[EQ_MAX_DIMS];
  uint64_t begin, end; /* byte offsets into the data section */
} eq_st_entry;

typedef struct eq_safetensors {
  char *path;
  void *file;          /* the whole file */
  size_t file_size;
  const unsigned char *payload; /* data section */
  size_t payload_size;
  int count;
  eq_st_entry *entries; /* in header order */
  int meta_count;
  char **meta_keys, **meta_values;
} eq_safetensors;

/* "F32" <-> EQ_F32 etc. (F64, F32, F16, BF16, I64, I32, U8, BOOL). */
const char *eq_st_dtype_name(eq_dtype dtype);
eq_status eq_st_dtype_parse(const char *name, eq_dtype *out);

/* Reads and validates `path`. NULL + error naming the file on failure. */
eq_safetensors *eq_safetensors_open(const char *path);
void eq_safetensors_close(eq_safetensors *f);
/* The entry called `name`, or NULL. */
const eq_st_entry *eq_safetensors_find(const eq_safetensors *f, const char *name);
/* A metadata value, or NULL. */
const char *eq_safetensors_meta(const eq_safetensors *f, const char *key);
/* Checks that tensor `name` exists with dst's shape and dtype (errors name
 * the file, the tensor and both shapes/dtypes); does not copy. */
eq_status eq_safetensors_check(const eq_safetensors *f, const char *name, const eq_tensor *dst);
/* eq_safetensors_check, then copies the values into dst (any strides). */
eq_status eq_safetensors_read_into(const eq_safetensors *f, const char *name, eq_tensor *dst);
/* A new contiguous tensor (current arena or heap) holding tensor `name`. */
eq_tensor *eq_safetensors_get(const eq_safetensors *f, const char *name);

/* Writing: collect named tensors and metadata, then save atomically
 * (fileio.h). Names and metadata are copied; the tensors are not: they must
 * stay alive until eq_st_writer_save returns. */
typedef struct eq_st_writer {
  int count, capacity;
  char **names;
  const eq_tensor **tensors;
  int meta_count, meta_capacity;
  char **meta_keys, **meta_values; /* copies */
} eq_st_writer;

void eq_st_writer_init(eq_st_writer *w);
/* Errors on a duplicate name, an empty name, or "__metadata__". */
eq_status eq_st_writer_add(eq_st_writer *w, const char *name, const eq_tensor *t);
eq_status eq_st_writer_meta(eq_st_writer *w, const char *key, const char *value);
eq_status eq_st_writer_save(const eq_st_writer *w, const char *path);
void eq_st_writer_free(eq_st_writer *w);

#ifdef __cplusplus
}
#endif
#endif
