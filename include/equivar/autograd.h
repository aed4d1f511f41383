/* Reverse-mode autograd: a define-by-run tape of coarse ops.
 *
 * Each differentiable op computes its output, then calls eq_tape_record with
 * its inputs and a backward function. Recording happens only when grad mode
 * is on and some input requires a gradient; the op saves what its backward
 * needs in the node. eq_backward(loss) walks the tape from the loss's node
 * back to the start and calls each node's backward, which accumulates into
 * its inputs' gradients (eq_grad_buffer / eq_grad_accumulate).
 *
 * The tape belongs to the calling thread. eq_tape_clear drops it (call it
 * once per step, with the arena reset).
 */
#ifndef EQUIVAR_AUTOGRAD_H
#define EQUIVAR_AUTOGRAD_H

#include "equivar/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQ_NODE_MAX_INPUTS 6
#define EQ_NODE_MAX_SAVED 6

typedef struct eq_node eq_node;
typedef eq_status (*eq_backward_fn)(eq_node *node);

struct eq_node {
  const char *op; /* for error messages: "conv2d" */
  eq_tensor *out;
  int n_inputs;
  eq_tensor *inputs[EQ_NODE_MAX_INPUTS];
  eq_backward_fn backward;
  /* What the backward needs, filled in by the op after recording. */
  eq_tensor *saved[EQ_NODE_MAX_SAVED];
  double f[8];
  int64_t i[2 * EQ_MAX_DIMS];
  void *ctx; /* op-specific block from eq_node_alloc_ctx */
  int64_t index; /* position on the tape */
};

/* Grad mode (default on). eq_set_grad_enabled returns the previous mode. */
bool eq_grad_enabled(void);
bool eq_set_grad_enabled(bool enabled);

/* True when an op with these inputs must record (grad mode on and some input
 * requires grad). */
bool eq_needs_grad(int n, eq_tensor *const *inputs);

/* Records `out = op(inputs)`. Returns the node, or NULL when nothing needs
 * a gradient (then out is left as a constant). Marks out->requires_grad and
 * out->grad_fn. NULL with an error recorded only if memory runs out (check
 * eq_error_code() when NULL matters). */
eq_node *eq_tape_record(const char *op, eq_tensor *out, int n, eq_tensor *const *inputs,
                        eq_backward_fn backward);
/* Scratch memory for a node's saved data, freed with the tape. */
void *eq_node_alloc_ctx(eq_node *node, size_t bytes);

/* Backpropagates from a scalar (one-element) tensor: d loss / d loss = 1.
 * Gradients accumulate into ->grad of every tensor that requires grad.
 * Fails on a non-scalar or non-finite loss, naming the op that failed. */
eq_status eq_backward(eq_tensor *loss);
/* Same, seeding the gradient of `out` with `grad_out` (any shape). */
eq_status eq_backward_with(eq_tensor *out, const eq_tensor *grad_out);
/* Forgets every recorded node. (A heap non-leaf tensor's gradient is freed
 * with the tensor.) */
void eq_tape_clear(void);
int64_t eq_tape_size(void);

/* t->grad, created as zeros (shape of t, contiguous, dtype of t) if absent.
 * Leaves get heap gradients that persist across steps (freed with the leaf);
 * non-leaves get them in the current arena, or on the heap (freed with the
 * tensor) when no arena is current. */
eq_tensor *eq_grad_buffer(eq_tensor *t);
/* The same, except that a buffer it creates is left uninitialised and
 * *fresh is set: for backward kernels that then write every element (saves
 * the zero fill). *fresh is false when t already had a gradient. */
eq_tensor *eq_grad_buffer_uninit(eq_tensor *t, bool *fresh);
/* t->grad += g, where g has t's shape or a shape that broadcasts from it
 * (summed back over broadcast dims). */
eq_status eq_grad_accumulate(eq_tensor *t, const eq_tensor *g);
/* For a backward function whose input t receives the node's output
 * gradient unchanged (a skip connection): eq_grad_accumulate(t,
 * node->out->grad), except that when t is a non-leaf without a gradient
 * yet, of the same shape and dtype, it takes that buffer instead of a copy
 * (the tape frees a node's output gradient after its backward anyway).
 * Call it after the node's last read of node->out->grad. */
eq_status eq_grad_pass_through(eq_tensor *t, eq_node *node);
/* Sum of g over the dims that broadcasting added/expanded to reach g's shape
 * from `shape` (the reverse of broadcasting). A new tensor. */
eq_tensor *eq_sum_to_shape(const eq_tensor *g, int ndim, const int64_t *shape);

/* Stop-gradient: a view of t that is a leaf with no gradient. */
eq_tensor *eq_detach(eq_tensor *t);
/* Marks a leaf as a parameter to differentiate. */
void eq_set_requires_grad(eq_tensor *t, bool requires_grad);

/* Finite-difference check of every op's backward (float64).
 * `fn` maps the inputs to an output; the check differentiates
 * L = sum(out * w) for a fixed random w, compares the analytic gradient of
 * each input that requires grad with central differences (step eps), and
 * skips coordinates where the left and right differences disagree (kinks
 * such as relu at 0, as Caffe's checker does). Returns EQ_OK or an error
 * naming the input, element, and both values. */
typedef eq_tensor *(*eq_gradcheck_fn)(eq_tensor *const *inputs, void *ctx);
typedef struct eq_gradcheck_opts {
  double eps;  /* default 1e-6 */
  double atol; /* default 1e-6 */
  double rtol; /* default 1e-4 */
  uint64_t seed;
  int max_coords; /* per input; 0 = all */
} eq_gradcheck_opts;
eq_status eq_gradcheck(eq_gradcheck_fn fn, void *ctx, int n, eq_tensor *const *inputs,
                       const eq_gradcheck_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
