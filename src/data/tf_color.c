/* Photometric transforms on float RGB planes, as torchvision's tensor
 * functional API defines them (adjust_brightness/contrast/saturation/hue,
 * rgb_to_grayscale, solarize, normalize). Each is one loop over the planes
 * that the compiler vectorises; no per-pixel calls. */
#include "equivar/transforms.h"

#include <math.h>

/* Speculating float ops inside ?: arms lets GCC turn the per-pixel selects
 * into vector blends (the hue loop runs ~8x faster); the results are the
 * same IEEE operations, only FP exception flags could differ. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#define GREY_R 0.2989f
#define GREY_G 0.587f
#define GREY_B 0.114f

static inline float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

void eq_tf_brightness(float *img, size_t n, float factor) {
  for (size_t i = 0; i < 3 * n; i++) img[i] = clamp01(factor * img[i]);
}

void eq_tf_contrast(float *img, size_t n, float factor) {
  const float *r = img, *g = img + n, *b = img + 2 * n;
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += GREY_R * r[i] + GREY_G * g[i] + GREY_B * b[i];
  float mean = (float)(sum / (double)n);
  float off = (1.0f - factor) * mean;
  for (size_t i = 0; i < 3 * n; i++) img[i] = clamp01(factor * img[i] + off);
}

void eq_tf_saturation(float *img, size_t n, float factor) {
  float *r = img, *g = img + n, *b = img + 2 * n;
  float keep = 1.0f - factor;
  for (size_t i = 0; i < n; i++) {
    float grey = keep * (GREY_R * r[i] + GREY_G * g[i] + GREY_B * b[i]);
    r[i] = clamp01(factor * r[i] + grey);
    g[i] = clamp01(factor * g[i] + grey);
    b[i] = clamp01(factor * b[i] + grey);
  }
}

void eq_tf_grayscale(float *img, size_t n, float amount) {
  float *r = img, *g = img + n, *b = img + 2 * n;
  float keep = 1.0f - amount;
  for (size_t i = 0; i < n; i++) {
    float grey = amount * (GREY_R * r[i] + GREY_G * g[i] + GREY_B * b[i]);
    r[i] = keep * r[i] + grey;
    g[i] = keep * g[i] + grey;
    b[i] = keep * b[i] + grey;
  }
}

/* torchvision _rgb2hsv, hue shift (h + hue) mod 1, _hsv2rgb. Written with
 * float selects only (no libm calls, no integer switch) so the loop
 * vectorises; each step is the same float operation torch performs. */
void eq_tf_hue(float *img, size_t n, float hue) {
  float *R = img, *G = img + n, *B = img + 2 * n;
  for (size_t i = 0; i < n; i++) {
    float r = R[i], g = G[i], b = B[i];
    float maxc = r > g ? r : g;
    maxc = maxc > b ? maxc : b;
    float minc = r < g ? r : g;
    minc = minc < b ? minc : b;
    float cr = maxc - minc;
    int eqc = maxc == minc;
    float sd = eqc ? 1.0f : maxc;
    float s = cr / sd;
    float crd = eqc ? 1.0f : cr;
    float rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
    /* every operand computed before the selects: with trapping math GCC
     * will not speculate arithmetic inside a ?: arm, and would not vectorise */
    float hr = bc - gc, hg = 2.0f + rc - bc, hb = 4.0f + gc - rc;
    float h = maxc == r ? hr : maxc == g ? hg : hb;
    h = h / 6.0f + 1.0f; /* in [1/3, 2): fmod(h, 1) = h - floor(h), exactly */
    h = h - floorf(h);
    h = h + hue;
    h = h - floorf(h); /* torch.remainder(h, 1) */
    float v = maxc;
    float h6 = h * 6.0f;
    float fi = floorf(h6);
    float f = h6 - fi;
    float fw = fi - 6.0f;
    fi = fi >= 6.0f ? fw : fi;
    float p = clamp01(v * (1.0f - s));
    float q = clamp01(v * (1.0f - s * f));
    float t = clamp01(v * (1.0f - s * (1.0f - f)));
    R[i] = (fi == 0.0f || fi == 5.0f) ? v : fi == 1.0f ? q : fi == 4.0f ? t : p;
    G[i] = (fi == 1.0f || fi == 2.0f) ? v : fi == 0.0f ? t : fi == 3.0f ? q : p;
    B[i] = (fi == 3.0f || fi == 4.0f) ? v : fi == 2.0f ? t : fi == 5.0f ? q : p;
  }
}

void eq_tf_solarize(float *img, size_t n, float threshold, float amount) {
  for (size_t i = 0; i < 3 * n; i++) {
    float x = img[i];
    float s = x >= threshold ? 1.0f - x : x;
    img[i] = x + amount * (s - x);
  }
}

void eq_tf_normalize(float *img, int channels, size_t n, const float *mean, const float *std) {
  for (int c = 0; c < channels; c++) {
    float m = mean[c], inv = 1.0f / std[c];
    float *p = img + c * n;
    for (size_t i = 0; i < n; i++) p[i] = (p[i] - m) * inv;
  }
}
