/* Unit tests: protobuf-c round trips of the Prometheus remote-write 1.0
 * messages (proto/prometheus/remote.proto; see test_proto_traces.c for the
 * method). */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus/remote.pb-c.h"

typedef Prometheus__WriteRequest write_req_t;
typedef Prometheus__TimeSeries series_t;
typedef Prometheus__Label label_t;
typedef Prometheus__Sample sample_t;
typedef Prometheus__Exemplar exemplar_t;
typedef Prometheus__Histogram histogram_t;
typedef Prometheus__BucketSpan span_t;
typedef Prometheus__MetricMetadata metadata_t;

#define STALE_NAN 0x7ff0000000000002ull

static label_t *make_label(pp_arena *a, const char *name, const char *value) {
    label_t *l = pp_arena_alloc(a, sizeof(*l));
    prometheus__label__init(l);
    l->name = pp_arena_strdup(a, name);
    l->value = pp_arena_strdup(a, value);
    return l;
}

static label_t **make_labels(pp_arena *a, size_t *n) {
    label_t **l = tu_ptrs(a, 4);
    l[0] = make_label(a, "Zone", "eu-west");
    l[1] = make_label(a, "__name__", "http_requests_total");
    l[2] = make_label(a, "job", "ünïcødé/サービス 🚀");
    l[3] = make_label(a, "", ""); /* invalid for Prometheus, but the wire allows it */
    *n = 4;
    return l;
}

static sample_t *make_sample(pp_arena *a, double v, int64_t ts) {
    sample_t *s = pp_arena_alloc(a, sizeof(*s));
    prometheus__sample__init(s);
    s->value = v;
    s->timestamp = ts;
    return s;
}

static span_t *make_span(pp_arena *a, int32_t offset, uint32_t length) {
    span_t *s = pp_arena_alloc(a, sizeof(*s));
    prometheus__bucket_span__init(s);
    s->offset = offset;
    s->length = length;
    return s;
}

/* An integer histogram (count_int, zero_count_int, deltas) or a float one
 * (count_float, zero_count_float, counts). */
static histogram_t *make_histogram(pp_arena *a, int is_float) {
    histogram_t *h = pp_arena_alloc(a, sizeof(*h));
    prometheus__histogram__init(h);
    h->sum = tu_bits2d(STALE_NAN);
    h->schema = -53;
    h->zero_threshold = DBL_MIN;
    h->n_negative_spans = 2;
    h->negative_spans = tu_ptrs(a, 2);
    h->negative_spans[0] = make_span(a, INT32_MIN, 1);
    h->negative_spans[1] = make_span(a, 2, UINT32_MAX);
    h->n_positive_spans = 1;
    h->positive_spans = tu_ptrs(a, 1);
    h->positive_spans[0] = make_span(a, -3, 3);
    if (is_float) {
        h->count_case = PROMETHEUS__HISTOGRAM__COUNT_COUNT_FLOAT;
        h->count_float = 0.0; /* present with value 0 */
        h->zero_count_case = PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_FLOAT;
        h->zero_count_float = 0.5;
        static double neg[] = {1.5, INFINITY};
        static double pos[] = {0.25, 1e308, 5e-324};
        h->n_negative_counts = 2;
        h->negative_counts = neg;
        h->n_positive_counts = 3;
        h->positive_counts = pos;
    } else {
        h->count_case = PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT;
        h->count_int = UINT64_MAX;
        h->zero_count_case = PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT;
        h->zero_count_int = 0; /* present with value 0 */
        static int64_t neg[] = {INT64_MIN, INT64_MAX};
        static int64_t pos[] = {5, -2, 0};
        h->n_negative_deltas = 2;
        h->negative_deltas = neg;
        h->n_positive_deltas = 3;
        h->positive_deltas = pos;
    }
    h->reset_hint = is_float ? PROMETHEUS__HISTOGRAM__RESET_HINT__GAUGE : PROMETHEUS__HISTOGRAM__RESET_HINT__YES;
    h->timestamp = INT64_MIN;
    static double custom[] = {0.1, 0.5, 1.0};
    h->n_custom_values = 3;
    h->custom_values = custom;
    return h;
}

static series_t *make_series(pp_arena *a, size_t n_samples) {
    series_t *ts = pp_arena_alloc(a, sizeof(*ts));
    prometheus__time_series__init(ts);
    ts->labels = make_labels(a, &ts->n_labels);
    ts->n_samples = n_samples;
    ts->samples = tu_ptrs(a, n_samples);
    for (size_t i = 0; i < n_samples; i++)
        ts->samples[i] = make_sample(a, (double)i * 0.5, 1700000000000 + (int64_t)i);
    if (n_samples > 2) {
        ts->samples[0]->value = tu_bits2d(STALE_NAN);
        ts->samples[1]->timestamp = INT64_MIN;
        ts->samples[2]->value = tu_bits2d(0x0000000000000001ull);
    }
    ts->n_exemplars = 1;
    ts->exemplars = tu_ptrs(a, 1);
    exemplar_t *e = pp_arena_alloc(a, sizeof(*e));
    prometheus__exemplar__init(e);
    e->n_labels = 2;
    e->labels = tu_ptrs(a, 2);
    e->labels[0] = make_label(a, "span_id", "00f067aa0ba902b7");
    e->labels[1] = make_label(a, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
    e->value = -INFINITY;
    e->timestamp = INT64_MAX;
    ts->exemplars[0] = e;
    ts->n_histograms = 2;
    ts->histograms = tu_ptrs(a, 2);
    ts->histograms[0] = make_histogram(a, 0);
    ts->histograms[1] = make_histogram(a, 1);
    return ts;
}

static void test_histogram_oneofs(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);
    const uint8_t *w;
    size_t len;
    histogram_t *hi = (histogram_t *)tu_roundtrip(&make_histogram(a, 0)->base, b, &w, &len);
    assert_int_equal(hi->count_case, PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT);
    assert_int_equal(hi->count_int, UINT64_MAX);
    assert_int_equal(hi->zero_count_case, PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT);
    assert_int_equal(hi->zero_count_int, 0);
    assert_true(tu_mem_contains(w, len, "\x30\x00", 2)); /* zero_count_int = 0 is written */
    assert_int_equal(hi->schema, -53);
    assert_true(tu_mem_contains(w, len, "\x20\x69", 2)); /* sint32 -53 -> ZigZag 105 */
    assert_int_equal(hi->negative_deltas[0], INT64_MIN);
    assert_int_equal(hi->negative_deltas[1], INT64_MAX);
    assert_int_equal(hi->positive_deltas[1], -2);
    assert_int_equal(hi->negative_spans[0]->offset, INT32_MIN);
    assert_int_equal(hi->negative_spans[1]->length, UINT32_MAX);
    assert_int_equal(hi->reset_hint, PROMETHEUS__HISTOGRAM__RESET_HINT__YES);
    assert_int_equal(hi->timestamp, INT64_MIN);
    assert_int_equal(tu_dbits(hi->sum), STALE_NAN);
    assert_int_equal(hi->n_custom_values, 3);

    histogram_t *hf = (histogram_t *)tu_roundtrip(&make_histogram(a, 1)->base, b, &w, &len);
    assert_int_equal(hf->count_case, PROMETHEUS__HISTOGRAM__COUNT_COUNT_FLOAT);
    assert_int_equal(tu_dbits(hf->count_float), 0);
    assert_true(tu_mem_contains(w, len, "\x11\0\0\0\0\0\0\0\0", 9)); /* count_float = 0 is written */
    assert_int_equal(hf->zero_count_case, PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_FLOAT);
    assert_int_equal(tu_dbits(hf->zero_count_float), tu_dbits(0.5));
    assert_int_equal(hf->n_positive_counts, 3);
    assert_int_equal(tu_dbits(hf->positive_counts[2]), 1);
    assert_int_equal(tu_dbits(hf->negative_counts[1]), 0x7ff0000000000000ull);
    assert_int_equal(hf->reset_hint, PROMETHEUS__HISTOGRAM__RESET_HINT__GAUGE);

    /* Neither oneof set. */
    histogram_t empty;
    prometheus__histogram__init(&empty);
    histogram_t *he = (histogram_t *)tu_roundtrip(&empty.base, b, NULL, &len);
    assert_int_equal(len, 0);
    assert_int_equal(he->count_case, PROMETHEUS__HISTOGRAM__COUNT__NOT_SET);
    assert_int_equal(he->zero_count_case, PROMETHEUS__HISTOGRAM__ZERO_COUNT__NOT_SET);

    span_t *sp = (span_t *)tu_roundtrip(&make_span(a, -1, 0)->base, b, &w, &len);
    assert_int_equal(sp->offset, -1);
    assert_memory_equal(w, "\x08\x01", 2);
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

static void test_write_request(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);
    write_req_t req;
    prometheus__write_request__init(&req);
    req.n_timeseries = 3;
    req.timeseries = tu_ptrs(a, 3);
    req.timeseries[0] = make_series(a, 5);
    req.timeseries[1] = make_series(a, 10000);
    req.timeseries[2] = make_series(a, 0);
    static const int types[] = {0, 1, 2, 3, 4, 5, 6, 7};
    req.n_metadata = 8;
    req.metadata = tu_ptrs(a, 8);
    for (size_t i = 0; i < 8; i++) {
        metadata_t *m = pp_arena_alloc(a, sizeof(*m));
        prometheus__metric_metadata__init(m);
        m->type = types[i];
        m->metric_family_name = pp_arena_strdup(a, "http_requests");
        m->help = pp_arena_strdup(a, i ? "Requests — total ✓" : "");
        m->unit = pp_arena_strdup(a, "seconds");
        req.metadata[i] = m;
    }
    const uint8_t *w;
    size_t len;
    write_req_t *c = (write_req_t *)tu_roundtrip(&req.base, b, &w, &len);
    assert_int_equal(c->n_timeseries, 3);
    series_t *ts = c->timeseries[0];
    assert_int_equal(ts->n_labels, 4);
    assert_string_equal(ts->labels[1]->name, "__name__");
    assert_string_equal(ts->labels[2]->value, "ünïcødé/サービス 🚀");
    assert_int_equal(tu_dbits(ts->samples[0]->value), STALE_NAN);
    assert_int_equal(ts->samples[1]->timestamp, INT64_MIN);
    assert_int_equal(tu_dbits(ts->samples[2]->value), 1);
    assert_int_equal(ts->samples[4]->timestamp, 1700000000004);
    assert_int_equal(tu_dbits(ts->exemplars[0]->value), 0xfff0000000000000ull);
    assert_int_equal(ts->exemplars[0]->timestamp, INT64_MAX);
    assert_string_equal(ts->exemplars[0]->labels[1]->name, "trace_id");
    assert_int_equal(ts->n_histograms, 2);
    assert_int_equal(c->timeseries[1]->n_samples, 10000);
    assert_int_equal(c->timeseries[1]->samples[9999]->timestamp, 1700000009999);
    assert_int_equal(c->timeseries[2]->n_samples, 0);
    assert_int_equal(c->n_metadata, 8);
    for (size_t i = 0; i < 8; i++) assert_int_equal(c->metadata[i]->type, types[i]);
    assert_string_equal(c->metadata[7]->help, "Requests — total ✓");
    /* The last metadata entry closes the buffer: field 3 (tag 0x1a; 2 is
     * reserved), length 50, type 7 (08 07), family name (12), help is field 4
     * (22), unit field 5 (2a). */
    static const char last[] = "\x1a\x32\x08\x07\x12\x0dhttp_requests"
                               "\x22\x16Requests \xe2\x80\x94 total \xe2\x9c\x93\x2a\x07seconds";
    assert_int_equal(sizeof(last) - 1, 52);
    assert_true(len > 52);
    assert_memory_equal(w + len - 52, last, 52);
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_oneofs),
        cmocka_unit_test(test_write_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
