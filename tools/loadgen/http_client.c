/* http_client.c -- OTLP/HTTP POSTs with libcurl's multi interface: one easy
 * handle per connection (HTTP/1.1 keep-alive, one request at a time on each),
 * bodies sent from the pool without a copy. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport.h"

typedef struct hslot {
    CURL *easy;
    void *tag; /* NULL: idle */
} hslot;

typedef struct htransport {
    lg_transport base;
    lg_target tg;
    char url[512];
    lg_done_fn done;
    void *arg;
    CURLM *multi;
    struct curl_slist *headers;
    hslot *slots;
    int nslots;
    int in_flight;
} htransport;

static size_t discard(char *p, size_t size, size_t n, void *u) {
    (void)p;
    (void)u;
    return size * n;
}

static int h_submit(lg_transport *base, const lg_payload *p, void *tag) {
    htransport *t = (htransport *)base;
    for (int i = 0; i < t->nslots; i++) {
        hslot *s = &t->slots[i];
        if (s->tag) continue;
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (const char *)p->data);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
        s->tag = tag;
        if (curl_multi_add_handle(t->multi, s->easy) != CURLM_OK) {
            s->tag = NULL;
            return 1;
        }
        t->in_flight++;
        return 0;
    }
    return 1;
}

/* curl's transport errors as errno values, so both transports report alike. */
static int curl_errno(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_CONNECT: return ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST: return EHOSTUNREACH;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: return ECONNRESET;
    default: return EIO;
    }
}

static void reap(htransport *t) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) continue;
        hslot *s = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        CURLcode rc = m->data.result;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(t->multi, m->easy_handle);
        void *tag = s->tag;
        s->tag = NULL;
        t->in_flight--;
        if (rc == CURLE_OPERATION_TIMEDOUT) t->done(t->arg, tag, LG_TIMEOUT, 0);
        else if (rc != CURLE_OK) t->done(t->arg, tag, LG_CONN, curl_errno(rc));
        else if (status >= 200 && status < 300) t->done(t->arg, tag, LG_OK, 0);
        else t->done(t->arg, tag, LG_HTTP, (int)status);
    }
}

static void h_poll(lg_transport *base, int timeout_ms) {
    htransport *t = (htransport *)base;
    int running;
    curl_multi_perform(t->multi, &running);
    reap(t);
    curl_multi_poll(t->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(t->multi, &running);
    reap(t);
}

static int h_in_flight(const lg_transport *base) { return ((const htransport *)base)->in_flight; }

static void h_close(lg_transport *base) {
    htransport *t = (htransport *)base;
    for (int i = 0; i < t->nslots; i++) {
        hslot *s = &t->slots[i];
        if (s->tag) {
            curl_multi_remove_handle(t->multi, s->easy);
            void *tag = s->tag;
            s->tag = NULL;
            t->done(t->arg, tag, LG_CONN, ECANCELED);
        }
        curl_easy_cleanup(s->easy);
    }
    curl_multi_cleanup(t->multi);
    curl_slist_free_all(t->headers);
    free(t->slots);
    free(t);
}

lg_transport *lg_http_open(const lg_target *tg, lg_done_fn done, void *arg) {
    htransport *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->base = (lg_transport){h_submit, h_poll, h_in_flight, h_close};
    t->tg = *tg;
    t->done = done;
    t->arg = arg;
    const char *path = tg->path[0] ? tg->path : tg->signal == PP_TRACES ? "/v1/traces" : "/v1/metrics";
    snprintf(t->url, sizeof(t->url), "http://%s:%d%s", tg->host, tg->port, path);
    t->headers = curl_slist_append(NULL, tg->format == LG_JSON ? "Content-Type: application/json"
                                                               : "Content-Type: application/x-protobuf");
    if (tg->compress != LG_NONE)
        t->headers = curl_slist_append(t->headers, tg->compress == LG_GZIP ? "Content-Encoding: gzip"
                                                                           : "Content-Encoding: zstd");
    t->headers = curl_slist_append(t->headers, "Expect:"); /* no 100-continue round trip */
    t->nslots = tg->connections > 0 ? tg->connections : 1;
    t->slots = calloc((size_t)t->nslots, sizeof(*t->slots));
    t->multi = curl_multi_init();
    if (!t->slots || !t->multi || !t->headers) goto fail;
    curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)t->nslots);
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)t->nslots);
    curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
    for (int i = 0; i < t->nslots; i++) {
        CURL *e = t->slots[i].easy = curl_easy_init();
        if (!e) goto fail;
        curl_easy_setopt(e, CURLOPT_URL, t->url);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "pipit-loadgen/" PIPIT_VERSION);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)tg->timeout_ms);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)&t->slots[i]);
    }
    return &t->base;
fail:
    fprintf(stderr, "pipit-loadgen: cannot set up libcurl\n");
    for (int i = 0; t->slots && i < t->nslots; i++)
        if (t->slots[i].easy) curl_easy_cleanup(t->slots[i].easy);
    if (t->multi) curl_multi_cleanup(t->multi);
    curl_slist_free_all(t->headers);
    free(t->slots);
    free(t);
    return NULL;
}
