/* ps_decide.h -- the probabilistic sampler's decision for one span.
 *
 * Mirrors the Collector's probabilistic_sampler (contrib, sampler_mode.go and
 * tracesprocessor.go): randomness from the trace id (hash_seed: FNV-1a of
 * seed + trace id; proportional/equalizing: the tracestate rv, else the trace
 * id's low 56 bits), a consistency check of an arriving th, fail_closed for
 * errors, the sampling.priority override, and a th (plus rv in hash_seed
 * mode) written into the tracestate of kept spans. */
#ifndef PIPIT_PS_DECIDE_H
#define PIPIT_PS_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "otlp.h"

typedef enum ps_mode { PS_HASH_SEED, PS_PROPORTIONAL, PS_EQUALIZING } ps_mode;

/* The `policy` label of the decision counter, as the Collector names it. */
typedef enum ps_policy {
    PS_POL_TRACE_ID_HASH,
    PS_POL_TRACE_ID_W3C,
    PS_POL_SAMPLING_RANDOMNESS,
    PS_POL_MISSING_RANDOMNESS,
    PS_POL_SAMPLING_PRIORITY,
    PS_POL_COUNT
} ps_policy;
const char *ps_policy_name(ps_policy p);

typedef struct ps_sampler {
    ps_mode mode;
    bool never; /* 0% (or a hash_seed rate that rounds to 0 buckets) */
    bool fail_closed;
    uint32_t seed;
    double ratio;       /* proportional */
    int prec;           /* hex digits of thresholds we compute */
    uint64_t threshold; /* hash_seed and equalizing */
} ps_sampler;

/* pct as the Collector reads it: a float32 percentage (> 100 means 100). */
void ps_sampler_init(ps_sampler *s, ps_mode mode, float pct, uint32_t seed, int prec,
                     bool fail_closed);

typedef struct ps_result {
    bool sampled;
    ps_policy policy;
    bool error;           /* randomness or tracestate unusable */
    bool new_tracestate;  /* tracestate below differs from the span's */
    char tracestate[640];
} ps_result;

void ps_decide_span(const ps_sampler *s, const pp_span *sp, ps_result *r);

#endif
