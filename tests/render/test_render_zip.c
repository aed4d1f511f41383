/* The ZIP reader on an archive written by Python's zipfile
 * (scripts/gen_render_reference.py), and on corrupted copies of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/fileio.h"
#include "equivar/render.h"

static unsigned char *archive;
static size_t archive_size;

static void expect_open_error(const unsigned char *bytes, size_t n, const char *needle) {
  eq_zip *z = NULL;
  eq_error_clear();
  eq_status st = eq_zip_open_memory(bytes, n, "bad.zip", 0, &z);
  CHECK_MSG(st != EQ_OK && z == NULL, "opened a corrupt archive (%s)", needle);
  CHECK_MSG(strstr(eq_error_message(), "bad.zip") && strstr(eq_error_message(), needle), "%s", eq_error_message());
  eq_zip_close(z);
}

/* Opens a modified copy and expects extracting `entry` to fail with `needle`. */
static void expect_extract_error(const unsigned char *bytes, size_t n, const char *entry, const char *needle) {
  eq_zip *z = NULL;
  CHECK(eq_zip_open_memory(bytes, n, "bad.zip", 0, &z) == EQ_OK);
  if (!z) return;
  void *data = NULL;
  size_t len = 0;
  eq_error_clear();
  CHECK(eq_zip_extract(z, eq_zip_find(z, entry), &data, &len) != EQ_OK && data == NULL);
  CHECK_MSG(strstr(eq_error_message(), needle) != NULL, "%s", eq_error_message());
  eq_zip_close(z);
}

/* Offset of the central directory header of `entry` (by its name). */
static size_t central_offset(const char *entry) {
  size_t n = strlen(entry);
  for (size_t i = 0; i + 46 + n <= archive_size; i++)
    if (!memcmp(archive + i, "PK\1\2", 4) && !memcmp(archive + i + 46, entry, n)) return i;
  return 0;
}

int main(void) {
  const char *dir = getenv("EQ_TEST_DATA");
  char path[1024];
  snprintf(path, sizeof path, "%s/render/sample.zip", dir ? dir : "tests/data");
  eq_zip *z = NULL;
  eq_status st = eq_zip_open(path, &z);
  CHECK_MSG(st == EQ_OK, "%s", eq_error_message());
  if (!z) return EQ_TEST_SUMMARY();
  CHECK(eq_zip_count(z) == 4);
  CHECK(!strcmp(eq_zip_entry_name(z, 0), "readme.txt"));
  CHECK(eq_zip_find(z, "/models/cube/cube.obj") == 2 && eq_zip_find(z, "models/cube/cube.mtl") == 3);
  CHECK(eq_zip_find(z, "nothing") == -1);
  void *data = NULL;
  size_t n = 0;
  CHECK(eq_zip_extract(z, 0, &data, &n) == EQ_OK && n == 13 && !memcmp(data, "stored entry\n", 13));
  free(data);
  CHECK(eq_zip_extract(z, 2, &data, &n) == EQ_OK && n == 40 * 8 + 8);
  if (data) CHECK(!memcmp((char *)data + 312, "v 0 0 0\nf 1 2 3\n", 16) && ((char *)data)[n] == '\0');
  free(data);
  CHECK(eq_zip_extract(z, 1, &data, &n) == EQ_OK && n == 0);
  free(data);
  CHECK(eq_zip_extract(z, 9, &data, &n) == EQ_ERR_VALUE);
  eq_zip_close(z);

  CHECK(eq_read_file(path, (void **)&archive, &archive_size) == EQ_OK);
  unsigned char *copy = malloc(archive_size);
  size_t obj_cd = central_offset("models/cube/cube.obj");
  size_t obj_local = 0;
  CHECK(obj_cd > 0);
  memcpy(&obj_local, archive + obj_cd + 42, 4);

  expect_open_error(archive, 10, "not a ZIP");
  expect_open_error(archive, archive_size - 1, "not a ZIP"); /* end record cut */
  memcpy(copy, archive, archive_size);
  copy[archive_size - 22 + 16] ^= 0x40; /* central directory offset: points at data */
  expect_open_error(copy, archive_size, "corrupt");
  memcpy(copy, archive, archive_size);
  copy[archive_size - 22 + 19] = 0x7f; /* central directory offset: past the end */
  expect_open_error(copy, archive_size, "outside");
  memcpy(copy, archive, archive_size);
  copy[obj_cd + 1] = 'X'; /* central header signature */
  expect_open_error(copy, archive_size, "corrupt");

  memcpy(copy, archive, archive_size);
  copy[obj_local + 30 + 20 + 5] ^= 0xff; /* deflate data */
  expect_extract_error(copy, archive_size, "models/cube/cube.obj", "cube.obj");
  memcpy(copy, archive, archive_size);
  copy[obj_cd + 16] ^= 1; /* stored CRC */
  expect_extract_error(copy, archive_size, "models/cube/cube.obj", "CRC");
  memcpy(copy, archive, archive_size);
  copy[obj_cd + 10] = 12; /* bzip2 */
  expect_extract_error(copy, archive_size, "models/cube/cube.obj", "method 12");
  memcpy(copy, archive, archive_size);
  copy[obj_cd + 8] |= 1; /* encrypted */
  expect_extract_error(copy, archive_size, "models/cube/cube.obj", "encrypted");
  memcpy(copy, archive, archive_size);
  copy[obj_cd + 22] = 0x7f; /* compressed size past the end */
  expect_extract_error(copy, archive_size, "models/cube/cube.obj", "past the end");
  memcpy(copy, archive, archive_size);
  copy[obj_local] = 'Q'; /* local header */
  expect_extract_error(copy, archive_size, "models/cube/cube.obj", "local header");
  free(copy);
  free(archive);
  return EQ_TEST_SUMMARY();
}
