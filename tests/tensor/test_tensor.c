/* Tensor creation, views, copies, broadcasting and their errors. */
#include <string.h>

#include "eq_test.h"
#include "equivar/tensor.h"

static void test_creation(void) {
  eq_tensor *z = eq_zeros(EQ_F32, EQ_DIMS(2, 3));
  CHECK(z && z->ndim == 2 && eq_numel(z) == 6 && eq_is_contiguous(z));
  CHECK(z->stride[0] == 3 && z->stride[1] == 1);
  CHECK(eq_get_flat(z, 5) == 0);
  eq_tensor *f = eq_full(EQ_I64, EQ_DIMS(4), 7);
  CHECK(f && eq_get_flat(f, 3) == 7);
  eq_tensor *a = eq_arange(EQ_F64, 5);
  CHECK(a && eq_get_flat(a, 4) == 4);
  eq_tensor *s = eq_scalar(EQ_F32, 2.5);
  CHECK(s && s->ndim == 0 && eq_numel(s) == 1 && eq_get_flat(s, 0) == 2.5);
  float data[4] = {1, 2, 3, 4};
  eq_tensor *d = eq_from_data(EQ_F32, EQ_DIMS(2, 2), data);
  data[0] = 100; /* copied, not aliased */
  CHECK(d && eq_get_flat(d, 0) == 1);
  eq_tensor *w = eq_tensor_wrap(EQ_F32, EQ_DIMS(4), data);
  CHECK(w && eq_get_flat(w, 0) == 100);
  eq_tensor *b = eq_full(EQ_BOOL, EQ_DIMS(3), 5);
  CHECK(b && eq_get_flat(b, 0) == 1);
  eq_tensor *h = eq_full(EQ_BF16, EQ_DIMS(2), 1.5);
  CHECK(h && eq_get_flat(h, 1) == 1.5);
  eq_tensor *u = eq_rand_uniform(EQ_F32, EQ_DIMS(1000), -1, 1, 3, 0);
  eq_tensor *u2 = eq_rand_uniform(EQ_F32, EQ_DIMS(10), -1, 1, 3, 0);
  double mn = 1, mx = -1;
  for (int i = 0; i < 1000; i++) {
    double v = eq_get_flat(u, i);
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
  CHECK(mn >= -1 && mx < 1 && mn < -0.9 && mx > 0.9);
  /* Same seed: element i does not depend on the tensor's size. */
  CHECK(memcmp(eq_data_ptr(u), eq_data_ptr(u2), 10 * sizeof(float)) == 0);
  eq_tensor *r = eq_rand_normal(EQ_F64, EQ_DIMS(10000), 1, 2, 9, 1);
  double m = 0;
  for (int i = 0; i < 10000; i++) m += eq_get_flat(r, i) / 10000;
  CHECK_CLOSE(m, 1.0, 0, 0.1);
  eq_tensor *all[] = {z, f, a, s, d, w, b, h, u, u2, r};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) eq_tensor_free(all[i]);
}

static void test_views(void) {
  eq_tensor *a = eq_arange(EQ_F32, 24);
  eq_tensor *x = eq_reshape(a, EQ_DIMS(2, 3, 4));
  CHECK(x && x->storage == a->storage && x->shape[2] == 4);
  eq_tensor *y = eq_reshape(x, EQ_DIMS(-1, 6));
  CHECK(y && y->shape[0] == 4 && y->shape[1] == 6);
  eq_tensor *t = eq_transpose(x, 0, 2); /* [4, 3, 2] */
  CHECK(t && t->shape[0] == 4 && t->shape[2] == 2 && !eq_is_contiguous(t));
  CHECK(eq_get(t, (int64_t[]){3, 2, 1}) == 1 * 12 + 2 * 4 + 3);
  /* Reshape of a non-contiguous view must copy, keeping C order. */
  eq_tensor *tf = eq_reshape(t, EQ_DIMS(24));
  CHECK(tf && eq_is_contiguous(tf));
  CHECK(eq_get_flat(tf, 1) == 12 && eq_get_flat(tf, 2) == 4);
  /* ...but merging dims that stay contiguous is a view. */
  eq_tensor *sl = eq_slice(x, 1, 1, 3, 1); /* [2, 2, 4] */
  eq_tensor *m = eq_reshape(sl, EQ_DIMS(2, 8));
  CHECK(m && m->storage == a->storage && eq_get(m, (int64_t[]){1, 7}) == 12 + 2 * 4 + 3);
  eq_tensor *st = eq_slice(a, 0, 1, -1, 5); /* 1, 6, 11, 16, 21 */
  CHECK(st && st->shape[0] == 5 && eq_get_flat(st, 4) == 21);
  eq_tensor *sel = eq_select(x, 1, -1); /* [2, 4]: x[:, 2, :] */
  CHECK(sel && sel->ndim == 2 && eq_get(sel, (int64_t[]){1, 3}) == 12 + 8 + 3);
  eq_tensor *r3 = eq_arange(EQ_F32, 3);
  eq_tensor *col = eq_reshape(r3, EQ_DIMS(3, 1));
  eq_tensor *e = eq_expand(col, EQ_DIMS(2, 3, 5));
  CHECK(e && e->stride[0] == 0 && e->stride[2] == 0 && eq_get(e, (int64_t[]){1, 2, 4}) == 2);
  eq_tensor *un = eq_unsqueeze(a, 0);
  CHECK(un && un->ndim == 2 && un->shape[0] == 1);
  eq_tensor *sq = eq_squeeze(un, 0);
  CHECK(sq && sq->ndim == 1 && sq->shape[0] == 24);
  eq_tensor *fl = eq_flatten(x, 1, 2);
  CHECK(fl && fl->ndim == 2 && fl->shape[1] == 12);
  eq_tensor *c = eq_contiguous(t);
  CHECK(c && eq_is_contiguous(c) && eq_get(c, (int64_t[]){3, 2, 1}) == 23);
  eq_tensor *d = eq_to_dtype(c, EQ_I32);
  CHECK(d && d->dtype == EQ_I32 && eq_get_flat(d, 23) == 23);
  /* Freeing the base first is safe: views hold the storage. */
  eq_tensor_free(a);
  CHECK(eq_get_flat(y, 23) == 23);
  eq_tensor *all[] = {x, y, t, tf, sl, m, st, sel, r3, col, e, un, sq, fl, c, d};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) eq_tensor_free(all[i]);
}

static void test_copy_broadcast(void) {
  eq_tensor *dst = eq_zeros(EQ_F64, EQ_DIMS(3, 4));
  eq_tensor *row = eq_arange(EQ_I32, 4);
  CHECK(eq_copy_(dst, row) == EQ_OK);
  CHECK(eq_get(dst, (int64_t[]){2, 3}) == 3);
  CHECK(eq_accumulate_(dst, row) == EQ_OK);
  CHECK(eq_get(dst, (int64_t[]){1, 2}) == 4);
  eq_tensor *bad = eq_arange(EQ_F32, 3);
  eq_error_clear();
  CHECK(eq_copy_(dst, bad) == EQ_ERR_SHAPE);
  CHECK(strstr(eq_error_message(), "eq_copy_") && strstr(eq_error_message(), "[3]"));
  CHECK(eq_fill_(dst, -2) == EQ_OK && eq_get_flat(dst, 11) == -2);
  double buf[12];
  eq_tensor *tr = eq_transpose(dst, 0, 1);
  eq_set_flat(dst, 1, 9); /* dst[0, 1] */
  CHECK(eq_to_buffer(tr, buf) == EQ_OK && buf[3] == 9);
  int nd;
  int64_t shape[EQ_MAX_DIMS];
  eq_tensor *a = eq_zeros(EQ_F32, EQ_DIMS(5, 1, 3));
  eq_tensor *b = eq_zeros(EQ_F32, EQ_DIMS(4, 1));
  CHECK(eq_broadcast_shapes("op", a, b, &nd, shape) == EQ_OK && nd == 3 && shape[0] == 5 && shape[1] == 4 &&
        shape[2] == 3);
  /* Large parallel copy through a transposed view. */
  eq_tensor *big = eq_rand_uniform(EQ_F32, EQ_DIMS(300, 500), 0, 1, 1, 0);
  eq_tensor *btv = eq_transpose(big, 0, 1);
  eq_tensor *bt = eq_contiguous(btv);
  CHECK(bt && eq_get(bt, (int64_t[]){499, 299}) == eq_get(big, (int64_t[]){299, 499}));
  eq_tensor *all[] = {dst, row, bad, tr, a, b, big, btv, bt};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) eq_tensor_free(all[i]);
}

static void test_errors(void) {
  eq_tensor *a = eq_zeros(EQ_F32, EQ_DIMS(2, 3));
  eq_error_clear();
  CHECK(eq_reshape(a, EQ_DIMS(4, 2)) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  CHECK(strstr(eq_error_message(), "[2, 3]") != NULL);
  CHECK(eq_slice(a, 2, 0, 1, 1) == NULL && strstr(eq_error_message(), "axis 2"));
  CHECK(eq_select(a, 0, 2) == NULL && eq_error_code() == EQ_ERR_VALUE);
  CHECK(eq_expand(a, EQ_DIMS(3, 3)) == NULL);
  CHECK(eq_permute(a, (int[]){0, 0}) == NULL);
  CHECK(eq_zeros(EQ_F32, EQ_DIMS(-1)) == NULL && eq_error_code() == EQ_ERR_SHAPE);
  CHECK(eq_squeeze(a, 0) == NULL);
  eq_tensor_free(a);
}

static void test_arena_tensors(void) {
  eq_arena *arena = eq_arena_new(1 << 20);
  eq_arena_set_current(arena);
  eq_tensor *t = eq_ones(EQ_F32, EQ_DIMS(64, 64));
  CHECK(t && t->in_arena && t->storage->in_arena);
  eq_tensor_free(t); /* no-op */
  CHECK(eq_get_flat(t, 4095) == 1);
  size_t used = eq_arena_used(arena);
  CHECK(used >= 64 * 64 * 4);
  eq_arena_reset(arena);
  CHECK(eq_arena_used(arena) == 0);
  eq_arena_set_current(NULL);
  eq_arena_free(arena);
}

int main(void) {
  test_creation();
  test_views();
  test_copy_broadcast();
  test_errors();
  test_arena_tensors();
  return EQ_TEST_SUMMARY();
}
