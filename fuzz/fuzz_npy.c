/* .npy header parsing and whole-file loading. */
#include "equivar/npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  eq_npy_info info;
  if (eq_npy_parse_header(data, size, "fuzz.npy", &info) != EQ_OK) return 0;
  if (eq_npy_count(&info) < 0) abort();
  /* The loader path, through a file as users would hit it. */
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/eq_fuzz_npy_%d.npy", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  void *arr = NULL;
  if (eq_npy_load(path, &info, &arr) == EQ_OK) free(arr);
  unlink(path);
  return 0;
}
