/* testutil_world.h -- a whole service built from YAML for component tests,
 * with a fake receiver and a fake exporter to feed and observe it. */
#ifndef PIPIT_TESTUTIL_WORLD_H
#define PIPIT_TESTUTIL_WORLD_H

#include <uv.h>

#include "auth.h"
#include "config.h"
#include "service.h"

typedef struct tu_world {
    uv_loop_t loop;
    pp_host host; /* metrics, health and an admission gate */
    pp_config *cfg;
    pp_service *svc;
} tu_world;

/* Registers the fakes below (pp_registry_set_extra); tests with fakes of
 * their own register those instead. */
void tu_world_register_fakes(void);
/* Loads yaml (asserting it is valid) and builds the service (not started). */
tu_world *tu_world_new(const char *yaml);
/* Shuts down, runs the loop until handles are closed, frees everything. */
void tu_world_free(tu_world *w);
/* Shuts the service down with a deadline ms from now (tu_world_free after). */
void tu_world_stop(tu_world *w, int64_t ms);
/* Runs w's loop for about ms milliseconds (timers fire). */
void tu_world_run(tu_world *w, uint64_t ms);

/* Receiver type "tu_recv", config {auth: {authenticator: id}} optional: like
 * the otlp receiver, start() resolves the authenticator with
 * pp_host_authenticator and fails when there is none. */
typedef struct tu_recv {
    char id[64];
    pp_consumer *next[PP_SIGNAL_COUNT];
    pp_server_auth *auth;
} tu_recv;

/* Exporter type "tu_exp": takes everything, counts items per signal. */
typedef struct tu_exp {
    pp_consumer c;
    size_t items[PP_SIGNAL_COUNT];
} tu_exp;

/* Feeds b into the receiver's pipelines for b's signal (as a receiver does). */
int tu_recv_push(tu_recv *r, pp_batch *b, pp_status *st);

#endif
