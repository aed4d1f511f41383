/* Distributed matmul and cdist. Blocks of the second operand circulate (each
 * owner sends its block to every other rank in pieces of at most 4 MB,
 * double-buffered, communication overlapped with the local GEMM of the
 * previous piece) or partial products are reduced block by block to their
 * owners, so no rank holds more than its inputs, its result block and two
 * fixed-size pieces. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

/* ---------------------------------------------------------------- local GEMM */

/* C (m x n, row stride ldc) = beta * C + A (m x k, lda) @ B (k x n, ldb). */
static void gemm(eq_dtype d, int64_t m, int64_t n, int64_t k, const void *A, int64_t lda, const void *B,
                 int64_t ldb, void *C, int64_t ldc, double beta) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == 0)
      for (int64_t i = 0; i < m; i++) memset((char *)C + i * ldc * eq_dtype_size(d), 0, (size_t)n * eq_dtype_size(d));
    return;
  }
  if (d == EQ_F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, A, (int)lda, B, (int)ldb,
                (float)beta, C, (int)ldc);
  } else if (d == EQ_F64) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0, A, (int)lda, B, (int)ldb,
                beta, C, (int)ldc);
  } else {
    /* Integers: exact int64 loops (no BLAS for them). */
    size_t es = eq_dtype_size(d);
#pragma omp parallel for schedule(static) if (m * n * k > 65536)
    for (int64_t i = 0; i < m; i++) {
      for (int64_t j = 0; j < n; j++) {
        int64_t s = 0;
        for (int64_t t = 0; t < k; t++)
          s += (int64_t)eq_load_as_double((const char *)A + (i * lda + t) * es, d) *
               (int64_t)eq_load_as_double((const char *)B + (t * ldb + j) * es, d);
        char *c = (char *)C + (i * ldc + j) * es;
        if (beta != 0) s += (int64_t)eq_load_as_double(c, d);
        if (d == EQ_I64)
          *(int64_t *)c = s;
        else
          eq_store_from_double(c, d, (double)s);
      }
    }
  }
}

/* ---------------------------------------------------------------- ring */

/* Bytes per message of a circulating block: two pieces of this size (or one
 * row, if larger) are the ring's only buffers, whatever the block size. 4 MB
 * keeps the GEMM of a piece efficient (a 4096-column float32 piece has 256
 * rows, the depth OpenBLAS splits its panels into anyway); measured peak
 * with 96 MB of blocks at 2 ranks (bench matmul_00, 3 calls): 107.7 MB, 123 MB
 * with 8 MB pieces (the allocator keeps more of the repeated buffers). */
#define RING_PIECE ((int64_t)4 << 20)

/* fn(owner, row0, piece, rows): rows [row0, row0 + rows) of rank owner's block. */
typedef eq_status (*ring_fn)(int owner, int64_t row0, const void *piece, int64_t rows, void *ctx);

/* The blocks of a split operand: rank q's block has nrows(q) rows of
 * rowlen(q) elements (counts[q] x width, or width x counts[q] when
 * `transposed`). */
typedef struct {
  const int64_t *counts;
  int64_t width;
  bool transposed;
} blocks;

static int64_t nrows(const blocks *b, int q) { return b->transposed ? b->width : b->counts[q]; }
static int64_t rowlen(const blocks *b, int q) { return b->transposed ? b->counts[q] : b->width; }

/* Rows per piece of rank q's block and the number of pieces (at least one,
 * so that an empty block is still reported). */
static int64_t piece_rows(const blocks *b, int q, int64_t piece_elems) {
  int64_t len = rowlen(b, q), pr = len > 0 ? piece_elems / len : nrows(b, q);
  return pr < 1 ? 1 : pr;
}

static int64_t npieces(const blocks *b, int q, int64_t piece_elems) {
  int64_t r = nrows(b, q), pr = piece_rows(b, q, piece_elems);
  return r == 0 || rowlen(b, q) == 0 ? 1 : (r + pr - 1) / pr;
}

/* Posts the messages of `n` elements at p (chunks below the int limit). */
static int post(bool recv, char *p, int64_t n, int64_t chunk, size_t es, MPI_Datatype t, int peer, MPI_Comm comm,
                MPI_Request *req, int *nreq) {
  int rc = MPI_SUCCESS;
  for (int64_t at = 0; at < n && rc == MPI_SUCCESS; at += chunk) {
    int k = (int)(n - at < chunk ? n - at : chunk);
    rc = recv ? MPI_Irecv(p + at * (int64_t)es, k, t, peer, 903, comm, &req[(*nreq)++])
              : MPI_Isend(p + at * (int64_t)es, k, t, peer, 903, comm, &req[(*nreq)++]);
  }
  return rc;
}

/* Calls fn for every rank q's block, first this rank's own (whole), then in
 * step s = 1 .. P-1 the block of rank me + s, which its owner sends straight
 * from its storage in pieces of whole rows of at most RING_PIECE bytes. The
 * pieces arrive in two alternating buffers: the next one is in flight while
 * fn uses the current one. */
static eq_status ring(const eq_comm *c, const void *mine, blocks b, eq_dtype d, ring_fn fn, void *ctx) {
  int P = c->size, me = c->rank;
  if (P == 1) return fn(0, 0, mine, nrows(&b, 0), ctx);
  size_t es = eq_dtype_size(d);
  int64_t chunk = eq_comm_chunk_elems(es), piece = RING_PIECE / (int64_t)es;
  if (piece > chunk) piece = chunk;
  /* Buffer size and request counts. */
  int64_t bufelems = 1, nin = 0, nsend_req = 0, max_in_req = 1;
  for (int q = 0; q < P; q++) {
    int64_t pe = piece_rows(&b, q, piece) * rowlen(&b, q), per = (pe + chunk - 1) / chunk;
    if (q != me) {
      bufelems = pe > bufelems ? pe : bufelems;
      max_in_req = per > max_in_req ? per : max_in_req;
      nin += npieces(&b, q, piece);
    }
  }
  nsend_req = (P - 1) * npieces(&b, me, piece) * ((piece_rows(&b, me, piece) * rowlen(&b, me) + chunk - 1) / chunk + 1);
  char *buf[2] = {malloc((size_t)bufelems * es), malloc((size_t)bufelems * es)};
  MPI_Request *sreq = malloc(sizeof(MPI_Request) * (size_t)(nsend_req + 1));
  MPI_Request *rreq = malloc(sizeof(MPI_Request) * (size_t)(2 * max_in_req));
  int nsreq = 0, nrreq[2] = {0, 0};
  eq_status st = buf[0] && buf[1] && sreq && rreq ? EQ_OK : eq_error(EQ_ERR_MEMORY, "eq_dnd ring: out of memory");
  MPI_Datatype t = eq_comm_mpi_type(d);
  int rc = MPI_SUCCESS;
  /* Every step's pieces of the own block, sent at once (no copies). */
  int64_t my_pr = piece_rows(&b, me, piece), my_len = rowlen(&b, me), my_rows = nrows(&b, me);
  for (int s = 1; s < P && !st && rc == MPI_SUCCESS; s++)
    for (int64_t r0 = 0; r0 < my_rows && my_len > 0 && rc == MPI_SUCCESS; r0 += my_pr) {
      int64_t rows = my_rows - r0 < my_pr ? my_rows - r0 : my_pr;
      rc = post(false, (char *)mine + r0 * my_len * (int64_t)es, rows * my_len, chunk, es, t, (me - s + P) % P,
                c->mpi, sreq, &nsreq);
    }
  /* Incoming piece i: step s, rows [r0, r0 + rows) of rank (me + s)'s block. */
  int in_s = 1;
  int64_t in_r0 = 0;
  int64_t meta[2][3]; /* owner, row0, rows of the piece in each buffer */
  int posted = 0;
  for (int i = 0; i < 2 && i < nin && !st && rc == MPI_SUCCESS; i++, posted++) {
    int q = (me + in_s) % P;
    int64_t pr = piece_rows(&b, q, piece), rows = nrows(&b, q) - in_r0 < pr ? nrows(&b, q) - in_r0 : pr;
    meta[i][0] = q, meta[i][1] = in_r0, meta[i][2] = rows;
    nrreq[i] = 0;
    rc = post(true, buf[i], rows * rowlen(&b, q), chunk, es, t, q, c->mpi, rreq + i * max_in_req, &nrreq[i]);
    in_r0 += pr;
    if (in_r0 >= nrows(&b, q)) in_s++, in_r0 = 0;
  }
  /* The own block, piece by piece too: between pieces MPI_Testall lets the
   * transport move the first incoming pieces (Open MPI progresses only inside
   * MPI calls), so they are there when the own block is done. */
  for (int64_t r0 = 0; !st && rc == MPI_SUCCESS && (r0 < my_rows || r0 == 0); r0 += my_pr) {
    int64_t rows = my_rows - r0 < my_pr ? my_rows - r0 : my_pr;
    st = fn(me, r0, (const char *)mine + r0 * my_len * (int64_t)es, rows, ctx);
    int done = 0;
    for (int k = 0; k < posted && k < 2 && rc == MPI_SUCCESS; k++)
      rc = MPI_Testall(nrreq[k], rreq + k * max_in_req, &done, MPI_STATUSES_IGNORE);
    if (my_rows == 0) break;
  }
  for (int64_t i = 0; i < nin && !st && rc == MPI_SUCCESS; i++) {
    int k = (int)(i & 1);
    rc = MPI_Waitall(nrreq[k], rreq + k * max_in_req, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) break;
    st = fn((int)meta[k][0], meta[k][1], buf[k], meta[k][2], ctx);
    if (posted < nin && !st) {
      /* The buffer just used takes the piece after the next. */
      int q = (me + in_s) % P;
      int64_t pr = piece_rows(&b, q, piece), rows = nrows(&b, q) - in_r0 < pr ? nrows(&b, q) - in_r0 : pr;
      meta[k][0] = q, meta[k][1] = in_r0, meta[k][2] = rows;
      nrreq[k] = 0;
      rc = post(true, buf[k], rows * rowlen(&b, q), chunk, es, t, q, c->mpi, rreq + k * max_in_req, &nrreq[k]);
      posted++;
      in_r0 += pr;
      if (in_r0 >= nrows(&b, q)) in_s++, in_r0 = 0;
    }
  }
  if (rc == MPI_SUCCESS && nsreq) rc = MPI_Waitall(nsreq, sreq, MPI_STATUSES_IGNORE);
  if (!st) st = eq_comm_check(rc, "eq_dnd ring (MPI_Isend/Irecv)");
  free(buf[0]);
  free(buf[1]);
  free(sreq);
  free(rreq);
  return st;
}

/* ---------------------------------------------------------------- matmul */

typedef struct {
  eq_dtype d;
  const char *A;
  int64_t m, k, lda; /* A rows block: m x k */
  char *C;
  int64_t n, ldc;
  const int64_t *counts, *offsets; /* of the circulating operand's split */
  bool b_rows;                     /* blocks are row blocks of B (else column blocks) */
} mm_ctx;

static eq_status mm_block(int q, int64_t r0, const void *piece, int64_t rows, void *vctx) {
  mm_ctx *c = vctx;
  size_t es = eq_dtype_size(c->d);
  if (c->b_rows) {
    /* C += A[:, off_q + r0 : + rows] @ B_q[r0 : r0 + rows] (rows x n). */
    gemm(c->d, c->m, c->n, rows, c->A + (c->offsets[q] + r0) * es, c->lda, piece, c->n, c->C, c->ldc, 1.0);
  } else {
    /* C[:, off_q : off_q + c_q] (+)= A[:, r0 : r0 + rows] @ B_q[r0 : r0 + rows] (rows x c_q). */
    int64_t cq = c->counts[q];
    gemm(c->d, c->m, cq, rows, c->A + r0 * es, c->lda, piece, cq, c->C + c->offsets[q] * es, c->ldc,
         r0 == 0 ? 0.0 : 1.0);
  }
  return EQ_OK;
}

static eq_tensor *converted(eq_tensor *t, eq_dtype d, eq_tensor **tmp) {
  *tmp = NULL;
  if (t->dtype == d && eq_is_contiguous(t)) return t;
  eq_tensor *v = t->dtype == d ? t : eq_to_dtype(t, d);
  *tmp = dnd_materialize(eq_view_of(v));
  if (v != t) eq_tensor_free(v);
  return *tmp;
}

eq_dnd *eq_dnd_matmul(const eq_dnd *a, const eq_dnd *b) {
  if (!a || !b) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_matmul: NULL operand");
  char s1[128], s2[128];
  if (a->ndim == 1 || b->ndim == 1) {
    /* Vectors: promote to matrices, multiply, drop the added dim. */
    eq_dnd *a2 = a->ndim == 1 ? eq_dnd_expand_dims(a, 0) : (eq_dnd *)a;
    eq_dnd *b2 = b->ndim == 1 ? eq_dnd_expand_dims(b, 1) : (eq_dnd *)b;
    eq_dnd *r = a2 && b2 ? eq_dnd_matmul(a2, b2) : NULL, *out = NULL;
    if (r) {
      if (a->ndim == 1 && b->ndim == 1) {
        out = eq_dnd_reshape(r, 0, NULL, EQ_DND_NONE);
      } else
        out = eq_dnd_squeeze(r, a->ndim == 1 ? 0 : 1);
    }
    if (a2 != a) eq_dnd_free(a2);
    if (b2 != b) eq_dnd_free(b2);
    eq_dnd_free(r);
    return out;
  }
  if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0])
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_matmul: cannot multiply %s by %s", eq_dnd_str(a, s1, sizeof s1),
                    eq_dnd_str(b, s2, sizeof s2));
  if (a->comm != b->comm) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_matmul: operands on different communicators");
  const eq_comm *c = a->comm;
  int me = c->rank;
  eq_dtype d = eq_dtype_promote(a->dtype, b->dtype);
  if (d == EQ_BOOL || d == EQ_U8) d = EQ_I64;
  int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
  int64_t rshape[2] = {m, n};
  eq_dnd *owned_b = NULL;
  eq_tensor *ta = NULL, *tb = NULL, *arows = NULL;
  eq_dnd *r = NULL;
  eq_status st = EQ_OK;
  if (a->split == 1) {
    /* Contraction axis split: partial products reduced to each column block's owner. */
    const eq_dnd *bb = b;
    if (b->split != EQ_DND_NONE && !(b->split == 0 && memcmp(b->counts, a->counts, sizeof(int64_t) * (size_t)c->size) == 0)) {
      owned_b = dnd_relayout(b, 0, a->counts);
      if (!owned_b) return NULL;
      bb = owned_b;
    }
    r = dnd_new(d, 2, rshape, 1, NULL, c);
    if (!r) goto done;
    eq_tensor *brows = bb->split == EQ_DND_NONE ? dnd_local_rows_view(bb, 0, a->offsets[me], a->offsets[me + 1])
                                                : eq_view_of(bb->local);
    eq_tensor *A = converted(a->local, d, &ta), *B = brows ? converted(brows, d, &tb) : NULL;
    int64_t kr = a->local->shape[1];
    int64_t maxc = 0;
    for (int q = 0; q < c->size; q++) maxc = r->counts[q] > maxc ? r->counts[q] : maxc;
    size_t es = eq_dtype_size(d);
    char *part = malloc((size_t)(m * maxc) * es + 64);
    if (!A || !B || !part) st = eq_error_code() ? eq_error_code() : eq_error(EQ_ERR_MEMORY, "eq_dnd_matmul: out of memory");
    for (int q = 0; q < c->size && !st; q++) {
      int64_t cq = r->counts[q];
      gemm(d, m, cq, kr, eq_data_ptr(A), kr, (char *)eq_data_ptr(B) + r->offsets[q] * es, n, part, cq, 0.0);
      st = eq_comm_reduce(c, part, q == me ? eq_data_ptr(r->local) : NULL, m * cq, d, EQ_REDUCE_SUM, q);
    }
    free(part);
    eq_tensor_free(brows);
    goto done;
  }
  if (a->split == 0 || (a->split == EQ_DND_NONE && b->split == 0)) {
    r = dnd_new(d, 2, rshape, 0, a->split == 0 ? a->counts : NULL, c);
    if (!r) goto done;
    arows = a->split == 0 ? eq_view_of(a->local) : dnd_local_rows_view(a, 0, r->offsets[me], r->offsets[me + 1]);
    eq_tensor *A = arows ? converted(arows, d, &ta) : NULL;
    if (!A) {
      st = eq_error_code();
      goto done;
    }
    int64_t mr = r->local->shape[0];
    if (b->split == EQ_DND_NONE) {
      eq_tensor *B = converted(b->local, d, &tb);
      if (!B) st = eq_error_code();
      else gemm(d, mr, n, k, eq_data_ptr(A), k, eq_data_ptr(B), n, eq_data_ptr(r->local), n, 0.0);
      goto done;
    }
    eq_tensor *B = converted(b->local, d, &tb);
    if (!B) {
      st = eq_error_code();
      goto done;
    }
    mm_ctx ctx = {d, eq_data_ptr(A), mr, k, k, eq_data_ptr(r->local), n, n, b->counts, b->offsets, b->split == 0};
    if (b->split == 0) eq_fill_(r->local, 0);
    blocks bl = {b->counts, b->split == 0 ? n : k, b->split == 1};
    st = ring(c, eq_data_ptr(B), bl, d, mm_block, &ctx);
    goto done;
  }
  /* a replicated, b replicated or split along columns: local. */
  {
    r = dnd_new(d, 2, rshape, b->split, b->split == 1 ? b->counts : NULL, c);
    if (!r) goto done;
    eq_tensor *A = converted(a->local, d, &ta), *B = converted(b->local, d, &tb);
    if (!A || !B) st = eq_error_code();
    else {
      int64_t nl = r->local->shape[1];
      gemm(d, m, nl, k, eq_data_ptr(A), k, eq_data_ptr(B), nl, eq_data_ptr(r->local), nl, 0.0);
    }
  }
done:
  eq_tensor_free(ta);
  eq_tensor_free(tb);
  eq_tensor_free(arows);
  eq_dnd_free(owned_b);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}

/* ---------------------------------------------------------------- cdist */

typedef struct {
  eq_dtype d;
  const char *X;
  int64_t m, f;
  const double *xx; /* |x_i|^2 (quadratic) */
  char *C;
  int64_t ldc;
  const int64_t *offsets;
  bool quadratic;
  double *tmp; /* |y_j|^2 of the current block (quadratic) */
  float *tmpf;
} cd_ctx;

static eq_status cd_block(int q, int64_t r0, const void *block, int64_t rows, void *vctx) {
  cd_ctx *c = vctx;
  int64_t col0 = (c->offsets ? c->offsets[q] : 0) + r0, m = c->m, f = c->f;
  if (rows == 0 || m == 0) return EQ_OK;
  if (c->quadratic) {
    /* |x|^2 + |y|^2 - 2 x.y with one GEMM (X @ Y^T). */
    if (c->d == EQ_F32) {
      float *C = (float *)c->C + col0;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)rows, (int)f, -2.0f, (const float *)c->X,
                  (int)f, block, (int)f, 0.0f, C, (int)c->ldc);
      const float *Y = block;
#pragma omp parallel for schedule(static) if (m * rows > 65536)
      for (int64_t j = 0; j < rows; j++) {
        double yy = 0;
        for (int64_t t = 0; t < f; t++) yy += (double)Y[j * f + t] * Y[j * f + t];
        c->tmpf[j] = (float)yy;
      }
#pragma omp parallel for schedule(static) if (m * rows > 65536)
      for (int64_t i = 0; i < m; i++) {
        float *restrict ci = C + i * c->ldc;
        const float *restrict yy = c->tmpf;
        float xi = (float)c->xx[i];
        for (int64_t j = 0; j < rows; j++) {
          float v = ci[j] + xi + yy[j];
          ci[j] = sqrtf(v > 0 ? v : 0);
        }
      }
    } else {
      double *C = (double *)c->C + col0;
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)rows, (int)f, -2.0, (const double *)c->X,
                  (int)f, block, (int)f, 0.0, C, (int)c->ldc);
      const double *Y = block;
      for (int64_t j = 0; j < rows; j++) {
        double yy = 0;
        for (int64_t t = 0; t < f; t++) yy += Y[j * f + t] * Y[j * f + t];
        c->tmp[j] = yy;
      }
#pragma omp parallel for schedule(static) if (m * rows > 65536)
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < rows; j++) {
          double v = C[i * c->ldc + j] + c->xx[i] + c->tmp[j];
          C[i * c->ldc + j] = sqrt(v > 0 ? v : 0);
        }
    }
    return EQ_OK;
  }
  if (c->d == EQ_F32) {
    const float *X = (const float *)c->X, *Y = block;
    float *C = (float *)c->C + col0;
#pragma omp parallel for schedule(static) if (m * rows * f > 65536)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < rows; j++) {
        float s = 0;
        for (int64_t t = 0; t < f; t++) {
          float dlt = X[i * f + t] - Y[j * f + t];
          s += dlt * dlt;
        }
        C[i * c->ldc + j] = sqrtf(s);
      }
  } else {
    const double *X = (const double *)c->X, *Y = block;
    double *C = (double *)c->C + col0;
#pragma omp parallel for schedule(static) if (m * rows * f > 65536)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < rows; j++) {
        double s = 0;
        for (int64_t t = 0; t < f; t++) {
          double dlt = X[i * f + t] - Y[j * f + t];
          s += dlt * dlt;
        }
        C[i * c->ldc + j] = sqrt(s);
      }
  }
  return EQ_OK;
}

eq_dnd *eq_dnd_cdist(const eq_dnd *x, const eq_dnd *y, bool quadratic) {
  if (!x || !y) return DND_FAIL(EQ_ERR_VALUE, "eq_dnd_cdist: NULL operand");
  char s1[128], s2[128];
  if (x->ndim != 2 || y->ndim != 2 || x->shape[1] != y->shape[1])
    return DND_FAIL(EQ_ERR_SHAPE, "eq_dnd_cdist: need m x d and n x d matrices, got %s and %s",
                    eq_dnd_str(x, s1, sizeof s1), eq_dnd_str(y, s2, sizeof s2));
  eq_dtype d = eq_dtype_promote(x->dtype, y->dtype) == EQ_F32 ? EQ_F32 : EQ_F64;
  /* Feature-split operands are first resplit along rows. */
  eq_dnd *xo = NULL, *yo = NULL;
  if (x->split == 1 && !(xo = eq_dnd_resplit(x, 0))) return NULL;
  if (y->split == 1 && !(yo = eq_dnd_resplit(y, 0))) {
    eq_dnd_free(xo);
    return NULL;
  }
  const eq_dnd *X = xo ? xo : x, *Y = yo ? yo : y;
  const eq_comm *c = x->comm;
  int64_t m = X->shape[0], n = Y->shape[0], f = X->shape[1];
  int rsplit = X->split == 0 ? 0 : (Y->split == 0 ? 1 : EQ_DND_NONE);
  eq_dnd *r = dnd_new(d, 2, (int64_t[]){m, n}, rsplit, rsplit == 0 ? X->counts : (rsplit == 1 ? Y->counts : NULL), c);
  eq_tensor *tx = NULL, *ty = NULL;
  double *xx = NULL, *tmp = NULL;
  eq_status st = r ? EQ_OK : eq_error_code();
  eq_tensor *XL = r ? converted(X->local, d, &tx) : NULL, *YL = r ? converted(Y->local, d, &ty) : NULL;
  if (!st && (!XL || !YL)) st = eq_error_code();
  if (!st) {
    int64_t mr = XL->shape[0], maxc = YL->shape[0];
    if (Y->split == 0)
      for (int q = 0; q < c->size; q++) maxc = Y->counts[q] > maxc ? Y->counts[q] : maxc;
    xx = malloc(sizeof(double) * (size_t)(mr + 1));
    tmp = malloc(sizeof(double) * (size_t)(maxc + 1));
    if (!xx || !tmp) st = eq_error(EQ_ERR_MEMORY, "eq_dnd_cdist: out of memory");
    for (int64_t i = 0; i < mr && !st; i++) {
      double s = 0;
      for (int64_t t = 0; t < f; t++) {
        double v = eq_load_as_double((char *)eq_data_ptr(XL) + (i * f + t) * eq_dtype_size(d), d);
        s += v * v;
      }
      xx[i] = s;
    }
    cd_ctx ctx = {d, eq_data_ptr(XL), mr, f, xx, eq_data_ptr(r->local), r->local->shape[1], NULL, quadratic, tmp,
                  (float *)tmp};
    if (!st) {
      if (X->split == 0 && Y->split == 0) {
        ctx.offsets = Y->offsets;
        st = ring(c, eq_data_ptr(YL), (blocks){Y->counts, f, false}, d, cd_block, &ctx);
      } else {
        st = cd_block(0, 0, eq_data_ptr(YL), YL->shape[0], &ctx);
      }
    }
  }
  free(xx);
  free(tmp);
  eq_tensor_free(tx);
  eq_tensor_free(ty);
  eq_dnd_free(xo);
  eq_dnd_free(yo);
  if (st) {
    eq_dnd_free(r);
    return NULL;
  }
  return r;
}
