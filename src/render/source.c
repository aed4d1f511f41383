/* Where objects come from: Sweet Home 3D furniture catalogs (.sh3f ZIP files
 * with PluginFurnitureCatalog.properties) and plain mesh files. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "render/catalog.h"

static const float IDENTITY[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};

void eq_render_source_free(eq_render_source *s) {
  if (!s) return;
  for (int i = 0; i < s->num_objects; i++) {
    free(s->objects[i].id);
    free(s->objects[i].class_name);
    free(s->objects[i].path);
  }
  free(s->objects);
  for (int i = 0; i < s->num_archives; i++) {
    eq_zip_close(s->archives[i]);
    free(s->archive_paths[i]);
  }
  free(s->archives);
  free(s->archive_paths);
  memset(s, 0, sizeof *s);
}

static int ends_with(const char *s, const char *ext) {
  size_t n = strlen(s), e = strlen(ext);
  return n > e && !strcasecmp(s + n - e, ext);
}

static int is_mesh_file(const char *s) {
  return ends_with(s, ".obj") || ends_with(s, ".off") || ends_with(s, ".ply") || ends_with(s, ".stl");
}

/* Keeps [A-Za-z0-9._-] (lowercased when `lower`), drops the rest. */
void eq_render_sanitize(const char *in, char *out, size_t cap, int lower) {
  size_t o = 0;
  for (const unsigned char *c = (const unsigned char *)in; *c && o + 1 < cap; c++) {
    unsigned char ch = *c;
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')
      out[o++] = (char)ch;
    else if (ch >= 'A' && ch <= 'Z')
      out[o++] = (char)(lower ? ch - 'A' + 'a' : ch);
  }
  out[o] = '\0';
  if (o && out[0] == '.') out[0] = '_'; /* no hidden directories */
}

eq_status eq_render_source_add(eq_render_source *s, const char *id, const char *class_name, const char *path,
                               int archive, const float rot[9]) {
  eq_render_object *objs = realloc(s->objects, sizeof *objs * (size_t)(s->num_objects + 1));
  if (!objs) return eq_error(EQ_ERR_MEMORY, "out of memory");
  s->objects = objs;
  eq_render_object *o = &objs[s->num_objects];
  memset(o, 0, sizeof *o);
  o->id = eq_strdup(id);
  o->class_name = eq_strdup(class_name);
  o->path = eq_strdup(path);
  o->archive = archive;
  memcpy(o->model_rotation, rot ? rot : IDENTITY, sizeof o->model_rotation);
  s->num_objects++;
  if (!o->id || !o->class_name || !o->path) return eq_error(EQ_ERR_MEMORY, "out of memory");
  return EQ_OK;
}

/* Class of a loose mesh file: its first directory below the source root when
 * there is one (<root>/<class>/<file>), else the leading letters of its name
 * ("bunny00.off" -> "bunny", "ChineseDragon-10kv.off" -> "chinesedragon"). */
static eq_status add_mesh_file(eq_render_source *s, const char *root, const char *path) {
  const char *rel = path + strlen(root);
  while (*rel == '/') rel++;
  char cls[64], id[160], stem[128];
  const char *slash = strchr(rel, '/');
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(stem, sizeof stem, "%s", base);
  if (slash && (size_t)(slash - rel) < sizeof cls) {
    char dir[64];
    memcpy(dir, rel, (size_t)(slash - rel));
    dir[slash - rel] = '\0';
    eq_render_sanitize(dir, cls, sizeof cls, 1);
  } else {
    size_t k = 0;
    while (base[k] && k + 1 < sizeof cls &&
           ((base[k] >= 'a' && base[k] <= 'z') || (base[k] >= 'A' && base[k] <= 'Z'))) {
      cls[k] = (char)(base[k] >= 'A' && base[k] <= 'Z' ? base[k] - 'A' + 'a' : base[k]);
      k++;
    }
    cls[k] = '\0';
  }
  if (!cls[0]) snprintf(cls, sizeof cls, "object");
  /* id: the relative path with '/' as '.', so sphere.off and sphere.stl differ */
  char relbuf[256];
  snprintf(relbuf, sizeof relbuf, "%s", rel[0] ? rel : base);
  for (char *c = relbuf; *c; c++)
    if (*c == '/') *c = '.';
  eq_render_sanitize(relbuf, id, sizeof id, 0);
  if (!id[0]) snprintf(id, sizeof id, "mesh");
  return eq_render_source_add(s, id, cls, path, -1, NULL);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Depth-first walk in sorted name order, so every machine lists the same objects. */
static eq_status walk(eq_render_source *s, const char *root, const char *dir, int depth) {
  if (depth > 16) return EQ_OK;
  DIR *d = opendir(dir);
  if (!d) return eq_error(EQ_ERR_IO, "cannot open directory '%s'", dir);
  char **names = NULL;
  size_t count = 0, cap = 0;
  struct dirent *e;
  eq_status st = EQ_OK;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn) {
        st = eq_error(EQ_ERR_MEMORY, "out of memory");
        break;
      }
      names = nn;
    }
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    names[count] = malloc(len);
    if (!names[count]) {
      st = eq_error(EQ_ERR_MEMORY, "out of memory");
      break;
    }
    snprintf(names[count], len, "%s/%s", dir, e->d_name);
    count++;
  }
  closedir(d);
  if (!st) qsort(names, count, sizeof *names, cmp_str);
  for (size_t i = 0; i < count && !st; i++) {
    struct stat sb;
    if (stat(names[i], &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode)) st = walk(s, root, names[i], depth + 1);
    else if (ends_with(names[i], ".sh3f")) st = eq_render_catalog_add(s, names[i]);
    else if (is_mesh_file(names[i])) st = add_mesh_file(s, root, names[i]);
  }
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
  return st;
}

static int cmp_object(const void *a, const void *b) {
  const eq_render_object *x = a, *y = b;
  int c = strcmp(x->class_name, y->class_name);
  return c ? c : strcmp(x->id, y->id);
}

eq_status eq_render_source_open(const char *path, eq_render_source *out) {
  memset(out, 0, sizeof *out);
  struct stat sb;
  if (stat(path, &sb) != 0) return eq_error(EQ_ERR_IO, "render source '%s' does not exist", path);
  eq_status st;
  if (S_ISDIR(sb.st_mode)) {
    char *root = eq_strdup(path);
    if (!root) return eq_error(EQ_ERR_MEMORY, "out of memory");
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') root[--n] = '\0';
    st = walk(out, root, root, 0);
    free(root);
  } else if (ends_with(path, ".sh3f") || ends_with(path, ".zip")) {
    st = eq_render_catalog_add(out, path);
  } else if (is_mesh_file(path)) {
    const char *slash = strrchr(path, '/');
    char *root = slash ? strndup(path, (size_t)(slash - path)) : eq_strdup("");
    st = root ? add_mesh_file(out, root, path) : eq_error(EQ_ERR_MEMORY, "out of memory");
    free(root);
  } else {
    st = eq_error(EQ_ERR_UNSUPPORTED, "render source '%s': not a directory, .sh3f catalog or .obj/.off/.ply/.stl mesh", path);
  }
  if (!st && out->num_objects == 0)
    st = eq_error(EQ_ERR_VALUE, "render source '%s' holds no meshes (.obj, .off, .ply, .stl) or .sh3f catalogs", path);
  if (st) {
    eq_render_source_free(out);
    return st;
  }
  qsort(out->objects, (size_t)out->num_objects, sizeof *out->objects, cmp_object);
  /* Ids name directories: make duplicates (same file name twice) unique. */
  for (int i = 1; i < out->num_objects; i++) {
    eq_render_object *o = &out->objects[i];
    for (int k = 2; !strcmp(o->class_name, out->objects[i - 1].class_name) && !strcmp(o->id, out->objects[i - 1].id); k++) {
      size_t len = strlen(o->id) + 16;
      char *id = malloc(len);
      if (!id) {
        eq_render_source_free(out);
        return eq_error(EQ_ERR_MEMORY, "out of memory");
      }
      snprintf(id, len, "%s-%d", out->objects[i - 1].id, k);
      free(o->id);
      o->id = id;
    }
  }
  return EQ_OK;
}

typedef struct zip_ctx {
  const eq_zip *zip;
  const char *base; /* the OBJ's entry name */
} zip_ctx;

static eq_status open_from_zip(void *ctx, const char *path, void **bytes, size_t *size) {
  zip_ctx *z = ctx;
  char *full = eq_path_join_relative(z->base, path);
  if (!full) return eq_error(EQ_ERR_MEMORY, "out of memory");
  int idx = eq_zip_find(z->zip, full);
  eq_status st = idx < 0 ? eq_error(EQ_ERR_FORMAT, "no entry '%s' in the archive", full)
                         : eq_zip_extract(z->zip, idx, bytes, size);
  free(full);
  return st;
}

eq_status eq_render_source_load(const eq_render_source *s, int index, eq_mesh *out) {
  memset(out, 0, sizeof *out);
  if (index < 0 || index >= s->num_objects)
    return eq_error(EQ_ERR_VALUE, "eq_render_source_load: object %d of %d", index, s->num_objects);
  const eq_render_object *o = &s->objects[index];
  eq_status st;
  if (o->archive >= 0) {
    const eq_zip *zip = s->archives[o->archive];
    if (!ends_with(o->path, ".obj"))
      return eq_error(EQ_ERR_UNSUPPORTED, "'%s': model '%s' is not an OBJ file (the only catalog model format read)",
                      s->archive_paths[o->archive], o->path);
    int idx = eq_zip_find(zip, o->path);
    if (idx < 0)
      return eq_error(EQ_ERR_FORMAT, "'%s': catalog names model '%s', which the archive lacks",
                      s->archive_paths[o->archive], o->path);
    void *bytes = NULL;
    size_t n = 0;
    st = eq_zip_extract(zip, idx, &bytes, &n);
    if (st) return st;
    zip_ctx ctx = {zip, eq_zip_entry_name(zip, idx)};
    st = eq_mesh_parse_obj(bytes, n, o->path, open_from_zip, &ctx, out);
    free(bytes);
    if (st) eq_error_context("'%s': ", s->archive_paths[o->archive]);
  } else {
    st = eq_mesh_load(o->path, out);
  }
  if (st) return st;
  if (memcmp(o->model_rotation, IDENTITY, sizeof IDENTITY) != 0) eq_mesh_transform(out, o->model_rotation);
  return EQ_OK;
}

typedef struct pick {
  uint64_t key;
  int index;
} pick;

static int cmp_pick(const void *a, const void *b) {
  const pick *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->index - y->index;
}

eq_status eq_render_source_limit(eq_render_source *s, int n) {
  if (n <= 0) return eq_error(EQ_ERR_VALUE, "eq_render_source_limit: %d objects", n);
  if (n >= s->num_objects) return EQ_OK;
  pick *p = malloc(sizeof *p * (size_t)s->num_objects);
  char *keep = calloc((size_t)s->num_objects, 1);
  if (!p || !keep) {
    free(p);
    free(keep);
    return eq_error(EQ_ERR_MEMORY, "out of memory");
  }
  for (int i = 0; i < s->num_objects; i++) {
    char key[512];
    snprintf(key, sizeof key, "%s/%s", s->objects[i].class_name, s->objects[i].id);
    p[i].key = eq_fnv1a64(key);
    p[i].index = i;
  }
  qsort(p, (size_t)s->num_objects, sizeof *p, cmp_pick);
  for (int i = 0; i < n; i++) keep[p[i].index] = 1;
  int o = 0;
  for (int i = 0; i < s->num_objects; i++) {
    if (keep[i]) {
      s->objects[o++] = s->objects[i];
    } else {
      free(s->objects[i].id);
      free(s->objects[i].class_name);
      free(s->objects[i].path);
    }
  }
  s->num_objects = o;
  free(p);
  free(keep);
  return EQ_OK;
}
