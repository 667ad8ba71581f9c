/* hist.c -- see hist.h. Bucket i < SUB holds the value i exactly; above, a
 * value with highest set bit e (e >= 5) goes to group e-4, sub-bucket
 * (v >> (e-5)) - 32, i.e. ranges of width 2^(e-5). */
#include "hist.h"

#include <string.h>

void lg_hist_reset(lg_hist *h) {
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

static unsigned bucket(uint64_t v) {
    if (v < LG_HIST_SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > 44) return LG_HIST_BUCKETS - 1;
    unsigned i = (e - 4) * LG_HIST_SUB + (unsigned)(v >> (e - 5)) - LG_HIST_SUB;
    return i < LG_HIST_BUCKETS ? i : LG_HIST_BUCKETS - 1;
}

/* The largest value that falls into bucket i. */
static uint64_t upper(unsigned i) {
    if (i < LG_HIST_SUB) return i;
    unsigned g = i / LG_HIST_SUB, s = i % LG_HIST_SUB; /* g >= 1 */
    unsigned e = g + 4;
    return (((uint64_t)(s + LG_HIST_SUB) + 1) << (e - 5)) - 1;
}

void lg_hist_add(lg_hist *h, uint64_t v) {
    h->n[bucket(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max) h->max = v;
    if (v < h->min) h->min = v;
}

uint64_t lg_hist_quantile(const lg_hist *h, double q) {
    if (!h->count) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            uint64_t u = upper(i);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}

void lg_hist_merge(lg_hist *into, const lg_hist *from) {
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) into->n[i] += from->n[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max) into->max = from->max;
    if (from->min < into->min) into->min = from->min;
}
