/* .npy header parsing and writing. The header is a Python dict literal; we
 * accept exactly the keys NumPy writes ('descr', 'fortran_order', 'shape'). */
#include "equivar/npy.h"

#include "equivar/fileio.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_space(const char *p, const char *end) {
  while (p < end && isspace((unsigned char)*p)) p++;
  return p;
}

static size_t descr_item_size(const char *descr) {
  if (strlen(descr) < 3) return 0;
  if (descr[0] != '<' && descr[0] != '|' && descr[0] != '=') return 0;
  char kind = descr[1];
  if (!strchr("fiubUS", kind)) return 0;
  char *end = NULL;
  long size = strtol(descr + 2, &end, 10);
  /* Fixed-width strings ('<U52': UTF-32, '|S52': bytes) hold file lists
   * such as 3DIEBench's train_images.npy. */
  if (kind == 'U' || kind == 'S') return (*end == '\0' && size > 0 && size <= 4096) ? (size_t)size * (kind == 'U' ? 4 : 1) : 0;
  if (*end != '\0' || size <= 0 || size > 16) return 0;
  if (kind == 'f' && size != 2 && size != 4 && size != 8) return 0;
  if ((kind == 'i' || kind == 'u') && size != 1 && size != 2 && size != 4 && size != 8) return 0;
  if (kind == 'b' && size != 1) return 0;
  return (size_t)size;
}

eq_status eq_npy_parse_header(const void *bytes, size_t n, const char *name, eq_npy_info *info) {
  const unsigned char *b = bytes;
  memset(info, 0, sizeof *info);
  if (n < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return eq_error(EQ_ERR_FORMAT, "'%s' is not a .npy file (no \\x93NUMPY magic)", name);
  int major = b[6];
  size_t header_len, prefix;
  if (major == 1) {
    header_len = (size_t)b[8] | ((size_t)b[9] << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) return eq_error(EQ_ERR_FORMAT, "'%s': truncated .npy header", name);
    header_len = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    prefix = 12;
  } else {
    return eq_error(EQ_ERR_FORMAT, "'%s': unsupported .npy format version %d", name, major);
  }
  if (header_len > n - prefix)
    return eq_error(EQ_ERR_FORMAT, "'%s': .npy header of %zu bytes is truncated (file has %zu)", name,
                    header_len, n - prefix);
  const char *p = (const char *)b + prefix, *end = p + header_len;
  int have_descr = 0, have_order = 0, have_shape = 0;
  p = skip_space(p, end);
  if (p >= end || *p != '{') return eq_error(EQ_ERR_FORMAT, "'%s': .npy header is not a dict", name);
  p++;
  for (;;) {
    p = skip_space(p, end);
    if (p < end && *p == '}') break;
    if (p >= end || (*p != '\'' && *p != '"'))
      return eq_error(EQ_ERR_FORMAT, "'%s': malformed .npy header near offset %ld", name,
                      (long)(p - (const char *)b));
    char quote = *p++;
    const char *key = p;
    while (p < end && *p != quote) p++;
    if (p >= end) return eq_error(EQ_ERR_FORMAT, "'%s': unterminated key in .npy header", name);
    size_t key_len = (size_t)(p - key);
    p = skip_space(p + 1, end);
    if (p >= end || *p != ':') return eq_error(EQ_ERR_FORMAT, "'%s': expected ':' in .npy header", name);
    p = skip_space(p + 1, end);
    if (key_len == 5 && !memcmp(key, "descr", 5)) {
      if (p >= end || (*p != '\'' && *p != '"'))
        return eq_error(EQ_ERR_FORMAT, "'%s': .npy descr is not a string (structured dtypes are not supported)", name);
      char q = *p++;
      const char *v = p;
      while (p < end && *p != q) p++;
      if (p >= end || (size_t)(p - v) >= sizeof info->descr)
        return eq_error(EQ_ERR_FORMAT, "'%s': bad .npy descr", name);
      memcpy(info->descr, v, (size_t)(p - v));
      info->descr[p - v] = '\0';
      p++;
      have_descr = 1;
    } else if (key_len == 13 && !memcmp(key, "fortran_order", 13)) {
      if (end - p >= 4 && !memcmp(p, "True", 4)) {
        info->fortran_order = 1;
        p += 4;
      } else if (end - p >= 5 && !memcmp(p, "False", 5)) {
        info->fortran_order = 0;
        p += 5;
      } else {
        return eq_error(EQ_ERR_FORMAT, "'%s': bad fortran_order in .npy header", name);
      }
      have_order = 1;
    } else if (key_len == 5 && !memcmp(key, "shape", 5)) {
      if (p >= end || *p != '(') return eq_error(EQ_ERR_FORMAT, "'%s': .npy shape is not a tuple", name);
      p++;
      info->ndim = 0;
      for (;;) {
        p = skip_space(p, end);
        if (p < end && *p == ')') {
          p++;
          break;
        }
        if (p >= end || !isdigit((unsigned char)*p))
          return eq_error(EQ_ERR_FORMAT, "'%s': bad dimension in .npy shape", name);
        if (info->ndim >= EQ_NPY_MAX_DIMS)
          return eq_error(EQ_ERR_FORMAT, "'%s': .npy array has more than %d dimensions", name, EQ_NPY_MAX_DIMS);
        int64_t dim = 0;
        while (p < end && isdigit((unsigned char)*p)) {
          if (dim > (INT64_MAX - 9) / 10) return eq_error(EQ_ERR_FORMAT, "'%s': .npy dimension overflows", name);
          dim = dim * 10 + (*p++ - '0');
        }
        info->shape[info->ndim++] = dim;
        p = skip_space(p, end);
        if (p < end && *p == ',') p++;
      }
      have_shape = 1;
    } else {
      return eq_error(EQ_ERR_FORMAT, "'%s': unknown key '%.*s' in .npy header", name, (int)key_len, key);
    }
    p = skip_space(p, end);
    if (p < end && *p == ',') p++;
  }
  if (!have_descr || !have_order || !have_shape)
    return eq_error(EQ_ERR_FORMAT, "'%s': .npy header lacks descr, fortran_order or shape", name);
  info->item_size = descr_item_size(info->descr);
  if (!info->item_size)
    return eq_error(EQ_ERR_FORMAT, "'%s': unsupported .npy dtype '%s' (little-endian bool/int/uint/float only)",
                    name, info->descr);
  info->data_offset = (int64_t)(prefix + header_len);
  int64_t count = 1;
  for (int i = 0; i < info->ndim; i++) {
    if (info->shape[i] && count > INT64_MAX / info->shape[i])
      return eq_error(EQ_ERR_FORMAT, "'%s': .npy shape overflows", name);
    count *= info->shape[i];
  }
  if (count && (uint64_t)count > (uint64_t)INT64_MAX / info->item_size)
    return eq_error(EQ_ERR_FORMAT, "'%s': .npy array is too large", name);
  return EQ_OK;
}

int64_t eq_npy_count(const eq_npy_info *info) {
  int64_t c = 1;
  for (int i = 0; i < info->ndim; i++)
    if (info->shape[i] < 0 || __builtin_mul_overflow(c, info->shape[i], &c)) return -1; /* corrupt header */
  return c;
}

eq_status eq_npy_read_info(const char *path, eq_npy_info *info) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return eq_error(EQ_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  unsigned char head[12];
  size_t got = fread(head, 1, sizeof head, fp);
  size_t header_len = 0, prefix = 10;
  if (got >= 10 && head[6] == 1) header_len = (size_t)head[8] | ((size_t)head[9] << 8);
  if (got >= 12 && (head[6] == 2 || head[6] == 3)) {
    header_len = (size_t)head[8] | ((size_t)head[9] << 8) | ((size_t)head[10] << 16) | ((size_t)head[11] << 24);
    prefix = 12;
  }
  if (header_len > (1u << 24)) {
    fclose(fp);
    return eq_error(EQ_ERR_FORMAT, "'%s': .npy header length %zu is implausible", path, header_len);
  }
  size_t total = prefix + header_len;
  unsigned char *buf = malloc(total > got ? total : got);
  if (!buf) {
    fclose(fp);
    return eq_error(EQ_ERR_MEMORY, "out of memory reading '%s'", path);
  }
  memcpy(buf, head, got);
  size_t more = total > got ? fread(buf + got, 1, total - got, fp) : 0;
  fclose(fp);
  eq_status st = eq_npy_parse_header(buf, got + more, path, info);
  free(buf);
  return st;
}

eq_status eq_npy_load(const char *path, eq_npy_info *info, void **data) {
  *data = NULL;
  eq_status st = eq_npy_read_info(path, info);
  if (st) return st;
  if (info->fortran_order && info->ndim > 1)
    return eq_error(EQ_ERR_UNSUPPORTED, "'%s': Fortran-order .npy arrays are not supported", path);
  int64_t count = eq_npy_count(info);
  size_t bytes;
  if (count < 0 || __builtin_mul_overflow((size_t)count, info->item_size, &bytes))
    return eq_error(EQ_ERR_FORMAT, "'%s': .npy shape overflows", path);
  FILE *fp = fopen(path, "rb");
  if (!fp) return eq_error(EQ_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  /* Check the size before allocating: a corrupt shape must not reserve
   * gigabytes (found by fuzz/fuzz_npy.c). */
  long end = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
  if (end < 0 || (uint64_t)end < (uint64_t)info->data_offset || (uint64_t)end - (uint64_t)info->data_offset < bytes) {
    fclose(fp);
    return eq_error(EQ_ERR_FORMAT, "'%s' is truncated: shape needs %zu data bytes, file has %lld", path, bytes,
                    end < 0 ? -1LL : (long long)(end - info->data_offset));
  }
  void *buf = malloc(bytes ? bytes : 1);
  if (!buf) {
    fclose(fp);
    return eq_error(EQ_ERR_MEMORY, "out of memory loading '%s' (%zu bytes)", path, bytes);
  }
  size_t got = 0;
  if (fseek(fp, info->data_offset, SEEK_SET) == 0) got = fread(buf, 1, bytes, fp);
  fclose(fp);
  if (got != bytes) {
    free(buf);
    return eq_error(EQ_ERR_FORMAT, "'%s' is truncated: shape needs %zu data bytes, file has %zu", path, bytes, got);
  }
  *data = buf;
  return EQ_OK;
}

size_t eq_npy_format_header(char *buf, size_t cap, const char *descr, int ndim, const int64_t *shape) {
  char dict[512];
  int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < ndim && len < (int)sizeof dict; i++)
    len += snprintf(dict + len, sizeof dict - len, "%lld%s", (long long)shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
  if (len < (int)sizeof dict) len += snprintf(dict + len, sizeof dict - len, "), }");
  if (len >= (int)sizeof dict) return 0;
  size_t total = 10 + (size_t)len + 1; /* + newline */
  size_t padded = (total + 63) / 64 * 64;
  if (padded > cap || padded - 10 > 65535) return 0;
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  size_t header_len = padded - 10;
  buf[8] = (char)(header_len & 0xff);
  buf[9] = (char)(header_len >> 8);
  memcpy(buf + 10, dict, (size_t)len);
  memset(buf + 10 + len, ' ', padded - 10 - (size_t)len - 1);
  buf[padded - 1] = '\n';
  return padded;
}

eq_status eq_npy_save(const char *path, const char *descr, int ndim, const int64_t *shape, const void *data) {
  size_t item = descr_item_size(descr);
  if (!item) return eq_error(EQ_ERR_DTYPE, "eq_npy_save('%s'): unsupported dtype '%s'", path, descr);
  if (ndim < 0 || ndim > EQ_NPY_MAX_DIMS)
    return eq_error(EQ_ERR_SHAPE, "eq_npy_save('%s'): %d dimensions (max %d)", path, ndim, EQ_NPY_MAX_DIMS);
  char header[1024];
  size_t hlen = eq_npy_format_header(header, sizeof header, descr, ndim, shape);
  if (!hlen) return eq_error(EQ_ERR_SHAPE, "eq_npy_save('%s'): header too long", path);
  size_t count = 1;
  for (int i = 0; i < ndim; i++) count *= (size_t)shape[i];
  eq_atomic_file f;
  eq_status st = eq_atomic_open(&f, path);
  if (st) return st;
  if (fwrite(header, 1, hlen, f.fp) != hlen || (count && fwrite(data, item, count, f.fp) != count)) {
    eq_atomic_abort(&f);
    return eq_error(EQ_ERR_IO, "writing '%s' failed: %s", path, strerror(errno));
  }
  return eq_atomic_commit(&f);
}
