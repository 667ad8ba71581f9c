/* grpc_internal.h -- the pieces of the gRPC transport, shared between
 * grpc_server.c (sockets, threads), grpc_conn.c (one HTTP/2 connection),
 * grpc_frame.c (length-prefixed messages, decompression) and grpc_reply.c
 * (status headers). Not for use outside receivers/otlp and the tests/fuzzer. */
#ifndef PIPIT_GRPC_INTERNAL_H
#define PIPIT_GRPC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "status.h"

#define PP_GRPC_SEC 1000000000LL

/* ---- grpc_frame.c: one request message ---- */

typedef enum pp_grpc_enc {
    PP_GRPC_IDENTITY,
    PP_GRPC_GZIP,
    PP_GRPC_ZSTD,
    PP_GRPC_SNAPPY,
    PP_GRPC_UNKNOWN
} pp_grpc_enc;

#define PP_GRPC_ACCEPT_ENCODING "identity,gzip,zstd,snappy"

/* NULL or "" is identity; unknown names give PP_GRPC_UNKNOWN. */
pp_grpc_enc pp_grpc_enc_parse(const char *name);

/* Decompresses in[0..n) into a malloc'd *out, never producing more than max
 * bytes: a larger result fails with PP_TOO_LARGE as soon as the limit is
 * passed (no decompression bombs), corrupt input with PP_INVALID. */
int pp_grpc_inflate(pp_grpc_enc enc, const uint8_t *in, size_t n, size_t max, uint8_t **out,
                    size_t *outlen, pp_status *st);

/* ---- grpc_reply.c: status headers ---- */

int pp_grpc_code(pp_code c); /* pp_code -> gRPC status code */
/* Percent-encodes msg per the gRPC spec into out (always terminated). */
void pp_grpc_percent_encode(const char *msg, char *out, size_t outlen);
/* base64 of a google.rpc.Status{code, message, details: [RetryInfo]}, malloc'd. */
char *pp_grpc_status_details(int code, const char *msg, uint32_t retry_after_ms);

/* ---- grpc_conn.c: one HTTP/2 connection, no sockets ---- */

typedef enum pp_grpc_err {
    PP_GRPC_ERR_PROTOCOL,     /* not HTTP/2, bad frames (nghttp2 said so) */
    PP_GRPC_ERR_RAPID_RESET,  /* too many RST_STREAMs from the client */
    PP_GRPC_ERR_TOO_MANY_PINGS,
    PP_GRPC_ERR_HEADERS,      /* header list over the bound */
    PP_GRPC_ERR_TIMEOUT,      /* preface, keepalive or stalled stream */
    PP_GRPC_ERR_COUNT
} pp_grpc_err;

/* What every connection of one server shares (read-only once started). */
typedef struct pp_grpc_limits {
    pp_ingest *in;
    size_t max_msg;              /* bytes, after decompression */
    uint32_t max_streams;        /* SETTINGS_MAX_CONCURRENT_STREAMS */
    size_t max_conn_buffered;    /* body bytes held per connection (see grpc_conn.c) */
    uint32_t stream_window;      /* SETTINGS_INITIAL_WINDOW_SIZE; 0: pp_grpc_limits_fit's */
    int64_t preface_timeout_ns;  /* 10 s */
    int64_t stream_stall_ns;     /* 30 s */
    int64_t idle_ns, age_ns, age_grace_ns, ping_time_ns, ping_timeout_ns, min_ping_ns;
    bool permit_ping_without_stream;
    uint32_t max_resets_per_sec;
    pp_counter *errors[PP_GRPC_ERR_COUNT]; /* NULL entries allowed */
    _Atomic size_t *peak_buffered; /* the most one connection held so far; may be NULL */
} pp_grpc_limits;

/* Chooses stream_window so that max_streams windows plus one maximal message
 * fit in max_conn_buffered (at most 65535, the HTTP/2 default, at least 1024),
 * raising max_conn_buffered when even 1024-byte windows would not fit. */
void pp_grpc_limits_fit(pp_grpc_limits *l);

typedef struct pp_grpc_conn pp_grpc_conn;

pp_grpc_conn *pp_grpc_conn_new(const pp_grpc_limits *lim, int64_t now_ns);
void pp_grpc_conn_free(pp_grpc_conn *c);
/* Bytes from the client. Returns -1 when the connection must be closed (after
 * sending whatever pp_grpc_conn_output still has). */
int pp_grpc_conn_feed(pp_grpc_conn *c, const uint8_t *buf, size_t len, int64_t now_ns);
/* Bytes to send to the client; *len = 0 when nothing is pending. Valid until
 * the next call on c. */
const uint8_t *pp_grpc_conn_output(pp_grpc_conn *c, size_t *len);
/* Timers: call about every 250 ms. Returns -1 when the connection must close. */
int pp_grpc_conn_tick(pp_grpc_conn *c, int64_t now_ns);
/* Graceful shutdown: GOAWAY, streams in progress may finish. */
void pp_grpc_conn_goaway(pp_grpc_conn *c);
/* True when the connection has nothing more to do (after GOAWAY, or a fatal error). */
bool pp_grpc_conn_done(const pp_grpc_conn *c);

int64_t pp_grpc_now_ns(void); /* CLOCK_MONOTONIC */

/* ---- grpc_server.c, for tests ---- */
typedef struct pp_grpc_server pp_grpc_server;
const pp_grpc_limits *pp_grpc_server_limits(const pp_grpc_server *s);
size_t pp_grpc_server_peak_buffered(const pp_grpc_server *s);

#endif
