/* eq_attention_qkv against the composition it replaces (reshape, permute,
 * select, eq_attention, transpose, reshape), float32 and float64, at sizes
 * past the 16-lane vectors and 6-row tiles of the float32 GEMMs: the
 * output, and d(qkv) written fresh and then accumulated. Both run the same
 * kernels, so they agree to float rounding; a layout slip (a head, a row
 * stride, a third of the row) shows as an O(1) difference. And float32
 * attention against float64 with masks, for the float32 softmax rows. */
#include <math.h>

#include "eq_test.h"
#include "tensor_compare.h"
#include "equivar/autograd.h"
#include "equivar/ops.h"

static eq_tensor *composed(eq_tensor *qkv, int heads) {
  int64_t n = qkv->shape[0], t = qkv->shape[1], d = qkv->shape[2] / 3;
  eq_tensor *p = eq_permute(eq_reshape(qkv, EQ_DIMS(n, t, 3, heads, d / heads)), (int[]){2, 0, 3, 1, 4});
  eq_tensor *a = eq_attention(eq_select(p, 0, 0), eq_select(p, 0, 1), eq_select(p, 0, 2), NULL, 0);
  return eq_reshape(eq_transpose(a, 1, 2), EQ_DIMS(n, t, d));
}

static void check_case(eq_dtype dt, int64_t n, int64_t t, int heads, int64_t hd) {
  double tol = dt == EQ_F32 ? 2e-6 : 1e-13;
  int64_t d = heads * hd;
  /* the leaves on the heap (their gradients are, and go with them); the
   * ops' intermediates in the caller's arena */
  eq_arena *arena = eq_arena_set_current(NULL);
  eq_tensor *x = eq_rand_normal(dt, EQ_DIMS(n, t, 3 * d), 0, 1, 7, 0);
  eq_tensor *x2 = eq_contiguous(x);
  eq_tensor *g = eq_rand_normal(dt, EQ_DIMS(n, t, d), 0, 1, 8, 0);
  eq_arena_set_current(arena);
  eq_set_requires_grad(x, true);
  eq_set_requires_grad(x2, true);
  for (int pass = 1; pass <= 2; pass++) {
    eq_tensor *y = eq_attention_qkv(x, heads, NULL, 0), *ref = composed(x2, heads);
    CHECK_MSG(y && ref, "%s", eq_error_message());
    if (!y || !ref) break;
    double e = worst_rel_diff(y, ref);
    CHECK_MSG(e < tol, "output: dtype %d n %lld t %lld heads %d hd %lld: %g", (int)dt, (long long)n, (long long)t,
              heads, (long long)hd, e);
    CHECK(eq_backward_with(y, g) == EQ_OK && eq_backward_with(ref, g) == EQ_OK);
    eq_tape_clear();
    e = x->grad && x2->grad ? worst_rel_diff(x->grad, x2->grad) : INFINITY;
    CHECK_MSG(e < tol, "d(qkv) pass %d: dtype %d n %lld t %lld heads %d hd %lld: %g", pass, (int)dt, (long long)n,
              (long long)t, heads, (long long)hd, e);
  }
  eq_tensor_free(x);
  eq_tensor_free(x2);
  eq_tensor_free(g);
}

/* eq_attention in float32 (AVX-512 softmax rows where the build has them)
 * against float64 (scalar rows) with Lk keys: a bool mask that removes some
 * keys, all keys of one query row, and all but the last (up to) 16 of
 * another; output and the three gradients. Lk spans rows held in
 * registers with and without a tail (16 to 128 keys) and those past them. */
static void check_f32_against_f64(int64_t Lk) {
  const int64_t B = 2, H = 3, Lq = 9, D = 16, last = Lk % 16 ? Lk / 16 * 16 : Lk - 16;
  eq_arena *arena = eq_arena_set_current(NULL);
  eq_tensor *in64[3], *in32[3], *mask = eq_zeros(EQ_BOOL, EQ_DIMS(B, 1, Lq, Lk));
  const int64_t shapes[3][4] = {{B, H, Lq, D}, {B, H, Lk, D}, {B, H, Lk, D}};
  for (int t = 0; t < 3; t++) {
    in64[t] = eq_rand_normal(EQ_F64, 4, shapes[t], 0, 2, 20 + (uint64_t)t, 0);
    in32[t] = eq_to_dtype(in64[t], EQ_F32);
    eq_set_requires_grad(in64[t], true);
    eq_set_requires_grad(in32[t], true);
  }
  for (int64_t e = 0; e < B * Lq * Lk; e++) {
    int64_t row = e / Lk % Lq, key = e % Lk;
    bool keep = (e * 7) % 5 != 0;
    if (row == 3) keep = false;     /* attends to nothing */
    if (row == 5) keep = key >= last; /* only the tail */
    eq_set_flat(mask, e, keep);
  }
  eq_tensor *g64 = eq_rand_normal(EQ_F64, EQ_DIMS(B, H, Lq, D), 0, 1, 30, 0), *g32 = eq_to_dtype(g64, EQ_F32);
  eq_arena_set_current(arena);
  eq_tensor *y64 = eq_attention(in64[0], in64[1], in64[2], mask, 0), *y32 = eq_attention(in32[0], in32[1], in32[2], mask, 0);
  CHECK(y64 && y32 && eq_backward_with(y64, g64) == EQ_OK && eq_backward_with(y32, g32) == EQ_OK);
  eq_tape_clear();
  if (y64 && y32) {
    double e = worst_rel_diff(y32, y64);
    CHECK_MSG(e < 1e-5, "float32 output against float64, %lld keys: %g", (long long)Lk, e);
    for (int t = 0; t < 3; t++) {
      e = in32[t]->grad && in64[t]->grad ? worst_rel_diff(in32[t]->grad, in64[t]->grad) : INFINITY;
      CHECK_MSG(e < 1e-4, "float32 gradient %d against float64, %lld keys: %g", t, (long long)Lk, e);
    }
  }
  for (int t = 0; t < 3; t++) eq_tensor_free(in64[t]), eq_tensor_free(in32[t]);
  eq_tensor_free(mask);
  eq_tensor_free(g64);
  eq_tensor_free(g32);
}

int main(void) {
  eq_arena *arena = eq_arena_new(64 << 20);
  eq_arena_set_current(arena);
  check_case(EQ_F32, 3, 17, 3, 20);
  check_case(EQ_F32, 2, 65, 3, 64); /* ViT-Tiny's shape at 64 px */
  check_case(EQ_F64, 3, 17, 3, 20);
  check_case(EQ_F32, 1, 1, 1, 1);
  const int64_t keys[] = {7, 16, 17, 40, 65, 127, 128, 129};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) check_f32_against_f64(keys[i]);
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  return EQ_TEST_SUMMARY();
}
