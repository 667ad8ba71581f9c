/* test_telemetry.c -- the metrics registry, its exposition and the metrics server. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_endpoint.h"
#include "metrics_server.h"
#include "telemetry_internal.h"
#include "testutil.h"

static void test_render_exact(void **state) {
    (void)state;
    pp_metrics *m = pp_metrics_new();
    const char *help = "Number of spans successfully pushed into the pipeline.";
    /* Registered http first and with labels in another order: output is sorted. */
    pp_counter *http = pp_counter_get(m, "otelcol_receiver_accepted_spans", help,
                                      (const char *[]){"transport", "http", "receiver", "otlp", NULL});
    pp_counter *grpc = pp_counter_get(m, "otelcol_receiver_accepted_spans", help,
                                      (const char *[]){"receiver", "otlp", "transport", "grpc", NULL});
    pp_counter_add(grpc, 5);
    pp_counter_add(http, 2);
    pp_gauge *q = pp_gauge_get(m, "otelcol_exporter_queue_size",
                               "Current size of the retry queue (in batches)",
                               (const char *[]){"exporter", "otlp/jaeger", NULL});
    pp_gauge_set(q, 7);
    pp_gauge_add(q, -2);
    pp_gauge_set(pp_gauge_get(m, "pipit_test_escape", "line1\nback\\slash \"q\"",
                              (const char *[]){"v", "a\"b\\c\nd", NULL}),
                 -3);
    static const double bounds[] = {0.005, 1, 2.5, 1e6};
    pp_histogram *h = pp_histogram_get(m, "pipit_export_latency_seconds", "Export latency.", bounds,
                                       4, NULL);
    pp_histogram_observe(h, 0.005); /* a bound belongs to its own bucket */
    pp_histogram_observe(h, 1.5);
    pp_histogram_observe(h, 3);
    pp_histogram_observe(h, 2e6);
    size_t len;
    char *text = pp_metrics_render(m, &len);
    const char *want =
        "# HELP otelcol_exporter_queue_size Current size of the retry queue (in batches)\n"
        "# TYPE otelcol_exporter_queue_size gauge\n"
        "otelcol_exporter_queue_size{exporter=\"otlp/jaeger\"} 5\n"
        "# HELP otelcol_receiver_accepted_spans_total Number of spans successfully pushed into the pipeline.\n"
        "# TYPE otelcol_receiver_accepted_spans_total counter\n"
        "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 5\n"
        "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"http\"} 2\n"
        "# HELP pipit_export_latency_seconds Export latency.\n"
        "# TYPE pipit_export_latency_seconds histogram\n"
        "pipit_export_latency_seconds_bucket{le=\"0.005\"} 1\n"
        "pipit_export_latency_seconds_bucket{le=\"1\"} 1\n"
        "pipit_export_latency_seconds_bucket{le=\"2.5\"} 2\n"
        "pipit_export_latency_seconds_bucket{le=\"1e+06\"} 3\n"
        "pipit_export_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "pipit_export_latency_seconds_sum 2.000004505e+06\n"
        "pipit_export_latency_seconds_count 4\n"
        "# HELP pipit_test_escape line1\\nback\\\\slash \"q\"\n"
        "# TYPE pipit_test_escape gauge\n"
        "pipit_test_escape{v=\"a\\\"b\\\\c\\nd\"} -3\n";
    assert_string_equal(text, want);
    assert_int_equal(len, strlen(want));
    free(text);
    pp_metrics_free(m);
}

static void test_histogram_with_labels(void **state) {
    (void)state;
    pp_metrics *m = pp_metrics_new();
    static const double bounds[] = {1, 10, INFINITY}; /* a trailing +Inf is the implicit one */
    pp_histogram *h = pp_histogram_get(m, "batch_size", "Items.", bounds, 3,
                                       (const char *[]){"processor", "batch", NULL});
    assert_non_null(h);
    pp_histogram_observe(h, 0.5);
    pp_histogram_observe(h, 1);
    pp_histogram_observe(h, 10.5);
    assert_int_equal(pp_histogram_count(h), 3);
    assert_true(pp_histogram_sum(h) == 12.0);
    char *text = pp_metrics_render(m, NULL);
    assert_string_equal(text, "# HELP batch_size Items.\n"
                              "# TYPE batch_size histogram\n"
                              "batch_size_bucket{processor=\"batch\",le=\"1\"} 2\n"
                              "batch_size_bucket{processor=\"batch\",le=\"10\"} 2\n"
                              "batch_size_bucket{processor=\"batch\",le=\"+Inf\"} 3\n"
                              "batch_size_sum{processor=\"batch\"} 12\n"
                              "batch_size_count{processor=\"batch\"} 3\n");
    free(text);
    /* Same name, other bounds: refused, as are unsorted bounds. */
    static const double other[] = {1, 5};
    assert_null(pp_histogram_get(m, "batch_size", "Items.", other, 2, NULL));
    static const double unsorted[] = {2, 1};
    assert_null(pp_histogram_get(m, "other", "x", unsorted, 2, NULL));
    /* Same bounds and labels: the same handle. */
    assert_ptr_equal(pp_histogram_get(m, "batch_size", "Items.", bounds, 2,
                                      (const char *[]){"processor", "batch", NULL}),
                     h);
    pp_metrics_free(m);
}

static void test_series_identity_and_errors(void **state) {
    (void)state;
    pp_metrics *m = pp_metrics_new();
    pp_counter *a = pp_counter_get(m, "c", "h", (const char *[]){"x", "1", "y", "2", NULL});
    assert_non_null(a);
    assert_ptr_equal(pp_counter_get(m, "c", "h", (const char *[]){"y", "2", "x", "1", NULL}), a);
    assert_ptr_not_equal(pp_counter_get(m, "c", "h", (const char *[]){"x", "1", NULL}), a);
    /* Another type under the same name. */
    assert_null(pp_gauge_get(m, "c", "h", NULL));
    /* Invalid metric and label names, a label given twice, a reserved label. */
    assert_null(pp_counter_get(m, "1abc", "h", NULL));
    assert_null(pp_counter_get(m, "a-b", "h", NULL));
    assert_null(pp_counter_get(m, "d", "h", (const char *[]){"a:b", "1", NULL}));
    assert_null(pp_counter_get(m, "d", "h", (const char *[]){"x", "1", "x", "2", NULL}));
    assert_null(pp_counter_get(m, "d", "h", (const char *[]){"__name__", "1", NULL}));
    /* A name that already ends in _total is not suffixed twice. */
    pp_counter_add(pp_counter_get(m, "e_total", "h", NULL), 3);
    char *text = pp_metrics_render(m, NULL);
    assert_non_null(strstr(text, "# TYPE e_total counter\ne_total 3\n"));
    free(text);
    /* Updates through a NULL handle do nothing. */
    pp_counter_add(NULL, 1);
    pp_gauge_set(NULL, 1);
    pp_histogram_observe(NULL, 1);
    pp_metrics_free(m);
}

static int64_t read_value(void *arg) { return *(int64_t *)arg; }

static void test_callback_gauge(void **state) {
    (void)state;
    pp_metrics *m = pp_metrics_new();
    int64_t v = 42;
    pp_gauge *g = pp_gauge_get_fn(m, "otelcol_exporter_queue_capacity", "Capacity.",
                                  (const char *[]){"exporter", "otlp", NULL}, read_value, &v);
    assert_int_equal(pp_gauge_value(g), 42);
    v = 1000;
    char *text = pp_metrics_render(m, NULL);
    assert_non_null(strstr(text, "otelcol_exporter_queue_capacity{exporter=\"otlp\"} 1000\n"));
    free(text);
    pp_gauge_clear_fn(g);
    pp_gauge_set(g, 7);
    v = 5;
    assert_int_equal(pp_gauge_value(g), 7);
    text = pp_metrics_render(m, NULL);
    assert_non_null(strstr(text, "otelcol_exporter_queue_capacity{exporter=\"otlp\"} 7\n"));
    free(text);
    pp_metrics_free(m);
}

enum { THREADS = 4, ITERS = 100000 };

typedef struct worker {
    pp_metrics *m;
    int id;
} worker;

static void *hammer(void *arg) {
    worker *w = arg;
    static const double bounds[] = {0.5, 2};
    /* Registration from every thread at once, then the hot path. */
    pp_counter *c = pp_counter_get(w->m, "hits", "Hits.", (const char *[]){"k", "shared", NULL});
    pp_gauge *g = pp_gauge_get(w->m, "level", "Level.", NULL);
    pp_histogram *h = pp_histogram_get(w->m, "lat", "Latency.", bounds, 2, NULL);
    char id[16];
    snprintf(id, sizeof(id), "t%d", w->id);
    pp_counter *own = pp_counter_get(w->m, "hits", "Hits.", (const char *[]){"k", id, NULL});
    for (int i = 0; i < ITERS; i++) {
        pp_counter_add(c, 1);
        pp_counter_add(own, 2);
        pp_gauge_add(g, 1);
        pp_histogram_observe(h, 1.0);
        if (i % 10000 == 0) { /* new series while others update and render */
            char key[32];
            snprintf(key, sizeof(key), "t%d_%d", w->id, i);
            pp_counter_add(pp_counter_get(w->m, "extra", "Extra.", (const char *[]){"k", key, NULL}), 1);
        }
    }
    return NULL;
}

static void test_concurrent_updates(void **state) {
    (void)state;
    pp_metrics *m = pp_metrics_new();
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){m, i};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 20; i++) { /* scrapes during the updates */
        char *text = pp_metrics_render(m, NULL);
        assert_non_null(text);
        free(text);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pp_counter *c = pp_counter_get(m, "hits", "Hits.", (const char *[]){"k", "shared", NULL});
    assert_int_equal(pp_counter_value(c), (uint64_t)THREADS * ITERS);
    assert_int_equal(pp_counter_value(pp_counter_get(m, "hits", "Hits.", (const char *[]){"k", "t3", NULL})),
                     2 * ITERS);
    assert_int_equal(pp_gauge_value(pp_gauge_get(m, "level", "Level.", NULL)), THREADS * ITERS);
    static const double bounds[] = {0.5, 2};
    pp_histogram *h = pp_histogram_get(m, "lat", "Latency.", bounds, 2, NULL);
    assert_int_equal(pp_histogram_count(h), (uint64_t)THREADS * ITERS);
    assert_true(pp_histogram_sum(h) == (double)THREADS * ITERS); /* exact: integers < 2^53 */
    char *text = pp_metrics_render(m, NULL);
    assert_non_null(strstr(text, "hits_total{k=\"shared\"} 400000\n"));
    assert_non_null(strstr(text, "lat_bucket{le=\"2\"} 400000\n"));
    assert_non_null(strstr(text, "extra_total{k=\"t0_90000\"} 1\n"));
    free(text);
    pp_metrics_free(m);
}

static void test_format_float(void **state) {
    (void)state;
    static const struct { double v; const char *want; } cases[] = {
        {0.005, "0.005"}, {1, "1"}, {2.5, "2.5"}, {1e6, "1e+06"}, {100000, "100000"},
        {0.1, "0.1"}, {0.0001, "0.0001"}, {1e-05, "1e-05"}, {1234567, "1.234567e+06"},
        {-2.5, "-2.5"}, {0, "0"}, {0.1 + 0.2, "0.30000000000000004"}, {123456.789, "123456.789"},
    };
    char buf[40];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_format_float(cases[i].v, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
    }
    pp_format_float(INFINITY, buf, sizeof(buf));
    assert_string_equal(buf, "+Inf");
    pp_format_float(-INFINITY, buf, sizeof(buf));
    assert_string_equal(buf, "-Inf");
    pp_format_float(NAN, buf, sizeof(buf));
    assert_string_equal(buf, "NaN");
}

/* The number after "\n<name> " in text, or -1. */
static double sample(const char *text, const char *name) {
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static void test_process_metrics(void **state) {
    (void)state;
    pp_metrics *m = pp_metrics_new();
    pp_metrics_add_process(m);
    for (volatile long i = 0; i < 20000000; i++) {} /* some CPU time */
    char *text = pp_metrics_render(m, NULL);
    assert_non_null(strstr(text, "# TYPE otelcol_process_uptime_total counter\n"));
    assert_non_null(strstr(text, "# TYPE otelcol_process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(text, "# TYPE otelcol_process_memory_rss gauge\n"));
    assert_true(sample(text, "otelcol_process_uptime_total") >= 0);
    assert_true(sample(text, "otelcol_process_cpu_seconds_total") > 0);
    assert_true(sample(text, "otelcol_process_memory_rss") > 1024 * 1024);
    free(text);
    pp_metrics_free(m);
}

static void test_addr_parse(void **state) {
    (void)state;
    char host[64];
    uint16_t port;
    pp_status st;
    assert_int_equal(pp_http_addr_parse("localhost:13133", host, sizeof(host), &port, &st), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 13133);
    assert_int_equal(pp_http_addr_parse("[::1]:8888", host, sizeof(host), &port, &st), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8888);
    assert_int_equal(pp_http_addr_parse(":0", host, sizeof(host), &port, &st), 0);
    assert_string_equal(host, "");
    assert_int_equal(port, 0);
    const char *bad[] = {"localhost", "::1:80", "h:", "h:65536", "h:8a", "[::1]8080", "[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pp_status_clear(&st);
        assert_int_equal(pp_http_addr_parse(bad[i], host, sizeof(host), &port, &st), -1);
        assert_int_equal(st.code, PP_INVALID);
    }
}

static void test_metrics_server(void **state) {
    (void)state;
    pp_metrics *m = pp_metrics_new();
    pp_counter_add(pp_counter_get(m, "otelcol_exporter_sent_spans", "Sent.",
                                  (const char *[]){"exporter", "otlp", NULL}),
                   9);
    pp_status st;
    pp_status_clear(&st);
    pp_metrics_server *s = pp_metrics_server_start(m, "127.0.0.1:0", &st);
    assert_non_null(s);
    uint16_t port = pp_metrics_server_port(s);
    assert_true(port > 0);
    char url[128], *body, *ctype;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
    assert_int_equal(tu_http("GET", url, &body, &ctype), 200);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    char *want = pp_metrics_render(m, NULL);
    assert_string_equal(body, want);
    assert_non_null(strstr(body, "otelcol_exporter_sent_spans_total{exporter=\"otlp\"} 9\n"));
    free(want);
    free(body);
    free(ctype);
    assert_int_equal(tu_http("HEAD", url, &body, NULL), 200);
    assert_string_equal(body, "");
    free(body);
    assert_int_equal(tu_http("POST", url, NULL, NULL), 405);
    assert_int_equal(tu_http("DELETE", url, NULL, NULL), 405);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/other", port);
    assert_int_equal(tu_http("GET", url, NULL, NULL), 404);
    /* Stopping closes the port: it can be bound again at once. */
    pp_metrics_server_stop(s);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    s = pp_metrics_server_start(m, addr, &st);
    assert_non_null(s);
    assert_int_equal(pp_metrics_server_port(s), port);
    pp_metrics_server_stop(s);
    pp_metrics_free(m);
}

static void test_port_in_use(void **state) {
    (void)state;
    uint16_t port = 0;
    int fd = tu_listen(&port);
    assert_true(fd >= 0);
    char addr[64], want[128];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    snprintf(want, sizeof(want), "listen on %s: Address already in use", addr);
    pp_metrics *m = pp_metrics_new();
    pp_status st;
    pp_status_clear(&st);
    assert_null(pp_metrics_server_start(m, addr, &st));
    assert_string_equal(st.msg, want);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    close(fd);
    pp_metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_histogram_with_labels),
        cmocka_unit_test(test_series_identity_and_errors),
        cmocka_unit_test(test_callback_gauge),
        cmocka_unit_test(test_concurrent_updates),
        cmocka_unit_test(test_format_float),
        cmocka_unit_test(test_process_metrics),
        cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_metrics_server),
        cmocka_unit_test(test_port_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
