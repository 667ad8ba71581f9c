/* Unit tests: the otlphttp exporter end to end against a scripted
 * libmicrohttpd server on 127.0.0.1: 200 with partial success, 503 with
 * Retry-After, 400 with a Status message, 413 then OK on the halves, JSON
 * encoding. Asserts what arrived and what was counted. */
#include "testutil.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "compress.h"
#include "config.h"
#include "drops.h"
#include "egress.h"
#include "otlp_json.h"
#include "service.h"
#include "testutil_mhd.h"
#include "testutil_world.h"

#define MS 1000000LL

/* ---- the scripted server ---- */

typedef struct reply { unsigned code; const char *retry_after; const char *body; const char *ctype; } reply;

static struct {
    pthread_mutex_t lock;
    reply script[8];
    int nscript, next;
    size_t too_large_over;
    int requests;
    size_t accepted, seen;
    char path[64], ctype[64], encoding[32], auth[64];
} S;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls) {
    (void)cls, (void)method, (void)version;
    tu_upload *u = tu_mhd_collect(con_cls, data, size);
    if (!u) return MHD_YES;
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    const char *au = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pp_compression comp = PP_COMP_NONE;
    uint8_t *plain = NULL;
    size_t plen = 0;
    pp_compression_parse(ce, &comp);
    pp_decompress(comp, (uint8_t *)u->buf, u->len, 64u << 20, &plain, &plen);
    pp_signal sig = strstr(url, "metrics") ? PP_METRICS : PP_TRACES;
    pp_status st;
    bool json = ct && !strcmp(ct, "application/json");
    pp_batch *b = !plain ? NULL
                  : json ? pp_otlp_json_decode(sig, (const char *)plain, plen, &st)
                         : pp_batch_decode(sig, plain, plen, &st);
    free(plain);
    size_t items = b ? b->items : 0;
    if (b) pp_batch_unref(b);

    pthread_mutex_lock(&S.lock);
    S.requests++;
    S.seen += items;
    snprintf(S.path, sizeof(S.path), "%s", url);
    snprintf(S.ctype, sizeof(S.ctype), "%s", ct ? ct : "");
    snprintf(S.encoding, sizeof(S.encoding), "%s", ce ? ce : "");
    snprintf(S.auth, sizeof(S.auth), "%s", au ? au : "");
    reply r = {200, NULL, "", "application/x-protobuf"};
    if (!b) r = (reply){400, NULL, "undecodable", "text/plain"};
    else if (S.too_large_over && items > S.too_large_over) r = (reply){413, NULL, "", "text/plain"};
    else if (S.next < S.nscript) r = S.script[S.next++];
    if (r.code == 200) S.accepted += items;
    pthread_mutex_unlock(&S.lock);

    /* A body given as "partial:N" becomes a protobuf partial_success of N. */
    uint8_t pbuf[128];
    const void *body = r.body;
    size_t blen = strlen(r.body);
    if (!strncmp(r.body, "partial:", 8)) {
        Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps;
        opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&ps);
        ps.rejected_spans = atoi(r.body + 8);
        ps.error_message = (char *)(uintptr_t)"too old";
        pp_traces_resp resp;
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&resp);
        resp.partial_success = &ps;
        blen = opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp, pbuf);
        body = pbuf;
        pthread_mutex_lock(&S.lock);
        S.accepted -= (size_t)ps.rejected_spans;
        pthread_mutex_unlock(&S.lock);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(blen, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", r.ctype);
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

static void say(unsigned code, const char *retry_after, const char *body, const char *ctype) {
    S.script[S.nscript++] = (reply){code, retry_after, body, ctype};
}

/* ---- service with a fake receiver ---- */

static tu_recv *the_recv;

/* A service: the fake receiver feeding the exporter under test, started. */
static tu_world *world_new(uint16_t port, const char *extra) {
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "receivers: {tu_recv: }\n"
             "exporters:\n"
             "  otlphttp:\n"
             "    endpoint: http://127.0.0.1:%u/\n"
             "    headers: {authorization: Bearer s3cret}\n"
             "    timeout: 2s\n"
             "    retry_on_failure: {initial_interval: 10ms, max_interval: 50ms}\n"
             "%s"
             "service:\n  pipelines:\n"
             "    traces: {receivers: [tu_recv], exporters: [otlphttp]}\n",
             port, extra);
    tu_world *w = tu_world_new(yaml);
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    the_recv = pp_service_instance(w->svc, PP_RECEIVER, "tu_recv", NULL);
    assert_non_null(the_recv);
    return w;
}

static void world_free(tu_world *w) { tu_world_free(w); }

static void send_spans(size_t n) {
    pp_batch *b = tu_make_traces(1, 1, n, (uint32_t)n);
    pp_status st = {0};
    assert_int_equal(tu_recv_push(the_recv, b, &st), 0);
    pp_batch_unref(b);
}

static uint64_t counter(tu_world *w, const char *name) {
    const char *l[] = {"exporter", "otlphttp", NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, name, "", l));
}
static uint64_t dropped(tu_world *w, const char *reason) {
    return pp_counter_value(pp_drops_counter(w->host.metrics, "exporter/otlphttp", PP_TRACES, reason));
}
static void await_counter(tu_world *w, const char *name, uint64_t n) {
    for (int i = 0; i < 5000 && counter(w, name) < n; i++) tu_sleep_ms(1);
}

static void test_ok_proto_and_json(void **state) {
    (void)state;
    const char *enc[] = {"proto", "json"};
    const char *ctype[] = {"application/x-protobuf", "application/json"};
    for (int i = 0; i < 2; i++) {
        uint16_t port;
        struct MHD_Daemon *d = server_start(&port);
        char extra[64];
        snprintf(extra, sizeof(extra), "    encoding: %s\n", enc[i]);
        tu_world *w = world_new(port, extra);
        for (int k = 0; k < 4; k++) send_spans(5);
        await_counter(w, "otelcol_exporter_sent_spans", 20);
        world_free(w);
        MHD_stop_daemon(d);
        assert_int_equal(S.accepted, 20);
        assert_int_equal(S.requests, 4);
        assert_string_equal(S.path, "/v1/traces");
        assert_string_equal(S.ctype, ctype[i]);
        assert_string_equal(S.encoding, "gzip");
        assert_string_equal(S.auth, "Bearer s3cret");
    }
}

static void test_partial_success(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    say(200, NULL, "partial:4", "application/x-protobuf");
    tu_world *w = world_new(port, "");
    send_spans(10);
    await_counter(w, "otelcol_exporter_send_failed_spans", 4);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 6);
    assert_int_equal(counter(w, "otelcol_exporter_send_failed_spans"), 4);
    world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.requests, 1);
    assert_int_equal(S.accepted, 6);
}

static void test_503_retry_after(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    say(503, "1", "busy", "text/plain");
    tu_world *w = world_new(port, "");
    int64_t t0 = tu_mono_ns();
    send_spans(7);
    await_counter(w, "otelcol_exporter_sent_spans", 7);
    int64_t took = tu_mono_ns() - t0;
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 7);
    assert_int_equal(counter(w, "pipit_exporter_retries"), 1);
    /* Retry-After: 1 beats the 10ms backoff. */
    assert_true(took >= 900 * MS && took < 4000 * MS);
    world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.requests, 2);
    assert_int_equal(S.accepted, 7);
}

static void test_400_permanent_with_status_message(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    say(400, NULL, "{\"code\":3,\"message\":\"span 2: bad trace id\"}", "application/json");
    say(500, NULL, "boom", "text/plain"); /* 500 is not retried either */
    tu_world *w = world_new(port, "    sending_queue: {num_consumers: 1}\n");
    send_spans(3);
    send_spans(4);
    for (int i = 0; i < 3000 && dropped(w, "permanent_error") < 7; i++) tu_sleep_ms(1);
    assert_int_equal(dropped(w, "permanent_error"), 7);
    assert_int_equal(counter(w, "otelcol_exporter_send_failed_spans"), 7);
    assert_int_equal(counter(w, "pipit_exporter_retries"), 0);
    world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.requests, 2);
}

static void test_413_then_ok_on_halves(void **state) {
    (void)state;
    uint16_t port;
    struct MHD_Daemon *d = server_start(&port);
    S.too_large_over = 6;
    tu_world *w = world_new(port, "");
    send_spans(12);
    await_counter(w, "otelcol_exporter_sent_spans", 12);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 12);
    assert_int_equal(dropped(w, "too_large"), 0);
    world_free(w);
    MHD_stop_daemon(d);
    assert_int_equal(S.requests, 3);
    assert_int_equal(S.accepted, 12);
}

static void test_retry_after_parsing(void **state) {
    (void)state;
    assert_int_equal(pp_parse_retry_after("3", 0), 3000 * MS);
    assert_int_equal(pp_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000 * MS);
    assert_int_equal(pp_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
    assert_int_equal(pp_parse_retry_after("soon", 0), 0);
    assert_int_equal(pp_parse_retry_after(NULL, 0), 0);
}

static int setup(void **state) {
    (void)state;
    tu_world_register_fakes();
    pthread_mutex_init(&S.lock, NULL);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after_parsing),
        cmocka_unit_test(test_ok_proto_and_json),
        cmocka_unit_test(test_partial_success),
        cmocka_unit_test(test_503_retry_after),
        cmocka_unit_test(test_400_permanent_with_status_message),
        cmocka_unit_test(test_413_then_ok_on_halves),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
