/* Unit tests: OTLP/HTTP body decoding with limits, Content-Type and
 * Content-Encoding parsing, CORS matching (receivers/otlp/http_*.c). */
#include "testutil.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "receivers/otlp/http_body.h"
#include "receivers/otlp/http_cors.h"
#include "receivers/otlp/http_export.h"

static uint8_t *compress_as(pp_http_encoding e, const uint8_t *in, size_t n, size_t *len) {
    if (e == PP_ENC_GZIP) return tu_zlib_compress(in, n, 31, len);
    if (e == PP_ENC_DEFLATE) return tu_zlib_compress(in, n, 15, len);
    uint8_t *out;
    if (e == PP_ENC_ZSTD) {
        out = malloc(ZSTD_compressBound(n));
        *len = ZSTD_compress(out, ZSTD_compressBound(n), in, n, 1);
        return out;
    }
    *len = snappy_max_compressed_length(n);
    out = malloc(*len);
    assert_int_equal(snappy_compress((const char *)in, n, (char *)out, len), SNAPPY_OK);
    return out;
}

/* Exactly the limit decodes; one byte more is PP_TOO_LARGE, for each codec. */
static void test_limit_is_exact(void **state) {
    (void)state;
    size_t limit = 300000;
    uint8_t *plain = malloc(limit + 1);
    for (size_t i = 0; i <= limit; i++) plain[i] = (uint8_t)(i * 7 / 1000);
    const pp_http_encoding encs[] = {PP_ENC_GZIP, PP_ENC_DEFLATE, PP_ENC_ZSTD, PP_ENC_SNAPPY};
    for (size_t k = 0; k < 4; k++) {
        for (size_t extra = 0; extra <= 1; extra++) {
            size_t clen;
            uint8_t *c = compress_as(encs[k], plain, limit + extra, &clen);
            uint8_t *out;
            size_t olen;
            pp_status st;
            pp_status_clear(&st);
            int rc = pp_http_decompress(encs[k], c, clen, limit, &out, &olen, &st);
            if (extra == 0) {
                if (rc != 0) fail_msg("encoding %d: %s", (int)encs[k], st.msg);
                assert_int_equal(olen, limit);
                assert_memory_equal(out, plain, limit);
                free(out);
            } else {
                assert_int_equal(rc, -1);
                assert_int_equal(st.code, PP_TOO_LARGE);
            }
            free(c);
        }
    }
    free(plain);
}

static void test_corrupt_and_truncated(void **state) {
    (void)state;
    static const uint8_t text[] = "hello hello hello hello hello hello";
    const pp_http_encoding encs[] = {PP_ENC_GZIP, PP_ENC_DEFLATE, PP_ENC_ZSTD, PP_ENC_SNAPPY};
    for (size_t k = 0; k < 4; k++) {
        size_t clen;
        uint8_t *c = compress_as(encs[k], text, sizeof(text), &clen);
        uint8_t *out;
        size_t olen;
        pp_status st;
        assert_int_equal(pp_http_decompress(encs[k], c, clen - 3, 1 << 20, &out, &olen, &st), -1);
        assert_int_equal(st.code, PP_INVALID);
        free(c);
    }
    /* gzip members one after another are one body, as Go reads them. */
    size_t l1, l2;
    uint8_t *a = tu_zlib_compress(text, 5, 31, &l1), *b = tu_zlib_compress(text + 5, 6, 31, &l2);
    uint8_t *both = malloc(l1 + l2);
    memcpy(both, a, l1);
    memcpy(both + l1, b, l2);
    uint8_t *out;
    size_t olen;
    pp_status st;
    assert_int_equal(pp_http_decompress(PP_ENC_GZIP, both, l1 + l2, 100, &out, &olen, &st), 0);
    assert_int_equal(olen, 11);
    assert_memory_equal(out, "hello hello", 11);
    free(out);
    free(a);
    free(b);
    free(both);
}

static void test_snappy_framed(void **state) {
    (void)state;
    static const char text[] = "framed snappy framed snappy framed snappy";
    size_t clen = snappy_max_compressed_length(sizeof(text));
    char *c = malloc(clen);
    snappy_compress(text, sizeof(text), c, &clen);
    uint8_t buf[512];
    size_t k = 0;
    memcpy(buf, "\xff\x06\x00\x00sNaPpY", 10);
    k = 10;
    size_t fl = clen + 4;
    buf[k++] = 0x00, buf[k++] = (uint8_t)fl, buf[k++] = (uint8_t)(fl >> 8), buf[k++] = 0;
    memset(buf + k, 0, 4); /* checksum (not verified) */
    memcpy(buf + k + 4, c, clen);
    k += fl;
    buf[k++] = 0x01, buf[k++] = 7, buf[k++] = 0, buf[k++] = 0; /* uncompressed chunk */
    memcpy(buf + k, "\0\0\0\0abc", 7);
    k += 7;
    uint8_t *out;
    size_t olen;
    pp_status st;
    assert_int_equal(pp_http_decompress(PP_ENC_SNAPPY, buf, k, 1000, &out, &olen, &st), 0);
    assert_int_equal(olen, sizeof(text) + 3);
    assert_memory_equal(out, text, sizeof(text));
    assert_memory_equal(out + sizeof(text), "abc", 3);
    free(out);
    assert_int_equal(pp_http_decompress(PP_ENC_SNAPPY, buf, k, sizeof(text) + 2, &out, &olen, &st),
                     -1);
    assert_int_equal(st.code, PP_TOO_LARGE);
    buf[10 + 4 + fl] = 0x02; /* a reserved unskippable chunk */
    assert_int_equal(pp_http_decompress(PP_ENC_SNAPPY, buf, k, 1000, &out, &olen, &st), -1);
    assert_int_equal(st.code, PP_INVALID);
    free(c);
}

static void test_body_collect_limit(void **state) {
    (void)state;
    pp_http_body b;
    pp_status st;
    pp_http_body_init(&b, 10, 0);
    assert_int_equal(pp_http_body_append(&b, "12345", 5, &st), 0);
    assert_int_equal(pp_http_body_append(&b, "67890", 5, &st), 0);
    assert_int_equal(pp_http_body_append(&b, "x", 1, &st), -1);
    assert_int_equal(st.code, PP_TOO_LARGE);
    assert_memory_equal(b.buf, "1234567890", 10);
    pp_http_body_free(&b);
}

static void test_header_parsing(void **state) {
    (void)state;
    pp_http_encoding e;
    pp_http_format f;
    assert_int_equal(pp_http_encoding_parse(NULL, &e), 0);
    assert_int_equal(e, PP_ENC_IDENTITY);
    assert_int_equal(pp_http_encoding_parse(" GZip ", &e), 0);
    assert_int_equal(e, PP_ENC_GZIP);
    assert_int_equal(pp_http_encoding_parse("x-snappy-framed", &e), 0);
    assert_int_equal(e, PP_ENC_SNAPPY);
    assert_int_equal(pp_http_encoding_parse("gzip, br", &e), -1);
    assert_int_equal(pp_http_encoding_parse("lz4", &e), -1);
    assert_int_equal(pp_http_format_parse("application/json;charset=UTF-8", &f), 0);
    assert_int_equal(f, PP_FMT_JSON);
    assert_int_equal(pp_http_format_parse("application/x-protobuf", &f), 0);
    assert_int_equal(f, PP_FMT_PROTOBUF);
    assert_int_equal(pp_http_format_parse("application/jsonx", &f), -1);
    assert_int_equal(pp_http_format_parse("application/protobuf", &f), -1);
    assert_int_equal(pp_http_format_parse(NULL, &f), -1);
}

static void test_cors_matching(void **state) {
    (void)state;
    char *origins[] = {"https://*.example.com", "http://Exact.test"};
    char *headers[] = {"X-Custom"};
    pp_cors_cfg c = {.allowed_origins = {origins, 2}, .allowed_headers = {headers, 1}};
    assert_true(pp_cors_origin_allowed(&c, "https://a.example.com"));
    assert_true(pp_cors_origin_allowed(&c, "https://a.b.example.com"));
    assert_false(pp_cors_origin_allowed(&c, "https://example.com"));
    assert_false(pp_cors_origin_allowed(&c, "http://a.example.com"));
    assert_false(pp_cors_origin_allowed(&c, "https://a.example.com.evil"));
    assert_true(pp_cors_origin_allowed(&c, "http://exact.test"));
    assert_false(pp_cors_origin_allowed(&c, NULL));
    assert_true(pp_cors_headers_allowed(&c, "Content-Type,x-custom , accept"));
    assert_false(pp_cors_headers_allowed(&c, "content-type, x-other"));
    char *all[] = {"*"};
    pp_cors_cfg any = {.allowed_origins = {all, 1}, .allowed_headers = {all, 1}};
    assert_true(pp_cors_origin_allowed(&any, "null"));
    assert_true(pp_cors_headers_allowed(&any, "x-anything"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_is_exact),   cmocka_unit_test(test_corrupt_and_truncated),
        cmocka_unit_test(test_snappy_framed),    cmocka_unit_test(test_body_collect_limit),
        cmocka_unit_test(test_header_parsing),   cmocka_unit_test(test_cors_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
