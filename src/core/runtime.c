/* Clock, thread-count and thread-binding helpers. */
#define _GNU_SOURCE
#include "equivar/core.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

double eq_now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int eq_num_threads(void) { return omp_get_max_threads(); }

void eq_set_num_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

static void bind_once(void) {
  /* The user's (or launcher's) own binding wins. */
  if (getenv("OMP_PROC_BIND") || getenv("OMP_PLACES") || getenv("GOMP_CPU_AFFINITY") || getenv("EQ_NO_BIND")) return;
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask)) return;
  int cpus[CPU_SETSIZE], ncpu = 0;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &mask)) cpus[ncpu++] = c;
  int n = omp_get_max_threads();
  if (n < 2 || n > ncpu) return;
#pragma omp parallel num_threads(n)
  {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[omp_get_thread_num()], &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  }
}

void eq_bind_threads(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, bind_once);
}
