/* periodic.h -- the timer and the shutdown drain of the aggregating
 * components (spanmetrics flush, interval emission, stream expiry). */
#ifndef PIPIT_AGG_PERIODIC_H
#define PIPIT_AGG_PERIODIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "telemetry.h"

typedef struct pp_periodic {
    uv_timer_t timer;
    bool started;
    void (*fn)(void *arg);
    void *arg;
} pp_periodic;

/* Calls fn(arg) every period_ns (at least 1 ms) on loop's thread. -1 on failure. */
int pp_periodic_start(pp_periodic *t, uv_loop_t *loop, int64_t period_ns, void (*fn)(void *),
                      void *arg);
/* Stops and closes the timer (the loop finishes the close). Idempotent. */
void pp_periodic_stop(pp_periodic *t);

/* Shutdown: calls flush(arg), which returns the items the next component did
 * not take, every 5 ms until none are left or CLOCK_MONOTONIC passes
 * deadline_ns; what is left is logged and added to `dropped`. */
void pp_flush_until_deadline(size_t (*flush)(void *), void *arg, int64_t deadline_ns,
                             const char *component, pp_counter *dropped);

#endif
