/* Bad shapes and arguments give clear errors naming the op and the shapes. */
#include <string.h>

#include "eq_test.h"
#include "equivar/ops.h"

/* The call failed with `code` and its message contains every needle. */
#define EXPECT_ERR(call, code, ...)                                                                   \
  do {                                                                                              \
    eq_error_clear();                                                                               \
    eq_tensor *r_ = (call);                                                                         \
    const char *needles_[] = {__VA_ARGS__};                                                         \
    bool ok_ = r_ == NULL && eq_error_code() == (code);                                             \
    for (size_t i_ = 0; ok_ && i_ < sizeof needles_ / sizeof *needles_; i_++)                       \
      ok_ = strstr(eq_error_message(), needles_[i_]) != NULL;                                       \
    CHECK_MSG(ok_, "%s -> %s (%s)", #call, eq_error_message(), eq_status_name(eq_error_code()));   \
  } while (0)

int main(void) {
  eq_arena *arena = eq_arena_new(1 << 20);
  eq_arena_set_current(arena);
  eq_tensor *x = eq_zeros(EQ_F32, EQ_DIMS(2, 4, 5, 5));
  eq_tensor *w_bad_c = eq_zeros(EQ_F32, EQ_DIMS(6, 3, 3, 3));
  eq_conv2d_params p = {0};
  EXPECT_ERR(eq_conv2d(x, w_bad_c, NULL, &p), EQ_ERR_SHAPE, "conv2d", "[2, 4, 5, 5]", "[6, 3, 3, 3]");
  eq_conv2d_params g3 = {.groups = 3};
  EXPECT_ERR(eq_conv2d(x, eq_zeros(EQ_F32, EQ_DIMS(6, 2, 3, 3)), NULL, &g3), EQ_ERR_SHAPE, "conv2d", "groups=3");
  EXPECT_ERR(eq_conv2d(x, eq_zeros(EQ_F32, EQ_DIMS(6, 4, 7, 7)), NULL, &p), EQ_ERR_SHAPE, "conv2d", "larger than the padded input");
  eq_conv2d_params dil = {.dilation = {3, 3}};
  EXPECT_ERR(eq_conv2d(x, eq_zeros(EQ_F32, EQ_DIMS(6, 4, 3, 3)), NULL, &dil), EQ_ERR_SHAPE, "dilated 7x7");
  EXPECT_ERR(eq_conv2d(x, eq_zeros(EQ_F32, EQ_DIMS(6, 4, 3, 3)), eq_zeros(EQ_F32, EQ_DIMS(5)), &p), EQ_ERR_SHAPE,
             "conv2d", "bias");
  EXPECT_ERR(eq_conv2d(x, eq_zeros(EQ_F64, EQ_DIMS(6, 4, 3, 3)), NULL, &p), EQ_ERR_DTYPE, "conv2d", "float64");
  EXPECT_ERR(eq_conv2d(eq_zeros(EQ_F32, EQ_DIMS(4, 5, 5)), w_bad_c, NULL, &p), EQ_ERR_SHAPE, "conv2d", "[4, 5, 5]");
  EXPECT_ERR(eq_conv2d(eq_zeros(EQ_I32, EQ_DIMS(2, 4, 5, 5)), w_bad_c, NULL, &p), EQ_ERR_DTYPE, "int32");
  eq_conv2d_params neg = {.padding = {-1, 0}};
  EXPECT_ERR(eq_conv2d(x, eq_zeros(EQ_F32, EQ_DIMS(6, 4, 3, 3)), NULL, &neg), EQ_ERR_VALUE, "conv2d", "negative");

  EXPECT_ERR(eq_conv_transpose2d(x, eq_zeros(EQ_F32, EQ_DIMS(3, 2, 3, 3)), NULL, &p), EQ_ERR_SHAPE,
             "conv_transpose2d", "[3, 2, 3, 3]");
  eq_conv2d_params op2 = {.stride = {2, 2}, .output_padding = {2, 0}};
  EXPECT_ERR(eq_conv_transpose2d(x, eq_zeros(EQ_F32, EQ_DIMS(4, 2, 3, 3)), NULL, &op2), EQ_ERR_VALUE,
             "output_padding");
  eq_conv2d_params bigpad = {.padding = {4, 4}};
  EXPECT_ERR(eq_conv_transpose2d(x, eq_zeros(EQ_F32, EQ_DIMS(4, 2, 3, 3)), NULL, &bigpad), EQ_ERR_SHAPE,
             "conv_transpose2d", "not positive");

  EXPECT_ERR(eq_linear(eq_zeros(EQ_F32, EQ_DIMS(3, 5)), eq_zeros(EQ_F32, EQ_DIMS(4, 6)), NULL), EQ_ERR_SHAPE,
             "linear", "[3, 5]", "[4, 6]");
  EXPECT_ERR(eq_linear(eq_zeros(EQ_F32, EQ_DIMS(3, 6)), eq_zeros(EQ_F32, EQ_DIMS(4, 6)), eq_zeros(EQ_F32, EQ_DIMS(3))),
             EQ_ERR_SHAPE, "linear", "bias");
  EXPECT_ERR(eq_linear_add(eq_zeros(EQ_F32, EQ_DIMS(3, 6)), eq_zeros(EQ_F32, EQ_DIMS(4, 6)), NULL,
                           eq_zeros(EQ_F32, EQ_DIMS(3, 5))),
             EQ_ERR_SHAPE, "linear_add", "residual [3, 5]", "[3, 6]", "[4, 6]");
  EXPECT_ERR(eq_linear_add(eq_zeros(EQ_F32, EQ_DIMS(3, 6)), eq_zeros(EQ_F32, EQ_DIMS(4, 6)), NULL,
                           eq_zeros(EQ_F64, EQ_DIMS(3, 4))),
             EQ_ERR_DTYPE, "linear_add", "residual");
  EXPECT_ERR(eq_linear_add(eq_zeros(EQ_F32, EQ_DIMS(3, 6)), eq_zeros(EQ_F32, EQ_DIMS(4, 6)), NULL, NULL),
             EQ_ERR_VALUE, "linear_add", "residual");
  {
    eq_tensor *mx = eq_zeros(EQ_F32, EQ_DIMS(2, 3, 6)), *w1 = eq_zeros(EQ_F32, EQ_DIMS(8, 6)),
              *w2 = eq_zeros(EQ_F32, EQ_DIMS(5, 8));
    EXPECT_ERR(eq_mlp_gelu(mx, eq_zeros(EQ_F32, EQ_DIMS(8, 4)), NULL, w2, NULL, NULL), EQ_ERR_SHAPE, "mlp_gelu",
               "input [2, 3, 6]", "fc1 weight [8, 4]");
    EXPECT_ERR(eq_mlp_gelu(mx, w1, NULL, eq_zeros(EQ_F32, EQ_DIMS(5, 7)), NULL, NULL), EQ_ERR_SHAPE, "mlp_gelu",
               "fc2 weight [5, 7]", "[8, 6]");
    EXPECT_ERR(eq_mlp_gelu(mx, w1, eq_zeros(EQ_F32, EQ_DIMS(5)), w2, NULL, NULL), EQ_ERR_SHAPE, "mlp_gelu",
               "fc1 bias [5]");
    EXPECT_ERR(eq_mlp_gelu(mx, w1, NULL, w2, eq_zeros(EQ_F32, EQ_DIMS(8)), NULL), EQ_ERR_SHAPE, "mlp_gelu",
               "fc2 bias [8]");
    EXPECT_ERR(eq_mlp_gelu(mx, w1, NULL, w2, NULL, eq_zeros(EQ_F32, EQ_DIMS(2, 3, 6))), EQ_ERR_SHAPE, "mlp_gelu",
               "residual [2, 3, 6]", "[5, 8]");
    EXPECT_ERR(eq_mlp_gelu(mx, w1, NULL, eq_zeros(EQ_F64, EQ_DIMS(5, 8)), NULL, NULL), EQ_ERR_DTYPE, "mlp_gelu",
               "fc2 weight", "float64");
    EXPECT_ERR(eq_mlp_gelu(mx, NULL, NULL, w2, NULL, NULL), EQ_ERR_VALUE, "mlp_gelu", "fc1 weight");
    eq_tensor_free(mx);
    eq_tensor_free(w1);
    eq_tensor_free(w2);
  }

  EXPECT_ERR(eq_max_pool2d(x, (int[]){7, 7}, NULL, NULL), EQ_ERR_SHAPE, "max_pool2d", "larger than the padded input");
  EXPECT_ERR(eq_max_pool2d(x, (int[]){3, 3}, NULL, (int[]){2, 2}), EQ_ERR_VALUE, "max_pool2d", "padding");
  EXPECT_ERR(eq_avg_pool2d(x, (int[]){0, 3}, NULL, NULL, true), EQ_ERR_VALUE, "avg_pool2d", "kernel");
  EXPECT_ERR(eq_adaptive_avg_pool2d(x, 0, 2), EQ_ERR_VALUE, "adaptive_avg_pool2d");
  EXPECT_ERR(eq_upsample_bilinear2d(eq_zeros(EQ_F32, EQ_DIMS(4, 5)), 3, 3, false), EQ_ERR_SHAPE,
             "upsample_bilinear2d", "[4, 5]");

  EXPECT_ERR(eq_batch_norm(x, eq_ones(EQ_F32, EQ_DIMS(5)), NULL, NULL, NULL, true, 0.1, 1e-5), EQ_ERR_SHAPE,
             "batch_norm", "weight", "[5]");
  EXPECT_ERR(eq_batch_norm(eq_zeros(EQ_F32, EQ_DIMS(1, 3)), NULL, NULL, NULL, NULL, true, 0.1, 1e-5), EQ_ERR_SHAPE,
             "batch_norm", "one value per channel");
  EXPECT_ERR(eq_batch_norm_relu(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5, eq_zeros(EQ_F32, EQ_DIMS(2, 4, 5, 4))),
             EQ_ERR_SHAPE, "batch_norm_relu", "residual", "differs");
  EXPECT_ERR(eq_batch_norm_relu(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5, eq_zeros_like(eq_to_dtype(x, EQ_F64))),
             EQ_ERR_DTYPE, "batch_norm_relu", "residual");
  EXPECT_ERR(eq_batch_norm_relu(x, eq_ones(EQ_F32, EQ_DIMS(5)), NULL, NULL, NULL, true, 0.1, 1e-5, NULL), EQ_ERR_SHAPE,
             "batch_norm_relu", "weight", "[5]");
  EXPECT_ERR(eq_layer_norm(x, eq_ones(EQ_F32, EQ_DIMS(4)), NULL, 1e-5), EQ_ERR_SHAPE, "layer_norm", "[4]",
             "[2, 4, 5, 5]");

  eq_tensor *q = eq_zeros(EQ_F32, EQ_DIMS(2, 3, 4)), *k = eq_zeros(EQ_F32, EQ_DIMS(2, 5, 4));
  EXPECT_ERR(eq_attention(q, k, eq_zeros(EQ_F32, EQ_DIMS(2, 4, 3)), NULL, 0), EQ_ERR_SHAPE, "attention",
             "[2, 4, 3]");
  EXPECT_ERR(eq_attention(q, eq_zeros(EQ_F32, EQ_DIMS(2, 5, 3)), k, NULL, 0), EQ_ERR_SHAPE, "attention");
  EXPECT_ERR(eq_attention(q, k, k, eq_zeros(EQ_BOOL, EQ_DIMS(3, 4)), 0), EQ_ERR_SHAPE, "attention", "mask [3, 4]");
  EXPECT_ERR(eq_attention(q, k, k, eq_zeros(EQ_F64, EQ_DIMS(3, 5)), 0), EQ_ERR_DTYPE, "attention", "mask");
  eq_tensor *qkv = eq_zeros(EQ_F32, EQ_DIMS(2, 5, 18));
  EXPECT_ERR(eq_attention_qkv(qkv, 4, NULL, 0), EQ_ERR_SHAPE, "attention_qkv", "[2, 5, 18]", "4 heads");
  EXPECT_ERR(eq_attention_qkv(qkv, 0, NULL, 0), EQ_ERR_SHAPE, "attention_qkv", "0 heads");
  EXPECT_ERR(eq_attention_qkv(eq_zeros(EQ_F32, EQ_DIMS(18)), 1, NULL, 0), EQ_ERR_SHAPE, "attention_qkv", "[18]");
  EXPECT_ERR(eq_attention_qkv(qkv, 3, eq_zeros(EQ_BOOL, EQ_DIMS(4, 5)), 0), EQ_ERR_SHAPE, "attention_qkv",
             "mask [4, 5]");
  EXPECT_ERR(eq_attention_qkv(eq_zeros(EQ_I32, EQ_DIMS(2, 5, 18)), 3, NULL, 0), EQ_ERR_DTYPE, "attention_qkv");

  /* Empty channel sets are valid: no products, the output is the bias. */
  eq_tensor *b3 = eq_full(EQ_F32, EQ_DIMS(3), 0.5);
  eq_tensor *e = eq_conv2d(eq_zeros(EQ_F32, EQ_DIMS(2, 0, 5, 5)), eq_zeros(EQ_F32, EQ_DIMS(3, 0, 3, 3)), b3, &p);
  CHECK_MSG(e && e->shape[1] == 3 && e->shape[2] == 3 && eq_get_flat(e, 0) == 0.5 && eq_get_flat(e, 53) == 0.5, "%s",
            eq_error_message());
  e = eq_conv_transpose2d(eq_zeros(EQ_F32, EQ_DIMS(2, 3, 4, 4)), eq_zeros(EQ_F32, EQ_DIMS(3, 0, 3, 3)), NULL, &p);
  CHECK_MSG(e && e->shape[1] == 0 && e->shape[2] == 6, "%s", eq_error_message());

  eq_arena_set_current(NULL);
  eq_arena_free(arena);
  return EQ_TEST_SUMMARY();
}
