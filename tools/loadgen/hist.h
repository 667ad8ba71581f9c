/* hist.h -- a latency histogram with log-linear buckets (as HdrHistogram):
 * 32 linear sub-buckets per power of two, so any recorded value is reported
 * within about 3% (the bucket's upper edge; max is exact). Values in
 * nanoseconds, up to 2^44 ns (about 4.9 hours); larger ones land in the last
 * bucket. Fixed size, no allocation, mergeable. */
#ifndef PIPIT_LOADGEN_HIST_H
#define PIPIT_LOADGEN_HIST_H

#include <stdint.h>

#define LG_HIST_SUB 32
#define LG_HIST_BUCKETS ((44 - 5 + 1) * LG_HIST_SUB + LG_HIST_SUB)

typedef struct lg_hist {
    uint64_t n[LG_HIST_BUCKETS];
    uint64_t count, max, min;
    double sum;
} lg_hist;

void lg_hist_reset(lg_hist *h);
void lg_hist_add(lg_hist *h, uint64_t v);
/* The value at quantile q (0..1): the upper edge of the bucket holding it,
 * capped at max. 0 when empty. */
uint64_t lg_hist_quantile(const lg_hist *h, double q);
void lg_hist_merge(lg_hist *into, const lg_hist *from);

#endif
