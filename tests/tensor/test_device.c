/* Device round trips. Without a GPU (or a CUDA build) the test checks the
 * error path; with one it checks host -> device -> host copies and that ops
 * without a device kernel refuse device tensors clearly. */
#include <string.h>

#include "eq_test.h"
#include "equivar/tensor.h"

int main(void) {
  eq_tensor *x = eq_rand_normal(EQ_F32, EQ_DIMS(33, 17), 0, 1, 1, 0);
  eq_tensor *xt = eq_transpose(x, 0, 1); /* non-contiguous source */
  eq_device cuda = {EQ_DEVICE_CUDA, 0};
  CHECK(eq_device_count(EQ_DEVICE_CPU) == 1);
  if (eq_device_count(EQ_DEVICE_CUDA) == 0) {
    eq_error_clear();
    CHECK(eq_to_device(x, cuda) == NULL && eq_error_code() == EQ_ERR_DEVICE);
    CHECK(strstr(eq_error_message(), "cuda:0") != NULL);
    printf("no CUDA device: checked the error path only\n");
  } else {
    eq_tensor *d = eq_to_device(xt, cuda);
    CHECK_MSG(d != NULL, "%s", eq_error_message());
    if (d) {
      CHECK(d->storage->device.type == EQ_DEVICE_CUDA && eq_is_contiguous(d));
      eq_tensor *back = eq_to_device(d, (eq_device){EQ_DEVICE_CPU, 0});
      CHECK(back && back->storage->device.type == EQ_DEVICE_CPU);
      int mismatches = 0;
      for (int64_t i = 0; back && i < eq_numel(back); i++)
        if (eq_get_flat(back, i) != eq_get_flat(xt, i)) mismatches++;
      CHECK(mismatches == 0);
      eq_error_clear();
      eq_tensor *y = eq_zeros(EQ_F32, EQ_DIMS(17, 33));
      CHECK(eq_copy_(y, d) == EQ_ERR_DEVICE && strstr(eq_error_message(), "no kernel for device cuda:0"));
      eq_tensor_free(y);
      eq_tensor_free(back);
      eq_tensor_free(d);
    }
  }
  eq_tensor_free(xt);
  eq_tensor_free(x);
  return EQ_TEST_SUMMARY();
}
