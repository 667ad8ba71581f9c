/* grpc_listen.c -- turns a Collector endpoint string into listening sockets.
 *
 * "host:port", "[::1]:port", ":port" (every interface, IPv4 and IPv6) and
 * "localhost:port" (every address the name has: 127.0.0.1 and ::1 when the
 * host has IPv6). Port 0 binds an ephemeral port; every further address
 * reuses the port the first one got, so the server has one port. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc_listen.h"

static int split_endpoint(const char *ep, char *host, size_t hostlen, char *port, size_t portlen) {
    const char *colon;
    if (ep[0] == '[') {
        const char *end = strchr(ep, ']');
        if (!end || end[1] != ':') return -1;
        if ((size_t)(end - ep - 1) >= hostlen) return -1;
        snprintf(host, hostlen, "%.*s", (int)(end - ep - 1), ep + 1);
        colon = end + 1;
    } else {
        colon = strrchr(ep, ':');
        if (!colon || (size_t)(colon - ep) >= hostlen) return -1;
        snprintf(host, hostlen, "%.*s", (int)(colon - ep), ep);
    }
    if (!colon[1] || strlen(colon + 1) >= portlen) return -1;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    if (atoi(colon + 1) > 65535) return -1;
    snprintf(port, portlen, "%s", colon + 1);
    return 0;
}

static void set_port(struct sockaddr *sa, int port) {
    if (sa->sa_family == AF_INET) ((struct sockaddr_in *)(void *)sa)->sin_port = htons((uint16_t)port);
    else ((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons((uint16_t)port);
}

static int bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
}

/* Returns the fd, or -1 with errno set. */
static int listen_one(struct addrinfo *ai) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* One socket per family, so ":port" can bind 0.0.0.0 and :: side by side. */
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int pp_grpc_listen(const char *endpoint, pp_listeners *out, pp_status *st) {
    char host[256], port[8];
    memset(out, 0, sizeof(*out));
    out->port = -1;
    if (!endpoint || split_endpoint(endpoint, host, sizeof(host), port, sizeof(port)) != 0)
        return pp_fail(st, PP_INVALID, "listen on %s: endpoint must be host:port",
                       endpoint ? endpoint : "(null)");
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) return pp_fail(st, PP_INVALID, "listen on %s: %s", endpoint, gai_strerror(rc));
    /* IPv4 first: its bind decides the port and the error users see. */
    for (int pass = 0; pass < 2; pass++) {
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            if ((pass == 0) != (ai->ai_family == AF_INET) || out->n == PP_MAX_LISTENERS) continue;
            if (out->port >= 0) set_port(ai->ai_addr, out->port);
            int fd = listen_one(ai);
            if (fd < 0) {
                int e = errno;
                /* A host without IPv6 (or without ::1): serve what it has. */
                if (out->n > 0 && (e == EADDRNOTAVAIL || e == EAFNOSUPPORT)) continue;
                freeaddrinfo(res);
                pp_listeners_close(out);
                return pp_fail(st, PP_UNAVAILABLE, "listen on %s: %s", endpoint, strerror(e));
            }
            if (out->port < 0) out->port = bound_port(fd);
            out->fds[out->n++] = fd;
        }
    }
    freeaddrinfo(res);
    if (out->n == 0) return pp_fail(st, PP_UNAVAILABLE, "listen on %s: no usable address", endpoint);
    return 0;
}

void pp_listeners_close(pp_listeners *l) {
    for (int i = 0; i < l->n; i++) close(l->fds[i]);
    l->n = 0;
}
