/* gen.h -- realistic OTLP requests for pipit-loadgen and the benchmark floor.
 *
 * One request looks like what one SDK sends in one export: one resource (a
 * service with the usual semantic-convention attributes), one scope, and
 * `batch` spans grouped in traces of `spans_per_trace` spans (a root SERVER
 * span and children), or `batch` metric data points over a fixed set of
 * series. Everything is deterministic for a given seed and request index. */
#ifndef PIPIT_LOADGEN_GEN_H
#define PIPIT_LOADGEN_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"

typedef struct lg_gen_cfg {
    pp_signal signal;
    size_t batch; /* spans or data points per request */
    uint64_t seed;
    uint64_t now_ns; /* timestamps are placed just before this */
    /* traces */
    size_t spans_per_trace;
    size_t attrs;     /* extra attributes per span */
    size_t attr_size; /* bytes of each extra string attribute value */
    double error_ratio; /* fraction of traces with an ERROR span and an exception event */
    size_t services;
    /* metrics */
    size_t series;         /* distinct series (metric name x attribute set) */
    unsigned mix[3];       /* relative weights: counter (sum), gauge, histogram */
    int delta;             /* 1: delta temporality, 0: cumulative */
} lg_gen_cfg;

/* Defaults: 100 spans per request, 10 spans per trace, 8 attributes of 32
 * bytes, 1% errors, 5 services; 1000 series, mix 60/30/10, cumulative. */
void lg_gen_defaults(lg_gen_cfg *c, pp_signal sig);

/* Builds request number idx as a batch (refs = 1, items counted). A tool,
 * not a server: exits with status 3 when out of memory. */
pp_batch *lg_gen_request(const lg_gen_cfg *c, uint64_t idx);

#endif
