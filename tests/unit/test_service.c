/* Unit tests: the service graph -- fan-out, instances per pipeline, shared
 * exporters, connectors, start/shutdown order, drain at shutdown. Uses fake
 * components registered through pp_registry_set_extra. */
#include "testutil.h"
#include "testutil_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "config.h"
#include "service.h"

/* ---- an event log shared by the fakes ---- */
static char events[4096];
static void note(const char *what, const char *id) {
    size_t n = strlen(events);
    snprintf(events + n, sizeof(events) - n, "%s %s;", what, id);
}

/* ---- fake receiver: remembers where it feeds ---- */
typedef struct fake_recv { char id[64]; pp_consumer *next[PP_SIGNAL_COUNT]; } fake_recv;
static fake_recv *last_recv;
static void *recv_create(const pp_create_params *p, pp_status *st) {
    (void)st;
    fake_recv *r = calloc(1, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", p->id);
    memcpy(r->next, p->next, sizeof(r->next));
    last_recv = r;
    return r;
}
static int recv_start(void *inst, pp_host *h, pp_status *st) {
    (void)h; (void)st;
    note("start", ((fake_recv *)inst)->id);
    return 0;
}
static void recv_shutdown(void *inst, pp_host *h) { (void)h; note("stop", ((fake_recv *)inst)->id); }
static const pp_factory fake_receiver = {
    .kind = PP_RECEIVER, .type = "frecv", .signals = 3, .create = recv_create, .start = recv_start,
    .shutdown = recv_shutdown, .destroy = free};

/* ---- fake processor: passes through, counts ---- */
typedef struct fake_proc { pp_consumer c; pp_consumer *next; char id[64]; int seen; } fake_proc;
static int proc_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    fake_proc *p = (fake_proc *)self;
    p->seen++;
    return pp_consume(p->next, b, st);
}
static void *proc_create(const pp_create_params *p, pp_status *st) {
    (void)st;
    fake_proc *f = calloc(1, sizeof(*f));
    f->c.consume = proc_consume;
    f->next = p->next[p->signal];
    snprintf(f->id, sizeof(f->id), "%s", p->id);
    return f;
}
static pp_consumer *proc_consumer(void *inst, pp_signal s) { (void)s; return &((fake_proc *)inst)->c; }
static int proc_start(void *inst, pp_host *h, pp_status *st) {
    (void)h; (void)st;
    note("start", ((fake_proc *)inst)->id);
    return 0;
}
static void proc_shutdown(void *inst, pp_host *h) { (void)h; note("stop", ((fake_proc *)inst)->id); }
static const pp_factory fake_processor = {
    .kind = PP_PROCESSOR, .type = "fproc", .signals = 3, .create = proc_create,
    .start = proc_start, .consumer = proc_consumer, .shutdown = proc_shutdown, .destroy = free};

/* ---- fake exporter: records batches, may refuse or fail to start ---- */
typedef struct fake_exp_cfg { bool refuse; bool fail_start; } fake_exp_cfg;
static const pp_cfg_field fake_exp_schema[] = {
    {.key = "refuse", .type = PP_CFG_BOOL, .offset = offsetof(fake_exp_cfg, refuse)},
    {.key = "fail_start", .type = PP_CFG_BOOL, .offset = offsetof(fake_exp_cfg, fail_start)},
    {0}};
typedef struct fake_exp {
    pp_consumer c;
    const fake_exp_cfg *cfg;
    char id[64];
    int batches;
    size_t items[PP_SIGNAL_COUNT];
    size_t max_encoded; /* the largest protobuf encoding of a batch received */
    pp_batch *last;
} fake_exp;
static int exp_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    fake_exp *e = (fake_exp *)self;
    if (e->cfg->refuse) return pp_fail(st, PP_UNAVAILABLE, "full");
    e->batches++;
    e->items[b->signal] += b->items;
    size_t len = pp_batch_encoded_size(b);
    if (len > e->max_encoded) e->max_encoded = len;
    e->last = b; /* identity only: never dereferenced after the call */
    return 0;
}
static void *exp_create(const pp_create_params *p, pp_status *st) {
    (void)st;
    fake_exp *e = calloc(1, sizeof(*e));
    e->c.consume = exp_consume;
    e->cfg = p->config;
    snprintf(e->id, sizeof(e->id), "%s", p->id);
    return e;
}
static int exp_start(void *inst, pp_host *h, pp_status *st) {
    (void)h;
    fake_exp *e = inst;
    note("start", e->id);
    return e->cfg->fail_start ? pp_fail(st, PP_INTERNAL, "port in use") : 0;
}
static void exp_shutdown(void *inst, pp_host *h) { (void)h; note("stop", ((fake_exp *)inst)->id); }
static pp_consumer *exp_consumer(void *inst, pp_signal s) { (void)s; return &((fake_exp *)inst)->c; }
static const pp_factory fake_exporter = {
    .kind = PP_EXPORTER, .type = "fexp", .signals = 3, .config_size = sizeof(fake_exp_cfg),
    .schema = fake_exp_schema, .create = exp_create, .start = exp_start, .consumer = exp_consumer,
    .shutdown = exp_shutdown, .destroy = free};

/* ---- fake connector traces -> metrics: one metric point per span ---- */
typedef struct fake_conn { pp_consumer c; pp_consumer *out; } fake_conn;
static int conn_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    fake_conn *c = (fake_conn *)self;
    pp_batch *m = tu_make_metrics(1, b->items, 1);
    int rc = pp_consume(c->out, m, st);
    pp_batch_unref(m);
    return rc;
}
static void *conn_create(const pp_create_params *p, pp_status *st) {
    (void)st;
    fake_conn *c = calloc(1, sizeof(*c));
    c->c.consume = conn_consume;
    c->out = p->next[PP_METRICS];
    return c;
}
static pp_consumer *conn_consumer(void *inst, pp_signal s) { (void)s; return &((fake_conn *)inst)->c; }
static const pp_factory fake_connector = {
    .kind = PP_CONNECTOR, .type = "fconn", .signals = PP_SIG_BIT(PP_TRACES),
    .out_signals = PP_SIG_BIT(PP_METRICS), .create = conn_create, .consumer = conn_consumer,
    .destroy = free};

static const pp_factory *const fakes[] = {&fake_receiver, &fake_processor, &fake_exporter,
                                          &fake_connector};

/* ---- harness (testutil_world.h) ---- */
typedef tu_world world;

static world *world_new(const char *yaml) {
    world *w = tu_world_new(yaml);
    events[0] = '\0';
    return w;
}

#define world_free tu_world_free

static int setup(void **state) {
    (void)state;
    pp_registry_set_extra(fakes, sizeof(fakes) / sizeof(fakes[0]));
    return 0;
}

static void test_fanout_shared_exporter_and_processor_per_pipeline(void **state) {
    (void)state;
    world *w = world_new("receivers: {frecv: }\n"
                         "processors: {fproc: }\n"
                         "exporters: {fexp/a: , fexp/b: }\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces/one: {receivers: [frecv], processors: [fproc], exporters: [fexp/a]}\n"
                         "    traces/two: {receivers: [frecv], processors: [fproc], exporters: [fexp/a, fexp/b]}\n");
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    fake_proc *p1 = pp_service_instance(w->svc, PP_PROCESSOR, "fproc", "traces/one");
    fake_proc *p2 = pp_service_instance(w->svc, PP_PROCESSOR, "fproc", "traces/two");
    assert_non_null(p1);
    assert_non_null(p2);
    assert_ptr_not_equal(p1, p2);
    fake_exp *a = pp_service_instance(w->svc, PP_EXPORTER, "fexp/a", NULL);
    fake_exp *b = pp_service_instance(w->svc, PP_EXPORTER, "fexp/b", NULL);
    assert_non_null(last_recv->next[PP_TRACES]);
    assert_null(last_recv->next[PP_METRICS]); /* no metrics pipeline */

    pp_batch *in = tu_make_traces(1, 1, 5, 9);
    assert_int_equal(pp_consume(last_recv->next[PP_TRACES], in, &st), 0);
    assert_int_equal(p1->seen, 1);
    assert_int_equal(p2->seen, 1);
    assert_int_equal(a->batches, 2); /* shared: fed by both pipelines */
    assert_int_equal(b->batches, 1);
    assert_ptr_equal(b->last, in); /* the same batch, not a copy */
    assert_true(pp_batch_is_exclusive(in)); /* nobody kept a reference */
    pp_batch_unref(in);
    world_free(w);
}

static void test_start_and_shutdown_order(void **state) {
    (void)state;
    world *w = world_new("receivers: {frecv: }\n"
                         "processors: {fproc/1: , fproc/2: }\n"
                         "exporters: {fexp: }\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces: {receivers: [frecv], processors: [fproc/1, fproc/2], exporters: [fexp]}\n");
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    assert_string_equal(events, "start fexp;start fproc/2;start fproc/1;start frecv;");
    events[0] = '\0';
    pp_service_shutdown(w->svc);
    assert_string_equal(events, "stop frecv;stop fproc/1;stop fproc/2;stop fexp;");
    world_free(w);
}

static void test_start_failure_names_component_and_stops_others(void **state) {
    (void)state;
    world *w = world_new("receivers: {frecv: }\n"
                         "exporters: {fexp: {fail_start: true}}\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    metrics: {receivers: [frecv], exporters: [fexp]}\n");
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), -1);
    assert_non_null(strstr(st.msg, "exporter/fexp"));
    assert_non_null(strstr(st.msg, "port in use"));
    assert_null(strstr(events, "start frecv")); /* never started the receiver */
    world_free(w);
}

static void test_connector_links_pipelines(void **state) {
    (void)state;
    world *w = world_new("receivers: {frecv: }\n"
                         "connectors: {fconn: }\n"
                         "exporters: {fexp: }\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces: {receivers: [frecv], exporters: [fconn]}\n"
                         "    metrics: {receivers: [fconn], exporters: [fexp]}\n");
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    pp_batch *in = tu_make_traces(1, 2, 3, 4);
    assert_int_equal(pp_consume(last_recv->next[PP_TRACES], in, &st), 0);
    fake_exp *e = pp_service_instance(w->svc, PP_EXPORTER, "fexp", NULL);
    assert_int_equal(e->items[PP_METRICS], 6);
    assert_int_equal(e->items[PP_TRACES], 0);
    pp_batch_unref(in);
    world_free(w);
}

static void test_refusal_reaches_receiver(void **state) {
    (void)state;
    world *w = world_new("receivers: {frecv: }\n"
                         "exporters: {fexp/ok: , fexp/full: {refuse: true}}\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces: {receivers: [frecv], exporters: [fexp/ok, fexp/full]}\n");
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    pp_batch *in = tu_make_traces(1, 1, 1, 4);
    assert_int_equal(pp_consume(last_recv->next[PP_TRACES], in, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    fake_exp *ok = pp_service_instance(w->svc, PP_EXPORTER, "fexp/ok", NULL);
    assert_int_equal(ok->batches, 1); /* the other exporter still got it */
    pp_batch_unref(in);
    world_free(w);
}

static void test_batch_processor_drains_at_shutdown(void **state) {
    (void)state;
    world *w = world_new("receivers: {frecv: }\n"
                         "processors: {batch: {timeout: 1h, send_batch_size: 1000000}}\n"
                         "exporters: {fexp: }\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces: {receivers: [frecv], processors: [batch], exporters: [fexp]}\n");
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    for (int i = 0; i < 5; i++) {
        pp_batch *in = tu_make_traces(1, 1, 10, (uint32_t)i);
        assert_int_equal(pp_consume(last_recv->next[PP_TRACES], in, &st), 0);
        pp_batch_unref(in);
    }
    fake_exp *e = pp_service_instance(w->svc, PP_EXPORTER, "fexp", NULL);
    assert_int_equal(e->batches, 0); /* held by the batch processor */
    w->host.shutdown_deadline_ns = tu_mono_ns() + 1000000000LL;
    pp_service_shutdown(w->svc);
    assert_int_equal(e->batches, 1); /* merged into one */
    assert_int_equal(e->items[PP_TRACES], 50);
    world_free(w);
}

/* Feeds n batches of `spans` spans with lo..hi bytes of attributes each, then
 * shuts down (which flushes) and returns the exporter's view. */
static void feed_big(world *w, int n, size_t spans, size_t lo, size_t hi) {
    pp_status st = {0};
    uint64_t rng = 11;
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    for (int i = 0; i < n; i++) {
        pp_batch *in = tu_make_traces(1, 2, spans, (uint32_t)i);
        tu_fatten_spans(in, lo, hi, &rng);
        assert_int_equal(pp_consume(last_recv->next[PP_TRACES], in, &st), 0);
        pp_batch_unref(in);
    }
    w->host.shutdown_deadline_ns = tu_mono_ns() + 1000000000LL;
    pp_service_shutdown(w->svc);
}

static uint64_t oversize_items(world *w) {
    const char *l[] = {"processor", "batch", "signal", "traces", NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, "pipit_processor_oversize_items", "", l));
}

static void test_batch_processor_byte_cap(void **state) {
    (void)state;
    world *w = world_new("receivers: {frecv: }\n"
                         "processors: {batch: {timeout: 1h, send_batch_size: 1000000,\n"
                         "                     send_batch_max_bytes: 20000}}\n"
                         "exporters: {fexp: }\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces: {receivers: [frecv], processors: [batch], exporters: [fexp]}\n");
    feed_big(w, 6, 10, 200, 2500); /* 120 spans, about 160 kB */
    fake_exp *e = pp_service_instance(w->svc, PP_EXPORTER, "fexp", NULL);
    assert_int_equal(e->items[PP_TRACES], 120);
    assert_true(e->batches >= 8); /* 160 kB cannot go in fewer batches of 20 kB */
    assert_true(e->max_encoded <= 20000);
    assert_true(e->max_encoded > 10000); /* merged, not sent one by one */
    assert_int_equal(oversize_items(w), 0);
    world_free(w);

    /* Spans of 30 kB each are over the cap: each goes alone, none is lost. */
    w = world_new("receivers: {frecv: }\n"
                  "processors: {batch: {timeout: 1h, send_batch_size: 1000000,\n"
                  "                     send_batch_max_bytes: 20000}}\n"
                  "exporters: {fexp: }\n"
                  "service:\n"
                  "  pipelines:\n"
                  "    traces: {receivers: [frecv], processors: [batch], exporters: [fexp]}\n");
    feed_big(w, 1, 2, 30000, 30000);
    e = pp_service_instance(w->svc, PP_EXPORTER, "fexp", NULL);
    assert_int_equal(e->items[PP_TRACES], 4);
    assert_int_equal(e->batches, 4);
    assert_int_equal(oversize_items(w), 4);
    world_free(w);
}

static void test_batch_processor_byte_cap_default(void **state) {
    (void)state;
    /* No key: 3 MiB. 5 x 8 spans of 100 kB = 4 MB, held until shutdown. */
    world *w = world_new("receivers: {frecv: }\n"
                         "processors: {batch: {timeout: 1h, send_batch_size: 1000000}}\n"
                         "exporters: {fexp: }\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces: {receivers: [frecv], processors: [batch], exporters: [fexp]}\n");
    feed_big(w, 5, 4, 100000, 100000);
    fake_exp *e = pp_service_instance(w->svc, PP_EXPORTER, "fexp", NULL);
    assert_int_equal(e->items[PP_TRACES], 40);
    assert_int_equal(e->batches, 2);
    assert_true(e->max_encoded <= 3145728);
    assert_true(e->max_encoded > 3000000);
    world_free(w);

    /* 0: no cap, one batch. */
    w = world_new("receivers: {frecv: }\n"
                  "processors: {batch: {timeout: 1h, send_batch_size: 1000000, send_batch_max_bytes: 0}}\n"
                  "exporters: {fexp: }\n"
                  "service:\n"
                  "  pipelines:\n"
                  "    traces: {receivers: [frecv], processors: [batch], exporters: [fexp]}\n");
    feed_big(w, 5, 4, 100000, 100000);
    e = pp_service_instance(w->svc, PP_EXPORTER, "fexp", NULL);
    assert_int_equal(e->items[PP_TRACES], 40);
    assert_int_equal(e->batches, 1);
    world_free(w);
}

static void test_batch_processor_byte_cap_validation(void **state) {
    (void)state;
    static const char *const ok[] = {"send_batch_max_bytes: 0\n", "send_batch_max_bytes: 1024\n",
                                     "send_batch_max_bytes: 4194304\n"};
    static const char *const bad[] = {"send_batch_max_bytes: 1000\n", "send_batch_max_bytes: -1\n",
                                      "send_batch_max_bytes: lots\n"};
    for (size_t i = 0; i < 3; i++) {
        pp_diag d;
        pp_diag_init(&d);
        assert_int_equal(tu_comp_check(PP_PROCESSOR, "batch", ok[i], &d), 0);
        pp_diag_free(&d);
        pp_diag_init(&d);
        assert_true(tu_comp_check(PP_PROCESSOR, "batch", bad[i], &d) >= 1);
        pp_diag_free(&d);
    }
}

static void test_batch_processor_counts_loss_at_deadline(void **state) {
    (void)state;
    world *w = world_new("receivers: {frecv: }\n"
                         "processors: {batch: {timeout: 1h}}\n"
                         "exporters: {fexp: {refuse: true}}\n"
                         "service:\n"
                         "  pipelines:\n"
                         "    traces: {receivers: [frecv], processors: [batch], exporters: [fexp]}\n");
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    pp_batch *in = tu_make_traces(1, 1, 7, 1);
    assert_int_equal(pp_consume(last_recv->next[PP_TRACES], in, &st), 0);
    pp_batch_unref(in);
    w->host.shutdown_deadline_ns = tu_mono_ns() + 50000000LL;
    pp_service_shutdown(w->svc);
    size_t len;
    char *text = pp_metrics_render(w->host.metrics, &len);
    /* The registry sorts labels by name. */
    assert_non_null(strstr(text, "pipit_dropped_items_total{component=\"processor/batch\","
                                 "reason=\"shutdown_deadline\",signal=\"traces\"} 7"));
    free(text);
    world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fanout_shared_exporter_and_processor_per_pipeline),
        cmocka_unit_test(test_start_and_shutdown_order),
        cmocka_unit_test(test_start_failure_names_component_and_stops_others),
        cmocka_unit_test(test_connector_links_pipelines),
        cmocka_unit_test(test_refusal_reaches_receiver),
        cmocka_unit_test(test_batch_processor_drains_at_shutdown),
        cmocka_unit_test(test_batch_processor_byte_cap),
        cmocka_unit_test(test_batch_processor_byte_cap_default),
        cmocka_unit_test(test_batch_processor_byte_cap_validation),
        cmocka_unit_test(test_batch_processor_counts_loss_at_deadline),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
