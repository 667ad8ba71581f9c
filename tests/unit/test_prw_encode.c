/* test_prw_encode.c -- remote-write bodies: snappy + protobuf round trip
 * against the translated request, sharding (a series always in the same
 * single shard, shards in series order), the max_batch_size_bytes cut, the
 * frame header, the sharing of data points over bodies, and the verdicts on
 * HTTP answers. */
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "exporters/prometheusremotewrite/prw_encode.h"
#include "exporters/prometheusremotewrite/prw_response.h"
#include "exporters/prometheusremotewrite/prw_translate.h"

/* n_metrics gauges of n_points points each, point k at t0_ms + k. */
static pp_batch *metrics(size_t n_metrics, size_t n_points, uint32_t seed, int64_t t0_ms) {
    pp_batch *b = tu_make_metrics(n_metrics, n_points, seed);
    pp_scope_metrics *sm = b->metrics->resource_metrics[0]->scope_metrics[0];
    for (size_t m = 0; m < sm->n_metrics; m++)
        for (size_t k = 0; k < n_points; k++)
            sm->metrics[m]->gauge->data_points[k]->time_unix_nano =
                (uint64_t)(t0_ms + (int64_t)k) * 1000000u;
    return b;
}

static Prometheus__WriteRequest *translate(pp_batch *b, pp_arena *a) {
    pp_prw_options o;
    pp_prw_options_default(&o);
    Prometheus__WriteRequest *wr = pp_prw_translate(b->metrics, &o, a, NULL);
    assert_non_null(wr);
    return wr;
}

/* The WriteRequest inside a part: frame checked, snappy undone, unpacked. */
static Prometheus__WriteRequest *open_part(const pp_prw_part *p, pp_arena *a, size_t *plain_len) {
    pp_prw_counts c;
    const uint8_t *payload;
    size_t plen, n = 0;
    assert_int_equal(pp_prw_frame_parse(p->body, p->len, &c, &payload, &plen), 0);
    assert_int_equal(snappy_uncompressed_length((const char *)payload, plen, &n), SNAPPY_OK);
    char *plain = malloc(n ? n : 1);
    assert_int_equal(snappy_uncompress((const char *)payload, plen, plain, &n), SNAPPY_OK);
    Prometheus__WriteRequest *wr =
        prometheus__write_request__unpack(pp_arena_allocator(a), n, (uint8_t *)plain);
    free(plain);
    assert_non_null(wr);
    size_t samples = 0;
    for (size_t i = 0; i < wr->n_timeseries; i++) samples += wr->timeseries[i]->n_samples;
    assert_int_equal(c.series, wr->n_timeseries);
    assert_int_equal(c.samples, samples);
    assert_memory_equal(&c, &p->counts, sizeof(c));
    if (plain_len) *plain_len = n;
    return wr;
}

/* Index of the series with ts's labels in wr, or -1. */
static long find(const Prometheus__WriteRequest *wr, const Prometheus__TimeSeries *ts) {
    uint64_t h = pp_prw_series_hash(ts);
    for (size_t i = 0; i < wr->n_timeseries; i++)
        if (pp_prw_series_hash(wr->timeseries[i]) == h) return (long)i;
    return -1;
}

static void test_roundtrip_and_shards(void **state) {
    (void)state;
    pp_batch *b = metrics(50, 3, 7, 1700000000000);
    pp_arena *a = pp_arena_new(1 << 16);
    Prometheus__WriteRequest *wr = translate(b, a);
    assert_int_equal(wr->n_timeseries, 50); /* one per gauge; no target_info (service.name only) */
    pp_prw_part *parts = NULL;
    assert_int_equal(pp_prw_encode(wr, 4, 3000000, b->items, &parts), 0);
    size_t seen = 0, items = 0, nparts = 0;
    char *found = calloc(wr->n_timeseries, 1);
    uint64_t last_shard = 0;
    for (pp_prw_part *p = parts; p; p = p->next, nparts++) {
        assert_true(p->shard >= 1 && p->shard <= 4);
        assert_true(p->shard > last_shard); /* one body per shard at this size */
        last_shard = p->shard;
        items += p->items;
        Prometheus__WriteRequest *got = open_part(p, a, NULL);
        long prev = -1;
        for (size_t i = 0; i < got->n_timeseries; i++) {
            const Prometheus__TimeSeries *ts = got->timeseries[i];
            assert_int_equal(pp_prw_shard_of(ts, 4), p->shard);
            long k = find(wr, ts);
            assert_true(k >= 0);
            assert_true(k > prev); /* series keep their order inside a shard */
            prev = k;
            assert_false(found[k]);
            found[k] = 1;
            assert_null(tu_msg_diff(&wr->timeseries[k]->base, &ts->base));
            seen++;
        }
    }
    assert_int_equal(seen, 50);
    assert_int_equal(items, b->items); /* 150 points shared out exactly */
    assert_true(nparts >= 2);          /* 50 series over 4 shards: not all in one */
    free(found);
    pp_prw_parts_free(parts);
    pp_arena_destroy(a);
    pp_batch_unref(b);
}

/* The same series (labels) lands in the same shard whatever else is in the
 * batch and whatever its samples are. */
static void test_shard_is_a_function_of_labels(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(1 << 16);
    pp_batch *b1 = metrics(30, 1, 3, 1700000000000);
    pp_batch *b2 = metrics(30, 4, 3, 1700000555000); /* same names and resource, other samples */
    Prometheus__WriteRequest *w1 = translate(b1, a), *w2 = translate(b2, a);
    pp_prw_part *p1 = NULL, *p2 = NULL;
    assert_int_equal(pp_prw_encode(w1, 5, 3000000, b1->items, &p1), 0);
    assert_int_equal(pp_prw_encode(w2, 5, 3000000, b2->items, &p2), 0);
    size_t shards_used = 0;
    uint64_t where[30] = {0};
    for (pp_prw_part *p = p1; p; p = p->next) {
        Prometheus__WriteRequest *got = open_part(p, a, NULL);
        shards_used++;
        for (size_t i = 0; i < got->n_timeseries; i++) where[find(w1, got->timeseries[i])] = p->shard;
    }
    assert_true(shards_used > 1);
    for (pp_prw_part *p = p2; p; p = p->next) {
        Prometheus__WriteRequest *got = open_part(p, a, NULL);
        for (size_t i = 0; i < got->n_timeseries; i++) {
            assert_int_equal(got->timeseries[i]->n_samples, 4);
            long k = find(w1, got->timeseries[i]);
            assert_true(k >= 0);
            assert_int_equal(where[k], p->shard);
        }
    }
    pp_prw_parts_free(p1);
    pp_prw_parts_free(p2);
    pp_arena_destroy(a);
    pp_batch_unref(b1);
    pp_batch_unref(b2);
}

/* max_batch_size_bytes: every body's uncompressed WriteRequest fits; series
 * are never split; nothing is lost or duplicated; bodies of a shard follow
 * the series order. */
static void test_max_batch_size_split(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(1 << 16);
    pp_batch *b = metrics(200, 5, 11, 1700000000000);
    Prometheus__WriteRequest *wr = translate(b, a);
    size_t whole = prometheus__write_request__get_packed_size(wr);
    const size_t max = 2048;
    assert_true(whole > 10 * max);
    pp_prw_part *parts = NULL;
    assert_int_equal(pp_prw_encode(wr, 2, max, b->items, &parts), 0);
    size_t nparts = 0, series = 0, items = 0;
    long prev[3] = {-1, -1, -1};
    for (pp_prw_part *p = parts; p; p = p->next, nparts++) {
        size_t plain = 0;
        Prometheus__WriteRequest *got = open_part(p, a, &plain);
        assert_true(plain <= max);
        assert_true(got->n_timeseries >= 1);
        items += p->items;
        for (size_t i = 0; i < got->n_timeseries; i++, series++) {
            long k = find(wr, got->timeseries[i]);
            assert_true(k > prev[p->shard]);
            prev[p->shard] = k;
            assert_int_equal(got->timeseries[i]->n_samples, 5);
        }
    }
    assert_int_equal(series, 200);
    assert_true(nparts >= whole / max);
    assert_int_equal(items, b->items);
    pp_prw_parts_free(parts);
    pp_arena_destroy(a);
    pp_batch_unref(b);
}

/* A series larger than the limit is sent alone rather than split or lost. */
static void test_oversized_series_alone(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(1 << 16);
    pp_batch *b = metrics(3, 400, 5, 1700000000000); /* ~400 samples x 11 bytes per series */
    Prometheus__WriteRequest *wr = translate(b, a);
    pp_prw_part *parts = NULL;
    assert_int_equal(pp_prw_encode(wr, 1, 1024, b->items, &parts), 0);
    size_t n = 0;
    for (pp_prw_part *p = parts; p; p = p->next, n++) {
        size_t plain = 0;
        Prometheus__WriteRequest *got = open_part(p, a, &plain);
        assert_int_equal(got->n_timeseries, 1);
        assert_int_equal(got->timeseries[0]->n_samples, 400);
        assert_true(plain > 1024);
        assert_int_equal(p->shard, 1);
    }
    assert_int_equal(n, 3);
    pp_prw_parts_free(parts);
    pp_arena_destroy(a);
    pp_batch_unref(b);
}

/* send_metadata: metadata travels in bodies of its own, shard 0 (unordered). */
static void test_metadata_bodies(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(1 << 16);
    pp_batch *b = metrics(4, 1, 2, 1700000000000);
    pp_prw_options o;
    pp_prw_options_default(&o);
    o.send_metadata = true;
    Prometheus__WriteRequest *wr = pp_prw_translate(b->metrics, &o, a, NULL);
    assert_non_null(wr);
    assert_int_equal(wr->n_metadata, 4);
    pp_prw_part *parts = NULL;
    assert_int_equal(pp_prw_encode(wr, 3, 3000000, b->items, &parts), 0);
    size_t meta = 0, series = 0;
    for (pp_prw_part *p = parts; p; p = p->next) {
        Prometheus__WriteRequest *got = open_part(p, a, NULL);
        if (p->shard == 0) {
            assert_int_equal(got->n_timeseries, 0);
            assert_int_equal(p->items, 0);
            meta += got->n_metadata;
            assert_string_equal(got->metadata[0]->metric_family_name, wr->metadata[0]->metric_family_name);
        } else {
            assert_int_equal(got->n_metadata, 0);
            series += got->n_timeseries;
        }
    }
    assert_int_equal(meta, 4);
    assert_int_equal(series, 4);
    pp_prw_parts_free(parts);
    pp_arena_destroy(a);
    pp_batch_unref(b);
}

static void test_empty_and_bad_frames(void **state) {
    (void)state;
    Prometheus__WriteRequest wr;
    prometheus__write_request__init(&wr);
    pp_prw_part *parts = (pp_prw_part *)&wr; /* must be overwritten */
    assert_int_equal(pp_prw_encode(&wr, 5, 3000000, 0, &parts), 0);
    assert_null(parts);
    pp_prw_counts c;
    const uint8_t *pl;
    size_t n;
    const uint8_t junk[24] = "PRW2 not a frame at all";
    assert_int_equal(pp_prw_frame_parse(junk, sizeof(junk), &c, &pl, &n), -1);
    assert_int_equal(pp_prw_frame_parse(junk, 3, &c, &pl, &n), -1);
}

static void test_verdicts(void **state) {
    (void)state;
    int64_t d = -1;
    assert_int_equal(pp_prw_verdict_of(200, NULL, 0, &d), PP_PRW_DELIVERED);
    assert_int_equal(pp_prw_verdict_of(204, "", 0, &d), PP_PRW_DELIVERED);
    assert_int_equal(d, 0);
    assert_int_equal(pp_prw_verdict_of(500, NULL, 0, &d), PP_PRW_RETRY);
    assert_int_equal(pp_prw_verdict_of(503, "7", 0, &d), PP_PRW_RETRY);
    assert_int_equal(d, 7000000000LL);
    assert_int_equal(pp_prw_verdict_of(429, "2", 0, &d), PP_PRW_RETRY);
    assert_int_equal(d, 2000000000LL);
    assert_int_equal(pp_prw_verdict_of(429, NULL, 0, &d), PP_PRW_RETRY);
    assert_int_equal(d, 0);
    assert_int_equal(pp_prw_verdict_of(400, "5", 0, &d), PP_PRW_REJECTED);
    assert_int_equal(d, 0);
    assert_int_equal(pp_prw_verdict_of(401, NULL, 0, &d), PP_PRW_PERMANENT);
    assert_int_equal(pp_prw_verdict_of(404, NULL, 0, &d), PP_PRW_PERMANENT);
    assert_int_equal(pp_prw_verdict_of(413, NULL, 0, &d), PP_PRW_PERMANENT);
    assert_int_equal(pp_prw_verdict_of(302, NULL, 0, &d), PP_PRW_PERMANENT);
}

static void test_error_text(void **state) {
    (void)state;
    char out[32];
    const char *msg = "out of order sample\n";
    pp_prw_error_text((const uint8_t *)msg, strlen(msg), out, sizeof(out));
    assert_string_equal(out, "out of order sample");
    const char *lng = "duplicate sample for timestamp; series {__name__=\"x\"}";
    pp_prw_error_text((const uint8_t *)lng, strlen(lng), out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_string_equal(out + sizeof(out) - 4, "...");
    assert_memory_equal(out, lng, sizeof(out) - 4);
    const uint8_t ctl[] = {'a', 0, 'b', 0x1b, 'c'};
    pp_prw_error_text(ctl, sizeof(ctl), out, sizeof(out));
    assert_string_equal(out, "a b c");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_shards),
        cmocka_unit_test(test_shard_is_a_function_of_labels),
        cmocka_unit_test(test_max_batch_size_split),
        cmocka_unit_test(test_oversized_series_alone),
        cmocka_unit_test(test_metadata_bodies),
        cmocka_unit_test(test_empty_and_bad_frames),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
