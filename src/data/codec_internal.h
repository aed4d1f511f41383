/* Shared between image.c and the PNG/JPEG codecs; not public. */
#ifndef EQ_DATA_CODEC_INTERNAL_H
#define EQ_DATA_CODEC_INTERNAL_H

#include "equivar/image.h"

/* Decoders produce the file's own channels (1, 3 or 4) and then call this to
 * convert to want_channels (0 = keep). Frees img on failure. */
eq_status eq_image_finish_channels(eq_image *img, int want_channels);

/* Writes encoded bytes atomically and frees them. */
eq_status eq_image_write_bytes(const char *path, void *bytes, size_t n);

eq_status eq_png_decode(const void *bytes, size_t n, const char *name, int want_channels, eq_image *out);
eq_status eq_jpeg_decode(const void *bytes, size_t n, const char *name, int want_channels, eq_image *out);
eq_status eq_png_probe(const void *bytes, size_t n, const char *name, int *w, int *h, int *c);
eq_status eq_jpeg_probe(const void *bytes, size_t n, const char *name, int *w, int *h, int *c);

#endif
