/* memory_limiter.c -- the `memory_limiter` processor (the Collector's keys).
 *
 *   processors:
 *     memory_limiter:
 *       check_interval: 1s
 *       limit_mib: 400          # or limit_percentage: 80
 *       spike_limit_mib: 80     # default 20% of the limit
 *
 * Every check_interval it measures the process's memory (RSS: see
 * memory_probe.c) and feeds it to the host's admission gate, which receivers
 * ask before decoding (admission.h). Above the soft limit (limit - spike) it
 * refuses data with UNAVAILABLE, so clients retry, and reports the processor
 * degraded. Above the hard limit it asks glibc to give freed memory back to
 * the kernel (malloc_trim), pipit's counterpart of the Collector's forced GC. */
#include <inttypes.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "admission.h"
#include "component.h"
#include "log.h"
#include "memory_probe.h"

#define MIB ((uint64_t)1024 * 1024)

typedef struct ml_config {
    int64_t check_interval_ns;
    int64_t limit_mib, spike_limit_mib;
    int64_t limit_percentage, spike_limit_percentage;
} ml_config;

static const pp_cfg_field ml_schema[] = {
    {.key = "check_interval", .type = PP_CFG_DURATION,
     .offset = offsetof(ml_config, check_interval_ns),
     .help = "time between measurements of memory usage (required, > 0)"},
    {.key = "limit_mib", .type = PP_CFG_INT, .offset = offsetof(ml_config, limit_mib), .min = 0,
     .max = UINT32_MAX, .help = "hard limit in MiB of resident memory"},
    {.key = "spike_limit_mib", .type = PP_CFG_INT, .offset = offsetof(ml_config, spike_limit_mib),
     .min = 0, .max = UINT32_MAX,
     .help = "expected growth between checks; soft limit = limit - spike (default 20% of limit)"},
    {.key = "limit_percentage", .type = PP_CFG_INT, .offset = offsetof(ml_config, limit_percentage),
     .min = 0, .max = INT32_MAX,
     .help = "hard limit as a percentage of total memory (cgroup limit, else MemTotal)"},
    {.key = "spike_limit_percentage", .type = PP_CFG_INT,
     .offset = offsetof(ml_config, spike_limit_percentage), .min = 0, .max = INT32_MAX,
     .help = "spike as a percentage of total memory (default 20% of the limit)"},
    {.key = "min_gc_interval_when_soft_limited", .type = PP_CFG_IGNORED,
     .help = "Go garbage collector tuning; pipit has none"},
    {.key = "min_gc_interval_when_hard_limited", .type = PP_CFG_IGNORED,
     .help = "Go garbage collector tuning; pipit has none"},
    {.key = "ballast_size_mib", .type = PP_CFG_IGNORED, .help = "deprecated in the Collector"},
    {0},
};

static size_t check_percentage(int64_t v, const char *path, const char *key, pp_diag *d) {
    if (v <= 100) return 0; /* 0: not set */
    char where[256];
    snprintf(where, sizeof(where), "%s.%s", path, key);
    pp_diag_error(d, where, 0, "must be greater than zero and at most 100 (got %" PRId64 ")", v);
    return 1;
}

static size_t ml_validate(const void *cfg, const char *path, pp_diag *d) {
    const ml_config *c = cfg;
    char where[256];
    size_t errors = 0;
    if (c->check_interval_ns <= 0) {
        snprintf(where, sizeof(where), "%s.check_interval", path);
        pp_diag_error(d, where, 0, "check_interval must be greater than zero");
        errors++;
    }
    if (c->limit_mib == 0 && c->limit_percentage == 0) {
        pp_diag_error(d, path, 0, "'limit_mib' or 'limit_percentage' must be greater than zero");
        errors++;
    } else if (c->limit_mib > 0 && c->limit_percentage > 0) {
        pp_diag_error(d, path, 0, "set either limit_mib or limit_percentage, not both");
        errors++;
    }
    errors += check_percentage(c->limit_percentage, path, "limit_percentage", d);
    errors += check_percentage(c->spike_limit_percentage, path, "spike_limit_percentage", d);
    if (c->limit_mib > 0 && c->spike_limit_mib >= c->limit_mib) {
        snprintf(where, sizeof(where), "%s.spike_limit_mib", path);
        pp_diag_error(d, where, 0, "must be smaller than limit_mib (%" PRId64 ")", c->limit_mib);
        errors++;
    }
    if (c->limit_percentage > 0 && c->spike_limit_percentage >= c->limit_percentage) {
        snprintf(where, sizeof(where), "%s.spike_limit_percentage", path);
        pp_diag_error(d, where, 0, "must be smaller than limit_percentage (%" PRId64 ")",
                      c->limit_percentage);
        errors++;
    }
    /* The Collector silently ignores a spike of the other kind; say so instead. */
    if (c->limit_mib > 0 && c->spike_limit_percentage > 0) {
        snprintf(where, sizeof(where), "%s.spike_limit_percentage", path);
        pp_diag_error(d, where, 0, "goes with limit_percentage; use spike_limit_mib with limit_mib");
        errors++;
    }
    if (c->limit_percentage > 0 && c->spike_limit_mib > 0) {
        snprintf(where, sizeof(where), "%s.spike_limit_mib", path);
        pp_diag_error(d, where, 0, "goes with limit_mib; use spike_limit_percentage with limit_percentage");
        errors++;
    }
    return errors;
}

typedef struct mem_limiter {
    pp_consumer consumer;
    const ml_config *cfg;
    pp_consumer *next;
    char component[160]; /* "processor/memory_limiter": also its health id */
    pp_admission *admission;
    pp_health *health;
    uint64_t soft, hard;     /* bytes, resolved at start */
    _Atomic uint64_t usage;  /* last measurement */
    atomic_bool above;       /* usage > soft at the last check */
    uv_timer_t timer;
    bool timer_started;
    pp_counter *accepted, *refused;
} mem_limiter;

static uint32_t interval_ms(const mem_limiter *m) {
    int64_t ms = m->cfg->check_interval_ns / 1000000;
    return ms < 1 ? 1 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static void fmt_mib(char *out, size_t n, uint64_t bytes) {
    snprintf(out, n, "%" PRIu64, bytes / MIB);
}

/* Measures, feeds the gate, and on a crossing of the soft limit logs once and
 * reports health. Runs on the loop thread only, so crossings are seen once. */
static void check_memory(mem_limiter *m) {
    uint64_t usage = pp_memory_usage();
    atomic_store(&m->usage, usage);
    if (m->admission) pp_admission_set_usage(m->admission, usage);
    bool over = usage > m->soft, was = atomic_exchange(&m->above, over);
    char use[32], soft[32], msg[128];
    fmt_mib(use, sizeof(use), usage);
    fmt_mib(soft, sizeof(soft), m->soft);
    if (over && !was) {
        pp_log_warn(m->component, "memory usage is above the soft limit; refusing data",
                    "usage_mib", use, "soft_limit_mib", soft, NULL);
        snprintf(msg, sizeof(msg), "memory usage %s MiB is above the soft limit %s MiB", use, soft);
        pp_health_report(m->health, m->component, PP_HEALTH_DEGRADED, msg);
    } else if (!over && was) {
        pp_log_info(m->component, "memory usage is below the soft limit again; accepting data",
                    "usage_mib", use, "soft_limit_mib", soft, NULL);
        pp_health_report(m->health, m->component, PP_HEALTH_OK, NULL);
    }
    if (usage > m->hard) malloc_trim(0);
}

static void on_tick(uv_timer_t *t) { check_memory(t->data); }

static int ml_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    mem_limiter *m = (mem_limiter *)self;
    if (atomic_load(&m->above)) {
        pp_counter_add(m->refused, b->items);
        pp_fail(st, PP_UNAVAILABLE,
                "%s: data refused due to high memory usage (%" PRIu64 " MiB in use, soft limit %"
                PRIu64 " MiB); retry later",
                m->component, atomic_load(&m->usage) / MIB, m->soft / MIB);
        st->retry_after_ms = interval_ms(m);
        return -1;
    }
    /* Accepted = passed on and taken; a refusal further on reaches the
     * receiver, which counts it there. */
    if (pp_consume(m->next, b, st) != 0) return -1;
    pp_counter_add(m->accepted, b->items);
    return 0;
}

static void *ml_create(const pp_create_params *p, pp_status *st) {
    mem_limiter *m = calloc(1, sizeof(*m));
    if (!m) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    m->consumer.consume = ml_consume;
    m->cfg = p->config;
    m->next = p->next[p->signal];
    m->consumer.takes_encoded = m->next && m->next->takes_encoded; /* it only counts items */
    snprintf(m->component, sizeof(m->component), "processor/%s", p->id);
    const char *labels[] = {"processor", p->id, NULL};
    bool traces = p->signal == PP_TRACES;
    m->accepted = pp_counter_get(
        p->host->metrics, traces ? "otelcol_processor_accepted_spans" : "otelcol_processor_accepted_metric_points",
        traces ? "Number of spans successfully pushed into the next component in the pipeline."
               : "Number of metric points successfully pushed into the next component in the pipeline.",
        labels);
    m->refused = pp_counter_get(
        p->host->metrics, traces ? "otelcol_processor_refused_spans" : "otelcol_processor_refused_metric_points",
        traces ? "Number of spans that were rejected by the next component in the pipeline."
               : "Number of metric points that were rejected by the next component in the pipeline.",
        labels);
    return m;
}

/* Resolves the limits in bytes; percentages are of the memory pipit may use. */
static int resolve_limits(mem_limiter *m, pp_status *st) {
    const ml_config *c = m->cfg;
    uint64_t spike;
    if (c->limit_mib > 0) {
        m->hard = (uint64_t)c->limit_mib * MIB;
        spike = (uint64_t)c->spike_limit_mib * MIB;
    } else {
        uint64_t total = pp_memory_total("");
        if (total == 0)
            return pp_fail(st, PP_INTERNAL,
                           "%s: cannot tell the total memory for limit_percentage; set limit_mib",
                           m->component);
        m->hard = total / 100 * (uint64_t)c->limit_percentage;
        spike = total / 100 * (uint64_t)c->spike_limit_percentage;
    }
    if (spike == 0) spike = m->hard / 5; /* the Collector's default: 20% of the limit */
    m->soft = m->hard - spike;
    return 0;
}

static int ml_start(void *inst, pp_host *host, pp_status *st) {
    mem_limiter *m = inst;
    if (resolve_limits(m, st) != 0) return -1;
    m->admission = host->admission;
    m->health = host->health;
    if (m->admission) {
        /* Idempotent: each pipeline's instance sets the same limits, and with
         * several memory_limiters the gate keeps the strictest. */
        pp_admission_set_limit(m->admission, m->soft, m->hard);
        pp_admission_set_retry_after(m->admission, interval_ms(m));
    }
    pp_health_report(m->health, m->component, PP_HEALTH_OK, NULL);
    check_memory(m);
    if (uv_timer_init(host->loop, &m->timer) != 0)
        return pp_fail(st, PP_INTERNAL, "%s: cannot create timer", m->component);
    m->timer.data = m;
    uv_timer_start(&m->timer, on_tick, interval_ms(m), interval_ms(m));
    m->timer_started = true;
    return 0;
}

static pp_consumer *ml_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((mem_limiter *)inst)->consumer;
}

static void ml_shutdown(void *inst, pp_host *host) {
    mem_limiter *m = inst;
    (void)host;
    if (m->timer_started) {
        uv_timer_stop(&m->timer);
        uv_close((uv_handle_t *)&m->timer, NULL);
        m->timer_started = false;
    }
}

const pp_factory pp_memory_limiter_processor = {
    .kind = PP_PROCESSOR,
    .type = "memory_limiter",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(ml_config),
    .schema = ml_schema,
    .config_validate = ml_validate,
    .create = ml_create,
    .start = ml_start,
    .consumer = ml_consumer,
    .shutdown = ml_shutdown,
    .destroy = free,
};
