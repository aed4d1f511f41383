/* Helpers of the algorithm tests: reference arrays from tests/data/algo and
 * this rank's block of them. Every test runs at 1-4 ranks, on split rows
 * and on replicated rows. */
#ifndef EQ_ALGO_TEST_H
#define EQ_ALGO_TEST_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eq_test.h"
#include "equivar/algo.h"
#include "equivar/npy.h"

static int g_rank = 0, g_size = 1;

/* The whole reference array tests/data/algo/<name>.npy (exits if missing). */
static eq_tensor *ref_load(const char *name) {
  const char *root = getenv("EQ_TEST_DATA");
  char path[1024];
  snprintf(path, sizeof path, "%s/algo/%s.npy", root ? root : "tests/data", name);
  eq_npy_info info;
  void *data = NULL;
  eq_dtype dt;
  if (eq_npy_load(path, &info, &data) || eq_dtype_from_npy(info.descr, &dt)) {
    fprintf(stderr, "cannot load %s: %s\n", path, eq_error_message());
    exit(2);
  }
  eq_tensor *t = eq_from_data(dt, info.ndim, info.shape, data);
  free(data);
  return t;
}

/* A float32 copy. */
__attribute__((unused)) static eq_tensor *to_f32(eq_tensor *t) {
  eq_tensor *r = eq_to_dtype(t, EQ_F32);
  return r;
}

/* This rank's canonical block of rows (a contiguous copy). */
__attribute__((unused)) static eq_tensor *local_rows(eq_tensor *all) {
  int64_t s, c;
  eq_rows_block(all->shape[0], g_rank, g_size, &s, &c);
  eq_tensor *v = eq_slice(all, 0, s, s + c, 1);
  eq_tensor *r = eq_clone(v);
  eq_tensor_free(v);
  return r;
}

/* The rows as an algorithm sees them: split (this rank's block, *owned set
 * to free later) or replicated. */
__attribute__((unused)) static eq_rows rows_of(eq_tensor *all, int split, eq_tensor **owned) {
  if (!split) {
    *owned = NULL;
    return eq_rows_replicated(all);
  }
  *owned = local_rows(all);
  return eq_rows_split(*owned, MPI_COMM_WORLD);
}

/* max |a - b| over this rank's rows of a (local) and the matching rows of the
 * full reference b; column sign flips allowed when signs != 0. */
__attribute__((unused)) static double max_abs_diff_rows(const eq_tensor *local, const eq_tensor *ref, int split) {
  int64_t s = 0, c = ref->shape[0];
  if (split) eq_rows_block(ref->shape[0], g_rank, g_size, &s, &c);
  int64_t cols = ref->ndim == 2 ? ref->shape[1] : 1;
  if (local->shape[0] != c || eq_numel(local) != c * cols) return INFINITY;
  double m = 0;
  for (int64_t i = 0; i < c * cols; i++) {
    double e = fabs(eq_get_flat(local, i) - eq_get_flat(ref, s * cols + i));
    if (!(e <= m)) m = e;
  }
  return m;
}

__attribute__((unused)) static double max_abs_diff(const eq_tensor *a, const eq_tensor *b) {
  if (eq_numel(a) != eq_numel(b)) return INFINITY;
  double m = 0;
  for (int64_t i = 0; i < eq_numel(a); i++) {
    double e = fabs(eq_get_flat(a, i) - eq_get_flat(b, i));
    if (!(e <= m)) m = e;
  }
  return m;
}

__attribute__((unused)) static double scalar_of(const char *name) {
  eq_tensor *t = ref_load(name);
  double v = eq_get_flat(t, 0);
  eq_tensor_free(t);
  return v;
}

static void test_init(int *argc, char ***argv) {
  MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
}

/* The summary of all ranks; returns the exit code. */
static int test_finish(void) {
  int f = eq_test_failed;
  MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (g_rank == 0) printf("ranks=%d: ", g_size);
  int rc = EQ_TEST_SUMMARY();
  MPI_Finalize();
  return f ? EXIT_FAILURE : rc;
}

#endif
