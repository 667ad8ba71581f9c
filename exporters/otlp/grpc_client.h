/* grpc_client.h -- a blocking HTTP/2 client for unary gRPC calls over
 * plaintext TCP (h2c with prior knowledge): one connection, one call at a
 * time, kept open between calls.
 *
 * The otlp exporter gives each consumer thread one client. libcurl before
 * 8.0 (Debian 12 ships 7.88) cannot reuse a prior-knowledge h2c connection
 * (curl#10634), so through libcurl every call paid a TCP handshake and
 * started from HTTP/2's 64 KiB windows; this client keeps its connection and
 * the windows the server has opened on it.
 *
 * - Connects lazily on the first call, and again on the call after any
 *   failure, timeout, GOAWAY or EOF (an idle connection the server has closed
 *   is noticed before the request goes out). It never retries a call itself.
 * - The call's timeout covers connecting too. *abort_at_ns is re-read at
 *   least every 20 ms, so it may move earlier while a call waits.
 * - After a timeout or an abort the connection is closed, so that a late
 *   answer can never be taken for the next call's.
 * - Not thread-safe: one thread uses a client. */
#ifndef PIPIT_GRPC_CLIENT_H
#define PIPIT_GRPC_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config_schema.h"
#include "egress_resp.h"

typedef struct pp_grpc_client pp_grpc_client;

typedef struct pp_grpc_client_opts {
    const char *host, *port;    /* where to connect (every address getaddrinfo gives, in order) */
    const char *authority;      /* :authority, and the name in error messages */
    const pp_cfg_kvs *metadata; /* request headers after the pseudo-headers; names are lowercased */
    int64_t keepalive_idle_ns, keepalive_interval_ns; /* TCP keepalive; 0: 60 s */
} pp_grpc_client_opts;

typedef enum pp_grpc_call_rc {
    PP_GRPC_CALL_ANSWERED, /* the server ended its answer: resp holds it */
    PP_GRPC_CALL_FAILED,   /* no whole answer (connection, protocol, reset): err says why */
    PP_GRPC_CALL_TIMEOUT,  /* the per-call timeout passed */
    PP_GRPC_CALL_ABORTED,  /* *abort_at_ns passed */
} pp_grpc_call_rc;

/* Copies what it needs from o; connects on the first call. NULL when out of
 * memory. */
pp_grpc_client *pp_grpc_client_new(const pp_grpc_client_opts *o);
void pp_grpc_client_free(pp_grpc_client *c);

/* POSTs body (an already framed gRPC message) to path and waits for the
 * answer: :status, headers and trailers (Trailers-Only too) and body go into
 * resp (reset first; its max_body and capture are kept). On anything but
 * ANSWERED, err gets plain words ending with "(authority)". abort_at_ns may
 * be NULL. */
pp_grpc_call_rc pp_grpc_client_call(pp_grpc_client *c, const char *path, const uint8_t *body,
                                    size_t len, int64_t timeout_ns,
                                    const _Atomic int64_t *abort_at_ns, pp_egress_resp *resp,
                                    char *err, size_t errlen);

#endif
