/* Spectral clustering (Ng, Jordan & Weiss; scikit-learn's normalised
 * variant): rbf affinity rows of this rank (n_local x n, so O(n^2 / P)
 * memory), the k leading eigenvectors of D^-1/2 W D^-1/2 by Lanczos with
 * full reorthogonalisation (the distributed part is the matrix-vector
 * product; the Lanczos vectors are replicated), then k-means on the rows of
 * the embedding divided by sqrt(degree). */
#include <math.h>
#include <string.h>

#include "algo/linalg.h"

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

/* y = A v for the replicated v: this rank's rows, then all-gathered. */
static eq_status matvec(const eq_mat *X, const double *A, const double *v, double *y, int *cnt, int *dsp) {
  int64_t n = X->n, nl = X->n_local;
  double *mine = y + X->row0;
  for (int64_t i = 0; i < nl; i++) {
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += A[i * n + j] * v[j];
    mine[i] = s;
  }
  if (X->split && X->size > 1 &&
      MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, y, cnt, dsp, MPI_DOUBLE, X->comm) != MPI_SUCCESS)
    return eq_error(EQ_ERR_MPI, "%s: MPI_Allgatherv failed", X->op);
  return EQ_OK;
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
  double *A = st ? NULL : eq_malloc((size_t)(nl * n + 1) * sizeof(double));
  double *deg = st ? NULL : eq_calloc((size_t)n + 1, sizeof(double));
  double *V = st ? NULL : eq_calloc((size_t)(mk + 1) * n, sizeof(double));
  double *T = st ? NULL : eq_calloc((size_t)(mk * mk), sizeof(double));
  double *w = st ? NULL : eq_malloc((size_t)mk * sizeof(double)), *Z = st ? NULL : eq_malloc((size_t)(mk * mk) * sizeof(double));
  double *emb = st ? NULL : eq_malloc((size_t)(nl * k + 1) * sizeof(double));
  int *cnt = st ? NULL : eq_malloc((size_t)X.size * sizeof(int)), *dsp = st ? NULL : eq_malloc((size_t)X.size * sizeof(int));
  if (!st && (!A || !deg || !V || !T || !w || !Z || !emb || !cnt || !dsp)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  if (!st) {
    if (X.split && X.size > 1) {
      int mc = (int)nl;
      MPI_Allgather(&mc, 1, MPI_INT, cnt, 1, MPI_INT, X.comm);
      int off = 0;
      for (int r = 0; r < X.size; r++) dsp[r] = off, off += cnt[r];
    }
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
    /* Lanczos from a fixed start (sqrt(degree): the leading eigenvector's
     * direction is then well represented), full reorthogonalisation. */
    double nrm = 0;
    for (int64_t j = 0; j < n; j++) V[j] = sqrt(deg[j]) * (1 + 0.01 * sin((double)j)), nrm += V[j] * V[j];
    for (int64_t j = 0; j < n; j++) V[j] /= sqrt(nrm);
    int64_t used = mk;
    for (int64_t s = 0; s < mk && !st; s++) {
      double *y = V + (s + 1) * n;
      if ((st = matvec(&X, A, V + s * n, y, cnt, dsp))) break;
      for (int pass = 0; pass < 2; pass++)
        for (int64_t q = 0; q <= s; q++) {
          double dot = 0;
          for (int64_t j = 0; j < n; j++) dot += V[q * n + j] * y[j];
          if (pass == 0) T[q * mk + s] = T[s * mk + q] = dot;
          else T[q * mk + s] += dot, T[s * mk + q] = T[q * mk + s];
          for (int64_t j = 0; j < n; j++) y[j] -= dot * V[q * n + j];
        }
      double b = 0;
      for (int64_t j = 0; j < n; j++) b += y[j] * y[j];
      b = sqrt(b);
      if (s + 1 < mk) {
        if (b < 1e-12) { /* invariant subspace found */
          used = s + 1;
          break;
        }
        for (int64_t j = 0; j < n; j++) y[j] /= b;
      }
    }
    /* Rayleigh-Ritz: the k largest Ritz pairs of the projected matrix */
    double *Tu = eq_malloc((size_t)(used * used) * sizeof(double));
    for (int64_t i = 0; i < used; i++)
      for (int64_t j = 0; j < used; j++) Tu[i * used + j] = T[i * mk + j];
    if (!st && used < k) st = eq_error(EQ_ERR_VALUE, "%s: the affinity graph has fewer than %lld independent directions", op, (long long)k);
    if (!st) st = eq_small_eigh(op, Tu, used, w, Z);
    if (!st) {
      eq_tensor_free(m->eigenvalues);
      m->eigenvalues = eq_algo_f64_1d(k, NULL);
      for (int64_t c = 0; c < k; c++) eq_f64(m->eigenvalues)[c] = w[used - 1 - c];
      for (int64_t i = 0; i < nl; i++) {
        int64_t g = X.row0 + i;
        for (int64_t c = 0; c < k; c++) {
          double s = 0;
          for (int64_t q = 0; q < used; q++) s += V[q * n + g] * Z[q * used + (used - 1 - c)];
          emb[i * k + c] = s / sqrt(deg[g]);
        }
      }
    }
    eq_free(Tu);
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
  eq_free(all), eq_free(A), eq_free(deg), eq_free(V), eq_free(T), eq_free(w), eq_free(Z), eq_free(emb);
  eq_free(cnt), eq_free(dsp);
  eq_mat_close(&X);
  return st;
}
