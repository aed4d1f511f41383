/* Timing driver for bench/dnd.sh: `dnd_bench <case> [reps]` runs one case on
 * the ranks it was started with and prints (rank 0)
 *   value=<best seconds or microseconds per call> unit=<s|us> rss_mb=<peak RSS growth of the worst rank>
 *   in_out_mb=<(local inputs + local result) of the worst rank>
 * Cases: mean0 mean1 std0 std1 (2,000,000 x 64 float32, split 0),
 * cdist_exact cdist_quad (20,000 x 18 float32 with itself, split 0),
 * matmul_0n matmul_00 (4096^2 float32), resplit_01 resplit_10 (20,000,000 x 8
 * float32), getitem add1 (10 x 10 float32, split None / 0), fft0 fft1 (2048 x
 * 2048 complex128, split 0, fft along axis 0 = the split axis / axis 1),
 * hsvd (200,000 x 256 float32 of rank 16, split 0, truncated to 16). Sizes can be
 * scaled down with EQ_BENCH_SCALE (e.g. 0.1) for a quick run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_args.h"
#include "equivar/dnd.h"

static double max_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

static double worst(const eq_comm *c, double v) {
  eq_comm_allreduce(c, &v, 1, EQ_F64, EQ_REDUCE_MAX);
  return v;
}

static double local_mb(const eq_dnd *x) { return x ? (double)eq_numel(x->local) * eq_dtype_size(x->dtype) / 1048576.0 : 0; }

int main(int argc, char **argv) {
  const char *usage = "dnd_bench <case> [reps=3] (cases: see bench/dnd_bench.c)";
  bench_help(argc, argv, usage);
  if (argc < 2) {
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
  }
  int reps = (int)bench_long_arg(argc, argv, 2, "reps", 3, 1, 1000, usage);
  const eq_comm *W = eq_comm_world();
  const char *cs = argv[1];
  double scale = getenv("EQ_BENCH_SCALE") ? atof(getenv("EQ_BENCH_SCALE")) : 1.0;
  double rss0 = max_rss_mb();
  double best = 1e30, in_out = 0;
  const char *unit = "s";
  if (!strncmp(cs, "mean", 4) || !strncmp(cs, "std", 3)) {
    int axis = cs[strlen(cs) - 1] - '0';
    int64_t n = (int64_t)(2000000 * scale);
    eq_dnd *x = eq_dnd_rand_uniform(EQ_F32, EQ_DIMS(n, 64), 0, 1, 1, 0, 0, W);
    for (int r = 0; r < reps; r++) {
      eq_comm_barrier(W);
      double t0 = eq_now_seconds();
      eq_dnd *m = cs[0] == 'm' ? eq_dnd_mean(x, axis, false) : eq_dnd_std(x, axis, 0, false);
      double t = worst(W, eq_now_seconds() - t0);
      best = t < best ? t : best;
      eq_dnd_free(m);
    }
    eq_dnd_free(x);
  } else if (!strncmp(cs, "cdist", 5)) {
    int64_t n = (int64_t)(20000 * scale);
    eq_dnd *x = eq_dnd_rand_uniform(EQ_F32, EQ_DIMS(n, 18), 0, 1, 2, 0, 0, W);
    for (int r = 0; r < reps; r++) {
      eq_comm_barrier(W);
      double t0 = eq_now_seconds();
      eq_dnd *d = eq_dnd_cdist(x, x, !strcmp(cs, "cdist_quad"));
      double t = worst(W, eq_now_seconds() - t0);
      best = t < best ? t : best;
      if (!d) fprintf(stderr, "%s\n", eq_error_message());
      eq_dnd_free(d);
    }
    eq_dnd_free(x);
  } else if (!strncmp(cs, "matmul", 6)) {
    int64_t n = (int64_t)(4096 * scale);
    eq_dnd *a = eq_dnd_rand_uniform(EQ_F32, EQ_DIMS(n, n), 0, 1, 3, 0, 0, W);
    eq_dnd *b = eq_dnd_rand_uniform(EQ_F32, EQ_DIMS(n, n), 0, 1, 4, 0, strcmp(cs, "matmul_00") ? EQ_DND_NONE : 0, W);
    double base = max_rss_mb();
    for (int r = 0; r < reps; r++) {
      eq_comm_barrier(W);
      double t0 = eq_now_seconds();
      eq_dnd *c = eq_dnd_matmul(a, b);
      double t = worst(W, eq_now_seconds() - t0);
      best = t < best ? t : best;
      in_out = local_mb(a) + local_mb(b) + local_mb(c);
      eq_dnd_free(c);
    }
    (void)base;
    eq_dnd_free(a);
    eq_dnd_free(b);
  } else if (!strncmp(cs, "resplit", 7)) {
    int64_t n = (int64_t)(20000000 * scale);
    int from = cs[8] - '0', to = cs[9] - '0';
    eq_dnd *x = eq_dnd_rand_uniform(EQ_F32, EQ_DIMS(n, 8), 0, 1, 5, 0, from, W);
    for (int r = 0; r < reps; r++) {
      eq_comm_barrier(W);
      double t0 = eq_now_seconds();
      eq_dnd *y = eq_dnd_resplit(x, to);
      double t = worst(W, eq_now_seconds() - t0);
      best = t < best ? t : best;
      in_out = local_mb(x) + local_mb(y);
      eq_dnd_free(y);
    }
    eq_dnd_free(x);
  } else if (!strcmp(cs, "getitem") || !strcmp(cs, "add1") || !strcmp(cs, "getitem_split0")) {
    unit = "us";
    eq_dnd *x = eq_dnd_rand_uniform(EQ_F32, EQ_DIMS(10, 10), 0, 1, 6, 0, !strcmp(cs, "getitem_split0") ? 0 : EQ_DND_NONE, W);
    int calls = 200000;
    for (int r = 0; r < reps; r++) {
      eq_comm_barrier(W);
      double t0 = eq_now_seconds();
      for (int i = 0; i < calls; i++) {
        eq_dnd *y = !strcmp(cs, "add1") ? eq_dnd_binary_scalar(EQ_DND_ADD, x, 1, false) : eq_dnd_getitem(x, 0);
        eq_dnd_free(y);
      }
      double t = worst(W, (eq_now_seconds() - t0) / calls * 1e6);
      best = t < best ? t : best;
    }
    eq_dnd_free(x);
  } else if (!strcmp(cs, "hsvd")) {
    /* 200,000 x 256 float32 of exact rank 16, split 0: hsvd_rank to 16 */
    int64_t n = (int64_t)(200000 * scale);
    eq_dnd *b = eq_dnd_rand_normal(EQ_F32, EQ_DIMS(n, 16), 0, 1, 7, 0, 0, W);
    eq_dnd *c = eq_dnd_rand_normal(EQ_F32, EQ_DIMS(16, 256), 0, 1, 8, 0, EQ_DND_NONE, W);
    eq_dnd *x = eq_dnd_matmul(b, c);
    eq_dnd_free(b), eq_dnd_free(c);
    for (int r = 0; r < reps && x; r++) {
      eq_dnd *u = NULL, *s = NULL, *v = NULL;
      double err = 0;
      eq_comm_barrier(W);
      double t0 = eq_now_seconds();
      if (eq_dnd_hsvd_rank(x, 16, &u, &s, &v, &err)) {
        fprintf(stderr, "dnd_bench: %s\n", eq_error_message());
        return 1;
      }
      double t = worst(W, eq_now_seconds() - t0);
      best = t < best ? t : best;
      in_out = local_mb(x) + local_mb(u) + local_mb(s) + local_mb(v);
      eq_dnd_free(u), eq_dnd_free(s), eq_dnd_free(v);
    }
    eq_dnd_free(x);
  } else if (!strcmp(cs, "fft0") || !strcmp(cs, "fft1")) {
    int64_t n = (int64_t)(2048 * scale);
    eq_dnd *x = eq_dnd_rand_uniform(EQ_F64, EQ_DIMS(n, n, 2), 0, 1, 7, 0, 0, W);
    for (int r = 0; r < reps; r++) {
      eq_comm_barrier(W);
      double t0 = eq_now_seconds();
      eq_dnd *y = eq_dnd_fft(x, cs[3] - '0', 0, EQ_FFT_BACKWARD);
      double t = worst(W, eq_now_seconds() - t0);
      best = t < best ? t : best;
      eq_dnd_free(y);
    }
    eq_dnd_free(x);
  } else {
    fprintf(stderr, "dnd_bench: unknown case '%s'\n", cs);
    return 2;
  }
  double rss = worst(W, max_rss_mb() - rss0);
  in_out = worst(W, in_out);
  if (W->rank == 0) printf("value=%.6g unit=%s rss_mb=%.1f in_out_mb=%.1f\n", best, unit, rss, in_out);
  return 0;
}
