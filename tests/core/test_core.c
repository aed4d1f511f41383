/* Errors, arenas and the Philox generator. */
#include "eq_test.h"
#include "equivar/core.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void test_errors(void) {
  eq_error_clear();
  CHECK(eq_error_code() == EQ_OK);
  CHECK(strcmp(eq_error_message(), "") == 0);
  CHECK(eq_error(EQ_ERR_SHAPE, "matmul: %d vs %d", 3, 4) == EQ_ERR_SHAPE);
  eq_error_context("in layer %s: ", "fc");
  CHECK(strcmp(eq_error_message(), "in layer fc: matmul: 3 vs 4") == 0);
  CHECK(eq_error_code() == EQ_ERR_SHAPE);
  eq_error_clear();
}

static void test_arena(void) {
  eq_arena *a = eq_arena_new(1 << 20);
  CHECK(a != NULL);
  unsigned char *p = eq_arena_alloc(a, 100);
  unsigned char *q = eq_arena_alloc(a, 3 << 20); /* forces a second chunk */
  CHECK(p && q);
  CHECK(((uintptr_t)p % 64) == 0 && ((uintptr_t)q % 64) == 0);
  memset(q, 7, 3 << 20);
  CHECK(eq_arena_used(a) >= (3u << 20) + 100);
  eq_arena_reset(a);
  CHECK(eq_arena_used(a) == 0);
  CHECK(eq_arena_peak(a) >= (3u << 20));
  /* After a reset the whole previous step fits in one block. */
  unsigned char *r = eq_arena_alloc(a, 100);
  unsigned char *s = eq_arena_alloc(a, 3 << 20);
  CHECK(r && s && s == r + 128);
  CHECK(eq_arena_set_current(a) == NULL);
  CHECK(eq_arena_current() == a);
  CHECK(eq_arena_set_current(NULL) == a);
  eq_arena_free(a);
}

static void test_philox(void) {
  /* Known-answer test from the Random123 distribution (philox4x32_10,
   * counter = key = 0). */
  uint32_t w[4];
  eq_philox g = eq_philox_init(0, 0);
  eq_philox_next4(&g, w);
  CHECK(w[0] == 0x6627e8d5u && w[1] == 0xe169c58du && w[2] == 0xbc57ac4cu && w[3] == 0x9b00dbd8u);
  /* Random access equals sequential draws. */
  eq_philox h = eq_philox_init(42, 7);
  uint32_t seq[4];
  for (int i = 0; i < 5; i++) eq_philox_next4(&h, seq);
  eq_philox_at(42, 7, 4, w);
  CHECK(memcmp(seq, w, sizeof w) == 0);
  /* Moments of the uniform and normal draws. */
  eq_philox u = eq_philox_init(1, 0);
  double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    double x = eq_philox_uniform(&u);
    CHECK_MSG(x >= 0 && x < 1, "uniform draw %g", x);
    sum += x;
    sum2 += x * x;
    double z = eq_philox_normal(&u);
    nsum += z;
    nsum2 += z * z;
  }
  CHECK_CLOSE(sum / n, 0.5, 0, 0.005);
  CHECK_CLOSE(sum2 / n - (sum / n) * (sum / n), 1.0 / 12, 0, 0.002);
  CHECK_CLOSE(nsum / n, 0.0, 0, 0.01);
  CHECK_CLOSE(nsum2 / n, 1.0, 0, 0.02);
  int counts[5] = {0};
  for (int i = 0; i < 50000; i++) counts[eq_philox_below(&u, 5)]++;
  for (int k = 0; k < 5; k++) CHECK_CLOSE(counts[k], 10000, 0.05, 0);
}

/* Whether the mapping holding p carries MADV_HUGEPAGE ("hg" in its
 * VmFlags); -1 where /proc/self/smaps cannot tell. */
static int advised_huge(const void *p) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  char line[512];
  int inside = 0, found = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
      inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
    } else if (inside && !strncmp(line, "VmFlags:", 8)) {
      found = strstr(line, " hg") != NULL;
      break;
    }
  }
  fclose(f);
  return found;
}

/* Blocks of 4 MB and more start on 2 MB boundaries, offered to huge pages. */
static void test_large_blocks(void) {
  const size_t big = (5u << 20) + 123;
  unsigned char *p = eq_malloc(big), *small = eq_malloc(100);
  CHECK(p && small);
  CHECK(((uintptr_t)p % (2u << 20)) == 0);
  CHECK(((uintptr_t)small % 64) == 0);
  memset(p, 3, big); /* all of it is ours */
  CHECK(p[big - 1] == 3);
  /* a kernel built without THP refuses the advice (the block works all the
   * same), so the flag is only asked of one that has it */
  FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (thp) {
    fclose(thp);
    CHECK_MSG(advised_huge(p) != 0, "a %zu-byte block's mapping lacks MADV_HUGEPAGE", big);
  }
  eq_free(p);
  eq_free(small);
  /* a size whose rounding would wrap: refused, not a small block */
  CHECK(eq_malloc(SIZE_MAX - 10) == NULL && eq_error_code() == EQ_ERR_MEMORY);
  eq_error_clear();
  eq_arena *a = eq_arena_new(8u << 20);
  unsigned char *q = eq_arena_alloc(a, 64);
  CHECK(q && ((uintptr_t)q % (2u << 20)) == 0);
  CHECK(eq_arena_alloc(a, SIZE_MAX - 10) == NULL && eq_error_code() == EQ_ERR_MEMORY);
  eq_error_clear();
  eq_arena_free(a);
}

int main(void) {
  test_errors();
  test_arena();
  test_large_blocks();
  test_philox();
  return EQ_TEST_SUMMARY();
}
