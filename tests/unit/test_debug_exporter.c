/* Unit tests: the debug exporter -- counts, log lines, detailed dump. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "debug_format.h"
#include "log.h"
#include "service.h"

static char logged[8192];
static void capture(const char *line, void *arg) {
    (void)arg;
    strncat(logged, line, sizeof(logged) - strlen(logged) - 1);
}

static void test_detailed_dump_names_every_span(void **state) {
    (void)state;
    pp_batch *b = tu_make_traces(1, 1, 3, 5);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    pp_debug_write_detailed(f, b);
    fclose(f);
    assert_non_null(strstr(text, "ResourceSpans #0"));
    assert_non_null(strstr(text, "service.name: Str(svc-5)"));
    assert_non_null(strstr(text, "Span #2"));
    assert_non_null(strstr(text, "Kind           : Server"));
    /* trace id bytes are seed*31+x+1 = 156.. for seed 5 */
    assert_non_null(strstr(text, "Trace ID       : 9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaab"));
    free(text);
    pp_batch_unref(b);

    pp_batch *m = tu_make_metrics(2, 2, 1);
    f = open_memstream(&text, &len);
    pp_debug_write_detailed(f, m);
    fclose(f);
    assert_non_null(strstr(text, "-> Name: gauge_1"));
    assert_non_null(strstr(text, "-> DataType: Gauge"));
    assert_non_null(strstr(text, "NumberDataPoints #1"));
    free(text);
    pp_batch_unref(m);
}

/* A receiver that does nothing: the pipeline needs one. */
static void *nop_create(const pp_create_params *p, pp_status *st) {
    (void)p; (void)st;
    return malloc(1);
}
static const pp_factory nop_receiver = {
    .kind = PP_RECEIVER, .type = "nop", .signals = 3, .create = nop_create, .destroy = free};
static const pp_factory *const extra[] = {&nop_receiver};

static void test_basic_logs_counts_and_counts_sent(void **state) {
    (void)state;
    pp_registry_set_extra(extra, 1);
    uv_loop_t loop;
    uv_loop_init(&loop);
    pp_host host = {.loop = &loop, .metrics = pp_metrics_new(), .health = pp_health_new()};
    pp_diag d;
    pp_diag_init(&d);
    const char *texts[] = {"receivers: {nop: }\n"
                           "exporters: {debug: }\n"
                           "service: {pipelines: {traces: {receivers: [nop], exporters: [debug]},"
                           " metrics: {receivers: [nop], exporters: [debug]}}}\n"};
    const char *names[] = {"t.yaml"};
    pp_config *cfg = pp_config_load_texts(texts, names, 1, &d);
    if (!cfg) pp_diag_print(&d, stderr);
    assert_non_null(cfg);
    pp_diag_free(&d);
    pp_status st = {0};
    pp_service *svc = pp_service_build(cfg, &host, &st);
    assert_non_null(svc);
    void *inst = pp_service_instance(svc, PP_EXPORTER, "debug", NULL);
    const pp_factory *f = pp_registry_find(PP_EXPORTER, "debug");
    pp_log_setup(PP_LOG_INFO, PP_LOG_JSON);
    pp_log_set_sink(capture, NULL);
    pp_batch *b = tu_make_traces(2, 1, 4, 1);
    assert_int_equal(pp_consume(f->consumer(inst, PP_TRACES), b, &st), 0);
    pp_batch *m = tu_make_metrics(3, 2, 1);
    assert_int_equal(pp_consume(f->consumer(inst, PP_METRICS), m, &st), 0);
    pp_log_set_sink(NULL, NULL);
    assert_non_null(strstr(logged, "\"msg\":\"Traces\",\"resources\":\"2\",\"spans\":\"8\""));
    assert_non_null(strstr(logged, "\"msg\":\"Metrics\",\"resources\":\"1\",\"data points\":\"6\""));
    size_t len;
    char *text = pp_metrics_render(host.metrics, &len);
    assert_non_null(strstr(text, "otelcol_exporter_sent_spans_total{exporter=\"debug\"} 8"));
    assert_non_null(strstr(text, "otelcol_exporter_sent_metric_points_total{exporter=\"debug\"} 6"));
    free(text);
    pp_batch_unref(b);
    pp_batch_unref(m);
    pp_service_free(svc);
    uv_loop_close(&loop);
    pp_config_free(cfg);
    pp_health_free(host.health);
    pp_metrics_free(host.metrics);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detailed_dump_names_every_span),
        cmocka_unit_test(test_basic_logs_counts_and_counts_sent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
