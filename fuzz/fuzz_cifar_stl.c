/* CIFAR-10/100 and STL-10 binary readers: the input becomes the files of a
 * data set folder (its first byte picks the format), then every record is
 * read. */
#include "equivar/datasets.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, const uint8_t *d, size_t n) {
  char p[128];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  if (!f) return;
  fwrite(d, 1, n, f);
  fclose(f);
}

static void drop(const char *name) {
  char p[128];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  unlink(p);
}

static void read_all(eq_dataset *ds) {
  if (!ds) return;
  size_t n = eq_dataset_size(ds);
  for (size_t i = 0; i < n && i < 64; i++) {
    eq_sample s;
    if (eq_dataset_get(ds, i, 0, &s) == EQ_OK) {
      if (s.label >= eq_dataset_num_classes(ds) && s.label != -1) abort();
      eq_sample_free(&s);
    }
  }
  eq_dataset_free(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/eq_fuzz_ds_%d", (int)getpid());
    mkdir(dir, 0700);
  }
  if (size < 1) return 0;
  int kind = data[0] % 3;
  data++, size--;
  const char *names[] = {"data_batch_1.bin", "test_batch.bin", "train.bin", "test.bin", "test_X.bin", "test_y.bin"};
  for (int i = 0; i < 6; i++) drop(names[i]);
  if (kind == 0) { /* CIFAR-10 test split */
    put("data_batch_1.bin", data, 0);
    put("test_batch.bin", data, size);
    read_all(eq_dataset_open_cifar(dir, "test", 0));
  } else if (kind == 1) { /* CIFAR-100 */
    put("train.bin", data, size);
    read_all(eq_dataset_open_cifar(dir, "train", size & 1));
  } else { /* STL-10: labels are the first ceil(n / 27648) bytes */
    size_t rec = 96 * 96 * 3, nl = size / (rec + 1) + (size % (rec + 1) ? 1 : 0);
    if (nl > size) nl = size;
    put("test_y.bin", data, nl);
    put("test_X.bin", data + nl, size - nl);
    read_all(eq_dataset_open_stl10(dir, "test"));
  }
  return 0;
}
