/* testutil_grpc.h -- test helpers for the gRPC transport: an OTLP receiver's ingest
 * path with a recording consumer, a small nghttp2 client over a blocking
 * socket, and raw HTTP/2 frames for misbehaving clients. */
#ifndef PIPIT_TESTUTIL_GRPC_H
#define PIPIT_TESTUTIL_GRPC_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdbool.h>

#include "receivers/otlp/otlp_receiver.h"

#define TU_TRACES "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define TU_METRICS "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
#define TU_LOGS "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

/* ---- the server side ---- */
typedef struct tu_sink {
    pp_consumer c;
    pthread_mutex_t mu;
    int batches;
    size_t items;
    uint8_t first_trace_id[16];
    bool refuse;
    pp_code refuse_code; /* PP_OK: PP_UNAVAILABLE */
    uint32_t retry_after_ms;
    int delay_ms; /* each batch blocks the calling thread this long */
} tu_sink;

typedef struct tu_server {
    pp_host host;
    tu_sink sink;
    pp_ingest in;
    pp_server_auth auth;
    pp_grpc_server_cfg cfg;
    pp_grpc_server *srv;
    int port;
} tu_server;

/* Default config: endpoint 127.0.0.1:0, 4 MiB, traces pipeline only. Call
 * tu_server_start after adjusting t->cfg / t->in. */
void tu_server_init(tu_server *t);
void tu_server_use_auth(tu_server *t); /* header "authorization", value "Bearer s3cret" */
void tu_server_start(tu_server *t);
void tu_server_free(tu_server *t); /* stops (if running) and frees */
uint64_t tu_server_errors(tu_server *t, const char *reason);
/* cmocka setup/teardown: a fresh (not started) server in tu_srv per test. */
extern tu_server *tu_srv;
int tu_srv_setup(void **state);
int tu_srv_teardown(void **state);

/* ---- a client ---- */
typedef struct tu_call {
    int32_t id;
    const uint8_t *body;
    size_t body_len, body_off;
    bool end_stream; /* END_STREAM after the body (default true) */
    int http_status;
    int grpc_status; /* -1: none */
    char grpc_message[512];
    char details[2048];
    char accept_encoding[128];
    uint8_t data[256];
    size_t data_len;
    bool closed;
    uint32_t rst_code;
} tu_call;

typedef struct tu_client {
    int fd; /* -1: in memory (tu_client_exchange) */
    nghttp2_session *h2;
    bool goaway, eof, got_settings;
    uint32_t goaway_code;
} tu_client;

int tu_client_connect(tu_client *cl, int port); /* 0 or -1 */
/* Waits (at most timeout_ms) for the server's SETTINGS, as gRPC clients do
 * before their first call. 0 or -1. */
int tu_client_handshake(tu_client *cl, int timeout_ms);
void tu_client_close(tu_client *cl);
/* Submits a POST; extra is a NULL-terminated name, value list. */
void tu_client_submit(tu_client *cl, tu_call *c, const char *path, const char *ctype,
                      const char *const *extra);
/* Runs the session until every call in calls[0..n) is closed, the server
 * closes, or timeout_ms passes. Returns the number of closed calls. */
int tu_client_run(tu_client *cl, tu_call *calls, int n, int timeout_ms);
/* Zeroes calls[0..n) and gives each the same body, END_STREAM after it. */
void tu_calls_fill(tu_call *calls, int n, const uint8_t *body, size_t len);
/* n calls at once with the same body (a whole gRPC message) on one new
 * connection, after the handshake; returns the number of closed calls. */
int tu_client_burst(int port, tu_call *calls, int n, const uint8_t *body, size_t len, int timeout_ms);
/* One call on a fresh connection. body: a whole gRPC message with prefix. */
void tu_call_once(int port, tu_call *c, const char *path, const char *ctype,
                  const char *const *extra, const uint8_t *body, size_t len);

/* A length-prefixed gRPC message (malloc'd; *out_len = 5 + n). */
uint8_t *tu_grpc_frame(int flag, const uint8_t *msg, size_t n, size_t *out_len);
/* An encoded ExportTraceServiceRequest with n spans (seed as tu_make_traces). */
uint8_t *tu_traces_bytes(size_t n, uint32_t seed, size_t *len);

/* ---- a client in memory, talking to a pp_grpc_conn (no socket, any clock) ---- */
struct pp_grpc_conn;
void tu_client_mem(tu_client *cl);
/* Moves bytes both ways until neither side has more to say. Returns -1 when
 * the server connection wants to close. */
int tu_client_exchange(tu_client *cl, struct pp_grpc_conn *g, int64_t now_ns);

/* ---- raw frames ---- */
int tu_raw_connect(int port);
void tu_raw_frame(uint8_t *out, uint32_t len, uint8_t type, uint8_t flags, uint32_t stream);
/* Reads until the server closes or timeout_ms; returns the GOAWAY error code
 * seen (-1: none) and whether the peer closed (*closed). debug receives the
 * GOAWAY debug data if not NULL. */
int tu_raw_drain(int fd, int timeout_ms, bool *closed, char *debug, size_t debuglen);

#endif
