/* Rendering: a fixed scene hashes to a stored value (the same for 1 and 2
 * threads), the object and floor land where the scene puts them, and a
 * small data set is byte-identical for 1 and 2 threads with readable
 * latents, index files and images. */
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eq_test.h"
#include "equivar/fileio.h"
#include "equivar/npy.h"
#include "equivar/render.h"
#include "render/render_internal.h"

/* FNV-1a of the pixels of the fixed scene below, 64 px, 2x2 supersampling.
 * Changing the scene, shading or rasterisation changes it on purpose. */
#define EXPECTED_HASH 0x3ca5ab13cc298383ull

static const char *CUBE_OBJ =
    "mtllib cube.mtl\n"
    "v -1 -1 -1\nv 1 -1 -1\nv 1 1 -1\nv -1 1 -1\nv -1 -1 1\nv 1 -1 1\nv 1 1 1\nv -1 1 1\n"
    "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
    "usemtl red\nf 1 4 3 2\nf 5 6 7 8\n"
    "usemtl checker\nf 1/1 2/2 6/3 5/4\nf 3/1 4/2 8/3 7/4\n"
    "usemtl blue\nf 1 5 8 4\nf 2 3 7 6\n";
static const char *CUBE_MTL = "newmtl red\nKd 0.9 0.2 0.1\nnewmtl blue\nKd 0.1 0.3 0.9\nnewmtl checker\nmap_Kd checker.png\n";

static eq_status open_memory(void *ctx, const char *path, void **bytes, size_t *size) {
  if (!strcmp(path, "cube.mtl")) {
    *size = strlen(CUBE_MTL);
    *bytes = eq_strdup(CUBE_MTL);
    return EQ_OK;
  }
  if (!strcmp(path, "checker.png")) {
    eq_image img;
    eq_image_alloc(&img, 8, 8, 3);
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++)
        for (int c = 0; c < 3; c++) img.pixels[3 * (y * 8 + x) + c] = ((x / 2 + y / 2) % 2) ? 240 : (uint8_t)(40 + 60 * c);
    eq_status st = eq_image_encode_png(&img, bytes, size);
    eq_image_free(&img);
    return st;
  }
  return eq_error(EQ_ERR_IO, "no file '%s'", path);
}

static uint64_t hash_pixels(const eq_image *img) {
  uint64_t h = 1469598103934665603ull;
  size_t n = (size_t)img->width * img->height * img->channels;
  for (size_t i = 0; i < n; i++) h = (h ^ img->pixels[i]) * 1099511628211ull;
  return h;
}

static eq_render_model *cube_model(void) {
  eq_mesh mesh;
  eq_status st = eq_mesh_parse_obj(CUBE_OBJ, strlen(CUBE_OBJ), "cube.obj", open_memory, NULL, &mesh);
  CHECK_MSG(st == EQ_OK, "%s", eq_error_message());
  if (st) return NULL;
  CHECK(mesh.num_textures == 1 && mesh.num_triangles == 12);
  eq_render_model *model = NULL;
  CHECK(eq_render_model_new(&mesh, "cube.obj", &model) == EQ_OK);
  eq_mesh_free(&mesh);
  return model;
}

static void test_fixed_scene(void) {
  eq_render_model *model = cube_model();
  if (!model) return;
  eq_render_latents l = {{0.3f, -0.5f, 0.8f}, 0.3f, 0.5f, 1.0f, 0.6f};
  eq_render_options o = eq_render_default_options(64);
  eq_image img, img2, rot;
  CHECK(eq_render_view(model, &l, &o, &img) == EQ_OK);
  uint64_t h = hash_pixels(&img);
  if (getenv("EQ_RENDER_TEST_DUMP")) eq_image_write_png(getenv("EQ_RENDER_TEST_DUMP"), &img); /* to look at it */
  CHECK_MSG(h == EXPECTED_HASH, "hash 0x%016llxull", (unsigned long long)h);
  /* the same view rendered by two threads at once */
  uint64_t th[2] = {0, 0};
#pragma omp parallel num_threads(2)
  {
    eq_image t;
    int id = omp_get_thread_num();
    if (id < 2 && eq_render_view(model, &l, &o, &t) == EQ_OK) {
      th[id] = hash_pixels(&t);
      eq_image_free(&t);
    }
  }
  CHECK(th[0] == h && (omp_get_max_threads() < 2 || th[1] == h));
  /* the floor colour does not touch the object: unchanged pixels are the object */
  eq_render_latents l2 = l;
  l2.floor_hue = 0.8f;
  CHECK(eq_render_view(model, &l2, &o, &img2) == EQ_OK);
  double cx = 0, cy = 0;
  int count = 0;
  for (int y = 0; y < 64; y++)
    for (int x = 0; x < 64; x++)
      if (!memcmp(img.pixels + 3 * (y * 64 + x), img2.pixels + 3 * (y * 64 + x), 3)) cx += x, cy += y, count++;
  CHECK_MSG(count > 64 * 64 / 20 && count < 64 * 64 / 2, "object covers %d pixels", count);
  if (count) CHECK_MSG(fabs(cx / count - 31.5) < 4 && fabs(cy / count - 31.5) < 4, "centroid %g %g", cx / count, cy / count);
  /* the top corners are floor out of the spot (theta 0.5, phi 1 aims it at +y, toward the camera's
   * foot, the bottom of the image): ambient only, so their hue is the floor hue */
  const uint8_t *p = img.pixels;
  float r = p[0] / 255.0f, g = p[1] / 255.0f, b = p[2] / 255.0f;
  float fl[3];
  eq_hsv_to_rgb(0.3f, 0.6f, 0.6f, fl);
  float k = sqrtf(0.3f); /* display value of ambient 0.3 on a squared (linear) albedo */
  CHECK_CLOSE(r, k * fl[0], 0, 3e-3);
  CHECK_CLOSE(g, k * fl[1], 0, 3e-3);
  CHECK_CLOSE(b, k * fl[2], 0, 3e-3);
  /* shadows only darken, and some floor pixels fall into the object's shadow */
  eq_render_options ns = o;
  ns.shadows = 0;
  eq_image flat;
  CHECK(eq_render_view(model, &l, &ns, &flat) == EQ_OK);
  int darker = 0, brighter = 0;
  for (int i = 0; i < 64 * 64 * 3; i++) {
    darker += img.pixels[i] < flat.pixels[i];
    brighter += img.pixels[i] > flat.pixels[i];
  }
  CHECK_MSG(darker > 30 && brighter == 0, "shadows: %d darker, %d brighter values", darker, brighter);
  eq_image_free(&flat);
  /* another rotation moves object pixels */
  eq_render_latents l3 = l;
  l3.rotation[2] = -0.4f;
  CHECK(eq_render_view(model, &l3, &o, &rot) == EQ_OK);
  CHECK(hash_pixels(&rot) != h);
  eq_image_free(&img);
  eq_image_free(&img2);
  eq_image_free(&rot);
  eq_render_latents bad = l;
  bad.light_phi = NAN;
  CHECK(eq_render_view(model, &bad, &o, &img) == EQ_ERR_VALUE);
  o.size = 2;
  CHECK(eq_render_view(model, &l, &o, &img) == EQ_ERR_VALUE);
  eq_render_model_free(model);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static int same_file(const char *a, const char *b) {
  void *x = NULL, *y = NULL;
  size_t nx = 0, ny = 0;
  int same = eq_read_file(a, &x, &nx) == EQ_OK && eq_read_file(b, &y, &ny) == EQ_OK && nx == ny && !memcmp(x, y, nx);
  free(x);
  free(y);
  return same;
}

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[1024];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (e->d_type == DT_DIR) remove_tree(path);
    else unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Decodes entry i of a '<U n' array as ASCII. */
static void unicode_entry(const eq_npy_info *info, const void *data, int64_t i, char *out, size_t cap) {
  size_t width = info->item_size / 4, k = 0;
  const uint32_t *u = (const uint32_t *)data + (size_t)i * width;
  for (; k < width && k + 1 < cap && u[k]; k++) out[k] = (char)u[k];
  out[k] = '\0';
}

static void test_dataset(void) {
  char root[] = "/tmp/eq_render_dsXXXXXX";
  CHECK(mkdtemp(root) != NULL);
  char src[600], out1[600], out2[600], path[1024], path2[1024];
  snprintf(src, sizeof src, "%s/src", root);
  snprintf(path, sizeof path, "%s/box", src);
  eq_mkdirs(path);
  write_text(path, "cube.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n"
                               "f 1 4 3 2\nf 5 6 7 8\nf 1 2 6 5\nf 3 4 8 7\nf 1 5 8 4\nf 2 3 7 6\n");
  write_text(path, "wedge.stl", "solid w\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 2 0 0\nvertex 0 1 1\nendloop\nendfacet\n"
                                "facet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 0 1 1\nvertex 0 1 0\nendloop\nendfacet\nendsolid\n");
  snprintf(path, sizeof path, "%s/pyramid", src);
  eq_mkdirs(path);
  write_text(path, "p.off", "COFF\n5 5 0\n0 0 0 200 0 0\n1 0 0 0 200 0\n1 1 0 0 0 200\n0 1 0 200 200 0\n0.5 0.5 1 90 90 90\n"
                            "4 0 1 2 3\n3 0 1 4\n3 1 2 4\n3 2 3 4\n3 3 0 4\n");
  write_text(path, "t.ply", "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
                            "element face 4\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n"
                            "3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n");
  write_text(path, "zbroken.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n");
  eq_render_source s;
  eq_status st = eq_render_source_open(src, &s);
  CHECK_MSG(st == EQ_OK, "%s", eq_error_message());
  if (st) return;
  CHECK(s.num_objects == 5);
  CHECK(!strcmp(s.objects[0].class_name, "box") && !strcmp(s.objects[0].id, "box.cube.obj"));
  CHECK(!strcmp(s.objects[4].class_name, "pyramid") && !strcmp(s.objects[4].id, "pyramid.zbroken.off"));
  eq_render_dataset_options o = eq_render_dataset_default_options();
  o.size = 32;
  o.views = 3;
  o.seed = 11;
  o.intermediates = 1;
  o.png = 1;
  o.progress = 0;
  o.val_fraction = 0.5;
  snprintf(out1, sizeof out1, "%s/out1", root);
  snprintf(out2, sizeof out2, "%s/out2", root);
  eq_render_dataset_report rep;
  for (int t = 1; t <= 2; t++) {
    o.out_dir = t == 1 ? out1 : out2;
    o.threads = t;
    st = eq_render_dataset(&s, &o, &rep);
    CHECK_MSG(st == EQ_OK, "%s", eq_error_message());
    CHECK(rep.objects_rendered == 4 && rep.objects_failed == 1 && rep.images == 4 * 5);
  }
  /* every file identical for 1 and 2 threads */
  const char *top[] = {"train_images.npy", "val_images.npy", "train_labels.npy", "val_labels.npy", "classes.txt"};
  for (int i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%s", out1, top[i]);
    snprintf(path2, sizeof path2, "%s/%s", out2, top[i]);
    CHECK_MSG(same_file(path, path2), "%s differs", top[i]);
  }
  const char *files[] = {"image_0.png", "image_2.png", "latent_1.npy", "inter_0_1.png", "inter_latent_1_1.npy"};
  for (int obj = 0; obj < 4; obj++)
    for (int i = 0; i < 5; i++) {
      snprintf(path, sizeof path, "%s/%s/%s/%s", out1, s.objects[obj].class_name, s.objects[obj].id, files[i]);
      snprintf(path2, sizeof path2, "%s/%s/%s/%s", out2, s.objects[obj].class_name, s.objects[obj].id, files[i]);
      CHECK_MSG(same_file(path, path2), "%s differs or is missing", path);
    }
  snprintf(path, sizeof path, "%s/pyramid/pyramid.zbroken.off", out1);
  CHECK(access(path, F_OK) != 0);
  /* latents: float32 (7,), the sampled values */
  eq_npy_info info;
  float *lat = NULL;
  snprintf(path, sizeof path, "%s/box/box.cube.obj/latent_2.npy", out1);
  CHECK(eq_npy_load(path, &info, (void **)&lat) == EQ_OK);
  if (lat) {
    CHECK(!strcmp(info.descr, "<f4") && info.ndim == 1 && info.shape[0] == 7);
    eq_render_latents want = eq_render_sample_latents(11, eq_fnv1a64("box.cube.obj"), 2);
    CHECK(lat[0] == want.rotation[0] && lat[2] == want.rotation[2] && lat[3] == want.floor_hue && lat[6] == want.light_hue);
    free(lat);
  }
  /* intermediate 1 of K = 1 between views 0 and 1 is the slerp midpoint */
  snprintf(path, sizeof path, "%s/box/box.cube.obj/inter_latent_0_1.npy", out1);
  CHECK(eq_npy_load(path, &info, (void **)&lat) == EQ_OK);
  if (lat) {
    eq_render_latents a = eq_render_sample_latents(11, eq_fnv1a64("box.cube.obj"), 0);
    eq_render_latents b = eq_render_sample_latents(11, eq_fnv1a64("box.cube.obj"), 1);
    double qa[4], qb[4], qm[4], qi[4];
    eq_euler_xyz_to_quat(a.rotation, qa);
    eq_euler_xyz_to_quat(b.rotation, qb);
    eq_quat_slerp(qa, qb, 0.5, qm);
    eq_euler_xyz_to_quat(lat, qi);
    double dot = fabs(qm[0] * qi[0] + qm[1] * qi[1] + qm[2] * qi[2] + qm[3] * qi[3]);
    CHECK_CLOSE(dot, 1.0, 0, 1e-6);
    float dh = fabsf(lat[4] - 0.5f * (a.light_theta + b.light_theta));
    CHECK(dh < 1e-6f);
    free(lat);
  }
  /* index files: '<U n' object paths and int64 labels of the sorted classes */
  void *names = NULL;
  int64_t *labels = NULL;
  int64_t total = 0;
  for (int split = 0; split < 2; split++) {
    snprintf(path, sizeof path, "%s/%s_images.npy", out1, split ? "val" : "train");
    CHECK(eq_npy_load(path, &info, &names) == EQ_OK);
    CHECK(info.descr[1] == 'U' && info.ndim == 1);
    eq_npy_info linfo;
    snprintf(path, sizeof path, "%s/%s_labels.npy", out1, split ? "val" : "train");
    CHECK(eq_npy_load(path, &linfo, (void **)&labels) == EQ_OK);
    CHECK(!strcmp(linfo.descr, "<i8") && linfo.shape[0] == info.shape[0]);
    for (int64_t i = 0; names && labels && i < info.shape[0]; i++) {
      char entry[256];
      unicode_entry(&info, names, i, entry, sizeof entry);
      CHECK_MSG(entry[0] == '/' && (labels[i] == (strncmp(entry, "/box/", 5) ? 1 : 0)), "%s label %lld", entry, (long long)labels[i]);
      snprintf(path, sizeof path, "%s%s/image_1.png", out1, entry);
      CHECK_MSG(access(path, F_OK) == 0, "%s", path);
    }
    total += info.shape[0];
    free(names);
    free(labels);
    names = labels = NULL;
  }
  CHECK(total == 4);
  /* images decode to what eq_render_view draws */
  eq_image png, direct;
  snprintf(path, sizeof path, "%s/pyramid/pyramid.p.off/image_1.png", out1);
  CHECK(eq_image_read(path, 3, &png) == EQ_OK);
  eq_mesh mesh;
  eq_render_model *model = NULL;
  CHECK(eq_render_source_load(&s, 2, &mesh) == EQ_OK && eq_render_model_new(&mesh, "p.off", &model) == EQ_OK);
  eq_mesh_free(&mesh);
  eq_render_latents l1 = eq_render_sample_latents(11, eq_fnv1a64("pyramid.p.off"), 1);
  eq_render_options ro = eq_render_default_options(32);
  if (model && eq_render_view(model, &l1, &ro, &direct) == EQ_OK) {
    CHECK(png.width == 32 && png.height == 32 && !memcmp(png.pixels, direct.pixels, 32 * 32 * 3));
    eq_image_free(&direct);
  }
  eq_image_free(&png);
  eq_render_model_free(model);
  /* a failure to write (here: a file where a class directory must go) fails
   * the whole call and leaves no index files over an incomplete set */
  char out3[620];
  snprintf(out3, sizeof out3, "%s/out3", root);
  eq_mkdirs(out3);
  write_text(out3, "box", "in the way");
  o.out_dir = out3;
  o.threads = 2;
  eq_error_clear();
  CHECK(eq_render_dataset(&s, &o, &rep) == EQ_ERR_IO);
  CHECK_MSG(strstr(eq_error_message(), "box.") != NULL, "%s", eq_error_message());
  snprintf(path, sizeof path, "%s/train_images.npy", out3);
  CHECK(access(path, F_OK) != 0);
  /* bad options are refused */
  o.views = 0;
  CHECK(eq_render_dataset(&s, &o, &rep) == EQ_ERR_VALUE);
  eq_render_source_free(&s);
  remove_tree(root);
}

int main(void) {
  test_fixed_scene();
  test_dataset();
  return EQ_TEST_SUMMARY();
}
