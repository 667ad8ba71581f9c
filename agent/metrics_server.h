/* metrics_server.h -- serves the self-telemetry registry at
 * http://<service.telemetry.metrics address>/metrics for Prometheus. */
#ifndef PIPIT_METRICS_SERVER_H
#define PIPIT_METRICS_SERVER_H

#include <stdint.h>

#include "status.h"
#include "telemetry.h"

typedef struct pp_metrics_server pp_metrics_server;

#define PP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* addr: "host:port" (port 0: any free port); m must outlive the server. */
pp_metrics_server *pp_metrics_server_start(pp_metrics *m, const char *addr, pp_status *st);
uint16_t pp_metrics_server_port(const pp_metrics_server *s);
void pp_metrics_server_stop(pp_metrics_server *s); /* NULL is ignored */

#endif
