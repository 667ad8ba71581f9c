/* http_cors.c -- see http_cors.h. */
#include "http_cors.h"

#include <string.h>
#include <strings.h>

static bool wildcard_match(const char *pattern, const char *origin) {
    const char *star = strchr(pattern, '*');
    if (!star) return strcasecmp(pattern, origin) == 0;
    size_t pre = (size_t)(star - pattern), suf = strlen(star + 1), n = strlen(origin);
    return n >= pre + suf && strncasecmp(pattern, origin, pre) == 0 &&
           strcasecmp(star + 1, origin + n - suf) == 0;
}

bool pp_cors_origin_allowed(const pp_cors_cfg *c, const char *origin) {
    if (!origin || !*origin) return false;
    for (size_t i = 0; i < c->allowed_origins.count; i++) {
        const char *p = c->allowed_origins.items[i];
        if (strcmp(p, "*") == 0 || wildcard_match(p, origin)) return true;
    }
    return false;
}

static bool header_allowed(const pp_cors_cfg *c, const char *h, size_t n) {
    static const char *const always[] = {"origin", "accept", "content-type", "content-encoding",
                                         "x-requested-with"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        if (strlen(always[i]) == n && strncasecmp(always[i], h, n) == 0) return true;
    for (size_t i = 0; i < c->allowed_headers.count; i++) {
        const char *a = c->allowed_headers.items[i];
        if (strcmp(a, "*") == 0 || (strlen(a) == n && strncasecmp(a, h, n) == 0)) return true;
    }
    return false;
}

bool pp_cors_headers_allowed(const pp_cors_cfg *c, const char *requested) {
    if (!requested) return true;
    const char *p = requested;
    while (*p) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t')) t--;
        if (t > 0 && !header_allowed(c, p, t)) return false;
        p += n;
    }
    return true;
}
