/* Unit tests: pipit -> pipit. One service's otlp exporter sends to another
 * service's otlp receiver (gRPC), both in this process on 127.0.0.1; every
 * span and point that goes in arrives, once, for each compression. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "drops.h"
#include "testutil_world.h"

static uint64_t sent(tu_world *w, const char *name) {
    const char *l[] = {"exporter", "otlp", NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, name, "", l));
}

static void test_exporter_to_receiver(void **state) {
    (void)state;
    const char *comps[] = {"gzip", "zstd", "snappy", "none"};
    for (int c = 0; c < 4; c++) {
        uint16_t port = tu_free_port();
        char yaml[1024];
        snprintf(yaml, sizeof(yaml),
                 "receivers: {otlp: {protocols: {grpc: {endpoint: '127.0.0.1:%u'}}}}\n"
                 "exporters: {tu_exp: }\n"
                 "service: {pipelines: {traces: {receivers: [otlp], exporters: [tu_exp]},"
                 " metrics: {receivers: [otlp], exporters: [tu_exp]}}}\n",
                 port);
        tu_world *backend = tu_world_new(yaml);
        snprintf(yaml, sizeof(yaml),
                 "receivers: {tu_recv: }\n"
                 "exporters: {otlp: {endpoint: '127.0.0.1:%u', tls: {insecure: true},"
                 " compression: %s, retry_on_failure: {initial_interval: 10ms}}}\n"
                 "service: {pipelines: {traces: {receivers: [tu_recv], exporters: [otlp]},"
                 " metrics: {receivers: [tu_recv], exporters: [otlp]}}}\n",
                 port, comps[c]);
        tu_world *agent = tu_world_new(yaml);
        pp_status st = {0};
        assert_int_equal(pp_service_start(backend->svc, &st), 0);
        assert_int_equal(pp_service_start(agent->svc, &st), 0);
        tu_recv *in = pp_service_instance(agent->svc, PP_RECEIVER, "tu_recv", NULL);
        tu_exp *out = pp_service_instance(backend->svc, PP_EXPORTER, "tu_exp", NULL);
        assert_non_null(in);
        assert_non_null(out);
        for (uint32_t i = 0; i < 10; i++) {
            pp_batch *b = tu_make_traces(2, 2, 5, i);
            assert_int_equal(tu_recv_push(in, b, &st), 0);
            pp_batch_unref(b);
        }
        pp_batch *m = tu_make_metrics(4, 5, 3);
        assert_int_equal(tu_recv_push(in, m, &st), 0);
        pp_batch_unref(m);
        /* The backend has the data before the exporter has its answer: wait for both. */
        for (int i = 0; i < 500 && (sent(agent, "otelcol_exporter_sent_spans") < 200 ||
                                    sent(agent, "otelcol_exporter_sent_metric_points") < 20);
             i++)
            tu_world_run(backend, 10);
        assert_int_equal(out->items[PP_TRACES], 200);
        assert_int_equal(out->items[PP_METRICS], 20);
        assert_int_equal(sent(agent, "otelcol_exporter_sent_spans"), 200);
        assert_int_equal(sent(agent, "otelcol_exporter_sent_metric_points"), 20);
        assert_int_equal(sent(agent, "otelcol_exporter_send_failed_spans"), 0);
        tu_world_free(agent);
        tu_world_free(backend);
    }
}

static int setup(void **state) {
    (void)state;
    tu_world_register_fakes();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exporter_to_receiver)};
    return cmocka_run_group_tests(tests, setup, NULL);
}
