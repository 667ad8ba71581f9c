/* status.c -- see status.h. */
#include "status.h"

#include <stdio.h>
#include <string.h>

int pp_fail(pp_status *st, pp_code code, const char *fmt, ...) {
    if (!st) return -1;
    st->code = code;
    st->retry_after_ms = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void pp_status_clear(pp_status *st) {
    st->code = PP_OK;
    st->retry_after_ms = 0;
    st->msg[0] = '\0';
}

const char *pp_code_name(pp_code code) {
    switch (code) {
    case PP_OK: return "ok";
    case PP_INVALID: return "invalid_argument";
    case PP_UNAVAILABLE: return "unavailable";
    case PP_TOO_LARGE: return "too_large";
    case PP_UNIMPLEMENTED: return "unimplemented";
    case PP_UNAUTHENTICATED: return "unauthenticated";
    case PP_INTERNAL: return "internal";
    case PP_THROTTLED: return "resource_exhausted";
    }
    return "unknown";
}
