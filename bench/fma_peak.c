/* The machine's fp32 FMA peak, measured: every thread runs independent chains
 * of fused multiply-adds on the widest vectors this build targets, enough
 * chains to cover the FMA latency on every FMA pipe. The figure the training
 * step's "% of peak" is taken against (bench/train-step.sh), so that it
 * follows the CPU the bench runs on rather than a number from a data sheet.
 *
 *   fma_peak [seconds]     (threads: OMP_NUM_THREADS)
 * prints `threads=<n> peak_gflops=<v> vector_floats=<w>`. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 16 /* latency 4 x 2 FMA pipes = 8 in flight; 16 leaves slack */

#if defined(__AVX512F__)
typedef __m512 vec;
#define VEC_FLOATS 16
#define vset1 _mm512_set1_ps
#define vfma _mm512_fmadd_ps
#define vsum _mm512_reduce_add_ps
#elif defined(__FMA__)
typedef __m256 vec;
#define VEC_FLOATS 8
#define vset1 _mm256_set1_ps
#define vfma _mm256_fmadd_ps
static float vsum(__m256 v) {
  float f[8];
  _mm256_storeu_ps(f, v);
  return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}
#else
#error "fma_peak needs FMA (x86-64 with -march=native on an FMA CPU)"
#endif

/* Runs `rounds` x CHAINS vector FMAs; returns a sum so nothing is dead code. */
static float run_chains(long rounds) {
  vec acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = vset1(0.001f * (float)c);
  const vec mul = vset1(0.99999f), add = vset1(1e-6f);
  for (long r = 0; r < rounds; r++)
    for (int c = 0; c < CHAINS; c++) acc[c] = vfma(acc[c], mul, add);
  float s = 0;
  for (int c = 0; c < CHAINS; c++) s += vsum(acc[c]);
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
  volatile float sink = run_chains(rounds);
  double dt = omp_get_wtime() - t0;
  rounds = (long)((double)rounds * seconds / (dt > 1e-6 ? dt : 1e-6)) + 1;
  int threads = omp_get_max_threads();
  double start = 0, stop = 0;
#pragma omp parallel
  {
    float s = run_chains(rounds / 8); /* warm up the clocks */
#pragma omp barrier
#pragma omp single
    start = omp_get_wtime();
    s += run_chains(rounds);
#pragma omp barrier
#pragma omp single
    stop = omp_get_wtime();
#pragma omp atomic
    sink += s;
  }
  double flop = 2.0 * VEC_FLOATS * CHAINS * (double)rounds * threads;
  printf("threads=%d peak_gflops=%.1f vector_floats=%d\n", threads, flop / (stop - start) / 1e9,
         VEC_FLOATS);
  (void)sink;
  return 0;
}
