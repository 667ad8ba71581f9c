/* Unit tests: the otlp (gRPC) exporter end to end against a scripted HTTP/2
 * gRPC peer written here with nghttp2 on 127.0.0.1. The peer decodes every
 * request it gets; each test asserts what arrived, what was counted as sent,
 * failed or dropped (and why), and that nothing else was lost. */
#include "testutil.h"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "compress.h"
#include "config.h"
#include "drops.h"
#include "exporter.h"
#include "google/rpc/status.pb-c.h"
#include "receivers/otlp/grpc_internal.h"
#include "exporters/otlp/grpc_result.h"
#include "service.h"
#include "testutil_world.h"

#define MS 1000000LL

/* ---- the scripted gRPC peer ---- */

typedef enum act { A_OK, A_STATUS, A_STALL, A_PARTIAL } act;
typedef struct answer {
    act a;
    int code;
    const char *msg;
    int retry_ms; /* RetryInfo delay, 0 = none */
    int rejected;
} answer;

typedef struct peer {
    pthread_mutex_t lock;
    int lfd;
    uint16_t port;
    bool stop;
    pthread_t acceptor;
    answer script[16];
    int nscript, next;
    size_t too_large_over; /* > 0: RESOURCE_EXHAUSTED "larger than max" above this */
    int requests;
    size_t accepted;   /* items answered OK (minus rejected) */
    size_t seen;       /* items in every decoded request */
    char encoding[32], te[32], ctype[64], ua[64], tenant[64], path[128], timeout[32];
    int conns;
} peer;

static peer P;

typedef struct stream {
    int32_t id;
    uint8_t *buf;
    size_t len;
    char encoding[32];
    bool metrics; /* per stream: requests of both signals may be in flight at once */
    uint8_t out[256]; /* response message frame */
    size_t outlen, outpos;
    nghttp2_nv trailers[2];
    char status[8];
} stream;

/* One connection: its socket and every stream it opened (freed at the end,
 * since streams left open by a stall never see on_stream_close). */
typedef struct conn {
    int fd;
    stream *streams[256];
    int nstreams;
} conn;

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *u) {
    (void)s, (void)flags;
    int fd = ((conn *)u)->fd;
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *u) {
    conn *c = u;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (c->nstreams == 256) return NGHTTP2_ERR_CALLBACK_FAILURE;
    stream *st = calloc(1, sizeof(*st));
    c->streams[c->nstreams++] = st;
    st->id = f->hd.stream_id;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
    return 0;
}

static void setv(char *dst, size_t n, const uint8_t *v, size_t vl) {
    snprintf(dst, n, "%.*s", (int)vl, (const char *)v);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *v, size_t vl, uint8_t flags, void *u) {
    (void)flags, (void)u;
    stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st) return 0;
    pthread_mutex_lock(&P.lock);
#define H(n) (nl == sizeof(n) - 1 && !memcmp(name, n, nl))
    if (H("grpc-encoding")) {
        setv(P.encoding, sizeof(P.encoding), v, vl);
        setv(st->encoding, sizeof(st->encoding), v, vl);
    } else if (H("te")) setv(P.te, sizeof(P.te), v, vl);
    else if (H("content-type")) setv(P.ctype, sizeof(P.ctype), v, vl);
    else if (H("user-agent")) setv(P.ua, sizeof(P.ua), v, vl);
    else if (H("x-tenant")) setv(P.tenant, sizeof(P.tenant), v, vl);
    else if (H("grpc-timeout")) setv(P.timeout, sizeof(P.timeout), v, vl);
    else if (H(":path")) {
        setv(P.path, sizeof(P.path), v, vl);
        st->metrics = strstr(P.path, "Metrics") != NULL;
    }
#undef H
    pthread_mutex_unlock(&P.lock);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *u) {
    (void)flags, (void)u;
    stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st) return 0;
    st->buf = realloc(st->buf, st->len + len);
    memcpy(st->buf + st->len, data, len);
    st->len += len;
    return 0;
}

static ssize_t read_out(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *u) {
    (void)u;
    stream *st = src->ptr;
    size_t n = st->outlen - st->outpos;
    if (n > len) n = len;
    memcpy(buf, st->out + st->outpos, n);
    st->outpos += n;
    if (st->outpos == st->outlen) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_submit_trailer(s, id, st->trailers, 1);
    }
    return (ssize_t)n;
}

static nghttp2_nv NV(const char *n, const char *v) {
    return (nghttp2_nv){(uint8_t *)(uintptr_t)n, (uint8_t *)(uintptr_t)v, strlen(n), strlen(v),
                        NGHTTP2_NV_FLAG_NONE};
}

/* A Trailers-Only error answer, with RetryInfo when retry_ms > 0. */
static void answer_status(nghttp2_session *s, int32_t id, int code, const char *msg, int retry_ms) {
    char c[8];
    snprintf(c, sizeof(c), "%d", code);
    /* The receiver's own encoder of google.rpc.Status + RetryInfo (base64). */
    char *b64 = retry_ms > 0 ? pp_grpc_status_details(code, msg, (uint32_t)retry_ms) : NULL;
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                       NV("grpc-status", c), NV("grpc-message", msg),
                       NV("grpc-status-details-bin", b64 ? b64 : "")};
    nghttp2_submit_response(s, id, nv, b64 ? 5 : 4, NULL); /* nghttp2 copies the values */
    free(b64);
}

static void respond(nghttp2_session *s, stream *st) {
    /* Decode what came: frame, decompression, protobuf. */
    size_t items = 0;
    bool ok = st->len >= 5;
    uint32_t mlen = ok ? (uint32_t)st->buf[1] << 24 | (uint32_t)st->buf[2] << 16 |
                             (uint32_t)st->buf[3] << 8 | st->buf[4] : 0;
    ok = ok && mlen == st->len - 5;
    uint8_t *plain = NULL;
    size_t plen = 0;
    pp_compression c = PP_COMP_NONE;
    if (ok) {
        ok = pp_compression_parse(st->buf[0] ? st->encoding : "none", &c) == 0 &&
             pp_decompress(c, st->buf + 5, mlen, 64u << 20, &plain, &plen) == 0;
    }
    bool metrics = st->metrics;
    pp_status pst;
    pp_batch *b = ok ? pp_batch_decode(metrics ? PP_METRICS : PP_TRACES, plain, plen, &pst) : NULL;
    free(plain);
    if (!b) {
        answer_status(s, st->id, 13, "peer could not decode the request", 0);
        return;
    }
    items = b->items;
    pp_batch_unref(b);

    pthread_mutex_lock(&P.lock);
    P.requests++;
    P.seen += items;
    answer a = {.a = A_OK};
    if (P.too_large_over && items > P.too_large_over)
        a = (answer){.a = A_STATUS, .code = 8,
                     .msg = "grpc: received message larger than max (5000 vs. 4194304)"};
    else if (P.next < P.nscript) a = P.script[P.next++];
    if (a.a == A_OK) P.accepted += items;
    if (a.a == A_PARTIAL) P.accepted += items - (size_t)a.rejected;
    pthread_mutex_unlock(&P.lock);

    if (a.a == A_STALL) return; /* never answer */
    if (a.a == A_STATUS) {
        answer_status(s, st->id, a.code, a.msg, a.retry_ms);
        return;
    }
    /* OK: headers, one response message, trailers with grpc-status 0. */
    uint8_t msg[128];
    size_t n = 0;
    if (a.a == A_PARTIAL) {
        Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps;
        opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&ps);
        ps.rejected_spans = a.rejected;
        ps.error_message = (char *)"bad span ids";
        pp_traces_resp r;
        opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&r);
        r.partial_success = &ps;
        n = opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&r, msg);
    }
    st->out[0] = 0;
    st->out[1] = st->out[2] = st->out[3] = 0;
    st->out[4] = (uint8_t)n;
    memcpy(st->out + 5, msg, n);
    st->outlen = n + 5;
    snprintf(st->status, sizeof(st->status), "0");
    st->trailers[0] = (nghttp2_nv){(uint8_t *)"grpc-status", (uint8_t *)st->status, 11, 1,
                                   NGHTTP2_NV_FLAG_NONE};
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_out};
    nghttp2_submit_response(s, st->id, nv, 2, &dp);
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *u) {
    (void)u;
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
        if (st) respond(s, st);
    }
    return 0;
}

static void *conn_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session *s;
    conn c = {.fd = fd};
    nghttp2_session_server_new(&s, cb, &c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
    nghttp2_session_send(s);
    for (;;) {
        pthread_mutex_lock(&P.lock);
        bool stop = P.stop;
        pthread_mutex_unlock(&P.lock);
        if (stop) break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 20) > 0) {
            uint8_t buf[16384];
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0 || nghttp2_session_mem_recv(s, buf, (size_t)n) < 0) break;
        }
        if (nghttp2_session_send(s) != 0) break;
    }
    nghttp2_session_del(s);
    close(fd);
    for (int i = 0; i < c.nstreams; i++) {
        free(c.streams[i]->buf);
        free(c.streams[i]);
    }
    return NULL;
}

static void *acceptor_main(void *arg) {
    (void)arg;
    pthread_t threads[64];
    int n = 0;
    for (;;) {
        pthread_mutex_lock(&P.lock);
        bool stop = P.stop;
        pthread_mutex_unlock(&P.lock);
        if (stop) break;
        struct pollfd pfd = {.fd = P.lfd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0) continue;
        int fd = accept(P.lfd, NULL, NULL);
        if (fd < 0 || n == 64) {
            if (fd >= 0) close(fd);
            continue;
        }
        pthread_mutex_lock(&P.lock);
        P.conns++;
        pthread_mutex_unlock(&P.lock);
        pthread_create(&threads[n++], NULL, conn_main, (void *)(intptr_t)fd);
    }
    for (int i = 0; i < n; i++) pthread_join(threads[i], NULL);
    close(P.lfd);
    return NULL;
}

static void peer_reset(void) {
    pthread_mutex_destroy(&P.lock);
    memset(&P, 0, sizeof(P));
    pthread_mutex_init(&P.lock, NULL);
}

static void peer_start(uint16_t port) {
    P.port = port;
    P.lfd = tu_listen(&P.port);
    assert_true(P.lfd >= 0);
    pthread_create(&P.acceptor, NULL, acceptor_main, NULL);
}

static void peer_stop(void) {
    pthread_mutex_lock(&P.lock);
    P.stop = true;
    pthread_mutex_unlock(&P.lock);
    pthread_join(P.acceptor, NULL);
}

static void say(act a, int code, const char *msg, int retry_ms, int rejected) {
    P.script[P.nscript++] = (answer){a, code, msg, retry_ms, rejected};
}

/* ---- a service with a fake receiver feeding the otlp exporter ---- */

static tu_recv *the_recv;

/* A service: the fake receiver feeding the exporter under test, started. */
static tu_world *world_new(const char *exporter_yaml) {
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "receivers: {tu_recv: }\n"
             "exporters:\n%s"
             "service:\n  pipelines:\n"
             "    traces: {receivers: [tu_recv], exporters: [otlp]}\n"
             "    metrics: {receivers: [tu_recv], exporters: [otlp]}\n",
             exporter_yaml);
    tu_world *w = tu_world_new(yaml);
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    the_recv = pp_service_instance(w->svc, PP_RECEIVER, "tu_recv", NULL);
    assert_non_null(the_recv);
    return w;
}

static void world_free(tu_world *w) { tu_world_free(w); }

static int send_spans(size_t n, uint32_t seed) {
    pp_batch *b = tu_make_traces(1, 2, n / 2, seed);
    pp_status st = {0};
    int rc = tu_recv_push(the_recv, b, &st);
    pp_batch_unref(b);
    return rc;
}

static uint64_t counter(tu_world *w, const char *name) {
    const char *l[] = {"exporter", "otlp", NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, name, "", l));
}
static uint64_t dropped(tu_world *w, const char *reason) {
    return pp_counter_value(pp_drops_counter(w->host.metrics, "exporter/otlp", PP_TRACES, reason));
}
static uint64_t all_dropped(tu_world *w) {
    return dropped(w, "permanent_error") + dropped(w, "retries_exhausted") +
           dropped(w, "too_large") + dropped(w, "shutdown_deadline");
}

/* Waits (bounded) until counter `name` reaches n. */
static void await_counter(tu_world *w, const char *name, uint64_t n) {
    for (int i = 0; i < 5000 && counter(w, name) < n; i++) tu_sleep_ms(1);
}

static char cfg_text[1024];
static const char *retry_yaml = "{initial_interval: 10ms, max_interval: 50ms}";
static const char *timeout_yaml = "3s"; /* generous: ASan builds under a loaded ctest are slow */
static const char *exporter_cfg(uint16_t port, const char *extra) {
    snprintf(cfg_text, sizeof(cfg_text),
             "  otlp:\n"
             "    endpoint: 127.0.0.1:%u\n"
             "    tls: {insecure: true}\n"
             "    timeout: %s\n"
             "    headers: {x-tenant: acme}\n"
             "    retry_on_failure: %s\n"
             "    sending_queue: {num_consumers: 2}\n"
             "%s",
             port, timeout_yaml, retry_yaml, extra);
    return cfg_text;
}

static void test_sends_with_each_compression(void **state) {
    (void)state;
    const char *comps[] = {"gzip", "zstd", "snappy", "none"};
    const char *wire[] = {"gzip", "zstd", "snappy", "identity"};
    for (int i = 0; i < 4; i++) {
        peer_reset();
        peer_start(0);
        char extra[64];
        snprintf(extra, sizeof(extra), "    compression: %s\n", comps[i]);
        tu_world *w = world_new(exporter_cfg(P.port, extra));
        for (uint32_t k = 0; k < 5; k++) assert_int_equal(send_spans(10, k), 0);
        pp_batch *m = tu_make_metrics(3, 4, 9);
        pp_status st = {0};
        assert_int_equal(tu_recv_push(the_recv, m, &st), 0);
        pp_batch_unref(m);
        await_counter(w, "otelcol_exporter_sent_spans", 50);
        await_counter(w, "otelcol_exporter_sent_metric_points", 12);
        world_free(w);
        peer_stop();
        assert_int_equal(P.accepted, 62);
        assert_int_equal(P.seen, 62);
        assert_int_equal(P.requests, 6);
        assert_string_equal(P.encoding, wire[i]);
        assert_string_equal(P.te, "trailers");
        assert_string_equal(P.ctype, "application/grpc");
        assert_string_equal(P.tenant, "acme");
        assert_non_null(strstr(P.ua, "pipit/"));
        assert_string_equal(P.timeout, "3000m"); /* timeout: 3s */
        /* One kept connection per consumer thread (num_consumers: 2). */
        assert_true(P.conns <= 2);
    }
}

static void test_unavailable_three_times_then_ok(void **state) {
    (void)state;
    peer_reset();
    for (int i = 0; i < 3; i++) say(A_STATUS, 14, "backend warming up", 0, 0);
    peer_start(0);
    tu_world *w = world_new(exporter_cfg(P.port, ""));
    assert_int_equal(send_spans(20, 1), 0);
    await_counter(w, "otelcol_exporter_sent_spans", 20);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 20);
    assert_int_equal(counter(w, "pipit_exporter_retries"), 3);
    world_free(w);
    peer_stop();
    assert_int_equal(P.requests, 4);
    assert_int_equal(P.accepted, 20); /* exactly once */
}

static void test_resource_exhausted(void **state) {
    (void)state;
    /* With RetryInfo: retried after the server's delay, not the 60s backoff. */
    peer_reset();
    say(A_STATUS, 8, "quota", 40, 0);
    peer_start(0);
    retry_yaml = "{initial_interval: 60s, max_interval: 60s}";
    tu_world *w = world_new(exporter_cfg(P.port, ""));
    retry_yaml = "{initial_interval: 10ms, max_interval: 50ms}";
    int64_t t0 = tu_mono_ns();
    assert_int_equal(send_spans(6, 1), 0);
    await_counter(w, "otelcol_exporter_sent_spans", 6);
    int64_t took = tu_mono_ns() - t0;
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 6);
    assert_true(took >= 40 * MS && took < 5000 * MS);
    world_free(w);
    peer_stop();
    assert_int_equal(P.requests, 2);

    /* Without RetryInfo: permanent. */
    peer_reset();
    say(A_STATUS, 8, "quota exceeded for tenant", 0, 0);
    peer_start(0);
    w = world_new(exporter_cfg(P.port, ""));
    assert_int_equal(send_spans(6, 1), 0);
    for (int i = 0; i < 3000 && dropped(w, "permanent_error") < 6; i++) tu_sleep_ms(1);
    assert_int_equal(dropped(w, "permanent_error"), 6);
    world_free(w);
    peer_stop();
    assert_int_equal(P.requests, 1);
}

static void test_too_large_is_split(void **state) {
    (void)state;
    peer_reset();
    P.too_large_over = 8;
    peer_start(0);
    tu_world *w = world_new(exporter_cfg(P.port, ""));
    assert_int_equal(send_spans(30, 1), 0);
    await_counter(w, "otelcol_exporter_sent_spans", 30);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 30);
    assert_int_equal(all_dropped(w), 0);
    world_free(w);
    peer_stop();
    assert_int_equal(P.accepted, 30);
    assert_int_equal(P.seen, 30 + 30 + 30); /* 30 -> 15+15 -> 7+8, 7+8: each level resends all */
    assert_int_equal(P.requests, 7);
}

static void test_invalid_argument_dropped(void **state) {
    (void)state;
    peer_reset();
    say(A_STATUS, 3, "span name is not valid UTF-8", 0, 0);
    peer_start(0);
    tu_world *w = world_new(exporter_cfg(P.port, ""));
    assert_int_equal(send_spans(8, 1), 0);
    for (int i = 0; i < 3000 && dropped(w, "permanent_error") < 8; i++) tu_sleep_ms(1);
    assert_int_equal(dropped(w, "permanent_error"), 8);
    assert_int_equal(counter(w, "otelcol_exporter_send_failed_spans"), 8);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 0);
    assert_int_equal(counter(w, "pipit_exporter_retries"), 0);
    world_free(w);
    peer_stop();
    assert_int_equal(P.requests, 1);
}

static void test_stall_past_timeout_then_ok(void **state) {
    (void)state;
    peer_reset();
    say(A_STALL, 0, NULL, 0, 0);
    peer_start(0);
    timeout_yaml = "300ms";
    tu_world *w = world_new(exporter_cfg(P.port, ""));
    timeout_yaml = "3s";
    assert_int_equal(send_spans(4, 1), 0);
    await_counter(w, "otelcol_exporter_sent_spans", 4);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 4);
    assert_int_equal(counter(w, "pipit_exporter_retries"), 1);
    world_free(w);
    peer_stop();
    assert_int_equal(P.requests, 2);
    assert_int_equal(P.accepted, 4);
}

/* grpc-timeout has at most 8 digits: a long timeout changes unit. */
static void test_long_timeout_header(void **state) {
    (void)state;
    static const struct { const char *yaml, *header; } cases[] = {
        {"1500us", "2m"},        {"99999s", "99999000m"}, {"100000s", "100000S"},
        {"8760h", "31536000S"},  {"30000h", "1800000M"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        peer_reset();
        peer_start(0);
        timeout_yaml = cases[i].yaml;
        tu_world *w = world_new(exporter_cfg(P.port, ""));
        timeout_yaml = "3s";
        assert_int_equal(send_spans(2, 1), 0);
        await_counter(w, "otelcol_exporter_sent_spans", 2);
        world_free(w);
        peer_stop();
        assert_string_equal(P.timeout, cases[i].header);
    }
}

static void test_refused_connections_then_back(void **state) {
    (void)state;
    peer_reset();
    uint16_t port = tu_free_port();
    /* Failures open the breaker; it probes every 100ms until the peer is back. */
    tu_world *w = world_new(exporter_cfg(port, "    circuit_breaker: {cool_down: 100ms}\n"));
    for (uint32_t k = 0; k < 3; k++) assert_int_equal(send_spans(10, k), 0);
    tu_sleep_ms(300); /* nobody listens: connection refused, retried */
    assert_true(counter(w, "pipit_exporter_retries") >= 1);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 0);
    peer_start(port);
    await_counter(w, "otelcol_exporter_sent_spans", 30);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 30);
    assert_int_equal(all_dropped(w), 0);
    world_free(w);
    peer_stop();
    assert_int_equal(P.accepted, 30);
}

static void test_partial_success(void **state) {
    (void)state;
    peer_reset();
    say(A_PARTIAL, 0, NULL, 0, 3);
    peer_start(0);
    tu_world *w = world_new(exporter_cfg(P.port, ""));
    assert_int_equal(send_spans(10, 1), 0);
    await_counter(w, "otelcol_exporter_send_failed_spans", 3);
    assert_int_equal(counter(w, "otelcol_exporter_sent_spans"), 7);
    assert_int_equal(counter(w, "otelcol_exporter_send_failed_spans"), 3);
    assert_int_equal(counter(w, "pipit_exporter_retries"), 0);
    world_free(w);
    peer_stop();
    assert_int_equal(P.requests, 1);
}

static void test_retry_delay_decoding(void **state) {
    (void)state;
    char *b64 = pp_grpc_status_details(14, "later", 2500);
    assert_int_equal(pp_grpc_retry_delay(b64), 2500 * MS);
    free(b64);
    assert_int_equal(pp_grpc_retry_delay("not base64!"), 0);
    assert_int_equal(pp_grpc_retry_delay(NULL), 0);
}

static void test_config_errors(void **state) {
    (void)state;
    const char *bad[] = {
        "exporters: {otlp: {endpoint: 'ftp://x:1'}}\n",
        "exporters: {otlp: {endpoint: 'x:1', sending_queue: {enabled: false, storage: file_storage}}}\n",
        "exporters: {otlp: {endpoint: 'x:1', compression: brotli}}\n",
        "exporters: {otlp: {}}\n",
        "exporters: {otlp: {endpoint: 'x:1', retry_on_failure: {multiplier: 0.5}}}\n",
    };
    const char *expect[][2] = {
        {"exporters.otlp.endpoint", "host:port"},
        {"exporters.otlp.sending_queue.storage", "sending queue"},
        {"exporters.otlp.compression", "brotli"},
        {"exporters.otlp.endpoint", "required"},
        {"exporters.otlp.retry_on_failure", "multiplier"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "receivers: {tu_recv: }\n%sservice: {pipelines: {traces: {receivers: [tu_recv], "
                 "exporters: [otlp]}}}\n",
                 bad[i]);
        pp_diag d;
        pp_diag_init(&d);
        const char *texts[] = {yaml}, *names[] = {"t.yaml"};
        pp_config *c = pp_config_load_texts(texts, names, 1, &d);
        assert_null(c);
        if (!pp_diag_has(&d, expect[i][0], expect[i][1])) {
            pp_diag_print(&d, stderr);
            fail_msg("case %zu: no error at %s mentioning %s", i, expect[i][0], expect[i][1]);
        }
        pp_diag_free(&d);
    }
}

static int setup(void **state) {
    (void)state;
    tu_world_register_fakes();
    pthread_mutex_init(&P.lock, NULL);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_delay_decoding),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_sends_with_each_compression),
        cmocka_unit_test(test_unavailable_three_times_then_ok),
        cmocka_unit_test(test_resource_exhausted),
        cmocka_unit_test(test_too_large_is_split),
        cmocka_unit_test(test_invalid_argument_dropped),
        cmocka_unit_test(test_stall_past_timeout_then_ok),
        cmocka_unit_test(test_long_timeout_header),
        cmocka_unit_test(test_refused_connections_then_back),
        cmocka_unit_test(test_partial_success),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
