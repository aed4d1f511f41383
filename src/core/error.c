/* Per-thread error record: the last failure's code and message. */
#include "equivar/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define EQ_ERROR_CAP 2048

static _Thread_local eq_status error_code = EQ_OK;
static _Thread_local char error_text[EQ_ERROR_CAP];

eq_status eq_error(eq_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_text, sizeof error_text, fmt, ap);
  va_end(ap);
  error_code = code;
  return code;
}

void eq_error_context(const char *fmt, ...) {
  char prefix[EQ_ERROR_CAP];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  char joined[2 * EQ_ERROR_CAP];
  snprintf(joined, sizeof joined, "%s%s", prefix, error_text);
  memcpy(error_text, joined, EQ_ERROR_CAP - 1);
  error_text[EQ_ERROR_CAP - 1] = '\0';
  if (error_code == EQ_OK) error_code = EQ_ERR_STATE;
}

eq_status eq_error_code(void) { return error_code; }
const char *eq_error_message(void) { return error_text; }

void eq_error_clear(void) {
  error_code = EQ_OK;
  error_text[0] = '\0';
}

const char *eq_status_name(eq_status code) {
  switch (code) {
  case EQ_OK: return "ok";
  case EQ_ERR_SHAPE: return "shape error";
  case EQ_ERR_DTYPE: return "dtype error";
  case EQ_ERR_DEVICE: return "device error";
  case EQ_ERR_VALUE: return "value error";
  case EQ_ERR_IO: return "I/O error";
  case EQ_ERR_FORMAT: return "format error";
  case EQ_ERR_MEMORY: return "out of memory";
  case EQ_ERR_MPI: return "MPI error";
  case EQ_ERR_UNSUPPORTED: return "unsupported";
  case EQ_ERR_STATE: return "state error";
  }
  return "unknown error";
}
