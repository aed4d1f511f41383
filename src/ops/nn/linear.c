/* eq_linear: y = x W^T + b (eq_linear_add: + a residual, added as the
 * output is stored); backward dX = dY W, dW += dY^T X, db += column sums
 * of dY (and d residual += dY). Tall products are split by rows over the
 * threads; in float32 with AVX-512 each share runs as register tiles
 * (tile_gemm.c) with W^T transposed once per call, and the backward in
 * blocks of rows (linear_backward_blocks.c); else OpenBLAS does the work. */
#include "ops/nn/linear_rows.h"

#include "ops/nn/linear_backward_blocks.h"

/* One GEMM on this thread or, outside a parallel region, OpenBLAS's threads.
 * float32 y = x W^T (W^T transposed by the caller) and dX = dY W run as
 * register tiles where the tiles are built and the call is single-threaded
 * anyway. dW = dY^T X stays with OpenBLAS here: read in place by the tiles,
 * its A operand would be dY's columns, a cache line per 6 floats (the
 * ViT-Tiny step measured 1-2 % slower, the whole of dY streamed that way);
 * the blocked backward reads dY's columns only within a block in L2. */
static void gemm(eq_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                 const void *b, int64_t ldb, double beta, void *c, int64_t ldc, const void *bias, const void *addend,
                 const void *scale) {
  if (m == 0 || n == 0) return;
  if (dt == EQ_F32 && !ta && !tb && (omp_in_parallel() || omp_get_max_threads() == 1) &&
      eq_nn_tile_gemm_f32(ta, m, n, k, 1.0f, a, lda, b, ldb, (float)beta, c, ldc, bias, addend, scale))
    return;
  if (scale) { /* the callers' scaled products are fresh: the product, then the scale on it */
    gemm(dt, ta, tb, m, n, k, a, lda, b, ldb, 0, c, ldc, bias, addend, NULL);
    size_t es = eq_dtype_size(dt);
    for (int64_t r = 0; r < m; r++) {
      char *cr = (char *)c + (size_t)(r * ldc) * es;
      const char *sr = (const char *)scale + (size_t)(r * ldc) * es;
      for (int64_t j = 0; j < n; j++) {
        if (dt == EQ_F32)
          ((float *)cr)[j] *= ((const float *)sr)[j];
        else
          ((double *)cr)[j] *= ((const double *)sr)[j];
      }
    }
    return;
  }
  if (dt == EQ_F32) {
    if (bias || addend) { /* as the tiles would: beta C + bias + addend, then the product onto it */
      for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
          float *cr = (float *)c + r * ldc + j;
          *cr = (beta != 0 ? (float)beta * *cr : 0) + (bias ? ((const float *)bias)[j] : 0) +
                (addend ? ((const float *)addend)[r * ldc + j] : 0);
        }
      beta = 1;
    }
    eq_nn_gemm_f32(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, (float)beta, c, ldc);
  } else {
    eq_nn_gemm_f64(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
  }
}

/* Threads to split a product of m rows over: all of them when each gets at
 * least 512 rows, else 1 (OpenBLAS threads it then). */
static int row_split_threads(int64_t m) {
  int threads = omp_get_max_threads();
  return threads >= 2 && m >= 512 * (int64_t)threads ? threads : 1;
}

/* Whether gemm_rows will run a float32 product of m rows as register
 * tiles: split by rows (each share single-threaded) or on a single thread,
 * as gemm() decides. The forward asks first, to transpose W for them. */
static bool rows_run_as_tiles(eq_dtype dt, int64_t m) {
  return dt == EQ_F32 && eq_nn_tile_gemm_available() && (row_split_threads(m) > 1 || omp_get_max_threads() == 1);
}

/* C = A op(B) (+ beta C) with the rows of A and C split evenly over the
 * threads, one single-threaded GEMM each (BLAS runs single-threaded inside
 * our parallel region): for these tall products that avoids OpenBLAS's
 * own threading, whose shared packing and barriers cost ~5 % of a 2-thread
 * ViT step. */
static void gemm_rows(eq_dtype dt, bool tb, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                      const void *b, int64_t ldb, double beta, void *c, int64_t ldc, const void *bias,
                      const void *addend, const void *scale) {
  int threads = row_split_threads(m);
  if (threads == 1) {
    gemm(dt, false, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, bias, addend, scale);
    return;
  }
  size_t es = eq_dtype_size(dt);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    int64_t r0 = m * t / threads, r1 = m * (t + 1) / threads;
    size_t off = (size_t)(r0 * ldc) * es;
    gemm(dt, false, tb, r1 - r0, n, k, (const char *)a + (size_t)(r0 * lda) * es, lda, b, ldb, beta, (char *)c + off,
         ldc, bias, addend ? (const char *)addend + off : NULL, scale ? (const char *)scale + off : NULL);
  }
}

/* dW (+)= dY^T X over m rows, the rows split evenly over the threads: the
 * first thread's share goes straight into dw, the others' into workspace
 * that is then added in thread order (so the sums do not depend on timing).
 * The same motive as gemm_rows. */
static eq_status gemm_weight_grad(eq_dtype dt, int64_t out, int64_t in, int64_t m, const void *dy, const void *x,
                                  bool fresh, void *dw) {
  int threads = row_split_threads(m);
  if (threads == 1) {
    gemm(dt, true, false, out, in, m, dy, out, x, in, !fresh, dw, in, NULL, NULL, NULL);
    return EQ_OK;
  }
  size_t es = eq_dtype_size(dt), part = (size_t)(out * in);
  char *ws = eq_nn_workspace((size_t)(threads - 1) * part * es);
  if (!ws) return eq_error_code();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    int64_t r0 = m * t / threads, r1 = m * (t + 1) / threads;
    void *c = t == 0 ? dw : ws + (size_t)(t - 1) * part * es;
    gemm(dt, true, false, out, in, r1 - r0, (const char *)dy + (size_t)(r0 * out) * es, out,
         (const char *)x + (size_t)(r0 * in) * es, in, t == 0 && !fresh, c, in, NULL, NULL, NULL);
  }
#pragma omp parallel for schedule(static)
  for (int64_t e = 0; e < (int64_t)part; e++)
    for (int t = 1; t < threads; t++) {
      if (dt == EQ_F32)
        ((float *)dw)[e] += ((const float *)ws)[(size_t)(t - 1) * part + (size_t)e];
      else
        ((double *)dw)[e] += ((const double *)ws)[(size_t)(t - 1) * part + (size_t)e];
    }
  return EQ_OK;
}

eq_status eq_nn_linear_rows_backward(eq_dtype dt, int64_t m, int64_t in, int64_t out, const void *dy, const void *x,
                                     const void *w, void *dx, bool fresh_dx, const void *dx_scale, void *dw,
                                     bool fresh_dw, void *db, bool fresh_db) {
  if (dx_scale && dx && !fresh_dx)
    return eq_error(EQ_ERR_STATE, "linear backward: a scaled input gradient must be written fresh");
  if (dt == EQ_F32 && dw && !dx_scale && in && out && eq_nn_grad_blocks_apply(m))
    return eq_nn_linear_backward_blocks_f32(m, in, out, dy, x, w, dx, fresh_dx, dw, fresh_dw, db, fresh_db);
  size_t es = eq_dtype_size(dt);
  /* A fresh (uninitialised) buffer is written with beta 0. */
  if (dx && in && out)
    gemm_rows(dt, false, m, in, out, dy, out, w, in, !fresh_dx, dx, in, NULL, NULL, dx_scale);
  else if (dx && fresh_dx)
    memset(dx, 0, (size_t)(m * in) * es);
  if (dw && in && m && gemm_weight_grad(dt, out, in, m, dy, x, fresh_dw, dw)) return eq_error_code();
  if (dw && fresh_dw && !m) memset(dw, 0, (size_t)(out * in) * es);
  if (db) {
    /* Column sums, parallel over column blocks so each thread streams rows. */
#pragma omp parallel for schedule(static) if (m * out > 65536)
    for (int64_t j0 = 0; j0 < out; j0 += 64) {
      int64_t j1 = j0 + 64 < out ? j0 + 64 : out;
      if (dt == EQ_F32) {
        float acc[64] = {0};
        const float *g = dy;
        for (int64_t r = 0; r < m; r++)
          for (int64_t j = j0; j < j1; j++) acc[j - j0] += g[r * out + j];
        for (int64_t j = j0; j < j1; j++) ((float *)db)[j] = (fresh_db ? 0 : ((float *)db)[j]) + acc[j - j0];
      } else {
        double acc[64] = {0};
        const double *g = dy;
        for (int64_t r = 0; r < m; r++)
          for (int64_t j = j0; j < j1; j++) acc[j - j0] += g[r * out + j];
        for (int64_t j = j0; j < j1; j++) ((double *)db)[j] = (fresh_db ? 0 : ((double *)db)[j]) + acc[j - j0];
      }
    }
  }
  return EQ_OK;
}

static eq_status linear_backward(eq_node *node) {
  eq_tensor *x = node->inputs[0], *w = node->inputs[1], *dy = node->out->grad;
  int64_t in = w->shape[1], out = w->shape[0], m = eq_numel(x) / (in ? in : 1);
  bool fresh[3];
  eq_tensor *g[3];
  if (eq_nn_grads_for_write(node, 3, g, fresh)) return eq_error_code();
  if (eq_nn_linear_rows_backward(x->dtype, m, in, out, eq_data_ptr(dy), eq_data_ptr(x), eq_data_ptr(w),
                                 g[0] ? eq_data_ptr(g[0]) : NULL, fresh[0], NULL, g[1] ? eq_data_ptr(g[1]) : NULL,
                                 fresh[1], g[2] ? eq_data_ptr(g[2]) : NULL, fresh[2]))
    return eq_error_code();
  /* eq_linear_add: the residual's gradient is dY itself */
  if (node->n_inputs == 4 && eq_grad_pass_through(node->inputs[3], node)) return eq_error_code();
  return EQ_OK;
}

eq_status eq_nn_linear_rows_forward(eq_dtype dt, int64_t m, int64_t in, int64_t out, const void *x, const void *w,
                                    const void *bias, const void *residual, void *y) {
  if (in && rows_run_as_tiles(dt, m)) {
    /* Register tiles read B row-major: W^T once per call, its row stride
     * padded off a multiple of 4 KB (a 64-column panel would otherwise map
     * to a quarter of L1's sets); the bias and the residual seed the
     * tiles' accumulators. */
    int64_t ldt = eq_nn_tile_ld(out);
    float *wt = eq_nn_workspace((size_t)(in * ldt) * sizeof(float));
    if (!wt) return eq_error_code();
    eq_nn_transpose_f32(out, in, w, in, wt, ldt);
    gemm_rows(EQ_F32, false, m, out, in, x, in, wt, ldt, 0, y, out, bias, residual, NULL);
    return EQ_OK;
  }
  double beta = 0;
  size_t es = eq_dtype_size(dt);
  if (bias || residual) {
    /* Seed the rows with the bias (and the residual) and let the GEMM add onto them. */
#pragma omp parallel for schedule(static) if (m * out > 65536)
    for (int64_t r = 0; r < m; r++) {
      char *yr = (char *)y + (size_t)(r * out) * es;
      if (residual) memcpy(yr, (const char *)residual + (size_t)(r * out) * es, (size_t)out * es);
      for (int64_t j = 0; bias && j < out; j++) {
        if (dt == EQ_F32)
          ((float *)yr)[j] = (residual ? ((float *)yr)[j] : 0) + ((const float *)bias)[j];
        else
          ((double *)yr)[j] = (residual ? ((double *)yr)[j] : 0) + ((const double *)bias)[j];
      }
    }
    beta = 1;
  } else if (in == 0) {
    memset(y, 0, (size_t)(m * out) * es);
  }
  if (in) gemm_rows(dt, true, m, out, in, x, in, w, in, beta, y, out, NULL, NULL, NULL);
  return EQ_OK;
}

/* y = x W^T + b (+ residual, which has y's shape). */
static eq_tensor *linear(const char *op, eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *residual) {
  char bx[96], bw[96], br[96];
  if (eq_nn_check(op, "input", x, -1, -1) || eq_nn_check(op, "weight", weight, 2, x->dtype)) return NULL;
  if (bias && eq_nn_check(op, "bias", bias, 1, x->dtype)) return NULL;
  if (x->ndim < 1 || x->shape[x->ndim - 1] != weight->shape[1]) {
    eq_error(EQ_ERR_SHAPE, "linear: input %s does not end in weight %s's in_features %lld", eq_shape_str(x, bx, sizeof bx),
             eq_shape_str(weight, bw, sizeof bw), (long long)weight->shape[1]);
    return NULL;
  }
  if (bias && bias->shape[0] != weight->shape[0]) {
    eq_error(EQ_ERR_SHAPE, "linear: bias %s does not match weight %s's out_features %lld",
             eq_shape_str(bias, bx, sizeof bx), eq_shape_str(weight, bw, sizeof bw), (long long)weight->shape[0]);
    return NULL;
  }
  int64_t in = weight->shape[1], out = weight->shape[0], m = eq_numel(x) / (in ? in : 1);
  int64_t shape[EQ_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
  shape[x->ndim - 1] = out;
  if (residual) {
    if (eq_nn_check(op, "residual", residual, x->ndim, x->dtype)) return NULL;
    bool same = true;
    for (int d = 0; d < x->ndim; d++) same = same && residual->shape[d] == shape[d];
    if (!same) {
      eq_error(EQ_ERR_SHAPE, "%s: residual %s does not match the output shape of input %s and weight %s", op,
               eq_shape_str(residual, br, sizeof br), eq_shape_str(x, bx, sizeof bx),
               eq_shape_str(weight, bw, sizeof bw));
      return NULL;
    }
  }
  eq_tensor *xc = eq_nn_contig(x), *wc = eq_nn_contig(weight), *bc = eq_nn_contig(bias), *rc = eq_nn_contig(residual);
  if (!xc || !wc || (bias && !bc) || (residual && !rc)) return NULL;
  eq_tensor *y = eq_empty(x->dtype, x->ndim, shape);
  if (!y) return NULL;
  if (eq_nn_linear_rows_forward(x->dtype, m, in, out, eq_data_ptr(xc), eq_data_ptr(wc), bc ? eq_data_ptr(bc) : NULL,
                                rc ? eq_data_ptr(rc) : NULL, eq_data_ptr(y))) {
    eq_tensor_free(y);
    return NULL;
  }
  eq_tensor *ins[4] = {xc, wc, bc, rc};
  int n = rc ? 4 : bc ? 3 : 2;
  if (!eq_tape_record(op, y, n, ins, linear_backward) && eq_needs_grad(n, ins)) return NULL;
  return y;
}

eq_tensor *eq_linear(eq_tensor *x, eq_tensor *weight, eq_tensor *bias) { return linear("linear", x, weight, bias, NULL); }

eq_tensor *eq_linear_add(eq_tensor *x, eq_tensor *weight, eq_tensor *bias, eq_tensor *residual) {
  if (!residual) {
    eq_error(EQ_ERR_VALUE, "linear_add: residual is NULL");
    return NULL;
  }
  return linear("linear_add", x, weight, bias, residual);
}
