/* health_check.c -- the health_check extension: answers the state of the
 * service and of each component over HTTP (see health.h for the body).
 *
 *   extensions:
 *     health_check:
 *       endpoint: localhost:13133
 *       path: /
 *
 * Only the exact path is served (the Collector's "/" also matches every
 * other path through Go's ServeMux; pipit answers 404 there). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "http_endpoint.h"
#include "log.h"

typedef struct health_check_config {
    char *endpoint;
    char *path;
} health_check_config;

typedef struct health_check {
    const health_check_config *cfg;
    char *id;
    pp_health *health;
    pp_http_endpoint *http;
} health_check;

static const pp_cfg_field schema[] = {
    {.key = "endpoint", .type = PP_CFG_STRING, .offset = offsetof(health_check_config, endpoint),
     .help = "host:port to listen on (default localhost:13133)"},
    {.key = "path", .type = PP_CFG_STRING, .offset = offsetof(health_check_config, path),
     .help = "URL path of the health check (default /)"},
    {.key = "check_collector_pipeline", .type = PP_CFG_IGNORED,
     .help = "deprecated in the Collector; ignored"},
    {.key = "response_body", .type = PP_CFG_IGNORED,
     .help = "ignored: pipit answers with a JSON body listing each component"},
    {.type = PP_CFG_END},
};

static void config_defaults(void *p) {
    health_check_config *cfg = p;
    cfg->endpoint = strdup("localhost:13133");
    cfg->path = strdup("/");
}

static void serve_health(void *arg, pp_http_reply *reply) {
    health_check *hc = arg;
    reply->content_type = "application/json";
    reply->body = pp_health_render(hc->health, &reply->status);
    if (reply->body) reply->len = strlen(reply->body);
}

static void *hc_create(const pp_create_params *p, pp_status *st) {
    health_check *hc = calloc(1, sizeof(*hc));
    if (!hc || !(hc->id = strdup(p->id))) {
        free(hc);
        pp_fail(st, PP_INTERNAL, "extension %s: out of memory", p->id);
        return NULL;
    }
    hc->cfg = p->config;
    hc->health = p->host->health;
    return hc;
}

static int hc_start(void *inst, pp_host *host, pp_status *st) {
    health_check *hc = inst;
    const health_check_config *cfg = hc->cfg;
    hc->health = host->health;
    if (!cfg->path || cfg->path[0] != '/')
        return pp_fail(st, PP_INVALID, "extensions.%s.path: must start with '/'", hc->id);
    hc->http = pp_http_endpoint_start(cfg->endpoint, cfg->path, serve_health, hc, st);
    if (!hc->http) return -1;
    pp_log_info("extension/health_check", "health check listening", "endpoint", cfg->endpoint,
                "path", cfg->path, NULL);
    return 0;
}

/* Not ready from the first moment of shutdown, so a load balancer stops
 * sending traffic; then the listener closes (requests in progress finish). */
static void hc_shutdown(void *inst, pp_host *host) {
    health_check *hc = inst;
    (void)host;
    pp_health_set_ready(hc->health, false);
    pp_http_endpoint_stop(hc->http);
    hc->http = NULL;
}

static void hc_destroy(void *inst) {
    health_check *hc = inst;
    if (!hc) return;
    pp_http_endpoint_stop(hc->http); /* when shutdown was not called */
    free(hc->id);
    free(hc);
}

const pp_factory pp_health_check_extension = {
    .kind = PP_EXTENSION,
    .type = "health_check",
    .config_size = sizeof(health_check_config),
    .schema = schema,
    .config_defaults = config_defaults,
    /* The endpoint is checked by start(), which reports a bad address or a
     * taken port with the same pp_status. */
    .config_validate = NULL,
    .create = hc_create,
    .start = hc_start,
    .shutdown = hc_shutdown,
    .destroy = hc_destroy,
};
