/* eq_batch_norm_relu against the three ops it replaces, relu(batch_norm(x)
 * + residual), in float32 on both kernel layouts (planes of at least 16
 * values, and rows of small planes): the output, the running statistics,
 * and the gradients of x, weight, bias and the residual, written fresh and
 * then accumulated. Both compute the same float operations in the same
 * order, so they agree to rounding; a mask taken from the wrong tensor or a
 * lost skip gradient shows as an O(1) difference. Also the residual being
 * x itself, and eval mode. (Float64 finite differences:
 * test_nn_gradcheck.) */
#include "eq_test.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"
#include "tensor_compare.h"

typedef struct {
  eq_tensor *x, *w, *b, *r, *rm, *rv;
} bn_inputs;

/* Leaves on the heap (their gradients go with them); running statistics
 * 0 and 1. residual_mode: 0 none, 1 its own tensor, 2 x itself. */
static bn_inputs make_inputs(const int64_t *shape, int ndim, uint64_t seed, int residual_mode) {
  eq_arena *arena = eq_arena_set_current(NULL);
  int64_t C = shape[1];
  bn_inputs in = {eq_rand_normal(EQ_F32, ndim, shape, 0.2, 1.3, seed, 0),
                  eq_rand_normal(EQ_F32, 1, &C, 1, 0.5, seed + 1, 0),
                  eq_rand_normal(EQ_F32, 1, &C, 0, 0.5, seed + 2, 0),
                  residual_mode == 1 ? eq_rand_normal(EQ_F32, ndim, shape, 0, 1, seed + 3, 0) : NULL,
                  eq_zeros(EQ_F32, 1, &C),
                  eq_ones(EQ_F32, 1, &C)};
  eq_arena_set_current(arena);
  eq_set_requires_grad(in.x, true);
  eq_set_requires_grad(in.w, true);
  eq_set_requires_grad(in.b, true);
  if (in.r) eq_set_requires_grad(in.r, true);
  return in;
}

static void free_inputs(bn_inputs *in) {
  eq_tensor *all[] = {in->x, in->w, in->b, in->r, in->rm, in->rv};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) eq_tensor_free(all[i]);
}

static void check_case(const int64_t *shape, int ndim, int residual_mode, bool training) {
  bn_inputs a = make_inputs(shape, ndim, 11, residual_mode), b = make_inputs(shape, ndim, 11, residual_mode);
  eq_tensor *g = NULL;
  {
    eq_arena *arena = eq_arena_set_current(NULL);
    g = eq_rand_normal(EQ_F32, ndim, shape, 0, 1, 99, 0);
    eq_arena_set_current(arena);
  }
  for (int pass = 1; pass <= 2; pass++) {
    eq_tensor *ra = residual_mode == 1 ? a.r : residual_mode == 2 ? a.x : NULL;
    eq_tensor *rb = residual_mode == 1 ? b.r : residual_mode == 2 ? b.x : NULL;
    eq_tensor *fused = eq_batch_norm_relu(a.x, a.w, a.b, a.rm, a.rv, training, 0.1, 1e-5, ra);
    eq_tensor *h = eq_batch_norm(b.x, b.w, b.b, b.rm, b.rv, training, 0.1, 1e-5);
    if (h && rb) h = eq_add(h, rb);
    eq_tensor *ref = h ? eq_relu(h) : NULL;
    CHECK_MSG(fused && ref, "%s", eq_error_message());
    if (!fused || !ref) break;
    const char *what = residual_mode == 0 ? "no residual" : residual_mode == 1 ? "a residual" : "x as residual";
    double e = worst_rel_diff(fused, ref);
    CHECK_MSG(e < 1e-6, "output, %d-d, %s, training %d: %g", ndim, what, training, e);
    CHECK_MSG(worst_rel_diff(a.rm, b.rm) < 1e-6 && worst_rel_diff(a.rv, b.rv) < 1e-6, "running statistics, %s", what);
    CHECK(eq_backward_with(fused, g) == EQ_OK && eq_backward_with(ref, g) == EQ_OK);
    eq_tape_clear();
    const eq_tensor *grads[][2] = {{a.x->grad, b.x->grad},
                                   {a.w->grad, b.w->grad},
                                   {a.b->grad, b.b->grad},
                                   {a.r ? a.r->grad : NULL, b.r ? b.r->grad : NULL}};
    const char *names[] = {"x", "weight", "bias", "residual"};
    for (int k = 0; k < 4; k++) {
      if (k == 3 && residual_mode != 1) continue;
      e = grads[k][0] && grads[k][1] ? worst_rel_diff(grads[k][0], grads[k][1]) : INFINITY;
      CHECK_MSG(e < 1e-5, "gradient of %s pass %d, %d-d, %s, training %d: %g", names[k], pass, ndim, what, training, e);
    }
  }
  eq_tensor_free(g);
  free_inputs(&a);
  free_inputs(&b);
}

int main(void) {
  eq_arena *arena = eq_arena_new(64 << 20);
  eq_arena_set_current(arena);
  const int64_t planes[] = {3, 5, 6, 7}; /* planes of 42 values */
  const int64_t rows[] = {9, 70, 2, 2};  /* planes of 4: the row layout */
  for (int mode = 0; mode < 3; mode++)
    for (int training = 0; training < 2; training++) {
      check_case(planes, 4, mode, training);
      check_case(rows, 4, mode, training);
    }
  const int64_t flat[] = {33, 20}; /* [N, C] */
  check_case(flat, 2, 1, true);
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  return EQ_TEST_SUMMARY();
}
