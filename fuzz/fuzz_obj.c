/* libFuzzer target: the OBJ parser. Every file it asks for (mtllib, textures)
 * is served the same input, so the MTL parser and image decoders run on it
 * too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "equivar/render.h"

typedef struct input {
  const uint8_t *data;
  size_t size;
} input;

static eq_status open_same(void *ctx, const char *path, void **bytes, size_t *size) {
  const input *in = ctx;
  *bytes = malloc(in->size + 1);
  if (!*bytes) return eq_error(EQ_ERR_MEMORY, "out of memory");
  memcpy(*bytes, in->data, in->size);
  ((char *)*bytes)[in->size] = '\0';
  *size = in->size;
  return EQ_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input in = {data, size};
  eq_mesh mesh;
  if (eq_mesh_parse_obj(data, size, "fuzz.obj", open_same, &in, &mesh) == EQ_OK) eq_mesh_free(&mesh);
  return 0;
}
