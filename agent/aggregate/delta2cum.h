/* delta2cum.h -- delta-to-cumulative state, reusable by any component.
 *
 * Keeps, per metric stream, the running total of delta Sum, Histogram and
 * ExponentialHistogram points and turns each delta point into the cumulative
 * point of its stream. Used by the `deltatocumulative` processor and inside
 * the prometheusremotewrite exporter (remote write has no delta).
 *
 * Stream identity: resource attributes, scope name, version and attributes,
 * metric name, unit, type, monotonicity, number type (int/double) and point
 * attributes; attribute order does not matter. Keys are compared in full, so
 * a 64-bit hash collision never merges streams.
 *
 * Per point (time = time_unix_nano, start = start_time_unix_nano):
 *  - new stream: the point is the first total; the stream's start is the
 *    point's start (its time when start is 0).
 *  - time <= the stream's last time, or start < the stream's start: the point
 *    is older than what is already summed (a retry or reordering) and adding
 *    it would count it twice: dropped, stats.out_of_order.
 *  - otherwise added. A delta whose start is later than the last time (a gap:
 *    nothing was reported for a while) is added too: a gap in deltas means
 *    "no increments", as in the Collector.
 *  - histogram bounds that differ from the stream's (or an exponential zero
 *    threshold that differs): the stream restarts from this point with its
 *    start time, stats.resets.
 *  - exponential histograms of different scales are merged at the lower
 *    scale; a range wider than 160 buckets is downscaled.
 *  - the no-recorded-value flag: the point is emitted with the flag and the
 *    current total's start, adding nothing.
 * Output points: start = stream start, time = point time, exemplars and
 * attributes of the input point.
 *
 * Limits: streams not updated for max_stale are forgotten (the next point
 * starts a new total). Beyond max_streams a point of a NEW stream is passed
 * on unchanged (still delta) and counted in stats.limited: the Collector
 * drops it; pipit never loses data silently, and a consumer that cannot take
 * delta (remote write) counts it there with its own reason.
 *
 * Thread-safe: streams are sharded by hash, one lock per shard. */
#ifndef PIPIT_AGG_DELTA2CUM_H
#define PIPIT_AGG_DELTA2CUM_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "ident.h"

typedef struct pp_d2c pp_d2c;

typedef struct pp_d2c_options {
    int64_t max_stale_ns; /* 0: streams never expire */
    size_t max_streams;   /* 0: no limit */
} pp_d2c_options;

typedef struct pp_d2c_stats {
    size_t converted;    /* delta points emitted as cumulative */
    size_t out_of_order; /* dropped: older than the stream's state */
    size_t limited;      /* passed on unchanged: new stream beyond max_streams */
    size_t resets;       /* stream restarted: bounds or zero threshold changed */
} pp_d2c_stats;

pp_d2c *pp_d2c_new(const pp_d2c_options *o);
void pp_d2c_free(pp_d2c *s);
size_t pp_d2c_stream_count(pp_d2c *s);
/* Forgets streams idle for max_stale (also done lazily). Returns how many. */
size_t pp_d2c_expire(pp_d2c *s);

/* ---- one point at a time ---- */

typedef pp_stream_id pp_d2c_stream; /* ident.h */

typedef enum pp_d2c_result {
    PP_D2C_CONVERTED, /* *out holds the cumulative point */
    PP_D2C_PASS,      /* keep the input point as it is (limited) */
    PP_D2C_DROP,      /* out of order */
    PP_D2C_ERROR,     /* out of memory */
} pp_d2c_result;

/* out is filled with fields allocated in a (attributes and exemplars point
 * at the input's, so the output must keep the input alive). */
pp_d2c_result pp_d2c_sum(pp_d2c *s, const pp_d2c_stream *id, const pp_number_point *in,
                         pp_number_point *out, pp_arena *a, pp_d2c_stats *st);
pp_d2c_result pp_d2c_histogram(pp_d2c *s, const pp_d2c_stream *id, const pp_histogram_point *in,
                               pp_histogram_point *out, pp_arena *a, pp_d2c_stats *st);
pp_d2c_result pp_d2c_exp_histogram(pp_d2c *s, const pp_d2c_stream *id,
                                   const pp_exp_histogram_point *in, pp_exp_histogram_point *out,
                                   pp_arena *a, pp_d2c_stats *st);

/* ---- whole batches ---- */

/* Converts every delta Sum/Histogram/ExponentialHistogram of a metrics batch.
 * in is only read. *out is in itself (one more reference) when it holds no
 * delta metric, else a new batch that borrows in: delta metrics become
 * cumulative metrics; points passed on unchanged (limited) stay in a delta
 * copy of their metric next to it; dropped points are left out; everything
 * else is shared. Returns 0, or -1 when out of memory (*out NULL). */
int pp_d2c_convert(pp_d2c *s, pp_batch *in, pp_batch **out, pp_d2c_stats *st);

#endif
