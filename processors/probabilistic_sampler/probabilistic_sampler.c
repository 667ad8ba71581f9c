/* probabilistic_sampler.c -- the `probabilistic_sampler` processor (head
 * sampling of spans, stateless).
 *
 * Each span is decided on its own (ps_decide.h); kept spans go on in a new
 * batch that points at the input's data (batch_select.h), with a shallow copy
 * of a span wherever its tracestate changes, so a shared input is never
 * modified. Dropped spans are sampling, not loss: they are counted in the
 * decision counter, not in pipit_dropped_items. Metrics pipelines: the
 * Collector's sampler takes no metrics; pipit passes them through unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_select.h"
#include "component.h"
#include "ps_decide.h"

typedef struct ps_config {
    double sampling_percentage;
    int64_t hash_seed;
    char *mode;
    bool fail_closed;
    int64_t sampling_precision;
} ps_config;

static const char *const ps_modes[] = {"hash_seed", "proportional", "equalizing", NULL};

static const pp_cfg_field ps_schema[] = {
    {.key = "sampling_percentage", .type = PP_CFG_FLOAT,
     .offset = offsetof(ps_config, sampling_percentage),
     .help = "percentage of traces kept (0 keeps none, 100 or more keeps all)"},
    {.key = "hash_seed", .type = PP_CFG_INT, .offset = offsetof(ps_config, hash_seed), .min = 0,
     .max = UINT32_MAX, .help = "seed of the trace id hash (hash_seed mode); same on every collector of a tier"},
    {.key = "mode", .type = PP_CFG_ENUM, .offset = offsetof(ps_config, mode), .choices = ps_modes,
     .help = "hash_seed (default), proportional or equalizing"},
    {.key = "fail_closed", .type = PP_CFG_BOOL, .offset = offsetof(ps_config, fail_closed),
     .help = "drop spans whose randomness or tracestate is unusable"},
    {.key = "sampling_precision", .type = PP_CFG_INT,
     .offset = offsetof(ps_config, sampling_precision), .min = 1, .max = 14,
     .help = "hex digits of the th written into tracestate"},
    {.key = "attribute_source", .type = PP_CFG_IGNORED},
    {.key = "from_attribute", .type = PP_CFG_IGNORED},
    {.key = "sampling_priority", .type = PP_CFG_IGNORED},
    {0},
};

static void ps_defaults(void *cfg) {
    ps_config *c = cfg;
    c->fail_closed = true;
    c->sampling_precision = 4;
    c->mode = strdup("hash_seed");
}

static size_t ps_validate(const void *cfg, const char *path, pp_diag *d) {
    const ps_config *c = cfg;
    if (c->sampling_percentage < 0) {
        pp_diag_error(d, path, 0, "sampling_percentage: must not be negative (got %g)",
                      c->sampling_percentage);
        return 1;
    }
    /* As the Collector: a non-zero rate below 2^-56 cannot be expressed. */
    if (c->sampling_percentage > 0 && c->sampling_percentage / 100.0 < 0x1p-56) {
        pp_diag_error(d, path, 0, "sampling_percentage: %g is too small to express",
                      c->sampling_percentage);
        return 1;
    }
    return 0;
}

typedef struct ps_proc {
    pp_consumer consumer;
    pp_consumer *next;
    pp_signal signal;
    ps_sampler sampler;
    char component[160];
    pp_counter *traces_sampled[PS_POL_COUNT][2]; /* deprecated Collector name */
    pp_counter *spans_processed[PS_POL_COUNT][2];
} ps_proc;

typedef struct decide_ctx {
    const ps_sampler *sampler;
    uint64_t counts[PS_POL_COUNT][2];
} decide_ctx;

static pp_span *decide_span(pp_span *sp, pp_arena *out, void *arg) {
    decide_ctx *dc = arg;
    ps_result r;
    ps_decide_span(dc->sampler, sp, &r);
    dc->counts[r.policy][r.sampled]++;
    if (!r.sampled) return NULL;
    if (!r.new_tracestate) return sp;
    pp_span *copy = pp_arena_alloc(out, sizeof(*copy));
    char *ts = copy ? pp_arena_strdup(out, r.tracestate) : NULL;
    if (!ts) return sp; /* out of memory: keep the span, without the th */
    *copy = *sp;
    copy->trace_state = ts;
    return copy;
}

static int ps_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    ps_proc *p = (ps_proc *)self;
    if (b->signal != PP_TRACES) return pp_consume(p->next, b, st);
    decide_ctx dc = {.sampler = &p->sampler};
    pp_batch *out;
    if (pp_batch_map_spans(b, decide_span, &dc, &out) != 0)
        return pp_fail(st, PP_UNAVAILABLE, "%s: out of memory", p->component);
    for (int i = 0; i < PS_POL_COUNT; i++)
        for (int s = 0; s < 2; s++) {
            pp_counter_add(p->traces_sampled[i][s], dc.counts[i][s]);
            pp_counter_add(p->spans_processed[i][s], dc.counts[i][s]);
        }
    if (!out) return 0; /* nothing kept: sampling, not a failure */
    int rc = pp_consume(p->next, out, st);
    pp_batch_unref(out);
    return rc;
}

static ps_mode mode_of(const char *s) {
    if (strcmp(s, "proportional") == 0) return PS_PROPORTIONAL;
    if (strcmp(s, "equalizing") == 0) return PS_EQUALIZING;
    return PS_HASH_SEED;
}

static void *ps_create(const pp_create_params *cp, pp_status *st) {
    const ps_config *c = cp->config;
    ps_proc *p = calloc(1, sizeof(*p));
    if (!p) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    p->consumer.consume = ps_consume;
    p->next = cp->next[cp->signal];
    p->signal = cp->signal;
    snprintf(p->component, sizeof(p->component), "processor/%s", cp->id);
    ps_sampler_init(&p->sampler, mode_of(c->mode), (float)c->sampling_percentage,
                    (uint32_t)c->hash_seed, (int)c->sampling_precision, c->fail_closed);
    for (int i = 0; i < PS_POL_COUNT; i++)
        for (int s = 0; s < 2; s++) {
            const char *labels[] = {"processor", cp->id, "policy", ps_policy_name((ps_policy)i),
                                    "sampled", s ? "true" : "false", NULL};
            p->traces_sampled[i][s] = pp_counter_get(
                cp->host->metrics, "otelcol_processor_probabilistic_sampler_count_traces_sampled",
                "[DEPRECATED] Count of spans that were sampled or not", labels);
            p->spans_processed[i][s] = pp_counter_get(
                cp->host->metrics, "otelcol_processor_probabilistic_sampler_count_spans_processed",
                "Count of spans that were sampled or not", labels);
        }
    return p;
}

static pp_consumer *ps_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((ps_proc *)inst)->consumer;
}

const pp_factory pp_probabilistic_sampler_processor = {
    .kind = PP_PROCESSOR,
    .type = "probabilistic_sampler",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(ps_config),
    .schema = ps_schema,
    .config_defaults = ps_defaults,
    .config_validate = ps_validate,
    .create = ps_create,
    .consumer = ps_consumer,
    .destroy = free,
};
