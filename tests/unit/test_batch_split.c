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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_without_limit),
        cmocka_unit_test(test_split_keeps_order_and_bounds),
        cmocka_unit_test(test_split_metrics_slices_points),
        cmocka_unit_test(test_halve),
        cmocka_unit_test(test_emit_error_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
