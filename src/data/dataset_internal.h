/* The data set object behind datasets.h; not public. */
#ifndef EQ_DATA_DATASET_INTERNAL_H
#define EQ_DATA_DATASET_INTERNAL_H

#include "equivar/datasets.h"

struct eq_dataset {
  char name[64];
  size_t size;
  int num_classes;
  int views;
  char **class_names; /* num_classes strings or NULL */
  eq_status (*get)(const eq_dataset *ds, size_t index, int view, eq_sample *out);
  void (*destroy)(void *impl);
  void *impl;
};

/* A zeroed data set with name and one view; NULL (error recorded) on OOM. */
eq_dataset *eq_dataset_alloc(const char *name);

/* Sorted (strcmp) entries of a directory: want_dirs 1 sub-folders, 0 regular
 * files; "." entries skipped. *names is malloc'd, free with eq_free_names. */
eq_status eq_list_dir(const char *path, int want_dirs, char ***names, size_t *n);
void eq_free_names(char **names, size_t n);
/* Case-insensitive ".jpg" / ".jpeg" / ".png" suffix. */
int eq_is_image_name(const char *name);
/* malloc'd "a/b". */
char *eq_path_join(const char *a, const char *b);

#endif
