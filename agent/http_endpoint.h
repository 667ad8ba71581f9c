/* http_endpoint.h -- a small HTTP server for one GET path (metrics, health).
 *
 * libmicrohttpd with its own thread; the handler runs on that thread. Only
 * GET and HEAD are served (405 otherwise), any other path is 404. Connections
 * are limited in number and time so a slow or hostile client cannot use the
 * endpoint up. */
#ifndef PIPIT_HTTP_ENDPOINT_H
#define PIPIT_HTTP_ENDPOINT_H

#include <stdint.h>
#include <stddef.h>

#include "status.h"

typedef struct pp_http_reply {
    int status;               /* defaults to 200 */
    const char *content_type; /* static string; defaults to text/plain */
    char *body;               /* malloc'd, freed by the endpoint; NULL answers 500 */
    size_t len;
} pp_http_reply;

typedef void (*pp_http_handler)(void *arg, pp_http_reply *reply);

typedef struct pp_http_endpoint pp_http_endpoint;

/* Splits "host:port", "[::1]:port" or ":port" (all interfaces). host gets ""
 * for the last form. Returns -1 with st set when addr is not one of these. */
int pp_http_addr_parse(const char *addr, char *host, size_t hostlen, uint16_t *port,
                       pp_status *st);

/* Binds and listens on addr (port 0 picks a free port); *port gets the bound
 * port. Returns the socket, or -1 with st "listen on <addr>: <reason>". */
int pp_http_listen(const char *addr, uint16_t *port, pp_status *st);

/* Listens on addr (port 0 picks a free port) and serves path with fn(arg).
 * Fails with st "listen on <addr>: <reason>" when the port is taken. */
pp_http_endpoint *pp_http_endpoint_start(const char *addr, const char *path, pp_http_handler fn,
                                         void *arg, pp_status *st);
uint16_t pp_http_endpoint_port(const pp_http_endpoint *e);
/* Closes the listener and waits for requests in progress; NULL is ignored. */
void pp_http_endpoint_stop(pp_http_endpoint *e);

#endif
