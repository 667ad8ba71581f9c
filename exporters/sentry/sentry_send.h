/* sentry_send.h -- sending one queued request to Sentry and reading its
 * answer: sent_at stamped into an envelope at each attempt, compression,
 * X-Sentry-Auth, and the rate limits of every answer (WIRE-SPECS 4.2, 4.6),
 * which decide when requests of each event type may go (pp_exporter_ops.hold).
 * Also the exporter's own telemetry (events by type, rate-limited time). */
#ifndef PIPIT_SENTRY_SEND_H
#define PIPIT_SENTRY_SEND_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compress.h"
#include "exporter.h"
#include "sentry_map.h"

typedef struct pp_sentry_sender_cfg {
    const char *component; /* "exporter/sentry": logs */
    const char *id;        /* "sentry": the exporter label of metrics */
    const char *url;       /* the envelope URL, or (otlp) the OTLP traces URL */
    bool otlp;             /* bodies are OTLP/HTTP protobuf, compressed already */
    pp_compression comp;   /* envelopes: compressed at each send, after stamping */
    int64_t timeout_ns;    /* per attempt */
} pp_sentry_sender_cfg;

typedef struct pp_sentry_sender pp_sentry_sender;

/* Takes headers (auth, content type and encoding) in every case. NULL when
 * out of memory. */
pp_sentry_sender *pp_sentry_sender_new(const pp_sentry_sender_cfg *c, struct curl_slist *headers,
                                       pp_metrics *m);
void pp_sentry_sender_free(pp_sentry_sender *s);

/* What a request carries: an envelope's item type, read from its item header
 * (so that it works for requests read back from disk); OTLP requests carry
 * spans, counted as transactions. -1 when unreadable. */
int pp_sentry_request_type(const pp_export_request *r, bool otlp);

/* pp_exporter_ops.hold: how long r's event type is still rate limited (ns). */
int64_t pp_sentry_sender_hold(pp_sentry_sender *s, const pp_export_request *r, bool first);
/* pp_exporter_ops.send: one attempt. 2xx OK; 429 HOLD (the limits say how
 * long); 413 TOO_LARGE; 408, 5xx and transport errors RETRY; other answers
 * PERMANENT with the start of the body. */
void pp_sentry_sender_send(pp_sentry_sender *s, CURL *conn, const pp_export_request *r,
                           const _Atomic int64_t *abort_at, pp_send_result *res);
/* pp_exporter_ops.dropped: counts the event as failed, by type and reason. */
void pp_sentry_sender_dropped(pp_sentry_sender *s, const pp_export_request *r, const char *reason);
/* Counts what mapping one batch did (trimmed spans, orphans, oversize drops). */
void pp_sentry_sender_count_map(pp_sentry_sender *s, const pp_sentry_map_stats *st);

/* Applies one answer's rate-limit headers (done by send; exposed for tests). */
void pp_sentry_sender_limits(pp_sentry_sender *s, int http_status, const char *rate_limits,
                             const char *retry_after);

#endif
