/* transport.h -- how the runner sends a request: OTLP/gRPC (grpc_client.c)
 * or OTLP/HTTP (http_client.c). A transport is driven by one thread: submit()
 * queues a request if a connection has room, poll() does I/O for at most
 * timeout_ms and reports every finished request through done(). */
#ifndef PIPIT_LOADGEN_TRANSPORT_H
#define PIPIT_LOADGEN_TRANSPORT_H

#include <stdint.h>

#include "batch.h"
#include "pool.h"

typedef enum lg_outcome {
    LG_OK,        /* gRPC status 0 / HTTP 2xx */
    LG_GRPC,      /* code: the grpc-status */
    LG_HTTP,      /* code: the HTTP status (for gRPC: a non-200 :status) */
    LG_CONN,      /* code: errno (connect, reset) or a curl error code */
    LG_TIMEOUT,   /* no answer within the request timeout */
} lg_outcome;

typedef void (*lg_done_fn)(void *arg, void *tag, lg_outcome o, int code);

typedef struct lg_target {
    char host[256];
    int port;
    pp_signal signal;
    lg_format format;   /* HTTP: protobuf or JSON */
    lg_compress compress;
    int connections;
    int streams;        /* concurrent requests per connection (HTTP/1.1: 1) */
    int timeout_ms;
    char path[128];     /* HTTP: URL path; default /v1/traces or /v1/metrics */
} lg_target;

typedef struct lg_transport lg_transport;
struct lg_transport {
    /* 0 if queued, 1 if every connection is full (try again after poll). */
    int (*submit)(lg_transport *t, const lg_payload *p, void *tag);
    /* Runs I/O for at most timeout_ms (0: do what is ready). */
    void (*poll)(lg_transport *t, int timeout_ms);
    int (*in_flight)(const lg_transport *t);
    /* Fails what is in flight (LG_CONN, ECANCELED) and frees. */
    void (*close)(lg_transport *t);
};

lg_transport *lg_grpc_open(const lg_target *tg, lg_done_fn done, void *arg);
lg_transport *lg_http_open(const lg_target *tg, lg_done_fn done, void *arg);

/* "unavailable" for gRPC status 14, and so on; NULL when unknown. */
const char *lg_grpc_code_name(int code);

#endif
