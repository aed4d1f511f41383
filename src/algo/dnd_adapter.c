/* eq_dnd <-> eq_rows (algo_dnd.h). */
#include <math.h>

#include "equivar/algo_dnd.h"

eq_status eq_rows_from_dnd(const eq_dnd *x, eq_rows *out) {
  if (!x || !out) return eq_error(EQ_ERR_VALUE, "eq_rows_from_dnd: NULL argument");
  if (x->split != 0 && x->split != EQ_DND_NONE) {
    char buf[128];
    return eq_error(EQ_ERR_UNSUPPORTED,
                    "eq_rows_from_dnd: %s is split along axis %d; the algorithms need whole rows "
                    "(eq_dnd_resplit(x, 0) first)",
                    eq_dnd_str(x, buf, sizeof buf), x->split);
  }
  bool mpi = x->comm && x->comm->mpi != MPI_COMM_NULL;
  if (x->split == 0 && mpi) *out = eq_rows_split(x->local, x->comm->mpi);
  else *out = eq_rows_replicated(x->local);
  return EQ_OK;
}

eq_dnd *eq_dnd_from_rows_result(eq_tensor *local, const eq_dnd *like) {
  if (!local) return NULL;
  if (!like) {
    eq_tensor_free(local);
    eq_error(EQ_ERR_VALUE, "eq_dnd_from_rows_result: NULL array");
    return NULL;
  }
  eq_dnd *r = eq_dnd_from_local(local, like->split == 0 ? 0 : EQ_DND_NONE, like->comm);
  eq_tensor_free(local);
  return r;
}

eq_dnd *eq_dnd_rbf(const eq_dnd *x, const eq_dnd *y, double gamma) {
  eq_dnd *r = eq_dnd_cdist(x, y, true);
  if (!r) return NULL;
  if (!(gamma > 0)) gamma = 1.0 / (double)x->shape[1];
  int64_t n = eq_numel(r->local);
  if (r->dtype == EQ_F32) {
    float *p = eq_f32(r->local);
    for (int64_t i = 0; i < n; i++) p[i] = expf((float)(-gamma) * p[i] * p[i]);
  } else {
    double *p = eq_f64(r->local);
    for (int64_t i = 0; i < n; i++) p[i] = exp(-gamma * p[i] * p[i]);
  }
  return r;
}

eq_dnd *eq_dnd_manhattan(const eq_dnd *x, const eq_dnd *y) {
  if (!x || !y) {
    eq_error(EQ_ERR_VALUE, "eq_dnd_manhattan: NULL operand");
    return NULL;
  }
  eq_rows rows;
  if (eq_rows_from_dnd(x, &rows)) return NULL;
  eq_tensor *yl = NULL;
  if (y->split == EQ_DND_NONE) {
    yl = y->local;
  } else {
    yl = eq_dnd_to_tensor(y); /* the whole y on every rank */
    if (!yl) return NULL;
  }
  eq_tensor *res = eq_manhattan_distances(rows, yl);
  if (yl != y->local) eq_tensor_free(yl);
  return eq_dnd_from_rows_result(res, x);
}
