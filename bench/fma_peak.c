/* The machine's fp32 FMA peak, measured: every thread runs independent chains
 * of fused multiply-adds on the widest vectors the CPU has (AVX-512, else
 * AVX2 + FMA, chosen at run time so any build type measures the same), with
 * enough chains to cover the FMA latency on every FMA pipe. The figure the
 * training step's "% of peak" is taken against (bench/train-step.sh), so that
 * it follows the CPU the bench runs on rather than a number from a data sheet.
 *
 *   fma_peak [seconds]     (threads: OMP_NUM_THREADS)
 * prints `threads=<n> peak_gflops=<v> vector_floats=<w>`. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 16 /* latency 4 x 2 FMA pipes = 8 in flight; 16 leaves slack */

/* Each runs `rounds` x CHAINS vector FMAs and returns a sum so that nothing
 * is dead code. */
__attribute__((target("avx512f"))) static float chains_avx512(long rounds) {
  __m512 acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps(0.001f * (float)c);
  const __m512 mul = _mm512_set1_ps(0.99999f), add = _mm512_set1_ps(1e-6f);
  for (long r = 0; r < rounds; r++)
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
  float s = 0;
  for (int c = 0; c < CHAINS; c++) s += _mm512_reduce_add_ps(acc[c]);
  return s;
}

__attribute__((target("avx2,fma"))) static float chains_avx2(long rounds) {
  __m256 acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps(0.001f * (float)c);
  const __m256 mul = _mm256_set1_ps(0.99999f), add = _mm256_set1_ps(1e-6f);
  for (long r = 0; r < rounds; r++)
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
  float f[8], s = 0;
  for (int c = 0; c < CHAINS; c++) {
    _mm256_storeu_ps(f, acc[c]);
    for (int l = 0; l < 8; l++) s += f[l];
  }
  return s;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 0.5;
  if (!(seconds > 0)) {
    fprintf(stderr, "fma_peak: seconds must be > 0, got '%s'\n", argv[1]);
    return 2;
  }
  __builtin_cpu_init();
  float (*chains)(long);
  int width;
  if (__builtin_cpu_supports("avx512f")) {
    chains = chains_avx512;
    width = 16;
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    chains = chains_avx2;
    width = 8;
  } else {
    fprintf(stderr, "fma_peak: this CPU has neither AVX-512 nor AVX2 + FMA\n");
    return 2;
  }
  /* Calibrate on one thread, then time all threads together. */
  long rounds = 1 << 20;
  double t0 = omp_get_wtime();
  float sink = chains(rounds);
  double dt = omp_get_wtime() - t0;
  rounds = (long)((double)rounds * seconds / (dt > 1e-6 ? dt : 1e-6)) + 1;
  int threads = omp_get_max_threads();
  double start = 0, stop = 0;
#pragma omp parallel reduction(+ : sink)
  {
    sink += chains(rounds / 8); /* warm up the clocks */
#pragma omp barrier
#pragma omp single
    start = omp_get_wtime();
    sink += chains(rounds);
#pragma omp barrier
#pragma omp single
    stop = omp_get_wtime();
  }
  double flop = 2.0 * width * CHAINS * (double)rounds * threads;
  printf("threads=%d peak_gflops=%.1f vector_floats=%d\n", threads, flop / (stop - start) / 1e9, width);
  if (sink == 12345.678f) fputs("\n", stderr); /* keeps the sums live */
  return 0;
}
