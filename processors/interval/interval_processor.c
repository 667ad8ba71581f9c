/* interval_processor.c -- the `interval` processor.
 *
 * Cumulative monotonic sums, cumulative (exponential) histograms, gauges and
 * summaries are held, the latest point per stream, and emitted together every
 * `interval`; after an emission the state is empty, as in the Collector.
 * Delta metrics and non-monotonic sums pass through at once, and so do gauges
 * and summaries with pass_through.gauge / pass_through.summary.
 *
 * A refused emission is put back (where no newer point arrived) and retried
 * at the next tick; shutdown emits a last time until the deadline and counts
 * what was not taken (reason shutdown_deadline). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "aggregate/metric_points.h"
#include "aggregate/periodic.h"
#include "component.h"
#include "drops.h"
#include "interval_state.h"
#include "log.h"

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x
#define CUMULATIVE M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE)

typedef struct pass_cfg { bool gauge, summary; } pass_cfg;
typedef struct iv_config { int64_t interval_ns; pass_cfg pass_through; } iv_config;

static const pp_cfg_field pass_schema[] = {
    {.key = "gauge", .type = PP_CFG_BOOL, .offset = offsetof(pass_cfg, gauge),
     .help = "pass gauges on at once instead of keeping the latest"},
    {.key = "summary", .type = PP_CFG_BOOL, .offset = offsetof(pass_cfg, summary),
     .help = "pass summaries on at once instead of keeping the latest"},
    {0},
};

static const pp_cfg_field iv_schema[] = {
    {.key = "interval", .type = PP_CFG_DURATION, .offset = offsetof(iv_config, interval_ns),
     .min = 1000000, .max = INT64_MAX, .help = "how often the held points are emitted"},
    {.key = "pass_through", .type = PP_CFG_STRUCT, .offset = offsetof(iv_config, pass_through),
     .children = pass_schema},
    {0},
};

static void iv_defaults(void *cfg) { ((iv_config *)cfg)->interval_ns = 60LL * 1000000000LL; }

typedef struct iv_proc {
    pp_consumer consumer;
    const iv_config *cfg;
    pp_consumer *next;
    char component[160];
    iv_state *state;
    pthread_mutex_t emit_lock;
    pp_periodic timer;
    pp_counter *dropped_shutdown;
    pp_gauge *held;
} iv_proc;

static bool held_here(const pp_metric *m, const void *cfg) {
    const iv_config *c = cfg;
    switch (m->data_case) {
    case M(METRIC__DATA_GAUGE): return !c->pass_through.gauge;
    case M(METRIC__DATA_SUMMARY): return !c->pass_through.summary;
    case M(METRIC__DATA_SUM): return m->sum->aggregation_temporality == CUMULATIVE && m->sum->is_monotonic;
    case M(METRIC__DATA_HISTOGRAM): return m->histogram->aggregation_temporality == CUMULATIVE;
    case M(METRIC__DATA_EXPONENTIAL_HISTOGRAM):
        return m->exponential_histogram->aggregation_temporality == CUMULATIVE;
    default: return false;
    }
}

/* A batch borrowing b with only the metrics that pass through. */
static pp_batch *pass_batch(const iv_config *c, pp_batch *b) {
    pp_batch *o = pp_batch_new(PP_METRICS, 0);
    if (!o || pp_batch_borrow(o, b) != 0) goto oom;
    const pp_metrics_req *r = b->metrics;
    pp_arena *a = o->arena;
    pp_resource_metrics **rms = pp_arena_alloc(a, (r->n_resource_metrics + 1) * sizeof(*rms));
    if (!rms) goto oom;
    size_t nr = 0;
    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        const pp_resource_metrics *rm = r->resource_metrics[i];
        pp_scope_metrics **sms = pp_arena_alloc(a, (rm->n_scope_metrics + 1) * sizeof(*sms));
        pp_resource_metrics *crm = pp_arena_alloc(a, sizeof(*crm));
        if (!sms || !crm) goto oom;
        size_t ns = 0;
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const pp_scope_metrics *sm = rm->scope_metrics[j];
            pp_metric **ms = pp_arena_alloc(a, (sm->n_metrics + 1) * sizeof(*ms));
            pp_scope_metrics *csm = pp_arena_alloc(a, sizeof(*csm));
            if (!ms || !csm) goto oom;
            size_t nm = 0;
            for (size_t k = 0; k < sm->n_metrics; k++)
                if (!held_here(sm->metrics[k], c)) ms[nm++] = sm->metrics[k];
            if (!nm) continue;
            *csm = *sm;
            csm->metrics = ms;
            csm->n_metrics = nm;
            sms[ns++] = csm;
        }
        if (!ns) continue;
        *crm = *rm;
        crm->scope_metrics = sms;
        crm->n_scope_metrics = ns;
        rms[nr++] = crm;
    }
    o->metrics->resource_metrics = rms;
    o->metrics->n_resource_metrics = nr;
    pp_batch_recount(o);
    return o;
oom:
    if (o) pp_batch_unref(o);
    return NULL;
}

static int iv_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    iv_proc *p = (iv_proc *)self;
    long held = iv_state_put_batch(p->state, b, held_here, p->cfg);
    if (held < 0) return pp_fail(st, PP_UNAVAILABLE, "%s: out of memory", p->component);
    if (held == 0) return pp_consume(p->next, b, st);
    if ((size_t)held == b->items) return 0;
    pp_batch *pass = pass_batch(p->cfg, b);
    if (!pass) return pp_fail(st, PP_UNAVAILABLE, "%s: out of memory", p->component);
    int rc = pass->items ? pp_consume(p->next, pass, st) : 0;
    pp_batch_unref(pass);
    return rc;
}

/* Emits what is held; returns the points the next component did not take. */
static size_t emit(void *arg) {
    iv_proc *p = arg;
    pthread_mutex_lock(&p->emit_lock);
    bool oom;
    size_t left = 0;
    pp_batch *b = iv_state_take(p->state, &oom);
    if (oom) pp_log_error(p->component, "out of memory building the interval batch; retrying", NULL);
    if (b) {
        pp_status st = {0};
        if (pp_consume(p->next, b, &st) != 0) {
            left = b->items;
            pp_log_warn(p->component, "interval batch refused; kept for the next tick", "reason",
                        st.msg, NULL);
            iv_state_restore(p->state, b);
        }
        pp_batch_unref(b);
    }
    pthread_mutex_unlock(&p->emit_lock);
    return left;
}

static void on_tick(void *arg) { emit(arg); }

static int64_t held_fn(void *arg) { return (int64_t)iv_state_count(arg); }

static void *iv_create(const pp_create_params *cp, pp_status *st) {
    iv_proc *p = calloc(1, sizeof(*p));
    if (!p || !(p->state = iv_state_new())) {
        free(p);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    p->consumer.consume = iv_consume;
    p->cfg = cp->config;
    p->next = cp->next[cp->signal];
    pthread_mutex_init(&p->emit_lock, NULL);
    snprintf(p->component, sizeof(p->component), "processor/%s", cp->id);
    const char *labels[] = {"processor", cp->id, NULL};
    p->held = pp_gauge_get_fn(cp->host->metrics, "pipit_interval_streams",
                              "Streams whose latest point the interval processor holds.", labels,
                              held_fn, p->state);
    p->dropped_shutdown = pp_drops_counter(cp->host->metrics, p->component, PP_METRICS,
                                           "shutdown_deadline");
    return p;
}

static int iv_start(void *inst, pp_host *host, pp_status *st) {
    iv_proc *p = inst;
    if (pp_periodic_start(&p->timer, host->loop, p->cfg->interval_ns, on_tick, p) != 0)
        return pp_fail(st, PP_INTERNAL, "%s: cannot create timer", p->component);
    return 0;
}

static pp_consumer *iv_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((iv_proc *)inst)->consumer;
}

static void iv_shutdown(void *inst, pp_host *host) {
    iv_proc *p = inst;
    pp_periodic_stop(&p->timer);
    pp_flush_until_deadline(emit, p, host->shutdown_deadline_ns, p->component, p->dropped_shutdown);
}

static void iv_destroy(void *inst) {
    iv_proc *p = inst;
    pp_gauge_clear_fn(p->held);
    iv_state_free(p->state);
    pthread_mutex_destroy(&p->emit_lock);
    free(p);
}

const pp_factory pp_interval_processor = {
    .kind = PP_PROCESSOR,
    .type = "interval",
    .signals = PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(iv_config),
    .schema = iv_schema,
    .config_defaults = iv_defaults,
    .create = iv_create,
    .start = iv_start,
    .consumer = iv_consumer,
    .shutdown = iv_shutdown,
    .destroy = iv_destroy,
};
