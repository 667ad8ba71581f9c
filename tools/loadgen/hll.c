/* hll.c -- see hll.h (Flajolet et al. 2007, with the small-range correction). */
#include "hll.h"

#include <math.h>
#include <string.h>

void lg_hll_init(lg_hll *h) {
    for (unsigned i = 0; i < LG_HLL_REGS; i++) atomic_init(&h->reg[i], 0);
}

/* Trace ids are random already, but a test or a client may use counters:
 * mix all the bytes (FNV-1a, then a 64-bit finaliser). */
static uint64_t hash(const uint8_t *p, size_t n) {
    uint64_t x = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) x = (x ^ p[i]) * 0x100000001b3ull;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

void lg_hll_add(lg_hll *h, const uint8_t *id, size_t len) {
    uint64_t x = hash(id, len);
    unsigned idx = (unsigned)(x >> (64 - LG_HLL_BITS));
    uint64_t rest = x << LG_HLL_BITS;
    unsigned char rank = rest ? (unsigned char)(__builtin_clzll(rest) + 1) : 64 - LG_HLL_BITS + 1;
    unsigned char cur = atomic_load_explicit(&h->reg[idx], memory_order_relaxed);
    while (rank > cur &&
           !atomic_compare_exchange_weak_explicit(&h->reg[idx], &cur, rank, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

uint64_t lg_hll_estimate(const lg_hll *h) {
    double m = LG_HLL_REGS, sum = 0;
    unsigned zeros = 0;
    for (unsigned i = 0; i < LG_HLL_REGS; i++) {
        unsigned char r = atomic_load_explicit(&h->reg[i], memory_order_relaxed);
        sum += ldexp(1.0, -(int)r);
        zeros += r == 0;
    }
    double alpha = 0.7213 / (1.0 + 1.079 / m);
    double e = alpha * m * m / sum;
    if (e <= 2.5 * m && zeros) e = m * log(m / zeros); /* linear counting */
    return (uint64_t)(e + 0.5);
}
