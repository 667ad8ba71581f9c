/* http_endpoint.c -- see http_endpoint.h.
 *
 * We bind the listening socket ourselves and hand it to libmicrohttpd: that
 * gives a clear error for a taken port, the Go-like choice of address family
 * for "localhost", and the bound port for port 0. */
#include "http_endpoint.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

struct pp_http_endpoint {
    struct MHD_Daemon *daemon;
    char *path;
    pp_http_handler fn;
    void *arg;
    uint16_t port;
    char addr[128];
};

int pp_http_addr_parse(const char *addr, char *host, size_t hostlen, uint16_t *port,
                       pp_status *st) {
    const char *h = addr, *colon;
    size_t hlen;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':') return pp_fail(st, PP_INVALID, "%s: want [ipv6]:port", addr);
        h = addr + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
            return pp_fail(st, PP_INVALID, "%s: want host:port (IPv6 as [addr]:port)", addr);
        hlen = (size_t)(colon - addr);
    }
    if (hlen >= hostlen) return pp_fail(st, PP_INVALID, "%s: host name too long", addr);
    const char *p = colon + 1;
    unsigned long v = 0;
    if (!*p) return pp_fail(st, PP_INVALID, "%s: missing port", addr);
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || (v = v * 10 + (unsigned long)(*p - '0')) > 65535)
            return pp_fail(st, PP_INVALID, "%s: port must be a number from 0 to 65535", addr);
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)v;
    return 0;
}

/* Binds and listens on the first address that works, trying `prefer`'s family
 * first (IPv4 for a name, as Go does; dual-stack IPv6 for all interfaces).
 * Returns the socket, or -1 with errno from the first failure. */
static int listen_on(const char *host, uint16_t port, int *err) {
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(*host ? host : NULL, portstr, &hints, &res);
    if (rc != 0) {
        *err = rc == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
        return -1;
    }
    int prefer = *host ? AF_INET : AF_INET6;
    int fd = -1;
    *err = 0;
    for (int pass = 0; pass < 2 && fd < 0; pass++) {
        for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
            if ((ai->ai_family == prefer) != (pass == 0)) continue;
            fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0) {
                if (!*err) *err = errno;
                continue;
            }
            int one = 1, zero = 0;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (ai->ai_family == AF_INET6 && !*host)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
                if (!*err) *err = errno;
                close(fd);
                fd = -1;
            }
        }
    }
    freeaddrinfo(res);
    return fd;
}

static uint16_t bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap) {
    const pp_http_endpoint *e = cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') msg[--n] = '\0';
    pp_log_warn("http", msg, "endpoint", e->addr, NULL);
}

static enum MHD_Result respond(struct MHD_Connection *conn, int status, const char *type, char *body,
                               size_t len, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
    (void)version, (void)upload_data, (void)upload_data_size, (void)req_cls;
    pp_http_endpoint *e = cls;
    static char not_allowed[] = "method not allowed\n", not_found[] = "404 page not found\n",
                failed[] = "internal error\n";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", not_allowed,
                       sizeof(not_allowed) - 1, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, e->path) != 0)
        return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", not_found,
                       sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
    pp_http_reply reply = {.status = MHD_HTTP_OK, .content_type = "text/plain; charset=utf-8"};
    e->fn(e->arg, &reply);
    if (!reply.body)
        return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", failed,
                       sizeof(failed) - 1, MHD_RESPMEM_PERSISTENT);
    return respond(conn, reply.status, reply.content_type, reply.body, reply.len,
                   MHD_RESPMEM_MUST_FREE);
}

int pp_http_listen(const char *addr, uint16_t *port, pp_status *st) {
    char host[256];
    uint16_t want;
    if (pp_http_addr_parse(addr, host, sizeof(host), &want, st) < 0) return -1;
    int err;
    int fd = listen_on(host, want, &err);
    if (fd < 0) return pp_fail(st, PP_UNAVAILABLE, "listen on %s: %s", addr, strerror(err));
    *port = bound_port(fd);
    return fd;
}

pp_http_endpoint *pp_http_endpoint_start(const char *addr, const char *path, pp_http_handler fn,
                                         void *arg, pp_status *st) {
    uint16_t port;
    int fd = pp_http_listen(addr, &port, st);
    if (fd < 0) return NULL;
    pp_http_endpoint *e = calloc(1, sizeof(*e));
    if (!e || !(e->path = strdup(path))) {
        close(fd);
        if (e) free(e);
        pp_fail(st, PP_INTERNAL, "listen on %s: out of memory", addr);
        return NULL;
    }
    e->fn = fn;
    e->arg = arg;
    e->port = port;
    snprintf(e->addr, sizeof(e->addr), "%s", addr);
    e->daemon = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, e, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, e, /* first, or MHD warns */
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 64u,
        MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!e->daemon) {
        close(fd);
        free(e->path);
        free(e);
        pp_fail(st, PP_INTERNAL, "listen on %s: cannot start the HTTP server", addr);
        return NULL;
    }
    return e;
}

uint16_t pp_http_endpoint_port(const pp_http_endpoint *e) { return e->port; }

void pp_http_endpoint_stop(pp_http_endpoint *e) {
    if (!e) return;
    MHD_stop_daemon(e->daemon); /* also closes the listening socket */
    free(e->path);
    free(e);
}
