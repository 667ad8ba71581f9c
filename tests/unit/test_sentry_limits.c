/* Unit tests: the sentry exporter under Sentry's rate limits, against the
 * scripted server of testutil_sentry.c. A limited event type waits in the
 * queue: no request of it reaches the server before the deadline, the other
 * type keeps flowing (with ONE consumer thread, so waiting must not occupy
 * it), the breaker stays closed, and everything arrives after the deadline. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drops.h"
#include "exporter.h"
#include "log.h"
#include "service.h"
#include "testutil_sentry.h"
#include "testutil_world.h"

static tu_world *the_world;

static tu_world *world(uint16_t port) {
    return the_world = ts_world(port, "    retry_on_failure: {initial_interval: 20ms, max_interval: 50ms, "
                                      "max_elapsed_time: 1s}\n"
                                      "    circuit_breaker: {failure_threshold: 1}\n"
                                      "    sending_queue: {num_consumers: 1}\n");
}

static void push(size_t n, const size_t *errors, size_t nerr, uint32_t seed) {
    ts_push(the_world, n, errors, nerr, seed);
}

static uint64_t metric(tu_world *w, const char *name, const char *k, const char *v) {
    const char *l[] = {"exporter", "sentry", k, v, NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, name, "", l));
}

static void no_losses(tu_world *w) {
    const char *reasons[] = {"permanent_error", "retries_exhausted", "too_large", "shutdown_deadline"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pp_counter_value(pp_drops_counter(w->host.metrics, "exporter/sentry",
                                                            PP_TRACES, reasons[i])), 0);
    assert_int_equal(metric(w, "pipit_sentry_events_failed", "type", "error"), 0);
    assert_int_equal(metric(w, "pipit_sentry_events_failed", "type", "transaction"), 0);
}

static pp_exporter *exporter_of(tu_world *w) {
    pp_exporter *e = pp_service_instance(w->svc, PP_EXPORTER, "sentry", NULL);
    assert_non_null(e);
    return e;
}

/* Requests of a type answered at or after `from_ms`, and the first one's time. */
static size_t count_type(const ts_req *r, size_t n, int type, int64_t from_ms, int64_t *first_ms) {
    size_t c = 0;
    *first_ms = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (r[i].type != type || r[i].at_ms < from_ms) continue;
        if (r[i].at_ms < *first_ms) *first_ms = r[i].at_ms;
        c++;
    }
    return c;
}

/* 429 with X-Sentry-Rate-Limits for errors: errors wait 2 s, transactions
 * (queued behind them, one consumer) go on. */
static void test_error_limit_transactions_flow(void **state) {
    (void)state;
    uint16_t port = ts_start();
    ts_script(TS_ERROR, (ts_answer){429, "2:error:project:quota_exceeded, 7:unknown_category:key", NULL, 1});
    tu_world *w = world(port);
    pp_exporter *e = exporter_of(w);
    /* Errors first in the queue: one transaction, then the three errors. */
    size_t err[] = {0};
    push(1, err, 1, 1);
    ts_await(1, -1, -1);
    size_t more[] = {0, 1};
    push(2, more, 2, 2); /* two transactions, two errors */
    int64_t t429 = ts_await_429();
    ts_req r[64];
    size_t n = ts_requests(r, 64);
    /* While errors are limited, transactions keep arriving. */
    push(4, NULL, 0, 3);
    ts_await(1 + 2 + 4, -1, -1);
    n = ts_requests(r, 64);
    int64_t first;
    assert_int_equal(count_type(r, n, TS_ERROR, t429 + 1, &first), 0);
    assert_true(pp_time_now_ms() < t429 + 2000);
    /* The exporter has taken the last answer in too. */
    for (int i = 0; i < 1000 && pp_exporter_queue_size(e) > 3; i++) tu_sleep_ms(1);
    assert_true(pp_time_now_ms() < t429 + 2000);
    assert_int_equal(pp_exporter_held(e), 3); /* the 429'd one and the two behind it */
    assert_int_equal(pp_exporter_queue_size(e), 3);
    assert_int_equal(pp_exporter_circuit_state(e), PP_BREAKER_CLOSED);

    /* After the deadline all three errors arrive, and not before it. */
    ts_await(-1, 3, -1);
    n = ts_requests(r, 64);
    assert_int_equal(count_type(r, n, TS_ERROR, t429 + 1, &first), 3);
    assert_true(first >= t429 + 2000);
    assert_int_equal(ts_accepted(TS_ERROR), 3);
    assert_int_equal(ts_accepted(TS_TRANSACTION), 7);
    assert_int_equal(metric(w, "pipit_sentry_rate_limited_seconds", "category", "error"), 2);
    assert_int_equal(metric(w, "pipit_sentry_rate_limited_seconds", "category", "transaction"), 0);
    assert_int_equal(metric(w, "pipit_sentry_events_rate_limited", "type", "error"), 3);
    assert_int_equal(metric(w, "pipit_sentry_events_rate_limited", "type", "transaction"), 0);
    for (int i = 0; i < 1000 && metric(w, "pipit_sentry_events_sent", "type", "error") < 3; i++) tu_sleep_ms(1);
    assert_int_equal(metric(w, "pipit_sentry_events_sent", "type", "error"), 3);
    no_losses(w);
    tu_world_free(w);
    ts_stop();
}

/* A bare 429 with Retry-After limits every category: nothing at all goes
 * before the deadline, even with max_elapsed_time shorter than the limit. */
static void test_retry_after_limits_everything(void **state) {
    (void)state;
    uint16_t port = ts_start();
    ts_script(TS_TRANSACTION, (ts_answer){429, NULL, "2", 1});
    tu_world *w = world(port);
    size_t err[] = {1, 2};
    push(3, err, 2, 4);
    int64_t t429 = ts_await_429();
    ts_req r[64];
    size_t n = ts_requests(r, 64);
    assert_int_equal(n, 1); /* nothing went after the 429 */
    ts_await(3, 2, -1);
    n = ts_requests(r, 64);
    assert_int_equal(n, 6);
    for (size_t k = 1; k < n; k++) assert_true(r[k].at_ms >= t429 + 2000);
    assert_int_equal(metric(w, "pipit_sentry_rate_limited_seconds", "category", "error"), 2);
    assert_int_equal(metric(w, "pipit_sentry_rate_limited_seconds", "category", "transaction"), 2);
    assert_int_equal(pp_exporter_circuit_state(exporter_of(w)), PP_BREAKER_CLOSED);
    no_losses(w);
    tu_world_free(w);
    ts_stop();
}

/* X-Sentry-Rate-Limits on a 200: the request is delivered, later
 * transactions wait, errors are not affected. */
static void test_limit_announced_on_success(void **state) {
    (void)state;
    uint16_t port = ts_start();
    ts_script(TS_TRANSACTION, (ts_answer){200, "1:transaction:organization", NULL, 1});
    tu_world *w = world(port);
    push(1, NULL, 0, 5);
    ts_await(1, -1, -1);
    ts_req r[64];
    size_t n = ts_requests(r, 64);
    int64_t t200 = r[0].at_ms;
    size_t err[] = {0, 1};
    push(2, err, 2, 6);
    ts_await(-1, 2, -1);
    n = ts_requests(r, 64);
    int64_t first;
    assert_int_equal(count_type(r, n, TS_TRANSACTION, t200 + 1, &first), 0);
    assert_true(pp_time_now_ms() < t200 + 1000);
    ts_await(3, -1, -1);
    n = ts_requests(r, 64);
    assert_int_equal(count_type(r, n, TS_TRANSACTION, t200 + 1, &first), 2);
    assert_true(first >= t200 + 1000);
    assert_int_equal(metric(w, "pipit_sentry_rate_limited_seconds", "category", "transaction"), 1);
    assert_int_equal(metric(w, "pipit_sentry_rate_limited_seconds", "category", "error"), 0);
    no_losses(w);
    tu_world_free(w);
    ts_stop();
}

int main(void) {
    pp_log_setup(PP_LOG_ERROR, PP_LOG_JSON);
    tu_world_register_fakes();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_limit_transactions_flow),
        cmocka_unit_test(test_retry_after_limits_everything),
        cmocka_unit_test(test_limit_announced_on_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
