/* Unit tests: the otlp exporter's h2c client (exporters/otlp/grpc_client.c)
 * against a scripted HTTP/2 server written here with nghttp2 on 127.0.0.1.
 * The server serves one connection at a time (the client never has two),
 * counts the connections it accepts, and answers each call as the script
 * says: OK, a Trailers-Only status, silence, a closed or reset connection,
 * RST_STREAM, or OK followed by a close (with or without GOAWAY). Its windows are nghttp2's
 * defaults (64 KiB), so large bodies wait on flow control. */
#include "testutil.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "exporters/otlp/grpc_client.h"
#include "exporters/otlp/grpc_result.h"

#define MS 1000000LL
#define TRACES_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

/* ---- the scripted server ---- */

typedef enum act {
    S_OK,         /* headers, an empty response message, trailers grpc-status 0 */
    S_STATUS,     /* Trailers-Only: grpc-status code, grpc-message msg (percent-encoded) */
    S_STALL,      /* never answer */
    S_CLOSE,      /* close the connection as soon as the request's HEADERS arrive */
    S_RESET,      /* the same with SO_LINGER 0: the client sees a TCP reset */
    S_RST_STREAM, /* RST_STREAM(REFUSED_STREAM) */
    S_OK_GOAWAY,  /* answer OK, then GOAWAY(NO_ERROR) and close */
    S_OK_CLOSE,   /* answer OK, then close without a word (an idle timeout, a proxy) */
} act;

typedef struct step {
    act a;
    int code;
    const char *msg;
} step;

typedef struct server {
    pthread_mutex_t mu;
    int lfd;
    uint16_t port;
    pthread_t thread;
    atomic_bool stop;
    step script[32];
    int nscript, next;
    /* observed */
    int accepts, calls;
    size_t body_len;     /* DATA bytes of the last request */
    uint64_t body_sum;   /* their byte sum */
    int64_t peer_stream_window, peer_conn_window; /* the client's windows, as the server sees them */
    char method[16], scheme[16], path[128], authority[64], ctype[64], te[32], tenant[64];
} server;

static server S;

typedef struct sconn {
    int fd;
    nghttp2_session *h2;
    int32_t id; /* the call being received */
    size_t len;
    uint64_t sum;
    bool close_now, reset_now, close_after_flush;
    uint8_t out[5];
    size_t outpos;
    nghttp2_nv trailers[1];
} sconn;

static ssize_t s_send(nghttp2_session *s, const uint8_t *d, size_t n, int flags, void *u) {
    (void)s, (void)flags;
    ssize_t w = send(((sconn *)u)->fd, d, n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return NGHTTP2_ERR_WOULDBLOCK;
    return w < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : w;
}

static void keep(char *dst, size_t n, const uint8_t *v, size_t vl) {
    snprintf(dst, n, "%.*s", (int)vl, (const char *)v);
}

static int s_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                    const uint8_t *v, size_t vl, uint8_t flags, void *u) {
    (void)s, (void)f, (void)flags, (void)u;
    pthread_mutex_lock(&S.mu);
#define H(n) (nl == sizeof(n) - 1 && !memcmp(name, n, nl))
    if (H(":method")) keep(S.method, sizeof(S.method), v, vl);
    else if (H(":scheme")) keep(S.scheme, sizeof(S.scheme), v, vl);
    else if (H(":path")) keep(S.path, sizeof(S.path), v, vl);
    else if (H(":authority")) keep(S.authority, sizeof(S.authority), v, vl);
    else if (H("content-type")) keep(S.ctype, sizeof(S.ctype), v, vl);
    else if (H("te")) keep(S.te, sizeof(S.te), v, vl);
    else if (H("x-tenant")) keep(S.tenant, sizeof(S.tenant), v, vl);
#undef H
    pthread_mutex_unlock(&S.mu);
    return 0;
}

static int s_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                  void *u) {
    (void)s, (void)flags, (void)id;
    sconn *c = u;
    c->len += n;
    for (size_t i = 0; i < n; i++) c->sum += d[i];
    return 0;
}

static ssize_t s_read_answer(nghttp2_session *s, int32_t id, uint8_t *buf, size_t n,
                             uint32_t *flags, nghttp2_data_source *src, void *u) {
    (void)src;
    sconn *c = u;
    size_t left = sizeof(c->out) - c->outpos;
    if (n > left) n = left;
    memcpy(buf, c->out + c->outpos, n);
    c->outpos += n;
    if (c->outpos == sizeof(c->out)) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_submit_trailer(s, id, c->trailers, 1);
    }
    return (ssize_t)n;
}

static nghttp2_nv NV(const char *n, const char *v) {
    return (nghttp2_nv){(uint8_t *)(uintptr_t)n, (uint8_t *)(uintptr_t)v, strlen(n), strlen(v),
                        NGHTTP2_NV_FLAG_NONE};
}

static void answer_ok(sconn *c) {
    memset(c->out, 0, sizeof(c->out)); /* an empty response message: full success */
    c->outpos = 0;
    c->trailers[0] = NV("grpc-status", "0");
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.read_callback = s_read_answer};
    nghttp2_submit_response(c->h2, c->id, nv, 2, &dp);
}

static step next_step(void) {
    pthread_mutex_lock(&S.mu);
    step st = S.next < S.nscript ? S.script[S.next++] : (step){S_OK, 0, NULL};
    pthread_mutex_unlock(&S.mu);
    return st;
}

static step current; /* the step for the call being received */

static int s_frame(nghttp2_session *s, const nghttp2_frame *f, void *u) {
    sconn *c = u;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        c->id = f->hd.stream_id;
        c->len = 0;
        c->sum = 0;
        current = next_step();
        pthread_mutex_lock(&S.mu);
        S.calls++;
        S.peer_stream_window = nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
        S.peer_conn_window = nghttp2_session_get_remote_window_size(s);
        pthread_mutex_unlock(&S.mu);
        if (current.a == S_CLOSE) c->close_now = true;
        if (current.a == S_RESET) c->reset_now = true;
    }
    if (f->hd.stream_id != c->id || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
        (f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS))
        return 0;
    pthread_mutex_lock(&S.mu);
    S.body_len = c->len;
    S.body_sum = c->sum;
    pthread_mutex_unlock(&S.mu);
    char code[8];
    switch (current.a) {
    case S_OK: answer_ok(c); break;
    case S_OK_GOAWAY:
        answer_ok(c);
        nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, c->id, NGHTTP2_NO_ERROR, NULL, 0);
        c->close_after_flush = true;
        break;
    case S_OK_CLOSE:
        answer_ok(c);
        c->close_after_flush = true;
        break;
    case S_STATUS: {
        snprintf(code, sizeof(code), "%d", current.code);
        nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                           NV("grpc-status", code), NV("grpc-message", current.msg)};
        nghttp2_submit_response(s, c->id, nv, 4, NULL);
        break;
    }
    case S_RST_STREAM: nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, c->id, NGHTTP2_REFUSED_STREAM); break;
    default: break; /* S_STALL: silence */
    }
    return 0;
}

static void serve(int fd) {
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, s_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, s_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, s_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, s_frame);
    sconn c = {.fd = fd};
    nghttp2_session_server_new(&c.h2, cb, &c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c.h2, NGHTTP2_FLAG_NONE, NULL, 0);
    while (!atomic_load(&S.stop)) {
        if (nghttp2_session_send(c.h2) != 0) break;
        if (c.close_after_flush && !nghttp2_session_want_write(c.h2)) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        uint8_t buf[16384];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0 || nghttp2_session_mem_recv(c.h2, buf, (size_t)n) < 0) break;
        if (c.reset_now) {
            struct linger l = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            break;
        }
        if (c.close_now) break;
    }
    if (c.close_after_flush) {
        /* A graceful close, as servers do: our FIN, then read until the
         * client's, so that its last frames do not turn the close into a
         * reset that discards the answer still queued. */
        shutdown(fd, SHUT_WR);
        uint8_t buf[4096];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (poll(&p, 1, 1000) > 0 && recv(fd, buf, sizeof(buf), 0) > 0) continue;
    }
    nghttp2_session_del(c.h2);
    close(fd);
}

static void *server_main(void *arg) {
    (void)arg;
    while (!atomic_load(&S.stop)) {
        struct pollfd p = {.fd = S.lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept(S.lfd, NULL, NULL);
        if (fd < 0) continue;
        int one = 1; /* frames go out as nghttp2 hands them over, not 40 ms later */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_mutex_lock(&S.mu);
        S.accepts++;
        pthread_mutex_unlock(&S.mu);
        serve(fd);
    }
    return NULL;
}

static void server_start(void) {
    pthread_mutex_destroy(&S.mu);
    memset(&S, 0, sizeof(S));
    pthread_mutex_init(&S.mu, NULL);
    S.lfd = tu_listen(&S.port);
    assert_true(S.lfd >= 0);
    assert_int_equal(pthread_create(&S.thread, NULL, server_main, NULL), 0);
}

static void server_stop(void) {
    atomic_store(&S.stop, true);
    pthread_join(S.thread, NULL);
    close(S.lfd);
}

static void say(act a, int code, const char *msg) {
    S.script[S.nscript++] = (step){a, code, msg};
}

static int accepts(void) {
    pthread_mutex_lock(&S.mu);
    int n = S.accepts;
    pthread_mutex_unlock(&S.mu);
    return n;
}

static int calls(void) {
    pthread_mutex_lock(&S.mu);
    int n = S.calls;
    pthread_mutex_unlock(&S.mu);
    return n;
}

/* ---- the client side ---- */

static char port_str[16], authority[32];
static pp_cfg_kv meta_items[3];
static pp_cfg_kvs meta = {meta_items, 3};

static pp_grpc_client *client_new(uint16_t port) {
    snprintf(port_str, sizeof(port_str), "%u", port);
    snprintf(authority, sizeof(authority), "127.0.0.1:%u", port);
    meta_items[0] = (pp_cfg_kv){(char *)"content-type", (char *)"application/grpc"};
    meta_items[1] = (pp_cfg_kv){(char *)"te", (char *)"trailers"};
    meta_items[2] = (pp_cfg_kv){(char *)"X-Tenant", (char *)"acme"}; /* sent lower case */
    pp_grpc_client_opts o = {.host = "127.0.0.1", .port = port_str, .authority = authority,
                             .metadata = &meta};
    pp_grpc_client *c = pp_grpc_client_new(&o);
    assert_non_null(c);
    return c;
}

static uint8_t small_body[5 + 3] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};
static _Atomic int64_t never = INT64_MAX;
static char err[256];

static pp_grpc_call_rc call(pp_grpc_client *c, const uint8_t *body, size_t len, int timeout_ms,
                            pp_egress_resp *resp) {
    err[0] = '\0';
    return pp_grpc_client_call(c, TRACES_PATH, body, len, timeout_ms * MS, &never, resp, err,
                               sizeof(err));
}

/* One call that must come back ANSWERED with grpc-status 0. */
static void call_ok(pp_grpc_client *c) {
    pp_egress_resp r = {0};
    pp_grpc_call_rc rc = call(c, small_body, sizeof(small_body), 5000, &r);
    if (rc != PP_GRPC_CALL_ANSWERED) fail_msg("call failed: %s", err);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.grpc_status, 0);
    assert_int_equal(r.len, 5);
    pp_egress_resp_free(&r);
}

static void test_calls_share_one_connection(void **state) {
    (void)state;
    server_start();
    pp_grpc_client *c = client_new(S.port);
    assert_int_equal(accepts(), 0); /* lazy: nothing before the first call */
    for (int i = 0; i < 50; i++) call_ok(c);
    assert_int_equal(calls(), 50);
    assert_int_equal(accepts(), 1);
    /* The request as the exporter sends it today. */
    assert_string_equal(S.method, "POST");
    assert_string_equal(S.scheme, "http");
    assert_string_equal(S.path, TRACES_PATH);
    assert_string_equal(S.authority, authority);
    assert_string_equal(S.ctype, "application/grpc");
    assert_string_equal(S.te, "trailers");
    assert_string_equal(S.tenant, "acme");
    assert_int_equal(S.body_len, sizeof(small_body));
    /* Our windows are opened wide, per stream and for the connection. */
    assert_true(S.peer_stream_window >= 1 << 20);
    assert_true(S.peer_conn_window >= 1 << 20);
    pp_grpc_client_free(c);
    server_stop();
}

static void test_trailers_only_is_classified(void **state) {
    (void)state;
    server_start();
    say(S_STATUS, 14, "backend%20busy");
    say(S_STATUS, 3, "span name is not valid UTF-8");
    say(S_STATUS, 8, "grpc: received message larger than max (5000 vs. 4194304)");
    pp_grpc_client *c = client_new(S.port);
    struct {
        pp_send_outcome outcome;
        const char *msg;
    } want[] = {{PP_SEND_RETRY, "UNAVAILABLE: backend busy"},
                {PP_SEND_PERMANENT, "INVALID_ARGUMENT: span name is not valid UTF-8"},
                {PP_SEND_TOO_LARGE, "RESOURCE_EXHAUSTED: grpc: received message larger than max"}};
    for (int i = 0; i < 3; i++) {
        pp_egress_resp r = {0};
        assert_int_equal(call(c, small_body, sizeof(small_body), 5000, &r), PP_GRPC_CALL_ANSWERED);
        assert_int_equal(r.len, 0);
        assert_string_equal(r.content_type, "application/grpc");
        pp_send_result res = {0};
        pp_grpc_classify(&r, PP_TRACES, &res);
        assert_int_equal(res.outcome, want[i].outcome);
        assert_non_null(strstr(res.msg, want[i].msg));
        pp_egress_resp_free(&r);
    }
    call_ok(c);
    assert_int_equal(accepts(), 1); /* an error answer leaves the connection usable */
    pp_grpc_client_free(c);
    server_stop();
}

static void test_closed_mid_call_then_reconnects(void **state) {
    (void)state;
    server_start();
    say(S_CLOSE, 0, NULL);
    say(S_OK, 0, NULL);
    say(S_RESET, 0, NULL);
    pp_grpc_client *c = client_new(S.port);
    char where[64];
    snprintf(where, sizeof(where), "by peer (%s)", authority);

    pp_egress_resp r = {0};
    assert_int_equal(call(c, small_body, sizeof(small_body), 5000, &r), PP_GRPC_CALL_FAILED);
    /* A close with the client's bytes unread may go out as a reset. */
    if (!strstr(err, "connection closed by peer") && !strstr(err, "connection reset by peer"))
        fail_msg("unexpected error: %s", err);
    assert_non_null(strstr(err, where));
    pp_egress_resp_free(&r);
    call_ok(c);
    assert_int_equal(accepts(), 2);

    assert_int_equal(call(c, small_body, sizeof(small_body), 5000, &r), PP_GRPC_CALL_FAILED);
    snprintf(where, sizeof(where), "connection reset by peer (%s)", authority);
    assert_string_equal(err, where);
    pp_egress_resp_free(&r);
    call_ok(c);
    assert_int_equal(accepts(), 3);
    pp_grpc_client_free(c);
    server_stop();
}

static void test_silent_server_times_out(void **state) {
    (void)state;
    server_start();
    say(S_STALL, 0, NULL);
    pp_grpc_client *c = client_new(S.port);
    pp_egress_resp r = {0};
    int64_t t0 = tu_mono_ns();
    assert_int_equal(call(c, small_body, sizeof(small_body), 300, &r), PP_GRPC_CALL_TIMEOUT);
    int64_t took = tu_mono_ns() - t0;
    assert_true(took >= 300 * MS);
    assert_true(took < 1300 * MS);
    char want[96];
    snprintf(want, sizeof(want), "no answer within 300 ms (%s)", authority);
    assert_string_equal(err, want);
    pp_egress_resp_free(&r);
    /* The stalled connection is gone: the next call opens another. */
    call_ok(c);
    assert_int_equal(accepts(), 2);
    pp_grpc_client_free(c);
    server_stop();
}

static _Atomic int64_t abort_at;

static void *move_abort_earlier(void *arg) {
    (void)arg;
    tu_sleep_ms(150);
    atomic_store(&abort_at, tu_mono_ns());
    return NULL;
}

static void test_abort_deadline_moved_while_waiting(void **state) {
    (void)state;
    server_start();
    say(S_STALL, 0, NULL);
    pp_grpc_client *c = client_new(S.port);
    atomic_store(&abort_at, INT64_MAX);
    pthread_t t;
    pthread_create(&t, NULL, move_abort_earlier, NULL);
    pp_egress_resp r = {0};
    int64_t t0 = tu_mono_ns();
    pp_grpc_call_rc rc = pp_grpc_client_call(c, TRACES_PATH, small_body, sizeof(small_body),
                                             30000 * MS, &abort_at, &r, err, sizeof(err));
    int64_t took = tu_mono_ns() - t0;
    pthread_join(t, NULL);
    assert_int_equal(rc, PP_GRPC_CALL_ABORTED);
    assert_true(took >= 150 * MS);
    assert_true(took < 1000 * MS);
    assert_non_null(strstr(err, "aborted at the shutdown deadline"));
    pp_egress_resp_free(&r);
    /* Already past: no call at all. */
    rc = pp_grpc_client_call(c, TRACES_PATH, small_body, sizeof(small_body), 30000 * MS, &abort_at,
                             &r, err, sizeof(err));
    assert_int_equal(rc, PP_GRPC_CALL_ABORTED);
    assert_int_equal(calls(), 1);
    pp_egress_resp_free(&r);
    pp_grpc_client_free(c);
    server_stop();
}

static void test_large_body_under_flow_control(void **state) {
    (void)state;
    server_start();
    size_t n = 3u << 20;
    uint8_t *body = malloc(n + 5);
    assert_non_null(body);
    body[0] = 0;
    body[1] = (uint8_t)(n >> 24), body[2] = (uint8_t)(n >> 16), body[3] = (uint8_t)(n >> 8),
    body[4] = (uint8_t)n;
    uint64_t rng = 42, sum = 0;
    for (size_t i = 5; i < n + 5; i++) body[i] = (uint8_t)tu_rand(&rng);
    for (size_t i = 0; i < n + 5; i++) sum += body[i];
    pp_grpc_client *c = client_new(S.port);
    for (int k = 0; k < 2; k++) {
        pp_egress_resp r = {0};
        pp_grpc_call_rc rc = call(c, body, n + 5, 20000, &r);
        if (rc != PP_GRPC_CALL_ANSWERED) fail_msg("call %d failed: %s", k, err);
        assert_int_equal(r.grpc_status, 0);
        pthread_mutex_lock(&S.mu);
        assert_int_equal(S.body_len, n + 5);
        assert_true(S.body_sum == sum);
        pthread_mutex_unlock(&S.mu);
        pp_egress_resp_free(&r);
    }
    assert_int_equal(accepts(), 1);
    free(body);
    pp_grpc_client_free(c);
    server_stop();
}

static void test_stream_reset_goaway_and_idle_close(void **state) {
    (void)state;
    server_start();
    say(S_RST_STREAM, 0, NULL);
    say(S_OK_GOAWAY, 0, NULL);
    say(S_OK_CLOSE, 0, NULL);
    pp_grpc_client *c = client_new(S.port);
    pp_egress_resp r = {0};
    assert_int_equal(call(c, small_body, sizeof(small_body), 5000, &r), PP_GRPC_CALL_FAILED);
    char want[96];
    snprintf(want, sizeof(want), "stream reset by peer (REFUSED_STREAM) (%s)", authority);
    assert_string_equal(err, want);
    pp_egress_resp_free(&r);
    /* Answered, then GOAWAY and close; answered, then closed while idle:
     * each time the next call notices before sending and goes out on a new
     * connection, without an error. */
    call_ok(c);
    tu_sleep_ms(100);
    call_ok(c);
    tu_sleep_ms(100);
    call_ok(c);
    assert_int_equal(accepts(), 4);
    assert_int_equal(calls(), 4);
    pp_grpc_client_free(c);
    server_stop();
}

static void test_nobody_listening(void **state) {
    (void)state;
    uint16_t port = tu_free_port();
    pp_grpc_client *c = client_new(port);
    pp_egress_resp r = {0};
    assert_int_equal(call(c, small_body, sizeof(small_body), 5000, &r), PP_GRPC_CALL_FAILED);
    char want[96];
    snprintf(want, sizeof(want), "cannot connect: connection refused (%s)", authority);
    assert_string_equal(err, want);
    pp_egress_resp_free(&r);
    pp_grpc_client_free(c);
}

static int setup(void **state) {
    (void)state;
    pthread_mutex_init(&S.mu, NULL);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_share_one_connection),
        cmocka_unit_test(test_trailers_only_is_classified),
        cmocka_unit_test(test_closed_mid_call_then_reconnects),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_abort_deadline_moved_while_waiting),
        cmocka_unit_test(test_large_body_under_flow_control),
        cmocka_unit_test(test_stream_reset_goaway_and_idle_close),
        cmocka_unit_test(test_nobody_listening),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
