/* test_prw_exporter.c -- the prometheusremotewrite exporter end to end
 * against a scripted libmicrohttpd remote-write receiver on 127.0.0.1: the
 * required headers, snappy'd WriteRequest bodies, 400 dropped and counted
 * (never retried, the receiver's text logged), 503 retried, 429 with
 * Retry-After, per-series timestamp order across shards and retries, delta
 * points, and the config checks. */
#include "testutil.h"

#include <microhttpd.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "drops.h"
#include "exporters/prometheusremotewrite/prw_translate.h"
#include "log.h"
#include "service.h"
#include "testutil_mhd.h"
#include "testutil_world.h"

#define MS 1000000LL
#define MAX_SERIES 256

/* ---- the scripted receiver ---- */

typedef struct reply { unsigned code; const char *retry_after; const char *body; } reply;

static struct {
    pthread_mutex_t lock;
    reply script[8];
    int nscript, next;
    int fail_every; /* > 0: every n-th request is answered 503 */
    int requests, undecodable;
    size_t samples; /* in requests answered 2xx */
    char ctype[64], encoding[32], version[32], agent[64], tenant[32];
    /* per series (by label hash): the last timestamp taken, and misorders */
    uint64_t hash[MAX_SERIES];
    int64_t last_ts[MAX_SERIES];
    double last_value[MAX_SERIES];
    size_t nseries;
    int misordered;
    char log[2048];
} S;

static void copy_hdr(struct MHD_Connection *c, const char *name, char *out, size_t n) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(out, n, "%s", v ? v : "");
}

/* Records the samples of an accepted request; caller holds S.lock. */
static void take(const Prometheus__WriteRequest *wr) {
    for (size_t i = 0; i < wr->n_timeseries; i++) {
        const Prometheus__TimeSeries *ts = wr->timeseries[i];
        uint64_t h = pp_prw_series_hash(ts);
        size_t k = 0;
        while (k < S.nseries && S.hash[k] != h) k++;
        if (k == S.nseries && S.nseries < MAX_SERIES) {
            S.hash[S.nseries] = h;
            S.last_ts[S.nseries++] = INT64_MIN;
        }
        for (size_t j = 0; j < ts->n_samples && k < S.nseries; j++) {
            if (ts->samples[j]->timestamp <= S.last_ts[k]) S.misordered++;
            S.last_ts[k] = ts->samples[j]->timestamp;
            S.last_value[k] = ts->samples[j]->value;
        }
        S.samples += ts->n_samples;
    }
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls) {
    (void)cls, (void)url, (void)method, (void)version;
    tu_upload *u = tu_mhd_collect(con_cls, data, size);
    if (!u) return MHD_YES;
    size_t n = 0;
    char *plain = NULL;
    Prometheus__WriteRequest *wr = NULL;
    if (u->len && snappy_uncompressed_length(u->buf, u->len, &n) == SNAPPY_OK && (plain = malloc(n + 1)) &&
        snappy_uncompress(u->buf, u->len, plain, &n) == SNAPPY_OK)
        wr = prometheus__write_request__unpack(NULL, n, (uint8_t *)plain);
    free(plain);

    pthread_mutex_lock(&S.lock);
    S.requests++;
    copy_hdr(c, "Content-Type", S.ctype, sizeof(S.ctype));
    copy_hdr(c, "Content-Encoding", S.encoding, sizeof(S.encoding));
    copy_hdr(c, "X-Prometheus-Remote-Write-Version", S.version, sizeof(S.version));
    copy_hdr(c, "User-Agent", S.agent, sizeof(S.agent));
    copy_hdr(c, "X-Scope-OrgID", S.tenant, sizeof(S.tenant));
    reply r = {200, NULL, ""};
    if (!wr) {
        S.undecodable++;
        r = (reply){400, NULL, "undecodable"};
    } else if (S.next < S.nscript) {
        r = S.script[S.next++];
    } else if (S.fail_every > 0 && S.requests % S.fail_every == 0) {
        r = (reply){503, NULL, "try later"};
    }
    if (wr && r.code / 100 == 2) take(wr);
    pthread_mutex_unlock(&S.lock);
    if (wr) prometheus__write_request__free_unpacked(wr, NULL);

    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(r.body), (void *)(uintptr_t)r.body, MHD_RESPMEM_MUST_COPY);
    if (r.retry_after) MHD_add_response_header(resp, "Retry-After", r.retry_after);
    enum MHD_Result ret = MHD_queue_response(c, r.code, resp);
    MHD_destroy_response(resp);
    return ret;
}

static struct MHD_Daemon *server_start(uint16_t *port) {
    pthread_mutex_destroy(&S.lock);
    memset(&S, 0, sizeof(S));
    pthread_mutex_init(&S.lock, NULL);
    return tu_mhd_start(handler, port);
}

static void say(unsigned code, const char *retry_after, const char *body) {
    S.script[S.nscript++] = (reply){code, retry_after, body};
}

static void log_sink(const char *line, void *arg) {
    (void)arg;
    pthread_mutex_lock(&S.lock);
    if (strstr(line, "refused")) snprintf(S.log, sizeof(S.log), "%s", line);
    pthread_mutex_unlock(&S.lock);
}

/* ---- the service: fake receiver -> prometheusremotewrite ---- */

static tu_recv *the_recv;

static tu_world *world_new(uint16_t port, const char *extra) {
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "receivers: {tu_recv: }\n"
             "exporters:\n"
             "  prometheusremotewrite:\n"
             "    endpoint: http://127.0.0.1:%u/api/v1/write\n"
             "    headers: {X-Scope-OrgID: tenant-7}\n"
             "    timeout: 2s\n"
             "    retry_on_failure: {initial_interval: 10ms, max_interval: 50ms}\n"
             "%s"
             "service:\n  pipelines:\n"
             "    metrics: {receivers: [tu_recv], exporters: [prometheusremotewrite]}\n",
             port, extra);
    tu_world *w = tu_world_new(yaml);
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    the_recv = pp_service_instance(w->svc, PP_RECEIVER, "tu_recv", NULL);
    assert_non_null(the_recv);
    return w;
}

/* n_metrics gauges (one series each) of n_points samples at t0_ms + k. */
static size_t send_gauges(size_t n_metrics, size_t n_points, int64_t t0_ms) {
    pp_batch *b = tu_make_metrics(n_metrics, n_points, 1);
    pp_scope_metrics *sm = b->metrics->resource_metrics[0]->scope_metrics[0];
    for (size_t m = 0; m < sm->n_metrics; m++)
        for (size_t k = 0; k < n_points; k++)
            sm->metrics[m]->gauge->data_points[k]->time_unix_nano = (uint64_t)(t0_ms + (int64_t)k) * 1000000u;
    size_t items = b->items;
    pp_status st = {0};
    assert_int_equal(tu_recv_push(the_recv, b, &st), 0);
    pp_batch_unref(b);
    return items;
}

static uint64_t counter(tu_world *w, const char *name) {
    const char *l[] = {"exporter", "prometheusremotewrite", NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, name, "", l));
}
static uint64_t dropped(tu_world *w, const char *reason) {
    return pp_counter_value(
        pp_drops_counter(w->host.metrics, "exporter/prometheusremotewrite", PP_METRICS, reason));
}
static void await_counter(tu_world *w, const char *name, uint64_t n) {
    for (int i = 0; i < 5000 && counter(w, name) < n; i++) tu_sleep_ms(1);
}

static void test_headers_and_body(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    tu_world *w = world_new(port, "");
    size_t items = send_gauges(12, 3, 1700000000000);
    await_counter(w, "otelcol_exporter_sent_metric_points", items);
    assert_int_equal(counter(w, "otelcol_exporter_sent_metric_points"), 36);
    assert_int_equal(counter(w, "pipit_prw_samples_sent"), 36);
    assert_int_equal(counter(w, "pipit_prw_series_translated"), 12);
    tu_world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.undecodable, 0);
    assert_int_equal(S.samples, 36);
    assert_int_equal(S.nseries, 12);
    assert_true(S.requests >= 2 && S.requests <= 5); /* one per shard used (5 shards) */
    assert_string_equal(S.ctype, "application/x-protobuf");
    assert_string_equal(S.encoding, "snappy");
    assert_string_equal(S.version, "0.1.0");
    assert_string_equal(S.agent, "pipit/" PIPIT_VERSION);
    assert_string_equal(S.tenant, "tenant-7");
    assert_int_equal(S.misordered, 0);
}

static void test_400_dropped_counted_not_retried(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    say(400, NULL, "out of order sample for series {__name__=\"gauge_0\", job=\"svc-1\"}\n");
    pp_log_set_sink(log_sink, NULL);
    tu_world *w = world_new(port, "    remote_write_queue: {num_consumers: 1}\n");
    send_gauges(3, 2, 1700000000000);
    for (int i = 0; i < 3000 && dropped(w, "rejected_400") < 6; i++) tu_sleep_ms(1);
    tu_sleep_ms(100); /* a wrong retry would come within 10-50 ms */
    assert_int_equal(dropped(w, "rejected_400"), 6);
    assert_int_equal(counter(w, "pipit_prw_samples_rejected"), 6);
    assert_int_equal(counter(w, "otelcol_exporter_send_failed_metric_points"), 6);
    assert_int_equal(counter(w, "otelcol_exporter_sent_metric_points"), 0);
    assert_int_equal(counter(w, "pipit_exporter_retries"), 0);
    assert_int_equal(dropped(w, "permanent_error"), 0);
    /* The next batch goes through: a 400 does not stop the exporter. */
    send_gauges(3, 2, 1700000001000);
    await_counter(w, "otelcol_exporter_sent_metric_points", 6);
    assert_int_equal(counter(w, "otelcol_exporter_sent_metric_points"), 6);
    tu_world_free(w);
    pp_log_set_sink(NULL, NULL);
    MHD_stop_daemon(d);
    assert_int_equal(S.requests, 2);
    assert_non_null(strstr(S.log, "out of order sample for series"));
    assert_non_null(strstr(S.log, "gauge_0"));
}

static void test_503_retried(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    say(503, NULL, "busy");
    say(500, NULL, "internal");
    tu_world *w = world_new(port, "    remote_write_queue: {num_consumers: 1}\n");
    size_t items = send_gauges(4, 2, 1700000000000);
    await_counter(w, "otelcol_exporter_sent_metric_points", items);
    assert_int_equal(counter(w, "otelcol_exporter_sent_metric_points"), 8);
    assert_int_equal(counter(w, "pipit_exporter_retries"), 2);
    assert_int_equal(dropped(w, "rejected_400"), 0);
    tu_world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.requests, 3);
    assert_int_equal(S.samples, 8);
}

static void test_429_retry_after(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    say(429, "1", "slow down");
    tu_world *w = world_new(port, "    remote_write_queue: {num_consumers: 1}\n");
    int64_t t0 = tu_mono_ns();
    size_t items = send_gauges(2, 2, 1700000000000);
    await_counter(w, "otelcol_exporter_sent_metric_points", items);
    int64_t took = tu_mono_ns() - t0;
    assert_int_equal(counter(w, "otelcol_exporter_sent_metric_points"), 4);
    /* Retry-After: 1 beats the 10 ms backoff. */
    assert_true(took >= 900 * MS && took < 4000 * MS);
    tu_world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.requests, 2);
}

/* Many batches of the same series with rising timestamps, four shards in
 * parallel, every third request refused with 503: each series still sees
 * its samples in strictly increasing time order, and all of them arrive. */
static void test_order_across_shards_and_retries(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    S.fail_every = 3;
    tu_world *w = world_new(port, "    remote_write_queue: {num_consumers: 4}\n"
                                  "    max_batch_size_bytes: 1024\n");
    size_t total = 0;
    for (int b = 0; b < 30; b++) total += send_gauges(40, 2, 1700000000000 + b * 10);
    await_counter(w, "otelcol_exporter_sent_metric_points", total);
    assert_int_equal(counter(w, "otelcol_exporter_sent_metric_points"), total);
    assert_true(counter(w, "pipit_exporter_retries") > 0);
    tu_world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.nseries, 40);
    assert_int_equal(S.samples, total);
    assert_int_equal(S.misordered, 0);
}

/* Delta sums: turned into cumulative series by the exporter's own
 * delta-to-cumulative state (two batches: 3 then 4 -> 3 then 7); a delta
 * point older than the series' total is dropped and counted. */
static void push_delta(uint64_t t_ns, double v) {
    pp_batch *b = tu_make_metrics(2, 1, 1);
    pp_scope_metrics *sm = b->metrics->resource_metrics[0]->scope_metrics[0];
    for (size_t m = 0; m < 2; m++) {
        pp_metric *mt = sm->metrics[m];
        pp_number_point *p = mt->gauge->data_points[0];
        p->time_unix_nano = t_ns;
        p->start_time_unix_nano = t_ns - 1000000000ull;
        p->as_double = v;
        Opentelemetry__Proto__Metrics__V1__Sum *s = pp_arena_alloc(b->arena, sizeof(*s));
        opentelemetry__proto__metrics__v1__sum__init(s);
        s->aggregation_temporality = OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
        s->is_monotonic = true;
        s->n_data_points = 1;
        s->data_points = mt->gauge->data_points;
        mt->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
        mt->sum = s;
    }
    pp_status st = {0};
    assert_int_equal(tu_recv_push(the_recv, b, &st), 0);
    pp_batch_unref(b);
}

static void test_delta_points(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    tu_world *w = world_new(port, "    remote_write_queue: {num_consumers: 1}\n");
    push_delta(1700000000000000000ull, 3);
    push_delta(1700000001000000000ull, 4);
    await_counter(w, "otelcol_exporter_sent_metric_points", 4);
    assert_int_equal(counter(w, "otelcol_exporter_sent_metric_points"), 4);
    assert_int_equal(counter(w, "pipit_prw_delta_converted"), 4);
    push_delta(1700000000500000000ull, 5); /* older than the totals: out of order */
    for (int i = 0; i < 2000 && dropped(w, "delta_out_of_order") < 2; i++) tu_sleep_ms(1);
    assert_int_equal(dropped(w, "delta_out_of_order"), 2);
    assert_int_equal(dropped(w, "delta"), 0);
    tu_world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.nseries, 2);
    assert_int_equal(S.samples, 4);
    assert_int_equal(S.misordered, 0);
    for (size_t k = 0; k < 2; k++) {
        assert_true(S.last_value[k] == 7.0);
        assert_int_equal(S.last_ts[k], 1700000001000);
    }
}

static size_t check(const char *yaml, size_t *warnings) {
    pp_diag d;
    pp_diag_init(&d);
    size_t errors = tu_comp_check(PP_EXPORTER, "prometheusremotewrite", yaml, &d);
    if (warnings) *warnings = d.warnings;
    pp_diag_free(&d);
    return errors;
}

static void test_config(void **state) {
    (void)state;
    size_t warn = 0;
    assert_int_equal(check("endpoint: http://127.0.0.1:9090/api/v1/write\n", &warn), 0);
    assert_int_equal(warn, 0);
    assert_int_equal(check("timeout: 5s\n", NULL), 1); /* endpoint is required */
    assert_int_equal(check("endpoint: 127.0.0.1:9090\n", NULL), 1);
    assert_int_equal(check("endpoint: http://h/w\nheaders: {Content-Encoding: gzip}\n", NULL), 1);
    assert_int_equal(check("endpoint: http://h/w\nexternal_labels: {9lives: x}\n", NULL), 1);
    assert_int_equal(check("endpoint: http://h/w\nexternal_labels: {cluster: \"\"}\n", NULL), 1);
    assert_int_equal(check("endpoint: http://h/w\nexternal_labels: {cluster: eu}\n", NULL), 0);
    assert_int_equal(check("endpoint: http://h/w\ncompression: gzip\n", NULL), 1);
    assert_int_equal(check("endpoint: http://h/w\nwal: {directory: /tmp/wal}\n", &warn), 0);
    assert_int_equal(warn, 1);
    assert_int_equal(check("endpoint: http://h/w\nremote_write_queue: {num_consumers: 0}\n", NULL), 1);
    assert_int_equal(check("endpoint: http://h/w\nresource_to_telemetry_conversion: {enabled: true}\n"
                           "target_info: {enabled: false}\nexport_created_metric: {enabled: true}\n"
                           "send_metadata: true\nadd_metric_suffixes: false\nnamespace: app\n"
                           "max_batch_size_bytes: 100000\n", NULL), 0);
}

static int setup(void **state) {
    (void)state;
    tu_world_register_fakes();
    pthread_mutex_init(&S.lock, NULL);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_headers_and_body),
        cmocka_unit_test(test_400_dropped_counted_not_retried),
        cmocka_unit_test(test_503_retried),
        cmocka_unit_test(test_429_retry_after),
        cmocka_unit_test(test_order_across_shards_and_retries),
        cmocka_unit_test(test_delta_points),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
