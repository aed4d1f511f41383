/* 3DIEBench-style rendering: mesh parsers (OBJ + MTL, OFF, PLY, STL, and
 * the ZIP archives Sweet Home 3D ships furniture in), a deterministic
 * software rasteriser, the 3DIEBench scene and a data-set writer.
 *
 * Determinism: an image depends only on (mesh, latents, size, options); it is
 * rendered by one thread with fixed-order float arithmetic and no libm calls
 * per pixel, so the same seed gives the same pixels for any thread count, any
 * number of MPI ranks and (the render sources are built without FMA
 * contraction) any x86-64 machine. docs/render.md describes the scene and the
 * file layout. */
#ifndef EQUIVAR_RENDER_H
#define EQUIVAR_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "equivar/core.h"
#include "equivar/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- meshes */

typedef struct eq_material {
  char name[64];
  float diffuse[3]; /* MTL Kd, linear RGB in [0, 1] */
  int texture;      /* index into eq_mesh.textures, -1 for none */
} eq_material;

/* An indexed triangle mesh. Positions are required; texture coordinates,
 * normals, per-vertex colours and materials are optional (NULL / 0).
 * Per-corner index arrays hold 3 entries per triangle; -1 means "none". */
typedef struct eq_mesh {
  int64_t num_positions;
  float *positions; /* xyz per position */
  float *colors;    /* rgb per position in [0, 1] (PLY / OFF colours) or NULL */
  int64_t num_texcoords;
  float *texcoords; /* uv per texcoord */
  int64_t num_normals;
  float *normals; /* xyz per normal */
  int64_t num_triangles;
  int32_t *tri_pos; /* 3 position indices per triangle */
  int32_t *tri_tex; /* 3 texcoord indices per triangle or NULL */
  int32_t *tri_nrm; /* 3 normal indices per triangle or NULL */
  int32_t *tri_mat; /* material per triangle (-1 default grey) or NULL */
  int num_materials;
  eq_material *materials;
  int num_textures;
  eq_image *textures;
} eq_mesh;

void eq_mesh_free(eq_mesh *mesh); /* frees the arrays; safe on a zeroed mesh */

/* Reads the file `path` (relative to the referring file's directory) into a
 * malloc'd buffer. Used by the OBJ parser for mtllib and texture files so that
 * one parser serves the file system and ZIP archives. NULL callback = the
 * OBJ is parsed without materials. */
typedef eq_status (*eq_mesh_open_fn)(void *ctx, const char *path, void **bytes, size_t *size);

/* Parsers from memory. `name` appears in errors together with the line
 * number ("'chair.obj' line 12: ..."): malformed input gives EQ_ERR_FORMAT,
 * never a crash. Polygons are triangulated as fans. */
eq_status eq_mesh_parse_obj(const void *bytes, size_t n, const char *name, eq_mesh_open_fn open,
                            void *ctx, eq_mesh *out);
eq_status eq_mesh_parse_off(const void *bytes, size_t n, const char *name, eq_mesh *out);
/* PLY: ascii, binary_little_endian and binary_big_endian 1.0. */
eq_status eq_mesh_parse_ply(const void *bytes, size_t n, const char *name, eq_mesh *out);
/* STL: binary (size = 84 + 50 * count) or ascii ("solid ..."). */
eq_status eq_mesh_parse_stl(const void *bytes, size_t n, const char *name, eq_mesh *out);

/* A Wavefront MTL library: materials with their texture file names. */
typedef struct eq_mtl_entry {
  char name[64];
  float diffuse[3];
  char *texture_path; /* map_Kd file name as written, or NULL */
} eq_mtl_entry;

typedef struct eq_mtl_library {
  int count;
  eq_mtl_entry *entries;
} eq_mtl_library;

eq_status eq_mtl_parse(const void *bytes, size_t n, const char *name, eq_mtl_library *out);
void eq_mtl_free(eq_mtl_library *lib);

/* Loads a mesh file chosen by extension (.obj, .off, .ply, .stl, any case);
 * OBJ materials and textures are read relative to the file's directory. */
eq_status eq_mesh_load(const char *path, eq_mesh *out);

/* Checks indices and values: every index in range, every number finite. The
 * parsers call it; exposed for meshes built by hand. */
eq_status eq_mesh_validate(const eq_mesh *mesh, const char *name);

/* Applies p <- m * p (row-major 3x3) to positions and normals. */
void eq_mesh_transform(eq_mesh *mesh, const float m[9]);

/* ---------------------------------------------------------------- ZIP */

/* A read-only ZIP archive held in memory (stored and deflate entries, CRC
 * checked; no ZIP64, no encryption). Entries can be extracted from several
 * threads at once. */
typedef struct eq_zip eq_zip;

/* Parses the central directory of `bytes` (kept by reference: it must outlive
 * the archive unless `take_ownership`, then eq_zip_close frees it). */
eq_status eq_zip_open_memory(const void *bytes, size_t n, const char *name, int take_ownership,
                             eq_zip **out);
eq_status eq_zip_open(const char *path, eq_zip **out);
void eq_zip_close(eq_zip *zip);
int eq_zip_count(const eq_zip *zip);
const char *eq_zip_entry_name(const eq_zip *zip, int index);
/* Uncompressed size the directory claims for entry `index` (0 if out of range). */
size_t eq_zip_entry_size(const eq_zip *zip, int index);
/* Index of the entry named `name` (exact match, a leading '/' ignored) or -1. */
int eq_zip_find(const eq_zip *zip, const char *name);
/* Decompresses entry `index` into a malloc'd, NUL-terminated buffer. */
eq_status eq_zip_extract(const eq_zip *zip, int index, void **bytes, size_t *size);

/* ---------------------------------------------------------------- scene */

/* The 7 latent factors of 3DIEBench, stored in this order as float32. */
typedef struct eq_render_latents {
  float rotation[3];  /* extrinsic xyz Euler angles (radians), U[-pi/2, pi/2] */
  float floor_hue;    /* floor colour HSV(h, 0.6, 0.6), U[0, 1] */
  float light_theta;  /* spot light polar angle on the radius-4 sphere, U[0, pi/4] */
  float light_phi;    /* spot light azimuth, U[0, 2 pi] */
  float light_hue;    /* light colour HSV(h, 1, 0.8), U[0, 1] */
} eq_render_latents;

/* Draws the latents of (seed, stream, view) from Philox: the same triple
 * always gives the same values. */
eq_render_latents eq_render_sample_latents(uint64_t seed, uint64_t stream, int64_t view);

/* Rotation matrix (row-major) of extrinsic xyz Euler angles: Rz * Ry * Rx. */
void eq_euler_xyz_to_matrix(const float euler[3], double m[9]);
/* Unit quaternion (w, x, y, z) of the same rotation, w >= 0, and back. */
void eq_euler_xyz_to_quat(const float euler[3], double q[4]);
void eq_quat_to_euler_xyz(const double q[4], float euler[3]);
/* Spherical linear interpolation along the shorter arc, t in [0, 1]. */
void eq_quat_slerp(const double q1[4], const double q2[4], double t, double out[4]);
/* HSV (all in [0, 1]) to RGB. */
void eq_hsv_to_rgb(float h, float s, float v, float rgb[3]);

/* A mesh prepared for rendering: recentred on its bounding-box centre and
 * scaled so that the bounding box's half diagonal is EQ_RENDER_OBJECT_RADIUS,
 * flattened per triangle corner. Read-only while rendering: one model can be
 * rendered from several threads. */
typedef struct eq_render_model eq_render_model;

#define EQ_RENDER_OBJECT_RADIUS 0.75f

/* Takes ownership of the mesh's textures (the mesh may be freed afterwards).
 * Fails (EQ_ERR_VALUE) on a mesh without triangles or with zero extent. */
eq_status eq_render_model_new(eq_mesh *mesh, const char *name, eq_render_model **out);
void eq_render_model_free(eq_render_model *model);
int64_t eq_render_model_triangles(const eq_render_model *model);

typedef struct eq_render_options {
  int size;         /* output width = height in pixels (e.g. 64, 128, 256) */
  int supersample;  /* s x s samples per pixel, box filtered (1..4) */
  int shadows;      /* 1: the object casts a shadow from the spot light (shadow map) */
} eq_render_options;

eq_render_options eq_render_default_options(int size);

/* Renders one view into `out` (allocated here, RGB). */
eq_status eq_render_view(const eq_render_model *model, const eq_render_latents *latents,
                         const eq_render_options *options, eq_image *out);
/* Same with the rotation given as a quaternion (w, x, y, z) instead of the
 * latents' Euler angles (used for slerp intermediates). */
eq_status eq_render_view_quat(const eq_render_model *model, const double quat[4],
                              const eq_render_latents *latents, const eq_render_options *options,
                              eq_image *out);

/* ---------------------------------------------------------------- data sets */

/* One object to render: where its mesh comes from and its class. */
typedef struct eq_render_object {
  char *id;         /* object directory name, unique, [A-Za-z0-9._-] */
  char *class_name; /* class directory name */
  char *path;       /* mesh file, or entry name inside `archive` */
  int archive;      /* index into eq_render_source.archives, -1 for a file */
  float model_rotation[9]; /* applied before rendering (Sweet Home 3D's modelRotation + y-up to z-up) */
} eq_render_object;

typedef struct eq_render_source {
  int num_objects;
  eq_render_object *objects;
  int num_archives;
  eq_zip **archives;
  char **archive_paths;
} eq_render_source;

/* Collects objects from `path`: a .sh3f file, a directory of .sh3f files, a
 * mesh file, or a directory searched recursively for .obj/.off/.ply/.stl
 * files (a directory holding .sh3f files is read as a furniture catalog).
 * Objects are sorted by (class, id), so the list is the same everywhere. */
eq_status eq_render_source_open(const char *path, eq_render_source *out);
void eq_render_source_free(eq_render_source *src);
/* Keeps a fixed subset of n objects (chosen by a hash of class and id, so it
 * spreads over classes and does not depend on the seed), still sorted. */
eq_status eq_render_source_limit(eq_render_source *src, int n);
/* Loads object i's mesh (with materials and textures) and applies its model rotation. */
eq_status eq_render_source_load(const eq_render_source *src, int index, eq_mesh *out);

typedef struct eq_render_dataset_options {
  const char *out_dir;
  int size;
  int views;           /* renders per object (3DIEBench: 50) */
  uint64_t seed;
  double val_fraction; /* share of each class's objects in val */
  int intermediates;   /* K slerp renders between views i and i+1 (0 = none) */
  int intermediates_rotation_only; /* 1: intermediates keep view i's floor and light */
  int threads;         /* worker threads (0 = eq_num_threads()) */
  int png;             /* 1: image_<i>.png instead of .jpg */
  int jpeg_quality;
  int supersample;
  int shadows;         /* 1 (default): the object casts shadows */
  int progress;        /* 1: progress bar on stderr */
} eq_render_dataset_options;

eq_render_dataset_options eq_render_dataset_default_options(void);

typedef struct eq_render_dataset_report {
  int64_t objects_rendered; /* over all ranks */
  int64_t objects_failed;
  int64_t images;
  double seconds;
} eq_render_dataset_report;

/* Renders the data set. Under MPI (MPI already initialised by the caller)
 * rank r renders objects i with i % size == r; rank 0 writes the index files
 * once all ranks are done. Objects whose mesh fails to load or prepare are
 * skipped with a warning on stderr and left out of the index files; the call
 * fails when none rendered, or when writing any object's files failed (disk
 * full, permissions): a data set is never silently incomplete. */
eq_status eq_render_dataset(const eq_render_source *src, const eq_render_dataset_options *options,
                            eq_render_dataset_report *report);

#ifdef __cplusplus
}
#endif
#endif
