/* NumPy matmul through OpenBLAS: strided operands are passed with transpose
 * flags and leading dimensions instead of copied wherever BLAS can read
 * them; batches whose right operand is shared fold into one large GEMM;
 * small batched GEMMs run in parallel (BLAS single-threaded inside). */
#include <cblas.h>
#include <omp.h>

#include "ops/ops_internal.h"

/* How BLAS can read a 2-d strided matrix [rows, cols]: row-major (NoTrans)
 * or column-major (Trans) with leading dimension ld. Strides of size-1 dims
 * do not matter. */
static bool blas_layout(const eq_tensor *t, bool *trans, int64_t *ld) {
  int64_t rows = t->shape[0], cols = t->shape[1];
  int64_t s0 = t->stride[0], s1 = t->stride[1];
  int64_t rs1 = cols == 1 ? 1 : s1, rs0 = rows == 1 ? (cols > 1 ? cols : 1) : s0;
  if (rs1 == 1 && rs0 >= (cols > 1 ? cols : 1)) {
    *trans = false;
    *ld = rs0;
    return true;
  }
  int64_t cs0 = rows == 1 ? 1 : s0, cs1 = cols == 1 ? (rows > 1 ? rows : 1) : s1;
  if (cs0 == 1 && cs1 >= (rows > 1 ? rows : 1)) {
    *trans = true;
    *ld = cs1;
    return true;
  }
  return false;
}

eq_status eq_ops_gemm(const char *op, const eq_tensor *a, const eq_tensor *b, eq_tensor *c, double beta) {
  int64_t n = a->shape[0], k = a->shape[1], m = b->shape[1];
  if (n == 0 || m == 0) return EQ_OK;
  bool ta, tb, tc;
  int64_t lda, ldb, ldc;
  eq_tensor *ac = NULL, *bc = NULL;
  if (!blas_layout(c, &tc, &ldc) || tc)
    return eq_error(EQ_ERR_STATE, "%s: internal: the GEMM output is not row-major", op);
  if (!blas_layout(a, &ta, &lda)) {
    bool owned;
    ac = eq_ops_contiguous_raw((eq_tensor *)a, &owned);
    if (!ac) return eq_error_code();
    a = ac;
    ta = false;
    lda = k > 1 ? k : 1;
  }
  if (!blas_layout(b, &tb, &ldb)) {
    bool owned;
    bc = eq_ops_contiguous_raw((eq_tensor *)b, &owned);
    if (!bc) {
      eq_tensor_free(ac);
      return eq_error_code();
    }
    b = bc;
    tb = false;
    ldb = m > 1 ? m : 1;
  }
  CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if (c->dtype == EQ_F32)
    cblas_sgemm(CblasRowMajor, TA, TB, (blasint)n, (blasint)m, (blasint)k, 1.0f, eq_data_ptr(a), (blasint)lda,
                eq_data_ptr(b), (blasint)ldb, (float)beta, eq_data_ptr(c), (blasint)ldc);
  else
    cblas_dgemm(CblasRowMajor, TA, TB, (blasint)n, (blasint)m, (blasint)k, 1.0, eq_data_ptr(a), (blasint)lda,
                eq_data_ptr(b), (blasint)ldb, beta, eq_data_ptr(c), (blasint)ldc);
  eq_tensor_free(ac);
  eq_tensor_free(bc);
  return EQ_OK;
}

/* A 2-d raw view of matrix `batch` (a flat index into the broadcast batch
 * shape) of t [..., r, c], into the stack struct `v`. */
static void matrix_at(const eq_tensor *t, int nb, const int64_t *bshape, int64_t batch, eq_tensor *v) {
  *v = *t;
  v->in_arena = true; /* an alias: never freed */
  int64_t off = t->offset;
  int tb = t->ndim - 2, lead = nb - tb;
  for (int d = nb - 1; d >= 0; d--) {
    int64_t i = batch % bshape[d];
    batch /= bshape[d];
    int td = d - lead;
    if (td >= 0 && t->shape[td] != 1) off += i * t->stride[td];
  }
  v->offset = off;
  v->ndim = 2;
  v->shape[0] = t->shape[t->ndim - 2];
  v->shape[1] = t->shape[t->ndim - 1];
  v->stride[0] = t->stride[t->ndim - 2];
  v->stride[1] = t->stride[t->ndim - 1];
}

static int64_t batch_numel(const eq_tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim - 2; d++) n *= t->shape[d];
  return n;
}

/* c [bshape..., n, m] (contiguous) = a @ b with a, b of ndim >= 2. */
static eq_status matmul_into(const char *op, const eq_tensor *a, const eq_tensor *b, eq_tensor *c, int nb,
                             const int64_t *bshape, double beta) {
  int64_t B = 1;
  for (int d = 0; d < nb; d++) B *= bshape[d];
  int64_t n = a->shape[a->ndim - 2], k = a->shape[a->ndim - 1], m = b->shape[b->ndim - 1];
  if (B == 0) return EQ_OK;
  eq_tensor va, vb, vc;
  /* Shared right operand and contiguous left: one [B*n, k] @ [k, m] GEMM. */
  if (B > 1 && batch_numel(b) == 1 && batch_numel(a) == B && eq_is_contiguous(a)) {
    matrix_at(a, nb, bshape, 0, &va);
    matrix_at(b, nb, bshape, 0, &vb);
    va.shape[0] = B * n;
    va.stride[0] = k;
    va.stride[1] = 1;
    vc = *c;
    vc.in_arena = true;
    vc.ndim = 2;
    vc.shape[0] = B * n;
    vc.shape[1] = m;
    vc.stride[0] = m;
    vc.stride[1] = 1;
    return eq_ops_gemm(op, &va, &vb, &vc, beta);
  }
  int64_t cshape_b[EQ_MAX_DIMS];
  for (int d = 0; d < nb; d++) cshape_b[d] = bshape[d];
  bool parallel = B > 1 && !omp_in_parallel() && omp_get_max_threads() > 1 && (double)n * m * k < 2.0e7;
  eq_status st = EQ_OK;
#pragma omp parallel for schedule(dynamic, 1) private(va, vb, vc) if (parallel)
  for (int64_t i = 0; i < B; i++) {
    matrix_at(a, nb, bshape, i, &va);
    matrix_at(b, nb, bshape, i, &vb);
    matrix_at(c, nb, cshape_b, i, &vc);
    eq_status s = eq_ops_gemm(op, &va, &vb, &vc, beta);
    if (s) {
#pragma omp critical
      st = s;
    }
  }
  return st;
}

/* Output batch shape of a [..., n, k] @ b [..., k, m]. */
static eq_status batch_shape(const char *op, const eq_tensor *a, const eq_tensor *b, int *nb, int64_t *bshape) {
  eq_tensor ba = {0}, bb = {0};
  ba.ndim = a->ndim - 2;
  bb.ndim = b->ndim - 2;
  memcpy(ba.shape, a->shape, sizeof(int64_t) * (size_t)ba.ndim);
  memcpy(bb.shape, b->shape, sizeof(int64_t) * (size_t)bb.ndim);
  if (eq_broadcast_shapes(op, &ba, &bb, nb, bshape)) {
    char sa[96], sb[96];
    return eq_error(EQ_ERR_SHAPE, "matmul: batch dims of %s and %s do not broadcast", eq_shape_str(a, sa, sizeof sa),
                    eq_shape_str(b, sb, sizeof sb));
  }
  return EQ_OK;
}

/* a @ b for ndim >= 2 operands of one float dtype (no tape). */
static eq_tensor *matmul_nd(const eq_tensor *a, const eq_tensor *b) {
  int nb;
  int64_t shape[EQ_MAX_DIMS];
  if (batch_shape("matmul", a, b, &nb, shape)) return NULL;
  if (nb + 2 > EQ_MAX_DIMS) {
    eq_error(EQ_ERR_SHAPE, "matmul: result has more than %d dims", EQ_MAX_DIMS);
    return NULL;
  }
  shape[nb] = a->shape[a->ndim - 2];
  shape[nb + 1] = b->shape[b->ndim - 1];
  eq_tensor *c = eq_empty(a->dtype, nb + 2, shape);
  if (!c) return NULL;
  if (a->shape[a->ndim - 1] == 0) {
    eq_fill_(c, 0.0);
    return c;
  }
  if (matmul_into("matmul", a, b, c, nb, shape, 0.0)) {
    eq_tensor_free(c);
    return NULL;
  }
  return c;
}

/* The last two dims swapped (a raw view). */
static eq_tensor *mT(const eq_tensor *t) {
  int64_t shape[EQ_MAX_DIMS], stride[EQ_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) {
    shape[d] = t->shape[d];
    stride[d] = t->stride[d];
  }
  int r = t->ndim - 2, c = t->ndim - 1;
  shape[r] = t->shape[c];
  shape[c] = t->shape[r];
  stride[r] = t->stride[c];
  stride[c] = t->stride[r];
  return eq_ops_raw_view(t, t->ndim, shape, stride);
}

/* t->grad += x @ y, directly with beta = 1 when the product has t's shape
 * and no batch (the common linear-layer case), else through a temporary
 * summed over broadcast batch dims. */
static eq_status accumulate_product(eq_tensor *t, const eq_tensor *x, const eq_tensor *y) {
  if (!t->requires_grad) return EQ_OK;
  if (t->ndim == 2 && x->ndim == 2 && y->ndim == 2) {
    eq_tensor *gbuf = eq_grad_buffer(t);
    if (!gbuf) return eq_error_code();
    return eq_ops_gemm("matmul backward", x, y, gbuf, 1.0);
  }
  eq_tensor *p = matmul_nd(x, y);
  if (!p) return eq_error_code();
  eq_status st = eq_grad_accumulate(t, p);
  eq_tensor_free(p);
  return st;
}

/* A batched x [..., r, c] (contiguous) as a [prod(...) * r, c] raw view. */
static eq_tensor *fold_rows(const eq_tensor *x) {
  int64_t shape[2] = {eq_numel(x) / x->shape[x->ndim - 1], x->shape[x->ndim - 1]};
  int64_t stride[2] = {shape[1], 1};
  return eq_ops_raw_view(x, 2, shape, stride);
}

static eq_status matmul_backward(eq_node *node) {
  eq_tensor *a = node->inputs[0], *b = node->inputs[1], *g = node->out->grad;
  EQ_NO_GRAD_BEGIN;
  eq_status st = EQ_OK;
  eq_tensor *bt = mT(b), *at = mT(a);
  if (!bt || !at) st = eq_error_code();
  if (!st && a->requires_grad) st = accumulate_product(a, g, bt); /* g @ b^T */
  if (!st && b->requires_grad) {
    if (b->ndim == 2 && a->ndim > 2 && eq_is_contiguous(a)) {
      /* Shared weight: sum over the batch = one folded GEMM a2^T @ g2. */
      eq_tensor *a2 = fold_rows(a), *g2 = fold_rows(g), *a2t = a2 ? mT(a2) : NULL;
      st = (a2t && g2) ? accumulate_product(b, a2t, g2) : eq_error_code();
      eq_tensor_free(a2);
      eq_tensor_free(g2);
      eq_tensor_free(a2t);
    } else {
      st = accumulate_product(b, at, g); /* a^T @ g */
    }
  }
  eq_tensor_free(bt);
  eq_tensor_free(at);
  EQ_NO_GRAD_END;
  return st;
}

eq_tensor *eq_matmul(eq_tensor *a, eq_tensor *b) {
  if (eq_require_cpu("matmul", a) || eq_require_cpu("matmul", b)) return NULL;
  char sa[96], sb[96];
  if (!eq_dtype_is_float(a->dtype) || !eq_dtype_is_float(b->dtype)) {
    eq_error(EQ_ERR_DTYPE, "matmul: float32/float64 operands only, got %s %s and %s %s", eq_dtype_name(a->dtype),
             eq_shape_str(a, sa, sizeof sa), eq_dtype_name(b->dtype), eq_shape_str(b, sb, sizeof sb));
    return NULL;
  }
  if (a->ndim == 0 || b->ndim == 0) {
    eq_error(EQ_ERR_SHAPE, "matmul: 0-d operand (shapes %s and %s); use mul", eq_shape_str(a, sa, sizeof sa),
             eq_shape_str(b, sb, sizeof sb));
    return NULL;
  }
  int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim == 1 ? 0 : b->ndim - 2];
  if (ka != kb) {
    eq_error(EQ_ERR_SHAPE, "matmul: shapes %s and %s: inner dims %lld and %lld differ",
             eq_shape_str(a, sa, sizeof sa), eq_shape_str(b, sb, sizeof sb), (long long)ka, (long long)kb);
    return NULL;
  }
  /* Mixed float32/float64 computes in float64 (differentiable casts). */
  if (a->dtype != b->dtype) {
    eq_tensor *a64 = a->dtype == EQ_F64 ? a : eq_to_dtype(a, EQ_F64);
    eq_tensor *b64 = b->dtype == EQ_F64 ? b : eq_to_dtype(b, EQ_F64);
    eq_tensor *out = (a64 && b64) ? eq_matmul(a64, b64) : NULL;
    /* Taped intermediates must live as long as the tape (arena). */
    if (!out || !out->requires_grad) {
      if (a64 != a) eq_tensor_free(a64);
      if (b64 != b) eq_tensor_free(b64);
    }
    return out;
  }
  /* 1-d operands become matrices through taped views; the extra dim is
   * removed from the result the same way. */
  eq_tensor *a2 = a->ndim == 1 ? eq_unsqueeze(a, 0) : a;
  eq_tensor *b2 = b->ndim == 1 ? eq_unsqueeze(b, 1) : b;
  eq_tensor *out = (a2 && b2) ? matmul_nd(a2, b2) : NULL;
  if (out) {
    eq_tensor *in[2] = {a2, b2};
    bool failed;
    eq_ops_record("matmul", out, 2, in, matmul_backward, &failed);
    if (failed) out = NULL;
  }
  eq_tensor *res = out;
  if (res && a->ndim == 1) res = eq_squeeze(res, -2);
  eq_tensor *res2 = res;
  if (res2 && b->ndim == 1) res2 = eq_squeeze(res2, -1);
  /* Heap intermediates are freed unless the tape refers to them. */
  if (!res2 || !res2->requires_grad) {
    if (a2 != a) eq_tensor_free(a2);
    if (b2 != b) eq_tensor_free(b2);
    if (res != out) eq_tensor_free(out);
    if (res2 != res) eq_tensor_free(res);
  }
  return res2;
}
