/* Multinomial logistic regression by L-BFGS: every evaluation of the loss
 * and its gradient is one pass over the local rows (two GEMMs in X's dtype)
 * and one all-reduce; the L-BFGS state is replicated and updated
 * identically on every rank. */
#include <math.h>
#include <string.h>

#include "algo/common.h"

eq_logreg_params eq_logreg_defaults(double C) {
  eq_logreg_params p = {C, true, 0, 100, 1e-4, 10};
  return p;
}

eq_logreg *eq_logreg_new(const eq_logreg_params *params) {
  if (!params || !(params->C > 0) || params->max_iter < 1 || !(params->tol >= 0) || params->memory < 1 ||
      params->n_classes < 0) {
    eq_error(EQ_ERR_VALUE, "eq_logreg_new: needs C > 0 (got %g), max_iter >= 1, tol >= 0, memory >= 1, n_classes >= 0",
             params ? params->C : NAN);
    return NULL;
  }
  eq_logreg *m = eq_calloc(1, sizeof *m);
  if (m) m->params = *params;
  else eq_error(EQ_ERR_MEMORY, "eq_logreg_new: out of memory");
  return m;
}

void eq_logreg_free(eq_logreg *m) {
  if (!m) return;
  eq_tensor_free(m->coef), eq_tensor_free(m->intercept);
  eq_free(m);
}

typedef struct problem {
  const eq_mat *X, *y;
  int64_t d, K, n_local;
  double n, lambda; /* lambda = 1 / (C n) */
  bool intercept;
  double *Z;        /* n_local x K work */
} problem;

/* Softmax probabilities of theta = [W (d x K) | b (K)] into p->Z (n_local x K). */
static eq_status probabilities(const problem *p, const double *theta, double *Z) {
  int64_t K = p->K;
  double *shift = eq_malloc((size_t)K * sizeof(double));
  if (!shift) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", p->X->op);
  for (int64_t c = 0; c < K; c++) shift[c] = p->intercept ? -theta[p->d * K + c] : 0;
  eq_status st = eq_mat_xw(p->X, theta, K, shift, Z);
  eq_free(shift);
  for (int64_t i = 0; i < p->n_local && !st; i++) {
    double *z = Z + i * K, mx = z[0], s = 0;
    for (int64_t c = 1; c < K; c++) mx = fmax(mx, z[c]);
    for (int64_t c = 0; c < K; c++) s += (z[c] = exp(z[c] - mx));
    for (int64_t c = 0; c < K; c++) z[c] /= s;
  }
  return st;
}

/* f = mean cross-entropy + lambda/2 |W|^2 and its gradient g. */
static eq_status evaluate(const problem *p, const double *theta, double *f, double *g) {
  int64_t d = p->d, K = p->K, nt = d * K + K;
  double *Z = p->Z;
  eq_status st = probabilities(p, theta, Z);
  if (st) return st;
  double loss = 0;
  for (int64_t c = 0; c < K; c++) g[d * K + c] = 0;
  for (int64_t i = 0; i < p->n_local; i++) {
    int64_t yi = eq_mat_label(p->y, i);
    double *z = Z + i * K;
    loss -= log(fmax(z[yi], 1e-300));
    z[yi] -= 1; /* Z becomes P - Y */
    for (int64_t c = 0; c < K; c++) g[d * K + c] += z[c];
  }
  if ((st = eq_mat_xtv(p->X, Z, K, g))) return st;
  /* one all-reduce of [gradient sums | loss] */
  double *buf = eq_malloc((size_t)(nt + 1) * sizeof(double));
  if (!buf) return eq_error(EQ_ERR_MEMORY, "%s: out of memory", p->X->op);
  memcpy(buf, g, (size_t)nt * sizeof(double));
  buf[nt] = loss;
  st = eq_mat_sum(p->X, buf, nt + 1);
  if (!st) {
    double reg = 0;
    for (int64_t i = 0; i < d * K; i++) {
      g[i] = buf[i] / p->n + p->lambda * theta[i];
      reg += theta[i] * theta[i];
    }
    for (int64_t c = 0; c < K; c++) g[d * K + c] = p->intercept ? buf[d * K + c] / p->n : 0;
    *f = buf[nt] / p->n + 0.5 * p->lambda * reg;
  }
  eq_free(buf);
  return st;
}

static double dot(const double *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

static double amax(const double *a, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s = fmax(s, fabs(a[i]));
  return s;
}

/* L-BFGS (two-loop recursion) with a backtracking Armijo line search. */
static eq_status lbfgs(const problem *p, const eq_logreg_params *par, double *x, int *iters, double *fout) {
  int64_t nt = p->d * p->K + p->K;
  int mem = par->memory;
  double *g = eq_malloc((size_t)nt * sizeof(double)), *dir = eq_malloc((size_t)nt * sizeof(double));
  double *xn = eq_malloc((size_t)nt * sizeof(double)), *gn = eq_malloc((size_t)nt * sizeof(double));
  double *S = eq_malloc((size_t)(mem * nt) * sizeof(double)), *Yv = eq_malloc((size_t)(mem * nt) * sizeof(double));
  double *rho = eq_malloc((size_t)mem * sizeof(double)), *al = eq_malloc((size_t)mem * sizeof(double));
  if (!g || !dir || !xn || !gn || !S || !Yv || !rho || !al) {
    eq_free(g), eq_free(dir), eq_free(xn), eq_free(gn), eq_free(S), eq_free(Yv), eq_free(rho), eq_free(al);
    return eq_error(EQ_ERR_MEMORY, "%s: out of memory", p->X->op);
  }
  double f = 0;
  eq_status st = evaluate(p, x, &f, g);
  int hist = 0, head = 0, it = 0;
  for (; !st && it < par->max_iter && amax(g, nt) > par->tol; it++) {
    /* dir = -H g */
    for (int64_t i = 0; i < nt; i++) dir[i] = -g[i];
    for (int h = 0; h < hist; h++) {
      int j = (head - 1 - h + mem) % mem;
      al[j] = rho[j] * dot(S + j * nt, dir, nt);
      for (int64_t i = 0; i < nt; i++) dir[i] -= al[j] * Yv[j * nt + i];
    }
    if (hist > 0) {
      int j = (head - 1 + mem) % mem;
      double gamma = dot(S + j * nt, Yv + j * nt, nt) / dot(Yv + j * nt, Yv + j * nt, nt);
      for (int64_t i = 0; i < nt; i++) dir[i] *= gamma;
    }
    for (int h = hist - 1; h >= 0; h--) {
      int j = (head - 1 - h + mem) % mem;
      double b = rho[j] * dot(Yv + j * nt, dir, nt);
      for (int64_t i = 0; i < nt; i++) dir[i] += S[j * nt + i] * (al[j] - b);
    }
    double gd = dot(g, dir, nt);
    if (!(gd < 0)) { /* not a descent direction: restart from the gradient */
      hist = 0;
      for (int64_t i = 0; i < nt; i++) dir[i] = -g[i];
      gd = -dot(g, g, nt);
    }
    double step = hist == 0 ? fmin(1.0, 1.0 / sqrt(-gd)) : 1.0, fn = f;
    int ls = 0;
    for (; ls < 50; ls++) {
      for (int64_t i = 0; i < nt; i++) xn[i] = x[i] + step * dir[i];
      if ((st = evaluate(p, xn, &fn, gn))) break;
      if (fn <= f + 1e-4 * step * gd) break;
      step *= 0.5;
    }
    if (st) break;
    if (ls == 50) break; /* no decrease possible at this precision */
    double *s = S + head * nt, *yv = Yv + head * nt;
    for (int64_t i = 0; i < nt; i++) s[i] = xn[i] - x[i], yv[i] = gn[i] - g[i];
    double sy = dot(s, yv, nt);
    if (sy > 1e-300) {
      rho[head] = 1 / sy;
      head = (head + 1) % mem;
      if (hist < mem) hist++;
    }
    bool stalled = fabs(f - fn) <= 64 * 2.2e-16 * fmax(fabs(f), fmax(fabs(fn), 1.0));
    memcpy(x, xn, (size_t)nt * sizeof(double));
    memcpy(g, gn, (size_t)nt * sizeof(double));
    f = fn;
    if (stalled) {
      it++;
      break;
    }
  }
  *iters = it;
  *fout = f;
  eq_free(g), eq_free(dir), eq_free(xn), eq_free(gn), eq_free(S), eq_free(Yv), eq_free(rho), eq_free(al);
  return st;
}

eq_status eq_logreg_fit(eq_logreg *m, eq_rows Xr, eq_rows yr) {
  const char *op = "eq_logreg_fit";
  if (!m) return eq_error(EQ_ERR_VALUE, "%s: model is NULL", op);
  eq_mat X, y;
  eq_status st = eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE);
  if (st) return st;
  if ((st = eq_mat_open(&y, op, "y", yr, EQ_MAT_INT | EQ_MAT_1D))) {
    eq_mat_close(&X);
    return st;
  }
  st = eq_mat_same_rows(&X, &y);
  int K = 0;
  if (!st) st = eq_mat_n_classes(&y, &K);
  if (!st && m->params.n_classes) {
    if (K > m->params.n_classes)
      st = eq_error(EQ_ERR_VALUE, "%s: label %d >= n_classes=%d", op, K - 1, m->params.n_classes);
    K = m->params.n_classes;
  }
  if (!st && K < 2) st = eq_error(EQ_ERR_VALUE, "%s: needs at least 2 classes, got %d", op, K);
  int64_t d = X.d, nt = d * K + K;
  problem p = {&X, &y, d, K, X.n_local, (double)X.n, 1.0 / (m->params.C * (double)X.n),
               m->params.fit_intercept, NULL};
  double *theta = st ? NULL : eq_calloc((size_t)nt, sizeof(double));
  p.Z = st ? NULL : eq_malloc((size_t)(X.n_local * K + 1) * sizeof(double));
  if (!st && (!theta || !p.Z)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  int iters = 0;
  double f = 0;
  if (!st) st = lbfgs(&p, &m->params, theta, &iters, &f);
  if (!st) {
    eq_tensor_free(m->coef), eq_tensor_free(m->intercept);
    m->coef = eq_algo_f64_2d(K, d, NULL);
    m->intercept = eq_algo_f64_1d(K, theta + d * K);
    if (!m->coef || !m->intercept) st = eq_error_code();
    for (int64_t c = 0; c < K && !st; c++)
      for (int64_t j = 0; j < d; j++) eq_f64(m->coef)[c * d + j] = theta[j * K + c];
    m->n_classes = K;
    m->n_iter = iters;
    m->loss = f;
  }
  eq_free(theta), eq_free(p.Z);
  eq_mat_close(&X), eq_mat_close(&y);
  return st;
}

eq_tensor *eq_logreg_predict_proba(const eq_logreg *m, eq_rows Xr) {
  const char *op = "eq_logreg_predict_proba";
  if (!m || !m->coef) {
    eq_error(EQ_ERR_STATE, "%s: the model is not fitted", op);
    return NULL;
  }
  eq_mat X;
  if (eq_mat_open(&X, op, "X", Xr, EQ_MAT_FLOAT | EQ_MAT_2D | EQ_MAT_FINITE)) return NULL;
  int64_t K = m->n_classes, d = m->coef->shape[1];
  eq_status st = X.d != d ? eq_error(EQ_ERR_SHAPE, "%s: X has %lld features, the model %lld", op,
                                     (long long)X.d, (long long)d)
                          : EQ_OK;
  double *theta = eq_malloc((size_t)(d * K + K) * sizeof(double));
  double *Z = eq_malloc((size_t)(X.n_local * K + 1) * sizeof(double));
  if (!st && (!theta || !Z)) st = eq_error(EQ_ERR_MEMORY, "%s: out of memory", op);
  st = eq_algo_agree(op, X.comm, st);
  eq_tensor *res = NULL;
  if (!st) {
    for (int64_t c = 0; c < K; c++) {
      for (int64_t j = 0; j < d; j++) theta[j * K + c] = eq_f64(m->coef)[c * d + j];
      theta[d * K + c] = eq_f64(m->intercept)[c];
    }
    problem p = {&X, NULL, d, K, X.n_local, (double)X.n, 0, true, Z};
    if (!(st = probabilities(&p, theta, Z))) res = eq_algo_result(EQ_F64, 2, X.n_local, K, Z);
  }
  eq_free(theta), eq_free(Z);
  eq_mat_close(&X);
  return res;
}

eq_tensor *eq_logreg_predict(const eq_logreg *m, eq_rows X) {
  eq_tensor *P = eq_logreg_predict_proba(m, X);
  if (!P) return NULL;
  eq_tensor *r = eq_algo_argmax_rows(P);
  eq_tensor_free(P);
  return r;
}
