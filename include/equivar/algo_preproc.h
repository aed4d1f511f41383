/* Preprocessing: StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler
 * (fit, transform, inverse_transform) and the row-wise Normalizer. See
 * algo.h. Constant columns get scale 1 (scikit-learn's rule), so they map to
 * 0 (standard, robust), 0 (min-max) or stay (max-abs of 0). */
#ifndef EQUIVAR_ALGO_PREPROC_H
#define EQUIVAR_ALGO_PREPROC_H

#include "equivar/algo.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eq_scaler_kind {
  EQ_SCALER_STANDARD = 0, /* (x - mean) / std, ddof 0; per-rank moments merged
                             with Chan et al.'s pairwise formula */
  EQ_SCALER_MINMAX,       /* (x - min) / (max - min) * (hi - lo) + lo */
  EQ_SCALER_MAXABS,       /* x / max|x| */
  EQ_SCALER_ROBUST        /* (x - median) / (q75 - q25); exact distributed
                             quantiles (NumPy's linear interpolation) */
} eq_scaler_kind;

typedef struct eq_scaler_params {
  eq_scaler_kind kind;
  bool with_centering; /* standard, robust (default true) */
  bool with_scaling;   /* standard, robust (default true) */
  double feature_range[2]; /* min-max (default 0, 1) */
  double quantile_range[2]; /* robust, in percent (default 25, 75) */
} eq_scaler_params;

typedef struct eq_scaler {
  eq_scaler_params params;
  int64_t n_features;
  eq_tensor *offset; /* (d,): subtracted first (mean, min, median or 0) */
  eq_tensor *scale;  /* (d,): then divided by */
  eq_tensor *stat_a, *stat_b; /* standard: mean, var; min-max: data min,
                                 max; max-abs: max_abs, -; robust: center, IQR */
} eq_scaler;

eq_scaler_params eq_scaler_defaults(eq_scaler_kind kind);
eq_scaler *eq_scaler_new(const eq_scaler_params *params);
eq_status eq_scaler_fit(eq_scaler *m, eq_rows X);
/* (n_local, d) in X's dtype. */
eq_tensor *eq_scaler_transform(const eq_scaler *m, eq_rows X);
eq_tensor *eq_scaler_inverse_transform(const eq_scaler *m, eq_rows X);
void eq_scaler_free(eq_scaler *m);

typedef enum eq_norm { EQ_NORM_L2 = 0, EQ_NORM_L1, EQ_NORM_MAX } eq_norm;
/* Each row divided by its norm (rows of norm 0 are left as they are). Row
 * wise, so no communication and nothing to fit or invert. */
eq_tensor *eq_normalize_rows(eq_rows X, eq_norm norm);

#ifdef __cplusplus
}
#endif
#endif
