/* The machine's fp32 FMA peak, measured: every thread runs independent chains
 * of fused multiply-adds on the widest vectors the CPU has (AVX-512, else
 * AVX2 + FMA, chosen at run time so any build type measures the same), with
 * enough chains to cover the FMA latency on every FMA pipe. The figure the
 * training step's "% of peak" is taken against (bench/train-step.sh), so that
 * it follows the CPU the bench runs on rather than a number from a data sheet.
 *
 *   fma_peak [seconds]     (threads: OMP_NUM_THREADS)
 * prints `threads=<n> peak_gflops=<v>`. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 16 /* latency 4 x 2 FMA pipes = 8 in flight; 16 leaves slack */

typedef float vec16 __attribute__((vector_size(64))); /* 16 floats: one AVX-512 register, two AVX2 ones */

/* Runs `rounds` x CHAINS x 16 fused multiply-adds and returns a sum so that
 * nothing is dead code; compiled for AVX-512, for AVX2 + FMA and portably,
 * and the CPU's best version chosen when the program starts. */
__attribute__((target_clones("avx512f", "avx2,fma", "default"))) static float run_chains(long rounds) {
  vec16 acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = (vec16){0} + 0.001f * (float)c;
  const vec16 mul = (vec16){0} + 0.99999f, add = (vec16){0} + 1e-6f;
  for (long r = 0; r < rounds; r++)
    for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * mul + add; /* contracted to an FMA */
  float s = 0;
  for (int c = 0; c < CHAINS; c++)
    for (int l = 0; l < 16; l++) s += acc[c][l];
  return s;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 0.5;
  if (!(seconds > 0)) {
    fprintf(stderr, "fma_peak: seconds must be > 0, got '%s'\n", argv[1]);
    return 2;
  }
  /* Calibrate on one thread, then time all threads together. */
  long rounds = 1 << 20;
  double t0 = omp_get_wtime();
  float sink = run_chains(rounds);
  double dt = omp_get_wtime() - t0;
  rounds = (long)((double)rounds * seconds / (dt > 1e-6 ? dt : 1e-6)) + 1;
  int threads = omp_get_max_threads();
  double start = 0, stop = 0;
#pragma omp parallel reduction(+ : sink)
  {
    sink += run_chains(rounds / 8); /* warm up the clocks */
#pragma omp barrier
#pragma omp single
    start = omp_get_wtime();
    sink += run_chains(rounds);
#pragma omp barrier
#pragma omp single
    stop = omp_get_wtime();
  }
  double flop = 2.0 * 16 * CHAINS * (double)rounds * threads;
  printf("threads=%d peak_gflops=%.1f\n", threads, flop / (stop - start) / 1e9);
  if (sink == 12345.678f) fputs("\n", stderr); /* keeps the sums live */
  return 0;
}
