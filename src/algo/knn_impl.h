/* Included by knn.c once per dtype: T, SFX(name), GEMM defined.
 *
 * Scores a block of queries against the local training rows by one GEMM per
 * (query block, training block) and keeps each query's k best candidates
 * sorted by (distance, global index): a total order, so merging the
 * training rows in any order gives the same list. init starts empty lists;
 * otherwise bd/bi/bl already hold candidates (from other ranks' rows). Euclidean: |x|^2 - 2 q.x (+|q|^2 at
 * the end); cosine: 1 - q.x / (|q| |x|). */
static void SFX(knn_scan)(const T *Q, int64_t nq, const T *X, int64_t nx, int64_t d,
                          const double *xaux, const double *qaux, bool cosine, int64_t row0,
                          const int64_t *labels, int64_t k, double *bd, int64_t *bi, int64_t *bl, bool init) {
  const int64_t BQ = 128, BX = 2048;
  for (int64_t i = 0; init && i < nq * k; i++) bd[i] = INFINITY, bi[i] = INT64_MAX, bl[i] = -1;
#pragma omp parallel if (EQ_ALGO_PARALLEL(nq * nx * d))
  {
    T *S = eq_malloc((size_t)(BQ * BX) * sizeof(T));
#pragma omp for schedule(dynamic)
    for (int64_t q0 = 0; q0 < nq; q0 += BQ) {
      int64_t mq = nq - q0 < BQ ? nq - q0 : BQ;
      for (int64_t x0 = 0; x0 < nx; x0 += BX) {
        int64_t mx = nx - x0 < BX ? nx - x0 : BX;
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mq, (int)mx, (int)d, 1, Q + q0 * d, (int)d,
             X + x0 * d, (int)d, 0, S, (int)mx);
        for (int64_t a = 0; a < mq; a++) {
          double *dd = bd + (q0 + a) * k;
          int64_t *ii = bi + (q0 + a) * k, *ll = bl + (q0 + a) * k;
          const T *s = S + a * mx;
          for (int64_t b = 0; b < mx; b++) {
            double v = cosine ? 1.0 - (double)s[b] * xaux[x0 + b] * qaux[q0 + a]
                              : xaux[x0 + b] - 2.0 * (double)s[b];
            int64_t g = row0 + x0 + b;
            if (v > dd[k - 1] || (v == dd[k - 1] && g > ii[k - 1])) continue;
            int64_t p = k - 1;
            while (p > 0 && (dd[p - 1] > v || (dd[p - 1] == v && ii[p - 1] > g))) {
              dd[p] = dd[p - 1], ii[p] = ii[p - 1], ll[p] = ll[p - 1];
              p--;
            }
            dd[p] = v, ii[p] = g, ll[p] = labels[x0 + b];
          }
        }
      }
    }
    eq_free(S);
  }
}
