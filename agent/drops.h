/* drops.h -- one counter for every item pipit loses, with the reason.
 *
 * pipit_dropped_items_total{component, signal, reason}. Every place that
 * gives up on data counts it here, so "nothing lost silently" can be
 * checked from /metrics. Reasons are short snake_case words:
 * shutdown_deadline, queue_full, permanent_error, quota, ... */
#ifndef PIPIT_DROPS_H
#define PIPIT_DROPS_H

#include "batch.h"
#include "telemetry.h"

pp_counter *pp_drops_counter(pp_metrics *m, const char *component, pp_signal s, const char *reason);

#endif
