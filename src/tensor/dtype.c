/* dtype facts and NumPy descr mapping. */
#include "equivar/tensor.h"

#include <string.h>

static const struct {
  const char *name;
  const char *npy;
  size_t size;
} dtype_info[EQ_DTYPE_COUNT] = {
    [EQ_F32] = {"float32", "<f4", 4}, [EQ_F64] = {"float64", "<f8", 8},
    [EQ_I32] = {"int32", "<i4", 4},   [EQ_I64] = {"int64", "<i8", 8},
    [EQ_U8] = {"uint8", "|u1", 1},    [EQ_BOOL] = {"bool", "|b1", 1},
    [EQ_BF16] = {"bfloat16", NULL, 2}, [EQ_F16] = {"float16", "<f2", 2},
};

size_t eq_dtype_size(eq_dtype d) { return (unsigned)d < EQ_DTYPE_COUNT ? dtype_info[d].size : 0; }

const char *eq_dtype_name(eq_dtype d) {
  return (unsigned)d < EQ_DTYPE_COUNT ? dtype_info[d].name : "invalid-dtype";
}

bool eq_dtype_is_float(eq_dtype d) { return d == EQ_F32 || d == EQ_F64; }

const char *eq_dtype_npy_descr(eq_dtype d) {
  return (unsigned)d < EQ_DTYPE_COUNT ? dtype_info[d].npy : NULL;
}

eq_status eq_dtype_from_npy(const char *descr, eq_dtype *out) {
  for (int d = 0; d < EQ_DTYPE_COUNT; d++) {
    const char *n = dtype_info[d].npy;
    if (n && (!strcmp(descr, n) || (descr[0] == '=' && !strcmp(descr + 1, n + 1)) ||
              (descr[0] == '<' && n[0] == '|' && !strcmp(descr + 1, n + 1)))) {
      *out = (eq_dtype)d;
      return EQ_OK;
    }
  }
  return eq_error(EQ_ERR_DTYPE, "no equivar dtype for NumPy dtype '%s'", descr);
}

static int promotion_rank(eq_dtype d) {
  switch (d) {
  case EQ_BOOL: return 0;
  case EQ_U8: return 1;
  case EQ_I32: return 2;
  case EQ_I64: return 3;
  case EQ_F16:
  case EQ_BF16:
  case EQ_F32: return 4;
  case EQ_F64: return 5;
  default: return -1;
  }
}

eq_dtype eq_dtype_promote(eq_dtype a, eq_dtype b) {
  if (a == b) return a;
  int ra = promotion_rank(a), rb = promotion_rank(b);
  eq_dtype r = ra >= rb ? a : b;
  if (r == EQ_F16 || r == EQ_BF16) r = EQ_F32;
  return r;
}
