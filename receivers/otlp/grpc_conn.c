/* grpc_conn.c -- one HTTP/2 connection serving unary OTLP/gRPC calls.
 *
 * Sans-I/O: bytes go in with pp_grpc_conn_feed, bytes to send come out of
 * pp_grpc_conn_output, time passes with pp_grpc_conn_tick. The socket side
 * (plaintext or TLS) lives in grpc_server.c, and the fuzzer drives this file
 * with no socket at all.
 *
 * A call: HEADERS are checked when complete (content-type, auth, route,
 * encoding); the 5-byte message prefix is checked before a byte of body is
 * buffered (size limit, connection budget, pp_ingest_admit); at END_STREAM
 * the message is inflated (bounded) and handed to pp_ingest_protobuf on this
 * thread. Errors go out as Trailers-Only responses.
 *
 * Backpressure is HTTP/2 flow control, as in grpc-go: a client that sends more
 * than the connection's budget waits for WINDOW_UPDATEs, it is not refused.
 * Windows are managed by hand (nghttp2_option_set_no_auto_window_update):
 *
 * - A stream's "claim" is what it may make us hold: the DATA bytes it sent
 *   (kept) plus what its window still lets it send. Every stream starts with
 *   lim->stream_window (SETTINGS_INITIAL_WINDOW_SIZE). The claims of a
 *   connection's streams add up to at most max_conn_buffered; we never grant
 *   window beyond that, so the bytes held (c->buffered) stay under it too.
 * - When a message's prefix declares its length L, the stream is admitted if
 *   its claim can grow to 5 + L within the budget: one WINDOW_UPDATE lets the
 *   client send the whole message. Otherwise it waits, in FIFO order, holding
 *   only what its initial window let through, until earlier messages are
 *   processed and release their claims (pump()).
 * - stream_window is small enough that max_streams windows plus one maximal
 *   message fit (pp_grpc_limits_fit), so the head of the queue can always be
 *   admitted once the admitted messages are done: no deadlock.
 * - The connection window is consumed as soon as bytes arrive: per-stream
 *   grants are the bound, and a connection window that never closes cannot
 *   deadlock streams that hold window of their own.
 * - A stream waiting for window is not "stalled": its stall timer starts when
 *   it is admitted. */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc_internal.h"

#define HEADER_LIST_MAX (16 * 1024)
#define TRACES_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define METRICS_PATH "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
#define MAX_PING_STRIKES 2

typedef struct gstream gstream;
struct gstream {
    pp_grpc_conn *conn;
    gstream *prev, *next;
    int32_t id;
    size_t header_bytes;
    char path[96];
    char ctype[48];
    char enc[24];
    char *auth; /* the authenticator header's value, or NULL */
    bool is_post, has_ctype;
    bool answered;     /* a response was submitted; later DATA is ignored */
    bool remote_ended; /* END_STREAM seen from the client */
    bool rst_after_reply; /* answered early: RST_STREAM(NO_ERROR) once the reply is out */
    bool waiting;      /* prefix seen, not admitted: we withhold its window */
    gstream *wnext;    /* the admission queue */
    int64_t last_activity;
    size_t rx;         /* DATA payload bytes received */
    /* the request message */
    uint8_t prefix[5];
    size_t prefix_got;
    bool compressed;
    uint8_t *msg;
    size_t msg_len, msg_got, msg_cap; /* declared, received, allocated */
    size_t admitted; /* bytes reserved with pp_ingest_admit */
    pp_signal sig;
};

struct pp_grpc_conn {
    const pp_grpc_limits *lim;
    nghttp2_session *h2;
    gstream *streams;
    size_t nstreams;
    size_t buffered; /* body bytes allocated by this connection's streams */
    gstream *whead, *wtail; /* streams waiting for admission, oldest first */
    int64_t now, created, last_recv, last_busy;
    size_t peak; /* the most c->buffered has been */
    bool got_settings;
    bool going_away;
    bool fatal; /* close once the output is flushed */
    bool error_counted;
    /* rapid reset: RST_STREAMs from the client in the current second */
    int64_t rst_window;
    uint32_t rst_count;
    /* keepalive */
    bool ping_outstanding;
    int64_t ping_sent, last_ping_recv;
    int ping_strikes;
    /* pending output */
    uint8_t *out;
    size_t out_len, out_cap;
};

void pp_grpc_limits_fit(pp_grpc_limits *l) {
    size_t streams = l->max_streams ? l->max_streams : 1, msg = l->max_msg + 5;
    size_t w = l->max_conn_buffered > msg ? (l->max_conn_buffered - msg) / streams : 0;
    if (w > NGHTTP2_INITIAL_WINDOW_SIZE) w = NGHTTP2_INITIAL_WINDOW_SIZE;
    if (w < 1024) {
        w = 1024;
        l->max_conn_buffered = msg + streams * w;
    }
    l->stream_window = (uint32_t)w;
}

int64_t pp_grpc_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * PP_GRPC_SEC + ts.tv_nsec;
}

static void count_error(pp_grpc_conn *c, pp_grpc_err e) {
    c->error_counted = true;
    if (c->lim->errors[e]) pp_counter_add(c->lim->errors[e], 1);
}

/* Ends the connection: GOAWAY with this error, then close once flushed. */
static void fail_conn(pp_grpc_conn *c, pp_grpc_err e, uint32_t h2err, const char *debug) {
    if (c->fatal) return;
    count_error(c, e);
    c->fatal = true;
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                          h2err, (const uint8_t *)debug, debug ? strlen(debug) : 0);
}

/* ---- responses ---- */

/* nghttp2_nv wants mutable pointers but copies the bytes (no NO_COPY flags). */
#define NV(n, v)                                                                             \
    {(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1, strlen(v),          \
     NGHTTP2_NV_FLAG_NONE}

static void unqueue(gstream *s) {
    pp_grpc_conn *c = s->conn;
    if (!s->waiting) return;
    s->waiting = false;
    gstream **pp = &c->whead, *prev = NULL;
    while (*pp && *pp != s) {
        prev = *pp;
        pp = &(*pp)->wnext;
    }
    if (*pp) *pp = s->wnext;
    if (c->wtail == s) c->wtail = prev;
    s->wnext = NULL;
}

static void drop_body(gstream *s) {
    pp_grpc_conn *c = s->conn;
    unqueue(s);
    if (s->admitted) pp_ingest_release(c->lim->in, s->admitted);
    c->buffered -= s->msg_cap;
    s->admitted = 0;
    s->msg_len = s->msg_cap = 0;
    free(s->msg);
    s->msg = NULL;
}

/* A reply sent before the client finished sending is followed by
 * RST_STREAM(NO_ERROR) so the client stops (PROTOCOL-HTTP2). Not submitted
 * here: nghttp2 marks a stream closing as soon as an RST is queued and would
 * then drop the reply itself; on_frame_send submits it. */
static void after_reply(gstream *s) {
    s->answered = true;
    drop_body(s);
    s->rst_after_reply = !s->remote_ended;
}

static void reply_http(gstream *s, const char *status) {
    nghttp2_nv h[] = {NV(":status", status)};
    nghttp2_submit_response(s->conn->h2, s->id, h, 1, NULL);
    after_reply(s);
}

/* Trailers-Only: one HEADERS frame with END_STREAM. */
static void reply_error(gstream *s, const pp_status *st) {
    int code = pp_grpc_code(st->code);
    char codestr[8], msg[3 * sizeof(st->msg) + 1];
    snprintf(codestr, sizeof(codestr), "%d", code);
    pp_grpc_percent_encode(st->msg, msg, sizeof(msg));
    nghttp2_nv h[6] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                       NV("grpc-status", codestr), NV("grpc-message", msg)};
    size_t n = 4;
    char *details = NULL;
    if ((st->code == PP_UNAVAILABLE || st->code == PP_THROTTLED) && st->retry_after_ms > 0 &&
        (details = pp_grpc_status_details(code, st->msg, st->retry_after_ms)) != NULL)
        h[n++] = (nghttp2_nv)NV("grpc-status-details-bin", details);
    if (st->code == PP_UNIMPLEMENTED && pp_grpc_enc_parse(s->enc) == PP_GRPC_UNKNOWN)
        h[n++] = (nghttp2_nv)NV("grpc-accept-encoding", PP_GRPC_ACCEPT_ENCODING);
    nghttp2_submit_response(s->conn->h2, s->id, h, n, NULL); /* copies the values */
    free(details);
    after_reply(s);
}

static int fail_call(gstream *s, pp_code code, const char *msg) {
    pp_status st = {0};
    pp_fail(&st, code, "%s", msg);
    reply_error(s, &st);
    return 0;
}

/* The response message: an empty Export*ServiceResponse (full success). */
static ssize_t read_response(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
                             uint32_t *flags, nghttp2_data_source *src, void *user) {
    (void)src;
    (void)user;
    static const uint8_t empty[5] = {0, 0, 0, 0, 0};
    if (len < sizeof(empty)) return NGHTTP2_ERR_DEFERRED; /* cannot happen: frames are >= 16 KiB */
    memcpy(buf, empty, sizeof(empty));
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv t[] = {NV("grpc-status", "0")};
    if (nghttp2_submit_trailer(h2, id, t, 1) != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)sizeof(empty);
}

static void reply_ok(gstream *s) {
    nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider dp = {.read_callback = read_response};
    nghttp2_submit_response(s->conn->h2, s->id, h, 2, &dp);
    after_reply(s);
}

/* ---- the call ---- */

static int check_request(gstream *s) {
    pp_grpc_conn *c = s->conn;
    pp_ingest *in = c->lim->in;
    if (!s->has_ctype || strncmp(s->ctype, "application/grpc", 16) != 0) {
        reply_http(s, "415");
        return 0;
    }
    if (in->auth) {
        pp_status st = {0};
        if (pp_ingest_authenticate(in, s->auth, &st) != 0) {
            st.code = PP_UNAUTHENTICATED;
            reply_error(s, &st);
            return 0;
        }
    }
    if (s->is_post && strcmp(s->path, TRACES_PATH) == 0) {
        s->sig = PP_TRACES;
    } else if (s->is_post && strcmp(s->path, METRICS_PATH) == 0) {
        s->sig = PP_METRICS;
    } else {
        char msg[160];
        snprintf(msg, sizeof(msg), "unknown method %s", s->path);
        return fail_call(s, PP_UNIMPLEMENTED, msg);
    }
    if (!pp_ingest_has(in, s->sig)) {
        pp_status st = {0};
        pp_fail(&st, PP_UNIMPLEMENTED, "no %s pipeline takes data from receiver %s",
                pp_signal_name(s->sig), in->receiver_id);
        reply_error(s, &st);
        return 0;
    }
    if (pp_grpc_enc_parse(s->enc) == PP_GRPC_UNKNOWN) {
        char msg[96];
        snprintf(msg, sizeof(msg), "grpc-encoding \"%s\" is not supported", s->enc);
        return fail_call(s, PP_UNIMPLEMENTED, msg);
    }
    return 0;
}

/* What s may still make us hold: what it sent plus what its window allows. */
static size_t claim(const gstream *s) {
    if (s->answered) return 0; /* later DATA is dropped */
    int32_t w = nghttp2_session_get_stream_local_window_size(s->conn->h2, s->id);
    return s->rx + (w > 0 ? (size_t)w : 0);
}

static size_t claims(const pp_grpc_conn *c) {
    size_t sum = 0;
    for (const gstream *s = c->streams; s; s = s->next) sum += claim(s);
    return sum;
}

static void note_buffered(pp_grpc_conn *c) {
    if (c->buffered <= c->peak) return;
    c->peak = c->buffered;
    _Atomic size_t *p = c->lim->peak_buffered;
    if (!p) return;
    size_t old = atomic_load(p);
    while (old < c->buffered && !atomic_compare_exchange_weak(p, &old, c->buffered)) {}
}

/* Grows s's message buffer to n bytes (n <= msg_len). */
static int hold_bytes(gstream *s, size_t n) {
    pp_grpc_conn *c = s->conn;
    if (n <= s->msg_cap && s->msg) return 0;
    uint8_t *p = realloc(s->msg, n ? n : 1);
    if (!p) {
        fail_call(s, PP_UNAVAILABLE, "out of memory");
        return -1;
    }
    s->msg = p;
    c->buffered += n - s->msg_cap;
    s->msg_cap = n;
    note_buffered(c);
    return 0;
}

/* Admits s's message if its claim can grow to the whole message within the
 * budget (and the process's admission gate lets it in): opens its window.
 * Returns false when s must wait; true when it was admitted or answered. */
static bool try_admit(gstream *s) {
    pp_grpc_conn *c = s->conn;
    size_t need = 5 + s->msg_len, have = claim(s), more = need > have ? need - have : 0;
    pp_status st = {0};
    if (more > INT32_MAX) { /* no HTTP/2 window can grant it */
        unqueue(s);
        pp_fail(&st, PP_TOO_LARGE, "message larger than a stream window (%zu bytes)", s->msg_len);
        reply_error(s, &st);
        return true;
    }
    if (more > 0 && claims(c) + more > c->lim->max_conn_buffered) return false;
    unqueue(s);
    if (pp_ingest_admit(c->lim->in, s->msg_len, &st) != 0) {
        if (st.code != PP_UNAVAILABLE) st.code = PP_UNAVAILABLE;
        if (st.retry_after_ms == 0) st.retry_after_ms = 1000;
        reply_error(s, &st);
        return true;
    }
    s->admitted = s->msg_len;
    if (hold_bytes(s, s->msg_len) != 0) return true;
    if (more > 0 && nghttp2_submit_window_update(c->h2, NGHTTP2_FLAG_NONE, s->id, (int32_t)more) != 0) {
        fail_call(s, PP_UNAVAILABLE, "cannot open the stream's window");
        return true;
    }
    s->last_activity = c->now; /* the stall timer runs from now */
    return true;
}

/* Admits waiting streams, oldest first, while they fit. */
static void pump(pp_grpc_conn *c) {
    for (int i = 0; c->whead && i < 1 << 20; i++)
        if (!try_admit(c->whead)) break;
}

/* The 5-byte prefix is complete: decide before buffering the body. */
static void begin_message(gstream *s) {
    pp_grpc_conn *c = s->conn;
    uint32_t len = (uint32_t)s->prefix[1] << 24 | (uint32_t)s->prefix[2] << 16 |
                   (uint32_t)s->prefix[3] << 8 | s->prefix[4];
    pp_status st = {0};
    if (s->prefix[0] > 1) {
        fail_call(s, PP_INTERNAL, "invalid compressed flag");
        return;
    }
    s->compressed = s->prefix[0] == 1;
    if (s->compressed && pp_grpc_enc_parse(s->enc) == PP_GRPC_IDENTITY) {
        fail_call(s, PP_INTERNAL, "compressed flag set without grpc-encoding");
        return;
    }
    if (len > c->lim->max_msg) {
        pp_fail(&st, PP_TOO_LARGE, "message larger than max (%u vs %zu)", len, c->lim->max_msg);
        reply_error(s, &st);
        return;
    }
    s->msg_len = len;
    /* FIFO: behind waiting streams unless its window already covers it. */
    if ((!c->whead || 5 + (size_t)len <= claim(s)) && try_admit(s)) return;
    /* Wait for room, keeping what the stream's window lets through meanwhile.
     * More than the budget only when the client was given more window than
     * we planned (streams opened before it acknowledged our SETTINGS). */
    size_t have = claim(s), hold = have - 5 < len ? have - 5 : len;
    if (claims(c) > c->lim->max_conn_buffered) {
        pp_fail(&st, PP_UNAVAILABLE, "too much data in flight on this connection");
        st.retry_after_ms = 1000;
        reply_error(s, &st);
        return;
    }
    if (hold_bytes(s, hold) != 0) return;
    s->waiting = true;
    if (c->wtail) c->wtail->wnext = s;
    else c->whead = s;
    c->wtail = s;
}

static void on_body(gstream *s, const uint8_t *p, size_t n) {
    while (n > 0 && !s->answered) {
        if (s->prefix_got < 5) {
            size_t k = 5 - s->prefix_got < n ? 5 - s->prefix_got : n;
            memcpy(s->prefix + s->prefix_got, p, k);
            s->prefix_got += k;
            p += k;
            n -= k;
            if (s->prefix_got == 5) begin_message(s);
        } else if (s->msg_got < s->msg_len) {
            if (s->msg_got == s->msg_cap) { /* more than its window allowed (padding refunds) */
                fail_call(s, PP_UNAVAILABLE, "too much data in flight on this connection");
                break;
            }
            size_t k = s->msg_cap - s->msg_got < n ? s->msg_cap - s->msg_got : n;
            memcpy(s->msg + s->msg_got, p, k);
            s->msg_got += k;
            p += k;
            n -= k;
        } else {
            fail_call(s, PP_INTERNAL, "more than one request message in a unary call");
        }
    }
}

static void end_call(gstream *s) {
    pp_grpc_conn *c = s->conn;
    s->remote_ended = true;
    if (s->answered) return;
    if (s->prefix_got < 5 || s->msg_got < s->msg_len) {
        fail_call(s, PP_INTERNAL,
                  s->prefix_got ? "truncated request message" : "missing request message");
        return;
    }
    pp_status st = {0};
    const uint8_t *msg = s->msg;
    size_t len = s->msg_len;
    uint8_t *inflated = NULL;
    int rc = 0;
    if (s->compressed)
        rc = pp_grpc_inflate(pp_grpc_enc_parse(s->enc), s->msg, s->msg_len, c->lim->max_msg,
                             &inflated, &len, &st);
    if (rc == 0) {
        if (inflated) msg = inflated;
        rc = pp_ingest_protobuf(c->lim->in, s->sig, msg ? msg : (const uint8_t *)"", len, &st);
    }
    free(inflated);
    if (rc == 0)
        reply_ok(s);
    else
        reply_error(s, &st);
}

/* ---- nghttp2 callbacks ---- */

static gstream *stream_of(pp_grpc_conn *c, int32_t id) {
    return nghttp2_session_get_stream_user_data(c->h2, id);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user) {
    pp_grpc_conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    gstream *s = calloc(1, sizeof(*s));
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->conn = c;
    s->id = f->hd.stream_id;
    s->last_activity = c->now;
    s->next = c->streams;
    if (c->streams) c->streams->prev = s;
    c->streams = s;
    c->nstreams++;
    c->last_busy = c->now;
    nghttp2_session_set_stream_user_data(h2, s->id, s);
    return 0;
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t n) {
    if (n >= cap) n = cap - 1; /* over-long values cannot match anything we accept */
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user) {
    (void)h2;
    (void)flags;
    pp_grpc_conn *c = user;
    gstream *s = stream_of(c, f->hd.stream_id);
    if (!s || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0; /* trailers: ignored */
    s->header_bytes += namelen + valuelen + 32; /* RFC 7541 entry size */
    if (s->header_bytes > HEADER_LIST_MAX) {
        count_error(c, PP_GRPC_ERR_HEADERS);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM this call */
    }
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
    if (IS(":path")) {
        copy_value(s->path, sizeof(s->path), value, valuelen);
    } else if (IS(":method")) {
        s->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
    } else if (IS("content-type")) {
        s->has_ctype = true;
        copy_value(s->ctype, sizeof(s->ctype), value, valuelen);
    } else if (IS("grpc-encoding")) {
        copy_value(s->enc, sizeof(s->enc), value, valuelen);
    } else {
        pp_server_auth *a = c->lim->in->auth;
        if (a && !s->auth && strlen(a->header) == namelen && memcmp(a->header, name, namelen) == 0) {
            s->auth = malloc(valuelen + 1);
            if (!s->auth) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            memcpy(s->auth, value, valuelen);
            s->auth[valuelen] = '\0';
        }
    }
#undef IS
    return 0;
}

static void on_rst_stream(pp_grpc_conn *c) {
    if (c->now - c->rst_window >= PP_GRPC_SEC) {
        c->rst_window = c->now;
        c->rst_count = 0;
    }
    if (++c->rst_count > c->lim->max_resets_per_sec)
        fail_conn(c, PP_GRPC_ERR_RAPID_RESET, NGHTTP2_ENHANCE_YOUR_CALM, "too_many_resets");
}

/* The Collector's (grpc-go's) keepalive enforcement policy. */
static void on_ping(pp_grpc_conn *c) {
    bool strike;
    if (c->nstreams == 0 && !c->lim->permit_ping_without_stream)
        strike = c->last_ping_recv != 0 && c->now - c->last_ping_recv < 2 * 3600 * PP_GRPC_SEC;
    else
        strike = c->last_ping_recv != 0 && c->now - c->last_ping_recv < c->lim->min_ping_ns;
    c->last_ping_recv = c->now;
    if (strike && ++c->ping_strikes > MAX_PING_STRIKES)
        fail_conn(c, PP_GRPC_ERR_TOO_MANY_PINGS, NGHTTP2_ENHANCE_YOUR_CALM, "too_many_pings");
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user) {
    (void)h2;
    pp_grpc_conn *c = user;
    c->last_recv = c->now;
    gstream *s = f->hd.stream_id ? stream_of(c, f->hd.stream_id) : NULL;
    if (s) s->last_activity = c->now;
    switch (f->hd.type) {
    case NGHTTP2_SETTINGS: c->got_settings = true; break;
    case NGHTTP2_HEADERS:
        if (!s) break;
        if (f->headers.cat == NGHTTP2_HCAT_REQUEST) check_request(s);
        if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) end_call(s);
        break;
    case NGHTTP2_DATA:
        if (s && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) end_call(s);
        break;
    case NGHTTP2_RST_STREAM: on_rst_stream(c); break;
    case NGHTTP2_PING:
        if (f->hd.flags & NGHTTP2_FLAG_ACK)
            c->ping_outstanding = false;
        else
            on_ping(c);
        break;
    default: break;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user) {
    (void)flags;
    pp_grpc_conn *c = user;
    /* The connection window is only a formality: streams' windows bound what
     * is held (see the top of this file). */
    if (nghttp2_is_fatal(nghttp2_session_consume_connection(h2, len))) return NGHTTP2_ERR_CALLBACK_FAILURE;
    gstream *s = stream_of(c, id);
    if (!s || s->answered) return 0;
    s->rx += len;
    s->last_activity = c->now;
    on_body(s, data, len);
    return 0;
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *user) {
    pp_grpc_conn *c = user;
    if (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) {
        c->ping_strikes = 0;
        gstream *s = stream_of(c, f->hd.stream_id);
        if (s && s->rst_after_reply && !s->remote_ended && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            s->rst_after_reply = false;
            nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
        }
    }
    /* nghttp2 found a protocol error itself and said GOAWAY: count it. */
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR && !c->error_counted)
        count_error(c, PP_GRPC_ERR_PROTOCOL);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t err, void *user) {
    (void)err;
    pp_grpc_conn *c = user;
    gstream *s = stream_of(c, id);
    if (!s) return 0;
    nghttp2_session_set_stream_user_data(h2, id, NULL);
    drop_body(s);
    if (s->prev) s->prev->next = s->next;
    else c->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    c->nstreams--;
    c->last_busy = c->now;
    free(s->auth);
    free(s);
    return 0;
}

/* ---- the connection ---- */

pp_grpc_conn *pp_grpc_conn_new(const pp_grpc_limits *lim, int64_t now_ns) {
    pp_grpc_conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->lim = lim;
    c->now = c->created = c->last_recv = c->last_busy = c->rst_window = now_ns;
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0) goto fail;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        goto fail;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    /* nghttp2's own flood guards (1.52 + Debian's CVE backports); our
     * per-second RST_STREAM count in on_rst_stream is stricter. */
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_no_auto_window_update(opt, 1); /* flow control: see the top */
    int rc = nghttp2_session_server_new2(&c->h2, cb, c, opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (rc != 0) goto fail;
    pp_grpc_limits fit = *lim;
    uint32_t window = lim->stream_window;
    if (!window) {
        pp_grpc_limits_fit(&fit);
        window = fit.stream_window;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->max_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, HEADER_LIST_MAX},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window},
    };
    size_t conn_window = lim->max_conn_buffered < INT32_MAX ? lim->max_conn_buffered : INT32_MAX;
    if (conn_window < NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) conn_window = NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE;
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, (int32_t)conn_window) != 0) {
        nghttp2_session_del(c->h2);
        goto fail;
    }
    return c;
fail:
    free(c);
    return NULL;
}

void pp_grpc_conn_free(pp_grpc_conn *c) {
    if (!c) return;
    nghttp2_session_del(c->h2); /* closes the streams: on_stream_close frees them */
    while (c->streams) { /* streams nghttp2 never saw as opened (not expected) */
        gstream *s = c->streams;
        c->streams = s->next;
        drop_body(s);
        free(s->auth);
        free(s);
    }
    free(c->out);
    free(c);
}

int pp_grpc_conn_feed(pp_grpc_conn *c, const uint8_t *buf, size_t len, int64_t now_ns) {
    c->now = now_ns;
    if (c->fatal) return -1;
    ssize_t rv = nghttp2_session_mem_recv(c->h2, buf, len);
    if (rv < 0) {
        /* Not HTTP/2 (bad preface), or a flood nghttp2 refused. */
        fail_conn(c, PP_GRPC_ERR_PROTOCOL, NGHTTP2_PROTOCOL_ERROR, nghttp2_strerror((int)rv));
        return -1;
    }
    pump(c); /* messages processed above made room */
    return c->fatal ? -1 : 0;
}

const uint8_t *pp_grpc_conn_output(pp_grpc_conn *c, size_t *len) {
    c->out_len = 0;
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->h2, &p);
        if (n <= 0) {
            if (n < 0) c->fatal = true;
            break;
        }
        if (c->out_len + (size_t)n > c->out_cap) {
            size_t cap = c->out_cap ? c->out_cap : 16384;
            while (cap < c->out_len + (size_t)n) cap *= 2;
            uint8_t *np = realloc(c->out, cap);
            if (!np) {
                c->fatal = true;
                break;
            }
            c->out = np;
            c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, p, (size_t)n);
        c->out_len += (size_t)n;
    }
    *len = c->out_len;
    return c->out;
}

void pp_grpc_conn_goaway(pp_grpc_conn *c) {
    if (c->going_away || c->fatal) return;
    c->going_away = true;
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

bool pp_grpc_conn_done(const pp_grpc_conn *c) {
    if (c->fatal) return true;
    return !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2);
}

int pp_grpc_conn_tick(pp_grpc_conn *c, int64_t now) {
    const pp_grpc_limits *l = c->lim;
    c->now = now;
    if (c->fatal) return -1;
    if (!c->got_settings && now - c->created > l->preface_timeout_ns) {
        count_error(c, PP_GRPC_ERR_TIMEOUT);
        return -1;
    }
    for (gstream *s = c->streams; s; s = s->next) {
        if (!s->answered && !s->waiting && now - s->last_activity > l->stream_stall_ns) {
            count_error(c, PP_GRPC_ERR_TIMEOUT);
            s->answered = true;
            drop_body(s);
            nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        }
    }
    pump(c);
    if (l->idle_ns > 0 && c->nstreams == 0 && now - c->last_busy > l->idle_ns) pp_grpc_conn_goaway(c);
    if (l->age_ns > 0 && now - c->created > l->age_ns) {
        pp_grpc_conn_goaway(c);
        if (l->age_grace_ns > 0 && now - c->created > l->age_ns + l->age_grace_ns) return -1;
    }
    if (c->ping_outstanding) {
        if (now - c->ping_sent > l->ping_timeout_ns) {
            count_error(c, PP_GRPC_ERR_TIMEOUT);
            return -1;
        }
    } else if (l->ping_time_ns > 0 && now - c->last_recv > l->ping_time_ns) {
        c->ping_outstanding = true;
        c->ping_sent = now;
        nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, NULL);
    }
    return 0;
}
