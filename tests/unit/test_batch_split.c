/* Unit tests: regrouping batches by reference (merge, split, halve). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "batch_split.h"

typedef struct sink {
    pp_batch *got[64];
    size_t n;
} sink;

static int collect(pp_batch *out, void *arg) {
    sink *s = arg;
    assert_true(s->n < 64);
    s->got[s->n++] = out;
    return 0;
}

static void sink_free(sink *s) {
    for (size_t i = 0; i < s->n; i++) pp_batch_unref(s->got[i]);
}

/* The span names in order, to check that regrouping keeps order and loses nothing. */
static size_t span_ids(pp_batch *const *bs, size_t n, uint64_t *ids) {
    size_t k = 0;
    for (size_t b = 0; b < n; b++) {
        const pp_traces_req *r = bs[b]->traces;
        for (size_t i = 0; i < r->n_resource_spans; i++)
            for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
                const pp_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
                for (size_t x = 0; x < ss->n_spans; x++) ids[k++] = ss->spans[x]->start_time_unix_nano;
            }
    }
    return k;
}

static void test_merge_without_limit(void **state) {
    (void)state;
    pp_batch *in[3] = {tu_make_traces(2, 2, 3, 1), tu_make_traces(1, 1, 1, 2), tu_make_traces(1, 3, 2, 3)};
    sink s = {0};
    assert_int_equal(pp_batch_regroup(in, 3, 0, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.got[0]->items, 12 + 1 + 6);
    assert_int_equal(s.got[0]->traces->n_resource_spans, 4);
    uint64_t a[64], b[64];
    size_t na = span_ids(in, 3, a), nb = span_ids(s.got, 1, b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(uint64_t));
    /* The output points into the inputs: it must keep them alive. */
    for (int i = 0; i < 3; i++) pp_batch_unref(in[i]);
    assert_string_equal(s.got[0]->traces->resource_spans[3]->scope_spans[2]->spans[1]->name, "op");
    sink_free(&s);
}

static void test_split_keeps_order_and_bounds(void **state) {
    (void)state;
    pp_batch *in[2] = {tu_make_traces(3, 2, 5, 1), tu_make_traces(1, 1, 7, 2)};
    for (size_t max = 1; max <= 40; max++) {
        sink s = {0};
        assert_int_equal(pp_batch_regroup(in, 2, max, collect, &s), 0);
        size_t total = 0;
        for (size_t i = 0; i < s.n; i++) {
            assert_true(s.got[i]->items <= max);
            assert_true(s.got[i]->items > 0);
            if (i + 1 < s.n) assert_int_equal(s.got[i]->items, max); /* only the last is short */
            total += s.got[i]->items;
        }
        assert_int_equal(total, 37);
        uint64_t a[64], b[64];
        assert_int_equal(span_ids(in, 2, a), 37);
        assert_int_equal(span_ids(s.got, s.n, b), 37);
        assert_memory_equal(a, b, 37 * sizeof(uint64_t));
        /* Each piece is a valid request: it encodes and decodes to the same count. */
        size_t len = pp_batch_encoded_size(s.got[0]);
        uint8_t *buf = malloc(len + 1);
        pp_batch_pack(s.got[0], buf);
        pp_status st = {0};
        pp_batch *back = pp_batch_decode(PP_TRACES, buf, len, &st);
        assert_non_null(back);
        assert_int_equal(back->items, s.got[0]->items);
        pp_batch_unref(back);
        free(buf);
        sink_free(&s);
    }
    pp_batch_unref(in[0]);
    pp_batch_unref(in[1]);
}

static void test_split_metrics_slices_points(void **state) {
    (void)state;
    pp_batch *in = tu_make_metrics(3, 4, 1); /* 12 points in 3 metrics */
    sink s = {0};
    assert_int_equal(pp_batch_regroup(&in, 1, 5, collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.got[0]->items, 5);
    assert_int_equal(s.got[1]->items, 5);
    assert_int_equal(s.got[2]->items, 2);
    /* Batch 1 holds gauge_1 points 1..3 and gauge_2 points 0..1. */
    const pp_scope_metrics *sm = s.got[1]->metrics->resource_metrics[0]->scope_metrics[0];
    assert_int_equal(sm->n_metrics, 2);
    assert_string_equal(sm->metrics[0]->name, "gauge_1");
    assert_int_equal(sm->metrics[0]->gauge->n_data_points, 3);
    assert_true(sm->metrics[0]->gauge->data_points[0]->as_double == 2.0); /* seed 1 + point 1 */
    assert_string_equal(sm->metrics[1]->name, "gauge_2");
    assert_int_equal(sm->metrics[1]->gauge->n_data_points, 2);
    /* The input's own metric was not changed. */
    assert_int_equal(in->metrics->resource_metrics[0]->scope_metrics[0]->metrics[1]->gauge->n_data_points, 4);
    pp_batch_unref(in);
    sink_free(&s);
}

static void test_halve(void **state) {
    (void)state;
    pp_batch *in = tu_make_traces(1, 1, 9, 1), *a, *b;
    assert_int_equal(pp_batch_halve(in, &a, &b), 0);
    assert_int_equal(a->items, 5);
    assert_int_equal(b->items, 4);
    pp_batch_unref(in);
    pp_batch_unref(a);
    pp_batch_unref(b);
    pp_batch *one = tu_make_traces(1, 1, 1, 1);
    assert_int_equal(pp_batch_halve(one, &a, &b), -1);
    pp_batch_unref(one);
}

static int stop_after_first(pp_batch *out, void *arg) {
    int *calls = arg;
    pp_batch_unref(out);
    return ++*calls == 1 ? 7 : 0;
}

static void test_emit_error_stops(void **state) {
    (void)state;
    pp_batch *in = tu_make_traces(1, 1, 10, 1);
    int calls = 0;
    assert_int_equal(pp_batch_regroup(&in, 1, 3, stop_after_first, &calls), 7);
    assert_int_equal(calls, 1);
    pp_batch_unref(in);
}

/* ---- the byte bound ---- */

typedef struct big_sink {
    pp_batch **got;
    size_t n, cap;
} big_sink;

static int collect_any(pp_batch *out, void *arg) {
    big_sink *s = arg;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->got = realloc(s->got, s->cap * sizeof(*s->got));
        assert_non_null(s->got);
    }
    s->got[s->n++] = out;
    return 0;
}

static void big_sink_free(big_sink *s) {
    for (size_t i = 0; i < s->n; i++) pp_batch_unref(s->got[i]);
    free(s->got);
    memset(s, 0, sizeof(*s));
}

/* The packed size, measured by really packing (not by the estimate). */
static size_t packed_len(const pp_batch *b) {
    size_t len = pp_batch_encoded_size(b);
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    assert_int_equal(pp_batch_pack(b, buf), len);
    /* And it is a valid request with as many items. */
    pp_status st = {0};
    pp_batch *back = pp_batch_decode(b->signal, buf, len, &st);
    assert_non_null(back);
    assert_int_equal(back->items, b->items);
    pp_batch_unref(back);
    free(buf);
    return len;
}

/* The packed size of a request holding only span sp, with its resource and scope. */
static size_t alone_len(const pp_resource_spans *rs, const pp_scope_spans *ss, pp_span *sp) {
    pp_scope_spans s1 = *ss;
    s1.n_spans = 1;
    s1.spans = &sp;
    pp_scope_spans *ps = &s1;
    pp_resource_spans r1 = *rs;
    r1.n_scope_spans = 1;
    r1.scope_spans = &ps;
    pp_resource_spans *pr = &r1;
    pp_traces_req req;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
    req.n_resource_spans = 1;
    req.resource_spans = &pr;
    return protobuf_c_message_get_packed_size(&req.base);
}

static void test_bounded_traces_random_caps(void **state) {
    (void)state;
    uint64_t rng = 42;
    pp_batch *in[3] = {tu_make_traces(2, 3, 7, 1), tu_make_traces(1, 1, 20, 2), tu_make_traces(3, 1, 4, 3)};
    for (int i = 0; i < 3; i++) tu_fatten_spans(in[i], 0, 3000, &rng);
    size_t total = 0, total_bytes = 0;
    for (int i = 0; i < 3; i++) {
        total += in[i]->items;
        total_bytes += pp_batch_encoded_size(in[i]);
    }
    assert_int_equal(total, 42 + 20 + 12);
    uint64_t a[128], b[128];
    assert_int_equal(span_ids(in, 3, a), total);
    for (int round = 0; round < 300; round++) {
        /* Caps from "every span alone" to "everything in one". */
        size_t max = 64 + (size_t)(tu_rand(&rng) % (round < 200 ? 12000 : total_bytes + 1000));
        size_t max_items = round % 3 == 0 ? 1 + (size_t)(tu_rand(&rng) % 20) : 0;
        big_sink s = {0};
        size_t oversize = 99;
        assert_int_equal(pp_batch_regroup_bounded(in, 3, max_items, max, &oversize, collect_any, &s), 0);
        size_t got = 0, over = 0, singles = 0;
        for (size_t i = 0; i < s.n; i++) {
            size_t len = packed_len(s.got[i]);
            assert_true(s.got[i]->items > 0);
            if (max_items) assert_true(s.got[i]->items <= max_items);
            if (len > max) {
                /* Only a span too large alone passes the cap, and it is alone. */
                assert_int_equal(s.got[i]->items, 1);
                over++;
            }
            if (s.got[i]->items == 1) singles++;
            got += s.got[i]->items;
        }
        assert_int_equal(got, total);
        /* Counted oversize: every output over the cap, maybe a few more that
         * the (upper-bound) estimate put over it; all of them alone. */
        assert_true(over <= oversize);
        assert_true(oversize <= singles);
        assert_int_equal(span_ids(s.got, s.n, b), total);
        assert_memory_equal(a, b, total * sizeof(uint64_t));
        /* Not needlessly cut: two neighbours would not have fit together
         * (the bound is an estimate, so allow a little per span). */
        if (!max_items)
            for (size_t i = 0; i + 1 < s.n; i++)
                assert_true(pp_batch_encoded_size(s.got[i]) + pp_batch_encoded_size(s.got[i + 1]) +
                                16 * (s.got[i]->items + s.got[i + 1]->items) >
                            max);
        if (max >= total_bytes + 16 * total + 64 * 8 && !max_items) assert_int_equal(s.n, 1);
        big_sink_free(&s);
    }
    for (int i = 0; i < 3; i++) pp_batch_unref(in[i]);
}

static void test_bounded_oversize_span_goes_alone(void **state) {
    (void)state;
    uint64_t rng = 7;
    pp_batch *in = tu_make_traces(1, 1, 9, 1);
    tu_fatten_spans(in, 100, 100, &rng);
    /* Span 4 gets 10 kB more: alone it is over the 4 kB cap. */
    pp_scope_spans *ss = in->traces->resource_spans[0]->scope_spans[0];
    pp_span *big = ss->spans[4];
    char *pad = pp_arena_alloc(in->arena, 10001);
    memset(pad, 'y', 10000);
    pad[10000] = '\0';
    big->attributes[0]->value->string_value = pad;
    size_t alone = alone_len(in->traces->resource_spans[0], ss, big);
    assert_true(alone > 4096);

    big_sink s = {0};
    size_t oversize = 0;
    assert_int_equal(pp_batch_regroup_bounded(&in, 1, 0, 4096, &oversize, collect_any, &s), 0);
    assert_int_equal(oversize, 1);
    assert_int_equal(s.n, 3); /* spans 0-3, span 4 alone, spans 5-8 */
    assert_int_equal(s.got[0]->items, 4);
    assert_int_equal(s.got[1]->items, 1);
    assert_int_equal(s.got[2]->items, 4);
    assert_int_equal(packed_len(s.got[1]), alone);
    assert_ptr_equal(s.got[1]->traces->resource_spans[0]->scope_spans[0]->spans[0], big);
    assert_true(packed_len(s.got[0]) <= 4096);
    assert_true(packed_len(s.got[2]) <= 4096);
    big_sink_free(&s);

    /* Without a byte cap nothing changes. */
    size_t o2 = 5;
    assert_int_equal(pp_batch_regroup_bounded(&in, 1, 0, 0, &o2, collect_any, &s), 0);
    assert_int_equal(o2, 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.got[0]->items, 9);
    big_sink_free(&s);
    pp_batch_unref(in);
}

/* The gauge values of every point, in order. */
static size_t point_values(pp_batch *const *bs, size_t n, double *out) {
    size_t k = 0;
    for (size_t b = 0; b < n; b++) {
        const pp_metrics_req *r = bs[b]->metrics;
        for (size_t x = 0; x < r->n_resource_metrics; x++)
            for (size_t y = 0; y < r->resource_metrics[x]->n_scope_metrics; y++) {
                const pp_scope_metrics *sm = r->resource_metrics[x]->scope_metrics[y];
                for (size_t z = 0; z < sm->n_metrics; z++)
                    for (size_t p = 0; p < sm->metrics[z]->gauge->n_data_points; p++)
                        out[k++] = sm->metrics[z]->gauge->data_points[p]->as_double;
            }
    }
    return k;
}

static void test_bounded_metrics_random_caps(void **state) {
    (void)state;
    uint64_t rng = 3;
    pp_batch *in[2] = {tu_make_metrics(4, 30, 1), tu_make_metrics(2, 50, 2)};
    size_t total = in[0]->items + in[1]->items;
    for (int round = 0; round < 300; round++) {
        size_t max = 32 + (size_t)(tu_rand(&rng) % 4000);
        if (round == 0) max = 4000;
        big_sink s = {0};
        size_t oversize = 99;
        assert_int_equal(pp_batch_regroup_bounded(in, 2, 0, max, &oversize, collect_any, &s), 0);
        size_t got = 0, over = 0, singles = 0;
        for (size_t i = 0; i < s.n; i++) {
            size_t len = packed_len(s.got[i]);
            if (len > max) {
                assert_int_equal(s.got[i]->items, 1);
                over++;
            }
            if (s.got[i]->items == 1) singles++;
            got += s.got[i]->items;
        }
        assert_int_equal(got, total);
        assert_true(over <= oversize);
        assert_true(oversize <= singles);
        if (max >= 4000) assert_int_equal(oversize, 0);
        /* Points keep their order and none is lost. */
        double va[512], vb[512];
        assert_int_equal(point_values(in, 2, va), total);
        assert_int_equal(point_values(s.got, s.n, vb), total);
        assert_memory_equal(va, vb, total * sizeof(double));
        big_sink_free(&s);
    }
    pp_batch_unref(in[0]);
    pp_batch_unref(in[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_without_limit),
        cmocka_unit_test(test_split_keeps_order_and_bounds),
        cmocka_unit_test(test_split_metrics_slices_points),
        cmocka_unit_test(test_halve),
        cmocka_unit_test(test_emit_error_stops),
        cmocka_unit_test(test_bounded_traces_random_caps),
        cmocka_unit_test(test_bounded_oversize_span_goes_alone),
        cmocka_unit_test(test_bounded_metrics_random_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
