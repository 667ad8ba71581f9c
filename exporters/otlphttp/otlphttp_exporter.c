/* otlphttp_exporter.c -- the `otlphttp` exporter (alias otlp_http): OTLP/HTTP
 * POSTs of protobuf or JSON bodies with libcurl, one reused easy handle per
 * consumer thread (keep-alive connections). Retries only 429/502/503/504 and
 * transport failures (WIRE-SPECS 1.3), honouring Retry-After; 413 splits the
 * batch; other answers are permanent, with the server's Status message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlphttp_wire.h"
#include "tls_config.h"

#define SEC 1000000000LL

typedef struct otlphttp_cfg {
    char *endpoint;
    char *traces_endpoint;
    char *metrics_endpoint;
    char *encoding;
    char *compression;
    pp_cfg_kvs headers;
    int64_t timeout_ns;
    pp_tls_cfg tls;
    bool tls_present;
    pp_exporter_cfg common;
} otlphttp_cfg;

static const char *const encodings[] = {"proto", "json", NULL};
static const char *const compressions[] = {"gzip", "zstd", "snappy", "none", "", NULL};

static const pp_cfg_field otlphttp_schema[] = {
    {.key = "endpoint", .type = PP_CFG_STRING, .offset = offsetof(otlphttp_cfg, endpoint),
     .help = "base URL; /v1/traces and /v1/metrics are appended"},
    {.key = "traces_endpoint", .type = PP_CFG_STRING,
     .offset = offsetof(otlphttp_cfg, traces_endpoint), .help = "full URL for traces"},
    {.key = "metrics_endpoint", .type = PP_CFG_STRING,
     .offset = offsetof(otlphttp_cfg, metrics_endpoint), .help = "full URL for metrics"},
    {.key = "logs_endpoint", .type = PP_CFG_IGNORED},
    {.key = "encoding", .type = PP_CFG_ENUM, .offset = offsetof(otlphttp_cfg, encoding),
     .choices = encodings, .help = "proto (default) or json"},
    {.key = "compression", .type = PP_CFG_ENUM, .offset = offsetof(otlphttp_cfg, compression),
     .choices = compressions, .help = "gzip (default), zstd, snappy or none"},
    {.key = "headers", .type = PP_CFG_STRING_MAP, .offset = offsetof(otlphttp_cfg, headers),
     .flags = PP_CFG_SECRET},
    {.key = "timeout", .type = PP_CFG_DURATION, .offset = offsetof(otlphttp_cfg, timeout_ns),
     .min = 1, .max = INT64_MAX, .help = "per attempt"},
    {.key = "tls", .type = PP_CFG_STRUCT, .offset = offsetof(otlphttp_cfg, tls),
     .children = pp_tls_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(otlphttp_cfg, tls_present)},
    {.key = "auth", .type = PP_CFG_IGNORED},
    {.key = "read_buffer_size", .type = PP_CFG_IGNORED},
    {.key = "write_buffer_size", .type = PP_CFG_IGNORED},
    {.key = "max_idle_conns", .type = PP_CFG_IGNORED},
    {.key = "max_idle_conns_per_host", .type = PP_CFG_IGNORED},
    {.key = "max_conns_per_host", .type = PP_CFG_IGNORED},
    {.key = "idle_conn_timeout", .type = PP_CFG_IGNORED},
    {.key = "disable_keep_alives", .type = PP_CFG_IGNORED},
    {.key = "http2_read_idle_timeout", .type = PP_CFG_IGNORED},
    {.key = "http2_ping_timeout", .type = PP_CFG_IGNORED},
    PP_EXPORTER_CFG_FIELDS(otlphttp_cfg, common),
    {0},
};

static void otlphttp_defaults(void *cfg) {
    otlphttp_cfg *c = cfg;
    c->encoding = strdup("proto");
    c->compression = strdup("gzip");
    c->timeout_ns = 30 * SEC;
    pp_exporter_cfg_defaults(&c->common);
}

static bool is_url(const char *s) {
    return s && (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8)) && strlen(s) > 8;
}

static size_t otlphttp_validate(const void *cfg, const char *path, pp_diag *d) {
    const otlphttp_cfg *c = cfg;
    size_t errors = pp_exporter_cfg_validate(&c->common, path, d);
    char p[512];
    if (!c->endpoint && !c->traces_endpoint && !c->metrics_endpoint) {
        pp_diag_error(d, path, 0, "set endpoint, or traces_endpoint / metrics_endpoint");
        errors++;
    }
    const char *keys[] = {"endpoint", "traces_endpoint", "metrics_endpoint"};
    const char *vals[] = {c->endpoint, c->traces_endpoint, c->metrics_endpoint};
    for (int i = 0; i < 3; i++) {
        if (!vals[i] || is_url(vals[i])) continue;
        snprintf(p, sizeof(p), "%s.%s", path, keys[i]);
        pp_diag_error(d, p, 0, "expected an http:// or https:// URL, got \"%s\"", vals[i]);
        errors++;
    }
    snprintf(p, sizeof(p), "%s.tls", path);
    errors += pp_tls_validate(&c->tls, false, p, d);
    return errors;
}

typedef struct otlphttp_exp {
    const otlphttp_cfg *cfg;
    pp_compression comp;
    bool json;
    char *url[PP_SIGNAL_COUNT]; /* NULL: that signal has no endpoint */
    struct curl_slist *headers;
    pp_egress_opts opts;
} otlphttp_exp;

static pp_export_request *otlphttp_encode(void *ctx, pp_batch *b, pp_status *st) {
    otlphttp_exp *x = ctx;
    return pp_otlphttp_encode(b, x->json, x->comp, st);
}

static void *otlphttp_conn_new(void *ctx) {
    otlphttp_exp *x = ctx;
    CURL *c = pp_egress_handle(&x->opts);
    if (c) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* curl inflates answers */
    return c;
}

static void otlphttp_conn_free(void *ctx, void *conn) {
    (void)ctx;
    pp_egress_handle_free(conn);
}

static void otlphttp_send(void *ctx, void *conn, const pp_export_request *r,
                          const _Atomic int64_t *abort_at, pp_send_result *res) {
    otlphttp_exp *x = ctx;
    if (!conn) {
        pp_send_result_set(res, PP_SEND_RETRY, "no connection handle (out of memory)");
        return;
    }
    if (!x->url[r->signal]) {
        pp_send_result_set(res, PP_SEND_PERMANENT, "no endpoint configured for %s",
                           pp_signal_name(r->signal));
        return;
    }
    pp_egress_resp resp = {.max_body = 4u << 20};
    char err[CURL_ERROR_SIZE + 32];
    CURLcode rc = pp_egress_post(conn, x->url[r->signal], x->headers, r->body, r->len,
                                 x->cfg->timeout_ns, abort_at, &resp, err, sizeof(err));
    pp_otlphttp_result(rc, err, &resp, r->signal, res);
    pp_egress_resp_free(&resp);
}

static void otlphttp_free_ctx(void *ctx) {
    otlphttp_exp *x = ctx;
    if (!x) return;
    for (int s = 0; s < PP_SIGNAL_COUNT; s++) free(x->url[s]);
    curl_slist_free_all(x->headers);
    free(x);
}

static const pp_exporter_ops otlphttp_ops = {.encode = otlphttp_encode,
                                             .conn_new = otlphttp_conn_new,
                                             .conn_free = otlphttp_conn_free,
                                             .send = otlphttp_send,
                                             .destroy = otlphttp_free_ctx};

/* The signal's URL: its own endpoint, else the base endpoint plus /v1/<signal>. */
static char *signal_url(const char *own, const char *base, const char *suffix) {
    if (own) return strdup(own);
    if (!base) return NULL;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') n--;
    size_t sz = n + strlen(suffix) + 1;
    char *u = malloc(sz);
    if (u) snprintf(u, sz, "%.*s%s", (int)n, base, suffix);
    return u;
}

static void *otlphttp_create(const pp_create_params *p, pp_status *st) {
    const otlphttp_cfg *c = p->config;
    otlphttp_exp *x = calloc(1, sizeof(*x));
    if (!x) goto oom;
    x->cfg = c;
    pp_compression_parse(c->compression, &x->comp);
    x->json = !strcmp(c->encoding, "json");
    x->url[PP_TRACES] = signal_url(c->traces_endpoint, c->endpoint, "/v1/traces");
    x->url[PP_METRICS] = signal_url(c->metrics_endpoint, c->endpoint, "/v1/metrics");
    char ce[64];
    snprintf(ce, sizeof(ce), "Content-Encoding: %s", pp_compression_name(x->comp));
    const char *fixed[] = {x->json ? "Content-Type: application/json"
                                   : "Content-Type: application/x-protobuf",
                           "Expect:", x->comp != PP_COMP_NONE ? ce : NULL, NULL};
    if (!(x->headers = pp_egress_headers(fixed, &c->headers))) goto oom;
    x->opts = (pp_egress_opts){.tls = &c->tls, .http_version = CURL_HTTP_VERSION_2TLS};
    pp_exporter_params ep = {.id = p->id, .host = p->host, .cfg = &c->common,
                             .ops = &otlphttp_ops, .ctx = x, .takes_encoded = !x->json};
    pp_exporter *e = pp_exporter_new(&ep, st);
    if (!e) otlphttp_free_ctx(x);
    return e;
oom:
    otlphttp_free_ctx(x);
    pp_fail(st, PP_INTERNAL, "out of memory");
    return NULL;
}

const pp_factory pp_otlphttp_exporter = {
    .kind = PP_EXPORTER,
    .type = "otlphttp",
    .alias = "otlp_http",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(otlphttp_cfg),
    .schema = otlphttp_schema,
    .config_defaults = otlphttp_defaults,
    .config_validate = otlphttp_validate,
    .create = otlphttp_create,
    .start = pp_exporter_start,
    .consumer = pp_exporter_consumer,
    .shutdown = pp_exporter_shutdown,
    .destroy = pp_exporter_destroy,
};
