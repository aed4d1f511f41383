/* Shared helpers of the dnd tests: deterministic reference tensors and a
 * check that compares a distributed array with a single-process reference
 * (values, global shape, split, local shapes). */
#ifndef DND_TEST_UTIL_H
#define DND_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/dnd.h"
#include "equivar/npy.h"

static const eq_comm *W;

static const eq_dtype DTYPES[3] = {EQ_F32, EQ_F64, EQ_I64};

/* Reference values: small, distinct, some negative; exact in every dtype. */
static inline double ref_value(int64_t i, eq_dtype d) {
  double v = (double)((i * 37 + 11) % 23) - 9.0;
  if (eq_dtype_is_float(d)) v += 0.25 * (double)(i % 4);
  return v;
}

static inline eq_tensor *ref_tensor(eq_dtype d, int ndim, const int64_t *shape) {
  eq_tensor *t = eq_empty(d, ndim, shape);
  int64_t n = eq_numel(t);
  for (int64_t i = 0; i < n; i++) eq_set_flat(t, i, ref_value(i, d));
  return t;
}

/* Checks global shape, split, that local shapes follow counts, (balance when
 * asked) and values against ref (full tensor) within tol. */
static inline void check_dnd(const char *what, const eq_dnd *x, const eq_tensor *ref, int split, bool balanced,
                             double tol) {
  if (!x) {
    CHECK_MSG(x != NULL, "%s: NULL result: %s", what, eq_error_message());
    return;
  }
  CHECK_MSG(x->ndim == ref->ndim, "%s: ndim %d vs %d", what, x->ndim, ref->ndim);
  for (int i = 0; i < x->ndim && i < ref->ndim; i++)
    CHECK_MSG(x->shape[i] == ref->shape[i], "%s: dim %d: %lld vs %lld", what, i, (long long)x->shape[i],
              (long long)ref->shape[i]);
  CHECK_MSG(x->split == split, "%s: split %d vs %d", what, x->split, split);
  int64_t ls[EQ_MAX_DIMS];
  eq_dnd_lshape(x, x->comm->rank, ls);
  for (int i = 0; i < x->ndim; i++) CHECK_MSG(x->local->shape[i] == ls[i], "%s: local dim %d", what, i);
  if (balanced) CHECK_MSG(eq_dnd_is_balanced(x), "%s: not balanced", what);
  if (x->split != EQ_DND_NONE) {
    int64_t sum = 0;
    for (int r = 0; r < x->comm->size; r++) sum += x->counts[r];
    CHECK_MSG(sum == x->shape[x->split], "%s: counts sum %lld", what, (long long)sum);
  }
  eq_tensor *full = eq_dnd_to_tensor(x);
  if (!full) {
    CHECK_MSG(full != NULL, "%s: gather failed: %s", what, eq_error_message());
    return;
  }
  int64_t n = eq_numel(ref), bad = 0;
  if (eq_numel(full) != n) {
    CHECK_MSG(0, "%s: numel %lld vs %lld", what, (long long)eq_numel(full), (long long)n);
  } else {
    for (int64_t i = 0; i < n; i++) {
      double a = eq_get_flat(full, i), b = eq_get_flat(ref, i);
      bool ok = (isnan(a) && isnan(b)) || fabs(a - b) <= tol * (1 + fabs(b));
      if (!ok && bad++ < 3) fprintf(stderr, "%s: element %lld: %.9g vs %.9g\n", what, (long long)i, a, b);
    }
    CHECK_MSG(bad == 0, "%s: %lld wrong elements (rank %d of %d)", what, (long long)bad, x->comm->rank,
              x->comm->size);
  }
  eq_tensor_free(full);
}

/* A NumPy reference file tests/data/dnd/<name> as a tensor (NULL and a
 * message on stderr when missing). */
static inline eq_tensor *dnd_load_ref(const char *name) {
  char path[512];
  const char *root = getenv("EQ_TEST_DATA");
  snprintf(path, sizeof path, "%s/dnd/%s", root ? root : "tests/data", name);
  eq_npy_info info;
  void *data = NULL;
  if (eq_npy_load(path, &info, &data)) {
    fprintf(stderr, "%s\n", eq_error_message());
    return NULL;
  }
  eq_dtype d = EQ_F64;
  eq_tensor *t = eq_dtype_from_npy(info.descr, &d) ? NULL : eq_from_data(d, info.ndim, info.shape, data);
  free(data);
  return t;
}

static inline double tol_of(eq_dtype d) { return d == EQ_F32 ? 1e-5 : (d == EQ_F64 ? 1e-12 : 0); }

/* Leak check at the end of main, while Open MPI's plugins are still loaded
 * (they are dlclose'd at MPI_Finalize, after which LeakSanitizer cannot name
 * their allocations and tests/lsan.supp cannot suppress them). */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libopenblas\nleak:liblapacke\nleak:libgomp\nleak:libmpi\nleak:libopen-rte\nleak:libopen-pal\n";
}
#define DND_TEST_END() (__lsan_do_leak_check(), EQ_TEST_SUMMARY())
/* MPI_Init's own allocations (some from plugins it unloads again) are not ours. */
#define DND_TEST_BEGIN() (__lsan_disable(), W = eq_comm_world(), __lsan_enable())
#else
#define DND_TEST_END() EQ_TEST_SUMMARY()
#define DND_TEST_BEGIN() (W = eq_comm_world())
#endif

/* max |X^T X - I| over the first k columns of the gathered n x r matrix X:
 * how far its columns are from orthonormal. */
static inline double dnd_orth_err(const eq_tensor *X, int64_t k) {
  int64_t n = X->shape[0], r = X->shape[1];
  double e = 0;
  for (int64_t a = 0; a < k; a++)
    for (int64_t b = 0; b < k; b++) {
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += eq_get_flat(X, i * r + a) * eq_get_flat(X, i * r + b);
      e = fmax(e, fabs(s - (a == b)));
    }
  return e;
}

/* Splits to try for an ndim-d array: NONE, 0, ..., ndim-1. */
#define FOR_SPLITS(s, nd) for (int s = EQ_DND_NONE; s < (nd); s++)

#endif
