/* Unit tests: delta-to-cumulative state (agent/aggregate/delta2cum.h) and the
 * batch conversion. Expected totals are computed by hand in each test. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "aggregate/agg_clock.h"
#include "aggregate/delta2cum.h"
#include "aggregate/exphist.h"

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x
#define DELTA M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA)
#define CUMUL M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE)

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

static pp_resource *res(pp_arena *a, const char *svc) {
    pp_resource *r = pp_arena_alloc(a, sizeof(*r));
    opentelemetry__proto__resource__v1__resource__init(r);
    r->n_attributes = 1;
    r->attributes = tu_ptrs(a, 1);
    r->attributes[0] = tu_kv(a, "service.name", tu_any_str(a, svc));
    return r;
}

static pp_metric *metric(pp_arena *a, const char *name) {
    pp_metric *m = pp_arena_alloc(a, sizeof(*m));
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = pp_arena_strdup(a, name);
    m->unit = pp_arena_strdup(a, "1");
    return m;
}

static pp_number_point *inum(pp_arena *a, uint64_t start, uint64_t time, int64_t v) {
    pp_number_point *p = tu_num_point(a, start, time, 0, NULL, NULL, NULL, NULL);
    p->value_case = M(NUMBER_DATA_POINT__VALUE_AS_INT);
    p->as_int = v;
    return p;
}

static pp_d2c *state(int64_t max_stale, size_t max_streams) {
    pp_d2c_options o = {.max_stale_ns = max_stale, .max_streams = max_streams};
    pp_d2c *s = pp_d2c_new(&o);
    assert_non_null(s);
    return s;
}

static const pp_metric *out_metric(pp_batch *b, size_t k) {
    return b->metrics->resource_metrics[0]->scope_metrics[0]->metrics[k];
}

static void test_sum_running_totals(void **st_) {
    (void)st_;
    pp_d2c *s = state(0, 0);
    pp_d2c_stats stats = {0};
    /* Monotonic int: 5, 3, 7 over [10,20], [20,30], [30,40] -> 5, 8, 15 from 10. */
    pp_batch *in = pp_batch_new(PP_METRICS, 0);
    pp_arena *a = in->arena;
    pp_metric *m = tu_sum_metric(a, "requests", DELTA, 1);
    m->sum->data_points[0] = inum(a, 10, 20, 5);
    m->sum->data_points[1] = inum(a, 20, 30, 3);
    m->sum->data_points[2] = inum(a, 30, 40, 7);
    m->sum->n_data_points = 3;
    /* Non-monotonic double with attributes: 1.5 then -2.0 -> 1.5, -0.5. */
    pp_metric *g = tu_sum_metric(a, "queue", DELTA, 0);
    g->sum->data_points[0] = tu_num_point(a, 100, 110, 1.5, "q", "x", NULL, NULL);
    g->sum->data_points[1] = tu_num_point(a, 110, 120, -2.0, "q", "x", NULL, NULL);
    g->sum->n_data_points = 2;
    pp_metric *ms[] = {m, g};
    tu_metrics_batch(in, "svc", ms, 2);

    pp_batch *out = NULL;
    assert_int_equal(pp_d2c_convert(s, in, &out, &stats), 0);
    assert_ptr_not_equal(out, in);
    assert_int_equal(out->items, 5);
    const pp_metric *c = out_metric(out, 0);
    assert_int_equal(c->sum->aggregation_temporality, CUMUL);
    assert_true(c->sum->is_monotonic);
    int64_t want[] = {5, 8, 15};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c->sum->data_points[i]->as_int, want[i]);
        assert_int_equal(c->sum->data_points[i]->start_time_unix_nano, 10);
        assert_int_equal(c->sum->data_points[i]->time_unix_nano, 20 + 10 * i);
    }
    const pp_metric *q = out_metric(out, 1);
    assert_true(q->sum->data_points[0]->as_double == 1.5);
    assert_true(q->sum->data_points[1]->as_double == -0.5);
    assert_int_equal(q->sum->data_points[1]->start_time_unix_nano, 100);
    assert_int_equal(stats.converted, 5);
    /* The shared input is untouched. */
    assert_int_equal(m->sum->aggregation_temporality, DELTA);
    assert_int_equal(m->sum->data_points[1]->as_int, 3);
    assert_int_equal(m->sum->data_points[1]->start_time_unix_nano, 20);
    pp_batch_unref(out);
    pp_batch_unref(in);
    assert_int_equal(pp_d2c_stream_count(s), 2);
    pp_d2c_free(s);
}

static void test_identity_ignores_attribute_order(void **st_) {
    (void)st_;
    pp_d2c *s = state(0, 0);
    pp_d2c_stats stats = {0};
    pp_arena *a = pp_arena_new(0);
    pp_metric *m = tu_sum_metric(a, "x", DELTA, 1);
    pp_resource *r1 = res(a, "one"), *r2 = res(a, "two");
    pp_number_point *p1 = tu_num_point(a, 1, 2, 1, "a", "1", "b", "2");
    pp_number_point *p2 = tu_num_point(a, 2, 3, 10, "b", "2", "a", "1"); /* same set, other order */
    pp_number_point *p3 = tu_num_point(a, 2, 3, 100, "a", "1", "b", "3"); /* other value */
    pp_number_point out;
    pp_d2c_stream id = {.resource = r1, .metric = m, .attrs = p1->attributes, .n_attrs = 2};
    assert_int_equal(pp_d2c_sum(s, &id, p1, &out, a, &stats), PP_D2C_CONVERTED);
    id.attrs = p2->attributes;
    assert_int_equal(pp_d2c_sum(s, &id, p2, &out, a, &stats), PP_D2C_CONVERTED);
    assert_true(out.as_double == 11);
    id.attrs = p3->attributes;
    assert_int_equal(pp_d2c_sum(s, &id, p3, &out, a, &stats), PP_D2C_CONVERTED);
    assert_true(out.as_double == 100);
    id.resource = r2; /* another resource: another stream */
    id.attrs = p2->attributes;
    assert_int_equal(pp_d2c_sum(s, &id, p2, &out, a, &stats), PP_D2C_CONVERTED);
    assert_true(out.as_double == 10);
    assert_int_equal(pp_d2c_stream_count(s), 3);
    pp_arena_destroy(a);
    pp_d2c_free(s);
}

static void test_out_of_order_dropped_and_counted(void **st_) {
    (void)st_;
    pp_d2c *s = state(0, 0);
    pp_d2c_stats stats = {0};
    pp_arena *a = pp_arena_new(0);
    pp_metric *m = tu_sum_metric(a, "x", DELTA, 1);
    pp_d2c_stream id = {.metric = m};
    pp_number_point out;
    assert_int_equal(pp_d2c_sum(s, &id, inum(a, 20, 30, 4), &out, a, &stats), PP_D2C_CONVERTED);
    /* Older, equal time (a retry), and a start before the stream's start. */
    assert_int_equal(pp_d2c_sum(s, &id, inum(a, 10, 20, 1), &out, a, &stats), PP_D2C_DROP);
    assert_int_equal(pp_d2c_sum(s, &id, inum(a, 20, 30, 4), &out, a, &stats), PP_D2C_DROP);
    assert_int_equal(pp_d2c_sum(s, &id, inum(a, 5, 40, 4), &out, a, &stats), PP_D2C_DROP);
    assert_int_equal(stats.out_of_order, 3);
    /* A gap (start after the last time) is added. */
    assert_int_equal(pp_d2c_sum(s, &id, inum(a, 50, 60, 2), &out, a, &stats), PP_D2C_CONVERTED);
    assert_int_equal(out.as_int, 6);
    assert_int_equal(out.start_time_unix_nano, 20);
    pp_arena_destroy(a);
    pp_d2c_free(s);
}

static pp_histogram_point *hist(pp_arena *a, uint64_t start, uint64_t time, const double *bounds,
                                size_t nb, const uint64_t *counts, double sum, double min, double max) {
    pp_histogram_point *p = pp_arena_alloc(a, sizeof(*p));
    opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
    p->start_time_unix_nano = start;
    p->time_unix_nano = time;
    p->explicit_bounds = pp_arena_alloc(a, nb * sizeof(double) + 1);
    memcpy(p->explicit_bounds, bounds, nb * sizeof(double));
    p->n_explicit_bounds = nb;
    p->bucket_counts = pp_arena_alloc(a, (nb + 1) * sizeof(uint64_t));
    memcpy(p->bucket_counts, counts, (nb + 1) * sizeof(uint64_t));
    p->n_bucket_counts = nb + 1;
    for (size_t i = 0; i <= nb; i++) p->count += counts[i];
    p->sum_present_case = M(HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM);
    p->sum = sum;
    p->min_present_case = M(HISTOGRAM_DATA_POINT__MIN_PRESENT_MIN);
    p->min = min;
    p->max_present_case = M(HISTOGRAM_DATA_POINT__MAX_PRESENT_MAX);
    p->max = max;
    return p;
}

static void test_histogram_adds_and_resets_on_bounds_change(void **st_) {
    (void)st_;
    pp_d2c *s = state(0, 0);
    pp_d2c_stats stats = {0};
    pp_arena *a = pp_arena_new(0);
    pp_metric *m = metric(a, "latency");
    m->data_case = M(METRIC__DATA_HISTOGRAM);
    pp_d2c_stream id = {.metric = m};
    static const double b[] = {1, 5}, b2[] = {1, 10};
    pp_histogram_point out;
    uint64_t c1[] = {1, 2, 3}, c2[] = {0, 1, 1}, c3[] = {4, 0, 0};
    assert_int_equal(pp_d2c_histogram(s, &id, hist(a, 100, 200, b, 2, c1, 10, 0.5, 9), &out, a, &stats),
                     PP_D2C_CONVERTED);
    assert_int_equal(pp_d2c_histogram(s, &id, hist(a, 200, 300, b, 2, c2, 7, 2, 6), &out, a, &stats),
                     PP_D2C_CONVERTED);
    /* [1,2,3] + [0,1,1] = [1,3,4]; count 6 + 2; sum 10 + 7; min(0.5, 2); max(9, 6). */
    assert_int_equal(out.n_bucket_counts, 3);
    assert_int_equal(out.bucket_counts[0], 1);
    assert_int_equal(out.bucket_counts[1], 3);
    assert_int_equal(out.bucket_counts[2], 4);
    assert_int_equal(out.count, 8);
    assert_true(out.sum == 17.0);
    assert_true(out.min == 0.5);
    assert_true(out.max == 9.0);
    assert_int_equal(out.start_time_unix_nano, 100);
    assert_int_equal(out.time_unix_nano, 300);
    /* Other bounds: the stream restarts from this point. */
    assert_int_equal(pp_d2c_histogram(s, &id, hist(a, 300, 400, b2, 2, c3, 2, 0.1, 0.9), &out, a, &stats),
                     PP_D2C_CONVERTED);
    assert_int_equal(stats.resets, 1);
    assert_int_equal(out.bucket_counts[0], 4);
    assert_int_equal(out.bucket_counts[1], 0);
    assert_int_equal(out.count, 4);
    assert_true(out.sum == 2.0);
    assert_int_equal(out.start_time_unix_nano, 300);
    assert_true(out.explicit_bounds[1] == 10.0);
    pp_arena_destroy(a);
    pp_d2c_free(s);
}

static void test_stale_streams_expire(void **st_) {
    (void)st_;
    fake_now = 1000LL * 1000000000LL;
    pp_agg_set_clock(fake_clock);
    pp_d2c *s = state(300LL * 1000000000LL, 0); /* 5m */
    pp_d2c_stats stats = {0};
    pp_arena *a = pp_arena_new(0);
    pp_metric *m = tu_sum_metric(a, "x", DELTA, 1);
    pp_d2c_stream id = {.metric = m};
    pp_number_point out;
    pp_d2c_sum(s, &id, inum(a, 1, 2, 5), &out, a, &stats);
    fake_now += 299LL * 1000000000LL;
    assert_int_equal(pp_d2c_expire(s), 0); /* not yet */
    pp_d2c_sum(s, &id, inum(a, 2, 3, 1), &out, a, &stats);
    assert_int_equal(out.as_int, 6);
    fake_now += 301LL * 1000000000LL;
    assert_int_equal(pp_d2c_expire(s), 1);
    assert_int_equal(pp_d2c_stream_count(s), 0);
    /* The next point starts a new total with its own start. */
    pp_d2c_sum(s, &id, inum(a, 3, 4, 2), &out, a, &stats);
    assert_int_equal(out.as_int, 2);
    assert_int_equal(out.start_time_unix_nano, 3);
    pp_agg_set_clock(NULL);
    pp_arena_destroy(a);
    pp_d2c_free(s);
}

static void test_max_streams_passes_delta_through_counted(void **st_) {
    (void)st_;
    pp_d2c *s = state(0, 2);
    pp_d2c_stats stats = {0};
    pp_batch *in = pp_batch_new(PP_METRICS, 0);
    pp_arena *a = in->arena;
    pp_metric *m = tu_sum_metric(a, "x", DELTA, 1);
    for (int i = 0; i < 3; i++) {
        char v[2] = {(char)('a' + i), 0};
        m->sum->data_points[i] = tu_num_point(a, 1, 2, 10 + i, "k", v, NULL, NULL);
    }
    m->sum->n_data_points = 3;
    tu_metrics_batch(in, "svc", &m, 1);
    pp_batch *out = NULL;
    assert_int_equal(pp_d2c_convert(s, in, &out, &stats), 0);
    assert_int_equal(stats.limited, 1);
    assert_int_equal(stats.converted, 2);
    assert_int_equal(out->items, 3); /* nothing lost */
    const pp_metric *c = out_metric(out, 0), *d = out_metric(out, 1);
    assert_string_equal(c->name, "x");
    assert_int_equal(c->sum->aggregation_temporality, CUMUL);
    assert_int_equal(c->sum->n_data_points, 2);
    assert_string_equal(d->name, "x");
    assert_int_equal(d->sum->aggregation_temporality, DELTA);
    assert_int_equal(d->sum->n_data_points, 1);
    assert_ptr_equal(d->sum->data_points[0], m->sum->data_points[2]); /* unchanged */
    pp_batch_unref(out);
    pp_batch_unref(in);
    pp_d2c_free(s);
}

static void test_cumulative_batch_passes_as_is(void **st_) {
    (void)st_;
    pp_d2c *s = state(0, 0);
    pp_d2c_stats stats = {0};
    pp_batch *in = tu_make_metrics(2, 3, 1); /* gauges */
    pp_batch *out = NULL;
    assert_int_equal(pp_d2c_convert(s, in, &out, &stats), 0);
    assert_ptr_equal(out, in);
    pp_batch_unref(out);
    pp_batch_unref(in);
    assert_int_equal(pp_d2c_stream_count(s), 0);
    pp_d2c_free(s);
}

typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets exp_buckets;

static pp_exp_histogram_point *exph(pp_arena *a, uint64_t t, int32_t scale, int32_t off,
                                    const uint64_t *c, size_t n, uint64_t zero) {
    pp_exp_histogram_point *p = pp_arena_alloc(a, sizeof(*p));
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
    p->start_time_unix_nano = t - 10;
    p->time_unix_nano = t;
    p->scale = scale;
    p->zero_count = zero;
    exp_buckets *b = pp_arena_alloc(a, sizeof(*b));
    opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(b);
    b->offset = off;
    b->bucket_counts = pp_arena_alloc(a, n * sizeof(uint64_t));
    memcpy(b->bucket_counts, c, n * sizeof(uint64_t));
    b->n_bucket_counts = n;
    p->positive = b;
    p->count = zero;
    for (size_t i = 0; i < n; i++) p->count += c[i];
    return p;
}

static void test_exponential_histogram_merges_at_lower_scale(void **st_) {
    (void)st_;
    pp_d2c *s = state(0, 0);
    pp_d2c_stats stats = {0};
    pp_arena *a = pp_arena_new(0);
    pp_metric *m = metric(a, "e");
    m->data_case = M(METRIC__DATA_EXPONENTIAL_HISTOGRAM);
    pp_d2c_stream id = {.metric = m};
    pp_exp_histogram_point out;
    uint64_t c1[] = {1, 2, 3, 4}, c2[] = {5};
    assert_int_equal(pp_d2c_exp_histogram(s, &id, exph(a, 20, 1, 0, c1, 4, 1), &out, a, &stats),
                     PP_D2C_CONVERTED);
    assert_int_equal(out.scale, 1);
    /* Scale 1 indices 0..3 become scale 0 indices 0,0,1,1: [3,7]; plus 5 at index 1. */
    assert_int_equal(pp_d2c_exp_histogram(s, &id, exph(a, 30, 0, 1, c2, 1, 2), &out, a, &stats),
                     PP_D2C_CONVERTED);
    assert_int_equal(out.scale, 0);
    assert_int_equal(out.positive->offset, 0);
    assert_int_equal(out.positive->n_bucket_counts, 2);
    assert_int_equal(out.positive->bucket_counts[0], 3);
    assert_int_equal(out.positive->bucket_counts[1], 12);
    assert_int_equal(out.zero_count, 3);
    assert_int_equal(out.count, 11 + 7);
    assert_int_equal(out.start_time_unix_nano, 10);
    pp_arena_destroy(a);
    pp_d2c_free(s);
}

static void test_exph_index_matches_definition(void **st_) {
    (void)st_;
    /* Bucket i at scale s holds (2^(i/2^s), 2^((i+1)/2^s)]. */
    assert_int_equal(pp_exph_index(1.0, 0), -1); /* (0.5, 1] */
    assert_int_equal(pp_exph_index(1.5, 0), 0);  /* (1, 2] */
    assert_int_equal(pp_exph_index(2.0, 0), 0);
    assert_int_equal(pp_exph_index(3.0, 0), 1);
    assert_int_equal(pp_exph_index(4.0, 1), 3);  /* (2^1.5, 4] */
    assert_int_equal(pp_exph_index(3.0, 1), 3);  /* 2^1.5 = 2.83 < 3 */
    assert_int_equal(pp_exph_index(2.5, 1), 2);
    assert_int_equal(pp_exph_index(1000.0, -2), 2); /* (2^8, 2^12] */
    assert_int_equal(pp_exph_index(0.25, -1), -2);  /* (2^-4, 2^-2] */
}

/* Threads feeding their own stream and one shared stream at once. */
typedef struct worker { pp_d2c *s; int id; double own, shared_last; } worker;
#define ROUNDS 2000

static void *work(void *arg) {
    worker *w = arg;
    pp_arena *a = pp_arena_new(0);
    pp_metric *m = tu_sum_metric(a, "x", DELTA, 1);
    char v[8];
    snprintf(v, sizeof(v), "t%d", w->id);
    pp_d2c_stats stats = {0};
    pp_number_point out;
    for (int i = 0; i < ROUNDS; i++) {
        pp_number_point *p = tu_num_point(a, (uint64_t)i, (uint64_t)i + 1, 1, "k", v, NULL, NULL);
        pp_d2c_stream id = {.metric = m, .attrs = p->attributes, .n_attrs = 1};
        assert_int_equal(pp_d2c_sum(w->s, &id, p, &out, a, &stats), PP_D2C_CONVERTED);
        w->own = out.as_double;
        /* The shared stream: times interleave across threads, so some points
         * are out of order; converted + dropped must add up. */
        pp_number_point *q = tu_num_point(a, 0, (uint64_t)(i * 4 + w->id + 1), 1, NULL, NULL, NULL, NULL);
        pp_d2c_stream sid = {.metric = m};
        if (pp_d2c_sum(w->s, &sid, q, &out, a, &stats) == PP_D2C_CONVERTED) w->shared_last = out.as_double;
    }
    assert_int_equal(stats.converted + stats.out_of_order, 2 * ROUNDS);
    pp_arena_destroy(a);
    return NULL;
}

static void test_concurrent_updates(void **st_) {
    (void)st_;
    pp_d2c *s = state(0, 0);
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.s = s, .id = i};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    double shared_max = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(w[i].own == ROUNDS); /* no update lost on a thread's own stream */
        if (w[i].shared_last > shared_max) shared_max = w[i].shared_last;
    }
    assert_true(shared_max >= ROUNDS && shared_max <= 4 * ROUNDS);
    assert_int_equal(pp_d2c_stream_count(s), 5);
    pp_d2c_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_running_totals),
        cmocka_unit_test(test_identity_ignores_attribute_order),
        cmocka_unit_test(test_out_of_order_dropped_and_counted),
        cmocka_unit_test(test_histogram_adds_and_resets_on_bounds_change),
        cmocka_unit_test(test_stale_streams_expire),
        cmocka_unit_test(test_max_streams_passes_delta_through_counted),
        cmocka_unit_test(test_cumulative_batch_passes_as_is),
        cmocka_unit_test(test_exponential_histogram_merges_at_lower_scale),
        cmocka_unit_test(test_exph_index_matches_definition),
        cmocka_unit_test(test_concurrent_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
