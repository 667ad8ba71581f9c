/* run.h -- one load run: the schedule, the transport, the numbers.
 *
 * Open loop (rate > 0): request i has an intended send time from the
 * schedule (the rate times the scenario's shape); it is sent as soon as a
 * connection has room, and its latency runs from the intended time, so a
 * slow target shows up as latency instead of silently lowering the offered
 * load (no coordinated omission). Closed loop (rate 0): every free slot is
 * filled at once, as fast as the target answers. */
#ifndef PIPIT_LOADGEN_RUN_H
#define PIPIT_LOADGEN_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "gen.h"
#include "hist.h"
#include "pool.h"
#include "transport.h"

typedef enum lg_proto { LG_GRPC_PROTO, LG_HTTP_PROTO } lg_proto;

/* The rate multiplier over the run (x = elapsed / duration, 0..1). */
typedef double (*lg_shape_fn)(double x);

typedef struct lg_run_cfg {
    const char *scenario; /* for the report */
    lg_proto proto;
    lg_target tg;
    lg_gen_cfg gen;
    size_t pool;
    double rate;       /* items (spans or points) per second; 0: closed loop */
    double duration_s; /* 0: until count */
    uint64_t count;    /* requests; 0: until duration */
    lg_shape_fn shape; /* NULL: constant */
    double max_p99_ms, max_error_rate; /* < 0: not checked */
    int progress;      /* live line on stderr */
    int unique_ids;    /* fresh trace ids each time the pool wraps (protobuf, uncompressed) */
} lg_run_cfg;

#define LG_MAX_ERR_KEYS 32

typedef struct lg_stats {
    uint64_t sent, ok, failed, items_sent, items_acked, bytes_sent;
    struct {
        char key[40];
        uint64_t n;
    } err[LG_MAX_ERR_KEYS];
    int nerr;
    lg_hist lat; /* answered requests, ns from intended send time */
    uint64_t max_backlog; /* requests due but not yet sent */
    double elapsed_s;
} lg_stats;

/* Runs to the end (duration, count, or *stop set by a signal handler) and
 * fills st. 0, or -1 when the run could not start. */
int lg_run(const lg_run_cfg *c, volatile int *stop, lg_stats *st);

/* Writes the JSON summary; returns 0 when the thresholds hold, 2 when not. */
int lg_report(FILE *out, const lg_run_cfg *c, const lg_stats *st);

#endif
