/* test_prw_translate.c -- OTLP metrics to remote write: one test per rule,
 * expected series written out by hand. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "exporters/prometheusremotewrite/prw_translate.h"

typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets exp_buckets;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile quantile;

#define T0 1700000000123456789ull /* ns; 1700000000123 ms */
#define T0_MS 1700000000123ll
#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE
#define DELTA OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA

static pp_arena *A;

static void *mk(size_t n) {
    void *p = pp_arena_alloc(A, n);
    assert_non_null(p);
    memset(p, 0, n);
    return p;
}

/* ---- building requests ---- */

static pp_key_value *kv(const char *k, const char *v) {
    pp_key_value *x = mk(sizeof *x);
    opentelemetry__proto__common__v1__key_value__init(x);
    x->key = (char *)(uintptr_t)k;
    x->value = mk(sizeof *x->value);
    opentelemetry__proto__common__v1__any_value__init(x->value);
    x->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    x->value->string_value = (char *)(uintptr_t)v;
    return x;
}

/* A NULL-terminated list of pointers, copied into the arena; *n = count. */
static void **list(size_t *n, void *const *items) {
    size_t k = 0;
    while (items[k]) k++;
    void **out = mk((k + 1) * sizeof *out);
    memcpy(out, items, k * sizeof *out);
    *n = k;
    return out;
}
#define LIST(nfield, field, ...) \
    ((field) = (void *)list(&(nfield), (void *const[]){__VA_ARGS__, NULL}))

static pp_number_point *num(uint64_t t, double v) {
    pp_number_point *p = mk(sizeof *p);
    opentelemetry__proto__metrics__v1__number_data_point__init(p);
    p->time_unix_nano = t;
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p->as_double = v;
    return p;
}

static pp_metric *metric(const char *name, const char *unit) {
    pp_metric *m = mk(sizeof *m);
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = (char *)(uintptr_t)name;
    m->unit = (char *)(uintptr_t)unit;
    return m;
}

static pp_metric *gauge(const char *name, const char *unit) {
    pp_metric *m = metric(name, unit);
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
    m->gauge = mk(sizeof *m->gauge);
    opentelemetry__proto__metrics__v1__gauge__init(m->gauge);
    return m;
}

static pp_metric *sum(const char *name, const char *unit, bool monotonic, int temporality) {
    pp_metric *m = metric(name, unit);
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m->sum = mk(sizeof *m->sum);
    opentelemetry__proto__metrics__v1__sum__init(m->sum);
    m->sum->is_monotonic = monotonic;
    m->sum->aggregation_temporality = temporality;
    return m;
}

static pp_metric *histogram(const char *name, const char *unit, int temporality) {
    pp_metric *m = metric(name, unit);
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
    m->histogram = mk(sizeof *m->histogram);
    opentelemetry__proto__metrics__v1__histogram__init(m->histogram);
    m->histogram->aggregation_temporality = temporality;
    return m;
}

static pp_histogram_point *hpoint(uint64_t t, size_t nb, const double *bounds, const uint64_t *counts,
                                  uint64_t count) {
    pp_histogram_point *p = mk(sizeof *p);
    opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
    p->time_unix_nano = t;
    p->n_explicit_bounds = nb;
    p->explicit_bounds = (double *)(uintptr_t)bounds;
    p->n_bucket_counts = counts ? nb + 1 : 0;
    p->bucket_counts = (uint64_t *)(uintptr_t)counts;
    p->count = count;
    return p;
}

static pp_metric *exp_histogram(const char *name, pp_exp_histogram_point *p) {
    pp_metric *m = metric(name, "");
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
    m->exponential_histogram = mk(sizeof *m->exponential_histogram);
    opentelemetry__proto__metrics__v1__exponential_histogram__init(m->exponential_histogram);
    m->exponential_histogram->aggregation_temporality = CUMULATIVE;
    LIST(m->exponential_histogram->n_data_points, m->exponential_histogram->data_points, p);
    return m;
}

static exp_buckets *buckets(int32_t offset, size_t n, const uint64_t *counts) {
    exp_buckets *b = mk(sizeof *b);
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(b);
    b->offset = offset;
    b->n_bucket_counts = n;
    b->bucket_counts = (uint64_t *)(uintptr_t)counts;
    return b;
}

static pp_exp_histogram_point *epoint(int32_t scale, double sum_v) {
    pp_exp_histogram_point *p = mk(sizeof *p);
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
    p->time_unix_nano = T0;
    p->scale = scale;
    p->sum_present_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM;
    p->sum = sum_v;
    return p;
}

/* One resource (attributes NULL-terminated), one scope "lib" 1.0, the metrics. */
static pp_metrics_req *request(pp_key_value *const *res_attrs, pp_metric *const *metrics) {
    pp_metrics_req *r = mk(sizeof *r);
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(r);
    pp_resource_metrics *rm = mk(sizeof *rm);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    rm->resource = mk(sizeof *rm->resource);
    opentelemetry__proto__resource__v1__resource__init(rm->resource);
    rm->resource->attributes = (pp_key_value **)list(&rm->resource->n_attributes, (void *const *)res_attrs);
    pp_scope_metrics *sm = mk(sizeof *sm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    sm->scope = mk(sizeof *sm->scope);
    opentelemetry__proto__common__v1__instrumentation_scope__init(sm->scope);
    sm->scope->name = "lib";
    sm->scope->version = "1.0";
    sm->metrics = (pp_metric **)list(&sm->n_metrics, (void *const *)metrics);
    LIST(rm->n_scope_metrics, rm->scope_metrics, sm);
    LIST(r->n_resource_metrics, r->resource_metrics, rm);
    return r;
}
#define REQ(res, ...) request((pp_key_value *const[]){res, NULL}, (pp_metric *const[]){__VA_ARGS__, NULL})
#define NO_RES NULL

/* Options without scope labels or target_info unless a test wants them. */
static pp_prw_options plain(void) {
    pp_prw_options o;
    pp_prw_options_default(&o);
    o.scope_labels = false;
    o.target_info = false;
    return o;
}

/* ---- checking results ---- */

/* "{__name__=x,job=y}" */
static const char *labels_str(const Prometheus__TimeSeries *ts) {
    static char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{");
    for (size_t i = 0; i < ts->n_labels; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=%s", i ? "," : "", ts->labels[i]->name,
                              ts->labels[i]->value);
    snprintf(buf + n, sizeof buf - n, "}");
    return buf;
}

static const Prometheus__TimeSeries *find(const Prometheus__WriteRequest *wr, const char *labels) {
    for (size_t i = 0; i < wr->n_timeseries; i++)
        if (strcmp(labels_str(wr->timeseries[i]), labels) == 0) return wr->timeseries[i];
    for (size_t i = 0; i < wr->n_timeseries; i++) print_message("have %s\n", labels_str(wr->timeseries[i]));
    fail_msg("no series %s", labels);
    return NULL;
}

/* Exact comparison (the cmocka here has no assert_double_equal). */
#define check_double(got, want) check_double_at((got), (want), __LINE__)
static void check_double_at(double got, double want, int line) {
    if (!(got == want)) fail_msg("line %d: got %.17g, want %.17g", line, got, want);
}

static void one_sample(const Prometheus__TimeSeries *ts, double v, int64_t t) {
    assert_int_equal(ts->n_samples, 1);
    check_double(ts->samples[0]->value, v);
    assert_int_equal(ts->samples[0]->timestamp, t);
}

static uint64_t bits(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static Prometheus__WriteRequest *run(const pp_metrics_req *r, const pp_prw_options *o, pp_prw_stats *st) {
    Prometheus__WriteRequest *wr = pp_prw_translate(r, o, A, st);
    assert_non_null(wr);
    return wr;
}

static int setup(void **state) {
    (void)state;
    A = pp_arena_new(0);
    return A ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    pp_arena_destroy(A);
    return 0;
}

/* ---- rules ---- */

static void test_gauge_job_instance_scope_target_info(void **state) {
    (void)state;
    pp_metric *m = gauge("cpu.temp", "Cel");
    pp_number_point *p = num(T0, 42.5);
    LIST(p->n_attributes, p->attributes, kv("core", "0"), kv("empty", ""));
    pp_exemplar *e = mk(sizeof *e);
    opentelemetry__proto__metrics__v1__exemplar__init(e);
    LIST(p->n_exemplars, p->exemplars, e);
    LIST(m->gauge->n_data_points, m->gauge->data_points, p);
    pp_metrics_req *r = request((pp_key_value *const[]){kv("service.name", "api"), kv("service.namespace", "shop"),
                                                        kv("service.instance.id", "i-1"), kv("host.name", "h1"), NULL},
                                (pp_metric *const[]){m, NULL});
    pp_prw_options o;
    pp_prw_options_default(&o);
    pp_prw_stats st = {0};
    Prometheus__WriteRequest *wr = run(r, &o, &st);
    assert_int_equal(wr->n_timeseries, 2);
    const Prometheus__TimeSeries *ts = wr->timeseries[0];
    assert_string_equal(labels_str(ts), "{__name__=cpu_temp_celsius,core=0,instance=i-1,job=shop/api,"
                                        "otel_scope_name=lib,otel_scope_version=1.0}");
    one_sample(ts, 42.5, T0_MS);
    assert_int_equal(ts->n_exemplars, 0); /* gauges drop exemplars */
    ts = wr->timeseries[1];
    assert_string_equal(labels_str(ts), "{__name__=target_info,host_name=h1,instance=i-1,job=shop/api}");
    one_sample(ts, 1, T0_MS);
    assert_int_equal(st.series, 2);
    assert_int_equal(st.samples, 2);
    assert_int_equal(wr->n_metadata, 0);
}

static void test_job_alone_and_no_target_info(void **state) {
    (void)state;
    pp_metric *m = gauge("up", "");
    LIST(m->gauge->n_data_points, m->gauge->data_points, num(T0, 1));
    pp_prw_options o;
    pp_prw_options_default(&o);
    o.scope_labels = false;
    Prometheus__WriteRequest *wr = run(REQ(kv("service.name", "api"), m), &o, NULL);
    assert_int_equal(wr->n_timeseries, 1); /* only identifying attributes: no target_info */
    assert_string_equal(labels_str(wr->timeseries[0]), "{__name__=up,job=api}");
}

static pp_exemplar *exemplar(double v, uint64_t t) {
    static const uint8_t trace[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                      0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xf0};
    static const uint8_t span[8] = {0xa0, 0xa1, 0xa2, 0xa3, 0xb4, 0xc5, 0xd6, 0xef};
    pp_exemplar *e = mk(sizeof *e);
    opentelemetry__proto__metrics__v1__exemplar__init(e);
    e->trace_id = (ProtobufCBinaryData){16, (uint8_t *)(uintptr_t)trace};
    e->span_id = (ProtobufCBinaryData){8, (uint8_t *)(uintptr_t)span};
    e->value_case = OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE;
    e->as_double = v;
    e->time_unix_nano = t;
    return e;
}

#define EX_IDS "span_id=a0a1a2a3b4c5d6ef,trace_id=0102030405060708090a0b0c0d0e0ff0"

static const char *exemplar_str(const Prometheus__Exemplar *e) {
    Prometheus__TimeSeries fake = PROMETHEUS__TIME_SERIES__INIT;
    fake.n_labels = e->n_labels;
    fake.labels = e->labels;
    return labels_str(&fake);
}

static void test_counter_total_exemplar_created(void **state) {
    (void)state;
    pp_metric *m = sum("http.requests", "{request}", true, CUMULATIVE);
    pp_number_point *p = num(T0, 0);
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    p->as_int = 7;
    p->start_time_unix_nano = 5000000000ull;
    pp_exemplar *e = exemplar(3, 1500000000ull);
    LIST(e->n_filtered_attributes, e->filtered_attributes, kv("user.id", "u1"), kv("trace_id", "nope"));
    LIST(p->n_exemplars, p->exemplars, e);
    LIST(m->sum->n_data_points, m->sum->data_points, p);
    pp_prw_options o = plain();
    o.export_created_metric = true;
    pp_prw_stats st = {0};
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m), &o, &st);
    assert_int_equal(wr->n_timeseries, 2);
    const Prometheus__TimeSeries *ts = find(wr, "{__name__=http_requests_total}");
    one_sample(ts, 7, T0_MS);
    assert_int_equal(ts->n_exemplars, 1);
    assert_string_equal(exemplar_str(ts->exemplars[0]), "{" EX_IDS ",user_id=u1}");
    check_double(ts->exemplars[0]->value, 3);
    assert_int_equal(ts->exemplars[0]->timestamp, 1500);
    one_sample(find(wr, "{__name__=http_requests_total_created}"), 5000, T0_MS);
    assert_int_equal(st.exemplars, 1);
}

static void test_non_monotonic_sum_is_gauge(void **state) {
    (void)state;
    pp_metric *m = sum("queue.depth", "1", false, CUMULATIVE);
    LIST(m->sum->n_data_points, m->sum->data_points, num(T0, -2));
    pp_prw_options o = plain();
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m), &o, NULL);
    assert_int_equal(wr->n_timeseries, 1);
    one_sample(find(wr, "{__name__=queue_depth}"), -2, T0_MS);
}

static void test_delta_and_unspecified_dropped(void **state) {
    (void)state;
    pp_metric *d = sum("d", "", true, DELTA), *u = sum("u", "", true, 0);
    LIST(d->sum->n_data_points, d->sum->data_points, num(T0, 1), num(T0 + 1000000000ull, 2));
    LIST(u->sum->n_data_points, u->sum->data_points, num(T0, 1));
    pp_metric *h = histogram("h", "", DELTA);
    LIST(h->histogram->n_data_points, h->histogram->data_points, hpoint(T0, 0, NULL, NULL, 3));
    pp_prw_options o = plain();
    pp_prw_stats st = {0};
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, d, u, h), &o, &st);
    assert_int_equal(wr->n_timeseries, 0);
    assert_int_equal(st.dropped_delta, 3);
    assert_int_equal(st.dropped_temporality, 1);
}

/* Bounds that change from point to point and from metric to metric (the
 * `le` texts are cached by bound position). */
static void test_histogram_bounds_change(void **state) {
    (void)state;
    pp_metric *m = histogram("h", "", CUMULATIVE);
    pp_histogram_point *p1 = hpoint(T0, 2, (double[]){1, 2}, (uint64_t[]){1, 1, 1}, 3);
    pp_histogram_point *p2 = hpoint(T0, 3, (double[]){1, 5, 10}, (uint64_t[]){1, 2, 3, 4}, 10);
    pp_histogram_point *p3 = hpoint(T0, 1, (double[]){0.25}, (uint64_t[]){7, 1}, 8);
    LIST(p2->n_attributes, p2->attributes, kv("p", "2"));
    LIST(p3->n_attributes, p3->attributes, kv("p", "3"));
    LIST(m->histogram->n_data_points, m->histogram->data_points, p1, p2, p3);
    pp_metric *m2 = histogram("k", "", CUMULATIVE);
    pp_histogram_point *q = hpoint(T0, 2, (double[]){0.25, 2}, (uint64_t[]){1, 1, 1}, 3);
    LIST(m2->histogram->n_data_points, m2->histogram->data_points, q);
    pp_prw_options o = plain();
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m, m2), &o, NULL);
    assert_int_equal(wr->n_timeseries, 4 + 5 + 3 + 4);
    one_sample(find(wr, "{__name__=h_bucket,le=1}"), 1, T0_MS);
    one_sample(find(wr, "{__name__=h_bucket,le=2}"), 2, T0_MS);
    one_sample(find(wr, "{__name__=h_bucket,le=1,p=2}"), 1, T0_MS);
    one_sample(find(wr, "{__name__=h_bucket,le=5,p=2}"), 3, T0_MS);
    one_sample(find(wr, "{__name__=h_bucket,le=10,p=2}"), 6, T0_MS);
    one_sample(find(wr, "{__name__=h_bucket,le=+Inf,p=2}"), 10, T0_MS);
    one_sample(find(wr, "{__name__=h_bucket,le=0.25,p=3}"), 7, T0_MS);
    one_sample(find(wr, "{__name__=h_bucket,le=+Inf,p=3}"), 8, T0_MS);
    one_sample(find(wr, "{__name__=k_bucket,le=0.25}"), 1, T0_MS);
    one_sample(find(wr, "{__name__=k_bucket,le=2}"), 2, T0_MS);
    one_sample(find(wr, "{__name__=k_count}"), 3, T0_MS);
}

static void test_histogram_buckets_sum_count_exemplars(void **state) {
    (void)state;
    static const double bounds[] = {0.5, 1, 2.5};
    static const uint64_t counts[] = {1, 2, 3, 4};
    pp_metric *m = histogram("rpc.duration", "s", CUMULATIVE);
    pp_histogram_point *p = hpoint(T0, 3, bounds, counts, 10);
    p->sum_present_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM;
    p->sum = 12.5;
    LIST(p->n_exemplars, p->exemplars, exemplar(0.7, T0), exemplar(100, T0), exemplar(0.5, T0));
    pp_histogram_point *nosum = hpoint(T0, 3, bounds, counts, 10);
    LIST(nosum->n_attributes, nosum->attributes, kv("route", "/x"));
    LIST(m->histogram->n_data_points, m->histogram->data_points, p, nosum);
    pp_prw_options o = plain();
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m), &o, NULL);
    assert_int_equal(wr->n_timeseries, 6 + 5);
    one_sample(find(wr, "{__name__=rpc_duration_seconds_bucket,le=0.5}"), 1, T0_MS);
    one_sample(find(wr, "{__name__=rpc_duration_seconds_bucket,le=1}"), 3, T0_MS);
    one_sample(find(wr, "{__name__=rpc_duration_seconds_bucket,le=2.5}"), 6, T0_MS);
    one_sample(find(wr, "{__name__=rpc_duration_seconds_bucket,le=+Inf}"), 10, T0_MS);
    one_sample(find(wr, "{__name__=rpc_duration_seconds_sum}"), 12.5, T0_MS);
    one_sample(find(wr, "{__name__=rpc_duration_seconds_count}"), 10, T0_MS);
    /* Exemplars: 0.5 -> le=0.5 (bound is inclusive), 0.7 -> le=1, 100 -> +Inf. */
    assert_int_equal(find(wr, "{__name__=rpc_duration_seconds_bucket,le=0.5}")->n_exemplars, 1);
    const Prometheus__TimeSeries *b1 = find(wr, "{__name__=rpc_duration_seconds_bucket,le=1}");
    assert_int_equal(b1->n_exemplars, 1);
    check_double(b1->exemplars[0]->value, 0.7);
    assert_int_equal(find(wr, "{__name__=rpc_duration_seconds_bucket,le=2.5}")->n_exemplars, 0);
    const Prometheus__TimeSeries *inf = find(wr, "{__name__=rpc_duration_seconds_bucket,le=+Inf}");
    assert_int_equal(inf->n_exemplars, 1);
    check_double(inf->exemplars[0]->value, 100);
    /* Without a sum: no _sum series. */
    one_sample(find(wr, "{__name__=rpc_duration_seconds_count,route=/x}"), 10, T0_MS);
    for (size_t i = 0; i < wr->n_timeseries; i++)
        assert_string_not_equal(labels_str(wr->timeseries[i]), "{__name__=rpc_duration_seconds_sum,route=/x}");
}

static void test_histogram_bad_bucket_count_dropped(void **state) {
    (void)state;
    static const double bounds[] = {1, 2};
    static const uint64_t counts[] = {1, 2};
    pp_metric *m = histogram("h", "", CUMULATIVE);
    pp_histogram_point *p = hpoint(T0, 2, bounds, counts, 3);
    p->n_bucket_counts = 2; /* must be 3 */
    LIST(m->histogram->n_data_points, m->histogram->data_points, p);
    pp_prw_options o = plain();
    pp_prw_stats st = {0};
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m), &o, &st);
    assert_int_equal(wr->n_timeseries, 0);
    assert_int_equal(st.dropped_invalid, 1);
}

static void test_summary(void **state) {
    (void)state;
    pp_metric *m = metric("rpc.latency", "ms");
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY;
    m->summary = mk(sizeof *m->summary);
    opentelemetry__proto__metrics__v1__summary__init(m->summary);
    pp_summary_point *p = mk(sizeof *p);
    opentelemetry__proto__metrics__v1__summary_data_point__init(p);
    p->time_unix_nano = T0;
    p->sum = 20;
    p->count = 5;
    quantile *q1 = mk(sizeof *q1), *q2 = mk(sizeof *q2);
    opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init(q1);
    opentelemetry__proto__metrics__v1__summary_data_point__value_at_quantile__init(q2);
    q1->quantile = 0.5;
    q1->value = 1.5;
    q2->quantile = 0.99;
    q2->value = 9.9;
    LIST(p->n_quantile_values, p->quantile_values, q1, q2);
    LIST(m->summary->n_data_points, m->summary->data_points, p);
    pp_prw_options o = plain();
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m), &o, NULL);
    assert_int_equal(wr->n_timeseries, 4);
    one_sample(find(wr, "{__name__=rpc_latency_milliseconds,quantile=0.5}"), 1.5, T0_MS);
    one_sample(find(wr, "{__name__=rpc_latency_milliseconds,quantile=0.99}"), 9.9, T0_MS);
    one_sample(find(wr, "{__name__=rpc_latency_milliseconds_sum}"), 20, T0_MS);
    one_sample(find(wr, "{__name__=rpc_latency_milliseconds_count}"), 5, T0_MS);
}

static void test_stale_markers(void **state) {
    (void)state;
    static const double bounds[] = {1};
    static const uint64_t counts[] = {0, 0};
    pp_metric *g = gauge("g", "");
    pp_number_point *p = num(T0, 0);
    p->flags = 1;
    pp_number_point *plain_nan = num(T0 + 1000000ull, NAN);
    LIST(g->gauge->n_data_points, g->gauge->data_points, p, plain_nan);
    pp_metric *h = histogram("h", "", CUMULATIVE);
    pp_histogram_point *hp = hpoint(T0, 1, bounds, counts, 0);
    hp->flags = 1;
    LIST(h->histogram->n_data_points, h->histogram->data_points, hp);
    pp_prw_options o = plain();
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, g, h), &o, NULL);
    const Prometheus__TimeSeries *ts = find(wr, "{__name__=g}");
    assert_int_equal(ts->n_samples, 2);
    assert_int_equal(bits(ts->samples[0]->value), 0x7ff0000000000002ull);
    assert_true(isnan(ts->samples[1]->value)); /* an ordinary NaN passes through */
    assert_false(pp_prw_is_stale_nan(ts->samples[1]->value));
    const char *hs[] = {"{__name__=h_bucket,le=1}", "{__name__=h_bucket,le=+Inf}", "{__name__=h_sum}",
                        "{__name__=h_count}"};
    for (size_t i = 0; i < 4; i++) {
        ts = find(wr, hs[i]);
        assert_int_equal(ts->n_samples, 1);
        assert_int_equal(bits(ts->samples[0]->value), 0x7ff0000000000002ull);
    }
    assert_int_equal(wr->n_timeseries, 5);
}

static void check_span(Prometheus__BucketSpan *s, int32_t offset, uint32_t length) {
    assert_int_equal(s->offset, offset);
    assert_int_equal(s->length, length);
}

static void test_native_histogram(void **state) {
    (void)state;
    static const uint64_t pos[] = {10, 0, 0, 20, 5, 2};
    static const uint64_t neg[] = {1, 0, 0, 0, 3};
    pp_exp_histogram_point *p = epoint(0, 99.5);
    p->positive = buckets(3, 6, pos);
    p->negative = buckets(-2, 5, neg);
    p->zero_count = 4;
    p->count = 45;
    pp_prw_options o = plain();
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, exp_histogram("latency", p)), &o, NULL);
    assert_int_equal(wr->n_timeseries, 1);
    const Prometheus__TimeSeries *ts = find(wr, "{__name__=latency}");
    assert_int_equal(ts->n_samples, 0);
    assert_int_equal(ts->n_histograms, 1);
    const Prometheus__Histogram *h = ts->histograms[0];
    assert_int_equal(h->schema, 0);
    assert_int_equal(h->count_case, PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT);
    assert_int_equal(h->count_int, 45);
    assert_int_equal(h->zero_count_case, PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT);
    assert_int_equal(h->zero_count_int, 4);
    check_double(h->zero_threshold, 1e-128);
    check_double(h->sum, 99.5);
    assert_int_equal(h->timestamp, T0_MS);
    assert_int_equal(h->reset_hint, PROMETHEUS__HISTOGRAM__RESET_HINT__UNKNOWN);
    /* OTel 3..8 -> Prometheus 4..9; the two empty buckets 5, 6 are filled. */
    assert_int_equal(h->n_positive_spans, 1);
    check_span(h->positive_spans[0], 4, 6);
    static const int64_t pd[] = {10, -10, 0, 20, -15, -3};
    assert_int_equal(h->n_positive_deltas, 6);
    assert_memory_equal(h->positive_deltas, pd, sizeof pd);
    /* OTel -2 and 2 -> Prometheus -1 and 3: a gap of 3 opens a new span. */
    assert_int_equal(h->n_negative_spans, 2);
    check_span(h->negative_spans[0], -1, 1);
    check_span(h->negative_spans[1], 3, 1);
    static const int64_t nd[] = {1, 2};
    assert_int_equal(h->n_negative_deltas, 2);
    assert_memory_equal(h->negative_deltas, nd, sizeof nd);
}

static void test_native_histogram_downscale_and_limits(void **state) {
    (void)state;
    static const uint64_t pos[] = {1, 2, 3, 4, 5};
    pp_exp_histogram_point *p = epoint(10, 1);
    p->positive = buckets(-3, 5, pos);
    p->zero_threshold = 0.001;
    p->count = 15;
    pp_exp_histogram_point *tiny = epoint(-5, 1);
    pp_exp_histogram_point *nosum = epoint(0, 0);
    nosum->sum_present_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__SUM_PRESENT__NOT_SET;
    pp_exp_histogram_point *stale = epoint(0, 0);
    stale->sum_present_case = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__SUM_PRESENT__NOT_SET;
    stale->flags = 1;
    stale->time_unix_nano = T0 + 1000000000ull;
    pp_prw_options o = plain();
    pp_prw_stats st = {0};
    Prometheus__WriteRequest *wr =
        run(REQ(NO_RES, exp_histogram("a", p), exp_histogram("b", tiny), exp_histogram("c", nosum),
                exp_histogram("a", stale)), &o, &st);
    assert_int_equal(st.dropped_scale, 1);
    assert_int_equal(st.dropped_no_sum, 1);
    assert_int_equal(wr->n_timeseries, 1);
    const Prometheus__TimeSeries *ts = find(wr, "{__name__=a}");
    assert_int_equal(ts->n_histograms, 2);
    const Prometheus__Histogram *h = ts->histograms[0];
    /* Scale 10 -> 8 merges 4 buckets: OTel -3..-1 -> 0, 0..1 -> 1 (+1 shift). */
    assert_int_equal(h->schema, 8);
    check_double(h->zero_threshold, 0.001);
    assert_int_equal(h->n_positive_spans, 1);
    check_span(h->positive_spans[0], 0, 2);
    static const int64_t pd[] = {6, 3};
    assert_memory_equal(h->positive_deltas, pd, sizeof pd);
    h = ts->histograms[1];
    assert_int_equal(bits(h->sum), 0x7ff0000000000002ull);
    assert_int_equal(h->count_int, 0);
    assert_int_equal(h->n_positive_spans, 0);
    assert_int_equal(h->timestamp, T0_MS + 1000);
}

static void test_time_zero_dropped(void **state) {
    (void)state;
    pp_metric *m = gauge("g", "");
    LIST(m->gauge->n_data_points, m->gauge->data_points, num(0, 1), num(T0, 2));
    pp_prw_options o = plain();
    pp_prw_stats st = {0};
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m), &o, &st);
    assert_int_equal(st.dropped_no_time, 1);
    one_sample(find(wr, "{__name__=g}"), 2, T0_MS);
}

static void test_series_merged_and_sorted(void **state) {
    (void)state;
    pp_metric *m = gauge("g", "");
    pp_number_point *late = num(2000000000ull, 2), *early = num(1000000000ull, 1), *other = num(1000000000ull, 3);
    LIST(late->n_attributes, late->attributes, kv("k", "v"));
    LIST(early->n_attributes, early->attributes, kv("k", "v"));
    LIST(other->n_attributes, other->attributes, kv("k", "w"));
    LIST(m->gauge->n_data_points, m->gauge->data_points, late, other, early);
    pp_prw_options o = plain();
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m), &o, NULL);
    assert_int_equal(wr->n_timeseries, 2);
    const Prometheus__TimeSeries *ts = wr->timeseries[0];
    assert_string_equal(labels_str(ts), "{__name__=g,k=v}");
    assert_int_equal(ts->n_samples, 2);
    assert_int_equal(ts->samples[0]->timestamp, 1000);
    check_double(ts->samples[0]->value, 1);
    assert_int_equal(ts->samples[1]->timestamp, 2000);
    assert_string_equal(labels_str(wr->timeseries[1]), "{__name__=g,k=w}");
}

static void test_label_collisions_and_sorting(void **state) {
    (void)state;
    pp_metric *m = gauge("g", "");
    pp_number_point *p = num(T0, 1);
    LIST(p->n_attributes, p->attributes, kv("a_b", "2"), kv("a.b", "1"), kv("a-b", "3"), kv("123", "x"),
         kv("Zed", "z"), kv("...", "dropped"));
    LIST(m->gauge->n_data_points, m->gauge->data_points, p);
    pp_prw_options o = plain();
    pp_prw_stats st = {0};
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, m), &o, &st);
    /* a-b < a.b < a_b by bytes; "Zed" sorts before "__name__". */
    assert_string_equal(labels_str(wr->timeseries[0]), "{Zed=z,__name__=g,a_b=3;1;2,key_123=x}");
    assert_int_equal(st.dropped_labels, 1);
}

static void test_external_labels_and_namespace(void **state) {
    (void)state;
    pp_metric *m = gauge("g", "");
    pp_number_point *p = num(T0, 1);
    LIST(p->n_attributes, p->attributes, kv("cluster", "from-point"));
    LIST(m->gauge->n_data_points, m->gauge->data_points, p);
    pp_cfg_kv items[] = {{"cluster", "c1"}, {"job", "ext"}, {"region", "eu"}};
    pp_cfg_kvs ext = {items, 3};
    pp_prw_options o = plain();
    o.external_labels = &ext;
    o.namespace_ = "ns";
    o.target_info = true;
    Prometheus__WriteRequest *wr =
        run(REQ(kv("service.name", "api"), m), &o, NULL);
    /* series labels win; external labels fill in what is missing */
    assert_int_equal(wr->n_timeseries, 1);
    assert_string_equal(labels_str(wr->timeseries[0]), "{__name__=ns_g,cluster=from-point,job=api,region=eu}");
    pp_metric *m2 = gauge("g", "");
    LIST(m2->gauge->n_data_points, m2->gauge->data_points, num(T0, 1));
    wr = run(REQ(kv("host.name", "h"), m2), &o, NULL);
    assert_int_equal(wr->n_timeseries, 2);
    find(wr, "{__name__=ns_target_info,cluster=c1,host_name=h,job=ext,region=eu}");
}

static void test_resource_to_telemetry(void **state) {
    (void)state;
    pp_metric *m = gauge("g", "");
    pp_number_point *p = num(T0, 1);
    LIST(p->n_attributes, p->attributes, kv("host.name", "override"));
    LIST(m->gauge->n_data_points, m->gauge->data_points, p);
    pp_prw_options o = plain();
    o.resource_to_telemetry_conversion = true;
    pp_metrics_req *r = request((pp_key_value *const[]){kv("service.name", "api"), kv("host.name", "h1"),
                                                        kv("os.type", "linux"), NULL},
                                (pp_metric *const[]){m, NULL});
    Prometheus__WriteRequest *wr = run(r, &o, NULL);
    assert_string_equal(labels_str(wr->timeseries[0]),
                        "{__name__=g,host_name=override,job=api,os_type=linux,service_name=api}");
}

static void test_metadata(void **state) {
    (void)state;
    pp_metric *c = sum("http.requests", "{request}", true, CUMULATIVE);
    c->description = "All requests";
    LIST(c->sum->n_data_points, c->sum->data_points, num(T0, 1), num(T0 + 1000000000ull, 2));
    pp_metric *h = histogram("rpc.duration", "s", CUMULATIVE);
    LIST(h->histogram->n_data_points, h->histogram->data_points, hpoint(T0, 0, NULL, NULL, 3));
    pp_prw_options o = plain();
    o.send_metadata = true;
    o.target_info = true;
    Prometheus__WriteRequest *wr = run(REQ(kv("host.name", "h"), c, h), &o, NULL);
    assert_int_equal(wr->n_metadata, 3);
    Prometheus__MetricMetadata *m = wr->metadata[0];
    assert_int_equal(m->type, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER);
    assert_string_equal(m->metric_family_name, "http_requests_total");
    assert_string_equal(m->help, "All requests");
    assert_string_equal(m->unit, "");
    m = wr->metadata[1];
    assert_int_equal(m->type, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__HISTOGRAM);
    assert_string_equal(m->metric_family_name, "rpc_duration_seconds");
    assert_string_equal(m->unit, "seconds");
    m = wr->metadata[2];
    assert_int_equal(m->type, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE);
    assert_string_equal(m->metric_family_name, "target_info");
    assert_string_equal(m->help, "Target metadata");
    /* target_info carries the resource's latest point time */
    one_sample(find(wr, "{__name__=target_info,host_name=h}"), 1, T0_MS + 1000);
}

static void test_series_hash(void **state) {
    (void)state;
    pp_metric *m = gauge("g", "");
    pp_number_point *a = num(T0, 1), *b = num(T0, 2), *c = num(T0, 3);
    LIST(a->n_attributes, a->attributes, kv("k", "v"));
    LIST(b->n_attributes, b->attributes, kv("k", "w"));
    LIST(c->n_attributes, c->attributes, kv("kv", ""));
    LIST(m->gauge->n_data_points, m->gauge->data_points, a, b, c);
    pp_metric *m2 = gauge("g", "");
    pp_number_point *a2 = num(T0 + 5, 9);
    LIST(a2->n_attributes, a2->attributes, kv("k", "v"));
    LIST(m2->gauge->n_data_points, m2->gauge->data_points, a2);
    pp_prw_options o = plain();
    Prometheus__WriteRequest *w1 = run(REQ(NO_RES, m), &o, NULL), *w2 = run(REQ(NO_RES, m2), &o, NULL);
    assert_int_equal(w1->n_timeseries, 3);
    uint64_t h0 = pp_prw_series_hash(w1->timeseries[0]);
    assert_true(h0 == pp_prw_series_hash(w2->timeseries[0]));
    assert_true(h0 != pp_prw_series_hash(w1->timeseries[1]));
    assert_true(h0 != pp_prw_series_hash(w1->timeseries[2]));
    assert_true(pp_prw_series_hash(w1->timeseries[1]) != pp_prw_series_hash(w1->timeseries[2]));
    /* The lookup's hashes, handed out for sharding, are the same values;
     * histogram buckets (label sets built per bucket) included. */
    pp_metric *h = histogram("lat", "ms", CUMULATIVE);
    pp_histogram_point *hp = hpoint(T0, 2, (double[]){1, 5}, (uint64_t[]){2, 3, 5}, 10);
    LIST(hp->n_attributes, hp->attributes, kv("z", "1"), kv("a", "2"), kv("M", "3"));
    LIST(h->histogram->n_data_points, h->histogram->data_points, hp);
    const uint64_t *hv = NULL;
    Prometheus__WriteRequest *w3 = pp_prw_translate_hashed(REQ(NO_RES, m, h), &o, A, NULL, &hv);
    assert_non_null(w3);
    assert_non_null(hv);
    assert_int_equal(w3->n_timeseries, 3 + 4); /* g x 3, le=1, le=5, le=+Inf, _count */
    for (size_t i = 0; i < w3->n_timeseries; i++) assert_true(hv[i] == pp_prw_series_hash(w3->timeseries[i]));
    const uint64_t *none = (const uint64_t *)1;
    assert_non_null(pp_prw_translate_hashed(REQ(NO_RES, gauge("empty", "")), &o, A, NULL, &none));
    assert_null(none);
}

static void test_invalid_name_and_no_value(void **state) {
    (void)state;
    pp_metric *bad = gauge("...", "");
    LIST(bad->gauge->n_data_points, bad->gauge->data_points, num(T0, 1));
    pp_metric *g = gauge("g", "");
    pp_number_point *p = num(T0, 1);
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE__NOT_SET;
    LIST(g->gauge->n_data_points, g->gauge->data_points, p);
    pp_prw_options o = plain();
    pp_prw_stats st = {0};
    Prometheus__WriteRequest *wr = run(REQ(NO_RES, bad, g), &o, &st);
    assert_int_equal(wr->n_timeseries, 0);
    assert_int_equal(st.dropped_name, 1);
    assert_int_equal(st.dropped_invalid, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gauge_job_instance_scope_target_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_alone_and_no_target_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_total_exemplar_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_monotonic_sum_is_gauge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta_and_unspecified_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_buckets_sum_count_exemplars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_bad_bucket_count_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_markers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_native_histogram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_native_histogram_downscale_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_zero_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_merged_and_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_collisions_and_sorting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_external_labels_and_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_to_telemetry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_bounds_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_name_and_no_value, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
