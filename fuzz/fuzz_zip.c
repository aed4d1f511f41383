/* libFuzzer target: the ZIP reader (central directory, local headers,
 * inflate, CRC). Entries claiming more than 1 MiB are not extracted, to stay
 * inside the fuzzer's memory limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "equivar/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  eq_zip *zip = NULL;
  if (eq_zip_open_memory(data, size, "fuzz.zip", 0, &zip) != EQ_OK) return 0;
  for (int i = 0; i < eq_zip_count(zip); i++) {
    (void)eq_zip_find(zip, eq_zip_entry_name(zip, i));
    if (eq_zip_entry_size(zip, i) > (1u << 20)) continue;
    void *bytes = NULL;
    size_t n = 0;
    if (eq_zip_extract(zip, i, &bytes, &n) == EQ_OK) free(bytes);
  }
  eq_zip_close(zip);
  return 0;
}
