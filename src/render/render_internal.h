/* Helpers shared by the renderer's parsers and writers (not installed). */
#ifndef EQ_RENDER_INTERNAL_H
#define EQ_RENDER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "equivar/render.h"

/* A growable array of fixed-size items (malloc based). */
typedef struct eq_vec {
  void *data;
  size_t count, cap, item;
} eq_vec;

void eq_vec_init(eq_vec *v, size_t item_size);
/* Appends `n` items copied from `src`; returns 0 on allocation failure. */
int eq_vec_push(eq_vec *v, const void *src, size_t n);
void eq_vec_free(eq_vec *v);
/* Hands the buffer over (NULL when empty) and resets the vector. */
void *eq_vec_take(eq_vec *v);

/* Line-by-line reading of a NUL-terminated text copy of the input. */
typedef struct eq_lines {
  char *text; /* owned copy, NUL-terminated; lines are cut in place */
  char *next;
  char *end;
  int64_t line; /* 1-based number of the line last returned */
} eq_lines;

/* Copies the bytes (an embedded NUL byte is a format error naming `name`). */
eq_status eq_lines_init(eq_lines *l, const void *bytes, size_t n, const char *name);
/* Next line with '\r', '\n' and '#' comments (when strip_comments) removed
 * and surrounding blanks trimmed; NULL at the end. */
char *eq_lines_next(eq_lines *l, int strip_comments);
void eq_lines_free(eq_lines *l);

/* Parses one finite number at *p (skipping blanks), advances *p. Returns 0 when
 * none is there or it is not finite. */
int eq_parse_float(char **p, float *out);
int eq_parse_double(char **p, double *out);
/* Parses a decimal integer in [lo, hi]. */
int eq_parse_long(char **p, long lo, long hi, long *out);
/* Next blank-separated token (cut in place) or NULL. */
char *eq_next_token(char **p);
int eq_is_blank(char c);

/* Builds a mesh from vectors (taking their buffers) and validates it. */
eq_status eq_mesh_finish(eq_mesh *out, const char *name, eq_vec *pos, eq_vec *col, eq_vec *tex,
                         eq_vec *nrm, eq_vec *tri_pos, eq_vec *tri_tex, eq_vec *tri_nrm,
                         eq_vec *tri_mat);

/* 64-bit FNV-1a of a string: stable stream ids derived from object ids. */
uint64_t eq_fnv1a64(const char *s);

/* Joins a directory (of `base`, a file path) and a relative path, resolving
 * "." and ".." and turning '\\' into '/'. Returns a malloc'd string. */
char *eq_path_join_relative(const char *base_file, const char *rel);

char *eq_strdup(const char *s);



/* Machine-independent sin/cos (see scene.c) and quaternion to matrix. */
void eq_det_sincos(double x, double *s, double *c);
void eq_render_quat_to_matrix(const double q[4], double m[9]);
#endif
