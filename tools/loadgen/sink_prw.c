/* sink_prw.c -- see sink_prw.h.
 *
 * libmicrohttpd with a small epoll thread pool, as pipit's OTLP/HTTP
 * receiver; the body is collected and un-snappied with that receiver's
 * helpers (http_body.h, same size caps) and unpacked with protobuf-c into an
 * arena, so every accepted request was fully decoded, not just counted by its
 * length. Prometheus itself snappy-decodes whatever arrives, so a missing
 * Content-Encoding is taken as snappy; another one is refused (415). */
#include "sink_prw.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "http_endpoint.h"
#include "log.h"
#include "prometheus/remote.pb-c.h"
#include "receivers/otlp/http_body.h"

#define PRW_PATH "/api/v1/write"
#define PRW_LIMIT ((size_t)64 << 20) /* compressed and decompressed, as the OTLP side */

struct lg_prw_sink {
    struct MHD_Daemon *daemon;
    int listen_fd;
    uint16_t port;
    atomic_int inflight;
    atomic_uint_fast64_t requests, rejected, series, samples, histograms, exemplars, metadata,
        bytes, wire_bytes;
    char addr[128];
};

/* One request, from its headers to MHD's completion callback. */
typedef struct prw_req {
    pp_http_body body;
    pp_status failed; /* the body passed the cap: answer 413 once it is over */
    size_t drained;   /* bytes dropped since */
    bool answered;    /* refused from its headers */
} prw_req;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *msg) {
    size_t len = msg ? strlen(msg) : 0;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)msg, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (len) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result refuse(lg_prw_sink *s, struct MHD_Connection *c, unsigned code,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result refuse(lg_prw_sink *s, struct MHD_Connection *c, unsigned code,
                              const char *fmt, ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    strcat(msg, "\n");
    atomic_fetch_add(&s->rejected, 1);
    return reply(c, code, msg);
}

/* Refusals that the headers decide, before any body byte: 0 if none. */
static unsigned check_headers(struct MHD_Connection *c, const char *url, const char *method,
                              const char **why) {
    if (strcmp(url, PRW_PATH) != 0) {
        *why = "404 page not found (remote write is POST " PRW_PATH ")";
        return MHD_HTTP_NOT_FOUND;
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        *why = "method not allowed";
        return MHD_HTTP_METHOD_NOT_ALLOWED;
    }
    const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (ce && strcasecmp(ce, "snappy") != 0) {
        *why = "remote write 1.0 bodies are snappy (Content-Encoding: snappy)";
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    return 0;
}

/* Decodes a whole body and counts it; the answer's status and text. */
static unsigned take(lg_prw_sink *s, const uint8_t *body, size_t len, char *why, size_t whylen) {
    pp_status st;
    pp_status_clear(&st);
    uint8_t *plain = NULL;
    size_t plen = 0;
    if (pp_http_decompress(PP_ENC_SNAPPY, body, len, PRW_LIMIT, &plain, &plen, &st) != 0) {
        snprintf(why, whylen, "%s", st.msg);
        return st.code == PP_TOO_LARGE ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_REQUEST;
    }
    pp_arena *a = pp_arena_new(plen * 2 + 4096);
    Prometheus__WriteRequest *wr =
        a ? prometheus__write_request__unpack(pp_arena_allocator(a), plen, plain) : NULL;
    if (!wr) {
        free(plain);
        pp_arena_destroy(a);
        snprintf(why, whylen, "the snappy block is not a prometheus.WriteRequest protobuf (%zu bytes)", plen);
        return a ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    uint64_t samples = 0, histograms = 0, exemplars = 0;
    for (size_t i = 0; i < wr->n_timeseries; i++) {
        samples += wr->timeseries[i]->n_samples;
        histograms += wr->timeseries[i]->n_histograms;
        exemplars += wr->timeseries[i]->n_exemplars;
    }
    atomic_fetch_add(&s->requests, 1);
    atomic_fetch_add(&s->series, wr->n_timeseries);
    atomic_fetch_add(&s->samples, samples);
    atomic_fetch_add(&s->histograms, histograms);
    atomic_fetch_add(&s->exemplars, exemplars);
    atomic_fetch_add(&s->metadata, wr->n_metadata);
    atomic_fetch_add(&s->bytes, plen);
    atomic_fetch_add(&s->wire_bytes, len);
    free(plain);
    pp_arena_destroy(a);
    return MHD_HTTP_NO_CONTENT;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls) {
    (void)version;
    lg_prw_sink *s = cls;
    prw_req *q = *req_cls;
    if (!q) { /* first call: headers only */
        if (!(q = calloc(1, sizeof(*q)))) return MHD_NO;
        *req_cls = q;
        atomic_fetch_add(&s->inflight, 1);
        const char *why = NULL;
        unsigned code = check_headers(c, url, method, &why);
        if (code) {
            q->answered = true;
            return refuse(s, c, code, "%s", why);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        pp_http_body_init(&q->body, PRW_LIMIT, cl ? (size_t)strtoull(cl, NULL, 10) : 0);
        return MHD_YES;
    }
    if (q->answered) { /* refused early: drop whatever body still comes */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->failed.code != PP_OK) /* drain, but hang up after another cap's worth */
            return (q->drained += n) > PRW_LIMIT ? MHD_NO : MHD_YES;
        if (pp_http_body_append(&q->body, upload, n, &q->failed) != 0) pp_http_body_free(&q->body);
        return MHD_YES;
    }
    if (q->failed.code != PP_OK)
        return refuse(s, c, q->failed.code == PP_TOO_LARGE ? MHD_HTTP_CONTENT_TOO_LARGE
                                                           : MHD_HTTP_INTERNAL_SERVER_ERROR,
                      "%s", q->failed.msg);
    char why[300] = "";
    unsigned code = take(s, q->body.buf, q->body.len, why, sizeof(why));
    pp_http_body_free(&q->body);
    if (code != MHD_HTTP_NO_CONTENT) return refuse(s, c, code, "%s", why);
    return reply(c, code, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)c, (void)why;
    lg_prw_sink *s = cls;
    prw_req *q = *req_cls;
    if (!q) return;
    pp_http_body_free(&q->body);
    free(q);
    *req_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap) {
    const lg_prw_sink *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') msg[--n] = '\0';
    pp_log_debug("sink/prw", msg, "endpoint", s->addr, NULL);
}

static unsigned pool_size(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}

lg_prw_sink *lg_prw_sink_start(const char *addr, pp_status *st) {
    lg_prw_sink *s = calloc(1, sizeof(*s));
    if (!s) {
        pp_fail(st, PP_INTERNAL, "listen on %s: out of memory", addr);
        return NULL;
    }
    snprintf(s->addr, sizeof(s->addr), "%s", addr);
    if ((s->listen_fd = pp_http_listen(addr, &s->port, st)) < 0) {
        free(s);
        return NULL;
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first, or MHD warns */
        MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, pool_size(),
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        close(s->listen_fd);
        free(s);
        pp_fail(st, PP_INTERNAL, "listen on %s: cannot start the HTTP server", addr);
        return NULL;
    }
    return s;
}

uint16_t lg_prw_sink_port(const lg_prw_sink *s) { return s ? s->port : 0; }

void lg_prw_sink_counts(const lg_prw_sink *s, lg_prw_counts *out) {
    memset(out, 0, sizeof(*out));
    if (!s) return;
    out->requests = atomic_load(&s->requests);
    out->rejected = atomic_load(&s->rejected);
    out->series = atomic_load(&s->series);
    out->samples = atomic_load(&s->samples);
    out->histograms = atomic_load(&s->histograms);
    out->exemplars = atomic_load(&s->exemplars);
    out->metadata = atomic_load(&s->metadata);
    out->bytes = atomic_load(&s->bytes);
    out->wire_bytes = atomic_load(&s->wire_bytes);
}

void lg_prw_counts_json(const lg_prw_counts *c, pp_strbuf *sb) {
    pp_sb_printf(sb,
                 "{\"requests\":%llu,\"rejected\":%llu,\"series\":%llu,\"samples\":%llu,"
                 "\"histograms\":%llu,\"exemplars\":%llu,\"metadata\":%llu,\"bytes\":%llu,"
                 "\"wire_bytes\":%llu}",
                 (unsigned long long)c->requests, (unsigned long long)c->rejected,
                 (unsigned long long)c->series, (unsigned long long)c->samples,
                 (unsigned long long)c->histograms, (unsigned long long)c->exemplars,
                 (unsigned long long)c->metadata, (unsigned long long)c->bytes,
                 (unsigned long long)c->wire_bytes);
}

void lg_prw_sink_stop(lg_prw_sink *s) {
    if (!s || !s->daemon) return;
    MHD_quiesce_daemon(s->daemon); /* no new connections; we still own listen_fd */
    for (int i = 0; i < 400 && atomic_load(&s->inflight) > 0; i++) { /* up to 2 s */
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    close(s->listen_fd);
    s->listen_fd = -1;
}

void lg_prw_sink_free(lg_prw_sink *s) {
    if (!s) return;
    lg_prw_sink_stop(s);
    free(s);
}
