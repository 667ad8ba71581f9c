/* test_grpc_server.c -- OTLP/gRPC calls against a real server on 127.0.0.1:
 * routes, status codes, encodings, size limits, refusal with RetryInfo, auth. */
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "google/rpc/status.pb-c.h"
#include "testutil.h"
#include "receivers/otlp/grpc_internal.h"
#include "testutil_grpc.h"


/* A traces call with n spans, the message compressed with enc (NULL: none). */
static void call_traces(tu_call *c, size_t n, const char *enc, const uint8_t *msg, size_t len) {
    const char *extra[] = {"grpc-encoding", enc, NULL};
    size_t flen;
    uint8_t *f = tu_grpc_frame(enc ? 1 : 0, msg, len, &flen);
    (void)n;
    tu_call_once(tu_srv->port, c, TU_TRACES, "application/grpc", enc ? extra : NULL, f, flen);
    free(f);
}

static void test_export_traces_ok(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    size_t len;
    uint8_t *msg = tu_traces_bytes(3, 7, &len);
    tu_call c = {0};
    call_traces(&c, 3, NULL, msg, len);
    assert_int_equal(c.http_status, 200);
    assert_int_equal(c.grpc_status, 0);
    static const uint8_t empty[5] = {0};
    assert_int_equal(c.data_len, 5); /* an empty ExportTraceServiceResponse */
    assert_memory_equal(c.data, empty, 5);
    assert_int_equal(tu_srv->sink.batches, 1);
    assert_int_equal(tu_srv->sink.items, 3);
    for (int x = 0; x < 16; x++) assert_int_equal(tu_srv->sink.first_trace_id[x], (uint8_t)(7 * 31 + x + 1));
    free(msg);
}

static void test_unrouted_calls_are_unimplemented(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    size_t flen;
    uint8_t *f = tu_grpc_frame(0, NULL, 0, &flen);
    const char *paths[] = {TU_METRICS, TU_LOGS, "/foo.Bar/Baz"};
    for (int i = 0; i < 3; i++) {
        tu_call c = {0};
        tu_call_once(tu_srv->port, &c, paths[i], "application/grpc+proto", NULL, f, flen);
        assert_int_equal(c.http_status, 200);
        assert_int_equal(c.grpc_status, 12);
        assert_int_equal(c.data_len, 0); /* Trailers-Only */
    }
    assert_int_equal(tu_srv->sink.batches, 0);
    free(f);
}

static uint8_t *gzip_bytes(const uint8_t *in, size_t n, size_t *out_len) {
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void test_encodings(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    size_t len;
    uint8_t *msg = tu_traces_bytes(5, 1, &len);
    const char *encs[] = {"identity", "gzip", "zstd", "snappy"};
    for (int i = 0; i < 4; i++) {
        size_t clen = len;
        uint8_t *comp = NULL;
        if (i == 1) comp = gzip_bytes(msg, len, &clen);
        if (i == 2) {
            comp = malloc(ZSTD_compressBound(len));
            clen = ZSTD_compress(comp, ZSTD_compressBound(len), msg, len, 3);
            assert_false(ZSTD_isError(clen));
        }
        if (i == 3) {
            clen = snappy_max_compressed_length(len);
            comp = malloc(clen);
            assert_int_equal(snappy_compress((const char *)msg, len, (char *)comp, &clen), SNAPPY_OK);
        }
        tu_call c = {0};
        const char *extra[] = {"grpc-encoding", encs[i], NULL};
        size_t flen;
        uint8_t *f = tu_grpc_frame(comp ? 1 : 0, comp ? comp : msg, clen, &flen);
        tu_call_once(tu_srv->port, &c, TU_TRACES, "application/grpc", extra, f, flen);
        assert_int_equal(c.grpc_status, 0);
        free(f);
        free(comp);
    }
    assert_int_equal(tu_srv->sink.batches, 4);
    assert_int_equal(tu_srv->sink.items, 20);
    free(msg);
}

static void test_unknown_encoding(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    tu_call c = {0};
    uint8_t junk[4] = {1, 2, 3, 4};
    call_traces(&c, 0, "br", junk, sizeof(junk));
    assert_int_equal(c.grpc_status, 12);
    assert_string_equal(c.accept_encoding, "identity,gzip,zstd,snappy");
    assert_non_null(strstr(c.grpc_message, "br"));
}

static void test_compressed_flag_without_encoding_is_internal(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    size_t flen;
    uint8_t *f = tu_grpc_frame(1, (const uint8_t *)"abc", 3, &flen);
    tu_call c = {0};
    tu_call_once(tu_srv->port, &c, TU_TRACES, "application/grpc", NULL, f, flen);
    assert_int_equal(c.grpc_status, 13);
    free(f);
}

static void test_declared_length_over_max(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    uint8_t prefix[5] = {0, 0, 0x50, 0, 0}; /* 5 MiB declared, nothing sent */
    tu_call c = {0};
    tu_call_once(tu_srv->port, &c, TU_TRACES, "application/grpc", NULL, prefix, 5);
    assert_int_equal(c.grpc_status, 8);
    assert_string_equal(c.grpc_message, "message larger than max (5242880 vs 4194304)");
}

/* 1 GiB of zeros through zstd's streaming compressor: about 40 KiB on the wire. */
static uint8_t *zstd_bomb(size_t *len) {
    ZSTD_CCtx *z = ZSTD_createCCtx();
    size_t cap = 1 << 20, n = 0;
    uint8_t *out = malloc(cap);
    uint8_t *zeros = calloc(1, 1 << 20);
    for (int i = 0; i < 1024; i++) {
        ZSTD_inBuffer in = {zeros, 1 << 20, 0};
        ZSTD_EndDirective op = i == 1023 ? ZSTD_e_end : ZSTD_e_continue;
        size_t rem;
        do {
            ZSTD_outBuffer o = {out, cap, n};
            rem = ZSTD_compressStream2(z, &o, &in, op);
            assert_false(ZSTD_isError(rem));
            n = o.pos;
            assert_true(n < cap);
        } while (in.pos < in.size || (op == ZSTD_e_end && rem != 0));
    }
    free(zeros);
    ZSTD_freeCCtx(z);
    *len = n;
    return out;
}

static void test_decompression_bomb_refused(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    size_t blen;
    uint8_t *bomb = zstd_bomb(&blen);
    assert_true(blen < (1 << 20));
    /* Bounded inflate directly: never more than max + 1 bytes produced. */
    uint8_t *out = NULL;
    size_t outlen = 0;
    pp_status st = {0};
    assert_int_equal(pp_grpc_inflate(PP_GRPC_ZSTD, bomb, blen, 4 << 20, &out, &outlen, &st), -1);
    assert_int_equal(st.code, PP_TOO_LARGE);
    assert_null(out);
    /* And through the server. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tu_call c = {0};
    call_traces(&c, 0, "zstd", bomb, blen);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(c.grpc_status, 8);
    assert_non_null(strstr(c.grpc_message, "message larger than max"));
    assert_true(t1.tv_sec - t0.tv_sec < 5); /* did not inflate a gigabyte */
    free(bomb);
}

static uint8_t *b64dec(const char *s, size_t *n) {
    uint8_t *out = malloc(strlen(s) + 1);
    uint32_t acc = 0;
    int bits = 0;
    *n = 0;
    for (; *s && *s != '='; s++) {
        const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(tab, *s);
        assert_non_null(p);
        acc = acc << 6 | (uint32_t)(p - tab);
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[(*n)++] = (uint8_t)(acc >> bits);
        }
    }
    return out;
}

/* A refusal by the consumer with `code` and a retry hint of retry_ms: the
 * call's status and a grpc-status-details-bin Status carrying RetryInfo. */
static void assert_refusal(pp_code code, uint32_t retry_ms, int want_grpc) {
    tu_srv->sink.refuse = true;
    tu_srv->sink.refuse_code = code;
    tu_srv->sink.retry_after_ms = retry_ms;
    tu_server_start(tu_srv);
    size_t len;
    uint8_t *msg = tu_traces_bytes(2, 1, &len);
    tu_call c = {0};
    call_traces(&c, 2, NULL, msg, len);
    assert_int_equal(c.grpc_status, want_grpc);
    assert_string_equal(c.grpc_message, "queue full");
    size_t n;
    uint8_t *bin = b64dec(c.details, &n);
    Google__Rpc__Status *s = google__rpc__status__unpack(NULL, n, bin);
    assert_non_null(s);
    assert_int_equal(s->code, want_grpc);
    assert_string_equal(s->message, "queue full");
    assert_int_equal(s->n_details, 1);
    assert_string_equal(s->details[0]->type_url, "type.googleapis.com/google.rpc.RetryInfo");
    Google__Rpc__RetryInfo *ri =
        google__rpc__retry_info__unpack(NULL, s->details[0]->value.len, s->details[0]->value.data);
    assert_non_null(ri);
    assert_int_equal(ri->retry_delay->seconds, retry_ms / 1000);
    assert_int_equal(ri->retry_delay->nanos, (int32_t)(retry_ms % 1000) * 1000000);
    google__rpc__retry_info__free_unpacked(ri, NULL);
    google__rpc__status__free_unpacked(s, NULL);
    free(bin);
    free(msg);
}

static void test_refusal_is_unavailable_with_retry_info(void **state) {
    (void)state;
    assert_refusal(PP_UNAVAILABLE, 1500, 14);
}

/* A quota refusal (PP_THROTTLED) is RESOURCE_EXHAUSTED, also with RetryInfo:
 * SDKs and pipit's exporter retry RESOURCE_EXHAUSTED only when it has one. */
static void test_throttled_is_resource_exhausted_with_retry_info(void **state) {
    (void)state;
    assert_refusal(PP_THROTTLED, 2000, 8);
}

static void test_malformed_protobuf_is_invalid_argument(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01};
    tu_call c = {0};
    call_traces(&c, 0, NULL, junk, sizeof(junk));
    assert_int_equal(c.grpc_status, 3);
    assert_true(strlen(c.grpc_message) > 0);
}

static void test_bad_trace_id_names_the_field(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    pp_batch *b = tu_make_traces(1, 1, 2, 3);
    b->traces->resource_spans[0]->scope_spans[0]->spans[1]->trace_id.len = 15;
    size_t len = pp_batch_encoded_size(b);
    uint8_t *msg = malloc(len);
    pp_batch_pack(b, msg);
    pp_batch_unref(b);
    tu_call c = {0};
    call_traces(&c, 2, NULL, msg, len);
    assert_int_equal(c.grpc_status, 3);
    assert_non_null(strstr(c.grpc_message, "spans[1].trace_id"));
    assert_int_equal(tu_srv->sink.batches, 0);
    free(msg);
}

static void test_wrong_content_type_is_415(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    size_t flen;
    uint8_t *f = tu_grpc_frame(0, NULL, 0, &flen);
    tu_call c = {0};
    tu_call_once(tu_srv->port, &c, TU_TRACES, "application/json", NULL, f, flen);
    assert_int_equal(c.http_status, 415);
    tu_call d = {0};
    tu_call_once(tu_srv->port, &d, TU_TRACES, NULL, NULL, f, flen);
    assert_int_equal(d.http_status, 415);
    free(f);
}

static void test_auth(void **state) {
    (void)state;
    tu_server_use_auth(tu_srv);
    tu_server_start(tu_srv);
    size_t len, flen;
    uint8_t *msg = tu_traces_bytes(1, 1, &len);
    uint8_t *f = tu_grpc_frame(0, msg, len, &flen);
    tu_call missing = {0}, wrong = {0}, right = {0};
    const char *bad[] = {"authorization", "Bearer nope", NULL};
    const char *good[] = {"authorization", "Bearer s3cret", NULL};
    tu_call_once(tu_srv->port, &missing, TU_TRACES, "application/grpc", NULL, f, flen);
    tu_call_once(tu_srv->port, &wrong, TU_TRACES, "application/grpc", bad, f, flen);
    tu_call_once(tu_srv->port, &right, TU_TRACES, "application/grpc", good, f, flen);
    assert_int_equal(missing.grpc_status, 16);
    assert_string_equal(missing.grpc_message, "missing credentials");
    assert_int_equal(wrong.grpc_status, 16);
    assert_int_equal(right.grpc_status, 0);
    assert_int_equal(tu_srv->sink.batches, 1);
    free(f);
    free(msg);
}

static void test_percent_encoding(void **state) {
    (void)state;
    char out[64];
    pp_grpc_percent_encode("a%b\xc3\xa9\n ok", out, sizeof(out));
    assert_string_equal(out, "a%25b%C3%A9%0A ok");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_export_traces_ok, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_unrouted_calls_are_unimplemented, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_encodings, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_encoding, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_compressed_flag_without_encoding_is_internal, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_declared_length_over_max, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_decompression_bomb_refused, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_is_unavailable_with_retry_info, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_throttled_is_resource_exhausted_with_retry_info, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_protobuf_is_invalid_argument, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_bad_trace_id_names_the_field, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_content_type_is_415, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_auth, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test(test_percent_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
