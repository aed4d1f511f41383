/* Included by sketch.c once per dtype: T, SFX(name), PAD(l), GEMM defined, and
 * SFX(times) / SFX(t_times), the products of one cached block. */

/* One pass over the local rows for the job j, in blocks of ROWS rows. */
static void SFX(pass)(sketch_job *j) {
  const T *X = j->X->x;
  int64_t n = j->X->n_local, d = j->X->d, l = j->l, lp = PAD(l), w = d > lp ? d : lp;
  T *q = eq_calloc((size_t)(d * lp + 1), sizeof(T)), *mu = eq_malloc((size_t)d * sizeof(T));
  int nt = omp_get_max_threads();
  /* per thread: Z^T (l x d) then G (l x l), f64 */
  int64_t per = l * d + l * l;
  double *acc = eq_calloc((size_t)nt * per + 1, sizeof(double));
  if (!q || !mu || !acc) {
    eq_free(q), eq_free(mu), eq_free(acc);
    j->bad = 1;
    return;
  }
  for (int64_t i = 0; i < d; i++) {
    mu[i] = (T)j->mean[i];
    for (int64_t c = 0; c < l; c++) q[i * lp + c] = (T)j->Q[i * l + c];
  }
  int bad = 0;
#pragma omp parallel if (EQ_ALGO_PARALLEL(n * d * l)) reduction(| : bad)
  {
    T *xc = eq_malloc((size_t)(ROWS * d) * sizeof(T)), *y = eq_calloc((size_t)(ROWS * lp), sizeof(T));
    T *tmp = eq_malloc((size_t)(w * lp) * sizeof(T));
    double *myZ = acc + (size_t)omp_get_thread_num() * per, *myG = myZ + l * d;
    if (!xc || !y || !tmp) bad = 1;
    int64_t stride = (int64_t)omp_get_num_threads() * ROWS;
#pragma omp for schedule(static, 1)
    for (int64_t s = 0; s < n; s += ROWS) {
      if (bad) continue;
      int64_t m = n - s < ROWS ? n - s : ROWS;
      const T *xb = X + s * d;
      for (int64_t i = 0; i < m; i++) {
        T *restrict o = xc + i * d;
        const T *restrict in = xb + i * d;
        for (int64_t c = 0; c < d; c++) o[c] = in[c] - mu[c];
      }
      /* with schedule(static, 1) this thread's next block starts stride rows on */
      int64_t nx = s + stride < n ? (n - s - stride < ROWS ? n - s - stride : ROWS) : 0;
      SFX(times)(xc, m, d, q, lp, y, nx ? (const char *)(X + (s + stride) * d) : NULL, nx * d * (int64_t)sizeof(T));
      SFX(t_times)(xc, d, d, y, lp, l, m, myZ, tmp);
      if (j->G) SFX(t_times)(y, lp, l, y, lp, l, m, myG, tmp);
      if (j->Y)
        for (int64_t i = 0; i < m; i++) memcpy((T *)j->Y + (s + i) * l, y + i * lp, (size_t)l * sizeof(T));
    }
    eq_free(xc), eq_free(y), eq_free(tmp);
  }
  for (int64_t i = 0; !bad && i < d + l; i++)
    for (int64_t c = 0; c < l; c++) {
      int64_t at = i < d ? c * d + i : l * d + (i - d) * l + c;
      double s = 0;
      for (int t = 0; t < nt; t++) s += acc[(size_t)t * per + at];
      if (i < d) j->Z[i * l + c] = s;
      else if (j->G) j->G[(i - d) * l + c] = s;
    }
  eq_free(q), eq_free(mu), eq_free(acc);
  j->bad = bad;
}

/* Per column of U = Y M: largest |entry| (first on ties) and its sign. U
 * is formed a block of rows at a time (in T, it only decides signs). */
static int SFX(absmax)(const T *Y, int64_t n, int64_t l, const double *M, int64_t k, double *best,
                        double *sign) {
  int nt = omp_get_max_threads();
  /* per thread and column: value, sign, row */
  double *part = eq_malloc((size_t)(nt * k * 3) * sizeof(double));
  T *Mt = eq_malloc((size_t)(l * k) * sizeof(T));
  int bad = !part || !Mt;
  for (int64_t c = 0; c < k; c++) best[c] = -1, sign[c] = 1;
  /* every thread's slot, also those of threads the if clause does not start */
  for (int64_t c = 0; !bad && c < nt * k; c++) part[c * 3] = -1, part[c * 3 + 1] = 1, part[c * 3 + 2] = (double)n;
  for (int64_t c = 0; !bad && c < l * k; c++) Mt[c] = (T)M[c];
#pragma omp parallel if (!bad && EQ_ALGO_PARALLEL(n * l * k)) reduction(| : bad)
  {
    double *p = part ? part + (size_t)omp_get_thread_num() * k * 3 : NULL;
    T *u = eq_malloc((size_t)(ROWS * k) * sizeof(T));
    if (!u || !p || !Mt) bad = 1;
#pragma omp for schedule(static)
    for (int64_t s = 0; s < n; s += ROWS) {
      if (bad) continue;
      int64_t m = n - s < ROWS ? n - s : ROWS;
      GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)k, (int)l, 1, Y + s * l, (int)l, Mt, (int)k,
           0, u, (int)k);
      for (int64_t i = 0; i < m; i++)
        for (int64_t c = 0; c < k; c++) {
          double v = (double)u[i * k + c];
          if (fabs(v) > p[c * 3]) p[c * 3] = fabs(v), p[c * 3 + 1] = v < 0 ? -1 : 1, p[c * 3 + 2] = (double)(s + i);
        }
    }
    eq_free(u);
  }
  for (int64_t c = 0; !bad && c < k; c++) {
    double row = (double)n;
    for (int t = 0; t < nt; t++) {
      const double *p = part + (size_t)t * k * 3 + c * 3;
      if (p[0] > best[c] || (p[0] == best[c] && p[2] < row)) best[c] = p[0], sign[c] = p[1], row = p[2];
    }
  }
  eq_free(part), eq_free(Mt);
  return bad;
}
