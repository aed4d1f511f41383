/* The worked example of docs/dnd.md, compiled and run at 1-4 ranks: load an
 * HDF5 data set split over ranks, standardise it, multiply, reduce, save. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dnd_test_util.h"

/* --- docs/dnd.md example begins --- */
static int standardise_project_save(const char *in, const char *out) {
  const eq_comm *world = eq_comm_world(); /* MPI starts here, on first use */
  /* Each rank reads only its block of rows. */
  eq_dnd *x = eq_dnd_load_hdf5(in, "features", 0, world);
  if (!x) {
    fprintf(stderr, "rank %d: %s\n", world->rank, eq_error_message());
    return 1;
  }
  /* Column statistics: one Allreduce of per-rank moments (Chan's merge). */
  eq_dnd *mu = eq_dnd_mean(x, 0, false);   /* (d,) replicated */
  eq_dnd *sd = eq_dnd_std(x, 0, 0, false); /* (d,) replicated */
  eq_dnd *centred = eq_dnd_sub(x, mu);     /* broadcasting, no communication */
  eq_dnd *z = eq_dnd_div(centred, sd);     /* still split along rows */
  /* A replicated d x 2 projection: each rank multiplies its own rows. */
  eq_dnd *w = eq_dnd_rand_normal(EQ_F64, EQ_DIMS(x->shape[1], 2), 0, 1, 42, 0, EQ_DND_NONE, world);
  eq_dnd *p = eq_dnd_matmul(z, w);         /* (n, 2), split 0 */
  /* Reductions: a global scalar and per-row norms. */
  eq_dnd *total = eq_dnd_sum(p, EQ_DND_ALL_AXES, false);
  double t = 0;
  eq_dnd_item(total, &t);
  if (world->rank == 0) printf("sum of the projection: %.6f (rows: %lld)\n", t, (long long)p->shape[0]);
  /* Every rank writes its rows into one file; readers never see half of it. */
  eq_status st = eq_dnd_save_hdf5(p, out, "projection");
  eq_dnd *objs[] = {x, mu, sd, centred, z, w, p, total};
  for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) eq_dnd_free(objs[i]);
  return st == EQ_OK ? 0 : 1;
}
/* --- docs/dnd.md example ends --- */

int main(void) {
  DND_TEST_BEGIN();
  char in[256], out[256];
  int64_t pid = getpid();
  eq_comm_bcast(W, &pid, 1, EQ_I64, 0);
  snprintf(in, sizeof in, "/tmp/eq_dnd_example_%d_%lld_in.h5", W->size, (long long)pid);
  snprintf(out, sizeof out, "/tmp/eq_dnd_example_%d_%lld_out.h5", W->size, (long long)pid);
  /* Input: 101 x 5 with column j ~ 3 j + (j + 1) * N(0, 1). */
  eq_dnd *raw = eq_dnd_rand_normal(EQ_F64, EQ_DIMS(101, 5), 0, 1, 7, 0, 0, W);
  eq_dnd *scale = eq_dnd_arange(1, 6, 1, EQ_F64, EQ_DND_NONE, W), *shift = eq_dnd_arange(0, 15, 3, EQ_F64, EQ_DND_NONE, W);
  eq_dnd *scaled = eq_dnd_mul(raw, scale), *data = eq_dnd_add(scaled, shift);
  CHECK(eq_dnd_save_hdf5(data, in, "features") == EQ_OK);
  CHECK(standardise_project_save(in, out) == 0);
  /* Check: the saved projection = standardised data @ w, computed here on the full array. */
  eq_tensor *full = eq_dnd_to_tensor(data);
  eq_dnd *w = eq_dnd_rand_normal(EQ_F64, EQ_DIMS(5, 2), 0, 1, 42, 0, EQ_DND_NONE, W);
  eq_tensor *ref = eq_zeros(EQ_F64, EQ_DIMS(101, 2));
  for (int j = 0; j < 5; j++) {
    double m = 0, v = 0;
    for (int i = 0; i < 101; i++) m += eq_get_flat(full, i * 5 + j);
    m /= 101;
    for (int i = 0; i < 101; i++) v += (eq_get_flat(full, i * 5 + j) - m) * (eq_get_flat(full, i * 5 + j) - m);
    double s = sqrt(v / 101);
    for (int i = 0; i < 101; i++)
      for (int k = 0; k < 2; k++)
        eq_set_flat(ref, i * 2 + k, eq_get_flat(ref, i * 2 + k) + (eq_get_flat(full, i * 5 + j) - m) / s * eq_get_flat(w->local, j * 2 + k));
  }
  FOR_SPLITS(s, 2) {
    eq_dnd *back = eq_dnd_load_hdf5(out, "projection", s, W);
    check_dnd("example output", back, ref, s, true, 1e-12);
    eq_dnd_free(back);
  }
  eq_comm_barrier(W);
  if (W->rank == 0) {
    unlink(in);
    unlink(out);
  }
  eq_tensor_free(full);
  eq_tensor_free(ref);
  eq_dnd *objs[] = {raw, scale, shift, scaled, data, w};
  for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) eq_dnd_free(objs[i]);
  return DND_TEST_END();
}
