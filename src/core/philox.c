/* Philox4x32-10 (Salmon et al., SC'11): a keyed bijection of a 128-bit
 * counter, so any element of a random stream can be computed directly. */
#include "equivar/core.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void philox_block(const uint32_t key_in[2], const uint32_t ctr_in[4], uint32_t out[4]) {
  uint32_t k0 = key_in[0], k1 = key_in[1];
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

eq_philox eq_philox_init(uint64_t seed, uint64_t stream) {
  eq_philox g;
  g.key[0] = (uint32_t)seed;
  g.key[1] = (uint32_t)(seed >> 32);
  g.counter[0] = 0;
  g.counter[1] = 0;
  g.counter[2] = (uint32_t)stream;
  g.counter[3] = (uint32_t)(stream >> 32);
  return g;
}

void eq_philox_next4(eq_philox *g, uint32_t out[4]) {
  philox_block(g->key, g->counter, out);
  if (++g->counter[0] == 0) g->counter[1]++;
}

void eq_philox_at(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]) {
  eq_philox g = eq_philox_init(seed, stream);
  g.counter[0] = (uint32_t)block;
  g.counter[1] = (uint32_t)(block >> 32);
  philox_block(g.key, g.counter, out);
}

uint32_t eq_philox_u32(eq_philox *g) {
  uint32_t w[4];
  eq_philox_next4(g, w);
  return w[0];
}

double eq_philox_uniform(eq_philox *g) {
  uint32_t w[4];
  eq_philox_next4(g, w);
  uint64_t bits = ((uint64_t)w[0] << 21) ^ (uint64_t)(w[1] >> 11);
  return (double)(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

double eq_philox_uniform_range(eq_philox *g, double lo, double hi) {
  return lo + (hi - lo) * eq_philox_uniform(g);
}

double eq_philox_normal(eq_philox *g) {
  double u1 = eq_philox_uniform(g), u2 = eq_philox_uniform(g);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t eq_philox_below(eq_philox *g, uint64_t n) {
  if (n <= 1) return 0;
  /* Rejection sampling keeps the draw unbiased for any n. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    uint32_t w[4];
    eq_philox_next4(g, w);
    uint64_t x = ((uint64_t)w[0] << 32) | w[1];
    if (x < limit) return x % n;
  }
}
