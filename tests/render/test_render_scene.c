/* Scene factors: rotations against scipy (tests/data/render/rotations.txt),
 * the machine-independent sin/cos against libm, HSV, latent sampling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/render.h"
#include "render/render_internal.h"

static void test_rotations(void) {
  const char *dir = getenv("EQ_TEST_DATA");
  char path[1024], line[4096];
  snprintf(path, sizeof path, "%s/render/rotations.txt", dir ? dir : "tests/data");
  FILE *f = fopen(path, "r");
  CHECK_MSG(f != NULL, "cannot open %s", path);
  if (!f) return;
  int rows = 0, slerps = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    double v[16];
    if (line[0] == 'S') {
      char *p = line + 1;
      for (int i = 0; i < 11; i++) v[i] = strtod(p, &p);
      float e1[3] = {(float)v[0], (float)v[1], (float)v[2]}, e2[3] = {(float)v[3], (float)v[4], (float)v[5]};
      double q1[4], q2[4], q[4];
      eq_euler_xyz_to_quat(e1, q1);
      eq_euler_xyz_to_quat(e2, q2);
      eq_quat_slerp(q1, q2, v[6], q);
      /* scipy (x, y, z, w) vs ours (w, x, y, z); float angles cost ~1e-7 */
      CHECK_CLOSE(q[0], v[10], 0, 2e-7);
      for (int i = 0; i < 3; i++) CHECK_CLOSE(q[1 + i], v[7 + i], 0, 2e-7);
      slerps++;
      continue;
    }
    char *p = line;
    for (int i = 0; i < 16; i++) v[i] = strtod(p, &p);
    float e[3] = {(float)v[0], (float)v[1], (float)v[2]};
    double q[4], m[9];
    eq_euler_xyz_to_quat(e, q);
    eq_euler_xyz_to_matrix(e, m);
    CHECK_CLOSE(q[0], v[6], 0, 2e-7);
    for (int i = 0; i < 3; i++) CHECK_CLOSE(q[1 + i], v[3 + i], 0, 2e-7);
    for (int i = 0; i < 9; i++) CHECK_CLOSE(m[i], v[7 + i], 0, 3e-7);
    float back[3];
    eq_quat_to_euler_xyz(q, back);
    for (int i = 0; i < 3; i++) CHECK_CLOSE(back[i], e[i], 0, 1e-5);
    rows++;
  }
  fclose(f);
  CHECK(rows == 6 && slerps == 6);
  /* slerp end points and the shorter arc */
  float a[3] = {0.3f, -0.2f, 1.0f}, b[3] = {-1.2f, 0.4f, 0.1f};
  double qa[4], qb[4], q[4], nb[4];
  eq_euler_xyz_to_quat(a, qa);
  eq_euler_xyz_to_quat(b, qb);
  eq_quat_slerp(qa, qb, 0.0, q);
  for (int i = 0; i < 4; i++) CHECK_CLOSE(q[i], qa[i], 0, 1e-12);
  for (int i = 0; i < 4; i++) nb[i] = -qb[i]; /* same rotation */
  eq_quat_slerp(qa, nb, 1.0, q);
  for (int i = 0; i < 4; i++) CHECK_CLOSE(q[i], qb[i], 0, 1e-12);
}

static void test_sincos(void) {
  double worst = 0;
  for (int i = -20000; i <= 20000; i++) {
    double x = i * 0.00157079632679 * 1.37;
    double s, c;
    eq_det_sincos(x, &s, &c);
    worst = fmax(worst, fmax(fabs(s - sin(x)), fabs(c - cos(x))));
  }
  CHECK_MSG(worst < 4e-16, "max |error| %.3g", worst);
}

static void test_hsv(void) {
  float rgb[3];
  eq_hsv_to_rgb(0.0f, 1.0f, 0.8f, rgb); /* red */
  CHECK_CLOSE(rgb[0], 0.8, 0, 1e-7);
  CHECK_CLOSE(rgb[1], 0.0, 0, 1e-7);
  CHECK_CLOSE(rgb[2], 0.0, 0, 1e-7);
  eq_hsv_to_rgb(0.5f, 0.6f, 0.6f, rgb); /* colorsys.hsv_to_rgb(0.5, 0.6, 0.6) = (0.24, 0.6, 0.6) */
  CHECK_CLOSE(rgb[0], 0.24, 0, 1e-6);
  CHECK_CLOSE(rgb[1], 0.6, 0, 1e-6);
  CHECK_CLOSE(rgb[2], 0.6, 0, 1e-6);
  eq_hsv_to_rgb(0.7f, 0.6f, 0.6f, rgb); /* colorsys: (0.312, 0.24, 0.6) */
  CHECK_CLOSE(rgb[0], 0.312, 0, 1e-6);
  CHECK_CLOSE(rgb[1], 0.24, 0, 1e-6);
  CHECK_CLOSE(rgb[2], 0.6, 0, 1e-6);
}

static void test_latents(void) {
  double sum[7] = {0};
  const int n = 4000;
  for (int v = 0; v < n; v++) {
    eq_render_latents l = eq_render_sample_latents(7, 42, v);
    float x[7] = {l.rotation[0], l.rotation[1], l.rotation[2], l.floor_hue, l.light_theta, l.light_phi, l.light_hue};
    static const float lo[7] = {-1.5707964f, -1.5707964f, -1.5707964f, 0, 0, 0, 0};
    static const float hi[7] = {1.5707964f, 1.5707964f, 1.5707964f, 1, 0.78539819f, 6.2831855f, 1};
    for (int i = 0; i < 7; i++) {
      CHECK_MSG(x[i] >= lo[i] && x[i] <= hi[i], "latent %d = %g", i, x[i]);
      sum[i] += x[i];
    }
  }
  /* uniform means: 0, 0, 0, 0.5, pi/8, pi, 0.5 (4 sigma bounds) */
  const double mean[7] = {0, 0, 0, 0.5, M_PI / 8, M_PI, 0.5};
  const double width[7] = {M_PI, M_PI, M_PI, 1, M_PI / 4, 2 * M_PI, 1};
  for (int i = 0; i < 7; i++) CHECK_CLOSE(sum[i] / n, mean[i], 0, 4 * width[i] / sqrt(12.0 * n));
  eq_render_latents a = eq_render_sample_latents(7, 42, 3), b = eq_render_sample_latents(7, 42, 3);
  eq_render_latents c = eq_render_sample_latents(7, 43, 3), d = eq_render_sample_latents(8, 42, 3);
  CHECK(!memcmp(&a, &b, sizeof a));
  CHECK(memcmp(&a, &c, sizeof a) != 0 && memcmp(&a, &d, sizeof a) != 0);
}

int main(void) {
  test_rotations();
  test_sincos();
  test_hsv();
  test_latents();
  return EQ_TEST_SUMMARY();
}
