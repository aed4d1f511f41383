/* The data set is the same for 1, 2, 3 and 4 MPI ranks: rank 0 hashes every
 * decoded image and latent file and compares with a stored value. */
#include <dirent.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eq_test.h"
#include "equivar/fileio.h"
#include "equivar/npy.h"
#include "equivar/render.h"

#define EXPECTED_HASH 0x3a281366c67b3eaaull

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
  return h;
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

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char root[64] = "/tmp/eq_render_mpiXXXXXX";
  if (rank == 0) {
    if (!mkdtemp(root)) root[0] = '\0';
    char path[256];
    const char *names[] = {"a.off", "b.off", "c.off", "d.off", "e.off"};
    for (int i = 0; i < 5; i++) {
      char text[512];
      /* five tetrahedra of different shapes */
      snprintf(text, sizeof text, "OFF\n4 4 0\n0 0 0\n%d 0 0\n0 1 0\n0 0 %d\n3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n", i + 1, 3 - i % 3);
      snprintf(path, sizeof path, "%s/src/%s", root, names[i]);
      if (i == 0) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s/src", root);
        eq_mkdirs(dir);
      }
      write_text(path, text);
    }
    /* a broken mesh: every rank must learn it failed, rank 0 leaves it out */
    snprintf(path, sizeof path, "%s/src/zz.off", root);
    write_text(path, "OFF\n3 1 0\n0 0 0\n");
  }
  MPI_Bcast(root, sizeof root, MPI_CHAR, 0, MPI_COMM_WORLD);
  char src_dir[128], out_dir[128];
  snprintf(src_dir, sizeof src_dir, "%s/src", root);
  snprintf(out_dir, sizeof out_dir, "%s/out", root);
  eq_render_source src;
  CHECK(eq_render_source_open(src_dir, &src) == EQ_OK && src.num_objects == 6);
  eq_render_dataset_options o = eq_render_dataset_default_options();
  o.out_dir = out_dir;
  o.size = 24;
  o.views = 3;
  o.seed = 5;
  o.png = 1;
  o.threads = 1;
  o.progress = 0;
  eq_render_dataset_report rep;
  eq_status st = eq_render_dataset(&src, &o, &rep);
  CHECK_MSG(st == EQ_OK, "%s", eq_error_message());
  CHECK(rep.objects_rendered == 5 && rep.objects_failed == 1 && rep.images == 15);
  if (rank == 0) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < src.num_objects; i++)
      for (int v = 0; v < 3 && strcmp(src.objects[i].class_name, "zz"); v++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s/%s/image_%d.png", out_dir, src.objects[i].class_name, src.objects[i].id, v);
        eq_image img;
        CHECK_MSG(eq_image_read(path, 3, &img) == EQ_OK, "%s", path);
        h = fnv(h, img.pixels, (size_t)img.width * img.height * 3);
        eq_image_free(&img);
        snprintf(path, sizeof path, "%s/%s/%s/latent_%d.npy", out_dir, src.objects[i].class_name, src.objects[i].id, v);
        eq_npy_info info;
        void *lat = NULL;
        CHECK(eq_npy_load(path, &info, &lat) == EQ_OK);
        if (lat) h = fnv(h, lat, 28);
        free(lat);
      }
    CHECK_MSG(h == EXPECTED_HASH, "hash 0x%016llxull at %d ranks", (unsigned long long)h, size);
    eq_npy_info a, b;
    char path[512];
    snprintf(path, sizeof path, "%s/train_images.npy", out_dir);
    CHECK(eq_npy_read_info(path, &a) == EQ_OK);
    snprintf(path, sizeof path, "%s/val_images.npy", out_dir);
    CHECK(eq_npy_read_info(path, &b) == EQ_OK);
    CHECK(a.shape[0] + b.shape[0] == 5);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) remove_tree(root);
  eq_render_source_free(&src);
  MPI_Finalize();
  return EQ_TEST_SUMMARY();
}
