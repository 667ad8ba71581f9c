/* egress_resp.c -- see egress_resp.h. */
#include "egress_resp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pp_egress_resp_reset(pp_egress_resp *r) {
    size_t max = r->max_body ? r->max_body : 4u << 20;
    const char *capture = r->capture;
    memset(r, 0, sizeof(*r));
    r->max_body = max;
    r->capture = capture;
    r->grpc_status = -1;
}

void pp_egress_resp_restart(pp_egress_resp *r) {
    r->grpc_status = -1;
    r->content_type[0] = r->content_encoding[0] = r->retry_after[0] = r->captured[0] = '\0';
}

/* grpc-message is percent-encoded; bad escapes are kept as they are. */
static void percent_decode(const char *s, size_t n, char *out, size_t outlen) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[o++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

static void copy_value(const char *v, size_t n, char *out, size_t outlen) {
    if (n >= outlen) n = outlen - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

void pp_egress_resp_header(pp_egress_resp *r, const char *name, size_t klen, const char *v,
                           size_t vlen) {
#define IS(s) (klen == sizeof(s) - 1 && !strncasecmp(name, s, klen))
    if (IS("grpc-status")) {
        char tmp[16];
        copy_value(v, vlen, tmp, sizeof(tmp));
        r->grpc_status = atoi(tmp);
    } else if (IS("grpc-message")) {
        percent_decode(v, vlen, r->grpc_message, sizeof(r->grpc_message));
    } else if (IS("grpc-status-details-bin")) {
        free(r->grpc_details);
        r->grpc_details = malloc(vlen + 1);
        if (r->grpc_details) copy_value(v, vlen, r->grpc_details, vlen + 1);
    } else if (IS("content-type")) {
        copy_value(v, vlen, r->content_type, sizeof(r->content_type));
    } else if (IS("grpc-encoding") || IS("content-encoding")) {
        copy_value(v, vlen, r->content_encoding, sizeof(r->content_encoding));
    } else if (IS("retry-after")) {
        copy_value(v, vlen, r->retry_after, sizeof(r->retry_after));
    } else if (r->capture && klen == strlen(r->capture) && !strncasecmp(name, r->capture, klen)) {
        copy_value(v, vlen, r->captured, sizeof(r->captured));
    }
#undef IS
}

bool pp_egress_resp_body(pp_egress_resp *r, const uint8_t *data, size_t n) {
    size_t keep = n;
    if (r->len + keep > r->max_body) {
        keep = r->max_body > r->len ? r->max_body - r->len : 0;
        r->truncated = true;
    }
    if (r->len + keep > r->cap) {
        size_t ncap = r->cap ? r->cap : 1024;
        while (ncap < r->len + keep) ncap *= 2;
        uint8_t *nb = realloc(r->body, ncap);
        if (!nb) return false;
        r->body = nb;
        r->cap = ncap;
    }
    if (keep) memcpy(r->body + r->len, data, keep);
    r->len += keep;
    return true;
}

void pp_egress_resp_free(pp_egress_resp *r) {
    free(r->body);
    free(r->grpc_details);
    r->body = NULL;
    r->grpc_details = NULL;
    r->len = r->cap = 0;
}
