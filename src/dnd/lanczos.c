/* Lanczos tridiagonalisation of a distributed symmetric matrix (HeAT's
 * ht.lanczos) with full reorthogonalisation.
 *
 * Each rank owns a block of rows of A (a split-0 block, or the transpose of
 * a split-1 column block: A is symmetric) and the same rows of every Lanczos
 * vector. One step: all-gather the current vector (the matvec needs all of
 * it), y = A_rows q locally, then classical Gram-Schmidt twice against the
 * whole basis (one all-reduce of j + 1 dot products per pass; the first
 * pass's coefficient on q is alpha, the second corrects it), and one
 * all-reduce for beta = |y|. Orthogonalising against every vector, not only
 * the last two, keeps V orthonormal to rounding, so Ritz values do not
 * repeat ("ghosts") however many steps are taken. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

#define LANCZOS_SEED 0x6c616e637a6f73ull /* the fixed start / restart vectors */

typedef struct lz {
  const eq_comm *c;
  bool dist, trans;        /* rows spread over ranks; local block is a column block */
  int64_t n, nl, off, m;   /* global size, local rows, their offset, steps */
  const double *A;         /* local block, f64 */
  double *V;               /* m x nl: local rows of the basis, one vector per row */
  double *qf, *h;          /* the whole current vector (n); dot products (2 m) */
  int64_t *cnt, *dsp;      /* allgatherv layout of the rows */
} lz;

static eq_status sum(const lz *z, double *buf, int64_t k) {
  return z->dist ? eq_comm_allreduce(z->c, buf, k, EQ_F64, EQ_REDUCE_SUM) : EQ_OK;
}

/* y (local rows) = A q for the basis vector j. */
static eq_status matvec(lz *z, int64_t j, double *y) {
  const double *q = z->V + j * z->nl;
  eq_status st = EQ_OK;
  if (z->dist) st = eq_comm_allgatherv(z->c, q, z->qf, z->cnt, z->dsp, EQ_F64);
  else memcpy(z->qf, q, sizeof(double) * (size_t)z->n);
  if (st || z->nl == 0) return st;
  if (z->trans) /* the n x nl column block, transposed: our rows by symmetry */
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)z->n, (int)z->nl, 1.0, z->A, (int)z->nl, z->qf, 1, 0.0, y, 1);
  else
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)z->nl, (int)z->n, 1.0, z->A, (int)z->n, z->qf, 1, 0.0, y, 1);
  return st;
}

/* y -= V[0..k) V[0..k)^T y, twice; h[0..k) receives the summed coefficients. */
static eq_status orthogonalise(lz *z, int64_t k, double *y, double *h) {
  eq_status st = EQ_OK;
  for (int64_t i = 0; i < k; i++) h[i] = 0;
  double *g = z->h + z->m;
  for (int pass = 0; pass < 2 && !st && k > 0; pass++) {
    if (z->nl > 0)
      cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)z->nl, 1.0, z->V, (int)z->nl, y, 1, 0.0, g, 1);
    else
      for (int64_t i = 0; i < k; i++) g[i] = 0;
    if ((st = sum(z, g, k))) break;
    if (z->nl > 0)
      cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, (int)z->nl, -1.0, z->V, (int)z->nl, g, 1, 1.0, y, 1);
    for (int64_t i = 0; i < k; i++) h[i] += g[i];
  }
  return st;
}

static eq_status norm(const lz *z, const double *y, double *out) {
  double s = 0;
  for (int64_t i = 0; i < z->nl; i++) s += y[i] * y[i];
  eq_status st = sum(z, &s, 1);
  *out = sqrt(s);
  return st;
}

/* A pseudo-random vector (the same global vector at any P) into y. */
static void random_rows(const lz *z, uint64_t stream, double *y) {
  for (int64_t i = 0; i < z->nl; i++) {
    uint32_t r[4];
    eq_philox_at(LANCZOS_SEED, stream, (uint64_t)(z->off + i), r);
    y[i] = ((double)r[0] + 0.5) / 4294967296.0 - 0.5;
  }
}

/* The local rows of v0 (n), redistributed to A's row layout when needed. */
static eq_status start_vector(const lz *z, const eq_dnd *a, const eq_dnd *v0, double *y) {
  if (!v0) {
    random_rows(z, 0, y);
    return EQ_OK;
  }
  eq_dnd *r = NULL;
  const eq_dnd *src = v0;
  int P = a->comm->size;
  bool fits = z->dist ? v0->split == 0 && !memcmp(v0->counts, a->counts, sizeof(int64_t) * (size_t)P)
                      : v0->split == EQ_DND_NONE || P == 1;
  if (!fits) {
    r = dnd_relayout(v0, z->dist ? 0 : EQ_DND_NONE, z->dist ? a->counts : NULL);
    if (!r) return eq_error_code();
    src = r;
  }
  for (int64_t i = 0; i < z->nl; i++) y[i] = eq_get_flat(src->local, i);
  eq_dnd_free(r);
  return EQ_OK;
}

static eq_status check_args(const eq_dnd *a, int64_t m, const eq_dnd *v0) {
  char b[128], b2[128];
  if (!a) return eq_error(EQ_ERR_VALUE, "eq_dnd_lanczos: NULL matrix");
  if (a->ndim != 2 || a->shape[0] != a->shape[1] || a->shape[0] == 0)
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_lanczos: needs a non-empty square matrix, got %s", eq_dnd_str(a, b, sizeof b));
  if (a->dtype != EQ_F32 && a->dtype != EQ_F64)
    return eq_error(EQ_ERR_DTYPE, "eq_dnd_lanczos: needs float32 or float64, got %s", eq_dnd_str(a, b, sizeof b));
  if (m < 1 || m > a->shape[0])
    return eq_error(EQ_ERR_VALUE, "eq_dnd_lanczos: m=%lld steps is not in [1, n=%lld]", (long long)m,
                    (long long)a->shape[0]);
  if (v0 && (v0->ndim != 1 || v0->shape[0] != a->shape[0] || v0->comm != a->comm))
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_lanczos: start vector %s does not fit %s", eq_dnd_str(v0, b2, sizeof b2),
                    eq_dnd_str(a, b, sizeof b));
  return EQ_OK;
}

eq_status eq_dnd_lanczos(const eq_dnd *a, int64_t m, const eq_dnd *v0, eq_dnd **v_out, eq_dnd **t_out,
                         double *beta_out) {
  if (v_out) *v_out = NULL;
  if (t_out) *t_out = NULL;
  if (beta_out) *beta_out = NAN;
  eq_status st = check_args(a, m, v0);
  if (st) return st;
  const eq_comm *c = a->comm;
  lz z = {.c = c, .dist = a->split != EQ_DND_NONE && c->size > 1, .trans = a->split == 1, .n = a->shape[0], .m = m};
  if (z.dist) z.nl = a->counts[c->rank], z.off = a->offsets[c->rank];
  else z.nl = z.n;
  if (a->split == 1 && !z.dist) z.trans = false; /* one rank: the block is all of A */
  int64_t nloc = eq_numel(a->local);
  double *own = NULL;
  if (a->dtype == EQ_F64 && eq_is_contiguous(a->local)) {
    z.A = eq_data_ptr(a->local);
  } else if ((own = malloc(sizeof(double) * (size_t)(nloc + 1)))) {
    for (int64_t i = 0; i < nloc; i++) own[i] = eq_get_flat(a->local, i);
    z.A = own;
  }
  z.V = malloc(sizeof(double) * (size_t)(m * z.nl + 1));
  z.qf = malloc(sizeof(double) * (size_t)z.n);
  z.h = malloc(sizeof(double) * (size_t)(2 * m + 2));
  z.cnt = malloc(sizeof(int64_t) * 2 * (size_t)c->size);
  double *y = malloc(sizeof(double) * (size_t)(z.nl + 1)), *T = calloc((size_t)(m * m), sizeof(double));
  if (!z.A || !z.V || !z.qf || !z.h || !z.cnt || !y || !T) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_lanczos: out of memory");
  if (!st && z.dist) {
    z.dsp = z.cnt + c->size;
    for (int r = 0; r < c->size; r++) z.cnt[r] = a->counts[r], z.dsp[r] = a->offsets[r];
  }
  double beta = 0, nrm = 0, scale = 0;
  if (!st) st = start_vector(&z, a, v0, y);
  if (!st) st = norm(&z, y, &nrm);
  if (!st && !(nrm > 0)) st = eq_error(EQ_ERR_VALUE, "eq_dnd_lanczos: the start vector is zero (or not finite)");
  for (int64_t i = 0; i < z.nl && !st; i++) z.V[i] = y[i] / nrm;
  for (int64_t j = 0; j < m && !st; j++) {
    double *h = z.h;
    st = matvec(&z, j, y);
    if (!st) st = orthogonalise(&z, j + 1, y, h);
    if (!st) st = norm(&z, y, &beta);
    if (st) break;
    T[j * m + j] = h[j];
    scale = fmax(scale, fabs(h[j]) + (j > 0 ? T[j * m + j - 1] : 0) + beta);
    if (j + 1 == m) break;
    double *next = z.V + (j + 1) * z.nl;
    if (beta > 1e-12 * scale) {
      T[j * m + j + 1] = T[(j + 1) * m + j] = beta;
      for (int64_t i = 0; i < z.nl; i++) next[i] = y[i] / beta;
      continue;
    }
    /* breakdown: the basis spans an invariant subspace; go on with a random
     * direction orthogonal to it (T gets a zero off-diagonal there) */
    random_rows(&z, (uint64_t)j + 1, y);
    st = orthogonalise(&z, j + 1, y, h);
    if (!st) st = norm(&z, y, &nrm);
    if (!st && !(nrm > 0)) st = eq_error(EQ_ERR_VALUE, "eq_dnd_lanczos: no direction left after %lld steps", (long long)j + 1);
    for (int64_t i = 0; i < z.nl && !st; i++) next[i] = y[i] / nrm;
  }
  eq_dtype od = a->dtype;
  if (!st && v_out) {
    bool split = a->split != EQ_DND_NONE;
    eq_dnd *V = dnd_new(od, 2, (int64_t[]){z.n, m}, split ? 0 : EQ_DND_NONE, split ? a->counts : NULL, c);
    if (!V) st = eq_error_code();
    for (int64_t i = 0; i < z.nl && !st; i++)
      for (int64_t j = 0; j < m; j++) eq_set_flat(V->local, i * m + j, z.V[j * z.nl + i]);
    *v_out = V;
  }
  if (!st && t_out) {
    eq_dnd *Tm = dnd_new(od, 2, (int64_t[]){m, m}, EQ_DND_NONE, NULL, c);
    if (!Tm) st = eq_error_code();
    for (int64_t i = 0; i < m * m && !st; i++) eq_set_flat(Tm->local, i, T[i]);
    *t_out = Tm;
  }
  if (!st && beta_out) *beta_out = beta;
  if (st && v_out) eq_dnd_free(*v_out), *v_out = NULL;
  free(own), free(z.V), free(z.qf), free(z.h), free(z.cnt), free(y), free(T);
  return st;
}
