/* Unit tests: the OTLP/JSON codec (agent/otlp_json.h, WIRE-SPECS 1.4). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google/rpc/status.pb-c.h"
#include "otlp_json.h"

#define ANY(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x
#define METRIC(x) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##x
#define NUM(x) OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_##x
#define EXEMPLAR(x) OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_##x
#define HIST(x) OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__##x
#define EXPH(x) OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__##x

static const char MINIMAL_SPAN[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
    "{\"stringValue\":\"svc\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"lib\"},\"spans\":[{"
    "\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\","
    "\"name\":\"op\",\"kind\":2,\"startTimeUnixNano\":\"1544712660000000000\","
    "\"endTimeUnixNano\":\"1544712661000000000\"}]}]}]}";

static pp_batch *decode_ok(pp_signal sig, const char *json) {
    pp_status st = {0};
    pp_batch *b = pp_otlp_json_decode(sig, json, strlen(json), &st);
    if (!b) fail_msg("decode failed: %s", st.msg);
    return b;
}

/* Decoding must fail with PP_INVALID and a message containing want. */
static void decode_err(pp_signal sig, const char *json, size_t len, const char *want) {
    pp_status st = {0};
    pp_batch *b = pp_otlp_json_decode(sig, json, len, &st);
    if (b) {
        pp_batch_unref(b);
        fail_msg("decoded, expected an error with \"%s\": %.200s", want, json);
    }
    assert_int_equal(st.code, PP_INVALID);
    if (!strstr(st.msg, want)) fail_msg("message \"%s\" lacks \"%s\"", st.msg, want);
}

static void err_traces(const char *json, const char *want) {
    decode_err(PP_TRACES, json, strlen(json), want);
}

/* A span with the given extra members, wrapped in a whole request. */
static char *span_json(const char *members) {
    static const char fmt[] =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
        "\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\"%s%s}]}]}]}";
    size_t n = strlen(fmt) + strlen(members) + 2;
    char *s = malloc(n);
    snprintf(s, n, fmt, *members ? "," : "", members);
    return s;
}

/* An attribute value on the resource, wrapped in a whole request. */
static char *attr_json(const char *value) {
    static const char fmt[] =
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":%s}]}}]}";
    size_t n = strlen(fmt) + strlen(value);
    char *s = malloc(n);
    snprintf(s, n, fmt, value);
    return s;
}

static void span_err(const char *members, const char *want) {
    char *j = span_json(members);
    err_traces(j, want);
    free(j);
}

static void attr_err(const char *value, const char *want) {
    char *j = attr_json(value);
    err_traces(j, want);
    free(j);
}

static pp_batch *load_fixture(pp_signal sig, const char *name) {
    const char *dir = getenv("PIPIT_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/otlp-json/%s", dir ? dir : ".", name);
    size_t len;
    char *json = tu_read_file(path, &len);
    if (!json) fail_msg("cannot read %s", path);
    pp_status st = {0};
    pp_batch *b = pp_otlp_json_decode(sig, json, len, &st);
    free(json);
    if (!b) fail_msg("%s: %s", name, st.msg);
    return b;
}

static uint8_t *packed(const pp_batch *b, size_t *n) {
    *n = pp_batch_encoded_size(b);
    uint8_t *buf = malloc(*n + 1);
    assert_int_equal(pp_batch_pack(b, buf), *n);
    return buf;
}

static void assert_same_message(const pp_batch *a, const pp_batch *b) {
    size_t na, nb;
    uint8_t *pa = packed(a, &na), *pb = packed(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na);
    free(pa);
    free(pb);
}

/* Encodes b, decodes the text again and checks both are the same message. */
static void assert_round_trip(const pp_batch *b) {
    size_t len;
    char *json = pp_otlp_json_encode_request(b, &len);
    assert_non_null(json);
    assert_int_equal(strlen(json), len);
    pp_status st = {0};
    pp_batch *again = pp_otlp_json_decode(b->signal, json, len, &st);
    if (!again) fail_msg("re-decode failed: %s\n%s", st.msg, json);
    assert_same_message(b, again);
    assert_int_equal(again->items, b->items);
    pp_batch_unref(again);
    free(json);
}

static void assert_bytes(ProtobufCBinaryData b, const char *hex) {
    char buf[80] = {0};
    for (size_t i = 0; i < b.len && i < 39; i++) snprintf(buf + 2 * i, 3, "%02x", b.data[i]);
    assert_string_equal(buf, hex);
}

static const pp_any_value *attr(pp_key_value **kvs, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(kvs[i]->key, key) == 0) return kvs[i]->value;
    fail_msg("no attribute %s", key);
    return NULL;
}

/* ---- decoding ---- */

static void test_minimal_span(void **state) {
    (void)state;
    pp_batch *b = decode_ok(PP_TRACES, MINIMAL_SPAN);
    assert_int_equal(b->items, 1);
    const pp_resource_spans *rs = b->traces->resource_spans[0];
    assert_int_equal(rs->resource->n_attributes, 1);
    assert_string_equal(rs->resource->attributes[0]->key, "service.name");
    assert_int_equal(rs->resource->attributes[0]->value->value_case, ANY(STRING_VALUE));
    assert_string_equal(rs->resource->attributes[0]->value->string_value, "svc");
    assert_string_equal(rs->scope_spans[0]->scope->name, "lib");
    const pp_span *sp = rs->scope_spans[0]->spans[0];
    assert_bytes(sp->trace_id, "5b8efff798038103d269b633813fc60c");
    assert_bytes(sp->span_id, "eee19b7ec3c1b174");
    assert_int_equal(sp->parent_span_id.len, 0);
    assert_string_equal(sp->name, "op");
    assert_int_equal(sp->kind, 2);
    assert_true(sp->start_time_unix_nano == 1544712660000000000ull);
    assert_true(sp->end_time_unix_nano == 1544712661000000000ull);
    assert_round_trip(b);
    pp_batch_unref(b);
}

static void test_traces_fixture(void **state) {
    (void)state;
    pp_batch *b = load_fixture(PP_TRACES, "traces_full.json");
    assert_int_equal(b->items, 2);
    assert_int_equal(b->traces->n_resource_spans, 1);
    const pp_resource_spans *rs = b->traces->resource_spans[0];
    assert_string_equal(rs->schema_url, "https://opentelemetry.io/schemas/1.21.0");
    const pp_resource *r = rs->resource;
    assert_int_equal(r->dropped_attributes_count, 3);
    assert_int_equal(r->n_attributes, 11);
    pp_key_value **a = r->attributes;
    size_t na = r->n_attributes;
    assert_string_equal(attr(a, na, "service.name")->string_value, "checkout");
    assert_string_equal(attr(a, na, "str")->string_value, "h\xc3\xa9llo \"q\" \\ \n\t");
    assert_int_equal(attr(a, na, "bool")->value_case, ANY(BOOL_VALUE));
    assert_true(attr(a, na, "bool")->bool_value);
    assert_true(attr(a, na, "int_str")->int_value == INT64_MIN);
    assert_int_equal(attr(a, na, "int_num")->value_case, ANY(INT_VALUE));
    assert_int_equal(attr(a, na, "int_num")->int_value, 42);
    assert_int_equal(attr(a, na, "double")->value_case, ANY(DOUBLE_VALUE));
    assert_true(attr(a, na, "double")->double_value == 3.25);
    assert_true(isnan(attr(a, na, "nan")->double_value));
    assert_int_equal(attr(a, na, "bytes")->value_case, ANY(BYTES_VALUE));
    assert_bytes(attr(a, na, "bytes")->bytes_value, "000102ff");
    assert_int_equal(attr(a, na, "empty")->value_case, ANY(_NOT_SET));

    const pp_any_value *arr = attr(a, na, "array");
    assert_int_equal(arr->value_case, ANY(ARRAY_VALUE));
    assert_int_equal(arr->array_value->n_values, 4);
    pp_any_value **av = arr->array_value->values;
    assert_string_equal(av[0]->string_value, "a");
    assert_int_equal(av[1]->int_value, 7);
    assert_int_equal(av[2]->value_case, ANY(ARRAY_VALUE));
    assert_int_equal(av[2]->array_value->n_values, 2);
    assert_int_equal(av[2]->array_value->values[0]->value_case, ANY(BOOL_VALUE));
    assert_false(av[2]->array_value->values[0]->bool_value);
    assert_int_equal(av[2]->array_value->values[1]->value_case, ANY(_NOT_SET));
    assert_int_equal(av[3]->value_case, ANY(KVLIST_VALUE));
    assert_string_equal(av[3]->kvlist_value->values[0]->key, "inner");
    assert_true(av[3]->kvlist_value->values[0]->value->double_value == -1.5);

    const pp_any_value *kvl = attr(a, na, "kvlist");
    assert_int_equal(kvl->value_case, ANY(KVLIST_VALUE));
    pp_key_value **kv = kvl->kvlist_value->values;
    assert_int_equal(kvl->kvlist_value->n_values, 3);
    assert_string_equal(kv[0]->value->string_value, "v1");
    assert_string_equal(kv[1]->value->kvlist_value->values[0]->key, "deep");
    assert_int_equal(kv[1]->value->kvlist_value->values[0]->value->int_value, 1);
    assert_string_equal(kv[2]->key, "k3");
    assert_null(kv[2]->value);

    const pp_scope_spans *ss = rs->scope_spans[0];
    assert_string_equal(ss->schema_url, "https://opentelemetry.io/schemas/1.20.0");
    assert_string_equal(ss->scope->name, "io.opentelemetry.contrib");
    assert_string_equal(ss->scope->version, "1.2.3");
    assert_int_equal(ss->scope->n_attributes, 1);
    assert_string_equal(ss->scope->attributes[0]->key, "scope.attr");
    assert_string_equal(ss->scope->attributes[0]->value->string_value, "s");
    assert_int_equal(ss->scope->dropped_attributes_count, 1);

    assert_int_equal(ss->n_spans, 2);
    const pp_span *sp = ss->spans[0];
    assert_bytes(sp->trace_id, "5b8efff798038103d269b633813fc60c");
    assert_bytes(sp->span_id, "eee19b7ec3c1b174");
    assert_bytes(sp->parent_span_id, "eee19b7ec3c1b173");
    assert_string_equal(sp->trace_state, "rojo=00f067aa0ba902b7");
    assert_int_equal(sp->flags, 769);
    assert_string_equal(sp->name, "GET /cart");
    assert_int_equal(sp->kind, 2);
    assert_true(sp->start_time_unix_nano == 1544712660000000000ull);
    assert_true(sp->end_time_unix_nano == 1544712661000000000ull);
    assert_int_equal(sp->n_attributes, 1);
    assert_int_equal(sp->attributes[0]->value->int_value, 200);
    assert_int_equal(sp->dropped_attributes_count, 4);
    assert_int_equal(sp->n_events, 2);
    assert_true(sp->events[0]->time_unix_nano == 1544712660500000000ull);
    assert_string_equal(sp->events[0]->name, "exception");
    assert_string_equal(sp->events[0]->attributes[0]->value->string_value, "boom");
    assert_int_equal(sp->events[0]->dropped_attributes_count, 5);
    assert_string_equal(sp->events[1]->name, "bare");
    assert_int_equal(sp->events[1]->n_attributes, 0);
    assert_int_equal(sp->dropped_events_count, 6);
    assert_int_equal(sp->n_links, 1);
    const pp_span_link *ln = sp->links[0];
    assert_bytes(ln->trace_id, "0102030405060708090a0b0c0d0e0f10");
    assert_bytes(ln->span_id, "1112131415161718");
    assert_string_equal(ln->trace_state, "congo=t61rcWkgMzE");
    assert_true(ln->attributes[0]->value->bool_value);
    assert_int_equal(ln->dropped_attributes_count, 7);
    assert_int_equal(ln->flags, 256);
    assert_int_equal(sp->dropped_links_count, 8);
    assert_non_null(sp->status);
    assert_string_equal(sp->status->message, "it failed");
    assert_int_equal(sp->status->code, 2);

    const pp_span *root = ss->spans[1];
    assert_bytes(root->span_id, "0000000000000001");
    assert_int_equal(root->parent_span_id.len, 0);
    assert_non_null(root->status);
    assert_int_equal(root->status->code, 0);
    assert_round_trip(b);
    pp_batch_unref(b);
}

static void test_metrics_fixture(void **state) {
    (void)state;
    pp_batch *b = load_fixture(PP_METRICS, "metrics_full.json");
    assert_int_equal(b->items, 8);
    const pp_resource_metrics *rm = b->metrics->resource_metrics[0];
    assert_string_equal(rm->schema_url, "r1");
    assert_string_equal(rm->resource->attributes[0]->value->string_value, "meter");
    const pp_scope_metrics *sm = rm->scope_metrics[0];
    assert_string_equal(sm->schema_url, "s1");
    assert_string_equal(sm->scope->name, "m");
    assert_string_equal(sm->scope->version, "2");
    assert_int_equal(sm->n_metrics, 7);
    pp_metric **m = sm->metrics;

    /* gauge, with exemplars and metadata */
    assert_string_equal(m[0]->name, "g");
    assert_string_equal(m[0]->description, "a gauge");
    assert_string_equal(m[0]->unit, "1");
    assert_int_equal(m[0]->data_case, METRIC(GAUGE));
    assert_int_equal(m[0]->n_metadata, 1);
    assert_string_equal(m[0]->metadata[0]->key, "prometheus.type");
    assert_int_equal(m[0]->gauge->n_data_points, 2);
    const pp_number_point *np = m[0]->gauge->data_points[0];
    assert_string_equal(np->attributes[0]->value->string_value, "a");
    assert_true(np->start_time_unix_nano == 1);
    assert_true(np->time_unix_nano == 1700000000000000000ull);
    assert_int_equal(np->value_case, NUM(AS_DOUBLE));
    assert_true(np->as_double == 0.5);
    assert_int_equal(np->flags, 1);
    assert_int_equal(np->n_exemplars, 2);
    const pp_exemplar *ex = np->exemplars[0];
    assert_int_equal(ex->filtered_attributes[0]->value->int_value, 3);
    assert_true(ex->time_unix_nano == 1700000000000000001ull);
    assert_int_equal(ex->value_case, EXEMPLAR(AS_INT));
    assert_int_equal(ex->as_int, -12);
    assert_bytes(ex->span_id, "aabbccddeeff0011");
    assert_bytes(ex->trace_id, "00112233445566778899aabbccddeeff");
    ex = np->exemplars[1];
    assert_true(ex->time_unix_nano == 5);
    assert_int_equal(ex->value_case, EXEMPLAR(AS_DOUBLE));
    assert_true(isinf(ex->as_double) && ex->as_double > 0);
    assert_int_equal(ex->span_id.len, 0);
    assert_int_equal(ex->trace_id.len, 0);
    np = m[0]->gauge->data_points[1];
    assert_int_equal(np->value_case, NUM(AS_INT));
    assert_true(np->as_int == INT64_MAX);

    /* sums */
    assert_int_equal(m[1]->data_case, METRIC(SUM));
    assert_int_equal(m[1]->sum->aggregation_temporality, 2);
    assert_true(m[1]->sum->is_monotonic);
    np = m[1]->sum->data_points[0];
    assert_true(np->start_time_unix_nano == 10 && np->time_unix_nano == 20);
    assert_int_equal(np->value_case, NUM(AS_INT));
    assert_int_equal(np->as_int, 100);
    assert_int_equal(m[2]->sum->aggregation_temporality, 1);
    assert_false(m[2]->sum->is_monotonic);
    assert_true(m[2]->sum->data_points[0]->as_double == -2.5);

    /* histogram: sum/min present at 0; the second point has none */
    assert_int_equal(m[3]->data_case, METRIC(HISTOGRAM));
    assert_int_equal(m[3]->histogram->aggregation_temporality, 2);
    const pp_histogram_point *hp = m[3]->histogram->data_points[0];
    assert_string_equal(hp->attributes[0]->key, "le");
    assert_true(hp->start_time_unix_nano == 10 && hp->time_unix_nano == 20);
    assert_true(hp->count == 6);
    assert_int_equal(hp->sum_present_case, HIST(SUM_PRESENT_SUM));
    assert_true(hp->sum == 0);
    assert_int_equal(hp->n_bucket_counts, 3);
    assert_true(hp->bucket_counts[0] == 1 && hp->bucket_counts[1] == 2 && hp->bucket_counts[2] == 3);
    assert_int_equal(hp->n_explicit_bounds, 2);
    assert_true(hp->explicit_bounds[0] == 1 && hp->explicit_bounds[1] == 2.5);
    assert_int_equal(hp->n_exemplars, 1);
    assert_true(hp->exemplars[0]->as_double == 1.5);
    assert_int_equal(hp->flags, 0);
    assert_int_equal(hp->min_present_case, HIST(MIN_PRESENT_MIN));
    assert_true(hp->min == 0);
    assert_int_equal(hp->max_present_case, HIST(MAX_PRESENT_MAX));
    assert_true(hp->max == 7.75);
    hp = m[3]->histogram->data_points[1];
    assert_true(hp->count == UINT64_MAX);
    assert_int_equal(hp->sum_present_case, HIST(SUM_PRESENT__NOT_SET));
    assert_int_equal(hp->min_present_case, HIST(MIN_PRESENT__NOT_SET));
    assert_int_equal(hp->max_present_case, HIST(MAX_PRESENT__NOT_SET));
    assert_int_equal(hp->n_bucket_counts, 0);

    /* exponential histogram with a negative offset and scale */
    assert_int_equal(m[4]->data_case, METRIC(EXPONENTIAL_HISTOGRAM));
    assert_int_equal(m[4]->exponential_histogram->aggregation_temporality, 1);
    const pp_exp_histogram_point *ep = m[4]->exponential_histogram->data_points[0];
    assert_false(ep->attributes[0]->value->bool_value);
    assert_true(ep->start_time_unix_nano == 10 && ep->time_unix_nano == 20);
    assert_true(ep->count == 9);
    assert_int_equal(ep->sum_present_case, EXPH(SUM_PRESENT_SUM));
    assert_true(ep->sum == 12.5);
    assert_int_equal(ep->scale, -3);
    assert_true(ep->zero_count == 1);
    assert_int_equal(ep->positive->offset, -2);
    assert_int_equal(ep->positive->n_bucket_counts, 2);
    assert_true(ep->positive->bucket_counts[0] == 1 && ep->positive->bucket_counts[1] == 2);
    assert_int_equal(ep->negative->offset, 5);
    assert_true(ep->negative->bucket_counts[0] == 3 && ep->negative->bucket_counts[1] == 2);
    assert_int_equal(ep->flags, 1);
    assert_int_equal(ep->exemplars[0]->as_int, 4);
    assert_bytes(ep->exemplars[0]->span_id, "0102030405060708");
    assert_int_equal(ep->min_present_case, EXPH(MIN_PRESENT_MIN));
    assert_true(ep->min == -4);
    assert_int_equal(ep->max_present_case, EXPH(MAX_PRESENT_MAX));
    assert_true(ep->max == 10);
    assert_true(ep->zero_threshold == 1e-9);

    /* summary */
    assert_int_equal(m[5]->data_case, METRIC(SUMMARY));
    const pp_summary_point *sp = m[5]->summary->data_points[0];
    assert_true(sp->start_time_unix_nano == 10 && sp->time_unix_nano == 20);
    assert_true(sp->count == 4);
    assert_true(sp->sum == 10.5);
    assert_int_equal(sp->n_quantile_values, 3);
    assert_true(sp->quantile_values[0]->quantile == 0 && sp->quantile_values[0]->value == 1);
    assert_true(sp->quantile_values[1]->quantile == 0.5 && sp->quantile_values[1]->value == 2.5);
    assert_true(sp->quantile_values[2]->quantile == 1 && sp->quantile_values[2]->value == 4);
    assert_int_equal(sp->flags, 1);

    assert_string_equal(m[6]->name, "nodata");
    assert_int_equal(m[6]->data_case, METRIC(_NOT_SET));
    assert_round_trip(b);
    pp_batch_unref(b);
}

static void test_round_trip_generated(void **state) {
    (void)state;
    pp_batch *t = tu_make_traces(2, 2, 3, 9);
    assert_round_trip(t);
    pp_batch_unref(t);
    pp_batch *m = tu_make_metrics(3, 4, 5);
    assert_round_trip(m);
    pp_batch_unref(m);
}

static void test_ints_as_numbers_or_strings(void **state) {
    (void)state;
    char *a = span_json("\"startTimeUnixNano\":\"1544712660000000000\",\"flags\":\"257\","
                        "\"kind\":3,\"droppedAttributesCount\":\"2\"");
    char *b = span_json("\"startTimeUnixNano\":1544712660000000000,\"flags\":257,\"kind\":3,"
                        "\"droppedAttributesCount\":2.0");
    pp_batch *ba = decode_ok(PP_TRACES, a), *bb = decode_ok(PP_TRACES, b);
    const pp_span *sp = ba->traces->resource_spans[0]->scope_spans[0]->spans[0];
    assert_true(sp->start_time_unix_nano == 1544712660000000000ull);
    assert_int_equal(sp->flags, 257);
    assert_int_equal(sp->kind, 3);
    assert_int_equal(sp->dropped_attributes_count, 2);
    assert_same_message(ba, bb);
    pp_batch_unref(ba);
    pp_batch_unref(bb);
    free(a);
    free(b);

    /* 64-bit bounds, as numbers and as strings */
    char *c = attr_json("{\"intValue\":9223372036854775807}");
    char *d = attr_json("{\"intValue\":\"9223372036854775807\"}");
    ba = decode_ok(PP_TRACES, c);
    bb = decode_ok(PP_TRACES, d);
    assert_true(ba->traces->resource_spans[0]->resource->attributes[0]->value->int_value == INT64_MAX);
    assert_same_message(ba, bb);
    pp_batch_unref(ba);
    pp_batch_unref(bb);
    free(c);
    free(d);
}

static void test_doubles(void **state) {
    (void)state;
    static const struct { const char *json; double want; } cases[] = {
        {"{\"doubleValue\":\"Infinity\"}", (double)INFINITY}, {"{\"doubleValue\":\"-Infinity\"}", -(double)INFINITY},
        {"{\"doubleValue\":\"2.5e3\"}", 2500},        {"{\"doubleValue\":7}", 7},
        {"{\"doubleValue\":-0.125}", -0.125},        {"{\"doubleValue\":1e-300}", 1e-300},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *j = attr_json(cases[i].json);
        pp_batch *b = decode_ok(PP_TRACES, j);
        const pp_any_value *v = b->traces->resource_spans[0]->resource->attributes[0]->value;
        assert_int_equal(v->value_case, ANY(DOUBLE_VALUE));
        assert_true(v->double_value == cases[i].want);
        assert_round_trip(b);
        pp_batch_unref(b);
        free(j);
    }
}

static void test_uppercase_hex_and_empty_parent(void **state) {
    (void)state;
    char *up = span_json("\"parentSpanId\":\"ABCDEF0123456789\"");
    char *low = span_json("\"parentSpanId\":\"abcdef0123456789\"");
    pp_batch *a = decode_ok(PP_TRACES, up), *b = decode_ok(PP_TRACES, low);
    assert_same_message(a, b);
    assert_bytes(a->traces->resource_spans[0]->scope_spans[0]->spans[0]->parent_span_id,
                 "abcdef0123456789");
    pp_batch_unref(a);
    pp_batch_unref(b);
    free(up);
    free(low);
}

static void test_unknown_and_snake_case_keys_ignored(void **state) {
    (void)state;
    char *j = span_json("\"name\":\"x\",\"start_time_unix_nano\":\"5\",\"dropped_attributes_count\":3,"
                        "\"future\":{\"deep\":[1,2,{\"a\":\"SPAN_KIND\"}]},\"kind\":null");
    pp_batch *b = decode_ok(PP_TRACES, j);
    const pp_span *sp = b->traces->resource_spans[0]->scope_spans[0]->spans[0];
    assert_string_equal(sp->name, "x");
    assert_true(sp->start_time_unix_nano == 0);
    assert_int_equal(sp->dropped_attributes_count, 0);
    assert_int_equal(sp->kind, 0);
    pp_batch_unref(b);
    free(j);
}

static void test_empty_request(void **state) {
    (void)state;
    pp_batch *t = decode_ok(PP_TRACES, "{}");
    assert_int_equal(t->items, 0);
    assert_int_equal(t->traces->n_resource_spans, 0);
    pp_batch *m = decode_ok(PP_METRICS, " { \"resourceMetrics\": [] }\n \r\n\t ");
    assert_int_equal(m->items, 0);
    assert_int_equal(m->metrics->n_resource_metrics, 0);
    size_t len;
    char *s = pp_otlp_json_encode_request(t, &len);
    assert_string_equal(s, "{}");
    free(s);
    pp_batch_unref(t);
    pp_batch_unref(m);
}

/* ---- errors ---- */

static void test_errors_ids(void **state) {
    (void)state;
    err_traces("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
               "\"5b8efff798038103d269b633813fc6\",\"spanId\":\"eee19b7ec3c1b174\"}]}]}]}",
               "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex characters, got 30");
    span_err("\"parentSpanId\":\"eee19b7ec3c1b17\"",
             "spans[0].parentSpanId: expected 16 hex characters, got 15");
    span_err("\"parentSpanId\":\"eee19b7ec3c1b17g\"", "spans[0].parentSpanId: invalid hex character at offset 15");
    span_err("\"parentSpanId\":12", "spans[0].parentSpanId: expected a string, got a number");
    span_err("\"links\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"00\"}]",
             "spans[0].links[0].spanId: expected 16 hex characters, got 2");
    span_err("\"links\":[{\"spanId\":\"eee19b7ec3c1b174\"}]", "spans[0].links[0]: traceId is required");
    err_traces("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"\",\"spanId\":"
               "\"eee19b7ec3c1b174\"}]}]}]}",
               "resourceSpans[0].scopeSpans[0].spans[0]: traceId is required");
    err_traces("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
               "\"00000000000000000000000000000000\",\"spanId\":\"eee19b7ec3c1b174\"}]}]}]}",
               "spans[0]: traceId must not be all zero");
    decode_err(PP_METRICS,
               "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":"
               "[{\"exemplars\":[{\"traceId\":\"abc\"}]}]}}]}]}]}",
               strlen("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":"
                      "[{\"exemplars\":[{\"traceId\":\"abc\"}]}]}}]}]}]}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].exemplars[0]."
               "traceId: expected 32 hex characters, got 3");
}

static void test_errors_numbers(void **state) {
    (void)state;
    span_err("\"kind\":\"SPAN_KIND_SERVER\"",
             "spans[0].kind: enum values must be integers, got the string \"SPAN_KIND_SERVER\"");
    span_err("\"status\":{\"code\":\"STATUS_CODE_OK\"}", "spans[0].status.code: enum values must be integers");
    span_err("\"kind\":\"2\"", "spans[0].kind: enum values must be integers, got the string \"2\"");
    span_err("\"kind\":true", "spans[0].kind: expected an integer, got a boolean");
    span_err("\"startTimeUnixNano\":1.5", "spans[0].startTimeUnixNano: expected an integer, got 1.5");
    span_err("\"startTimeUnixNano\":\"1.5\"", "spans[0].startTimeUnixNano: expected an integer, got \"1.5\"");
    span_err("\"startTimeUnixNano\":\"\"", "spans[0].startTimeUnixNano: expected an integer");
    span_err("\"startTimeUnixNano\":-1", "spans[0].startTimeUnixNano: integer out of range [0, 18446744073709551615]: -1");
    span_err("\"startTimeUnixNano\":\"18446744073709551616\"", "spans[0].startTimeUnixNano: integer out of range");
    span_err("\"startTimeUnixNano\":18446744073709551616", "spans[0].startTimeUnixNano: integer out of 64-bit range");
    span_err("\"startTimeUnixNano\":1e20", "spans[0].startTimeUnixNano: integer out of range");
    span_err("\"flags\":4294967296", "spans[0].flags: integer out of range [0, 4294967295]");
    span_err("\"droppedAttributesCount\":-1", "spans[0].droppedAttributesCount: integer out of range");
    span_err("\"kind\":2147483648", "spans[0].kind: integer out of range [-2147483648, 2147483647]");
    span_err("\"startTimeUnixNano\":\"NaN\"", "spans[0].startTimeUnixNano: expected an integer, got \"NaN\"");
    span_err("\"startTimeUnixNano\":\" 5\"", "spans[0].startTimeUnixNano: expected an integer");
    attr_err("{\"intValue\":\"9223372036854775808\"}",
             "resourceSpans[0].resource.attributes[0].value.intValue: integer out of range "
             "[-9223372036854775808, 9223372036854775807]: 9223372036854775808");
    attr_err("{\"intValue\":-9223372036854775809}", "value.intValue: integer out of 64-bit range");
    attr_err("{\"intValue\":\"-9223372036854775809\"}", "value.intValue: integer out of range");
    attr_err("{\"doubleValue\":\"nan\"}", "value.doubleValue: expected a number, got \"nan\"");
    attr_err("{\"doubleValue\":\"0x10\"}", "value.doubleValue: expected a number");
    attr_err("{\"doubleValue\":\"1e999\"}", "value.doubleValue: number out of range for a double");
    attr_err("{\"doubleValue\":1e999}", "value.doubleValue: number out of range for a double");
    attr_err("{\"doubleValue\":true}", "value.doubleValue: expected a number, got a boolean");
    attr_err("{\"boolValue\":\"true\"}", "value.boolValue: expected true or false, got a string");
}

static void test_errors_structure(void **state) {
    (void)state;
    err_traces("[]", "top-level JSON value must be an object, got an array");
    err_traces("\"x\"", "top-level JSON value must be an object, got a string");
    err_traces("42", "top-level JSON value must be an object, got a number");
    err_traces("null", "top-level JSON value must be an object, got null");
    err_traces("{\"resourceSpans\":[}", "invalid JSON at byte offset 18: unexpected character");
    err_traces("{\"resourceSpans\":[", "invalid JSON at byte offset 18: unexpected end of data");
    err_traces("", "invalid JSON at byte offset 0");
    err_traces("{} x", "invalid JSON at byte offset 3");
    err_traces("{\"resourceSpans\":{}}", "resourceSpans: expected an array, got an object");
    err_traces("{\"resourceSpans\":[1]}", "resourceSpans[0]: expected an object, got a number");
    err_traces("{\"resourceSpans\":[null]}", "resourceSpans[0]: null is not allowed in an array");
    attr_err("{\"stringValue\":\"a\",\"intValue\":\"1\"}",
             "value.intValue: only one of a oneof may be set, and stringValue is set too");
    attr_err("{\"stringValue\":7}", "value.stringValue: expected a string, got a number");
    decode_err(PP_METRICS, "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{},\"sum\":{}}]}]}]}",
               strlen("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{},\"sum\":{}}]}]}]}"),
               "resourceMetrics[0].scopeMetrics[0].metrics[0].sum: only one of a oneof may be set");
    /* A binary body sent as JSON. */
    static const char nul[] = "{\"a\":1}\0{}";
    decode_err(PP_TRACES, nul, sizeof(nul) - 1, "invalid JSON at byte offset 7: data after the top-level value");
}

static void test_errors_bytes_and_strings(void **state) {
    (void)state;
    attr_err("{\"bytesValue\":\"abc*\"}", "value.bytesValue: invalid base64");
    attr_err("{\"bytesValue\":\"a\"}", "value.bytesValue: invalid base64");
    attr_err("{\"bytesValue\":\"QQ=\"}", "value.bytesValue: invalid base64");
    attr_err("{\"bytesValue\":\"Q===\"}", "value.bytesValue: invalid base64");
    attr_err("{\"stringValue\":\"a\xff\"}", "value.stringValue: string is not valid UTF-8 (byte offset 1)");
    attr_err("{\"stringValue\":\"\xc0\xaf\"}", "value.stringValue: string is not valid UTF-8 (byte offset 0)");
    attr_err("{\"stringValue\":\"\xed\xa0\x80\"}", "value.stringValue: string is not valid UTF-8");
    attr_err("{\"stringValue\":\"a\\u0000b\"}", "value.stringValue: string contains a NUL character at offset 1");
    err_traces("{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"\xe2\x82\"}]}}]}",
               "resourceSpans[0].resource.attributes[0].key: string is not valid UTF-8");
}

static void test_base64_variants(void **state) {
    (void)state;
    /* 0xfb 0xff 0xbf: "+/+/" in the standard alphabet, "-_-_" URL-safe. */
    static const char *forms[] = {"{\"bytesValue\":\"+/+/\"}", "{\"bytesValue\":\"-_-_\"}",
                                  "{\"bytesValue\":\"+/+/AQ==\"}", "{\"bytesValue\":\"+/+/AQ\"}"};
    static const char *want[] = {"fbffbf", "fbffbf", "fbffbf01", "fbffbf01"};
    for (size_t i = 0; i < 4; i++) {
        char *j = attr_json(forms[i]);
        pp_batch *b = decode_ok(PP_TRACES, j);
        assert_bytes(b->traces->resource_spans[0]->resource->attributes[0]->value->bytes_value, want[i]);
        assert_round_trip(b);
        pp_batch_unref(b);
        free(j);
    }
}

/* Nested arrayValues, n AnyValue levels deep, as an attribute value. */
static char *nested_any(size_t n) {
    static const char open[] = "{\"arrayValue\":{\"values\":[", close[] = "]}}";
    size_t cap = n * (sizeof(open) + sizeof(close)) + 16;
    char *s = malloc(cap), *p = s;
    for (size_t i = 1; i < n; i++) p += sprintf(p, "%s", open);
    p += sprintf(p, "{}");
    for (size_t i = 1; i < n; i++) p += sprintf(p, "%s", close);
    return s;
}

static void test_depth_limits(void **state) {
    (void)state;
    char *ok = nested_any(PP_OTLP_JSON_MAX_ANY_DEPTH), *j = attr_json(ok);
    pp_batch *b = decode_ok(PP_TRACES, j);
    assert_round_trip(b);
    pp_batch_unref(b);
    free(ok);
    free(j);

    char *deep = nested_any(PP_OTLP_JSON_MAX_ANY_DEPTH + 1);
    j = attr_json(deep);
    err_traces(j, "AnyValue nested deeper than 64 levels");
    free(deep);
    free(j);

    /* 10 000 nested arrays (and AnyValues) must fail fast, without recursion. */
    size_t n = 10000;
    char *bomb = malloc(2 * n + 1);
    memset(bomb, '[', n);
    memset(bomb + n, ']', n);
    bomb[2 * n] = '\0';
    clock_t t0 = clock();
    err_traces(bomb, "nesting too deep");
    char *wrapped = malloc(2 * n + 32);
    snprintf(wrapped, 2 * n + 32, "{\"resourceSpans\":%s}", bomb);
    err_traces(wrapped, "nesting too deep");
    deep = nested_any(n);
    j = attr_json(deep);
    err_traces(j, "nesting too deep");
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
    free(deep);
    free(j);
    free(bomb);
    free(wrapped);
}

/* ---- encoding ---- */

static void test_encode_escaping_and_defaults(void **state) {
    (void)state;
    pp_batch *b = pp_batch_new(PP_TRACES, 0);
    pp_arena *a = b->arena;
    pp_resource_spans *rs = pp_arena_alloc(a, sizeof(*rs));
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    pp_resource *r = pp_arena_alloc(a, sizeof(*r));
    opentelemetry__proto__resource__v1__resource__init(r);
    pp_key_value *kv = pp_arena_alloc(a, sizeof(*kv));
    opentelemetry__proto__common__v1__key_value__init(kv);
    pp_any_value *v = pp_arena_alloc(a, sizeof(*v));
    opentelemetry__proto__common__v1__any_value__init(v);
    kv->key = pp_arena_strdup(a, "q\"b\\s/\x01\x1f\n\xc3\xa9\xff\x7f");
    v->value_case = ANY(INT_VALUE);
    v->int_value = 0; /* a set oneof member is emitted even when 0 */
    kv->value = v;
    r->attributes = pp_arena_alloc(a, sizeof(void *));
    r->attributes[0] = kv;
    r->n_attributes = 1;
    rs->resource = r;
    b->traces->resource_spans = pp_arena_alloc(a, sizeof(void *));
    b->traces->resource_spans[0] = rs;
    b->traces->n_resource_spans = 1;
    size_t len;
    char *s = pp_otlp_json_encode_request(b, &len);
    assert_string_equal(s, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
                           "\"q\\\"b\\\\s/\\u0001\\u001f\\n\xc3\xa9\\ufffd\x7f\","
                           "\"value\":{\"intValue\":\"0\"}}]}}]}");
    free(s);
    pp_batch_unref(b);
}

static void test_encode_numbers(void **state) {
    (void)state;
    pp_batch *b = load_fixture(PP_METRICS, "metrics_full.json");
    size_t len;
    char *s = pp_otlp_json_encode_request(b, &len);
    /* 64-bit as strings, 32-bit and enums as numbers, ids as lowercase hex,
     * doubles as numbers or the proto3 strings, optional 0 kept. */
    static const char *want[] = {
        "\"timeUnixNano\":\"1700000000000000000\"", "\"asInt\":\"-12\"",
        "\"spanId\":\"aabbccddeeff0011\"", "\"asDouble\":\"Infinity\"", "\"flags\":1",
        "\"aggregationTemporality\":2", "\"isMonotonic\":true", "\"sum\":0,",
        "\"bucketCounts\":[\"1\",\"2\",\"3\"]", "\"explicitBounds\":[1,2.5]",
        "\"count\":\"18446744073709551615\"", "\"scale\":-3", "\"offset\":-2",
        "\"zeroThreshold\":1e-09", "\"min\":0,", "\"max\":7.75",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(s, want[i])) fail_msg("missing %s in %s", want[i], s);
    assert_null(strstr(s, "\"isMonotonic\":false")); /* default omitted */
    free(s);
    pp_batch_unref(b);
}

static void test_encode_response_and_status(void **state) {
    (void)state;
    size_t len;
    char *s = pp_otlp_json_encode_response(PP_TRACES, 0, NULL, &len);
    assert_string_equal(s, "{}");
    assert_int_equal(len, 2);
    free(s);
    s = pp_otlp_json_encode_response(PP_METRICS, 0, "", &len);
    assert_string_equal(s, "{}");
    free(s);
    s = pp_otlp_json_encode_response(PP_TRACES, 5, "5 spans \"dropped\"", &len);
    assert_string_equal(s, "{\"partialSuccess\":{\"rejectedSpans\":\"5\","
                           "\"errorMessage\":\"5 spans \\\"dropped\\\"\"}}");

    /* Read back through the generic decoder with the response descriptor. */
    pp_arena *a = pp_arena_new(0);
    pp_status st = {0};
    pp_traces_resp *tr = (pp_traces_resp *)pp_otlp_json_decode_message(
        &opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor, s,
        len, a, &st);
    assert_non_null(tr);
    assert_int_equal(tr->partial_success->rejected_spans, 5);
    assert_string_equal(tr->partial_success->error_message, "5 spans \"dropped\"");
    free(s);
    s = pp_otlp_json_encode_response(PP_METRICS, 0, "warning", &len);
    assert_string_equal(s, "{\"partialSuccess\":{\"errorMessage\":\"warning\"}}");
    free(s);
    s = pp_otlp_json_encode_response(PP_METRICS, 7, NULL, &len);
    assert_string_equal(s, "{\"partialSuccess\":{\"rejectedDataPoints\":\"7\"}}");
    free(s);

    s = pp_otlp_json_encode_status(3, "resourceSpans[0]: bad\n", &len);
    assert_string_equal(s, "{\"code\":3,\"message\":\"resourceSpans[0]: bad\\n\"}");
    Google__Rpc__Status *gs = (Google__Rpc__Status *)pp_otlp_json_decode_message(
        &google__rpc__status__descriptor, s, len, a, &st);
    assert_non_null(gs);
    assert_int_equal(gs->code, 3);
    assert_string_equal(gs->message, "resourceSpans[0]: bad\n");
    free(s);
    s = pp_otlp_json_encode_status(0, NULL, &len);
    assert_string_equal(s, "{}");
    free(s);
    pp_arena_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_span),
        cmocka_unit_test(test_traces_fixture),
        cmocka_unit_test(test_metrics_fixture),
        cmocka_unit_test(test_round_trip_generated),
        cmocka_unit_test(test_ints_as_numbers_or_strings),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_uppercase_hex_and_empty_parent),
        cmocka_unit_test(test_unknown_and_snake_case_keys_ignored),
        cmocka_unit_test(test_empty_request),
        cmocka_unit_test(test_errors_ids),
        cmocka_unit_test(test_errors_numbers),
        cmocka_unit_test(test_errors_structure),
        cmocka_unit_test(test_errors_bytes_and_strings),
        cmocka_unit_test(test_base64_variants),
        cmocka_unit_test(test_depth_limits),
        cmocka_unit_test(test_encode_escaping_and_defaults),
        cmocka_unit_test(test_encode_numbers),
        cmocka_unit_test(test_encode_response_and_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
