/* grpc_listen.h -- listening sockets for a Collector-style endpoint. */
#ifndef PIPIT_GRPC_LISTEN_H
#define PIPIT_GRPC_LISTEN_H

#include "status.h"

#define PP_MAX_LISTENERS 4

typedef struct pp_listeners {
    int fds[PP_MAX_LISTENERS]; /* non-blocking, listening */
    int n;
    int port; /* the bound port */
} pp_listeners;

/* Binds every address of endpoint on one port. Fails with a message such as
 * "listen on localhost:4317: Address already in use". */
int pp_grpc_listen(const char *endpoint, pp_listeners *out, pp_status *st);
void pp_listeners_close(pp_listeners *l);

#endif
