/* Unit tests: the spanmetrics connector's series state (sm_agg.h) and the
 * connector in a running service. Expected counts, buckets and sums are
 * worked out by hand from the spans each test builds. */
#include "testutil.h"
#include "testutil_world.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/agg_clock.h"
#include "config.h"
#include "service.h"
#include "../../connectors/spanmetrics/sm_agg.h"

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x
#define MS 1000000ull

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

/* ---- building spans ---- */

typedef struct span_spec {
    const char *name;
    int kind;   /* SPAN_KIND_* value */
    int status; /* 0 unset, 1 ok, 2 error */
    uint64_t dur_ns;
    const char *attr_key, *attr_val; /* one span attribute, or NULL */
    uint8_t id;                      /* span id byte */
} span_spec;

static pp_batch *spans(const char *svc, const char *res_key, const char *res_val,
                       const span_spec *sp, size_t n) {
    pp_batch *b = pp_batch_new(PP_TRACES, 0);
    pp_arena *a = b->arena;
    pp_resource_spans *rs = pp_arena_alloc(a, sizeof(*rs));
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    pp_resource *r = pp_arena_alloc(a, sizeof(*r));
    opentelemetry__proto__resource__v1__resource__init(r);
    r->attributes = tu_ptrs(a, 2);
    r->attributes[r->n_attributes++] = tu_kv(a, "service.name", tu_any_str(a, svc));
    if (res_key) r->attributes[r->n_attributes++] = tu_kv(a, res_key, tu_any_str(a, res_val));
    rs->resource = r;
    pp_scope_spans *ss = pp_arena_alloc(a, sizeof(*ss));
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    ss->spans = tu_ptrs(a, n + 1);
    for (size_t i = 0; i < n; i++) {
        pp_span *s = pp_arena_alloc(a, sizeof(*s));
        opentelemetry__proto__trace__v1__span__init(s);
        uint8_t tid[16], sid[8];
        memset(tid, 0xa0 + sp[i].id, 16);
        memset(sid, sp[i].id, 8);
        s->trace_id = tu_bytes(a, tid, 16);
        s->span_id = tu_bytes(a, sid, 8);
        s->name = pp_arena_strdup(a, sp[i].name);
        s->kind = sp[i].kind;
        s->start_time_unix_nano = 1700000000000000000ull;
        s->end_time_unix_nano = s->start_time_unix_nano + sp[i].dur_ns;
        if (sp[i].status) {
            pp_span_status *st = pp_arena_alloc(a, sizeof(*st));
            opentelemetry__proto__trace__v1__status__init(st);
            st->code = sp[i].status;
            s->status = st;
        }
        if (sp[i].attr_key) {
            s->attributes = tu_ptrs(a, 1);
            s->attributes[0] = tu_kv(a, sp[i].attr_key, tu_any_str(a, sp[i].attr_val));
            s->n_attributes = 1;
        }
        ss->spans[i] = s;
    }
    ss->n_spans = n;
    rs->scope_spans = tu_ptrs(a, 1);
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    b->traces->resource_spans = tu_ptrs(a, 1);
    b->traces->resource_spans[0] = rs;
    b->traces->n_resource_spans = 1;
    pp_batch_recount(b);
    return b;
}

static void feed(sm_agg *g, pp_batch *b, size_t expect_overflow) {
    size_t lost;
    assert_int_equal(sm_agg_add(g, b->traces, &lost), expect_overflow);
    assert_int_equal(lost, 0);
    pp_batch_unref(b);
}

/* ---- reading the emitted batch ---- */

static const char *attr_str(pp_key_value **kv, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0 && kv[i]->value->value_case ==
                                                OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return kv[i]->value->string_value;
    return NULL;
}

static const pp_metric *find_metric(pp_batch *b, const char *svc, const char *name) {
    for (size_t i = 0; i < b->metrics->n_resource_metrics; i++) {
        pp_resource_metrics *rm = b->metrics->resource_metrics[i];
        const char *s = attr_str(rm->resource->attributes, rm->resource->n_attributes, "service.name");
        if ((svc && (!s || strcmp(s, svc) != 0)) || (!svc && s)) continue;
        for (size_t k = 0; k < rm->scope_metrics[0]->n_metrics; k++)
            if (strcmp(rm->scope_metrics[0]->metrics[k]->name, name) == 0)
                return rm->scope_metrics[0]->metrics[k];
    }
    return NULL;
}

/* The calls point of the series with span.name == op (and kind, if set). */
static pp_number_point *calls_of(pp_batch *b, const char *svc, const char *op, const char *kind) {
    const pp_metric *m = find_metric(b, svc, "traces.span.metrics.calls");
    if (!m) return NULL;
    for (size_t i = 0; i < m->sum->n_data_points; i++) {
        pp_number_point *p = m->sum->data_points[i];
        const char *n = attr_str(p->attributes, p->n_attributes, "span.name");
        const char *k = attr_str(p->attributes, p->n_attributes, "span.kind");
        if (n && strcmp(n, op) == 0 && (!kind || strcmp(k, kind) == 0)) return p;
    }
    return NULL;
}

/* The duration point of a span name (and kind, when kind is not NULL):
 * series come out in hash order. */
static pp_histogram_point *dur_of_kind(pp_batch *b, const char *svc, const char *op, const char *kind) {
    const pp_metric *m = find_metric(b, svc, "traces.span.metrics.duration");
    if (!m) return NULL;
    for (size_t i = 0; i < m->histogram->n_data_points; i++) {
        pp_histogram_point *p = m->histogram->data_points[i];
        const char *n = attr_str(p->attributes, p->n_attributes, "span.name");
        const char *k = attr_str(p->attributes, p->n_attributes, "span.kind");
        if (n && strcmp(n, op) == 0 && (!kind || (k && strcmp(k, kind) == 0))) return p;
    }
    return NULL;
}

static pp_histogram_point *dur_of(pp_batch *b, const char *svc, const char *op) {
    return dur_of_kind(b, svc, op, NULL);
}

/* The Collector's default buckets, in ms, as the test expects them. */
static const double bounds_ms[] = {2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000,
                                   10000, 15000};
#define NB (sizeof(bounds_ms) / sizeof(bounds_ms[0]))

static sm_agg_options opts(void) {
    sm_agg_options o = {.histogram = true, .bounds = bounds_ms, .nbounds = NB, .ns_per_unit = 1e6,
                        .cap = 1000, .calls_name = "traces.span.metrics.calls",
                        .duration_name = "traces.span.metrics.duration", .unit = "ms"};
    return o;
}

static void test_calls_and_duration_buckets(void **state) {
    (void)state;
    fake_now = 5000;
    pp_agg_set_clock(fake_clock);
    sm_agg_options o = opts();
    sm_agg *g = sm_agg_new(&o);
    const int SERVER = 2, CLIENT = 3;
    span_spec s[] = {
        {"GET /a", SERVER, 0, 1 * MS, NULL, NULL, 1},     {"GET /a", SERVER, 0, 2 * MS, NULL, NULL, 2},
        {"GET /a", SERVER, 0, 3 * MS, NULL, NULL, 3},     {"GET /a", SERVER, 0, 7 * MS, NULL, NULL, 4},
        {"GET /a", SERVER, 0, 55 * MS, NULL, NULL, 5},    {"GET /a", SERVER, 0, 20000 * MS, NULL, NULL, 6},
        {"GET /a", CLIENT, 2, 5 * MS, NULL, NULL, 7},
    };
    feed(g, spans("api", NULL, NULL, s, 7), 0);
    bool oom;
    pp_batch *b = sm_agg_snapshot(g, 9000, &oom);
    assert_non_null(b);
    assert_int_equal(b->items, 4); /* 2 series x (calls, duration) */
    assert_int_equal(b->metrics->n_resource_metrics, 1);
    const pp_metric *cm = find_metric(b, "api", "traces.span.metrics.calls");
    const pp_metric *dm = find_metric(b, "api", "traces.span.metrics.duration");
    assert_non_null(cm);
    assert_non_null(dm);
    assert_int_equal(cm->data_case, M(METRIC__DATA_SUM));
    assert_true(cm->sum->is_monotonic);
    assert_int_equal(cm->sum->aggregation_temporality,
                     M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE));
    assert_string_equal(dm->unit, "ms");
    assert_int_equal(dm->data_case, M(METRIC__DATA_HISTOGRAM));

    pp_number_point *c = calls_of(b, "api", "GET /a", "SPAN_KIND_SERVER");
    assert_non_null(c);
    assert_int_equal(c->as_int, 6);
    assert_int_equal(c->start_time_unix_nano, 5000);
    assert_int_equal(c->time_unix_nano, 9000);
    assert_string_equal(attr_str(c->attributes, c->n_attributes, "service.name"), "api");
    assert_string_equal(attr_str(c->attributes, c->n_attributes, "status.code"), "STATUS_CODE_UNSET");
    pp_number_point *e = calls_of(b, "api", "GET /a", "SPAN_KIND_CLIENT");
    assert_non_null(e);
    assert_int_equal(e->as_int, 1);
    assert_string_equal(attr_str(e->attributes, e->n_attributes, "status.code"), "STATUS_CODE_ERROR");

    /* Buckets are upper-inclusive: 1,2 -> (..2]; 3 -> (2,4]; 7 -> (6,8];
     * 55 -> (50,100]; 20000 -> (15000, +Inf). */
    const pp_metric *hm = dm;
    pp_histogram_point *h = NULL;
    for (size_t i = 0; i < hm->histogram->n_data_points; i++) {
        pp_histogram_point *p = hm->histogram->data_points[i];
        if (strcmp(attr_str(p->attributes, p->n_attributes, "span.kind"), "SPAN_KIND_SERVER") == 0) h = p;
    }
    if (!h) {
        fail_msg("no duration point for SPAN_KIND_SERVER");
        return;
    }
    uint64_t want[NB + 1] = {0};
    want[0] = 2, want[1] = 1, want[3] = 1, want[6] = 1, want[NB] = 1;
    assert_int_equal(h->n_bucket_counts, NB + 1);
    assert_int_equal(h->n_explicit_bounds, NB);
    for (size_t i = 0; i <= NB; i++) assert_int_equal(h->bucket_counts[i], want[i]);
    assert_int_equal(h->count, 6);
    assert_true(h->sum == 1 + 2 + 3 + 7 + 55 + 20000);
    assert_true(h->explicit_bounds[NB - 1] == 15000);
    pp_batch_unref(b);

    /* Cumulative: the next flush carries the totals, same start. */
    span_spec more[] = {{"GET /a", SERVER, 0, 9 * MS, NULL, NULL, 8}, {"GET /a", SERVER, 0, 9 * MS, NULL, NULL, 9}};
    feed(g, spans("api", NULL, NULL, more, 2), 0);
    b = sm_agg_snapshot(g, 12000, &oom);
    c = calls_of(b, "api", "GET /a", "SPAN_KIND_SERVER");
    assert_int_equal(c->as_int, 8);
    assert_int_equal(c->start_time_unix_nano, 5000);
    h = dur_of_kind(b, "api", "GET /a", "SPAN_KIND_SERVER");
    assert_int_equal(h->count, 8);
    assert_int_equal(h->bucket_counts[4], 2); /* 9 ms twice: (8, 10] */
    pp_batch_unref(b);
    sm_agg_free(g);
    pp_agg_set_clock(NULL);
}

static void test_dimensions_from_span_then_resource(void **state) {
    (void)state;
    sm_dim dims[] = {{"http.method", "GET"}, {"region", NULL}};
    sm_agg_options o = opts();
    o.dims = dims;
    o.ndims = 2;
    sm_agg *g = sm_agg_new(&o);
    span_spec s[] = {{"a", 2, 0, MS, "http.method", "POST", 1}, {"b", 2, 0, MS, NULL, NULL, 2}};
    feed(g, spans("api", "region", "eu-1", s, 2), 0);
    span_spec s2[] = {{"c", 2, 0, MS, NULL, NULL, 3}};
    feed(g, spans("web", NULL, NULL, s2, 1), 0);
    bool oom;
    pp_batch *b = sm_agg_snapshot(g, 1, &oom);
    assert_int_equal(b->metrics->n_resource_metrics, 2); /* one per service */
    pp_number_point *a = calls_of(b, "api", "a", NULL), *bb = calls_of(b, "api", "b", NULL);
    pp_number_point *c = calls_of(b, "web", "c", NULL);
    assert_string_equal(attr_str(a->attributes, a->n_attributes, "http.method"), "POST");
    assert_string_equal(attr_str(a->attributes, a->n_attributes, "region"), "eu-1");
    assert_string_equal(attr_str(bb->attributes, bb->n_attributes, "http.method"), "GET"); /* default */
    assert_string_equal(attr_str(c->attributes, c->n_attributes, "http.method"), "GET");
    assert_null(attr_str(c->attributes, c->n_attributes, "region")); /* no default: omitted */
    assert_int_equal(c->n_attributes, 5);
    pp_batch_unref(b);
    sm_agg_free(g);
}

static void test_overflow_series_beyond_cap(void **state) {
    (void)state;
    sm_agg_options o = opts();
    o.cap = 2;
    sm_agg *g = sm_agg_new(&o);
    span_spec s[] = {{"a", 2, 0, MS, NULL, NULL, 1}, {"b", 2, 0, MS, NULL, NULL, 2},
                     {"c", 2, 0, 3 * MS, NULL, NULL, 3}, {"d", 2, 0, 5 * MS, NULL, NULL, 4},
                     {"a", 2, 0, MS, NULL, NULL, 5}};
    feed(g, spans("api", NULL, NULL, s, 5), 2); /* c and d */
    assert_int_equal(sm_agg_series_count(g), 3); /* a, b, overflow */
    bool oom;
    pp_batch *b = sm_agg_snapshot(g, 1, &oom);
    assert_int_equal(calls_of(b, "api", "a", NULL)->as_int, 2);
    const pp_metric *m = find_metric(b, NULL, "traces.span.metrics.calls"); /* no service */
    assert_non_null(m);
    assert_int_equal(m->sum->n_data_points, 1);
    pp_number_point *p = m->sum->data_points[0];
    assert_int_equal(p->as_int, 2);
    assert_int_equal(p->n_attributes, 1);
    assert_string_equal(p->attributes[0]->key, "otel.metric.overflow");
    assert_true(p->attributes[0]->value->bool_value);
    const pp_metric *d = find_metric(b, NULL, "traces.span.metrics.duration");
    assert_true(d->histogram->data_points[0]->sum == 8.0);
    pp_batch_unref(b);
    sm_agg_free(g);
}

static void test_series_expire(void **state) {
    (void)state;
    fake_now = 1000LL * 1000000000LL;
    pp_agg_set_clock(fake_clock);
    sm_agg_options o = opts();
    o.expiration_ns = 300LL * 1000000000LL;
    sm_agg *g = sm_agg_new(&o);
    span_spec s[] = {{"old", 2, 0, MS, NULL, NULL, 1}};
    feed(g, spans("api", NULL, NULL, s, 1), 0);
    fake_now += 200LL * 1000000000LL;
    span_spec s2[] = {{"new", 2, 0, MS, NULL, NULL, 2}};
    feed(g, spans("api", NULL, NULL, s2, 1), 0);
    fake_now += 200LL * 1000000000LL; /* old: 400 s idle, new: 200 s */
    bool oom;
    pp_batch *b = sm_agg_snapshot(g, fake_now, &oom);
    assert_null(calls_of(b, "api", "old", NULL));
    assert_non_null(calls_of(b, "api", "new", NULL));
    assert_int_equal(sm_agg_series_count(g), 1);
    pp_batch_unref(b);
    sm_agg_free(g);
    pp_agg_set_clock(NULL);
}

static void test_exemplars_keep_most_recent(void **state) {
    (void)state;
    sm_agg_options o = opts();
    o.max_exemplars = 2;
    sm_agg *g = sm_agg_new(&o);
    span_spec s[] = {{"a", 2, 0, 1 * MS, NULL, NULL, 1}, {"a", 2, 0, 2 * MS, NULL, NULL, 2},
                     {"a", 2, 0, 3 * MS, NULL, NULL, 3}};
    feed(g, spans("api", NULL, NULL, s, 3), 0);
    bool oom;
    pp_batch *b = sm_agg_snapshot(g, 1, &oom);
    pp_histogram_point *h = dur_of(b, "api", "a");
    assert_int_equal(h->n_exemplars, 2);
    uint8_t seen = 0;
    for (size_t i = 0; i < 2; i++) {
        pp_exemplar *e = h->exemplars[i];
        assert_int_equal(e->span_id.len, 8);
        assert_int_equal(e->trace_id.len, 16);
        assert_int_equal(e->trace_id.data[0], 0xa0 + e->span_id.data[0]);
        assert_true(e->as_double == (double)e->span_id.data[0]); /* span n lasted n ms */
        seen |= (uint8_t)(1u << e->span_id.data[0]);
    }
    assert_int_equal(seen, (1 << 2) | (1 << 3)); /* spans 2 and 3 */
    pp_batch_unref(b);
    b = sm_agg_snapshot(g, 2, &oom); /* each exemplar is sent once */
    assert_int_equal(dur_of(b, "api", "a")->n_exemplars, 0);
    pp_batch_unref(b);
    sm_agg_free(g);
}

static void test_delta_temporality_and_refusal(void **state) {
    (void)state;
    fake_now = 100;
    pp_agg_set_clock(fake_clock);
    sm_agg_options o = opts();
    o.delta = true;
    sm_agg *g = sm_agg_new(&o);
    span_spec s[] = {{"a", 2, 0, 1 * MS, NULL, NULL, 1}, {"a", 2, 0, 3 * MS, NULL, NULL, 2},
                     {"a", 2, 0, 5 * MS, NULL, NULL, 3}};
    feed(g, spans("api", NULL, NULL, s, 3), 0);
    bool oom;
    pp_batch *b = sm_agg_snapshot(g, 1000, &oom);
    const pp_metric *m = find_metric(b, "api", "traces.span.metrics.calls");
    assert_int_equal(m->sum->aggregation_temporality,
                     M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA));
    assert_int_equal(calls_of(b, "api", "a", NULL)->as_int, 3);
    assert_int_equal(calls_of(b, "api", "a", NULL)->start_time_unix_nano, 100);
    pp_batch_unref(b);
    sm_agg_commit(g, 1000);
    assert_int_equal(sm_agg_series_count(g), 0); /* delivered and idle */

    feed(g, spans("api", NULL, NULL, s, 2), 0);
    b = sm_agg_snapshot(g, 2000, &oom);
    assert_int_equal(calls_of(b, "api", "a", NULL)->as_int, 2);
    pp_batch_unref(b); /* refused: no commit */
    feed(g, spans("api", NULL, NULL, s, 1), 0);
    b = sm_agg_snapshot(g, 3000, &oom);
    pp_number_point *c = calls_of(b, "api", "a", NULL);
    assert_int_equal(c->as_int, 3); /* 2 refused + 1 new */
    pp_histogram_point *h = dur_of(b, "api", "a");
    assert_int_equal(h->count, 3);
    assert_true(h->sum == 1 + 3 + 1); /* 1ms, 3ms, then 1ms */
    pp_batch_unref(b);
    sm_agg_commit(g, 3000);
    feed(g, spans("api", NULL, NULL, s, 1), 0);
    b = sm_agg_snapshot(g, 4000, &oom);
    assert_int_equal(calls_of(b, "api", "a", NULL)->as_int, 1);
    assert_int_equal(calls_of(b, "api", "a", NULL)->start_time_unix_nano, 100); /* new series */
    pp_batch_unref(b);
    sm_agg_free(g);
    pp_agg_set_clock(NULL);
}

static void test_exponential_histogram(void **state) {
    (void)state;
    sm_agg_options o = opts();
    o.exponential = true;
    o.max_size = 8;
    sm_agg *g = sm_agg_new(&o);
    span_spec s[] = {{"a", 2, 0, 0, NULL, NULL, 1},        {"a", 2, 0, 1 * MS, NULL, NULL, 2},
                     {"a", 2, 0, 10 * MS, NULL, NULL, 3},  {"a", 2, 0, 100 * MS, NULL, NULL, 4},
                     {"a", 2, 0, 1000 * MS, NULL, NULL, 5}};
    feed(g, spans("api", NULL, NULL, s, 5), 0);
    bool oom;
    pp_batch *b = sm_agg_snapshot(g, 1, &oom);
    const pp_metric *m = find_metric(b, "api", "traces.span.metrics.duration");
    assert_int_equal(m->data_case, M(METRIC__DATA_EXPONENTIAL_HISTOGRAM));
    pp_exp_histogram_point *p = m->exponential_histogram->data_points[0];
    assert_int_equal(p->count, 5);
    assert_int_equal(p->zero_count, 1);
    assert_true(p->sum == 1111.0);
    assert_true(p->positive->n_bucket_counts <= 8);
    /* 1..1000 spans 2^0..2^10: at most 8 buckets needs scale <= -1; the
     * highest scale that fits is -1 ((2^-2, 1] ... (2^8, 2^10] -> indices -1..4). */
    assert_int_equal(p->scale, -1);
    uint64_t total = 0;
    for (size_t i = 0; i < p->positive->n_bucket_counts; i++) total += p->positive->bucket_counts[i];
    assert_int_equal(total, 4);
    double vals[] = {1, 10, 100, 1000};
    for (int i = 0; i < 4; i++) {
        /* each value lies in its bucket: base^idx < v <= base^(idx+1), base = 2^(2^-scale) */
        int32_t idx = p->positive->offset;
        uint64_t seen = 0;
        for (size_t k = 0; k < p->positive->n_bucket_counts; k++) {
            double lo = pow(2.0, (double)(idx + (int32_t)k) * 2.0), hi = pow(2.0, (double)(idx + (int32_t)k + 1) * 2.0);
            if (vals[i] > lo && vals[i] <= hi) seen = p->positive->bucket_counts[k];
        }
        assert_true(seen >= 1);
    }
    pp_batch_unref(b);
    sm_agg_free(g);
}

/* Four threads recording into the same and into their own series. */
typedef struct rec_arg { sm_agg *g; uint8_t id; } rec_arg;
static void *record(void *arg) {
    rec_arg *r = arg;
    char own[8];
    snprintf(own, sizeof(own), "own%u", r->id);
    span_spec s[] = {{"shared", 2, 0, 3 * MS, NULL, NULL, 1}, {own, 2, 0, 7 * MS, NULL, NULL, 2}};
    for (int i = 0; i < 500; i++) {
        pp_batch *b = spans("api", NULL, NULL, s, 2);
        size_t lost;
        sm_agg_add(r->g, b->traces, &lost);
        pp_batch_unref(b);
    }
    return NULL;
}

static void test_concurrent_recording(void **state) {
    (void)state;
    sm_agg_options o = opts();
    sm_agg *g = sm_agg_new(&o);
    pthread_t t[4];
    rec_arg args[4];
    for (uint8_t i = 0; i < 4; i++) {
        args[i] = (rec_arg){g, i};
        pthread_create(&t[i], NULL, record, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    bool oom;
    pp_batch *b = sm_agg_snapshot(g, 1, &oom);
    assert_int_equal(calls_of(b, "api", "shared", NULL)->as_int, 2000);
    assert_true(dur_of(b, "api", "shared")->sum == 6000.0);
    assert_int_equal(dur_of(b, "api", "shared")->bucket_counts[1], 2000);
    assert_int_equal(calls_of(b, "api", "own3", NULL)->as_int, 500);
    assert_int_equal(sm_agg_series_count(g), 5);
    pp_batch_unref(b);
    sm_agg_free(g);
}

/* ---- end to end: fake receiver -> spanmetrics -> metrics pipeline -> fake exporter ---- */

static void test_service_end_to_end(void **state) {
    (void)state;
    tu_world *w = tu_keeper_world("receivers: {frecv: }\n"
                               "connectors:\n"
                               "  span_metrics:\n"
                               "    metrics_flush_interval: 30ms\n"
                               "    histogram: {unit: s, explicit: {buckets: [10ms, 1s]}}\n"
                               "    dimensions: [{name: http.route}]\n"
                               "    exemplars: {enabled: true}\n"
                               "    exclude_dimensions: [status.code]\n"
                               "exporters: {fkeep: }\n"
                               "service:\n"
                               "  pipelines:\n"
                               "    traces: {receivers: [frecv], exporters: [span_metrics]}\n"
                               "    metrics: {receivers: [span_metrics], exporters: [fkeep]}\n");
    span_spec s[] = {{"GET", 2, 0, 5 * MS, "http.route", "/x", 1}, {"GET", 2, 0, 500 * MS, "http.route", "/x", 2},
                     {"GET", 2, 0, 2000 * MS, "http.route", "/x", 3}};
    pp_batch *in = spans("shop", NULL, NULL, s, 3);
    pp_status st = {0};
    assert_int_equal(pp_consume(tu_recv_next[PP_TRACES], in, &st), 0);
    pp_batch_unref(in);
    tu_world_run(w, 200); /* several flushes */
    assert_true(tu_kept->n >= 2);
    pp_batch *b = tu_kept->last;
    assert_int_equal(b->items, 2);
    pp_number_point *c = calls_of(b, "shop", "GET", "SPAN_KIND_SERVER");
    assert_int_equal(c->as_int, 3); /* cumulative: same total every flush */
    assert_string_equal(attr_str(c->attributes, c->n_attributes, "http.route"), "/x");
    assert_null(attr_str(c->attributes, c->n_attributes, "status.code")); /* excluded */
    assert_int_equal(c->n_attributes, 4);
    const pp_metric *dm = find_metric(b, "shop", "traces.span.metrics.duration");
    assert_string_equal(dm->unit, "s");
    pp_histogram_point *h = dm->histogram->data_points[0];
    assert_int_equal(h->n_explicit_bounds, 2);
    assert_true(h->explicit_bounds[0] == 0.01 && h->explicit_bounds[1] == 1.0);
    assert_int_equal(h->bucket_counts[0], 1); /* 0.005 s */
    assert_int_equal(h->bucket_counts[1], 1); /* 0.5 s */
    assert_int_equal(h->bucket_counts[2], 1); /* 2 s */
    assert_true(h->sum > 2.5049 && h->sum < 2.5051);
    size_t len;
    char *text = pp_metrics_render(w->host.metrics, &len);
    assert_non_null(strstr(text, "pipit_spanmetrics_series{connector=\"span_metrics\"} 1"));
    free(text);
    tu_world_free(w);
}

static void test_shutdown_flushes_once_more(void **state) {
    (void)state;
    tu_world *w = tu_keeper_world("receivers: {frecv: }\n"
                               "connectors: {spanmetrics: {metrics_flush_interval: 1h,"
                               " aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA}}\n"
                               "exporters: {fkeep: }\n"
                               "service:\n"
                               "  pipelines:\n"
                               "    traces: {receivers: [frecv], exporters: [spanmetrics]}\n"
                               "    metrics: {receivers: [spanmetrics], exporters: [fkeep]}\n");
    span_spec s[] = {{"op", 1, 1, 1 * MS, NULL, NULL, 1}};
    pp_batch *in = spans("svc", NULL, NULL, s, 1);
    pp_status st = {0};
    assert_int_equal(pp_consume(tu_recv_next[PP_TRACES], in, &st), 0);
    pp_batch_unref(in);
    assert_int_equal(tu_kept->n, 0);
    tu_world_stop(w, 500);
    assert_int_equal(tu_kept->n, 1);
    pp_number_point *c = calls_of(tu_kept->last, "svc", "op", "SPAN_KIND_INTERNAL");
    assert_non_null(c);
    assert_int_equal(c->as_int, 1);
    assert_string_equal(attr_str(c->attributes, c->n_attributes, "status.code"), "STATUS_CODE_OK");
    tu_world_free(w);
}

static void test_config_errors(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    const char *texts[] = {"receivers: {frecv: }\n"
                           "connectors:\n"
                           "  spanmetrics:\n"
                           "    histogram: {explicit: {buckets: [10ms, 5ms]}}\n"
                           "    dimensions: [{default: x}]\n"
                           "exporters: {debug: }\n"
                           "service:\n"
                           "  pipelines:\n"
                           "    traces: {receivers: [frecv], exporters: [spanmetrics]}\n"
                           "    metrics: {receivers: [spanmetrics], exporters: [debug]}\n"};
    const char *names[] = {"t.yaml"};
    pp_config *cfg = pp_config_load_texts(texts, names, 1, &d);
    assert_null(cfg);
    assert_true(pp_diag_has(&d, "connectors.spanmetrics.histogram", "strictly increasing"));
    assert_true(pp_diag_has(&d, "connectors.spanmetrics.dimensions[0]", "name"));
    pp_diag_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_and_duration_buckets),
        cmocka_unit_test(test_dimensions_from_span_then_resource),
        cmocka_unit_test(test_overflow_series_beyond_cap),
        cmocka_unit_test(test_series_expire),
        cmocka_unit_test(test_exemplars_keep_most_recent),
        cmocka_unit_test(test_delta_temporality_and_refusal),
        cmocka_unit_test(test_exponential_histogram),
        cmocka_unit_test(test_concurrent_recording),
        cmocka_unit_test(test_service_end_to_end),
        cmocka_unit_test(test_shutdown_flushes_once_more),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
