/* Files that are never half-written, and whole-file reads. */
#ifndef EQUIVAR_FILEIO_H
#define EQUIVAR_FILEIO_H

#include <stdio.h>

#include "equivar/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write to "<path>.tmp.<pid>", then fsync and rename over `path`: readers see
 * the old file or the complete new one, never a partial one. */
typedef struct eq_atomic_file {
  FILE *fp; /* write through this */
  char *path;
  char *tmp_path;
} eq_atomic_file;

eq_status eq_atomic_open(eq_atomic_file *f, const char *path);
/* Flushes, fsyncs, closes and renames; on any failure removes the temporary
 * file, leaves `path` untouched and returns the error. */
eq_status eq_atomic_commit(eq_atomic_file *f);
/* Closes and removes the temporary file (after an error while writing). */
void eq_atomic_abort(eq_atomic_file *f);

/* Reads a whole file into a malloc'd buffer (NUL-terminated one past size).
 * Errors name the file. */
eq_status eq_read_file(const char *path, void **data, size_t *size);

/* Creates a directory and its parents (like mkdir -p). */
eq_status eq_mkdirs(const char *path);

#ifdef __cplusplus
}
#endif
#endif
