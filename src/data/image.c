/* Image buffers, format dispatch, channel conversion and whole-file reads.
 * The codecs themselves live in png_codec.c and jpeg_codec.c. */
#include "equivar/image.h"

#include "data/codec_internal.h"
#include "equivar/fileio.h"

#include <stdlib.h>
#include <string.h>

eq_status eq_image_alloc(eq_image *img, int width, int height, int channels) {
  memset(img, 0, sizeof *img);
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3 && channels != 4))
    return eq_error(EQ_ERR_VALUE, "eq_image_alloc: invalid image %dx%dx%d", width, height, channels);
  size_t n = (size_t)width * (size_t)height * (size_t)channels;
  if ((uint64_t)width * (uint64_t)height > EQ_IMAGE_MAX_PIXELS)
    return eq_error(EQ_ERR_VALUE, "eq_image_alloc: %dx%d exceeds the %llu pixel limit", width, height,
                    (unsigned long long)EQ_IMAGE_MAX_PIXELS);
  img->pixels = malloc(n);
  if (!img->pixels) return eq_error(EQ_ERR_MEMORY, "eq_image_alloc: out of memory for %dx%dx%d", width, height, channels);
  img->width = width;
  img->height = height;
  img->channels = channels;
  return EQ_OK;
}

void eq_image_free(eq_image *img) {
  if (!img) return;
  free(img->pixels);
  memset(img, 0, sizeof *img);
}

/* PIL's "L" conversion (ITU-R 601-2 luma in 16-bit fixed point), so grey
 * images decoded here match Image.convert("L"). */
static inline uint8_t luma(unsigned r, unsigned g, unsigned b) {
  return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

eq_status eq_image_convert(const eq_image *src, int want_channels, eq_image *out) {
  if (want_channels != 1 && want_channels != 3 && want_channels != 4)
    return eq_error(EQ_ERR_VALUE, "eq_image_convert: want_channels %d (use 1, 3 or 4)", want_channels);
  eq_status st = eq_image_alloc(out, src->width, src->height, want_channels);
  if (st) return st;
  size_t n = (size_t)src->width * src->height;
  const uint8_t *s = src->pixels;
  uint8_t *d = out->pixels;
  int sc = src->channels, dc = want_channels;
  if (sc == dc) {
    memcpy(d, s, n * dc);
  } else if (dc == 1) {
    for (size_t i = 0; i < n; i++) d[i] = luma(s[i * sc], s[i * sc + 1], s[i * sc + 2]);
  } else if (sc == 1) {
    for (size_t i = 0; i < n; i++) {
      d[i * dc] = d[i * dc + 1] = d[i * dc + 2] = s[i];
      if (dc == 4) d[i * dc + 3] = 255;
    }
  } else { /* 3 <-> 4: alpha dropped or set opaque, as PIL's convert does */
    for (size_t i = 0; i < n; i++) {
      d[i * dc] = s[i * sc];
      d[i * dc + 1] = s[i * sc + 1];
      d[i * dc + 2] = s[i * sc + 2];
      if (dc == 4) d[i * dc + 3] = 255;
    }
  }
  return EQ_OK;
}

eq_status eq_image_finish_channels(eq_image *img, int want_channels) {
  if (want_channels == 0 || want_channels == img->channels) return EQ_OK;
  eq_image conv;
  eq_status st = eq_image_convert(img, want_channels, &conv);
  eq_image_free(img);
  if (st) return st;
  *img = conv;
  return EQ_OK;
}

eq_image_format eq_image_sniff(const void *bytes, size_t n) {
  const unsigned char *b = bytes;
  if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return EQ_IMAGE_PNG;
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return EQ_IMAGE_JPEG;
  return EQ_IMAGE_UNKNOWN;
}

eq_status eq_image_decode(const void *bytes, size_t n, const char *name, int want_channels, eq_image *out) {
  memset(out, 0, sizeof *out);
  if (!name) name = "<memory>";
  if (want_channels != 0 && want_channels != 1 && want_channels != 3)
    return eq_error(EQ_ERR_VALUE, "eq_image_decode('%s'): want_channels %d (use 0, 1 or 3)", name, want_channels);
  switch (eq_image_sniff(bytes, n)) {
  case EQ_IMAGE_PNG: return eq_png_decode(bytes, n, name, want_channels, out);
  case EQ_IMAGE_JPEG: return eq_jpeg_decode(bytes, n, name, want_channels, out);
  default:
    return eq_error(EQ_ERR_FORMAT, "'%s' is neither PNG nor JPEG (unknown signature, %zu bytes)", name, n);
  }
}

eq_status eq_image_probe(const void *bytes, size_t n, const char *name, int *width, int *height, int *channels) {
  if (!name) name = "<memory>";
  switch (eq_image_sniff(bytes, n)) {
  case EQ_IMAGE_PNG: return eq_png_probe(bytes, n, name, width, height, channels);
  case EQ_IMAGE_JPEG: return eq_jpeg_probe(bytes, n, name, width, height, channels);
  default:
    return eq_error(EQ_ERR_FORMAT, "'%s' is neither PNG nor JPEG (unknown signature, %zu bytes)", name, n);
  }
}

eq_status eq_image_read(const char *path, int want_channels, eq_image *out) {
  memset(out, 0, sizeof *out);
  void *bytes = NULL;
  size_t n = 0;
  eq_status st = eq_read_file(path, &bytes, &n);
  if (st) return st;
  st = eq_image_decode(bytes, n, path, want_channels, out);
  free(bytes);
  return st;
}
