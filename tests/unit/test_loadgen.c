/* Unit tests: pipit-loadgen's pieces (tools/loadgen): the latency histogram,
 * the HyperLogLog trace counter, the request generator and the pool. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "gen.h"
#include "hist.h"
#include "hll.h"
#include "pool.h"

static void test_hist_quantiles_within_bucket_precision(void **state) {
    (void)state;
    lg_hist *h = malloc(sizeof(*h));
    lg_hist_reset(h);
    for (uint64_t v = 1; v <= 100000; v++) lg_hist_add(h, v * 1000); /* 1 us .. 100 ms */
    assert_int_equal(h->count, 100000);
    assert_int_equal(h->max, 100000000);
    assert_int_equal(h->min, 1000);
    const double qs[] = {0.5, 0.95, 0.99, 0.999};
    for (int i = 0; i < 4; i++) {
        double want = qs[i] * 1e8, got = (double)lg_hist_quantile(h, qs[i]);
        assert_true(got >= want * 0.999 && got <= want * 1.035); /* upper bucket edge: +1/32 */
    }
    assert_int_equal(lg_hist_quantile(h, 1.0), 100000000); /* capped at the exact max */
    lg_hist *g = malloc(sizeof(*g));
    lg_hist_reset(g);
    lg_hist_add(g, 5); /* small values are exact */
    assert_int_equal(lg_hist_quantile(g, 0.5), 5);
    lg_hist_add(g, UINT64_MAX); /* beyond the range: last bucket, max still exact */
    lg_hist_merge(h, g);
    assert_int_equal(h->count, 100002);
    assert_int_equal(h->min, 5);
    assert_true(h->max == UINT64_MAX);
    free(g);
    free(h);
}

static void test_hist_empty(void **state) {
    (void)state;
    lg_hist h;
    lg_hist_reset(&h);
    assert_int_equal(lg_hist_quantile(&h, 0.99), 0);
}

static void test_hll_estimates(void **state) {
    (void)state;
    lg_hll *h = malloc(sizeof(*h));
    lg_hll_init(h);
    uint8_t id[16] = {0};
    for (uint32_t i = 0; i < 1000; i++) {
        memcpy(id, &i, 4); /* counter ids: the hash must spread them */
        lg_hll_add(h, id, 16);
        lg_hll_add(h, id, 16); /* duplicates do not count */
    }
    uint64_t e = lg_hll_estimate(h);
    assert_true(e >= 990 && e <= 1010); /* linear counting: nearly exact */
    for (uint32_t i = 1000; i < 200000; i++) {
        memcpy(id, &i, 4);
        lg_hll_add(h, id, 16);
    }
    e = lg_hll_estimate(h);
    assert_true(e >= 194000 && e <= 206000); /* 3% (about 4 standard errors) */
    free(h);
}

static pp_batch *roundtrip(const pp_batch *b) {
    size_t len = pp_batch_encoded_size(b);
    uint8_t *buf = malloc(len + 1);
    pp_batch_pack(b, buf);
    pp_status st;
    pp_batch *d = pp_batch_decode(b->signal, buf, len, &st);
    free(buf);
    assert_non_null(d);
    assert_int_equal(pp_batch_validate(d, &st), 0);
    return d;
}

static void test_gen_traces_shape(void **state) {
    (void)state;
    lg_gen_cfg g;
    lg_gen_defaults(&g, PP_TRACES);
    g.now_ns = 1700000000000000000ull;
    g.error_ratio = 1.0;
    pp_batch *b = lg_gen_request(&g, 3);
    pp_batch *d = roundtrip(b);
    assert_int_equal(d->items, 100);
    const pp_scope_spans *ss = d->traces->resource_spans[0]->scope_spans[0];
    size_t traces = 0, errors = 0;
    for (size_t i = 0; i < ss->n_spans; i++) {
        const pp_span *sp = ss->spans[i];
        assert_int_equal(sp->n_attributes, 8);
        if (i % 10 == 0) {
            traces++;
            assert_int_equal(sp->parent_span_id.len, 0);
            if (i) assert_memory_not_equal(sp->trace_id.data, ss->spans[i - 1]->trace_id.data, 16);
        } else {
            assert_memory_equal(sp->trace_id.data, ss->spans[i - 1]->trace_id.data, 16);
            assert_memory_equal(sp->parent_span_id.data, ss->spans[i - i % 10]->span_id.data, 8);
        }
        assert_true(sp->end_time_unix_nano > sp->start_time_unix_nano);
        if (sp->status && sp->status->code == OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR) {
            errors++;
            assert_int_equal(sp->n_events, 1);
        }
    }
    assert_int_equal(traces, 10);
    assert_int_equal(errors, 10); /* error_ratio 1: one error span per trace */
    /* Deterministic: the same index gives the same bytes, another index others. */
    pp_batch *again = lg_gen_request(&g, 3), *other = lg_gen_request(&g, 4);
    assert_null(tu_msg_diff(b->msg, again->msg));
    assert_non_null(tu_msg_diff(b->msg, other->msg));
    pp_batch_unref(other);
    pp_batch_unref(again);
    pp_batch_unref(d);
    pp_batch_unref(b);
}

static void test_gen_metrics_mix_and_temporality(void **state) {
    (void)state;
    lg_gen_cfg g;
    lg_gen_defaults(&g, PP_METRICS);
    g.now_ns = 1700000000000000000ull;
    g.batch = 400;
    g.delta = 1;
    pp_batch *b = lg_gen_request(&g, 0);
    pp_batch *d = roundtrip(b);
    assert_int_equal(d->items, 400);
    const pp_scope_metrics *sm = d->metrics->resource_metrics[0]->scope_metrics[0];
    assert_int_equal(sm->n_metrics, 20); /* 20 attribute sets per metric name */
    size_t kinds[16] = {0};
    for (size_t i = 0; i < sm->n_metrics; i++) {
        const pp_metric *m = sm->metrics[i];
        kinds[m->data_case]++;
        if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM)
            assert_int_equal(m->sum->aggregation_temporality,
                             OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA);
    }
    assert_true(kinds[OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM] > 0);
    assert_true(kinds[OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE] > 0);
    pp_batch_unref(d);
    pp_batch_unref(b);
}

static void test_pool_grpc_frames_and_gzip(void **state) {
    (void)state;
    lg_gen_cfg g;
    lg_gen_defaults(&g, PP_TRACES);
    g.now_ns = 1700000000000000000ull;
    lg_pool plain, gz;
    assert_int_equal(lg_pool_build(&plain, &g, 3, LG_PROTOBUF, LG_NONE, 1), 0);
    assert_int_equal(lg_pool_build(&gz, &g, 3, LG_PROTOBUF, LG_GZIP, 1), 0);
    for (size_t i = 0; i < 3; i++) {
        const lg_payload *p = &plain.p[i], *z = &gz.p[i];
        assert_int_equal(p->items, 100);
        assert_int_equal(p->data[0], 0); /* not compressed */
        uint32_t n = (uint32_t)p->data[1] << 24 | (uint32_t)p->data[2] << 16 | (uint32_t)p->data[3] << 8 | p->data[4];
        assert_int_equal(n + 5, p->len);
        assert_int_equal(z->data[0], 1);
        uint8_t *out;
        size_t outlen;
        assert_int_equal(pp_decompress(PP_COMP_GZIP, z->data + 5, z->len - 5, 1 << 24, &out, &outlen), 0);
        assert_int_equal(outlen, p->raw_len);
        assert_memory_equal(out, p->data + 5, outlen);
        free(out);
    }
    lg_pool_free(&plain);
    lg_pool_free(&gz);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_quantiles_within_bucket_precision),
        cmocka_unit_test(test_hist_empty),
        cmocka_unit_test(test_hll_estimates),
        cmocka_unit_test(test_gen_traces_shape),
        cmocka_unit_test(test_gen_metrics_mix_and_temporality),
        cmocka_unit_test(test_pool_grpc_frames_and_gzip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
