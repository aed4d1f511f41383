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
 * channels, 1 or 3 converts. Kept channels: PNG grey 1, grey+alpha 4 (RGBA),
 * RGB 3, RGBA 4, palette 3 or 4 (with tRNS); 16-bit samples keep their high
 * byte (as PIL reads 16-bit RGB; PIL keeps 16-bit grey as I;16, whose
 * convert("L") clips instead); JPEG grey 1, YCbCr/RGB 3, CMYK/YCCK converted to 3.
 * Truncated or corrupt files are errors (libjpeg's "premature end" warning
 * included), never a grey-filled image. */
eq_status eq_image_decode(const void *bytes, size_t n, const char *name, int want_channels, eq_image *out);
eq_status eq_image_read(const char *path, int want_channels, eq_image *out);
/* Writes PNG atomically (temp file, fsync, rename). */
eq_status eq_image_write_png(const char *path, const eq_image *img);

/* Images larger than this many pixels are refused (by alloc and decode)
 * rather than attempted: a corrupt header must not exhaust memory. */
#define EQ_IMAGE_MAX_PIXELS (1ull << 28)

typedef enum eq_image_format { EQ_IMAGE_UNKNOWN = 0, EQ_IMAGE_PNG, EQ_IMAGE_JPEG } eq_image_format;
/* Format from the first bytes (signature), EQ_IMAGE_UNKNOWN otherwise. */
eq_image_format eq_image_sniff(const void *bytes, size_t n);
/* Reads only the header: size and the channels decode would give with
 * want_channels 0. Errors name `name`. */
eq_status eq_image_probe(const void *bytes, size_t n, const char *name, int *width, int *height, int *channels);
/* Converts to 1, 3 or 4 channels into a new image: RGB->grey with PIL's "L"
 * weights (299/587/114 in 16-bit fixed point), grey->RGB by copy, alpha
 * dropped (RGBA->RGB) or set to 255. */
eq_status eq_image_convert(const eq_image *src, int want_channels, eq_image *out);
/* PNG encoded into a malloc'd buffer (for tests, fuzz seeds and pipes). */
eq_status eq_image_encode_png(const eq_image *img, void **bytes, size_t *n);
/* Baseline JPEG (quality 1..100) of a grey or RGB image into a malloc'd buffer. */
eq_status eq_image_encode_jpeg(const eq_image *img, int quality, void **bytes, size_t *n);
/* Writes JPEG atomically (3DIEBench-layout renders are image_<i>.jpg). */
eq_status eq_image_write_jpeg(const char *path, const eq_image *img, int quality);

#ifdef __cplusplus
}
#endif
#endif
