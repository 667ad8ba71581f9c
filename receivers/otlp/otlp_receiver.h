/* otlp_receiver.h -- the `otlp` receiver's configuration and its two
 * transports. Keys and defaults are the Collector's otlpreceiver ones. */
#ifndef PIPIT_OTLP_RECEIVER_H
#define PIPIT_OTLP_RECEIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "ingest.h"
#include "tls_config.h"

typedef struct pp_grpc_keepalive_cfg {
    /* server_parameters */
    int64_t max_connection_idle_ns; /* close a connection idle this long (0: never) */
    int64_t max_connection_age_ns;  /* GOAWAY a connection this old (0: never) */
    int64_t max_connection_age_grace_ns;
    int64_t time_ns;    /* PING an idle client after this long (default 2h) */
    int64_t timeout_ns; /* close if the PING is not answered within (default 20s) */
    /* enforcement_policy */
    int64_t min_time_ns; /* clients pinging more often than this get GOAWAY (default 5m) */
    bool permit_without_stream;
} pp_grpc_keepalive_cfg;

typedef struct pp_grpc_server_cfg {
    char *endpoint;                /* default localhost:4317 */
    int64_t max_recv_msg_size_mib; /* default 4 */
    int64_t max_concurrent_streams; /* per connection; 0 = pipit's bound (100) */
    pp_grpc_keepalive_cfg keepalive;
    pp_tls_cfg tls;
    bool tls_present;
    pp_auth_cfg auth;
    bool auth_present;
} pp_grpc_server_cfg;

typedef struct pp_cors_cfg {
    pp_cfg_strs allowed_origins; /* "*", exact origins, or wildcard subdomains */
    pp_cfg_strs allowed_headers;
    int64_t max_age; /* seconds; 0 = not sent */
} pp_cors_cfg;

typedef struct pp_http_server_cfg {
    char *endpoint; /* default localhost:4318 */
    char *traces_url_path;  /* default /v1/traces */
    char *metrics_url_path; /* default /v1/metrics */
    char *logs_url_path;    /* default /v1/logs (answered 404 Not Implemented-like) */
    int64_t max_request_body_size; /* bytes, after decompression; default 20 MiB */
    int64_t read_header_timeout_ns; /* slow clients; default 10s */
    int64_t idle_timeout_ns;        /* keep-alive connections; default 60s */
    pp_tls_cfg tls;
    bool tls_present;
    pp_auth_cfg auth;
    bool auth_present;
    pp_cors_cfg cors;
    bool cors_present;
    pp_cfg_kvs response_headers;
} pp_http_server_cfg;

typedef struct pp_otlp_receiver_cfg {
    pp_grpc_server_cfg grpc;
    bool grpc_present;
    pp_http_server_cfg http;
    bool http_present;
} pp_otlp_receiver_cfg;

/* The gRPC transport (grpc_server.c): HTTP/2 with nghttp2 on worker threads. */
typedef struct pp_grpc_server pp_grpc_server;
pp_grpc_server *pp_grpc_server_start(const pp_grpc_server_cfg *cfg, pp_ingest *in, pp_status *st);
/* Stops accepting (GOAWAY to clients), lets calls in progress finish until
 * deadline_ns (CLOCK_MONOTONIC), then closes every connection. */
void pp_grpc_server_stop(pp_grpc_server *s, int64_t deadline_ns);
void pp_grpc_server_free(pp_grpc_server *s);
int pp_grpc_server_port(const pp_grpc_server *s); /* the bound port (endpoint port 0 in tests) */

/* The HTTP transport (http_server.c): HTTP/1.1 with libmicrohttpd. */
typedef struct pp_http_server pp_http_server;
pp_http_server *pp_http_server_start(const pp_http_server_cfg *cfg, pp_ingest *in, pp_status *st);
void pp_http_server_stop(pp_http_server *s, int64_t deadline_ns);
void pp_http_server_free(pp_http_server *s);
int pp_http_server_port(const pp_http_server *s);

#endif
