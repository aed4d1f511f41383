/* A tiny test harness: CHECK records a failure with file:line and goes on;
 * EQ_TEST_MAIN prints "N passed, N failed" and sets the exit code. */
#ifndef EQ_TEST_H
#define EQ_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int eq_test_passed = 0, eq_test_failed = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      eq_test_passed++;                                                        \
    } else {                                                                   \
      eq_test_failed++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_MSG(cond, ...)                                                   \
  do {                                                                         \
    if (cond) {                                                                \
      eq_test_passed++;                                                        \
    } else {                                                                   \
      eq_test_failed++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, rtol, atol)                                          \
  do {                                                                         \
    double eq_a_ = (double)(a), eq_b_ = (double)(b);                           \
    CHECK_MSG(fabs(eq_a_ - eq_b_) <= (atol) + (rtol) * fabs(eq_b_),            \
              "%.9g vs %.9g", eq_a_, eq_b_);                                   \
  } while (0)

#define EQ_TEST_SUMMARY()                                                      \
  (printf("%d passed, %d failed\n", eq_test_passed, eq_test_failed),           \
   eq_test_failed ? EXIT_FAILURE : EXIT_SUCCESS)

#endif
