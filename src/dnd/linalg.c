/* Distributed linear algebra: norm, dot, outer, trace; TSQR (tall-skinny QR
 * of a row-split matrix: local QR, one allgather of the small R factors, QR
 * of the stack), tall-skinny SVD (TSQR + SVD of R), least squares through
 * TSQR, conjugate gradient with distributed matvecs; solve, cholesky, inv and
 * eigh factor the (small, square) matrix replicated through LAPACKE.
 * Factorisations compute in float64 and return float32 for float32 input. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

static eq_dtype out_dtype(eq_dtype d) { return d == EQ_F32 ? EQ_F32 : EQ_F64; }

/* The local block as a contiguous float64 copy. */
static double *local_f64(const eq_tensor *t) {
  int64_t n = eq_numel(t);
  double *p = malloc(sizeof(double) * (size_t)(n + 1));
  if (!p) {
    eq_error(EQ_ERR_MEMORY, "eq_dnd linalg: out of memory");
    return NULL;
  }
  if (t->dtype == EQ_F64 && eq_is_contiguous(t))
    memcpy(p, eq_data_ptr(t), sizeof(double) * (size_t)n);
  else
    for (int64_t i = 0; i < n; i++) p[i] = eq_get_flat(t, i);
  return p;
}

static eq_dnd *wrap_f64(const double *v, int ndim, const int64_t *shape, int split, const int64_t *counts,
                        eq_dtype d, const eq_comm *c) {
  eq_dnd *x = dnd_new(d, ndim, shape, split, counts, c);
  if (!x) return NULL;
  int64_t n = eq_numel(x->local);
  if (d == EQ_F64)
    memcpy(eq_data_ptr(x->local), v, sizeof(double) * (size_t)n);
  else
    for (int64_t i = 0; i < n; i++) ((float *)eq_data_ptr(x->local))[i] = (float)v[i];
  return x;
}

static eq_status lapack_check(int info, const char *what) {
  if (info == 0) return EQ_OK;
  if (info > 0) return eq_error(EQ_ERR_VALUE, "%s: matrix is singular or not positive definite (LAPACK info %d)", what, info);
  return eq_error(EQ_ERR_VALUE, "%s: LAPACK argument %d invalid", what, -info);
}

eq_dnd *eq_dnd_norm(const eq_dnd *x) {
  if (!x) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_norm: NULL array");
  eq_dnd *sq = eq_dnd_mul(x, x);
  eq_dnd *s = sq ? eq_dnd_sum(sq, EQ_DND_ALL_AXES, false) : NULL;
  eq_dnd *r = s ? eq_dnd_unary(EQ_DND_SQRT, s) : NULL;
  eq_dnd_free(sq);
  eq_dnd_free(s);
  return r;
}

eq_dnd *eq_dnd_dot(const eq_dnd *a, const eq_dnd *b) { return eq_dnd_matmul(a, b); }

eq_dnd *eq_dnd_outer(const eq_dnd *a, const eq_dnd *b) {
  if (!a || !b || a->ndim != 1 || b->ndim != 1) return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_outer: needs two 1-d arrays");
  eq_dnd *a2 = eq_dnd_expand_dims(a, 1), *b2 = a2 ? eq_dnd_expand_dims(b, 0) : NULL;
  eq_dnd *r = b2 ? eq_dnd_mul(a2, b2) : NULL;
  eq_dnd_free(a2);
  eq_dnd_free(b2);
  return r;
}

eq_status eq_dnd_trace(const eq_dnd *x, double *out) {
  if (!x || x->ndim != 2) return eq_error(EQ_ERR_SHAPE, "eq_dnd_trace: needs a 2-d array");
  int me = x->comm->rank;
  int64_t r0 = x->split == 0 ? x->offsets[me] : 0, c0 = x->split == 1 ? x->offsets[me] : 0;
  int64_t rows = x->local->shape[0], cols = x->local->shape[1];
  double s = 0;
  for (int64_t i = 0; i < rows; i++) {
    int64_t j = r0 + i - c0;
    if (j >= 0 && j < cols) s += eq_get_flat(x->local, i * cols + j);
  }
  eq_status st = x->split == EQ_DND_NONE ? EQ_OK : eq_comm_allreduce(x->comm, &s, 1, EQ_F64, EQ_REDUCE_SUM);
  *out = s;
  return st;
}

/* ---------------------------------------------------------------- TSQR */

/* Q (m x n, split 0, a's row layout) and R (n x n, replicated), diag(R) >= 0. */
static eq_status tsqr(const eq_dnd *a, eq_dnd **q_out, eq_dnd **r_out) {
  if (q_out) *q_out = NULL;
  if (r_out) *r_out = NULL;
  if (!a || a->ndim != 2) return eq_error(EQ_ERR_SHAPE, "eq_dnd_qr: needs a 2-d array");
  int64_t m = a->shape[0], n = a->shape[1];
  if (m < n) {
    char b[128];
    return eq_error(EQ_ERR_UNSUPPORTED,
                    "eq_dnd_qr: %s is wide (m < n): split 0 / None need m >= n (split 1 takes any shape)",
                    eq_dnd_str(a, b, sizeof b));
  }
  const eq_comm *c = a->comm;
  int P = c->size, me = c->rank;
  /* Column-split or replicated input: rows first (one all-to-all or a local cut). */
  eq_dnd *rows = a->split == 0 ? NULL : dnd_relayout(a, 0, NULL);
  if (a->split != 0 && !rows) return eq_error_code();
  const eq_dnd *A = rows ? rows : a;
  int64_t mr = A->local->shape[0], kr = mr < n ? mr : n;
  double *q1 = local_f64(A->local), *tau = malloc(sizeof(double) * (size_t)(n + 1));
  double *rloc = calloc((size_t)(kr * n + 1), sizeof(double));
  int64_t *cnt = malloc(sizeof(int64_t) * 2 * (size_t)P);
  double *stack = NULL, *q2 = NULL, *qloc = NULL, *R = NULL;
  eq_status st = q1 && tau && rloc && cnt ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd_qr: out of memory");
  if (!st && mr > 0) {
    st = lapack_check(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)mr, (int)n, q1, (int)n, tau), "eq_dnd_qr (local geqrf)");
    for (int64_t i = 0; i < kr && !st; i++)
      for (int64_t j = i; j < n; j++) rloc[i * n + j] = q1[i * n + j];
    if (!st)
      st = lapack_check(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)mr, (int)kr, (int)kr, q1, (int)n, tau),
                        "eq_dnd_qr (local orgqr)");
  }
  /* Everyone's R blocks (k_r x n), stacked in rank order. */
  int64_t K = 0;
  if (!st) st = eq_comm_allgather(c, &kr, cnt, 1, EQ_I64);
  if (!st) {
    for (int r = 0; r < P; r++) {
      cnt[P + r] = K * n;
      K += cnt[r];
      cnt[r] *= n;
    }
    stack = malloc(sizeof(double) * (size_t)(K * n + 1));
    if (!stack) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_qr: out of memory");
  }
  if (!st) st = eq_comm_allgatherv(c, rloc, stack, cnt, cnt + P, EQ_F64);
  int64_t my_off = 0;
  if (!st) {
    my_off = cnt[P + me] / n;
    /* Every rank factors the same K x n stack (cheap: K <= P n). */
    double *tau2 = malloc(sizeof(double) * (size_t)(n + 1));
    R = calloc((size_t)(n * n), sizeof(double));
    if (!tau2 || !R) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_qr: out of memory");
    if (!st) st = lapack_check(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)K, (int)n, stack, (int)n, tau2), "eq_dnd_qr (geqrf)");
    for (int64_t i = 0; i < n && !st; i++)
      for (int64_t j = i; j < n; j++) R[i * n + j] = stack[i * n + j];
    if (!st) st = lapack_check(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)K, (int)n, (int)n, stack, (int)n, tau2), "eq_dnd_qr (orgqr)");
    free(tau2);
    q2 = stack;
  }
  if (!st) {
    /* Signs: diag(R) >= 0 (flip rows of R and columns of Q together). */
    double *sign = malloc(sizeof(double) * (size_t)(n + 1));
    qloc = calloc((size_t)(mr * n + 1), sizeof(double));
    if (!sign || !qloc) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_qr: out of memory");
    for (int64_t i = 0; i < n && !st; i++) {
      sign[i] = R[i * n + i] < 0 ? -1 : 1;
      for (int64_t j = 0; j < n; j++) R[i * n + j] *= sign[i];
    }
    /* Q_local = Q1 (mr x kr, leading dim n) @ Q2[my_off : my_off + kr, :] */
    for (int64_t i = 0; i < mr && !st; i++)
      for (int64_t t = 0; t < kr; t++) {
        double v = q1[i * n + t];
        const double *row = q2 + (my_off + t) * n;
        for (int64_t j = 0; j < n; j++) qloc[i * n + j] += v * row[j];
      }
    for (int64_t i = 0; i < mr && !st; i++)
      for (int64_t j = 0; j < n; j++) qloc[i * n + j] *= sign[j];
    free(sign);
  }
  eq_dtype od = out_dtype(a->dtype);
  if (!st && q_out) {
    *q_out = wrap_f64(qloc, 2, (int64_t[]){m, n}, 0, A->counts, od, c);
    if (!*q_out) st = eq_error_code();
  }
  if (!st && r_out) {
    *r_out = wrap_f64(R, 2, (int64_t[]){n, n}, EQ_DND_NONE, NULL, od, c);
    if (!*r_out) st = eq_error_code();
  }
  if (st && q_out) {
    eq_dnd_free(*q_out);
    *q_out = NULL;
  }
  free(q1);
  free(tau);
  free(rloc);
  free(cnt);
  free(stack);
  free(qloc);
  free(R);
  eq_dnd_free(rows);
  return st;
}

eq_status eq_dnd_qr(const eq_dnd *a, eq_dnd **q_out, eq_dnd **r_out) {
  if (a && a->ndim == 2 && a->split == 1) return dnd_qr_columns(a, q_out, r_out);
  return tsqr(a, q_out, r_out);
}

eq_status eq_dnd_svd(const eq_dnd *a, eq_dnd **u_out, eq_dnd **s_out, eq_dnd **vt_out) {
  if (u_out) *u_out = NULL;
  if (s_out) *s_out = NULL;
  if (vt_out) *vt_out = NULL;
  eq_dnd *q = NULL, *r = NULL;
  eq_status st = tsqr(a, u_out ? &q : NULL, &r);
  if (st) return st;
  int64_t n = a->shape[1];
  double *R = local_f64(r->local), *s = malloc(sizeof(double) * (size_t)(n + 1));
  double *ur = malloc(sizeof(double) * (size_t)(n * n + 1)), *vt = malloc(sizeof(double) * (size_t)(n * n + 1));
  if (!R || !s || !ur || !vt) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_svd: out of memory");
  /* Every rank computes the same small SVD of R. */
  if (!st)
    st = lapack_check(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (int)n, (int)n, R, (int)n, s, ur, (int)n, vt, (int)n),
                      "eq_dnd_svd (gesdd)");
  eq_dtype od = out_dtype(a->dtype);
  const eq_comm *c = a->comm;
  if (!st && s_out && !(*s_out = wrap_f64(s, 1, &n, EQ_DND_NONE, NULL, od, c))) st = eq_error_code();
  if (!st && vt_out && !(*vt_out = wrap_f64(vt, 2, (int64_t[]){n, n}, EQ_DND_NONE, NULL, od, c))) st = eq_error_code();
  if (!st && u_out) {
    eq_dnd *urd = wrap_f64(ur, 2, (int64_t[]){n, n}, EQ_DND_NONE, NULL, od, c);
    *u_out = urd ? eq_dnd_matmul(q, urd) : NULL; /* U = Q U_R: local, row split */
    eq_dnd_free(urd);
    if (!*u_out) st = eq_error_code();
  }
  if (st) {
    if (s_out) eq_dnd_free(*s_out), *s_out = NULL;
    if (vt_out) eq_dnd_free(*vt_out), *vt_out = NULL;
  }
  free(R);
  free(s);
  free(ur);
  free(vt);
  eq_dnd_free(q);
  eq_dnd_free(r);
  return st;
}

eq_dnd *eq_dnd_lstsq(const eq_dnd *a, const eq_dnd *b) {
  if (!a || !b) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_lstsq: NULL argument");
  char s1[128], s2[128];
  if (a->ndim != 2 || b->ndim < 1 || b->ndim > 2 || b->shape[0] != a->shape[0])
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_lstsq: %s and %s do not form a least-squares problem",
                    eq_dnd_str(a, s1, sizeof s1), eq_dnd_str(b, s2, sizeof s2));
  /* x = R^-1 Q^T b with Q^T b = sum over ranks of local products. */
  eq_dnd *q = NULL, *r = NULL;
  if (tsqr(a, &q, &r)) return NULL;
  eq_dnd *qt = eq_dnd_transpose(q, NULL);
  eq_dnd *y = qt ? eq_dnd_matmul(qt, b) : NULL; /* qt split 1 @ b: reduced to column blocks */
  eq_dnd *yr = y ? dnd_relayout(y, EQ_DND_NONE, NULL) : NULL;
  int64_t n = a->shape[1], k = b->ndim == 2 ? b->shape[1] : 1;
  eq_dnd *x = NULL;
  if (yr) {
    double *R = local_f64(r->local), *Y = local_f64(yr->local);
    eq_status st = R && Y ? EQ_OK : eq_error_code();
    if (!st)
      st = lapack_check(LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, 'U', 'N', 'N', (int)n, (int)k, R, (int)n, Y, (int)k),
                        "eq_dnd_lstsq (rank-deficient matrix)");
    if (!st) x = wrap_f64(Y, b->ndim, (int64_t[]){n, k}, EQ_DND_NONE, NULL, out_dtype(eq_dtype_promote(a->dtype, b->dtype)), a->comm);
    free(R);
    free(Y);
  }
  eq_dnd_free(q);
  eq_dnd_free(r);
  eq_dnd_free(qt);
  eq_dnd_free(y);
  eq_dnd_free(yr);
  return x;
}

/* ---------------------------------------------------------------- replicated factorisations */

/* The full square matrix on every rank as float64. */
static double *replicated_square(const char *op, const eq_dnd *a, int64_t *n) {
  char b[128];
  if (!a || a->ndim != 2 || a->shape[0] != a->shape[1]) {
    eq_error(EQ_ERR_SHAPE, "%s: needs a square matrix, got %s", op, a ? eq_dnd_str(a, b, sizeof b) : "NULL");
    return NULL;
  }
  *n = a->shape[0];
  eq_tensor *full = eq_dnd_to_tensor(a);
  if (!full) return NULL;
  double *v = local_f64(full);
  eq_tensor_free(full);
  return v;
}

eq_dnd *eq_dnd_solve(const eq_dnd *a, const eq_dnd *b) {
  int64_t n;
  double *A = replicated_square("eq_dnd_solve", a, &n);
  if (!A) return NULL;
  char s1[128];
  if (!b || b->ndim < 1 || b->ndim > 2 || b->shape[0] != n) {
    free(A);
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_solve: right-hand side %s does not have %lld rows",
                    b ? eq_dnd_str(b, s1, sizeof s1) : "NULL", (long long)n);
  }
  eq_tensor *bf = eq_dnd_to_tensor(b);
  double *B = bf ? local_f64(bf) : NULL;
  eq_tensor_free(bf);
  int *piv = malloc(sizeof(int) * (size_t)(n + 1));
  int64_t k = b->ndim == 2 ? b->shape[1] : 1;
  eq_dnd *x = NULL;
  eq_status st = B && piv ? EQ_OK : eq_error_code();
  if (!st) st = lapack_check(LAPACKE_dgesv(LAPACK_ROW_MAJOR, (int)n, (int)k, A, (int)n, piv, B, (int)k), "eq_dnd_solve");
  if (!st) {
    /* x takes b's layout (replicated result cut locally). */
    eq_dnd *full = wrap_f64(B, b->ndim, (int64_t[]){n, k}, EQ_DND_NONE, NULL, out_dtype(eq_dtype_promote(a->dtype, b->dtype)), a->comm);
    x = full && b->split != EQ_DND_NONE ? dnd_relayout(full, b->split, b->counts) : full;
    if (x != full) eq_dnd_free(full);
  }
  free(A);
  free(B);
  free(piv);
  return x;
}

eq_dnd *eq_dnd_cholesky(const eq_dnd *a) {
  int64_t n;
  double *A = replicated_square("eq_dnd_cholesky", a, &n);
  if (!A) return NULL;
  eq_dnd *l = NULL;
  if (!lapack_check(LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (int)n, A, (int)n), "eq_dnd_cholesky")) {
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = i + 1; j < n; j++) A[i * n + j] = 0;
    eq_dnd *full = wrap_f64(A, 2, (int64_t[]){n, n}, EQ_DND_NONE, NULL, out_dtype(a->dtype), a->comm);
    l = full && a->split != EQ_DND_NONE ? dnd_relayout(full, a->split, NULL) : full;
    if (l != full) eq_dnd_free(full);
  }
  free(A);
  return l;
}

eq_dnd *eq_dnd_inv(const eq_dnd *a) {
  int64_t n;
  double *A = replicated_square("eq_dnd_inv", a, &n);
  if (!A) return NULL;
  int *piv = malloc(sizeof(int) * (size_t)(n + 1));
  eq_dnd *r = NULL;
  eq_status st = piv ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd_inv: out of memory");
  if (!st) st = lapack_check(LAPACKE_dgetrf(LAPACK_ROW_MAJOR, (int)n, (int)n, A, (int)n, piv), "eq_dnd_inv");
  if (!st) st = lapack_check(LAPACKE_dgetri(LAPACK_ROW_MAJOR, (int)n, A, (int)n, piv), "eq_dnd_inv");
  if (!st) {
    eq_dnd *full = wrap_f64(A, 2, (int64_t[]){n, n}, EQ_DND_NONE, NULL, out_dtype(a->dtype), a->comm);
    r = full && a->split != EQ_DND_NONE ? dnd_relayout(full, a->split, NULL) : full;
    if (r != full) eq_dnd_free(full);
  }
  free(A);
  free(piv);
  return r;
}

eq_status eq_dnd_eigh(const eq_dnd *a, eq_dnd **w_out, eq_dnd **v_out) {
  if (w_out) *w_out = NULL;
  if (v_out) *v_out = NULL;
  int64_t n;
  double *A = replicated_square("eq_dnd_eigh", a, &n);
  if (!A) return eq_error_code();
  double *w = malloc(sizeof(double) * (size_t)(n + 1));
  eq_status st = w ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd_eigh: out of memory");
  if (!st) st = lapack_check(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', (int)n, A, (int)n, w), "eq_dnd_eigh");
  eq_dtype od = out_dtype(a->dtype);
  if (!st && w_out && !(*w_out = wrap_f64(w, 1, &n, EQ_DND_NONE, NULL, od, a->comm))) st = eq_error_code();
  if (!st && v_out && !(*v_out = wrap_f64(A, 2, (int64_t[]){n, n}, EQ_DND_NONE, NULL, od, a->comm))) st = eq_error_code();
  if (st && w_out) {
    eq_dnd_free(*w_out);
    *w_out = NULL;
  }
  free(A);
  free(w);
  return st;
}

/* ---------------------------------------------------------------- CG */

static eq_status dot_scalar(const eq_dnd *a, const eq_dnd *b, double *out) {
  eq_dnd *p = eq_dnd_mul(a, b);
  eq_dnd *s = p ? eq_dnd_sum(p, EQ_DND_ALL_AXES, false) : NULL;
  eq_status st = s ? eq_dnd_item(s, out) : eq_error_code();
  eq_dnd_free(p);
  eq_dnd_free(s);
  return st;
}

/* r = r + alpha * p (in place). */
static eq_status axpy(eq_dnd *r, double alpha, const eq_dnd *p) {
  eq_dnd *t = eq_dnd_binary_scalar(EQ_DND_MUL, p, alpha, false);
  if (!t) return eq_error_code();
  eq_status st = eq_dnd_binary_(EQ_DND_ADD, r, t);
  eq_dnd_free(t);
  return st;
}

eq_dnd *eq_dnd_cg(const eq_dnd *a, const eq_dnd *b, const eq_dnd *x0, double tol, int max_iter, int *iters) {
  if (!a || !b) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_cg: NULL argument");
  char s1[128], s2[128];
  if (a->ndim != 2 || a->shape[0] != a->shape[1] || b->ndim != 1 || b->shape[0] != a->shape[0])
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_cg: needs square A and a matching vector b, got %s and %s",
                    eq_dnd_str(a, s1, sizeof s1), eq_dnd_str(b, s2, sizeof s2));
  eq_dtype d = out_dtype(eq_dtype_promote(a->dtype, b->dtype));
  eq_dnd *x = x0 ? eq_dnd_astype(x0, d) : eq_dnd_zeros(d, 1, b->shape, b->split, b->comm);
  eq_dnd *ax = x ? eq_dnd_matmul(a, x) : NULL;
  eq_dnd *r = ax ? eq_dnd_sub(b, ax) : NULL;
  eq_dnd *p = r ? eq_dnd_copy(r) : NULL;
  eq_dnd_free(ax);
  double rs = 0;
  eq_status st = p && !dot_scalar(r, r, &rs) ? EQ_OK : eq_error_code();
  int it = 0;
  for (; !st && it < max_iter && sqrt(rs) > tol; it++) {
    eq_dnd *ap = eq_dnd_matmul(a, p);
    double pap = 0, rs2 = 0;
    st = ap ? dot_scalar(p, ap, &pap) : eq_error_code();
    if (!st && pap <= 0) st = eq_error(EQ_ERR_VALUE, "eq_dnd_cg: A is not positive definite (p.Ap = %g)", pap);
    double alpha = st ? 0 : rs / pap;
    if (!st) st = axpy(x, alpha, p);
    if (!st) st = axpy(r, -alpha, ap);
    if (!st) st = dot_scalar(r, r, &rs2);
    if (!st) {
      /* p = r + (rs2 / rs) p */
      eq_dnd *t = eq_dnd_binary_scalar(EQ_DND_MUL, p, rs2 / rs, false);
      eq_dnd *np = t ? eq_dnd_add(r, t) : NULL;
      eq_dnd_free(t);
      if (!np) st = eq_error_code();
      else {
        eq_dnd_free(p);
        p = np;
      }
      rs = rs2;
    }
    eq_dnd_free(ap);
  }
  if (iters) *iters = it;
  eq_dnd_free(r);
  eq_dnd_free(p);
  if (st) {
    eq_dnd_free(x);
    return NULL;
  }
  return x;
}
