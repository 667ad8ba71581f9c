/* testutil_sentry.h -- a scripted Sentry server (libmicrohttpd on 127.0.0.1)
 * for the sentry exporter's tests: it decompresses and parses every envelope,
 * records what arrived and when, and answers from a per-type script. */
#ifndef PIPIT_TESTUTIL_SENTRY_H
#define PIPIT_TESTUTIL_SENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"

enum { TS_TRANSACTION, TS_ERROR, TS_OTLP, TS_OTHER, TS_TYPES };

/* One request as the server saw it. */
typedef struct ts_req {
    int type;            /* TS_* from the item header (TS_OTLP for OTLP bodies) */
    int64_t at_ms;       /* wall clock when it arrived */
    unsigned answered;   /* the status it got */
    char path[96], auth[160], ctype[64], cenc[16];
    char event_id[40], sent_at[40];
    int sent_at_count;   /* "sent_at" keys in the envelope header */
    bool well_formed;    /* header, item header with the right length, JSON payload */
    size_t otlp_spans;   /* TS_OTLP: spans in the decoded request */
} ts_req;

/* The answer for the next `count` requests of a type. */
typedef struct ts_answer {
    unsigned code;
    const char *rate_limits; /* X-Sentry-Rate-Limits or NULL */
    const char *retry_after; /* Retry-After or NULL */
    int count;
} ts_answer;

/* Starts the server on a free port; resets the records and the script. */
uint16_t ts_start(void);
void ts_stop(void);
/* Queues an answer for a type (answers of a type are used in order; then 200). */
void ts_script(int type, ts_answer a);
/* Copies of what arrived so far (at most max); returns the count. */
size_t ts_requests(ts_req *out, size_t max);
/* Requests of a type answered 2xx so far. */
size_t ts_accepted(int type);
/* Waits (bounded, 10 s) until ts_accepted(type) >= n for every type given n >= 0. */
void ts_await(long tx, long err, long otlp);

/* A started service: the fake receiver tu_recv feeding a `sentry` exporter
 * with dsn http://pubkey@127.0.0.1:<port>/42 and the extra YAML lines given
 * (indented under the exporter). */
struct tu_world *ts_world(uint16_t port, const char *extra);
/* Pushes ts_batch(n, errors, nerr, seed) into the world's receiver. */
void ts_push(struct tu_world *w, size_t n, const size_t *errors, size_t nerr, uint32_t seed);
/* Waits (bounded) for the first 429 answer; its arrival time (ms). */
int64_t ts_await_429(void);

/* A batch of n root spans (one transaction each) of one trace; spans whose
 * index is in errors[0..nerr) get an "exception" event. */
pp_batch *ts_batch(size_t n, const size_t *errors, size_t nerr, uint32_t seed);

#endif
