/* Resampling: antialiased bilinear resized crop (separable, precomputed
 * tap tables) and bilinear affine warps. Definitions follow torchvision's
 * tensor path: interpolate(bilinear, align_corners=False, antialias=True) and
 * affine() -> grid_sample(bilinear, zeros, align_corners=False). */
#include "equivar/transforms.h"

#include "data/tf_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void eq_tf_workspace_free(eq_tf_workspace *ws) {
  if (!ws) return;
  for (int i = 0; i < 3; i++) free(ws->buf[i]);
  memset(ws, 0, sizeof *ws);
}

float *eq_tf_scratch(eq_tf_workspace *ws, int slot, size_t n) {
  if (ws->cap[slot] < n) {
    float *b = realloc(ws->buf[slot], n * sizeof(float));
    if (!b) return NULL;
    ws->buf[slot] = b;
    ws->cap[slot] = n;
  }
  return ws->buf[slot];
}

void eq_tf_u8_to_float(const eq_image *src, float *dst) {
  size_t n = (size_t)src->width * src->height;
  int c = src->channels;
  for (int ch = 0; ch < c; ch++) {
    float *d = dst + ch * n;
    const uint8_t *s = src->pixels + ch;
    for (size_t i = 0; i < n; i++) d[i] = (float)s[i * c] * (1.0f / 255.0f);
  }
}

eq_status eq_tf_float_to_u8(const float *src, int channels, int height, int width, eq_image *dst) {
  eq_status st = eq_image_alloc(dst, width, height, channels);
  if (st) return st;
  size_t n = (size_t)width * height;
  for (int c = 0; c < channels; c++)
    for (size_t i = 0; i < n; i++) {
      float v = src[c * n + i] * 255.0f;
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      dst->pixels[i * channels + c] = (uint8_t)lrintf(v);
    }
  return EQ_OK;
}

/* Tap table of one axis: output i reads in[start[i] .. start[i] + count[i])
 * with weights w[i * taps ..]. The input range is clamped to the box
 * [lo, hi), as torchvision crops before it resizes. */
typedef struct taps {
  int *start, *count;
  float *w;
  int taps; /* stride of w */
} taps;

static int taps_build(taps *t, float box0, float len, int lo, int hi, int out, int flip) {
  double scale = (double)len / out;
  double support = scale >= 1.0 ? scale : 1.0;
  double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  int maxt = (int)ceil(support) * 2 + 2;
  t->taps = maxt;
  t->start = malloc(sizeof(int) * out * 2);
  t->w = malloc(sizeof(float) * (size_t)out * maxt);
  if (!t->start || !t->w) {
    free(t->start);
    free(t->w);
    return 0;
  }
  t->count = t->start + out;
  for (int i = 0; i < out; i++) {
    double center = box0 + scale * (i + 0.5);
    /* (int) truncates like torch's int64 cast; clamping makes it moot. */
    double fmin = center - support + 0.5, fmax = center + support + 0.5;
    int xmin = fmin < lo ? lo : (int)fmin;
    int xmax = fmax > hi ? hi : (int)fmax;
    if (xmax > xmin + maxt) xmax = xmin + maxt;
    int o = flip ? out - 1 - i : i;
    float *w = t->w + (size_t)o * maxt;
    double total = 0;
    int n = xmax - xmin;
    for (int j = 0; j < n; j++) {
      double x = (j + xmin - center + 0.5) * inv;
      double v = x < 0 ? 1.0 + x : 1.0 - x;
      if (v < 0) v = 0;
      w[j] = (float)v;
      total += v;
    }
    for (int j = 0; j < n; j++) w[j] = total > 0 ? (float)(w[j] / total) : 0.0f;
    if (n <= 0) { /* degenerate box: nearest pixel */
      int k = (int)floor(center);
      xmin = k < lo ? lo : k >= hi ? hi - 1 : k;
      n = 1;
      w[0] = 1.0f;
    }
    t->start[o] = xmin;
    t->count[o] = n;
  }
  /* One tap count T for all outputs (zero weights pad the shorter ones),
   * so the horizontal pass runs a fixed, fully unrolled loop. */
  int T = 1;
  for (int i = 0; i < out; i++) T = t->count[i] > T ? t->count[i] : T;
  for (int i = 0; i < out; i++) {
    const float *src = t->w + (size_t)i * maxt;
    float *dst = t->w + (size_t)i * T; /* dst <= src: compacting in place is safe */
    int c = t->count[i];
    memmove(dst, src, sizeof(float) * c);
    for (int j = c; j < T; j++) dst[j] = 0.0f;
  }
  t->taps = T;
  return 1;
}

/* o[i] = sum_j w[i T + j] line[start[i] - off + j]; `line` holds the source
 * row from index `off` on, with T zeros after its end for the padded taps. */
#define HPASS_FIXED(TT)                                                        \
  for (int i = 0; i < out; i++) {                                              \
    const float *w = t->w + (size_t)i * (TT), *p = line + (t->start[i] - off); \
    float acc = 0.0f;                                                          \
    for (int j = 0; j < (TT); j++) acc += w[j] * p[j];                         \
    o[i] = acc;                                                                \
  }                                                                            \
  break;

static void hpass(const float *line, int off, const taps *t, int out, float *o) {
  switch (t->taps) {
  case 1: HPASS_FIXED(1)
  case 2: HPASS_FIXED(2)
  case 3: HPASS_FIXED(3)
  case 4: HPASS_FIXED(4)
  case 5: HPASS_FIXED(5)
  case 6: HPASS_FIXED(6)
  case 7: HPASS_FIXED(7)
  case 8: HPASS_FIXED(8)
  default: {
    int T = t->taps;
    HPASS_FIXED(T)
  }
  }
}

static void taps_free(taps *t) {
  free(t->start);
  free(t->w);
}

/* The vertical pass: rows of tmp (planes of tw x rows) -> dst planes. */
static void vertical_pass(const float *tmp, int channels, int rows, int row0, int out_w, int out_h, const taps *ty,
                          float *dst) {
  for (int c = 0; c < channels; c++) {
    const float *plane = tmp + (size_t)c * rows * out_w;
    float *d = dst + (size_t)c * out_h * out_w;
    for (int y = 0; y < out_h; y++) {
      const float *w = ty->w + (size_t)y * ty->taps;
      int s = ty->start[y] - row0, n = ty->count[y];
      float *drow = d + (size_t)y * out_w;
      const float *r0 = plane + (size_t)s * out_w;
      float w0 = w[0];
      for (int x = 0; x < out_w; x++) drow[x] = w0 * r0[x];
      for (int j = 1; j < n; j++) {
        const float *r = plane + (size_t)(s + j) * out_w;
        float wj = w[j];
        for (int x = 0; x < out_w; x++) drow[x] += wj * r[x];
      }
    }
  }
}

static eq_status check_box(const char *fn, int width, int height, float x, float y, float w, float h, int out_w,
                           int out_h) {
  if (!(w > 0 && h > 0 && x >= -1e-3f && y >= -1e-3f && x + w <= width + 1e-3f && y + h <= height + 1e-3f) ||
      out_w <= 0 || out_h <= 0)
    return eq_error(EQ_ERR_VALUE, "%s: box (x %g, y %g, w %g, h %g) -> %dx%d outside a %dx%d source", fn, x, y, w, h,
                    out_w, out_h, width, height);
  return EQ_OK;
}

static void box_bounds(float b0, float len, int size, int *lo, int *hi) {
  int l = (int)floorf(b0 + 1e-4f), h = (int)ceilf(b0 + len - 1e-4f);
  *lo = l < 0 ? 0 : l;
  *hi = h > size ? size : h;
  if (*hi <= *lo) *hi = *lo + 1;
}

eq_status eq_tf_resized_crop(const eq_image *src, float x, float y, float w, float h, int flip, int out_w,
                             int out_h, float *dst, eq_tf_workspace *ws) {
  eq_status st = check_box("eq_tf_resized_crop", src->width, src->height, x, y, w, h, out_w, out_h);
  if (st) return st;
  int C = src->channels;
  int xlo, xhi, ylo, yhi;
  box_bounds(x, w, src->width, &xlo, &xhi);
  box_bounds(y, h, src->height, &ylo, &yhi);
  taps tx, ty;
  if (!taps_build(&tx, x, w, xlo, xhi, out_w, flip)) return eq_error(EQ_ERR_MEMORY, "eq_tf_resized_crop: out of memory");
  if (!taps_build(&ty, y, h, ylo, yhi, out_h, 0)) {
    taps_free(&tx);
    return eq_error(EQ_ERR_MEMORY, "eq_tf_resized_crop: out of memory");
  }
  /* Rows the vertical pass reads. */
  int r0 = ty.start[0], r1 = ty.start[0] + ty.count[0];
  for (int i = 1; i < out_h; i++) {
    if (ty.start[i] < r0) r0 = ty.start[i];
    if (ty.start[i] + ty.count[i] > r1) r1 = ty.start[i] + ty.count[i];
  }
  int rows = r1 - r0, seg = xhi - xlo;
  float *tmp = eq_tf_scratch(ws, 0, (size_t)C * rows * out_w);
  int T = tx.taps;
  size_t ls = (size_t)seg + T; /* line stride: segment + zero pad */
  float *line = eq_tf_scratch(ws, 1, (size_t)C * ls);
  if (!tmp || !line) {
    taps_free(&tx);
    taps_free(&ty);
    return eq_error(EQ_ERR_MEMORY, "eq_tf_resized_crop: out of memory");
  }
  const float k255 = 1.0f / 255.0f;
  for (int r = 0; r < rows; r++) {
    /* One source row segment to float planes, so the taps read contiguous
     * memory and the conversion happens once per pixel. */
    const uint8_t *s = src->pixels + ((size_t)(r0 + r) * src->width + xlo) * C;
    if (C == 3) {
      float *l0 = line, *l1 = line + ls, *l2 = line + 2 * ls;
      for (int i = 0; i < seg; i++) {
        l0[i] = s[3 * i] * k255;
        l1[i] = s[3 * i + 1] * k255;
        l2[i] = s[3 * i + 2] * k255;
      }
    } else {
      for (int c = 0; c < C; c++)
        for (int i = 0; i < seg; i++) line[c * ls + i] = s[i * C + c] * k255;
    }
    for (int c = 0; c < C; c++) {
      if (r == 0) memset(line + c * ls + seg, 0, sizeof(float) * T);
      hpass(line + (size_t)c * ls, xlo, &tx, out_w, tmp + ((size_t)c * rows + r) * out_w);
    }
  }
  vertical_pass(tmp, C, rows, r0, out_w, out_h, &ty, dst);
  taps_free(&tx);
  taps_free(&ty);
  return EQ_OK;
}

eq_status eq_tf_resized_crop_f(const float *src, int channels, int height, int width, float x, float y, float w,
                               float h, int flip, int out_w, int out_h, float *dst, eq_tf_workspace *ws) {
  eq_status st = check_box("eq_tf_resized_crop_f", width, height, x, y, w, h, out_w, out_h);
  if (st) return st;
  int xlo, xhi, ylo, yhi;
  box_bounds(x, w, width, &xlo, &xhi);
  box_bounds(y, h, height, &ylo, &yhi);
  taps tx, ty;
  if (!taps_build(&tx, x, w, xlo, xhi, out_w, flip)) return eq_error(EQ_ERR_MEMORY, "eq_tf_resized_crop_f: out of memory");
  if (!taps_build(&ty, y, h, ylo, yhi, out_h, 0)) {
    taps_free(&tx);
    return eq_error(EQ_ERR_MEMORY, "eq_tf_resized_crop_f: out of memory");
  }
  int r0 = ylo, rows = yhi - ylo, seg = xhi - xlo;
  float *tmp = eq_tf_scratch(ws, 0, (size_t)channels * rows * out_w);
  float *line = eq_tf_scratch(ws, 1, (size_t)seg + tx.taps);
  if (!tmp || !line) {
    taps_free(&tx);
    taps_free(&ty);
    return eq_error(EQ_ERR_MEMORY, "eq_tf_resized_crop_f: out of memory");
  }
  for (int c = 0; c < channels; c++)
    for (int r = 0; r < rows; r++) {
      memcpy(line, src + ((size_t)c * height + r0 + r) * width + xlo, sizeof(float) * seg);
      memset(line + seg, 0, sizeof(float) * tx.taps);
      hpass(line, xlo, &tx, out_w, tmp + ((size_t)c * rows + r) * out_w);
    }
  vertical_pass(tmp, channels, rows, r0, out_w, out_h, &ty, dst);
  taps_free(&tx);
  taps_free(&ty);
  return EQ_OK;
}

void eq_tf_hflip(float *img, int channels, int height, int width) {
  for (size_t r = 0; r < (size_t)channels * height; r++) {
    float *row = img + r * width;
    for (int i = 0, j = width - 1; i < j; i++, j--) {
      float t = row[i];
      row[i] = row[j];
      row[j] = t;
    }
  }
}

void eq_tf_affine(const float *src, int channels, int height, int width, float angle_deg, float tx, float ty,
                  float scale, float fill, float *dst) {
  /* torchvision's _get_inverse_affine_matrix(center 0, -angle, (tx, ty),
   * scale, shear 0), as F.rotate calls it: the output->source map in
   * centred coordinates; positive angles turn counter-clockwise on screen.
   * (torchvision's F.affine passes +angle: its angle turns clockwise.) */
  double rot = -angle_deg * (M_PI / 180.0);
  double m0 = cos(rot) / scale, m1 = sin(rot) / scale;
  double m3 = -sin(rot) / scale, m4 = cos(rot) / scale;
  double m2 = m0 * -tx + m1 * -ty, m5 = m3 * -tx + m4 * -ty;
  size_t plane = (size_t)height * width;
  for (int y = 0; y < height; y++) {
    double Y = y + 0.5 - height * 0.5;
    /* source coordinates of x = 0; each step in x adds (m0, m3) */
    double X0 = 0.5 - width * 0.5;
    double bx = m0 * X0 + m1 * Y + m2 + width * 0.5 - 0.5;
    double by = m3 * X0 + m4 * Y + m5 + height * 0.5 - 0.5;
    for (int x = 0; x < width; x++) {
      /* grid_sample, align_corners=False: pixel = centred + size/2 - 0.5 */
      double sx = bx + m0 * x, sy = by + m3 * x;
      size_t o = (size_t)y * width + x;
      if (!(sx > -1 && sy > -1 && sx < width && sy < height)) {
        for (int c = 0; c < channels; c++) dst[c * plane + o] = fill;
        continue;
      }
      double fx = floor(sx), fy = floor(sy);
      int x0 = (int)fx, y0 = (int)fy;
      float ax = (float)(sx - fx), ay = (float)(sy - fy);
      float w00 = (1 - ax) * (1 - ay), w01 = ax * (1 - ay), w10 = (1 - ax) * ay, w11 = ax * ay;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height) { /* interior: no tap checks */
        size_t i00 = (size_t)y0 * width + (size_t)x0;
        for (int c = 0; c < channels; c++) {
          const float *p = src + c * plane + i00;
          dst[c * plane + o] = p[0] * w00 + p[1] * w01 + p[width] * w10 + p[width + 1] * w11;
        }
        continue;
      }
      int in00 = x0 >= 0 && y0 >= 0, in01 = x0 + 1 < width && y0 >= 0;
      int in10 = x0 >= 0 && y0 + 1 < height, in11 = x0 + 1 < width && y0 + 1 < height;
      for (int c = 0; c < channels; c++) {
        const float *p = src + c * plane;
        float v00 = in00 ? p[(size_t)y0 * width + x0] : fill;
        float v01 = in01 ? p[(size_t)y0 * width + x0 + 1] : fill;
        float v10 = in10 ? p[(size_t)(y0 + 1) * width + x0] : fill;
        float v11 = in11 ? p[(size_t)(y0 + 1) * width + x0 + 1] : fill;
        dst[c * plane + o] = v00 * w00 + v01 * w01 + v10 * w10 + v11 * w11;
      }
    }
  }
}
