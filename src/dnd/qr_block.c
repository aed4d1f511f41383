/* QR of a column-split matrix without moving it to rows (HeAT's split=1
 * algorithm): the column blocks are orthogonalised in rank order by block
 * classical Gram-Schmidt with reorthogonalisation (BCGS2; Barlow and
 * Smoktunowicz, Numer. Math. 2013). At step k the owner of column block k
 * broadcasts it; the ranks holding earlier Q blocks answer with Q_j^T X and
 * -Q_j Q_j^T X in one reduce to the owner, which factors the remainder with
 * Householder QR (LAPACK). The orthonormal factor goes through the same
 * projection once more and is refactored: one projection alone leaves Q only
 * eps * cond(A) orthogonal, two keep it orthonormal to working precision for
 * any numerically full-rank matrix. Memory per rank: a few m x n/P blocks. */
#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

typedef struct {
  const eq_comm *c;
  int64_t m, K;             /* rows; columns of Q (min(m, n)) */
  const int64_t *cnt, *off; /* A's column blocks */
  const int64_t *qc;        /* Q columns produced by each block */
  const double *Q;          /* this rank's finished Q block, m x qc[me] */
  double *bcast, *part, *acc;
} qrb;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Collective. On rank k: X (m x w) -= Q< Q<^T X and C (p x w) = Q<^T X, where
 * Q< are the p = min(off[k], K) columns of Q finished before block k. */
static eq_status project(const qrb *s, int k, double *X, int64_t w, double *C) {
  int me = s->c->rank;
  int64_t m = s->m, p = min64(s->off[k], s->K);
  double *B = me == k ? X : s->bcast;
  eq_status st = eq_comm_bcast(s->c, B, m * w, EQ_F64, k);
  if (st) return st;
  /* Contributions summed on rank k: rows [0, m) the projected block (the
   * owner's X plus everyone's -Q_j C_j), rows [m, m + p) the coefficients. */
  double *part = s->part;
  memset(part, 0, sizeof(double) * (size_t)((m + p) * w));
  if (me == k) {
    memcpy(part, X, sizeof(double) * (size_t)(m * w));
  } else if (me < k && s->qc[me] > 0) {
    int64_t q = s->qc[me];
    double *Cj = part + (m + s->off[me]) * w;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q, (int)w, (int)m, 1.0, s->Q, (int)q, B, (int)w, 0.0,
                Cj, (int)w);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)w, (int)q, -1.0, s->Q, (int)q, Cj, (int)w,
                0.0, part, (int)w);
  }
  st = eq_comm_reduce(s->c, part, me == k ? s->acc : NULL, (m + p) * w, EQ_F64, EQ_REDUCE_SUM, k);
  if (!st && me == k) {
    memcpy(X, s->acc, sizeof(double) * (size_t)(m * w));
    memcpy(C, s->acc + m * w, sizeof(double) * (size_t)(p * w));
  }
  return st;
}

/* Householder QR of W (m x w, overwritten): W = Qf (m x q) T (q x w, upper
 * trapezoidal), keeping the first q <= min(m, w) columns. Qf may be W when
 * q == w. */
static eq_status house(double *W, int64_t m, int64_t w, int64_t q, double *Qf, double *T, double *tau) {
  int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)m, (int)w, W, (int)w, tau);
  for (int64_t i = 0; i < q && !info; i++)
    for (int64_t j = 0; j < w; j++) T[i * w + j] = j >= i ? W[i * w + j] : 0;
  if (!info) info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)m, (int)q, (int)q, W, (int)w, tau);
  if (info) return eq_error(EQ_ERR_VALUE, "eq_dnd_qr (split 1): LAPACK geqrf/orgqr argument %d invalid", -info);
  if (Qf != W)
    for (int64_t i = 0; i < m; i++) memcpy(Qf + i * q, W + i * w, sizeof(double) * (size_t)q);
  return EQ_OK;
}

eq_status dnd_qr_columns(const eq_dnd *a, eq_dnd **q_out, eq_dnd **r_out) {
  const eq_comm *c = a->comm;
  int P = c->size, me = c->rank;
  int64_t m = a->shape[0], n = a->shape[1], K = min64(m, n);
  int64_t *qc = malloc(sizeof(int64_t) * (size_t)P);
  int64_t cme = a->counts[me], maxc = 0;
  for (int r = 0; r < P && qc; r++) {
    int64_t lo = min64(a->offsets[r], K), hi = min64(a->offsets[r] + a->counts[r], K);
    qc[r] = hi - lo;
    maxc = a->counts[r] > maxc ? a->counts[r] : maxc;
  }
  int64_t qme = qc ? qc[me] : 0;
  size_t dz = sizeof(double);
  double *A = malloc(dz * (size_t)(m * cme + 1)), *Q = malloc(dz * (size_t)(m * qme + 1));
  double *R = calloc((size_t)(K * cme + 1), dz), *T = malloc(dz * (size_t)(cme * cme + 1));
  double *T2 = malloc(dz * (size_t)(qme * qme + 1)), *S = malloc(dz * (size_t)(K * qme + 1));
  double *tau = malloc(dz * (size_t)(cme + 1));
  qrb s = {c, m, K, a->counts, a->offsets, qc, Q, malloc(dz * (size_t)(m * maxc + 1)),
           malloc(dz * (size_t)((m + K) * maxc + 1)), malloc(dz * (size_t)((m + K) * cme + 1))};
  eq_status st = qc && A && Q && R && T && T2 && S && tau && s.bcast && s.part && s.acc
                     ? EQ_OK
                     : eq_error(EQ_ERR_MEMORY, "eq_dnd_qr (split 1): out of memory");
  if (!st) {
    eq_tensor *w = eq_tensor_wrap(EQ_F64, 2, (int64_t[]){m, cme}, A);
    st = w ? eq_copy_(w, a->local) : eq_error_code();
    eq_tensor_free(w);
  }
  /* Every rank must know that every other one is ready before the collectives. */
  int bad = st != EQ_OK;
  if (P > 1 && eq_comm_allreduce(c, &bad, 1, EQ_I32, EQ_REDUCE_MAX) == EQ_OK && bad && !st)
    st = eq_error(EQ_ERR_MPI, "eq_dnd_qr (split 1): another rank failed to set up");
  for (int k = 0; k < P && !st; k++) {
    int64_t ck = a->counts[k], p = min64(a->offsets[k], K), qk = qc[k];
    if (ck == 0) continue;
    bool mine = k == me;
    /* First pass: A_k minus its projection onto the finished columns; the
     * coefficients are rows [0, p) of this column block of R. */
    if (p > 0) st = project(&s, k, A, ck, R);
    if (!st && mine && qk > 0) st = house(A, m, ck, qk, Q, T, tau);
    if (st || qk == 0) continue; /* a block past column K only has coefficients */
    if (p > 0) {
      /* Second pass on the orthonormal factor: Q' = Q<S + Q_k T2. */
      st = project(&s, k, Q, qk, S);
      if (!st && mine) st = house(Q, m, qk, qk, Q, T2, tau);
      if (!st && mine) {
        /* R[:p] = C + S T, R[p:p+qk] = T2 T. */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)ck, (int)qk, 1.0, S, (int)qk, T, (int)ck,
                    1.0, R, (int)ck);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)qk, (int)ck, (int)qk, 1.0, T2, (int)qk, T,
                    (int)ck, 0.0, R + p * ck, (int)ck);
      }
    } else if (mine) {
      memcpy(R + p * ck, T, dz * (size_t)(qk * ck));
    }
    if (!st && mine) {
      /* diag(R) >= 0, as TSQR: the unique factorisation of a full-rank A. */
      for (int64_t i = 0; i < qk; i++) {
        if (R[(p + i) * ck + i] >= 0) continue;
        for (int64_t j = 0; j < ck; j++) R[(p + i) * ck + j] = -R[(p + i) * ck + j];
        for (int64_t r = 0; r < m; r++) Q[r * qk + i] = -Q[r * qk + i];
      }
    }
  }
  eq_dtype od = a->dtype == EQ_F32 ? EQ_F32 : EQ_F64;
  eq_dnd *qd = NULL, *rd = NULL;
  if (!st && q_out) qd = dnd_new(od, 2, (int64_t[]){m, K}, 1, qc, c);
  if (!st && r_out) rd = dnd_new(od, 2, (int64_t[]){K, n}, 1, a->counts, c);
  if (!st && ((q_out && !qd) || (r_out && !rd))) st = eq_error_code();
  for (int i = 0; i < 2 && !st; i++) {
    eq_dnd *x = i ? rd : qd;
    if (!x) continue;
    eq_tensor *w = eq_tensor_wrap(EQ_F64, 2, x->local->shape, i ? R : Q);
    st = w ? eq_copy_(x->local, w) : eq_error_code();
    eq_tensor_free(w);
  }
  if (st) {
    eq_dnd_free(qd);
    eq_dnd_free(rd);
    qd = rd = NULL;
  }
  if (q_out) *q_out = qd;
  if (r_out) *r_out = rd;
  double *bufs[] = {A, Q, R, T, T2, S, tau, s.bcast, s.part, s.acc};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
  free(qc);
  return st;
}
