/* Unit tests: protobuf-c round trips of the OTLP common, resource and trace
 * messages, the trace collector service and google.rpc.Status.
 *
 * Each test builds a message, packs it, unpacks it with the arena allocator,
 * compares every field (tu_msg_diff: doubles by bit pattern) and re-packs it
 * byte for byte (tu_roundtrip). Some tests also check the wire bytes of the
 * fields whose wire type is easy to get wrong (fixed32 flags, fixed64 times). */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "google/rpc/status.pb-c.h"

#define SPAN_KIND(k) OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_##k
#define STATUS_CODE(c) OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_##c
#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

static const uint8_t TRACE_ID[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                     0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
static const uint8_t SPAN_ID[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
static const uint8_t PARENT_ID[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Round-trips msg in a fresh arena and frees it: for messages with no
 * value-specific checks beyond full equality. */
static void roundtrip_only(const ProtobufCMessage *msg) {
    pp_arena *b = pp_arena_new(0);
    tu_roundtrip(msg, b, NULL, NULL);
    pp_arena_destroy(b);
}

static pp_span_event *make_event(pp_arena *a, uint64_t t, const char *name) {
    pp_span_event *e = pp_arena_alloc(a, sizeof(*e));
    opentelemetry__proto__trace__v1__span__event__init(e);
    e->time_unix_nano = t;
    e->name = pp_arena_strdup(a, name);
    e->attributes = tu_attrs(a, &e->n_attributes);
    e->dropped_attributes_count = 3;
    return e;
}

static pp_span_link *make_link(pp_arena *a, uint32_t flags) {
    pp_span_link *l = pp_arena_alloc(a, sizeof(*l));
    opentelemetry__proto__trace__v1__span__link__init(l);
    l->trace_id = tu_bytes(a, TRACE_ID, sizeof(TRACE_ID));
    l->span_id = tu_bytes(a, SPAN_ID, sizeof(SPAN_ID));
    l->trace_state = pp_arena_strdup(a, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    l->attributes = tu_attrs(a, &l->n_attributes);
    l->dropped_attributes_count = 1;
    l->flags = flags;
    return l;
}

/* A span with every field set to a non-default value. */
static pp_span *make_span(pp_arena *a, int kind, int code) {
    pp_span *s = pp_arena_alloc(a, sizeof(*s));
    opentelemetry__proto__trace__v1__span__init(s);
    s->trace_id = tu_bytes(a, TRACE_ID, sizeof(TRACE_ID));
    s->span_id = tu_bytes(a, SPAN_ID, sizeof(SPAN_ID));
    s->trace_state = pp_arena_strdup(a, "vendor=value");
    s->parent_span_id = tu_bytes(a, PARENT_ID, sizeof(PARENT_ID));
    s->flags = 0xFFFFFC00u | 0x300u | 0x01u; /* reserved high bits, remote, sampled */
    s->name = pp_arena_strdup(a, "GET /api/ünïcødé 🚀");
    s->kind = kind;
    s->start_time_unix_nano = 1;
    s->end_time_unix_nano = UINT64_MAX;
    s->attributes = tu_attrs(a, &s->n_attributes);
    s->dropped_attributes_count = UINT32_MAX;
    s->n_events = 2;
    s->events = tu_ptrs(a, 2);
    s->events[0] = make_event(a, 0, "");
    s->events[1] = make_event(a, UINT64_MAX, "exception");
    s->dropped_events_count = 4;
    s->n_links = 2;
    s->links = tu_ptrs(a, 2);
    s->links[0] = make_link(a, 0x00000100u);
    s->links[1] = make_link(a, 0xFFFFFFFFu);
    s->dropped_links_count = 5;
    s->status = pp_arena_alloc(a, sizeof(*s->status));
    opentelemetry__proto__trace__v1__status__init(s->status);
    s->status->message = pp_arena_strdup(a, code == STATUS_CODE(ERROR) ? "boom ✗" : "");
    s->status->code = code;
    return s;
}

static pp_resource_spans *make_resource_spans(pp_arena *a, size_t n_spans) {
    pp_scope_spans *ss = pp_arena_alloc(a, sizeof(*ss));
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    ss->scope = tu_scope(a);
    ss->n_spans = n_spans;
    ss->spans = tu_ptrs(a, n_spans);
    for (size_t i = 0; i < n_spans; i++)
        ss->spans[i] = make_span(a, (int)(i % 6), (int)(i % 3));
    ss->schema_url = pp_arena_strdup(a, "https://opentelemetry.io/schemas/1.24.0");
    pp_resource_spans *rs = pp_arena_alloc(a, sizeof(*rs));
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    rs->resource = tu_resource(a);
    rs->n_scope_spans = 1;
    rs->scope_spans = tu_ptrs(a, 1);
    rs->scope_spans[0] = ss;
    rs->schema_url = pp_arena_strdup(a, "");
    return rs;
}

/* The comparator must notice each kind of change, or every other test here
 * would pass vacuously. */
static void test_diff_detects_changes(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);
    pp_span *orig = make_span(a, SPAN_KIND(SERVER), STATUS_CODE(OK));
    pp_span *c = (pp_span *)tu_roundtrip(&orig->base, b, NULL, NULL);
    assert_null(tu_msg_diff(&orig->base, &c->base));

    c->flags ^= 0x80000000u;
    assert_non_null(tu_msg_diff(&orig->base, &c->base));
    c->flags ^= 0x80000000u;

    c->name[0] = 'P';
    assert_non_null(strstr(tu_msg_diff(&orig->base, &c->base), "Span.name"));
    c->name[0] = 'G';

    c->span_id.data[7] ^= 1;
    assert_non_null(tu_msg_diff(&orig->base, &c->base));
    c->span_id.data[7] ^= 1;

    c->n_links--;
    assert_non_null(strstr(tu_msg_diff(&orig->base, &c->base), "Span.links"));
    c->n_links++;

    Opentelemetry__Proto__Trace__V1__Status *st = c->status;
    c->status = NULL;
    assert_non_null(tu_msg_diff(&orig->base, &c->base));
    c->status = st;

    /* -0.0 == 0.0 numerically; the comparator must still see it. */
    pp_any_value *nz = c->attributes[5]->value;
    assert_int_equal(tu_dbits(nz->double_value), 0x8000000000000000ull);
    nz->double_value = 0.0;
    assert_non_null(strstr(tu_msg_diff(&orig->base, &c->base), "Span.attributes[5].value.double_value"));
    nz->double_value = -0.0;

    nz->value_case = ANY(INT_VALUE);
    assert_non_null(strstr(tu_msg_diff(&orig->base, &c->base), "oneof"));
    nz->value_case = ANY(DOUBLE_VALUE);

    c->events[1]->time_unix_nano--;
    assert_non_null(strstr(tu_msg_diff(&orig->base, &c->base), "Span.events[1].time_unix_nano"));
    c->events[1]->time_unix_nano++;

    assert_null(tu_msg_diff(&orig->base, &c->base));
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

static const uint8_t *packed_any(pp_arena *b, pp_any_value *v, size_t *len) {
    const uint8_t *wire;
    pp_any_value *c = (pp_any_value *)tu_roundtrip(&v->base, b, &wire, len);
    assert_int_equal(c->value_case, v->value_case);
    return wire;
}

static void test_any_value_each_case(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);
    size_t len;
    const uint8_t *w;

    /* Empty value: no oneof member, no bytes at all. */
    w = packed_any(b, tu_any_empty(a), &len);
    assert_int_equal(len, 0);
    /* A set oneof member is written even when it holds the default value. */
    w = packed_any(b, tu_any_str(a, ""), &len);
    assert_int_equal(len, 2);
    assert_memory_equal(w, "\x0a\x00", 2);
    w = packed_any(b, tu_any_bool(a, 0), &len);
    assert_memory_equal(w, "\x10\x00", 2);
    w = packed_any(b, tu_any_int(a, 0), &len);
    assert_memory_equal(w, "\x18\x00", 2);
    w = packed_any(b, tu_any_double(a, 0.0), &len);
    assert_int_equal(len, 9);
    assert_int_equal(w[0], 0x21);
    w = packed_any(b, tu_any_bytes(a, "", 0), &len);
    assert_memory_equal(w, "\x3a\x00", 2);

    packed_any(b, tu_any_str(a, "日本語 ✓ 🚀👩‍💻 \xc3\xa9"), &len);
    packed_any(b, tu_any_bool(a, 1), &len);
    packed_any(b, tu_any_int(a, INT64_MIN), &len);
    assert_int_equal(len, 11); /* negative int64 varint: 10 bytes */
    packed_any(b, tu_any_int(a, INT64_MAX), &len);
    pp_any_value *d = tu_any_double(a, tu_bits2d(0x7ff4000000000abcull));
    pp_any_value *dc = (pp_any_value *)tu_roundtrip(&d->base, b, NULL, NULL);
    assert_int_equal(tu_dbits(dc->double_value), 0x7ff4000000000abcull);
    static const uint8_t bin[] = {0, 1, 2, 0xfe, 0xff};
    pp_any_value *by = (pp_any_value *)tu_roundtrip(&tu_any_bytes(a, bin, 5)->base, b, NULL, NULL);
    assert_int_equal(by->bytes_value.len, 5);
    assert_memory_equal(by->bytes_value.data, bin, 5);

    /* string_value_strindex (profiles only): still a oneof case on the wire. */
    pp_any_value *si = tu_any_empty(a);
    si->value_case = ANY(STRING_VALUE_STRINDEX);
    si->string_value_strindex = -1;
    pp_any_value *sic = (pp_any_value *)tu_roundtrip(&si->base, b, &w, &len);
    assert_int_equal(sic->string_value_strindex, -1);
    assert_int_equal(w[0], 0x40);
    assert_int_equal(len, 11); /* negative int32 varint: 10 bytes */

    /* Empty array and kvlist are present but empty. */
    w = packed_any(b, tu_any_array(a, 0, NULL), &len);
    assert_memory_equal(w, "\x2a\x00", 2);
    w = packed_any(b, tu_any_kvlist(a, 0, NULL), &len);
    assert_memory_equal(w, "\x32\x00", 2);
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

/* array -> kvlist -> array -> every scalar kind, plus an empty value. */
static void test_any_value_nested(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);
    pp_any_value **leaves = tu_ptrs(a, 7);
    leaves[0] = tu_any_str(a, "deep 🐢");
    leaves[1] = tu_any_bool(a, 1);
    leaves[2] = tu_any_int(a, -42);
    leaves[3] = tu_any_double(a, -0.0);
    leaves[4] = tu_any_bytes(a, "\0\1", 2);
    leaves[5] = tu_any_empty(a);
    leaves[6] = tu_any_array(a, 0, NULL);
    pp_key_value **kvs = tu_ptrs(a, 2);
    kvs[0] = tu_kv(a, "level3", tu_any_array(a, 7, leaves));
    kvs[1] = tu_kv(a, "", tu_any_empty(a));
    pp_any_value **top = tu_ptrs(a, 2);
    top[0] = tu_any_kvlist(a, 2, kvs);
    top[1] = tu_any_int(a, 1);
    pp_any_value *root = tu_any_array(a, 2, top);

    pp_any_value *c = (pp_any_value *)tu_roundtrip(&root->base, b, NULL, NULL);
    assert_int_equal(c->value_case, ANY(ARRAY_VALUE));
    assert_int_equal(c->array_value->n_values, 2);
    pp_any_value *l2 = c->array_value->values[0];
    assert_int_equal(l2->value_case, ANY(KVLIST_VALUE));
    assert_string_equal(l2->kvlist_value->values[0]->key, "level3");
    pp_array_value *l3 = l2->kvlist_value->values[0]->value->array_value;
    assert_int_equal(l3->n_values, 7);
    assert_string_equal(l3->values[0]->string_value, "deep 🐢");
    assert_int_equal(l3->values[2]->int_value, -42);
    assert_int_equal(tu_dbits(l3->values[3]->double_value), 0x8000000000000000ull);
    assert_int_equal(l3->values[5]->value_case, ANY(_NOT_SET));
    assert_int_equal(l3->values[6]->array_value->n_values, 0);
    assert_int_equal(l2->kvlist_value->values[1]->value->value_case, ANY(_NOT_SET));
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

static void test_common_messages(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);

    pp_array_value empty_arr;
    opentelemetry__proto__common__v1__array_value__init(&empty_arr);
    size_t len;
    tu_roundtrip(&empty_arr.base, b, NULL, &len);
    assert_int_equal(len, 0);

    pp_kv_list_value list;
    opentelemetry__proto__common__v1__key_value_list__init(&list);
    list.values = tu_attrs(a, &list.n_values);
    pp_kv_list_value *lc = (pp_kv_list_value *)tu_roundtrip(&list.base, b, NULL, NULL);
    assert_int_equal(lc->n_values, list.n_values);
    assert_string_equal(lc->values[2]->key, "ünïcødé.キー");
    assert_string_equal(lc->values[2]->value->string_value, "日本語 ✓ 🚀👩‍💻");
    assert_int_equal(lc->values[4]->value->int_value, INT64_MIN);

    pp_key_value *kv = tu_kv(a, "k", NULL); /* value absent */
    kv->key_strindex = INT32_MAX;
    pp_key_value *kvc = (pp_key_value *)tu_roundtrip(&kv->base, b, NULL, NULL);
    assert_null(kvc->value);
    assert_int_equal(kvc->key_strindex, INT32_MAX);

    pp_scope *sc = (pp_scope *)tu_roundtrip(&tu_scope(a)->base, b, NULL, NULL);
    assert_string_equal(sc->version, "1.2.3-β");
    assert_int_equal(sc->dropped_attributes_count, UINT32_MAX);
    pp_scope empty_scope;
    opentelemetry__proto__common__v1__instrumentation_scope__init(&empty_scope);
    tu_roundtrip(&empty_scope.base, b, NULL, &len);
    assert_int_equal(len, 0);

    pp_resource *r = (pp_resource *)tu_roundtrip(&tu_resource(a)->base, b, NULL, NULL);
    assert_int_equal(r->dropped_attributes_count, 7);
    assert_int_equal(r->n_entity_refs, 1);
    Opentelemetry__Proto__Common__V1__EntityRef *e = r->entity_refs[0];
    assert_string_equal(e->type, "service");
    assert_int_equal(e->n_id_keys, 2);
    assert_string_equal(e->id_keys[1], "");
    assert_string_equal(e->description_keys[0], "service.version");
    roundtrip_only(&e->base);
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

static void test_span_all_fields(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);
    for (int kind = 0; kind <= 5; kind++) {
        for (int code = 0; code <= 2; code++) {
            const uint8_t *w;
            size_t len;
            pp_span *s = make_span(a, kind, code);
            pp_span *c = (pp_span *)tu_roundtrip(&s->base, b, &w, &len);
            assert_int_equal(c->kind, kind);
            assert_int_equal(c->status->code, code);
            assert_int_equal(c->flags, 0xFFFFFF01u);
            assert_int_equal(c->start_time_unix_nano, 1);
            assert_int_equal(c->end_time_unix_nano, UINT64_MAX);
            assert_int_equal(c->links[0]->flags, 0x100u);
            assert_int_equal(c->links[1]->flags, 0xFFFFFFFFu);
            assert_int_equal(c->events[1]->time_unix_nano, UINT64_MAX);
            assert_int_equal(c->dropped_attributes_count, UINT32_MAX);
            assert_memory_equal(c->trace_id.data, TRACE_ID, 16);
            assert_memory_equal(c->parent_span_id.data, PARENT_ID, 8);
            assert_string_equal(c->name, "GET /api/ünïcødé 🚀");
            /* Span.flags is field 16, fixed32: tag 0x85 0x01, 4 bytes LE. */
            assert_true(tu_mem_contains(w, len, "\x85\x01\x01\xff\xff\xff", 6));
            /* start_time_unix_nano is field 7, fixed64: tag 0x39, 8 bytes LE. */
            assert_true(tu_mem_contains(w, len, "\x39\x01\0\0\0\0\0\0\0", 9));
            /* Link.flags is field 6, fixed32: tag 0x35. */
            assert_true(tu_mem_contains(w, len, "\x35\x00\x01\x00\x00", 5));
        }
    }
    /* An all-default span packs to nothing and survives as such. */
    pp_span empty;
    opentelemetry__proto__trace__v1__span__init(&empty);
    size_t len;
    pp_span *ec = (pp_span *)tu_roundtrip(&empty.base, b, NULL, &len);
    assert_int_equal(len, 0);
    assert_null(ec->status);
    assert_int_equal(ec->trace_id.len, 0);
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

static void test_traces_data_and_request(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);
    pp_resource_spans **rs = tu_ptrs(a, 2);
    rs[0] = make_resource_spans(a, 6);
    rs[1] = make_resource_spans(a, 1);
    Opentelemetry__Proto__Trace__V1__TracesData td;
    opentelemetry__proto__trace__v1__traces_data__init(&td);
    td.n_resource_spans = 2;
    td.resource_spans = rs;
    pp_traces_req req;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
    req.n_resource_spans = 2;
    req.resource_spans = rs;

    const uint8_t *w1, *w2;
    size_t l1, l2;
    tu_roundtrip(&td.base, b, &w1, &l1);
    pp_traces_req *c = (pp_traces_req *)tu_roundtrip(&req.base, b, &w2, &l2);
    /* A stored TracesData and a request are the same bytes (WIRE-SPECS 2.5). */
    assert_int_equal(l1, l2);
    assert_memory_equal(w1, w2, l1);
    assert_int_equal(c->n_resource_spans, 2);
    assert_int_equal(c->resource_spans[0]->scope_spans[0]->n_spans, 6);
    assert_int_equal(c->resource_spans[0]->scope_spans[0]->spans[5]->kind, SPAN_KIND(CONSUMER));
    assert_string_equal(c->resource_spans[0]->scope_spans[0]->schema_url,
                        "https://opentelemetry.io/schemas/1.24.0");
    /* The unpacked request decodes as TracesData too. */
    ProtobufCMessage *as_td = protobuf_c_message_unpack(
        &opentelemetry__proto__trace__v1__traces_data__descriptor, pp_arena_allocator(b), l2, w2);
    assert_non_null(as_td);
    assert_null(tu_msg_diff(&td.base, as_td));
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

static void test_trace_response_partial_success(void **state) {
    (void)state;
    pp_arena *b = pp_arena_new(0);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps;
    opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&ps);
    pp_traces_resp resp;
    opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&resp);
    size_t len;
    pp_traces_resp *c = (pp_traces_resp *)tu_roundtrip(&resp.base, b, NULL, &len);
    assert_int_equal(len, 0);
    assert_null(c->partial_success);

    /* An empty partial_success is still present on the wire. */
    resp.partial_success = &ps;
    const uint8_t *w;
    c = (pp_traces_resp *)tu_roundtrip(&resp.base, b, &w, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(w, "\x0a\x00", 2);
    assert_non_null(c->partial_success);

    ps.rejected_spans = INT64_MAX;
    ps.error_message = "2 spans rejected: trace_id ✗";
    c = (pp_traces_resp *)tu_roundtrip(&resp.base, b, NULL, NULL);
    assert_int_equal(c->partial_success->rejected_spans, INT64_MAX);
    assert_string_equal(c->partial_success->error_message, ps.error_message);
    ps.rejected_spans = -1; /* invalid but must survive */
    c = (pp_traces_resp *)tu_roundtrip(&resp.base, b, NULL, NULL);
    assert_int_equal(c->partial_success->rejected_spans, -1);
    pp_arena_destroy(b);
}

static void test_rpc_status_retry_info(void **state) {
    (void)state;
    pp_arena *b = pp_arena_new(0);
    Google__Rpc__Duration delay;
    google__rpc__duration__init(&delay);
    delay.seconds = 3;
    delay.nanos = 500000000;
    Google__Rpc__RetryInfo ri;
    google__rpc__retry_info__init(&ri);
    ri.retry_delay = &delay;
    const uint8_t *ri_wire;
    size_t ri_len;
    tu_roundtrip(&ri.base, b, &ri_wire, &ri_len);

    Google__Rpc__BadRequest__FieldViolation fv;
    google__rpc__bad_request__field_violation__init(&fv);
    fv.field = "resource_spans[0].scope_spans[0].spans[3].trace_id";
    fv.description = "must be 16 bytes";
    Google__Rpc__BadRequest__FieldViolation *fvs[] = {&fv};
    Google__Rpc__BadRequest br;
    google__rpc__bad_request__init(&br);
    br.n_field_violations = 1;
    br.field_violations = fvs;
    const uint8_t *br_wire;
    size_t br_len;
    tu_roundtrip(&br.base, b, &br_wire, &br_len);

    Google__Rpc__Any any[2];
    google__rpc__any__init(&any[0]);
    google__rpc__any__init(&any[1]);
    any[0].type_url = "type.googleapis.com/google.rpc.RetryInfo";
    any[0].value = tu_bytes(b, ri_wire, ri_len);
    any[1].type_url = "type.googleapis.com/google.rpc.BadRequest";
    any[1].value = tu_bytes(b, br_wire, br_len);
    Google__Rpc__Any *details[] = {&any[0], &any[1]};
    Google__Rpc__Status st;
    google__rpc__status__init(&st);
    st.code = 14; /* UNAVAILABLE */
    st.message = "try later ⏳";
    st.n_details = 2;
    st.details = details;

    Google__Rpc__Status *c = (Google__Rpc__Status *)tu_roundtrip(&st.base, b, NULL, NULL);
    assert_int_equal(c->code, 14);
    assert_int_equal(c->n_details, 2);
    assert_string_equal(c->details[0]->type_url, "type.googleapis.com/google.rpc.RetryInfo");
    Google__Rpc__RetryInfo *ric = google__rpc__retry_info__unpack(
        pp_arena_allocator(b), c->details[0]->value.len, c->details[0]->value.data);
    assert_non_null(ric);
    assert_int_equal(ric->retry_delay->seconds, 3);
    assert_int_equal(ric->retry_delay->nanos, 500000000);
    Google__Rpc__BadRequest *brc = google__rpc__bad_request__unpack(
        pp_arena_allocator(b), c->details[1]->value.len, c->details[1]->value.data);
    assert_non_null(brc);
    assert_string_equal(brc->field_violations[0]->description, "must be 16 bytes");

    delay.seconds = INT64_MIN;
    delay.nanos = INT32_MIN;
    Google__Rpc__RetryInfo *rc = (Google__Rpc__RetryInfo *)tu_roundtrip(&ri.base, b, NULL, NULL);
    assert_int_equal(rc->retry_delay->seconds, INT64_MIN);
    assert_int_equal(rc->retry_delay->nanos, INT32_MIN);
    pp_arena_destroy(b);
}

/* 10k repeated elements and a 2 MiB string. */
static void test_large_values(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0), *b = pp_arena_new(0);
    enum { N = 10000, BIG = 2u << 20 };
    char *big = pp_arena_alloc(a, BIG + 1);
    static const char pattern[] = "a€🚀"; /* 1 + 3 + 4 bytes */
    for (size_t i = 0; i < BIG; i++) big[i] = pattern[i % 8];
    big[BIG] = '\0';

    pp_span *s = make_span(a, SPAN_KIND(CLIENT), STATUS_CODE(UNSET));
    pp_any_value **items = tu_ptrs(a, N);
    for (size_t i = 0; i < N; i++) items[i] = tu_any_int(a, (int64_t)i - 5000);
    s->n_attributes = 2;
    s->attributes = tu_ptrs(a, 2);
    s->attributes[0] = tu_kv(a, "big", tu_any_str(a, ""));
    s->attributes[0]->value->string_value = big;
    s->attributes[1] = tu_kv(a, "many", tu_any_array(a, N, items));
    s->n_events = N;
    s->events = tu_ptrs(a, N);
    for (size_t i = 0; i < N; i++) {
        pp_span_event *e = pp_arena_alloc(a, sizeof(*e));
        opentelemetry__proto__trace__v1__span__event__init(e);
        e->time_unix_nano = i;
        s->events[i] = e;
    }
    size_t len;
    pp_span *c = (pp_span *)tu_roundtrip(&s->base, b, NULL, &len);
    assert_true(len > BIG);
    assert_int_equal(strlen(c->attributes[0]->value->string_value), BIG);
    assert_int_equal(c->attributes[1]->value->array_value->n_values, N);
    assert_int_equal(c->attributes[1]->value->array_value->values[N - 1]->int_value, N - 1 - 5000);
    assert_int_equal(c->n_events, N);
    assert_int_equal(c->events[N - 1]->time_unix_nano, N - 1);
    pp_arena_destroy(a);
    pp_arena_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_detects_changes),
        cmocka_unit_test(test_any_value_each_case),
        cmocka_unit_test(test_any_value_nested),
        cmocka_unit_test(test_common_messages),
        cmocka_unit_test(test_span_all_fields),
        cmocka_unit_test(test_traces_data_and_request),
        cmocka_unit_test(test_trace_response_partial_success),
        cmocka_unit_test(test_rpc_status_retry_info),
        cmocka_unit_test(test_large_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
