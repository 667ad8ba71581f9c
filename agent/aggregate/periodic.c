/* periodic.c -- see periodic.h. */
#include "periodic.h"

#include <stdio.h>
#include <time.h>

#include "log.h"

static void on_timer(uv_timer_t *h) {
    pp_periodic *t = h->data;
    t->fn(t->arg);
}

int pp_periodic_start(pp_periodic *t, uv_loop_t *loop, int64_t period_ns, void (*fn)(void *),
                      void *arg) {
    uint64_t ms = period_ns > 1000000 ? (uint64_t)(period_ns / 1000000) : 1;
    if (uv_timer_init(loop, &t->timer) != 0) return -1;
    t->fn = fn;
    t->arg = arg;
    t->timer.data = t;
    uv_timer_start(&t->timer, on_timer, ms, ms);
    t->started = true;
    return 0;
}

void pp_periodic_stop(pp_periodic *t) {
    if (!t->started) return;
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, NULL);
    t->started = false;
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void pp_flush_until_deadline(size_t (*flush)(void *), void *arg, int64_t deadline_ns,
                             const char *component, pp_counter *dropped) {
    size_t left = flush(arg);
    struct timespec pause = {0, 5 * 1000000L};
    while (left && mono_ns() < deadline_ns) {
        nanosleep(&pause, NULL);
        left = flush(arg);
    }
    if (!left) return;
    char n[32];
    snprintf(n, sizeof(n), "%zu", left);
    pp_log_error(component, "shutdown deadline passed; dropping what the next component did not take",
                 "points", n, NULL);
    pp_counter_add(dropped, left);
}
