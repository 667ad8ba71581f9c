/* Unit tests: the probabilistic_sampler processor -- Collector-compatible
 * hash_seed decisions, OTel consistent sampling (proportional, equalizing)
 * against the Collector's published test vectors, tracestate handling,
 * fail_closed, statistics and determinism. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otel_sampling.h"
#include "ps_decide.h"

/* ---- helpers ---- */

/* One resource, one scope, n spans with the given trace ids and tracestates. */
static pp_batch *make_spans(size_t n, const uint8_t (*tids)[16], const char *const *ts) {
    pp_batch *b = pp_batch_new(PP_TRACES, 0);
    pp_arena *a = b->arena;
    pp_resource_spans *rs = pp_arena_alloc(a, sizeof(*rs));
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    rs->resource = tu_resource(a);
    pp_scope_spans *ss = pp_arena_alloc(a, sizeof(*ss));
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    ss->spans = tu_ptrs(a, n);
    ss->n_spans = n;
    for (size_t i = 0; i < n; i++) {
        pp_span *sp = pp_arena_alloc(a, sizeof(*sp));
        opentelemetry__proto__trace__v1__span__init(sp);
        sp->trace_id = tu_bytes(a, tids[i], 16);
        uint8_t sid[8] = {1, 2, 3, 4, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 9};
        sp->span_id = tu_bytes(a, sid, 8);
        sp->name = pp_arena_strdup(a, "op");
        if (ts && ts[i]) sp->trace_state = pp_arena_strdup(a, ts[i]);
        ss->spans[i] = sp;
    }
    rs->scope_spans = tu_ptrs(a, 1);
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    b->traces->resource_spans = tu_ptrs(a, 1);
    b->traces->resource_spans[0] = rs;
    b->traces->n_resource_spans = 1;
    pp_batch_recount(b);
    return b;
}

static void parse_tid(const char *hex, uint8_t out[16]) {
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* A one-span decision, straight from ps_decide. */
static void decide_one(const ps_sampler *s, const char *tid_hex, const char *ts, const char *prio_key,
                       int64_t prio, ps_result *r) {
    uint8_t tid[16];
    parse_tid(tid_hex, tid);
    pp_arena *a = pp_arena_new(0);
    pp_span sp;
    opentelemetry__proto__trace__v1__span__init(&sp);
    sp.trace_id = tu_bytes(a, tid, 16);
    sp.trace_state = ts ? pp_arena_strdup(a, ts) : NULL;
    if (prio_key) {
        sp.attributes = tu_ptrs(a, 1);
        sp.attributes[0] = tu_kv(a, prio_key, tu_any_int(a, prio));
        sp.n_attributes = 1;
    }
    ps_decide_span(s, &sp, r);
    pp_arena_destroy(a);
}

typedef struct proc {
    pp_host host;
    tu_span_sink sink;
    tu_comp comp;
} proc;

static void proc_open(proc *p, const char *yaml, bool keep) {
    memset(p, 0, sizeof(*p));
    p->host.metrics = pp_metrics_new();
    tu_span_sink_init(&p->sink, keep);
    assert_int_equal(tu_comp_create(&p->comp, PP_PROCESSOR, "probabilistic_sampler", yaml, &p->host,
                                    PP_TRACES, &p->sink.c),
                     0);
}

static int proc_feed(proc *p, pp_batch *b) {
    pp_status st = {0};
    return pp_consume(p->comp.f->consumer(p->comp.inst, PP_TRACES), b, &st);
}

static void proc_close(proc *p) {
    tu_comp_destroy(&p->comp);
    tu_span_sink_free(&p->sink);
    pp_metrics_free(p->host.metrics);
}

static pp_span *out_span(const pp_batch *b, size_t i) {
    size_t k = 0;
    for (size_t r = 0; r < b->traces->n_resource_spans; r++) {
        const pp_resource_spans *rs = b->traces->resource_spans[r];
        for (size_t s = 0; s < rs->n_scope_spans; s++)
            for (size_t j = 0; j < rs->scope_spans[s]->n_spans; j++)
                if (k++ == i) return rs->scope_spans[s]->spans[j];
    }
    return NULL;
}

/* ---- independent reference of the Collector's hash_seed algorithm ----
 * FNV-1a (32-bit) over the seed's 4 little-endian bytes then the 16 trace id
 * bytes; keep when (hash & 0x3fff) < uint32(float32(pct) * 163.84). */
static uint32_t ref_fnv(uint32_t seed, const uint8_t *tid) {
    uint8_t buf[20];
    for (int i = 0; i < 4; i++) buf[i] = (uint8_t)(seed >> (8 * i));
    memcpy(buf + 4, tid, 16);
    uint32_t h = 0x811c9dc5u;
    for (int i = 0; i < 20; i++) h = (h ^ buf[i]) * 0x01000193u;
    return h;
}
static bool ref_keep(uint32_t seed, const uint8_t *tid, float pct) {
    return (ref_fnv(seed, tid) & 0x3fffu) < (uint32_t)(pct * 163.84f);
}

/* Hashes computed with a separate Python implementation of FNV-1a. */
static const struct {
    uint32_t seed;
    const char *tid;
    uint32_t hash;
} fnv_table[] = {
    {0, "0102030405060708090a0b0c0d0e0f10", 0xdf241a25},
    {0, "fefefefefefefefefe80000000000000", 0xd413402b},
    {0, "0af7651916cd43dd8448eb211c80319c", 0x810d5de4},
    {0, "4bf92f3577b34da6a3ce929d0e0e4736", 0x3420408d},
    {0, "11111111111111111111111111111111", 0xab260cc5},
    {22, "0102030405060708090a0b0c0d0e0f10", 0xd863b443},
    {22, "fefefefefefefefefe80000000000000", 0x6f568bbd},
    {22, "0af7651916cd43dd8448eb211c80319c", 0x1032c19e},
    {22, "4bf92f3577b34da6a3ce929d0e0e4736", 0x5610306b},
    {22, "11111111111111111111111111111111", 0xa51d3833},
    {0xdeadbeef, "0102030405060708090a0b0c0d0e0f10", 0x6bcb41ab},
    {0xdeadbeef, "fefefefefefefefefe80000000000000", 0x887055f5},
    {0xdeadbeef, "0af7651916cd43dd8448eb211c80319c", 0x8eaa1486},
    {0xdeadbeef, "4bf92f3577b34da6a3ce929d0e0e4736", 0x5db650d3},
    {0xdeadbeef, "11111111111111111111111111111111", 0x43dd4d7b},
};

static void test_hash_seed_matches_reference_table(void **state) {
    (void)state;
    static const float pcts[] = {0.5f, 1, 10, 25, 33.3f, 40.9f, 50, 75, 99.99f};
    for (size_t i = 0; i < sizeof(fnv_table) / sizeof(fnv_table[0]); i++) {
        uint8_t tid[16];
        parse_tid(fnv_table[i].tid, tid);
        assert_int_equal(ref_fnv(fnv_table[i].seed, tid), fnv_table[i].hash);
        assert_int_equal(ots_fnv1a32_seeded(fnv_table[i].seed, tid, 16), fnv_table[i].hash);
        for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
            ps_sampler s;
            ps_sampler_init(&s, PS_HASH_SEED, pcts[k], fnv_table[i].seed, 4, true);
            ps_result r;
            decide_one(&s, fnv_table[i].tid, NULL, NULL, 0, &r);
            bool want = (fnv_table[i].hash & 0x3fff) < (uint32_t)(pcts[k] * 163.84f);
            assert_int_equal(r.sampled, want);
            assert_int_equal(r.policy, PS_POL_TRACE_ID_HASH);
        }
    }
    /* Many random ids and seeds: processor decisions equal the reference. */
    uint64_t rng = 42;
    for (int n = 0; n < 20000; n++) {
        uint8_t tid[16];
        uint64_t a = tu_rand(&rng), b = tu_rand(&rng);
        memcpy(tid, &a, 8);
        memcpy(tid + 8, &b, 8);
        uint32_t seed = (uint32_t)tu_rand(&rng);
        float pct = (float)(tu_rand(&rng) % 10000) / 100.0f;
        ps_sampler s;
        ps_sampler_init(&s, PS_HASH_SEED, pct, seed, 4, true);
        pp_span sp;
        opentelemetry__proto__trace__v1__span__init(&sp);
        sp.trace_id.data = tid;
        sp.trace_id.len = 16;
        ps_result r;
        ps_decide_span(&s, &sp, &r);
        assert_int_equal(r.sampled, ref_keep(seed, tid, pct));
    }
}

/* The Collector's Test_tracesamplerprocessor_HashSeedTraceState: the th a
 * kept span carries for a percentage, and an rv it passes. */
static void test_hash_seed_tracestate(void **state) {
    (void)state;
    static const struct { float pct; const char *th; } cases[] = {
        {100, "0"}, {75, "4"}, {50, "8"}, {25, "c"}, {10, "e668"}, {100.0f / 3, "aaac"}};
    uint64_t rng = 7;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        ps_sampler s;
        ps_sampler_init(&s, PS_HASH_SEED, cases[c].pct, 22, 4, true);
        int found = 0;
        while (found < 10) {
            char hex[33];
            snprintf(hex, sizeof(hex), "%016llx%016llx", (unsigned long long)tu_rand(&rng),
                     (unsigned long long)tu_rand(&rng));
            ps_result r;
            decide_one(&s, hex, NULL, NULL, 0, &r);
            if (!r.sampled) continue;
            found++;
            char want[64];
            uint8_t tid[16];
            parse_tid(hex, tid);
            uint32_t h = ref_fnv(22, tid);
            uint64_t b = h & 0x3fff, top = h >> 18;
            uint64_t rv = ((0x3fff - b) << 42) | ((top ^ (top << 10)) << 14) | b;
            snprintf(want, sizeof(want), "ot=rv:%014llx;th:%s", (unsigned long long)rv, cases[c].th);
            assert_string_equal(r.tracestate, want);
        }
    }
    /* hash_seed leaves other samplers' tracestate alone: an error, dropped
     * when failing closed, kept untouched otherwise. */
    ps_sampler s;
    ps_sampler_init(&s, PS_HASH_SEED, 100, 1, 4, true);
    ps_result r;
    decide_one(&s, "0102030405060708090a0b0c0d0e0f10", "ot=th:8", NULL, 0, &r);
    assert_true(r.error);
    assert_false(r.sampled);
    ps_sampler_init(&s, PS_HASH_SEED, 100, 1, 4, false);
    decide_one(&s, "0102030405060708090a0b0c0d0e0f10", "ot=rv:ffffffffffffff", NULL, 0, &r);
    assert_true(r.sampled);
    assert_string_equal(r.tracestate, "ot=rv:ffffffffffffff;th:0");
}

/* Cases from the Collector's Test_tracesamplerprocessor_TraceState
 * (fail_closed false unless noted, precision 0 = full unless noted). */
typedef struct vec {
    const char *name;
    float pct;
    int prec;
    bool fail_closed;
    const char *tid; /* NULL: fefefefefefefefefe80000000000000 */
    const char *ts;
    int64_t prio; /* -1: none */
    const char *eq_out, *prop_out; /* expected tracestate, NULL = not sampled */
} vec;

static const vec vectors[] = {
    {"100 percent", 100, 0, false, NULL, "", -1, "ot=th:0", "ot=th:0"},
    {"50 percent sampled", 50, 0, false, NULL, "", -1, "ot=th:8", "ot=th:8"},
    {"25 percent sampled", 25, 0, false, "ddddddddddddddddddc0000000000000", "", -1, "ot=th:c", "ot=th:c"},
    {"25 percent unsampled", 25, 0, false, "ddddddddddddddddddb0000000000000", "", -1, NULL, NULL},
    {"1 percent sampled", 1, 0, false, NULL, "ot=rv:FD70A3D70A3D71", -1,
     "ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71", "ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71"},
    {"1 percent precision 4", 1, 4, false, NULL, "ot=rv:FD70A3D70A3D71", -1,
     "ot=rv:FD70A3D70A3D71;th:fd70a", "ot=rv:FD70A3D70A3D71;th:fd70a"},
    {"1 percent precision 3", 1, 3, false, NULL, "ot=rv:FD70A3D70A3D71", -1, NULL, NULL},
    {"1 percent not sampled with rvalue", 1, 0, false, NULL, "ot=rv:FD70A3D70A3D70", -1, NULL, NULL},
    {"49 percent not sampled with default tid", 49, 0, false, NULL, "", -1, NULL, NULL},
    {"1 percent sampled with rvalue", 1, 0, false, NULL, "ot=rv:fd70B000000000", -1,
     "ot=rv:fd70B000000000;th:fd70a3d70a3d71", "ot=rv:fd70B000000000;th:fd70a3d70a3d71"},
    {"1 percent sampled with tid", 1, 4, false, "a0a0a0a0a0a0a0a0a0fe000000000000", "", -1,
     "ot=th:fd70a", "ot=th:fd70a"},
    {"sampled by priority", 1, 0, false, NULL, "", 2, "ot=th:0", "ot=th:0"},
    {"not sampled by priority", 99, 0, false, NULL, "", 0, NULL, NULL},
    {"incoming 50 percent with rvalue", 50, 0, false, NULL, "ot=rv:90000000000000;th:80000000000000",
     -1, "ot=rv:90000000000000;th:8", NULL},
    {"incoming 50 percent at 25 percent not sampled", 25, 0, false, NULL, "ot=th:8", -1, NULL, NULL},
    {"incoming 50 percent at 25 percent sampled", 25, 0, false, "ffffffffffffffffffffffffffffffff",
     "ot=th:8", -1, "ot=th:c", "ot=th:e"},
    {"equalizing vs proportional", 50, 0, false, NULL, "ot=rv:c0000000000000;th:8", -1,
     "ot=rv:c0000000000000;th:8", "ot=rv:c0000000000000;th:c"},
    {"inconsistent arriving threshold", 100, 0, false, NULL, "ot=rv:40000000000000;th:8", -1,
     "ot=rv:40000000000000;th:0", "ot=rv:40000000000000;th:0"},
    {"inconsistent arriving threshold not sampled", 1, 0, true, NULL, "ot=rv:40000000000000;th:8", -1,
     NULL, NULL},
    {"40 percent precision 3 with rvalue", 40, 3, false, NULL, "ot=rv:a0000000000000", -1,
     "ot=rv:a0000000000000;th:99a", "ot=rv:a0000000000000;th:99a"},
    {"arriving 50 at 40 precision 6", 40, 6, false, "a0a0a0a0a0a0a0a0a0d0000000000000", "ot=th:8", -1,
     "ot=th:99999a", "ot=th:cccccd"},
    {"arriving 50 at 40 partly sampled", 40, 3, false, "a0a0a0a0a0a0a0a0a0b0000000000000", "ot=th:8",
     -1, "ot=th:99a", NULL},
    {"arriving 50 at 40 not sampled", 40, 3, false, "a0a0a0a0a0a0a0a0a080000000000000", "ot=th:8", -1,
     NULL, NULL},
    {"200 percent equals 100 percent", 200, 0, false, NULL, "", -1, "ot=th:0", "ot=th:0"},
    {"tiny probability rounding", 100 * 0x1p-14f, 0, false, "111111111111111111ffffffffffffff",
     "ot=th:fffc", -1, "ot=th:fffc", "ot=th:fffffff"},
    {"almost 100pct sampling", (float)((1 - 8e-7) * 100), 10, false, "111111111111111111ffffffffffffff",
     "", -1, "ot=th:00000cccccccd", "ot=th:00000cccccccd"},
    {"probability underflow", 0x1p-4f, 0, false, "111111111111111111ffffffffffffff",
     "ot=th:fffffffffffff8", -1, "ot=th:fffffffffffff8", NULL},
};

static void test_published_consistent_vectors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const vec *v = &vectors[i];
        for (int m = 0; m < 2; m++) {
            ps_sampler s;
            ps_sampler_init(&s, m ? PS_PROPORTIONAL : PS_EQUALIZING, v->pct, 0, v->prec,
                            v->fail_closed);
            ps_result r;
            decide_one(&s, v->tid ? v->tid : "fefefefefefefefefe80000000000000", v->ts,
                       v->prio >= 0 ? "sampling.priority" : NULL, v->prio, &r);
            const char *want = m ? v->prop_out : v->eq_out;
            if (r.sampled != (want != NULL) || (want && strcmp(r.tracestate, want) != 0))
                fail_msg("%s (%s): got sampled=%d ts=%s, want %s", v->name,
                         m ? "proportional" : "equalizing", r.sampled, r.tracestate,
                         want ? want : "(not sampled)");
        }
    }
}

/* The Collector's Test_tracesamplerprocessor_TraceStateErrors: with
 * fail_closed every one of these is dropped; without, kept. */
static void test_fail_closed(void **state) {
    (void)state;
    static const struct { const char *tid, *ts; } errs[] = {
        {"00000000000000000000000000000000", ""},                     /* missing randomness */
        {"fefefefefefefefefe80000000000000", "ot=rv:abababababababab"}, /* 16-digit rv */
        {"fefefefefefefefefe80000000000000", "ot=th:abababababababab"}, /* 16-digit th */
        {"fefefefefefefefefe80000000000000", "ot=th:-1"},
        {"ffffffffffffffffff70000000000000", "ot=th:8"}, /* inconsistent with trace id */
        {"fefefefefefefefefe80000000000000", "ot=th:8;rv:70000000000000"},
    };
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        for (int m = 0; m < 2; m++)
            for (int fc = 0; fc < 2; fc++) {
                ps_sampler s;
                ps_sampler_init(&s, m ? PS_PROPORTIONAL : PS_EQUALIZING, 100, 0, 4, fc);
                ps_result r;
                decide_one(&s, errs[i].tid, errs[i].ts, NULL, 0, &r);
                assert_true(r.error);
                if (r.sampled != !fc) fail_msg("case %zu mode %d fail_closed %d: sampled %d", i, m, fc, r.sampled);
            }
    /* Through the processor: the all-zero trace id is dropped by default. */
    proc p;
    proc_open(&p, "mode: proportional\nsampling_percentage: 100\n", false);
    uint8_t tids[2][16] = {{0}, {1, 2, 3}};
    pp_batch *b = make_spans(2, tids, NULL);
    assert_int_equal(proc_feed(&p, b), 0);
    assert_int_equal(p.sink.spans, 1);
    pp_batch_unref(b);
    proc_close(&p);
    proc_open(&p, "mode: proportional\nsampling_percentage: 100\nfail_closed: false\n", false);
    b = make_spans(2, tids, NULL);
    assert_int_equal(proc_feed(&p, b), 0);
    assert_int_equal(p.sink.spans, 2);
    pp_batch_unref(b);
    proc_close(&p);
}

/* Writes th into a new string in the output; the shared input is untouched;
 * other vendors' entries follow ot. */
static void test_tracestate_written_input_untouched(void **state) {
    (void)state;
    proc p;
    proc_open(&p, "mode: proportional\nsampling_percentage: 50\n", true);
    uint8_t tids[3][16];
    parse_tid("ffffffffffffffffffffffffffffffff", tids[0]);
    parse_tid("ffffffffffffffffffffffffffffffff", tids[1]);
    parse_tid("00000000000000000010000000000000", tids[2]); /* below 50%: dropped */
    const char *ts[] = {"congo=t61rcWkgMzE", "ot=th:c;zz:1,rojo=00f067aa0ba902b7", NULL};
    pp_batch *b = make_spans(3, tids, ts);
    pp_batch_ref(b); /* shared: read-only for the processor */
    assert_int_equal(proc_feed(&p, b), 0);
    assert_int_equal(p.sink.spans, 2);
    const pp_batch *out = p.sink.kept[0];
    assert_string_equal(out_span(out, 0)->trace_state, "ot=th:8,congo=t61rcWkgMzE");
    /* an existing th of 25% becomes 12.5% (probabilities multiply) */
    assert_string_equal(out_span(out, 1)->trace_state, "ot=th:e;zz:1,rojo=00f067aa0ba902b7");
    assert_string_equal(out_span(b, 0)->trace_state, "congo=t61rcWkgMzE");
    assert_string_equal(out_span(b, 1)->trace_state, "ot=th:c;zz:1,rojo=00f067aa0ba902b7");
    assert_ptr_not_equal(out_span(out, 0), out_span(b, 0));
    pp_batch_unref(b);
    pp_batch_unref(b);
    size_t len;
    char *text = pp_metrics_render(p.host.metrics, &len);
    assert_non_null(strstr(text, "otelcol_processor_probabilistic_sampler_count_traces_sampled_total{"
                                 "policy=\"trace_id_w3c\",processor=\"probabilistic_sampler\","
                                 "sampled=\"true\"} 2"));
    assert_non_null(strstr(text, "count_spans_processed_total{policy=\"trace_id_w3c\","
                                 "processor=\"probabilistic_sampler\",sampled=\"false\"} 1"));
    free(text);
    proc_close(&p);
}

/* 10% of 100 000 random traces (3 spans each) within 10% +- 1%, whole
 * traces kept or dropped, in both modes; a second instance decides the same. */
static void run_statistical(const char *yaml, double *ratio) {
    proc p1, p2;
    proc_open(&p1, yaml, true);
    proc_open(&p2, yaml, true);
    uint64_t rng = 20240601;
    enum { TRACES = 100000, PER = 1000, SPANS = 3 };
    static uint8_t tids[PER * SPANS][16];
    for (int done = 0; done < TRACES; done += PER) {
        for (int t = 0; t < PER; t++) {
            uint64_t a = tu_rand(&rng), c = tu_rand(&rng);
            for (int s = 0; s < SPANS; s++) {
                memcpy(tids[t * SPANS + s], &a, 8);
                memcpy(tids[t * SPANS + s] + 8, &c, 8);
            }
        }
        pp_batch *b = make_spans(PER * SPANS, (const uint8_t(*)[16])tids, NULL);
        assert_int_equal(proc_feed(&p1, b), 0);
        assert_int_equal(proc_feed(&p2, b), 0);
        pp_batch_unref(b);
    }
    assert_int_equal(p1.sink.spans % SPANS, 0);
    *ratio = (double)(p1.sink.spans / SPANS) / TRACES;
    /* identical decisions: the same spans, in the same order */
    assert_int_equal(p1.sink.spans, p2.sink.spans);
    assert_int_equal(p1.sink.nkept, p2.sink.nkept);
    for (size_t i = 0; i < p1.sink.nkept; i++) {
        assert_int_equal(p1.sink.kept[i]->items, p2.sink.kept[i]->items);
        for (size_t k = 0; k < p1.sink.kept[i]->items; k++) {
            const pp_span *x = out_span(p1.sink.kept[i], k), *y = out_span(p2.sink.kept[i], k);
            assert_memory_equal(x->trace_id.data, y->trace_id.data, 16);
            assert_memory_equal(x->span_id.data, y->span_id.data, 8);
            assert_string_equal(x->trace_state, y->trace_state);
        }
    }
    proc_close(&p1);
    proc_close(&p2);
}

static void test_statistical_ten_percent(void **state) {
    (void)state;
    double hs, prop, eq;
    run_statistical("sampling_percentage: 10\nhash_seed: 12345\n", &hs);
    run_statistical("sampling_percentage: 10\nmode: proportional\n", &prop);
    run_statistical("sampling_percentage: 10\nmode: equalizing\n", &eq);
    printf("kept: hash_seed %.4f, proportional %.4f, equalizing %.4f\n", hs, prop, eq);
    assert_true(hs >= 0.09 && hs <= 0.11);
    assert_true(prop >= 0.09 && prop <= 0.11);
    assert_true(eq >= 0.09 && eq <= 0.11);
}

static void test_threshold_encoding(void **state) {
    (void)state;
    uint64_t t;
    char s[15];
    assert_int_equal(ots_threshold_from_probability(0.25, 4, &t), 0);
    ots_format_th(t, s);
    assert_string_equal(s, "c");
    assert_int_equal(ots_threshold_from_probability(1.0, 4, &t), 0);
    ots_format_th(t, s);
    assert_string_equal(s, "0");
    assert_int_equal(ots_threshold_from_probability(0.1, 4, &t), 0);
    ots_format_th(t, s);
    assert_string_equal(s, "e666");
    assert_int_equal(ots_threshold_from_probability(0.0, 4, &t), -1);
    uint8_t tid[16];
    parse_tid("4bf92f3577b34da6a3ce929d0e0e4736", tid);
    assert_int_equal(ots_randomness_from_trace_id(tid), 0xce929d0e0e4736ull);
}

static void test_config(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    assert_int_equal(tu_comp_check(PP_PROCESSOR, "probabilistic_sampler", "sampling_percentage: -1\n", &d), 1);
    pp_diag_free(&d);
    pp_diag_init(&d);
    assert_true(tu_comp_check(PP_PROCESSOR, "probabilistic_sampler", "mode: bogus\n", &d) >= 1);
    pp_diag_free(&d);
    pp_diag_init(&d);
    assert_true(tu_comp_check(PP_PROCESSOR, "probabilistic_sampler", "sampling_precision: 15\n", &d) >= 1);
    pp_diag_free(&d);
    /* Metrics pass through untouched. */
    proc p;
    memset(&p, 0, sizeof(p));
    p.host.metrics = pp_metrics_new();
    tu_span_sink_init(&p.sink, true);
    assert_int_equal(tu_comp_create(&p.comp, PP_PROCESSOR, "probabilistic_sampler",
                                    "sampling_percentage: 0\n", &p.host, PP_METRICS, &p.sink.c), 0);
    pp_batch *m = tu_make_metrics(2, 3, 1);
    pp_status st = {0};
    assert_int_equal(pp_consume(p.comp.f->consumer(p.comp.inst, PP_METRICS), m, &st), 0);
    assert_ptr_equal(p.sink.kept[0], m);
    pp_batch_unref(m);
    proc_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_seed_matches_reference_table),
        cmocka_unit_test(test_hash_seed_tracestate),
        cmocka_unit_test(test_published_consistent_vectors),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_tracestate_written_input_untouched),
        cmocka_unit_test(test_statistical_ten_percent),
        cmocka_unit_test(test_threshold_encoding),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
