/* otlp_exporter.c -- the `otlp` exporter (alias otlp_grpc): OTLP/gRPC over
 * HTTP/2; plaintext h2c (prior knowledge) through our own client
 * (grpc_client.h), HTTP/2 over TLS through libcurl. Queue, retry and breaker
 * come from exporter.h.
 *
 * One connection per consumer thread (a grpc_client or a CURL easy handle),
 * reused for every send, so num_consumers requests are in flight without an
 * event loop of our own. (Multiplexing them over one connection would save a
 * few connections and make each send something other than a plain blocking
 * call.)
 *
 * Why two transports: libcurl before 8.0 (Debian 12 has 7.88) cannot reuse a
 * prior-knowledge h2c connection (curl#10634), so every plaintext request
 * paid a TCP handshake and HTTP/2's 64 KiB initial windows for a body of
 * megabytes. TLS connections libcurl reuses fine. Both transports send the
 * same metadata (otlp_metadata) and read answers into one pp_egress_resp
 * that pp_grpc_classify judges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compress.h"
#include "egress.h"
#include "exporter.h"
#include "grpc_client.h"
#include "grpc_result.h"
#include "tls_config.h"

#define SEC 1000000000LL

typedef struct otlp_keepalive {
    int64_t time_ns, timeout_ns;
    bool permit_without_stream;
} otlp_keepalive;

typedef struct otlp_cfg {
    char *endpoint;
    pp_tls_cfg tls;
    bool tls_present;
    pp_cfg_kvs headers;
    char *compression;
    int64_t timeout_ns;
    otlp_keepalive keepalive;
    pp_exporter_cfg common;
} otlp_cfg;

static const char *const compressions[] = {"gzip", "zstd", "snappy", "none", "", NULL};

static const pp_cfg_field keepalive_schema[] = {
    {.key = "time", .type = PP_CFG_DURATION, .offset = offsetof(otlp_keepalive, time_ns), .min = 0,
     .max = INT64_MAX, .help = "TCP keepalive idle time"},
    {.key = "timeout", .type = PP_CFG_DURATION, .offset = offsetof(otlp_keepalive, timeout_ns),
     .min = 0, .max = INT64_MAX, .help = "TCP keepalive probe interval"},
    {.key = "permit_without_stream", .type = PP_CFG_BOOL,
     .offset = offsetof(otlp_keepalive, permit_without_stream)},
    {0},
};

static const pp_cfg_field otlp_schema[] = {
    {.key = "endpoint", .type = PP_CFG_STRING, .offset = offsetof(otlp_cfg, endpoint),
     .flags = PP_CFG_REQUIRED, .help = "host:port, or http:// (h2c) / https:// URL"},
    {.key = "tls", .type = PP_CFG_STRUCT, .offset = offsetof(otlp_cfg, tls),
     .children = pp_tls_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(otlp_cfg, tls_present)},
    {.key = "headers", .type = PP_CFG_STRING_MAP, .offset = offsetof(otlp_cfg, headers),
     .flags = PP_CFG_SECRET, .help = "metadata sent with every request"},
    {.key = "compression", .type = PP_CFG_ENUM, .offset = offsetof(otlp_cfg, compression),
     .choices = compressions, .help = "gzip (default), zstd, snappy or none"},
    {.key = "timeout", .type = PP_CFG_DURATION, .offset = offsetof(otlp_cfg, timeout_ns), .min = 1,
     .max = INT64_MAX, .help = "per attempt"},
    {.key = "keepalive", .type = PP_CFG_STRUCT, .offset = offsetof(otlp_cfg, keepalive),
     .children = keepalive_schema},
    {.key = "balancer_name", .type = PP_CFG_IGNORED},
    {.key = "auth", .type = PP_CFG_IGNORED},
    {.key = "wait_for_ready", .type = PP_CFG_IGNORED},
    {.key = "read_buffer_size", .type = PP_CFG_IGNORED},
    {.key = "write_buffer_size", .type = PP_CFG_IGNORED},
    {.key = "authority", .type = PP_CFG_IGNORED},
    PP_EXPORTER_CFG_FIELDS(otlp_cfg, common),
    {0},
};

static void otlp_defaults(void *cfg) {
    otlp_cfg *c = cfg;
    c->compression = strdup("gzip");
    c->timeout_ns = 5 * SEC;
    pp_exporter_cfg_defaults(&c->common);
}

/* Splits endpoint into scheme and host:port; false when it cannot be used. */
static bool parse_endpoint(const char *ep, const pp_tls_cfg *tls, bool *https, char *host,
                           size_t hostlen) {
    const char *h = ep;
    if (!strncmp(ep, "https://", 8)) {
        *https = true;
        h = ep + 8;
    } else if (!strncmp(ep, "http://", 7)) {
        *https = false;
        h = ep + 7;
    } else {
        if (strstr(ep, "://")) return false;
        *https = !tls->insecure;
    }
    size_t n = strcspn(h, "/");
    if (n == 0 || n >= hostlen || !memchr(h, ':', n)) return false;
    memcpy(host, h, n);
    host[n] = '\0';
    return true;
}

static size_t otlp_validate(const void *cfg, const char *path, pp_diag *d) {
    const otlp_cfg *c = cfg;
    size_t errors = pp_exporter_cfg_validate(&c->common, path, d);
    char p[512], host[256];
    bool https;
    if (c->endpoint && !parse_endpoint(c->endpoint, &c->tls, &https, host, sizeof(host))) {
        snprintf(p, sizeof(p), "%s.endpoint", path);
        pp_diag_error(d, p, 0, "expected host:port or http(s)://host:port, got \"%s\"", c->endpoint);
        errors++;
    }
    snprintf(p, sizeof(p), "%s.tls", path);
    errors += pp_tls_validate(&c->tls, false, p, d);
    return errors;
}

typedef struct otlp_exp {
    const otlp_cfg *cfg;
    pp_compression comp;
    pp_cfg_kvs metadata; /* request headers: gRPC's, then the user's */
    bool h2c;            /* plaintext: grpc_client; TLS: libcurl */
    /* h2c */
    char host[256], port[16], authority[256];
    pp_grpc_client_opts client;
    /* TLS (libcurl) */
    char *url[PP_SIGNAL_COUNT];
    struct curl_slist *headers;
    struct curl_slist *connect_to; /* server_name_override: URL names it, connect goes to host */
    pp_egress_opts opts;
} otlp_exp;

static const char *const paths[PP_SIGNAL_COUNT] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"};

/* gRPC framing: compressed flag, then the message length big-endian. */
static void frame_header(uint8_t *h, bool compressed, size_t len) {
    h[0] = compressed;
    h[1] = (uint8_t)(len >> 24);
    h[2] = (uint8_t)(len >> 16);
    h[3] = (uint8_t)(len >> 8);
    h[4] = (uint8_t)len;
}

static pp_export_request *otlp_encode(void *ctx, pp_batch *b, pp_status *st) {
    otlp_exp *x = ctx;
    size_t n = pp_batch_encoded_size(b), len = n;
    uint8_t *plain = NULL, *packed = NULL, *frame = NULL;
    if (x->comp == PP_COMP_NONE) { /* packed straight behind the header: no copy */
        if (!(frame = malloc(n + 5))) goto oom;
        pp_batch_pack(b, frame + 5);
    } else {
        if (!(plain = malloc(n ? n : 1))) goto oom;
        pp_batch_pack(b, plain);
        if (pp_compress(x->comp, plain, n, &packed, &len) != 0) goto oom;
        if (!(frame = malloc(len + 5))) goto oom;
        memcpy(frame + 5, packed, len);
        free(plain);
        free(packed);
    }
    frame_header(frame, x->comp != PP_COMP_NONE, len);
    pp_export_request *r = pp_export_request_new(b, frame, len + 5);
    if (!r) pp_fail(st, PP_UNAVAILABLE, "out of memory");
    return r;
oom:
    free(plain);
    free(packed);
    free(frame);
    pp_fail(st, PP_UNAVAILABLE, "out of memory encoding a request");
    return NULL;
}

static void *otlp_conn_new(void *ctx) {
    otlp_exp *x = ctx;
    if (x->h2c) return pp_grpc_client_new(&x->client);
    CURL *c = pp_egress_handle(&x->opts);
    if (c && x->connect_to) curl_easy_setopt(c, CURLOPT_CONNECT_TO, x->connect_to);
    return c;
}

static void otlp_conn_free(void *ctx, void *conn) {
    otlp_exp *x = ctx;
    if (x->h2c) pp_grpc_client_free(conn);
    else pp_egress_handle_free(conn);
}

static void otlp_send(void *ctx, void *conn, const pp_export_request *r,
                      const _Atomic int64_t *abort_at, pp_send_result *res) {
    otlp_exp *x = ctx;
    if (!conn) {
        pp_send_result_set(res, PP_SEND_RETRY, "no connection handle (out of memory)");
        return;
    }
    pp_egress_resp resp = {.max_body = 4u << 20};
    char err[CURL_ERROR_SIZE + 32];
    bool answered, timed_out;
    if (x->h2c) {
        pp_grpc_call_rc rc = pp_grpc_client_call(conn, paths[r->signal], r->body, r->len,
                                                 x->cfg->timeout_ns, abort_at, &resp, err, sizeof(err));
        answered = rc == PP_GRPC_CALL_ANSWERED;
        timed_out = rc == PP_GRPC_CALL_TIMEOUT;
    } else {
        CURLcode rc = pp_egress_post(conn, x->url[r->signal], x->headers, r->body, r->len,
                                     x->cfg->timeout_ns, abort_at, &resp, err, sizeof(err));
        answered = rc == CURLE_OK;
        timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    }
    if (answered || resp.grpc_status >= 0) {
        pp_grpc_classify(&resp, r->signal, res);
    } else {
        pp_send_result_set(res, PP_SEND_RETRY, "%s: %s",
                           timed_out ? "DEADLINE_EXCEEDED" : "UNAVAILABLE", err);
    }
    pp_egress_resp_free(&resp);
}

static void otlp_free_ctx(void *ctx) {
    otlp_exp *x = ctx;
    if (!x) return;
    for (int s = 0; s < PP_SIGNAL_COUNT; s++) free(x->url[s]);
    for (size_t i = 0; i < x->metadata.count; i++) {
        free(x->metadata.items[i].key);
        free(x->metadata.items[i].value);
    }
    free(x->metadata.items);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->connect_to);
    free(x);
}

/* gRPC servers refuse messages over 4 MiB by default (the Collector's
 * max_recv_msg_size_mib): split before that, with 64 KiB of headroom. */
#define OTLP_MAX_REQUEST_BYTES ((4u << 20) - (64u << 10))

static const pp_exporter_ops otlp_ops = {.encode = otlp_encode, .conn_new = otlp_conn_new,
                                         .conn_free = otlp_conn_free, .send = otlp_send,
                                         .destroy = otlp_free_ctx,
                                         .max_request_bytes = OTLP_MAX_REQUEST_BYTES};

static int metadata_add(pp_cfg_kvs *m, const char *key, const char *value) {
    pp_cfg_kv *items = realloc(m->items, (m->count + 1) * sizeof(*items));
    if (!items) return -1;
    m->items = items;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    items[m->count++] = (pp_cfg_kv){k, v};
    return 0;
}

/* grpc-timeout: at most 8 digits, so the unit grows with the value
 * (milliseconds, then seconds, minutes, hours), rounding up. */
static void grpc_timeout_text(int64_t ns, char *out, size_t n) {
    static const struct { char unit; int64_t ns; } units[] = {
        {'m', 1000000LL}, {'S', 1000000000LL}, {'M', 60000000000LL}, {'H', 3600000000000LL}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        int64_t v = (ns + units[i].ns - 1) / units[i].ns;
        if (v <= 99999999 || i == 3) {
            snprintf(out, n, "%lld%c", (long long)(v > 99999999 ? 99999999 : v), units[i].unit);
            return;
        }
    }
}

/* The request headers both transports send: gRPC's, our user-agent unless
 * the user's headers carry one, then the user's headers. */
static int otlp_metadata(otlp_exp *x, const otlp_cfg *c) {
    pp_cfg_kvs *m = &x->metadata;
    char tmo[32];
    grpc_timeout_text(c->timeout_ns, tmo, sizeof(tmo));
    bool user_agent = false;
    for (size_t i = 0; i < c->headers.count; i++)
        user_agent |= !strcasecmp(c->headers.items[i].key, "user-agent");
    if (metadata_add(m, "content-type", "application/grpc") || metadata_add(m, "te", "trailers") ||
        metadata_add(m, "grpc-encoding", pp_compression_name(x->comp)) ||
        metadata_add(m, "grpc-timeout", tmo) ||
        metadata_add(m, "grpc-accept-encoding", "gzip,zstd,snappy") ||
        (!user_agent && metadata_add(m, "user-agent", "pipit/" PIPIT_VERSION)))
        return -1;
    for (size_t i = 0; i < c->headers.count; i++)
        if (metadata_add(m, c->headers.items[i].key, c->headers.items[i].value)) return -1;
    return 0;
}

/* The h2c client's options: host:port (host may be a bracketed IPv6
 * address) split for getaddrinfo. */
static void h2c_setup(otlp_exp *x, const char *hostport) {
    const otlp_cfg *c = x->cfg;
    const char *colon = strrchr(hostport, ':');
    size_t hl = (size_t)(colon - hostport);
    if (hl >= 2 && hostport[0] == '[' && hostport[hl - 1] == ']')
        snprintf(x->host, sizeof(x->host), "%.*s", (int)(hl - 2), hostport + 1);
    else snprintf(x->host, sizeof(x->host), "%.*s", (int)hl, hostport);
    snprintf(x->port, sizeof(x->port), "%s", colon + 1);
    snprintf(x->authority, sizeof(x->authority), "%s", hostport);
    x->client = (pp_grpc_client_opts){.host = x->host, .port = x->port, .authority = x->authority,
                                      .metadata = &x->metadata,
                                      .keepalive_idle_ns = c->keepalive.time_ns,
                                      .keepalive_interval_ns = c->keepalive.timeout_ns};
}

/* libcurl's setup for HTTP/2 over TLS. */
static int tls_setup(otlp_exp *x, const char *host) {
    const otlp_cfg *c = x->cfg;
    char target[256];
    snprintf(target, sizeof(target), "%s", host);
    if (c->tls.server_name_override) {
        /* Verify (and send SNI for) the override name while connecting to host. */
        const char *port = strrchr(host, ':');
        char rule[600];
        snprintf(rule, sizeof(rule), "%s%s:%s", c->tls.server_name_override, port, host);
        snprintf(target, sizeof(target), "%s%s", c->tls.server_name_override, port);
        if (!(x->connect_to = curl_slist_append(NULL, rule))) return -1;
    }
    for (int s = 0; s < PP_SIGNAL_COUNT; s++) {
        size_t n = strlen(target) + strlen(paths[s]) + 16;
        if (!(x->url[s] = malloc(n))) return -1;
        snprintf(x->url[s], n, "https://%s%s", target, paths[s]);
    }
    const char *fixed[] = {"Expect:", NULL};
    if (!(x->headers = pp_egress_headers(fixed, &x->metadata))) return -1;
    x->opts = (pp_egress_opts){.tls = &c->tls,
                               .http_version = CURL_HTTP_VERSION_2TLS,
                               .keepalive_idle_ns = c->keepalive.time_ns,
                               .keepalive_interval_ns = c->keepalive.timeout_ns};
    return 0;
}

static void *otlp_create(const pp_create_params *p, pp_status *st) {
    const otlp_cfg *c = p->config;
    otlp_exp *x = calloc(1, sizeof(*x));
    if (!x) goto oom;
    x->cfg = c;
    pp_compression_parse(c->compression, &x->comp);
    bool https = false;
    char host[256];
    if (!parse_endpoint(c->endpoint, &c->tls, &https, host, sizeof(host))) {
        otlp_free_ctx(x);
        pp_fail(st, PP_INVALID, "bad endpoint \"%s\"", c->endpoint);
        return NULL;
    }
    if (otlp_metadata(x, c) != 0) goto oom;
    x->h2c = !https;
    if (x->h2c) h2c_setup(x, host);
    else if (tls_setup(x, host) != 0) goto oom;
    pp_exporter_params ep = {.id = p->id, .host = p->host, .cfg = &c->common, .ops = &otlp_ops,
                             .ctx = x, .takes_encoded = true};
    pp_exporter *e = pp_exporter_new(&ep, st);
    if (!e) otlp_free_ctx(x);
    return e;
oom:
    otlp_free_ctx(x);
    pp_fail(st, PP_INTERNAL, "out of memory");
    return NULL;
}

const pp_factory pp_otlp_exporter = {
    .kind = PP_EXPORTER,
    .type = "otlp",
    .alias = "otlp_grpc",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(otlp_cfg),
    .schema = otlp_schema,
    .config_defaults = otlp_defaults,
    .config_validate = otlp_validate,
    .create = otlp_create,
    .start = pp_exporter_start,
    .consumer = pp_exporter_consumer,
    .shutdown = pp_exporter_shutdown,
    .destroy = pp_exporter_destroy,
};
