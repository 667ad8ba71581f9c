/* grpc_result.c -- see grpc_result.h. */
#include "grpc_result.h"

#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "google/rpc/status.pb-c.h"
#include "otlp_json_util.h"

enum { OK = 0, RESOURCE_EXHAUSTED = 8, UNAVAILABLE = 14 };

static const char *const code_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

static const char *code_name(int c) {
    return c >= 0 && c <= 16 ? code_names[c] : "UNKNOWN";
}

/* The OTLP spec's retryable codes; RESOURCE_EXHAUSTED is decided by the caller. */
static bool retryable(int c) {
    return c == 1 || c == 4 || c == 10 || c == 11 || c == 14 || c == 15;
}

int64_t pp_grpc_retry_delay(const char *details_b64) {
    if (!details_b64 || !details_b64[0]) return 0;
    size_t n = strlen(details_b64);
    uint8_t *raw = malloc(pp_oj_base64_max_decoded(n) + 1);
    if (!raw) return 0;
    long len = pp_oj_base64_decode(details_b64, n, raw);
    int64_t delay = 0;
    Google__Rpc__Status *st =
        len >= 0 ? google__rpc__status__unpack(NULL, (size_t)len, raw) : NULL;
    for (size_t i = 0; st && i < st->n_details; i++) {
        const Google__Rpc__Any *a = st->details[i];
        if (!a->type_url || !strstr(a->type_url, "google.rpc.RetryInfo")) continue;
        Google__Rpc__RetryInfo *ri = google__rpc__retry_info__unpack(NULL, a->value.len, a->value.data);
        if (ri && ri->retry_delay)
            delay = ri->retry_delay->seconds * 1000000000LL + ri->retry_delay->nanos;
        if (ri) google__rpc__retry_info__free_unpacked(ri, NULL);
        if (delay > 0) break;
    }
    if (st) google__rpc__status__free_unpacked(st, NULL);
    free(raw);
    return delay > 0 ? delay : 0;
}

/* The HTTP status of an answer without grpc-status, mapped as gRPC clients do. */
static int http_to_grpc(long http) {
    switch (http) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return UNAVAILABLE;
    default: return 2;
    }
}

/* Reads partial_success from the length-prefixed response message. */
static void partial_success(const pp_egress_resp *r, pp_signal sig, pp_send_result *res) {
    if (r->len < 5) return; /* an empty answer is full success */
    uint32_t mlen = ((uint32_t)r->body[1] << 24) | ((uint32_t)r->body[2] << 16) |
                    ((uint32_t)r->body[3] << 8) | r->body[4];
    if (mlen > r->len - 5) return;
    const uint8_t *msg = r->body + 5;
    uint8_t *plain = NULL;
    size_t plen = mlen;
    if (r->body[0] == 1) {
        pp_compression c;
        if (pp_compression_parse(r->content_encoding, &c) != 0 ||
            pp_decompress(c, msg, mlen, 4u << 20, &plain, &plen) != 0)
            return;
        msg = plain;
    }
    if (sig == PP_TRACES) {
        pp_traces_resp *t = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(NULL, plen, msg);
        if (t && t->partial_success) {
            res->rejected = t->partial_success->rejected_spans;
            snprintf(res->msg, sizeof(res->msg), "%s", t->partial_success->error_message ? t->partial_success->error_message : "");
        }
        if (t) opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(t, NULL);
    } else {
        pp_metrics_resp *m = opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(NULL, plen, msg);
        if (m && m->partial_success) {
            res->rejected = m->partial_success->rejected_data_points;
            snprintf(res->msg, sizeof(res->msg), "%s", m->partial_success->error_message ? m->partial_success->error_message : "");
        }
        if (m) opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(m, NULL);
    }
    free(plain);
}

void pp_grpc_classify(const pp_egress_resp *r, pp_signal sig, pp_send_result *res) {
    int code = r->grpc_status;
    if (code < 0) {
        if (r->http_status == 200) {
            /* No status at all: the answer was cut off; nothing says it was taken. */
            pp_send_result_set(res, PP_SEND_RETRY, "answer without grpc-status");
            return;
        }
        code = http_to_grpc(r->http_status);
        pp_send_result_set(res, PP_SEND_RETRY, "HTTP %ld (%s)", r->http_status, code_name(code));
        if (code != UNAVAILABLE) res->outcome = PP_SEND_PERMANENT;
        return;
    }
    if (code == OK) {
        pp_send_result_set(res, PP_SEND_OK, "%s", "");
        partial_success(r, sig, res);
        return;
    }
    int64_t delay = pp_grpc_retry_delay(r->grpc_details);
    pp_send_result_set(res, PP_SEND_PERMANENT, "%s: %s", code_name(code), r->grpc_message);
    res->retry_after_ns = delay;
    if (retryable(code)) {
        res->outcome = PP_SEND_RETRY;
    } else if (code == RESOURCE_EXHAUSTED) {
        /* Retryable only with RetryInfo; without it, "larger than max" means split. */
        if (delay > 0) res->outcome = PP_SEND_RETRY;
        else if (strstr(r->grpc_message, "larger than max") || strstr(r->grpc_message, "too large"))
            res->outcome = PP_SEND_TOO_LARGE;
    }
}
