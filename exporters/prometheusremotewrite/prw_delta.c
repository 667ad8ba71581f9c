/* prw_delta.c -- see prw_delta.h. The pass-through until agent/aggregate's
 * delta-to-cumulative state is merged. */
#include "prw_delta.h"

#include <stdlib.h>

struct pp_prw_delta {
    int64_t max_stale_ns;
    size_t max_streams;
};

pp_prw_delta *pp_prw_delta_new(int64_t max_stale_ns, size_t max_streams) {
    pp_prw_delta *d = calloc(1, sizeof(*d));
    if (d) *d = (pp_prw_delta){max_stale_ns, max_streams};
    return d;
}

void pp_prw_delta_free(pp_prw_delta *d) { free(d); }

bool pp_prw_delta_converts(void) { return false; }

int pp_prw_delta_convert(pp_prw_delta *d, pp_batch *in, pp_batch **out, pp_prw_delta_stats *st) {
    (void)d, (void)st;
    *out = pp_batch_ref(in);
    return 0;
}
