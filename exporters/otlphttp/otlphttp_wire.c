/* otlphttp_wire.c -- see otlphttp_wire.h. */
#include "otlphttp_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google/rpc/status.pb-c.h"
#include "otlp_json.h"

pp_export_request *pp_otlphttp_encode(pp_batch *b, bool json, pp_compression comp, pp_status *st) {
    uint8_t *plain = NULL, *body = NULL;
    size_t n = 0, blen = 0;
    if (json) {
        plain = (uint8_t *)pp_otlp_json_encode_request(b, &n);
        if (!plain) {
            pp_fail(st, PP_INVALID, "cannot encode the batch as JSON");
            return NULL;
        }
    } else {
        n = pp_batch_encoded_size(b);
        if (!(plain = malloc(n ? n : 1))) goto oom;
        pp_batch_pack(b, plain);
    }
    if (comp == PP_COMP_NONE) {
        body = plain;
        blen = n;
        plain = NULL;
    } else if (pp_compress(comp, plain, n, &body, &blen) != 0) {
        goto oom;
    }
    free(plain);
    pp_export_request *r = pp_export_request_new(b, body, blen);
    if (!r) pp_fail(st, PP_UNAVAILABLE, "out of memory");
    return r;
oom:
    free(plain);
    pp_fail(st, PP_UNAVAILABLE, "out of memory encoding a request");
    return NULL;
}

static bool json_body(const pp_egress_resp *r) {
    return !strncmp(r->content_type, "application/json", 16);
}

/* partial_success of a 2xx answer, in the encoding its Content-Type names. */
static void read_partial(const pp_egress_resp *r, pp_signal sig, pp_send_result *res) {
    if (r->len == 0) return;
    const ProtobufCMessageDescriptor *desc =
        sig == PP_TRACES
            ? &opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor
            : &opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__descriptor;
    pp_arena *a = pp_arena_new(r->len * 4 + 256);
    if (!a) return;
    ProtobufCMessage *m;
    pp_status st = {0};
    if (json_body(r)) m = pp_otlp_json_decode_message(desc, (const char *)r->body, r->len, a, &st);
    else m = protobuf_c_message_unpack(desc, pp_arena_allocator(a), r->len, r->body);
    if (m && sig == PP_TRACES) {
        pp_traces_resp *t = (pp_traces_resp *)m;
        if (t->partial_success) {
            res->rejected = t->partial_success->rejected_spans;
            snprintf(res->msg, sizeof(res->msg), "%s",
                     t->partial_success->error_message ? t->partial_success->error_message : "");
        }
    } else if (m) {
        pp_metrics_resp *t = (pp_metrics_resp *)m;
        if (t->partial_success) {
            res->rejected = t->partial_success->rejected_data_points;
            snprintf(res->msg, sizeof(res->msg), "%s",
                     t->partial_success->error_message ? t->partial_success->error_message : "");
        }
    }
    pp_arena_destroy(a);
}

/* The message of a failure body (a google.rpc.Status), else its first bytes. */
static void status_message(const pp_egress_resp *r, char *out, size_t outlen) {
    out[0] = '\0';
    if (r->len == 0) return;
    pp_arena *a = pp_arena_new(r->len * 4 + 256);
    pp_status st = {0};
    Google__Rpc__Status *s = NULL;
    if (a && json_body(r))
        s = (Google__Rpc__Status *)pp_otlp_json_decode_message(&google__rpc__status__descriptor,
                                                               (const char *)r->body, r->len, a, &st);
    else if (a && !strncmp(r->content_type, "application/x-protobuf", 22))
        s = google__rpc__status__unpack(pp_arena_allocator(a), r->len, r->body);
    if (s && s->message && s->message[0]) {
        snprintf(out, outlen, "%s", s->message);
    } else {
        size_t n = r->len < outlen - 1 ? r->len : outlen - 1;
        for (size_t i = 0; i < n; i++) out[i] = r->body[i] >= 0x20 && r->body[i] < 0x7f ? (char)r->body[i] : ' ';
        out[n] = '\0';
    }
    pp_arena_destroy(a);
}

void pp_otlphttp_result(CURLcode rc, const char *err, const pp_egress_resp *resp, pp_signal sig,
                        pp_send_result *res) {
    long code = resp->http_status;
    if (rc != CURLE_OK) {
        pp_send_result_set(res, PP_SEND_RETRY, "%s", err);
    } else if (code >= 200 && code < 300) {
        pp_send_result_set(res, PP_SEND_OK, "%s", "");
        read_partial(resp, sig, res);
    } else {
        char msg[200];
        status_message(resp, msg, sizeof(msg));
        pp_send_result_set(res, PP_SEND_PERMANENT, "HTTP %ld: %s", code, msg);
        if (code == 429 || code == 502 || code == 503 || code == 504) {
            res->outcome = PP_SEND_RETRY;
            res->retry_after_ns = pp_parse_retry_after(resp->retry_after, (int64_t)time(NULL));
        } else if (code == 413) {
            res->outcome = PP_SEND_TOO_LARGE;
        }
    }
}
