/* Spectral clustering (Ng, Jordan & Weiss; scikit-learn's normalised
 * variant): rbf affinity rows of this rank (n_local x n, so O(n^2 / P)
 * memory), the k leading eigenvectors of D^-1/2 W D^-1/2 by eq_dnd_lanczos
 * (the affinity rows are the local block of a row-split eq_dnd; the Lanczos
 * vectors are split the same way), checked by their residual norms and
 * restarted until they converge, then k-means on the rows of the embedding
 * divided by sqrt(degree). */
#include <math.h>
#include <string.h>

#include "algo/linalg.h"
#include "equivar/dnd.h"

eq_spectral_params eq_spectral_defaults(int n_clusters) {
  eq_spectral_params p = {n_clusters, 1.0, 0, 10, 0};
  return p;
}

eq_spectral *eq_spectral_new(const eq_spectral_params *params) {
  if (!params || params->n_clusters < 2 || !(params->gamma > 0) || params->n_init < 1 || params->krylov < 0) {
    eq_error(EQ_ERR_VALUE, "eq_spectral_new: needs n_clusters >= 2 (got %d), gamma > 0, n_init >= 1, krylov >= 0",
             params ? params->n_clusters : 0);
    return NULL;
  }
  eq_spectral *m = eq_calloc(1, sizeof *m);
  if (m) m->params = *params;
  else eq_error(EQ_ERR_MEMORY, "eq_spectral_new: out of memory");
  return m;
}

void eq_spectral_free(eq_spectral *m) {
  if (!m) return;
  eq_tensor_free(m->labels), eq_tensor_free(m->eigenvalues);
  eq_free(m);
}

/* Every row of X on every rank, as f64 (allgatherv). */
static double *gather_rows(const eq_mat *X, eq_status *st) {
  int64_t d = X->d;
  double *all = eq_malloc((size_t)(X->n * d + 1) * sizeof(double));
  double *mine = eq_malloc((size_t)(X->n_local * d + 1) * sizeof(double));
  if (!all || !mine) {
    *st = eq_error(EQ_ERR_MEMORY, "%s: out of memory for %lld rows", X->op, (long long)X->n);
    eq_free(all), eq_free(mine);
    return NULL;
  }
  for (int64_t i = 0; i < X->n_local * d; i++) mine[i] = eq_mat_at(X, i / d, i % d);
  if (X->split && X->size > 1) {
    int *cnt = eq_malloc((size_t)X->size * sizeof(int)), *dsp = eq_malloc((size_t)X->size * sizeof(int));
    int mc = (int)(X->n_local * d);
    MPI_Allgather(&mc, 1, MPI_INT, cnt, 1, MPI_INT, X->comm);
    int off = 0;
    for (int r = 0; r < X->size; r++) dsp[r] = off, off += cnt[r];
    if (MPI_Allgatherv(mine, mc, MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, X->comm) != MPI_SUCCESS)
      *st = eq_error(EQ_ERR_MPI, "%s: MPI_Allgatherv failed", X->op);
    eq_free(cnt), eq_free(dsp);
  } else {
    memcpy(all, mine, (size_t)(X->n_local * d) * sizeof(double));
  }
  eq_free(mine);
  return all;
}

/* Ritz pairs converge when |A y - theta y| = beta |z_m| is below this
 * (the eigenvalues lie in [-1, 1]). */
#define SPECTRAL_TOL 1e-9

/* The k leading eigenpairs of the normalised affinity (this rank's rows At,
 * n_local x n) by eq_dnd_lanczos with `steps` steps from v0 (this rank's
 * rows). A pass whose wanted Ritz pairs have residuals above SPECTRAL_TOL
 * is restarted from the sum of those Ritz vectors with twice the steps
 * (explicit restart; at steps = n the Krylov space is the whole space, so
 * it ends). evals: k values, descending; emb (n_local x k): the Ritz
 * vectors' rows. */
static eq_status leading_eigs(const eq_mat *X, eq_tensor *At, eq_tensor *v0, int64_t k, int64_t steps,
                              eq_spectral *m, double *evals, double *emb) {
  const char *op = X->op;
  int64_t n = X->n, nl = X->n_local;
  bool dist = X->split && X->size > 1;
  eq_comm *own = dist ? eq_comm_from_mpi(X->comm) : NULL;
  const eq_comm *c = dist ? own : eq_comm_self();
  eq_status st = c ? EQ_OK : eq_error_code();
  eq_dnd *a = st ? NULL : eq_dnd_from_local(At, 0, c), *v = NULL, *t = NULL, *q0 = NULL;
  if (!st && !a) st = eq_error_code();
  double *w = eq_malloc((size_t)n * sizeof(double)), *Z = NULL;
  if (!st && !w) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  for (int pass = 0; !st; pass++) {
    eq_dnd_free(q0);
    q0 = eq_dnd_from_local(v0, 0, c);
    double beta = 0;
    if (!q0) st = eq_error_code();
    eq_dnd_free(v), eq_dnd_free(t), v = t = NULL;
    if (!st) st = eq_dnd_lanczos(a, steps, q0, &v, &t, &beta);
    eq_free(Z);
    Z = st ? NULL : eq_malloc((size_t)(steps * steps) * sizeof(double));
    if (!st && !Z) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
    if (!st) st = eq_small_eigh(op, eq_f64(t->local), steps, w, Z);
    if (st) break;
    /* Ritz pair c (c-th largest): theta = w[steps - 1 - c], y = V z */
    double worst = 0;
    for (int64_t cc = 0; cc < k; cc++) worst = fmax(worst, fabs(beta * Z[(steps - 1) * steps + steps - 1 - cc]));
    const double *V = eq_f64(v->local);
    for (int64_t i = 0; i < nl; i++)
      for (int64_t cc = 0; cc < k; cc++) {
        double s = 0;
        for (int64_t q = 0; q < steps; q++) s += V[i * steps + q] * Z[q * steps + steps - 1 - cc];
        emb[i * k + cc] = s;
      }
    for (int64_t cc = 0; cc < k; cc++) evals[cc] = w[steps - 1 - cc];
    m->krylov_steps = steps;
    m->residual = worst;
    m->restarts = pass;
    if (worst <= SPECTRAL_TOL || steps == n) break;
    /* restart from the sum of the wanted Ritz vectors, with more steps */
    for (int64_t i = 0; i < nl; i++) {
      double s = 0;
      for (int64_t cc = 0; cc < k; cc++) s += emb[i * k + cc];
      eq_f64(v0)[i] = s;
    }
    steps = 2 * steps < n ? 2 * steps : n;
  }
  eq_free(w), eq_free(Z);
  eq_dnd_free(q0), eq_dnd_free(v), eq_dnd_free(t), eq_dnd_free(a);
  eq_comm_free(own);
  return st;
}

eq_status eq_spectral_fit(eq_spectral *m, eq_rows Xr) {
  const char *op = "eq_spectral_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  int64_t n = X.n, nl = X.n_local, d = X.d, k = m->params.n_clusters;
  if (k > n) st = eq_error(EQ_ERR_VALUE, "%s: n_clusters=%lld > n_samples=%lld", op, (long long)k, (long long)n);
  int64_t mk = m->params.krylov ? m->params.krylov : (4 * k + 40 < n ? 4 * k + 40 : n);
  if (mk > n) mk = n;
  if (mk < k) mk = k;
  double *all = st ? NULL : gather_rows(&X, &st);
  eq_tensor *At = st ? NULL : eq_algo_f64_2d(nl, n, NULL), *v0 = st ? NULL : eq_algo_f64_1d(nl, NULL);
  double *A = At ? eq_f64(At) : NULL;
  double *deg = st ? NULL : eq_calloc((size_t)n + 1, sizeof(double));
  double *evals = st ? NULL : eq_malloc((size_t)k * sizeof(double));
  double *emb = st ? NULL : eq_malloc((size_t)(nl * k + 1) * sizeof(double));
  if (!st && (!A || !v0 || !deg || !evals || !emb)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  if (!st) {
    /* affinity without the diagonal (scikit-learn's laplacian ignores it) */
    for (int64_t i = 0; i < nl; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t t = 0; t < d; t++) {
          double e = all[(X.row0 + i) * d + t] - all[j * d + t];
          s += e * e;
        }
        A[i * n + j] = X.row0 + i == j ? 0 : exp(-m->params.gamma * s);
      }
    for (int64_t i = 0; i < nl; i++) {
      double s = 0;
      for (int64_t j = 0; j < n; j++) s += A[i * n + j];
      deg[X.row0 + i] = s;
    }
    st = eq_mat_sum(&X, deg, n); /* each rank filled its own rows: a sum assembles them */
  }
  if (!st) {
    for (int64_t i = 0; i < n; i++)
      if (!(deg[i] > 0)) {
        st = eq_error(EQ_ERR_VALUE, "%s: row %lld has no neighbours at gamma=%g (isolated point)", op,
                      (long long)i, m->params.gamma);
        break;
      }
  }
  if (!st) {
    for (int64_t i = 0; i < nl; i++)
      for (int64_t j = 0; j < n; j++) A[i * n + j] /= sqrt(deg[X.row0 + i] * deg[j]);
    /* a fixed start near sqrt(degree), the leading eigenvector's direction */
    for (int64_t i = 0; i < nl; i++) {
      int64_t g = X.row0 + i;
      eq_f64(v0)[i] = sqrt(deg[g]) * (1 + 0.01 * sin((double)g));
    }
    st = leading_eigs(&X, At, v0, k, mk, m, evals, emb);
  }
  if (!st) {
    eq_tensor_free(m->eigenvalues);
    m->eigenvalues = eq_algo_f64_1d(k, evals);
    if (!m->eigenvalues) st = eq_error_code();
    for (int64_t i = 0; i < nl; i++)
      for (int64_t c = 0; c < k; c++) emb[i * k + c] /= sqrt(deg[X.row0 + i]);
  }
  if (!st) {
    /* k-means on the embedding rows: the best of n_init k-means++ starts */
    eq_tensor *E = eq_algo_result(EQ_F64, 2, nl, k, emb);
    eq_rows ER = {E, X.comm, X.split};
    double best = INFINITY;
    for (int r = 0; r < m->params.n_init && !st && E; r++) {
      eq_kmeans_params kp = eq_kmeans_defaults((int)k);
      kp.seed = m->params.seed * 1000003u + (uint64_t)r;
      eq_kmeans *km = eq_kmeans_new(&kp);
      if (!km || (st = eq_kmeans_fit(km, ER))) {
        if (!st) st = eq_error_code();
      } else if (km->inertia < best) {
        best = km->inertia;
        eq_tensor *lab = eq_kmeans_predict(km, ER);
        if (!lab) st = eq_error_code();
        eq_tensor_free(m->labels);
        m->labels = lab;
      }
      eq_kmeans_free(km);
    }
    if (!E) st = eq_error_code();
    eq_tensor_free(E);
  }
  eq_free(all), eq_free(deg), eq_free(evals), eq_free(emb);
  eq_tensor_free(At), eq_tensor_free(v0);
  eq_mat_close(&X);
  return st;
}
