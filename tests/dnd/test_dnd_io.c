/* HDF5 / .npy / CSV: files written by h5py / NumPy (tests/data/dnd, see
 * scripts/gen_dnd_reference.py) read at every split, round trips at every
 * split, and the errors for missing files, datasets and malformed input. */
#include <stdlib.h>
#include <unistd.h>

#include "dnd_test_util.h"
#include "equivar/fileio.h"
#include "equivar/npy.h"

static char dir[256];

static const char *data_path(const char *name) {
  static char buf[512];
  const char *root = getenv("EQ_TEST_DATA");
  snprintf(buf, sizeof buf, "%s/dnd/%s", root ? root : "tests/data", name);
  return buf;
}

static const char *tmp_path(const char *name) {
  static char buf[512];
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return buf;
}

static void test_read_references(void) {
  eq_tensor *rh = eq_empty(EQ_F32, EQ_DIMS(7, 5));
  for (int i = 0; i < 35; i++) eq_set_flat(rh, i, i + 0.5);
  eq_tensor *ri = eq_empty(EQ_I64, EQ_DIMS(6));
  for (int i = 0; i < 6; i++) eq_set_flat(ri, i, 10 * i - 20);
  eq_tensor *rn = eq_empty(EQ_F64, EQ_DIMS(5, 3, 2));
  for (int i = 0; i < 30; i++) eq_set_flat(rn, i, i / 4.0 - 3);
  eq_tensor *rc = eq_empty(EQ_F64, EQ_DIMS(6, 3));
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 3; j++) eq_set_flat(rc, i * 3 + j, i - 2 * j + 0.25);
  FOR_SPLITS(s, 2) {
    eq_dnd *h = eq_dnd_load_hdf5(data_path("data.h5"), "data", s, W);
    check_dnd("load h5py file", h, rh, s, true, 0);
    CHECK(h && h->dtype == EQ_F32);
    eq_dnd *c = eq_dnd_load_csv(data_path("table.csv"), ',', 1, EQ_F64, s, W);
    check_dnd("load csv", c, rc, s, true, 0);
    eq_dnd_free(h);
    eq_dnd_free(c);
  }
  FOR_SPLITS(s, 1) {
    eq_dnd *h = eq_dnd_load_hdf5(data_path("data.h5"), "group/ints", s, W);
    check_dnd("load h5py group dataset", h, ri, s, true, 0);
    CHECK(h && h->dtype == EQ_I64);
    eq_dnd_free(h);
  }
  FOR_SPLITS(s, 3) {
    eq_dnd *n = eq_dnd_load_npy(data_path("data.npy"), s, W);
    check_dnd("load numpy .npy", n, rn, s, true, 0);
    eq_dnd_free(n);
  }
  eq_tensor_free(rh);
  eq_tensor_free(ri);
  eq_tensor_free(rn);
  eq_tensor_free(rc);
}

static void test_round_trips(void) {
  for (int di = 0; di < 3; di++) {
    eq_dtype d = DTYPES[di];
    eq_tensor *ref = ref_tensor(d, EQ_DIMS(5, 2, 3));
    FOR_SPLITS(s, 3) {
      eq_dnd *x = eq_dnd_from_tensor(ref, s, W);
      CHECK(eq_dnd_save_hdf5(x, tmp_path("a.h5"), "grp/x") == EQ_OK);
      CHECK(eq_dnd_save_npy(x, tmp_path("a.npy")) == EQ_OK);
      FOR_SPLITS(t, 3) {
        eq_dnd *h = eq_dnd_load_hdf5(tmp_path("a.h5"), "grp/x", t, W);
        check_dnd("hdf5 round trip", h, ref, t, true, 0);
        CHECK(h && h->dtype == d);
        eq_dnd *n = eq_dnd_load_npy(tmp_path("a.npy"), t, W);
        check_dnd("npy round trip", n, ref, t, true, 0);
        CHECK(n && n->dtype == d);
        eq_dnd_free(h);
        eq_dnd_free(n);
      }
      eq_dnd_free(x);
    }
    eq_tensor_free(ref);
    eq_tensor *r2 = ref_tensor(d, EQ_DIMS(7, 3));
    FOR_SPLITS(s, 2) {
      eq_dnd *x = eq_dnd_from_tensor(r2, s, W);
      CHECK(eq_dnd_save_csv(x, tmp_path("a.csv"), ';') == EQ_OK);
      eq_dnd *c = eq_dnd_load_csv(tmp_path("a.csv"), ';', 0, d, 0, W);
      check_dnd("csv round trip", c, r2, 0, true, 0);
      eq_dnd_free(c);
      eq_dnd_free(x);
    }
    eq_tensor_free(r2);
  }
  /* The saved .npy is a valid NumPy file for the serial reader. */
  eq_tensor *r = ref_tensor(EQ_F64, EQ_DIMS(4, 3));
  eq_dnd *x = eq_dnd_from_tensor(r, 1, W);
  CHECK(eq_dnd_save_npy(x, tmp_path("b.npy")) == EQ_OK);
  eq_npy_info info;
  void *data = NULL;
  CHECK(eq_npy_load(tmp_path("b.npy"), &info, &data) == EQ_OK);
  CHECK(data && info.ndim == 2 && info.shape[0] == 4 && info.shape[1] == 3 && memcmp(data, eq_data_ptr(r), 96) == 0);
  free(data);
  /* No temporary files are left behind. */
  eq_comm_barrier(W);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", dir);
  CHECK(system(cmd) != 0);
  eq_dnd_free(x);
  eq_tensor_free(r);
}

static void test_errors(void) {
  CHECK(eq_dnd_load_hdf5(tmp_path("missing.h5"), "x", 0, W) == NULL && eq_error_code() == EQ_ERR_IO &&
        strstr(eq_error_message(), "missing.h5") != NULL);
  CHECK(eq_dnd_load_hdf5(data_path("data.h5"), "nope", 0, W) == NULL && eq_error_code() == EQ_ERR_FORMAT &&
        strstr(eq_error_message(), "no dataset 'nope'") != NULL);
  CHECK(eq_dnd_load_hdf5(data_path("data.npy"), "data", 0, W) == NULL &&
        strstr(eq_error_message(), "not an HDF5 file") != NULL);
  CHECK(eq_dnd_load_hdf5(data_path("data.h5"), "group/ints", 1, W) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  CHECK(eq_dnd_load_npy(tmp_path("missing.npy"), 0, W) == NULL && eq_error_code() == EQ_ERR_IO);
  /* Malformed and truncated .npy, bad CSV: written by rank 0 only. */
  if (W->rank == 0) {
    FILE *f = fopen(tmp_path("bad.npy"), "wb");
    fputs("\x93NUMPY\x01\x00\x10\x00{'descr': '<f8',", f);
    fclose(f);
    f = fopen(tmp_path("short.npy"), "wb");
    char header[128];
    size_t hl = eq_npy_format_header(header, sizeof header, "<f8", 1, (int64_t[]){100});
    fwrite(header, 1, hl, f);
    fwrite(header, 1, 16, f);
    fclose(f);
    f = fopen(tmp_path("bad.csv"), "w");
    fputs("1,2,3\n4,x,6\n", f);
    fclose(f);
    f = fopen(tmp_path("ragged.csv"), "w");
    fputs("1,2,3\n4,5\n", f);
    fclose(f);
  }
  eq_comm_barrier(W);
  CHECK(eq_dnd_load_npy(tmp_path("bad.npy"), 0, W) == NULL && eq_error_code() == EQ_ERR_FORMAT);
  CHECK(eq_dnd_load_npy(tmp_path("short.npy"), 0, W) == NULL && eq_error_code() == EQ_ERR_FORMAT &&
        strstr(eq_error_message(), "truncated") != NULL);
  CHECK(eq_dnd_load_csv(tmp_path("bad.csv"), ',', 0, EQ_F64, 0, W) == NULL &&
        strstr(eq_error_message(), "not a number") != NULL);
  CHECK(eq_dnd_load_csv(tmp_path("ragged.csv"), ',', 0, EQ_F64, 0, W) == NULL &&
        strstr(eq_error_message(), "fields") != NULL);
  /* A failed write leaves an existing file untouched. */
  eq_tensor *r = ref_tensor(EQ_F64, EQ_DIMS(3));
  eq_dnd *x = eq_dnd_from_tensor(r, 0, W);
  CHECK(eq_dnd_save_npy(x, tmp_path("keep.npy")) == EQ_OK);
  CHECK(eq_dnd_save_hdf5(x, tmp_path("nodir/y.h5"), "x") != EQ_OK);
  eq_dnd *back = eq_dnd_load_npy(tmp_path("keep.npy"), 0, W);
  check_dnd("file kept", back, r, 0, true, 0);
  eq_dnd_free(back);
  eq_dnd_free(x);
  eq_tensor_free(r);
}

int main(void) {
  DND_TEST_BEGIN();
  int64_t pid = getpid();
  eq_comm_bcast(W, &pid, 1, EQ_I64, 0);
  snprintf(dir, sizeof dir, "/tmp/eq_dnd_io_%d_%lld", W->size, (long long)pid);
  if (W->rank == 0) eq_mkdirs(dir);
  eq_comm_barrier(W);
  test_read_references();
  test_round_trips();
  test_errors();
  eq_comm_barrier(W);
  if (W->rank == 0) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  return DND_TEST_END();
}
