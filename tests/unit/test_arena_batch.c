/* Unit tests: the arena allocator and batch reference counting / decoding. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void test_arena_alignment_and_growth(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0);
    assert_non_null(a);
    for (size_t i = 1; i < 5000; i += 7) {
        unsigned char *p = pp_arena_alloc(a, i);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xAB, i); /* ASan would catch an overlap or overflow */
    }
    void *big = pp_arena_alloc(a, 10u << 20);
    assert_non_null(big);
    memset(big, 1, 10u << 20);
    assert_true(pp_arena_used(a) >= (10u << 20));
    assert_true(pp_arena_reserved(a) >= pp_arena_used(a));
    assert_string_equal(pp_arena_strdup(a, "héllo"), "héllo");
    pp_arena_destroy(a);
}

static void test_arena_zero_and_overflow(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(16);
    assert_non_null(pp_arena_alloc(a, 0));
    assert_null(pp_arena_alloc(a, SIZE_MAX));
    pp_arena_destroy(a);
    pp_arena_destroy(NULL);
}

static void test_batch_decode_roundtrip_and_refs(void **state) {
    (void)state;
    pp_batch *src = tu_make_traces(2, 3, 4, 7);
    assert_int_equal(src->items, 24);
    size_t n = pp_batch_encoded_size(src);
    uint8_t *buf = malloc(n);
    assert_int_equal(pp_batch_pack(src, buf), n);

    pp_status st = {0};
    pp_batch *b = pp_batch_decode(PP_TRACES, buf, n, &st);
    assert_non_null(b);
    assert_int_equal(b->items, 24);
    assert_true(pp_batch_is_exclusive(b));
    pp_batch_ref(b);
    assert_false(pp_batch_is_exclusive(b));
    pp_batch_unref(b);
    assert_string_equal(b->traces->resource_spans[1]->scope_spans[2]->spans[3]->name, "op");
    pp_batch_unref(b);
    pp_batch_unref(src);
    free(buf);
}

static void test_batch_decode_rejects_garbage(void **state) {
    (void)state;
    pp_status st = {0};
    const uint8_t junk[] = {0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01};
    assert_null(pp_batch_decode(PP_TRACES, junk, sizeof(junk), &st));
    assert_int_equal(st.code, PP_INVALID);
    assert_non_null(strstr(st.msg, "malformed protobuf"));
}

static void test_batch_decode_rejects_bad_ids(void **state) {
    (void)state;
    pp_batch *src = tu_make_traces(1, 1, 2, 3);
    src->traces->resource_spans[0]->scope_spans[0]->spans[1]->trace_id.len = 15;
    size_t n = pp_batch_encoded_size(src);
    uint8_t *buf = malloc(n);
    pp_batch_pack(src, buf);
    pp_status st = {0};
    assert_null(pp_batch_decode(PP_TRACES, buf, n, &st));
    assert_int_equal(st.code, PP_INVALID);
    assert_non_null(strstr(st.msg, "spans[1].trace_id"));

    src->traces->resource_spans[0]->scope_spans[0]->spans[1]->trace_id.len = 16;
    src->traces->resource_spans[0]->scope_spans[0]->spans[0]->span_id.len = 4;
    n = pp_batch_encoded_size(src);
    pp_batch_pack(src, buf);
    assert_null(pp_batch_decode(PP_TRACES, buf, n, &st));
    assert_non_null(strstr(st.msg, "spans[0].span_id"));
    free(buf);
    pp_batch_unref(src);
}

static void test_batch_borrow_keeps_parts_alive(void **state) {
    (void)state;
    pp_batch *part = tu_make_traces(1, 1, 3, 1);
    pp_batch *merged = pp_batch_new(PP_TRACES, 0);
    assert_int_equal(pp_batch_borrow(merged, part), 0);
    merged->traces->n_resource_spans = 1;
    merged->traces->resource_spans = pp_arena_alloc(merged->arena, sizeof(void *));
    merged->traces->resource_spans[0] = part->traces->resource_spans[0];
    pp_batch_unref(part); /* merged still holds it */
    pp_batch_recount(merged);
    assert_int_equal(merged->items, 3);
    assert_false(pp_batch_is_exclusive(merged));
    pp_batch_unref(merged);
}

/* A tag with field number 0 written in two bytes (0x85 0x00: wire type 5):
 * protobuf-c would keep it and write back bytes no decoder accepts. */
static void test_batch_decode_rejects_field_zero(void **state) {
    (void)state;
    pp_batch *src = tu_make_traces(1, 1, 1, 2);
    size_t n = pp_batch_encoded_size(src);
    uint8_t *buf = malloc(n + 6);
    pp_batch_pack(src, buf);
    memcpy(buf + n, "\x85\x00\x01\x02\x03\x04", 6);
    pp_status st = {0};
    assert_null(pp_batch_decode(PP_TRACES, buf, n + 6, &st));
    assert_int_equal(st.code, PP_INVALID);
    assert_non_null(strstr(st.msg, "number 0"));
    /* The same bytes with a real unknown field (number 9) pass through. */
    memcpy(buf + n, "\x4d\x01\x02\x03\x04", 5);
    pp_batch *b = pp_batch_decode(PP_TRACES, buf, n + 5, &st);
    assert_non_null(b);
    pp_batch_unref(b);
    free(buf);
    pp_batch_unref(src);
}

/* Writes v as a protobuf varint at p; returns the bytes written. */
static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* protobuf-c unpacks recursively: 200 000 nested ArrayValues in a span
 * attribute would overflow the stack. Decoding must refuse it instead. */
static void test_batch_decode_refuses_deep_nesting(void **state) {
    (void)state;
    enum { DEPTH = 200000 };
    size_t cap = (size_t)DEPTH * 16 + 256;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    size_t len = 0; /* the innermost AnyValue is empty */
    for (int i = 0; i < DEPTH; i++) {
        /* ArrayValue{values: <a>} then AnyValue{array_value: <that>}, built into b */
        size_t n = 0;
        b[n++] = 0x0a;
        n += put_varint(b + n, len);
        memcpy(b + n, a, len);
        n += len;
        a[0] = 0x2a;
        size_t m = 1 + put_varint(a + 1, n);
        memcpy(a + m, b, n);
        len = m + n;
    }
    /* KeyValue{key "k", value} inside a Span inside Scope/ResourceSpans. */
    uint8_t *req = malloc(len + 128);
    size_t n = 0;
    uint8_t kv_head[16], span_head[64];
    size_t kvh = 0, kv_len = 3 + 1 + put_varint(kv_head, len) + len;
    kvh = put_varint(kv_head, len);
    size_t sh = 0;
    span_head[sh++] = 0x0a; span_head[sh++] = 16;
    for (int i = 0; i < 16; i++) span_head[sh++] = (uint8_t)(i + 1);
    span_head[sh++] = 0x12; span_head[sh++] = 8;
    for (int i = 0; i < 8; i++) span_head[sh++] = (uint8_t)(i + 1);
    span_head[sh++] = 0x4a;
    sh += put_varint(span_head + sh, kv_len);
    size_t span_len = sh + kv_len;
    size_t ss_len = 1 + put_varint(req, span_len) + span_len;
    size_t rs_len = 1 + put_varint(req, ss_len) + ss_len;
    req[n++] = 0x0a; n += put_varint(req + n, rs_len);
    req[n++] = 0x12; n += put_varint(req + n, ss_len);
    req[n++] = 0x12; n += put_varint(req + n, span_len);
    memcpy(req + n, span_head, sh); n += sh;
    req[n++] = 0x0a; req[n++] = 1; req[n++] = 'k';
    req[n++] = 0x12; memcpy(req + n, kv_head, kvh); n += kvh;
    memcpy(req + n, a, len); n += len;
    pp_status st = {0};
    assert_null(pp_batch_decode(PP_TRACES, req, n, &st));
    assert_int_equal(st.code, PP_INVALID);
    assert_non_null(strstr(st.msg, "nested deeper"));
    free(a);
    free(b);
    free(req);
}

static void test_empty_request_is_valid(void **state) {
    (void)state;
    pp_status st = {0};
    pp_batch *b = pp_batch_decode(PP_METRICS, (const uint8_t *)"", 0, &st);
    assert_non_null(b);
    assert_int_equal(b->items, 0);
    pp_batch_unref(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alignment_and_growth),
        cmocka_unit_test(test_arena_zero_and_overflow),
        cmocka_unit_test(test_batch_decode_roundtrip_and_refs),
        cmocka_unit_test(test_batch_decode_rejects_garbage),
        cmocka_unit_test(test_batch_decode_rejects_bad_ids),
        cmocka_unit_test(test_batch_borrow_keeps_parts_alive),
        cmocka_unit_test(test_batch_decode_rejects_field_zero),
        cmocka_unit_test(test_batch_decode_refuses_deep_nesting),
        cmocka_unit_test(test_empty_request_is_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
