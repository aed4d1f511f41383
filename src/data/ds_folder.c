/* Folder-based data sets: ImageFolder, 3DIEBench (and equivar's rendered
 * 3DIE-lite, same layout), and the natural-image patch set. */
#include "data/dataset_internal.h"
#include "equivar/npy.h"
#include "equivar/transforms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A growable list of strings. */
typedef struct strlist {
  char **s;
  size_t n, cap;
} strlist;

static int strlist_push(strlist *l, char *s) {
  if (!s) return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    char **ns = realloc(l->s, cap * sizeof *ns);
    if (!ns) {
      free(s);
      return 0;
    }
    l->s = ns;
    l->cap = cap;
  }
  l->s[l->n++] = s;
  return 1;
}

/* Image files under dir, recursively, in sorted order (folders and files
 * merged by name, as os.walk + sorted gives within one class folder). */
static eq_status walk_images(const char *dir, strlist *out, int depth) {
  if (depth > 32) return eq_error(EQ_ERR_IO, "'%s': folders nested too deep", dir);
  char **files, **dirs;
  size_t nf, nd;
  eq_status st = eq_list_dir(dir, 0, &files, &nf);
  if (st) return st;
  if ((st = eq_list_dir(dir, 1, &dirs, &nd))) {
    eq_free_names(files, nf);
    return st;
  }
  for (size_t i = 0; i < nf && !st; i++)
    if (eq_is_image_name(files[i]) && !strlist_push(out, eq_path_join(dir, files[i])))
      st = eq_error(EQ_ERR_MEMORY, "listing '%s': out of memory", dir);
  for (size_t i = 0; i < nd && !st; i++) {
    char *sub = eq_path_join(dir, dirs[i]);
    st = sub ? walk_images(sub, out, depth + 1) : eq_error(EQ_ERR_MEMORY, "out of memory");
    free(sub);
  }
  eq_free_names(files, nf);
  eq_free_names(dirs, nd);
  return st;
}

/* ------------------------------------------------------------ ImageFolder */

typedef struct folder_impl {
  strlist paths;
  int32_t *labels;
  int channels;
} folder_impl;

static void folder_destroy(void *p) {
  folder_impl *f = p;
  if (!f) return;
  eq_free_names(f->paths.s, f->paths.n);
  free(f->labels);
  free(f);
}

static eq_status folder_get(const eq_dataset *ds, size_t index, int view, eq_sample *out) {
  const folder_impl *f = ds->impl;
  out->label = f->labels[index];
  return eq_image_read(f->paths.s[index], f->channels, &out->image);
}

eq_dataset *eq_dataset_open_image_folder(const char *root, int channels) {
  if (channels != 1 && channels != 3) {
    eq_error(EQ_ERR_VALUE, "ImageFolder '%s': channels %d (1 or 3)", root, channels);
    return NULL;
  }
  eq_dataset *ds = eq_dataset_alloc("imagefolder");
  folder_impl *f = calloc(1, sizeof *f);
  if (!ds || !f) {
    free(ds);
    free(f);
    eq_error(EQ_ERR_MEMORY, "ImageFolder: out of memory");
    return NULL;
  }
  f->channels = channels;
  char **classes;
  size_t nc;
  eq_status st = eq_list_dir(root, 1, &classes, &nc);
  size_t cap = 0;
  for (size_t c = 0; c < nc && !st; c++) {
    char *dir = eq_path_join(root, classes[c]);
    size_t before = f->paths.n;
    st = dir ? walk_images(dir, &f->paths, 0) : eq_error(EQ_ERR_MEMORY, "out of memory");
    free(dir);
    if (!st && f->paths.n > cap) {
      cap = f->paths.cap;
      int32_t *nl = realloc(f->labels, cap * sizeof *nl);
      if (!nl) st = eq_error(EQ_ERR_MEMORY, "ImageFolder: out of memory");
      else f->labels = nl;
    }
    for (size_t i = before; !st && i < f->paths.n; i++) f->labels[i] = (int32_t)c;
  }
  if (!st && f->paths.n == 0)
    st = eq_error(EQ_ERR_FORMAT, "ImageFolder '%s': no .jpg/.jpeg/.png files in %zu class folders", root, nc);
  if (st) {
    eq_free_names(classes, nc);
    folder_destroy(f);
    free(ds);
    return NULL;
  }
  ds->impl = f;
  ds->destroy = folder_destroy;
  ds->get = folder_get;
  ds->size = f->paths.n;
  ds->num_classes = (int)nc;
  ds->class_names = classes;
  return ds;
}

/* ------------------------------------------------------------ 3DIEBench */

typedef struct ie_impl {
  char *root;
  strlist objects; /* "<synset>/<object_id>" */
  int32_t *labels;
  int channels;
} ie_impl;

static void ie_destroy(void *p) {
  ie_impl *m = p;
  if (!m) return;
  free(m->root);
  eq_free_names(m->objects.s, m->objects.n);
  free(m->labels);
  free(m);
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static eq_status ie_get(const eq_dataset *ds, size_t index, int view, eq_sample *out) {
  const ie_impl *m = ds->impl;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/image_%d.jpg", m->root, m->objects.s[index], view);
  if (!file_exists(path)) {
    char png[4096];
    snprintf(png, sizeof png, "%s/%s/image_%d.png", m->root, m->objects.s[index], view);
    if (file_exists(png)) memcpy(path, png, sizeof path);
  }
  eq_status st = eq_image_read(path, m->channels, &out->image);
  if (st) return st;
  out->label = m->labels[index];
  snprintf(path, sizeof path, "%s/%s/latent_%d.npy", m->root, m->objects.s[index], view);
  eq_npy_info info;
  void *data = NULL;
  if ((st = eq_npy_load(path, &info, &data))) goto fail;
  int64_t cnt = eq_npy_count(&info);
  if (cnt < 1 || cnt > EQ_MAX_LATENT || (strcmp(info.descr, "<f4") && strcmp(info.descr, "<f8"))) {
    st = eq_error(EQ_ERR_FORMAT, "'%s': expected up to %d float32/float64 latents, got %lld of %s", path,
                  EQ_MAX_LATENT, (long long)cnt, info.descr);
    goto fail;
  }
  out->latent_dim = (int)cnt;
  for (int64_t i = 0; i < cnt; i++)
    out->latent[i] = info.item_size == 4 ? ((float *)data)[i] : (float)((double *)data)[i];
  free(data);
  return EQ_OK;
fail:
  free(data);
  eq_image_free(&out->image);
  return st;
}

/* Index entries: fixed-width strings, UTF-32 ('<U') or bytes ('|S'); only
 * ASCII paths are accepted. */
static eq_status read_index(const char *index, strlist *out) {
  eq_npy_info info;
  void *data;
  eq_status st = eq_npy_load(index, &info, &data);
  if (st) return st;
  int wide = info.descr[1] == 'U';
  if ((info.descr[1] != 'U' && info.descr[1] != 'S') || info.ndim != 1) {
    free(data);
    return eq_error(EQ_ERR_FORMAT, "'%s': expected a 1-d array of strings, got %s with %d dimensions", index,
                    info.descr, info.ndim);
  }
  size_t chars = info.item_size / (wide ? 4 : 1);
  for (int64_t i = 0; i < info.shape[0] && !st; i++) {
    char *s = malloc(chars + 1);
    if (!s) {
      st = eq_error(EQ_ERR_MEMORY, "out of memory");
      break;
    }
    size_t len = 0;
    for (size_t k = 0; k < chars; k++) {
      uint32_t c = wide ? ((uint32_t *)data)[i * chars + k] : ((uint8_t *)data)[i * chars + k];
      if (c == 0) break;
      if (c >= 128 || c < 32) {
        free(s);
        s = NULL;
        st = eq_error(EQ_ERR_FORMAT, "'%s': entry %lld is not a printable ASCII path", index, (long long)i);
        break;
      }
      s[len++] = (char)c;
    }
    if (!s) break;
    s[len] = 0;
    /* "/02691156/abc" and "02691156/abc/" both name root/02691156/abc */
    char *p = s;
    while (*p == '/') p++;
    memmove(s, p, strlen(p) + 1);
    len = strlen(s);
    while (len && s[len - 1] == '/') s[--len] = 0;
    if (!strchr(s, '/') || strstr(s, "..")) {
      st = eq_error(EQ_ERR_FORMAT, "'%s': entry %lld '%s' is not <synset>/<object_id>", index, (long long)i, s);
      free(s);
      break;
    }
    if (!strlist_push(out, s)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
  }
  free(data);
  return st;
}

static int count_views(const char *dir) {
  char **files;
  size_t n;
  if (eq_list_dir(dir, 0, &files, &n)) return 0;
  int views = 0;
  for (size_t i = 0; i < n; i++) {
    int v;
    char ext[8];
    if (sscanf(files[i], "image_%d.%7s", &v, ext) == 2 && (!strcmp(ext, "jpg") || !strcmp(ext, "png")) && v + 1 > views)
      views = v + 1;
  }
  eq_free_names(files, n);
  return views;
}

eq_dataset *eq_dataset_open_3diebench(const char *root, const char *index, int views, int channels) {
  eq_dataset *ds = eq_dataset_alloc("3diebench");
  ie_impl *m = calloc(1, sizeof *m);
  if (!ds || !m || !(m->root = strdup(root))) {
    free(ds);
    ie_destroy(m);
    eq_error(EQ_ERR_MEMORY, "3DIEBench: out of memory");
    return NULL;
  }
  m->channels = channels == 1 ? 1 : 3;
  char **synsets = NULL;
  size_t ns = 0;
  eq_status st = eq_list_dir(root, 1, &synsets, &ns);
  if (!st && ns == 0) st = eq_error(EQ_ERR_FORMAT, "3DIEBench '%s': no synset folders", root);
  if (!st && index) {
    st = read_index(index, &m->objects);
  } else {
    for (size_t s = 0; s < ns && !st; s++) {
      char *dir = eq_path_join(root, synsets[s]);
      char **objs;
      size_t no;
      st = dir ? eq_list_dir(dir, 1, &objs, &no) : eq_error(EQ_ERR_MEMORY, "out of memory");
      free(dir);
      if (st) break;
      for (size_t o = 0; o < no && !st; o++) {
        char *e = eq_path_join(synsets[s], objs[o]);
        if (!strlist_push(&m->objects, e)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
      }
      eq_free_names(objs, no);
    }
  }
  if (!st && m->objects.n == 0) st = eq_error(EQ_ERR_FORMAT, "3DIEBench '%s': no objects%s%s", root, index ? " in " : "", index ? index : "");
  if (!st) {
    m->labels = malloc(m->objects.n * sizeof *m->labels);
    if (!m->labels) st = eq_error(EQ_ERR_MEMORY, "out of memory");
  }
  for (size_t i = 0; !st && i < m->objects.n; i++) {
    const char *e = m->objects.s[i];
    size_t len = (size_t)(strchr(e, '/') - e);
    int found = -1;
    size_t lo = 0, hi = ns;
    while (lo < hi) { /* binary search in the sorted synsets */
      size_t mid = (lo + hi) / 2;
      int c = strncmp(synsets[mid], e, len);
      if (c == 0 && synsets[mid][len] != 0) c = 1;
      if (c == 0) {
        found = (int)mid;
        break;
      }
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    if (found < 0) st = eq_error(EQ_ERR_FORMAT, "3DIEBench '%s': object '%s' names a synset that is not a folder of the root", root, e);
    else m->labels[i] = found;
  }
  if (!st && views <= 0) {
    char *dir = eq_path_join(root, m->objects.s[0]);
    views = dir ? count_views(dir) : 0;
    if (views <= 0) st = eq_error(EQ_ERR_FORMAT, "3DIEBench: no image_<i>.jpg in '%s'", dir ? dir : root);
    free(dir);
  }
  if (st) {
    eq_free_names(synsets, ns);
    ie_destroy(m);
    free(ds);
    return NULL;
  }
  ds->impl = m;
  ds->destroy = ie_destroy;
  ds->get = ie_get;
  ds->size = m->objects.n;
  ds->views = views;
  ds->num_classes = (int)ns;
  ds->class_names = synsets;
  return ds;
}

/* ------------------------------------------------------------ patches */

typedef struct patch_impl {
  eq_image *patches;
  size_t n;
} patch_impl;

static void patch_destroy(void *p) {
  patch_impl *m = p;
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) eq_image_free(&m->patches[i]);
  free(m->patches);
  free(m);
}

static eq_status patch_get(const eq_dataset *ds, size_t index, int view, eq_sample *out) {
  const patch_impl *m = ds->impl;
  const eq_image *p = &m->patches[index];
  eq_status st = eq_image_alloc(&out->image, p->width, p->height, 3);
  if (st) return st;
  memcpy(out->image.pixels, p->pixels, (size_t)p->width * p->height * 3);
  out->label = -1;
  return EQ_OK;
}

/* All patches of one photo; errors come back as text (eq_error is per thread). */
static int cut_photo(const char *path, size_t photo, int patch, const float *scales, int n_scales, int per_scale,
                     uint64_t seed, eq_image *out, char *err, size_t errcap) {
  eq_image img = {0};
  eq_tf_workspace ws = {0};
  float *buf = malloc(sizeof(float) * 3 * patch * patch);
  eq_status st = buf ? eq_image_read(path, 3, &img) : eq_error(EQ_ERR_MEMORY, "out of memory");
  for (int s = 0; s < n_scales && !st; s++) {
    int shorter = img.width < img.height ? img.width : img.height;
    int side = (int)(scales[s] * shorter + 0.5f);
    if (side < 1) side = 1;
    if (side > shorter) side = shorter;
    eq_philox rng = eq_philox_init(seed, ((uint64_t)photo << 8) | (uint64_t)s);
    for (int j = 0; j < per_scale && !st; j++) {
      int x = (int)eq_philox_below(&rng, (uint64_t)(img.width - side + 1));
      int y = (int)eq_philox_below(&rng, (uint64_t)(img.height - side + 1));
      st = eq_tf_resized_crop(&img, (float)x, (float)y, (float)side, (float)side, 0, patch, patch, buf, &ws);
      if (!st) {
        eq_image p8;
        st = eq_tf_float_to_u8(buf, 3, patch, patch, &p8);
        if (!st) out[s * per_scale + j] = p8;
      }
    }
  }
  eq_image_free(&img);
  free(buf);
  eq_tf_workspace_free(&ws);
  if (st) snprintf(err, errcap, "%s", eq_error_message());
  return st == EQ_OK;
}

eq_dataset *eq_dataset_open_patches(const char *photo_dir, int patch, const float *scales, int n_scales,
                                    int per_scale, uint64_t seed) {
  if (patch < 1 || patch > 4096 || n_scales < 1 || n_scales > 255 || per_scale < 1) {
    eq_error(EQ_ERR_VALUE, "patch set '%s': patch %d, %d scales, %d per scale", photo_dir, patch, n_scales, per_scale);
    return NULL;
  }
  for (int s = 0; s < n_scales; s++)
    if (!(scales[s] > 0 && scales[s] <= 1)) {
      eq_error(EQ_ERR_VALUE, "patch set '%s': scale %g not in (0, 1]", photo_dir, scales[s]);
      return NULL;
    }
  strlist photos = {0};
  eq_status st = walk_images(photo_dir, &photos, 0);
  if (!st && photos.n == 0) st = eq_error(EQ_ERR_FORMAT, "patch set: no JPEG/PNG photos under '%s'", photo_dir);
  if (st) {
    eq_free_names(photos.s, photos.n);
    return NULL;
  }
  size_t per_photo = (size_t)n_scales * per_scale;
  size_t n = photos.n * per_photo;
  patch_impl *m = calloc(1, sizeof *m);
  eq_dataset *ds = eq_dataset_alloc("patches");
  eq_image *patches = calloc(n, sizeof *patches);
  if (!m || !ds || !patches) {
    free(m);
    free(ds);
    free(patches);
    eq_free_names(photos.s, photos.n);
    eq_error(EQ_ERR_MEMORY, "patch set: out of memory");
    return NULL;
  }
  char err[1024] = "";
  int failed = 0;
#pragma omp parallel for schedule(dynamic, 1)
  for (long i = 0; i < (long)photos.n; i++) {
    char e[1024];
    if (!cut_photo(photos.s[i], (size_t)i, patch, scales, n_scales, per_scale, seed, patches + i * per_photo, e,
                   sizeof e)) {
#pragma omp critical(eq_patch_error)
      if (!failed) {
        failed = 1;
        memcpy(err, e, sizeof err);
      }
    }
  }
  eq_free_names(photos.s, photos.n);
  m->patches = patches;
  m->n = n;
  if (failed) {
    patch_destroy(m);
    free(ds);
    eq_error(EQ_ERR_FORMAT, "patch set '%s': %s", photo_dir, err);
    return NULL;
  }
  ds->impl = m;
  ds->destroy = patch_destroy;
  ds->get = patch_get;
  ds->size = n;
  return ds;
}
