/* Fixed-record binary data sets: CIFAR-10/100 and STL-10 (read per record
 * with pread, so a 2.7 GB STL-10 unlabelled split costs no memory), and IDX
 * (MNIST, Fashion-MNIST; small, gzip'd, decoded whole at open). */
#include "data/dataset_internal.h"
#include "data/idx_internal.h"
#include "equivar/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------ records */

typedef struct rec_file {
  char *path;
  int fd;
  size_t count;
} rec_file;

typedef enum { FMT_CIFAR10, FMT_CIFAR100, FMT_STL } rec_format;

typedef struct rec_impl {
  rec_format fmt;
  int coarse;
  size_t rec_size;
  rec_file files[8];
  int nfiles;
  int32_t *labels; /* STL: one per item (-1 unlabelled); CIFAR: NULL (in the record) */
} rec_impl;

static void rec_destroy(void *p) {
  rec_impl *r = p;
  if (!r) return;
  for (int i = 0; i < r->nfiles; i++) {
    if (r->files[i].fd >= 0) close(r->files[i].fd);
    free(r->files[i].path);
  }
  free(r->labels);
  free(r);
}

/* Opens `path` as whole records of rec_size bytes. */
static eq_status rec_add(rec_impl *r, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return eq_error(EQ_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    close(fd);
    return eq_error(EQ_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
  }
  size_t size = (size_t)sb.st_size;
  if (size == 0 || size % r->rec_size != 0) {
    close(fd);
    return eq_error(EQ_ERR_FORMAT, "'%s': %zu bytes is not a whole number of %zu-byte records (truncated or not "
                    "this format)", path, size, r->rec_size);
  }
  rec_file *f = &r->files[r->nfiles];
  f->path = strdup(path);
  f->fd = fd;
  f->count = size / r->rec_size;
  r->nfiles++;
  if (!f->path) return eq_error(EQ_ERR_MEMORY, "out of memory");
  return EQ_OK;
}

static eq_status rec_get(const eq_dataset *ds, size_t index, int view, eq_sample *out) {
  const rec_impl *r = ds->impl;
  int fi = 0;
  size_t local = index;
  while (fi < r->nfiles && local >= r->files[fi].count) local -= r->files[fi++].count;
  if (fi == r->nfiles) return eq_error(EQ_ERR_VALUE, "%s: index %zu out of range", ds->name, index);
  const rec_file *f = &r->files[fi];
  uint8_t buf[27648 + 2];
  off_t off = (off_t)(local * r->rec_size);
  ssize_t got = pread(f->fd, buf, r->rec_size, off);
  if (got != (ssize_t)r->rec_size)
    return eq_error(EQ_ERR_IO, "'%s': short read of record %zu (%s)", f->path, local,
                    got < 0 ? strerror(errno) : "file shrank");
  int side = r->fmt == FMT_STL ? 96 : 32;
  eq_status st = eq_image_alloc(&out->image, side, side, 3);
  if (st) return st;
  uint8_t *px = out->image.pixels;
  int plane = side * side;
  if (r->fmt == FMT_STL) {
    /* channel-major, then column-major (MATLAB order) */
    for (int c = 0; c < 3; c++)
      for (int x = 0; x < side; x++)
        for (int y = 0; y < side; y++) px[(y * side + x) * 3 + c] = buf[c * plane + x * side + y];
    out->label = r->labels[index];
  } else {
    int head = r->fmt == FMT_CIFAR10 ? 1 : 2;
    const uint8_t *p = buf + head;
    for (int i = 0; i < plane; i++) {
      px[3 * i] = p[i];
      px[3 * i + 1] = p[plane + i];
      px[3 * i + 2] = p[2 * plane + i];
    }
    int label = r->fmt == FMT_CIFAR10 ? buf[0] : r->coarse ? buf[0] : buf[1];
    if (label >= ds->num_classes) {
      eq_image_free(&out->image);
      return eq_error(EQ_ERR_FORMAT, "'%s': record %zu has label %d (expected < %d)", f->path, local, label,
                      ds->num_classes);
    }
    out->label = label;
  }
  return EQ_OK;
}

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static eq_dataset *rec_finish(eq_dataset *ds, rec_impl *r, eq_status st) {
  if (st) {
    rec_destroy(r);
    free(ds);
    return NULL;
  }
  ds->impl = r;
  ds->destroy = rec_destroy;
  ds->get = rec_get;
  for (int i = 0; i < r->nfiles; i++) ds->size += r->files[i].count;
  return ds;
}

eq_dataset *eq_dataset_open_cifar(const char *root, const char *split, int coarse) {
  int train = !strcmp(split, "train");
  if (!train && strcmp(split, "test")) {
    eq_error(EQ_ERR_VALUE, "CIFAR '%s': split '%s' (train or test)", root, split);
    return NULL;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/data_batch_1.bin", root);
  int is10 = file_exists(path);
  snprintf(path, sizeof path, "%s/train.bin", root);
  int is100 = file_exists(path);
  if (!is10 && !is100) {
    eq_error(EQ_ERR_IO, "'%s' holds neither CIFAR-10 (data_batch_1.bin) nor CIFAR-100 (train.bin) binary files", root);
    return NULL;
  }
  eq_dataset *ds = eq_dataset_alloc(is10 ? "cifar10" : "cifar100");
  rec_impl *r = calloc(1, sizeof *r);
  if (!ds || !r) {
    free(ds);
    free(r);
    eq_error(EQ_ERR_MEMORY, "opening CIFAR: out of memory");
    return NULL;
  }
  for (int i = 0; i < 8; i++) r->files[i].fd = -1;
  r->fmt = is10 ? FMT_CIFAR10 : FMT_CIFAR100;
  r->coarse = coarse;
  r->rec_size = is10 ? 3073 : 3074;
  ds->num_classes = is10 ? 10 : coarse ? 20 : 100;
  eq_status st = EQ_OK;
  if (is10 && train) {
    for (int b = 1; b <= 5 && !st; b++) {
      snprintf(path, sizeof path, "%s/data_batch_%d.bin", root, b);
      st = rec_add(r, path);
    }
  } else {
    snprintf(path, sizeof path, "%s/%s", root, is10 ? "test_batch.bin" : train ? "train.bin" : "test.bin");
    st = rec_add(r, path);
  }
  return rec_finish(ds, r, st);
}

/* STL-10 labels file: one byte 1..10 per image. */
static eq_status stl_labels(const char *path, size_t count, int32_t *labels) {
  void *data;
  size_t n;
  eq_status st = eq_read_file(path, &data, &n);
  if (st) return st;
  if (n != count) {
    free(data);
    return eq_error(EQ_ERR_FORMAT, "'%s': %zu labels for %zu images", path, n, count);
  }
  const uint8_t *b = data;
  for (size_t i = 0; i < n; i++) {
    if (b[i] < 1 || b[i] > 10) {
      int bad = b[i];
      free(data);
      return eq_error(EQ_ERR_FORMAT, "'%s': label %d at %zu (expected 1..10)", path, bad, i);
    }
    labels[i] = b[i] - 1;
  }
  free(data);
  return EQ_OK;
}

eq_dataset *eq_dataset_open_stl10(const char *root, const char *split) {
  int use_train = !strcmp(split, "train") || !strcmp(split, "train+unlabeled");
  int use_test = !strcmp(split, "test");
  int use_unl = !strcmp(split, "unlabeled") || !strcmp(split, "train+unlabeled");
  if (!use_train && !use_test && !use_unl) {
    eq_error(EQ_ERR_VALUE, "STL-10 '%s': split '%s' (train, test, unlabeled, train+unlabeled)", root, split);
    return NULL;
  }
  eq_dataset *ds = eq_dataset_alloc("stl10");
  rec_impl *r = calloc(1, sizeof *r);
  if (!ds || !r) {
    free(ds);
    free(r);
    eq_error(EQ_ERR_MEMORY, "opening STL-10: out of memory");
    return NULL;
  }
  for (int i = 0; i < 8; i++) r->files[i].fd = -1;
  r->fmt = FMT_STL;
  r->rec_size = 96 * 96 * 3;
  ds->num_classes = use_unl && !use_train ? 0 : 10;
  char path[4096];
  eq_status st = EQ_OK;
  const char *lab = NULL;
  if (use_train || use_test) {
    snprintf(path, sizeof path, "%s/%s_X.bin", root, use_train ? "train" : "test");
    st = rec_add(r, path);
    lab = use_train ? "train" : "test";
  }
  if (!st && use_unl) {
    snprintf(path, sizeof path, "%s/unlabeled_X.bin", root);
    st = rec_add(r, path);
  }
  size_t total = 0;
  for (int i = 0; i < r->nfiles; i++) total += r->files[i].count;
  if (!st) {
    r->labels = malloc(sizeof(int32_t) * (total ? total : 1));
    if (!r->labels) st = eq_error(EQ_ERR_MEMORY, "opening STL-10: out of memory");
  }
  if (!st) {
    for (size_t i = 0; i < total; i++) r->labels[i] = -1;
    if (lab) {
      snprintf(path, sizeof path, "%s/%s_y.bin", root, lab);
      st = stl_labels(path, r->files[0].count, r->labels);
    }
  }
  return rec_finish(ds, r, st);
}

/* ------------------------------------------------------------ IDX */

void eq_idx_free(eq_idx *idx) {
  if (!idx) return;
  free(idx->data);
  memset(idx, 0, sizeof *idx);
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Parses the header; returns the payload size implied by the dims. */
static eq_status idx_header(const uint8_t *b, size_t n, const char *name, eq_idx *out, size_t *header, size_t *payload) {
  if (n < 4) return eq_error(EQ_ERR_FORMAT, "'%s': too short for an IDX header (%zu bytes)", name, n);
  if (b[0] != 0 || b[1] != 0)
    return eq_error(EQ_ERR_FORMAT, "'%s' is not an IDX file (magic %02x %02x %02x %02x)", name, b[0], b[1], b[2], b[3]);
  if (b[2] != 0x08) return eq_error(EQ_ERR_FORMAT, "'%s': IDX element type 0x%02x (only unsigned bytes, 0x08)", name, b[2]);
  int ndim = b[3];
  if (ndim < 1 || ndim > 4) return eq_error(EQ_ERR_FORMAT, "'%s': IDX with %d dimensions (1..4)", name, ndim);
  *header = 4 + 4 * (size_t)ndim;
  if (n < *header) return eq_error(EQ_ERR_FORMAT, "'%s': IDX header truncated", name);
  uint64_t total = 1;
  out->type = b[2];
  out->ndim = ndim;
  for (int i = 0; i < ndim; i++) {
    out->dims[i] = be32(b + 4 + 4 * i);
    total *= (uint64_t)out->dims[i];
    if (total > ((uint64_t)1 << 40)) return eq_error(EQ_ERR_FORMAT, "'%s': IDX dimensions too large", name);
  }
  *payload = (size_t)total;
  return EQ_OK;
}

eq_status eq_idx_decode_limited(const void *bytes, size_t n, const char *name, size_t max_bytes, eq_idx *out) {
  memset(out, 0, sizeof *out);
  const uint8_t *b = bytes;
  size_t header = 0, payload = 0;
  eq_status st;
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
    /* gzip: inflate the header first, then exactly the payload it declares
     * (a small corrupt file cannot make us allocate without bound). */
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return eq_error(EQ_ERR_MEMORY, "'%s': zlib init failed", name);
    uint8_t head[20];
    z.next_in = (Bytef *)b;
    z.avail_in = (uInt)(n > 0x7fffffff ? 0x7fffffff : n);
    z.next_out = head;
    z.avail_out = 4;
    int zr = inflate(&z, Z_SYNC_FLUSH);
    while (zr == Z_OK && z.avail_out) zr = inflate(&z, Z_SYNC_FLUSH);
    if (z.avail_out) {
      inflateEnd(&z);
      return eq_error(EQ_ERR_FORMAT, "'%s': corrupt or truncated gzip data (%s)", name, z.msg ? z.msg : "no IDX header");
    }
    int ndim = head[3] >= 1 && head[3] <= 4 ? head[3] : 1;
    z.next_out = head + 4;
    z.avail_out = 4 * (uInt)ndim;
    while (zr == Z_OK && z.avail_out) zr = inflate(&z, Z_SYNC_FLUSH);
    if (z.avail_out) {
      inflateEnd(&z);
      return eq_error(EQ_ERR_FORMAT, "'%s': corrupt or truncated gzip data (%s)", name, z.msg ? z.msg : "IDX header");
    }
    if ((st = idx_header(head, 4 + 4 * (size_t)ndim, name, out, &header, &payload))) {
      inflateEnd(&z);
      return st;
    }
    if (payload > max_bytes) {
      inflateEnd(&z);
      return eq_error(EQ_ERR_FORMAT, "'%s': IDX payload of %zu bytes exceeds the %zu limit", name, payload, max_bytes);
    }
    out->data = malloc(payload ? payload : 1);
    if (!out->data) {
      inflateEnd(&z);
      return eq_error(EQ_ERR_MEMORY, "'%s': out of memory for %zu bytes", name, payload);
    }
    size_t done = 0;
    while (done < payload && zr == Z_OK) {
      size_t chunk = payload - done > 0x40000000 ? 0x40000000 : payload - done;
      z.next_out = out->data + done;
      z.avail_out = (uInt)chunk;
      zr = inflate(&z, Z_SYNC_FLUSH);
      done += chunk - z.avail_out;
    }
    const char *msg = z.msg;
    inflateEnd(&z);
    if (done < payload) {
      eq_idx_free(out);
      return eq_error(EQ_ERR_FORMAT, "'%s': gzip data ends after %zu of %zu payload bytes (%s)", name, done, payload,
                      msg ? msg : "truncated");
    }
    return EQ_OK;
  }
  if ((st = idx_header(b, n, name, out, &header, &payload))) return st;
  if (n - header != payload)
    return eq_error(EQ_ERR_FORMAT, "'%s': IDX payload is %zu bytes, the header declares %zu (%s)", name, n - header,
                    payload, n - header < payload ? "truncated" : "trailing data");
  out->data = malloc(payload ? payload : 1);
  if (!out->data) return eq_error(EQ_ERR_MEMORY, "'%s': out of memory", name);
  memcpy(out->data, b + header, payload);
  return EQ_OK;
}

eq_status eq_idx_decode(const void *bytes, size_t n, const char *name, eq_idx *out) {
  return eq_idx_decode_limited(bytes, n, name, (size_t)1 << 36, out);
}

eq_status eq_idx_read(const char *path, eq_idx *out) {
  memset(out, 0, sizeof *out);
  void *data;
  size_t n;
  eq_status st = eq_read_file(path, &data, &n);
  if (st) return st;
  st = eq_idx_decode(data, n, path, out);
  free(data);
  return st;
}

typedef struct idx_impl {
  eq_idx images, labels;
} idx_impl;

static void idx_destroy(void *p) {
  idx_impl *m = p;
  if (!m) return;
  eq_idx_free(&m->images);
  eq_idx_free(&m->labels);
  free(m);
}

static eq_status idx_get(const eq_dataset *ds, size_t index, int view, eq_sample *out) {
  const idx_impl *m = ds->impl;
  int h = (int)m->images.dims[1], w = (int)m->images.dims[2];
  eq_status st = eq_image_alloc(&out->image, w, h, 1);
  if (st) return st;
  memcpy(out->image.pixels, m->images.data + index * (size_t)w * h, (size_t)w * h);
  out->label = m->labels.data[index];
  return EQ_OK;
}

eq_dataset *eq_dataset_open_idx(const char *images_path, const char *labels_path) {
  idx_impl *m = calloc(1, sizeof *m);
  eq_dataset *ds = eq_dataset_alloc("idx");
  if (!m || !ds) {
    free(m);
    free(ds);
    eq_error(EQ_ERR_MEMORY, "opening IDX: out of memory");
    return NULL;
  }
  eq_status st = eq_idx_read(images_path, &m->images);
  if (!st) st = eq_idx_read(labels_path, &m->labels);
  if (!st && (m->images.ndim != 3 || m->images.dims[1] < 1 || m->images.dims[2] < 1))
    st = eq_error(EQ_ERR_FORMAT, "'%s': expected N x H x W images, got %d dimensions", images_path, m->images.ndim);
  if (!st && (m->labels.ndim != 1 || m->labels.dims[0] != m->images.dims[0]))
    st = eq_error(EQ_ERR_FORMAT, "'%s': expected %lld labels (one per image in '%s')", labels_path,
                  (long long)m->images.dims[0], images_path);
  int maxl = -1;
  for (int64_t i = 0; !st && i < m->labels.dims[0]; i++)
    if (m->labels.data[i] > maxl) maxl = m->labels.data[i];
  if (st) {
    idx_destroy(m);
    free(ds);
    return NULL;
  }
  ds->impl = m;
  ds->destroy = idx_destroy;
  ds->get = idx_get;
  ds->size = (size_t)m->images.dims[0];
  ds->num_classes = maxl + 1;
  return ds;
}

eq_dataset *eq_dataset_open_mnist(const char *root, const char *split) {
  const char *pre = !strcmp(split, "train") ? "train" : !strcmp(split, "test") ? "t10k" : NULL;
  if (!pre) {
    eq_error(EQ_ERR_VALUE, "MNIST '%s': split '%s' (train or test)", root, split);
    return NULL;
  }
  char img[4096], lab[4096];
  snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", root, pre);
  if (!file_exists(img)) snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte", root, pre);
  snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", root, pre);
  if (!file_exists(lab)) snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte", root, pre);
  eq_dataset *ds = eq_dataset_open_idx(img, lab);
  if (ds) snprintf(ds->name, sizeof ds->name, "mnist");
  return ds;
}
