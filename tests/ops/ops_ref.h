/* Loading PyTorch reference arrays (tests/data/ops, written by
 * scripts/gen_ops_reference.py) and comparing tensors with them. */
#ifndef EQ_OPS_REF_H
#define EQ_OPS_REF_H

#include <stdlib.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/npy.h"
#include "equivar/ops.h"

/* A heap tensor with the array of tests/data/ops/<name>.npy (NULL and a
 * failed check when missing). */
static eq_tensor *ref_load(const char *name) {
  const char *root = getenv("EQ_TEST_DATA");
  char path[512];
  snprintf(path, sizeof path, "%s/ops/%s.npy", root ? root : "tests/data", name);
  eq_npy_info info;
  void *data = NULL;
  eq_dtype dt;
  if (eq_npy_load(path, &info, &data) || eq_dtype_from_npy(info.descr, &dt)) {
    CHECK_MSG(0, "load %s: %s", path, eq_error_message());
    free(data);
    return NULL;
  }
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *t = eq_from_data(dt, info.ndim, info.shape, data);
  eq_arena_set_current(prev);
  free(data);
  return t;
}

/* Same values and shape as the reference, within |d| <= atol + rtol |ref|.
 * Reports the first mismatches only. */
static void ref_check(const char *what, const eq_tensor *got, const char *name, double rtol, double atol) {
  eq_tensor *ref = ref_load(name);
  if (!ref) return;
  if (!got) {
    CHECK_MSG(0, "%s: no result (%s)", what, eq_error_message());
  } else if (eq_numel(got) != eq_numel(ref) || (got->ndim != ref->ndim && eq_numel(ref) != 1)) {
    char a[96], b[96];
    CHECK_MSG(0, "%s: shape %s vs reference %s", what, eq_shape_str(got, a, sizeof a), eq_shape_str(ref, b, sizeof b));
  } else {
    int bad = 0;
    for (int64_t i = 0; i < eq_numel(ref); i++) {
      double g = eq_get_flat(got, i), r = eq_get_flat(ref, i);
      bool ok = (g == r) || (isnan(g) && isnan(r)) || fabs(g - r) <= atol + rtol * fabs(r);
      if (!ok && bad++ < 3) fprintf(stderr, "  %s[%lld]: %.9g vs reference %.9g\n", what, (long long)i, g, r);
    }
    CHECK_MSG(bad == 0, "%s: %d elements differ from %s", what, bad, name);
  }
  eq_tensor_free(ref);
}

/* Backpropagates sum(out * w) with w = <name>_w and checks each input's
 * gradient against <name>_g<k>. */
static void ref_check_grads(const char *what, eq_tensor *out, int n, eq_tensor *const *inputs, const char *name,
                            double rtol, double atol) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s_w", name);
  eq_tensor *w = ref_load(buf);
  if (!w || !out) {
    eq_tensor_free(w);
    CHECK_MSG(0, "%s: no output to backpropagate", what);
    return;
  }
  eq_tensor *wv = eq_reshape(w, out->ndim, out->shape);
  eq_status st = eq_backward_with(out, wv);
  CHECK_MSG(st == EQ_OK, "%s backward: %s", what, eq_error_message());
  for (int k = 0; k < n; k++) {
    snprintf(buf, sizeof buf, "%s_g%d", name, k);
    char label[200];
    snprintf(label, sizeof label, "%s grad %d", what, k);
    if (inputs[k]->grad)
      ref_check(label, inputs[k]->grad, buf, rtol, atol);
    else
      CHECK_MSG(0, "%s: no gradient", label);
  }
  eq_tensor_free(wv);
  eq_tensor_free(w);
}

static void clear_grads(int n, eq_tensor *const *inputs) {
  for (int k = 0; k < n; k++) {
    eq_tensor_free(inputs[k]->grad);
    inputs[k]->grad = NULL;
  }
  eq_tape_clear();
}

#endif
