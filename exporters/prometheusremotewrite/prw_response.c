/* prw_response.c -- see prw_response.h. */
#include "prw_response.h"

#include <string.h>

#include "egress.h"

pp_prw_verdict pp_prw_verdict_of(long code, const char *retry_after, int64_t now_unix,
                                 int64_t *retry_after_ns) {
    *retry_after_ns = 0;
    if (code >= 200 && code < 300) return PP_PRW_DELIVERED;
    if (code == 429 || code >= 500) {
        if (retry_after && retry_after[0]) *retry_after_ns = pp_parse_retry_after(retry_after, now_unix);
        return PP_PRW_RETRY;
    }
    if (code == 400) return PP_PRW_REJECTED;
    return PP_PRW_PERMANENT;
}

void pp_prw_error_text(const uint8_t *body, size_t len, char *out, size_t outlen) {
    if (outlen == 0) return;
    size_t n = len < outlen - 1 ? len : outlen - 1;
    for (size_t i = 0; i < n; i++) out[i] = body[i] < 0x20 || body[i] == 0x7f ? ' ' : (char)body[i];
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
    if (len > outlen - 1 && outlen > 4) memcpy(out + (n < outlen - 4 ? n : outlen - 4), "...", 4);
}
