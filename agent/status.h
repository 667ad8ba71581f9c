/* status.h -- the outcome of handing data to a component.
 *
 * One small struct crosses every component boundary so that a receiver can
 * answer the client exactly (gRPC code or HTTP status) with the reason the
 * data was not taken. */
#ifndef PIPIT_STATUS_H
#define PIPIT_STATUS_H

#include <stdarg.h>
#include <stdint.h>

typedef enum pp_code {
    PP_OK = 0,
    PP_INVALID,     /* bad data: permanent (gRPC INVALID_ARGUMENT, HTTP 400) */
    PP_UNAVAILABLE, /* cannot take it now: retry (gRPC UNAVAILABLE, HTTP 503) */
    PP_TOO_LARGE,   /* over a size limit (RESOURCE_EXHAUSTED, HTTP 413) */
    PP_UNIMPLEMENTED,
    PP_UNAUTHENTICATED, /* missing or wrong credentials (gRPC 16, HTTP 401) */
    PP_INTERNAL,
    PP_THROTTLED, /* over a rate or quota: retry later (RESOURCE_EXHAUSTED, HTTP 429) */
} pp_code;

typedef struct pp_status {
    pp_code code;
    uint32_t retry_after_ms; /* with PP_UNAVAILABLE or PP_THROTTLED: a hint for the client, 0 = none */
    char msg[256];
} pp_status;

/* Sets code and a printf-style message; returns -1 so callers can `return pp_fail(...)`. */
int pp_fail(pp_status *st, pp_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pp_status_clear(pp_status *st);
const char *pp_code_name(pp_code code);

#endif
