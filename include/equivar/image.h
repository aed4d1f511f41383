/* 8-bit images and their codecs (PNG, JPEG). Implemented in src/data/. */
#ifndef EQUIVAR_IMAGE_H
#define EQUIVAR_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "equivar/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Interleaved 8-bit pixels, row-major, height x width x channels
 * (channels 1 = grey, 3 = RGB, 4 = RGBA). `pixels` is malloc'd. */
typedef struct eq_image {
  int width, height, channels;
  uint8_t *pixels;
} eq_image;

eq_status eq_image_alloc(eq_image *img, int width, int height, int channels);
void eq_image_free(eq_image *img);

/* Decodes PNG or JPEG (chosen by signature) from memory; `name` is used in
 * errors ("corrupt JPEG 'x.jpg': ..."). want_channels 0 keeps the file's
 * channels, 1 or 3 converts. */
eq_status eq_image_decode(const void *bytes, size_t n, const char *name, int want_channels, eq_image *out);
eq_status eq_image_read(const char *path, int want_channels, eq_image *out);
/* Writes PNG atomically (temp file, fsync, rename). */
eq_status eq_image_write_png(const char *path, const eq_image *img);

#ifdef __cplusplus
}
#endif
#endif
