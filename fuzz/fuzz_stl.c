/* libFuzzer target: the STL parser, then a tiny render of small meshes. */
#include "mesh_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_mesh(eq_mesh_parse_stl, "fuzz.stl", data, size);
}
