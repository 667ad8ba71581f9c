/* spanmetrics.c -- the `spanmetrics` connector (alias `span_metrics`).
 *
 * Traces in, metrics out: every span is counted into its series (sm_agg.h)
 * and every metrics_flush_interval the series are emitted as one metrics
 * batch to the metrics pipelines. A refused flush keeps the state (cumulative
 * totals are re-sent whole; delta intervals are merged into the next one),
 * so a full downstream delays metrics but loses nothing. Shutdown flushes a
 * last time, retrying until the deadline, and counts what it could not send. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/agg_clock.h"
#include "aggregate/periodic.h"
#include "component.h"
#include "drops.h"
#include "log.h"
#include "sm_agg.h"
#include "sm_config.h"

typedef struct sm_conn {
    pp_consumer consumer;
    const sm_config *cfg;
    pp_consumer *next;
    char component[160];
    sm_dim *dims;
    size_t ndims;
    double *bounds;
    char *calls_name, *duration_name;
    sm_agg *agg;
    pthread_mutex_t flush_lock; /* one flush at a time (timer, shutdown) */
    atomic_bool stopping;
    pp_periodic timer;
    pp_counter *overflow, *refused, *dropped_shutdown, *lost;
    pp_gauge *series;
} sm_conn;

static int sm_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    sm_conn *c = (sm_conn *)self;
    if (atomic_load(&c->stopping))
        return pp_fail(st, PP_UNAVAILABLE, "%s: shutting down", c->component);
    size_t lost = 0;
    pp_counter_add(c->overflow, sm_agg_add(c->agg, b->traces, &lost));
    if (lost) {
        pp_counter_add(c->lost, lost);
        pp_log_error(c->component, "out of memory: spans not counted into span metrics", NULL);
    }
    return 0;
}

/* Emits the series once. Returns 0 when delivered (or nothing to send),
 * else the number of points not taken. */
static size_t flush(void *arg) {
    sm_conn *c = arg;
    size_t left = 0;
    pthread_mutex_lock(&c->flush_lock);
    int64_t now = pp_agg_now_ns();
    bool oom = false;
    pp_batch *b = sm_agg_snapshot(c->agg, now, &oom);
    if (oom) pp_log_error(c->component, "out of memory building metrics; retrying next flush", NULL);
    if (b && c->next) {
        pp_status st = {0};
        if (pp_consume(c->next, b, &st) == 0) {
            sm_agg_commit(c->agg, now);
        } else {
            left = b->items;
            pp_counter_add(c->refused, b->items);
            pp_log_warn(c->component, "metrics refused downstream; kept for the next flush",
                        "reason", st.msg, NULL);
        }
    }
    if (b) pp_batch_unref(b);
    pthread_mutex_unlock(&c->flush_lock);
    return left;
}

static void on_flush(void *arg) { flush(arg); }

static int64_t series_fn(void *arg) { return (int64_t)sm_agg_series_count(arg); }

static char *metric_name(const char *ns, const char *name) {
    size_t n = strlen(ns) + strlen(name) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", ns, ns[0] ? "." : "", name);
    return s;
}

static void sm_destroy(void *inst);

static void *sm_create(const pp_create_params *cp, pp_status *st) {
    const sm_config *cfg = cp->config;
    sm_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    c->consumer.consume = sm_consume;
    c->cfg = cfg;
    c->next = cp->next[PP_METRICS];
    pthread_mutex_init(&c->flush_lock, NULL);
    snprintf(c->component, sizeof(c->component), "connector/%s", cp->id);
    size_t nbounds = 0;
    sm_dims_parse(cfg->dimensions, "", NULL, &c->dims, &c->ndims); /* validated already */
    c->calls_name = metric_name(cfg->namespace_, "calls");
    c->duration_name = metric_name(cfg->namespace_, "duration");
    if (sm_bounds(cfg, &c->bounds, &nbounds) != 0 || !c->calls_name || !c->duration_name) {
        sm_destroy(c);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    bool seconds = strcmp(cfg->histogram.unit, "s") == 0;
    sm_agg_options o = {
        .dims = c->dims,
        .ndims = c->ndims,
        .histogram = !cfg->histogram.disable,
        .bounds = c->bounds,
        .nbounds = nbounds,
        .exponential = cfg->histogram.exponential_present,
        .max_size = (uint32_t)cfg->histogram.exponential.max_size,
        .ns_per_unit = seconds ? 1e9 : 1e6,
        .delta = strcmp(cfg->temporality, "AGGREGATION_TEMPORALITY_DELTA") == 0,
        .cap = cfg->cardinality_limit > 0 ? (size_t)cfg->cardinality_limit : SM_DEFAULT_SERIES_CAP,
        .expiration_ns = cfg->expiration_ns,
        .max_exemplars = cfg->exemplars.enabled ? (size_t)cfg->exemplars.max_per_data_point : 0,
        .calls_name = c->calls_name,
        .duration_name = c->duration_name,
        .unit = seconds ? "s" : "ms",
    };
    static const char *const defaults[SM_DIM_DEFAULTS] = {"service.name", "span.name", "span.kind",
                                                          "status.code"};
    for (size_t i = 0; i < cfg->exclude_dimensions.count; i++)
        for (int k = 0; k < SM_DIM_DEFAULTS; k++)
            if (strcmp(cfg->exclude_dimensions.items[i], defaults[k]) == 0) o.exclude[k] = true;
    if (!(c->agg = sm_agg_new(&o))) {
        sm_destroy(c);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    pp_metrics *m = cp->host->metrics;
    const char *labels[] = {"connector", cp->id, NULL};
    c->overflow = pp_counter_get(m, "pipit_spanmetrics_overflow_spans",
                                 "Spans counted into the otel.metric.overflow series because the "
                                 "series cap was reached.",
                                 labels);
    c->refused = pp_counter_get(m, "pipit_spanmetrics_flush_refused_points",
                                "Metric points a flush could not hand on (kept for the next flush).",
                                labels);
    c->series = pp_gauge_get_fn(m, "pipit_spanmetrics_series", "Series held by the connector.",
                                labels, series_fn, c->agg);
    c->dropped_shutdown = pp_drops_counter(m, c->component, PP_METRICS, "shutdown_deadline");
    c->lost = pp_drops_counter(m, c->component, PP_TRACES, "out_of_memory");
    return c;
}

static int sm_start(void *inst, pp_host *host, pp_status *st) {
    sm_conn *c = inst;
    if (pp_periodic_start(&c->timer, host->loop, c->cfg->flush_interval_ns, on_flush, c) != 0)
        return pp_fail(st, PP_INTERNAL, "%s: cannot create timer", c->component);
    return 0;
}

static pp_consumer *sm_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((sm_conn *)inst)->consumer;
}

static void sm_shutdown(void *inst, pp_host *host) {
    sm_conn *c = inst;
    atomic_store(&c->stopping, true);
    pp_periodic_stop(&c->timer);
    pp_flush_until_deadline(flush, c, host->shutdown_deadline_ns, c->component, c->dropped_shutdown);
}

static void sm_destroy(void *inst) {
    sm_conn *c = inst;
    pp_gauge_clear_fn(c->series);
    sm_agg_free(c->agg);
    sm_dims_free(c->dims, c->ndims);
    free(c->bounds);
    free(c->calls_name);
    free(c->duration_name);
    pthread_mutex_destroy(&c->flush_lock);
    free(c);
}

const pp_factory pp_spanmetrics_connector = {
    .kind = PP_CONNECTOR,
    .type = "spanmetrics",
    .alias = "span_metrics",
    .signals = PP_SIG_BIT(PP_TRACES),
    .out_signals = PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(sm_config),
    .schema = pp_sm_schema,
    .config_defaults = pp_sm_defaults,
    .config_validate = pp_sm_validate,
    .create = sm_create,
    .start = sm_start,
    .consumer = sm_consumer,
    .shutdown = sm_shutdown,
    .destroy = sm_destroy,
};
