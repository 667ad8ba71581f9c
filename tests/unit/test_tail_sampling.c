/* Unit tests: the tail_sampling processor -- policies and their combination,
 * decisions after decision_wait driven by the uv loop, late spans, rate
 * limits, the memory budget with a million live traces, shutdown flush. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "config_node.h"
#include "ts_policy.h"

/* ---- building traces ---- */

typedef struct tspan {
    uint8_t tid[16];
    int status;          /* Status.code: 0 unset, 1 ok, 2 error */
    uint64_t dur_ms;     /* span duration */
    const char *key;     /* one string attribute, if key */
    const char *val;
    const char *ikey;    /* one int attribute, if ikey */
    int64_t ival;
    const char *ts;      /* trace_state */
    int resource;        /* 0 or 1: which of two resources */
} tspan;

static void tid_from(uint64_t n, uint8_t out[16]) {
    uint64_t s = n * 7919 + 1;
    uint64_t a = tu_rand(&s), b = tu_rand(&s);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

static pp_batch *mk_batch(const tspan *sp, size_t n) {
    pp_batch *b = pp_batch_new(PP_TRACES, 0);
    pp_arena *a = b->arena;
    pp_resource_spans *rss[2];
    pp_scope_spans *sss[2];
    size_t count[2] = {0, 0};
    for (size_t i = 0; i < n; i++) count[sp[i].resource]++;
    b->traces->resource_spans = tu_ptrs(a, 2);
    for (int r = 0; r < 2; r++) {
        rss[r] = pp_arena_alloc(a, sizeof(*rss[r]));
        opentelemetry__proto__trace__v1__resource_spans__init(rss[r]);
        rss[r]->resource = tu_resource(a);
        sss[r] = pp_arena_alloc(a, sizeof(*sss[r]));
        opentelemetry__proto__trace__v1__scope_spans__init(sss[r]);
        sss[r]->spans = tu_ptrs(a, count[r]);
        rss[r]->scope_spans = tu_ptrs(a, 1);
        rss[r]->scope_spans[0] = sss[r];
        rss[r]->n_scope_spans = 1;
        if (count[r]) b->traces->resource_spans[b->traces->n_resource_spans++] = rss[r];
    }
    for (size_t i = 0; i < n; i++) {
        pp_span *s = pp_arena_alloc(a, sizeof(*s));
        opentelemetry__proto__trace__v1__span__init(s);
        s->trace_id = tu_bytes(a, sp[i].tid, 16);
        uint8_t sid[8];
        uint64_t x = i + 1;
        memcpy(sid, &x, 8);
        s->span_id = tu_bytes(a, sid, 8);
        s->name = pp_arena_strdup(a, "op");
        s->start_time_unix_nano = 1700000000000000000ull;
        s->end_time_unix_nano = s->start_time_unix_nano + sp[i].dur_ms * 1000000ull;
        if (sp[i].status) {
            s->status = pp_arena_alloc(a, sizeof(*s->status));
            opentelemetry__proto__trace__v1__status__init(s->status);
            s->status->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)sp[i].status;
        }
        size_t na = (sp[i].key != NULL) + (sp[i].ikey != NULL);
        s->attributes = tu_ptrs(a, na);
        if (sp[i].key) s->attributes[s->n_attributes++] = tu_kv(a, sp[i].key, tu_any_str(a, sp[i].val));
        if (sp[i].ikey) s->attributes[s->n_attributes++] = tu_kv(a, sp[i].ikey, tu_any_int(a, sp[i].ival));
        if (sp[i].ts) s->trace_state = pp_arena_strdup(a, sp[i].ts);
        pp_scope_spans *ss = sss[sp[i].resource];
        ss->spans[ss->n_spans++] = s;
    }
    pp_batch_recount(b);
    return b;
}

/* ---- a processor on a loop ---- */

typedef struct proc {
    uv_loop_t loop;
    pp_host host;
    tu_span_sink sink;
    tu_comp comp;
    pp_consumer *in;
    bool stopped;
} proc;

static void proc_open(proc *p, const char *yaml) {
    memset(p, 0, sizeof(*p));
    uv_loop_init(&p->loop);
    p->host.loop = &p->loop;
    p->host.metrics = pp_metrics_new();
    tu_span_sink_init(&p->sink, true);
    assert_int_equal(tu_comp_create(&p->comp, PP_PROCESSOR, "tail_sampling", yaml, &p->host,
                                    PP_TRACES, &p->sink.c), 0);
    pp_status st = {0};
    assert_int_equal(p->comp.f->start(p->comp.inst, &p->host, &st), 0);
    p->in = p->comp.f->consumer(p->comp.inst, PP_TRACES);
}

static void feed(proc *p, const tspan *sp, size_t n) {
    pp_batch *b = mk_batch(sp, n);
    pp_status st = {0};
    assert_int_equal(pp_consume(p->in, b, &st), 0);
    pp_batch_unref(b);
}

static uint64_t metric(proc *p, const char *series) {
    size_t len;
    char *text = pp_metrics_render(p->host.metrics, &len);
    char *at = strstr(text, series);
    uint64_t v = at ? strtoull(at + strlen(series), NULL, 10) : UINT64_MAX;
    free(text);
    return v;
}

static int64_t held_traces(proc *p) {
    return (int64_t)metric(p, "otelcol_processor_tail_sampling_sampling_traces_on_memory{processor=\"tail_sampling\"} ");
}

/* Runs the loop until no trace is held, or for at most ms. */
static void run_until_idle(proc *p, int ms) {
    struct timespec pause = {0, 5 * 1000000L};
    for (int waited = 0; waited < ms; waited += 5) {
        uv_run(&p->loop, UV_RUN_NOWAIT);
        if (held_traces(p) == 0) return;
        nanosleep(&pause, NULL);
    }
}

static void proc_shutdown(proc *p) {
    p->comp.f->shutdown(p->comp.inst, &p->host);
    uv_run(&p->loop, UV_RUN_DEFAULT); /* closes the timer */
    p->stopped = true;
}

static void proc_close(proc *p) {
    if (!p->stopped) proc_shutdown(p);
    tu_comp_destroy(&p->comp);
    tu_span_sink_free(&p->sink);
    assert_int_equal(uv_loop_close(&p->loop), 0);
    pp_metrics_free(p->host.metrics);
}

/* Spans the sink received per trace id (linear scan: small tests only). */
static size_t spans_of(const tu_span_sink *s, const uint8_t tid[16]) {
    size_t n = 0;
    for (size_t b = 0; b < s->nkept; b++) {
        const pp_traces_req *r = s->kept[b]->traces;
        for (size_t i = 0; i < r->n_resource_spans; i++)
            for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
                const pp_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
                for (size_t k = 0; k < ss->n_spans; k++)
                    n += memcmp(ss->spans[k]->trace_id.data, tid, 16) == 0;
            }
    }
    return n;
}

/* Independent FNV-1a 64 of salt + trace id, as the Collector's probabilistic policy. */
static bool ref_prob(const char *salt, const uint8_t tid[16], double pct) {
    uint64_t h = 14695981039346656037ull;
    for (const char *c = salt; *c; c++) {
        h ^= (uint8_t)*c;
        h *= 1099511628211ull;
    }
    for (int i = 0; i < 16; i++) {
        h ^= tid[i];
        h *= 1099511628211ull;
    }
    return (long double)h <= (long double)pct / 100.0L * 18446744073709551616.0L;
}

/* ---- tests ---- */

static const char *errors_slow_rest =
    "decision_wait: 100ms\n"
    "policies:\n"
    "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
    "  - {name: slow, type: latency, latency: {threshold_ms: 500}}\n"
    "  - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 20}}\n";

static void test_errors_slow_and_fraction(void **state) {
    (void)state;
    proc p;
    proc_open(&p, errors_slow_rest);
    enum { TRACES = 20000 };
    static tspan sp[2 * 1000];
    size_t kinds[TRACES];
    for (size_t base = 0; base < TRACES; base += 1000) {
        for (size_t t = 0; t < 1000; t++) {
            size_t id = base + t;
            kinds[id] = id % 20 == 0 ? 1 : id % 20 == 1 ? 2 : 0; /* 5% errors, 5% slow */
            for (int s = 0; s < 2; s++) {
                tspan *x = &sp[2 * t + s];
                memset(x, 0, sizeof(*x));
                tid_from(id, x->tid);
                x->dur_ms = kinds[id] == 2 && s == 0 ? 800 : 20;
                x->status = kinds[id] == 1 && s == 1 ? 2 : 0;
                x->resource = s;
            }
        }
        feed(&p, sp, 2000);
    }
    assert_int_equal(p.sink.spans, 0); /* nothing before decision_wait */
    run_until_idle(&p, 5000);
    assert_int_equal(held_traces(&p), 0);
    size_t kept[3] = {0}, total[3] = {0}, mismatch = 0;
    /* Index sampled trace ids: sort-free check through a hash of counts. */
    for (size_t id = 0; id < TRACES; id++) {
        uint8_t tid[16];
        tid_from(id, tid);
        total[kinds[id]]++;
        if (id % 50 != 0 && kinds[id] == 0) continue; /* scan a sample of the rest (speed) */
        size_t n = spans_of(&p.sink, tid);
        assert_true(n == 0 || n == 2); /* whole traces */
        if (kinds[id] != 0) assert_int_equal(n, 2);
        else {
            kept[0] += n == 2;
            mismatch += (n == 2) != ref_prob("default-hash-seed", tid, 20);
        }
    }
    assert_int_equal(mismatch, 0);
    /* the whole fraction, from the span total */
    size_t sampled_rest = p.sink.spans / 2 - total[1] - total[2];
    /* errors or slow traces may also have passed the probabilistic policy: no double count */
    double frac = (double)sampled_rest / (double)total[0];
    printf("kept: errors %zu/%zu, slow %zu/%zu, rest %.4f (20%% configured)\n", total[1], total[1],
           total[2], total[2], frac);
    assert_true(frac > 0.18 && frac < 0.22);
    /* output groups spans by resource and scope: at most one entry per
     * (input batch, resource), and never one per span */
    const pp_batch *first = p.sink.kept[0];
    assert_true(first->traces->n_resource_spans <= 2 * first->nparts);
    assert_true(first->traces->n_resource_spans * 10 < first->items);
    for (size_t i = 0; i < first->traces->n_resource_spans; i++)
        assert_int_equal(first->traces->resource_spans[i]->n_scope_spans, 1);
    assert_int_equal(metric(&p, "otelcol_processor_tail_sampling_count_traces_sampled_total{policy=\"errors\",processor=\"tail_sampling\",sampled=\"true\"} "), total[1]);
    proc_close(&p);
}

static void test_late_spans_follow_decision(void **state) {
    (void)state;
    proc p;
    proc_open(&p, "decision_wait: 50ms\n"
                  "policies: [{name: keep, type: string_attribute, string_attribute: {key: keep, values: [yes]}}]\n");
    tspan sp[2];
    memset(sp, 0, sizeof(sp));
    tid_from(1, sp[0].tid);
    sp[0].key = "keep";
    sp[0].val = "yes";
    tid_from(2, sp[1].tid);
    feed(&p, sp, 2);
    run_until_idle(&p, 2000);
    assert_int_equal(p.sink.spans, 1);
    /* late spans without the attribute: A's pass at once, B's are dropped */
    tspan late[4];
    memset(late, 0, sizeof(late));
    memcpy(late[0].tid, sp[0].tid, 16);
    memcpy(late[1].tid, sp[0].tid, 16);
    memcpy(late[2].tid, sp[1].tid, 16);
    memcpy(late[3].tid, sp[1].tid, 16);
    feed(&p, late, 4);
    assert_int_equal(p.sink.spans, 3);
    assert_int_equal(held_traces(&p), 0);
    assert_int_equal(spans_of(&p.sink, sp[0].tid), 3);
    assert_int_equal(spans_of(&p.sink, sp[1].tid), 0);
    assert_int_equal(metric(&p, "pipit_tail_sampling_late_spans_total{decision=\"not_sampled\",processor=\"tail_sampling\"} "), 2);
    proc_close(&p);
}

/* Parses a policies list for direct evaluation. */
static void parse_set(const char *yaml, ts_policy_set *set) {
    pp_diag d;
    pp_diag_init(&d);
    pp_node *n = pp_node_parse(yaml, strlen(yaml), "t.yaml", &d);
    assert_non_null(n);
    size_t errs = ts_policy_set_parse(n, "p", &d, set);
    if (errs) pp_diag_print(&d, stderr);
    assert_int_equal(errs, 0);
    pp_diag_free(&d);
    pp_node_free(n);
}

/* Decides one trace made of spans sp[0..n). */
static bool decide(ts_policy_set *set, const tspan *sp, size_t n, int64_t now_s) {
    pp_batch *b = mk_batch(sp, n);
    pp_span_ref refs[16];
    size_t k = 0;
    for (size_t i = 0; i < b->traces->n_resource_spans; i++) {
        pp_resource_spans *rs = b->traces->resource_spans[i];
        pp_scope_spans *ss = rs->scope_spans[0];
        for (size_t j = 0; j < ss->n_spans; j++) refs[k++] = (pp_span_ref){b, rs, ss, ss->spans[j]};
    }
    bool r = ts_policy_set_decide(set, sp[0].tid, refs, k, now_s);
    pp_batch_unref(b);
    return r;
}

static tspan S(uint64_t id, int status, const char *key, const char *val) {
    tspan t;
    memset(&t, 0, sizeof(t));
    tid_from(id, t.tid);
    t.status = status;
    t.key = key;
    t.val = val;
    t.dur_ms = 10;
    return t;
}

static void test_policy_semantics(void **state) {
    (void)state;
    ts_policy_set set;
    /* and: both must sample */
    parse_set("- {name: a, type: and, and: {and_sub_policy: ["
              "{name: e, type: status_code, status_code: {status_codes: [ERROR]}},"
              "{name: s, type: string_attribute, string_attribute: {key: svc, values: [cart]}}]}}\n", &set);
    tspan t1 = S(1, 2, "svc", "cart"), t2 = S(2, 2, "svc", "shop"), t3 = S(3, 0, "svc", "cart");
    assert_true(decide(&set, &t1, 1, 0));
    assert_false(decide(&set, &t2, 1, 0));
    assert_false(decide(&set, &t3, 1, 0));
    ts_policy_set_free(&set);

    /* drop beats always_sample */
    parse_set("- {name: all, type: always_sample}\n"
              "- {name: health, type: drop, drop: {drop_sub_policy: ["
              "{name: r, type: string_attribute, string_attribute: {key: http.route, values: [/health]}}]}}\n", &set);
    tspan h = S(4, 0, "http.route", "/health"), o = S(5, 0, "http.route", "/api");
    assert_false(decide(&set, &h, 1, 0));
    assert_true(decide(&set, &o, 1, 0));
    ts_policy_set_free(&set);

    /* invert: a match is InvertNotSampled and beats Sampled; no match is
     * InvertSampled, which loses to a NotSampled */
    parse_set("- {name: notest, type: string_attribute, string_attribute: {key: env, values: [test], invert_match: true}}\n"
              "- {name: all, type: always_sample}\n", &set);
    tspan e1 = S(6, 0, "env", "test"), e2 = S(7, 0, "env", "prod");
    assert_false(decide(&set, &e1, 1, 0));
    assert_true(decide(&set, &e2, 1, 0));
    ts_policy_set_free(&set);
    parse_set("- {name: notest, type: string_attribute, string_attribute: {key: env, values: [test], invert_match: true}}\n"
              "- {name: e, type: status_code, status_code: {status_codes: [ERROR]}}\n", &set);
    tspan e3 = S(8, 0, "env", "prod"), e4 = S(9, 2, "env", "prod");
    assert_false(decide(&set, &e3, 1, 0)); /* InvertSampled + NotSampled */
    assert_true(decide(&set, &e4, 1, 0));  /* InvertSampled + Sampled */
    ts_policy_set_free(&set);

    /* regex (POSIX extended, unanchored unless the pattern anchors) */
    parse_set("- {name: re, type: string_attribute, string_attribute: {key: route, values: ['^GET /api/[a-z]+$'], enabled_regex_matching: true}}\n", &set);
    tspan r1 = S(10, 0, "route", "GET /api/users"), r2 = S(11, 0, "route", "POST /api/users"),
          r3 = S(12, 0, "route", "GET /api/users/7");
    assert_true(decide(&set, &r1, 1, 0));
    assert_false(decide(&set, &r2, 1, 0));
    assert_false(decide(&set, &r3, 1, 0));
    ts_policy_set_free(&set);

    /* numeric range, inclusive; span_count; trace_state; latency window */
    parse_set("- {name: n, type: numeric_attribute, numeric_attribute: {key: code, min_value: 500, max_value: 599}}\n", &set);
    tspan n1 = S(13, 0, NULL, NULL), n2 = S(14, 0, NULL, NULL), n3 = S(15, 0, NULL, NULL);
    n1.ikey = n2.ikey = n3.ikey = "code";
    n1.ival = 503;
    n2.ival = 200;
    n3.ival = 599;
    assert_true(decide(&set, &n1, 1, 0));
    assert_false(decide(&set, &n2, 1, 0));
    assert_true(decide(&set, &n3, 1, 0));
    ts_policy_set_free(&set);
    parse_set("- {name: c, type: span_count, span_count: {min_spans: 3}}\n", &set);
    tspan three[3] = {S(16, 0, NULL, NULL), S(16, 0, NULL, NULL), S(16, 0, NULL, NULL)};
    assert_true(decide(&set, three, 3, 0));
    assert_false(decide(&set, three, 2, 0));
    ts_policy_set_free(&set);
    parse_set("- {name: t, type: trace_state, trace_state: {key: vendor, values: [keep]}}\n", &set);
    tspan ts1 = S(17, 0, NULL, NULL), ts2 = S(18, 0, NULL, NULL);
    ts1.ts = "ot=th:8, vendor=keep";
    ts2.ts = "vendor=keeper";
    assert_true(decide(&set, &ts1, 1, 0));
    assert_false(decide(&set, &ts2, 1, 0));
    ts_policy_set_free(&set);
    parse_set("- {name: l, type: latency, latency: {threshold_ms: 100, upper_threshold_ms: 200}}\n", &set);
    tspan l1 = S(19, 0, NULL, NULL), l2 = S(20, 0, NULL, NULL);
    l1.dur_ms = 150;
    l2.dur_ms = 250;
    assert_true(decide(&set, &l1, 1, 0));
    assert_false(decide(&set, &l2, 1, 0));
    ts_policy_set_free(&set);
}

static void test_rate_limiting_and_composite(void **state) {
    (void)state;
    ts_policy_set set;
    parse_set("- {name: rl, type: rate_limiting, rate_limiting: {spans_per_second: 100}}\n", &set);
    size_t kept = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        tspan t = S(i, 0, NULL, NULL);
        kept += decide(&set, &t, 1, 1000);
    }
    assert_int_equal(kept, 99); /* strictly below the limit, as the Collector */
    tspan t = S(5000, 0, NULL, NULL);
    assert_true(decide(&set, &t, 1, 1001)); /* a new second */
    ts_policy_set_free(&set);

    /* composite: errors get 50% of 10 spans/s, everything else the rest */
    parse_set("- {name: c, type: composite, composite: {max_total_spans_per_second: 10,"
              " policy_order: [errors, all],"
              " composite_sub_policy: [{name: all, type: always_sample},"
              "   {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}],"
              " rate_allocation: [{policy: errors, percent: 50}, {policy: all, percent: 50}]}}\n", &set);
    size_t err_kept = 0, ok_kept = 0;
    for (uint64_t i = 0; i < 20; i++) {
        tspan e = S(100 + i, 2, NULL, NULL), o = S(200 + i, 0, NULL, NULL);
        err_kept += decide(&set, &e, 1, 7);
        ok_kept += decide(&set, &o, 1, 7);
    }
    /* 5 errors in their share, then errors and others share "all" (5) */
    assert_int_equal(err_kept + ok_kept, 10);
    assert_true(err_kept >= 5);
    ts_policy_set_free(&set);

    /* Through the processor: at most 99 spans of 1000 one-span traces per second. */
    proc p;
    proc_open(&p, "decision_wait: 1h\npolicies: [{name: rl, type: rate_limiting, rate_limiting: {spans_per_second: 100}}]\n");
    static tspan sp[1000];
    for (size_t i = 0; i < 1000; i++) sp[i] = S(10000 + i, 0, NULL, NULL);
    feed(&p, sp, 1000);
    time_t before = time(NULL);
    proc_shutdown(&p);
    size_t seconds = (size_t)(time(NULL) - before) + 1;
    assert_true(p.sink.spans >= 99 && p.sink.spans <= 99 * seconds);
    proc_close(&p);
}

/* One million live traces (one small span each) against a 4 MiB budget:
 * the held bytes never exceed it, evictions are counted, and every evicted
 * trace was decided -- each error trace reached the next consumer. */
static void test_memory_budget_million_traces(void **state) {
    (void)state;
    proc p;
    proc_open(&p, "decision_wait: 1h\nnum_traces: 10000000\nmemory_limit_mib: 4\n"
                  "decision_cache: {sampled_cache_size: 1000, non_sampled_cache_size: 1000}\n"
                  "policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]\n");
    p.sink.keep = false;
    /* 1000 spans a batch: a batch (arena and bookkeeping) is ~0.5 MiB, so
     * several fit and traces are held until evicted */
    enum { TOTAL = 1000000, PER = 1000 };
    const uint64_t budget = 4u << 20;
    static tspan sp[PER];
    size_t errors = 0;
    uint64_t max_held = 0;
    for (size_t base = 0; base < TOTAL; base += PER) {
        for (size_t i = 0; i < PER; i++) {
            memset(&sp[i], 0, sizeof(sp[i]));
            uint64_t id = base + i, a = id + 1, b = ~id;
            memcpy(sp[i].tid, &a, 8);
            memcpy(sp[i].tid + 8, &b, 8);
            sp[i].status = id % 10 == 0 ? 2 : 0;
            errors += id % 10 == 0;
        }
        feed(&p, sp, PER);
        uint64_t held = metric(&p, "pipit_tail_sampling_held_bytes{processor=\"tail_sampling\"} ");
        assert_true(held <= budget);
        if (held > max_held) max_held = held;
    }
    uint64_t evicted = metric(&p, "pipit_tail_sampling_evicted_traces_total{processor=\"tail_sampling\",reason=\"memory\"} ");
    int64_t live = held_traces(&p);
    size_t before_shutdown = p.sink.spans;
    printf("max held %llu of %llu bytes; evicted %llu; live %lld; errors sent before shutdown %zu\n",
           (unsigned long long)max_held, (unsigned long long)budget, (unsigned long long)evicted,
           (long long)live, before_shutdown);
    assert_true(evicted > 0);
    assert_int_equal(evicted + (uint64_t)live, TOTAL);
    assert_true(before_shutdown > 0);
    proc_shutdown(&p);
    assert_int_equal(p.sink.spans, errors); /* every error trace, nothing else */
    assert_int_equal(metric(&p, "otelcol_processor_tail_sampling_global_count_traces_sampled_total{processor=\"tail_sampling\",sampled=\"true\"} "), errors);
    proc_close(&p);
}

/* Large input batches of which few spans stay held (100 long traces get a
 * span in every batch, the rest are single spans): a held span keeps its
 * whole batch alive, so the budget counts batches. The held bytes never
 * exceed the budget, and the arenas of the batches the processor still
 * references add up to at most the budget plus one batch. */
static void test_memory_budget_counts_batches(void **state) {
    (void)state;
    proc p;
    proc_open(&p, "decision_wait: 1h\nnum_traces: 10000000\nmemory_limit_mib: 8\n"
                  "policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]\n");
    p.sink.keep = false;
    enum { BATCHES = 300, PER = 400, LONG = 100 };
    const uint64_t budget = 8u << 20;
    static char big[2048];
    memset(big, 'x', sizeof(big) - 1);
    static tspan sp[PER];
    static pp_batch *mine[BATCHES];
    size_t max_live = 0, max_batch = 0, errors = 0;
    uint64_t max_held = 0;
    for (size_t k = 0; k < BATCHES; k++) {
        for (size_t i = 0; i < PER; i++) {
            uint64_t id = i < PER - LONG ? 1000000 + k * PER + i : 9000000 + (k / 20) * PER + i;
            sp[i] = S(id, 0, "payload", big);
            if (i < PER - LONG && id % 50 == 0) {
                sp[i].status = 2;
                errors++;
            }
        }
        mine[k] = mk_batch(sp, PER);
        size_t mem = pp_arena_reserved(mine[k]->arena);
        if (mem > max_batch) max_batch = mem;
        pp_status st = {0};
        assert_int_equal(pp_consume(p.in, mine[k], &st), 0);
        uint64_t held = metric(&p, "pipit_tail_sampling_held_bytes{processor=\"tail_sampling\"} ");
        assert_true(held <= budget);
        if (held > max_held) max_held = held;
        size_t live = 0; /* arenas the processor still keeps alive */
        for (size_t j = 0; j <= k; j++) {
            if (!mine[j]) continue;
            if (atomic_load(&mine[j]->refs) > 1) live += pp_arena_reserved(mine[j]->arena);
            else {
                pp_batch_unref(mine[j]); /* the processor let go: for good */
                mine[j] = NULL;
            }
        }
        if (live > max_live) max_live = live;
        assert_true(live <= budget + max_batch);
    }
    uint64_t evicted = metric(&p, "pipit_tail_sampling_evicted_traces_total{processor=\"tail_sampling\",reason=\"memory\"} ");
    printf("batch arena %zu bytes; max held %llu, max live arenas %zu of budget %llu; evicted %llu\n", max_batch,
           (unsigned long long)max_held, max_live, (unsigned long long)budget, (unsigned long long)evicted);
    assert_true(evicted > 0);
    assert_true(max_held > budget / 2); /* the budget is used, not avoided */
    proc_shutdown(&p);
    assert_int_equal(p.sink.spans, errors); /* every error trace was decided, and kept */
    assert_int_equal(metric(&p, "pipit_tail_sampling_held_bytes{processor=\"tail_sampling\"} "), 0);
    for (size_t j = 0; j < BATCHES; j++)
        if (mine[j]) {
            assert_int_equal(atomic_load(&mine[j]->refs), 1);
            pp_batch_unref(mine[j]);
        }
    proc_close(&p);
}

static void test_shutdown_flushes_and_span_cap(void **state) {
    (void)state;
    proc p;
    proc_open(&p, "decision_wait: 1h\nmax_spans_per_trace: 5\npolicies: [{name: all, type: always_sample}]\n");
    tspan sp[100];
    for (int i = 0; i < 100; i++) sp[i] = S(300 + (uint64_t)i, 0, NULL, NULL);
    feed(&p, sp, 100);
    /* one trace of 12 spans: decided at its 5th, the rest follow the decision */
    tspan big[12];
    for (int i = 0; i < 12; i++) big[i] = S(999, 0, NULL, NULL);
    feed(&p, big, 12);
    assert_int_equal(p.sink.spans, 12);
    assert_int_equal(metric(&p, "pipit_tail_sampling_evicted_traces_total{processor=\"tail_sampling\",reason=\"max_spans_per_trace\"} "), 1);
    run_until_idle(&p, 50);
    assert_int_equal(p.sink.spans, 12); /* decision_wait not reached */
    proc_shutdown(&p);
    assert_int_equal(p.sink.spans, 112);
    pp_batch *b = mk_batch(sp, 1);
    pp_status st = {0};
    assert_int_equal(pp_consume(p.in, b, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    pp_batch_unref(b);
    proc_close(&p);
}

/* Receiver threads feed at once: every span of every error trace arrives,
 * exactly once, and no other span does. */
typedef struct feeder { proc *p; uint64_t first; } feeder;
static void *feed_thread(void *arg) {
    feeder *f = arg;
    static _Thread_local tspan sp[400];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 400; i++) {
            /* 200 traces of 2 spans per batch; the two spans of a trace in
             * different batches of different threads half of the time */
            uint64_t id = f->first + (uint64_t)round * 200 + (uint64_t)(i / 2);
            sp[i] = S(id, id % 4 == 0 ? 2 : 0, NULL, NULL);
        }
        pp_batch *b = mk_batch(sp, 400);
        pp_status st = {0};
        if (pp_consume(f->p->in, b, &st) != 0) abort();
        pp_batch_unref(b);
    }
    return NULL;
}

static void test_concurrent_consumers(void **state) {
    (void)state;
    proc p;
    proc_open(&p, "decision_wait: 50ms\nmemory_limit_mib: 1\n"
                  "policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]\n");
    p.sink.keep = false;
    pthread_t th[4];
    feeder f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (feeder){&p, (uint64_t)i * 1000000};
        pthread_create(&th[i], NULL, feed_thread, &f[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    run_until_idle(&p, 3000);
    proc_shutdown(&p);
    /* 4 threads x 50 rounds x 200 traces, a quarter errors, 2 spans each */
    assert_int_equal(p.sink.spans, 4 * 50 * 200 / 4 * 2);
    proc_close(&p);
}

static void test_config_errors(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    assert_true(tu_comp_check(PP_PROCESSOR, "tail_sampling", "decision_wait: 1s\n", &d) >= 1);
    pp_diag_free(&d);
    pp_diag_init(&d);
    assert_int_equal(tu_comp_check(PP_PROCESSOR, "tail_sampling",
                                   "policies: [{name: x, type: nosuch}]\n", &d), 1);
    assert_true(pp_diag_has(&d, "tail_sampling.policies[0]", "unknown policy type"));
    pp_diag_free(&d);
    pp_diag_init(&d);
    assert_int_equal(tu_comp_check(PP_PROCESSOR, "tail_sampling",
                                   "policies: [{name: x, type: string_attribute, string_attribute: "
                                   "{key: k, values: ['(unclosed'], enabled_regex_matching: true}}]\n", &d), 1);
    pp_diag_free(&d);
    pp_diag_init(&d);
    assert_true(tu_comp_check(PP_PROCESSOR, "tail_sampling",
                              "policies: [{name: x, type: status_code, status_code: {status_codes: [BAD]}}]\n", &d) >= 1);
    pp_diag_free(&d);
    pp_diag_init(&d);
    assert_true(tu_comp_check(PP_PROCESSOR, "tail_sampling",
                              "policies: [{name: x, type: always_sample, bogus: 1}]\n", &d) >= 1);
    pp_diag_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_slow_and_fraction),
        cmocka_unit_test(test_late_spans_follow_decision),
        cmocka_unit_test(test_policy_semantics),
        cmocka_unit_test(test_rate_limiting_and_composite),
        cmocka_unit_test(test_memory_budget_million_traces),
        cmocka_unit_test(test_memory_budget_counts_batches),
        cmocka_unit_test(test_shutdown_flushes_and_span_cap),
        cmocka_unit_test(test_concurrent_consumers),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
