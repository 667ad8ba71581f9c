/* sentry_ratelimit.c -- see sentry_ratelimit.h. */
#include "sentry_ratelimit.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const CAT_NAMES[PP_SENTRY_CAT_COUNT] = {
    "all", "error", "transaction", "default", "span", "log_item", "security", "internal"};

/* A retry_after beyond this is treated as this: keeps the arithmetic sane. */
#define MAX_RETRY_S (86400.0 * 365)

const char *pp_sentry_category_name(pp_sentry_category c) {
    return (unsigned)c < PP_SENTRY_CAT_COUNT ? CAT_NAMES[c] : "unknown";
}

void pp_sentry_rl_init(pp_sentry_ratelimit *rl) { memset(rl, 0, sizeof(*rl)); }

static void extend(pp_sentry_ratelimit *rl, pp_sentry_category c, uint64_t until) {
    if (until > rl->until_ms[c]) rl->until_ms[c] = until;
}

/* Seconds (float allowed) rounded up to whole seconds, in ms; -1 if unreadable. */
static int64_t seconds_ms(const char *s, size_t n) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || *end || !isfinite(v) || v < 0) return -1;
    if (v > MAX_RETRY_S) v = MAX_RETRY_S;
    return (int64_t)ceil(v) * 1000;
}

/* Copies s[0..n) into out without spaces and tabs. */
static size_t strip_spaces(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        if (s[i] != ' ' && s[i] != '\t') out[o++] = s[i];
    out[o] = '\0';
    return o;
}

static int category_index(const char *s, size_t n) {
    for (int c = PP_SENTRY_CAT_ERROR; c < PP_SENTRY_CAT_COUNT; c++)
        if (strlen(CAT_NAMES[c]) == n && memcmp(CAT_NAMES[c], s, n) == 0) return c;
    return -1;
}

/* One "retry_after:categories:scope:reason:namespaces" entry. */
static bool apply_entry(pp_sentry_ratelimit *rl, const char *raw, size_t rawlen, uint64_t now) {
    char e[512];
    size_t n = strip_spaces(raw, rawlen, e, sizeof e);
    if (n == 0) return false;
    size_t f0 = strcspn(e, ":");
    int64_t ms = seconds_ms(e, f0);
    if (ms < 0) ms = PP_SENTRY_DEFAULT_RETRY_MS; /* what the SDKs do with a bad number */
    const char *cats = e[f0] == ':' ? e + f0 + 1 : "";
    size_t clen = strcspn(cats, ":");
    uint64_t until = now + (uint64_t)ms;
    if (clen == 0) {
        extend(rl, PP_SENTRY_CAT_ALL, until);
        return true;
    }
    bool any = false;
    for (size_t i = 0; i < clen;) {
        size_t tl = strcspn(cats + i, ";:");
        int c = category_index(cats + i, tl);
        if (c > 0) {
            extend(rl, (pp_sentry_category)c, until);
            any = true;
        }
        i += tl + 1;
    }
    return any; /* only unknown categories: the entry is dropped */
}

static int month_index(const char *m) {
    static const char *const M[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strcmp(M[i], m) == 0) return i;
    return -1;
}

/* Retry-After: delta seconds, or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT"), parsed by hand to stay independent of the locale. -1 if neither. */
static int64_t retry_after_ms(const char *v, uint64_t now) {
    while (*v == ' ') v++;
    size_t n = strlen(v);
    while (n && v[n - 1] == ' ') n--;
    int64_t ms = seconds_ms(v, n);
    if (ms >= 0) return ms;
    char wd[4], mon[4];
    int day, year, hh, mm, ss, used = 0;
    if (sscanf(v, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wd, &day, mon, &year, &hh, &mm,
               &ss, &used) != 7 || (size_t)used != n)
        return -1;
    int mi = month_index(mon);
    if (mi < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return -1;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mi, .tm_mday = day,
                    .tm_hour = hh, .tm_min = mm, .tm_sec = ss};
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    int64_t at = (int64_t)t * 1000;
    return at > (int64_t)now ? at - (int64_t)now : 0;
}

bool pp_sentry_rl_update(pp_sentry_ratelimit *rl, int http_status, const char *rate_limits,
                         const char *retry_after, uint64_t now_ms) {
    if (rate_limits && *rate_limits) {
        bool any = false;
        for (const char *p = rate_limits;;) {
            size_t len = strcspn(p, ",");
            any |= apply_entry(rl, p, len, now_ms);
            if (!p[len]) break;
            p += len + 1;
        }
        /* A 429 whose header named nothing we know still must not be hammered. */
        if (any || http_status != 429) return any;
    }
    if (http_status != 429) return false;
    int64_t ms = retry_after ? retry_after_ms(retry_after, now_ms) : -1;
    if (ms < 0) ms = PP_SENTRY_DEFAULT_RETRY_MS;
    extend(rl, PP_SENTRY_CAT_ALL, now_ms + (uint64_t)ms);
    return true;
}

bool pp_sentry_rl_limited(const pp_sentry_ratelimit *rl, pp_sentry_category c, uint64_t now_ms,
                          uint64_t *until_ms) {
    uint64_t u = rl->until_ms[PP_SENTRY_CAT_ALL];
    if ((unsigned)c < PP_SENTRY_CAT_COUNT && rl->until_ms[c] > u) u = rl->until_ms[c];
    if (u <= now_ms) return false;
    if (until_ms) *until_ms = u;
    return true;
}
