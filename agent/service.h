/* service.h -- the running graph of components built from a pp_config.
 *
 * Build creates every instance and wires the consumers (receiver -> fan-out to
 * pipelines -> processors -> fan-out to exporters; connectors link pipelines).
 * Start runs in dependency order (extensions, then each pipeline from its
 * exporters back to its first processor, receivers last) so that nothing
 * receives data before what it feeds is running. Shutdown runs in reverse:
 * receivers stop taking data first, processors flush downstream, exporters
 * drain until the deadline. */
#ifndef PIPIT_SERVICE_H
#define PIPIT_SERVICE_H

#include "component.h"
#include "config.h"

typedef struct pp_service pp_service;

/* Creates every component instance. On error returns NULL with st set and
 * destroys whatever was created. cfg must outlive the service. */
pp_service *pp_service_build(const pp_config *cfg, pp_host *host, pp_status *st);
/* Starts everything; on failure shuts down and reports what failed. */
int pp_service_start(pp_service *s, pp_status *st);
/* Stops taking data, drains until host->shutdown_deadline_ns. Idempotent. */
void pp_service_shutdown(pp_service *s);
void pp_service_free(pp_service *s);

/* For tests: the instance of a component (processors: of a pipeline), or NULL. */
void *pp_service_instance(pp_service *s, pp_kind kind, const char *id, const char *pipeline);

#endif
