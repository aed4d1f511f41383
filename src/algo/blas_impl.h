/* Included by blas.c once per dtype: T, SFX(name), GEMM, SYRK defined. */

static void SFX(xw)(const T *X, int64_t n, int64_t d, const double *W, int64_t k,
                    const double *shift, double *out) {
  T *w = eq_malloc((size_t)(d * k + 1) * sizeof(T));
  for (int64_t i = 0; i < d * k; i++) w[i] = (T)W[i];
  const int64_t B = 8192;
#pragma omp parallel if (EQ_ALGO_PARALLEL(n * d * k))
  {
    T *buf = eq_malloc((size_t)(B * k + 1) * sizeof(T));
#pragma omp for schedule(dynamic)
    for (int64_t s = 0; s < n; s += B) {
      int64_t m = n - s < B ? n - s : B;
      GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k, (int)d, 1, X + s * d,
           (int)d, w, (int)k, 0, buf, (int)k);
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
          out[(s + i) * k + j] = (double)buf[i * k + j] - (shift ? shift[j] : 0.0);
    }
    eq_free(buf);
  }
  eq_free(w);
}

static void SFX(xtv)(const T *X, int64_t n, int64_t d, const double *V, int64_t k, double *out) {
  const int64_t B = 8192;
  int nt = omp_get_max_threads();
  double *acc = eq_calloc((size_t)nt * d * k + 1, sizeof(double));
#pragma omp parallel if (EQ_ALGO_PARALLEL(n * d * k))
  {
    double *my = acc + (size_t)omp_get_thread_num() * d * k;
    T *v = eq_malloc((size_t)(B * k + 1) * sizeof(T));
    T *r = eq_malloc((size_t)(d * k + 1) * sizeof(T));
#pragma omp for schedule(dynamic)
    for (int64_t s = 0; s < n; s += B) {
      int64_t m = n - s < B ? n - s : B;
      for (int64_t i = 0; i < m * k; i++) v[i] = (T)V[s * k + i];
      GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)k, (int)m, 1, X + s * d, (int)d,
           v, (int)k, 0, r, (int)k);
      for (int64_t i = 0; i < d * k; i++) my[i] += (double)r[i];
    }
    eq_free(v), eq_free(r);
  }
  for (int64_t i = 0; i < d * k; i++) {
    double s = 0;
    for (int t = 0; t < nt; t++) s += acc[(size_t)t * d * k + i];
    out[i] = s;
  }
  eq_free(acc);
}

static void SFX(gram)(const T *X, int64_t n, int64_t d, const double *mean, double *G) {
  const int64_t B = 2048;
  int nt = omp_get_max_threads();
  double *acc = eq_calloc((size_t)nt * d * d + 1, sizeof(double));
#pragma omp parallel if (EQ_ALGO_PARALLEL(n * d * d))
  {
    double *my = acc + (size_t)omp_get_thread_num() * d * d;
    T *c = eq_malloc((size_t)(B * d + 1) * sizeof(T));
    T *g = eq_malloc((size_t)(d * d + 1) * sizeof(T));
#pragma omp for schedule(dynamic)
    for (int64_t s = 0; s < n; s += B) {
      int64_t m = n - s < B ? n - s : B;
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < d; j++) c[i * d + j] = X[(s + i) * d + j] - (T)mean[j];
      SYRK(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)m, 1, c, (int)d, 0, g, (int)d);
      for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++) my[i * d + j] += (double)g[i * d + j];
    }
    eq_free(c), eq_free(g);
  }
  for (int64_t i = 0; i < d; i++)
    for (int64_t j = i; j < d; j++) {
      double s = 0;
      for (int t = 0; t < nt; t++) s += acc[(size_t)t * d * d + i * d + j];
      G[i * d + j] = G[j * d + i] = s;
    }
  eq_free(acc);
}
