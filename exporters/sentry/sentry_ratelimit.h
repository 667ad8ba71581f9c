/* sentry_ratelimit.h -- Sentry's rate limits per data category (WIRE-SPECS 4.6).
 *
 * Feed every response to pp_sentry_rl_update (200s included: Sentry may send
 * X-Sentry-Rate-Limits on any of them) and ask pp_sentry_rl_limited before
 * sending. Times are wall-clock milliseconds since the epoch, because a
 * Retry-After may be an HTTP date. One tracker per DSN. */
#ifndef PIPIT_SENTRY_RATELIMIT_H
#define PIPIT_SENTRY_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum pp_sentry_category {
    PP_SENTRY_CAT_ALL = 0, /* the implicit category of an empty list or a bare 429 */
    PP_SENTRY_CAT_ERROR,
    PP_SENTRY_CAT_TRANSACTION,
    PP_SENTRY_CAT_DEFAULT,
    PP_SENTRY_CAT_SPAN,
    PP_SENTRY_CAT_LOG_ITEM,
    PP_SENTRY_CAT_SECURITY,
    PP_SENTRY_CAT_INTERNAL,
    PP_SENTRY_CAT_COUNT
} pp_sentry_category;

/* "error", "transaction", ...; "all" for PP_SENTRY_CAT_ALL. */
const char *pp_sentry_category_name(pp_sentry_category c);

typedef struct pp_sentry_ratelimit {
    uint64_t until_ms[PP_SENTRY_CAT_COUNT]; /* 0: never limited */
} pp_sentry_ratelimit;

/* A bare 429 (no usable header) limits every category for this long. */
#define PP_SENTRY_DEFAULT_RETRY_MS 60000u

void pp_sentry_rl_init(pp_sentry_ratelimit *rl);

/* Applies one response. rate_limits / retry_after are the header values or
 * NULL. X-Sentry-Rate-Limits wins when present (any status) and names a known
 * category; otherwise a 429 limits all categories by Retry-After (delta seconds or an HTTP date), or 60 s
 * when that is missing or unreadable. A later deadline always wins over an
 * earlier one. Returns true if any deadline was set. */
bool pp_sentry_rl_update(pp_sentry_ratelimit *rl, int http_status, const char *rate_limits,
                         const char *retry_after, uint64_t now_ms);

/* Is category c limited at now_ms? If so and until_ms is not NULL, *until_ms
 * receives when the limit ends (the later of c's and "all"'s deadlines). */
bool pp_sentry_rl_limited(const pp_sentry_ratelimit *rl, pp_sentry_category c, uint64_t now_ms,
                          uint64_t *until_ms);

#endif
