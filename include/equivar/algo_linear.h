/* Linear models: Lasso (coordinate descent), linear and ridge regression
 * (normal equations or QR), multinomial logistic regression (L-BFGS), the
 * linear probe of the evaluation. See algo.h for the conventions. */
#ifndef EQUIVAR_ALGO_LINEAR_H
#define EQUIVAR_ALGO_LINEAR_H

#include "equivar/algo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- Lasso
 * minimises 1/(2n) ||y - X w - b||^2 + alpha ||w||_1 (scikit-learn's
 * objective) by cyclic coordinate descent. The data enter through their
 * (centred) Gram matrix X^T X and X^T y, reduced over the ranks once, so one
 * sweep over the d coordinates costs O(d^2) and no communication: the same
 * iterates as the residual-update form HeAT uses, which needs one all-reduce
 * per coordinate and a pass over a strided column. */
typedef struct eq_lasso_params {
  double alpha;       /* >= 0 */
  bool fit_intercept; /* default true */
  int max_iter;       /* sweeps (default 1000) */
  double tol;         /* stop when the largest coordinate update <= tol * max|w|
                         (scikit-learn's first criterion; default 1e-4) */
} eq_lasso_params;

typedef struct eq_lasso {
  eq_lasso_params params;
  eq_tensor *coef; /* (d,) */
  double intercept;
  int n_iter;
} eq_lasso;

eq_lasso_params eq_lasso_defaults(double alpha);
eq_lasso *eq_lasso_new(const eq_lasso_params *params);
/* X (n, d), y (n,) or (n, 1). */
eq_status eq_lasso_fit(eq_lasso *m, eq_rows X, eq_rows y);
/* (n_local,) in X's dtype. */
eq_tensor *eq_lasso_predict(const eq_lasso *m, eq_rows X);
void eq_lasso_free(eq_lasso *m);

/* ------------------------------------------------------------- linear / ridge
 * minimises ||Y - X W - b||^2 + alpha ||W||^2 (alpha = 0: ordinary least
 * squares). Y may have several columns. */
typedef enum eq_linreg_solver {
  EQ_LINREG_QR = 0, /* TSQR of [X - mean | Y - mean]: accurate, the default */
  EQ_LINREG_NORMAL  /* Cholesky of X^T X + alpha I: half the flops */
} eq_linreg_solver;

typedef struct eq_linreg_params {
  double alpha; /* 0: LinearRegression; > 0: Ridge */
  bool fit_intercept;
  eq_linreg_solver solver;
} eq_linreg_params;

typedef struct eq_linreg {
  eq_linreg_params params;
  eq_tensor *coef;      /* (t, d) as scikit-learn; (1, d) for 1-D y */
  eq_tensor *intercept; /* (t,) */
  bool y_was_1d;
} eq_linreg;

eq_linreg_params eq_linreg_defaults(double alpha);
eq_linreg *eq_linreg_new(const eq_linreg_params *params);
/* X (n, d), Y (n,) or (n, t). A rank-deficient X (alpha = 0) is an error. */
eq_status eq_linreg_fit(eq_linreg *m, eq_rows X, eq_rows Y);
/* (n_local,) or (n_local, t) in X's dtype. */
eq_tensor *eq_linreg_predict(const eq_linreg *m, eq_rows X);
void eq_linreg_free(eq_linreg *m);

/* ------------------------------------------------------------- logistic
 * Multinomial (softmax) logistic regression: minimises
 *   sum_i CE(softmax(W x_i + b), y_i) + 1/(2C) ||W||^2
 * (scikit-learn's LogisticRegression(multi_class="multinomial", lbfgs)) with
 * L-BFGS; each evaluation of loss and gradient is one pass over the local
 * rows and one all-reduce. Labels are integers 0..K-1 (K = the global max + 1
 * unless n_classes is given). */
typedef struct eq_logreg_params {
  double C;          /* inverse regularisation strength > 0 (default 1) */
  bool fit_intercept;
  int n_classes;     /* 0: from the labels */
  int max_iter;      /* L-BFGS iterations (default 100) */
  double tol;        /* stop when max |gradient| <= tol (default 1e-4) */
  int memory;        /* L-BFGS history (default 10) */
} eq_logreg_params;

typedef struct eq_logreg {
  eq_logreg_params params;
  int n_classes;
  eq_tensor *coef;      /* (K, d) */
  eq_tensor *intercept; /* (K,) */
  int n_iter;
  double loss;          /* final objective / n */
} eq_logreg;

eq_logreg_params eq_logreg_defaults(double C);
eq_logreg *eq_logreg_new(const eq_logreg_params *params);
/* X (n, d) float, y (n,) int32/int64 labels. */
eq_status eq_logreg_fit(eq_logreg *m, eq_rows X, eq_rows y);
eq_tensor *eq_logreg_predict(const eq_logreg *m, eq_rows X);       /* int64 (n_local,) */
eq_tensor *eq_logreg_predict_proba(const eq_logreg *m, eq_rows X); /* f64 (n_local, K) */
void eq_logreg_free(eq_logreg *m);

#ifdef __cplusplus
}
#endif
#endif
