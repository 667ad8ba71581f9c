/* grpc_client.c -- OTLP/gRPC unary calls over nghttp2 on non-blocking
 * sockets and one epoll set: `connections` HTTP/2 connections, each with up
 * to `streams` calls in flight. A connection that fails fails its calls
 * (LG_CONN with errno) and is reopened after a short pause. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"

#define RECONNECT_NS 200000000LL

typedef struct gconn gconn;

typedef struct gcall {
    struct gcall *prev, *next; /* the connection's calls */
    gconn *c;
    int32_t id;
    void *tag;
    const lg_payload *p;
    size_t off;
    int http_status, grpc_status;
    int timed_out;
    int64_t deadline;
} gcall;

typedef struct gtransport gtransport;

struct gconn {
    gtransport *t;
    int fd; /* -1: closed, reopen at retry_at */
    int connecting;
    nghttp2_session *h2;
    gcall *calls;
    int active;
    int64_t retry_at;
    int last_err; /* why the last connection closed or failed to open */
    uint32_t events; /* registered epoll events */
};

struct gtransport {
    lg_transport base;
    lg_target tg;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char authority[300];
    const char *path;
    lg_done_fn done;
    void *arg;
    int ep;
    gconn *conns;
    int nconns;
    int next;
    int in_flight;
    int64_t last_scan;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

const char *lg_grpc_code_name(int code) {
    static const char *const names[] = {
        "ok", "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
        "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
        "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
        "unauthenticated"};
    return code >= 0 && code <= 16 ? names[code] : NULL;
}

/* ---- calls ---- */

static void call_unlink(gcall *k) {
    gconn *c = k->c;
    if (k->prev) k->prev->next = k->next;
    else c->calls = k->next;
    if (k->next) k->next->prev = k->prev;
    c->active--;
    c->t->in_flight--;
}

static void call_finish(gcall *k, lg_outcome o, int code) {
    gtransport *t = k->c->t;
    call_unlink(k);
    t->done(t->arg, k->tag, o, code);
    free(k);
}

/* ---- nghttp2 callbacks ---- */

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *u) {
    (void)s;
    (void)flags;
    gconn *c = u;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? NGHTTP2_ERR_WOULDBLOCK
                                                              : NGHTTP2_ERR_CALLBACK_FAILURE;
    return n;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *u) {
    (void)s;
    (void)id;
    (void)u;
    gcall *k = src->ptr;
    size_t left = k->p->len - k->off, n = left < len ? left : len;
    memcpy(buf, k->p->data + k->off, n);
    k->off += n;
    if (k->off == k->p->len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *u) {
    (void)flags;
    (void)u;
    gcall *k = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!k || vl > 15) return 0;
    char v[16];
    memcpy(v, value, vl);
    v[vl] = '\0';
    if (nl == 7 && memcmp(name, ":status", 7) == 0) k->http_status = atoi(v);
    else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0) k->grpc_status = atoi(v);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
                   void *u) {
    (void)s;
    (void)flags;
    (void)id;
    (void)d;
    (void)len;
    (void)u;
    return 0; /* the response message is empty or a partial_success: not needed */
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t err, void *u) {
    (void)u;
    gcall *k = nghttp2_session_get_stream_user_data(s, id);
    if (!k) return 0;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    if (k->timed_out) call_finish(k, LG_TIMEOUT, 0);
    else if (k->grpc_status == 0) call_finish(k, LG_OK, 0);
    else if (k->grpc_status > 0) call_finish(k, LG_GRPC, k->grpc_status);
    else if (k->http_status && k->http_status != 200) call_finish(k, LG_HTTP, k->http_status);
    else call_finish(k, LG_CONN, err == NGHTTP2_REFUSED_STREAM ? ECONNREFUSED : ECONNRESET);
    return 0;
}

/* ---- connections ---- */

static void conn_watch(gconn *c) {
    uint32_t ev = EPOLLIN | (c->connecting || nghttp2_session_want_write(c->h2) ? EPOLLOUT : 0);
    if (ev == c->events) return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(c->t->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void conn_close(gconn *c, int err) {
    while (c->calls) {
        gcall *k = c->calls;
        if (c->h2 && k->id > 0) nghttp2_session_set_stream_user_data(c->h2, k->id, NULL);
        call_finish(k, LG_CONN, err);
    }
    if (c->h2) nghttp2_session_del(c->h2);
    c->h2 = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->last_err = err;
    c->retry_at = now_ns() + RECONNECT_NS;
}

static nghttp2_session_callbacks *callbacks(void) {
    static nghttp2_session_callbacks *cbs;
    if (!cbs) { /* one thread drives the transport */
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
        nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    }
    return cbs;
}

static int conn_open(gconn *c) {
    gtransport *t = c->t;
    c->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->connecting = 1;
    if (connect(c->fd, (struct sockaddr *)&t->addr, t->addrlen) == 0) c->connecting = 0;
    else if (errno != EINPROGRESS) {
        c->last_err = errno;
        close(c->fd);
        c->fd = -1;
        c->retry_at = now_ns() + RECONNECT_NS;
        return -1;
    }
    if (nghttp2_session_client_new(&c->h2, callbacks(), c) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 1 << 24);
    c->events = EPOLLIN | EPOLLOUT;
    struct epoll_event e = {.events = c->events, .data.ptr = c};
    epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &e);
    return 0;
}

static void conn_flush(gconn *c) {
    if (nghttp2_session_send(c->h2) != 0) {
        conn_close(c, errno ? errno : EPIPE);
        return;
    }
    if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) {
        conn_close(c, ECONNRESET); /* after GOAWAY: open a fresh connection at once */
        c->retry_at = 0;
        c->last_err = 0;
        return;
    }
    conn_watch(c);
}

static void conn_event(gconn *c, uint32_t ev) {
    if (c->connecting) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            conn_close(c, err);
            return;
        }
        c->connecting = 0;
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        uint8_t buf[65536];
        for (int i = 0; i < 16; i++) { /* bounded: let other connections run */
            ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                conn_close(c, n == 0 ? ECONNRESET : errno);
                return;
            }
            if (n < 0) break;
            if (nghttp2_session_mem_recv(c->h2, buf, (size_t)n) < 0) {
                conn_close(c, EPROTO);
                return;
            }
            if (c->fd < 0) return;
        }
    }
    conn_flush(c);
}

/* ---- the transport ---- */

static int g_submit(lg_transport *base, const lg_payload *p, void *tag) {
    gtransport *t = (gtransport *)base;
    int64_t now = now_ns();
    int up = 0, err = 0;
    for (int i = 0; i < t->nconns; i++) {
        gconn *c = &t->conns[(t->next + i) % t->nconns];
        if (c->fd < 0 && (now < c->retry_at || conn_open(c) != 0)) {
            err = c->last_err;
            continue;
        }
        up++;
        if (c->active >= t->tg.streams) continue;
        gcall *k = calloc(1, sizeof(*k));
        if (!k) return 1;
        *k = (gcall){.c = c, .tag = tag, .p = p, .grpc_status = -1,
                     .deadline = now + (int64_t)t->tg.timeout_ms * 1000000LL};
        const char *enc = t->tg.compress == LG_GZIP ? "gzip" : t->tg.compress == LG_ZSTD ? "zstd" : "identity";
#define H(n, v) {(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
        nghttp2_nv hdr[] = {H(":method", "POST"),          H(":scheme", "http"),
                            H(":path", t->path),           H(":authority", t->authority),
                            H("content-type", "application/grpc"), H("te", "trailers"),
                            H("grpc-encoding", enc),       H("user-agent", "pipit-loadgen/" PIPIT_VERSION)};
#undef H
        nghttp2_data_provider dp = {.source.ptr = k, .read_callback = read_body};
        k->id = nghttp2_submit_request(c->h2, NULL, hdr, sizeof(hdr) / sizeof(hdr[0]), &dp, k);
        if (k->id < 0) {
            free(k);
            conn_close(c, EPROTO);
            continue;
        }
        k->next = c->calls;
        if (c->calls) c->calls->prev = k;
        c->calls = k;
        c->active++;
        t->in_flight++;
        t->next = (t->next + i + 1) % t->nconns;
        if (!c->connecting) conn_flush(c);
        return 0;
    }
    if (up == 0 && err) { /* no connection: the request fails now, as an SDK's would */
        t->done(t->arg, tag, LG_CONN, err);
        return 0;
    }
    return 1;
}

/* Cancels calls past their deadline (RST_STREAM CANCEL; on_close reports them). */
static void scan_timeouts(gtransport *t, int64_t now) {
    for (int i = 0; i < t->nconns; i++) {
        gconn *c = &t->conns[i];
        int any = 0;
        for (gcall *k = c->calls; k; k = k->next)
            if (!k->timed_out && now > k->deadline) {
                k->timed_out = 1;
                nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, k->id, NGHTTP2_CANCEL);
                any = 1;
            }
        if (any && c->fd >= 0) conn_flush(c);
    }
}

static void g_poll(lg_transport *base, int timeout_ms) {
    gtransport *t = (gtransport *)base;
    struct epoll_event ev[64];
    int n = epoll_wait(t->ep, ev, 64, timeout_ms);
    for (int i = 0; i < n; i++) {
        gconn *c = ev[i].data.ptr;
        if (c->fd >= 0) conn_event(c, ev[i].events);
    }
    int64_t now = now_ns();
    if (now - t->last_scan > 50000000LL) {
        t->last_scan = now;
        scan_timeouts(t, now);
    }
}

static int g_in_flight(const lg_transport *base) { return ((const gtransport *)base)->in_flight; }

static void g_close(lg_transport *base) {
    gtransport *t = (gtransport *)base;
    for (int i = 0; i < t->nconns; i++)
        if (t->conns[i].fd >= 0 || t->conns[i].h2) conn_close(&t->conns[i], ECANCELED);
    close(t->ep);
    free(t->conns);
    free(t);
}

static int resolve(gtransport *t) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    char port[16];
    snprintf(port, sizeof(port), "%d", t->tg.port);
    if (getaddrinfo(t->tg.host, port, &hints, &res) != 0) return -1;
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

lg_transport *lg_grpc_open(const lg_target *tg, lg_done_fn done, void *arg) {
    gtransport *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->base = (lg_transport){g_submit, g_poll, g_in_flight, g_close};
    t->tg = *tg;
    t->done = done;
    t->arg = arg;
    t->path = tg->signal == PP_TRACES
                  ? "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
                  : "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    snprintf(t->authority, sizeof(t->authority), "%s:%d", tg->host, tg->port);
    t->nconns = tg->connections > 0 ? tg->connections : 1;
    t->conns = calloc((size_t)t->nconns, sizeof(*t->conns));
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!t->conns || t->ep < 0 || resolve(t) != 0) {
        fprintf(stderr, "pipit-loadgen: cannot resolve %s\n", tg->host);
        if (t->ep >= 0) close(t->ep);
        free(t->conns);
        free(t);
        return NULL;
    }
    for (int i = 0; i < t->nconns; i++) t->conns[i] = (gconn){.t = t, .fd = -1};
    return &t->base;
}
