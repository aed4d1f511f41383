/* Shared body of the mesh-format fuzz targets: parse, then (for small
 * meshes) prepare the model and render a tiny view, which must cope with any
 * coordinates the parser accepted. */
#ifndef EQ_MESH_FUZZ_H
#define EQ_MESH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "equivar/render.h"

typedef eq_status (*mesh_parser)(const void *data, size_t size, const char *name, eq_mesh *out);

static inline int fuzz_mesh(mesh_parser parse, const char *name, const uint8_t *data, size_t size) {
  eq_mesh mesh;
  if (parse(data, size, name, &mesh) != EQ_OK) return 0;
  if (mesh.num_triangles <= 256) {
    eq_render_model *model = NULL;
    if (eq_render_model_new(&mesh, name, &model) == EQ_OK) {
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

#endif
