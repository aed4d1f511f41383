/* PyTorch-equivalent initialisers (distributions, not bit streams: the
 * values come from Philox, keyed so they do not depend on threads/ranks). */
#include <math.h>

#include "equivar/nn.h"

void eq_init_fans(int ndim, const int64_t *shape, double *fan_in, double *fan_out) {
  double field = 1;
  for (int d = 2; d < ndim; d++) field *= (double)shape[d];
  *fan_in = ndim >= 2 ? (double)shape[1] * field : (ndim == 1 ? (double)shape[0] : 1);
  *fan_out = ndim >= 1 ? (double)shape[0] * field : 1;
}

/* Element i of a tensor reads Philox block i (+ k * n on the k-th
 * rejection of a truncated normal): counter-based, so the values are the
 * same for any thread count and the fill runs in parallel. */
typedef struct draw_src {
  uint64_t seed, stream, n;
} draw_src;

static double unit(uint32_t hi, uint32_t lo) { /* 53 bits in [0, 1) */
  return (double)((((uint64_t)hi << 21) ^ (lo >> 11)) & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

static void uniforms(const draw_src *src, int64_t i, uint64_t attempt, double *u1, double *u2) {
  uint32_t w[4];
  eq_philox_at(src->seed, src->stream, (uint64_t)i + attempt * src->n, w);
  *u1 = unit(w[0], w[1]);
  *u2 = unit(w[2], w[3]);
}

static double normal_at(const draw_src *src, int64_t i, uint64_t attempt) {
  double u1, u2;
  uniforms(src, i, attempt, &u1, &u2);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double draw(const draw_src *src, int64_t i, eq_init init, double fan_in, double fan_out) {
  double u, unused;
  switch (init.kind) {
    case EQ_INIT_CONST: return init.a;
    case EQ_INIT_UNIFORM: uniforms(src, i, 0, &u, &unused); return init.a + (init.b - init.a) * u;
    case EQ_INIT_NORMAL: return init.a + init.b * normal_at(src, i, 0);
    case EQ_INIT_TRUNC_NORMAL:
      for (uint64_t k = 0;; k++) {
        double v = init.a * normal_at(src, i, k);
        if (v >= -2.0 && v <= 2.0) return v;
      }
    case EQ_INIT_KAIMING_UNIFORM_DEFAULT: {
      /* gain sqrt(2 / (1 + a^2)) with a = sqrt(5), bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in) */
      double bound = 1.0 / sqrt(fan_in);
      uniforms(src, i, 0, &u, &unused);
      return bound * (2 * u - 1);
    }
    case EQ_INIT_FAN_IN_UNIFORM: {
      double bound = init.a > 0 ? 1.0 / sqrt(init.a) : 0;
      uniforms(src, i, 0, &u, &unused);
      return bound * (2 * u - 1);
    }
    case EQ_INIT_KAIMING_NORMAL_FAN_OUT: return sqrt(2.0 / fan_out) * normal_at(src, i, 0);
    case EQ_INIT_NONE: break;
  }
  return 0;
}

eq_status eq_init_tensor(eq_tensor *t, eq_init init, uint64_t seed, uint64_t stream) {
  if (init.kind == EQ_INIT_NONE) return EQ_OK;
  if (init.kind == EQ_INIT_CONST) return eq_fill_(t, init.a);
  if (!eq_dtype_is_float(t->dtype))
    return eq_error(EQ_ERR_DTYPE, "eq_init_tensor: random initialisation of a %s tensor", eq_dtype_name(t->dtype));
  double fan_in, fan_out;
  eq_init_fans(t->ndim, t->shape, &fan_in, &fan_out);
  if (init.kind == EQ_INIT_KAIMING_UNIFORM_DEFAULT && t->ndim < 2)
    return eq_error(EQ_ERR_SHAPE, "eq_init_tensor: kaiming_uniform needs a weight with >= 2 dims, got %d", t->ndim);
  int64_t n = eq_numel(t);
  draw_src src = {seed, stream, (uint64_t)n};
  if (eq_is_contiguous(t) && t->dtype == EQ_F32) {
    float *p = eq_f32(t);
#pragma omp parallel for schedule(static) if (n > 16384)
    for (int64_t i = 0; i < n; i++) p[i] = (float)draw(&src, i, init, fan_in, fan_out);
  } else {
    for (int64_t i = 0; i < n; i++) eq_set_flat(t, i, draw(&src, i, init, fan_in, fan_out));
  }
  return EQ_OK;
}
