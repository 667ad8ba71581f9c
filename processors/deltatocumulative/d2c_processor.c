/* d2c_processor.c -- the `deltatocumulative` processor.
 *
 * Turns delta sums and histograms into cumulative ones with the reusable
 * state in agent/aggregate/delta2cum.h (semantics and limits documented
 * there). Input batches are never changed: a batch with delta metrics is
 * replaced by a new one that borrows from it.
 *
 * A refusal by the next component travels back to the client. The refused
 * increments are already in the running totals, so the client's retry is
 * recognised as a duplicate (counted as out_of_order) and the stream's next
 * point carries the total: nothing is counted twice or lost from the totals. */
#include <stdio.h>
#include <stdlib.h>

#include "aggregate/delta2cum.h"
#include "aggregate/periodic.h"
#include "component.h"
#include "drops.h"
#include "log.h"

typedef struct d2c_config {
    int64_t max_stale_ns;
    int64_t max_streams;
} d2c_config;

static const pp_cfg_field d2c_schema[] = {
    {.key = "max_stale", .type = PP_CFG_DURATION, .offset = offsetof(d2c_config, max_stale_ns),
     .min = 0, .max = INT64_MAX, .help = "forget a stream not updated for this long (0: never)"},
    {.key = "max_streams", .type = PP_CFG_INT, .offset = offsetof(d2c_config, max_streams),
     .min = 0, .max = INT64_MAX,
     .help = "streams tracked at most (0: no limit); points of further streams pass on as delta, counted"},
    {0},
};

static void d2c_defaults(void *cfg) {
    d2c_config *c = cfg;
    c->max_stale_ns = 5LL * 60 * 1000000000LL;
    c->max_streams = 100000;
}

typedef struct d2c_proc {
    pp_consumer consumer;
    const d2c_config *cfg;
    pp_consumer *next;
    char component[160];
    pp_d2c *state;
    pp_periodic timer;
    pp_counter *out_of_order, *limited, *resets;
    pp_gauge *tracked;
} d2c_proc;

static int d2c_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    d2c_proc *p = (d2c_proc *)self;
    pp_d2c_stats stats = {0};
    pp_batch *out = NULL;
    if (pp_d2c_convert(p->state, b, &out, &stats) != 0)
        return pp_fail(st, PP_UNAVAILABLE, "%s: out of memory", p->component);
    pp_counter_add(p->out_of_order, stats.out_of_order);
    pp_counter_add(p->limited, stats.limited);
    pp_counter_add(p->resets, stats.resets);
    if (stats.limited)
        pp_log_debug(p->component, "max_streams reached; passing points on as delta", NULL);
    int rc = out->items ? pp_consume(p->next, out, st) : 0;
    pp_batch_unref(out);
    return rc;
}

static int64_t tracked_fn(void *arg) { return (int64_t)pp_d2c_stream_count(arg); }

static void *d2c_create(const pp_create_params *cp, pp_status *st) {
    d2c_proc *p = calloc(1, sizeof(*p));
    const d2c_config *c = cp->config;
    pp_d2c_options o = {.max_stale_ns = c->max_stale_ns, .max_streams = (size_t)c->max_streams};
    if (!p || !(p->state = pp_d2c_new(&o))) {
        free(p);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    p->consumer.consume = d2c_consume;
    p->cfg = c;
    p->next = cp->next[cp->signal];
    snprintf(p->component, sizeof(p->component), "processor/%s", cp->id);
    pp_metrics *m = cp->host->metrics;
    const char *labels[] = {"processor", cp->id, NULL};
    p->out_of_order = pp_drops_counter(m, p->component, PP_METRICS, "out_of_order");
    p->limited = pp_counter_get(m, "pipit_deltatocumulative_streams_limited",
                                "Delta points of new streams beyond max_streams, passed on unchanged.",
                                labels);
    p->resets = pp_counter_get(m, "pipit_deltatocumulative_stream_resets",
                               "Streams restarted because histogram bounds or zero threshold changed.",
                               labels);
    p->tracked = pp_gauge_get_fn(m, "otelcol_deltatocumulative_streams_tracked",
                                 "Number of streams tracked.", labels, tracked_fn, p->state);
    pp_gauge_set(pp_gauge_get(m, "otelcol_deltatocumulative_streams_limit",
                              "Upper limit of tracked streams (0: none).", labels),
                 c->max_streams);
    return p;
}

static void on_expire(void *arg) { pp_d2c_expire(((d2c_proc *)arg)->state); }

static int d2c_start(void *inst, pp_host *host, pp_status *st) {
    d2c_proc *p = inst;
    if (p->cfg->max_stale_ns <= 0) return 0;
    /* Shards without traffic are swept here; busy ones also sweep themselves. */
    int64_t period = p->cfg->max_stale_ns / 2 > 1000000000LL ? p->cfg->max_stale_ns / 2 : 1000000000LL;
    if (pp_periodic_start(&p->timer, host->loop, period, on_expire, p) != 0)
        return pp_fail(st, PP_INTERNAL, "%s: cannot create timer", p->component);
    return 0;
}

static pp_consumer *d2c_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((d2c_proc *)inst)->consumer;
}

static void d2c_shutdown(void *inst, pp_host *host) {
    (void)host;
    pp_periodic_stop(&((d2c_proc *)inst)->timer);
}

static void d2c_destroy(void *inst) {
    d2c_proc *p = inst;
    pp_gauge_clear_fn(p->tracked);
    pp_d2c_free(p->state);
    free(p);
}

const pp_factory pp_deltatocumulative_processor = {
    .kind = PP_PROCESSOR,
    .type = "deltatocumulative",
    .signals = PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(d2c_config),
    .schema = d2c_schema,
    .config_defaults = d2c_defaults,
    .create = d2c_create,
    .start = d2c_start,
    .consumer = d2c_consumer,
    .shutdown = d2c_shutdown,
    .destroy = d2c_destroy,
};
