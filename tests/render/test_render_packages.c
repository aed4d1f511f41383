/* On the real Debian furniture package when it is installed
 * (scripts/install-deps.sh --datasets); passes with a note otherwise. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "eq_test.h"
#include "equivar/render.h"

#define FURNITURE "/usr/share/sweethome3d/furniture"

int main(void) {
  struct stat sb;
  if (stat(FURNITURE, &sb) != 0) {
    printf("skipped: %s not installed (sweethome3d-furniture)\n", FURNITURE);
    return EQ_TEST_SUMMARY();
  }
  eq_render_source src;
  eq_status st = eq_render_source_open(FURNITURE, &src);
  CHECK_MSG(st == EQ_OK, "%s", eq_error_message());
  if (st) return EQ_TEST_SUMMARY();
  /* the counts of the spec (benchmarks.md section 3) */
  int chairs = 0, tables = 0, lamps = 0, armchairs = 0, oak = -1;
  for (int i = 0; i < src.num_objects; i++) {
    const char *c = src.objects[i].class_name;
    chairs += !strcmp(c, "chair");
    tables += !strcmp(c, "table");
    lamps += !strcmp(c, "lamp");
    armchairs += !strcmp(c, "armchair");
    if (!strcmp(src.objects[i].id, "blendswap-cc-0.oakChair")) oak = i;
  }
  CHECK(src.num_objects == 820 && src.num_archives == 5);
  CHECK(chairs == 41 && tables == 41 && lamps == 18 && armchairs == 14);
  CHECK(oak >= 0);
  if (oak >= 0) {
    eq_mesh mesh;
    st = eq_render_source_load(&src, oak, &mesh);
    CHECK_MSG(st == EQ_OK, "%s", eq_error_message());
    if (!st) {
      CHECK(mesh.num_textures >= 1 && mesh.num_triangles > 1000);
      eq_render_model *model = NULL;
      CHECK(eq_render_model_new(&mesh, "oakChair", &model) == EQ_OK);
      eq_mesh_free(&mesh);
      eq_render_latents l = {{0, 0, 0}, 0.5f, 0.3f, 2.0f, 0.1f};
      eq_render_options o = eq_render_default_options(32);
      eq_image img;
      if (model && eq_render_view(model, &l, &o, &img) == EQ_OK) {
        /* the chair stands upright in the middle: the centre pixel is not floor */
        eq_render_latents l2 = l;
        l2.floor_hue = 0.0f;
        eq_image img2;
        CHECK(eq_render_view(model, &l2, &o, &img2) == EQ_OK);
        CHECK(!memcmp(img.pixels + 3 * (16 * 32 + 16), img2.pixels + 3 * (16 * 32 + 16), 3));
        eq_image_free(&img2);
        eq_image_free(&img);
      }
      eq_render_model_free(model);
    }
  }
  eq_render_source_free(&src);
  return EQ_TEST_SUMMARY();
}
