/* `equivar render`: a 3DIEBench-style data set from furniture catalogs or meshes. */
#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "equivar/render.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: equivar render --source PATH --out DIR [options]\n\n"
          "Renders a 3DIEBench-style data set: per object DIR/<class>/<object>/image_<i>.jpg and\n"
          "latent_<i>.npy (float32 [rot_x, rot_y, rot_z, floor_hue, light_theta, light_phi, light_hue]),\n"
          "plus train_images.npy, val_images.npy, train_labels.npy, val_labels.npy, classes.txt and\n"
          "render_info.json in DIR. Deterministic: the same seed gives the same images for any\n"
          "number of threads or MPI ranks (launch with mpirun to spread objects over ranks).\n\n"
          "options:\n"
          "  --source PATH         .sh3f furniture catalog, directory of catalogs (e.g.\n"
          "                        /usr/share/sweethome3d/furniture), mesh file or directory of\n"
          "                        .obj/.off/.ply/.stl meshes (searched recursively)\n"
          "  --out DIR             output root (created)\n"
          "  --size N              image width = height in pixels (default 64; e.g. 64, 128, 256)\n"
          "  --views N             renders per object (default 50)\n"
          "  --seed N              seed of every random draw (default 0)\n"
          "  --val-fraction F      share of each class's objects in val (default 0.2)\n"
          "  --intermediates K     also render K slerp intermediates between views i and i+1\n"
          "                        (inter_<i>_<k>.jpg, inter_latent_<i>_<k>.npy; default 0)\n"
          "  --intermediates-rotation-only  intermediates keep view i's floor and light\n"
          "  --threads N           worker threads (default: OMP_NUM_THREADS or all cores)\n"
          "  --limit-objects N     render a fixed subset of N objects (spread over classes)\n"
          "  --supersample S       S x S samples per pixel (default 2)\n"
          "  --no-shadows          no shadow from the object (on by default)\n"
          "  --png                 write PNG instead of JPEG\n"
          "  --quality Q           JPEG quality (default 95)\n"
          "  --list                print the objects (class, id, source) and exit\n"
          "  --no-progress         no progress bar\n");
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v < lo || v > hi) {
    fprintf(stderr, "equivar render: %s '%s' is not an integer in [%ld, %ld]\n", opt, s, lo, hi);
    return 0;
  }
  *out = v;
  return 1;
}

/* MPI only when a launcher started us: a plain run needs no mpirun. */
static int launched_by_mpi(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") || getenv("MPI_LOCALNRANKS");
}

static int run_render(int argc, char **argv) {
  if (eq_cli_wants_help(argc, argv)) {
    usage(stdout);
    return 0;
  }
  eq_render_dataset_options o = eq_render_dataset_default_options();
  const char *source = NULL;
  int list = 0, limit = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    long v;
    int takes = 1;
    if (!strcmp(a, "--png")) o.png = 1, takes = 0;
    else if (!strcmp(a, "--list")) list = 1, takes = 0;
    else if (!strcmp(a, "--no-progress")) o.progress = 0, takes = 0;
    else if (!strcmp(a, "--no-shadows")) o.shadows = 0, takes = 0;
    else if (!strcmp(a, "--intermediates-rotation-only")) o.intermediates_rotation_only = 1, takes = 0;
    if (!takes) continue;
    if (!val) {
      fprintf(stderr, "equivar render: unknown option or missing value for '%s' (see --help)\n", a);
      return 2;
    }
    i++;
    if (!strcmp(a, "--source")) source = val;
    else if (!strcmp(a, "--out")) o.out_dir = val;
    else if (!strcmp(a, "--size")) { if (!parse_int(a, val, 8, 4096, &v)) return 2; o.size = (int)v; }
    else if (!strcmp(a, "--views")) { if (!parse_int(a, val, 1, 100000, &v)) return 2; o.views = (int)v; }
    else if (!strcmp(a, "--seed")) { if (!parse_int(a, val, 0, LONG_MAX, &v)) return 2; o.seed = (uint64_t)v; }
    else if (!strcmp(a, "--intermediates")) { if (!parse_int(a, val, 0, 64, &v)) return 2; o.intermediates = (int)v; }
    else if (!strcmp(a, "--threads")) { if (!parse_int(a, val, 1, 1024, &v)) return 2; o.threads = (int)v; }
    else if (!strcmp(a, "--limit-objects")) { if (!parse_int(a, val, 1, INT_MAX, &v)) return 2; limit = (int)v; }
    else if (!strcmp(a, "--supersample")) { if (!parse_int(a, val, 1, 4, &v)) return 2; o.supersample = (int)v; }
    else if (!strcmp(a, "--quality")) { if (!parse_int(a, val, 1, 100, &v)) return 2; o.jpeg_quality = (int)v; }
    else if (!strcmp(a, "--val-fraction")) {
      char *end;
      o.val_fraction = strtod(val, &end);
      if (*end || end == val || !(o.val_fraction >= 0 && o.val_fraction < 1)) {
        fprintf(stderr, "equivar render: --val-fraction '%s' is not a number in [0, 1)\n", val);
        return 2;
      }
    } else {
      fprintf(stderr, "equivar render: unknown option '%s' (see --help)\n", a);
      return 2;
    }
  }
  if (!source || (!o.out_dir && !list)) {
    fprintf(stderr, "equivar render: --source and --out are required (see --help)\n");
    return 2;
  }
  int we_init = 0, rank = 0;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized && launched_by_mpi()) {
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      fprintf(stderr, "equivar render: MPI_Init_thread failed\n");
      return 1;
    }
    we_init = 1;
  }
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  eq_render_source src;
  int rc = 0;
  if (eq_render_source_open(source, &src) || (limit > 0 && eq_render_source_limit(&src, limit))) {
    fprintf(stderr, "equivar render: %s\n", eq_error_message());
    rc = 1;
  } else if (list) {
    if (rank == 0)
      for (int i = 0; i < src.num_objects; i++) {
        const eq_render_object *ob = &src.objects[i];
        printf("%s\t%s\t%s%s%s\n", ob->class_name, ob->id, ob->archive >= 0 ? src.archive_paths[ob->archive] : "",
               ob->archive >= 0 ? ":" : "", ob->path);
      }
    eq_render_source_free(&src);
  } else {
    eq_render_dataset_report rep;
    if (eq_render_dataset(&src, &o, &rep)) {
      fprintf(stderr, "equivar render: %s\n", eq_error_message());
      rc = 1;
    } else if (rank == 0) {
      printf("rendered %lld objects (%lld skipped), %lld images of %dx%d in %.1f s (%.1f images/s) into %s\n",
             (long long)rep.objects_rendered, (long long)rep.objects_failed, (long long)rep.images, o.size, o.size,
             rep.seconds, rep.seconds > 0 ? (double)rep.images / rep.seconds : 0.0, o.out_dir);
    }
    eq_render_source_free(&src);
  }
  if (we_init) MPI_Finalize();
  return rc;
}

EQ_CLI_COMMAND(render, "render", "render a 3DIEBench-style data set from furniture catalogs or meshes", run_render)
