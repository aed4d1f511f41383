/* A small JSON reader (RFC 8259) for equivar's configuration files.
 *
 * equivar's one config format is JSON: augmentation pipelines, data sets and
 * training runs are all described by JSON objects (see docs/data.md). The
 * whole document is parsed into a tree of eq_json nodes; lookups are by key.
 * Numbers are doubles; strings are UTF-8 with escapes (\uXXXX included)
 * decoded; duplicate keys are an error. */
#ifndef EQUIVAR_JSON_H
#define EQUIVAR_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "equivar/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eq_json_type {
  EQ_JSON_NULL,
  EQ_JSON_BOOL,
  EQ_JSON_NUMBER,
  EQ_JSON_STRING,
  EQ_JSON_ARRAY,
  EQ_JSON_OBJECT
} eq_json_type;

typedef struct eq_json {
  eq_json_type type;
  bool boolean;
  double number;
  char *string;          /* EQ_JSON_STRING: NUL-terminated */
  size_t count;          /* elements (array) or members (object) */
  struct eq_json *items; /* array elements / object values, `count` of them */
  char **keys;           /* object keys, parallel to items */
} eq_json;

/* Parses n bytes of text. Returns NULL on error with a message naming
 * `name` and the line:column ("config.json:3:14: expected ':'"). */
eq_json *eq_json_parse(const char *text, size_t n, const char *name);
eq_json *eq_json_read_file(const char *path);
void eq_json_free(eq_json *root);

/* Member `key` of an object, or NULL (also when obj is not an object). */
const eq_json *eq_json_get(const eq_json *obj, const char *key);
const char *eq_json_type_name(eq_json_type type);

/* EQ_ERR_VALUE "<where>: unknown key 'k'" if obj has a key not in the
 * NULL-terminated list `allowed` (configs refuse typos). */
eq_status eq_json_check_keys(const eq_json *obj, const char *where, const char *const *allowed);

/* Typed lookups with defaults: a missing key (or JSON null) gives `dflt`;
 * a present key of another type is an EQ_ERR_VALUE naming the key. */
eq_status eq_json_number_or(const eq_json *obj, const char *key, double dflt, double *out);
eq_status eq_json_int_or(const eq_json *obj, const char *key, long long dflt, long long *out);
eq_status eq_json_bool_or(const eq_json *obj, const char *key, bool dflt, bool *out);
/* The returned string belongs to the tree (or is dflt). */
eq_status eq_json_string_or(const eq_json *obj, const char *key, const char *dflt, const char **out);
/* A number or an array of `n` numbers: fills out[0..n); a single number is
 * broadcast. Missing keeps out unchanged. */
eq_status eq_json_numbers(const eq_json *obj, const char *key, int n, double *out);

#ifdef __cplusplus
}
#endif
#endif
