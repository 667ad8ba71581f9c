/* egress.c -- see egress.h. */
#include "egress.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

CURL *pp_egress_handle(const pp_egress_opts *o) {
    CURL *c = curl_easy_init();
    CURLM *m = curl_multi_init();
    if (!c || !m) {
        curl_easy_cleanup(c);
        curl_multi_cleanup(m);
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)m);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (getenv("PP_CURL_VERBOSE")) curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)o->http_version);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pipit/" PIPIT_VERSION);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (o->keepalive_idle_ns > 0)
        curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, (long)(o->keepalive_idle_ns / 1000000000LL + 1));
    if (o->keepalive_interval_ns > 0)
        curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL,
                         (long)(o->keepalive_interval_ns / 1000000000LL + 1));
    const pp_tls_cfg *t = o->tls;
    if (t) {
        if (t->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
        if (t->cert_file) curl_easy_setopt(c, CURLOPT_SSLCERT, t->cert_file);
        if (t->key_file) curl_easy_setopt(c, CURLOPT_SSLKEY, t->key_file);
        if (t->insecure_skip_verify) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        long v = CURL_SSLVERSION_TLSv1_2;
        if (t->min_version && !strcmp(t->min_version, "1.3")) v = CURL_SSLVERSION_TLSv1_3;
        if (t->max_version && !strcmp(t->max_version, "1.2")) v |= CURL_SSLVERSION_MAX_TLSv1_2;
        curl_easy_setopt(c, CURLOPT_SSLVERSION, v);
    }
    return c;
}

struct curl_slist *pp_egress_headers(const char *const *fixed, const pp_cfg_kvs *custom) {
    struct curl_slist *l = NULL, *n;
    for (size_t i = 0; fixed && fixed[i]; i++) {
        if (!(n = curl_slist_append(l, fixed[i]))) goto oom;
        l = n;
    }
    for (size_t i = 0; custom && i < custom->count; i++) {
        size_t sz = strlen(custom->items[i].key) + strlen(custom->items[i].value) + 3;
        char *h = malloc(sz);
        if (!h) goto oom;
        snprintf(h, sz, "%s: %s", custom->items[i].key, custom->items[i].value);
        n = curl_slist_append(l, h);
        free(h);
        if (!n) goto oom;
        l = n;
    }
    return l;
oom:
    curl_slist_free_all(l);
    return NULL;
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

/* One header or trailer line ("name: value\r\n"); status lines reset state. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *arg) {
    pp_egress_resp *r = arg;
    size_t n = size * nitems, len = n;
    while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n')) len--;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        /* A new response (after a 1xx or a redirect): forget the previous one. */
        r->grpc_status = -1;
        r->content_type[0] = r->content_encoding[0] = r->retry_after[0] = r->captured[0] = '\0';
        return n;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon) return n;
    size_t klen = (size_t)(colon - buf);
    const char *v = colon + 1;
    while (v < buf + len && (*v == ' ' || *v == '\t')) v++;
    size_t vlen = (size_t)(buf + len - v);
#define IS(name) (klen == sizeof(name) - 1 && !strncasecmp(buf, name, klen))
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
    } else if (r->capture && klen == strlen(r->capture) && !strncasecmp(buf, r->capture, klen)) {
        copy_value(v, vlen, r->captured, sizeof(r->captured));
    }
#undef IS
    return n;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *arg) {
    pp_egress_resp *r = arg;
    size_t n = size * nmemb, keep = n;
    if (r->len + keep > r->max_body) {
        keep = r->max_body > r->len ? r->max_body - r->len : 0;
        r->truncated = true;
    }
    if (r->len + keep > r->cap) {
        size_t ncap = r->cap ? r->cap : 1024;
        while (ncap < r->len + keep) ncap *= 2;
        uint8_t *nb = realloc(r->body, ncap);
        if (!nb) return 0; /* curl fails the transfer: retried */
        r->body = nb;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, buf, keep);
    r->len += keep;
    return n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
    (void)a, (void)b, (void)c, (void)d;
    const _Atomic int64_t *abort_at = arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec >= atomic_load(abort_at);
}

/* Runs the transfer on the handle's own multi handle, calling
 * curl_multi_perform at least every TICK_MS even when the socket is quiet.
 * libcurl 7.88 (Debian 12) can leave the last HTTP/2 frames it has already
 * read unprocessed and wait on the socket for more: seen as a gRPC answer
 * whose trailers (sent in the same TCP segment as its DATA frame) arrive
 * only when the per-attempt timeout fires, so the request is resent and the
 * backend stores it twice. curl_easy_perform has no way to nudge it; a
 * perform on a timer finishes such a transfer at once. */
enum { TICK_MS = 20 };
static CURLcode perform(CURL *c) {
    CURLM *m = NULL;
    curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&m);
    if (!m || curl_multi_add_handle(m, c) != CURLM_OK) return curl_easy_perform(c);
    CURLcode rc = CURLE_OK;
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            rc = CURLE_OUT_OF_MEMORY;
            break;
        }
        if (running && curl_multi_poll(m, NULL, 0, TICK_MS, NULL) != CURLM_OK) {
            rc = CURLE_OUT_OF_MEMORY;
            break;
        }
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == c) rc = msg->data.result;
    curl_multi_remove_handle(m, c);
    return rc;
}

void pp_egress_handle_free(CURL *c) {
    if (!c) return;
    CURLM *m = NULL;
    curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&m);
    curl_easy_cleanup(c);
    curl_multi_cleanup(m);
}

CURLcode pp_egress_post(CURL *c, const char *url, struct curl_slist *headers, const uint8_t *body,
                        size_t len, int64_t timeout_ns, const _Atomic int64_t *abort_at_ns,
                        pp_egress_resp *resp, char *err, size_t errlen) {
    size_t max = resp->max_body ? resp->max_body : 4u << 20;
    const char *capture = resp->capture;
    memset(resp, 0, sizeof(*resp));
    resp->max_body = max;
    resp->capture = capture;
    resp->grpc_status = -1;
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_ns / 1000000 > 0 ? timeout_ns / 1000000 : 1));
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)(uintptr_t)abort_at_ns);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->http_status);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s", rc == CURLE_ABORTED_BY_CALLBACK ? "aborted at the shutdown deadline"
                                    : ebuf[0] ? ebuf : curl_easy_strerror(rc));
    return rc;
}

void pp_egress_resp_free(pp_egress_resp *r) {
    free(r->body);
    free(r->grpc_details);
    r->body = NULL;
    r->grpc_details = NULL;
    r->len = r->cap = 0;
}

int64_t pp_parse_retry_after(const char *v, int64_t now_unix) {
    if (!v || !v[0]) return 0;
    char *end;
    long long secs = strtoll(v, &end, 10);
    if (end != v && *end == '\0') return secs > 0 ? secs * 1000000000LL : 0;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!rest) return 0;
    int64_t when = (int64_t)timegm(&tm);
    return when > now_unix ? (when - now_unix) * 1000000000LL : 0;
}
