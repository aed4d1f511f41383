/* libFuzzer target: the STL parser, then (for small meshes) model
 * preparation and a tiny render, which must cope with any coordinates. */
#include <stddef.h>
#include <stdint.h>

#include "equivar/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  eq_mesh mesh;
  if (eq_mesh_parse_stl(data, size, "fuzz.stl", &mesh) != EQ_OK) return 0;
  if (mesh.num_triangles <= 256) {
    eq_render_model *model = NULL;
    if (eq_render_model_new(&mesh, "fuzz.stl", &model) == EQ_OK) {
      eq_render_latents l = {{0.1f, 0.2f, 0.3f}, 0.4f, 0.5f, 0.6f, 0.7f};
      eq_render_options o = eq_render_default_options(16);
      eq_image img;
      if (eq_render_view(model, &l, &o, &img) == EQ_OK) eq_image_free(&img);
      eq_render_model_free(model);
    }
  }
  eq_mesh_free(&mesh);
  return 0;
}
