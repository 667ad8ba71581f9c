/* tail_sampling.c -- the `tail_sampling` processor.
 *
 * Spans are held per trace (no copying: references into the input batches,
 * ts_store.h) until decision_wait has passed since the trace's first span;
 * then the policies (ts_policy.h) decide the whole trace, sampled traces go
 * on as a new batch grouped by resource and scope (batch_select.h), and the
 * decision is cached for late spans. State is sharded by trace id, each shard
 * with its own lock, so receiver threads rarely contend.
 *
 * pipit additions (see docs/components/sampling.md): a hard byte budget
 * (memory_limit_mib) and a per-trace span cap, both enforced per shard; when
 * a limit is reached the oldest trace of the shard is decided early with the
 * spans it has (eviction_policy: decide, or sample / drop), never silently
 * dropped, and counted in pipit_tail_sampling_evicted_traces{reason}. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "batch_select.h"
#include "component.h"
#include "drops.h"
#include "log.h"
#include "tick.h"
#include "ts_policy.h"
#include "ts_store.h"

#define TS_SHARDS 16

typedef struct ts_config {
    int64_t decision_wait_ns;
    int64_t num_traces;
    int64_t expected_new_traces_per_sec;
    struct { int64_t sampled_cache_size, non_sampled_cache_size; } decision_cache;
    const pp_node *policies;
    int64_t memory_limit_mib;
    int64_t max_spans_per_trace;
    char *eviction_policy;
} ts_config;

static const pp_cfg_field cache_fields[] = {
    {.key = "sampled_cache_size", .type = PP_CFG_INT,
     .offset = offsetof(ts_config, decision_cache.sampled_cache_size) - offsetof(ts_config, decision_cache), .min = 0, .max = INT32_MAX},
    {.key = "non_sampled_cache_size", .type = PP_CFG_INT,
     .offset = offsetof(ts_config, decision_cache.non_sampled_cache_size) - offsetof(ts_config, decision_cache), .min = 0, .max = INT32_MAX},
    {0},
};

static const char *const eviction_choices[] = {"decide", "sample", "drop", NULL};

static const pp_cfg_field ts_schema[] = {
    {.key = "decision_wait", .type = PP_CFG_DURATION, .offset = offsetof(ts_config, decision_wait_ns),
     .min = 1, .max = INT64_MAX, .help = "time from a trace's first span to its decision"},
    {.key = "num_traces", .type = PP_CFG_INT, .offset = offsetof(ts_config, num_traces), .min = 1,
     .max = INT32_MAX, .help = "traces held at most; beyond, the oldest is decided early"},
    {.key = "expected_new_traces_per_sec", .type = PP_CFG_INT,
     .offset = offsetof(ts_config, expected_new_traces_per_sec), .min = 0, .max = INT32_MAX,
     .help = "sizing hint"},
    {.key = "decision_cache", .type = PP_CFG_STRUCT, .offset = offsetof(ts_config, decision_cache),
     .children = cache_fields,
     .help = "remembered decisions for late spans"},
    {.key = "policies", .type = PP_CFG_NODE, .offset = offsetof(ts_config, policies),
     .flags = PP_CFG_REQUIRED, .help = "the sampling policies"},
    {.key = "memory_limit_mib", .type = PP_CFG_INT, .offset = offsetof(ts_config, memory_limit_mib),
     .min = 1, .max = 1 << 20, .help = "pipit: hard budget for held spans"},
    {.key = "max_spans_per_trace", .type = PP_CFG_INT,
     .offset = offsetof(ts_config, max_spans_per_trace), .min = 1, .max = INT32_MAX,
     .help = "pipit: a trace reaching this many spans is decided at once"},
    {.key = "eviction_policy", .type = PP_CFG_ENUM, .offset = offsetof(ts_config, eviction_policy),
     .choices = eviction_choices, .help = "pipit: what an early decision does: decide, sample or drop"},
    {0},
};

static void ts_defaults(void *cfg) {
    ts_config *c = cfg;
    c->decision_wait_ns = 30LL * 1000000000LL;
    c->num_traces = 50000;
    c->decision_cache.sampled_cache_size = 50000;
    c->decision_cache.non_sampled_cache_size = 50000;
    c->memory_limit_mib = 256;
    c->max_spans_per_trace = 10000;
    c->eviction_policy = strdup("decide");
}

static size_t ts_validate(const void *cfg, const char *path, pp_diag *d) {
    const ts_config *c = cfg;
    ts_policy_set set;
    size_t errs = ts_policy_set_parse(c->policies, path, d, &set);
    ts_policy_set_free(&set);
    return errs;
}

typedef enum evict_reason { EV_MEMORY, EV_NUM_TRACES, EV_MAX_SPANS, EV_COUNT } evict_reason;
static const char *const evict_names[] = {"memory", "num_traces", "max_spans_per_trace"};

typedef struct ts_proc {
    pp_consumer consumer;
    const ts_config *cfg;
    pp_consumer *next;
    char component[160];
    ts_policy_set policies;
    ts_shard shards[TS_SHARDS];
    ts_batches batches; /* hold counts of the input batches held spans keep alive */
    size_t budget, shard_max_traces;
    int eviction; /* 0 decide, 1 sample, 2 drop */
    atomic_size_t bytes, traces; /* totals over shards, for the gauges */
    atomic_bool stopping;
    pp_tick tick;

    pp_counter *global[2], *new_traces, *too_early, *evicted[EV_COUNT], *late[2];
    pp_counter *dropped_refused, *dropped_evicted;
    pp_gauge *g_traces, *g_bytes;
} ts_proc;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* Spans on their way to the next consumer. */
typedef struct outlist {
    pp_span_ref *refs;
    size_t n, cap;
    pp_batch **held; /* batch references to drop after sending */
    size_t nheld, heldcap;
    bool oom;
} outlist;

static void out_push(outlist *o, const pp_span_ref *r) {
    if (o->n == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 64;
        pp_span_ref *nr = realloc(o->refs, ncap * sizeof(*nr));
        if (!nr) {
            o->oom = true;
            return;
        }
        o->refs = nr;
        o->cap = ncap;
    }
    o->refs[o->n++] = *r;
}

/* Keeps a batch reference until o is flushed (the output borrows it then). */
static void out_hold(outlist *o, pp_batch *b) {
    if (o->nheld == o->heldcap) {
        size_t ncap = o->heldcap ? o->heldcap * 2 : 64;
        pp_batch **nh = realloc(o->held, ncap * sizeof(*nh));
        if (!nh) { /* cannot defer the release: the span cannot go out either */
            o->oom = true;
            pp_batch_unref(b);
            return;
        }
        o->held = nh;
        o->heldcap = ncap;
    }
    o->held[o->nheld++] = b;
}

/* Takes over a decided trace: its spans go out (sampled) or away. */
static void out_take(outlist *o, ts_trace *t, bool sampled) {
    for (size_t i = 0; i < t->n; i++) {
        if (sampled) out_push(o, &t->refs[i]);
        out_hold(o, t->refs[i].batch);
    }
    free(t->refs);
    free(t);
}

/* Sends what is in o and releases the references it held. */
static void out_flush(ts_proc *p, outlist *o) {
    if (o->n > 0) {
        pp_batch *b = pp_batch_from_span_refs(o->refs, o->n);
        pp_status st = {0};
        if (!b || o->oom) {
            pp_log_error(p->component, "out of memory building the sampled batch", NULL);
            pp_counter_add(p->dropped_refused, o->n);
        } else if (pp_consume(p->next, b, &st) != 0) {
            char n[32];
            snprintf(n, sizeof(n), "%zu", o->n);
            pp_log_warn(p->component, "next component refused sampled spans", "spans", n, "error", st.msg, NULL);
            pp_counter_add(p->dropped_refused, o->n);
        }
        pp_batch_unref(b);
    }
    for (size_t i = 0; i < o->nheld; i++) pp_batch_unref(o->held[i]);
    free(o->refs);
    free(o->held);
    memset(o, 0, sizeof(*o));
}

/* Most a span can add to the held bytes when it is held: a new trace with
 * room for 4 spans. (A trace's refs array doubling later can add more; the
 * rare excess is evicted at the end of the batch.) */
#define TS_SPAN_MAX (sizeof(ts_trace) + 4 * sizeof(pp_span_ref))

/* Releases t's holds on its input batches (all of its refs but the last when
 * last_unheld): a batch no held span references stops counting. */
static void release_holds(ts_proc *p, const ts_trace *t, bool last_unheld) {
    size_t n = t->n - (last_unheld && t->n > 0), freed = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && t->refs[j].batch == t->refs[i].batch) j++;
        freed += ts_batches_release(&p->batches, t->refs[i].batch, j - i);
        i = j;
    }
    if (freed) atomic_fetch_sub(&p->bytes, freed);
}

/* Decides t (already out of the shard) under the shard's lock, caches the
 * decision and moves its spans to o. */
static void decide(ts_proc *p, ts_shard *sh, ts_trace *t, bool early, bool last_unheld, outlist *o) {
    bool sampled;
    if (early && p->eviction == 1) sampled = true;
    else if (early && p->eviction == 2) {
        sampled = false;
        pp_counter_add(p->dropped_evicted, t->n);
    } else sampled = ts_policy_set_decide(&p->policies, t->id, t->refs, t->n, now_s());
    pp_counter_add(p->global[sampled], 1);
    ts_cache_put(sampled ? &sh->sampled : &sh->not_sampled, t->id, t->hash);
    atomic_fetch_sub(&p->bytes, t->bytes);
    atomic_fetch_sub(&p->traces, 1);
    release_holds(p, t, last_unheld);
    out_take(o, t, sampled);
}

static void evict_oldest(ts_proc *p, ts_shard *sh, evict_reason why, outlist *o) {
    ts_trace *v = sh->oldest;
    ts_shard_remove(sh, v);
    pp_counter_add(p->evicted[why], 1);
    decide(p, sh, v, true, false, o);
}

/* Decides the oldest traces held (oldest first over all shards, a few at a
 * time from the shard holding the oldest); false when none is held. Called
 * with no shard locked. */
static bool evict_global(ts_proc *p, outlist *o) {
    int best = -1;
    int64_t bt = INT64_MAX;
    for (int s = 0; s < TS_SHARDS; s++) {
        ts_shard *sh = &p->shards[s];
        pthread_mutex_lock(&sh->mu);
        if (sh->oldest && sh->oldest->first_ns < bt) {
            bt = sh->oldest->first_ns;
            best = s;
        }
        pthread_mutex_unlock(&sh->mu);
    }
    if (best < 0) return false;
    ts_shard *sh = &p->shards[best];
    pthread_mutex_lock(&sh->mu);
    for (int k = 0; k < 8 && sh->oldest; k++) evict_oldest(p, sh, EV_MEMORY, o);
    pthread_mutex_unlock(&sh->mu);
    return true;
}

/* Adds need to the held bytes if the budget allows, deciding the oldest
 * traces to make room; false (nothing added) when it cannot fit. */
static bool reserve(ts_proc *p, size_t need, outlist *o) {
    if (need > p->budget) return false;
    for (;;) {
        size_t cur = atomic_load(&p->bytes);
        if (cur + need <= p->budget) {
            if (atomic_compare_exchange_weak(&p->bytes, &cur, cur + need)) return true;
            continue;
        }
        if (!evict_global(p, o)) return false;
    }
}

/* Counts delta more held bytes, first from what the batch reserved. */
static void charge(ts_proc *p, size_t delta, size_t *resv) {
    size_t from = delta < *resv ? delta : *resv;
    *resv -= from;
    if (delta > from) atomic_fetch_add(&p->bytes, delta - from);
}

/* Adds one span to its trace; may decide traces early. Caller holds sh->mu.
 * room: the span's batch is counted (a hold of it was taken for each span)
 * and *resv holds what the batch reserved for trace overhead; *used counts
 * the spans held. Without room, the span's trace is decided now, with it. */
static void hold_span(ts_proc *p, ts_shard *sh, const pp_span_ref *ref, uint64_t h, bool room,
                      size_t *resv, size_t *used, outlist *o) {
    const uint8_t *id = ref->span->trace_id.data;
    ts_trace *t = ts_shard_find(sh, id, h);
    if (!t) {
        if (ts_cache_has(&sh->sampled, id, h)) {
            pp_counter_add(p->late[1], 1);
            out_push(o, ref);
            out_hold(o, pp_batch_ref(ref->batch));
            return;
        }
        if (ts_cache_has(&sh->not_sampled, id, h)) {
            pp_counter_add(p->late[0], 1);
            return;
        }
        while (sh->oldest && sh->count + 1 > p->shard_max_traces) evict_oldest(p, sh, EV_NUM_TRACES, o);
        t = ts_shard_add(sh, id, h, now_ns());
        if (!t) {
            o->oom = true;
            return;
        }
        pp_counter_add(p->new_traces, 1);
        atomic_fetch_add(&p->traces, 1);
        charge(p, t->bytes, resv);
    }
    size_t before = t->bytes;
    if (ts_trace_push(t, ref) != 0) {
        o->oom = true;
        return;
    }
    sh->bytes += t->bytes - before;
    charge(p, t->bytes - before, resv);
    if (room) ++*used;
    bool full = t->n >= (size_t)p->cfg->max_spans_per_trace;
    if (full || !room) {
        /* The span's trace is decided now, with this span (at its span cap,
         * or its batch does not fit in the budget: it is never counted as
         * held then, and the budget is not exceeded but by this trace's
         * bookkeeping, for the duration of this call). */
        ts_shard_remove(sh, t);
        pp_counter_add(p->evicted[full ? EV_MAX_SPANS : EV_MEMORY], 1);
        decide(p, sh, t, true, !room, o);
    }
}

static int ts_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    ts_proc *p = (ts_proc *)self;
    if (b->signal != PP_TRACES) return pp_consume(p->next, b, st);
    if (atomic_load(&p->stopping))
        return pp_fail(st, PP_UNAVAILABLE, "%s: shutting down", p->component);
    outlist o = {0};
    const pp_traces_req *r = b->traces;
    /* The batch counts against the budget while any of its spans is held:
     * reserve it and the most its spans' bookkeeping can take, deciding the
     * oldest traces to make room, and take a hold for each span up front (so
     * that a span decided early by another thread cannot release it). */
    size_t items = pp_traces_count(r), mem = ts_batch_mem(b);
    size_t resv = items * TS_SPAN_MAX, used = 0, refund = 0;
    bool room = items > 0 && reserve(p, mem + resv, &o);
    if (room) {
        size_t got = ts_batches_hold(&p->batches, b, items + 1, mem);
        if (got == SIZE_MAX) {
            room = false;
            atomic_fetch_sub(&p->bytes, mem + resv);
            resv = 0;
        } else if (got == 0) refund = mem; /* already counted */
    } else resv = 0;
    for (size_t i = 0; i < r->n_resource_spans; i++) {
        pp_resource_spans *rs = r->resource_spans[i];
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            pp_scope_spans *ss = rs->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans; k++) {
                pp_span_ref ref = {b, rs, ss, ss->spans[k]};
                if (ref.span->trace_id.len != 16) continue; /* rejected by decoding already */
                uint64_t h = ts_trace_hash(ref.span->trace_id.data);
                ts_shard *sh = &p->shards[h % TS_SHARDS];
                pthread_mutex_lock(&sh->mu);
                hold_span(p, sh, &ref, h, room, &resv, &used, &o);
                pthread_mutex_unlock(&sh->mu);
            }
        }
    }
    if (room) {
        /* give back the unused reservation and the holds of spans not held */
        size_t back = resv + refund + ts_batches_release(&p->batches, b, items + 1 - used);
        if (back) atomic_fetch_sub(&p->bytes, back);
        while (atomic_load(&p->bytes) > p->budget && evict_global(p, &o)) {}
    }
    out_flush(p, &o);
    return 0;
}

/* Decides the traces of every shard that are due (all of them when `all`). */
static void decide_due(ts_proc *p, bool all) {
    int64_t cutoff = now_ns() - p->cfg->decision_wait_ns;
    outlist o = {0};
    for (int s = 0; s < TS_SHARDS; s++) {
        ts_shard *sh = &p->shards[s];
        pthread_mutex_lock(&sh->mu);
        while (sh->oldest && (all || sh->oldest->first_ns <= cutoff)) {
            ts_trace *t = sh->oldest;
            ts_shard_remove(sh, t);
            decide(p, sh, t, false, false, &o);
        }
        pthread_mutex_unlock(&sh->mu);
        if (o.n > 4096) out_flush(p, &o); /* bound the size of one output batch */
    }
    out_flush(p, &o);
}

static void on_tick(uv_timer_t *t) { decide_due(t->data, false); }

static int64_t gauge_traces(void *arg) { return (int64_t)atomic_load(&((ts_proc *)arg)->traces); }
static int64_t gauge_bytes(void *arg) { return (int64_t)atomic_load(&((ts_proc *)arg)->bytes); }

static void ts_destroy(void *inst);

static void *ts_create(const pp_create_params *cp, pp_status *st) {
    const ts_config *c = cp->config;
    ts_proc *p = calloc(1, sizeof(*p));
    if (!p) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    p->consumer.consume = ts_consume;
    p->cfg = c;
    p->next = cp->next[cp->signal];
    snprintf(p->component, sizeof(p->component), "processor/%s", cp->id);
    pp_diag d;
    pp_diag_init(&d);
    size_t errs = ts_policy_set_parse(c->policies, cp->id, &d, &p->policies);
    pp_diag_free(&d);
    p->eviction = strcmp(c->eviction_policy, "sample") == 0 ? 1 : strcmp(c->eviction_policy, "drop") == 0 ? 2 : 0;
    p->budget = (size_t)c->memory_limit_mib * 1024 * 1024;
    p->shard_max_traces = ((size_t)c->num_traces + TS_SHARDS - 1) / TS_SHARDS;
    size_t sc = ((size_t)c->decision_cache.sampled_cache_size + TS_SHARDS - 1) / TS_SHARDS;
    size_t nc = ((size_t)c->decision_cache.non_sampled_cache_size + TS_SHARDS - 1) / TS_SHARDS;
    int bad = errs != 0;
    for (int s = 0; s < TS_SHARDS; s++) bad |= ts_shard_init(&p->shards[s], sc, nc) != 0;
    bad |= ts_batches_init(&p->batches) != 0;
    if (bad) {
        ts_destroy(p);
        pp_fail(st, PP_INTERNAL, "%s: invalid policies or out of memory", cp->id);
        return NULL;
    }
    pp_metrics *m = cp->host->metrics;
    for (size_t i = 0; i < p->policies.n; i++)
        for (int s = 0; s < 2; s++) {
            const char *l[] = {"processor", cp->id, "policy", p->policies.items[i].name, "sampled",
                               s ? "true" : "false", NULL};
            p->policies.items[i].count[s] = pp_counter_get(
                m, "otelcol_processor_tail_sampling_count_traces_sampled",
                "Count of traces that were sampled or not per sampling policy", l);
        }
    for (int s = 0; s < 2; s++) {
        const char *l[] = {"processor", cp->id, "sampled", s ? "true" : "false", NULL};
        p->global[s] = pp_counter_get(m, "otelcol_processor_tail_sampling_global_count_traces_sampled",
                                      "Global count of traces that were sampled or not by at least one policy", l);
        const char *ll[] = {"processor", cp->id, "decision", s ? "sampled" : "not_sampled", NULL};
        p->late[s] = pp_counter_get(m, "pipit_tail_sampling_late_spans",
                                    "Spans that arrived after their trace was decided, by cached decision", ll);
    }
    const char *l[] = {"processor", cp->id, NULL};
    p->new_traces = pp_counter_get(m, "otelcol_processor_tail_sampling_new_trace_id_received",
                                   "Counts the arrival of new traces", l);
    /* pipit decides instead of dropping: stays 0, kept for dashboards. */
    p->too_early = pp_counter_get(m, "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early",
                                  "Count of traces that needed to be dropped before the configured wait time", l);
    for (int r = 0; r < EV_COUNT; r++) {
        const char *el[] = {"processor", cp->id, "reason", evict_names[r], NULL};
        p->evicted[r] = pp_counter_get(m, "pipit_tail_sampling_evicted_traces",
                                       "Traces decided before decision_wait because a limit was reached", el);
    }
    p->g_traces = pp_gauge_get_fn(m, "otelcol_processor_tail_sampling_sampling_traces_on_memory",
                                  "Tracks the number of traces current on memory", l, gauge_traces, p);
    p->g_bytes = pp_gauge_get_fn(m, "pipit_tail_sampling_held_bytes",
                                 "Bytes held (the input batches held spans keep alive, and their bookkeeping), counted against memory_limit_mib", l, gauge_bytes, p);
    p->dropped_refused = pp_drops_counter(m, p->component, PP_TRACES, "next_refused");
    p->dropped_evicted = pp_drops_counter(m, p->component, PP_TRACES, "evicted");
    return p;
}

static int ts_start(void *inst, pp_host *host, pp_status *st) {
    ts_proc *p = inst;
    /* Tick at most every second, and at least 4 times per decision_wait. */
    uint64_t period = (uint64_t)(p->cfg->decision_wait_ns / 4000000);
    if (period > 1000) period = 1000;
    return pp_tick_start(&p->tick, host->loop, period, on_tick, p, p->component, st);
}

static pp_consumer *ts_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((ts_proc *)inst)->consumer;
}

/* Everything pending is decided now: sampled traces are not lost at shutdown. */
static void ts_shutdown(void *inst, pp_host *host) {
    (void)host;
    ts_proc *p = inst;
    atomic_store(&p->stopping, true);
    pp_tick_stop(&p->tick);
    decide_due(p, true);
}

static void ts_destroy(void *inst) {
    ts_proc *p = inst;
    pp_gauge_clear_fn(p->g_traces);
    pp_gauge_clear_fn(p->g_bytes);
    for (int s = 0; s < TS_SHARDS; s++)
        if (p->shards[s].buckets) ts_shard_free(&p->shards[s]);
    ts_batches_free(&p->batches);
    ts_policy_set_free(&p->policies);
    free(p);
}

const pp_factory pp_tail_sampling_processor = {
    .kind = PP_PROCESSOR,
    .type = "tail_sampling",
    .signals = PP_SIG_BIT(PP_TRACES),
    .config_size = sizeof(ts_config),
    .schema = ts_schema,
    .config_defaults = ts_defaults,
    .config_validate = ts_validate,
    .create = ts_create,
    .start = ts_start,
    .consumer = ts_consumer,
    .shutdown = ts_shutdown,
    .destroy = ts_destroy,
};
