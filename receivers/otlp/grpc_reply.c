/* grpc_reply.c -- how a pp_status travels back to a gRPC client: the status
 * code, the percent-encoded grpc-message, and grpc-status-details-bin with a
 * RetryInfo so that SDKs wait as long as pipit asks (WIRE-SPECS 1.2, 1.6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/rpc/status.pb-c.h"
#include "grpc_internal.h"

int pp_grpc_code(pp_code c) {
    switch (c) {
    case PP_OK: return 0;
    case PP_INVALID: return 3;
    case PP_TOO_LARGE:
    case PP_THROTTLED: return 8;
    case PP_UNIMPLEMENTED: return 12;
    case PP_INTERNAL: return 13;
    case PP_UNAVAILABLE: return 14;
    case PP_UNAUTHENTICATED: return 16;
    }
    return 2; /* UNKNOWN */
}

void pp_grpc_percent_encode(const char *msg, char *out, size_t outlen) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 4 <= outlen; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (outlen) out[o < outlen ? o : outlen - 1] = '\0';
}

static char *base64(const uint8_t *in, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) { /* gRPC: emit unpadded */
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = tab[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

char *pp_grpc_status_details(int code, const char *msg, uint32_t retry_after_ms) {
    Google__Rpc__Duration delay;
    google__rpc__duration__init(&delay);
    delay.seconds = retry_after_ms / 1000;
    delay.nanos = (int32_t)(retry_after_ms % 1000) * 1000000;
    Google__Rpc__RetryInfo ri;
    google__rpc__retry_info__init(&ri);
    ri.retry_delay = &delay;
    uint8_t ribuf[64];
    size_t rilen = google__rpc__retry_info__pack(&ri, ribuf);

    Google__Rpc__Any any;
    google__rpc__any__init(&any);
    any.type_url = (char *)"type.googleapis.com/google.rpc.RetryInfo";
    any.value.data = ribuf;
    any.value.len = rilen;
    Google__Rpc__Any *details[] = {&any};
    Google__Rpc__Status s;
    google__rpc__status__init(&s);
    char text[512]; /* protobuf-c wants a mutable string */
    snprintf(text, sizeof(text), "%s", msg);
    s.code = code;
    s.message = text;
    s.n_details = 1;
    s.details = details;

    size_t n = google__rpc__status__get_packed_size(&s);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return NULL;
    google__rpc__status__pack(&s, buf);
    char *b64 = base64(buf, n);
    free(buf);
    return b64;
}
