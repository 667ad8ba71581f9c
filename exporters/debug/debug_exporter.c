/* debug_exporter.c -- the `debug` exporter: shows what arrives.
 *
 * verbosity basic logs one line per batch with its counts; normal adds the
 * names; detailed also writes every span or data point to stdout (a human
 * reads it; the JSON log stream on stderr stays machine-readable).
 * sampling_initial / sampling_thereafter thin the log lines per second as in
 * the Collector; the counters always count everything. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "component.h"
#include "debug_format.h"
#include "log.h"

typedef struct debug_config {
    char *verbosity;
    int64_t sampling_initial;
    int64_t sampling_thereafter;
    bool use_internal_logger;
} debug_config;

static const char *const verbosities[] = {"basic", "normal", "detailed", NULL};

static const pp_cfg_field debug_schema[] = {
    {.key = "verbosity", .type = PP_CFG_ENUM, .offset = offsetof(debug_config, verbosity),
     .choices = verbosities, .help = "basic (counts), normal, or detailed (every item)"},
    {.key = "sampling_initial", .type = PP_CFG_INT,
     .offset = offsetof(debug_config, sampling_initial), .min = 1, .max = INT32_MAX,
     .help = "log lines per second before sampling starts"},
    {.key = "sampling_thereafter", .type = PP_CFG_INT,
     .offset = offsetof(debug_config, sampling_thereafter), .min = 1, .max = INT32_MAX,
     .help = "then log one line in this many"},
    {.key = "use_internal_logger", .type = PP_CFG_BOOL,
     .offset = offsetof(debug_config, use_internal_logger),
     .help = "log summaries through pipit's logger (false: write them to stdout)"},
    {0},
};

static void debug_defaults(void *cfg) {
    debug_config *c = cfg;
    c->verbosity = strdup("basic");
    c->sampling_initial = 2;
    c->sampling_thereafter = 1;
    c->use_internal_logger = true;
}

typedef struct debug_exporter {
    pp_consumer consumer;
    const debug_config *cfg;
    char *id;
    bool detailed;
    pthread_mutex_t lock; /* serializes output and the sampling window */
    time_t window;
    int64_t in_window;
    pp_counter *sent[PP_SIGNAL_COUNT];
    pp_counter *failed[PP_SIGNAL_COUNT];
} debug_exporter;

/* Collector sampling: the first `initial` lines each second, then every `thereafter`-th. */
static bool sample(debug_exporter *d) {
    time_t now = time(NULL);
    if (now != d->window) {
        d->window = now;
        d->in_window = 0;
    }
    int64_t n = ++d->in_window;
    if (n <= d->cfg->sampling_initial) return true;
    return (n - d->cfg->sampling_initial) % d->cfg->sampling_thereafter == 0;
}

static int debug_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    (void)st;
    debug_exporter *d = (debug_exporter *)self;
    pp_counter_add(d->sent[b->signal], b->items);
    pthread_mutex_lock(&d->lock);
    if (sample(d)) {
        size_t nres = pp_batch_resources(b);
        char resources[32], items[32];
        snprintf(resources, sizeof(resources), "%zu", nres);
        snprintf(items, sizeof(items), "%zu", b->items);
        const char *what = b->signal == PP_TRACES ? "spans" : "data points";
        if (d->cfg->use_internal_logger)
            pp_log_info(d->id, b->signal == PP_TRACES ? "Traces" : "Metrics", "resources",
                        resources, what, items, NULL);
        else
            printf("%s: %s resources, %s %s\n", pp_signal_name(b->signal), resources, items, what);
        if (d->detailed) {
            pp_debug_write_detailed(stdout, b);
            fflush(stdout);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return 0;
}

static void *debug_create(const pp_create_params *p, pp_status *st) {
    debug_exporter *d = calloc(1, sizeof(*d));
    if (!d) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    d->consumer.consume = debug_consume;
    d->cfg = p->config;
    d->detailed = strcmp(d->cfg->verbosity, "detailed") == 0;
    d->consumer.takes_encoded = !d->detailed; /* counts need no decoding */
    size_t n = strlen(p->id) + sizeof("exporter/");
    d->id = malloc(n);
    if (d->id) snprintf(d->id, n, "exporter/%s", p->id);
    pthread_mutex_init(&d->lock, NULL);
    const char *labels[] = {"exporter", p->id, NULL};
    d->sent[PP_TRACES] = pp_counter_get(p->host->metrics, "otelcol_exporter_sent_spans",
                                        "Number of spans successfully sent to destination.", labels);
    d->sent[PP_METRICS] =
        pp_counter_get(p->host->metrics, "otelcol_exporter_sent_metric_points",
                       "Number of metric points successfully sent to destination.", labels);
    d->failed[PP_TRACES] =
        pp_counter_get(p->host->metrics, "otelcol_exporter_send_failed_spans",
                       "Number of spans in failed attempts to send to destination.", labels);
    d->failed[PP_METRICS] =
        pp_counter_get(p->host->metrics, "otelcol_exporter_send_failed_metric_points",
                       "Number of metric points in failed attempts to send to destination.", labels);
    if (!d->id || !d->sent[PP_TRACES] || !d->sent[PP_METRICS]) {
        pthread_mutex_destroy(&d->lock);
        free(d->id);
        free(d);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    return d;
}

static pp_consumer *debug_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((debug_exporter *)inst)->consumer;
}

static void debug_destroy(void *inst) {
    debug_exporter *d = inst;
    pthread_mutex_destroy(&d->lock);
    free(d->id);
    free(d);
}

const pp_factory pp_debug_exporter = {
    .kind = PP_EXPORTER,
    .type = "debug",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(debug_config),
    .schema = debug_schema,
    .config_defaults = debug_defaults,
    .create = debug_create,
    .consumer = debug_consumer,
    .destroy = debug_destroy,
};
