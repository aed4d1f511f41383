/* k-nearest-neighbour classification on row-split training data: every
 * rank finds each query's k best among its own rows (GEMM scoring). Split
 * queries travel around the ring of ranks with their running candidate
 * lists; replicated queries are scanned everywhere and the candidates
 * all-gathered and merged. Then the votes are weighted. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "algo/common.h"

#define T float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#include "algo/knn_impl.h"
#undef T
#undef SFX
#undef GEMM
#define T double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#include "algo/knn_impl.h"

typedef struct knn_priv {
  eq_mat X, y;
  double *xaux;    /* |x|^2 (Euclidean) or 1/|x| (cosine) */
  int64_t *labels; /* local labels as int64 */
} knn_priv;

eq_knn_params eq_knn_defaults(int n_neighbors) {
  eq_knn_params p = {n_neighbors, EQ_KNN_EUCLIDEAN, EQ_KNN_UNIFORM, 0.07, 0};
  return p;
}

eq_knn *eq_knn_new(const eq_knn_params *params) {
  if (!params || params->n_neighbors < 1 || params->n_classes < 0 ||
      (params->weights == EQ_KNN_EXP && !(params->temperature > 0))) {
    eq_error(EQ_ERR_VALUE, "eq_knn_new: needs n_neighbors >= 1 (got %d) and temperature > 0 for exp weights",
             params ? params->n_neighbors : 0);
    return NULL;
  }
  eq_knn *m = eq_calloc(1, sizeof *m);
  if (m) m->params = *params;
  else eq_error(EQ_ERR_MEMORY, "eq_knn_new: out of memory");
  return m;
}

static void priv_free(knn_priv *p) {
  if (!p) return;
  eq_mat_close(&p->X), eq_mat_close(&p->y);
  eq_free(p->xaux), eq_free(p->labels);
  eq_free(p);
}

void eq_knn_free(eq_knn *m) {
  if (!m) return;
  priv_free(m->priv);
  eq_free(m);
}

/* |row|^2 or 1/|row| (0 for a zero row) of each row of M. */
static void row_aux(const eq_mat *M, bool cosine, double *out) {
  for (int64_t i = 0; i < M->n_local; i++) {
    double s = 0;
    for (int64_t j = 0; j < M->d; j++) s += eq_mat_at(M, i, j) * eq_mat_at(M, i, j);
    out[i] = cosine ? (s > 0 ? 1 / sqrt(s) : 0) : s;
  }
}

eq_status eq_knn_fit(eq_knn *m, eq_rows Xr, eq_rows yr) {
  const char *op = "eq_knn_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  knn_priv *p = eq_calloc(1, sizeof *p);
  if (!p) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  eq_status st = eq_mat_open(&p->X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (!st) st = eq_mat_open(&p->y, op, "y", yr, EQ_MAT_INT | EQ_MAT_1D);
  if (!st) st = eq_mat_same_rows(&p->X, &p->y);
  int K = 0;
  if (!st) st = eq_mat_n_classes(&p->y, &K);
  if (!st && m->params.n_classes) {
    if (K > m->params.n_classes) st = eq_error(EQ_ERR_VALUE, "%s: label %d >= n_classes=%d", op, K - 1, m->params.n_classes);
    K = m->params.n_classes;
  }
  if (!st && m->params.n_neighbors > p->X.n)
    st = eq_error(EQ_ERR_VALUE, "%s: n_neighbors=%d > n_samples=%lld", op, m->params.n_neighbors, (long long)p->X.n);
  if (!st) {
    p->xaux = eq_malloc((size_t)(p->X.n_local + 1) * sizeof(double));
    p->labels = eq_malloc((size_t)(p->X.n_local + 1) * sizeof(int64_t));
    if (!p->xaux || !p->labels) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  }
  if (p->X.op) st = eq_algo_agree(op, p->X.comm, st);
  if (st) {
    priv_free(p);
    return st;
  }
  row_aux(&p->X, m->params.metric == EQ_KNN_COSINE, p->xaux);
  for (int64_t i = 0; i < p->X.n_local; i++) p->labels[i] = eq_mat_label(&p->y, i);
  priv_free(m->priv);
  m->priv = p;
  m->X = Xr;
  m->y = yr;
  m->n_train = p->X.n;
  m->n_classes = K;
  return EQ_OK;
}

/* This rank's queries converted to X's dtype. */
static void *queries_as(const eq_mat *Q, eq_dtype dt, eq_status *st) {
  int64_t cnt = Q->n_local * Q->d;
  void *buf = eq_malloc((size_t)(cnt + 1) * eq_dtype_size(dt));
  if (!buf) {
    *st = eq_error(EQ_ERR_MEMORY, "%s: out of memory for %lld queries", Q->op, (long long)Q->n_local);
    return NULL;
  }
  for (int64_t i = 0; i < cnt; i++) {
    double v = eq_mat_at(Q, i / Q->d, i % Q->d);
    if (dt == EQ_F32) ((float *)buf)[i] = (float)v;
    else ((double *)buf)[i] = v;
  }
  return buf;
}

static void scan(const knn_priv *p, const void *q, int64_t nq, const double *qaux, bool cosine, int64_t k,
                 double *bd, int64_t *bi, int64_t *bl, bool init) {
  const eq_mat *X = &p->X;
  if (X->dt == EQ_F32)
    knn_scan_f32(q, nq, X->x, X->n_local, X->d, p->xaux, qaux, cosine, X->row0, p->labels, k, bd, bi, bl, init);
  else
    knn_scan_f64(q, nq, X->x, X->n_local, X->d, p->xaux, qaux, cosine, X->row0, p->labels, k, bd, bi, bl, init);
}

/* Sends sbytes to dest while receiving rbytes from src, in pieces of at
 * most 1 GiB (MPI counts are int). */
static eq_status shift_bytes(const eq_mat *X, const char *sb, int64_t sbytes, char *rb, int64_t rbytes, int dest,
                             int src) {
  const int64_t piece = (int64_t)1 << 30;
  int64_t ns = (sbytes + piece - 1) / piece, nr = (rbytes + piece - 1) / piece;
  MPI_Request *req = eq_malloc((size_t)(ns + nr + 1) * sizeof(MPI_Request));
  if (!req) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  int nreq = 0, bad = 0;
  for (int64_t i = 0; i < nr; i++) {
    int64_t c = rbytes - i * piece < piece ? rbytes - i * piece : piece;
    bad |= MPI_Irecv(rb + i * piece, (int)c, MPI_BYTE, src, (int)i, X->comm, &req[nreq++]) != MPI_SUCCESS;
  }
  for (int64_t i = 0; i < ns; i++) {
    int64_t c = sbytes - i * piece < piece ? sbytes - i * piece : piece;
    bad |= MPI_Isend(sb + i * piece, (int)c, MPI_BYTE, dest, (int)i, X->comm, &req[nreq++]) != MPI_SUCCESS;
  }
  bad |= MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE) != MPI_SUCCESS;
  eq_free(req);
  return bad ? eq_error(EQ_ERR_MPI, "%s: passing the query blocks around the ring failed", X->op) : EQ_OK;
}

/* Both row sets split: the query blocks travel around the ring of ranks
 * with their running candidate lists; each rank scans the visiting block
 * against its own training rows and passes it on; after P steps every
 * block is home with its final list. Memory O(local block): no rank ever
 * holds all the queries or all the candidates. */
static eq_status ring_scan(const knn_priv *p, const eq_mat *Q, const void *qbuf, const double *qaux, bool cosine,
                           int64_t k, double *bd, int64_t *bi, int64_t *bl) {
  const eq_mat *X = &p->X;
  int P = X->size, r = X->rank;
  int64_t d = X->d, es = (int64_t)eq_dtype_size(X->dt), big = 0;
  int64_t *cnt = eq_malloc((size_t)P * sizeof(int64_t));
  if (!cnt) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", Q->op);
  eq_status st = EQ_OK;
  if (MPI_Allgather(&Q->n_local, 1, MPI_INT64_T, cnt, 1, MPI_INT64_T, X->comm) != MPI_SUCCESS)
    st = eq_error(EQ_ERR_MPI, "%s: MPI_Allgather of the query counts failed", Q->op);
  /* a block: qaux (n), distances, indices, labels (n k each), queries (n d) */
#define BLOCK_BYTES(n) ((n) * (8 + 24 * k + d * es))
  for (int i = 0; i < P && !st; i++) big = cnt[i] > big ? cnt[i] : big;
  char *cur = st ? NULL : eq_malloc((size_t)BLOCK_BYTES(big) + 8), *nxt = st ? NULL : eq_malloc((size_t)BLOCK_BYTES(big) + 8);
  if (!st && (!cur || !nxt)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory for the query ring", Q->op);
  st = eq_algo_agree(Q->op, X->comm, st);
  int64_t n = Q->n_local;
  if (!st) {
    memcpy(cur, qaux, (size_t)n * 8);
    memcpy(cur + n * (8 + 24 * k), qbuf, (size_t)(n * d * es));
  }
  for (int s = 0; s < P && !st; s++) {
    int from = ((r - s) % P + P) % P, next = ((from - 1) % P + P) % P;
    n = cnt[from];
    double *a = (double *)cur, *dd = a + n;
    int64_t *ii = (int64_t *)(dd + n * k), *ll = ii + n * k;
    scan(p, cur + n * (8 + 24 * k), n, a, cosine, k, dd, ii, ll, s == 0);
    st = shift_bytes(X, cur, BLOCK_BYTES(n), nxt, BLOCK_BYTES(cnt[next]), (r + 1) % P, (r - 1 + P) % P);
    char *t = cur;
    cur = nxt, nxt = t;
  }
  if (!st) {
    /* home again: this rank's own block */
    n = Q->n_local;
    double *dd = (double *)cur + n;
    int64_t *ii = (int64_t *)(dd + n * k), *ll = ii + n * k;
    memcpy(bd, dd, (size_t)(n * k) * sizeof(double));
    memcpy(bi, ii, (size_t)(n * k) * sizeof(int64_t));
    memcpy(bl, ll, (size_t)(n * k) * sizeof(int64_t));
  }
#undef BLOCK_BYTES
  eq_free(cnt), eq_free(cur), eq_free(nxt);
  return st;
}

eq_tensor *eq_knn_predict_proba(const eq_knn *m, eq_rows Qr) {
  const char *op = "eq_knn_predict_proba";
  if (!m || !m->priv) {
    eq_error(EQ_ERR_STATE, "%s: the model is not fitted", op);
    return NULL;
  }
  const knn_priv *p = m->priv;
  const eq_mat *X = &p->X;
  eq_mat Q;
  if (eq_mat_open(&Q, op, "queries", Qr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  eq_status st = EQ_OK;
  if (Q.d != X->d)
    st = eq_error(EQ_ERR_SHAPE, "%s: queries have %lld features, the training rows %lld", op, (long long)Q.d,
                  (long long)X->d);
  if (!st && X->split && Q.split) {
    int cmp = MPI_UNEQUAL;
    MPI_Comm_compare(X->comm, Q.comm, &cmp);
    if (cmp != MPI_IDENT && cmp != MPI_CONGRUENT)
      st = eq_error(EQ_ERR_VALUE, "%s: queries and training rows are split over different communicators", op);
  }
  st = eq_algo_agree(op, Q.comm, st);
  int64_t k = m->params.n_neighbors, K = m->n_classes, nq = Q.n_local;
  bool cosine = m->params.metric == EQ_KNN_COSINE;
  void *qbuf = st ? NULL : queries_as(&Q, X->dt, &st);
  int P = X->split ? X->size : 1;
  bool ring = P > 1 && Q.split;
  double *qaux = eq_malloc((size_t)(nq + 1) * sizeof(double)), *bd = eq_malloc((size_t)(nq * k + 1) * sizeof(double));
  int64_t *bi = eq_malloc((size_t)(nq * k + 1) * sizeof(int64_t)), *bl = eq_malloc((size_t)(nq * k + 1) * sizeof(int64_t));
  double *prob = eq_calloc((size_t)(Q.n_local * K + 1), sizeof(double));
  if (!st && (!qaux || !bd || !bi || !bl || !prob)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  if (X->split) st = eq_algo_agree(op, X->comm, st);
  if (!st) {
    eq_mat qm = Q;
    qm.x = qbuf, qm.dt = X->dt, qm.n_local = nq;
    row_aux(&qm, cosine, qaux);
    if (ring) st = ring_scan(p, &Q, qbuf, qaux, cosine, k, bd, bi, bl);
    else scan(p, qbuf, nq, qaux, cosine, k, bd, bi, bl, true);
  }
  if (!st && P > 1 && !ring) {
    /* replicated queries: every rank scanned them all against its rows */
    /* merge the ranks' candidates: gather (dist, index, label) triples */
    double *ad = eq_malloc((size_t)(P * nq * k) * sizeof(double));
    int64_t *ai = eq_malloc((size_t)(P * nq * k) * sizeof(int64_t) * 2);
    if (!ad || !ai) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory merging candidates", op);
    st = eq_algo_agree(op, X->comm, st);
    int64_t cnt = nq * k;
    if (!st && cnt * 2 > INT32_MAX) st = eq_error(EQ_ERR_UNSUPPORTED, "%s: too many queries x neighbours", op);
    if (!st) {
      int64_t *pack = eq_malloc((size_t)(2 * cnt + 1) * sizeof(int64_t));
      for (int64_t i = 0; i < cnt; i++) pack[2 * i] = bi[i], pack[2 * i + 1] = bl[i];
      MPI_Allgather(bd, (int)cnt, MPI_DOUBLE, ad, (int)cnt, MPI_DOUBLE, X->comm);
      MPI_Allgather(pack, (int)(2 * cnt), MPI_INT64_T, ai, (int)(2 * cnt), MPI_INT64_T, X->comm);
      eq_free(pack);
      for (int64_t q = 0; q < nq; q++) {
        double *dd = bd + q * k;
        int64_t *ii = bi + q * k, *ll = bl + q * k;
        for (int64_t j = 0; j < k; j++) dd[j] = INFINITY, ii[j] = INT64_MAX, ll[j] = -1;
        for (int r = 0; r < P; r++)
          for (int64_t j = 0; j < k; j++) {
            size_t at = (size_t)r * cnt + q * k + j;
            double v = ad[at];
            int64_t g = ai[2 * at], lab = ai[2 * at + 1];
            if (v > dd[k - 1] || (v == dd[k - 1] && g >= ii[k - 1])) continue;
            int64_t pp = k - 1;
            while (pp > 0 && (dd[pp - 1] > v || (dd[pp - 1] == v && ii[pp - 1] > g))) {
              dd[pp] = dd[pp - 1], ii[pp] = ii[pp - 1], ll[pp] = ll[pp - 1];
              pp--;
            }
            dd[pp] = v, ii[pp] = g, ll[pp] = lab;
          }
      }
    }
    eq_free(ad), eq_free(ai);
  }
  if (!st) {
    /* votes for this rank's queries */
    for (int64_t a = 0; a < Q.n_local; a++) {
      int64_t q = a;
      double *dd = bd + q * k, tot = 0, *pr = prob + a * K;
      int64_t *ll = bl + q * k;
      bool exact = false;
      for (int64_t j = 0; j < k; j++) {
        double dist = cosine ? fmin(fmax(dd[j], 0.0), 2.0) : sqrt(fmax(dd[j] + qaux[q], 0.0));
        dd[j] = dist;
        if (dist == 0) exact = true;
      }
      for (int64_t j = 0; j < k; j++) {
        double w = 1;
        if (m->params.weights == EQ_KNN_DISTANCE) w = exact ? (dd[j] == 0) : 1 / dd[j];
        else if (m->params.weights == EQ_KNN_EXP) w = exp(-dd[j] / m->params.temperature);
        if (ll[j] >= 0 && ll[j] < K) pr[ll[j]] += w, tot += w;
      }
      for (int64_t c = 0; c < K && tot > 0; c++) pr[c] /= tot;
    }
  }
  eq_tensor *res = st ? NULL : eq_algo_result(EQ_F64, 2, Q.n_local, K, prob);
  eq_free(qbuf), eq_free(qaux), eq_free(bd), eq_free(bi), eq_free(bl), eq_free(prob);
  eq_mat_close(&Q);
  return res;
}

eq_tensor *eq_knn_predict(const eq_knn *m, eq_rows Q) {
  eq_tensor *P = eq_knn_predict_proba(m, Q);
  if (!P) return NULL;
  eq_tensor *r = eq_algo_argmax_rows(P);
  eq_tensor_free(P);
  return r;
}
