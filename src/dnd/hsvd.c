/* Truncated hierarchical SVD (HeAT's hsvd_rank / hsvd_rtol; Iwen & Ong 2016,
 * Himpe, Leibner & Rave 2018).
 *
 * The matrix M whose columns are cut over the ranks is A itself for a
 * column-split A, and A^T for a row-split A (its local block, row-major, is
 * the column-major block of A^T: no copy beyond the float64 conversion).
 * Every rank computes the truncated left factor U_k S_k of its columns (a
 * leaf); the factors are merged pairwise up a binary tree (rank r takes
 * r + s at stride s = 1, 2, 4, ...; any P, 2P - 1 nodes), each merge the
 * truncated SVD of the concatenation [U_1 S_1, U_2 S_2]. The root's U
 * (orthonormal) is broadcast; the other factor is W = M^T U / sigma with
 * sigma = |M^T u_i| (the exact norms of the projections), computed on the
 * local columns without communication beyond one all-reduce of r norms.
 *
 * Why the error estimate bounds the error: for any orthogonal projector P and
 * a node whose kept directions Q span leading left singular vectors of its
 * input X, (I - P) X splits into (I - P) Q X and (I - P) (I - Q) X with zero
 * cross term (Q is a spectral projector of X X^T), so |(I - P) X|^2 <=
 * |(I - P) Q X|^2 + |(I - Q) X|^2; by induction up the tree |A - U U^T A|_F^2
 * is at most the sum of every node's discarded sigma^2. U diag(S) V^T is
 * exactly U U^T A (or A V V^T), so err_est = sqrt(sum) / |A|_F bounds the
 * relative reconstruction error (up to rounding).
 *
 * Columns are kept in column-major float64 buffers (mm x k, leading dim
 * mm): concatenating two factors is one memcpy each. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

typedef struct hsvd_node {
  double *f;   /* mm x k, column-major: U_k S_k below the root, U_k at the root */
  double *sig; /* k singular values (root only) */
  int64_t k;
  double err2; /* discarded sigma^2 of this node's subtree */
} hsvd_node;

typedef struct hsvd_plan {
  int64_t mm, maxrank, shift;
  double atol; /* < 0: no tolerance */
} hsvd_plan;

static eq_status oom(void) { return eq_error(EQ_ERR_MEMORY, "eq_dnd_hsvd: out of memory"); }

/* Rank to keep of the singular values s[0..q) (descending). */
static int64_t keep_rank(const hsvd_plan *p, const double *s, int64_t q, bool root) {
  int64_t t = q;
  if (p->atol >= 0) {
    /* smallest t whose tail sum_{i >= t} s_i^2 is within atol^2 */
    double tail = 0, a2 = p->atol * p->atol;
    t = q;
    for (int64_t i = q - 1; i >= 0; i--) {
      tail += s[i] * s[i];
      if (tail > a2) break;
      t = i;
    }
  }
  if (p->maxrank > 0 && t > p->maxrank) t = p->maxrank;
  if (!root) t += p->shift;
  if (t > q) t = q;
  if (root && t == 0 && q > 0) t = 1;
  return t;
}

/* Truncated SVD of the column-major mm x c matrix X (destroyed). The node
 * receives its kept factor; its err2 grows by the discarded energy. */
static eq_status truncate_node(const hsvd_plan *p, double *X, int64_t c, bool root, hsvd_node *nd) {
  int64_t mm = p->mm, q = mm < c ? mm : c;
  free(nd->f);
  free(nd->sig);
  nd->f = nd->sig = NULL;
  nd->k = 0;
  if (q == 0) return EQ_OK;
  double *U = malloc(sizeof(double) * (size_t)(mm * q)), *s = malloc(sizeof(double) * (size_t)q);
  double *sup = malloc(sizeof(double) * (size_t)q);
  eq_status st = U && s && sup ? EQ_OK : oom();
  if (!st) {
    int info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'S', 'N', (int)mm, (int)c, X, (int)mm, s, U, (int)mm, NULL, 1, sup);
    if (info) st = eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: SVD of a %lld x %lld block failed (LAPACK info %d)",
                            (long long)mm, (long long)c, info);
  }
  if (!st) {
    int64_t k = keep_rank(p, s, q, root);
    for (int64_t i = k; i < q; i++) nd->err2 += s[i] * s[i];
    if (!root)
      for (int64_t j = 0; j < k; j++) cblas_dscal((int)mm, s[j], U + j * mm, 1);
    nd->f = U, nd->sig = s, nd->k = k;
    U = s = NULL;
  }
  free(U);
  free(s);
  free(sup);
  return st;
}

/* Receives the child's factor and merges it into nd. A failed child sends
 * k = -1 and nothing more; a failed parent still receives, so that the
 * child never blocks, and reports its own error. */
static eq_status merge_child(const hsvd_plan *p, const eq_comm *c, int child, bool root, hsvd_node *nd,
                             eq_status st) {
  double hdr[2];
  eq_status cst = eq_comm_sendrecv(c, NULL, 0, child, hdr, 2, child, EQ_F64);
  if (cst) return cst;
  int64_t k2 = (int64_t)hdr[0], mm = p->mm;
  double *recv = k2 > 0 ? malloc(sizeof(double) * (size_t)(mm * k2)) : NULL;
  if (k2 > 0) {
    /* out of memory here cannot be hidden from the child: it blocks in send */
    cst = recv ? eq_comm_sendrecv(c, NULL, 0, child, recv, mm * k2, child, EQ_F64) : oom();
    if (cst) {
      free(recv);
      return cst;
    }
  }
  if (!st && k2 < 0) st = eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: failed on rank %d", child);
  if (st) {
    free(recv);
    return st;
  }
  nd->err2 += hdr[1];
  if (k2 == 0 && !root) return EQ_OK; /* nothing to merge: the factor goes on up */
  double *cat = malloc(sizeof(double) * (size_t)(mm * (nd->k + k2) + 1));
  if (!cat) st = oom();
  if (!st) {
    if (nd->k) memcpy(cat, nd->f, sizeof(double) * (size_t)(mm * nd->k));
    if (k2 > 0) memcpy(cat + mm * nd->k, recv, sizeof(double) * (size_t)(mm * k2));
    st = truncate_node(p, cat, nd->k + k2, root, nd);
  }
  free(cat);
  free(recv);
  return st;
}

/* Sends the factor to the parent (k = -1 reports a failure). */
static eq_status send_parent(const hsvd_plan *p, const eq_comm *c, int parent, const hsvd_node *nd, eq_status st) {
  double hdr[2] = {st ? -1.0 : (double)nd->k, nd->err2};
  eq_status cst = eq_comm_sendrecv(c, hdr, 2, parent, NULL, 0, parent, EQ_F64);
  if (!cst && !st && nd->k > 0) cst = eq_comm_sendrecv(c, nd->f, p->mm * nd->k, parent, NULL, 0, parent, EQ_F64);
  return st ? st : cst;
}

/* The local block as float64 in M's column-major layout (mm x *cols). */
static double *leaf_matrix(const eq_dnd *a, bool trans, int64_t *cols) {
  const eq_tensor *t = a->local;
  int64_t r = t->shape[0], c = t->shape[1];
  double *x = malloc(sizeof(double) * (size_t)(r * c + 1));
  *cols = trans ? r : c;
  if (!x) return NULL;
  /* trans: the row-major r x c block is already M's column-major c x r block */
  bool contig = eq_is_contiguous(t);
  const double *p64 = contig && t->dtype == EQ_F64 ? eq_data_ptr(t) : NULL;
  const float *p32 = contig && t->dtype == EQ_F32 ? eq_data_ptr(t) : NULL;
  if (trans && p64)
    memcpy(x, p64, sizeof(double) * (size_t)(r * c));
  else
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) {
        int64_t at = i * c + j;
        x[trans ? at : j * r + i] = p64 ? p64[at] : p32 ? (double)p32[at] : eq_get_flat(t, at);
      }
  return x;
}

/* A rows x cols array (global rows_g) from a column-major local buffer. */
static eq_dnd *from_colmajor(const double *v, int64_t rows, int64_t cols, int64_t rows_g, int split,
                             const int64_t *counts, eq_dtype d, const eq_comm *c) {
  eq_dnd *x = dnd_new(d, 2, (int64_t[]){rows_g, cols}, split, counts, c);
  if (!x) return NULL;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) eq_set_flat(x->local, i * cols + j, v[j * rows + i]);
  return x;
}

static eq_status check_args(const eq_dnd *a, int64_t maxrank, double rtol, int64_t shift) {
  char b[128];
  if (!a) return eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: NULL array");
  if (a->ndim != 2 || a->shape[0] == 0 || a->shape[1] == 0)
    return eq_error(EQ_ERR_SHAPE, "eq_dnd_hsvd: needs a non-empty 2-d matrix, got %s", eq_dnd_str(a, b, sizeof b));
  if (a->dtype != EQ_F32 && a->dtype != EQ_F64)
    return eq_error(EQ_ERR_DTYPE, "eq_dnd_hsvd: needs float32 or float64, got %s", eq_dnd_str(a, b, sizeof b));
  if (maxrank < 0) return eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: maxrank=%lld < 0", (long long)maxrank);
  if (!(rtol >= 0 && rtol < 1)) return eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: rtol=%g is not in [0, 1)", rtol);
  if (maxrank == 0 && rtol == 0)
    return eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: needs maxrank > 0 or rtol > 0 (both are 0)");
  if (shift < 0) return eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: safetyshift=%lld < 0", (long long)shift);
  return EQ_OK;
}

eq_status eq_dnd_hsvd(const eq_dnd *a, int64_t maxrank, double rtol, int64_t safetyshift, eq_dnd **u_out,
                      eq_dnd **s_out, eq_dnd **v_out, double *err_est) {
  if (u_out) *u_out = NULL;
  if (s_out) *s_out = NULL;
  if (v_out) *v_out = NULL;
  if (err_est) *err_est = NAN;
  eq_status st = check_args(a, maxrank, rtol, safetyshift);
  if (st) return st;
  const eq_comm *c = a->comm;
  bool trans = a->split == 0, dist = a->split != EQ_DND_NONE && c->size > 1;
  int P = dist ? c->size : 1, me = dist ? c->rank : 0;
  hsvd_plan p = {trans ? a->shape[1] : a->shape[0], maxrank, safetyshift, -1};
  int64_t mm = p.mm, cols = 0;

  /* |A|_F^2, then the leaf */
  double nrm2 = 0;
  int64_t nl = eq_numel(a->local);
  for (int64_t i = 0; i < nl; i++) {
    double x = eq_get_flat(a->local, i);
    nrm2 += x * x;
  }
  if (dist && (st = eq_comm_allreduce(c, &nrm2, 1, EQ_F64, EQ_REDUCE_SUM))) return st;
  if (rtol > 0) p.atol = sqrt(nrm2) * rtol / sqrt(2.0 * P - 1);
  hsvd_node nd = {0};
  double *X = leaf_matrix(a, trans, &cols);
  st = X ? truncate_node(&p, X, cols, P == 1, &nd) : oom();
  free(X);

  /* the binary merge tree: at stride s, rank r (r % 2s == 0) takes r + s */
  for (int s = 1; s < P; s *= 2) {
    if (me % (2 * s) == s) {
      st = send_parent(&p, c, me - s, &nd, st);
      break;
    }
    if (me + s < P) st = merge_child(&p, c, me + s, 2 * s >= P, &nd, st);
  }

  /* the root's U (mm x r) and the error to every rank */
  double hdr[2] = {st ? -1.0 : (double)nd.k, nd.err2};
  eq_status cst = dist ? eq_comm_bcast(c, hdr, 2, EQ_F64, 0) : EQ_OK;
  if (cst) st = cst;
  int64_t r = (int64_t)hdr[0];
  if (!st && r < 0) st = eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: failed on another rank");
  if (me != 0 && r > 0) {
    free(nd.f);
    nd.f = malloc(sizeof(double) * (size_t)(mm * r));
    if (!nd.f && !st) st = oom();
  }
  /* agree before the broadcast of U, so that no rank waits in it alone */
  if (dist) {
    int bad = st != EQ_OK;
    cst = eq_comm_allreduce(c, &bad, 1, EQ_I32, EQ_REDUCE_MAX);
    if (!st && (cst || bad)) st = cst ? cst : eq_error(EQ_ERR_VALUE, "eq_dnd_hsvd: failed on another rank");
    if (!st && r > 0) st = eq_comm_bcast(c, nd.f, mm * r, EQ_F64, 0);
  }

  /* W = M^T U on the local columns; sigma_j = |W e_j| */
  double *W = NULL, *sig = NULL;
  if (!st) {
    X = leaf_matrix(a, trans, &cols);
    W = malloc(sizeof(double) * (size_t)(cols * r + 1));
    sig = calloc((size_t)r + 1, sizeof(double));
    if (!X || !W || !sig) st = oom();
    if (!st && cols > 0 && r > 0)
      cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)cols, (int)r, (int)mm, 1.0, X, (int)mm, nd.f,
                  (int)mm, 0.0, W, (int)cols);
    free(X);
    for (int64_t j = 0; j < r && !st; j++)
      for (int64_t i = 0; i < cols; i++) sig[j] += W[j * cols + i] * W[j * cols + i];
    if (!st && dist) st = eq_comm_allreduce(c, sig, r, EQ_F64, EQ_REDUCE_SUM);
    for (int64_t j = 0; j < r && !st; j++) {
      sig[j] = sqrt(sig[j]);
      /* a zero direction keeps a zero column rather than 0 / 0 */
      if (sig[j] > 0) cblas_dscal((int)cols, 1.0 / sig[j], W + j * cols, 1);
    }
  }
  eq_dtype od = a->dtype;
  if (!st) {
    int64_t m = a->shape[0], n = a->shape[1];
    int wsplit = a->split == EQ_DND_NONE ? EQ_DND_NONE : 0;
    const int64_t *wcounts = wsplit == 0 ? a->counts : NULL;
    eq_dnd *U = NULL, *V = NULL, *S = NULL;
    if (u_out)
      U = trans ? from_colmajor(W, cols, r, m, wsplit, wcounts, od, c)
                : from_colmajor(nd.f, mm, r, m, EQ_DND_NONE, NULL, od, c);
    if (v_out)
      V = trans ? from_colmajor(nd.f, mm, r, n, EQ_DND_NONE, NULL, od, c)
                : from_colmajor(W, cols, r, n, wsplit, wcounts, od, c);
    if (s_out && (S = dnd_new(od, 1, &r, EQ_DND_NONE, NULL, c)))
      for (int64_t j = 0; j < r; j++) eq_set_flat(S->local, j, sig[j]);
    if ((u_out && !U) || (v_out && !V) || (s_out && !S)) {
      st = eq_error_code();
      eq_dnd_free(U), eq_dnd_free(V), eq_dnd_free(S);
    } else {
      if (u_out) *u_out = U;
      if (v_out) *v_out = V;
      if (s_out) *s_out = S;
      if (err_est) *err_est = nrm2 > 0 ? sqrt(hdr[1] / nrm2) : 0;
    }
  }
  free(W);
  free(sig);
  free(nd.f);
  free(nd.sig);
  return st;
}

eq_status eq_dnd_hsvd_rank(const eq_dnd *a, int64_t maxrank, eq_dnd **u, eq_dnd **s, eq_dnd **v, double *err_est) {
  return eq_dnd_hsvd(a, maxrank, 0, 5, u, s, v, err_est);
}

eq_status eq_dnd_hsvd_rtol(const eq_dnd *a, double rtol, eq_dnd **u, eq_dnd **s, eq_dnd **v, double *err_est) {
  return eq_dnd_hsvd(a, 0, rtol, 5, u, s, v, err_est);
}
