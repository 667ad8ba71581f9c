/* prw_response.h -- what a remote-write answer means (WIRE-SPECS 3.1):
 * 2xx delivered; 5xx and 429 retried (429 with its Retry-After); 400 means
 * the receiver refused samples (out of order, out of bounds, duplicate
 * timestamps): never retried, counted as rejected, the receiver's text logged
 * as it is; any other 4xx (and 3xx) is a permanent failure. */
#ifndef PIPIT_PRW_RESPONSE_H
#define PIPIT_PRW_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

typedef enum pp_prw_verdict {
    PP_PRW_DELIVERED,
    PP_PRW_RETRY,
    PP_PRW_REJECTED,  /* 400: drop and count, never retry */
    PP_PRW_PERMANENT, /* other 4xx, 3xx */
} pp_prw_verdict;

/* The verdict on HTTP status `code`. retry_after is the header's value ("" or
 * NULL when absent); *retry_after_ns receives the server's delay for 429 and
 * 5xx (0: none). now_unix is the wall clock in seconds (for HTTP dates). */
pp_prw_verdict pp_prw_verdict_of(long code, const char *retry_after, int64_t now_unix,
                                 int64_t *retry_after_ns);

/* The receiver's error text made printable for a log line: control bytes
 * become spaces, trailing whitespace goes, and at most outlen-1 bytes are
 * kept (a longer text ends with "..."). */
void pp_prw_error_text(const uint8_t *body, size_t len, char *out, size_t outlen);

#endif
