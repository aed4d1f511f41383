/* The layout of a prepared model, shared by model.c and raster.c. */
#ifndef EQ_RENDER_MODEL_H
#define EQ_RENDER_MODEL_H

#include "render/render_internal.h"

struct eq_render_model {
  int64_t num_triangles, num_positions;
  float *pos;   /* 3 per position, recentred and scaled */
  int32_t *tri; /* 3 position indices per triangle */
  float *nrm;   /* 9 per triangle: unit normal per corner */
  float *uv;    /* 6 per triangle, or NULL when no triangle is textured */
  float *col;   /* 9 per triangle: linear RGB per corner */
  int32_t *tex; /* texture per triangle or -1 */
  int num_textures;
  eq_image *textures; /* RGB */
};

#endif
