/* Lanczos against NumPy's eigenvalues of the same symmetric matrix
 * (tests/data/dnd/lanczos_sym*.npy, scripts/gen_dnd_linalg_reference.py):
 * a full run reproduces the spectrum, a short run the extreme eigenvalue;
 * V is orthonormal, T tridiagonal with V^T A V = T and |A v_m - V T e_m| =
 * beta; breakdown on a matrix with three distinct eigenvalues; every split,
 * float32 / float64; bad arguments. */
#include "dnd_test_util.h"

/* A reference file; the test cannot run without it. */
static eq_tensor *must_load(const char *name) {
  eq_tensor *t = dnd_load_ref(name);
  if (!t) exit(2);
  return t;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Eigenvalues (ascending) of the replicated T through eq_dnd_eigh. */
static double *eigvals(const eq_dnd *t) {
  eq_dnd *w = NULL;
  if (eq_dnd_eigh(t, &w, NULL)) return NULL;
  int64_t m = w->shape[0];
  double *v = malloc(sizeof(double) * (size_t)m);
  for (int64_t i = 0; i < m; i++) v[i] = eq_get_flat(w->local, i);
  qsort(v, (size_t)m, sizeof(double), cmp_d);
  eq_dnd_free(w);
  return v;
}

/* Checks V orthonormal, T symmetric tridiagonal, V^T A V = T and the
 * residual of the last column against beta (A full, V n x m, T m x m). */
static void check_relations(const eq_tensor *A, const eq_tensor *V, const eq_tensor *T, double beta, double tol,
                            const char *what) {
  int64_t n = A->shape[0], m = V->shape[1];
  double *AV = calloc((size_t)(n * m), sizeof(double));
  for (int64_t i = 0; i < n; i++)
    for (int64_t k = 0; k < n; k++) {
      double x = eq_get_flat(A, i * n + k);
      for (int64_t j = 0; j < m; j++) AV[i * m + j] += x * eq_get_flat(V, k * m + j);
    }
  double eo = 0, et = 0, band = 0;
  for (int64_t a = 0; a < m; a++)
    for (int64_t b = 0; b < m; b++) {
      double g = 0, p = 0;
      for (int64_t i = 0; i < n; i++) {
        g += eq_get_flat(V, i * m + a) * eq_get_flat(V, i * m + b);
        p += eq_get_flat(V, i * m + a) * AV[i * m + b];
      }
      eo = fmax(eo, fabs(g - (a == b)));
      double t = eq_get_flat(T, a * m + b);
      et = fmax(et, fabs(p - t));
      if (llabs(a - b) > 1) band = fmax(band, fabs(t));
    }
  /* r = A v_m - V T e_m has norm beta */
  double r2 = 0;
  for (int64_t i = 0; i < n; i++) {
    double r = AV[i * m + m - 1];
    for (int64_t j = 0; j < m; j++) r -= eq_get_flat(V, i * m + j) * eq_get_flat(T, j * m + m - 1);
    r2 += r * r;
  }
  CHECK_MSG(eo < tol && et < 10 * tol && band == 0, "%s: |V^T V - I| %g, |V^T A V - T| %g, band %g", what, eo, et, band);
  CHECK_MSG(fabs(sqrt(r2) - beta) < 10 * tol * (1 + beta), "%s: residual %g vs beta %g", what, sqrt(r2), beta);
  free(AV);
}

static void test_spectrum(void) {
  eq_tensor *A64 = must_load("lanczos_sym.npy"), *ref = must_load("lanczos_sym_w.npy");
  int64_t n = A64->shape[0];
  for (int di = 0; di < 2; di++) {
    eq_dtype dt = di ? EQ_F64 : EQ_F32;
    double tol = dt == EQ_F64 ? 1e-10 : 1e-4;
    eq_tensor *A = eq_to_dtype(A64, dt);
    FOR_SPLITS(split, 2) {
      eq_dnd *a = eq_dnd_from_tensor(A, split, W), *v = NULL, *t = NULL;
      double beta = -1;
      char what[64];
      snprintf(what, sizeof what, "full run split=%d dt=%d", split, dt);
      /* (float32 full runs only at split 0: the steps are latency-bound) */
      int64_t steps = dt == EQ_F64 || split == 0 ? n : 16;
      CHECK_MSG(eq_dnd_lanczos(a, steps, NULL, &v, &t, &beta) == EQ_OK, "%s: %s", what, eq_error_message());
      if (!v || !t) continue;
      CHECK(v->split == (split == EQ_DND_NONE ? EQ_DND_NONE : 0) && t->split == EQ_DND_NONE && v->dtype == dt);
      CHECK(v->shape[0] == n && v->shape[1] == steps && t->shape[0] == steps && t->shape[1] == steps);
      if (split != EQ_DND_NONE) CHECK(v->local->shape[0] == a->counts[W->rank]);
      double *w = eigvals(t);
      for (int64_t i = 0; i < n && w && steps == n; i++)
        CHECK_MSG(fabs(w[i] - eq_get_flat(ref, i)) < tol * 10, "%s: eigenvalue %lld: %.12g vs %.12g", what,
                  (long long)i, w[i], eq_get_flat(ref, i));
      eq_tensor *V = eq_dnd_to_tensor(v), *T = eq_dnd_to_tensor(t);
      check_relations(A64, V, T, beta, tol, what);
      eq_tensor_free(V), eq_tensor_free(T), free(w), eq_dnd_free(v), eq_dnd_free(t);

      /* 16 steps from a given start vector: the top eigenvalue (gap 1.5) */
      eq_dnd *v0 = eq_dnd_ones(EQ_F64, 1, &n, split == EQ_DND_NONE ? 0 : EQ_DND_NONE, W);
      snprintf(what, sizeof what, "16 steps split=%d dt=%d", split, dt);
      CHECK_MSG(eq_dnd_lanczos(a, 16, v0, &v, &t, &beta) == EQ_OK, "%s: %s", what, eq_error_message());
      if (v && t) {
        w = eigvals(t);
        CHECK_MSG(w && fabs(w[15] - eq_get_flat(ref, n - 1)) < tol * 10, "%s: top %.12g vs %.12g", what,
                  w ? w[15] : NAN, eq_get_flat(ref, n - 1));
        /* the start vector is the first column: ones / sqrt(n) */
        V = eq_dnd_to_tensor(v), T = eq_dnd_to_tensor(t);
        CHECK(fabs(eq_get_flat(V, 0) - 1 / sqrt((double)n)) < tol && fabs(eq_get_flat(V, 16 * (n - 1)) - 1 / sqrt((double)n)) < tol);
        check_relations(A64, V, T, beta, tol, what);
        eq_tensor_free(V), eq_tensor_free(T), free(w);
      }
      eq_dnd_free(v), eq_dnd_free(t), eq_dnd_free(v0), eq_dnd_free(a);
    }
    eq_tensor_free(A);
  }
  eq_tensor_free(A64), eq_tensor_free(ref);
}

/* diag(1, 2, 3, 1, 2, 3, ...): the Krylov space stops growing after three
 * steps; the run goes on with fresh directions and T still carries every
 * eigenvalue with its multiplicity. */
static void test_breakdown(void) {
  const int64_t n = 10;
  eq_tensor *D = eq_zeros(EQ_F64, EQ_DIMS(n, n));
  double want[10];
  for (int64_t i = 0; i < n; i++) eq_set_flat(D, i * n + i, (double)(i % 3 + 1)), want[i] = (double)(i % 3 + 1);
  qsort(want, (size_t)n, sizeof(double), cmp_d);
  FOR_SPLITS(split, 2) {
    eq_dnd *a = eq_dnd_from_tensor(D, split, W), *v = NULL, *t = NULL;
    double beta = -1;
    CHECK_MSG(eq_dnd_lanczos(a, n, NULL, &v, &t, &beta) == EQ_OK, "breakdown: %s", eq_error_message());
    if (v && t) {
      double *w = eigvals(t);
      for (int64_t i = 0; i < n && w; i++) CHECK_MSG(fabs(w[i] - want[i]) < 1e-10, "breakdown eig %lld: %g", (long long)i, w[i]);
      eq_tensor *V = eq_dnd_to_tensor(v), *T = eq_dnd_to_tensor(t);
      CHECK(fabs(eq_get_flat(T, 3 * n + 2)) == 0); /* the restart left a zero off-diagonal */
      check_relations(D, V, T, beta, 1e-10, "breakdown");
      eq_tensor_free(V), eq_tensor_free(T), free(w);
    }
    eq_dnd_free(v), eq_dnd_free(t), eq_dnd_free(a);
  }
  eq_tensor_free(D);
}

static void test_errors(void) {
  eq_tensor *A = must_load("lanczos_sym.npy");
  eq_dnd *a = eq_dnd_from_tensor(A, 0, W), *v = NULL, *t = NULL;
  CHECK(eq_dnd_lanczos(NULL, 3, NULL, &v, &t, NULL) == EQ_ERR_VALUE && !v && !t);
  CHECK(eq_dnd_lanczos(a, 0, NULL, &v, &t, NULL) == EQ_ERR_VALUE && strstr(eq_error_message(), "m=0"));
  CHECK(eq_dnd_lanczos(a, 41, NULL, &v, &t, NULL) == EQ_ERR_VALUE && strstr(eq_error_message(), "n=40"));
  eq_dnd *rect = eq_dnd_zeros(EQ_F64, 2, (int64_t[]){4, 5}, 0, W), *ints = eq_dnd_astype(a, EQ_I64);
  CHECK(eq_dnd_lanczos(rect, 2, NULL, &v, &t, NULL) == EQ_ERR_SHAPE && strstr(eq_error_message(), "square"));
  CHECK(eq_dnd_lanczos(ints, 2, NULL, &v, &t, NULL) == EQ_ERR_DTYPE);
  eq_dnd *short_v = eq_dnd_ones(EQ_F64, 1, (int64_t[]){39}, 0, W), *zero_v = eq_dnd_zeros(EQ_F64, 1, (int64_t[]){40}, 0, W);
  CHECK(eq_dnd_lanczos(a, 2, short_v, &v, &t, NULL) == EQ_ERR_SHAPE && strstr(eq_error_message(), "start vector"));
  CHECK(eq_dnd_lanczos(a, 2, zero_v, &v, &t, NULL) == EQ_ERR_VALUE && strstr(eq_error_message(), "zero") && !v && !t);
  eq_dnd_free(rect), eq_dnd_free(ints), eq_dnd_free(short_v), eq_dnd_free(zero_v), eq_dnd_free(a);
  eq_tensor_free(A);
}

int main(void) {
  DND_TEST_BEGIN();
  test_spectrum();
  test_breakdown();
  test_errors();
  return DND_TEST_END();
}
