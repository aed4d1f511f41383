/* Inverted dropout with a Philox mask keyed by (seed, stream, element index):
 * the mask never needs storing (the backward regenerates it) and is the same
 * for any thread count or data split. Element i keeps when word i % 4 of
 * Philox block i / 4, as a uniform in [0, 1), is >= p. */
#include <omp.h>

#include "ops/ops_internal.h"

typedef struct {
  uint64_t seed, stream;
  uint32_t threshold; /* keep when word >= threshold */
  double scale;
} mask_ctx;

/* out[i] = x[i] * keep(i) * scale over the flat range [lo, hi). */
static void apply_mask(const mask_ctx *c, eq_dtype dt, const void *x, void *out, int64_t lo, int64_t hi) {
  float sf = (float)c->scale;
  for (int64_t b = lo & ~(int64_t)3; b < hi; b += 4) {
    uint32_t w[4];
    eq_philox_at(c->seed, c->stream, (uint64_t)(b / 4), w);
    for (int j = 0; j < 4; j++) {
      int64_t i = b + j;
      if (i < lo || i >= hi) continue;
      bool keep = w[j] >= c->threshold;
      if (dt == EQ_F32)
        ((float *)out)[i] = keep ? ((const float *)x)[i] * sf : 0.0f;
      else
        ((double *)out)[i] = keep ? ((const double *)x)[i] * c->scale : 0.0;
    }
  }
}

static void masked(const mask_ctx *c, eq_dtype dt, const void *x, void *out, int64_t n) {
  if (n < 65536 || omp_in_parallel()) {
    apply_mask(c, dt, x, out, 0, n);
    return;
  }
#pragma omp parallel
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    /* Split on multiples of 4 so no Philox block is shared. */
    int64_t blocks = (n + 3) / 4, lo = blocks * t / T * 4, hi = blocks * (t + 1) / T * 4;
    if (hi > n) hi = n;
    if (hi > lo) apply_mask(c, dt, x, out, lo, hi);
  }
}

static mask_ctx make_ctx(double p, uint64_t seed, uint64_t stream) {
  mask_ctx c = {seed, stream, 0, 1.0 / (1.0 - p)};
  double t = p * 4294967296.0;
  c.threshold = t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
  return c;
}

/* f[0] p; i[0], i[1] seed and stream. */
static eq_status dropout_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *g = node->out->grad;
  mask_ctx c = make_ctx(node->f[0], (uint64_t)node->i[0], (uint64_t)node->i[1]);
  EQ_NO_GRAD_BEGIN;
  eq_tensor *gx = eq_empty(x->dtype, x->ndim, x->shape);
  eq_status st = gx ? EQ_OK : eq_error_code();
  if (!st) {
    masked(&c, x->dtype, eq_data_ptr(g), eq_data_ptr(gx), eq_numel(x));
    st = eq_grad_accumulate(x, gx);
  }
  eq_tensor_free(gx);
  EQ_NO_GRAD_END;
  return st;
}

eq_tensor *eq_dropout(eq_tensor *x, double p, bool training, uint64_t seed, uint64_t stream) {
  if (eq_require_cpu("dropout", x)) return NULL;
  if (!(p >= 0 && p <= 1)) {
    eq_error(EQ_ERR_VALUE, "dropout: probability %g outside [0, 1]", p);
    return NULL;
  }
  if (!eq_dtype_is_float(x->dtype)) {
    eq_error(EQ_ERR_DTYPE, "dropout: needs float32/float64, got %s", eq_dtype_name(x->dtype));
    return NULL;
  }
  /* Identity: a (differentiable) view. */
  if (!training || p == 0) return eq_reshape(x, x->ndim, x->shape);
  if (p == 1) return eq_mul_scalar(x, 0.0); /* every element dropped */
  bool owned;
  eq_tensor *xc = eq_ops_contiguous_raw(x, &owned);
  if (!xc) return NULL;
  eq_tensor *out = eq_empty(x->dtype, x->ndim, x->shape);
  mask_ctx c = make_ctx(p, seed, stream);
  if (out) masked(&c, x->dtype, eq_data_ptr(xc), eq_data_ptr(out), eq_numel(x));
  if (owned) eq_tensor_free(xc);
  if (!out) return NULL;
  bool failed;
  eq_node *node = eq_ops_record("dropout", out, 1, &x, dropout_backward, &failed);
  if (failed) return NULL;
  if (node) {
    node->f[0] = p;
    node->i[0] = (int64_t)seed;
    node->i[1] = (int64_t)stream;
  }
  return out;
}
