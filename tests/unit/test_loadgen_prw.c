/* Unit tests: the remote-write listener of `pipit-loadgen sink --prw`
 * (tools/loadgen/sink_prw.c) over real HTTP with libcurl: requests made by
 * pipit's own prometheusremotewrite translator and encoder from loadgen's
 * metrics, a hand-built request with native histograms and exemplars, and
 * the refusals (undecodable bodies 400, wrong path, method, encoding). */
#include "testutil.h"

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/prometheusremotewrite/prw_encode.h"
#include "exporters/prometheusremotewrite/prw_translate.h"
#include "gen.h"
#include "sink_prw.h"

static const char *const prw_headers[] = {
    "Content-Encoding: snappy", "Content-Type: application/x-protobuf",
    "X-Prometheus-Remote-Write-Version: 0.1.0", "User-Agent: pipit-test", NULL};

static lg_prw_sink *start(char *url, size_t n) {
    pp_status st;
    pp_status_clear(&st);
    lg_prw_sink *s = lg_prw_sink_start("127.0.0.1:0", &st);
    assert_non_null(s);
    assert_true(lg_prw_sink_port(s) > 0);
    snprintf(url, n, "http://127.0.0.1:%u/api/v1/write", (unsigned)lg_prw_sink_port(s));
    return s;
}

static long post(const char *url, const char *const *hdrs, const void *body, size_t len,
                 char **text) {
    tu_http_res r;
    tu_http_do(NULL, "POST", url, hdrs, body, len, &r);
    long status = r.status;
    if (text) *text = strdup(r.body ? r.body : "");
    tu_http_res_free(&r);
    return status;
}

/* Loadgen's metrics (counters, gauges, classic histograms) through pipit's
 * translator and encoder, every body POSTed: the sink counts what the
 * encoder's frame headers say each body holds. */
static void test_counts_requests_from_the_exporter_encoder(void **state) {
    (void)state;
    char url[96];
    lg_prw_sink *s = start(url, sizeof(url));
    lg_gen_cfg g;
    lg_gen_defaults(&g, PP_METRICS);
    g.now_ns = 1700000000000000000ull;
    g.batch = 300;
    pp_batch *b = lg_gen_request(&g, 0);
    pp_arena *a = pp_arena_new(0);
    pp_prw_options o;
    pp_prw_options_default(&o);
    Prometheus__WriteRequest *wr = pp_prw_translate(b->metrics, &o, a, NULL);
    assert_non_null(wr);
    pp_prw_part *parts = NULL;
    assert_int_equal(pp_prw_encode(wr, 3, 3000000, b->items, &parts), 0);
    lg_prw_counts want = {0};
    for (pp_prw_part *p = parts; p; p = p->next) {
        pp_prw_counts c;
        const uint8_t *payload;
        size_t plen, plain;
        assert_int_equal(pp_prw_frame_parse(p->body, p->len, &c, &payload, &plen), 0);
        assert_int_equal(snappy_uncompressed_length((const char *)payload, plen, &plain), SNAPPY_OK);
        assert_int_equal(post(url, prw_headers, payload, plen, NULL), 204);
        want.requests++;
        want.series += c.series;
        want.samples += c.samples;
        want.histograms += c.histograms;
        want.exemplars += c.exemplars;
        want.bytes += plain;
        want.wire_bytes += plen;
    }
    assert_true(want.requests > 1); /* several shards */
    assert_true(want.samples > b->items); /* histogram points are many samples */
    lg_prw_counts got;
    lg_prw_sink_counts(s, &got);
    assert_memory_equal(&got, &want, sizeof(got));

    pp_strbuf sb = PP_STRBUF_INIT;
    lg_prw_counts_json(&got, &sb);
    char *json = pp_sb_finish(&sb, NULL), expect[64];
    snprintf(expect, sizeof(expect), "\"samples\":%llu,", (unsigned long long)want.samples);
    assert_non_null(strstr(json, expect));
    free(json);
    pp_prw_parts_free(parts);
    pp_arena_destroy(a);
    pp_batch_unref(b);
    lg_prw_sink_free(s);
}

/* A WriteRequest built by hand: two float samples on one series, a native
 * histogram and an exemplar on another, one metadata entry. */
static void test_counts_native_histograms_by_hand(void **state) {
    (void)state;
    char url[96];
    lg_prw_sink *s = start(url, sizeof(url));
    /* The generated *__INIT macros cast away const (-Wcast-qual): the init functions. */
    Prometheus__Label name1, name2;
    prometheus__label__init(&name1);
    prometheus__label__init(&name2);
    name1.name = name2.name = "__name__";
    name1.value = "up";
    name2.value = "rpc_duration_seconds";
    Prometheus__Label *l1[] = {&name1}, *l2[] = {&name2};
    Prometheus__Sample s1, s2;
    prometheus__sample__init(&s1);
    prometheus__sample__init(&s2);
    s1.value = 1, s1.timestamp = 1000;
    s2.value = 1, s2.timestamp = 2000;
    Prometheus__Sample *samples[] = {&s1, &s2};
    Prometheus__TimeSeries t1, t2;
    prometheus__time_series__init(&t1);
    prometheus__time_series__init(&t2);
    t1.labels = l1, t1.n_labels = 1, t1.samples = samples, t1.n_samples = 2;
    Prometheus__BucketSpan span;
    prometheus__bucket_span__init(&span);
    span.offset = 0, span.length = 2;
    Prometheus__BucketSpan *spans[] = {&span};
    int64_t deltas[] = {3, -1};
    Prometheus__Histogram h;
    prometheus__histogram__init(&h);
    h.count_case = PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT;
    h.count_int = 5;
    h.sum = 1.5, h.schema = 3, h.timestamp = 2000;
    h.positive_spans = spans, h.n_positive_spans = 1;
    h.positive_deltas = deltas, h.n_positive_deltas = 2;
    Prometheus__Histogram *hs[] = {&h};
    Prometheus__Exemplar ex;
    prometheus__exemplar__init(&ex);
    ex.value = 0.25, ex.timestamp = 2000;
    Prometheus__Exemplar *exs[] = {&ex};
    t2.labels = l2, t2.n_labels = 1, t2.histograms = hs, t2.n_histograms = 1;
    t2.exemplars = exs, t2.n_exemplars = 1;
    Prometheus__TimeSeries *ts[] = {&t1, &t2};
    Prometheus__MetricMetadata md;
    prometheus__metric_metadata__init(&md);
    md.metric_family_name = "up";
    md.type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE;
    Prometheus__MetricMetadata *mds[] = {&md};
    Prometheus__WriteRequest wr;
    prometheus__write_request__init(&wr);
    wr.timeseries = ts, wr.n_timeseries = 2, wr.metadata = mds, wr.n_metadata = 1;

    size_t plain_len = prometheus__write_request__get_packed_size(&wr);
    uint8_t *plain = malloc(plain_len);
    prometheus__write_request__pack(&wr, plain);
    size_t zlen = snappy_max_compressed_length(plain_len);
    char *z = malloc(zlen);
    assert_int_equal(snappy_compress((const char *)plain, plain_len, z, &zlen), SNAPPY_OK);
    assert_int_equal(post(url, prw_headers, z, zlen, NULL), 204);
    /* Prometheus decodes snappy whatever the headers say: so does the sink. */
    assert_int_equal(post(url, NULL, z, zlen, NULL), 204);

    lg_prw_counts got;
    lg_prw_sink_counts(s, &got);
    assert_int_equal(got.requests, 2);
    assert_int_equal(got.rejected, 0);
    assert_int_equal(got.series, 4);
    assert_int_equal(got.samples, 4);
    assert_int_equal(got.histograms, 2);
    assert_int_equal(got.exemplars, 2);
    assert_int_equal(got.metadata, 2);
    assert_int_equal(got.bytes, 2 * plain_len);
    assert_int_equal(got.wire_bytes, 2 * zlen);
    free(z);
    free(plain);
    lg_prw_sink_free(s);
}

static void test_refuses_what_does_not_decode(void **state) {
    (void)state;
    char url[96];
    lg_prw_sink *s = start(url, sizeof(url));
    char *text = NULL;
    /* Not snappy at all. */
    const char garbage[] = "this is not a snappy block";
    assert_int_equal(post(url, prw_headers, garbage, sizeof(garbage) - 1, &text), 400);
    assert_non_null(strstr(text, "snappy"));
    free(text);
    /* Valid snappy around bytes that are no WriteRequest (field 1 claims 2^31 bytes). */
    const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x01, 0x02};
    char z[64];
    size_t zlen = sizeof(z);
    assert_int_equal(snappy_compress((const char *)junk, sizeof(junk), z, &zlen), SNAPPY_OK);
    assert_int_equal(post(url, prw_headers, z, zlen, &text), 400);
    assert_non_null(strstr(text, "WriteRequest"));
    free(text);
    /* Wrong encoding, path, method. */
    const char *const gzip[] = {"Content-Encoding: gzip", NULL};
    assert_int_equal(post(url, gzip, z, zlen, NULL), 415);
    char other[128];
    snprintf(other, sizeof(other), "%.*s/api/v2/write", (int)(strstr(url, "/api") - url), url);
    assert_int_equal(post(other, prw_headers, z, zlen, NULL), 404);
    tu_http_res r;
    tu_http_do(NULL, "GET", url, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    tu_http_res_free(&r);

    lg_prw_counts got;
    lg_prw_sink_counts(s, &got);
    assert_int_equal(got.requests, 0);
    assert_int_equal(got.rejected, 5);
    assert_int_equal(got.samples, 0);
    lg_prw_sink_stop(s);
    lg_prw_sink_counts(s, &got); /* still readable after stop */
    assert_int_equal(got.rejected, 5);
    lg_prw_sink_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_requests_from_the_exporter_encoder),
        cmocka_unit_test(test_counts_native_histograms_by_hand),
        cmocka_unit_test(test_refuses_what_does_not_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
