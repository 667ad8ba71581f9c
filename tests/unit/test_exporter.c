/* Unit tests: the shared exporter machinery (agent/exporter.h) -- backoff
 * math, breaker transitions, and a whole pp_exporter driven by scripted send
 * outcomes: queue full, retry, Retry-After, permanent, too large, partial
 * success, retries exhausted, breaker, shutdown drain and deadline. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drops.h"
#include "exporter.h"
#include "log.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* ---- backoff ---- */

static pp_retry_cfg retry_cfg(void) {
    pp_exporter_cfg c;
    pp_exporter_cfg_defaults(&c);
    return c.retry_on_failure;
}

static void test_backoff_jitter_bounds(void **state) {
    (void)state;
    pp_retry_cfg c = retry_cfg(); /* 5s, x1.5, rf 0.5, max 30s */
    assert_int_equal(pp_backoff_delay(&c, 1, 0.0, 0), 2500 * MS);
    assert_int_equal(pp_backoff_delay(&c, 1, 0.5, 0), 5 * SEC);
    int64_t hi = pp_backoff_delay(&c, 1, 0.999999, 0);
    assert_true(hi < 7500 * MS && hi > 7499 * MS);
    /* Any u stays within [interval/2, interval*1.5]. */
    for (int i = 0; i <= 100; i++) {
        int64_t d = pp_backoff_delay(&c, 2, i / 100.0, 0);
        assert_true(d >= 3750 * MS && d <= 11250 * MS);
    }
    assert_int_equal(pp_backoff_delay(&c, 3, 0.5, 0), 11250 * MS); /* 5 * 1.5^2 */
    c.randomization_factor = 0;
    assert_int_equal(pp_backoff_delay(&c, 2, 0.9, 0), 7500 * MS);
}

static void test_backoff_cap_and_server_delay(void **state) {
    (void)state;
    pp_retry_cfg c = retry_cfg();
    /* 5 * 1.5^10 is far past 30s: the interval is capped, then jittered. */
    assert_int_equal(pp_backoff_delay(&c, 11, 0.5, 0), 30 * SEC);
    assert_int_equal(pp_backoff_delay(&c, 1000000, 0.0, 0), 15 * SEC);
    int64_t d = pp_backoff_delay(&c, 50, 0.999999, 0);
    assert_true(d <= 45 * SEC && d > 44 * SEC);
    /* The server's delay wins, even above max_interval. */
    assert_int_equal(pp_backoff_delay(&c, 1, 0.0, 42 * SEC), 42 * SEC);
    assert_int_equal(pp_backoff_delay(&c, 9, 0.7, 7 * MS), 7 * MS);
}

/* ---- breaker ---- */

static void test_breaker_transitions(void **state) {
    (void)state;
    pp_breaker_cfg bc = {.enabled = true, .failure_threshold = 3, .cool_down_ns = 10 * SEC};
    pp_breaker b;
    pp_breaker_init(&b, &bc, 30 * SEC);
    int64_t t = 1000 * SEC, wait = 0;
    assert_true(pp_breaker_permit(&b, t, &wait));
    assert_false(pp_breaker_record(&b, t, true));
    assert_false(pp_breaker_record(&b, t, true));
    assert_false(pp_breaker_record(&b, t, false)); /* a success resets the count */
    assert_false(pp_breaker_record(&b, t, true));
    assert_false(pp_breaker_record(&b, t, true));
    assert_int_equal(b.state, PP_BREAKER_CLOSED);
    assert_true(pp_breaker_record(&b, t, true));
    assert_int_equal(b.state, PP_BREAKER_OPEN);

    assert_false(pp_breaker_permit(&b, t + 4 * SEC, &wait));
    assert_int_equal(wait, 6 * SEC);
    /* After the cool-down exactly one probe goes. */
    assert_true(pp_breaker_permit(&b, t + 10 * SEC, &wait));
    assert_int_equal(b.state, PP_BREAKER_HALF_OPEN);
    assert_false(pp_breaker_permit(&b, t + 10 * SEC, &wait));
    /* The probe fails: open again, cool-down doubled. */
    assert_true(pp_breaker_record(&b, t + 11 * SEC, true));
    assert_int_equal(b.state, PP_BREAKER_OPEN);
    assert_false(pp_breaker_permit(&b, t + 30 * SEC, &wait));
    assert_int_equal(wait, 1 * SEC);
    assert_true(pp_breaker_permit(&b, t + 31 * SEC, &wait));
    assert_true(pp_breaker_record(&b, t + 31 * SEC, true)); /* 40s capped at 30s */
    assert_false(pp_breaker_permit(&b, t + 60 * SEC, &wait));
    assert_int_equal(wait, 1 * SEC);
    assert_true(pp_breaker_permit(&b, t + 61 * SEC, &wait));
    /* A cancelled probe frees the slot. */
    pp_breaker_cancel(&b);
    assert_true(pp_breaker_permit(&b, t + 61 * SEC, &wait));
    /* Success closes and resets the cool-down. */
    assert_true(pp_breaker_record(&b, t + 62 * SEC, false));
    assert_int_equal(b.state, PP_BREAKER_CLOSED);
    assert_int_equal(b.cool_down_ns, 10 * SEC);

    bc.enabled = false;
    pp_breaker_init(&b, &bc, 30 * SEC);
    for (int i = 0; i < 10; i++) assert_false(pp_breaker_record(&b, t, true));
    assert_true(pp_breaker_permit(&b, t, &wait));
}

/* ---- a scripted exporter ---- */

typedef struct fake {
    pthread_mutex_t lock;
    pp_send_result script[16]; /* answers in order; then `dflt` */
    int nscript, next;
    pp_send_result dflt;
    size_t too_large_over; /* > 0: TOO_LARGE for requests of more items */
    bool stall;            /* send waits (until unstalled or aborted) */
    int sends;
    size_t arrived;        /* items in OK answers */
    size_t max_items_seen;
    size_t max_len_seen;   /* largest body sent (fake_encode does not compress) */
    int conns;
    int64_t hold_odd_until; /* hold(): requests of an odd item count wait until then */
    int holds_first;        /* hold() calls with first = true that said "wait" */
    int odd_sent_early;     /* odd requests sent before hold_odd_until */
    size_t dropped_items;   /* seen by ops->dropped */
} fake;

static pp_export_request *fake_encode(void *ctx, pp_batch *b, pp_status *st) {
    (void)ctx;
    (void)st;
    size_t n = pp_batch_encoded_size(b);
    uint8_t *body = malloc(n ? n : 1);
    pp_batch_pack(b, body);
    return pp_export_request_new(b, body, n);
}

static void *fake_conn_new(void *ctx) {
    fake *f = ctx;
    pthread_mutex_lock(&f->lock);
    f->conns++;
    pthread_mutex_unlock(&f->lock);
    return malloc(1);
}
static void fake_conn_free(void *ctx, void *conn) {
    (void)ctx;
    free(conn);
}

static void fake_send(void *ctx, void *conn, const pp_export_request *r,
                      const _Atomic int64_t *abort_at, pp_send_result *res) {
    fake *f = ctx;
    assert_non_null(conn);
    /* The body really is the batch's encoding. */
    pp_status st;
    pp_batch *b = pp_batch_decode(r->signal, r->body, r->len, &st);
    assert_non_null(b);
    assert_int_equal(b->items, r->items);
    pp_batch_unref(b);
    for (;;) {
        pthread_mutex_lock(&f->lock);
        bool stall = f->stall;
        pthread_mutex_unlock(&f->lock);
        if (!stall) break;
        if (tu_mono_ns() >= atomic_load(abort_at)) {
            pp_send_result_set(res, PP_SEND_RETRY, "aborted");
            return;
        }
        tu_sleep_ms(1);
    }
    pthread_mutex_lock(&f->lock);
    f->sends++;
    if (r->items % 2 == 1 && tu_mono_ns() < f->hold_odd_until) f->odd_sent_early++;
    if (r->items > f->max_items_seen) f->max_items_seen = r->items;
    if (r->len > f->max_len_seen) f->max_len_seen = r->len;
    if (f->too_large_over && r->items > f->too_large_over) {
        pp_send_result_set(res, PP_SEND_TOO_LARGE, "message larger than max");
    } else {
        *res = f->next < f->nscript ? f->script[f->next++] : f->dflt;
        if (res->outcome == PP_SEND_OK) f->arrived += r->items - (size_t)res->rejected;
        /* As a rate limiter learns a limit from the answer. */
        if (res->outcome == PP_SEND_HOLD) f->hold_odd_until = tu_mono_ns() + res->retry_after_ns;
    }
    pthread_mutex_unlock(&f->lock);
}

static const pp_exporter_ops fake_ops = {.encode = fake_encode, .conn_new = fake_conn_new,
                                         .conn_free = fake_conn_free, .send = fake_send};

/* Called under the exporter's lock: f->lock nests inside it. */
static int64_t fake_hold(void *ctx, const pp_export_request *r, bool first) {
    fake *f = ctx;
    pthread_mutex_lock(&f->lock);
    int64_t w = r->items % 2 == 1 ? f->hold_odd_until - tu_mono_ns() : 0;
    if (w > 0 && first) f->holds_first++;
    pthread_mutex_unlock(&f->lock);
    return w;
}

static void fake_dropped(void *ctx, const pp_export_request *r, const char *reason) {
    fake *f = ctx;
    (void)reason;
    pthread_mutex_lock(&f->lock);
    f->dropped_items += r->items;
    pthread_mutex_unlock(&f->lock);
}

static const pp_exporter_ops fake_hold_ops = {.encode = fake_encode, .conn_new = fake_conn_new,
                                              .conn_free = fake_conn_free, .send = fake_send,
                                              .hold = fake_hold, .dropped = fake_dropped};

/* A peer that takes at most 4000 bytes, and says so. */
static const pp_exporter_ops fake_capped_ops = {.encode = fake_encode, .conn_new = fake_conn_new,
                                                .conn_free = fake_conn_free, .send = fake_send,
                                                .max_request_bytes = 4000};

typedef struct rig {
    pp_host host;
    pp_exporter_cfg cfg;
    fake f;
    const pp_exporter_ops *ops; /* NULL: fake_ops */
    pp_exporter *e;
} rig;

static rig *rig_new(void) {
    rig *r = calloc(1, sizeof(*r));
    r->host.metrics = pp_metrics_new();
    r->host.health = pp_health_new();
    pp_exporter_cfg_defaults(&r->cfg);
    r->cfg.retry_on_failure.initial_interval_ns = 1 * MS;
    r->cfg.retry_on_failure.max_interval_ns = 5 * MS;
    r->cfg.sending_queue.num_consumers = 2;
    pthread_mutex_init(&r->f.lock, NULL);
    return r;
}

static void rig_start(rig *r) {
    pp_status st = {0};
    pp_exporter_params p = {.id = "fake", .host = &r->host, .cfg = &r->cfg, .ops = r->ops ? r->ops : &fake_ops,
                            .ctx = &r->f};
    r->e = pp_exporter_new(&p, &st);
    assert_non_null(r->e);
    assert_int_equal(pp_exporter_start(r->e, &r->host, &st), 0);
}

static void rig_shutdown(rig *r, int64_t deadline_in) {
    r->host.shutdown_deadline_ns = tu_mono_ns() + deadline_in;
    pp_exporter_shutdown(r->e, &r->host);
}

static void rig_free(rig *r) {
    pp_exporter_destroy(r->e);
    pthread_mutex_destroy(&r->f.lock);
    pp_health_free(r->host.health);
    pp_metrics_free(r->host.metrics);
    free(r);
}

static uint64_t counter(rig *r, const char *name) {
    const char *l[] = {"exporter", "fake", NULL};
    return pp_counter_value(pp_counter_get(r->host.metrics, name, "", l));
}
static uint64_t dropped(rig *r, const char *reason) {
    return pp_counter_value(pp_drops_counter(r->host.metrics, "exporter/fake", PP_TRACES, reason));
}
static uint64_t all_dropped(rig *r) {
    return dropped(r, "permanent_error") + dropped(r, "retries_exhausted") +
           dropped(r, "too_large") + dropped(r, "shutdown_deadline");
}

static int consume_spans(rig *r, size_t n, pp_status *st) {
    pp_batch *b = tu_make_traces(1, 1, n, (uint32_t)n);
    pp_status_clear(st);
    int rc = pp_consume(pp_exporter_consumer(r->e, PP_TRACES), b, st);
    pp_batch_unref(b);
    return rc;
}

/* Waits (bounded) until `arrived` reaches n. */
static void await_arrived(rig *r, size_t n) {
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&r->f.lock);
        size_t a = r->f.arrived;
        pthread_mutex_unlock(&r->f.lock);
        if (a >= n) return;
        tu_sleep_ms(1);
    }
}

static void script(rig *r, pp_send_outcome o, int64_t retry_after, int64_t rejected, const char *msg) {
    pp_send_result *s = &r->f.script[r->f.nscript++];
    pp_send_result_set(s, o, "%s", msg);
    s->retry_after_ns = retry_after;
    s->rejected = rejected;
}

static void test_delivers_and_counts(void **state) {
    (void)state;
    rig *r = rig_new();
    rig_start(r);
    pp_status st;
    for (int i = 0; i < 20; i++) assert_int_equal(consume_spans(r, 5, &st), 0);
    await_arrived(r, 100);
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(r->f.arrived, 100);
    assert_int_equal(r->f.sends, 20);
    assert_int_equal(counter(r, "otelcol_exporter_sent_spans"), 100);
    assert_int_equal(counter(r, "otelcol_exporter_send_failed_spans"), 0);
    assert_int_equal(all_dropped(r), 0);
    assert_int_equal(pp_exporter_queue_size(r->e), 0);
    assert_int_equal(r->f.conns, 2); /* one connection per consumer, reused */
    rig_free(r);
}

static void test_queue_full_refuses(void **state) {
    (void)state;
    rig *r = rig_new();
    r->cfg.sending_queue.queue_size = 3;
    r->cfg.sending_queue.num_consumers = 1;
    r->f.stall = true;
    rig_start(r);
    pp_status st;
    for (int i = 0; i < 3; i++) assert_int_equal(consume_spans(r, 4, &st), 0);
    assert_int_equal(consume_spans(r, 7, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_non_null(strstr(st.msg, "queue is full"));
    assert_int_equal(counter(r, "otelcol_exporter_enqueue_failed_spans"), 7);
    const char *l[] = {"exporter", "fake", NULL};
    assert_int_equal(pp_gauge_value(pp_gauge_get(r->host.metrics, "otelcol_exporter_queue_size", "", l)), 3);
    assert_int_equal(pp_gauge_value(pp_gauge_get(r->host.metrics, "otelcol_exporter_queue_capacity", "", l)), 3);
    pthread_mutex_lock(&r->f.lock);
    r->f.stall = false;
    pthread_mutex_unlock(&r->f.lock);
    await_arrived(r, 12);
    assert_int_equal(consume_spans(r, 2, &st), 0); /* room again */
    await_arrived(r, 14);
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(counter(r, "otelcol_exporter_sent_spans"), 14);
    assert_int_equal(all_dropped(r), 0);
    rig_free(r);
}

/* sending_queue.max_bytes: the queue is full by bytes before it is by count. */
static void test_queue_bytes_cap_refuses(void **state) {
    (void)state;
    rig *r = rig_new();
    pp_batch *probe = tu_make_traces(1, 1, 4, 4);
    size_t one = pp_batch_encoded_size(probe); /* fake_encode's body for 4 spans */
    pp_batch_unref(probe);
    r->cfg.sending_queue.max_bytes = (int64_t)(2 * one + one / 2);
    r->cfg.sending_queue.num_consumers = 1;
    r->f.stall = true;
    rig_start(r);
    pp_status st;
    for (int i = 0; i < 2; i++) assert_int_equal(consume_spans(r, 4, &st), 0);
    assert_int_equal(consume_spans(r, 4, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_non_null(strstr(st.msg, "bytes"));
    assert_int_equal(counter(r, "otelcol_exporter_enqueue_failed_spans"), 4);
    pthread_mutex_lock(&r->f.lock);
    r->f.stall = false;
    pthread_mutex_unlock(&r->f.lock);
    await_arrived(r, 8);
    for (int i = 0; i < 100 && pp_exporter_queue_size(r->e) > 0; i++) tu_sleep_ms(1);
    assert_int_equal(consume_spans(r, 4, &st), 0); /* acknowledged bytes were given back */
    await_arrived(r, 12);
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(counter(r, "otelcol_exporter_sent_spans"), 12);
    assert_int_equal(all_dropped(r), 0);
    rig_free(r);
}

static void test_retry_then_ok(void **state) {
    (void)state;
    rig *r = rig_new();
    for (int i = 0; i < 3; i++) script(r, PP_SEND_RETRY, 0, 0, "UNAVAILABLE");
    rig_start(r);
    pp_status st;
    assert_int_equal(consume_spans(r, 9, &st), 0);
    await_arrived(r, 9);
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(r->f.sends, 4);
    assert_int_equal(counter(r, "pipit_exporter_retries"), 3);
    assert_int_equal(counter(r, "otelcol_exporter_sent_spans"), 9);
    assert_int_equal(counter(r, "otelcol_exporter_send_failed_spans"), 0);
    assert_int_equal(all_dropped(r), 0);
    rig_free(r);
}

static void test_server_delay_overrides_backoff(void **state) {
    (void)state;
    rig *r = rig_new();
    r->cfg.retry_on_failure.initial_interval_ns = 60 * SEC; /* would outlast the test */
    r->cfg.retry_on_failure.max_interval_ns = 60 * SEC;
    script(r, PP_SEND_RETRY, 30 * MS, 0, "throttled");
    rig_start(r);
    pp_status st;
    int64_t t0 = tu_mono_ns();
    assert_int_equal(consume_spans(r, 3, &st), 0);
    await_arrived(r, 3);
    int64_t took = tu_mono_ns() - t0;
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(r->f.arrived, 3);
    assert_true(took >= 30 * MS);
    assert_true(took < 2 * SEC);
    rig_free(r);
}

static char logbuf[16384];
static void capture(const char *line, void *arg) {
    (void)arg;
    size_t n = strlen(logbuf);
    snprintf(logbuf + n, sizeof(logbuf) - n, "%s", line);
}

static void test_permanent_error_dropped_and_logged(void **state) {
    (void)state;
    rig *r = rig_new();
    script(r, PP_SEND_PERMANENT, 0, 0, "INVALID_ARGUMENT: span 3 has no name");
    logbuf[0] = '\0';
    pp_log_set_sink(capture, NULL);
    rig_start(r);
    pp_status st;
    assert_int_equal(consume_spans(r, 6, &st), 0);
    assert_int_equal(consume_spans(r, 4, &st), 0);
    await_arrived(r, 4);
    rig_shutdown(r, 5 * SEC);
    pp_log_set_sink(NULL, NULL);
    assert_int_equal(r->f.sends, 2); /* never retried */
    assert_int_equal(dropped(r, "permanent_error"), r->f.arrived == 4 ? 6 : 4);
    assert_int_equal(counter(r, "otelcol_exporter_send_failed_spans"), 10 - r->f.arrived);
    assert_int_equal(counter(r, "otelcol_exporter_sent_spans"), r->f.arrived);
    assert_int_equal(all_dropped(r) + r->f.arrived, 10);
    assert_non_null(strstr(logbuf, "span 3 has no name"));
    assert_non_null(strstr(logbuf, "permanent_error"));
    rig_free(r);
}

static void test_too_large_splits(void **state) {
    (void)state;
    rig *r = rig_new();
    r->f.too_large_over = 3;
    rig_start(r);
    pp_status st;
    assert_int_equal(consume_spans(r, 10, &st), 0);
    await_arrived(r, 10);
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(r->f.arrived, 10);
    assert_int_equal(counter(r, "otelcol_exporter_sent_spans"), 10);
    assert_int_equal(all_dropped(r), 0);
    /* 10 -> 5+5 -> (2+3)+(2+3): 1 + 2 + 4 sends. */
    assert_int_equal(r->f.sends, 7);
    rig_free(r);
}

static int consume_fat_spans(rig *r, size_t n, size_t bytes, pp_status *st) {
    uint64_t rng = n;
    pp_batch *b = tu_make_traces(1, 1, n, (uint32_t)n);
    tu_fatten_spans(b, bytes, bytes, &rng);
    pp_status_clear(st);
    int rc = pp_consume(pp_exporter_consumer(r->e, PP_TRACES), b, st);
    pp_batch_unref(b);
    return rc;
}

static void test_over_max_request_bytes_split_before_sending(void **state) {
    (void)state;
    for (int sync = 0; sync < 2; sync++) {
        rig *r = rig_new();
        r->ops = &fake_capped_ops;
        r->cfg.sending_queue.enabled = sync == 0;
        r->f.too_large_over = 0;
        r->f.dflt.outcome = PP_SEND_OK;
        rig_start(r);
        pp_status st;
        /* 40 spans of about 560 bytes: 22 kB in one batch. */
        assert_int_equal(consume_fat_spans(r, 40, 500, &st), 0);
        await_arrived(r, 40);
        rig_shutdown(r, 5 * SEC);
        assert_int_equal(r->f.arrived, 40);
        assert_int_equal(counter(r, "otelcol_exporter_sent_spans"), 40);
        assert_int_equal(all_dropped(r), 0);
        /* The peer never saw a request over the limit, nor had to refuse one:
         * 40 -> 20 -> 10 -> 5 spans of ~2.8 kB: 8 sends. */
        assert_true(r->f.max_len_seen <= 4000);
        assert_true(r->f.max_len_seen > 2000);
        assert_int_equal(r->f.sends, 8);
        rig_free(r);
    }
    /* A single span over the limit is sent as it is: the peer decides. */
    rig *r = rig_new();
    r->ops = &fake_capped_ops;
    r->cfg.sending_queue.enabled = false;
    r->f.dflt.outcome = PP_SEND_OK;
    rig_start(r);
    pp_status st;
    assert_int_equal(consume_fat_spans(r, 1, 6000, &st), 0);
    assert_int_equal(r->f.arrived, 1);
    assert_int_equal(r->f.sends, 1);
    assert_true(r->f.max_len_seen > 6000);
    rig_shutdown(r, 5 * SEC);
    rig_free(r);
}

static void test_single_item_too_large_dropped(void **state) {
    (void)state;
    rig *r = rig_new();
    r->cfg.sending_queue.enabled = false;
    r->f.too_large_over = 1;
    r->f.dflt.outcome = PP_SEND_OK;
    rig_start(r);
    pp_status st;
    /* Two-item batches fit after one split; a one-item batch can only fit. */
    assert_int_equal(consume_spans(r, 2, &st), 0);
    assert_int_equal(r->f.arrived, 2);
    r->f.too_large_over = 0;
    rig_shutdown(r, 5 * SEC);
    rig_free(r);

    r = rig_new();
    r->cfg.sending_queue.enabled = false;
    r->f.dflt.outcome = PP_SEND_TOO_LARGE;
    snprintf(r->f.dflt.msg, sizeof(r->f.dflt.msg), "413");
    rig_start(r);
    assert_int_equal(consume_spans(r, 4, &st), -1);
    assert_int_equal(dropped(r, "too_large"), 4);
    assert_int_equal(counter(r, "otelcol_exporter_send_failed_spans"), 4);
    assert_int_equal(r->f.sends, 1 + 2 + 4);
    rig_shutdown(r, 5 * SEC);
    rig_free(r);
}

static void test_partial_success_counted(void **state) {
    (void)state;
    rig *r = rig_new();
    script(r, PP_SEND_OK, 0, 3, "3 spans had bad ids");
    rig_start(r);
    pp_status st;
    assert_int_equal(consume_spans(r, 10, &st), 0);
    await_arrived(r, 7);
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(r->f.sends, 1); /* not retried */
    assert_int_equal(counter(r, "otelcol_exporter_sent_spans"), 7);
    assert_int_equal(counter(r, "otelcol_exporter_send_failed_spans"), 3);
    assert_int_equal(all_dropped(r), 0);
    rig_free(r);
}

static void test_retries_exhausted(void **state) {
    (void)state;
    rig *r = rig_new();
    r->cfg.retry_on_failure.max_elapsed_time_ns = 40 * MS;
    r->cfg.circuit_breaker.enabled = false;
    r->f.dflt.outcome = PP_SEND_RETRY;
    snprintf(r->f.dflt.msg, sizeof(r->f.dflt.msg), "connection refused");
    rig_start(r);
    pp_status st;
    assert_int_equal(consume_spans(r, 5, &st), 0);
    for (int i = 0; i < 3000 && dropped(r, "retries_exhausted") < 5; i++) tu_sleep_ms(1);
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(dropped(r, "retries_exhausted"), 5);
    assert_int_equal(counter(r, "otelcol_exporter_send_failed_spans"), 5);
    assert_true(r->f.sends >= 3);
    assert_int_equal(counter(r, "pipit_exporter_retries"), (uint64_t)r->f.sends - 1);
    rig_free(r);
}

static void test_breaker_opens_waits_and_closes(void **state) {
    (void)state;
    rig *r = rig_new();
    r->cfg.circuit_breaker.failure_threshold = 2;
    r->cfg.circuit_breaker.cool_down_ns = 150 * MS;
    r->cfg.sending_queue.num_consumers = 1;
    for (int i = 0; i < 3; i++) script(r, PP_SEND_RETRY, 0, 0, "backend down");
    rig_start(r);
    pp_status st;
    assert_int_equal(consume_spans(r, 2, &st), 0);
    /* Two failures open it; the third attempt is the probe after the cool-down. */
    for (int i = 0; i < 1000 && pp_exporter_circuit_state(r->e) != PP_BREAKER_OPEN; i++) tu_sleep_ms(1);
    assert_int_equal(pp_exporter_circuit_state(r->e), PP_BREAKER_OPEN);
    const char *l[] = {"exporter", "fake", NULL};
    assert_int_equal(pp_gauge_value(pp_gauge_get(r->host.metrics, "pipit_exporter_circuit_state", "", l)), 2);
    int code;
    char *body = pp_health_render(r->host.health, &code);
    assert_non_null(strstr(body, "backend down"));
    free(body);
    /* While open, no attempt is made. */
    pthread_mutex_lock(&r->f.lock);
    int sends_open = r->f.sends;
    pthread_mutex_unlock(&r->f.lock);
    assert_int_equal(sends_open, 2);
    tu_sleep_ms(60);
    pthread_mutex_lock(&r->f.lock);
    assert_int_equal(r->f.sends, 2);
    pthread_mutex_unlock(&r->f.lock);
    await_arrived(r, 2);
    assert_int_equal(pp_exporter_circuit_state(r->e), PP_BREAKER_CLOSED);
    assert_int_equal(pp_gauge_value(pp_gauge_get(r->host.metrics, "pipit_exporter_circuit_state", "", l)), 0);
    assert_int_equal(r->f.sends, 4); /* 2 failures, failed probe, good probe */
    rig_shutdown(r, 5 * SEC);
    rig_free(r);
}

static void test_shutdown_drains_queue(void **state) {
    (void)state;
    rig *r = rig_new();
    r->cfg.sending_queue.num_consumers = 1;
    r->f.stall = true;
    rig_start(r);
    pp_status st;
    for (int i = 0; i < 8; i++) assert_int_equal(consume_spans(r, 3, &st), 0);
    pthread_mutex_lock(&r->f.lock);
    r->f.stall = false;
    pthread_mutex_unlock(&r->f.lock);
    rig_shutdown(r, 5 * SEC);
    assert_int_equal(r->f.arrived, 24);
    assert_int_equal(all_dropped(r), 0);
    assert_int_equal(consume_spans(r, 1, &st), -1); /* stopped: refuses */
    assert_int_equal(st.code, PP_UNAVAILABLE);
    rig_free(r);
}

static void test_shutdown_deadline_counts_the_rest(void **state) {
    (void)state;
    rig *r = rig_new();
    r->cfg.sending_queue.num_consumers = 2;
    r->f.stall = true; /* a peer that never answers */
    rig_start(r);
    pp_status st;
    for (int i = 0; i < 6; i++) assert_int_equal(consume_spans(r, 5, &st), 0);
    int64_t t0 = tu_mono_ns();
    rig_shutdown(r, 100 * MS);
    int64_t took = tu_mono_ns() - t0;
    assert_true(took >= 90 * MS && took < 3 * SEC);
    assert_int_equal(r->f.arrived, 0);
    assert_int_equal(dropped(r, "shutdown_deadline"), 30);
    assert_int_equal(counter(r, "otelcol_exporter_send_failed_spans"), 30);
    assert_int_equal(pp_exporter_queue_size(r->e), 0);
    rig_free(r);
}

static void test_sync_mode(void **state) {
    (void)state;
    rig *r = rig_new();
    r->cfg.sending_queue.enabled = false;
    r->cfg.retry_on_failure.enabled = false;
    script(r, PP_SEND_OK, 0, 0, "");
    script(r, PP_SEND_RETRY, 2 * SEC, 0, "UNAVAILABLE: busy");
    rig_start(r);
    pp_status st;
    assert_int_equal(consume_spans(r, 3, &st), 0);
    assert_int_equal(r->f.arrived, 3); /* sent on this thread, before returning */
    assert_int_equal(consume_spans(r, 4, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_int_equal(st.retry_after_ms, 2000);
    assert_non_null(strstr(st.msg, "busy"));
    /* Refused, not lost: the caller keeps the data. */
    assert_int_equal(all_dropped(r), 0);
    rig_shutdown(r, 5 * SEC);
    rig_free(r);
}

/* A storage needs the queue; durability and the replay cap need a storage. */
static void test_storage_config_checks(void **state) {
    (void)state;
    pp_exporter_cfg c;
    pp_exporter_cfg_defaults(&c);
    c.sending_queue.storage = (char *)"file_storage";
    pp_diag d;
    pp_diag_init(&d);
    assert_int_equal(pp_exporter_cfg_validate(&c, "exporters.otlp", &d), 0);
    c.sending_queue.enabled = false;
    assert_int_equal(pp_exporter_cfg_validate(&c, "exporters.otlp", &d), 1);
    assert_true(pp_diag_has(&d, "exporters.otlp.sending_queue.storage", "sending queue"));
    pp_diag_free(&d);
    pp_exporter_cfg_defaults(&c);
    c.sending_queue.replay_rate_limit = 1000;
    pp_diag_init(&d);
    assert_int_equal(pp_exporter_cfg_validate(&c, "exporters.otlp", &d), 1);
    assert_true(pp_diag_has(&d, "exporters.otlp.sending_queue", "need sending_queue.storage"));
    pp_diag_free(&d);
}

static void test_memory_queue_shards(void **state) {
    (void)state;
    pp_queue_storage *q = pp_queue_storage_memory(10);
    pp_export_request *r[5];
    uint64_t shards[5] = {1, 1, 2, 0, 1};
    for (int i = 0; i < 5; i++) {
        r[i] = pp_export_request_new(NULL, NULL, 0);
        r[i]->shard = shards[i];
        assert_int_equal(q->put(q, r[i]), 0);
    }
    assert_ptr_equal(q->peek(q), r[0]);
    assert_ptr_equal(q->peek(q), r[2]); /* shard 1 busy: skip r[1] */
    assert_ptr_equal(q->peek(q), r[3]);
    assert_null(q->peek(q));
    q->nack(q, r[0]); /* back in front, order kept */
    assert_ptr_equal(q->peek(q), r[0]);
    q->ack(q, r[0]);
    assert_ptr_equal(q->peek(q), r[1]);
    assert_int_equal(q->size(q), 4);
    q->destroy(q);
    q = pp_queue_storage_memory(1);
    pp_export_request *a = pp_export_request_new(NULL, NULL, 0);
    assert_int_equal(q->put(q, a), 0);
    pp_export_request *b = pp_export_request_new(NULL, NULL, 0);
    assert_int_equal(q->put(q, b), -1);
    pp_export_request_free(b);
    q->destroy(q);
}

/* ops->hold: odd-sized requests wait (held, not sent, not failed) while even
 * ones flow past them on the same two consumers; a HOLD answer does the same;
 * when the hold ends every held request goes, and nothing is dropped. */
static void test_hold_keeps_other_requests_flowing(void **state) {
    (void)state;
    rig *r = rig_new();
    r->ops = &fake_hold_ops;
    r->cfg.circuit_breaker.failure_threshold = 1; /* a hold counted as a failure would open it */
    r->f.hold_odd_until = tu_mono_ns() + 400 * MS;
    r->f.dflt.outcome = PP_SEND_OK;
    rig_start(r);
    pp_status st = {0};
    /* Eight held requests (1 span each) ahead of the others: more than the consumers. */
    for (int i = 0; i < 8; i++) assert_int_equal(consume_spans(r, 1, &st), 0);
    for (int i = 0; i < 5; i++) assert_int_equal(consume_spans(r, 2, &st), 0);
    await_arrived(r, 10);
    pthread_mutex_lock(&r->f.lock);
    assert_int_equal(r->f.arrived, 10); /* the even ones, before the hold ends */
    assert_int_equal(r->f.sends, 5);
    assert_int_equal(r->f.holds_first, 8);
    pthread_mutex_unlock(&r->f.lock);
    assert_true(tu_mono_ns() < r->f.hold_odd_until);
    assert_int_equal(pp_exporter_held(r->e), 8);
    assert_int_equal(pp_exporter_queue_size(r->e), 8); /* still stored */
    assert_int_equal(pp_exporter_circuit_state(r->e), PP_BREAKER_CLOSED);

    await_arrived(r, 18);
    pthread_mutex_lock(&r->f.lock);
    assert_int_equal(r->f.arrived, 18);
    assert_int_equal(r->f.odd_sent_early, 0);
    pthread_mutex_unlock(&r->f.lock);
    assert_true(tu_mono_ns() >= r->f.hold_odd_until);
    for (int i = 0; i < 100 && pp_exporter_held(r->e) > 0; i++) tu_sleep_ms(1);
    assert_int_equal(pp_exporter_held(r->e), 0);

    /* A HOLD answer (hold() let it go): it waits as the answer said, then goes once. */
    script(r, PP_SEND_HOLD, 300 * MS, 0, "429 rate limited");
    assert_int_equal(consume_spans(r, 3, &st), 0);
    for (int i = 0; i < 1000 && pp_exporter_held(r->e) == 0; i++) tu_sleep_ms(1);
    pthread_mutex_lock(&r->f.lock);
    int64_t until = r->f.hold_odd_until;
    pthread_mutex_unlock(&r->f.lock);
    assert_int_equal(consume_spans(r, 2, &st), 0);
    await_arrived(r, 20);
    assert_true(tu_mono_ns() < until);
    assert_int_equal(pp_exporter_held(r->e), 1);
    await_arrived(r, 23);
    assert_true(tu_mono_ns() >= until);
    pthread_mutex_lock(&r->f.lock);
    assert_int_equal(r->f.arrived, 23);
    assert_int_equal(r->f.sends, 5 + 8 + 2 + 1);
    pthread_mutex_unlock(&r->f.lock);
    assert_int_equal(counter(r, "pipit_exporter_retries"), 0);
    assert_int_equal(all_dropped(r), 0);
    assert_int_equal(pp_exporter_circuit_state(r->e), PP_BREAKER_CLOSED);
    rig_shutdown(r, 2 * SEC);
    rig_free(r);
}

/* Held requests still waiting at the shutdown deadline are dropped as
 * shutdown_deadline (and reported to ops->dropped); without a queue a hold
 * is a refusal carrying the delay. */
static void test_hold_at_shutdown_and_sync(void **state) {
    (void)state;
    rig *r = rig_new();
    r->ops = &fake_hold_ops;
    r->f.hold_odd_until = tu_mono_ns() + 3600 * SEC;
    r->f.dflt.outcome = PP_SEND_OK;
    rig_start(r);
    pp_status st = {0};
    for (int i = 0; i < 3; i++) assert_int_equal(consume_spans(r, 1, &st), 0);
    for (int i = 0; i < 1000 && pp_exporter_held(r->e) < 3; i++) tu_sleep_ms(1);
    assert_int_equal(pp_exporter_held(r->e), 3);
    int64_t t0 = tu_mono_ns();
    rig_shutdown(r, 100 * MS);
    assert_true(tu_mono_ns() - t0 < 2 * SEC);
    assert_int_equal(dropped(r, "shutdown_deadline"), 3);
    assert_int_equal(r->f.dropped_items, 3);
    assert_int_equal(r->f.sends, 0);
    rig_free(r);

    r = rig_new();
    r->ops = &fake_hold_ops;
    r->cfg.sending_queue.enabled = false;
    r->f.hold_odd_until = tu_mono_ns() + 30 * SEC;
    r->f.dflt.outcome = PP_SEND_OK;
    rig_start(r);
    assert_int_equal(consume_spans(r, 1, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_true(st.retry_after_ms > 29000 && st.retry_after_ms <= 30001);
    assert_int_equal(consume_spans(r, 2, &st), 0);
    assert_int_equal(r->f.sends, 1);
    assert_int_equal(all_dropped(r), 0);
    rig_shutdown(r, SEC);
    rig_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_jitter_bounds),
        cmocka_unit_test(test_backoff_cap_and_server_delay),
        cmocka_unit_test(test_breaker_transitions),
        cmocka_unit_test(test_memory_queue_shards),
        cmocka_unit_test(test_storage_config_checks),
        cmocka_unit_test(test_delivers_and_counts),
        cmocka_unit_test(test_queue_full_refuses),
        cmocka_unit_test(test_queue_bytes_cap_refuses),
        cmocka_unit_test(test_retry_then_ok),
        cmocka_unit_test(test_server_delay_overrides_backoff),
        cmocka_unit_test(test_permanent_error_dropped_and_logged),
        cmocka_unit_test(test_too_large_splits),
        cmocka_unit_test(test_single_item_too_large_dropped),
        cmocka_unit_test(test_over_max_request_bytes_split_before_sending),
        cmocka_unit_test(test_partial_success_counted),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_breaker_opens_waits_and_closes),
        cmocka_unit_test(test_shutdown_drains_queue),
        cmocka_unit_test(test_shutdown_deadline_counts_the_rest),
        cmocka_unit_test(test_sync_mode),
        cmocka_unit_test(test_hold_keeps_other_requests_flowing),
        cmocka_unit_test(test_hold_at_shutdown_and_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
