/* grpc_server.c -- the OTLP/gRPC transport: sockets, threads, life cycle.
 *
 * One acceptor thread polls the listening sockets and hands each accepted
 * socket to one of N worker threads (N = CPUs, at most 4) round-robin, through
 * a mutex-protected queue and a uv_async wake-up. Each worker runs its own
 * libuv loop with its connections (grpc_conn.c) and decodes on that thread;
 * its tick (timeouts, keepalive) runs only while it has connections, so an
 * idle worker does not wake up.
 *
 * Why an acceptor rather than SO_REUSEPORT listeners per worker: the kernel
 * drops the connections queued in a REUSEPORT listener's backlog when that
 * listener closes (at shutdown, or if a worker dies), and with port 0 and
 * "localhost" (two addresses) every worker would have to bind in step. One
 * acceptor keeps binding in one place; accept() is never the bottleneck for
 * long-lived gRPC connections. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "grpc_internal.h"
#include "grpc_listen.h"
#include "grpc_tls.h"
#include "log.h"
#include "otlp_receiver.h"

#define MAX_WORKERS 4
#define TICK_MS 250
#define WRITE_HIGH (1u << 20) /* stop reading a client that does not read its answers */
#define WRITE_LOW (256u << 10)

typedef struct worker worker;

typedef struct sconn {
    uv_tcp_t tcp;
    worker *w;
    struct sconn *prev, *next;
    pp_grpc_conn *g;
    pp_grpc_tls *tls; /* NULL: plaintext h2c */
    size_t write_pending;
    bool reading, closing;
} sconn;

typedef struct wreq {
    uv_write_t req;
    sconn *sc;
    size_t len;
    char data[];
} wreq;

struct worker {
    pp_grpc_server *srv;
    uv_thread_t thread;
    bool thread_started;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    uv_timer_t deadline;
    uv_mutex_t mu; /* guards fds, nfds, stop_requested, deadline_ns */
    int *fds;
    size_t nfds, capfds;
    bool stop_requested;
    int64_t deadline_ns;
    bool stopping; /* loop-thread copy of stop_requested */
    sconn *conns;
    size_t nconns;
};

struct pp_grpc_server {
    pp_grpc_limits lim;
    pp_grpc_tls_ctx *tls;
    char endpoint[256];
    pp_listeners ls;
    uv_loop_t aloop;
    uv_poll_t polls[PP_MAX_LISTENERS];
    int npolls;
    bool aloop_init;
    uv_async_t astop;
    uv_thread_t acceptor;
    bool acceptor_started;
    worker workers[MAX_WORKERS];
    int nworkers;
    unsigned next_worker;
    bool stopped;
    _Atomic size_t peak_buffered; /* see pp_grpc_limits */
};

/* ---- one connection on a worker ---- */

static void conn_closed(uv_handle_t *h) {
    sconn *sc = h->data;
    worker *w = sc->w;
    if (sc->prev) sc->prev->next = sc->next;
    else w->conns = sc->next;
    if (sc->next) sc->next->prev = sc->prev;
    if (--w->nconns == 0) uv_timer_stop(&w->tick); /* nothing to time: sleep */
    pp_grpc_conn_free(sc->g);
    pp_grpc_tls_free(sc->tls);
    free(sc);
    if (w->stopping && w->nconns == 0) {
        uv_close((uv_handle_t *)&w->wake, NULL);
        uv_close((uv_handle_t *)&w->tick, NULL);
        uv_close((uv_handle_t *)&w->deadline, NULL);
    }
}

static void conn_close_now(sconn *sc) {
    sc->closing = true;
    if (!uv_is_closing((uv_handle_t *)&sc->tcp)) uv_close((uv_handle_t *)&sc->tcp, conn_closed);
}

static void after_shutdown(uv_shutdown_t *req, int status) {
    (void)status;
    conn_close_now(req->data);
    free(req);
}

/* Close once what is queued (a GOAWAY, the last answers) has been written. */
static void conn_close(sconn *sc) {
    if (sc->closing) return;
    sc->closing = true;
    uv_read_stop((uv_stream_t *)&sc->tcp);
    uv_shutdown_t *req = malloc(sizeof(*req));
    if (req) {
        req->data = sc;
        if (uv_shutdown(req, (uv_stream_t *)&sc->tcp, after_shutdown) == 0) return;
        free(req);
    }
    conn_close_now(sc);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void on_tick(uv_timer_t *t);

static void alloc_buf(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)hint;
    (void)h;
    buf->base = malloc(64 * 1024);
    buf->len = buf->base ? 64 * 1024 : 0;
}

static void after_write(uv_write_t *req, int status) {
    (void)status;
    wreq *wr = (wreq *)req;
    sconn *sc = wr->sc;
    sc->write_pending -= wr->len;
    free(wr);
    if (!sc->closing && !sc->reading && sc->write_pending < WRITE_LOW) {
        sc->reading = true;
        uv_read_start((uv_stream_t *)&sc->tcp, alloc_buf, on_read);
    }
}

static int write_raw(sconn *sc, const uint8_t *p, size_t n) {
    if (n == 0 || sc->closing) return 0;
    if (sc->write_pending == 0 && n <= INT_MAX) {
        /* Most answers fit the socket buffer: write them now, without a copy,
         * a write request and an epoll update; queue only what is left. */
        uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
        int w = uv_try_write((uv_stream_t *)&sc->tcp, &b, 1);
        if (w == (int)n) return 0;
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w != UV_EAGAIN) {
            return -1;
        }
    }
    wreq *wr = malloc(sizeof(*wr) + n);
    if (!wr) return -1;
    wr->sc = sc;
    wr->len = n;
    memcpy(wr->data, p, n);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
    if (uv_write(&wr->req, (uv_stream_t *)&sc->tcp, &b, 1, after_write) != 0) {
        free(wr);
        return -1;
    }
    sc->write_pending += n;
    if (sc->reading && sc->write_pending > WRITE_HIGH) {
        sc->reading = false;
        uv_read_stop((uv_stream_t *)&sc->tcp);
    }
    return 0;
}

static int write_tls_cb(void *arg, const uint8_t *p, size_t n) { return write_raw(arg, p, n); }

/* Sends what the HTTP/2 session has queued; closes when it is finished. */
static void conn_flush(sconn *sc, int rc) {
    if (rc != 0 && sc->tls && !pp_grpc_tls_ready(sc->tls)) { /* failed handshake */
        conn_close(sc);
        return;
    }
    if (sc->tls && !pp_grpc_tls_ready(sc->tls)) return; /* nghttp2 keeps it queued */
    size_t n;
    const uint8_t *out = pp_grpc_conn_output(sc->g, &n);
    int wrc = sc->tls ? pp_grpc_tls_write(sc->tls, out, n) : write_raw(sc, out, n);
    if (wrc != 0) {
        conn_close_now(sc);
        return;
    }
    if (rc != 0 || pp_grpc_conn_done(sc->g)) conn_close(sc);
}

static int feed_plain(void *arg, const uint8_t *p, size_t n) {
    sconn *sc = arg;
    return pp_grpc_conn_feed(sc->g, p, n, pp_grpc_now_ns());
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    sconn *sc = st->data;
    if (nread < 0) {
        free(buf->base);
        conn_close_now(sc);
        return;
    }
    int rc = 0;
    if (nread > 0) {
        if (sc->tls)
            rc = pp_grpc_tls_read(sc->tls, (const uint8_t *)buf->base, (size_t)nread, feed_plain, sc);
        else
            rc = feed_plain(sc, (const uint8_t *)buf->base, (size_t)nread);
    }
    free(buf->base);
    if (!sc->closing) conn_flush(sc, rc);
}

static void conn_open(worker *w, int fd) {
    sconn *sc = calloc(1, sizeof(*sc));
    if (!sc) {
        close(fd);
        return;
    }
    sc->w = w;
    sc->g = pp_grpc_conn_new(&w->srv->lim, pp_grpc_now_ns());
    if (w->srv->tls) sc->tls = pp_grpc_tls_new(w->srv->tls, write_tls_cb, sc);
    if (!sc->g || (w->srv->tls && !sc->tls) || uv_tcp_init(&w->loop, &sc->tcp) != 0) {
        pp_grpc_conn_free(sc->g);
        pp_grpc_tls_free(sc->tls);
        free(sc);
        close(fd);
        return;
    }
    sc->tcp.data = sc;
    sc->next = w->conns;
    if (w->conns) w->conns->prev = sc;
    w->conns = sc;
    if (w->nconns++ == 0) uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    if (uv_tcp_open(&sc->tcp, fd) != 0) {
        close(fd);
        conn_close_now(sc);
        return;
    }
    uv_tcp_nodelay(&sc->tcp, 1);
    sc->reading = true;
    uv_read_start((uv_stream_t *)&sc->tcp, alloc_buf, on_read);
    if (!sc->tls) conn_flush(sc, 0); /* our SETTINGS; with TLS after the handshake */
}

/* ---- the worker loop ---- */

static void on_deadline(uv_timer_t *t) {
    worker *w = t->data;
    for (sconn *sc = w->conns, *next; sc; sc = next) {
        next = sc->next;
        conn_close_now(sc);
    }
}

static void begin_stop(worker *w, int64_t deadline_ns) {
    w->stopping = true;
    for (sconn *sc = w->conns; sc; sc = sc->next) {
        if (sc->closing) continue;
        pp_grpc_conn_goaway(sc->g);
        conn_flush(sc, 0);
    }
    if (w->nconns == 0) {
        uv_close((uv_handle_t *)&w->wake, NULL);
        uv_close((uv_handle_t *)&w->tick, NULL);
        uv_close((uv_handle_t *)&w->deadline, NULL);
        return;
    }
    int64_t ms = (deadline_ns - pp_grpc_now_ns()) / 1000000;
    uv_timer_start(&w->deadline, on_deadline, ms > 0 ? (uint64_t)ms : 0, 0);
}

static void on_wake(uv_async_t *a) {
    worker *w = a->data;
    if (w->stopping) return;
    uv_mutex_lock(&w->mu);
    int *fds = w->fds;
    size_t n = w->nfds;
    w->fds = NULL;
    w->nfds = w->capfds = 0;
    bool stop = w->stop_requested;
    int64_t deadline = w->deadline_ns;
    uv_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        if (stop) close(fds[i]);
        else conn_open(w, fds[i]);
    }
    free(fds);
    if (stop) begin_stop(w, deadline);
}

static void on_tick(uv_timer_t *t) {
    worker *w = t->data;
    int64_t now = pp_grpc_now_ns();
    for (sconn *sc = w->conns, *next; sc; sc = next) {
        next = sc->next;
        if (!sc->closing) conn_flush(sc, pp_grpc_conn_tick(sc->g, now));
    }
}

static void worker_main(void *arg) {
    worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static int worker_init(worker *w, pp_grpc_server *s) {
    w->srv = s;
    if (uv_loop_init(&w->loop) != 0) return -1;
    uv_mutex_init(&w->mu);
    uv_async_init(&w->loop, &w->wake, on_wake);
    uv_timer_init(&w->loop, &w->tick);
    uv_timer_init(&w->loop, &w->deadline);
    w->wake.data = w->tick.data = w->deadline.data = w;
    return 0; /* the tick runs while the worker has connections */
}

static void worker_give(worker *w, int fd) {
    uv_mutex_lock(&w->mu);
    if (w->nfds == w->capfds) {
        size_t cap = w->capfds ? w->capfds * 2 : 16;
        int *nf = realloc(w->fds, cap * sizeof(int));
        if (!nf) {
            uv_mutex_unlock(&w->mu);
            close(fd);
            return;
        }
        w->fds = nf;
        w->capfds = cap;
    }
    w->fds[w->nfds++] = fd;
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->wake);
}

/* ---- the acceptor ---- */

static void on_acceptable(uv_poll_t *p, int status, int events) {
    (void)events;
    pp_grpc_server *s = p->data;
    if (status < 0) return;
    int lfd;
    uv_fileno((uv_handle_t *)p, &lfd);
    for (int i = 0; i < 64; i++) { /* then let the other listeners have a turn */
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                pp_log_warn(s->lim.in->receiver_id, "accept failed", "error", strerror(errno), NULL);
            return;
        }
        worker_give(&s->workers[s->next_worker++ % (unsigned)s->nworkers], fd);
    }
}

static void on_astop(uv_async_t *a) {
    pp_grpc_server *s = a->data;
    for (int i = 0; i < s->npolls; i++) uv_close((uv_handle_t *)&s->polls[i], NULL);
    uv_close((uv_handle_t *)&s->astop, NULL);
}

static void acceptor_main(void *arg) {
    pp_grpc_server *s = arg;
    uv_run(&s->aloop, UV_RUN_DEFAULT);
}

/* ---- life cycle ---- */

static const char *const err_reasons[PP_GRPC_ERR_COUNT] = {
    "protocol", "rapid_reset", "too_many_pings", "header_list_too_large", "timeout"};

static void init_limits(pp_grpc_server *s, const pp_grpc_server_cfg *cfg, pp_ingest *in) {
    pp_grpc_limits *l = &s->lim;
    l->in = in;
    l->max_msg = (size_t)(cfg->max_recv_msg_size_mib > 0 ? cfg->max_recv_msg_size_mib : 4) << 20;
    l->max_streams = cfg->max_concurrent_streams > 0 ? (uint32_t)cfg->max_concurrent_streams : 100;
    /* Enough for a few maximal messages at once; the admission budget is the global bound. */
    l->max_conn_buffered = 4 * l->max_msg;
    l->peak_buffered = &s->peak_buffered;
    pp_grpc_limits_fit(l); /* the per-stream window; HTTP/2 flow control keeps to the budget */
    l->preface_timeout_ns = 10 * PP_GRPC_SEC;
    l->stream_stall_ns = 30 * PP_GRPC_SEC;
    l->idle_ns = cfg->keepalive.max_connection_idle_ns;
    l->age_ns = cfg->keepalive.max_connection_age_ns;
    l->age_grace_ns = cfg->keepalive.max_connection_age_grace_ns;
    l->ping_time_ns = cfg->keepalive.time_ns;
    l->ping_timeout_ns = cfg->keepalive.timeout_ns > 0 ? cfg->keepalive.timeout_ns : 20 * PP_GRPC_SEC;
    l->min_ping_ns = cfg->keepalive.min_time_ns;
    l->permit_ping_without_stream = cfg->keepalive.permit_without_stream;
    l->max_resets_per_sec = 200;
    if (in->metrics) {
        for (int e = 0; e < PP_GRPC_ERR_COUNT; e++) {
            const char *labels[] = {"receiver", in->receiver_id, "reason", err_reasons[e], NULL};
            l->errors[e] = pp_counter_get(in->metrics, "pipit_receiver_grpc_protocol_errors",
                                          "gRPC connections or streams ended for misbehaving clients.",
                                          labels);
        }
    }
}

static int start_threads(pp_grpc_server *s, pp_status *st) {
    if (uv_loop_init(&s->aloop) != 0) return pp_fail(st, PP_INTERNAL, "uv_loop_init failed");
    s->aloop_init = true;
    uv_async_init(&s->aloop, &s->astop, on_astop);
    s->astop.data = s;
    for (int i = 0; i < s->ls.n; i++) {
        if (uv_poll_init(&s->aloop, &s->polls[i], s->ls.fds[i]) != 0)
            return pp_fail(st, PP_INTERNAL, "uv_poll_init failed");
        s->npolls++;
        s->polls[i].data = s;
        uv_poll_start(&s->polls[i], UV_READABLE, on_acceptable);
    }
    unsigned n = uv_available_parallelism();
    s->nworkers = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
    for (int i = 0; i < s->nworkers; i++) {
        worker *w = &s->workers[i];
        if (worker_init(w, s) != 0) return pp_fail(st, PP_INTERNAL, "uv_loop_init failed");
        if (uv_thread_create(&w->thread, worker_main, w) != 0)
            return pp_fail(st, PP_INTERNAL, "cannot create a worker thread");
        w->thread_started = true;
    }
    if (uv_thread_create(&s->acceptor, acceptor_main, s) != 0)
        return pp_fail(st, PP_INTERNAL, "cannot create the acceptor thread");
    s->acceptor_started = true;
    return 0;
}

pp_grpc_server *pp_grpc_server_start(const pp_grpc_server_cfg *cfg, pp_ingest *in, pp_status *st) {
    pp_grpc_server *s = calloc(1, sizeof(*s));
    if (!s) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    s->ls.n = 0;
    init_limits(s, cfg, in);
    snprintf(s->endpoint, sizeof(s->endpoint), "%s", cfg->endpoint ? cfg->endpoint : "localhost:4317");
    if (cfg->tls_present && (cfg->tls.cert_file || cfg->tls.key_file)) {
        if (!(s->tls = pp_grpc_tls_ctx_new(&cfg->tls, st))) {
            free(s);
            return NULL;
        }
    }
    if (pp_grpc_listen(s->endpoint, &s->ls, st) != 0) {
        pp_grpc_tls_ctx_free(s->tls);
        free(s);
        return NULL;
    }
    if (start_threads(s, st) != 0) {
        pp_grpc_server_stop(s, pp_grpc_now_ns());
        pp_grpc_server_free(s);
        return NULL;
    }
    return s;
}

int pp_grpc_server_port(const pp_grpc_server *s) { return s ? s->ls.port : -1; }

const pp_grpc_limits *pp_grpc_server_limits(const pp_grpc_server *s) { return &s->lim; }

size_t pp_grpc_server_peak_buffered(const pp_grpc_server *s) {
    return atomic_load(&((pp_grpc_server *)(uintptr_t)s)->peak_buffered);
}

void pp_grpc_server_stop(pp_grpc_server *s, int64_t deadline_ns) {
    if (!s || s->stopped) return;
    s->stopped = true;
    if (s->acceptor_started) {
        uv_async_send(&s->astop);
        uv_thread_join(&s->acceptor);
    }
    pp_listeners_close(&s->ls);
    for (int i = 0; i < s->nworkers; i++) {
        worker *w = &s->workers[i];
        if (!w->thread_started) continue;
        uv_mutex_lock(&w->mu);
        w->stop_requested = true;
        w->deadline_ns = deadline_ns;
        uv_mutex_unlock(&w->mu);
        uv_async_send(&w->wake);
    }
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].thread_started) uv_thread_join(&s->workers[i].thread);
}

void pp_grpc_server_free(pp_grpc_server *s) {
    if (!s) return;
    pp_grpc_server_stop(s, pp_grpc_now_ns());
    if (s->aloop_init) {
        if (!s->acceptor_started) on_astop(&s->astop); /* start failed half-way */
        uv_run(&s->aloop, UV_RUN_NOWAIT);
        uv_loop_close(&s->aloop);
    }
    for (int i = 0; i < s->nworkers; i++) {
        worker *w = &s->workers[i];
        if (!w->srv) continue;
        if (!w->thread_started) { /* start failed half-way: handles still open */
            uv_close((uv_handle_t *)&w->wake, NULL);
            uv_close((uv_handle_t *)&w->tick, NULL);
            uv_close((uv_handle_t *)&w->deadline, NULL);
        }
        uv_run(&w->loop, UV_RUN_NOWAIT);
        uv_loop_close(&w->loop);
        uv_mutex_destroy(&w->mu);
        for (size_t k = 0; k < w->nfds; k++) close(w->fds[k]);
        free(w->fds);
    }
    pp_grpc_tls_ctx_free(s->tls);
    free(s);
}
