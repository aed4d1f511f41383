/* eq_linear on tall inputs (m >= 512 rows per thread), where the forward,
 * dX and dW products are split over the threads by rows (ops/nn/linear.c),
 * against float64 loops: float64 and float32, a fresh and an accumulating
 * backward, with and without a bias, eq_linear_add's residual, and m not
 * a multiple of the thread count. ctest runs it with
 * 2 threads; it sets 3 as well so the split is uneven. */
#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

static double val(uint64_t i) {
  uint64_t h = (i + 11) * 0x9E3779B97F4A7C15ull;
  return (double)((h >> 40) & 0xFFFF) / 32768.0 - 1.0;
}

static eq_tensor *filled(eq_dtype dt, int ndim, const int64_t *shape, uint64_t seed) {
  eq_tensor *t = eq_empty(dt, ndim, shape);
  for (int64_t i = 0; i < eq_numel(t); i++) eq_set_flat(t, i, val(seed * 1000003 + (uint64_t)i));
  return t;
}

static double worst_rel(const eq_tensor *got, const double *want, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs(eq_get_flat(got, i) - want[i]) / (1 + fabs(want[i]));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

static void check_case(eq_dtype dt, int64_t m, int64_t in, int64_t out, bool with_bias, bool with_residual,
                       int threads, bool x_grad) {
  omp_set_num_threads(threads);
  double tol = dt == EQ_F64 ? 1e-12 : 2e-5;
  eq_tensor *x = filled(dt, EQ_DIMS(m, in), 1), *w = filled(dt, EQ_DIMS(out, in), 2), *b = filled(dt, EQ_DIMS(out), 3);
  eq_tensor *g = filled(dt, EQ_DIMS(m, out), 4), *res = filled(dt, EQ_DIMS(m, out), 5);
  eq_set_requires_grad(x, x_grad);
  eq_set_requires_grad(w, true);
  eq_set_requires_grad(b, true);
  eq_set_requires_grad(res, with_residual);
  double *y_ref = calloc((size_t)(m * out), sizeof(double)), *dx_ref = calloc((size_t)(m * in), sizeof(double));
  double *dw_ref = calloc((size_t)(out * in), sizeof(double)), *db_ref = calloc((size_t)out, sizeof(double));
  for (int64_t r = 0; r < m; r++)
    for (int64_t o = 0; o < out; o++) {
      double s = (with_bias ? eq_get_flat(b, o) : 0) + (with_residual ? eq_get_flat(res, r * out + o) : 0), go = eq_get_flat(g, r * out + o);
      for (int64_t i = 0; i < in; i++) {
        s += eq_get_flat(x, r * in + i) * eq_get_flat(w, o * in + i);
        dx_ref[r * in + i] += go * eq_get_flat(w, o * in + i);
        dw_ref[o * in + i] += go * eq_get_flat(x, r * in + i);
      }
      y_ref[r * out + o] = s;
      db_ref[o] += go;
    }
  /* Two passes: the first writes fresh gradient buffers, the second adds. */
  for (int pass = 1; pass <= 2; pass++) {
    eq_tensor *y = with_residual ? eq_linear_add(x, w, with_bias ? b : NULL, res) : eq_linear(x, w, with_bias ? b : NULL);
    CHECK_MSG(y != NULL, "%s", eq_error_message());
    if (!y) break;
    CHECK_MSG(worst_rel(y, y_ref, m * out) < tol, "y: m %lld threads %d dtype %d", (long long)m, threads, (int)dt);
    CHECK(eq_backward_with(y, g) == EQ_OK);
    eq_tape_clear();
    eq_tensor_free(y);
    double *refs[3] = {dx_ref, dw_ref, db_ref};
    eq_tensor *grads[3] = {x->grad, w->grad, b->grad};
    int64_t sizes[3] = {m * in, out * in, out};
    CHECK_MSG(!x->grad == !x_grad, "x's gradient %s", x_grad ? "missing" : "made though not wanted");
    for (int k = x_grad ? 0 : 1; k < (with_bias ? 3 : 2); k++) {
      double *want = malloc(sizeof(double) * (size_t)sizes[k]);
      for (int64_t i = 0; i < sizes[k]; i++) want[i] = pass * refs[k][i];
      CHECK_MSG(grads[k] && worst_rel(grads[k], want, sizes[k]) < tol, "grad %d pass %d: m %lld threads %d dtype %d",
                k, pass, (long long)m, threads, (int)dt);
      free(want);
    }
    if (with_residual) { /* d residual = dY, accumulated over the passes */
      double worst = 0;
      for (int64_t i = 0; res->grad && i < m * out; i++) {
        double e = fabs(eq_get_flat(res->grad, i) - pass * eq_get_flat(g, i));
        worst = e > worst ? e : worst;
      }
      CHECK_MSG(res->grad && worst < tol, "residual grad pass %d: m %lld threads %d", pass, (long long)m, threads);
    }
  }
  eq_tensor *all[] = {x, w, b, g, res};
  for (int i = 0; i < 5; i++) eq_tensor_free(all[i]);
  free(y_ref);
  free(dx_ref);
  free(dw_ref);
  free(db_ref);
}

int main(void) {
  int threads = omp_get_max_threads();
  for (int t = 1; t <= 3; t++) {
    check_case(EQ_F64, 1601, 13, 21, true, false, t, true);
    check_case(EQ_F32, 1601, 24, 40, true, false, t, true);
    /* float32 with AVX-512 runs as register tiles: two 64-column panels,
     * the second ragged, and the forward without a bias */
    check_case(EQ_F32, 1601, 33, 70, true, false, t, true);
    check_case(EQ_F32, 1601, 17, 70, false, false, t, true);
    /* eq_linear_add: the residual added as the tiles are stored (float32)
     * or seeded with the bias (float64) */
    check_case(EQ_F32, 1601, 33, 70, true, true, t, true);
    check_case(EQ_F32, 1601, 17, 70, false, true, t, true);
    check_case(EQ_F64, 1601, 13, 21, true, true, t, true);
    /* a weight large enough that its transpose for the tiles is split over
     * the threads (at least 65536 elements in 16 x 16 blocks), ragged */
    check_case(EQ_F32, 1601, 300, 260, true, false, t, true);
    /* x without a gradient (ViT's patch embedding): dW and db only */
    check_case(EQ_F32, 1601, 33, 70, true, false, t, false);
  }
  omp_set_num_threads(threads);
  return EQ_TEST_SUMMARY();
}
