/* prw_exporter.c -- the `prometheusremotewrite` exporter: OTLP metrics to a
 * Prometheus remote-write 1.0 receiver.
 *
 * encode (on the receiver's thread, once per batch): delta -> cumulative
 * (prw_delta), OTLP -> WriteRequest (prw_translate), then series sharded by
 * label hash into num_consumers ordered shards and cut into snappy'd bodies of
 * at most max_batch_size_bytes (prw_encode). Each body carries its shard, so
 * the exporter queue (agent/exporter.c) sends one body per shard at a time,
 * in order, retries included: samples of a series reach the receiver in
 * timestamp order.
 * send (consumer threads): one POST per body with the remote-write headers;
 * the answer is judged by prw_response: 2xx delivered, 5xx/429 retried, 400
 * counted as rejected (never retried) with the receiver's text in the log,
 * other 4xx permanent. A 413 is permanent too: bodies are already bounded and
 * the queue's halving would resend other shards' series.
 *
 * Telemetry (label exporter=<id>) besides the exporter queue's:
 * pipit_prw_samples_sent / _histograms_sent / _exemplars_sent / _series_sent
 * (in delivered bodies), pipit_prw_samples_rejected (in bodies answered 400),
 * pipit_prw_series_translated, pipit_prw_delta_converted,
 * pipit_prw_labels_dropped (attributes whose name normalizes to nothing), and
 * pipit_dropped_items{reason} for points the translation could not take. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drops.h"
#include "egress.h"
#include "exporter.h"
#include "log.h"
#include "prw_config.h"
#include "prw_delta.h"
#include "prw_encode.h"
#include "prw_response.h"
#include "prw_translate.h"

/* Why points are dropped before sending (pipit_dropped_items reasons). */
enum {
    D_DELTA, D_TEMPORALITY, D_NO_TIME, D_SCALE, D_NO_SUM, D_INVALID, D_NAME, D_OUT_OF_ORDER,
    D_REJECTED, D_COUNT
};
static const char *const drop_reasons[D_COUNT] = {
    "delta", "unspecified_temporality", "no_timestamp", "exp_histogram_scale",
    "exp_histogram_no_sum", "invalid_point", "invalid_metric_name", "delta_out_of_order",
    "rejected_400"};

typedef struct prw_exp {
    const pp_prw_cfg *cfg;
    pp_exporter_cfg eff; /* what the queue uses (remote_write_queue applied) */
    pp_prw_options opts;
    size_t nshards;
    struct curl_slist *headers;
    pp_egress_opts eopts;
    pp_prw_delta *delta;
    char component[192];
    atomic_bool warned_delta;
    pp_counter *drops[D_COUNT];
    pp_counter *samples_sent, *histograms_sent, *exemplars_sent, *series_sent, *samples_rejected;
    pp_counter *series_translated, *delta_converted, *labels_dropped;
} prw_exp;

static void account(prw_exp *x, const pp_prw_stats *t, const pp_prw_delta_stats *d) {
    const size_t by_reason[D_COUNT] = {
        [D_DELTA] = t->dropped_delta, [D_TEMPORALITY] = t->dropped_temporality,
        [D_NO_TIME] = t->dropped_no_time, [D_SCALE] = t->dropped_scale,
        [D_NO_SUM] = t->dropped_no_sum, [D_INVALID] = t->dropped_invalid,
        [D_NAME] = t->dropped_name, [D_OUT_OF_ORDER] = d->out_of_order};
    for (int i = 0; i < D_COUNT; i++) pp_counter_add(x->drops[i], by_reason[i]);
    pp_counter_add(x->series_translated, t->series);
    pp_counter_add(x->delta_converted, d->converted);
    pp_counter_add(x->labels_dropped, t->dropped_labels);
    if (t->dropped_delta > 0 && !atomic_exchange(&x->warned_delta, true)) {
        char n[24];
        snprintf(n, sizeof(n), "%zu", t->dropped_delta);
        pp_log_warn(x->component,
                    "delta points dropped: more delta series than delta_to_cumulative.max_streams",
                    "points", n, NULL);
    }
}

static size_t dropped_points(const pp_prw_stats *t, const pp_prw_delta_stats *d) {
    return t->dropped_delta + t->dropped_temporality + t->dropped_no_time + t->dropped_scale +
           t->dropped_no_sum + t->dropped_invalid + t->dropped_name + d->out_of_order;
}

static pp_export_request *prw_encode_batch(void *ctx, pp_batch *b, pp_status *st) {
    prw_exp *x = ctx;
    if (b->signal != PP_METRICS) {
        pp_fail(st, PP_INVALID, "%s takes metrics only", x->component);
        return NULL;
    }
    pp_batch *cb = NULL;
    pp_prw_delta_stats ds = {0};
    pp_prw_stats ts = {0};
    pp_prw_part *parts = NULL;
    pp_arena *a = NULL;
    if (pp_prw_delta_convert(x->delta, b, &cb, &ds) != 0) goto oom;
    a = pp_arena_new(pp_arena_used(cb->arena) * 2 + 4096);
    const uint64_t *hashes = NULL;
    Prometheus__WriteRequest *wr = a ? pp_prw_translate_hashed(cb->metrics, &x->opts, a, &ts, &hashes) : NULL;
    if (!wr) goto oom;
    account(x, &ts, &ds);
    size_t lost = dropped_points(&ts, &ds);
    size_t points = b->items > lost ? b->items - lost : 0;
    if (pp_prw_encode_hashed(wr, hashes, x->nshards, (size_t)x->cfg->max_batch_size_bytes, points, &parts) != 0)
        goto oom;
    pp_arena_destroy(a);
    a = NULL;
    pp_batch_unref(cb);
    cb = NULL;

    pp_export_request *head = NULL, **tail = &head;
    if (!parts) {
        /* Nothing left to send (every point dropped and counted): an empty
         * request that completes without a POST, so the batch is taken. */
        head = pp_export_request_new(NULL, NULL, 0);
        if (!head) goto oom;
        head->signal = PP_METRICS;
        return head;
    }
    for (pp_prw_part *p = parts; p; p = p->next) {
        pp_export_request *r = pp_export_request_new(NULL, p->body, p->len);
        p->body = NULL; /* taken (or freed) by pp_export_request_new */
        if (!r) {
            for (pp_export_request *q = head, *n; q; q = n) {
                n = q->next;
                pp_export_request_free(q);
            }
            goto oom;
        }
        r->signal = PP_METRICS;
        r->items = p->items;
        r->shard = p->shard;
        *tail = r;
        tail = &r->next;
    }
    pp_prw_parts_free(parts);
    return head;
oom:
    pp_prw_parts_free(parts);
    pp_arena_destroy(a);
    if (cb) pp_batch_unref(cb);
    pp_fail(st, PP_UNAVAILABLE, "%s: out of memory encoding a request", x->component);
    return NULL;
}

static void *prw_conn_new(void *ctx) {
    prw_exp *x = ctx;
    return pp_egress_handle(&x->eopts);
}

static void prw_conn_free(void *ctx, void *conn) {
    (void)ctx;
    pp_egress_handle_free(conn);
}

static void prw_send(void *ctx, void *conn, const pp_export_request *r,
                     const _Atomic int64_t *abort_at, pp_send_result *res) {
    prw_exp *x = ctx;
    if (r->len == 0) { /* see prw_encode_batch: nothing to send */
        pp_send_result_set(res, PP_SEND_OK, "%s", "");
        return;
    }
    pp_prw_counts n;
    const uint8_t *payload;
    size_t plen;
    if (pp_prw_frame_parse(r->body, r->len, &n, &payload, &plen) != 0) {
        pp_send_result_set(res, PP_SEND_PERMANENT, "queued request is not a remote-write frame");
        return;
    }
    if (!conn) {
        pp_send_result_set(res, PP_SEND_RETRY, "no connection handle (out of memory)");
        return;
    }
    pp_egress_resp resp = {.max_body = 64u << 10};
    char err[CURL_ERROR_SIZE + 32];
    CURLcode rc = pp_egress_post(conn, x->cfg->endpoint, x->headers, payload, plen,
                                 x->cfg->timeout_ns, abort_at, &resp, err, sizeof(err));
    if (rc != CURLE_OK) {
        pp_send_result_set(res, PP_SEND_RETRY, "%s", err);
        pp_egress_resp_free(&resp);
        return;
    }
    char text[1024];
    pp_prw_error_text(resp.body, resp.len, text, sizeof(text));
    int64_t delay = 0;
    long code = resp.http_status;
    switch (pp_prw_verdict_of(code, resp.retry_after, (int64_t)time(NULL), &delay)) {
    case PP_PRW_DELIVERED:
        pp_send_result_set(res, PP_SEND_OK, "%s", "");
        pp_counter_add(x->samples_sent, n.samples);
        pp_counter_add(x->histograms_sent, n.histograms);
        pp_counter_add(x->exemplars_sent, n.exemplars);
        pp_counter_add(x->series_sent, n.series);
        break;
    case PP_PRW_RETRY:
        pp_send_result_set(res, PP_SEND_RETRY, "HTTP %ld: %s", code, text);
        res->retry_after_ns = delay;
        break;
    case PP_PRW_REJECTED: {
        /* Some samples were refused (the rest may be stored): resending
         * would be refused again. Counted, logged with the receiver's words
         * (they name the series), and done. */
        char samples[24];
        snprintf(samples, sizeof(samples), "%u", n.samples + n.histograms);
        pp_log_warn(x->component, "remote write refused samples (HTTP 400); not retried", "samples",
                    samples, "error", text, NULL);
        pp_counter_add(x->samples_rejected, n.samples + n.histograms);
        pp_counter_add(x->drops[D_REJECTED], r->items);
        pp_send_result_set(res, PP_SEND_OK, "HTTP 400: %s", text);
        res->rejected = (int64_t)r->items;
        break;
    }
    case PP_PRW_PERMANENT:
        pp_send_result_set(res, PP_SEND_PERMANENT, "HTTP %ld: %s", code, text);
        break;
    }
    pp_egress_resp_free(&resp);
}

static void prw_free_ctx(void *ctx) {
    prw_exp *x = ctx;
    if (!x) return;
    curl_slist_free_all(x->headers);
    pp_prw_delta_free(x->delta);
    free(x);
}

static const pp_exporter_ops prw_ops = {.encode = prw_encode_batch,
                                        .conn_new = prw_conn_new,
                                        .conn_free = prw_conn_free,
                                        .send = prw_send,
                                        .destroy = prw_free_ctx};

static void telemetry(prw_exp *x, pp_metrics *m, const char *id) {
    const char *l[] = {"exporter", id, NULL};
    for (int i = 0; i < D_COUNT; i++)
        x->drops[i] = pp_drops_counter(m, x->component, PP_METRICS, drop_reasons[i]);
    x->samples_sent = pp_counter_get(m, "pipit_prw_samples_sent",
                                     "Float samples in remote-write requests the receiver took.", l);
    x->histograms_sent = pp_counter_get(m, "pipit_prw_histograms_sent",
                                        "Native histogram samples in delivered remote-write requests.", l);
    x->exemplars_sent = pp_counter_get(m, "pipit_prw_exemplars_sent",
                                       "Exemplars in delivered remote-write requests.", l);
    x->series_sent = pp_counter_get(m, "pipit_prw_series_sent",
                                    "Series in delivered remote-write requests (once per request).", l);
    x->samples_rejected = pp_counter_get(m, "pipit_prw_samples_rejected",
                                         "Samples in remote-write requests answered 400 (not retried).", l);
    x->series_translated = pp_counter_get(m, "pipit_prw_series_translated",
                                          "Series produced by the OTLP translation (per batch).", l);
    x->delta_converted = pp_counter_get(m, "pipit_prw_delta_converted",
                                        "Delta points converted to cumulative before sending.", l);
    x->labels_dropped = pp_counter_get(m, "pipit_prw_labels_dropped",
                                       "Attributes left out because their name normalizes to nothing.", l);
}

static void *prw_create(const pp_create_params *p, pp_status *st) {
    const pp_prw_cfg *c = p->config;
    prw_exp *x = calloc(1, sizeof(*x));
    if (!x) goto oom;
    x->cfg = c;
    snprintf(x->component, sizeof(x->component), "exporter/%s", p->id);
    pp_prw_cfg_effective(c, &x->eff);
    x->nshards = (size_t)x->eff.sending_queue.num_consumers;
    pp_prw_options_default(&x->opts);
    x->opts.namespace_ = c->namespace_;
    x->opts.add_metric_suffixes = c->add_metric_suffixes;
    x->opts.resource_to_telemetry_conversion = c->resource_to_telemetry_conversion.enabled;
    x->opts.target_info = c->target_info.enabled;
    x->opts.scope_labels = c->scope_labels;
    x->opts.send_metadata = c->send_metadata;
    x->opts.export_created_metric = c->export_created_metric.enabled;
    x->opts.external_labels = &c->external_labels;
    const char *fixed[] = {"Content-Encoding: snappy", "Content-Type: application/x-protobuf",
                           "X-Prometheus-Remote-Write-Version: 0.1.0",
                           "User-Agent: pipit/" PIPIT_VERSION, "Expect:", NULL};
    if (!(x->headers = pp_egress_headers(fixed, &c->headers))) goto oom;
    bool https = !strncmp(c->endpoint, "https://", 8);
    x->eopts = (pp_egress_opts){.tls = c->tls_present || https ? &c->tls : NULL,
                                .http_version = CURL_HTTP_VERSION_2TLS};
    if (!(x->delta = pp_prw_delta_new(c->delta.max_stale_ns, (size_t)c->delta.max_streams))) goto oom;
    telemetry(x, p->host->metrics, p->id);
    pp_exporter_params ep = {.id = p->id, .host = p->host, .cfg = &x->eff, .ops = &prw_ops, .ctx = x};
    pp_exporter *e = pp_exporter_new(&ep, st);
    if (!e) prw_free_ctx(x);
    return e;
oom:
    prw_free_ctx(x);
    pp_fail(st, PP_INTERNAL, "out of memory");
    return NULL;
}

const pp_factory pp_prometheusremotewrite_exporter = {
    .kind = PP_EXPORTER,
    .type = "prometheusremotewrite",
    .signals = PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(pp_prw_cfg),
    .schema = pp_prw_schema,
    .config_defaults = pp_prw_cfg_defaults,
    .config_validate = pp_prw_cfg_validate,
    .create = prw_create,
    .start = pp_exporter_start,
    .consumer = pp_exporter_consumer,
    .shutdown = pp_exporter_shutdown,
    .destroy = pp_exporter_destroy,
};
