/* sink_prw.h -- the Prometheus remote-write 1.0 listener of
 * `pipit-loadgen sink --prw` (sink_prw.c): POST /api/v1/write with a
 * snappy-compressed prometheus.WriteRequest is decoded, counted and answered
 * 204; a body that does not decode gets 400 with the reason. */
#ifndef PIPIT_LOADGEN_SINK_PRW_H
#define PIPIT_LOADGEN_SINK_PRW_H

#include <stdint.h>

#include "status.h"
#include "strbuf.h"

typedef struct lg_prw_counts {
    uint64_t requests;   /* accepted (204) */
    uint64_t rejected;   /* answered 4xx: undecodable, too large, wrong encoding */
    uint64_t series, samples, histograms, exemplars, metadata;
    uint64_t bytes;      /* protobuf bytes of accepted requests (after snappy) */
    uint64_t wire_bytes; /* their bodies as sent (snappy) */
} lg_prw_counts;

typedef struct lg_prw_sink lg_prw_sink;

/* Listens on addr ("host:port"; port 0 picks a free one). NULL with st set
 * ("listen on <addr>: <reason>") when it cannot. */
lg_prw_sink *lg_prw_sink_start(const char *addr, pp_status *st);
uint16_t lg_prw_sink_port(const lg_prw_sink *s);
/* A snapshot of the counts (each read atomically; NULL sink: zeros). */
void lg_prw_sink_counts(const lg_prw_sink *s, lg_prw_counts *out);
/* Appends the counts as the JSON object of the sink's "prw" key. */
void lg_prw_counts_json(const lg_prw_counts *c, pp_strbuf *sb);
/* Stops listening and waits (up to 2 s) for requests in progress; the counts
 * stay readable until lg_prw_sink_free. NULL is ignored. */
void lg_prw_sink_stop(lg_prw_sink *s);
void lg_prw_sink_free(lg_prw_sink *s); /* stops first if need be */

#endif
