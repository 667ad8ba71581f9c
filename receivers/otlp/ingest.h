/* ingest.h -- what both OTLP transports do with a request once framed.
 *
 * Check credentials, reserve memory before decoding, decode, hand the batch
 * to the pipelines, count accepted/refused items with the Collector's names
 * (otelcol_receiver_accepted_spans{receiver,transport}...), and turn the
 * outcome into one pp_status that the transport maps to its own codes. */
#ifndef PIPIT_INGEST_H
#define PIPIT_INGEST_H

#include <stdbool.h>

#include "admission.h"
#include "auth.h"
#include "component.h"

typedef struct pp_ingest {
    char receiver_id[128];
    const char *transport; /* "grpc" or "http" */
    pp_consumer *next[PP_SIGNAL_COUNT];
    pp_admission *admission; /* NULL: no memory budget */
    pp_server_auth *auth;    /* NULL: no authentication */
    pp_metrics *metrics;     /* for a transport's own counters (may be NULL) */
    pp_counter *accepted[PP_SIGNAL_COUNT];
    pp_counter *refused[PP_SIGNAL_COUNT];
    pp_counter *failed_decode[PP_SIGNAL_COUNT]; /* requests, not items */
    pp_counter *refused_memory; /* requests the memory gate refused (undecoded: items unknown) */
} pp_ingest;

void pp_ingest_init(pp_ingest *in, const pp_create_params *p, const char *transport);

/* True when some pipeline takes this signal (else: UNIMPLEMENTED). */
bool pp_ingest_has(const pp_ingest *in, pp_signal s);

/* value: the request's authenticator header value (NULL if absent). */
int pp_ingest_authenticate(pp_ingest *in, const char *value, pp_status *st);

/* Before reading or decoding a body of declared size n. Pair with release.
 * A refusal is counted in pipit_receiver_refused_requests{reason=
 * "memory_limit"}: the body is never decoded, so its spans or points are not
 * known and otelcol_receiver_refused_* cannot count them. */
int pp_ingest_admit(pp_ingest *in, size_t n, pp_status *st);
void pp_ingest_release(pp_ingest *in, size_t n);

/* Decodes an encoded Export*ServiceRequest and consumes it. */
int pp_ingest_protobuf(pp_ingest *in, pp_signal s, const uint8_t *buf, size_t len, pp_status *st);
/* Consumes an already decoded batch (the JSON path). Borrows b. */
int pp_ingest_batch(pp_ingest *in, pp_batch *b, pp_status *st);

#endif
