/* equivar algorithms: HeAT's estimators on row-distributed data.
 *
 * Data model. An algorithm sees a data matrix as eq_rows: this rank's block
 * of rows (a contiguous 2-D float32/float64 tensor, n_local x d) plus the
 * communicator, and whether the rows are split over the ranks (split = 0 in
 * HeAT's terms: rank r holds the r-th contiguous block, in rank order) or
 * replicated (split = None: every rank holds all rows and computes alone).
 * A distributed array of the dnd layer maps onto this directly (its local
 * tensor and communicator). Targets (y) and labels are eq_rows too, with the
 * same rows as X (1-D, or 2-D for multi-output regression).
 *
 * The API is the same for every estimator (scikit-learn's, in C):
 *   eq_<est>_params p = eq_<est>_defaults(...);   // hyper-parameters
 *   eq_<est> *m = eq_<est>_new(&p);               // NULL + error on bad params
 *   eq_<est>_fit(m, X[, y]);                      // collective; eq_status
 *   eq_tensor *out = eq_<est>_predict(m, X);      // or _transform, _predict_proba
 *   eq_<est>_free(m);
 * - fit, predict, transform are collective: every rank of X's communicator
 *   calls them (with replicated data, each rank works alone).
 * - Fitted attributes (centres, coefficients, ...) are replicated float64
 *   heap tensors in the model struct, named as in scikit-learn.
 * - predict/transform return a new heap tensor (the caller frees it with
 *   eq_tensor_free) holding the results of THIS rank's rows: with split rows
 *   the result is split the same way, with replicated rows it is complete.
 *   Its dtype is X's (transform) or int64 (labels) or float64 (probabilities).
 * - Errors (bad shapes, NaN/Inf in the data, k > n, wrong order of calls) are
 *   detected on all ranks together: every rank returns the same status, the
 *   message names the function and the offending value; a rank whose own
 *   data was fine reports "... failed on another rank: <code>".
 * - Random initialisations are drawn from Philox keyed by (seed, global row
 *   index), so a fit gives the same result for any number of ranks (up to
 *   floating-point summation order).
 */
#ifndef EQUIVAR_ALGO_H
#define EQUIVAR_ALGO_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "equivar/core.h"
#include "equivar/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eq_rows {
  const eq_tensor *local; /* this rank's rows: (n_local, d) or (n_local,) */
  MPI_Comm comm;          /* the ranks sharing the rows; ignored when !split */
  bool split;             /* true: rows split over comm; false: replicated */
} eq_rows;

/* Rows of a matrix split over comm (local holds this rank's block). */
static inline eq_rows eq_rows_split(const eq_tensor *local, MPI_Comm comm) {
  eq_rows r = {local, comm, true};
  return r;
}
/* A matrix every rank holds in full (split = None). */
static inline eq_rows eq_rows_replicated(const eq_tensor *all) {
  eq_rows r = {all, MPI_COMM_SELF, false};
  return r;
}

/* The canonical ("balanced") block of n rows held by `rank` of `size`:
 * ranks r < n % size hold n / size + 1 rows. */
void eq_rows_block(int64_t n, int rank, int size, int64_t *start, int64_t *count);

#ifdef __cplusplus
}
#endif

#include "equivar/algo_classify.h"
#include "equivar/algo_cluster.h"
#include "equivar/algo_decomp.h"
#include "equivar/algo_linear.h"
#include "equivar/algo_metrics.h"
#include "equivar/algo_preproc.h"
/* algo_dnd.h: the same estimators on eq_dnd arrays (include it explicitly). */

#endif
