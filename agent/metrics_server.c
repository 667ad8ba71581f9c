/* metrics_server.c -- see metrics_server.h. */
#include "metrics_server.h"

#include <stdlib.h>

#include "http_endpoint.h"

struct pp_metrics_server {
    pp_metrics *metrics;
    pp_http_endpoint *http;
};

static void serve_metrics(void *arg, pp_http_reply *reply) {
    pp_metrics_server *s = arg;
    reply->content_type = PP_METRICS_CONTENT_TYPE;
    reply->body = pp_metrics_render(s->metrics, &reply->len); /* NULL (OOM) answers 500 */
}

pp_metrics_server *pp_metrics_server_start(pp_metrics *m, const char *addr, pp_status *st) {
    pp_metrics_server *s = calloc(1, sizeof(*s));
    if (!s) {
        pp_fail(st, PP_INTERNAL, "metrics server: out of memory");
        return NULL;
    }
    s->metrics = m;
    s->http = pp_http_endpoint_start(addr, "/metrics", serve_metrics, s, st);
    if (!s->http) {
        free(s);
        return NULL;
    }
    return s;
}

uint16_t pp_metrics_server_port(const pp_metrics_server *s) { return pp_http_endpoint_port(s->http); }

void pp_metrics_server_stop(pp_metrics_server *s) {
    if (!s) return;
    pp_http_endpoint_stop(s->http);
    free(s);
}
