/* grpc_client.c -- see grpc_client.h.
 *
 * The socket is non-blocking and a call is a loop: hand what nghttp2 has to
 * send to the socket (flush), poll for input (and for room while output
 * waits), feed what arrives to nghttp2, until the server ends the stream.
 * nghttp2's data provider paces the body by the server's flow-control
 * windows; our own windows are opened wide at connect, although answers are
 * small. */
#include "grpc_client.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define TICK_NS (20 * MS)      /* longest single poll: *abort_at_ns is re-read this often */
#define WINDOW (8 << 20)       /* our stream and connection receive windows */
#define OUT_CHUNK (128u << 10) /* nghttp2's small frames are gathered into writes this big */
#define KEEPALIVE_S 60         /* TCP keepalive idle and interval unless configured */

enum { NV_METHOD, NV_SCHEME, NV_PATH, NV_AUTHORITY, NV_FIXED };

struct pp_grpc_client {
    char *host, *port, *authority;
    nghttp2_nv *nv; /* request headers: NV_FIXED pseudo-headers, then the metadata */
    size_t nnv;
    int keepidle_s, keepintvl_s;

    /* the connection */
    int fd; /* -1: none */
    nghttp2_session *h2;
    uint8_t *out; /* output not yet written: out[out_off..out_len) */
    size_t out_off, out_len, out_cap;
    bool goaway;
    uint32_t goaway_code;

    /* the call in flight (id 0: none; callbacks ignore every other stream) */
    int32_t id;
    const uint8_t *body;
    size_t len, off;
    pp_egress_resp *resp;
    bool answered;   /* END_STREAM from the server: the answer is whole */
    bool closed;     /* the stream is closed (close_code says how) */
    bool peer_reset; /* ... by the server's RST_STREAM */
    bool oom;
    uint32_t close_code;

    char why[160]; /* the last connection failure, in words */
    uint8_t in[64 << 10];
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* c->why = prefix + strerror(e), starting lower case ("connection reset by peer"). */
static void why_errno(pp_grpc_client *c, const char *prefix, int e) {
    char buf[96];
    const char *s = e == EPIPE ? "connection closed by peer" : strerror_r(e, buf, sizeof(buf));
    int n = snprintf(c->why, sizeof(c->why), "%s%s", prefix, s);
    size_t at = strlen(prefix);
    if (n > 0 && at < sizeof(c->why)) c->why[at] = (char)tolower((unsigned char)c->why[at]);
}

/* ---- nghttp2 callbacks ---- */

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t n, uint32_t *flags,
                         nghttp2_data_source *src, void *u) {
    (void)s, (void)src;
    pp_grpc_client *c = u;
    /* A stream whose call has returned: its body may be freed already. */
    if (id != c->id) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t left = c->len - c->off;
    if (n > left) n = left;
    if (n) memcpy(buf, c->body + c->off, n);
    c->off += n;
    if (c->off == c->len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* Headers and trailers alike: a Trailers-Only answer has grpc-status in the
 * only HEADERS frame, a normal one in the trailing one. */
static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *u) {
    (void)s, (void)flags;
    pp_grpc_client *c = u;
    if (f->hd.stream_id != c->id || !c->id) return 0;
    if (nl == 7 && !memcmp(name, ":status", 7)) {
        char v[8];
        snprintf(v, sizeof(v), "%.*s", (int)(vl < 7 ? vl : 7), (const char *)value);
        pp_egress_resp_restart(c->resp); /* a final answer after a 1xx starts afresh */
        c->resp->http_status = atol(v);
        return 0;
    }
    pp_egress_resp_header(c->resp, (const char *)name, nl, (const char *)value, vl);
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *u) {
    (void)s, (void)flags;
    pp_grpc_client *c = u;
    if (id != c->id || !c->id) return 0;
    if (!pp_egress_resp_body(c->resp, data, len)) {
        c->oom = true;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *u) {
    (void)s;
    pp_grpc_client *c = u;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = true;
        c->goaway_code = f->goaway.error_code;
    }
    if (f->hd.stream_id != c->id || !c->id) return 0;
    if (f->hd.type == NGHTTP2_RST_STREAM) c->peer_reset = true;
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        c->answered = true;
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *u) {
    (void)s;
    pp_grpc_client *c = u;
    if (id == c->id && c->id) {
        c->closed = true;
        c->close_code = code;
    }
    return 0;
}

/* ---- the connection ---- */

static void conn_close(pp_grpc_client *c) {
    if (c->h2) nghttp2_session_del(c->h2);
    c->h2 = NULL;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->out_off = c->out_len = 0;
    c->goaway = false;
}

/* Waits for events on fd. Returns its revents, or 0 with *rc set once the
 * deadline or *abort_at passes (or poll fails). */
static short wait_fd(pp_grpc_client *c, int fd, short events, int64_t deadline,
                     const _Atomic int64_t *abort_at, pp_grpc_call_rc *rc) {
    for (;;) {
        int64_t now = now_ns(), until = deadline;
        if (abort_at) {
            int64_t a = atomic_load(abort_at);
            if (now >= a) {
                *rc = PP_GRPC_CALL_ABORTED;
                return 0;
            }
            if (a < until) until = a;
        }
        if (now >= until) {
            *rc = PP_GRPC_CALL_TIMEOUT;
            return 0;
        }
        int64_t wait = until - now < TICK_NS ? until - now : TICK_NS;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)((wait + MS - 1) / MS));
        if (n > 0) return p.revents;
        if (n < 0 && errno != EINTR) {
            why_errno(c, "poll: ", errno);
            *rc = PP_GRPC_CALL_FAILED;
            return 0;
        }
    }
}

static void tune_socket(pp_grpc_client *c, int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &c->keepidle_s, sizeof(c->keepidle_s));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &c->keepintvl_s, sizeof(c->keepintvl_s));
}

/* The socket: each address of host in turn until one accepts. 0, or -1 with
 * *rc (and c->why for a failure) set. */
static int dial(pp_grpc_client *c, int64_t deadline, const _Atomic int64_t *abort_at,
                pp_grpc_call_rc *rc) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(c->host, c->port, &hints, &res);
    if (g != 0) {
        if (g == EAI_SYSTEM) why_errno(c, "cannot resolve the host: ", errno);
        else snprintf(c->why, sizeof(c->why), "cannot resolve the host: %s", gai_strerror(g));
        *rc = PP_GRPC_CALL_FAILED;
        return -1;
    }
    int err = ECONNREFUSED;
    *rc = PP_GRPC_CALL_FAILED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                err = errno;
                close(fd);
                continue;
            }
            if (!wait_fd(c, fd, POLLOUT, deadline, abort_at, rc)) {
                close(fd);
                break; /* out of time: the other addresses would be too */
            }
            socklen_t l = sizeof(err);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) err = errno;
            if (err) {
                close(fd);
                continue;
            }
        }
        c->fd = fd;
        break;
    }
    freeaddrinfo(res);
    if (c->fd >= 0) return 0;
    if (*rc == PP_GRPC_CALL_FAILED) why_errno(c, "cannot connect: ", err);
    return -1;
}

/* A new connection and HTTP/2 session, our SETTINGS queued. */
static int conn_open(pp_grpc_client *c, int64_t deadline, const _Atomic int64_t *abort_at,
                     pp_grpc_call_rc *rc) {
    if (dial(c, deadline, abort_at, rc) != 0) return -1;
    tune_socket(c, c->fd);
    *rc = PP_GRPC_CALL_FAILED;
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0) goto oom;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    int r = nghttp2_session_client_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (r != 0) {
        c->h2 = NULL;
        goto oom;
    }
    /* Large windows so an answer never waits on us; the server's windows,
     * which pace our bodies, stay open for as long as the connection does. */
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW}};
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, WINDOW) != 0)
        goto oom;
    return 0;
oom:
    snprintf(c->why, sizeof(c->why), "out of memory opening an HTTP/2 session");
    conn_close(c);
    return -1;
}

/* Writes what nghttp2 has to send, gathered into writes of up to OUT_CHUNK,
 * until it has nothing more (0) or the socket is full (0, output left in
 * c->out: poll for POLLOUT). -1 with c->why set on failure. */
static int flush(pp_grpc_client *c) {
    for (;;) {
        while (c->out_off < c->out_len) {
            ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
                why_errno(c, "", errno);
                return -1;
            }
            c->out_off += (size_t)n;
        }
        c->out_off = c->out_len = 0;
        while (c->out_len < OUT_CHUNK) {
            const uint8_t *p;
            ssize_t n = nghttp2_session_mem_send(c->h2, &p);
            if (n < 0) {
                snprintf(c->why, sizeof(c->why), "HTTP/2: %s", nghttp2_strerror((int)n));
                return -1;
            }
            if (n == 0) break;
            if (c->out_len + (size_t)n > c->out_cap) {
                size_t cap = c->out_len + (size_t)n + OUT_CHUNK;
                uint8_t *o = realloc(c->out, cap);
                if (!o) {
                    snprintf(c->why, sizeof(c->why), "out of memory sending");
                    return -1;
                }
                c->out = o;
                c->out_cap = cap;
            }
            memcpy(c->out + c->out_len, p, (size_t)n);
            c->out_len += (size_t)n;
        }
        if (c->out_len == 0) return 0;
    }
}

/* Feeds what has arrived to nghttp2 (at most a few MiB per call). -1 with
 * c->why set on EOF, a socket error or a protocol error. */
static int read_some(pp_grpc_client *c) {
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);
        if (n == 0) {
            if (c->goaway)
                snprintf(c->why, sizeof(c->why), "connection closed by peer after GOAWAY (%s)",
                         nghttp2_http2_strerror(c->goaway_code));
            else snprintf(c->why, sizeof(c->why), "connection closed by peer");
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            why_errno(c, "", errno);
            return -1;
        }
        ssize_t r = nghttp2_session_mem_recv(c->h2, c->in, (size_t)n);
        if (r < 0) {
            if (c->oom) snprintf(c->why, sizeof(c->why), "out of memory reading the answer");
            else snprintf(c->why, sizeof(c->why), "HTTP/2 protocol error: %s", nghttp2_strerror((int)r));
            return -1;
        }
        if ((size_t)n < sizeof(c->in)) return 0; /* most likely drained: spare a recv */
    }
    return 0;
}

/* Whether the kept connection can take a call: first reads what came while
 * it was idle (the server's SETTINGS and PINGs, a GOAWAY, EOF) and answers
 * it. A connection the server has left is found here, before a request is
 * lost on it. */
static bool conn_usable(pp_grpc_client *c) {
    if (c->fd < 0) return false;
    if (read_some(c) != 0 || flush(c) != 0) return false;
    return !c->goaway && nghttp2_session_check_request_allowed(c->h2) &&
           nghttp2_session_want_read(c->h2);
}

/* ---- the client ---- */

static char *lower_dup(const char *s) {
    char *d = strdup(s);
    for (char *p = d; p && *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

static nghttp2_nv nv_static(const char *name, const char *value) {
    return (nghttp2_nv){(uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, strlen(name),
                        value ? strlen(value) : 0, NGHTTP2_NV_FLAG_NONE};
}

/* Seconds as the libcurl path counts them (ns / 1e9 + 1); Linux takes at most 32767. */
static int keepalive_s(int64_t ns) {
    if (ns <= 0) return KEEPALIVE_S;
    int64_t s = ns / 1000000000LL + 1;
    return s > 32767 ? 32767 : (int)s;
}

pp_grpc_client *pp_grpc_client_new(const pp_grpc_client_opts *o) {
    pp_grpc_client *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->fd = -1;
    c->keepidle_s = keepalive_s(o->keepalive_idle_ns);
    c->keepintvl_s = keepalive_s(o->keepalive_interval_ns);
    size_t nmeta = o->metadata ? o->metadata->count : 0;
    c->host = strdup(o->host);
    c->port = strdup(o->port);
    c->authority = strdup(o->authority);
    c->nv = calloc(NV_FIXED + nmeta, sizeof(*c->nv));
    c->out_cap = OUT_CHUNK + (32u << 10);
    c->out = malloc(c->out_cap);
    if (!c->host || !c->port || !c->authority || !c->nv || !c->out) goto oom;
    c->nv[NV_METHOD] = nv_static(":method", "POST");
    c->nv[NV_SCHEME] = nv_static(":scheme", "http");
    c->nv[NV_PATH] = nv_static(":path", "/");
    c->nv[NV_AUTHORITY] = nv_static(":authority", c->authority);
    c->nnv = NV_FIXED;
    for (size_t i = 0; i < nmeta; i++) {
        const pp_cfg_kv *kv = &o->metadata->items[i];
        if (!kv->key || !kv->key[0]) continue;
        char *name = lower_dup(kv->key), *value = strdup(kv->value ? kv->value : "");
        if (!name || !value) {
            free(name);
            free(value);
            goto oom;
        }
        c->nv[c->nnv++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name),
                                       strlen(value), NGHTTP2_NV_FLAG_NONE};
    }
    return c;
oom:
    pp_grpc_client_free(c);
    return NULL;
}

void pp_grpc_client_free(pp_grpc_client *c) {
    if (!c) return;
    conn_close(c);
    for (size_t i = NV_FIXED; i < c->nnv; i++) {
        free(c->nv[i].name);
        free(c->nv[i].value);
    }
    free(c->nv);
    free(c->out);
    free(c->host);
    free(c->port);
    free(c->authority);
    free(c);
}

/* err for a call that got no whole answer. */
static void describe(const pp_grpc_client *c, pp_grpc_call_rc rc, int64_t timeout_ns,
                     bool connecting, char *err, size_t errlen) {
    if (rc == PP_GRPC_CALL_ABORTED)
        snprintf(err, errlen, "aborted at the shutdown deadline (%s)", c->authority);
    else if (rc == PP_GRPC_CALL_TIMEOUT)
        snprintf(err, errlen, "%s %lld ms (%s)", connecting ? "cannot connect within" : "no answer within",
                 (long long)(timeout_ns / MS), c->authority);
    else if (c->why[0])
        snprintf(err, errlen, "%s (%s)", c->why, c->authority);
    else if (c->closed && c->peer_reset)
        snprintf(err, errlen, "stream reset by peer (%s) (%s)",
                 nghttp2_http2_strerror(c->close_code), c->authority);
    else if (c->closed && c->goaway)
        snprintf(err, errlen, "server going away (GOAWAY %s), call not taken (%s)",
                 nghttp2_http2_strerror(c->goaway_code), c->authority);
    else if (c->closed)
        snprintf(err, errlen, "invalid answer, stream closed (%s) (%s)",
                 nghttp2_http2_strerror(c->close_code), c->authority);
    else
        snprintf(err, errlen, "the HTTP/2 session ended (%s)", c->authority);
}

pp_grpc_call_rc pp_grpc_client_call(pp_grpc_client *c, const char *path, const uint8_t *body,
                                    size_t len, int64_t timeout_ns,
                                    const _Atomic int64_t *abort_at_ns, pp_egress_resp *resp,
                                    char *err, size_t errlen) {
    pp_egress_resp_reset(resp);
    c->why[0] = '\0';
    int64_t now = now_ns();
    if (timeout_ns <= 0) timeout_ns = 1;
    int64_t deadline = timeout_ns < INT64_MAX - now ? now + timeout_ns : INT64_MAX;
    pp_grpc_call_rc rc = PP_GRPC_CALL_FAILED;
    bool connecting = false;
    c->id = 0;
    c->answered = c->closed = c->peer_reset = c->oom = false;
    if (abort_at_ns && now >= atomic_load(abort_at_ns)) {
        rc = PP_GRPC_CALL_ABORTED;
        goto fail;
    }
    if (!conn_usable(c)) {
        conn_close(c);
        c->why[0] = '\0';
        connecting = true;
        if (conn_open(c, deadline, abort_at_ns, &rc) != 0) goto fail;
        connecting = false;
    }

    c->resp = resp;
    c->body = body;
    c->len = len;
    c->off = 0;
    c->nv[NV_PATH].value = (uint8_t *)(uintptr_t)path;
    c->nv[NV_PATH].valuelen = strlen(path);
    nghttp2_data_provider dp = {.source.ptr = c, .read_callback = read_body};
    int32_t id = nghttp2_submit_request(c->h2, NULL, c->nv, c->nnv, &dp, NULL);
    if (id < 0) {
        snprintf(c->why, sizeof(c->why), "cannot start the call: %s", nghttp2_strerror(id));
        goto fail;
    }
    c->id = id;
    bool io_failed = false;
    while (!c->answered && !c->closed) {
        if (flush(c) != 0) {
            io_failed = true;
            break;
        }
        if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) break;
        short ev = wait_fd(c, c->fd, POLLIN | (c->out_off < c->out_len ? POLLOUT : 0), deadline,
                           abort_at_ns, &rc);
        if (!ev) break;
        if ((ev & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) && read_some(c) != 0) {
            io_failed = true;
            break;
        }
    }
    if (c->answered) {
        /* The server may answer before taking the whole body (an early
         * error): stop sending it. */
        if (!c->closed) nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        c->id = 0;
        c->resp = NULL;
        c->body = NULL;
        if (io_failed || c->goaway || flush(c) != 0) conn_close(c);
        return PP_GRPC_CALL_ANSWERED;
    }
fail:
    describe(c, rc, timeout_ns, connecting, err, errlen);
    c->id = 0;
    c->resp = NULL;
    c->body = NULL;
    conn_close(c);
    return rc;
}
