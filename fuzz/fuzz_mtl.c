/* libFuzzer target: the MTL parser. */
#include <stddef.h>
#include <stdint.h>

#include "equivar/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  eq_mtl_library lib;
  if (eq_mtl_parse(data, size, "fuzz.mtl", &lib) == EQ_OK) eq_mtl_free(&lib);
  return 0;
}
