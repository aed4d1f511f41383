/* Parallel I/O: each rank reads and writes only its own block. HDF5 through
 * MPI-IO; .npy and CSV through positioned reads/writes on a shared file.
 * Writes go to a temporary name that rank 0 renames after a barrier, so a
 * reader never sees a partial file. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnd/dnd_internal.h"
#include "equivar/fileio.h"
#include "equivar/npy.h"

/* ---------------------------------------------------------------- helpers */

/* Every rank's status -> the worst one, so all ranks fail together. The
 * message of a failing rank is kept on that rank; others get a generic one. */
static eq_status agree(const eq_comm *c, eq_status st, const char *op) {
  int64_t v = st;
  if (eq_comm_allreduce(c, &v, 1, EQ_I64, EQ_REDUCE_MAX)) return eq_error_code();
  if (v && !st) return eq_error((eq_status)v, "%s: failed on another rank", op);
  return (eq_status)v;
}

/* The temporary name, identical on every rank (rank 0's pid). */
static eq_status tmp_name(const eq_comm *c, const char *path, char **out) {
  int64_t pid = getpid();
  eq_status st = eq_comm_bcast(c, &pid, 1, EQ_I64, 0);
  if (st) return st;
  size_t n = strlen(path) + 40;
  *out = malloc(n);
  if (!*out) return eq_error(EQ_ERR_MEMORY, "out of memory");
  snprintf(*out, n, "%s.tmp.%lld", path, (long long)pid);
  return EQ_OK;
}

/* Barrier, then rank 0 renames tmp over path (or removes it on failure). */
static eq_status finish_write(const eq_comm *c, eq_status st, const char *tmp, const char *path, const char *op) {
  st = agree(c, st, op);
  eq_status rst = EQ_OK;
  if (c->rank == 0) {
    if (st)
      unlink(tmp);
    else if (rename(tmp, path) != 0) {
      rst = eq_error(EQ_ERR_IO, "%s: cannot rename '%s' to '%s': %s", op, tmp, path, strerror(errno));
      unlink(tmp);
    }
  }
  if (st) return st;
  return agree(c, rst, op);
}

/* Runs of a C-order block: the local block of split axis `a` is outer runs of
 * cnt * inner contiguous elements at global element offsets. */
typedef struct {
  int64_t outer, run, gstride, gstart;
} runs;

static runs block_runs(const eq_dnd *x) {
  runs r;
  if (x->split == EQ_DND_NONE || x->ndim == 0) {
    r.outer = 1;
    r.run = eq_numel(x->local);
    r.gstride = r.run;
    r.gstart = 0;
    return r;
  }
  int a = x->split;
  int64_t inner = dnd_inner(x->local, a);
  r.outer = dnd_outer(x->local, a);
  r.run = x->local->shape[a] * inner;
  r.gstride = x->shape[a] * inner;
  r.gstart = x->offsets[x->comm->rank] * inner;
  return r;
}

static eq_status pread_all(int fd, void *buf, size_t n, off_t at, const char *path) {
  char *p = buf;
  while (n) {
    ssize_t k = pread(fd, p, n, at);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return eq_error(EQ_ERR_FORMAT, "'%s': file is truncated (read failed at byte %lld)", path, (long long)at);
    p += k;
    n -= (size_t)k;
    at += k;
  }
  return EQ_OK;
}

static eq_status pwrite_all(int fd, const void *buf, size_t n, off_t at, const char *path) {
  const char *p = buf;
  while (n) {
    ssize_t k = pwrite(fd, p, n, at);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return eq_error(EQ_ERR_IO, "'%s': write failed: %s", path, strerror(errno));
    p += k;
    n -= (size_t)k;
    at += k;
  }
  return EQ_OK;
}

/* ---------------------------------------------------------------- npy */

eq_dnd *eq_dnd_load_npy(const char *path, int split, const eq_comm *comm) {
  if (!comm) comm = eq_comm_world();
  eq_npy_info info;
  if (eq_npy_read_info(path, &info)) return NULL;
  eq_dtype d;
  if (eq_dtype_from_npy(info.descr, &d)) {
    eq_error_context("eq_dnd_load_npy '%s': ", path);
    return NULL;
  }
  if (info.fortran_order)
    return DND_FAIL(EQ_ERR_UNSUPPORTED, "eq_dnd_load_npy: '%s' is in Fortran order (save it C-contiguous)", path);
  if (split != EQ_DND_NONE && (split < 0 || split >= info.ndim))
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_load_npy: split %d out of range for the %d-d array in '%s'", split, info.ndim,
                    path);
  eq_dnd *x = dnd_new(d, info.ndim, info.shape, split, NULL, comm);
  if (!x) return NULL;
  int fd = open(path, O_RDONLY);
  eq_status st = fd < 0 ? eq_error(EQ_ERR_IO, "eq_dnd_load_npy: cannot open '%s': %s", path, strerror(errno)) : EQ_OK;
  struct stat sb;
  size_t es = eq_dtype_size(d);
  if (!st && fstat(fd, &sb) == 0 &&
      (int64_t)sb.st_size < info.data_offset + eq_npy_count(&info) * (int64_t)es)
    st = eq_error(EQ_ERR_FORMAT, "eq_dnd_load_npy: '%s' is truncated: %lld bytes, header promises %lld", path,
                  (long long)sb.st_size, (long long)(info.data_offset + eq_npy_count(&info) * (int64_t)es));
  runs r = block_runs(x);
  char *dst = eq_data_ptr(x->local);
  for (int64_t o = 0; o < r.outer && !st && r.run; o++)
    st = pread_all(fd, dst + o * r.run * es, (size_t)(r.run * es),
                   (off_t)(info.data_offset + (o * r.gstride + r.gstart) * (int64_t)es), path);
  if (fd >= 0) close(fd);
  st = agree(comm, st, "eq_dnd_load_npy");
  if (st) {
    eq_dnd_free(x);
    return NULL;
  }
  return x;
}

eq_status eq_dnd_save_npy(const eq_dnd *x, const char *path) {
  if (!x || !path) return eq_error(EQ_ERR_VALUE, "eq_dnd_save_npy: NULL argument");
  const eq_comm *c = x->comm;
  char *tmp = NULL;
  eq_status st = tmp_name(c, path, &tmp);
  if (st) return st;
  char header[4096];
  size_t hl = eq_npy_format_header(header, sizeof header, eq_dtype_npy_descr(x->dtype), x->ndim, x->shape);
  size_t es = eq_dtype_size(x->dtype);
  if (!hl) st = eq_error(EQ_ERR_VALUE, "eq_dnd_save_npy: cannot format a header for '%s'", path);
  if (c->rank == 0 && !st) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
      st = eq_error(EQ_ERR_IO, "eq_dnd_save_npy: cannot create '%s': %s", tmp, strerror(errno));
    else {
      st = pwrite_all(fd, header, hl, 0, tmp);
      if (!st && ftruncate(fd, (off_t)(hl + (size_t)eq_dnd_numel(x) * es)) != 0)
        st = eq_error(EQ_ERR_IO, "eq_dnd_save_npy: cannot size '%s': %s", tmp, strerror(errno));
      close(fd);
    }
  }
  st = agree(c, st, "eq_dnd_save_npy");
  if (!st) {
    /* Replicated arrays are written by rank 0 only. */
    bool writes = x->split != EQ_DND_NONE || c->rank == 0;
    int fd = writes ? open(tmp, O_WRONLY) : -1;
    if (writes && fd < 0) st = eq_error(EQ_ERR_IO, "eq_dnd_save_npy: cannot open '%s': %s", tmp, strerror(errno));
    runs r = block_runs(x);
    const char *src = eq_data_ptr(x->local);
    for (int64_t o = 0; writes && !st && o < r.outer && r.run; o++)
      st = pwrite_all(fd, src + o * r.run * es, (size_t)(r.run * es), (off_t)(hl + (size_t)(o * r.gstride + r.gstart) * es),
                      tmp);
    if (fd >= 0) {
      if (!st && fsync(fd) != 0) st = eq_error(EQ_ERR_IO, "eq_dnd_save_npy: fsync '%s': %s", tmp, strerror(errno));
      close(fd);
    }
  }
  st = finish_write(c, st, tmp, path, "eq_dnd_save_npy");
  free(tmp);
  return st;
}

/* ---------------------------------------------------------------- HDF5 */

static hid_t h5_type(eq_dtype d) {
  switch (d) {
  case EQ_F32: return H5T_NATIVE_FLOAT;
  case EQ_F64: return H5T_NATIVE_DOUBLE;
  case EQ_I32: return H5T_NATIVE_INT32;
  case EQ_I64: return H5T_NATIVE_INT64;
  default: return H5T_NATIVE_UINT8;
  }
}

static eq_status h5_dtype(hid_t t, eq_dtype *out, const char *path, const char *ds) {
  H5T_class_t cls = H5Tget_class(t);
  size_t sz = H5Tget_size(t);
  if (cls == H5T_FLOAT && (sz == 4 || sz == 8)) {
    *out = sz == 4 ? EQ_F32 : EQ_F64;
    return EQ_OK;
  }
  if (cls == H5T_INTEGER) {
    H5T_sign_t sg = H5Tget_sign(t);
    if (sz == 1 && sg == H5T_SGN_NONE) *out = EQ_U8;
    else if (sz <= 4 && !(sz == 4 && sg == H5T_SGN_NONE)) *out = EQ_I32;
    else *out = EQ_I64;
    return EQ_OK;
  }
  return eq_error(EQ_ERR_DTYPE, "eq_dnd_load_hdf5: dataset '%s' in '%s' has an unsupported type (class %d, %zu bytes)",
                  ds, path, (int)cls, sz);
}

static hid_t h5_fapl(const eq_comm *c) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (c->mpi != MPI_COMM_NULL) H5Pset_fapl_mpio(fapl, c->mpi, MPI_INFO_NULL);
  return fapl;
}

static hid_t h5_dxpl(const eq_comm *c) {
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (c->mpi != MPI_COMM_NULL) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  return dxpl;
}

/* File and memory selections of this rank's block. */
static void h5_select(const eq_dnd *x, hid_t fspace, hid_t *mspace, bool write_replicated) {
  hsize_t start[EQ_MAX_DIMS], count[EQ_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) {
    start[i] = i == x->split ? (hsize_t)x->offsets[x->comm->rank] : 0;
    count[i] = (hsize_t)x->local->shape[i];
  }
  bool none = eq_numel(x->local) == 0 || (write_replicated && x->split == EQ_DND_NONE && x->comm->rank != 0);
  *mspace = x->ndim ? H5Screate_simple(x->ndim, count, NULL) : H5Screate(H5S_SCALAR);
  if (none) {
    H5Sselect_none(fspace);
    H5Sselect_none(*mspace);
  } else if (x->ndim) {
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  }
}

eq_dnd *eq_dnd_load_hdf5(const char *path, const char *dataset, int split, const eq_comm *comm) {
  if (!comm) comm = eq_comm_world();
  if (!path || !dataset) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_load_hdf5: NULL path or dataset");
  if (access(path, R_OK) != 0)
    return DND_FAIL(EQ_ERR_IO, "eq_dnd_load_hdf5: cannot read '%s': %s", path, strerror(errno));
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fapl = h5_fapl(comm);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) return DND_FAIL(EQ_ERR_FORMAT, "eq_dnd_load_hdf5: '%s' is not an HDF5 file", path);
  eq_dnd *x = NULL;
  hid_t ds = H5Lexists(f, dataset, H5P_DEFAULT) > 0 ? H5Dopen2(f, dataset, H5P_DEFAULT) : -1;
  if (ds < 0) {
    H5Fclose(f);
    return DND_FAIL(EQ_ERR_FORMAT, "eq_dnd_load_hdf5: no dataset '%s' in '%s'", dataset, path);
  }
  hid_t fspace = H5Dget_space(ds), ftype = H5Dget_type(ds);
  int nd = H5Sget_simple_extent_ndims(fspace);
  hsize_t dims[EQ_MAX_DIMS];
  eq_dtype d = EQ_F64;
  eq_status st = EQ_OK;
  if (nd < 0 || nd > EQ_MAX_DIMS)
    st = eq_error(EQ_ERR_SHAPE, "eq_dnd_load_hdf5: dataset '%s' in '%s' has %d dims (max %d)", dataset, path, nd,
                  EQ_MAX_DIMS);
  if (!st) st = h5_dtype(ftype, &d, path, dataset);
  if (!st && split != EQ_DND_NONE && (split < 0 || split >= nd))
    st = eq_error(EQ_ERR_SHAPE, "eq_dnd_load_hdf5: split %d out of range for the %d-d dataset '%s'", split, nd,
                  dataset);
  if (!st) {
    H5Sget_simple_extent_dims(fspace, dims, NULL);
    int64_t shape[EQ_MAX_DIMS];
    for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
    x = dnd_new(d, nd, shape, split, NULL, comm);
    if (!x) st = eq_error_code();
  }
  if (!st) {
    hid_t mspace;
    h5_select(x, fspace, &mspace, false);
    hid_t dxpl = h5_dxpl(comm);
    static char dummy[16];
    void *buf = eq_numel(x->local) ? eq_data_ptr(x->local) : dummy;
    if (H5Dread(ds, h5_type(d), mspace, fspace, dxpl, buf) < 0)
      st = eq_error(EQ_ERR_FORMAT, "eq_dnd_load_hdf5: reading dataset '%s' of '%s' failed", dataset, path);
    H5Pclose(dxpl);
    H5Sclose(mspace);
  }
  H5Tclose(ftype);
  H5Sclose(fspace);
  H5Dclose(ds);
  H5Fclose(f);
  st = agree(comm, st, "eq_dnd_load_hdf5");
  if (st) {
    eq_dnd_free(x);
    return NULL;
  }
  return x;
}

eq_status eq_dnd_save_hdf5(const eq_dnd *x, const char *path, const char *dataset) {
  if (!x || !path || !dataset) return eq_error(EQ_ERR_VALUE, "eq_dnd_save_hdf5: NULL argument");
  if (x->dtype == EQ_BF16 || x->dtype == EQ_F16)
    return eq_error(EQ_ERR_DTYPE, "eq_dnd_save_hdf5: %s is storage only", eq_dtype_name(x->dtype));
  const eq_comm *c = x->comm;
  char *tmp = NULL;
  eq_status st = tmp_name(c, path, &tmp);
  if (st) return st;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fapl = h5_fapl(c);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (f < 0) st = eq_error(EQ_ERR_IO, "eq_dnd_save_hdf5: cannot create '%s'", tmp);
  if (!st) {
    hsize_t dims[EQ_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = (hsize_t)x->shape[i];
    hid_t fspace = x->ndim ? H5Screate_simple(x->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(f, dataset, h5_type(x->dtype), fspace, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (ds < 0)
      st = eq_error(EQ_ERR_VALUE, "eq_dnd_save_hdf5: cannot create dataset '%s' in '%s'", dataset, path);
    else {
      hid_t mspace;
      h5_select(x, fspace, &mspace, true);
      hid_t dxpl = h5_dxpl(c);
      static char dummy[16];
      const void *buf = eq_numel(x->local) ? eq_data_ptr(x->local) : dummy;
      if (H5Dwrite(ds, h5_type(x->dtype), mspace, fspace, dxpl, buf) < 0)
        st = eq_error(EQ_ERR_IO, "eq_dnd_save_hdf5: writing '%s' to '%s' failed", dataset, path);
      H5Pclose(dxpl);
      H5Sclose(mspace);
      H5Dclose(ds);
    }
    H5Sclose(fspace);
  }
  if (f >= 0 && H5Fclose(f) < 0 && !st) st = eq_error(EQ_ERR_IO, "eq_dnd_save_hdf5: closing '%s' failed", tmp);
  st = finish_write(c, st, tmp, path, "eq_dnd_save_hdf5");
  free(tmp);
  return st;
}

/* ---------------------------------------------------------------- CSV */

/* Splits the text into data lines (after header_lines); returns the count. */
static int64_t csv_lines(char *text, size_t size, int header_lines, char ***out) {
  int64_t cap = 1024, n = 0;
  char **lines = malloc(sizeof(char *) * (size_t)cap);
  if (!lines) return -1;
  char *p = text, *end = text + size;
  int skipped = 0;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *e = nl ? nl : end;
    if (e > p && e[-1] == '\r') e[-1] = '\0';
    *e = '\0';
    bool blank = true;
    for (char *q = p; *q; q++)
      if (*q != ' ' && *q != '\t') blank = false;
    if (skipped < header_lines)
      skipped++;
    else if (!blank) {
      if (n == cap) {
        cap *= 2;
        char **t = realloc(lines, sizeof(char *) * (size_t)cap);
        if (!t) {
          free(lines);
          return -1;
        }
        lines = t;
      }
      lines[n++] = p;
    }
    p = e + 1;
  }
  *out = lines;
  return n;
}

static int64_t csv_fields(const char *line, char sep) {
  int64_t n = 1;
  for (const char *q = line; *q; q++) n += *q == sep;
  return n;
}

eq_dnd *eq_dnd_load_csv(const char *path, char sep, int header_lines, eq_dtype dtype, int split,
                        const eq_comm *comm) {
  if (!comm) comm = eq_comm_world();
  /* Text has no offsets: every rank scans the file, parses only its block. */
  void *data = NULL;
  size_t size = 0;
  if (eq_read_file(path, &data, &size)) return NULL;
  char **lines = NULL;
  int64_t rows = csv_lines(data, size, header_lines, &lines);
  eq_dnd *x = NULL;
  eq_status st = rows < 0 ? eq_error(EQ_ERR_MEMORY, "eq_dnd_load_csv: out of memory") : EQ_OK;
  int64_t cols = rows > 0 ? csv_fields(lines[0], sep) : 0;
  if (!st && (split < EQ_DND_NONE || split > 1))
    st = eq_error(EQ_ERR_SHAPE, "eq_dnd_load_csv: split %d out of range for a 2-d table", split);
  if (!st) {
    x = dnd_new(dtype, 2, (int64_t[]){rows, cols}, split, NULL, comm);
    if (!x) st = eq_error_code();
  }
  if (!st) {
    int me = comm->rank;
    int64_t r0 = split == 0 ? x->offsets[me] : 0, r1 = split == 0 ? x->offsets[me + 1] : rows;
    int64_t c0 = split == 1 ? x->offsets[me] : 0, c1 = split == 1 ? x->offsets[me + 1] : cols;
    size_t es = eq_dtype_size(dtype);
    char *out = eq_data_ptr(x->local);
    for (int64_t i = 0; i < rows && !st; i++) {
      if (csv_fields(lines[i], sep) != cols) {
        st = eq_error(EQ_ERR_FORMAT, "eq_dnd_load_csv: '%s' data line %lld has %lld fields, the first has %lld", path,
                      (long long)(i + 1), (long long)csv_fields(lines[i], sep), (long long)cols);
        break;
      }
      /* Every rank validates every line (same error everywhere), stores its block. */
      bool ours = i >= r0 && i < r1;
      char *p = lines[i];
      for (int64_t j = 0; j < cols && !st; j++) {
        char *end;
        double v = strtod(p, &end);
        while (*end == ' ' || *end == '\t') end++;
        if (end == p || (*end != sep && *end != '\0'))
          st = eq_error(EQ_ERR_FORMAT, "eq_dnd_load_csv: '%s' data line %lld field %lld is not a number", path,
                        (long long)(i + 1), (long long)(j + 1));
        else if (ours && j >= c0 && j < c1)
          eq_store_from_double(out + ((i - r0) * (c1 - c0) + (j - c0)) * es, dtype, v);
        p = *end ? end + 1 : end;
      }
    }
  }
  free(lines);
  free(data);
  st = agree(comm, st, "eq_dnd_load_csv");
  if (st) {
    eq_dnd_free(x);
    return NULL;
  }
  return x;
}

eq_status eq_dnd_save_csv(const eq_dnd *x, const char *path, char sep) {
  if (!x || !path) return eq_error(EQ_ERR_VALUE, "eq_dnd_save_csv: NULL argument");
  if (x->ndim < 1 || x->ndim > 2) {
    char b[128];
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_save_csv: %s is not 1-d or 2-d", eq_dnd_str(x, b, sizeof b));
  }
  const eq_comm *c = x->comm;
  /* Rows must be whole on one rank: column-split arrays move to rows first. */
  eq_dnd *rows = x->split == 1 ? dnd_relayout(x, 0, NULL) : NULL;
  if (x->split == 1 && !rows) return eq_error_code();
  const eq_dnd *X = rows ? rows : x;
  bool writes = X->split == 0 || c->rank == 0;
  int64_t n = writes ? X->local->shape[0] : 0, cols = X->ndim == 2 ? X->shape[1] : 1;
  size_t cap = (size_t)(n * cols) * 26 + 16, len = 0;
  char *buf = malloc(cap);
  eq_status st = buf ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd_save_csv: out of memory");
  for (int64_t i = 0; i < n && !st; i++)
    for (int64_t j = 0; j < cols; j++) {
      double v = eq_get_flat(X->local, i * cols + j);
      const char *fmt = X->dtype == EQ_F32 ? "%.9g" : (X->dtype == EQ_F64 ? "%.17g" : "%.0f");
      len += (size_t)snprintf(buf + len, cap - len, fmt, v);
      buf[len++] = j + 1 < cols ? sep : '\n';
    }
  int64_t mine = (int64_t)len, off = 0;
  if (!st) st = eq_comm_exscan(c, &mine, &off, 1, EQ_I64, EQ_REDUCE_SUM);
  char *tmp = NULL;
  if (!st) st = tmp_name(c, path, &tmp);
  if (!st && c->rank == 0) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) st = eq_error(EQ_ERR_IO, "eq_dnd_save_csv: cannot create '%s': %s", tmp, strerror(errno));
    else close(fd);
  }
  st = agree(c, st, "eq_dnd_save_csv");
  if (!st && len) {
    int fd = open(tmp, O_WRONLY);
    if (fd < 0) st = eq_error(EQ_ERR_IO, "eq_dnd_save_csv: cannot open '%s': %s", tmp, strerror(errno));
    else {
      st = pwrite_all(fd, buf, len, (off_t)off, tmp);
      if (!st && fsync(fd) != 0) st = eq_error(EQ_ERR_IO, "eq_dnd_save_csv: fsync failed: %s", strerror(errno));
      close(fd);
    }
  }
  if (tmp) st = finish_write(c, st, tmp, path, "eq_dnd_save_csv");
  free(tmp);
  free(buf);
  eq_dnd_free(rows);
  return st;
}
