/* Codecs: decoded pixels against PIL's (tests/data/image, written by
 * scripts/gen_image_reference.py), PNG round trips, and clear errors for
 * truncated and corrupt files. */
#include "eq_test.h"
#include "equivar/fileio.h"
#include "equivar/image.h"
#include "equivar/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/eq_test_image_XXXXXX";

static void data_path(char *buf, const char *name, const char *suffix) {
  const char *root = getenv("EQ_TEST_DATA");
  snprintf(buf, 1024, "%s/image/%s%s", root ? root : "tests/data", name, suffix);
}

/* Decodes `name` and compares with PIL's pixels: max abs difference <= tol. */
static void check_against_pil(const char *name, const char *ref_suffix, int want, int tol) {
  char path[1024], ref[1024];
  data_path(path, name, "");
  data_path(ref, name, ref_suffix);
  eq_image img;
  eq_status st = eq_image_read(path, want, &img);
  CHECK_MSG(st == EQ_OK, "%s: %s", name, eq_error_message());
  eq_npy_info info;
  void *data = NULL;
  CHECK(eq_npy_load(ref, &info, &data) == EQ_OK);
  if (st || !data) {
    free(data);
    return;
  }
  int rc = info.ndim == 3 ? (int)info.shape[2] : 1;
  CHECK_MSG(img.height == info.shape[0] && img.width == info.shape[1] && img.channels == rc,
            "%s: %dx%dx%d vs PIL %lldx%lldx%d", name, img.height, img.width, img.channels,
            (long long)info.shape[0], (long long)info.shape[1], rc);
  if (img.height == info.shape[0] && img.width == info.shape[1] && img.channels == rc) {
    const uint8_t *r = data;
    int worst = 0;
    for (size_t i = 0; i < (size_t)img.width * img.height * img.channels; i++) {
      int d = abs((int)img.pixels[i] - (int)r[i]);
      if (d > worst) worst = d;
    }
    CHECK_MSG(worst <= tol, "%s: max |equivar - PIL| = %d > %d", name, worst, tol);
  }
  free(data);
  eq_image_free(&img);
}

static void test_against_pil(void) {
  /* libjpeg-turbo with the ISLOW IDCT and fancy upsampling is what PIL uses:
   * identical pixels are expected. */
  check_against_pil("rgb_q90.jpg", ".npy", 3, 0);
  check_against_pil("rgb_q90.jpg", ".npy", 0, 0);
  check_against_pil("rgb_q75_444.jpg", ".npy", 3, 0);
  check_against_pil("progressive.jpg", ".npy", 3, 0);
  check_against_pil("grey.jpg", ".npy", 0, 0);
  /* Our grey path takes JPEG's Y directly; PIL rounds through RGB. */
  check_against_pil("rgb_q90.jpg", ".L.npy", 1, 1);
  check_against_pil("rgb.png", ".npy", 0, 0);
  check_against_pil("rgba.png", ".npy", 0, 0);
  check_against_pil("grey16.png", ".npy", 0, 0);
  check_against_pil("rgb16.png", ".npy", 0, 0);
  check_against_pil("palette.png", ".npy", 3, 0);
  check_against_pil("grey_alpha.png", ".npy", 0, 0);
}

static void fill(eq_image *img, unsigned seed) {
  for (size_t i = 0; i < (size_t)img->width * img->height * img->channels; i++)
    img->pixels[i] = (uint8_t)((i * 37u + seed * 11u + (i >> 3) * 5u) & 255u);
}

static void test_png_round_trip(void) {
  for (int c = 1; c <= 4; c++) {
    if (c == 2) continue;
    eq_image img, back;
    CHECK(eq_image_alloc(&img, 17, 5, c) == EQ_OK);
    fill(&img, (unsigned)c);
    char p[512];
    snprintf(p, sizeof p, "%s/rt%d.png", dir, c);
    CHECK(eq_image_write_png(p, &img) == EQ_OK);
    CHECK(eq_image_read(p, 0, &back) == EQ_OK);
    CHECK(back.width == 17 && back.height == 5 && back.channels == c);
    CHECK(back.pixels && memcmp(back.pixels, img.pixels, (size_t)17 * 5 * c) == 0);
    int w, h, ch;
    void *bytes;
    size_t n;
    CHECK(eq_image_encode_png(&img, &bytes, &n) == EQ_OK);
    CHECK(eq_image_probe(bytes, n, "x.png", &w, &h, &ch) == EQ_OK && w == 17 && h == 5 && ch == c);
    free(bytes);
    eq_image_free(&back);
    eq_image_free(&img);
  }
  /* Channel conversions: grey -> RGB copies, RGBA -> RGB drops alpha. */
  eq_image g, rgb;
  CHECK(eq_image_alloc(&g, 3, 2, 1) == EQ_OK);
  fill(&g, 9);
  CHECK(eq_image_convert(&g, 3, &rgb) == EQ_OK);
  CHECK(rgb.pixels[3] == g.pixels[1] && rgb.pixels[4] == g.pixels[1] && rgb.pixels[5] == g.pixels[1]);
  eq_image_free(&rgb);
  eq_image_free(&g);
  /* PIL's L weights: (255, 0, 0) -> 76, (0, 255, 0) -> 150, (0, 0, 255) -> 29. */
  eq_image px, grey;
  CHECK(eq_image_alloc(&px, 3, 1, 3) == EQ_OK);
  memset(px.pixels, 0, 9);
  px.pixels[0] = px.pixels[4] = px.pixels[8] = 255;
  CHECK(eq_image_convert(&px, 1, &grey) == EQ_OK);
  CHECK(grey.pixels[0] == 76 && grey.pixels[1] == 150 && grey.pixels[2] == 29);
  eq_image_free(&grey);
  eq_image_free(&px);
}

static void test_jpeg_encode(void) {
  eq_image img, back;
  CHECK(eq_image_alloc(&img, 32, 24, 3) == EQ_OK);
  for (int y = 0; y < 24; y++)
    for (int x = 0; x < 32; x++)
      for (int c = 0; c < 3; c++) img.pixels[(y * 32 + x) * 3 + c] = (uint8_t)(x * 4 + y * 2 + c * 30);
  void *bytes;
  size_t n;
  CHECK(eq_image_encode_jpeg(&img, 95, &bytes, &n) == EQ_OK);
  CHECK(eq_image_sniff(bytes, n) == EQ_IMAGE_JPEG);
  CHECK(eq_image_decode(bytes, n, "mem.jpg", 3, &back) == EQ_OK);
  double err = 0;
  for (int i = 0; i < 32 * 24 * 3; i++) err += fabs((double)back.pixels[i] - img.pixels[i]);
  CHECK_MSG(err / (32 * 24 * 3) < 3.0, "mean abs JPEG error %g", err / (32 * 24 * 3));
  eq_image_free(&back);
  free(bytes);
  char p[512];
  snprintf(p, sizeof p, "%s/w.jpg", dir);
  CHECK(eq_image_write_jpeg(p, &img, 90) == EQ_OK);
  CHECK(eq_image_read(p, 0, &back) == EQ_OK && back.width == 32 && back.channels == 3);
  eq_image_free(&back);
  CHECK(eq_image_write_jpeg(p, &img, 0) == EQ_ERR_VALUE && strstr(eq_error_message(), "w.jpg"));
  eq_image_free(&img);
}

static void expect_error(const void *bytes, size_t n, const char *name) {
  eq_image img;
  eq_error_clear();
  eq_status st = eq_image_decode(bytes, n, name, 3, &img);
  CHECK_MSG(st == EQ_ERR_FORMAT, "%s decoded (status %d)", name, (int)st);
  CHECK_MSG(strstr(eq_error_message(), name) != NULL, "message '%s' does not name %s", eq_error_message(), name);
  CHECK(img.pixels == NULL);
}

static void test_corrupt(void) {
  char path[1024];
  const char *files[] = {"rgb_q90.jpg", "progressive.jpg", "rgb.png", "palette.png"};
  for (int f = 0; f < 4; f++) {
    data_path(path, files[f], "");
    void *bytes;
    size_t n;
    CHECK(eq_read_file(path, &bytes, &n) == EQ_OK);
    /* Cut at several points: header only, middle of the data, just before the end marker. */
    size_t cuts[] = {4, 40, n / 2, n - 14};
    for (int c = 0; c < 4; c++) expect_error(bytes, cuts[c], "cut-file.img");
    /* Garbage over the pixel data. */
    unsigned char *bad = malloc(n);
    memcpy(bad, bytes, n);
    for (size_t i = n / 3; i < n / 3 + 64 && i < n; i++) bad[i] = (unsigned char)(i * 97);
    eq_image img;
    eq_error_clear();
    eq_status st = eq_image_decode(bad, n, "garbled.img", 3, &img);
    /* A JPEG's entropy-coded data has no checksum: garbage there may decode
     * to wrong pixels; anything else (headers, PNG CRC/zlib) must be caught. */
    if (st) CHECK(strstr(eq_error_message(), "garbled.img") != NULL);
    else eq_image_free(&img);
    if (files[f][strlen(files[f]) - 1] == 'g' && strstr(files[f], ".png")) CHECK(st == EQ_ERR_FORMAT);
    free(bad);
    free(bytes);
  }
  expect_error("GIF89a....", 10, "anim.gif");
  expect_error("", 0, "empty.png");
  /* Reading a missing file names it. */
  eq_image img;
  CHECK(eq_image_read("/nonexistent/dir/x.png", 3, &img) == EQ_ERR_IO);
  CHECK(strstr(eq_error_message(), "/nonexistent/dir/x.png") != NULL);
  CHECK(eq_image_alloc(&img, 0, 3, 3) == EQ_ERR_VALUE);
  CHECK(eq_image_alloc(&img, 3, 3, 2) == EQ_ERR_VALUE);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  test_against_pil();
  test_png_round_trip();
  test_jpeg_encode();
  test_corrupt();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return EQ_TEST_SUMMARY();
}
