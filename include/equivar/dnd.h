/* equivar distributed n-d arrays (HeAT's model in C).
 *
 * SPMD: every rank of a communicator runs the same calls in the same order.
 * A distributed array (eq_dnd) is a global shape + dtype + device +
 * communicator + `split` (EQ_DND_NONE: replicated on every rank; or an axis k
 * along which the array is cut into contiguous blocks in rank order) + the
 * rank's local block, a contiguous eq_tensor.
 *
 * Layout: the per-rank sizes along the split axis (counts[], offsets[]) are
 * replicated metadata, known on every rank without communication. A freshly
 * created array uses the canonical balanced chunking of n over P ranks:
 * ranks r < n % P hold n / P + 1 rows starting at r * (n / P + 1), the others
 * n / P rows starting at r * (n / P) + n % P. Slicing, masks and
 * from-local-block creation may leave an array unbalanced; eq_dnd_balance
 * restores the canonical layout.
 *
 * Results are new arrays that own their local block (never views of their
 * inputs) and must be released with eq_dnd_free; every function that may fail
 * returns NULL (or an eq_status) and records a message naming the function
 * and the offending shapes (core.h). A failure that depends only on replicated
 * metadata (shapes, splits, dtypes) happens on every rank alike, so ranks do
 * not deadlock on bad input.
 *
 * Binary operations: NumPy broadcasting of global shapes. A replicated
 * operand is sliced locally; an operand split on the same result axis with a
 * different layout is redistributed to the first split operand's layout; an
 * operand split on ANOTHER axis is resplit automatically to the result's split
 * axis (one all-to-all; documented cost, not an error).
 *
 * Communication goes through the eq_comm_* functions below only: messages of
 * any size (more than 2^31-1 elements are sent in chunks), a program started
 * without a launcher runs as one rank, and MPI is initialised on first use,
 * not at program load.
 */
#ifndef EQUIVAR_DND_H
#define EQUIVAR_DND_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "equivar/core.h"
#include "equivar/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ comm */

typedef enum eq_reduce_op {
  EQ_REDUCE_SUM = 0,
  EQ_REDUCE_PROD,
  EQ_REDUCE_MIN,
  EQ_REDUCE_MAX,
  EQ_REDUCE_LAND, /* bool / integer: logical and */
  EQ_REDUCE_LOR
} eq_reduce_op;

typedef struct eq_comm {
  MPI_Comm mpi; /* MPI_COMM_NULL when running without MPI (single rank) */
  int rank, size;
  bool owned; /* eq_comm_free frees mpi (it was duplicated by us) */
} eq_comm;

/* The world communicator. Initialises MPI on the first call (and finalises
 * it at exit if equivar initialised it). When MPI cannot be initialised, or
 * EQ_NO_MPI=1 is set in the environment, it returns a one-rank communicator
 * that never calls MPI. Never NULL. */
const eq_comm *eq_comm_world(void);
/* A one-rank communicator that never calls MPI (MPI_COMM_SELF semantics). */
const eq_comm *eq_comm_self(void);
/* Wraps (duplicates) an MPI communicator of the caller; free with eq_comm_free. */
eq_comm *eq_comm_from_mpi(MPI_Comm comm);
void eq_comm_free(eq_comm *comm);
/* True when MPI is initialised and used by eq_comm_world. */
bool eq_comm_mpi_active(void);

/* Collectives on host buffers of `count` elements of `dtype`. Counts are
 * int64: messages above the MPI int limit are sent in chunks. In-place
 * allreduce/bcast: buf is input and output. */
eq_status eq_comm_barrier(const eq_comm *c);
eq_status eq_comm_allreduce(const eq_comm *c, void *buf, int64_t count, eq_dtype dtype, eq_reduce_op op);
eq_status eq_comm_bcast(const eq_comm *c, void *buf, int64_t count, eq_dtype dtype, int root);
/* Inclusive prefix over ranks < rank (exclusive scan); rank 0 gets the
 * identity of op (0 for SUM, 1 for PROD). SUM and PROD only. */
eq_status eq_comm_exscan(const eq_comm *c, const void *in, void *out, int64_t count, eq_dtype dtype,
                         eq_reduce_op op);
/* recv (sum of counts elements) = the ranks' send blocks in rank order at
 * displs[r]; counts[r] is rank r's send count. */
eq_status eq_comm_allgatherv(const eq_comm *c, const void *send, void *recv, const int64_t *counts,
                             const int64_t *displs, eq_dtype dtype);
/* Every rank sends `count` elements; recv holds size * count in rank order. */
eq_status eq_comm_allgather(const eq_comm *c, const void *send, void *recv, int64_t count, eq_dtype dtype);
eq_status eq_comm_alltoallv(const eq_comm *c, const void *send, const int64_t *send_counts,
                            const int64_t *send_displs, void *recv, const int64_t *recv_counts,
                            const int64_t *recv_displs, eq_dtype dtype);
eq_status eq_comm_sendrecv(const eq_comm *c, const void *send, int64_t send_count, int dest, void *recv,
                           int64_t recv_count, int source, eq_dtype dtype);
/* Reduce to `root` (other ranks' recv is untouched, may be NULL). */
eq_status eq_comm_reduce(const eq_comm *c, const void *send, void *recv, int64_t count, eq_dtype dtype,
                         eq_reduce_op op, int root);
/* Largest message (bytes) one MPI call carries; larger ones are chunked.
 * Default 2^30; tests lower it to exercise the chunked paths. Returns the
 * previous value. */
int64_t eq_comm_set_max_message(int64_t bytes);
/* The MPI datatype of an equivar dtype. */
MPI_Datatype eq_comm_mpi_type(eq_dtype dtype);

/* Device communication hook: a CUDA build (NCCL or CUDA-aware MPI) registers
 * one; every collective on device memory dispatches through it and reports
 * EQ_ERR_DEVICE when none is registered. Host memory always uses MPI. */
typedef struct eq_comm_device_backend {
  const char *name;
  eq_status (*allreduce)(const eq_comm *c, void *buf, int64_t count, eq_dtype dtype, eq_reduce_op op);
  eq_status (*bcast)(const eq_comm *c, void *buf, int64_t count, eq_dtype dtype, int root);
  eq_status (*allgatherv)(const eq_comm *c, const void *send, void *recv, const int64_t *counts,
                          const int64_t *displs, eq_dtype dtype);
  eq_status (*alltoallv)(const eq_comm *c, const void *send, const int64_t *send_counts,
                         const int64_t *send_displs, void *recv, const int64_t *recv_counts,
                         const int64_t *recv_displs, eq_dtype dtype);
} eq_comm_device_backend;
void eq_comm_register_device_backend(eq_device_type type, const eq_comm_device_backend *backend);
const eq_comm_device_backend *eq_comm_device_backend_get(eq_device_type type);

/* ================================================================ arrays */

#define EQ_DND_NONE (-1)            /* split: replicated */
#define EQ_DND_ALL_AXES (-1000)     /* reductions: over every axis */

typedef struct eq_dnd {
  int ndim;
  int64_t shape[EQ_MAX_DIMS]; /* global */
  eq_dtype dtype;
  eq_device device;
  int split;          /* axis in [0, ndim) or EQ_DND_NONE */
  const eq_comm *comm;
  eq_tensor *local;   /* this rank's block, contiguous, on the heap */
  int64_t *counts;    /* [size] block sizes along split (all == shape for NONE) */
  int64_t *offsets;   /* [size + 1] global start of each block; offsets[size] = n */
} eq_dnd;

void eq_dnd_free(eq_dnd *x);

/* Canonical balanced chunk of n over size ranks. */
void eq_dnd_chunk(int64_t n, int size, int rank, int64_t *count, int64_t *offset);
/* Local shape of `rank` (out: ndim values). */
void eq_dnd_lshape(const eq_dnd *x, int rank, int64_t *out);
int64_t eq_dnd_numel(const eq_dnd *x); /* global */
bool eq_dnd_is_balanced(const eq_dnd *x);
/* "dnd[4, 3] float32 split=0" into buf; returns buf. */
const char *eq_dnd_str(const eq_dnd *x, char *buf, size_t cap);

/* ---- creation. comm NULL = eq_comm_world(). Only the local block is
 * allocated. */
eq_dnd *eq_dnd_empty(eq_dtype dtype, int ndim, const int64_t *shape, int split, const eq_comm *comm);
eq_dnd *eq_dnd_zeros(eq_dtype dtype, int ndim, const int64_t *shape, int split, const eq_comm *comm);
eq_dnd *eq_dnd_ones(eq_dtype dtype, int ndim, const int64_t *shape, int split, const eq_comm *comm);
eq_dnd *eq_dnd_full(eq_dtype dtype, int ndim, const int64_t *shape, double value, int split,
                    const eq_comm *comm);
eq_dnd *eq_dnd_empty_like(const eq_dnd *x);
eq_dnd *eq_dnd_zeros_like(const eq_dnd *x);
eq_dnd *eq_dnd_ones_like(const eq_dnd *x);
eq_dnd *eq_dnd_full_like(const eq_dnd *x, double value);
/* start, start + step, ... < stop (1-d, NumPy arange). */
eq_dnd *eq_dnd_arange(double start, double stop, double step, eq_dtype dtype, int split, const eq_comm *comm);
/* num values from start to stop (stop included when endpoint). */
eq_dnd *eq_dnd_linspace(double start, double stop, int64_t num, bool endpoint, eq_dtype dtype, int split,
                        const eq_comm *comm);
/* base ** linspace(start, stop, num, endpoint). */
eq_dnd *eq_dnd_logspace(double start, double stop, int64_t num, bool endpoint, double base, eq_dtype dtype,
                        int split, const eq_comm *comm);
/* n x m with ones on the diagonal (m <= 0: m = n). */
eq_dnd *eq_dnd_eye(int64_t n, int64_t m, eq_dtype dtype, int split, const eq_comm *comm);
/* From a full copy present on every rank: keeps only the local block. */
eq_dnd *eq_dnd_from_tensor(const eq_tensor *full, int split, const eq_comm *comm);
/* From per-rank blocks along `split` (HeAT's is_split): checks that the other
 * dims agree (one allgather of shapes) and moves no data. The array shares
 * `local`'s storage when it is contiguous (the caller still frees its own
 * reference). split EQ_DND_NONE: every rank passes the same full array (not
 * checked). */
eq_dnd *eq_dnd_from_local(eq_tensor *local, int split, const eq_comm *comm);
/* Same global array for the same (seed, stream) at any number of ranks:
 * element with global C-order index g uses Philox block g (as eq_rand_*). */
eq_dnd *eq_dnd_rand_uniform(eq_dtype dtype, int ndim, const int64_t *shape, double lo, double hi,
                            uint64_t seed, uint64_t stream, int split, const eq_comm *comm);
eq_dnd *eq_dnd_rand_normal(eq_dtype dtype, int ndim, const int64_t *shape, double mean, double std,
                           uint64_t seed, uint64_t stream, int split, const eq_comm *comm);
/* Integers uniform in [lo, hi). */
eq_dnd *eq_dnd_randint(eq_dtype dtype, int ndim, const int64_t *shape, int64_t lo, int64_t hi, uint64_t seed,
                       uint64_t stream, int split, const eq_comm *comm);
/* A random permutation of 0..n-1 (int64, 1-d): sort of random keys. */
eq_dnd *eq_dnd_permutation(int64_t n, uint64_t seed, uint64_t stream, int split, const eq_comm *comm);

/* ---- layout */
/* The full array on every rank (Allgatherv). */
eq_tensor *eq_dnd_to_tensor(const eq_dnd *x);
/* A copy with a new split axis (one all-to-all; EQ_DND_NONE = allgather). */
eq_dnd *eq_dnd_resplit(const eq_dnd *x, int split);
/* A copy with the canonical balanced layout. */
eq_dnd *eq_dnd_balance(const eq_dnd *x);
/* A copy with the given block sizes along the split axis (sum = shape[split]). */
eq_dnd *eq_dnd_redistribute(const eq_dnd *x, const int64_t *counts);
eq_dnd *eq_dnd_copy(const eq_dnd *x);
eq_dnd *eq_dnd_astype(const eq_dnd *x, eq_dtype dtype);

/* ================================================================ elementwise */

typedef enum eq_dnd_binop {
  EQ_DND_ADD = 0, EQ_DND_SUB, EQ_DND_MUL, EQ_DND_DIV, EQ_DND_FLOORDIV, EQ_DND_MOD, EQ_DND_POW,
  EQ_DND_MAXIMUM, EQ_DND_MINIMUM, EQ_DND_ATAN2, EQ_DND_HYPOT,
  EQ_DND_EQ, EQ_DND_NE, EQ_DND_LT, EQ_DND_LE, EQ_DND_GT, EQ_DND_GE,
  EQ_DND_LOGICAL_AND, EQ_DND_LOGICAL_OR, EQ_DND_LOGICAL_XOR,
  EQ_DND_BINOP_COUNT
} eq_dnd_binop;

typedef enum eq_dnd_unop {
  EQ_DND_NEG = 0, EQ_DND_ABS, EQ_DND_SIGN, EQ_DND_SQUARE, EQ_DND_SQRT, EQ_DND_RECIPROCAL,
  EQ_DND_EXP, EQ_DND_EXPM1, EQ_DND_LOG, EQ_DND_LOG2, EQ_DND_LOG10, EQ_DND_LOG1P,
  EQ_DND_SIN, EQ_DND_COS, EQ_DND_TAN, EQ_DND_ASIN, EQ_DND_ACOS, EQ_DND_ATAN,
  EQ_DND_SINH, EQ_DND_COSH, EQ_DND_TANH, EQ_DND_SIGMOID,
  EQ_DND_FLOOR, EQ_DND_CEIL, EQ_DND_ROUND, EQ_DND_TRUNC,
  EQ_DND_ISNAN, EQ_DND_ISINF, EQ_DND_ISFINITE, EQ_DND_LOGICAL_NOT,
  EQ_DND_UNOP_COUNT
} eq_dnd_unop;

/* Result dtypes follow NumPy: arithmetic promotes (eq_dtype_promote); DIV and
 * the float functions of integers give float64; comparisons and logical ops
 * give bool. Scalars are "weak" (NEP 50): float32 x + 1.5 stays float32,
 * int64 x + 1.5 is float64. */
eq_dnd *eq_dnd_binary(eq_dnd_binop op, const eq_dnd *a, const eq_dnd *b);
/* a op s (scalar_first: s op a). */
eq_dnd *eq_dnd_binary_scalar(eq_dnd_binop op, const eq_dnd *a, double s, bool scalar_first);
eq_dnd *eq_dnd_unary(eq_dnd_unop op, const eq_dnd *a);
eq_dnd *eq_dnd_add(const eq_dnd *a, const eq_dnd *b);
eq_dnd *eq_dnd_sub(const eq_dnd *a, const eq_dnd *b);
eq_dnd *eq_dnd_mul(const eq_dnd *a, const eq_dnd *b);
eq_dnd *eq_dnd_div(const eq_dnd *a, const eq_dnd *b);
eq_dnd *eq_dnd_clip(const eq_dnd *a, double lo, double hi);
/* cond ? a : b with broadcasting (cond any dtype, nonzero = true). */
eq_dnd *eq_dnd_where(const eq_dnd *cond, const eq_dnd *a, const eq_dnd *b);
/* In place a = a op b (b broadcast to a's shape; a keeps its dtype). */
eq_status eq_dnd_binary_(eq_dnd_binop op, eq_dnd *a, const eq_dnd *b);
eq_status eq_dnd_binary_scalar_(eq_dnd_binop op, eq_dnd *a, double s);
/* All elements within atol + rtol * |b| (NaN never close); replicated answer. */
eq_status eq_dnd_allclose(const eq_dnd *a, const eq_dnd *b, double rtol, double atol, bool *out);

/* ================================================================ reductions
 * axis: one axis (negative counts from the end) or EQ_DND_ALL_AXES (0-d
 * result). Along the split axis or all axes the result is replicated
 * (split NONE); along another axis the split axis shifts down. */

eq_dnd *eq_dnd_sum(const eq_dnd *x, int axis, bool keepdims);  /* ints, bool -> int64 */
eq_dnd *eq_dnd_prod(const eq_dnd *x, int axis, bool keepdims);
eq_dnd *eq_dnd_mean(const eq_dnd *x, int axis, bool keepdims); /* ints -> float64 */
/* Per-rank moments merged with the stable pairwise formula (Chan et al.). */
eq_dnd *eq_dnd_var(const eq_dnd *x, int axis, int64_t ddof, bool keepdims);
eq_dnd *eq_dnd_std(const eq_dnd *x, int axis, int64_t ddof, bool keepdims);
eq_dnd *eq_dnd_min(const eq_dnd *x, int axis, bool keepdims); /* NaN propagates */
eq_dnd *eq_dnd_max(const eq_dnd *x, int axis, bool keepdims);
/* Global indices (int64; over all axes: the C-order flat index); first
 * occurrence; a NaN counts as the extreme. */
eq_dnd *eq_dnd_argmin(const eq_dnd *x, int axis, bool keepdims);
eq_dnd *eq_dnd_argmax(const eq_dnd *x, int axis, bool keepdims);
eq_dnd *eq_dnd_all(const eq_dnd *x, int axis, bool keepdims);
eq_dnd *eq_dnd_any(const eq_dnd *x, int axis, bool keepdims);
/* Running sum / product along axis (Exscan of the block totals along split). */
eq_dnd *eq_dnd_cumsum(const eq_dnd *x, int axis);
eq_dnd *eq_dnd_cumprod(const eq_dnd *x, int axis);
/* Scalar results as double, replicated (convenience for tests and algos). */
eq_status eq_dnd_item(const eq_dnd *x, double *out); /* x must have one element */

/* ================================================================ linear algebra */

/* 2-d a (m x k) @ b (k x n), or 1-d operands (vector). Result split: a's
 * split; when a is replicated, b's split. A split b reaches every rank in
 * pieces of at most 4 MB (two piece buffers), 1-0 products are reduced block
 * by block: no rank allocates more than O(size / P) beyond its inputs and its
 * block of the result. */
eq_dnd *eq_dnd_matmul(const eq_dnd *a, const eq_dnd *b);
/* Pairwise Euclidean distances (m x d, n x d) -> m x n, split as x (or y's
 * split 0 -> column split 1 when x is replicated). quadratic: the
 * |x|^2 + |y|^2 - 2 x.y expansion (GEMM), else exact differences. */
eq_dnd *eq_dnd_cdist(const eq_dnd *x, const eq_dnd *y, bool quadratic);

/* Frobenius norm of all elements (0-d, replicated). */
eq_dnd *eq_dnd_norm(const eq_dnd *x);
/* = eq_dnd_matmul (vectors: the inner product). */
eq_dnd *eq_dnd_dot(const eq_dnd *a, const eq_dnd *b);
/* a (m) x b (n) -> m x n, split as a (or b's split moved to axis 1). */
eq_dnd *eq_dnd_outer(const eq_dnd *a, const eq_dnd *b);
eq_status eq_dnd_trace(const eq_dnd *x, double *out);
/* Determinant of a square matrix (replicated answer; 1 for 0 x 0, NaN when
 * an element is NaN). Replicated: LAPACK LU on every rank. Split 0 or 1:
 * distributed Gaussian elimination with partial pivoting on the blocks where
 * they lie (split 1 as rows of a^T), one allgather and one broadcast of a
 * pivot row per column, O(n^2 / P) memory per rank. */
eq_status eq_dnd_det(const eq_dnd *x, double *out);
/* QR with diag(R) >= 0 (the unique factorisation of a full-rank a); either
 * output may be NULL. Split 0 or None (m >= n): TSQR - local QR of each row
 * block, one allgather of the n x n factors, QR of their stack; Q: m x n
 * split 0 (a replicated a is cut locally), R: n x n replicated. Split 1 (any
 * shape, k = min(m, n)), as HeAT: column blocks orthogonalised in rank order
 * by block Gram-Schmidt with reorthogonalisation, no resplit of a; Q: m x k
 * split 1 (rank r holds the Q columns of its own columns below k, so blocks
 * past column k are empty), R: k x n split 1 with a's column layout. */
eq_status eq_dnd_qr(const eq_dnd *a, eq_dnd **q, eq_dnd **r);
/* Thin SVD of a tall-skinny matrix: TSQR, then the SVD of R on every rank.
 * U: m x n split 0; S: n (descending), Vt: n x n replicated. */
eq_status eq_dnd_svd(const eq_dnd *a, eq_dnd **u, eq_dnd **s, eq_dnd **vt);
/* argmin |a x - b| for tall a (m >= n, full rank) through TSQR: x = R^-1 Q^T b
 * (replicated, n or n x k). */
eq_dnd *eq_dnd_lstsq(const eq_dnd *a, const eq_dnd *b);
/* Square systems and factorisations, computed on the replicated matrix with
 * LAPACK (for the small / medium matrices these are used for); results take
 * the input's split. Singular / indefinite input is an EQ_ERR_VALUE. */
eq_dnd *eq_dnd_solve(const eq_dnd *a, const eq_dnd *b);
eq_dnd *eq_dnd_cholesky(const eq_dnd *a); /* lower L, a = L L^T */
eq_dnd *eq_dnd_inv(const eq_dnd *a);
/* Symmetric eigendecomposition: w ascending, v columns = eigenvectors (replicated). */
eq_status eq_dnd_eigh(const eq_dnd *a, eq_dnd **w, eq_dnd **v);
/* Conjugate gradient for symmetric positive definite a (distributed matvecs):
 * stops when |r| <= tol or after max_iter steps (iters: steps taken). */
eq_dnd *eq_dnd_cg(const eq_dnd *a, const eq_dnd *b, const eq_dnd *x0, double tol, int max_iter, int *iters);

/* ================================================================ manipulation */

/* Axes permutation (perm NULL: reverse). The split axis moves with its data:
 * no communication. */
eq_dnd *eq_dnd_transpose(const eq_dnd *x, const int *perm);
/* Global C-order reshape (one -1 allowed). new_split: the result's split
 * axis (EQ_DND_NONE or an axis of the new shape); data moves in one
 * all-to-all of contiguous ranges. */
eq_dnd *eq_dnd_reshape(const eq_dnd *x, int ndim, const int64_t *shape, int new_split);
eq_dnd *eq_dnd_flatten(const eq_dnd *x);
eq_dnd *eq_dnd_expand_dims(const eq_dnd *x, int axis);
eq_dnd *eq_dnd_squeeze(const eq_dnd *x, int axis); /* axis must have size 1 */
/* Arrays of the same dtype and split (others are resplit to the first's). */
eq_dnd *eq_dnd_concatenate(const eq_dnd *const *xs, int n, int axis);
eq_dnd *eq_dnd_stack(const eq_dnd *const *xs, int n, int axis);
eq_dnd *eq_dnd_flip(const eq_dnd *x, int axis);
eq_dnd *eq_dnd_roll(const eq_dnd *x, int64_t shift, int axis);
/* Constant padding: pad[2 * d], pad[2 * d + 1] before / after axis d. */
eq_dnd *eq_dnd_pad(const eq_dnd *x, const int64_t *pad, double value);
eq_dnd *eq_dnd_tril(const eq_dnd *x, int64_t k);
eq_dnd *eq_dnd_triu(const eq_dnd *x, int64_t k);

/* ================================================================ indexing */

/* Basic slice start:stop:step (Python semantics, step >= 1) along axis. Along
 * the split axis: no communication; the result may be unbalanced. */
eq_dnd *eq_dnd_slice(const eq_dnd *x, int axis, int64_t start, int64_t stop, int64_t step);
/* x[..., index, ...] removing the axis; on the split axis the owner
 * broadcasts (result replicated). eq_dnd_getitem(x, i) = select(x, 0, i). */
eq_dnd *eq_dnd_select(const eq_dnd *x, int axis, int64_t index);
eq_dnd *eq_dnd_getitem(const eq_dnd *x, int64_t index);
/* Boolean mask of x's shape -> 1-d array of the selected elements in C
 * order (split 0 when x is split, unbalanced), or a 1-d mask along axis 0
 * selecting rows. The mask is redistributed to x's layout, never gathered. */
eq_dnd *eq_dnd_mask_select(const eq_dnd *x, const eq_dnd *mask);
/* x[indices] along axis for 1-d int64 indices (negative allowed). With x split
 * on that axis, requests go to the owners in one all-to-all and the rows come
 * back in another; the key is never gathered. Result split: the indices'
 * split when x is split on axis; else x's. */
eq_dnd *eq_dnd_take(const eq_dnd *x, int axis, const eq_dnd *indices);
/* x[start:stop:step along axis] = value (broadcast; replicated or split). */
eq_status eq_dnd_set_slice(eq_dnd *x, int axis, int64_t start, int64_t stop, int64_t step, const eq_dnd *value);
eq_status eq_dnd_set_slice_scalar(eq_dnd *x, int axis, int64_t start, int64_t stop, int64_t step, double value);
/* x[mask] = value for a mask of x's shape. */
eq_status eq_dnd_mask_fill(eq_dnd *x, const eq_dnd *mask, double value);
/* x[indices] = values along axis 0 (values: one row per index, rows in the
 * indices' layout). Sent to the owners in one all-to-all. */
eq_status eq_dnd_put(eq_dnd *x, const eq_dnd *indices, const eq_dnd *values);

/* ================================================================ sorting / statistics */

/* Sort along axis (ascending; descending when `descending`). Along the split
 * axis of a 1-d or 2-d array: sample sort; the result keeps the layout.
 * indices (optional) receives the argsort (int64, global indices). */
eq_dnd *eq_dnd_sort(const eq_dnd *x, int axis, bool descending, eq_dnd **indices);
/* Sorted unique values of all elements (1-d, replicated). */
eq_dnd *eq_dnd_unique(const eq_dnd *x);
/* k largest (or smallest) along the last axis... of a 1-d array: replicated
 * values and global indices. */
eq_status eq_dnd_topk(const eq_dnd *x, int64_t k, bool largest, eq_dnd **values, eq_dnd **indices);
/* q-th percentiles (0..100, linear interpolation as NumPy) of all elements. */
eq_dnd *eq_dnd_percentile(const eq_dnd *x, const double *q, int nq);
eq_dnd *eq_dnd_median(const eq_dnd *x);
/* Counts of all elements in `bins` equal bins over [lo, hi] (NumPy). */
eq_dnd *eq_dnd_histogram(const eq_dnd *x, int64_t bins, double lo, double hi);

/* ================================================================ HeAT surface: grids, repeat, tile, diag,
 * cov, bincount, fft (src/dnd/manip_more.c, stats.c, fft.c) */

/* Coordinate matrices from n 1-d arrays (NumPy meshgrid): out[k] (n arrays,
 * each n-d, its input's dtype) varies along one axis only. indexing "ij":
 * out[k] varies along axis k, shape (len0, len1, ...); "xy" (Cartesian, the
 * NumPy default): the first two axes are swapped, shape (len1, len0, ...).
 * As HeAT: at most one input may be split, and then every output is split
 * along that input's output axis with its layout; computed locally, no
 * communication. On error every out[k] is NULL. */
eq_status eq_dnd_meshgrid(const eq_dnd *const *xs, int n, const char *indexing, eq_dnd **out);
/* NumPy repeat: element i along axis repeated repeats[i] times (nrepeats ==
 * the axis length) or repeats[0] times each (nrepeats == 1). axis
 * EQ_DND_ALL_AXES: of the C-order flattened array (1-d result). Split kept;
 * no communication: along the split axis each rank repeats its own rows, so
 * the result may be unbalanced (eq_dnd_balance). */
eq_dnd *eq_dnd_repeat(const eq_dnd *x, const int64_t *repeats, int64_t nrepeats, int axis);
/* NumPy tile: x repeated reps[i] times along each axis (the shorter of
 * x's shape and reps is padded with leading 1s). Split kept (shifted by the
 * added leading axes); tiling along the split axis fetches rows from their
 * owners in one request/response exchange, result balanced. */
eq_dnd *eq_dnd_tile(const eq_dnd *x, const int64_t *reps, int nreps);
/* NumPy diag. 1-d v -> (n + |k|) x (n + |k|) with v on diagonal k (k > 0
 * above the main diagonal), split as v (0 or None), balanced. 2-d x -> its
 * diagonal k, 1-d; split 0 when x is split (each rank keeps the elements in
 * its block: no communication, possibly unbalanced), else None. */
eq_dnd *eq_dnd_diag(const eq_dnd *x, int64_t k);

/* cov's ddof: NumPy's None (1, or 0 when bias). */
#define EQ_DND_DDOF_DEFAULT INT64_MIN
/* NumPy cov: covariance of the variables of m (1-d: one variable; 2-d: rows
 * are variables when rowvar, else columns), with y's variables appended
 * (optional, same number of observations). Normalised by N - ddof. The
 * result is (nvar x nvar), 0-d for a single variable (NumPy squeezes),
 * replicated; float32 when the inputs are float32, else float64; computed
 * in double. Distributed over the observations: the exact mean by one
 * Allreduce, then local centred products (GEMM) and a second Allreduce; an
 * operand split along its variables is first resplit (one all-to-all).
 * N - ddof <= 0 is an error (NumPy returns inf with a warning). */
eq_dnd *eq_dnd_cov(const eq_dnd *m, const eq_dnd *y, bool rowvar, bool bias, int64_t ddof);
/* NumPy bincount of a 1-d non-negative integer array (int32/int64/uint8/
 * bool): length max(x) + 1, at least minlength; int64 counts, or float64
 * sums of `weights` (optional, x's shape; redistributed to x's layout).
 * Replicated; local counts + one Allreduce. A negative value is an
 * EQ_ERR_VALUE on every rank. */
eq_dnd *eq_dnd_bincount(const eq_dnd *x, const eq_dnd *weights, int64_t minlength);

/* FFT. The tensor core has no complex dtype: a COMPLEX array is a float32 or
 * float64 array whose LAST axis has length 2 (re, im) - NumPy's
 * complex64/complex128 memory layout viewed as floats. `axis` counts the
 * logical axes only (those before the (re, im) axis; negative from the
 * last logical one). n: the transform length (the input is cropped or
 * zero-padded along axis, as NumPy's n); n <= 0: the axis length.
 * Computed in double (radix-2, Bluestein for other lengths); float32 in ->
 * float32 out, float64 and integers -> float64.
 * Distribution as HeAT: along a non-split axis each rank transforms its own
 * block; along the split axis the split is moved to another logical axis
 * (one all-to-all), the block transformed and the split moved back (a
 * second all-to-all; balanced); a split 1-d array is gathered. The result is
 * split like the input, except an irfft of an array split along (re, im):
 * replicated. */
typedef enum eq_dnd_fft_norm {
  EQ_FFT_BACKWARD = 0, /* NumPy's default: forward unscaled, inverse 1/n */
  EQ_FFT_ORTHO,        /* both 1/sqrt(n) */
  EQ_FFT_FORWARD       /* forward 1/n, inverse unscaled */
} eq_dnd_fft_norm;
/* A complex array (..., 2) from re and optional im (NULL: zero) of the same
 * shape; float32 when both are float32, else float64. Split as re. */
eq_dnd *eq_dnd_complex(const eq_dnd *re, const eq_dnd *im);
/* Complex -> complex, sign -1 (fft) / +1 (ifft). */
eq_dnd *eq_dnd_fft(const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm);
eq_dnd *eq_dnd_ifft(const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm);
/* Real (float or integer, NOT complex) -> the n / 2 + 1 non-negative
 * frequencies, complex. */
eq_dnd *eq_dnd_rfft(const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm);
/* Inverse of rfft: complex (Hermitian half) -> real of length n (n <= 0:
 * 2 * (m - 1) for m input points); the imaginary parts of the zero and
 * Nyquist frequencies are ignored, as NumPy does. */
eq_dnd *eq_dnd_irfft(const eq_dnd *x, int axis, int64_t n, eq_dnd_fft_norm norm);

/* ================================================================ io
 * Each rank reads and writes only its block. Writes are atomic: a temporary
 * file is written by all ranks, then renamed by rank 0 after a barrier. */

eq_dnd *eq_dnd_load_hdf5(const char *path, const char *dataset, int split, const eq_comm *comm);
eq_status eq_dnd_save_hdf5(const eq_dnd *x, const char *path, const char *dataset);
eq_dnd *eq_dnd_load_npy(const char *path, int split, const eq_comm *comm);
eq_status eq_dnd_save_npy(const eq_dnd *x, const char *path);
/* 2-d (or 1-d) numeric CSV, `sep` separated, skipping `header_lines`. */
eq_dnd *eq_dnd_load_csv(const char *path, char sep, int header_lines, eq_dtype dtype, int split,
                        const eq_comm *comm);
eq_status eq_dnd_save_csv(const eq_dnd *x, const char *path, char sep);

#ifdef __cplusplus
}
#endif
#endif
