/* otlp_receiver.c -- the `otlp` receiver: configuration, and the life cycle
 * of its gRPC and HTTP transports (grpc_server.c, http_server.c), which hand
 * every request to the shared ingest path (ingest.c). */
#include "otlp_receiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MS 1000000LL
#define SEC (1000 * MS)

static const pp_cfg_field keepalive_server_schema[] = {
    {.key = "max_connection_idle", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_grpc_keepalive_cfg, max_connection_idle_ns), .min = 0, .max = INT64_MAX},
    {.key = "max_connection_age", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_grpc_keepalive_cfg, max_connection_age_ns), .min = 0, .max = INT64_MAX},
    {.key = "max_connection_age_grace", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_grpc_keepalive_cfg, max_connection_age_grace_ns), .min = 0,
     .max = INT64_MAX},
    {.key = "time", .type = PP_CFG_DURATION, .offset = offsetof(pp_grpc_keepalive_cfg, time_ns),
     .min = 0, .max = INT64_MAX},
    {.key = "timeout", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_grpc_keepalive_cfg, timeout_ns), .min = 0, .max = INT64_MAX},
    {0},
};

static const pp_cfg_field keepalive_policy_schema[] = {
    {.key = "min_time", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_grpc_keepalive_cfg, min_time_ns), .min = 0, .max = INT64_MAX},
    {.key = "permit_without_stream", .type = PP_CFG_BOOL,
     .offset = offsetof(pp_grpc_keepalive_cfg, permit_without_stream)},
    {0},
};

/* Both keepalive sub-blocks decode into the one pp_grpc_keepalive_cfg. */
static const pp_cfg_field keepalive_schema[] = {
    {.key = "server_parameters", .type = PP_CFG_STRUCT, .offset = 0,
     .children = keepalive_server_schema},
    {.key = "enforcement_policy", .type = PP_CFG_STRUCT, .offset = 0,
     .children = keepalive_policy_schema},
    {0},
};

const pp_cfg_field pp_auth_schema[] = {
    {.key = "authenticator", .type = PP_CFG_STRING, .offset = offsetof(pp_auth_cfg, authenticator),
     .flags = PP_CFG_REQUIRED, .help = "id of an authenticator extension (bearertokenauth)"},
    {0},
};

static const pp_cfg_field grpc_schema[] = {
    {.key = "endpoint", .type = PP_CFG_STRING, .offset = offsetof(pp_grpc_server_cfg, endpoint),
     .help = "host:port to listen on"},
    {.key = "transport", .type = PP_CFG_IGNORED},
    {.key = "max_recv_msg_size_mib", .type = PP_CFG_INT,
     .offset = offsetof(pp_grpc_server_cfg, max_recv_msg_size_mib), .min = 1, .max = 1024},
    {.key = "max_concurrent_streams", .type = PP_CFG_INT,
     .offset = offsetof(pp_grpc_server_cfg, max_concurrent_streams), .min = 0, .max = 1000000},
    {.key = "keepalive", .type = PP_CFG_STRUCT, .offset = offsetof(pp_grpc_server_cfg, keepalive),
     .children = keepalive_schema},
    {.key = "tls", .type = PP_CFG_STRUCT, .offset = offsetof(pp_grpc_server_cfg, tls),
     .children = pp_tls_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(pp_grpc_server_cfg, tls_present)},
    {.key = "auth", .type = PP_CFG_STRUCT, .offset = offsetof(pp_grpc_server_cfg, auth),
     .children = pp_auth_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(pp_grpc_server_cfg, auth_present)},
    {.key = "read_buffer_size", .type = PP_CFG_IGNORED},
    {.key = "write_buffer_size", .type = PP_CFG_IGNORED},
    {.key = "include_metadata", .type = PP_CFG_IGNORED},
    {0},
};

static const pp_cfg_field cors_schema[] = {
    {.key = "allowed_origins", .type = PP_CFG_STRING_LIST,
     .offset = offsetof(pp_cors_cfg, allowed_origins)},
    {.key = "allowed_headers", .type = PP_CFG_STRING_LIST,
     .offset = offsetof(pp_cors_cfg, allowed_headers)},
    {.key = "max_age", .type = PP_CFG_INT, .offset = offsetof(pp_cors_cfg, max_age), .min = 0,
     .max = 86400 * 365},
    {0},
};

static const pp_cfg_field http_schema[] = {
    {.key = "endpoint", .type = PP_CFG_STRING, .offset = offsetof(pp_http_server_cfg, endpoint),
     .help = "host:port to listen on"},
    {.key = "traces_url_path", .type = PP_CFG_STRING,
     .offset = offsetof(pp_http_server_cfg, traces_url_path)},
    {.key = "metrics_url_path", .type = PP_CFG_STRING,
     .offset = offsetof(pp_http_server_cfg, metrics_url_path)},
    {.key = "logs_url_path", .type = PP_CFG_STRING,
     .offset = offsetof(pp_http_server_cfg, logs_url_path)},
    {.key = "max_request_body_size", .type = PP_CFG_INT,
     .offset = offsetof(pp_http_server_cfg, max_request_body_size), .min = 1,
     .max = (int64_t)1 << 40, .help = "bytes, checked after decompression too"},
    {.key = "read_header_timeout", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_http_server_cfg, read_header_timeout_ns), .min = 0, .max = INT64_MAX},
    {.key = "idle_timeout", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_http_server_cfg, idle_timeout_ns), .min = 0, .max = INT64_MAX},
    {.key = "read_timeout", .type = PP_CFG_IGNORED},
    {.key = "write_timeout", .type = PP_CFG_IGNORED},
    {.key = "tls", .type = PP_CFG_STRUCT, .offset = offsetof(pp_http_server_cfg, tls),
     .children = pp_tls_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(pp_http_server_cfg, tls_present)},
    {.key = "auth", .type = PP_CFG_STRUCT, .offset = offsetof(pp_http_server_cfg, auth),
     .children = pp_auth_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(pp_http_server_cfg, auth_present)},
    {.key = "cors", .type = PP_CFG_STRUCT, .offset = offsetof(pp_http_server_cfg, cors),
     .children = cors_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(pp_http_server_cfg, cors_present)},
    {.key = "response_headers", .type = PP_CFG_STRING_MAP,
     .offset = offsetof(pp_http_server_cfg, response_headers)},
    {.key = "include_metadata", .type = PP_CFG_IGNORED},
    {.key = "compression_algorithms", .type = PP_CFG_IGNORED},
    {0},
};

static const pp_cfg_field protocols_schema[] = {
    {.key = "grpc", .type = PP_CFG_STRUCT, .offset = offsetof(pp_otlp_receiver_cfg, grpc),
     .children = grpc_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(pp_otlp_receiver_cfg, grpc_present)},
    {.key = "http", .type = PP_CFG_STRUCT, .offset = offsetof(pp_otlp_receiver_cfg, http),
     .children = http_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(pp_otlp_receiver_cfg, http_present)},
    {0},
};

static const pp_cfg_field otlp_schema[] = {
    {.key = "protocols", .type = PP_CFG_STRUCT, .offset = 0, .children = protocols_schema,
     .help = "grpc and/or http; a protocol is on when its key is present"},
    {0},
};

static void otlp_defaults(void *cfg) {
    pp_otlp_receiver_cfg *c = cfg;
    c->grpc.endpoint = strdup("localhost:4317");
    c->grpc.max_recv_msg_size_mib = 4;
    c->grpc.keepalive.time_ns = 2 * 3600 * SEC;
    c->grpc.keepalive.timeout_ns = 20 * SEC;
    c->grpc.keepalive.min_time_ns = 5 * 60 * SEC;
    c->http.endpoint = strdup("localhost:4318");
    c->http.traces_url_path = strdup("/v1/traces");
    c->http.metrics_url_path = strdup("/v1/metrics");
    c->http.logs_url_path = strdup("/v1/logs");
    c->http.max_request_body_size = 20 * 1024 * 1024;
    c->http.read_header_timeout_ns = 10 * SEC;
    c->http.idle_timeout_ns = 60 * SEC;
}

static size_t check_path(const char *p, const char *path, const char *key, pp_diag *d) {
    if (p && p[0] == '/') return 0;
    char where[256];
    snprintf(where, sizeof(where), "%s.protocols.http.%s", path, key);
    pp_diag_error(d, where, 0, "must start with \"/\"");
    return 1;
}

static size_t otlp_validate(const void *cfg, const char *path, pp_diag *d) {
    const pp_otlp_receiver_cfg *c = cfg;
    size_t errors = 0;
    char where[256];
    if (!c->grpc_present && !c->http_present) {
        snprintf(where, sizeof(where), "%s.protocols", path);
        pp_diag_error(d, where, 0, "must enable at least one protocol (grpc or http)");
        errors++;
    }
    if (c->grpc_present && c->grpc.tls_present) {
        snprintf(where, sizeof(where), "%s.protocols.grpc.tls", path);
        errors += pp_tls_validate(&c->grpc.tls, true, where, d);
    }
    if (c->http_present) {
        errors += check_path(c->http.traces_url_path, path, "traces_url_path", d);
        errors += check_path(c->http.metrics_url_path, path, "metrics_url_path", d);
        errors += check_path(c->http.logs_url_path, path, "logs_url_path", d);
        if (c->http.tls_present) {
            snprintf(where, sizeof(where), "%s.protocols.http.tls", path);
            errors += pp_tls_validate(&c->http.tls, true, where, d);
        }
    }
    if (c->grpc_present && c->http_present && c->grpc.endpoint && c->http.endpoint &&
        strcmp(c->grpc.endpoint, c->http.endpoint) == 0) {
        snprintf(where, sizeof(where), "%s.protocols.http.endpoint", path);
        pp_diag_error(d, where, 0, "same as protocols.grpc.endpoint (%s)", c->grpc.endpoint);
        errors++;
    }
    return errors;
}

typedef struct otlp_receiver {
    const pp_otlp_receiver_cfg *cfg;
    char id[128];
    pp_ingest grpc_in, http_in;
    pp_grpc_server *grpc;
    pp_http_server *http;
} otlp_receiver;

static void *otlp_create(const pp_create_params *p, pp_status *st) {
    otlp_receiver *r = calloc(1, sizeof(*r));
    if (!r) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    r->cfg = p->config;
    snprintf(r->id, sizeof(r->id), "receiver/%s", p->id);
    pp_ingest_init(&r->grpc_in, p, "grpc");
    pp_ingest_init(&r->http_in, p, "http");
    return r;
}

static int resolve_auth(pp_host *host, const pp_auth_cfg *a, bool present, pp_ingest *in,
                        pp_status *st) {
    if (!present) return 0;
    in->auth = pp_host_authenticator(host, a->authenticator);
    if (!in->auth)
        return pp_fail(st, PP_INVALID,
                       "auth.authenticator \"%s\" is not a configured authenticator extension "
                       "(list it under extensions and service.extensions)",
                       a->authenticator);
    return 0;
}

static int otlp_start(void *inst, pp_host *host, pp_status *st) {
    otlp_receiver *r = inst;
    const pp_otlp_receiver_cfg *c = r->cfg;
    if (c->grpc_present) {
        if (resolve_auth(host, &c->grpc.auth, c->grpc.auth_present, &r->grpc_in, st) != 0) return -1;
        if (!(r->grpc = pp_grpc_server_start(&c->grpc, &r->grpc_in, st))) return -1;
        pp_log_info(r->id, "listening", "transport", "grpc", "endpoint", c->grpc.endpoint, NULL);
    }
    if (c->http_present) {
        if (resolve_auth(host, &c->http.auth, c->http.auth_present, &r->http_in, st) != 0) return -1;
        if (!(r->http = pp_http_server_start(&c->http, &r->http_in, st))) return -1;
        pp_log_info(r->id, "listening", "transport", "http", "endpoint", c->http.endpoint, NULL);
    }
    return 0;
}

static void otlp_shutdown(void *inst, pp_host *host) {
    otlp_receiver *r = inst;
    if (r->grpc) pp_grpc_server_stop(r->grpc, host->shutdown_deadline_ns);
    if (r->http) pp_http_server_stop(r->http, host->shutdown_deadline_ns);
}

static void otlp_destroy(void *inst) {
    otlp_receiver *r = inst;
    pp_grpc_server_free(r->grpc);
    pp_http_server_free(r->http);
    free(r);
}

const pp_factory pp_otlp_receiver = {
    .kind = PP_RECEIVER,
    .type = "otlp",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(pp_otlp_receiver_cfg),
    .schema = otlp_schema,
    .config_defaults = otlp_defaults,
    .config_validate = otlp_validate,
    .create = otlp_create,
    .start = otlp_start,
    .shutdown = otlp_shutdown,
    .destroy = otlp_destroy,
};
