/* Mesh parsers on tiny meshes written here: values, triangulation, and clear
 * EQ_ERR_FORMAT errors (file name + line) for malformed input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eq_test.h"
#include "equivar/fileio.h"
#include "equivar/render.h"

static eq_status parse(int kind, const char *text, size_t n, const char *name, eq_mesh *m) {
  switch (kind) {
    case 0: return eq_mesh_parse_obj(text, n, name, NULL, NULL, m);
    case 1: return eq_mesh_parse_off(text, n, name, m);
    case 2: return eq_mesh_parse_ply(text, n, name, m);
    default: return eq_mesh_parse_stl(text, n, name, m);
  }
}

/* Expects a format error whose message names the file and contains `needle`. */
static void expect_error(int kind, const char *text, const char *name, const char *needle) {
  eq_mesh m;
  eq_error_clear();
  eq_status st = parse(kind, text, strlen(text), name, &m);
  CHECK_MSG(st == EQ_ERR_FORMAT, "%s: status %d for input:\n%s", name, (int)st, text);
  const char *msg = eq_error_message();
  CHECK_MSG(strstr(msg, name) != NULL, "message lacks the file name: %s", msg);
  CHECK_MSG(strstr(msg, needle) != NULL, "message lacks '%s': %s", needle, msg);
  if (st == EQ_OK) eq_mesh_free(&m);
}

static void test_obj(void) {
  const char *cube =
      "# a unit cube, quads, mixed index forms\n"
      "o cube\n"
      "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n"
      "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
      "vn 0 0 -1\n"
      "f 1/1/1 4/4/1 3/3/1 2/2/1\n"
      "f 5/1 6/2 7/3 8/4\n"
      "f 1//1 2//1 6//1 5//1\n"
      "f -6 -5 -1 -2\n" /* relative: 3 4 8 7 */
      "f 1 5 8 4\n"
      "f 2 3 7 6\n"
      "s off\ng part\nl 1 2\n";
  eq_mesh m;
  CHECK(eq_mesh_parse_obj(cube, strlen(cube), "cube.obj", NULL, NULL, &m) == EQ_OK);
  CHECK(m.num_positions == 8 && m.num_triangles == 12 && m.num_texcoords == 4 && m.num_normals == 1);
  /* fan of "f 1/1/1 4/4/1 3/3/1 2/2/1": (1,4,3), (1,3,2), zero based */
  CHECK(m.tri_pos[0] == 0 && m.tri_pos[1] == 3 && m.tri_pos[2] == 2);
  CHECK(m.tri_pos[3] == 0 && m.tri_pos[4] == 2 && m.tri_pos[5] == 1);
  CHECK(m.tri_tex && m.tri_tex[1] == 3 && m.tri_tex[12] == -1); /* face 3 "1//1" has no texcoord */
  CHECK(m.tri_nrm && m.tri_nrm[0] == 0 && m.tri_nrm[6] == -1);
  CHECK(m.tri_pos[18] == 2 && m.tri_pos[19] == 3 && m.tri_pos[20] == 7); /* negative indices */
  CHECK(m.positions[3 * 6 + 0] == 1.0f && m.positions[3 * 6 + 2] == 1.0f);
  CHECK(m.tri_mat && m.tri_mat[0] == -1);
  eq_mesh_free(&m);

  /* two-vertex faces are skipped, not errors (real exporters write them) */
  const char *deg = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\nf 1 2 3\n";
  CHECK(eq_mesh_parse_obj(deg, strlen(deg), "deg.obj", NULL, NULL, &m) == EQ_OK && m.num_triangles == 1);
  eq_mesh_free(&m);

  expect_error(0, "v 1 2\n", "short.obj", "line 1");
  expect_error(0, "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "range.obj", "line 4");
  expect_error(0, "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 0\n", "zero.obj", "line 4");
  expect_error(0, "v 0 0 0\nv 1 nan 0\n", "nan.obj", "line 2");
  expect_error(0, "v 0 0 0\nv 1 0 0\nv 0 1 0\n\nf 1/a 2 3\n", "tok.obj", "line 5");
  expect_error(0, "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1 2/1 3/1\n", "vt.obj", "texcoords");
  expect_error(0, "v 0 0 0\n", "nofaces.obj", "no faces");
  expect_error(0, "v 0 0 0\nf\n", "empty_face.obj", "line 2");
  eq_mesh bin;
  CHECK(eq_mesh_parse_obj("v 0\0 0 0\n", 10, "nul.obj", NULL, NULL, &bin) == EQ_ERR_FORMAT);
}

static void test_mtl(void) {
  const char *text =
      "# two materials\n"
      "newmtl red\nKd 1 0 0\nKa 0 0 0\nillum 2\n"
      "newmtl wood grain\nKd 0.5\nmap_Kd -s 1 1 1 -o 0.5 0.5 -clamp on my wood.png\n";
  eq_mtl_library lib;
  CHECK(eq_mtl_parse(text, strlen(text), "t.mtl", &lib) == EQ_OK);
  CHECK(lib.count == 2);
  if (lib.count == 2) {
    CHECK(!strcmp(lib.entries[0].name, "red") && lib.entries[0].diffuse[0] == 1.0f && lib.entries[0].diffuse[1] == 0.0f);
    CHECK(lib.entries[0].texture_path == NULL);
    CHECK(!strcmp(lib.entries[1].name, "wood grain") && lib.entries[1].diffuse[2] == 0.5f);
    CHECK(lib.entries[1].texture_path && !strcmp(lib.entries[1].texture_path, "my wood.png"));
  }
  eq_mtl_free(&lib);
  const char *bad[][3] = {{"Kd 1 0 0\n", "before.mtl", "line 1"},
                          {"newmtl a\nKd 1 0\n", "kd.mtl", "line 2"},
                          {"newmtl a\nmap_Kd -bogus 1 x.png\n", "opt.mtl", "line 2"},
                          {"newmtl a\n\nmap_Kd\n", "nomap.mtl", "line 3"},
                          {"newmtl\n", "noname.mtl", "line 1"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    eq_error_clear();
    CHECK(eq_mtl_parse(bad[i][0], strlen(bad[i][0]), bad[i][1], &lib) == EQ_ERR_FORMAT);
    CHECK_MSG(strstr(eq_error_message(), bad[i][1]) && strstr(eq_error_message(), bad[i][2]), "%s", eq_error_message());
  }
}

static void test_off(void) {
  const char *text =
      "OFF\n# a square pyramid\n5 2 0\n"
      "0 0 0\n1 0 0\n1 1 0\n0 1 0\n0.5 0.5 1\n"
      "4 0 1 2 3\n3 0 1 4 255 0 0\n";
  eq_mesh m;
  CHECK(eq_mesh_parse_off(text, strlen(text), "p.off", &m) == EQ_OK);
  CHECK(m.num_positions == 5 && m.num_triangles == 3);
  CHECK(m.tri_pos[6] == 0 && m.tri_pos[7] == 1 && m.tri_pos[8] == 4);
  CHECK(m.positions[14] == 1.0f && m.colors == NULL);
  eq_mesh_free(&m);
  const char *coff = "COFF 3 1 0\n0 0 0 255 0 0 255\n1 0 0 0 255 0 255\n0 1 0 0 0 255 255\n3 0 1 2\n";
  CHECK(eq_mesh_parse_off(coff, strlen(coff), "c.off", &m) == EQ_OK);
  CHECK(m.colors && m.colors[0] == 1.0f && m.colors[1] == 0.0f && m.colors[4] == 1.0f);
  eq_mesh_free(&m);
  expect_error(1, "PLY\n3 1 0\n", "hdr.off", "line 1");
  expect_error(1, "OFF\n3 1 0\n0 0 0\n1 0 0\n", "trunc.off", "truncated");
  expect_error(1, "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n", "idx.off", "line 6");
  expect_error(1, "OFF\n3 1 0\n0 0 0\n1 x 0\n0 1 0\n3 0 1 2\n", "num.off", "line 4");
  expect_error(1, "OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", "pts.off", "no faces");
  expect_error(1, "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", "two.off", "line 6");
  expect_error(1, "OFF\n99999999 1 0\n", "huge.off", "do not fit");
}

static const float TETRA[4][3] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
static const int TETRA_F[4][3] = {{0, 2, 1}, {0, 1, 3}, {0, 3, 2}, {1, 2, 3}};

static void put_be(unsigned char *p, const void *v, int n) {
  for (int i = 0; i < n; i++) p[i] = ((const unsigned char *)v)[n - 1 - i];
}

/* The tetrahedron as binary PLY (little or big endian) with an extra
 * property and an extra element that must be skipped. */
static size_t binary_ply(unsigned char *buf, int big) {
  size_t n = (size_t)sprintf((char *)buf,
                             "ply\nformat %s 1.0\ncomment test\nelement vertex 4\nproperty float x\nproperty float y\n"
                             "property float z\nproperty uchar quality\nelement face 4\n"
                             "property list uchar int vertex_indices\nelement edge 1\nproperty int a\nproperty int b\nend_header\n",
                             big ? "binary_big_endian" : "binary_little_endian");
  for (int v = 0; v < 4; v++) {
    for (int c = 0; c < 3; c++) {
      if (big) put_be(buf + n, &TETRA[v][c], 4);
      else memcpy(buf + n, &TETRA[v][c], 4);
      n += 4;
    }
    buf[n++] = 7;
  }
  for (int f = 0; f < 4; f++) {
    buf[n++] = 3;
    for (int k = 0; k < 3; k++) {
      int32_t idx = TETRA_F[f][k];
      if (big) put_be(buf + n, &idx, 4);
      else memcpy(buf + n, &idx, 4);
      n += 4;
    }
  }
  memset(buf + n, 0, 8);
  return n + 8;
}

static void check_tetra(const eq_mesh *m) {
  CHECK(m->num_positions == 4 && m->num_triangles == 4);
  if (m->num_positions != 4 || m->num_triangles != 4) return;
  for (int v = 0; v < 4; v++)
    for (int c = 0; c < 3; c++) CHECK(m->positions[3 * v + c] == TETRA[v][c]);
  for (int f = 0; f < 4; f++)
    for (int k = 0; k < 3; k++) CHECK(m->tri_pos[3 * f + k] == TETRA_F[f][k]);
}

static void test_ply(void) {
  const char *ascii =
      "ply\nformat ascii 1.0\nelement vertex 4\nproperty double x\nproperty double y\nproperty double z\n"
      "property uchar red\nproperty uchar green\nproperty uchar blue\n"
      "element face 4\nproperty list uchar int vertex_indices\nend_header\n"
      "0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0 0 0 255\n0 0 1 255 255 255\n"
      "3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n";
  eq_mesh m;
  CHECK(eq_mesh_parse_ply(ascii, strlen(ascii), "a.ply", &m) == EQ_OK);
  check_tetra(&m);
  CHECK(m.colors && m.colors[0] == 1.0f && m.colors[4] == 1.0f && m.colors[5] == 0.0f);
  eq_mesh_free(&m);
  unsigned char buf[1024];
  for (int big = 0; big < 2; big++) {
    size_t n = binary_ply(buf, big);
    CHECK(eq_mesh_parse_ply(buf, n, big ? "be.ply" : "le.ply", &m) == EQ_OK);
    check_tetra(&m);
    eq_mesh_free(&m);
    eq_error_clear();
    CHECK(eq_mesh_parse_ply(buf, n - 20, "cut.ply", &m) == EQ_ERR_FORMAT);
    CHECK_MSG(strstr(eq_error_message(), "cut.ply") && strstr(eq_error_message(), "truncated"), "%s", eq_error_message());
  }
  const char *hdr = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n";
  char text[1024];
  expect_error(2, hdr, "noend.ply", "end_header");
  expect_error(2, "plx\n", "magic.ply", "magic");
  snprintf(text, sizeof text, "%send_header\n0 0 0\n1 0 0\n", hdr);
  expect_error(2, text, "short.ply", "line 10");
  snprintf(text, sizeof text, "%selement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n", hdr);
  expect_error(2, text, "idx.ply", "vertex index 5");
  snprintf(text, sizeof text, "%send_header\n0 0 0\n1 0 0\n0 1 0\n", hdr);
  expect_error(2, text, "points.ply", "no faces");
  snprintf(text, sizeof text, "%sproperty blob w\nend_header\n", hdr);
  expect_error(2, text, "type.ply", "line 7");
  expect_error(2, "ply\nformat binary_middle_endian 1.0\nend_header\n", "fmt.ply", "line 2");
}

static void test_stl(void) {
  const char *ascii =
      "solid t\n facet normal 0 0 -1\n  outer loop\n   vertex 0 0 0\n   vertex 0 1 0\n   vertex 1 0 0\n  endloop\n endfacet\n"
      " facet normal 0 0 1\n  outer loop\n   vertex 0 0 1\n   vertex 1 0 1\n   vertex 1 1 1\n   vertex 0 1 1\n  endloop\n endfacet\n"
      "endsolid t\n";
  eq_mesh m;
  CHECK(eq_mesh_parse_stl(ascii, strlen(ascii), "a.stl", &m) == EQ_OK);
  CHECK(m.num_positions == 7 && m.num_triangles == 3);
  CHECK(m.positions[3 * 1 + 1] == 1.0f && m.tri_pos[6] == 3 && m.tri_pos[7] == 5 && m.tri_pos[8] == 6);
  eq_mesh_free(&m);
  /* binary whose header starts with "solid" (common): recognised by its size */
  unsigned char bin[84 + 2 * 50];
  memset(bin, 0, sizeof bin);
  memcpy(bin, "solid but binary", 16);
  uint32_t count = 2;
  memcpy(bin + 80, &count, 4);
  for (int t = 0; t < 2; t++)
    for (int v = 0; v < 3; v++)
      for (int c = 0; c < 3; c++) {
        float x = (float)(t * 10 + v * 3 + c);
        memcpy(bin + 84 + 50 * t + 12 + 12 * v + 4 * c, &x, 4);
      }
  CHECK(eq_mesh_parse_stl(bin, sizeof bin, "b.stl", &m) == EQ_OK);
  CHECK(m.num_triangles == 2 && m.num_positions == 6);
  if (m.num_positions == 6) CHECK(m.positions[3 * 4 + 2] == 15.0f && m.positions[3 * 2 + 1] == 7.0f);
  eq_mesh_free(&m);
  eq_error_clear();
  CHECK(eq_mesh_parse_stl(bin + 1, sizeof bin - 1, "size.stl", &m) == EQ_ERR_FORMAT);
  CHECK_MSG(strstr(eq_error_message(), "size.stl") && strstr(eq_error_message(), "does not match"), "%s", eq_error_message());
  expect_error(3, "solid x\nvertex 0 0 0\n", "loop.stl", "line 2");
  expect_error(3, "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0\n", "num.stl", "line 5");
  expect_error(3, "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\n", "two.stl", "line 6");
  expect_error(3, "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n", "trunc.stl", "truncated");
  expect_error(3, "hello", "tiny.stl", "not an STL");
}

/* OBJ + MTL + PNG texture on disk through eq_mesh_load. */
static void test_obj_files(void) {
  char dir[] = "/tmp/eq_render_objXXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/m.obj", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "mtllib sub/m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl tex\nf 1/1 2/2 3/3\n"
             "usemtl plain\nf 3 2 1\nusemtl unknown\nf 1 3 2\n");
  fclose(f);
  snprintf(path, sizeof path, "%s/sub", dir);
  eq_mkdirs(path);
  snprintf(path, sizeof path, "%s/sub/m.mtl", dir);
  f = fopen(path, "w");
  fprintf(f, "newmtl tex\nKd 1 1 1\nmap_Kd ../t.png\nnewmtl plain\nKd 0 0.5 1\nnewmtl gone\nmap_Kd C:\\Users\\x\\missing.png\n");
  fclose(f);
  eq_image img;
  CHECK(eq_image_alloc(&img, 2, 2, 3) == EQ_OK);
  for (int i = 0; i < 12; i++) img.pixels[i] = (uint8_t)(20 * i);
  snprintf(path, sizeof path, "%s/t.png", dir);
  CHECK(eq_image_write_png(path, &img) == EQ_OK);
  eq_image_free(&img);
  eq_mesh m;
  snprintf(path, sizeof path, "%s/m.obj", dir);
  eq_status st = eq_mesh_load(path, &m);
  CHECK_MSG(st == EQ_OK, "%s", eq_error_message());
  if (st == EQ_OK) {
    CHECK(m.num_materials == 3 && m.num_textures == 1 && m.num_triangles == 3);
    CHECK(m.tri_mat[0] == 0 && m.tri_mat[1] == 1 && m.tri_mat[2] == -1);
    CHECK(m.materials[0].texture == 0 && m.materials[1].texture == -1 && m.materials[2].texture == -1);
    CHECK(m.materials[1].diffuse[1] == 0.5f);
    CHECK(m.textures[0].width == 2 && m.textures[0].pixels[11] == 220 && m.textures[0].pixels[3] == 60);
    eq_mesh_free(&m);
  }
  /* a texture that is not an image is a clear error */
  snprintf(path, sizeof path, "%s/t.png", dir);
  f = fopen(path, "w");
  fprintf(f, "not a png");
  fclose(f);
  snprintf(path, sizeof path, "%s/m.obj", dir);
  eq_error_clear();
  CHECK(eq_mesh_load(path, &m) != EQ_OK);
  CHECK_MSG(strstr(eq_error_message(), "t.png") != NULL, "%s", eq_error_message());
  snprintf(path, sizeof path, "%s/m.xyz", dir);
  CHECK(eq_mesh_load(path, &m) == EQ_ERR_UNSUPPORTED);
  const char *files[] = {"m.obj", "sub/m.mtl", "t.png"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/sub", dir);
  rmdir(path);
  rmdir(dir);
}

int main(void) {
  test_obj();
  test_mtl();
  test_off();
  test_ply();
  test_stl();
  test_obj_files();
  return EQ_TEST_SUMMARY();
}
