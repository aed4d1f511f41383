/* Separable Gaussian blur with reflect padding (torchvision gaussian_blur:
 * the 2-D kernel is the outer product of two 1-D kernels, so two 1-D passes
 * give the same result with 2k instead of k^2 taps per pixel). */
#include "equivar/transforms.h"

#include "data/tf_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int eq_tf_blur_kernel_size(int side) {
  int k = side / 10;
  if (k % 2 == 0) k++;
  return k < 3 ? 3 : k;
}

/* torch "reflect" padding (edge not repeated), folded until inside. */
static int reflect(int i, int n) {
  if (n == 1) return 0;
  int period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

eq_status eq_tf_gaussian_blur(float *img, int channels, int height, int width, int k, float sigma,
                              eq_tf_workspace *ws) {
  if (k < 1 || k % 2 == 0 || k > 255)
    return eq_error(EQ_ERR_VALUE, "eq_tf_gaussian_blur: kernel size %d (odd, 1..255)", k);
  if (!(sigma > 0) || k == 1) return EQ_OK;
  int r = k / 2;
  float kern[256];
  double sum = 0;
  for (int i = 0; i < k; i++) {
    double x = (i - r) / (double)sigma;
    kern[i] = (float)exp(-0.5 * x * x);
    sum += kern[i];
  }
  for (int i = 0; i < k; i++) kern[i] = (float)(kern[i] / sum);
  int pw = width + 2 * r;
  float *row = eq_tf_scratch(ws, 1, (size_t)(pw > height + 2 * r ? pw : height + 2 * r));
  float *tmp = eq_tf_scratch(ws, 2, (size_t)height * width);
  if (!row || !tmp) return eq_error(EQ_ERR_MEMORY, "eq_tf_gaussian_blur: out of memory");
  size_t plane = (size_t)height * width;
  for (int c = 0; c < channels; c++) {
    float *p = img + c * plane;
    /* Horizontal: pad one row, then a tap loop the compiler vectorises. */
    for (int y = 0; y < height; y++) {
      const float *src = p + (size_t)y * width;
      /* Interior copied, only the 2r edge values reflected (the modulo in
       * reflect() per element cost more than the taps themselves). */
      memcpy(row + r, src, sizeof(float) * width);
      for (int i = 0; i < r; i++) {
        row[i] = src[reflect(i - r, width)];
        row[r + width + i] = src[reflect(width + i, width)];
      }
      float *o = tmp + (size_t)y * width;
      for (int x = 0; x < width; x++) o[x] = kern[0] * row[x];
      for (int j = 1; j < k; j++) {
        float kj = kern[j];
        const float *rj = row + j;
        for (int x = 0; x < width; x++) o[x] += kj * rj[x];
      }
    }
    /* Vertical: whole rows at a time, reflected row indices. */
    for (int y = 0; y < height; y++) {
      float *o = p + (size_t)y * width;
      const float *r0 = tmp + (size_t)reflect(y - r, height) * width;
      for (int x = 0; x < width; x++) o[x] = kern[0] * r0[x];
      for (int j = 1; j < k; j++) {
        float kj = kern[j];
        const float *rj = tmp + (size_t)reflect(y - r + j, height) * width;
        for (int x = 0; x < width; x++) o[x] += kj * rj[x];
      }
    }
  }
  return EQ_OK;
}
