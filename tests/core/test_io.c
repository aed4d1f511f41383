/* Atomic files and .npy round trips, including malformed headers. */
#include "eq_test.h"
#include "equivar/fileio.h"
#include "equivar/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/eq_test_io_XXXXXX";

static void path_in(char *buf, const char *name) { snprintf(buf, 512, "%s/%s", dir, name); }

static void test_npy_round_trip(void) {
  char p[512];
  path_in(p, "a.npy");
  float v[6] = {1, 2, 3, 4, 5, 6.5f};
  int64_t shape[2] = {2, 3};
  CHECK(eq_npy_save(p, "<f4", 2, shape, v) == EQ_OK);
  eq_npy_info info;
  void *data = NULL;
  CHECK(eq_npy_load(p, &info, &data) == EQ_OK);
  CHECK(strcmp(info.descr, "<f4") == 0 && info.ndim == 2 && info.shape[0] == 2 && info.shape[1] == 3);
  CHECK(info.data_offset % 64 == 0);
  CHECK(data && memcmp(data, v, sizeof v) == 0);
  free(data);
  /* 1-d and 0-d shapes use Python's tuple spelling. */
  int64_t s1 = 4;
  int32_t iv[4] = {1, -2, 3, -4};
  CHECK(eq_npy_save(p, "<i4", 1, &s1, iv) == EQ_OK);
  CHECK(eq_npy_load(p, &info, &data) == EQ_OK && info.ndim == 1 && info.shape[0] == 4);
  CHECK(data && memcmp(data, iv, sizeof iv) == 0);
  free(data);
  double scalar = 3.25;
  CHECK(eq_npy_save(p, "<f8", 0, NULL, &scalar) == EQ_OK);
  CHECK(eq_npy_load(p, &info, &data) == EQ_OK && info.ndim == 0 && eq_npy_count(&info) == 1);
  CHECK(data && *(double *)data == 3.25);
  free(data);
}

static void test_npy_errors(void) {
  char p[512];
  const char *bad[] = {
      "not numpy at all",
      "\x93NUMPY\x01\x00\x20\x00{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n",
      "\x93NUMPY\x01\x00\xff\x00{'descr': '<f4'",
      "\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'shape': (2,), }          \n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    eq_npy_info info;
    eq_error_clear();
    CHECK(eq_npy_parse_header(bad[i], strlen(bad[i]) + 1, "bad.npy", &info) == EQ_ERR_FORMAT);
    CHECK(strstr(eq_error_message(), "bad.npy") != NULL);
  }
  /* Truncated data is reported with the sizes involved. */
  path_in(p, "t.npy");
  float v[8] = {0};
  int64_t shape = 8;
  CHECK(eq_npy_save(p, "<f4", 1, &shape, v) == EQ_OK);
  CHECK(truncate(p, 64 + 10) == 0);
  eq_npy_info info;
  void *data = NULL;
  CHECK(eq_npy_load(p, &info, &data) == EQ_ERR_FORMAT && data == NULL);
  CHECK(strstr(eq_error_message(), "truncated") != NULL);
  path_in(p, "missing.npy");
  CHECK(eq_npy_load(p, &info, &data) == EQ_ERR_IO);
  CHECK(strstr(eq_error_message(), "missing.npy") != NULL);
}

static void test_atomic(void) {
  char p[512];
  path_in(p, "atomic.txt");
  eq_atomic_file f;
  CHECK(eq_atomic_open(&f, p) == EQ_OK);
  fputs("first", f.fp);
  CHECK(eq_atomic_commit(&f) == EQ_OK);
  CHECK(eq_atomic_open(&f, p) == EQ_OK);
  fputs("second, abandoned", f.fp);
  eq_atomic_abort(&f);
  void *data;
  size_t n;
  CHECK(eq_read_file(p, &data, &n) == EQ_OK && n == 5 && memcmp(data, "first", 5) == 0);
  free(data);
  char sub[512];
  path_in(sub, "x/y/z");
  CHECK(eq_mkdirs(sub) == EQ_OK);
  CHECK(access(sub, F_OK) == 0);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  test_npy_round_trip();
  test_npy_errors();
  test_atomic();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  return EQ_TEST_SUMMARY();
}
