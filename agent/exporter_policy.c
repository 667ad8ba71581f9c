/* exporter_policy.c -- backoff delays and the circuit breaker's state
 * machine: pure functions of their inputs and a clock value, so that tests
 * can drive them without threads or sleeps (see exporter.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "exporter.h"

int64_t pp_backoff_delay(const pp_retry_cfg *c, uint32_t attempt, double u,
                         int64_t server_delay_ns) {
    if (server_delay_ns > 0) return server_delay_ns; /* RetryInfo / Retry-After win */
    double interval = (double)c->initial_interval_ns;
    double cap = (double)c->max_interval_ns;
    for (uint32_t i = 1; i < attempt && interval < cap; i++) interval *= c->multiplier;
    if (interval > cap) interval = cap;
    if (u < 0.0) u = 0.0;
    if (u >= 1.0) u = nextafter(1.0, 0.0);
    double d = interval * (1.0 + c->randomization_factor * (2.0 * u - 1.0));
    if (d < 1.0) d = 1.0;
    if (d > 9.0e18) d = 9.0e18;
    return (int64_t)d;
}

void pp_breaker_init(pp_breaker *b, const pp_breaker_cfg *c, int64_t max_cool_down_ns) {
    b->cfg = *c;
    b->max_cool_down_ns = max_cool_down_ns > c->cool_down_ns ? max_cool_down_ns : c->cool_down_ns;
    b->state = PP_BREAKER_CLOSED;
    b->failures = 0;
    b->cool_down_ns = c->cool_down_ns;
    b->open_until_ns = 0;
    b->probe_out = false;
}

bool pp_breaker_permit(pp_breaker *b, int64_t now_ns, int64_t *wait_ns) {
    if (!b->cfg.enabled) return true;
    switch (b->state) {
    case PP_BREAKER_CLOSED: return true;
    case PP_BREAKER_OPEN:
        if (now_ns < b->open_until_ns) {
            *wait_ns = b->open_until_ns - now_ns;
            return false;
        }
        b->state = PP_BREAKER_HALF_OPEN;
        b->probe_out = true;
        return true;
    case PP_BREAKER_HALF_OPEN:
        if (!b->probe_out) {
            b->probe_out = true;
            return true;
        }
        /* Others wait for the probe's answer; they are woken when it comes. */
        *wait_ns = b->cool_down_ns;
        return false;
    }
    return true;
}

static void open_breaker(pp_breaker *b, int64_t now_ns) {
    b->state = PP_BREAKER_OPEN;
    b->open_until_ns = now_ns + b->cool_down_ns;
    b->probe_out = false;
}

bool pp_breaker_record(pp_breaker *b, int64_t now_ns, bool failed) {
    if (!b->cfg.enabled) return false;
    pp_breaker_state before = b->state;
    if (!failed) {
        b->failures = 0;
        b->state = PP_BREAKER_CLOSED;
        b->cool_down_ns = b->cfg.cool_down_ns;
        b->probe_out = false;
        return before != b->state;
    }
    switch (b->state) {
    case PP_BREAKER_CLOSED:
        if (++b->failures >= (uint64_t)b->cfg.failure_threshold) open_breaker(b, now_ns);
        break;
    case PP_BREAKER_HALF_OPEN:
        /* The probe failed: wait longer before the next one. */
        b->cool_down_ns = b->cool_down_ns > b->max_cool_down_ns / 2 ? b->max_cool_down_ns
                                                                    : b->cool_down_ns * 2;
        open_breaker(b, now_ns);
        break;
    case PP_BREAKER_OPEN:
        /* A request permitted before the breaker opened failed too: no change. */
        break;
    }
    return before != b->state;
}

void pp_breaker_cancel(pp_breaker *b) {
    if (b->state == PP_BREAKER_HALF_OPEN) b->probe_out = false;
}

void pp_send_result_set(pp_send_result *res, pp_send_outcome o, const char *fmt, ...) {
    res->outcome = o;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
    va_end(ap);
}
