/* egress.c -- see egress.h. */
#include "egress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* One header or trailer line ("name: value\r\n"); status lines reset state. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *arg) {
    pp_egress_resp *r = arg;
    size_t n = size * nitems, len = n;
    while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n')) len--;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        pp_egress_resp_restart(r); /* after a 1xx or a redirect */
        return n;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon) return n;
    const char *v = colon + 1;
    while (v < buf + len && (*v == ' ' || *v == '\t')) v++;
    pp_egress_resp_header(r, buf, (size_t)(colon - buf), v, (size_t)(buf + len - v));
    return n;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *arg) {
    size_t n = size * nmemb;
    return pp_egress_resp_body(arg, (const uint8_t *)buf, n) ? n : 0; /* 0: curl fails it, retried */
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
    pp_egress_resp_reset(resp);
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
