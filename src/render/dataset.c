/* Renders a 3DIEBench-style data set: per object a directory of views and
 * latents, then the index files. Objects are spread over MPI ranks
 * (i % size == rank) and threads (one object per thread at a time); every
 * random draw is keyed by (seed, object id, view), so the bytes do not
 * depend on the number of ranks or threads. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "equivar/fileio.h"
#include "equivar/npy.h"
#include "equivar/progress.h"
#include "render/catalog.h"

eq_render_dataset_options eq_render_dataset_default_options(void) {
  eq_render_dataset_options o;
  memset(&o, 0, sizeof o);
  o.size = 64;
  o.views = 50;
  o.val_fraction = 0.2;
  o.jpeg_quality = 95;
  o.supersample = 2;
  o.shadows = 1;
  o.progress = 1;
  return o;
}

/* Plain (non-atomic) write: files go into a private directory that is
 * renamed into place only once the whole object is complete. */
static eq_status write_bytes(const char *path, const void *a, size_t na, const void *b, size_t nb) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return eq_error(EQ_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
  int ok = fwrite(a, 1, na, fp) == na && (!nb || fwrite(b, 1, nb, fp) == nb);
  if (fclose(fp) != 0) ok = 0;
  return ok ? EQ_OK : eq_error(EQ_ERR_IO, "writing '%s' failed: %s", path, strerror(errno));
}

static eq_status write_latent(const char *path, const eq_render_latents *l) {
  float v[7] = {l->rotation[0], l->rotation[1], l->rotation[2], l->floor_hue, l->light_theta, l->light_phi, l->light_hue};
  char header[128];
  int64_t shape[1] = {7};
  size_t hl = eq_npy_format_header(header, sizeof header, "<f4", 1, shape);
  if (!hl) return eq_error(EQ_ERR_VALUE, "npy header too long");
  return write_bytes(path, header, hl, v, sizeof v);
}

static eq_status write_image(const char *path, const eq_image *img, const eq_render_dataset_options *o) {
  void *bytes = NULL;
  size_t n = 0;
  eq_status st = o->png ? eq_image_encode_png(img, &bytes, &n) : eq_image_encode_jpeg(img, o->jpeg_quality, &bytes, &n);
  if (!st) st = write_bytes(path, bytes, n, NULL, 0);
  free(bytes);
  return st;
}

/* Removes a directory holding only files (a previous render of one object). */
static eq_status remove_object_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? EQ_OK : eq_error(EQ_ERR_IO, "cannot open '%s': %s", dir, strerror(errno));
  struct dirent *e;
  char path[4096];
  eq_status st = EQ_OK;
  while ((e = readdir(d)) && !st) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0) st = eq_error(EQ_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
  }
  closedir(d);
  if (!st && rmdir(dir) != 0) st = eq_error(EQ_ERR_IO, "cannot remove '%s': %s", dir, strerror(errno));
  return st;
}

/* Shortest way around the circle of circumference `period`. */
static float lerp_circular(float a, float b, float t, float period) {
  float d = b - a;
  d -= period * floorf(d / period + 0.5f);
  float v = a + t * d;
  return v - period * floorf(v / period);
}

typedef struct object_job {
  const eq_render_source *src;
  const eq_render_dataset_options *o;
  int index;
  eq_progress *progress;
  int report_progress;
} object_job;

/* *fatal is set when the failure is not the object's (writing, memory). */
static eq_status render_object(const object_job *job, int64_t *images, int *fatal) {
  const eq_render_dataset_options *o = job->o;
  const eq_render_object *obj = &job->src->objects[job->index];
  eq_mesh mesh;
  *fatal = 0;
  eq_status st = eq_render_source_load(job->src, job->index, &mesh);
  if (st) return st;
  eq_render_model *model = NULL;
  st = eq_render_model_new(&mesh, obj->path, &model);
  eq_mesh_free(&mesh);
  if (st) return st;
  *fatal = 1; /* from here on the mesh is fine */
  size_t plen = strlen(o->out_dir) + strlen(obj->class_name) + strlen(obj->id) + 96;
  char *final_dir = malloc(plen), *tmp_dir = malloc(plen), *file = malloc(plen + 64);
  if (!final_dir || !tmp_dir || !file) {
    st = eq_error(EQ_ERR_MEMORY, "out of memory");
    goto done;
  }
  snprintf(final_dir, plen, "%s/%s/%s", o->out_dir, obj->class_name, obj->id);
  snprintf(tmp_dir, plen, "%s/%s/.%s.partial-%ld", o->out_dir, obj->class_name, obj->id, (long)getpid());
  remove_object_dir(tmp_dir);
  if ((st = eq_mkdirs(tmp_dir))) goto done;
  eq_render_options ro = eq_render_default_options(o->size);
  ro.supersample = o->supersample;
  ro.shadows = o->shadows;
  const uint64_t stream = eq_fnv1a64(obj->id);
  const char *ext = o->png ? "png" : "jpg";
  eq_render_latents prev;
  double prev_q[4];
  for (int v = 0; v < o->views && !st; v++) {
    eq_render_latents l = eq_render_sample_latents(o->seed, stream, v);
    double q[4];
    eq_euler_xyz_to_quat(l.rotation, q);
    eq_image img;
    st = eq_render_view_quat(model, q, &l, &ro, &img);
    if (st) break;
    snprintf(file, plen + 64, "%s/image_%d.%s", tmp_dir, v, ext);
    st = write_image(file, &img, o);
    eq_image_free(&img);
    snprintf(file, plen + 64, "%s/latent_%d.npy", tmp_dir, v);
    if (!st) st = write_latent(file, &l);
    int64_t done_images = 1;
    /* Intermediates between view v-1 and v at t = k / (K + 1). */
    for (int k = 1; v > 0 && k <= o->intermediates && !st; k++) {
      double t = (double)k / (o->intermediates + 1);
      double qi[4];
      eq_quat_slerp(prev_q, q, t, qi);
      eq_render_latents li = prev;
      eq_quat_to_euler_xyz(qi, li.rotation);
      if (!o->intermediates_rotation_only) {
        float tf = (float)t;
        li.floor_hue = lerp_circular(prev.floor_hue, l.floor_hue, tf, 1.0f);
        li.light_theta = prev.light_theta + tf * (l.light_theta - prev.light_theta);
        li.light_phi = lerp_circular(prev.light_phi, l.light_phi, tf, 6.283185307179586f);
        li.light_hue = lerp_circular(prev.light_hue, l.light_hue, tf, 1.0f);
      }
      st = eq_render_view_quat(model, qi, &li, &ro, &img);
      if (st) break;
      snprintf(file, plen + 64, "%s/inter_%d_%d.%s", tmp_dir, v - 1, k, ext);
      st = write_image(file, &img, o);
      eq_image_free(&img);
      snprintf(file, plen + 64, "%s/inter_latent_%d_%d.npy", tmp_dir, v - 1, k);
      if (!st) st = write_latent(file, &li);
      done_images++;
    }
    prev = l;
    memcpy(prev_q, q, sizeof q);
    *images += done_images;
    if (job->report_progress) {
#pragma omp critical(eq_render_progress)
      eq_progress_add(job->progress, done_images);
    }
  }
  if (!st) st = remove_object_dir(final_dir);
  if (!st && rename(tmp_dir, final_dir) != 0)
    st = eq_error(EQ_ERR_IO, "cannot rename '%s' to '%s': %s", tmp_dir, final_dir, strerror(errno));
  if (st) remove_object_dir(tmp_dir);
done:
  free(final_dir);
  free(tmp_dir);
  free(file);
  eq_render_model_free(model);
  return st;
}

/* Writes an array of fixed-width UTF-32 strings ('<U n'), readable by
 * numpy.load without allow_pickle. */
static eq_status save_strings(const char *path, char **strs, int64_t count) {
  size_t width = 1;
  for (int64_t i = 0; i < count; i++)
    if (strlen(strs[i]) > width) width = strlen(strs[i]);
  uint32_t *data = calloc((size_t)(count ? count : 1) * width, sizeof(uint32_t));
  if (!data) return eq_error(EQ_ERR_MEMORY, "out of memory");
  for (int64_t i = 0; i < count; i++) /* ids are ASCII by construction */
    for (size_t k = 0; strs[i][k]; k++) data[(size_t)i * width + k] = (unsigned char)strs[i][k];
  char descr[32];
  snprintf(descr, sizeof descr, "<U%zu", width);
  int64_t shape[1] = {count};
  eq_status st = eq_npy_save(path, descr, 1, shape, data);
  free(data);
  return st;
}

typedef struct split_item {
  uint64_t key;
  int index;
} split_item;

static int cmp_split(const void *a, const void *b) {
  const split_item *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->index - y->index;
}

/* Per class, a seed-dependent shuffle puts round(fraction * n) objects in
 * val, keeping at least one in train. */
static void split_objects(const eq_render_source *src, int n, uint64_t seed, double fraction, char *is_val) {
  split_item *items = malloc(sizeof *items * (size_t)(n ? n : 1));
  if (!items) return;
  int start = 0;
  while (start < n) {
    int end = start;
    while (end < n && !strcmp(src->objects[end].class_name, src->objects[start].class_name)) end++;
    int count = end - start;
    for (int i = 0; i < count; i++) {
      uint32_t w[4];
      eq_philox_at(seed, eq_fnv1a64(src->objects[start + i].id), UINT64_C(1) << 40, w);
      items[i].key = (uint64_t)w[0] << 32 | w[1];
      items[i].index = start + i;
    }
    qsort(items, (size_t)count, sizeof *items, cmp_split);
    int nval = (int)floor(fraction * count + 0.5);
    if (nval >= count) nval = count - 1;
    for (int i = 0; i < count; i++) is_val[items[i].index] = i < nval;
    start = end;
  }
  free(items);
}

static eq_status write_index(const eq_render_source *src, int n, const char *failed, const char *is_val,
                             const eq_render_dataset_options *o, int64_t images, int *rendered) {
  char path[4096];
  int ncls = 0;
  char **classes = malloc(sizeof(char *) * (size_t)(n ? n : 1));
  int *label = malloc(sizeof(int) * (size_t)(n ? n : 1));
  char **names[2] = {malloc(sizeof(char *) * (size_t)(n ? n : 1)), malloc(sizeof(char *) * (size_t)(n ? n : 1))};
  int64_t *labels[2] = {malloc(sizeof(int64_t) * (size_t)(n ? n : 1)), malloc(sizeof(int64_t) * (size_t)(n ? n : 1))};
  int64_t count[2] = {0, 0};
  eq_status st = EQ_OK;
  if (!classes || !label || !names[0] || !names[1] || !labels[0] || !labels[1]) {
    st = eq_error(EQ_ERR_MEMORY, "out of memory");
    goto done;
  }
  /* objects are sorted by class, so labels follow the sorted class names */
  for (int i = 0; i < n; i++) {
    if (i == 0 || strcmp(src->objects[i].class_name, src->objects[i - 1].class_name)) classes[ncls++] = src->objects[i].class_name;
    label[i] = ncls - 1;
  }
  *rendered = 0;
  for (int i = 0; i < n && !st; i++) {
    if (failed[i]) continue;
    int s = is_val[i] ? 1 : 0;
    size_t len = strlen(src->objects[i].class_name) + strlen(src->objects[i].id) + 3;
    char *entry = malloc(len);
    if (!entry) {
      st = eq_error(EQ_ERR_MEMORY, "out of memory");
      break;
    }
    snprintf(entry, len, "/%s/%s", src->objects[i].class_name, src->objects[i].id);
    names[s][count[s]] = entry;
    labels[s][count[s]] = label[i];
    count[s]++;
    (*rendered)++;
  }
  static const char *split_name[2] = {"train", "val"};
  for (int s = 0; s < 2 && !st; s++) {
    snprintf(path, sizeof path, "%s/%s_images.npy", o->out_dir, split_name[s]);
    st = save_strings(path, names[s], count[s]);
    int64_t shape[1] = {count[s]};
    snprintf(path, sizeof path, "%s/%s_labels.npy", o->out_dir, split_name[s]);
    if (!st) st = eq_npy_save(path, "<i8", 1, shape, labels[s]);
  }
  if (!st) {
    eq_atomic_file f;
    snprintf(path, sizeof path, "%s/classes.txt", o->out_dir);
    st = eq_atomic_open(&f, path);
    if (!st) {
      for (int c = 0; c < ncls; c++) fprintf(f.fp, "%s\n", classes[c]);
      st = eq_atomic_commit(&f);
    }
  }
  if (!st) {
    eq_atomic_file f;
    snprintf(path, sizeof path, "%s/render_info.json", o->out_dir);
    st = eq_atomic_open(&f, path);
    if (!st) {
      fprintf(f.fp,
              "{\"format\": \"3DIEBench\", \"renderer\": \"equivar render\", \"size\": %d, \"views\": %d, "
              "\"seed\": %llu, \"val_fraction\": %g, \"intermediates\": %d, \"intermediates_rotation_only\": %d, "
              "\"supersample\": %d, \"shadows\": %d, \"image_format\": \"%s\", \"objects\": %d, \"train_objects\": %lld, "
              "\"val_objects\": %lld, \"classes\": %d, \"images\": %lld, "
              "\"latents\": [\"rot_x\", \"rot_y\", \"rot_z\", \"floor_hue\", \"light_theta\", \"light_phi\", \"light_hue\"]}\n",
              o->size, o->views, (unsigned long long)o->seed, o->val_fraction, o->intermediates,
              o->intermediates_rotation_only, o->supersample, o->shadows, o->png ? "png" : "jpg", *rendered,
              (long long)count[0], (long long)count[1], ncls, (long long)images);
      st = eq_atomic_commit(&f);
    }
  }
done:
  for (int s = 0; s < 2; s++) {
    for (int64_t i = 0; names[s] && i < count[s]; i++) free(names[s][i]);
    free(names[s]);
    free(labels[s]);
  }
  free(classes);
  free(label);
  return st;
}

eq_status eq_render_dataset(const eq_render_source *src, const eq_render_dataset_options *o,
                            eq_render_dataset_report *report) {
  memset(report, 0, sizeof *report);
  if (!o->out_dir || !*o->out_dir) return eq_error(EQ_ERR_VALUE, "eq_render_dataset: no output directory");
  if (o->size < 8 || o->size > 4096) return eq_error(EQ_ERR_VALUE, "eq_render_dataset: size %d not in 8..4096", o->size);
  if (o->views < 1 || o->views > 100000) return eq_error(EQ_ERR_VALUE, "eq_render_dataset: views %d not in 1..100000", o->views);
  if (!(o->val_fraction >= 0 && o->val_fraction < 1))
    return eq_error(EQ_ERR_VALUE, "eq_render_dataset: val fraction %g not in [0, 1)", o->val_fraction);
  if (o->intermediates < 0 || o->intermediates > 64)
    return eq_error(EQ_ERR_VALUE, "eq_render_dataset: intermediates %d not in 0..64", o->intermediates);
  if (o->supersample < 1 || o->supersample > 4)
    return eq_error(EQ_ERR_VALUE, "eq_render_dataset: supersample %d not in 1..4", o->supersample);
  if (!o->png && (o->jpeg_quality < 1 || o->jpeg_quality > 100))
    return eq_error(EQ_ERR_VALUE, "eq_render_dataset: JPEG quality %d not in 1..100", o->jpeg_quality);
  int n = src->num_objects;
  if (n <= 0) return eq_error(EQ_ERR_VALUE, "eq_render_dataset: no objects");
  int rank = 0, size = 1, mpi = 0;
  MPI_Initialized(&mpi);
  if (mpi) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  eq_status st = eq_mkdirs(o->out_dir);
  if (st) return st;
  double t0 = eq_now_seconds();
  char *failed = calloc((size_t)n, 1), *is_val = calloc((size_t)n, 1);
  char **messages = calloc((size_t)n, sizeof(char *));
  if (!failed || !is_val || !messages) {
    free(failed);
    free(is_val);
    free(messages);
    return eq_error(EQ_ERR_MEMORY, "out of memory");
  }
  split_objects(src, n, o->seed, o->val_fraction, is_val);
  int mine = 0;
  for (int i = rank; i < n; i += size) mine++;
  int64_t per_object = (int64_t)o->views + (int64_t)(o->views - 1) * o->intermediates;
  eq_progress progress;
  int show = o->progress && rank == 0;
  if (show) eq_progress_start(&progress, "render", (int64_t)mine * per_object, "img");
  int threads = o->threads > 0 ? o->threads : eq_num_threads();
  int64_t images = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : images)
  for (int j = 0; j < mine; j++) {
    int i = rank + j * size;
    object_job job = {src, o, i, &progress, show};
    int64_t made = 0;
    int fatal = 0;
    eq_status ost = render_object(&job, &made, &fatal);
    images += made;
    if (ost) {
      failed[i] = fatal ? 2 : 1;
      messages[i] = eq_strdup(eq_error_message());
      eq_error_clear();
      if (show) {
#pragma omp critical(eq_render_progress)
        eq_progress_add(&progress, per_object - made);
      }
    }
  }
  if (show) eq_progress_finish(&progress);
  char *fatal_message = NULL;
  for (int i = 0; i < n; i++)
    if (failed[i]) {
      if (failed[i] == 2 && !fatal_message) {
        size_t len = strlen(src->objects[i].id) + (messages[i] ? strlen(messages[i]) : 0) + 64;
        fatal_message = malloc(len);
        if (fatal_message)
          snprintf(fatal_message, len, "writing object '%s' failed: %s", src->objects[i].id, messages[i] ? messages[i] : "");
      }
      fprintf(stderr, "equivar render: %s %s/%s: %s\n", failed[i] == 2 ? "error:" : "warning: skipped",
              src->objects[i].class_name, src->objects[i].id, messages[i] ? messages[i] : "(no message)");
      free(messages[i]);
    }
  free(messages);
  if (mpi && size > 1) {
    /* rank 0 writes the index: it needs every rank's failures and counts */
    MPI_Allreduce(MPI_IN_PLACE, failed, n, MPI_UNSIGNED_CHAR, MPI_MAX, MPI_COMM_WORLD);
    long long all = images;
    MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    images = all;
  }
  int rendered = 0, any_fatal = 0;
  for (int i = 0; i < n; i++) rendered += !failed[i], any_fatal |= failed[i] == 2;
  if (any_fatal) /* no index over an incomplete data set */
    st = eq_error(EQ_ERR_IO, "eq_render_dataset: %s", fatal_message ? fatal_message : "writing an object failed on another rank");
  free(fatal_message);
  if (!st && rank == 0 && rendered > 0) st = write_index(src, n, failed, is_val, o, images, &rendered);
  if (mpi && size > 1 && !any_fatal) {
    int code = st;
    MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (code && !st) st = eq_error((eq_status)code, "rank 0 failed to write the index files");
  }
  report->objects_rendered = rendered;
  report->objects_failed = n - rendered;
  report->images = images;
  report->seconds = eq_now_seconds() - t0;
  free(failed);
  free(is_val);
  if (!st && rendered == 0) st = eq_error(EQ_ERR_FORMAT, "eq_render_dataset: none of the %d objects could be rendered", n);
  return st;
}
