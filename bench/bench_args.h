/* Command-line arguments of the bench drivers: `-h`/`--help` prints the
 * usage, and a number that does not parse or is out of range stops the
 * driver with a message naming the argument and its value (atoi's 0 for
 * "--help" once ran nn_ops_bench with no repetitions and printed 1e33 ms). */
#ifndef EQ_BENCH_ARGS_H
#define EQ_BENCH_ARGS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exits with 0 after printing `usage` when any argument asks for help. */
static inline void bench_help(int argc, char **argv, const char *usage) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("usage: %s\n", usage);
      exit(0);
    }
}

/* argv[i] as a whole number in [lo, hi], or `fallback` when absent. */
static inline long bench_long_arg(int argc, char **argv, int i, const char *name, long fallback, long lo, long hi,
                                  const char *usage) {
  if (i >= argc) return fallback;
  char *end;
  errno = 0;
  long v = strtol(argv[i], &end, 10);
  if (errno || end == argv[i] || *end || v < lo || v > hi) {
    fprintf(stderr, "%s: %s must be a whole number in [%ld, %ld], got '%s'\nusage: %s\n", argv[0], name, lo, hi,
            argv[i], usage);
    exit(2);
  }
  return v;
}

/* argv[i] as a number in (0, hi], or `fallback` when absent. */
static inline double bench_positive_arg(int argc, char **argv, int i, const char *name, double fallback, double hi,
                                        const char *usage) {
  if (i >= argc) return fallback;
  char *end;
  errno = 0;
  double v = strtod(argv[i], &end);
  if (errno || end == argv[i] || *end || !(v > 0) || !(v <= hi)) {
    fprintf(stderr, "%s: %s must be a number in (0, %g], got '%s'\nusage: %s\n", argv[0], name, hi, argv[i], usage);
    exit(2);
  }
  return v;
}

#endif
