/* sm_agg.h -- the series state of the spanmetrics connector.
 *
 * Each span is counted into the series of its dimension set (service.name,
 * span.name, span.kind, status.code, then the configured dimensions): a
 * calls counter and a duration histogram (explicit or exponential). The
 * series key is the canonical encoding of these attributes (ident.h), which
 * is also where the emitted labels are decoded from, so a series costs one
 * allocation plus its buckets.
 *
 * Beyond `cap` series, spans are counted into one overflow series whose only
 * attribute is otel.metric.overflow=true (as the OTel SDKs do), so totals
 * stay right while memory stays bounded.
 *
 * Thread-safe: sm_agg_add from any thread (sharded locks); snapshot/commit
 * from one thread at a time (the flush timer). */
#ifndef PIPIT_SM_AGG_H
#define PIPIT_SM_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "sm_config.h"

typedef struct sm_agg sm_agg;

enum { SM_DIM_SERVICE, SM_DIM_SPAN_NAME, SM_DIM_KIND, SM_DIM_STATUS, SM_DIM_DEFAULTS };

typedef struct sm_agg_options {
    const sm_dim *dims; /* configured dimensions (borrowed) */
    size_t ndims;
    bool exclude[SM_DIM_DEFAULTS]; /* default dimensions left out */
    bool histogram;                /* false: no duration histogram */
    const double *bounds;          /* explicit bounds in the unit (borrowed); unused if exponential */
    size_t nbounds;
    bool exponential;
    uint32_t max_size;  /* exponential: buckets at most */
    double ns_per_unit; /* 1e6 for ms */
    bool delta;         /* emit deltas since the last successful flush */
    size_t cap;         /* series at most (then overflow) */
    int64_t expiration_ns; /* 0: never */
    size_t max_exemplars;  /* per series; 0: none */
    const char *calls_name, *duration_name, *unit;
} sm_agg_options;

sm_agg *sm_agg_new(const sm_agg_options *o);
void sm_agg_free(sm_agg *g);

/* Counts every span of r. Returns how many went into the overflow series;
 * *lost gets the spans that could not be counted (out of memory). */
size_t sm_agg_add(sm_agg *g, const pp_traces_req *r, size_t *lost);

/* The metrics of every series at time now (unix ns), or NULL when there is
 * nothing to emit (or out of memory: *oom set). Expired series are removed
 * first. In delta mode the counts are set aside until sm_agg_commit, and
 * merged into the next snapshot when the batch was refused. */
pp_batch *sm_agg_snapshot(sm_agg *g, int64_t now, bool *oom);
/* The last snapshot was delivered; now: the time that snapshot was taken at
 * (the start of the next delta interval). */
void sm_agg_commit(sm_agg *g, int64_t now);

size_t sm_agg_series_count(sm_agg *g);

#endif
