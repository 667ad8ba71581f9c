/* sentry_exporter.c -- the `sentry` exporter: traces to Sentry.
 *
 * mode: envelope (default) maps each batch with sentry_map into transaction
 * and error items and queues one envelope per event (built once, without
 * sent_at, so that the queued bytes can be stored as they are); each attempt
 * stamps sent_at and compresses (sentry_send.c). mode: otlp forwards the
 * spans untransformed as OTLP/HTTP protobuf to Sentry's OTLP endpoint (span
 * events, so exceptions, do not become issues that way; WIRE-SPECS 4.9).
 *
 * Rate limits: every answer's X-Sentry-Rate-Limits and a 429's Retry-After
 * set per-category deadlines; the exporter machinery asks pp_sentry_sender_hold
 * before each send and puts requests of a limited type aside (still queued)
 * while the other type keeps flowing (exporter.h, "Holds"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress.h"
#include "exporter.h"
#include "exporters/otlphttp/otlphttp_wire.h"
#include "log.h"
#include "sentry_dsn.h"
#include "sentry_envelope.h"
#include "sentry_map.h"
#include "sentry_send.h"
#include "tls_config.h"

#define SEC 1000000000LL

typedef struct sentry_cfg {
    char *dsn;
    char *environment;
    char *release;
    char *mode;
    char *compression;
    int64_t timeout_ns;
    bool insecure_skip_verify;
    pp_tls_cfg tls;
    bool tls_present;
    pp_exporter_cfg common;
} sentry_cfg;

static const char *const modes[] = {"envelope", "otlp", NULL};
static const char *const compressions[] = {"gzip", "zstd", "none", "", NULL};

static const pp_cfg_field sentry_schema[] = {
    {.key = "dsn", .type = PP_CFG_STRING, .offset = offsetof(sentry_cfg, dsn),
     .flags = PP_CFG_REQUIRED | PP_CFG_SECRET,
     .help = "the project's DSN, e.g. ${env:SENTRY_DSN} (secret: never logged)"},
    {.key = "environment", .type = PP_CFG_STRING, .offset = offsetof(sentry_cfg, environment),
     .help = "environment of every event (default: the resource's deployment.environment[.name])"},
    {.key = "release", .type = PP_CFG_STRING, .offset = offsetof(sentry_cfg, release),
     .help = "release of every event (default: the resource's service.version)"},
    {.key = "mode", .type = PP_CFG_ENUM, .offset = offsetof(sentry_cfg, mode), .choices = modes,
     .help = "envelope (default: transactions and error events) or otlp (forward spans)"},
    {.key = "compression", .type = PP_CFG_ENUM, .offset = offsetof(sentry_cfg, compression),
     .choices = compressions, .help = "gzip (default), zstd or none"},
    {.key = "timeout", .type = PP_CFG_DURATION, .offset = offsetof(sentry_cfg, timeout_ns),
     .min = 1, .max = INT64_MAX, .help = "per attempt (default 10s)"},
    {.key = "insecure_skip_verify", .type = PP_CFG_BOOL,
     .offset = offsetof(sentry_cfg, insecure_skip_verify),
     .help = "do not verify the server's certificate (the Collector's sentry key; same as tls.insecure_skip_verify)"},
    {.key = "tls", .type = PP_CFG_STRUCT, .offset = offsetof(sentry_cfg, tls),
     .children = pp_tls_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(sentry_cfg, tls_present)},
    PP_EXPORTER_CFG_FIELDS(sentry_cfg, common),
    {0},
};

static void sentry_defaults(void *cfg) {
    sentry_cfg *c = cfg;
    c->mode = strdup("envelope");
    c->compression = strdup("gzip");
    c->timeout_ns = 10 * SEC;
    pp_exporter_cfg_defaults(&c->common);
}

static size_t sentry_validate(const void *cfg, const char *path, pp_diag *d) {
    const sentry_cfg *c = cfg;
    size_t errors = pp_exporter_cfg_validate(&c->common, path, d);
    char p[512];
    if (c->dsn) {
        pp_sentry_dsn dsn;
        pp_status st = {0};
        if (pp_sentry_dsn_parse(c->dsn, &dsn, &st) != 0) {
            /* The parser's messages never quote the keys. */
            snprintf(p, sizeof(p), "%s.dsn", path);
            pp_diag_error(d, p, 0, "%s", st.msg);
            errors++;
        } else {
            pp_sentry_dsn_free(&dsn);
        }
    }
    snprintf(p, sizeof(p), "%s.tls", path);
    errors += pp_tls_validate(&c->tls, false, p, d);
    return errors;
}

/* ---- the exporter ---- */

typedef struct sentry_exp {
    const sentry_cfg *cfg;
    bool otlp;
    pp_compression comp;
    pp_sentry_dsn dsn;
    pp_sentry_map_options map;
    pp_sentry_sender *sender;
    pp_tls_cfg tls; /* cfg->tls with insecure_skip_verify folded in */
    pp_egress_opts opts;
} sentry_exp;

/* One envelope per event; NULL with st still OK when nothing survived mapping. */
static pp_export_request *encode_envelopes(sentry_exp *x, pp_batch *b, pp_status *st) {
    pp_sentry_items items = {0};
    pp_sentry_map_stats stats = {0};
    if (pp_sentry_map_traces(b->traces, &x->map, &items, &stats) != 0) {
        pp_sentry_items_free(&items);
        pp_fail(st, PP_UNAVAILABLE, "out of memory mapping spans to Sentry events");
        return NULL;
    }
    pp_export_request *head = NULL, **tail = &head;
    for (size_t i = 0; i < items.n; i++) {
        const pp_sentry_item *it = &items.v[i];
        size_t len = 0;
        char *env = pp_sentry_envelope_build(pp_sentry_item_type_name(it->type), it->event_id,
                                             x->dsn.public_dsn, it->json, it->len, &len);
        pp_export_request *r = env ? pp_export_request_new(NULL, (uint8_t *)env, len) : NULL;
        if (!r) {
            for (pp_export_request *q = head, *n; q; q = n) {
                n = q->next;
                pp_export_request_free(q);
            }
            pp_sentry_items_free(&items);
            pp_fail(st, PP_UNAVAILABLE, "out of memory building Sentry envelopes");
            return NULL;
        }
        r->signal = PP_TRACES;
        r->items = it->spans; /* otelcol_exporter_sent_spans counts spans in transactions */
        *tail = r;
        tail = &r->next;
    }
    pp_sentry_sender_count_map(x->sender, &stats);
    pp_sentry_items_free(&items);
    return head;
}

static pp_export_request *sentry_encode(void *ctx, pp_batch *b, pp_status *st) {
    sentry_exp *x = ctx;
    if (x->otlp) return pp_otlphttp_encode(b, false, x->comp, st);
    return encode_envelopes(x, b, st);
}

static void *sentry_conn_new(void *ctx) {
    sentry_exp *x = ctx;
    CURL *c = pp_egress_handle(&x->opts);
    if (c) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    return c;
}

static void sentry_conn_free(void *ctx, void *conn) {
    (void)ctx;
    pp_egress_handle_free(conn);
}

static void sentry_send(void *ctx, void *conn, const pp_export_request *r,
                        const _Atomic int64_t *abort_at, pp_send_result *res) {
    sentry_exp *x = ctx;
    pp_sentry_sender_send(x->sender, conn, r, abort_at, res);
}

static int64_t sentry_hold(void *ctx, const pp_export_request *r, bool first) {
    sentry_exp *x = ctx;
    return pp_sentry_sender_hold(x->sender, r, first);
}

static void sentry_dropped(void *ctx, const pp_export_request *r, const char *reason) {
    sentry_exp *x = ctx;
    pp_sentry_sender_dropped(x->sender, r, reason);
}

static void sentry_free_ctx(void *ctx) {
    sentry_exp *x = ctx;
    if (!x) return;
    pp_sentry_sender_free(x->sender);
    pp_sentry_dsn_free(&x->dsn);
    free(x);
}

static const pp_exporter_ops sentry_ops = {.encode = sentry_encode,
                                           .conn_new = sentry_conn_new,
                                           .conn_free = sentry_conn_free,
                                           .send = sentry_send,
                                           .destroy = sentry_free_ctx,
                                           .hold = sentry_hold,
                                           .dropped = sentry_dropped};

/* The sender: URL and headers for the mode. 0, or -1 when out of memory. */
static int make_sender(sentry_exp *x, const char *id, const char *component, pp_metrics *m) {
    char auth[512], ce[64];
    snprintf(ce, sizeof(ce), "Content-Encoding: %s", pp_compression_name(x->comp));
    if (x->otlp) snprintf(auth, sizeof(auth), "x-sentry-auth: %s", x->dsn.otlp_auth_header);
    else snprintf(auth, sizeof(auth), "X-Sentry-Auth: %s", x->dsn.auth_header);
    const char *fixed[] = {x->otlp ? "Content-Type: application/x-protobuf"
                                   : "Content-Type: application/x-sentry-envelope",
                           auth, "Expect:", x->comp != PP_COMP_NONE ? ce : NULL, NULL};
    struct curl_slist *h = pp_egress_headers(fixed, NULL);
    if (!h) return -1;
    pp_sentry_sender_cfg sc = {.component = component, .id = id,
                               .url = x->otlp ? x->dsn.otlp_traces_url : x->dsn.envelope_url,
                               .otlp = x->otlp, .comp = x->comp, .timeout_ns = x->cfg->timeout_ns};
    x->sender = pp_sentry_sender_new(&sc, h, m);
    return x->sender ? 0 : -1;
}

static void *sentry_create(const pp_create_params *p, pp_status *st) {
    const sentry_cfg *c = p->config;
    sentry_exp *x = calloc(1, sizeof(*x));
    if (!x) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    x->cfg = c;
    x->otlp = !strcmp(c->mode, "otlp");
    pp_compression_parse(c->compression, &x->comp);
    if (pp_sentry_dsn_parse(c->dsn, &x->dsn, st) != 0) {
        free(x);
        return NULL;
    }
    x->map = (pp_sentry_map_options){.environment = c->environment, .release = c->release};
    x->tls = c->tls;
    x->tls.insecure_skip_verify = c->tls.insecure_skip_verify || c->insecure_skip_verify;
    x->opts = (pp_egress_opts){.tls = &x->tls, .http_version = CURL_HTTP_VERSION_2TLS};
    char component[192], url[512];
    snprintf(component, sizeof(component), "exporter/%s", p->id);
    if (make_sender(x, p->id, component, p->host->metrics) != 0) {
        sentry_free_ctx(x);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    pp_redact_url(x->otlp ? x->dsn.otlp_traces_url : x->dsn.envelope_url, url, sizeof(url));
    pp_log_info(component, "sending to Sentry", "url", url, "mode", c->mode, "project",
                x->dsn.project_id, NULL);
    pp_exporter_params ep = {.id = p->id, .host = p->host, .cfg = &c->common, .ops = &sentry_ops,
                             .ctx = x};
    pp_exporter *e = pp_exporter_new(&ep, st);
    if (!e) sentry_free_ctx(x);
    return e;
}

const pp_factory pp_sentry_exporter = {
    .kind = PP_EXPORTER,
    .type = "sentry",
    .signals = PP_SIG_BIT(PP_TRACES),
    .config_size = sizeof(sentry_cfg),
    .schema = sentry_schema,
    .config_defaults = sentry_defaults,
    .config_validate = sentry_validate,
    .create = sentry_create,
    .start = pp_exporter_start,
    .consumer = pp_exporter_consumer,
    .shutdown = pp_exporter_shutdown,
    .destroy = pp_exporter_destroy,
};
