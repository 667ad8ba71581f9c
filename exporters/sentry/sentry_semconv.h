/* sentry_semconv.h -- Sentry op, description, transaction name and status of
 * an OTel span, from the semantic-convention attributes (old and new names).
 *
 * op (first rule that matches; WIRE-SPECS 4.8 plus Sentry's queue ops):
 *   http.request.method | http.method  -> "http.server" / "http.client" /
 *       "http.internal" / "http.producer" / "http.consumer" by kind, "http" if
 *       the kind is unspecified
 *   db.system.name | db.system         -> "db"
 *   rpc.system | rpc.service           -> "rpc"
 *   messaging.system                   -> "queue.publish" (PRODUCER),
 *       "queue.process" (CONSUMER), "queue.receive" (messaging.operation.type
 *       or messaging.operation "receive"), else "message". Sentry's Queues view
 *       only knows the queue.* ops; the legacy exporter's "message" stays for
 *       the rest.
 *   faas.trigger                       -> its value
 *   otherwise                          -> ""
 * description: HTTP "METHOD target" (route or path for servers, the URL
 * without query for clients; the span name when there is no target); db the
 * query text (db.query.text | db.statement); otherwise the span name. */
#ifndef PIPIT_SENTRY_SEMCONV_H
#define PIPIT_SENTRY_SEMCONV_H

#include "otlp.h"

/* The op; a static string or a string owned by the span. */
const char *pp_sentry_span_op(const pp_span *s);
/* malloc'd; NULL on OOM. */
char *pp_sentry_span_description(const pp_span *s);
/* Transaction name and transaction_info.source: HTTP server spans are named
 * "METHOD http.route" (source "route") or "METHOD url.path|http.target"
 * (source "custom"); all others by the span name ("custom"). malloc'd. */
char *pp_sentry_transaction_name(const pp_span *s, const char **source);

/* Sentry status string (WIRE-SPECS 4.7):
 *   OK -> "ok" (the application said so);
 *   ERROR -> HTTP status (http.response.status_code | http.status_code) via
 *     the legacy table, else rpc.grpc.status_code via the gRPC table, else
 *     "unknown";
 *   UNSET -> the same tables when the HTTP status is >= 400 or the gRPC code is
 *     not 0 (as Sentry's own OTel integration does: a 404 server span is
 *     "not_found"), else "ok".
 * HTTP codes missing from the legacy table fall back by class: 4xx
 * "invalid_argument", 5xx "internal_error" (as sentry-javascript does). */
const char *pp_sentry_span_status(const pp_span *s);
const char *pp_sentry_http_status(int64_t code);  /* NULL below 400 or unmapped */
const char *pp_sentry_grpc_status(int64_t code);  /* NULL for 0 and unknown codes */

#endif
