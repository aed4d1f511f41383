/* safetensors: round trips, reading a file written by the Python reference
 * script, and every kind of malformed file giving an error that names it. */
#include "eq_test.h"
#include "equivar/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/eq_test_st_XXXXXX";

static void path_in(char *buf, const char *name) { snprintf(buf, 512, "%s/%s", dir, name); }

static void write_raw(const char *path, const char *header, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  uint64_t len = strlen(header);
  fwrite(&len, 8, 1, f);
  fwrite(header, 1, len, f);
  if (n) fwrite(data, 1, n, f);
  fclose(f);
}

static void test_round_trip(void) {
  char p[512];
  path_in(p, "rt.safetensors");
  float a[6] = {1, 2, 3, 4, 5, 6.5f};
  int64_t cnt = 42;
  eq_tensor *ta = eq_from_data(EQ_F32, EQ_DIMS(2, 3), a);
  eq_tensor *tb = eq_from_data(EQ_I64, 0, NULL, &cnt);
  eq_tensor *tt = eq_transpose(ta, 0, 1); /* strided: written in C order of the view */
  eq_st_writer w;
  eq_st_writer_init(&w);
  CHECK(eq_st_writer_add(&w, "z.weight", ta) == EQ_OK);
  CHECK(eq_st_writer_add(&w, "a.count", tb) == EQ_OK);
  CHECK(eq_st_writer_add(&w, "t", tt) == EQ_OK);
  CHECK(eq_st_writer_add(&w, "t", tt) == EQ_ERR_VALUE); /* duplicate */
  CHECK(eq_st_writer_add(&w, "__metadata__", tt) == EQ_ERR_VALUE);
  CHECK(eq_st_writer_meta(&w, "note", "quote \" and \\ backslash") == EQ_OK);
  CHECK(eq_st_writer_save(&w, p) == EQ_OK);
  eq_st_writer_free(&w);

  eq_safetensors *f = eq_safetensors_open(p);
  CHECK(f != NULL);
  if (!f) return;
  CHECK(f->count == 3);
  CHECK(strcmp(eq_safetensors_meta(f, "note"), "quote \" and \\ backslash") == 0);
  /* Sorted by name, packed from offset 0; header padded to 8 bytes. */
  CHECK(strcmp(f->entries[0].name, "a.count") == 0 && f->entries[0].begin == 0 && f->entries[0].ndim == 0);
  CHECK((f->payload - (const unsigned char *)f->file) % 8 == 0);
  eq_tensor *r = eq_safetensors_get(f, "t");
  CHECK(r && r->shape[0] == 3 && r->shape[1] == 2 && eq_get_flat(r, 1) == 4 && eq_get_flat(r, 4) == 3);
  eq_tensor *dst = eq_zeros(EQ_F32, EQ_DIMS(2, 3));
  CHECK(eq_safetensors_read_into(f, "z.weight", dst) == EQ_OK && eq_get_flat(dst, 5) == 6.5);
  /* A strided destination is filled through its view. */
  eq_tensor *dst2 = eq_zeros(EQ_F32, EQ_DIMS(3, 2));
  eq_tensor *view = eq_transpose(dst2, 0, 1);
  CHECK(eq_safetensors_read_into(f, "z.weight", view) == EQ_OK && eq_get_flat(dst2, 1) == 4);
  eq_tensor *c = eq_zeros(EQ_I64, 0, NULL);
  CHECK(eq_safetensors_read_into(f, "a.count", c) == EQ_OK && eq_get_flat(c, 0) == 42);
  /* Mismatches name the file and the tensor. */
  eq_tensor *wrong = eq_zeros(EQ_F32, EQ_DIMS(3, 2));
  CHECK(eq_safetensors_read_into(f, "z.weight", wrong) == EQ_ERR_SHAPE);
  CHECK(strstr(eq_error_message(), "rt.safetensors") && strstr(eq_error_message(), "z.weight") &&
        strstr(eq_error_message(), "[2, 3]"));
  eq_tensor *wrongd = eq_zeros(EQ_F64, EQ_DIMS(2, 3));
  CHECK(eq_safetensors_read_into(f, "z.weight", wrongd) == EQ_ERR_DTYPE);
  CHECK(strstr(eq_error_message(), "F32") && strstr(eq_error_message(), "F64"));
  CHECK(eq_safetensors_read_into(f, "nope", dst) == EQ_ERR_FORMAT && strstr(eq_error_message(), "'nope' is missing"));
  eq_safetensors_close(f);
  eq_tensor *all[] = {ta, tb, tt, r, dst, dst2, view, c, wrong, wrongd};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) eq_tensor_free(all[i]);
}

static void test_python_file(void) {
  const char *data = getenv("EQ_TEST_DATA");
  char p[512];
  snprintf(p, sizeof p, "%s/models/optim_ref.safetensors", data ? data : "tests/data");
  eq_safetensors *f = eq_safetensors_open(p);
  CHECK_MSG(f != NULL, "%s", eq_error_message());
  if (!f) return;
  const eq_st_entry *e = eq_safetensors_find(f, "w0");
  CHECK(e && e->dtype == EQ_F32 && e->ndim == 2 && e->shape[0] == 3 && e->shape[1] == 4);
  const eq_st_entry *n = eq_safetensors_find(f, "clip.norm");
  CHECK(n && n->dtype == EQ_F64);
  eq_safetensors_close(f);
}

static void expect_format_error(const char *name, const char *header, const void *data, size_t n, const char *needle) {
  char p[512];
  path_in(p, name);
  write_raw(p, header, data, n);
  eq_error_clear();
  eq_safetensors *f = eq_safetensors_open(p);
  CHECK_MSG(f == NULL && eq_error_code() == EQ_ERR_FORMAT, "%s: %s", name, eq_error_message());
  CHECK_MSG(strstr(eq_error_message(), name) != NULL, "%s: message '%s' lacks the file", name, eq_error_message());
  if (needle) CHECK_MSG(strstr(eq_error_message(), needle) != NULL, "%s: '%s' lacks '%s'", name, eq_error_message(), needle);
  eq_safetensors_close(f);
}

static void test_malformed(void) {
  float v[4] = {1, 2, 3, 4};
  expect_format_error("trunc.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", v, 8, "'a'");
  expect_format_error("size.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", v, 16, "'a'");
  expect_format_error("hole.st",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
                      v, 16, "'b'");
  expect_format_error("overlap.st",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      v, 12, NULL);
  expect_format_error("trail.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", v, 16, "after");
  expect_format_error("dtype.st", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", v, 8, "Q7");
  expect_format_error("json.st", "{\"a\":{\"dtype\":\"F32\",", v, 0, NULL);
  expect_format_error("notobj.st", "[1,2]", NULL, 0, NULL);
  expect_format_error("noshape.st", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", v, 8, "'a'");
  expect_format_error("dup.st",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                      v, 8, NULL);
  /* Header length beyond the file, and a file too short for the length. */
  char p[512];
  path_in(p, "len.st");
  FILE *f = fopen(p, "wb");
  uint64_t huge = 1000;
  fwrite(&huge, 8, 1, f);
  fputs("{}", f);
  fclose(f);
  CHECK(eq_safetensors_open(p) == NULL && eq_error_code() == EQ_ERR_FORMAT && strstr(eq_error_message(), "truncated"));
  path_in(p, "tiny.st");
  f = fopen(p, "wb");
  fputs("abc", f);
  fclose(f);
  CHECK(eq_safetensors_open(p) == NULL && eq_error_code() == EQ_ERR_FORMAT);
  path_in(p, "absent.st");
  CHECK(eq_safetensors_open(p) == NULL && eq_error_code() == EQ_ERR_IO && strstr(eq_error_message(), "absent.st"));
  /* An empty file with just "{}" is valid. */
  path_in(p, "empty.st");
  write_raw(p, "{}      ", NULL, 0);
  eq_safetensors *e = eq_safetensors_open(p);
  CHECK(e && e->count == 0);
  eq_safetensors_close(e);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  test_round_trip();
  test_python_file();
  test_malformed();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
  return EQ_TEST_SUMMARY();
}
