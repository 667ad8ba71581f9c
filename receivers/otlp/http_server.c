/* http_server.c -- the OTLP/HTTP transport (see otlp_receiver.h) on
 * libmicrohttpd: a pool of epoll threads, each request checked from its
 * headers (CORS preflight, auth, encoding, path, method, type, size, memory
 * budget) before any body byte is read, then the body collected under the
 * size cap and handed to http_export.c. */
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_body.h"
#include "http_cors.h"
#include "http_deadline.h"
#include "http_endpoint.h"
#include "http_export.h"
#include "http_tls.h"
#include "log.h"
#include "otlp_receiver.h"

struct pp_http_server {
    struct MHD_Daemon *daemon;
    const pp_http_server_cfg *cfg;
    pp_ingest *in;
    size_t limit;
    int listen_fd;
    uint16_t port;
    atomic_int inflight; /* requests between their headers and their completion */
    pp_http_tls tls;
    pp_http_deadlines *deadlines; /* read_header_timeout; NULL: none */
    char addr[128];
};

/* One request, from its headers to MHD's completion callback. */
typedef struct req {
    pp_signal sig;
    pp_http_format fmt;
    pp_http_encoding enc;
    pp_http_body body;
    size_t admitted; /* bytes reserved with pp_ingest_admit (0: none) */
    bool answered;   /* a response is queued */
    pp_status failed; /* the body broke a limit: answer this once it is over */
    size_t drained;   /* bytes dropped since */
    const char *origin; /* the Origin header when CORS allows it (MHD owns the string) */
} req;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *header(struct MHD_Connection *c, const char *name) {
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void add_common_headers(const pp_http_server *s, struct MHD_Response *r, const req *q) {
    if (q && q->origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", q->origin);
        MHD_add_response_header(r, "Access-Control-Allow-Credentials", "true");
        MHD_add_response_header(r, "Vary", "Origin");
    }
    for (size_t i = 0; i < s->cfg->response_headers.count; i++)
        MHD_add_response_header(r, s->cfg->response_headers.items[i].key,
                                s->cfg->response_headers.items[i].value);
}

/* Queues a (takes ownership of its body). */
static enum MHD_Result send_answer(pp_http_server *s, struct MHD_Connection *c, req *q,
                                   pp_http_answer *a) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        pp_http_answer_free(a);
        return MHD_NO;
    }
    a->body = NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, pp_http_format_type(a->format));
    if (a->status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    if (a->retry_after_s) {
        char v[16];
        snprintf(v, sizeof(v), "%u", a->retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    add_common_headers(s, r, q);
    enum MHD_Result ret = MHD_queue_response(c, a->status, r);
    MHD_destroy_response(r);
    if (q) q->answered = true;
    return ret;
}

static enum MHD_Result send_error(pp_http_server *s, struct MHD_Connection *c, req *q,
                                  unsigned status, int rpc, const char *msg) {
    pp_http_answer a = {.format = q->fmt};
    pp_http_answer_error(&a, status, rpc, msg);
    return send_answer(s, c, q, &a);
}

static enum MHD_Result send_status(pp_http_server *s, struct MHD_Connection *c, req *q,
                                   const pp_status *st) {
    pp_http_answer a = {.format = q->fmt};
    pp_http_answer_status(&a, st);
    return send_answer(s, c, q, &a);
}

/* A CORS preflight (rs/cors): 204 always; the Access-Control-* headers only
 * when origin, method and headers are all allowed. */
static enum MHD_Result preflight(pp_http_server *s, struct MHD_Connection *c) {
    const pp_cors_cfg *cors = &s->cfg->cors;
    const char *origin = header(c, "Origin");
    const char *method = header(c, "Access-Control-Request-Method");
    const char *hdrs = header(c, "Access-Control-Request-Headers");
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Vary",
                            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    if (pp_cors_origin_allowed(cors, origin) && method && strcmp(method, "POST") == 0 &&
        pp_cors_headers_allowed(cors, hdrs)) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "POST");
        MHD_add_response_header(r, "Access-Control-Allow-Credentials", "true");
        if (hdrs && *hdrs) MHD_add_response_header(r, "Access-Control-Allow-Headers", hdrs);
        if (cors->max_age > 0) {
            char v[24];
            snprintf(v, sizeof(v), "%lld", (long long)cors->max_age);
            MHD_add_response_header(r, "Access-Control-Max-Age", v);
        }
    }
    add_common_headers(s, r, NULL);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ret;
}

static bool path_is(const char *url, const char *path) { return path && strcmp(url, path) == 0; }

/* Everything decided from the headers. Returns true when an answer is queued
 * (*ret is MHD's result); false to go on and read the body. */
static bool check_headers(pp_http_server *s, struct MHD_Connection *c, const char *url,
                          const char *method, req *q, enum MHD_Result *ret) {
    const pp_http_server_cfg *cfg = s->cfg;
    pp_status st;
    pp_status_clear(&st);
    bool has_type = pp_http_format_parse(header(c, MHD_HTTP_HEADER_CONTENT_TYPE), &q->fmt) == 0;
    if (!has_type) q->fmt = PP_FMT_PROTOBUF; /* the format of error bodies then */
    char msg[320];
    /* Credentials first, as confighttp's auth wraps every route. */
    if (pp_http_tls_peer_check(&s->tls, c, &st) != 0) goto status;
    if (s->in->auth && pp_ingest_authenticate(s->in, header(c, s->in->auth->header), &st) != 0)
        goto status;
    const char *ce = header(c, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (pp_http_encoding_parse(ce, &q->enc) != 0) {
        /* confighttp's decompressor answers 400 here, not 415. */
        snprintf(msg, sizeof(msg), "unsupported Content-Encoding: %.200s", ce);
        *ret = send_error(s, c, q, MHD_HTTP_BAD_REQUEST, 3, msg);
        return true;
    }
    if (path_is(url, cfg->traces_url_path)) q->sig = PP_TRACES;
    else if (path_is(url, cfg->metrics_url_path)) q->sig = PP_METRICS;
    else {
        snprintf(msg, sizeof(msg), "%s: %.200s",
                 path_is(url, cfg->logs_url_path) ? "logs are not supported" : "404 page not found",
                 url);
        *ret = send_error(s, c, q, MHD_HTTP_NOT_FOUND, 5, msg);
        return true;
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        snprintf(msg, sizeof(msg), "405 method not allowed, supported: [POST]");
        *ret = send_error(s, c, q, MHD_HTTP_METHOD_NOT_ALLOWED, 12, msg);
        return true;
    }
    if (!has_type) {
        *ret = send_error(s, c, q, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, 3,
                          "415 unsupported media type, supported: [application/json, "
                          "application/x-protobuf]");
        return true;
    }
    if (!pp_ingest_has(s->in, q->sig)) {
        snprintf(msg, sizeof(msg), "no %s pipeline takes data from receiver %s",
                 pp_signal_name(q->sig), s->in->receiver_id);
        *ret = send_error(s, c, q, MHD_HTTP_NOT_FOUND, 12, msg);
        return true;
    }
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (declared > s->limit) {
        pp_fail(&st, PP_TOO_LARGE,
                "request body of %llu bytes is larger than max_request_body_size (%zu bytes)",
                declared, s->limit);
        goto status;
    }
    /* Chunked bodies reserve the whole cap: their size is not known yet. */
    size_t want = cl ? (size_t)declared : s->limit;
    if (want > 0 && pp_ingest_admit(s->in, want, &st) != 0) goto status;
    q->admitted = want;
    pp_http_body_init(&q->body, s->limit, cl ? (size_t)declared : 0);
    return false;
status:
    *ret = send_status(s, c, q, &st);
    return true;
}

static pp_http_conn_deadline *conn_deadline(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    pp_http_server *s = cls;
    if (!s->deadlines) return;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? pp_http_deadline_open(s->deadlines, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        pp_http_deadline_close(s->deadlines, *socket_context);
        *socket_context = NULL;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls) {
    (void)version;
    pp_http_server *s = cls;
    req *q = *req_cls;
    if (!q) { /* first call: headers only */
        if (!(q = calloc(1, sizeof(*q)))) return MHD_NO;
        *req_cls = q;
        atomic_fetch_add(&s->inflight, 1);
        if (s->deadlines) pp_http_deadline_request(s->deadlines, conn_deadline(c));
        const char *origin = header(c, "Origin");
        if (s->cfg->cors_present && strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0 && origin &&
            header(c, "Access-Control-Request-Method")) {
            q->answered = true;
            return preflight(s, c);
        }
        if (s->cfg->cors_present && pp_cors_origin_allowed(&s->cfg->cors, origin)) q->origin = origin;
        enum MHD_Result ret = MHD_YES;
        check_headers(s, c, url, method, q, &ret);
        return ret;
    }
    if (q->answered) { /* answered early: drop whatever body still comes */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->failed.code != PP_OK) {
            /* MHD cannot answer before the body is over: drain it, but hang
             * up on a client that sends more than another limit's worth. */
            q->drained += n;
            return q->drained > s->limit ? MHD_NO : MHD_YES;
        }
        if (pp_http_body_append(&q->body, upload, n, &q->failed) != 0) pp_http_body_free(&q->body);
        return MHD_YES;
    }
    if (q->failed.code != PP_OK) return send_status(s, c, q, &q->failed);
    pp_http_answer a = {.format = q->fmt};
    pp_http_export(s->in, q->sig, q->enc, q->body.buf, q->body.len, s->limit, &a);
    pp_http_body_free(&q->body); /* the answer may take a while to send */
    return send_answer(s, c, q, &a);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode why) {
    (void)why;
    pp_http_server *s = cls;
    req *q = *req_cls;
    if (!q) return;
    if (s->deadlines) pp_http_deadline_done(s->deadlines, conn_deadline(c));
    if (q->admitted) pp_ingest_release(s->in, q->admitted);
    pp_http_body_free(&q->body);
    free(q);
    *req_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap) {
    const pp_http_server *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') msg[--n] = '\0';
    pp_log_debug(s->in->receiver_id, msg, "transport", "http", "endpoint", s->addr, NULL);
}

/* The connection timeout: the smaller non-zero of the two, 10 s by default. */
static unsigned timeout_s(const pp_http_server_cfg *cfg) {
    int64_t t = 0;
    if (cfg->read_header_timeout_ns > 0) t = cfg->read_header_timeout_ns;
    if (cfg->idle_timeout_ns > 0 && (t == 0 || cfg->idle_timeout_ns < t)) t = cfg->idle_timeout_ns;
    if (t == 0) return 10;
    return (unsigned)((t + 999999999) / 1000000000);
}

static unsigned pool_size(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}

pp_http_server *pp_http_server_start(const pp_http_server_cfg *cfg, pp_ingest *in, pp_status *st) {
    pp_http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->in = in;
    s->limit = cfg->max_request_body_size > 0 ? (size_t)cfg->max_request_body_size : 20u << 20;
    snprintf(s->addr, sizeof(s->addr), "%s", cfg->endpoint);
    if (cfg->tls_present && pp_http_tls_load(&s->tls, &cfg->tls, st) != 0) {
        free(s);
        return NULL;
    }
    if (cfg->read_header_timeout_ns > 0) {
        int64_t tick = cfg->read_header_timeout_ns / 8;
        tick = tick < 10000000 ? 10000000 : tick > 250000000 ? 250000000 : tick;
        const char *labels[] = {"receiver", in->receiver_id, NULL};
        pp_counter *cut = in->metrics ? pp_counter_get(in->metrics, "pipit_receiver_http_header_timeouts",
                                                       "HTTP connections closed because a request's "
                                                       "headers took longer than read_header_timeout.",
                                                       labels)
                                      : NULL;
        if (!(s->deadlines = pp_http_deadlines_new(cfg->read_header_timeout_ns, tick, cut))) {
            pp_http_tls_free(&s->tls);
            free(s);
            pp_fail(st, PP_INTERNAL, "out of memory");
            return NULL;
        }
    }
    if ((s->listen_fd = pp_http_listen(cfg->endpoint, &s->port, st)) < 0) {
        pp_http_deadlines_free(s->deadlines);
        pp_http_tls_free(&s->tls);
        free(s);
        return NULL;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem tls_opts[5];
    pp_http_tls_options(&s->tls, tls_opts, &flags);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, pool_size(),
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s(cfg),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    if (!s->daemon) {
        close(s->listen_fd);
        pp_http_deadlines_free(s->deadlines);
        pp_http_tls_free(&s->tls);
        free(s);
        pp_fail(st, PP_INTERNAL, "listen on %s: cannot start the HTTP server", cfg->endpoint);
        return NULL;
    }
    return s;
}

void pp_http_server_stop(pp_http_server *s, int64_t deadline_ns) {
    if (!s || !s->daemon) return;
    MHD_quiesce_daemon(s->daemon); /* no new connections; we still own listen_fd */
    while (atomic_load(&s->inflight) > 0 && now_ns() < deadline_ns) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon); /* closes what is left */
    s->daemon = NULL;
    close(s->listen_fd);
    s->listen_fd = -1;
}

void pp_http_server_free(pp_http_server *s) {
    if (!s) return;
    pp_http_server_stop(s, 0);
    pp_http_deadlines_free(s->deadlines); /* after MHD: it reports every close first */
    pp_http_tls_free(&s->tls);
    free(s);
}

int pp_http_server_port(const pp_http_server *s) { return s->port; }
