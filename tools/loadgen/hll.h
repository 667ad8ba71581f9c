/* hll.h -- a HyperLogLog counter of distinct 16-byte ids (trace ids), safe
 * to add to from several threads at once (one atomic byte per register).
 * 2^14 registers (16 KiB): the estimate's standard error is about 0.8%, and
 * below 40 000 or so ids linear counting makes it nearly exact. */
#ifndef PIPIT_LOADGEN_HLL_H
#define PIPIT_LOADGEN_HLL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LG_HLL_BITS 14
#define LG_HLL_REGS (1u << LG_HLL_BITS)

typedef struct lg_hll {
    atomic_uchar reg[LG_HLL_REGS];
} lg_hll;

void lg_hll_init(lg_hll *h);
void lg_hll_add(lg_hll *h, const uint8_t *id, size_t len);
uint64_t lg_hll_estimate(const lg_hll *h);

#endif
