/* prw_nhist.h -- OTLP exponential histogram points to native histograms. */
#ifndef PIPIT_PRW_NHIST_H
#define PIPIT_PRW_NHIST_H

#include <stdbool.h>

#include "arena.h"
#include "otlp.h"
#include "prometheus/remote.pb-c.h"

/* Native histogram schemas a receiver accepts. */
#define PP_PRW_NHIST_MIN_SCALE (-4)
#define PP_PRW_NHIST_MAX_SCALE 8
/* Zero bucket width when the point does not set one (the spec's default). */
#define PP_PRW_NHIST_ZERO_THRESHOLD 1e-128

/* The native histogram (integer counter flavour, reset hint UNKNOWN) of p,
 * in the arena. The caller has checked p->scale >= -4; scales above 8 are
 * downscaled to 8 by merging buckets. A stale point (no recorded value) gets
 * sum = stale NaN, count 0 and no buckets. NULL on OOM. */
Prometheus__Histogram *pp_prw_native_histogram(pp_arena *a, const pp_exp_histogram_point *p,
                                               int64_t ts_ms, bool stale);

#endif
