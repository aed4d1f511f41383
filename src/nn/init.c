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

static double draw(eq_philox *g, eq_init init, double fan_in, double fan_out) {
  switch (init.kind) {
    case EQ_INIT_CONST: return init.a;
    case EQ_INIT_UNIFORM: return eq_philox_uniform_range(g, init.a, init.b);
    case EQ_INIT_NORMAL: return init.a + init.b * eq_philox_normal(g);
    case EQ_INIT_TRUNC_NORMAL:
      for (;;) {
        double v = init.a * eq_philox_normal(g);
        if (v >= -2.0 && v <= 2.0) return v;
      }
    case EQ_INIT_KAIMING_UNIFORM_DEFAULT: {
      /* gain sqrt(2 / (1 + a^2)) with a = sqrt(5), bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in) */
      double bound = 1.0 / sqrt(fan_in);
      return eq_philox_uniform_range(g, -bound, bound);
    }
    case EQ_INIT_FAN_IN_UNIFORM: {
      double bound = init.a > 0 ? 1.0 / sqrt(init.a) : 0;
      return eq_philox_uniform_range(g, -bound, bound);
    }
    case EQ_INIT_KAIMING_NORMAL_FAN_OUT: return sqrt(2.0 / fan_out) * eq_philox_normal(g);
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
  eq_philox g = eq_philox_init(seed, stream);
  int64_t n = eq_numel(t);
  /* Serial on purpose: one generator, so element i's value is fixed. */
  if (eq_is_contiguous(t) && t->dtype == EQ_F32) {
    float *p = eq_f32(t);
    for (int64_t i = 0; i < n; i++) p[i] = (float)draw(&g, init, fan_in, fan_out);
  } else {
    for (int64_t i = 0; i < n; i++) eq_set_flat(t, i, draw(&g, init, fan_in, fan_out));
  }
  return EQ_OK;
}
