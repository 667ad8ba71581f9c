/* Unit tests: the interval and deltatocumulative processors in a service
 * (fake receiver -> processor -> fake exporter that keeps what it gets). */
#include "testutil.h"
#include "testutil_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x
#define DELTA M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA)
#define CUMUL M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE)

static tu_world *world_new(const char *id, const char *processors) {
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "receivers: {frecv: }\n"
             "processors: %s\n"
             "exporters: {fkeep: }\n"
             "service: {pipelines: {metrics: {receivers: [frecv], processors: [%s], exporters: [fkeep]}}}\n",
             processors, id);
    return tu_keeper_world(yaml);
}

static void push(pp_batch *b, int expect_rc) {
    pp_status st = {0};
    assert_int_equal(pp_consume(tu_recv_next[PP_METRICS], b, &st), expect_rc);
    pp_batch_unref(b);
}

static pp_number_point *point_with(pp_batch *b, const char *metric, const char *label) {
    pp_scope_metrics *sm = b->metrics->resource_metrics[0]->scope_metrics[0];
    for (size_t k = 0; k < sm->n_metrics; k++) {
        pp_metric *m = sm->metrics[k];
        if (strcmp(m->name, metric) != 0) continue;
        size_t n = m->data_case == M(METRIC__DATA_SUM) ? m->sum->n_data_points : m->gauge->n_data_points;
        for (size_t i = 0; i < n; i++) {
            pp_number_point *p = m->data_case == M(METRIC__DATA_SUM) ? m->sum->data_points[i]
                                                                       : m->gauge->data_points[i];
            if (strcmp(p->attributes[0]->value->string_value, label) == 0) return p;
        }
    }
    return NULL;
}

/* The interval processor README's example: cumulative points for labelA foo
 * and bar, and a delta metric that passes straight through. */
static pp_batch *example(void) {
    pp_batch *b = pp_batch_new(PP_METRICS, 0);
    pp_arena *a = b->arena;
    pp_metric *t = tu_sum_metric(a, "test_metric", CUMUL, 1);
    pp_number_point **p = t->sum->data_points;
    p[0] = tu_num_point(a, 0, 0, 4.0, "labelA", "foo", NULL, NULL);
    p[1] = tu_num_point(a, 0, 2, 3.1, "labelA", "bar", NULL, NULL);
    p[2] = tu_num_point(a, 0, 8, 12.8, "labelA", "foo", NULL, NULL);
    p[3] = tu_num_point(a, 0, 6, 8.2, "labelA", "foo", NULL, NULL); /* late but older */
    p[4] = tu_num_point(a, 0, 10, 6.4, "labelA", "bar", NULL, NULL);
    t->sum->n_data_points = 5;
    pp_metric *o = tu_sum_metric(a, "other_metric", DELTA, 1);
    o->sum->data_points[0] = tu_num_point(a, 0, 4, 77.4, "fruitType", "orange", NULL, NULL);
    o->sum->n_data_points = 1;
    pp_metric *ms[] = {t, o};
    return tu_metrics_batch(b, "svc", ms, 2);
}

static void test_interval_keeps_latest_and_passes_delta(void **state) {
    (void)state;
    tu_world *w = world_new("interval/p", "{interval/p: {interval: 1h}}");
    push(example(), 0);
    assert_int_equal(tu_kept->n, 1); /* the delta metric, at once */
    assert_int_equal(tu_kept->got[0]->items, 1);
    assert_true(point_with(tu_kept->got[0], "other_metric", "orange")->as_double == 77.4);
    tu_world_stop(w, 200); /* emits what is held */
    assert_int_equal(tu_kept->n, 2);
    pp_batch *b = tu_kept->got[1];
    assert_int_equal(b->items, 2);
    pp_number_point *foo = point_with(b, "test_metric", "foo"), *bar = point_with(b, "test_metric", "bar");
    assert_true(foo->as_double == 12.8);
    assert_int_equal(foo->time_unix_nano, 8);
    assert_true(bar->as_double == 6.4);
    assert_string_equal(b->metrics->resource_metrics[0]->resource->attributes[0]->value->string_value, "svc");
    tu_world_free(w);
}

static pp_batch *gauges(double v1, uint64_t t) {
    pp_batch *b = tu_make_metrics(1, 1, 1);
    b->metrics->resource_metrics[0]->scope_metrics[0]->metrics[0]->gauge->data_points[0]->as_double = v1;
    b->metrics->resource_metrics[0]->scope_metrics[0]->metrics[0]->gauge->data_points[0]->time_unix_nano = t;
    return b;
}

static void test_interval_gauges_held_unless_pass_through(void **state) {
    (void)state;
    tu_world *w = world_new("interval/p", "{interval/p: {interval: 1h}}");
    push(gauges(1, 100), 0);
    push(gauges(2, 200), 0);
    assert_int_equal(tu_kept->n, 0);
    tu_world_stop(w, 200);
    assert_int_equal(tu_kept->n, 1);
    assert_int_equal(tu_kept->got[0]->items, 1);
    pp_metric *m = tu_kept->got[0]->metrics->resource_metrics[0]->scope_metrics[0]->metrics[0];
    assert_true(m->gauge->data_points[0]->as_double == 2);
    tu_world_free(w);

    w = world_new("interval/p", "{interval/p: {interval: 1h, pass_through: {gauge: true}}}");
    push(gauges(1, 100), 0);
    push(gauges(2, 200), 0);
    assert_int_equal(tu_kept->n, 2);
    tu_world_stop(w, 200);
    assert_int_equal(tu_kept->n, 2); /* nothing held */
    tu_world_free(w);
}

static void test_interval_timer_emits_then_clears_and_retries_refusal(void **state) {
    (void)state;
    tu_world *w = world_new("interval/p", "{interval/p: {interval: 20ms}}");
    tu_kept->refuse = true;
    push(gauges(5, 100), 0);
    tu_world_run(w, 80);
    assert_int_equal(tu_kept->n, 0);
    size_t len;
    char *text = pp_metrics_render(w->host.metrics, &len);
    assert_non_null(strstr(text, "pipit_interval_streams{processor=\"interval/p\"} 1")); /* kept */
    free(text);
    tu_kept->refuse = false;
    tu_world_run(w, 80);
    assert_int_equal(tu_kept->n, 1); /* emitted once, then the state was empty */
    assert_int_equal(tu_kept->got[0]->items, 1);
    tu_world_stop(w, 200);
    assert_int_equal(tu_kept->n, 1);
    tu_world_free(w);
}

static void test_deltatocumulative_processor(void **state) {
    (void)state;
    tu_world *w = world_new("deltatocumulative/p", "{deltatocumulative/p: {max_streams: 1}}");
    pp_batch *b = pp_batch_new(PP_METRICS, 0);
    pp_arena *a = b->arena;
    pp_metric *m = tu_sum_metric(a, "reqs", DELTA, 1);
    m->sum->data_points[0] = tu_num_point(a, 10, 20, 2, "k", "a", NULL, NULL);
    m->sum->data_points[1] = tu_num_point(a, 20, 30, 3, "k", "a", NULL, NULL);
    m->sum->data_points[2] = tu_num_point(a, 10, 20, 9, "k", "b", NULL, NULL); /* over max_streams */
    m->sum->data_points[3] = tu_num_point(a, 10, 20, 1, "k", "a", NULL, NULL); /* out of order */
    m->sum->n_data_points = 4;
    push(tu_metrics_batch(b, "svc", &m, 1), 0);
    assert_int_equal(tu_kept->n, 1);
    pp_batch *out = tu_kept->got[0];
    assert_int_equal(out->items, 3);
    pp_metric *c = out->metrics->resource_metrics[0]->scope_metrics[0]->metrics[0];
    pp_metric *d = out->metrics->resource_metrics[0]->scope_metrics[0]->metrics[1];
    assert_int_equal(c->sum->aggregation_temporality, CUMUL);
    assert_true(c->sum->data_points[1]->as_double == 5);
    assert_int_equal(d->sum->aggregation_temporality, DELTA);
    assert_true(d->sum->data_points[0]->as_double == 9);
    size_t len;
    char *text = pp_metrics_render(w->host.metrics, &len);
    assert_non_null(strstr(text, "pipit_dropped_items_total{component=\"processor/deltatocumulative/p\","
                                 "reason=\"out_of_order\",signal=\"metrics\"} 1"));
    assert_non_null(strstr(text, "pipit_deltatocumulative_streams_limited_total{processor=\"deltatocumulative/p\"} 1"));
    assert_non_null(strstr(text, "otelcol_deltatocumulative_streams_tracked{processor=\"deltatocumulative/p\"} 1"));
    assert_non_null(strstr(text, "otelcol_deltatocumulative_streams_limit{processor=\"deltatocumulative/p\"} 1"));
    free(text);
    tu_world_stop(w, 200);
    tu_world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval_keeps_latest_and_passes_delta),
        cmocka_unit_test(test_interval_gauges_held_unless_pass_through),
        cmocka_unit_test(test_interval_timer_emits_then_clears_and_retries_refusal),
        cmocka_unit_test(test_deltatocumulative_processor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
