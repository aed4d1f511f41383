/* PNG through libpng's classic API. libpng reports errors by calling our
 * error function, which must not return: it records the message and
 * longjmps back to the setjmp in the decoder/encoder. */
#include "data/codec_internal.h"
#include "equivar/fileio.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct png_ctx {
  jmp_buf jmp;
  const char *name;
  char message[200];
  /* reading */
  const unsigned char *src;
  size_t n, pos;
  /* writing */
  unsigned char *buf;
  size_t len, cap;
  int oom;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
  png_ctx *ctx = png_get_error_ptr(png);
  snprintf(ctx->message, sizeof ctx->message, "%s", msg);
  longjmp(ctx->jmp, 1);
}

/* libpng downgrades a short or overlong image stream to a warning and hands
 * back a partly filled image; for us that is a corrupt file. Other warnings
 * (odd ancillary chunks, colour profiles) are harmless and ignored. */
static void on_warning(png_structp png, png_const_charp msg) {
  if (strstr(msg, "image data") || strstr(msg, "IDAT") || strstr(msg, "zlib") || strstr(msg, "stream"))
    on_error(png, msg);
}

static void read_bytes(png_structp png, png_bytep out, png_size_t len) {
  png_ctx *ctx = png_get_io_ptr(png);
  if (len > ctx->n - ctx->pos) png_error(png, "file is truncated");
  memcpy(out, ctx->src + ctx->pos, len);
  ctx->pos += len;
}

/* Shared by decode and probe: parses up to the image data and sets the
 * transforms that give 8-bit grey, RGB or RGBA. Returns channels. */
static int setup_read(png_structp png, png_infop info, png_ctx *ctx) {
  png_set_read_fn(png, ctx, read_bytes);
  png_set_user_limits(png, 1u << 16, 1u << 16);
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if ((uint64_t)w * h > EQ_IMAGE_MAX_PIXELS) png_error(png, "image exceeds the pixel limit");
  int color = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  if (has_trns) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_strip_16(png); /* high byte (PIL does the same for 16-bit RGB) */
  int grey = !(color & PNG_COLOR_MASK_COLOR);
  int alpha = (color & PNG_COLOR_MASK_ALPHA) || has_trns;
  if (grey && alpha) png_set_gray_to_rgb(png); /* no 2-channel images: GA -> RGBA */
  if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return alpha ? 4 : grey ? 1 : 3;
}

/* Decodes into `out`, or with out NULL only reads the header (probe). */
static eq_status png_read(const void *bytes, size_t n, const char *name, int want_channels, eq_image *out, int *pw,
                          int *ph, int *pc) {
  png_ctx ctx = {.name = name, .src = bytes, .n = n};
  /* volatile: modified between setjmp and a possible longjmp */
  png_bytep *volatile rows = NULL;
  eq_image *volatile img = out;
  if (out) memset(out, 0, sizeof *out);
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return eq_error(EQ_ERR_MEMORY, "PNG '%s': out of memory", name);
  }
  if (setjmp(ctx.jmp)) {
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    eq_image_free(img);
    return eq_error(EQ_ERR_FORMAT, "corrupt PNG '%s': %s", name, ctx.message);
  }
  int channels = setup_read(png, info, &ctx);
  int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
  if (!out) {
    *pw = w, *ph = h, *pc = channels;
    png_destroy_read_struct(&png, &info, NULL);
    return EQ_OK;
  }
  if ((int)png_get_channels(png, info) != channels || png_get_rowbytes(png, info) != (size_t)w * channels)
    png_error(png, "unexpected channel layout after conversion");
  if (eq_image_alloc(img, w, h, channels)) {
    png_destroy_read_struct(&png, &info, NULL);
    eq_error_context("decoding PNG '%s': ", name);
    return eq_error_code();
  }
  rows = malloc(sizeof(png_bytep) * h);
  if (!rows) png_error(png, "out of memory");
  for (int y = 0; y < h; y++) rows[y] = img->pixels + (size_t)y * w * channels;
  png_read_image(png, rows);
  /* The trailing chunks (IEND) are not needed: a file cut after the last
   * IDAT still carries a whole image. */
  free(rows);
  png_destroy_read_struct(&png, &info, NULL);
  return eq_image_finish_channels(out, want_channels);
}

eq_status eq_png_probe(const void *bytes, size_t n, const char *name, int *w, int *h, int *c) {
  return png_read(bytes, n, name, 0, NULL, w, h, c);
}

eq_status eq_png_decode(const void *bytes, size_t n, const char *name, int want_channels, eq_image *out) {
  return png_read(bytes, n, name, want_channels, out, NULL, NULL, NULL);
}

static void write_bytes(png_structp png, png_bytep data, png_size_t len) {
  png_ctx *ctx = png_get_io_ptr(png);
  if (ctx->len + len > ctx->cap) {
    size_t cap = ctx->cap ? ctx->cap : 4096;
    while (cap < ctx->len + len) cap *= 2;
    unsigned char *b = realloc(ctx->buf, cap);
    if (!b) {
      ctx->oom = 1;
      png_error(png, "out of memory");
    }
    ctx->buf = b;
    ctx->cap = cap;
  }
  memcpy(ctx->buf + ctx->len, data, len);
  ctx->len += len;
}

static void flush_bytes(png_structp png) { (void)png; }

eq_status eq_image_encode_png(const eq_image *img, void **bytes, size_t *n) {
  *bytes = NULL;
  *n = 0;
  if (!img || !img->pixels || img->width <= 0 || img->height <= 0 ||
      (img->channels != 1 && img->channels != 3 && img->channels != 4))
    return eq_error(EQ_ERR_VALUE, "eq_image_encode_png: invalid image %dx%dx%d", img ? img->width : 0,
                    img ? img->height : 0, img ? img->channels : 0);
  png_ctx ctx = {.name = "png"};
  png_ctx *volatile pctx = &ctx;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return eq_error(EQ_ERR_MEMORY, "eq_image_encode_png: out of memory");
  }
  if (setjmp(ctx.jmp)) {
    png_destroy_write_struct(&png, &info);
    free(pctx->buf);
    return eq_error(pctx->oom ? EQ_ERR_MEMORY : EQ_ERR_FORMAT, "eq_image_encode_png: %s", pctx->message);
  }
  png_set_write_fn(png, &ctx, write_bytes, flush_bytes);
  int type = img->channels == 1 ? PNG_COLOR_TYPE_GRAY : img->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
  png_set_IHDR(png, info, img->width, img->height, 8, type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  /* Level 3 is ~3x faster than the default 6 for a few % larger files;
   * renders and debug dumps favour speed. */
  png_set_compression_level(png, 3);
  png_write_info(png, info);
  for (int y = 0; y < img->height; y++)
    png_write_row(png, img->pixels + (size_t)y * img->width * img->channels);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  *bytes = ctx.buf;
  *n = ctx.len;
  return EQ_OK;
}

/* Encoded bytes to `path` through a temporary file and rename. */
eq_status eq_image_write_bytes(const char *path, void *bytes, size_t n) {
  eq_atomic_file f;
  eq_status st = eq_atomic_open(&f, path);
  if (st) {
    free(bytes);
    return st;
  }
  if (fwrite(bytes, 1, n, f.fp) != n) {
    eq_atomic_abort(&f);
    free(bytes);
    return eq_error(EQ_ERR_IO, "writing '%s' failed", path);
  }
  free(bytes);
  return eq_atomic_commit(&f);
}

eq_status eq_image_write_png(const char *path, const eq_image *img) {
  void *bytes;
  size_t n;
  eq_status st = eq_image_encode_png(img, &bytes, &n);
  if (st) {
    eq_error_context("writing '%s': ", path);
    return st;
  }
  return eq_image_write_bytes(path, bytes, n);
}

eq_status eq_image_write_jpeg(const char *path, const eq_image *img, int quality) {
  void *bytes;
  size_t n;
  eq_status st = eq_image_encode_jpeg(img, quality, &bytes, &n);
  if (st) {
    eq_error_context("writing '%s': ", path);
    return st;
  }
  return eq_image_write_bytes(path, bytes, n);
}
