/* libFuzzer target: the OTLP/HTTP request path after the socket
 * (receivers/otlp/http_export.c): Content-Type and Content-Encoding parsing,
 * bounded decompression (gzip, deflate, zstd, snappy block and framed), the
 * protobuf or JSON decode, ingest into a consumer, and the answer.
 *
 * Input: byte 0 picks the signal (bit 0), the format (bit 1) and the
 * encoding (bits 2-4); the rest is the body. The body limit is 1 MiB so that
 * bombs are refused quickly. Not built by CMake: compile http_export.c,
 * http_body.c, ingest.c, the agent sources but main.c and the generated protos into an
 * archive with clang -fsanitize=fuzzer-no-link,address,undefined, then link
 * this file with -fsanitize=fuzzer against it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "receivers/otlp/http_export.h"
#include "telemetry.h"

static int consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    (void)self;
    /* Touch what arrived, as an exporter would. */
    size_t n = pp_batch_encoded_size(b);
    uint8_t *p = malloc(n + 1);
    if (!p) return pp_fail(st, PP_UNAVAILABLE, "oom");
    pp_batch_pack(b, p);
    free(p);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static pp_metrics *m;
    static pp_host host;
    static pp_consumer next = {consume};
    static pp_ingest in;
    if (!m) {
        m = pp_metrics_new();
        host.metrics = m;
        pp_create_params p = {.id = "otlp", .host = &host, .next = {&next, &next}};
        pp_ingest_init(&in, &p, "http");
    }
    if (size < 1) return 0;
    static const char *const types[] = {"application/x-protobuf", "application/json; charset=utf-8"};
    static const char *const encodings[] = {"", "gzip", "deflate", "zstd", "snappy", "identity",
                                            "x-snappy-framed", "bogus"};
    pp_signal sig = (data[0] & 1) ? PP_METRICS : PP_TRACES;
    pp_http_answer a = {0};
    pp_http_encoding enc;
    if (pp_http_format_parse(types[(data[0] >> 1) & 1], &a.format) != 0) abort();
    if (pp_http_encoding_parse(encodings[(data[0] >> 2) & 7], &enc) != 0) {
        pp_http_answer_error(&a, 400, 3, "unsupported Content-Encoding");
    } else {
        pp_http_export(&in, sig, enc, data + 1, size - 1, 1u << 20, &a);
        if (a.status != 200 && a.status != 400 && a.status != 413) abort();
        if (a.status == 200 && a.format == PP_FMT_PROTOBUF && a.len != 0) abort();
    }
    pp_http_answer_free(&a);
    return 0;
}
