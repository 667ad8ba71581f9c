/* http_export.c -- see http_export.h. */
#include "http_export.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "google/rpc/status.pb-c.h"
#include "otlp_json.h"

/* google.rpc.Code values used in Status bodies. */
enum { RPC_INVALID_ARGUMENT = 3, RPC_RESOURCE_EXHAUSTED = 8, RPC_UNIMPLEMENTED = 12,
       RPC_INTERNAL = 13, RPC_UNAVAILABLE = 14, RPC_UNAUTHENTICATED = 16 };

int pp_http_format_parse(const char *content_type, pp_http_format *f) {
    if (!content_type) return -1;
    while (*content_type == ' ') content_type++;
    size_t n = strcspn(content_type, "; \t");
    if (n == 22 && strncasecmp(content_type, "application/x-protobuf", n) == 0) *f = PP_FMT_PROTOBUF;
    else if (n == 16 && strncasecmp(content_type, "application/json", n) == 0) *f = PP_FMT_JSON;
    else return -1;
    return 0;
}

const char *pp_http_format_type(pp_http_format f) {
    return f == PP_FMT_JSON ? "application/json" : "application/x-protobuf";
}

void pp_http_answer_free(pp_http_answer *a) {
    free(a->body);
    a->body = NULL;
    a->len = 0;
}

static void set_body(pp_http_answer *a, uint8_t *body, size_t len) {
    pp_http_answer_free(a);
    a->body = body;
    a->len = len;
}

static uint8_t *status_protobuf(int code, const char *msg, size_t *len) {
    Google__Rpc__Status s;
    google__rpc__status__init(&s);
    s.code = code;
    s.message = (char *)(uintptr_t)msg; /* protobuf-c fields are not const */
    *len = google__rpc__status__get_packed_size(&s);
    uint8_t *out = malloc(*len ? *len : 1);
    if (out) google__rpc__status__pack(&s, out);
    return out;
}

void pp_http_answer_error(pp_http_answer *a, unsigned status, int grpc_code, const char *msg) {
    size_t len = 0;
    uint8_t *body = a->format == PP_FMT_JSON
                        ? (uint8_t *)pp_otlp_json_encode_status(grpc_code, msg, &len)
                        : status_protobuf(grpc_code, msg, &len);
    a->status = body ? status : 500;
    set_body(a, body, body ? len : 0);
}

void pp_http_answer_status(pp_http_answer *a, const pp_status *st) {
    static const struct {
        unsigned http;
        int rpc;
    } map[] = {
        [PP_OK] = {500, RPC_INTERNAL}, /* a failure without a code is ours */
        [PP_INVALID] = {400, RPC_INVALID_ARGUMENT},
        [PP_UNAVAILABLE] = {503, RPC_UNAVAILABLE},
        [PP_TOO_LARGE] = {413, RPC_RESOURCE_EXHAUSTED},
        [PP_UNIMPLEMENTED] = {404, RPC_UNIMPLEMENTED},
        [PP_UNAUTHENTICATED] = {401, RPC_UNAUTHENTICATED},
        [PP_INTERNAL] = {500, RPC_INTERNAL},
        [PP_THROTTLED] = {429, RPC_RESOURCE_EXHAUSTED},
    };
    size_t i = (size_t)st->code < sizeof(map) / sizeof(map[0]) ? (size_t)st->code : PP_INTERNAL;
    pp_http_answer_error(a, map[i].http, map[i].rpc, st->msg[0] ? st->msg : pp_code_name(st->code));
    if (st->code == PP_UNAVAILABLE || st->code == PP_THROTTLED) /* whole seconds, rounded up, at least 1 */
        a->retry_after_s = st->retry_after_ms ? (st->retry_after_ms + 999) / 1000 : 1;
}

/* A full success: an Export*ServiceResponse with partial_success unset, which
 * in protobuf is the empty message and in JSON "{}". */
static void answer_ok(pp_http_answer *a, pp_signal sig) {
    size_t len = 0;
    char *json = NULL;
    if (a->format == PP_FMT_JSON && !(json = pp_otlp_json_encode_response(sig, 0, NULL, &len))) {
        pp_http_answer_error(a, 500, RPC_INTERNAL, "out of memory");
        return;
    }
    a->status = 200;
    set_body(a, (uint8_t *)json, len);
}

static int ingest(pp_ingest *in, pp_signal sig, pp_http_format f, const uint8_t *data, size_t len,
                  pp_status *st) {
    if (f == PP_FMT_PROTOBUF) return pp_ingest_protobuf(in, sig, data, len, st);
    if (!pp_ingest_has(in, sig)) /* the same answer as the protobuf path, without decoding */
        return pp_ingest_protobuf(in, sig, NULL, 0, st);
    pp_batch *b = pp_otlp_json_decode(sig, (const char *)data, len, st);
    if (!b) {
        if (st->code == PP_INVALID) pp_counter_add(in->failed_decode[sig], 1);
        return -1;
    }
    int rc = pp_ingest_batch(in, b, st);
    pp_batch_unref(b);
    return rc;
}

void pp_http_export(pp_ingest *in, pp_signal sig, pp_http_encoding enc, const uint8_t *body,
                    size_t len, size_t limit, pp_http_answer *a) {
    pp_status st;
    pp_status_clear(&st);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (pp_http_decompress(enc, body, len, limit, &plain, &plain_len, &st) != 0) {
        if (st.code == PP_INVALID) pp_counter_add(in->failed_decode[sig], 1);
        pp_http_answer_status(a, &st);
        return;
    }
    if (ingest(in, sig, a->format, plain ? plain : body, plain_len, &st) == 0) answer_ok(a, sig);
    else pp_http_answer_status(a, &st);
    free(plain);
}
