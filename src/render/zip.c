/* A read-only ZIP reader: end-of-central-directory record, central directory,
 * local headers; stored and deflate (zlib raw inflate) entries, CRC-32
 * checked. Every offset and size is bounds-checked against the buffer. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "equivar/fileio.h"
#include "render/render_internal.h"

/* Refuse entries that would inflate past this: furniture files are < 100 MB. */
#define ZIP_MAX_ENTRY_BYTES ((size_t)1 << 30)

typedef struct zip_entry {
  char *name;
  uint16_t method, flags;
  uint32_t crc, comp_size, size, local_offset;
} zip_entry;

struct eq_zip {
  const unsigned char *data;
  size_t n;
  int owned;
  char *name;
  int count;
  zip_entry *entries;
};

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void eq_zip_close(eq_zip *z) {
  if (!z) return;
  for (int i = 0; i < z->count; i++) free(z->entries[i].name);
  free(z->entries);
  if (z->owned) free((void *)z->data);
  free(z->name);
  free(z);
}

eq_status eq_zip_open_memory(const void *bytes, size_t n, const char *name, int take_ownership, eq_zip **out) {
  *out = NULL;
  const unsigned char *b = bytes;
  eq_zip *z = calloc(1, sizeof *z);
  if (!z) return eq_error(EQ_ERR_MEMORY, "out of memory");
  z->data = b;
  z->n = n;
  z->owned = take_ownership;
  z->name = eq_strdup(name);
  eq_status st = EQ_OK;
  /* The end record (22 bytes + comment of up to 65535) sits at the end. */
  size_t eocd = (size_t)-1;
  if (n >= 22) {
    size_t lo = n >= 22 + 65535 ? n - 22 - 65535 : 0;
    for (size_t i = n - 22 + 1; i-- > lo;)
      if (rd32(b + i) == 0x06054b50 && i + 22 + rd16(b + i + 20) == n) {
        eocd = i;
        break;
      }
  }
  if (eocd == (size_t)-1) {
    st = eq_error(EQ_ERR_FORMAT, "'%s': not a ZIP archive (no end of central directory record)", name);
    goto done;
  }
  uint16_t disk = rd16(b + eocd + 4), cd_disk = rd16(b + eocd + 6);
  uint16_t count = rd16(b + eocd + 10);
  uint32_t cd_size = rd32(b + eocd + 12), cd_offset = rd32(b + eocd + 16);
  if (disk != 0 || cd_disk != 0) {
    st = eq_error(EQ_ERR_UNSUPPORTED, "'%s': multi-disk ZIP archives are not supported", name);
    goto done;
  }
  if (count == 0xffff || cd_offset == 0xffffffffu || cd_size == 0xffffffffu) {
    st = eq_error(EQ_ERR_UNSUPPORTED, "'%s': ZIP64 archives are not supported", name);
    goto done;
  }
  if ((size_t)cd_offset + cd_size > eocd) {
    st = eq_error(EQ_ERR_FORMAT, "'%s': central directory (offset %u, %u bytes) lies outside the archive", name, cd_offset, cd_size);
    goto done;
  }
  z->entries = calloc(count ? count : 1, sizeof *z->entries);
  if (!z->entries) {
    st = eq_error(EQ_ERR_MEMORY, "out of memory");
    goto done;
  }
  size_t p = cd_offset, cd_end = (size_t)cd_offset + cd_size;
  for (int i = 0; i < count; i++) {
    if (p + 46 > cd_end || rd32(b + p) != 0x02014b50) {
      st = eq_error(EQ_ERR_FORMAT, "'%s': central directory entry %d is corrupt (offset %zu)", name, i, p);
      goto done;
    }
    zip_entry *e = &z->entries[i];
    e->flags = rd16(b + p + 8);
    e->method = rd16(b + p + 10);
    e->crc = rd32(b + p + 16);
    e->comp_size = rd32(b + p + 20);
    e->size = rd32(b + p + 24);
    uint16_t name_len = rd16(b + p + 28), extra_len = rd16(b + p + 30), comment_len = rd16(b + p + 32);
    e->local_offset = rd32(b + p + 42);
    if (p + 46 + (size_t)name_len + extra_len + comment_len > cd_end) {
      st = eq_error(EQ_ERR_FORMAT, "'%s': central directory entry %d overruns the directory", name, i);
      goto done;
    }
    e->name = malloc((size_t)name_len + 1);
    if (!e->name) {
      st = eq_error(EQ_ERR_MEMORY, "out of memory");
      goto done;
    }
    memcpy(e->name, b + p + 46, name_len);
    e->name[name_len] = '\0';
    z->count = i + 1;
    p += 46 + (size_t)name_len + extra_len + comment_len;
  }
done:
  if (st) {
    if (!take_ownership) z->data = NULL;
    eq_zip_close(z);
    return st;
  }
  *out = z;
  return EQ_OK;
}

eq_status eq_zip_open(const char *path, eq_zip **out) {
  void *bytes = NULL;
  size_t n = 0;
  eq_status st = eq_read_file(path, &bytes, &n);
  if (st) return st;
  return eq_zip_open_memory(bytes, n, path, 1, out);
}

int eq_zip_count(const eq_zip *z) { return z->count; }

const char *eq_zip_entry_name(const eq_zip *z, int i) {
  return i >= 0 && i < z->count ? z->entries[i].name : NULL;
}

size_t eq_zip_entry_size(const eq_zip *z, int i) { return i >= 0 && i < z->count ? z->entries[i].size : 0; }

int eq_zip_find(const eq_zip *z, const char *name) {
  while (*name == '/') name++;
  for (int i = 0; i < z->count; i++) {
    const char *en = z->entries[i].name;
    while (*en == '/') en++;
    if (!strcmp(en, name)) return i;
  }
  return -1;
}

eq_status eq_zip_extract(const eq_zip *z, int index, void **bytes, size_t *size) {
  *bytes = NULL;
  *size = 0;
  if (index < 0 || index >= z->count)
    return eq_error(EQ_ERR_VALUE, "eq_zip_extract('%s'): entry %d of %d", z->name, index, z->count);
  const zip_entry *e = &z->entries[index];
  const unsigned char *b = z->data;
  if (e->flags & 1)
    return eq_error(EQ_ERR_UNSUPPORTED, "'%s': entry '%s' is encrypted", z->name, e->name);
  if (e->method != 0 && e->method != 8)
    return eq_error(EQ_ERR_UNSUPPORTED, "'%s': entry '%s' uses compression method %u (only stored and deflate)",
                    z->name, e->name, e->method);
  size_t lo = e->local_offset;
  if (lo + 30 > z->n || rd32(b + lo) != 0x04034b50)
    return eq_error(EQ_ERR_FORMAT, "'%s': entry '%s': bad local header at offset %zu", z->name, e->name, lo);
  size_t start = lo + 30 + rd16(b + lo + 26) + rd16(b + lo + 28);
  if (start > z->n || z->n - start < e->comp_size)
    return eq_error(EQ_ERR_FORMAT, "'%s': entry '%s': data (%u bytes at %zu) runs past the end of the archive",
                    z->name, e->name, e->comp_size, start);
  if (e->size > ZIP_MAX_ENTRY_BYTES)
    return eq_error(EQ_ERR_FORMAT, "'%s': entry '%s' claims %u bytes (limit %zu)", z->name, e->name, e->size, ZIP_MAX_ENTRY_BYTES);
  if (e->method == 0 && e->comp_size != e->size)
    return eq_error(EQ_ERR_FORMAT, "'%s': stored entry '%s' has sizes %u and %u", z->name, e->name, e->comp_size, e->size);
  unsigned char *outb = malloc((size_t)e->size + 1);
  if (!outb) return eq_error(EQ_ERR_MEMORY, "'%s': out of memory for entry '%s' (%u bytes)", z->name, e->name, e->size);
  if (e->method == 0) {
    memcpy(outb, b + start, e->size);
  } else {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK) {
      free(outb);
      return eq_error(EQ_ERR_MEMORY, "'%s': inflateInit2 failed", z->name);
    }
    zs.next_in = (Bytef *)(b + start);
    zs.avail_in = e->comp_size;
    zs.next_out = outb;
    zs.avail_out = e->size;
    int rc = inflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != e->size) {
      free(outb);
      return eq_error(EQ_ERR_FORMAT, "'%s': entry '%s': corrupt deflate data (%s; %zu of %u bytes)", z->name, e->name,
                      rc == Z_DATA_ERROR ? "invalid stream" : rc == Z_BUF_ERROR ? "size mismatch or truncated" : "error",
                      produced, e->size);
    }
  }
  uint32_t crc = (uint32_t)crc32(0L, outb, e->size);
  if (crc != e->crc) {
    free(outb);
    return eq_error(EQ_ERR_FORMAT, "'%s': entry '%s': CRC-32 mismatch (stored %08x, computed %08x)", z->name, e->name, e->crc, crc);
  }
  outb[e->size] = '\0';
  *bytes = outb;
  *size = e->size;
  return EQ_OK;
}
