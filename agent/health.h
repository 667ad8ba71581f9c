/* health.h -- the state of each component, for the health_check extension.
 *
 * Components report their state (an exporter whose backend fails turns
 * "recoverable_error", a full buffer "degraded"); the health endpoint serves
 * the aggregate and every component's state, so health does not stay green
 * while an exporter fails. Thread-safe. */
#ifndef PIPIT_HEALTH_H
#define PIPIT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

typedef enum pp_health_state {
    PP_HEALTH_STARTING,
    PP_HEALTH_OK,
    PP_HEALTH_DEGRADED,          /* working, but close to a limit (buffer fill) */
    PP_HEALTH_RECOVERABLE_ERROR, /* failing, retrying (backend down)            */
    PP_HEALTH_PERMANENT_ERROR,
    PP_HEALTH_STOPPING,
} pp_health_state;

typedef struct pp_health pp_health;

pp_health *pp_health_new(void);
void pp_health_free(pp_health *h);
const char *pp_health_state_name(pp_health_state s);

/* The service as a whole: ready once every component started, not ready while
 * starting or shutting down. */
void pp_health_set_ready(pp_health *h, bool ready);
bool pp_health_ready(const pp_health *h);

/* id: "exporter/otlp/jaeger" style, copied. msg may be NULL. */
void pp_health_report(pp_health *h, const char *id, pp_health_state s, const char *msg);

/* JSON body for the health endpoint; *http_status receives 200 or 503; caller frees. */
char *pp_health_render(pp_health *h, int *http_status);

#endif
