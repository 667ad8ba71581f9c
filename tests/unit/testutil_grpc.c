/* testutil_grpc.c -- see testutil_grpc.h. */
#include "testutil_grpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "receivers/otlp/grpc_internal.h"
#include "testutil.h"

/* ---- server side ---- */

static int sink_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    tu_sink *s = (tu_sink *)self;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->refuse) {
        rc = pp_fail(st, s->refuse_code ? s->refuse_code : PP_UNAVAILABLE, "queue full");
        st->retry_after_ms = s->retry_after_ms;
    } else {
        if (s->delay_ms > 0) {
            struct timespec d = {s->delay_ms / 1000, (long)(s->delay_ms % 1000) * 1000000L};
            nanosleep(&d, NULL);
        }
        if (s->batches++ == 0 && b->signal == PP_TRACES && b->traces->n_resource_spans) {
            const pp_span *sp = b->traces->resource_spans[0]->scope_spans[0]->spans[0];
            memcpy(s->first_trace_id, sp->trace_id.data, 16);
        }
        s->items += b->items;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int auth_check(pp_server_auth *a, const char *value, pp_status *st) {
    (void)a;
    if (value && strcmp(value, "Bearer s3cret") == 0) return 0;
    return pp_fail(st, PP_UNAUTHENTICATED, value ? "wrong credentials" : "missing credentials");
}

void tu_server_init(tu_server *t) {
    memset(t, 0, sizeof(*t));
    t->host.metrics = pp_metrics_new();
    t->sink.c.consume = sink_consume;
    pthread_mutex_init(&t->sink.mu, NULL);
    pp_create_params p = {.id = "otlp", .host = &t->host};
    p.next[PP_TRACES] = &t->sink.c;
    pp_ingest_init(&t->in, &p, "grpc");
    t->cfg.endpoint = (char *)(uintptr_t)"127.0.0.1:0";
    t->cfg.max_recv_msg_size_mib = 4;
    t->cfg.keepalive.time_ns = 2 * 3600 * 1000000000LL;
    t->cfg.keepalive.timeout_ns = 20 * 1000000000LL;
    t->cfg.keepalive.min_time_ns = 300 * 1000000000LL;
}

void tu_server_use_auth(tu_server *t) {
    t->auth.header = "authorization";
    t->auth.check = auth_check;
    t->in.auth = &t->auth;
}

void tu_server_start(tu_server *t) {
    pp_status st = {0};
    t->srv = pp_grpc_server_start(&t->cfg, &t->in, &st);
    if (!t->srv) fail_msg("start: %s", st.msg);
    t->port = pp_grpc_server_port(t->srv);
    assert_true(t->port > 0);
}

void tu_server_free(tu_server *t) {
    pp_grpc_server_free(t->srv);
    pp_metrics_free(t->host.metrics);
    pthread_mutex_destroy(&t->sink.mu);
}

uint64_t tu_server_errors(tu_server *t, const char *reason) {
    const char *labels[] = {"receiver", "otlp", "reason", reason, NULL};
    return pp_counter_value(pp_counter_get(t->host.metrics, "pipit_receiver_grpc_protocol_errors",
                                           "gRPC connections or streams ended for misbehaving clients.",
                                           labels));
}

tu_server *tu_srv;

int tu_srv_setup(void **state) {
    (void)state;
    tu_srv = calloc(1, sizeof(*tu_srv));
    tu_server_init(tu_srv);
    return 0;
}

int tu_srv_teardown(void **state) {
    (void)state;
    tu_server_free(tu_srv);
    free(tu_srv);
    tu_srv = NULL;
    return 0;
}

/* ---- client ---- */

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *user) {
    (void)flags;
    (void)user;
    tu_call *c = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!c) return 0;
    char v[2048];
    snprintf(v, sizeof(v), "%.*s", (int)vl, (const char *)value);
#define COPY(dst) snprintf(dst, sizeof(dst), "%.*s", (int)(sizeof(dst) - 1), v)
#define IS(lit) (nl == sizeof(lit) - 1 && memcmp(name, lit, nl) == 0)
    if (IS(":status")) c->http_status = atoi(v);
    else if (IS("grpc-status")) c->grpc_status = atoi(v);
    else if (IS("grpc-message")) COPY(c->grpc_message);
    else if (IS("grpc-status-details-bin")) COPY(c->details);
    else if (IS("grpc-accept-encoding")) COPY(c->accept_encoding);
#undef IS
#undef COPY
    return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                   void *user) {
    (void)flags;
    (void)user;
    tu_call *c = nghttp2_session_get_stream_user_data(h2, id);
    if (c && c->data_len + n <= sizeof(c->data)) {
        memcpy(c->data + c->data_len, d, n);
        c->data_len += n;
    }
    return 0;
}

static int on_close(nghttp2_session *h2, int32_t id, uint32_t err, void *user) {
    (void)user;
    tu_call *c = nghttp2_session_get_stream_user_data(h2, id);
    if (c) {
        c->closed = true;
        c->rst_code = err;
    }
    return 0;
}

static int on_frame(nghttp2_session *h2, const nghttp2_frame *f, void *user) {
    (void)h2;
    tu_client *cl = user;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK)) cl->got_settings = true;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        cl->goaway = true;
        cl->goaway_code = f->goaway.error_code;
    }
    return 0;
}

static void new_session(tu_client *cl);

int tu_client_connect(tu_client *cl, int port) {
    memset(cl, 0, sizeof(*cl));
    cl->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(cl->fd);
        return -1;
    }
    int one = 1;
    setsockopt(cl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    new_session(cl);
    return 0;
}

void tu_client_mem(tu_client *cl) {
    memset(cl, 0, sizeof(*cl));
    cl->fd = -1;
    new_session(cl);
}

static void new_session(tu_client *cl) {
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_client_new(&cl->h2, cb, cl);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(cl->h2, NGHTTP2_FLAG_NONE, NULL, 0);
}

void tu_client_close(tu_client *cl) {
    nghttp2_session_del(cl->h2);
    if (cl->fd >= 0) close(cl->fd);
}

static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user) {
    (void)h2;
    (void)id;
    (void)user;
    tu_call *c = src->ptr;
    size_t n = c->body_len - c->body_off;
    if (n > len) n = len;
    if (n) memcpy(buf, c->body + c->body_off, n);
    c->body_off += n;
    if (c->body_off == c->body_len) {
        if (!c->end_stream) return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)n;
}

#define NVS(n, v) {(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), strlen(n), strlen(v), 0}

void tu_client_submit(tu_client *cl, tu_call *c, const char *path, const char *ctype,
                      const char *const *extra) {
    nghttp2_nv nv[16] = {NVS(":method", "POST"), NVS(":scheme", "http"), NVS(":path", path),
                         NVS(":authority", "127.0.0.1"), NVS("te", "trailers")};
    size_t n = 5;
    if (ctype) nv[n++] = (nghttp2_nv)NVS("content-type", ctype);
    for (size_t i = 0; extra && extra[i] && n < 16; i += 2) nv[n++] = (nghttp2_nv)NVS(extra[i], extra[i + 1]);
    c->grpc_status = -1;
    nghttp2_data_provider dp = {.source.ptr = c, .read_callback = read_body};
    c->id = nghttp2_submit_request(cl->h2, NULL, nv, n, &dp, c);
    assert_true(c->id > 0);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends what the session has, then reads once (at most 50 ms). */
static void client_step(tu_client *cl) {
    const uint8_t *p;
    ssize_t k;
    while ((k = nghttp2_session_mem_send(cl->h2, &p)) > 0)
        if (send(cl->fd, p, (size_t)k, MSG_NOSIGNAL) != k) cl->eof = true;
    struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
    if (cl->eof || poll(&pfd, 1, 50) <= 0) return;
    uint8_t buf[16384];
    ssize_t r = recv(cl->fd, buf, sizeof(buf), 0);
    if (r <= 0 || nghttp2_session_mem_recv(cl->h2, buf, (size_t)r) < 0) cl->eof = true;
}

int tu_client_handshake(tu_client *cl, int timeout_ms) {
    int64_t end = now_ms() + timeout_ms;
    while (!cl->got_settings && !cl->eof && now_ms() < end) client_step(cl);
    return cl->got_settings ? 0 : -1;
}

int tu_client_run(tu_client *cl, tu_call *calls, int n, int timeout_ms) {
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int closed = 0;
        for (int i = 0; i < n; i++) closed += calls[i].closed;
        if (closed == n || cl->eof || now_ms() >= end) return closed;
        client_step(cl);
    }
}

void tu_calls_fill(tu_call *calls, int n, const uint8_t *body, size_t len) {
    memset(calls, 0, (size_t)n * sizeof(*calls));
    for (int i = 0; i < n; i++) {
        calls[i].body = body;
        calls[i].body_len = len;
        calls[i].end_stream = true;
    }
}

int tu_client_burst(int port, tu_call *calls, int n, const uint8_t *body, size_t len, int timeout_ms) {
    tu_client cl;
    assert_int_equal(tu_client_connect(&cl, port), 0);
    assert_int_equal(tu_client_handshake(&cl, 5000), 0);
    tu_calls_fill(calls, n, body, len);
    for (int i = 0; i < n; i++) tu_client_submit(&cl, &calls[i], TU_TRACES, "application/grpc", NULL);
    int closed = tu_client_run(&cl, calls, n, timeout_ms);
    tu_client_close(&cl);
    return closed;
}

int tu_client_exchange(tu_client *cl, pp_grpc_conn *g, int64_t now_ns) {
    for (int round = 0; round < 100000; round++) {
        bool moved = false;
        const uint8_t *p;
        ssize_t k;
        while ((k = nghttp2_session_mem_send(cl->h2, &p)) > 0) {
            moved = true;
            if (pp_grpc_conn_feed(g, p, (size_t)k, now_ns) != 0) return -1;
        }
        size_t n;
        const uint8_t *out = pp_grpc_conn_output(g, &n);
        if (n > 0) {
            moved = true;
            if (nghttp2_session_mem_recv(cl->h2, out, n) < 0) cl->eof = true;
        }
        if (!moved) return 0;
    }
    return 0;
}

void tu_call_once(int port, tu_call *c, const char *path, const char *ctype,
                  const char *const *extra, const uint8_t *body, size_t len) {
    tu_client cl;
    assert_int_equal(tu_client_connect(&cl, port), 0);
    c->body = body;
    c->body_len = len;
    c->end_stream = true;
    tu_client_submit(&cl, c, path, ctype, extra);
    assert_int_equal(tu_client_run(&cl, c, 1, 10000), 1);
    tu_client_close(&cl);
}

uint8_t *tu_grpc_frame(int flag, const uint8_t *msg, size_t n, size_t *out_len) {
    uint8_t *b = malloc(5 + n);
    b[0] = (uint8_t)flag;
    b[1] = (uint8_t)(n >> 24);
    b[2] = (uint8_t)(n >> 16);
    b[3] = (uint8_t)(n >> 8);
    b[4] = (uint8_t)n;
    if (n) memcpy(b + 5, msg, n);
    *out_len = 5 + n;
    return b;
}

uint8_t *tu_traces_bytes(size_t n, uint32_t seed, size_t *len) {
    pp_batch *b = tu_make_traces(1, 1, n, seed);
    *len = pp_batch_encoded_size(b);
    uint8_t *out = malloc(*len + 1);
    pp_batch_pack(b, out);
    pp_batch_unref(b);
    return out;
}

/* ---- raw frames ---- */

int tu_raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

void tu_raw_frame(uint8_t *o, uint32_t len, uint8_t type, uint8_t flags, uint32_t stream) {
    o[0] = (uint8_t)(len >> 16);
    o[1] = (uint8_t)(len >> 8);
    o[2] = (uint8_t)len;
    o[3] = type;
    o[4] = flags;
    o[5] = (uint8_t)(stream >> 24);
    o[6] = (uint8_t)(stream >> 16);
    o[7] = (uint8_t)(stream >> 8);
    o[8] = (uint8_t)stream;
}

int tu_raw_drain(int fd, int timeout_ms, bool *closed, char *debug, size_t debuglen) {
    static uint8_t buf[1 << 20];
    size_t len = 0;
    int64_t end = now_ms() + timeout_ms;
    *closed = false;
    while (now_ms() < end) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0) continue;
        ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (r <= 0) {
            *closed = true;
            break;
        }
        len += (size_t)r;
        if (len == sizeof(buf)) len = 0; /* only the tail matters */
    }
    int code = -1;
    for (size_t off = 0; off + 9 <= len;) { /* walk frames (server output starts at a frame) */
        uint32_t flen = (uint32_t)buf[off] << 16 | (uint32_t)buf[off + 1] << 8 | buf[off + 2];
        if (off + 9 + flen > len) break;
        if (buf[off + 3] == NGHTTP2_GOAWAY && flen >= 8) {
            const uint8_t *p = buf + off + 9;
            code = (int)((uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7]);
            if (debug) snprintf(debug, debuglen, "%.*s", (int)(flen - 8), (const char *)p + 8);
        }
        off += 9 + flen;
    }
    return code;
}
