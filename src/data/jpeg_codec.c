/* JPEG decoding through libjpeg(-turbo). libjpeg's default error handler
 * calls exit(); ours records the message and longjmps back instead. A
 * truncated file only raises a warning in libjpeg (it pads with grey); we
 * turn that warning into an error. */
#include "data/codec_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct jpeg_ctx {
  struct jpeg_error_mgr mgr;
  jmp_buf jmp;
  char message[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void on_error_exit(j_common_ptr cinfo) {
  jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
  cinfo->err->format_message(cinfo, ctx->message);
  longjmp(ctx->jmp, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  /* level -1: a warning about corrupt data. Premature end of file is fatal
   * for us; the rest (e.g. extraneous bytes before a marker) is common in
   * real photos and decoders such as PIL accept it. */
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error_exit(cinfo);
}

static void setup(struct jpeg_decompress_struct *cinfo, jpeg_ctx *ctx) {
  cinfo->err = jpeg_std_error(&ctx->mgr);
  ctx->mgr.error_exit = on_error_exit;
  ctx->mgr.emit_message = on_message;
}

/* Channels decode gives with want_channels 0. */
static int native_channels(const struct jpeg_decompress_struct *cinfo) {
  return cinfo->jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
}

eq_status eq_jpeg_probe(const void *bytes, size_t n, const char *name, int *w, int *h, int *c) {
  struct jpeg_decompress_struct cinfo;
  jpeg_ctx ctx;
  setup(&cinfo, &ctx);
  if (setjmp(ctx.jmp)) {
    jpeg_destroy_decompress(&cinfo);
    return eq_error(EQ_ERR_FORMAT, "corrupt JPEG '%s': %s", name, ctx.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, (unsigned long)n);
  jpeg_read_header(&cinfo, TRUE);
  *w = (int)cinfo.image_width;
  *h = (int)cinfo.image_height;
  *c = native_channels(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return EQ_OK;
}

/* Adobe writes CMYK inverted (255 = no ink); R = C * K / 255 on those
 * values, as PIL does. */
static void cmyk_to_rgb(const uint8_t *src, uint8_t *dst, int width) {
  for (int x = 0; x < width; x++) {
    unsigned k = src[4 * x + 3];
    for (int i = 0; i < 3; i++) dst[3 * x + i] = (uint8_t)((src[4 * x + i] * k + 127) / 255);
  }
}

eq_status eq_jpeg_decode(const void *bytes, size_t n, const char *name, int want_channels, eq_image *out) {
  struct jpeg_decompress_struct cinfo;
  jpeg_ctx ctx;
  /* volatile: changed after setjmp and needed after a longjmp */
  uint8_t *volatile row = NULL;
  eq_image *volatile img = out;
  memset(out, 0, sizeof *out);
  setup(&cinfo, &ctx);
  if (setjmp(ctx.jmp)) {
    jpeg_destroy_decompress(&cinfo);
    free(row);
    eq_image_free(img);
    return eq_error(EQ_ERR_FORMAT, "corrupt JPEG '%s': %s", name, ctx.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, (unsigned long)n);
  jpeg_read_header(&cinfo, TRUE);
  if ((uint64_t)cinfo.image_width * cinfo.image_height > EQ_IMAGE_MAX_PIXELS) {
    jpeg_destroy_decompress(&cinfo);
    return eq_error(EQ_ERR_FORMAT, "JPEG '%s': %ux%u exceeds the pixel limit", name, cinfo.image_width,
                    cinfo.image_height);
  }
  int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  int channels;
  if (cmyk) {
    cinfo.out_color_space = JCS_CMYK;
    channels = 3;
  } else if (want_channels == 1 || (want_channels == 0 && cinfo.jpeg_color_space == JCS_GRAYSCALE)) {
    /* Y of YCbCr is the same 299/587/114 luma PIL's convert("L") computes,
     * without the round trip through RGB. */
    cinfo.out_color_space = JCS_GRAYSCALE;
    channels = 1;
  } else {
    cinfo.out_color_space = JCS_RGB;
    channels = 3;
  }
  /* Match PIL / torchvision's decoders: accurate IDCT, fancy upsampling. */
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&cinfo);
  if ((int)cinfo.output_components != (cmyk ? 4 : channels)) {
    ctx.mgr.msg_code = 0;
    snprintf(ctx.message, sizeof ctx.message, "unexpected %d output components", cinfo.output_components);
    longjmp(ctx.jmp, 1);
  }
  if (eq_image_alloc(img, (int)cinfo.output_width, (int)cinfo.output_height, channels)) {
    jpeg_destroy_decompress(&cinfo);
    eq_error_context("decoding JPEG '%s': ", name);
    return eq_error_code();
  }
  if (cmyk) {
    row = malloc((size_t)cinfo.output_width * 4);
    if (!row) {
      snprintf(ctx.message, sizeof ctx.message, "out of memory");
      longjmp(ctx.jmp, 1);
    }
  }
  size_t stride = (size_t)img->width * channels;
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t *dst = img->pixels + (size_t)cinfo.output_scanline * stride;
    JSAMPROW rows[1] = {cmyk ? row : dst};
    jpeg_read_scanlines(&cinfo, rows, 1);
    if (cmyk) cmyk_to_rgb(row, dst, img->width);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  free(row);
  return eq_image_finish_channels(out, want_channels);
}

/* Encoding JPEG is used by tests and by tools that write JPEG data sets. */
eq_status eq_image_encode_jpeg(const eq_image *img, int quality, void **bytes, size_t *n) {
  *bytes = NULL;
  *n = 0;
  if (!img || !img->pixels || img->width <= 0 || img->height <= 0 || (img->channels != 1 && img->channels != 3))
    return eq_error(EQ_ERR_VALUE, "eq_image_encode_jpeg: invalid image %dx%dx%d (1 or 3 channels)",
                    img ? img->width : 0, img ? img->height : 0, img ? img->channels : 0);
  if (quality < 1 || quality > 100) return eq_error(EQ_ERR_VALUE, "eq_image_encode_jpeg: quality %d not in 1..100", quality);
  struct jpeg_compress_struct cinfo;
  jpeg_ctx ctx;
  /* Its address is taken, so it lives in memory and survives the longjmp. */
  unsigned char *mem = NULL;
  unsigned long len = 0;
  cinfo.err = jpeg_std_error(&ctx.mgr);
  ctx.mgr.error_exit = on_error_exit;
  ctx.mgr.emit_message = on_message;
  if (setjmp(ctx.jmp)) {
    jpeg_destroy_compress(&cinfo);
    free(mem);
    return eq_error(EQ_ERR_FORMAT, "eq_image_encode_jpeg: %s", ctx.message);
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &mem, &len);
  cinfo.image_width = (JDIMENSION)img->width;
  cinfo.image_height = (JDIMENSION)img->height;
  cinfo.input_components = img->channels;
  cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  size_t stride = (size_t)img->width * img->channels;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW rows[1] = {img->pixels + (size_t)cinfo.next_scanline * stride};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  *bytes = mem;
  *n = len;
  return EQ_OK;
}
