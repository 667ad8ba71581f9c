/* prw_delta.c -- see prw_delta.h: the exporter's own instance of the
 * reusable delta-to-cumulative state (agent/aggregate/delta2cum.h). */
#include "prw_delta.h"

#include <stdlib.h>

#include "aggregate/delta2cum.h"

struct pp_prw_delta {
    pp_d2c *state;
};

pp_prw_delta *pp_prw_delta_new(int64_t max_stale_ns, size_t max_streams) {
    pp_prw_delta *d = calloc(1, sizeof(*d));
    pp_d2c_options o = {.max_stale_ns = max_stale_ns, .max_streams = max_streams};
    if (d && !(d->state = pp_d2c_new(&o))) {
        free(d);
        return NULL;
    }
    return d;
}

void pp_prw_delta_free(pp_prw_delta *d) {
    if (!d) return;
    pp_d2c_free(d->state);
    free(d);
}

int pp_prw_delta_convert(pp_prw_delta *d, pp_batch *in, pp_batch **out, pp_prw_delta_stats *st) {
    pp_d2c_stats s = {0};
    if (pp_d2c_convert(d->state, in, out, &s) != 0) return -1;
    st->converted += s.converted;
    st->out_of_order += s.out_of_order;
    st->limited += s.limited;
    return 0;
}
