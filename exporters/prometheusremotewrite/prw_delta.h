/* prw_delta.h -- the exporter's delta-to-cumulative stage, run on every batch
 * before translation (remote write has no delta temporality).
 *
 * The conversion is the reusable state of the deltatocumulative processor
 * (agent/aggregate/delta2cum.h), one instance per exporter: delta sums,
 * histograms and exponential histograms leave as cumulative points. Points
 * older than what their series already summed are dropped (out_of_order);
 * points of new series beyond max_streams stay delta (limited), and the
 * translator then counts them as dropped with reason "delta". */
#ifndef PIPIT_PRW_DELTA_H
#define PIPIT_PRW_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"

typedef struct pp_prw_delta pp_prw_delta;

typedef struct pp_prw_delta_stats {
    size_t converted;    /* delta points turned cumulative */
    size_t out_of_order; /* dropped: older than what the series already summed */
    size_t limited;      /* left delta: a new series beyond max_streams */
} pp_prw_delta_stats;

/* max_stale_ns: forget series idle that long (0: never); max_streams: 0 = no cap. */
pp_prw_delta *pp_prw_delta_new(int64_t max_stale_ns, size_t max_streams);
void pp_prw_delta_free(pp_prw_delta *d);

/* *out: in itself (a new reference) or a converted batch. 0, or -1 when out
 * of memory. */
int pp_prw_delta_convert(pp_prw_delta *d, pp_batch *in, pp_batch **out, pp_prw_delta_stats *st);

#endif
