/* http_deadline.h -- the HTTP server's read_header_timeout as a deadline,
 * not an inactivity timer.
 *
 * libmicrohttpd's connection timeout restarts with every byte, so a client
 * that sends its headers one byte a second (slow loris) is never timed out,
 * and holds a connection slot for as long as it likes. Here every connection
 * gets a deadline when it opens and again when a request completes; a
 * connection whose next request's headers have not all arrived by then is
 * shut down (shutdown(2) on its socket; MHD sees the end of the stream and
 * closes it). Collector semantics: Go's http.Server ReadHeaderTimeout. */
#ifndef PIPIT_HTTP_DEADLINE_H
#define PIPIT_HTTP_DEADLINE_H

#include <stdint.h>

#include "telemetry.h"

typedef struct pp_http_deadlines pp_http_deadlines;
typedef struct pp_http_conn_deadline pp_http_conn_deadline;

/* timeout_ns > 0. cut (may be NULL) counts connections shut down. Starts a
 * thread that checks the deadlines every tick_ns while there are connections
 * (it sleeps without any). NULL when out of memory. */
pp_http_deadlines *pp_http_deadlines_new(int64_t timeout_ns, int64_t tick_ns, pp_counter *cut);
void pp_http_deadlines_free(pp_http_deadlines *d); /* stops the thread */

/* A connection opened (MHD_CONNECTION_NOTIFY_STARTED) on socket fd. */
pp_http_conn_deadline *pp_http_deadline_open(pp_http_deadlines *d, int fd);
/* Its request's headers are complete: no deadline until the request ends. */
void pp_http_deadline_request(pp_http_deadlines *d, pp_http_conn_deadline *c);
/* The request is over: the next one's headers are due within the timeout. */
void pp_http_deadline_done(pp_http_deadlines *d, pp_http_conn_deadline *c);
/* The connection is closing (MHD_CONNECTION_NOTIFY_CLOSED, before MHD closes
 * the socket): forgets it, so its fd is never touched again. */
void pp_http_deadline_close(pp_http_deadlines *d, pp_http_conn_deadline *c);

#endif
