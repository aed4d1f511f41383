/* Common data set plumbing: the object, directory listing, in-memory data
 * sets, and opening by JSON config or command-line spec. */
#include "data/dataset_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

eq_dataset *eq_dataset_alloc(const char *name) {
  eq_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) {
    eq_error(EQ_ERR_MEMORY, "opening data set %s: out of memory", name);
    return NULL;
  }
  snprintf(ds->name, sizeof ds->name, "%s", name);
  ds->views = 1;
  return ds;
}

void eq_sample_free(eq_sample *s) {
  if (!s) return;
  eq_image_free(&s->image);
  memset(s, 0, sizeof *s);
}

void eq_dataset_free(eq_dataset *ds) {
  if (!ds) return;
  if (ds->destroy) ds->destroy(ds->impl);
  if (ds->class_names) eq_free_names(ds->class_names, (size_t)ds->num_classes);
  free(ds);
}

size_t eq_dataset_size(const eq_dataset *ds) { return ds->size; }
int eq_dataset_num_classes(const eq_dataset *ds) { return ds->num_classes; }
int eq_dataset_views(const eq_dataset *ds) { return ds->views; }
const char *eq_dataset_name(const eq_dataset *ds) { return ds->name; }
const char *eq_dataset_class_name(const eq_dataset *ds, int k) {
  return ds->class_names && k >= 0 && k < ds->num_classes ? ds->class_names[k] : NULL;
}

eq_status eq_dataset_get(const eq_dataset *ds, size_t index, int view, eq_sample *out) {
  memset(out, 0, sizeof *out);
  if (index >= ds->size)
    return eq_error(EQ_ERR_VALUE, "data set %s: index %zu out of range (size %zu)", ds->name, index, ds->size);
  if (view < 0 || view >= ds->views)
    return eq_error(EQ_ERR_VALUE, "data set %s: view %d out of range (%d views)", ds->name, view, ds->views);
  out->label = -1;
  return ds->get(ds, index, view, out);
}

/* ------------------------------------------------------------ directories */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void eq_free_names(char **names, size_t n) {
  if (!names) return;
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

char *eq_path_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + lb + 2);
  if (!p) return NULL;
  memcpy(p, a, la);
  size_t o = la;
  if (la && a[la - 1] != '/') p[o++] = '/';
  memcpy(p + o, b, lb + 1);
  return p;
}

eq_status eq_list_dir(const char *path, int want_dirs, char ***names, size_t *n) {
  *names = NULL;
  *n = 0;
  DIR *d = opendir(path);
  if (!d) return eq_error(EQ_ERR_IO, "cannot list folder '%s': %s", path, strerror(errno));
  size_t cap = 0;
  struct dirent *e;
  eq_status st = EQ_OK;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int is_dir;
    if (e->d_type == DT_DIR || e->d_type == DT_REG) {
      is_dir = e->d_type == DT_DIR;
    } else { /* DT_UNKNOWN or a link: ask stat (follows links) */
      char *full = eq_path_join(path, e->d_name);
      struct stat sb;
      int ok = full && stat(full, &sb) == 0;
      free(full);
      if (!ok) continue;
      if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode)) continue;
      is_dir = S_ISDIR(sb.st_mode);
    }
    if (is_dir != want_dirs) continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(*names, cap * sizeof *nn);
      if (!nn) {
        st = eq_error(EQ_ERR_MEMORY, "listing '%s': out of memory", path);
        break;
      }
      *names = nn;
    }
    if (!((*names)[*n] = strdup(e->d_name))) {
      st = eq_error(EQ_ERR_MEMORY, "listing '%s': out of memory", path);
      break;
    }
    (*n)++;
  }
  closedir(d);
  if (st) {
    eq_free_names(*names, *n);
    *names = NULL;
    *n = 0;
    return st;
  }
  if (*n) qsort(*names, *n, sizeof **names, cmp_str);
  return EQ_OK;
}

int eq_is_image_name(const char *name) {
  size_t n = strlen(name);
  return (n > 4 && (!strcasecmp(name + n - 4, ".jpg") || !strcasecmp(name + n - 4, ".png"))) ||
         (n > 5 && !strcasecmp(name + n - 5, ".jpeg"));
}

/* ------------------------------------------------------------ in memory */

typedef struct mem_impl {
  eq_image *images;
  int32_t *labels;
  size_t n;
} mem_impl;

static eq_status mem_get(const eq_dataset *ds, size_t index, int view, eq_sample *out) {
  const mem_impl *m = ds->impl;
  const eq_image *src = &m->images[index];
  eq_status st = eq_image_alloc(&out->image, src->width, src->height, src->channels);
  if (st) return st;
  memcpy(out->image.pixels, src->pixels, (size_t)src->width * src->height * src->channels);
  out->label = m->labels ? m->labels[index] : -1;
  return EQ_OK;
}

static void mem_destroy(void *impl) {
  mem_impl *m = impl;
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) eq_image_free(&m->images[i]);
  free(m->images);
  free(m->labels);
  free(m);
}

eq_dataset *eq_dataset_from_images(const char *name, eq_image *images, int32_t *labels, size_t n, int num_classes) {
  eq_dataset *ds = eq_dataset_alloc(name);
  mem_impl *m = calloc(1, sizeof *m);
  if (!ds || !m) {
    free(ds);
    free(m);
    eq_error(EQ_ERR_MEMORY, "eq_dataset_from_images: out of memory");
    return NULL;
  }
  m->images = images;
  m->labels = labels;
  m->n = n;
  ds->impl = m;
  ds->destroy = mem_destroy;
  ds->get = mem_get;
  ds->size = n;
  ds->num_classes = num_classes;
  return ds;
}

/* ------------------------------------------------------------ by config */

eq_dataset *eq_dataset_open_json(const eq_json *cfg) {
  const char *type, *root, *split;
  if (!cfg || cfg->type != EQ_JSON_OBJECT) {
    eq_error(EQ_ERR_VALUE, "data set config: expected an object");
    return NULL;
  }
  if (eq_json_string_or(cfg, "type", NULL, &type) || eq_json_string_or(cfg, "root", NULL, &root) ||
      eq_json_string_or(cfg, "split", "train", &split))
    return NULL;
  if (!type) {
    eq_error(EQ_ERR_VALUE, "data set config: missing \"type\"");
    return NULL;
  }
  long long channels = 3, coarse = 0, views = 0, patch = 64, per_scale = 8, seed = 0;
  if (eq_json_int_or(cfg, "channels", 3, &channels) || eq_json_int_or(cfg, "coarse", 0, &coarse) ||
      eq_json_int_or(cfg, "views", 0, &views) || eq_json_int_or(cfg, "patch", 64, &patch) ||
      eq_json_int_or(cfg, "per_scale", 8, &per_scale) || eq_json_int_or(cfg, "seed", 0, &seed))
    return NULL;
  if (!strcmp(type, "idx")) {
    const char *images, *labels;
    if (eq_json_string_or(cfg, "images", NULL, &images) || eq_json_string_or(cfg, "labels", NULL, &labels)) return NULL;
    if (!images || !labels) {
      eq_error(EQ_ERR_VALUE, "data set config: type idx needs \"images\" and \"labels\"");
      return NULL;
    }
    return eq_dataset_open_idx(images, labels);
  }
  if (!root) {
    eq_error(EQ_ERR_VALUE, "data set config: type %s needs \"root\"", type);
    return NULL;
  }
  if (!strcmp(type, "imagefolder")) return eq_dataset_open_image_folder(root, (int)channels);
  if (!strcmp(type, "cifar10") || !strcmp(type, "cifar100") || !strcmp(type, "cifar"))
    return eq_dataset_open_cifar(root, split, (int)coarse);
  if (!strcmp(type, "stl10")) return eq_dataset_open_stl10(root, split);
  if (!strcmp(type, "mnist") || !strcmp(type, "fashion-mnist")) return eq_dataset_open_mnist(root, split);
  if (!strcmp(type, "3diebench")) {
    const char *index;
    if (eq_json_string_or(cfg, "index", NULL, &index)) return NULL;
    return eq_dataset_open_3diebench(root, index, (int)views, (int)channels);
  }
  if (!strcmp(type, "patches")) {
    double sc[8] = {0.25, 0.5, 1.0};
    int ns = 3;
    const eq_json *s = eq_json_get(cfg, "scales");
    if (s && s->type == EQ_JSON_ARRAY) {
      ns = (int)s->count;
      if (ns < 1 || ns > 8 || eq_json_numbers(cfg, "scales", ns, sc)) {
        if (ns < 1 || ns > 8) eq_error(EQ_ERR_VALUE, "data set config: 1 to 8 \"scales\"");
        return NULL;
      }
    }
    float fs[8];
    for (int i = 0; i < ns; i++) fs[i] = (float)sc[i];
    return eq_dataset_open_patches(root, (int)patch, fs, ns, (int)per_scale, (uint64_t)seed);
  }
  eq_error(EQ_ERR_VALUE, "data set config: unknown type '%s' (imagefolder, cifar10, cifar100, stl10, mnist, "
           "fashion-mnist, idx, 3diebench, patches)", type);
  return NULL;
}

eq_dataset *eq_dataset_open_spec(const char *spec) {
  char buf[4096];
  if (strlen(spec) >= sizeof buf) {
    eq_error(EQ_ERR_VALUE, "data set spec too long");
    return NULL;
  }
  strcpy(buf, spec);
  char *type = buf, *root = strchr(buf, ':');
  if (!root) {
    eq_error(EQ_ERR_VALUE, "data set spec '%s': expected type:root[:split]", spec);
    return NULL;
  }
  *root++ = 0;
  char *split = strrchr(root, ':');
  if (split) *split++ = 0;
  if (!strcmp(type, "imagefolder")) return eq_dataset_open_image_folder(root, 3);
  if (!strcmp(type, "cifar10") || !strcmp(type, "cifar100") || !strcmp(type, "cifar"))
    return eq_dataset_open_cifar(root, split ? split : "train", 0);
  if (!strcmp(type, "stl10")) return eq_dataset_open_stl10(root, split ? split : "train");
  if (!strcmp(type, "mnist") || !strcmp(type, "fashion-mnist")) return eq_dataset_open_mnist(root, split ? split : "train");
  if (!strcmp(type, "3diebench")) return eq_dataset_open_3diebench(root, split, 0, 3);
  if (!strcmp(type, "patches")) {
    const float scales[3] = {0.25f, 0.5f, 1.0f};
    int patch = split ? atoi(split) : 64;
    return eq_dataset_open_patches(root, patch > 0 ? patch : 64, scales, 3, 8, 0);
  }
  eq_error(EQ_ERR_VALUE, "data set spec '%s': unknown type '%s'", spec, type);
  return NULL;
}
