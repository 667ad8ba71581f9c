/* tick.h -- a component's periodic timer on the main loop.
 *
 * Components with a timer (batch, tail_sampling) start it in start() and stop
 * it in shutdown(), both on the main thread that runs host->loop. */
#ifndef PIPIT_TICK_H
#define PIPIT_TICK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "status.h"

typedef struct pp_tick {
    uv_timer_t timer;
    bool started;
} pp_tick;

/* Calls cb(timer) every period_ms (at least 1) with timer->data = data.
 * Returns 0, or -1 with st set (naming component). */
int pp_tick_start(pp_tick *t, uv_loop_t *loop, uint64_t period_ms, uv_timer_cb cb, void *data,
                  const char *component, pp_status *st);
/* Stops and closes the timer (the loop finishes the close); idempotent. */
void pp_tick_stop(pp_tick *t);

#endif
