/* Unit tests: the sentry exporter against a scripted Sentry server
 * (testutil_sentry.c): config errors with their YAML paths, one envelope per
 * event with the auth header, content type and compression, sent_at stamped
 * once per attempt (a retry carries a new one), OTLP mode, permanent errors
 * counted by type. Rate limits are in test_sentry_limits.c. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drops.h"
#include "log.h"
#include "service.h"
#include "testutil_sentry.h"
#include "testutil_world.h"

static tu_world *world(uint16_t port, const char *extra) {
    char more[512];
    snprintf(more, sizeof(more),
             "    timeout: 5s\n    retry_on_failure: {initial_interval: 20ms, max_interval: 50ms}\n%s",
             extra);
    return ts_world(port, more);
}

static tu_world *the_world;

static void push(size_t n, const size_t *errors, size_t nerr) { ts_push(the_world, n, errors, nerr, 7); }

static uint64_t typed(tu_world *w, const char *name, const char *type) {
    const char *l[] = {"exporter", "sentry", "type", type, NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, name, "", l));
}

/* Waits (bounded) for the exporter to count what the server answered. */
static void await_typed(tu_world *w, const char *name, const char *type, uint64_t n) {
    for (int i = 0; i < 5000 && typed(w, name, type) < n; i++) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
}

static uint64_t plain(tu_world *w, const char *name) {
    const char *l[] = {"exporter", "sentry", NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, name, "", l));
}

/* ---- config ---- */

static bool any_message_has(const pp_diag *d, const char *s) {
    for (size_t i = 0; i < d->count; i++)
        if (strstr(d->entries[i].message, s) || strstr(d->entries[i].path, s)) return true;
    return false;
}

static void check_error(const char *yaml, const char *path, const char *msg) {
    pp_diag d;
    pp_diag_init(&d);
    assert_true(tu_comp_check(PP_EXPORTER, "sentry", yaml, &d) >= 1);
    if (!pp_diag_has(&d, path, msg)) {
        pp_diag_print(&d, stderr);
        fail_msg("no error at %s containing \"%s\"", path, msg);
    }
    assert_false(any_message_has(&d, "s3cr3tkey")); /* the DSN's keys are never echoed */
    pp_diag_free(&d);
}

static void test_config_errors(void **state) {
    (void)state;
    check_error("environment: prod\n", "sentry.dsn", "");
    check_error("dsn: https://sentry.example.com/1\n", "sentry.dsn", "missing public key");
    check_error("dsn: https://s3cr3tkey@sentry.example.com/abc\n", "sentry.dsn", "not numeric");
    check_error("dsn: ftp://s3cr3tkey@sentry.example.com/1\n", "sentry.dsn", "unsupported scheme");
    check_error("dsn: https://s3cr3tkey@sentry.example.com:99999/1\n", "sentry.dsn", "invalid port");
    check_error("dsn: https://s3cr3tkey@h/1\nmode: grpc\n", "sentry.mode", "");
    check_error("dsn: https://s3cr3tkey@h/1\ncompression: snappy\n", "sentry.compression", "");
    check_error("dsn: https://s3cr3tkey@h/1\ntimeout: 0s\n", "sentry.timeout", "");
    check_error("dsn: https://s3cr3tkey@h/1\nretry_on_failure: {multiplier: 0.5}\n",
                "sentry.retry_on_failure", "multiplier");
    pp_diag d;
    pp_diag_init(&d);
    assert_int_equal(tu_comp_check(PP_EXPORTER, "sentry",
                                   "dsn: https://k:secret@o1.ingest.sentry.io:8443/prefix/path/42\n"
                                   "mode: otlp\ncompression: zstd\ninsecure_skip_verify: true\n"
                                   "environment: staging\nrelease: v1\n",
                                   &d),
                     0);
    pp_diag_free(&d);
}

/* ---- envelopes ---- */

static const ts_req *find_event(const ts_req *r, size_t n, const char *event_id, size_t skip) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].event_id, event_id) && skip-- == 0) return &r[i];
    return NULL;
}

/* Two transactions and one error; the first transaction is answered 503
 * once: its retry is the same event with a later sent_at. */
static void test_envelopes_auth_and_sent_at(void **state) {
    (void)state;
    uint16_t port = ts_start();
    ts_script(TS_TRANSACTION, (ts_answer){503, NULL, NULL, 1});
    tu_world *w = the_world = world(port, "    sending_queue: {num_consumers: 1}\n");
    int64_t t0 = pp_time_now_ms();
    size_t err[] = {1};
    push(2, err, 1);
    ts_await(2, 1, -1);
    int64_t t1 = pp_time_now_ms();
    ts_req r[16];
    size_t n = ts_requests(r, 16);
    assert_int_equal(n, 4);
    char want_auth[160];
    snprintf(want_auth, sizeof(want_auth),
             "Sentry sentry_version=7, sentry_client=pipit/%s, sentry_key=pubkey", PIPIT_VERSION);
    size_t tx = 0, ev = 0;
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(r[i].path, "/api/42/envelope/");
        assert_string_equal(r[i].auth, want_auth);
        assert_string_equal(r[i].ctype, "application/x-sentry-envelope");
        assert_string_equal(r[i].cenc, "gzip");
        assert_true(r[i].well_formed);
        assert_int_equal(r[i].sent_at_count, 1);
        assert_int_equal(strlen(r[i].sent_at), 24); /* 2026-01-02T03:04:05.678Z */
        assert_int_equal(r[i].sent_at[23], 'Z');
        char lo[32], hi[32];
        pp_time_rfc3339(t0, lo, sizeof(lo));
        pp_time_rfc3339(t1, hi, sizeof(hi));
        assert_true(strcmp(r[i].sent_at, lo) >= 0 && strcmp(r[i].sent_at, hi) <= 0);
        tx += r[i].type == TS_TRANSACTION;
        ev += r[i].type == TS_ERROR;
    }
    assert_int_equal(tx, 3);
    assert_int_equal(ev, 1);
    /* The first request (503) and its retry: one event, two different sent_at. */
    assert_int_equal(r[0].answered, 503);
    const ts_req *again = find_event(r, n, r[0].event_id, 1);
    assert_non_null(again);
    assert_int_equal(again->answered, 200);
    assert_string_not_equal(again->sent_at, r[0].sent_at);
    assert_true(strcmp(again->sent_at, r[0].sent_at) > 0);

    await_typed(w, "pipit_sentry_events_sent", "transaction", 2);
    await_typed(w, "pipit_sentry_events_sent", "error", 1);
    assert_int_equal(typed(w, "pipit_sentry_events_sent", "transaction"), 2);
    assert_int_equal(typed(w, "pipit_sentry_events_sent", "error"), 1);
    assert_int_equal(typed(w, "pipit_sentry_events_failed", "transaction"), 0);
    assert_int_equal(plain(w, "otelcol_exporter_sent_spans"), 2);
    assert_int_equal(plain(w, "pipit_exporter_retries"), 1);
    tu_world_free(w);
    ts_stop();
}

static void test_compressions(void **state) {
    (void)state;
    const char *names[] = {"zstd", "none"};
    const char *want[] = {"zstd", ""};
    for (int i = 0; i < 2; i++) {
        uint16_t port = ts_start();
        char extra[64];
        snprintf(extra, sizeof(extra), "    compression: %s\n", names[i]);
        tu_world *w = the_world = world(port, extra);
        size_t err[] = {0, 2};
        push(3, err, 2);
        ts_await(3, 2, -1);
        ts_req r[16];
        size_t n = ts_requests(r, 16);
        assert_int_equal(n, 5);
        for (size_t k = 0; k < n; k++) {
            assert_string_equal(r[k].cenc, want[i]);
            assert_true(r[k].well_formed);
            assert_int_equal(r[k].sent_at_count, 1);
        }
        tu_world_free(w);
        ts_stop();
    }
}

/* 400 is permanent: dropped and counted by type and reason, not retried. */
static void test_permanent_error_counted(void **state) {
    (void)state;
    uint16_t port = ts_start();
    ts_script(TS_ERROR, (ts_answer){400, NULL, NULL, 1});
    tu_world *w = the_world = world(port, "");
    size_t err[] = {0};
    push(1, err, 1);
    ts_await(1, -1, -1);
    await_typed(w, "pipit_sentry_events_failed", "error", 1);
    await_typed(w, "pipit_sentry_events_sent", "transaction", 1);
    assert_int_equal(typed(w, "pipit_sentry_events_failed", "error"), 1);
    const char *l[] = {"exporter", "sentry", "type", "error", "reason", "permanent_error", NULL};
    assert_int_equal(pp_counter_value(pp_counter_get(w->host.metrics, "pipit_sentry_events_dropped", "", l)), 1);
    assert_int_equal(typed(w, "pipit_sentry_events_sent", "transaction"), 1);
    ts_req r[8];
    assert_int_equal(ts_requests(r, 8), 2);
    tu_world_free(w);
    ts_stop();
}

/* mode: otlp forwards the batch as OTLP/HTTP protobuf with x-sentry-auth. */
static void test_otlp_mode(void **state) {
    (void)state;
    uint16_t port = ts_start();
    tu_world *w = the_world = world(port, "    mode: otlp\n");
    size_t err[] = {0};
    push(5, err, 1);
    ts_await(-1, -1, 1);
    ts_req r[4];
    assert_int_equal(ts_requests(r, 4), 1);
    assert_string_equal(r[0].path, "/api/42/integration/otlp/v1/traces/");
    assert_string_equal(r[0].auth, "sentry sentry_key=pubkey"); /* MHD matches names caselessly */
    assert_string_equal(r[0].ctype, "application/x-protobuf");
    assert_string_equal(r[0].cenc, "gzip");
    assert_int_equal(r[0].otlp_spans, 5);
    for (int i = 0; i < 5000 && plain(w, "otelcol_exporter_sent_spans") < 5; i++) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    assert_int_equal(plain(w, "otelcol_exporter_sent_spans"), 5);
    tu_world_free(w);
    ts_stop();
}

int main(void) {
    pp_log_setup(PP_LOG_ERROR, PP_LOG_JSON);
    tu_world_register_fakes();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_envelopes_auth_and_sent_at),
        cmocka_unit_test(test_compressions),
        cmocka_unit_test(test_permanent_error_counted),
        cmocka_unit_test(test_otlp_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
