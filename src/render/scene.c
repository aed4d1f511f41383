/* The 3DIEBench scene factors: latent sampling, rotations (Euler xyz,
 * quaternions, slerp) and colours. Trigonometry here uses equivar's own
 * polynomials (only +, *, /, sqrt and rint) instead of libm, whose results may
 * differ in the last bit between CPUs (glibc picks FMA variants at run time):
 * rendered bytes must not depend on the machine. */
#include <math.h>
#include <string.h>

#include "render/render_internal.h"

#define PI 3.14159265358979323846
#define PIO2_HI 1.57079632673412561417e+00 /* pi/2 split so k * PIO2_HI is exact */
#define PIO2_LO 6.07710050650619224932e-11

/* sin and cos of x for |x| < 1e6 (angles here are within a few pi). */
void eq_det_sincos(double x, double *s, double *c) {
  double k = rint(x * (2.0 / PI));
  double r = (x - k * PIO2_HI) - k * PIO2_LO; /* |r| <= pi/4 (+ tiny) */
  double r2 = r * r;
  /* Taylor series; at |r| = pi/4 the next terms are below 1e-17. */
  double sn = 1.0 / 355687428096000.0; /* 1/17! */
  sn = 1.0 / 1307674368000.0 - r2 * sn; /* 1/15! */
  sn = 1.0 / 6227020800.0 - r2 * sn;
  sn = 1.0 / 39916800.0 - r2 * sn;
  sn = 1.0 / 362880.0 - r2 * sn;
  sn = 1.0 / 5040.0 - r2 * sn;
  sn = 1.0 / 120.0 - r2 * sn;
  sn = 1.0 / 6.0 - r2 * sn;
  sn = r - r * r2 * sn;
  double cs = 1.0 / 20922789888000.0; /* 1/16! */
  cs = 1.0 / 87178291200.0 - r2 * cs;
  cs = 1.0 / 479001600.0 - r2 * cs;
  cs = 1.0 / 3628800.0 - r2 * cs;
  cs = 1.0 / 40320.0 - r2 * cs;
  cs = 1.0 / 720.0 - r2 * cs;
  cs = 1.0 / 24.0 - r2 * cs;
  cs = 0.5 - r2 * cs;
  cs = 1.0 - r2 * cs;
  long q = (long)k & 3;
  switch (q) {
    case 0: *s = sn; *c = cs; break;
    case 1: *s = cs; *c = -sn; break;
    case 2: *s = -sn; *c = -cs; break;
    default: *s = -cs; *c = sn; break;
  }
}

/* atan(y / x) for y >= 0, x >= 0, not both 0, in [0, pi/2]. */
static double det_atan_pos(double y, double x) {
  int invert = y > x;
  double t = invert ? x / y : y / x; /* in [0, 1] */
  double base = 0.0;
  if (t > 0.41421356237309503) { /* tan(pi/8): shift by pi/4 */
    t = (t - 1.0) / (t + 1.0);
    base = PI / 4;
  }
  double t2 = t * t, sum = 0.0;
  for (int n = 24; n >= 0; n--) sum = 1.0 / (2 * n + 1) - t2 * sum; /* atan t = t sum (-t^2)^n/(2n+1) */
  double a = base + t * sum;
  return invert ? PI / 2 - a : a;
}

void eq_hsv_to_rgb(float h, float s, float v, float rgb[3]) {
  float hh = (h - floorf(h)) * 6.0f;
  int i = (int)hh;
  if (i > 5) i = 5;
  float f = hh - (float)i;
  float p = v * (1.0f - s), q = v * (1.0f - s * f), t = v * (1.0f - s * (1.0f - f));
  float r, g, b;
  switch (i) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  rgb[0] = r, rgb[1] = g, rgb[2] = b;
}

eq_render_latents eq_render_sample_latents(uint64_t seed, uint64_t stream, int64_t view) {
  uint32_t w[8];
  eq_philox_at(seed, stream, (uint64_t)view * 2, w);
  eq_philox_at(seed, stream, (uint64_t)view * 2 + 1, w + 4);
  eq_render_latents l;
  for (int i = 0; i < 3; i++) l.rotation[i] = (float)(-PI / 2 + PI * eq_u32_to_unit_double(w[i]));
  l.floor_hue = (float)eq_u32_to_unit_double(w[3]);
  l.light_theta = (float)(PI / 4 * eq_u32_to_unit_double(w[4]));
  l.light_phi = (float)(2 * PI * eq_u32_to_unit_double(w[5]));
  l.light_hue = (float)eq_u32_to_unit_double(w[6]);
  return l;
}

static void quat_mul(const double a[4], const double b[4], double o[4]) {
  double w = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
  double x = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
  double y = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
  double z = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
  o[0] = w, o[1] = x, o[2] = y, o[3] = z;
}

void eq_euler_xyz_to_quat(const float e[3], double q[4]) {
  double s[3], c[3];
  for (int i = 0; i < 3; i++) eq_det_sincos(0.5 * (double)e[i], &s[i], &c[i]);
  double qx[4] = {c[0], s[0], 0, 0}, qy[4] = {c[1], 0, s[1], 0}, qz[4] = {c[2], 0, 0, s[2]};
  double t[4];
  quat_mul(qz, qy, t); /* extrinsic x, then y, then z: R = Rz Ry Rx */
  quat_mul(t, qx, q);
  if (q[0] < 0)
    for (int i = 0; i < 4; i++) q[i] = -q[i];
}

static void quat_to_matrix(const double q[4], double m[9]) {
  double w = q[0], x = q[1], y = q[2], z = q[3];
  m[0] = 1 - 2 * (y * y + z * z), m[1] = 2 * (x * y - w * z), m[2] = 2 * (x * z + w * y);
  m[3] = 2 * (x * y + w * z), m[4] = 1 - 2 * (x * x + z * z), m[5] = 2 * (y * z - w * x);
  m[6] = 2 * (x * z - w * y), m[7] = 2 * (y * z + w * x), m[8] = 1 - 2 * (x * x + y * y);
}

void eq_render_quat_to_matrix(const double q[4], double m[9]) {
  double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  double u[4] = {q[0] / n, q[1] / n, q[2] / n, q[3] / n};
  quat_to_matrix(u, m);
}

void eq_euler_xyz_to_matrix(const float e[3], double m[9]) {
  double q[4];
  eq_euler_xyz_to_quat(e, q);
  quat_to_matrix(q, m);
}

/* atan2 from det_atan_pos: the same quadrant rules as libm's. */
static double det_atan2(double y, double x) {
  if (y == 0 && x == 0) return 0.0;
  double a = det_atan_pos(fabs(y), fabs(x));
  if (x < 0) a = PI - a;
  return y < 0 ? -a : a;
}

void eq_quat_to_euler_xyz(const double q[4], float e[3]) {
  double m[9];
  eq_render_quat_to_matrix(q, m);
  /* R = Rz(c) Ry(b) Rx(a): m[6] = -sin b, m[7] = cos b sin a, m[8] = cos b cos a,
   * m[3] = sin c cos b, m[0] = cos c cos b. */
  double sb = -m[6];
  sb = sb > 1 ? 1 : sb < -1 ? -1 : sb;
  e[1] = (float)det_atan2(sb, sqrt(1 - sb * sb));
  if (fabs(sb) < 0.9999999) {
    e[0] = (float)det_atan2(m[7], m[8]);
    e[2] = (float)det_atan2(m[3], m[0]);
  } else { /* gimbal lock: put everything into x */
    e[0] = (float)det_atan2(-m[5], m[4]);
    e[2] = 0.0f;
  }
}

void eq_quat_slerp(const double q1[4], const double q2[4], double t, double out[4]) {
  double b[4] = {q2[0], q2[1], q2[2], q2[3]};
  double dot = q1[0] * b[0] + q1[1] * b[1] + q1[2] * b[2] + q1[3] * b[3];
  if (dot < 0) {
    dot = -dot;
    for (int i = 0; i < 4; i++) b[i] = -b[i];
  }
  double w1, w2;
  if (dot > 0.99999999) { /* nearly equal: linear is exact enough */
    w1 = 1 - t, w2 = t;
  } else {
    /* angle between the quaternions from atan2(|q1 x q2|, q1 . q2), stable everywhere */
    double d2 = 1 - dot * dot;
    double sin_a = sqrt(d2 > 0 ? d2 : 0);
    double a = det_atan_pos(sin_a, dot);
    double s1, c1, s2, c2;
    eq_det_sincos((1 - t) * a, &s1, &c1);
    eq_det_sincos(t * a, &s2, &c2);
    w1 = s1 / sin_a, w2 = s2 / sin_a;
  }
  double n2 = 0;
  for (int i = 0; i < 4; i++) {
    out[i] = w1 * q1[i] + w2 * b[i];
    n2 += out[i] * out[i];
  }
  double n = sqrt(n2);
  for (int i = 0; i < 4; i++) out[i] /= n;
  if (out[0] < 0)
    for (int i = 0; i < 4; i++) out[i] = -out[i];
}
