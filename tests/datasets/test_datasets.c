/* Every data set reader on tiny files of its format generated here, and
 * malformed files of each format giving errors that name the file. */
#include "eq_test.h"
#include "equivar/datasets.h"
#include "equivar/fileio.h"
#include "equivar/npy.h"
#include "equivar/transforms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static char dir[] = "/tmp/eq_test_ds_XXXXXX";

static const char *P(const char *fmt, const char *a) {
  static char bufs[4][1024];
  static int k;
  char *b = bufs[k++ & 3];
  char rel[512];
  snprintf(rel, sizeof rel, fmt, a);
  snprintf(b, 1024, "%s/%s", dir, rel);
  return b;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(1);
  }
  fwrite(data, 1, n, f);
  fclose(f);
}

static uint8_t pix(int i, int k) { return (uint8_t)(i * 31 + k * 7 + 3); }

static void expect_fail(eq_dataset *ds, const char *needle) {
  CHECK_MSG(ds == NULL, "opened although it should fail (%s)", needle);
  CHECK_MSG(strstr(eq_error_message(), needle) != NULL, "message '%s' lacks '%s'", eq_error_message(), needle);
  eq_dataset_free(ds);
}

static void test_cifar(void) {
  eq_mkdirs(P("cifar10", ""));
  uint8_t rec[2 * 3073];
  for (int b = 1; b <= 5; b++) {
    for (int r = 0; r < 2; r++) {
      rec[r * 3073] = (uint8_t)((b + r) % 10);
      for (int k = 0; k < 3072; k++) rec[r * 3073 + 1 + k] = pix(b * 2 + r, k);
    }
    char name[64];
    snprintf(name, sizeof name, "cifar10/data_batch_%d.bin", b);
    write_bytes(P("%s", name), rec, sizeof rec);
  }
  write_bytes(P("cifar10/test_batch.bin", ""), rec, 3073);
  eq_dataset *ds = eq_dataset_open_cifar(P("cifar10", ""), "train", 0);
  CHECK_MSG(ds != NULL, "%s", eq_error_message());
  if (ds) {
    CHECK(eq_dataset_size(ds) == 10 && eq_dataset_num_classes(ds) == 10);
    eq_sample s;
    CHECK(eq_dataset_get(ds, 7, 0, &s) == EQ_OK); /* batch 4, record 1 */
    CHECK(s.label == 5 && s.image.width == 32 && s.image.channels == 3);
    /* pixel (y 2, x 5): R plane offset 2*32+5, G +1024, B +2048 */
    int i = 2 * 32 + 5;
    CHECK(s.image.pixels[i * 3] == pix(9, i) && s.image.pixels[i * 3 + 1] == pix(9, 1024 + i) &&
          s.image.pixels[i * 3 + 2] == pix(9, 2048 + i));
    eq_sample_free(&s);
    CHECK(eq_dataset_get(ds, 10, 0, &s) == EQ_ERR_VALUE);
    eq_dataset_free(ds);
  }
  ds = eq_dataset_open_cifar(P("cifar10", ""), "test", 0);
  CHECK(ds && eq_dataset_size(ds) == 1);
  eq_dataset_free(ds);
  /* Truncated batch: not a whole number of records. */
  write_bytes(P("cifar10/data_batch_3.bin", ""), rec, 3073 + 100);
  expect_fail(eq_dataset_open_cifar(P("cifar10", ""), "train", 0), "data_batch_3.bin");
  expect_fail(eq_dataset_open_cifar(P("nothing", ""), "train", 0), "nothing");
  /* CIFAR-100: coarse and fine labels; a label out of range is an error. */
  eq_mkdirs(P("cifar100", ""));
  uint8_t r100[2 * 3074] = {0};
  r100[0] = 19, r100[1] = 99, r100[3074] = 3, r100[3075] = 100;
  write_bytes(P("cifar100/train.bin", ""), r100, sizeof r100);
  ds = eq_dataset_open_cifar(P("cifar100", ""), "train", 0);
  CHECK(ds && eq_dataset_num_classes(ds) == 100);
  eq_sample s;
  if (ds) {
    CHECK(eq_dataset_get(ds, 0, 0, &s) == EQ_OK && s.label == 99);
    eq_sample_free(&s);
    CHECK(eq_dataset_get(ds, 1, 0, &s) == EQ_ERR_FORMAT && strstr(eq_error_message(), "train.bin"));
    eq_dataset_free(ds);
  }
  ds = eq_dataset_open_cifar(P("cifar100", ""), "train", 1);
  CHECK(ds && eq_dataset_get(ds, 1, 0, &s) == EQ_OK && s.label == 3);
  eq_sample_free(&s);
  eq_dataset_free(ds);
}

static void test_stl(void) {
  eq_mkdirs(P("stl", ""));
  size_t rs = 96 * 96 * 3;
  uint8_t *x = malloc(3 * rs);
  for (size_t i = 0; i < 3 * rs; i++) x[i] = (uint8_t)(i * 13 + (i / 97));
  write_bytes(P("stl/train_X.bin", ""), x, 2 * rs);
  write_bytes(P("stl/unlabeled_X.bin", ""), x, 3 * rs);
  uint8_t y[2] = {1, 10};
  write_bytes(P("stl/train_y.bin", ""), y, 2);
  eq_dataset *ds = eq_dataset_open_stl10(P("stl", ""), "train");
  CHECK_MSG(ds != NULL, "%s", eq_error_message());
  eq_sample s;
  if (ds) {
    CHECK(eq_dataset_size(ds) == 2);
    CHECK(eq_dataset_get(ds, 1, 0, &s) == EQ_OK && s.label == 9 && s.image.width == 96);
    /* column-major: pixel (row 3, col 40), channel 2 is byte 2*9216 + 40*96 + 3 */
    CHECK(s.image.pixels[(3 * 96 + 40) * 3 + 2] == x[rs + 2 * 9216 + 40 * 96 + 3]);
    eq_sample_free(&s);
    eq_dataset_free(ds);
  }
  ds = eq_dataset_open_stl10(P("stl", ""), "train+unlabeled");
  CHECK(ds && eq_dataset_size(ds) == 5);
  if (ds) {
    CHECK(eq_dataset_get(ds, 4, 0, &s) == EQ_OK && s.label == -1);
    eq_sample_free(&s);
    eq_dataset_free(ds);
  }
  ds = eq_dataset_open_stl10(P("stl", ""), "unlabeled");
  CHECK(ds && eq_dataset_size(ds) == 3 && eq_dataset_num_classes(ds) == 0);
  eq_dataset_free(ds);
  y[1] = 11;
  write_bytes(P("stl/train_y.bin", ""), y, 2);
  expect_fail(eq_dataset_open_stl10(P("stl", ""), "train"), "train_y.bin");
  write_bytes(P("stl/train_y.bin", ""), y, 1);
  expect_fail(eq_dataset_open_stl10(P("stl", ""), "train"), "train_y.bin");
  write_bytes(P("stl/test_X.bin", ""), x, rs - 5);
  expect_fail(eq_dataset_open_stl10(P("stl", ""), "test"), "test_X.bin");
  expect_fail(eq_dataset_open_stl10(P("stl", ""), "validation"), "validation");
  free(x);
}

static void write_gz(const char *path, const void *data, size_t n) {
  gzFile f = gzopen(path, "wb");
  gzwrite(f, data, (unsigned)n);
  gzclose(f);
}

static void test_idx(void) {
  eq_mkdirs(P("mnist", ""));
  uint8_t img[16 + 3 * 4 * 5] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
  for (int i = 0; i < 60; i++) img[16 + i] = (uint8_t)(i * 4);
  uint8_t lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};
  write_gz(P("mnist/train-images-idx3-ubyte.gz", ""), img, sizeof img);
  write_bytes(P("mnist/train-labels-idx1-ubyte", ""), lab, sizeof lab);
  eq_dataset *ds = eq_dataset_open_mnist(P("mnist", ""), "train");
  CHECK_MSG(ds != NULL, "%s", eq_error_message());
  eq_sample s;
  if (ds) {
    CHECK(eq_dataset_size(ds) == 3 && eq_dataset_num_classes(ds) == 10);
    CHECK(eq_dataset_get(ds, 2, 0, &s) == EQ_OK && s.label == 9 && s.image.width == 5 && s.image.height == 4 &&
          s.image.channels == 1);
    CHECK(s.image.pixels[7] == (uint8_t)((40 + 7) * 4));
    eq_sample_free(&s);
    eq_dataset_free(ds);
  }
  /* Truncated raw, truncated gzip, bad magic, label count mismatch. */
  write_bytes(P("bad-images", ""), img, sizeof img - 1);
  expect_fail(eq_dataset_open_idx(P("bad-images", ""), P("mnist/train-labels-idx1-ubyte", "")), "bad-images");
  void *gz;
  size_t gn;
  CHECK(eq_read_file(P("mnist/train-images-idx3-ubyte.gz", ""), &gz, &gn) == EQ_OK);
  write_bytes(P("cut.gz", ""), gz, gn / 2);
  expect_fail(eq_dataset_open_idx(P("cut.gz", ""), P("mnist/train-labels-idx1-ubyte", "")), "cut.gz");
  free(gz);
  img[2] = 0x0D; /* float elements */
  write_bytes(P("float-images", ""), img, sizeof img);
  expect_fail(eq_dataset_open_idx(P("float-images", ""), P("mnist/train-labels-idx1-ubyte", "")), "float-images");
  lab[7] = 2;
  write_bytes(P("short-labels", ""), lab, sizeof lab - 1);
  expect_fail(eq_dataset_open_idx(P("mnist/train-images-idx3-ubyte.gz", ""), P("short-labels", "")), "short-labels");
  expect_fail(eq_dataset_open_mnist(P("mnist", ""), "test"), "t10k-images");
}

static eq_image make_image(int w, int h, int seed) {
  eq_image img;
  eq_image_alloc(&img, w, h, 3);
  for (int i = 0; i < w * h * 3; i++) img.pixels[i] = (uint8_t)(i * 7 + seed * 50);
  return img;
}

static void test_image_folder(void) {
  eq_mkdirs(P("folder/b_cat/sub", ""));
  eq_mkdirs(P("folder/a_dog", ""));
  eq_image img = make_image(6, 4, 1);
  CHECK(eq_image_write_png(P("folder/a_dog/x.png", ""), &img) == EQ_OK);
  CHECK(eq_image_write_png(P("folder/b_cat/z.PNG", ""), &img) == EQ_OK);
  CHECK(eq_image_write_png(P("folder/b_cat/sub/y.png", ""), &img) == EQ_OK);
  void *jpg;
  size_t jn;
  CHECK(eq_image_encode_jpeg(&img, 90, &jpg, &jn) == EQ_OK);
  write_bytes(P("folder/a_dog/w.jpeg", ""), jpg, jn);
  free(jpg);
  write_bytes(P("folder/a_dog/notes.txt", ""), "hi", 2);
  eq_dataset *ds = eq_dataset_open_image_folder(P("folder", ""), 3);
  CHECK_MSG(ds != NULL, "%s", eq_error_message());
  eq_sample s;
  if (ds) {
    CHECK(eq_dataset_size(ds) == 4 && eq_dataset_num_classes(ds) == 2);
    CHECK(!strcmp(eq_dataset_class_name(ds, 0), "a_dog") && !strcmp(eq_dataset_class_name(ds, 1), "b_cat"));
    /* a_dog: w.jpeg, x.png; b_cat: sub/y.png, z.PNG -- files before folders */
    CHECK(eq_dataset_get(ds, 1, 0, &s) == EQ_OK && s.label == 0);
    CHECK(s.image.pixels && memcmp(s.image.pixels, img.pixels, 6 * 4 * 3) == 0);
    eq_sample_free(&s);
    CHECK(eq_dataset_get(ds, 3, 0, &s) == EQ_OK && s.label == 1);
    eq_sample_free(&s);
    eq_dataset_free(ds);
  }
  /* A corrupt image fails on read, naming the file. */
  write_bytes(P("folder/b_cat/z.PNG", ""), "\x89PNG\r\n\x1a\nxxxx", 12);
  ds = eq_dataset_open_image_folder(P("folder", ""), 3);
  if (ds) {
    CHECK(eq_dataset_get(ds, 2, 0, &s) == EQ_ERR_FORMAT && strstr(eq_error_message(), "z.PNG"));
    eq_dataset_free(ds);
  }
  eq_mkdirs(P("empty/c", ""));
  expect_fail(eq_dataset_open_image_folder(P("empty", ""), 3), "empty");
  eq_image_free(&img);
}

static void write_object(const char *obj, int views, float base) {
  eq_mkdirs(P("ie/%s", obj));
  for (int v = 0; v < views; v++) {
    eq_image img = make_image(8, 8, v);
    void *jpg;
    size_t jn;
    eq_image_encode_jpeg(&img, 90, &jpg, &jn);
    char name[256];
    snprintf(name, sizeof name, "ie/%s/image_%d.jpg", obj, v);
    write_bytes(P("%s", name), jpg, jn);
    free(jpg);
    float lat[7];
    for (int k = 0; k < 7; k++) lat[k] = base + v + 0.1f * k;
    int64_t shape = 7;
    snprintf(name, sizeof name, "ie/%s/latent_%d.npy", obj, v);
    eq_npy_save(P("%s", name), "<f4", 1, &shape, lat);
    eq_image_free(&img);
  }
}

static void test_3diebench(void) {
  write_object("02691156/planeA", 3, 0.0f);
  write_object("02691156/planeB", 3, 10.0f);
  write_object("03001627/chairA", 3, 20.0f);
  eq_dataset *ds = eq_dataset_open_3diebench(P("ie", ""), NULL, 0, 3);
  CHECK_MSG(ds != NULL, "%s", eq_error_message());
  eq_sample s;
  if (ds) {
    CHECK(eq_dataset_size(ds) == 3 && eq_dataset_views(ds) == 3 && eq_dataset_num_classes(ds) == 2);
    CHECK(eq_dataset_get(ds, 2, 1, &s) == EQ_OK && s.label == 1 && s.latent_dim == 7);
    CHECK_CLOSE(s.latent[3], 21.3, 1e-6, 1e-6);
    CHECK(s.image.width == 8 && s.image.channels == 3);
    eq_sample_free(&s);
    CHECK(eq_dataset_get(ds, 0, 3, &s) == EQ_ERR_VALUE);
    eq_dataset_free(ds);
  }
  /* An index file of object paths as NumPy writes it ('<U' strings). */
  uint32_t entries[2][20] = {{0}};
  const char *names[2] = {"/03001627/chairA", "02691156/planeB/"};
  for (int i = 0; i < 2; i++)
    for (size_t k = 0; k < strlen(names[i]); k++) entries[i][k] = (uint32_t)names[i][k];
  int64_t shape = 2;
  CHECK(eq_npy_save(P("ie_train.npy", ""), "<U20", 1, &shape, entries) == EQ_OK);
  ds = eq_dataset_open_3diebench(P("ie", ""), P("ie_train.npy", ""), 0, 3);
  CHECK_MSG(ds != NULL, "%s", eq_error_message());
  if (ds) {
    CHECK(eq_dataset_size(ds) == 2);
    CHECK(eq_dataset_get(ds, 0, 0, &s) == EQ_OK && s.label == 1 && s.latent[0] == 20.0f);
    eq_sample_free(&s);
    CHECK(eq_dataset_get(ds, 1, 2, &s) == EQ_OK && s.label == 0 && s.latent[0] == 12.0f);
    eq_sample_free(&s);
    eq_dataset_free(ds);
  }
  /* Unknown synset in the index; missing latent; wrong latent dtype. */
  const char *bad = "/09999999/x";
  memset(entries, 0, sizeof entries);
  for (size_t k = 0; k < strlen(bad); k++) entries[0][k] = (uint32_t)bad[k];
  shape = 1;
  eq_npy_save(P("ie_bad.npy", ""), "<U20", 1, &shape, entries);
  expect_fail(eq_dataset_open_3diebench(P("ie", ""), P("ie_bad.npy", ""), 0, 3), "09999999");
  remove(P("ie/02691156/planeA/latent_1.npy", ""));
  ds = eq_dataset_open_3diebench(P("ie", ""), NULL, 0, 3);
  if (ds) {
    CHECK(eq_dataset_get(ds, 0, 1, &s) != EQ_OK && strstr(eq_error_message(), "planeA/latent_1.npy"));
    int32_t li[7] = {0};
    int64_t s7 = 7;
    eq_npy_save(P("ie/02691156/planeA/latent_1.npy", ""), "<i4", 1, &s7, li);
    CHECK(eq_dataset_get(ds, 0, 1, &s) == EQ_ERR_FORMAT && strstr(eq_error_message(), "latent_1.npy"));
    eq_dataset_free(ds);
  }
}

/* A corrupt .npy header declaring a huge shape is refused before any
 * allocation (fuzz_npy found this as an out-of-memory). */
static void test_npy_huge_shape(void) {
  char hdr[128];
  int64_t shape[3] = {19, 7370955, 1 << 20};
  size_t n = eq_npy_format_header(hdr, sizeof hdr, "|u1", 3, shape);
  CHECK(n > 0);
  write_bytes(P("huge.npy", ""), hdr, n);
  eq_npy_info info;
  void *data = NULL;
  CHECK(eq_npy_load(P("huge.npy", ""), &info, &data) == EQ_ERR_FORMAT && data == NULL);
  CHECK(strstr(eq_error_message(), "huge.npy") && strstr(eq_error_message(), "truncated"));
  int64_t over[3] = {INT64_MAX / 2, 4, 1};
  n = eq_npy_format_header(hdr, sizeof hdr, "<f4", 3, over);
  write_bytes(P("over.npy", ""), hdr, n);
  CHECK(eq_npy_load(P("over.npy", ""), &info, &data) == EQ_ERR_FORMAT && data == NULL);
}

static void test_patches(void) {
  eq_mkdirs(P("photos/more", ""));
  eq_image a = make_image(40, 30, 1), b = make_image(16, 16, 2);
  CHECK(eq_image_write_png(P("photos/a.png", ""), &a) == EQ_OK);
  CHECK(eq_image_write_png(P("photos/more/b.png", ""), &b) == EQ_OK);
  float scales[2] = {0.5f, 1.0f};
  eq_dataset *d1 = eq_dataset_open_patches(P("photos", ""), 8, scales, 2, 3, 11);
  eq_dataset *d2 = eq_dataset_open_patches(P("photos", ""), 8, scales, 2, 3, 11);
  eq_dataset *d3 = eq_dataset_open_patches(P("photos", ""), 8, scales, 2, 3, 12);
  CHECK_MSG(d1 && d2 && d3, "%s", eq_error_message());
  if (d1 && d2 && d3) {
    CHECK(eq_dataset_size(d1) == 12);
    int same = 1, differs = 0;
    for (size_t i = 0; i < 12; i++) {
      eq_sample s1, s2, s3;
      eq_dataset_get(d1, i, 0, &s1);
      eq_dataset_get(d2, i, 0, &s2);
      eq_dataset_get(d3, i, 0, &s3);
      same &= !memcmp(s1.image.pixels, s2.image.pixels, 8 * 8 * 3);
      differs |= memcmp(s1.image.pixels, s3.image.pixels, 8 * 8 * 3) != 0;
      CHECK(s1.image.width == 8 && s1.label == -1);
      eq_sample_free(&s1);
      eq_sample_free(&s2);
      eq_sample_free(&s3);
    }
    CHECK(same && differs);
    /* b is square: its scale-1 crops are the whole photo resized to 8x8
     * (the resize itself is checked against torchvision elsewhere). */
    eq_sample s;
    eq_dataset_get(d1, 9, 0, &s);
    float buf[3 * 64];
    eq_tf_workspace ws = {0};
    eq_image want;
    CHECK(eq_tf_resized_crop(&b, 0, 0, 16, 16, 0, 8, 8, buf, &ws) == EQ_OK);
    CHECK(eq_tf_float_to_u8(buf, 3, 8, 8, &want) == EQ_OK);
    CHECK(memcmp(want.pixels, s.image.pixels, 8 * 8 * 3) == 0);
    eq_image_free(&want);
    eq_tf_workspace_free(&ws);
    eq_sample_free(&s);
  }
  eq_dataset_free(d1);
  eq_dataset_free(d2);
  eq_dataset_free(d3);
  expect_fail(eq_dataset_open_patches(P("nope", ""), 8, scales, 2, 3, 1), "nope");
  eq_image_free(&a);
  eq_image_free(&b);
}

/* The real Fashion-MNIST test split when dataset-fashion-mnist is installed
 * (scripts/install-deps.sh --datasets); values from NumPy on the same files. */
static void test_fashion_mnist_package(void) {
  const char *root = "/usr/share/datasets/fashion-mnist";
  struct stat sb;
  if (stat(root, &sb) != 0) {
    printf("skipped: %s not installed\n", root);
    return;
  }
  eq_dataset *ds = eq_dataset_open_spec("fashion-mnist:/usr/share/datasets/fashion-mnist:test");
  CHECK_MSG(ds != NULL, "%s", eq_error_message());
  if (!ds) return;
  CHECK(eq_dataset_size(ds) == 10000 && eq_dataset_num_classes(ds) == 10);
  const size_t idx[2] = {0, 9999};
  const long sums[2] = {33456, 24390};
  for (int k = 0; k < 2; k++) {
    eq_sample s;
    CHECK(eq_dataset_get(ds, idx[k], 0, &s) == EQ_OK && s.image.width == 28 && s.image.channels == 1);
    long sum = 0;
    for (int i = 0; i < 28 * 28; i++) sum += s.image.pixels[i];
    CHECK_MSG(sum == sums[k], "image %zu pixel sum %ld, NumPy %ld", idx[k], sum, sums[k]);
    if (k == 0) CHECK(s.label == 9);
    eq_sample_free(&s);
  }
  int count[10] = {0};
  for (size_t i = 0; i < 10000; i += 1) {
    eq_sample s;
    if (eq_dataset_get(ds, i, 0, &s) == EQ_OK && s.label >= 0 && s.label < 10) count[s.label]++;
    eq_sample_free(&s);
  }
  for (int c = 0; c < 10; c++) CHECK(count[c] == 1000);
  eq_dataset_free(ds);
}

static void test_open_by_config(void) {
  char text[1200];
  snprintf(text, sizeof text, "{\"type\": \"cifar10\", \"root\": \"%s/cifar10\", \"split\": \"test\"}", dir);
  eq_json *j = eq_json_parse(text, strlen(text), "ds.json");
  eq_dataset *ds = eq_dataset_open_json(j);
  CHECK_MSG(ds && eq_dataset_size(ds) == 1, "%s", eq_error_message());
  eq_dataset_free(ds);
  eq_json_free(j);
  snprintf(text, sizeof text, "stl10:%s/stl:unlabeled", dir);
  ds = eq_dataset_open_spec(text);
  CHECK_MSG(ds && eq_dataset_size(ds) == 3, "%s", eq_error_message());
  eq_dataset_free(ds);
  expect_fail(eq_dataset_open_spec("imagenet:/x"), "imagenet");
  j = eq_json_parse("{\"type\": \"cifar10\"}", 19, "ds.json");
  expect_fail(eq_dataset_open_json(j), "root");
  eq_json_free(j);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  test_cifar();
  test_stl();
  test_idx();
  test_image_folder();
  test_3diebench();
  test_patches();
  test_npy_huge_shape();
  test_open_by_config();
  test_fashion_mnist_package();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return EQ_TEST_SUMMARY();
}
