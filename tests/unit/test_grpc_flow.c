/* test_grpc_flow.c -- backpressure on one gRPC connection: HTTP/2 flow
 * control makes a client that sends more than the connection's budget wait,
 * rather than refusing its calls, and the bytes held never exceed the budget.
 *
 * The burst is what the OpenTelemetry JS SDK's gRPC exporter does on
 * forceFlush: dozens of concurrent ~1 MiB Export calls on one connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "receivers/otlp/grpc_internal.h"
#include "testutil.h"
#include "testutil_grpc.h"

#define MIB (1u << 20)

/* A gRPC-framed ExportTraceServiceRequest of close to (not over) `target`
 * bytes; *spans receives its span count. */
static uint8_t *message_near(size_t target, size_t *spans, size_t *flen) {
    size_t len, n = 64;
    uint8_t *msg = tu_traces_bytes(n, 3, &len);
    free(msg);
    n = n * (target - 64) / (len + 5);
    msg = tu_traces_bytes(n, 3, &len);
    assert_true(len + 5 <= target);
    assert_true(len + 5 > target - target / 8);
    uint8_t *f = tu_grpc_frame(0, msg, len, flen);
    free(msg);
    *spans = n;
    return f;
}

/* n concurrent calls of one ~1 MiB message on one connection; all succeed. */
static void burst_all_ok(int n, size_t *spans_out) {
    size_t spans, flen;
    uint8_t *f = message_near(MIB, &spans, &flen);
    tu_call *calls = calloc((size_t)n, sizeof(*calls));
    assert_int_equal(tu_client_burst(tu_srv->port, calls, n, f, flen, 60000), n);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (calls[i].grpc_status != 0)
            print_error("call %d: grpc-status %d (%s), rst %u\n", i, calls[i].grpc_status,
                        calls[i].grpc_message, calls[i].rst_code);
        ok += calls[i].grpc_status == 0;
    }
    assert_int_equal(ok, n);
    assert_int_equal(tu_srv->sink.batches, n);
    assert_int_equal(tu_srv->sink.items, (size_t)n * spans);
    *spans_out = spans;
    free(calls);
    free(f);
}

/* 60 concurrent 1 MiB calls: 60 MiB offered against a 16 MiB budget. Before
 * flow control, the calls past the budget were answered UNAVAILABLE. */
static void test_burst_of_60_one_mib_calls(void **state) {
    (void)state;
    tu_server_start(tu_srv);
    const pp_grpc_limits *lim = pp_grpc_server_limits(tu_srv->srv);
    assert_int_equal(lim->max_conn_buffered, 16 * MIB); /* 4 x the 4 MiB max message */
    size_t spans;
    burst_all_ok(60, &spans);
    size_t peak = pp_grpc_server_peak_buffered(tu_srv->srv);
    print_message("peak buffered on the connection: %zu bytes (budget %zu)\n", peak, lim->max_conn_buffered);
    assert_true(peak <= lim->max_conn_buffered);
    assert_true(peak >= 4 * MIB); /* several messages were held at once: the bound was tested */
    assert_int_equal(tu_server_errors(tu_srv, "timeout"), 0);
}

/* A consumer that blocks 40 ms per batch with a smaller budget (8 MiB): the
 * client waits longer, every call still succeeds, the bound holds. */
static void test_burst_with_slow_consumer(void **state) {
    (void)state;
    tu_srv->cfg.max_recv_msg_size_mib = 2;
    tu_srv->sink.delay_ms = 40;
    tu_server_start(tu_srv);
    const pp_grpc_limits *lim = pp_grpc_server_limits(tu_srv->srv);
    assert_int_equal(lim->max_conn_buffered, 8 * MIB);
    size_t spans;
    burst_all_ok(60, &spans);
    size_t peak = pp_grpc_server_peak_buffered(tu_srv->srv);
    print_message("slow consumer: peak buffered %zu bytes (budget %zu)\n", peak, lim->max_conn_buffered);
    assert_true(peak <= lim->max_conn_buffered);
    assert_true(peak >= 2 * MIB);
}

/* max_concurrent_streams 4: the client learns it from SETTINGS and queues
 * its calls; none is refused. */
static void test_concurrency_limit_queues_calls(void **state) {
    (void)state;
    tu_srv->cfg.max_concurrent_streams = 4;
    tu_server_start(tu_srv);
    size_t spans;
    burst_all_ok(60, &spans);
    assert_int_equal(tu_server_errors(tu_srv, "protocol"), 0);
}

/* ---- the connection alone, with a synthetic clock ---- */

typedef struct mem_conn {
    pp_grpc_limits lim;
    _Atomic size_t peak;
    pp_grpc_conn *g;
    tu_client cl;
    uint8_t *f; /* a message of just under 1 MiB, framed */
    size_t flen, spans;
} mem_conn;

/* 1 MiB messages, budget 3 MiB: two messages fit at once, not three. */
static void mem_conn_open(mem_conn *m) {
    memset(m, 0, sizeof(*m));
    m->lim = (pp_grpc_limits){.in = &tu_srv->in, .max_msg = MIB, .max_streams = 10,
                              .max_conn_buffered = 3 * MIB, .preface_timeout_ns = 10 * PP_GRPC_SEC,
                              .stream_stall_ns = 30 * PP_GRPC_SEC, .ping_timeout_ns = 20 * PP_GRPC_SEC,
                              .max_resets_per_sec = 200, .peak_buffered = &m->peak};
    m->lim.errors[PP_GRPC_ERR_TIMEOUT] = pp_counter_get(tu_srv->host.metrics, "t_timeouts", "", NULL);
    pp_grpc_limits_fit(&m->lim);
    assert_int_equal(m->lim.stream_window, 65535);
    assert_int_equal(m->lim.max_conn_buffered, 3 * MIB);
    m->g = pp_grpc_conn_new(&m->lim, 0);
    assert_non_null(m->g);
    tu_client_mem(&m->cl);
    assert_int_equal(tu_client_exchange(&m->cl, m->g, 0), 0);
    m->f = message_near(MIB - 64, &m->spans, &m->flen);
}

static void mem_conn_close(mem_conn *m) {
    tu_client_close(&m->cl);
    pp_grpc_conn_free(m->g);
    free(m->f);
}

static int count_closed(const tu_call *calls, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += calls[i].closed;
    return k;
}

static void test_waiting_streams_are_not_stalled(void **state) {
    (void)state;
    mem_conn m;
    mem_conn_open(&m);
    tu_call calls[6];
    tu_calls_fill(calls, 6, m.f, m.flen);
    /* Calls 0 and 1 send half their message and stall: they fill the budget. */
    calls[0].body_len = calls[1].body_len = m.flen / 2;
    calls[0].end_stream = calls[1].end_stream = false;
    for (int i = 0; i < 6; i++) tu_client_submit(&m.cl, &calls[i], TU_TRACES, "application/grpc", NULL);
    assert_int_equal(tu_client_exchange(&m.cl, m.g, 1), 0);
    assert_int_equal(count_closed(calls, 6), 0); /* 2..5 wait for window: not refused */
    assert_int_equal(tu_srv->sink.batches, 0);

    /* 20 s on: nothing moves, nothing is cut. */
    assert_int_equal(pp_grpc_conn_tick(m.g, 20 * PP_GRPC_SEC), 0);
    assert_int_equal(tu_client_exchange(&m.cl, m.g, 20 * PP_GRPC_SEC), 0);
    assert_int_equal(count_closed(calls, 6), 0);

    /* 31 s: the two stalled calls are cut; the waiting ones were never given
     * window until now, so they are admitted, not cut, and complete. */
    assert_int_equal(pp_grpc_conn_tick(m.g, 31 * PP_GRPC_SEC), 0);
    assert_int_equal(tu_client_exchange(&m.cl, m.g, 31 * PP_GRPC_SEC), 0);
    for (int round = 0; round < 10 && count_closed(calls, 6) < 6; round++) {
        assert_int_equal(pp_grpc_conn_tick(m.g, 31 * PP_GRPC_SEC + round), 0);
        assert_int_equal(tu_client_exchange(&m.cl, m.g, 31 * PP_GRPC_SEC + round), 0);
    }
    assert_int_equal(count_closed(calls, 6), 6);
    assert_int_equal(calls[0].rst_code, NGHTTP2_CANCEL);
    assert_int_equal(calls[1].rst_code, NGHTTP2_CANCEL);
    for (int i = 2; i < 6; i++) assert_int_equal(calls[i].grpc_status, 0);
    assert_int_equal(tu_srv->sink.batches, 4);
    assert_int_equal(pp_counter_value(m.lim.errors[PP_GRPC_ERR_TIMEOUT]), 2);
    assert_true(atomic_load(&m.peak) <= 3 * MIB);
    assert_true(atomic_load(&m.peak) >= 2 * (MIB / 2));
    mem_conn_close(&m);
}

/* Many calls through the in-memory connection: the bound holds at every
 * step, and a message larger than what is free waits for the ones before it. */
static void test_budget_bound_in_memory(void **state) {
    (void)state;
    mem_conn m;
    mem_conn_open(&m);
    tu_call calls[10];
    tu_calls_fill(calls, 10, m.f, m.flen);
    for (int i = 0; i < 10; i++) tu_client_submit(&m.cl, &calls[i], TU_TRACES, "application/grpc", NULL);
    assert_int_equal(tu_client_exchange(&m.cl, m.g, 1), 0);
    assert_int_equal(count_closed(calls, 10), 10);
    for (int i = 0; i < 10; i++) assert_int_equal(calls[i].grpc_status, 0);
    assert_int_equal(tu_srv->sink.items, 10 * m.spans);
    size_t peak = atomic_load(&m.peak);
    assert_true(peak <= 3 * MIB);
    assert_true(peak > 2 * (MIB - 64 * 1024)); /* two whole messages at once */
    mem_conn_close(&m);
}

/* A client that ignores the window we withheld: nghttp2 resets the stream
 * with FLOW_CONTROL_ERROR and nothing past the window is buffered. */
static void test_window_overrun_is_a_flow_control_error(void **state) {
    (void)state;
    mem_conn m;
    mem_conn_open(&m);
    tu_call calls[6];
    tu_calls_fill(calls, 6, m.f, m.flen);
    for (int i = 0; i < 6; i++) {
        calls[i].body_len = i < 2 ? m.flen / 2 : 5; /* 0, 1: admitted, stalled; others: prefix */
        calls[i].end_stream = false;
        tu_client_submit(&m.cl, &calls[i], TU_TRACES, "application/grpc", NULL);
    }
    assert_int_equal(tu_client_exchange(&m.cl, m.g, 1), 0);
    /* Call 5 waits: the client may send no more than its first 64 KiB. */
    int32_t w = nghttp2_session_get_stream_remote_window_size(m.cl.h2, calls[5].id);
    assert_true(w >= 0 && w <= 65535 - 5);
    size_t before = atomic_load(&m.peak);
    /* 8 x 16 KiB of DATA on it: twice its window. */
    static uint8_t frame[9 + 16384];
    tu_raw_frame(frame, 16384, NGHTTP2_DATA, 0, (uint32_t)calls[5].id);
    int rc = 0;
    for (int i = 0; i < 8 && rc == 0; i++) rc = pp_grpc_conn_feed(m.g, frame, sizeof(frame), 2);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_client_exchange(&m.cl, m.g, 2), 0);
    assert_true(calls[5].closed);
    assert_int_equal(calls[5].rst_code, NGHTTP2_FLOW_CONTROL_ERROR);
    assert_false(calls[0].closed); /* the others go on */
    assert_true(atomic_load(&m.peak) <= before + 65535);
    assert_true(atomic_load(&m.peak) <= 3 * MIB);
    assert_int_equal(tu_srv->sink.batches, 0);
    mem_conn_close(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_of_60_one_mib_calls, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_burst_with_slow_consumer, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_limit_queues_calls, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_waiting_streams_are_not_stalled, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_budget_bound_in_memory, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_window_overrun_is_a_flow_control_error, tu_srv_setup, tu_srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
