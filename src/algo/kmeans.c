/* k-means: initialisations (random, k-means++, k-means||), Lloyd
 * iterations with one all-reduce of the cluster sums per iteration, the
 * k-medians / k-medoids iterations and batch-parallel k-means. */
#include <math.h>
#include <string.h>

#include "algo/kmeans_kernels.h"

eq_kmeans_params eq_kmeans_defaults(int n_clusters) {
  eq_kmeans_params p = {0};
  p.n_clusters = n_clusters;
  p.init = EQ_KMEANS_PLUSPLUS;
  p.max_iter = 300;
  p.tol = 1e-4;
  p.seed = 0;
  p.oversampling = 2.0;
  p.rounds = 5;
  return p;
}

static eq_status check_params(const char *op, const eq_kmeans_params *p) {
  if (p->n_clusters < 1) return eq_error(EQ_ERR_VALUE, "%s: n_clusters=%d < 1", op, p->n_clusters);
  if (p->max_iter < 1) return eq_error(EQ_ERR_VALUE, "%s: max_iter=%d < 1", op, p->max_iter);
  if (!(p->tol >= 0)) return eq_error(EQ_ERR_VALUE, "%s: tol=%g must be >= 0", op, p->tol);
  if (p->variant < EQ_KMEANS_LLOYD || p->variant > EQ_KMEANS_BATCH_PARALLEL)
    return eq_error(EQ_ERR_VALUE, "%s: unknown variant %d", op, (int)p->variant);
  if (p->init < EQ_KMEANS_RANDOM || p->init > EQ_KMEANS_GIVEN)
    return eq_error(EQ_ERR_VALUE, "%s: unknown init %d", op, (int)p->init);
  if (p->init == EQ_KMEANS_GIVEN && !p->init_centers)
    return eq_error(EQ_ERR_VALUE, "%s: init=EQ_KMEANS_GIVEN without init_centers", op);
  if (p->init == EQ_KMEANS_PARALLEL && (!(p->oversampling > 0) || p->rounds < 1))
    return eq_error(EQ_ERR_VALUE, "%s: k-means|| needs oversampling > 0 (got %g) and rounds >= 1 (got %d)",
                    op, p->oversampling, p->rounds);
  return EQ_OK;
}

eq_kmeans *eq_kmeans_new(const eq_kmeans_params *params) {
  if (!params) {
    eq_error(EQ_ERR_VALUE, "eq_kmeans_new: params is NULL");
    return NULL;
  }
  if (check_params("eq_kmeans_new", params)) return NULL;
  eq_kmeans *m = eq_calloc(1, sizeof *m);
  if (!m) {
    eq_error(EQ_ERR_MEMORY, "eq_kmeans_new: out of memory");
    return NULL;
  }
  m->params = *params;
  return m;
}

void eq_kmeans_free(eq_kmeans *m) {
  if (!m) return;
  eq_tensor_free(m->cluster_centers);
  eq_free(m);
}

/* ------------------------------------------------------------ initialisation */

/* k distinct indices below n (Floyd's algorithm), identical on every rank. */
static void draw_distinct(uint64_t seed, int64_t n, int64_t k, int64_t *out) {
  eq_philox g = eq_philox_init(seed, 0x6b6d72);
  int64_t cnt = 0;
  for (int64_t j = n - k; j < n; j++) {
    int64_t t = (int64_t)eq_philox_below(&g, (uint64_t)j + 1);
    bool seen = false;
    for (int64_t i = 0; i < cnt && !seen; i++) seen = out[i] == t;
    out[cnt++] = seen ? j : t;
  }
}

/* The global index of the row at cumulative D^2 mass u (u < total). */
static eq_status sample_d2(const eq_mat *X, const double *mind, double u, int64_t *idx) {
  double local = 0;
  for (int64_t i = 0; i < X->n_local; i++) local += mind[i];
  double before = 0;
  if (X->split && X->size > 1) MPI_Exscan(&local, &before, 1, MPI_DOUBLE, MPI_SUM, X->comm);
  if (X->rank == 0 || !X->split) before = 0;
  /* The rank whose interval holds u picks its row; ties at the boundary go
   * to the lowest rank with the MIN reduction below. */
  int64_t pick = INT64_MAX;
  if (u >= before && u < before + local) {
    double acc = before;
    for (int64_t i = 0; i < X->n_local; i++) {
      acc += mind[i];
      if (u < acc && mind[i] > 0) {
        pick = X->row0 + i;
        break;
      }
    }
    if (pick == INT64_MAX) /* rounding at the end of the interval */
      for (int64_t i = X->n_local - 1; i >= 0; i--)
        if (mind[i] > 0) {
          pick = X->row0 + i;
          break;
        }
  }
  if (X->split && X->size > 1) MPI_Allreduce(MPI_IN_PLACE, &pick, 1, MPI_INT64_T, MPI_MIN, X->comm);
  if (pick == INT64_MAX) { /* u fell past the last row through rounding */
    double total = local;
    if (X->split) MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_DOUBLE, MPI_SUM, X->comm);
    (void)total;
    pick = X->n - 1;
  }
  *idx = pick;
  return EQ_OK;
}

/* Greedy k-means++ (as scikit-learn): each new centre is the best, by the
 * resulting potential, of 2 + ln(k) rows drawn by D^2 sampling. */
static eq_status init_plusplus(const eq_mat *X, int64_t k, uint64_t seed, double *C) {
  int64_t d = X->d, trials = 2 + (int64_t)log((double)k);
  eq_philox g = eq_philox_init(seed, 0x6b6d7070);
  int64_t idx[64];
  idx[0] = (int64_t)eq_philox_below(&g, (uint64_t)X->n);
  eq_status st = eq_mat_fetch_rows(X, idx, 1, C);
  double *mind = eq_malloc((size_t)(X->n_local + 1) * sizeof(double));
  double *trial_mind = eq_malloc((size_t)(X->n_local + 1) * trials * sizeof(double));
  double *cand = eq_malloc((size_t)(trials * d) * sizeof(double));
  double pot[64];
  if (!mind || !trial_mind || !cand) {
    eq_free(mind), eq_free(trial_mind), eq_free(cand);
    return eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  }
  for (int64_t i = 0; i < X->n_local; i++) mind[i] = INFINITY;
  eq_km_update_mind(X, C, 1, mind);
  for (int64_t c = 1; c < k && !st; c++) {
    double total = 0;
    for (int64_t i = 0; i < X->n_local; i++) total += mind[i];
    if ((st = eq_mat_sum(X, &total, 1))) break;
    for (int64_t t = 0; t < trials && !st; t++) {
      double u = eq_philox_uniform(&g);
      if (total > 0)
        st = sample_d2(X, mind, u * total, &idx[t]);
      else /* every row sits on a centre: duplicates; any row will do */
        idx[t] = (int64_t)(u * (double)X->n);
    }
    if (!st) st = eq_mat_fetch_rows(X, idx, trials, cand);
    for (int64_t t = 0; t < trials && !st; t++) {
      double *tm = trial_mind + t * X->n_local;
      memcpy(tm, mind, (size_t)X->n_local * sizeof(double));
      eq_km_update_mind(X, cand + t * d, 1, tm);
      pot[t] = 0;
      for (int64_t i = 0; i < X->n_local; i++) pot[t] += tm[i];
    }
    if (!st) st = eq_mat_sum(X, pot, trials);
    if (st) break;
    int64_t best = 0;
    for (int64_t t = 1; t < trials; t++)
      if (pot[t] < pot[best]) best = t;
    memcpy(C + c * d, cand + best * d, (size_t)d * sizeof(double));
    memcpy(mind, trial_mind + best * X->n_local, (size_t)X->n_local * sizeof(double));
  }
  eq_free(mind), eq_free(trial_mind), eq_free(cand);
  return st;
}

/* Weighted k-means++ then weighted Lloyd on a small replicated candidate set. */
void eq_km_recluster(const double *P, const double *w, int64_t m, int64_t d, int64_t k,
                      uint64_t seed, double *C) {
  eq_philox g = eq_philox_init(seed, 0x6b6d7c7c);
  double *md = eq_malloc((size_t)m * sizeof(double));
  int64_t *lab = eq_malloc((size_t)m * sizeof(int64_t));
  double *cnt = eq_malloc((size_t)k * sizeof(double));
  double wt = 0;
  for (int64_t i = 0; i < m; i++) wt += w[i];
  /* first centre: drawn by weight */
  double u = eq_philox_uniform(&g) * wt, acc = 0;
  int64_t first = m - 1;
  for (int64_t i = 0; i < m; i++)
    if ((acc += w[i]) > u) {
      first = i;
      break;
    }
  memcpy(C, P + first * d, (size_t)d * sizeof(double));
  for (int64_t i = 0; i < m; i++) {
    double s = 0;
    for (int64_t t = 0; t < d; t++) s += (P[i * d + t] - C[t]) * (P[i * d + t] - C[t]);
    md[i] = s;
  }
  for (int64_t c = 1; c < k; c++) {
    double tot = 0;
    for (int64_t i = 0; i < m; i++) tot += w[i] * md[i];
    int64_t pick = 0;
    if (tot > 0) {
      u = eq_philox_uniform(&g) * tot, acc = 0;
      pick = -1;
      for (int64_t i = 0; i < m; i++)
        if (w[i] * md[i] > 0 && (acc += w[i] * md[i]) > u) {
          pick = i;
          break;
        }
      if (pick < 0)
        for (int64_t i = m - 1; i >= 0; i--)
          if (w[i] * md[i] > 0) {
            pick = i;
            break;
          }
    } else {
      pick = (int64_t)eq_philox_below(&g, (uint64_t)m);
    }
    memcpy(C + c * d, P + pick * d, (size_t)d * sizeof(double));
    for (int64_t i = 0; i < m; i++) {
      double s = 0;
      for (int64_t t = 0; t < d; t++) s += (P[i * d + t] - C[c * d + t]) * (P[i * d + t] - C[c * d + t]);
      if (s < md[i]) md[i] = s;
    }
  }
  for (int it = 0; it < 30; it++) {
    bool moved = false;
    for (int64_t i = 0; i < m; i++) {
      double best = INFINITY;
      int64_t bj = 0;
      for (int64_t j = 0; j < k; j++) {
        double s = 0;
        for (int64_t t = 0; t < d; t++) s += (P[i * d + t] - C[j * d + t]) * (P[i * d + t] - C[j * d + t]);
        if (s < best) best = s, bj = j;
      }
      if (it == 0 || lab[i] != bj) moved = true;
      lab[i] = bj;
    }
    if (!moved) break;
    memset(cnt, 0, (size_t)k * sizeof(double));
    double *sum = eq_calloc((size_t)(k * d), sizeof(double));
    for (int64_t i = 0; i < m; i++) {
      cnt[lab[i]] += w[i];
      for (int64_t t = 0; t < d; t++) sum[lab[i] * d + t] += w[i] * P[i * d + t];
    }
    for (int64_t j = 0; j < k; j++)
      if (cnt[j] > 0)
        for (int64_t t = 0; t < d; t++) C[j * d + t] = sum[j * d + t] / cnt[j];
    eq_free(sum);
  }
  eq_free(md), eq_free(lab), eq_free(cnt);
}

static eq_status init_parallel(const eq_mat *X, const eq_kmeans_params *p, double *C) {
  int64_t k = p->n_clusters, d = X->d;
  eq_philox g = eq_philox_init(p->seed, 0x6b6d7c30);
  int64_t idx = (int64_t)eq_philox_below(&g, (uint64_t)X->n);
  int64_t cap = 1 + (int64_t)ceil(p->oversampling * k * p->rounds * 2) + 16, m = 1;
  double *cand = eq_malloc((size_t)(cap * d) * sizeof(double));
  double *mind = eq_malloc((size_t)(X->n_local + 1) * sizeof(double));
  int64_t *mine = eq_malloc((size_t)(X->n_local + 1) * sizeof(int64_t));
  int *counts = eq_malloc((size_t)X->size * sizeof(int)), *displs = eq_malloc((size_t)X->size * sizeof(int));
  eq_status st = (cand && mind && mine && counts && displs) ? EQ_OK
                 : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  if (!st) st = eq_mat_fetch_rows(X, &idx, 1, cand);
  for (int64_t i = 0; i < X->n_local && !st; i++) mind[i] = INFINITY;
  if (!st) eq_km_update_mind(X, cand, 1, mind);
  double l = p->oversampling * (double)k;
  for (int r = 0; r < p->rounds && !st; r++) {
    double psi = 0;
    for (int64_t i = 0; i < X->n_local; i++) psi += mind[i];
    if ((st = eq_mat_sum(X, &psi, 1))) break;
    if (psi <= 0) break;
    /* each row decides by its own counter-based draw: rank-count independent */
    int64_t nm = 0;
    for (int64_t i = 0; i < X->n_local; i++) {
      uint32_t w[4];
      eq_philox_at(p->seed ^ 0x6b6d7c7cULL, (uint64_t)r + 1, (uint64_t)(X->row0 + i), w);
      if (eq_u32_to_unit_double(w[0]) < l * mind[i] / psi) mine[nm++] = X->row0 + i;
    }
    int nmi = (int)nm;
    int total = nmi;
    if (X->split && X->size > 1) {
      MPI_Allgather(&nmi, 1, MPI_INT, counts, 1, MPI_INT, X->comm);
      total = 0;
      for (int q = 0; q < X->size; q++) displs[q] = total, total += counts[q];
    }
    if (total == 0) continue;
    if (m + total > cap) total = (int)(cap - m); /* keep the first ones (rare) */
    int64_t *all = eq_malloc((size_t)(total > 0 ? total : 1) * sizeof(int64_t) * 2);
    if (X->split && X->size > 1) {
      int tot2 = 0;
      for (int q = 0; q < X->size; q++) tot2 += counts[q];
      int64_t *buf = eq_malloc((size_t)tot2 * sizeof(int64_t) + 8);
      MPI_Allgatherv(mine, nmi, MPI_INT64_T, buf, counts, displs, MPI_INT64_T, X->comm);
      memcpy(all, buf, (size_t)total * sizeof(int64_t));
      eq_free(buf);
    } else {
      memcpy(all, mine, (size_t)total * sizeof(int64_t));
    }
    st = eq_mat_fetch_rows(X, all, total, cand + m * d);
    if (!st) eq_km_update_mind(X, cand + m * d, total, mind);
    m += total;
    eq_free(all);
    if (m >= cap) break;
  }
  if (!st && m < k) {
    /* too few candidates (tiny or duplicated data): k-means++ does the rest */
    st = init_plusplus(X, k, p->seed, C);
  } else if (!st) {
    double *w = eq_malloc((size_t)(m + k) * sizeof(double));
    eq_km_assign(X, cand, m, NULL, NULL, NULL, w, NULL, NULL);
    st = eq_mat_sum(X, w, m);
    if (!st) eq_km_recluster(cand, w, m, d, k, p->seed, C);
    eq_free(w);
  }
  eq_free(cand), eq_free(mind), eq_free(mine), eq_free(counts), eq_free(displs);
  return st;
}

static eq_status init_centres(const eq_mat *X, const eq_kmeans_params *p, double *C) {
  int64_t k = p->n_clusters;
  switch (p->init) {
    case EQ_KMEANS_GIVEN: {
      double *c = eq_algo_tensor_f64(X->op, "init_centers", p->init_centers, k, X->d);
      if (!c) return eq_error_code();
      memcpy(C, c, (size_t)(k * X->d) * sizeof(double));
      eq_free(c);
      return EQ_OK;
    }
    case EQ_KMEANS_RANDOM: {
      int64_t *idx = eq_malloc((size_t)k * sizeof(int64_t));
      draw_distinct(p->seed, X->n, k, idx);
      eq_status st = eq_mat_fetch_rows(X, idx, k, C);
      eq_free(idx);
      return st;
    }
    case EQ_KMEANS_PLUSPLUS: return init_plusplus(X, k, p->seed, C);
    case EQ_KMEANS_PARALLEL: return init_parallel(X, p, C);
  }
  return eq_error(EQ_ERR_VALUE, "%s: unknown init", X->op);
}

static eq_status open_x(eq_mat *X, const char *op, const eq_kmeans_params *p, eq_rows r) {
  eq_status st = eq_mat_open(X, op, "X", r, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  if (p->n_clusters > X->n) {
    eq_mat_close(X);
    return eq_error(EQ_ERR_VALUE, "%s: n_clusters=%d > n_samples=%lld", op, p->n_clusters,
                    (long long)X->n);
  }
  return EQ_OK;
}

eq_tensor *eq_kmeans_init_centers(const eq_kmeans_params *params, eq_rows Xr) {
  const char *op = "eq_kmeans_init_centers";
  if (!params || check_params(op, params)) {
    if (!params) eq_error(EQ_ERR_VALUE, "%s: params is NULL", op);
    return NULL;
  }
  eq_mat X;
  if (open_x(&X, op, params, Xr)) return NULL;
  eq_tensor *c = eq_algo_f64_2d(params->n_clusters, X.d, NULL);
  eq_status st = eq_algo_agree(op, X.comm, c ? init_centres(&X, params, eq_f64(c)) : eq_error_code());
  eq_mat_close(&X);
  if (st) {
    eq_tensor_free(c);
    return NULL;
  }
  return c;
}

/* Lloyd from the centres C (k x d, updated in place) until no label
 * changes, the summed squared shift <= tol or max_iter; scikit-learn's rule. */
static eq_status lloyd(const eq_mat *X, int64_t k, int max_iter, double tol, double *C, int64_t *lab,
                       int *iters, bool *strict) {
  int64_t d = X->d;
  double *Cn = eq_malloc((size_t)(k * d + k + 1) * sizeof(double));
  if (!Cn) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  eq_status st = EQ_OK;
  for (int64_t i = 0; i < X->n_local; i++) lab[i] = -1;
  int it = 0;
  *strict = false;
  while (!st && it < max_iter) {
    int64_t changed = 0;
    eq_km_assign(X, C, k, lab, NULL, Cn, Cn + k * d, NULL, &changed);
    /* one all-reduce: sums, counts and the number of changed labels */
    Cn[k * d + k] = (double)changed;
    if ((st = eq_mat_sum(X, Cn, k * d + k + 1))) break;
    double ch = Cn[k * d + k], shift = 0;
    for (int64_t j = 0; j < k; j++) {
      double cnt = Cn[k * d + j];
      for (int64_t t = 0; t < d; t++) {
        /* an empty cluster keeps its centre */
        double v = cnt > 0 ? Cn[j * d + t] / cnt : C[j * d + t];
        shift += (v - C[j * d + t]) * (v - C[j * d + t]);
        C[j * d + t] = v;
      }
    }
    it++;
    if (ch == 0 && it > 1) {
      *strict = true;
      break;
    }
    if (shift <= tol) break;
  }
  *iters = it;
  eq_free(Cn);
  return st;
}

/* k-medians / k-medoids iterations (HeAT's), same stopping rule. */
static eq_status lloyd_l1(const eq_mat *X, int64_t k, int max_iter, double tol, bool medoids, double *C,
                          int64_t *lab, int *iters, bool *strict) {
  int64_t d = X->d;
  double *Cn = eq_malloc((size_t)(k * d) * sizeof(double)), *cnt = eq_malloc((size_t)(k + 1) * sizeof(double));
  eq_status st = (Cn && cnt) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  for (int64_t i = 0; i < X->n_local; i++) lab[i] = -1;
  int it = 0;
  *strict = false;
  while (!st && it < max_iter) {
    int64_t changed = 0;
    eq_km_assign_l1(X, C, k, lab, cnt, NULL, &changed);
    cnt[k] = (double)changed;
    memcpy(Cn, C, (size_t)(k * d) * sizeof(double));
    if ((st = eq_km_medians(X, lab, k, cnt, Cn))) break;
    if (medoids && (st = eq_km_snap_medoids(X, lab, k, cnt, Cn))) break;
    double shift = 0;
    for (int64_t i = 0; i < k * d; i++) shift += (Cn[i] - C[i]) * (Cn[i] - C[i]);
    memcpy(C, Cn, (size_t)(k * d) * sizeof(double));
    it++;
    if (cnt[k] == 0 && it > 1) {
      *strict = true;
      break;
    }
    if (shift <= tol) break;
  }
  *iters = it;
  eq_free(Cn), eq_free(cnt);
  return st;
}

/* Batch-parallel: every rank clusters its own rows alone (k-means++ and
 * Lloyd, no communication), then the ranks' centres weighted by their
 * cluster sizes are all-gathered and clustered into k. A rank with fewer
 * than k rows contributes its rows. */
static eq_status batch_parallel(const eq_mat *X, const eq_kmeans_params *p, double tol, double *C, int *iters) {
  int64_t k = p->n_clusters, d = X->d, nl = X->n_local;
  eq_mat L = *X;
  L.split = false, L.comm = MPI_COMM_SELF, L.size = 1, L.rank = 0, L.n = nl, L.row0 = 0;
  int64_t mine = nl >= k ? k : nl;
  double *buf = eq_calloc((size_t)(mine * (d + 1) + 1), sizeof(double));
  int64_t *lab = eq_malloc((size_t)(nl + 1) * sizeof(int64_t));
  eq_status st = (buf && lab) ? EQ_OK : eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  int it = 0;
  bool strict;
  if (!st && nl >= k) {
    /* each rank's own stream of the seed */
    st = init_plusplus(&L, k, p->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)X->rank + 1, buf);
    if (!st) st = lloyd(&L, k, p->max_iter, tol, buf, lab, &it, &strict);
    if (!st) eq_km_assign(&L, buf, k, NULL, NULL, NULL, buf + k * d, NULL, NULL);
  } else if (!st) {
    for (int64_t i = 0; i < nl; i++) {
      for (int64_t t = 0; t < d; t++) buf[i * d + t] = eq_mat_at(X, i, t);
      buf[mine * d + i] = 1;
    }
  }
  st = eq_algo_agree(X->op, X->comm, st);
  int P = X->split ? X->size : 1;
  int *cnt = eq_malloc((size_t)P * sizeof(int)), *dsp = eq_malloc((size_t)P * sizeof(int));
  int64_t total = mine;
  double *allc = NULL, *allw = NULL;
  if (!st && (!cnt || !dsp)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  if (!st && P > 1) {
    int mc = (int)mine;
    MPI_Allgather(&mc, 1, MPI_INT, cnt, 1, MPI_INT, X->comm);
    total = 0;
    for (int r = 0; r < P; r++) dsp[r] = (int)total, total += cnt[r];
  }
  if (!st) {
    allc = eq_malloc((size_t)(total * d + 1) * sizeof(double));
    allw = eq_malloc((size_t)(total + 1) * sizeof(double));
    if (!allc || !allw) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", X->op);
  }
  st = eq_algo_agree(X->op, X->comm, st);
  if (!st && P > 1) {
    for (int r = 0; r < P; r++) cnt[r] *= (int)d, dsp[r] *= (int)d;
    MPI_Allgatherv(buf, (int)(mine * d), MPI_DOUBLE, allc, cnt, dsp, MPI_DOUBLE, X->comm);
    for (int r = 0; r < P; r++) cnt[r] /= (int)d, dsp[r] /= (int)d;
    MPI_Allgatherv(buf + mine * d, (int)mine, MPI_DOUBLE, allw, cnt, dsp, MPI_DOUBLE, X->comm);
    MPI_Allreduce(MPI_IN_PLACE, &it, 1, MPI_INT, MPI_MAX, X->comm);
  } else if (!st) {
    memcpy(allc, buf, (size_t)(total * d) * sizeof(double));
    memcpy(allw, buf + mine * d, (size_t)total * sizeof(double));
  }
  if (!st) eq_km_recluster(allc, allw, total, d, k, p->seed, C);
  *iters = it;
  eq_free(buf), eq_free(lab), eq_free(cnt), eq_free(dsp), eq_free(allc), eq_free(allw);
  return st;
}

eq_status eq_kmeans_fit(eq_kmeans *m, eq_rows Xr) {
  const char *op = "eq_kmeans_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X;
  eq_status st = open_x(&X, op, &m->params, Xr);
  if (st) return st;
  const eq_kmeans_params *p = &m->params;
  int64_t k = p->n_clusters, d = X.d;
  double *C = eq_malloc((size_t)(k * d) * sizeof(double));
  int64_t *lab = eq_malloc((size_t)(X.n_local + 1) * sizeof(int64_t));
  double *mean = eq_malloc((size_t)d * sizeof(double)), *m2 = eq_malloc((size_t)d * sizeof(double));
  if (!C || !lab || !mean || !m2) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  /* scikit-learn's tolerance: relative to the mean column variance */
  double tol = 0;
  if (!st) st = eq_mat_moments(&X, mean, m2);
  if (!st) {
    for (int64_t j = 0; j < d; j++) tol += m2[j] / (double)X.n;
    tol = tol / (double)d * p->tol;
  }
  bool l1 = p->variant == EQ_KMEDIANS || p->variant == EQ_KMEDOIDS, strict = false;
  int it = 0;
  if (!st && p->variant != EQ_KMEANS_BATCH_PARALLEL) st = eq_algo_agree(op, X.comm, init_centres(&X, p, C));
  if (!st) {
    if (p->variant == EQ_KMEANS_BATCH_PARALLEL)
      st = batch_parallel(&X, p, tol, C, &it);
    else if (l1)
      st = lloyd_l1(&X, k, p->max_iter, tol, p->variant == EQ_KMEDOIDS, C, lab, &it, &strict);
    else
      st = lloyd(&X, k, p->max_iter, tol, C, lab, &it, &strict);
  }
  double inertia = 0;
  if (!st) {
    /* the inertia that belongs to the final centres */
    if (l1) eq_km_assign_l1(&X, C, k, lab, NULL, &inertia, NULL);
    else eq_km_assign(&X, C, k, NULL, NULL, NULL, NULL, &inertia, NULL);
    st = eq_mat_sum(&X, &inertia, 1);
  }
  if (!st) {
    eq_tensor_free(m->cluster_centers);
    m->cluster_centers = eq_algo_f64_2d(k, d, C);
    m->inertia = inertia;
    m->n_iter = it;
    if (!m->cluster_centers) st = eq_error_code();
  }
  eq_free(C), eq_free(lab), eq_free(mean), eq_free(m2);
  eq_mat_close(&X);
  return st;
}

eq_tensor *eq_kmeans_predict_inertia(const eq_kmeans *m, eq_rows Xr, double *inertia) {
  const char *op = "eq_kmeans_predict";
  if (!m || !m->cluster_centers) {
    eq_error(EQ_ERR_STATE, "%s: the model is not fitted", op);
    return NULL;
  }
  eq_mat X;
  if (eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  int64_t k = m->cluster_centers->shape[0];
  eq_status st = EQ_OK;
  if (X.d != m->cluster_centers->shape[1])
    st = eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, the model %lld", op, (long long)X.d,
                  (long long)m->cluster_centers->shape[1]);
  eq_arena *prev = eq_arena_set_current(NULL);
  eq_tensor *out = st ? NULL : eq_empty(EQ_I64, EQ_DIMS(X.n_local));
  eq_arena_set_current(prev);
  if (!st && !out) st = eq_error_code();
  st = eq_algo_agree(op, X.comm, st);
  double in = 0;
  if (!st) {
    int64_t *lab = eq_data_ptr(out);
    for (int64_t i = 0; i < X.n_local; i++) lab[i] = -1;
    if (m->params.variant == EQ_KMEDIANS || m->params.variant == EQ_KMEDOIDS)
      eq_km_assign_l1(&X, eq_f64(m->cluster_centers), k, lab, NULL, &in, NULL);
    else
      eq_km_assign(&X, eq_f64(m->cluster_centers), k, lab, NULL, NULL, NULL, &in, NULL);
    if (inertia) st = eq_mat_sum(&X, &in, 1), *inertia = in;
  }
  eq_mat_close(&X);
  if (st) {
    eq_tensor_free(out);
    return NULL;
  }
  return out;
}

eq_tensor *eq_kmeans_predict(const eq_kmeans *m, eq_rows X) {
  return eq_kmeans_predict_inertia(m, X, NULL);
}
