/* FFT along any axis of a distributed array (fft, ifft, rfft, irfft) and the
 * complex representation they use: a float array whose last axis is (re, im).
 *
 * The transform itself is an iterative radix-2 FFT for power-of-two lengths
 * and Bluestein's chirp-z algorithm (a circular convolution done with
 * power-of-two FFTs) for every other length, all in double precision with
 * twiddles computed directly by cos/sin (no recurrences that drift).
 * Distribution follows HeAT: each rank transforms the lanes of its own block;
 * a transform along the split axis first moves the split to another axis. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

/* ---------------------------------------------------------------- 1-d core */

typedef struct {
  int64_t n, m;  /* transform length; length of the radix-2 core (n itself when a power of two) */
  bool inverse;  /* exp(+2 pi i jk / n) instead of exp(-...) */
  double *tw;    /* m / 2 complex twiddles exp(-2 pi i k / m) */
  double *chirp; /* Bluestein: n complex exp(-+ i pi k^2 / n) */
  double *bhat;  /* Bluestein: transform of the conjugate chirp sequence, divided by m */
} fft_plan;

static bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

/* In place, m complex interleaved points; conj: use conjugated twiddles
 * (the inverse direction, unscaled). */
static void radix2(double *z, int64_t m, const double *tw, bool conj) {
  for (int64_t i = 1, j = 0; i < m; i++) {
    int64_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      double r = z[2 * i], im = z[2 * i + 1];
      z[2 * i] = z[2 * j];
      z[2 * i + 1] = z[2 * j + 1];
      z[2 * j] = r;
      z[2 * j + 1] = im;
    }
  }
  double sg = conj ? -1.0 : 1.0;
  for (int64_t len = 2; len <= m; len <<= 1) {
    int64_t half = len >> 1, step = m / len;
    for (int64_t s = 0; s < m; s += len)
      for (int64_t k = 0; k < half; k++) {
        double wr = tw[2 * k * step], wi = sg * tw[2 * k * step + 1];
        double *a = z + 2 * (s + k), *b = z + 2 * (s + k + half);
        double tr = b[0] * wr - b[1] * wi, ti = b[0] * wi + b[1] * wr;
        b[0] = a[0] - tr;
        b[1] = a[1] - ti;
        a[0] += tr;
        a[1] += ti;
      }
  }
}

static void plan_free(fft_plan *p) {
  free(p->tw);
  free(p->chirp);
  free(p->bhat);
  memset(p, 0, sizeof *p);
}

static eq_status plan_init(fft_plan *p, int64_t n, bool inverse) {
  memset(p, 0, sizeof *p);
  p->n = n;
  p->inverse = inverse;
  p->m = n;
  if (!is_pow2(n)) {
    p->m = 1;
    while (p->m < 2 * n - 1) p->m <<= 1;
  }
  int64_t m = p->m;
  p->tw = malloc(sizeof(double) * (size_t)(m + 2));
  if (!is_pow2(n)) {
    p->chirp = malloc(sizeof(double) * (size_t)(2 * n));
    p->bhat = calloc((size_t)(2 * m), sizeof(double));
  }
  if (!p->tw || (!is_pow2(n) && (!p->chirp || !p->bhat))) {
    plan_free(p);
    return eq_error(EQ_ERR_MEMORY, "eq_dnd_fft: out of memory for a length-%lld plan", (long long)n);
  }
  for (int64_t k = 0; k < m / 2; k++) {
    double t = -2.0 * M_PI * (double)k / (double)m;
    p->tw[2 * k] = cos(t);
    p->tw[2 * k + 1] = sin(t);
  }
  if (is_pow2(n)) return EQ_OK;
  /* w_k = exp(-+ i pi k^2 / n) with k^2 taken mod 2n, so the angle stays
   * small and exact for any k; jk = (j^2 + k^2 - (k - j)^2) / 2 turns the
   * transform into a convolution with conj(w). */
  double sg = inverse ? 1.0 : -1.0;
  for (int64_t k = 0, q = 0; k < n; k++) {
    double t = sg * M_PI * (double)q / (double)n;
    p->chirp[2 * k] = cos(t);
    p->chirp[2 * k + 1] = sin(t);
    q = (q + 2 * k + 1) % (2 * n);
  }
  for (int64_t k = 0; k < n; k++) {
    p->bhat[2 * k] = p->chirp[2 * k] / (double)m;
    p->bhat[2 * k + 1] = -p->chirp[2 * k + 1] / (double)m;
    if (k) {
      p->bhat[2 * (m - k)] = p->bhat[2 * k];
      p->bhat[2 * (m - k) + 1] = p->bhat[2 * k + 1];
    }
  }
  radix2(p->bhat, m, p->tw, false);
  return EQ_OK;
}

/* z: n complex points, transformed in place; work: m complex (Bluestein). */
static void plan_exec(const fft_plan *p, double *z, double *work) {
  int64_t n = p->n, m = p->m;
  if (is_pow2(n)) {
    radix2(z, n, p->tw, p->inverse);
    return;
  }
  const double *w = p->chirp, *b = p->bhat;
  for (int64_t k = 0; k < n; k++) {
    work[2 * k] = z[2 * k] * w[2 * k] - z[2 * k + 1] * w[2 * k + 1];
    work[2 * k + 1] = z[2 * k] * w[2 * k + 1] + z[2 * k + 1] * w[2 * k];
  }
  memset(work + 2 * n, 0, sizeof(double) * (size_t)(2 * (m - n)));
  radix2(work, m, p->tw, false);
  for (int64_t k = 0; k < m; k++) {
    double r = work[2 * k] * b[2 * k] - work[2 * k + 1] * b[2 * k + 1];
    double i = work[2 * k] * b[2 * k + 1] + work[2 * k + 1] * b[2 * k];
    work[2 * k] = r;
    work[2 * k + 1] = i;
  }
  radix2(work, m, p->tw, true);
  for (int64_t k = 0; k < n; k++) {
    z[2 * k] = work[2 * k] * w[2 * k] - work[2 * k + 1] * w[2 * k + 1];
    z[2 * k + 1] = work[2 * k] * w[2 * k + 1] + work[2 * k + 1] * w[2 * k];
  }
}

/* ---------------------------------------------------------------- lanes */

typedef enum { FFT_C2C, FFT_R2C, FFT_C2R } fft_kind;

/* The local block as doubles (a borrowed pointer for float64 blocks). */
static double *block_f64(const eq_tensor *t, bool *owned) {
  *owned = t->dtype != EQ_F64;
  if (!*owned) return eq_data_ptr(t);
  int64_t n = eq_numel(t);
  double *d = malloc(sizeof(double) * (size_t)(n + 1));
  if (!d) return NULL;
  if (t->dtype == EQ_F32) {
    const float *f = eq_data_ptr(t);
    for (int64_t i = 0; i < n; i++) d[i] = f[i];
  } else {
    for (int64_t i = 0; i < n; i++) d[i] = eq_get_flat(t, i);
  }
  return d;
}

/* Transforms every lane along logical axis a of `in` (C order; complex
 * blocks carry the trailing 2) into `out`: lanes of lin input and lout
 * output points, outer lanes before the axis, inner after it. */
typedef struct {
  fft_kind kind;
  int64_t outer, inner, lin, lout, n;
  double scale;
} lane_job;

/* Lanes are handled in groups of up to LANE_GROUP neighbours along the
 * inner axes, so gathering a strided lane reads whole cache lines. */
#define LANE_GROUP 16

/* Loads lanes (o, i0 .. i0 + cnt) into z (n complex points each,
 * zero-padded / cropped), element by element across the group. */
static void load_group(const lane_job *J, const double *src, int64_t o, int64_t i0, int64_t cnt, double *z) {
  int64_t n = J->n, inner = J->inner, use = J->lin < n ? J->lin : n;
  if (J->kind == FFT_C2R) {
    /* The Hermitian spectrum of a real signal from its first n/2 + 1 points;
     * the imaginary parts at 0 and n/2 (n even) are dropped, as NumPy does. */
    int64_t h = n / 2 + 1;
    for (int64_t b = 0; b < cnt; b++) {
      double *zb = z + b * 2 * n;
      for (int64_t k = 0; k < h; k++) {
        zb[2 * k] = zb[2 * k + 1] = 0;
        if (k >= J->lin) continue;
        const double *s = src + ((o * J->lin + k) * inner + i0 + b) * 2;
        zb[2 * k] = s[0];
        if (k > 0 && !(n % 2 == 0 && k == n / 2)) zb[2 * k + 1] = s[1];
      }
      for (int64_t k = 1; k <= n - h; k++) {
        zb[2 * (n - k)] = zb[2 * k];
        zb[2 * (n - k) + 1] = -zb[2 * k + 1];
      }
    }
    return;
  }
  for (int64_t j = 0; j < use; j++) {
    int64_t row = (o * J->lin + j) * inner + i0;
    for (int64_t b = 0; b < cnt; b++) {
      double *zb = z + b * 2 * n + 2 * j;
      if (J->kind == FFT_C2C) {
        zb[0] = src[(row + b) * 2];
        zb[1] = src[(row + b) * 2 + 1];
      } else {
        zb[0] = src[row + b];
        zb[1] = 0;
      }
    }
  }
  for (int64_t b = 0; b < cnt; b++) memset(z + b * 2 * n + 2 * use, 0, sizeof(double) * (size_t)(2 * (n - use)));
}

static void store_group(const lane_job *J, const double *z, int64_t o, int64_t i0, int64_t cnt, double *dst) {
  int64_t n = J->n, inner = J->inner;
  for (int64_t k = 0; k < J->lout; k++) {
    int64_t row = (o * J->lout + k) * inner + i0;
    for (int64_t b = 0; b < cnt; b++) {
      const double *zb = z + b * 2 * n + 2 * k;
      if (J->kind == FFT_C2R) {
        dst[row + b] = zb[0] * J->scale;
      } else {
        dst[(row + b) * 2] = zb[0] * J->scale;
        dst[(row + b) * 2 + 1] = zb[1] * J->scale;
      }
    }
  }
}

static eq_status transform_lanes(const lane_job *J, const fft_plan *p, const double *src, double *dst) {
  int64_t n = J->n, inner = J->inner, per_o = (inner + LANE_GROUP - 1) / LANE_GROUP;
  int64_t groups = J->outer * per_o;
  int fail = 0;
#pragma omp parallel if (J->outer * inner * n > 32768)
  {
    double *z = malloc(sizeof(double) * (size_t)(LANE_GROUP * 2 * n + 2));
    double *work = malloc(sizeof(double) * (size_t)(2 * p->m + 2));
    if (!z || !work) {
#pragma omp atomic write
      fail = 1;
    }
#pragma omp for schedule(static)
    for (int64_t g = 0; g < groups; g++) {
      if (!z || !work) continue;
      int64_t o = g / per_o, i0 = (g % per_o) * LANE_GROUP;
      int64_t cnt = inner - i0 < LANE_GROUP ? inner - i0 : LANE_GROUP;
      load_group(J, src, o, i0, cnt, z);
      for (int64_t b = 0; b < cnt; b++) plan_exec(p, z + b * 2 * n, work);
      store_group(J, z, o, i0, cnt, dst);
    }
    free(z);
    free(work);
  }
  return fail ? eq_error(EQ_ERR_MEMORY, "eq_dnd_fft: out of memory") : EQ_OK;
}

/* ---------------------------------------------------------------- dnd ops */

static bool is_complex(const eq_dnd *x) {
  return (x->dtype == EQ_F32 || x->dtype == EQ_F64) && x->ndim >= 2 && x->shape[x->ndim - 1] == 2;
}

/* Transforms the local blocks of w (no split along axis a) into r. */
static eq_status transform_local(const eq_dnd *w, eq_dnd *r, int a, int nd, fft_kind kind, int64_t n, bool inverse,
                                 double scale) {
  const eq_tensor *L = w->local;
  lane_job J = {kind, dnd_outer(L, a), 1, L->shape[a], r->local->shape[a], n, scale};
  for (int i = a + 1; i < nd; i++) J.inner *= L->shape[i];
  if (J.outer * J.inner == 0 || eq_numel(r->local) == 0) return EQ_OK;
  fft_plan p;
  if (plan_init(&p, n, inverse)) return eq_error_code();
  bool owned = false;
  double *src = block_f64(L, &owned);
  bool direct = r->local->dtype == EQ_F64;
  double *dst = direct ? eq_data_ptr(r->local) : malloc(sizeof(double) * (size_t)(eq_numel(r->local) + 1));
  eq_status st = src && dst ? transform_lanes(&J, &p, src, dst) : eq_error(EQ_ERR_MEMORY, "eq_dnd_fft: out of memory");
  if (!st && !direct) {
    float *f = eq_data_ptr(r->local);
    for (int64_t i = 0; i < eq_numel(r->local); i++) f[i] = (float)dst[i];
  }
  if (owned) free(src);
  if (!direct) free(dst);
  plan_free(&p);
  return st;
}

static eq_dnd *fft_op(const char *fn, const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm, fft_kind kind,
                      bool inverse) {
  char b[128];
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "%s: NULL array", fn);
  bool cin = kind != FFT_R2C;
  if (cin && !is_complex(x))
    return DND_FAIL(EQ_ERR_SHAPE,
                    "%s: x must be complex: a float32/float64 array whose last axis has length 2 (re, im), got %s "
                    "(eq_dnd_complex makes one)",
                    fn, eq_dnd_str(x, b, sizeof b));
  if (!cin && (x->ndim < 1 || x->dtype == EQ_BF16 || x->dtype == EQ_F16))
    return DND_FAIL(EQ_ERR_VALUE, "%s: x must be a real array of at least 1 dim, got %s", fn, eq_dnd_str(x, b, sizeof b));
  if ((unsigned)norm > EQ_FFT_FORWARD) return DND_FAIL(EQ_ERR_VALUE, "%s: invalid norm %d", fn, (int)norm);
  int nd = cin ? x->ndim - 1 : x->ndim;
  int a = axis < 0 ? axis + nd : axis;
  if (a < 0 || a >= nd)
    return DND_FAIL(EQ_ERR_SHAPE, "%s: axis %d out of range for the %d logical axes of %s", fn, axis, nd,
                    eq_dnd_str(x, b, sizeof b));
  int64_t lin = x->shape[a];
  if (n <= 0) n = kind == FFT_C2R ? 2 * (lin - 1) : lin;
  if (n < 1)
    return DND_FAIL(EQ_ERR_VALUE, "%s: invalid transform length %lld (axis %d has %lld points)", fn, (long long)n, a,
                    (long long)lin);
  if (n > ((int64_t)1 << 40)) return DND_FAIL(EQ_ERR_VALUE, "%s: transform length %lld too large", fn, (long long)n);
  /* Output shape, dtype and scale. */
  int ond = kind == FFT_C2C ? x->ndim : (kind == FFT_R2C ? x->ndim + 1 : x->ndim - 1);
  if (ond > EQ_MAX_DIMS) return DND_FAIL(EQ_ERR_SHAPE, "%s: %s has too many dims", fn, eq_dnd_str(x, b, sizeof b));
  int64_t oshape[EQ_MAX_DIMS];
  for (int i = 0; i < nd; i++) oshape[i] = x->shape[i];
  oshape[a] = kind == FFT_R2C ? n / 2 + 1 : n;
  if (kind != FFT_C2R) oshape[nd] = 2;
  eq_dtype od = x->dtype == EQ_F32 ? EQ_F32 : EQ_F64;
  double scale = 1.0;
  if (norm == EQ_FFT_ORTHO)
    scale = 1.0 / sqrt((double)n);
  else if ((norm == EQ_FFT_BACKWARD) == inverse)
    scale = 1.0 / (double)n;
  /* Split along the transform axis (or along (re, im)) over several ranks:
   * move it to the largest other logical axis (one all-to-all), or gather
   * a 1-d array. */
  int s = x->split;
  bool move = s != EQ_DND_NONE && (s == a || s >= nd) && x->comm->size > 1;
  eq_dnd *work = NULL;
  if (move) {
    int t = EQ_DND_NONE;
    for (int i = 0; i < nd; i++)
      if (i != a && (t == EQ_DND_NONE || x->shape[i] > x->shape[t])) t = i;
    if (!(work = dnd_relayout(x, t, NULL))) return NULL;
  }
  const eq_dnd *w = work ? work : x;
  /* On one rank a split on the transform axis is no cut: kept, with the
   * (re, im) split of an irfft input dropped as on several ranks. */
  int rs = w->split >= ond ? EQ_DND_NONE : w->split;
  const int64_t *rc = rs == EQ_DND_NONE || rs == a || rs >= nd ? NULL : w->counts;
  eq_dnd *r = dnd_new(od, ond, oshape, rs, rc, x->comm);
  eq_status st = r ? transform_local(w, r, a, nd, kind, n, inverse, scale) : eq_error_code();
  eq_dnd_free(work);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  if (move) {
    /* Back to the input's split; the (re, im) axis of a real result is gone. */
    int target = s < ond && !(kind == FFT_C2R && s >= nd) ? s : EQ_DND_NONE;
    if (target != r->split) {
      eq_dnd *back = dnd_relayout(r, target, NULL);
      eq_dnd_free(r);
      r = back;
    }
  }
  return r;
}

eq_dnd *eq_dnd_fft(const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm) {
  return fft_op("eq_dnd_fft", x, axis, n, norm, FFT_C2C, false);
}

eq_dnd *eq_dnd_ifft(const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm) {
  return fft_op("eq_dnd_ifft", x, axis, n, norm, FFT_C2C, true);
}

eq_dnd *eq_dnd_rfft(const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm) {
  return fft_op("eq_dnd_rfft", x, axis, n, norm, FFT_R2C, false);
}

eq_dnd *eq_dnd_irfft(const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm) {
  return fft_op("eq_dnd_irfft", x, axis, n, norm, FFT_C2R, true);
}

eq_dnd *eq_dnd_complex(const eq_dnd *re, const eq_dnd *im) {
  char b0[128], b1[128];
  if (!re) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_complex: NULL real part");
  if (re->ndim >= EQ_MAX_DIMS || re->dtype == EQ_BF16 || re->dtype == EQ_F16)
    return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_complex: unsupported real part %s", eq_dnd_str(re, b0, sizeof b0));
  bool same = im && im->ndim == re->ndim && im->comm == re->comm && im->dtype != EQ_BF16 && im->dtype != EQ_F16;
  for (int i = 0; same && i < re->ndim; i++) same = im->shape[i] == re->shape[i];
  if (im && !same)
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_complex: imaginary part %s does not match real part %s",
                    eq_dnd_str(im, b1, sizeof b1), eq_dnd_str(re, b0, sizeof b0));
  eq_dnd *iml = NULL;
  if (im && !dnd_same_layout(im, re) && !(iml = dnd_relayout(im, re->split, re->counts))) return NULL;
  const eq_tensor *I = iml ? iml->local : (im ? im->local : NULL);
  int64_t shape[EQ_MAX_DIMS];
  memcpy(shape, re->shape, sizeof shape);
  shape[re->ndim] = 2;
  eq_dtype od = re->dtype == EQ_F32 && (!im || im->dtype == EQ_F32) ? EQ_F32 : EQ_F64;
  eq_dnd *r = dnd_new(od, re->ndim + 1, shape, re->split, re->counts, re->comm);
  for (int64_t i = 0; r && i < eq_numel(re->local); i++) {
    eq_set_flat(r->local, 2 * i, eq_get_flat(re->local, i));
    eq_set_flat(r->local, 2 * i + 1, I ? eq_get_flat(I, i) : 0.0);
  }
  eq_dnd_free(iml);
  return r;
}
