/* JPEG writing with libjpeg(-turbo): baseline, 4:4:4, integer DCT and the
 * standard Huffman tables, so the bytes depend only on the pixels and the
 * quality (libjpeg-turbo's SIMD integer DCT matches its C code exactly). */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "equivar/fileio.h"
#include "render/render_internal.h"

typedef struct jpeg_fail {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} jpeg_fail;

static void on_error(j_common_ptr cinfo) {
  jpeg_fail *f = (jpeg_fail *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, f->message);
  longjmp(f->jump, 1);
}

static eq_status encode(const eq_image *img, int quality, unsigned char **buf, unsigned long *len) {
  struct jpeg_compress_struct c;
  jpeg_fail fail;
  memset(&c, 0, sizeof c);
  c.err = jpeg_std_error(&fail.mgr);
  fail.mgr.error_exit = on_error;
  *buf = NULL;
  *len = 0;
  if (setjmp(fail.jump)) {
    jpeg_destroy_compress(&c);
    free(*buf);
    *buf = NULL;
    return eq_error(EQ_ERR_IO, "JPEG encoding failed: %s", fail.message);
  }
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, buf, len);
  c.image_width = (JDIMENSION)img->width;
  c.image_height = (JDIMENSION)img->height;
  c.input_components = img->channels;
  c.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  c.dct_method = JDCT_ISLOW;
  c.optimize_coding = FALSE;
  if (img->channels == 3)
    for (int i = 0; i < 3; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)(img->pixels + (size_t)c.next_scanline * img->width * img->channels);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  return EQ_OK;
}

eq_status eq_render_write_jpeg(const char *path, const eq_image *img, int quality, int atomic) {
  if (!img || !img->pixels || img->width <= 0 || img->height <= 0 || (img->channels != 1 && img->channels != 3))
    return eq_error(EQ_ERR_VALUE, "eq_render_write_jpeg('%s'): need a non-empty grey or RGB image", path);
  if (quality < 1 || quality > 100)
    return eq_error(EQ_ERR_VALUE, "eq_render_write_jpeg('%s'): quality %d not in 1..100", path, quality);
  unsigned char *buf = NULL;
  unsigned long len = 0;
  eq_status st = encode(img, quality, &buf, &len);
  if (st) {
    eq_error_context("writing '%s'", path);
    return st;
  }
  if (atomic) {
    eq_atomic_file f;
    st = eq_atomic_open(&f, path);
    if (!st) {
      if (fwrite(buf, 1, len, f.fp) != len) {
        eq_atomic_abort(&f);
        st = eq_error(EQ_ERR_IO, "writing '%s' failed: %s", path, strerror(errno));
      } else {
        st = eq_atomic_commit(&f);
      }
    }
  } else {
    FILE *fp = fopen(path, "wb");
    if (!fp) {
      st = eq_error(EQ_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    } else {
      size_t wrote = fwrite(buf, 1, len, fp);
      if (fclose(fp) != 0 || wrote != len) st = eq_error(EQ_ERR_IO, "writing '%s' failed: %s", path, strerror(errno));
    }
  }
  free(buf);
  return st;
}
