/* tick.c -- see tick.h. */
#include "tick.h"

int pp_tick_start(pp_tick *t, uv_loop_t *loop, uint64_t period_ms, uv_timer_cb cb, void *data,
                  const char *component, pp_status *st) {
    if (period_ms == 0) period_ms = 1;
    if (uv_timer_init(loop, &t->timer) != 0)
        return pp_fail(st, PP_INTERNAL, "%s: cannot create timer", component);
    t->timer.data = data;
    uv_timer_start(&t->timer, cb, period_ms, period_ms);
    t->started = true;
    return 0;
}

void pp_tick_stop(pp_tick *t) {
    if (!t->started) return;
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, NULL);
    t->started = false;
}
