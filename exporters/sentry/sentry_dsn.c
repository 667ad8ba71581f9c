/* sentry_dsn.c -- DSN parsing; see sentry_dsn.h. */
#include "sentry_dsn.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strbuf.h"

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Keys end up inside the X-Sentry-Auth header: allow only characters that
 * cannot break its "k=v, k=v" syntax (Sentry's keys are hex). */
static bool key_ok(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.') return false;
    }
    return true;
}

static bool all_digits(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

/* Host names: no whitespace, controls or URL delimiters. */
static bool host_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || strchr("/?#@[]\\", c)) return false;
    }
    return true;
}

static int derive(pp_sentry_dsn *d) {
    pp_strbuf sb = PP_STRBUF_INIT;
    pp_sb_printf(&sb, "%s://%s%s%s%s/api/%s/", d->scheme, d->host, d->port ? ":" : "",
                 d->port ? d->port : "", d->path_prefix, d->project_id);
    char *api = pp_sb_finish(&sb, NULL);
    if (!api) return -1;
    pp_sb_printf(&sb, "%senvelope/", api);
    d->envelope_url = pp_sb_finish(&sb, NULL);
    pp_sb_printf(&sb, "%sintegration/otlp/v1/traces/", api);
    d->otlp_traces_url = pp_sb_finish(&sb, NULL);
    free(api);
    pp_sb_printf(&sb, "Sentry sentry_version=7, sentry_client=pipit/%s, sentry_key=%s",
                 PIPIT_VERSION, d->public_key);
    if (d->secret_key) pp_sb_printf(&sb, ", sentry_secret=%s", d->secret_key);
    d->auth_header = pp_sb_finish(&sb, NULL);
    pp_sb_printf(&sb, "sentry sentry_key=%s", d->public_key);
    d->otlp_auth_header = pp_sb_finish(&sb, NULL);
    pp_sb_printf(&sb, "%s://%s@%s%s%s%s/%s", d->scheme, d->public_key, d->host,
                 d->port ? ":" : "", d->port ? d->port : "", d->path_prefix, d->project_id);
    d->public_dsn = pp_sb_finish(&sb, NULL);
    return d->envelope_url && d->otlp_traces_url && d->auth_header && d->otlp_auth_header &&
                   d->public_dsn
               ? 0
               : -1;
}

static int parse(const char *text, pp_sentry_dsn *d, pp_status *st) {
    const char *sep = strstr(text, "://");
    if (!sep) return pp_fail(st, PP_INVALID, "sentry dsn: missing \"scheme://\"");
    size_t slen = (size_t)(sep - text);
    if (slen == 4 && strncasecmp(text, "http", 4) == 0) d->scheme = strdup("http");
    else if (slen == 5 && strncasecmp(text, "https", 5) == 0) d->scheme = strdup("https");
    else
        return pp_fail(st, PP_INVALID, "sentry dsn: unsupported scheme \"%.*s\" (want http or https)",
                       (int)(slen > 20 ? 20 : slen), text);
    const char *auth = sep + 3;
    /* The URL ends at a query string or fragment, which the SDKs ignore. */
    size_t total = strcspn(auth, "?#");
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@') at = auth + i;
    if (!at) return pp_fail(st, PP_INVALID, "sentry dsn: missing public key (want KEY@host)");

    size_t ulen = (size_t)(at - auth);
    const char *colon = memchr(auth, ':', ulen);
    size_t klen = colon ? (size_t)(colon - auth) : ulen;
    if (klen == 0) return pp_fail(st, PP_INVALID, "sentry dsn: missing public key (want KEY@host)");
    if (!key_ok(auth, klen)) return pp_fail(st, PP_INVALID, "sentry dsn: invalid public key");
    d->public_key = dup_n(auth, klen);
    if (colon && ulen - klen > 1) {
        if (!key_ok(colon + 1, ulen - klen - 1))
            return pp_fail(st, PP_INVALID, "sentry dsn: invalid secret key");
        d->secret_key = dup_n(colon + 1, ulen - klen - 1);
    }

    const char *h = at + 1, *hend = auth + alen;
    const char *port = NULL;
    if (h < hend && *h == '[') {
        const char *rb = memchr(h, ']', (size_t)(hend - h));
        if (!rb) return pp_fail(st, PP_INVALID, "sentry dsn: unterminated IPv6 address");
        if (rb == h + 1) return pp_fail(st, PP_INVALID, "sentry dsn: empty host");
        for (const char *c = h + 1; c < rb; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return pp_fail(st, PP_INVALID, "sentry dsn: invalid IPv6 address");
        d->host = dup_n(h, (size_t)(rb + 1 - h));
        if (rb + 1 < hend) {
            if (rb[1] != ':') return pp_fail(st, PP_INVALID, "sentry dsn: junk after IPv6 address");
            port = rb + 2;
        }
    } else {
        const char *pc = memchr(h, ':', (size_t)(hend - h));
        const char *he = pc ? pc : hend;
        if (he == h) return pp_fail(st, PP_INVALID, "sentry dsn: empty host");
        if (!host_ok(h, (size_t)(he - h))) return pp_fail(st, PP_INVALID, "sentry dsn: invalid host");
        d->host = dup_n(h, (size_t)(he - h));
        if (pc) port = pc + 1;
    }
    if (port) {
        size_t plen = (size_t)(hend - port);
        long v = all_digits(port, plen) && plen <= 5 ? strtol(port, NULL, 10) : 0;
        if (v < 1 || v > 65535) return pp_fail(st, PP_INVALID, "sentry dsn: invalid port");
        d->port = dup_n(port, plen);
    }

    /* Path: {/prefix...}/{project}[/] */
    const char *path = hend, *pend = auth + total;
    if (pend > path && pend[-1] == '/') pend--;
    const char *last = pend;
    while (last > path && last[-1] != '/') last--;
    if (last == path || last == pend)
        return pp_fail(st, PP_INVALID, "sentry dsn: missing project id (want .../PROJECT_ID)");
    if (!all_digits(last, (size_t)(pend - last)))
        return pp_fail(st, PP_INVALID, "sentry dsn: project id \"%.*s\" is not numeric",
                       (int)((size_t)(pend - last) > 40 ? 40 : pend - last), last);
    d->project_id = dup_n(last, (size_t)(pend - last));
    d->path_prefix = dup_n(path, (size_t)(last - 1 - path));
    if (!d->scheme || !d->public_key || !d->host || !d->project_id || !d->path_prefix ||
        derive(d) != 0)
        return pp_fail(st, PP_INTERNAL, "sentry dsn: out of memory");
    return 0;
}

int pp_sentry_dsn_parse(const char *text, pp_sentry_dsn *dsn, pp_status *st) {
    memset(dsn, 0, sizeof(*dsn));
    if (!text || !*text) return pp_fail(st, PP_INVALID, "sentry dsn: empty");
    if (parse(text, dsn, st) == 0) return 0;
    pp_sentry_dsn_free(dsn);
    return -1;
}

void pp_sentry_dsn_free(pp_sentry_dsn *d) {
    char **all[] = {&d->scheme,       &d->public_key,      &d->secret_key,  &d->host,
                    &d->port,         &d->path_prefix,     &d->project_id,  &d->envelope_url,
                    &d->otlp_traces_url, &d->auth_header, &d->otlp_auth_header, &d->public_dsn};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        free(*all[i]);
        *all[i] = NULL;
    }
}
