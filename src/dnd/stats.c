/* cov and bincount: statistics whose small result is replicated, computed
 * from each rank's block plus an Allreduce of the partial results. */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

/* ---------------------------------------------------------------- cov */

/* A (variables x observations) operand of cov: its array, the axis holding
 * observations (the other holds variables), and the variable count. */
typedef struct {
  const eq_dnd *x;
  eq_dnd *owned;
  int oax;
  int64_t nv, nobs;
} cov_part;

static eq_status cov_prepare(const char *what, const eq_dnd *x, bool rowvar, cov_part *p) {
  char b[128];
  memset(p, 0, sizeof *p);
  if (x->ndim < 1 || x->ndim > 2)
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_cov: %s must be 1-d or 2-d, got %s", what, eq_dnd_str(x, b, sizeof b));
  if (x->dtype == EQ_BF16 || x->dtype == EQ_F16)
    return eq_error(EQ_ERR_DTYPE, "eq_dnd_cov: %s has storage-only dtype %s", what, eq_dtype_name(x->dtype));
  p->x = x;
  /* NumPy: a 1-d array (or a single row with rowvar=false... kept as is when
   * its first dim is 1) is one variable. */
  if (x->ndim == 1) {
    p->oax = 0;
    p->nv = 1;
  } else if (!rowvar && x->shape[0] != 1) {
    p->oax = 0;
    p->nv = x->shape[1];
  } else {
    p->oax = 1;
    p->nv = x->shape[0];
  }
  p->nobs = x->shape[p->oax];
  return EQ_OK;
}

/* Copies the local block of part p, observations [0, nloc), into rows
 * [v0, v0 + nv) of the row-major (nvar x nloc) matrix X. */
static void cov_gather_rows(const cov_part *p, double *X, int64_t v0, int64_t nloc) {
  const eq_tensor *L = p->x->local;
  for (int64_t v = 0; v < p->nv; v++)
    for (int64_t o = 0; o < nloc; o++) {
      int64_t flat = p->x->ndim == 1 ? o : (p->oax == 1 ? v * L->shape[1] + o : o * L->shape[1] + v);
      X[(v0 + v) * nloc + o] = eq_get_flat(L, flat);
    }
}

eq_dnd *eq_dnd_cov(const eq_dnd *m, const eq_dnd *y, bool rowvar, bool bias, int64_t ddof) {
  if (!m) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_cov: NULL array");
  cov_part parts[2];
  int np = y ? 2 : 1;
  if (cov_prepare("m", m, rowvar, &parts[0]) || (y && cov_prepare("y", y, rowvar, &parts[1]))) return NULL;
  if (y && (y->comm != m->comm || parts[1].nobs != parts[0].nobs)) {
    char b0[128], b1[128];
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_cov: m %s and y %s differ in their number of observations (%lld vs %lld)",
                    eq_dnd_str(m, b0, sizeof b0), eq_dnd_str(y, b1, sizeof b1), (long long)parts[0].nobs,
                    (long long)parts[1].nobs);
  }
  int64_t N = parts[0].nobs;
  int64_t dd = ddof != EQ_DND_DDOF_DEFAULT ? ddof : (bias ? 0 : 1);
  if (N - dd <= 0)
    return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_cov: degrees of freedom %lld - ddof %lld <= 0", (long long)N,
                    (long long)dd);
  const eq_comm *c = m->comm;
  /* Work layout: observations split over the ranks (balanced), variables
   * local; a variable-split operand is resplit by one all-to-all. A fully
   * replicated input is computed on every rank without communication. */
  bool distributed = m->split != EQ_DND_NONE || (y && y->split != EQ_DND_NONE);
  eq_status st = EQ_OK;
  for (int i = 0; i < np && !st && distributed; i++) {
    cov_part *p = &parts[i];
    bool good = p->x->split == p->oax && eq_dnd_is_balanced(p->x);
    if (!good && !(p->owned = dnd_relayout(p->x, p->oax, NULL))) st = eq_error_code();
    if (p->owned) p->x = p->owned;
  }
  int64_t nv = parts[0].nv + (y ? parts[1].nv : 0);
  int64_t nloc = st ? 0 : parts[0].x->local->shape[parts[0].oax];
  double *X = st ? NULL : malloc(sizeof(double) * (size_t)(nv * nloc + nv * nv + nv + 1));
  if (!st && !X) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_cov: out of memory");
  eq_dnd *r = NULL;
  if (!st) {
    double *G = X + nv * nloc, *mu = G + nv * nv;
    cov_gather_rows(&parts[0], X, 0, nloc);
    if (y) cov_gather_rows(&parts[1], X, parts[0].nv, nloc);
    /* Exact global mean first (one Allreduce), so the centred products need
     * no sum-of-squares cancellation. */
    for (int64_t v = 0; v < nv; v++) {
      double s = 0;
      for (int64_t o = 0; o < nloc; o++) s += X[v * nloc + o];
      mu[v] = s;
    }
    if (distributed) st = eq_comm_allreduce(c, mu, nv, EQ_F64, EQ_REDUCE_SUM);
    for (int64_t v = 0; v < nv && !st; v++) {
      mu[v] /= (double)N;
      for (int64_t o = 0; o < nloc; o++) X[v * nloc + o] -= mu[v];
    }
    if (!st) {
      memset(G, 0, sizeof(double) * (size_t)(nv * nv));
      if (nloc > 0 && nv > 0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nv, (int)nv, (int)nloc, 1.0, X, (int)nloc, X,
                    (int)nloc, 0.0, G, (int)nv);
      if (distributed) st = eq_comm_allreduce(c, G, nv * nv, EQ_F64, EQ_REDUCE_SUM);
    }
    if (!st) {
      /* NumPy squeezes: one variable gives a 0-d result. */
      eq_dtype od = m->dtype == EQ_F32 && (!y || y->dtype == EQ_F32) ? EQ_F32 : EQ_F64;
      int64_t shape[2] = {nv, nv};
      r = dnd_new(od, nv == 1 ? 0 : 2, shape, EQ_DND_NONE, NULL, c);
      for (int64_t i = 0; r && i < nv * nv; i++) eq_set_flat(r->local, i, G[i] / (double)(N - dd));
    }
  }
  free(X);
  for (int i = 0; i < np; i++) eq_dnd_free(parts[i].owned);
  return r;
}

/* ---------------------------------------------------------------- bincount */

/* Element i of an integer block, exactly (int64 beyond 2^53 too). */
static int64_t int_at(const eq_tensor *t, int64_t i) {
  const char *p = eq_data_ptr(t);
  switch (t->dtype) {
    case EQ_I32: return ((const int32_t *)p)[i];
    case EQ_I64: return ((const int64_t *)p)[i];
    default: return ((const uint8_t *)p)[i]; /* U8, BOOL */
  }
}

eq_dnd *eq_dnd_bincount(const eq_dnd *x, const eq_dnd *weights, int64_t minlength) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_bincount: NULL array");
  char b[128], bw[128];
  if (x->ndim != 1) return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_bincount: x must be 1-d, got %s", eq_dnd_str(x, b, sizeof b));
  if (eq_dtype_is_float(x->dtype) || x->dtype == EQ_BF16 || x->dtype == EQ_F16)
    return DND_FAIL(EQ_ERR_DTYPE, "eq_dnd_bincount: x must be an integer array, got %s", eq_dnd_str(x, b, sizeof b));
  if (minlength < 0)
    return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_bincount: minlength %lld is negative", (long long)minlength);
  if (weights && (weights->ndim != 1 || weights->shape[0] != x->shape[0] || weights->comm != x->comm))
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_bincount: weights %s do not match x %s",
                    eq_dnd_str(weights, bw, sizeof bw), eq_dnd_str(x, b, sizeof b));
  if (weights && (weights->dtype == EQ_BF16 || weights->dtype == EQ_F16))
    return DND_FAIL(EQ_ERR_DTYPE, "eq_dnd_bincount: weights have storage-only dtype %s",
                    eq_dtype_name(weights->dtype));
  const eq_comm *c = x->comm;
  /* A replicated x is counted once, by rank 0; weights follow x's layout. */
  bool counts_here = x->split != EQ_DND_NONE || c->rank == 0;
  eq_dnd *wl = NULL;
  const eq_tensor *W = NULL;
  if (weights) {
    if (x->split != EQ_DND_NONE && !dnd_same_layout(weights, x)) {
      if (!(wl = dnd_relayout(weights, 0, x->counts))) return NULL;
    } else if (x->split == EQ_DND_NONE && weights->split != EQ_DND_NONE) {
      if (!(wl = dnd_relayout(weights, EQ_DND_NONE, NULL))) return NULL;
    }
    W = wl ? wl->local : weights->local;
  }
  int64_t n = counts_here ? eq_numel(x->local) : 0;
  /* One Allreduce agrees on the largest value and the most negative one, so
   * every rank fails alike on negative input. */
  int64_t ext[2] = {-1, 0};
  for (int64_t i = 0; i < n; i++) {
    int64_t v = int_at(x->local, i);
    if (v > ext[0]) ext[0] = v;
    if (v < 0) ext[1] = v == INT64_MIN ? INT64_MAX : (-v > ext[1] ? -v : ext[1]);
  }
  if (eq_comm_allreduce(c, ext, 2, EQ_I64, EQ_REDUCE_MAX)) {
    eq_dnd_free(wl);
    return NULL;
  }
  if (ext[1] > 0) {
    eq_dnd_free(wl);
    return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_bincount: x holds negative value %lld; bins need non-negative integers",
                    (long long)-ext[1]);
  }
  int64_t len = ext[0] + 1 > minlength ? ext[0] + 1 : minlength;
  eq_dnd *r = eq_dnd_zeros(weights ? EQ_F64 : EQ_I64, 1, &len, EQ_DND_NONE, c);
  eq_status st = r ? EQ_OK : eq_error_code();
  if (!st) {
    if (weights) {
      double *h = eq_data_ptr(r->local);
      for (int64_t i = 0; i < n; i++) h[int_at(x->local, i)] += eq_get_flat(W, i);
    } else {
      int64_t *h = eq_data_ptr(r->local);
      for (int64_t i = 0; i < n; i++) h[int_at(x->local, i)]++;
    }
    st = eq_comm_allreduce(c, eq_data_ptr(r->local), len, weights ? EQ_F64 : EQ_I64, EQ_REDUCE_SUM);
  }
  eq_dnd_free(wl);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}
