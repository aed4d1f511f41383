/* Atomic writes (temp file, fsync, rename) and whole-file reads. */
#include "equivar/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dup_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

eq_status eq_atomic_open(eq_atomic_file *f, const char *path) {
  memset(f, 0, sizeof *f);
  size_t n = strlen(path) + 32;
  f->path = dup_string(path);
  f->tmp_path = malloc(n);
  if (!f->path || !f->tmp_path) {
    free(f->path);
    free(f->tmp_path);
    return eq_error(EQ_ERR_MEMORY, "out of memory opening '%s'", path);
  }
  snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
  f->fp = fopen(f->tmp_path, "wb");
  if (!f->fp) {
    eq_status st = eq_error(EQ_ERR_IO, "cannot create '%s': %s", f->tmp_path, strerror(errno));
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    return st;
  }
  return EQ_OK;
}

static void fsync_parent_dir(const char *path) {
  char *copy = dup_string(path);
  if (!copy) return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(copy);
}

eq_status eq_atomic_commit(eq_atomic_file *f) {
  eq_status st = EQ_OK;
  if (fflush(f->fp) != 0 || ferror(f->fp))
    st = eq_error(EQ_ERR_IO, "writing '%s' failed: %s", f->path, strerror(errno));
  else if (fsync(fileno(f->fp)) != 0)
    st = eq_error(EQ_ERR_IO, "fsync of '%s' failed: %s", f->path, strerror(errno));
  if (fclose(f->fp) != 0 && st == EQ_OK)
    st = eq_error(EQ_ERR_IO, "closing '%s' failed: %s", f->path, strerror(errno));
  f->fp = NULL;
  if (st == EQ_OK && rename(f->tmp_path, f->path) != 0)
    st = eq_error(EQ_ERR_IO, "cannot rename '%s' to '%s': %s", f->tmp_path, f->path, strerror(errno));
  if (st != EQ_OK)
    unlink(f->tmp_path);
  else
    fsync_parent_dir(f->path);
  free(f->path);
  free(f->tmp_path);
  f->path = f->tmp_path = NULL;
  return st;
}

void eq_atomic_abort(eq_atomic_file *f) {
  if (f->fp) fclose(f->fp);
  if (f->tmp_path) unlink(f->tmp_path);
  free(f->path);
  free(f->tmp_path);
  memset(f, 0, sizeof *f);
}

eq_status eq_read_file(const char *path, void **data, size_t *size) {
  *data = NULL;
  *size = 0;
  FILE *fp = fopen(path, "rb");
  if (!fp) return eq_error(EQ_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  if (fseek(fp, 0, SEEK_END) != 0) {
    fclose(fp);
    return eq_error(EQ_ERR_IO, "cannot seek in '%s': %s", path, strerror(errno));
  }
  long len = ftell(fp);
  rewind(fp);
  if (len < 0) {
    fclose(fp);
    return eq_error(EQ_ERR_IO, "cannot size '%s': %s", path, strerror(errno));
  }
  unsigned char *buf = malloc((size_t)len + 1);
  if (!buf) {
    fclose(fp);
    return eq_error(EQ_ERR_MEMORY, "out of memory reading '%s' (%ld bytes)", path, len);
  }
  size_t got = fread(buf, 1, (size_t)len, fp);
  int failed = ferror(fp);
  fclose(fp);
  if (failed || got != (size_t)len) {
    free(buf);
    return eq_error(EQ_ERR_IO, "reading '%s' failed after %zu of %ld bytes", path, got, len);
  }
  buf[len] = 0;
  *data = buf;
  *size = (size_t)len;
  return EQ_OK;
}

eq_status eq_mkdirs(const char *path) {
  char *copy = dup_string(path);
  if (!copy) return eq_error(EQ_ERR_MEMORY, "out of memory");
  for (char *p = copy + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
        eq_status st = eq_error(EQ_ERR_IO, "cannot create directory '%s': %s", copy, strerror(errno));
        free(copy);
        return st;
      }
      *p = saved;
      if (saved == '\0') break;
    }
  }
  free(copy);
  return EQ_OK;
}
