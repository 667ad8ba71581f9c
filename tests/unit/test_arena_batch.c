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
        cmocka_unit_test(test_empty_request_is_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
