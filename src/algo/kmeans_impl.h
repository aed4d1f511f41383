/* Included by kmeans_kernels.c once per dtype: T, SFX(name), GEMM defined. */

/* Closest of k centres for each row by the quadratic expansion
 * |c|^2 - 2 x.c (one GEMM per block of rows); the minimum distance and the
 * inertia are then recomputed exactly as |x - c|^2, which costs d per row
 * and keeps them free of the expansion's cancellation. */
static void SFX(assign)(const T *X, int64_t n, int64_t d, const double *Cd, int64_t k,
                        int64_t *labels, double *mind, double *sums, double *counts,
                        double *inertia, int64_t *changed) {
  T *C = eq_malloc((size_t)(k * d + 1) * sizeof(T));
  T *cn = eq_malloc((size_t)(k + 1) * sizeof(T));
  for (int64_t i = 0; i < k * d; i++) C[i] = (T)Cd[i];
  for (int64_t j = 0; j < k; j++) {
    T s = 0;
    for (int64_t t = 0; t < d; t++) s += C[j * d + t] * C[j * d + t];
    cn[j] = s;
  }
  const int64_t B = 1024;
  int nt = omp_get_max_threads();
  size_t per = (size_t)(sums ? k * d : 0) + (size_t)(counts ? k : 0);
  double *acc = eq_calloc((size_t)nt * per + 1, sizeof(double));
  double in_total = 0;
  int64_t ch_total = 0;
#pragma omp parallel reduction(+ : in_total, ch_total) if (EQ_ALGO_PARALLEL(n * d * k))
  {
    double *my_s = acc + (size_t)omp_get_thread_num() * per;
    double *my_c = my_s + (sums ? k * d : 0);
    T *buf = eq_malloc((size_t)(B * k + 1) * sizeof(T));
#pragma omp for schedule(dynamic)
    for (int64_t s = 0; s < n; s += B) {
      int64_t m = n - s < B ? n - s : B;
      const T *xb = X + s * d;
      GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)d, 1, xb, (int)d, C,
           (int)d, 0, buf, (int)k);
      for (int64_t i = 0; i < m; i++) {
        const T *row = buf + i * k;
        int64_t best = 0;
        T bv = cn[0] - 2 * row[0];
        for (int64_t j = 1; j < k; j++) {
          T v = cn[j] - 2 * row[j];
          if (v < bv) bv = v, best = j;
        }
        const T *x = xb + i * d;
        if (mind || inertia) {
          const T *c = C + best * d;
          double dist = 0;
          for (int64_t t = 0; t < d; t++) {
            double e = (double)x[t] - (double)c[t];
            dist += e * e;
          }
          in_total += dist;
          if (mind) mind[s + i] = dist;
        }
        if (labels) {
          if (labels[s + i] != best) ch_total++;
          labels[s + i] = best;
        }
        if (sums) {
          double *sr = my_s + best * d;
          for (int64_t t = 0; t < d; t++) sr[t] += (double)x[t];
        }
        if (counts) my_c[best] += 1;
      }
    }
    eq_free(buf);
  }
  for (size_t i = 0; i < per; i++) {
    double v = 0;
    for (int t = 0; t < nt; t++) v += acc[(size_t)t * per + i];
    if (sums && i < (size_t)(k * d))
      sums[i] = v;
    else if (counts)
      counts[i - (sums ? (size_t)(k * d) : 0)] = v;
  }
  if (inertia) *inertia = in_total;
  if (changed) *changed = ch_total;
  eq_free(acc), eq_free(C), eq_free(cn);
}

/* mind[i] = min(mind[i], min_j |x_i - c_j|^2) over a few new centres. */
static void SFX(update_mind)(const T *X, int64_t n, int64_t d, const double *C, int64_t k,
                             double *mind) {
#pragma omp parallel for schedule(static) if (EQ_ALGO_PARALLEL(n * d * k))
  for (int64_t i = 0; i < n; i++) {
    const T *x = X + i * d;
    double best = mind[i];
    for (int64_t j = 0; j < k; j++) {
      const double *c = C + j * d;
      double dist = 0;
      for (int64_t t = 0; t < d; t++) {
        double e = (double)x[t] - c[t];
        dist += e * e;
      }
      if (dist < best) best = dist;
    }
    mind[i] = best;
  }
}
