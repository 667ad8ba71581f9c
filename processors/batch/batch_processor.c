/* batch_processor.c -- the `batch` processor.
 *
 * Collects batches until send_batch_size items are pending or `timeout` has
 * passed since the first of them arrived, then sends them on as batches of at
 * most send_batch_max_size items and at most send_batch_max_bytes bytes of
 * protobuf encoding (pipit extension; a single item larger than that goes
 * alone and is counted in pipit_processor_oversize_items). Merging is by
 * reference (batch_split.h).
 *
 * No loss: when the next component refuses (its queue is full), the merged
 * batch stays here and is retried on the next tick; new data is refused with
 * UNAVAILABLE only once max_pending items are held, so the refusal reaches the
 * client, which retries. At shutdown it keeps retrying until the deadline and
 * counts whatever is still held as dropped (reason shutdown_deadline). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "batch_split.h"
#include "component.h"
#include "drops.h"
#include "log.h"
#include "tick.h"

typedef struct batch_config {
    int64_t timeout_ns;
    int64_t send_batch_size;
    int64_t send_batch_max_size;
    int64_t send_batch_max_bytes; /* pipit extension */
} batch_config;

#define MIN_MAX_BYTES 1024

static const pp_cfg_field batch_schema[] = {
    {.key = "timeout", .type = PP_CFG_DURATION, .offset = offsetof(batch_config, timeout_ns),
     .min = 1, .max = INT64_MAX, .help = "send a batch at the latest this long after its first item"},
    {.key = "send_batch_size", .type = PP_CFG_INT, .offset = offsetof(batch_config, send_batch_size),
     .min = 0, .max = INT32_MAX, .help = "send when this many spans or points are pending"},
    {.key = "send_batch_max_size", .type = PP_CFG_INT,
     .offset = offsetof(batch_config, send_batch_max_size), .min = 0, .max = INT32_MAX,
     .help = "upper bound on a batch's items (0: none); larger input is split"},
    {.key = "send_batch_max_bytes", .type = PP_CFG_INT,
     .offset = offsetof(batch_config, send_batch_max_bytes), .min = 0, .max = INT64_MAX,
     .help = "pipit extension: upper bound on a batch's protobuf-encoded size (0: none; "
             "default 3 MiB, under gRPC's 4 MiB)"},
    {.key = "metadata_keys", .type = PP_CFG_IGNORED},
    {.key = "metadata_cardinality_limit", .type = PP_CFG_IGNORED},
    {0},
};

static void batch_defaults(void *cfg) {
    batch_config *c = cfg;
    c->timeout_ns = 200 * 1000000LL;
    c->send_batch_size = 8192;
    c->send_batch_max_size = 0;
    c->send_batch_max_bytes = 3 * 1024 * 1024;
}

static size_t batch_validate(const void *cfg, const char *path, pp_diag *d) {
    const batch_config *c = cfg;
    if (c->send_batch_max_size > 0 && c->send_batch_max_size < c->send_batch_size) {
        pp_diag_error(d, path, 0,
                      "send_batch_max_size (%lld) must be 0 or at least send_batch_size (%lld)",
                      (long long)c->send_batch_max_size, (long long)c->send_batch_size);
        return 1;
    }
    if (c->send_batch_max_bytes > 0 && c->send_batch_max_bytes < MIN_MAX_BYTES) {
        pp_diag_error(d, path, 0, "send_batch_max_bytes (%lld) must be 0 or at least %d",
                      (long long)c->send_batch_max_bytes, MIN_MAX_BYTES);
        return 1;
    }
    return 0;
}

typedef struct list {
    pp_batch **items;
    size_t count, cap;
    size_t nitems; /* spans or points in all of them */
} list;

static int list_push(list *l, pp_batch *b) {
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        pp_batch **n = realloc(l->items, ncap * sizeof(*n));
        if (!n) return -1;
        l->items = n;
        l->cap = ncap;
    }
    l->items[l->count++] = b;
    l->nitems += b->items;
    return 0;
}

static void list_clear(list *l) {
    for (size_t i = 0; i < l->count; i++) pp_batch_unref(l->items[i]);
    l->count = l->nitems = 0;
}

typedef struct batch_proc {
    pp_consumer consumer;
    const batch_config *cfg;
    pp_consumer *next;
    pp_signal signal;
    char component[160];
    size_t max_pending; /* items held (pending + outbox) before refusing input */

    pthread_mutex_t lock; /* pending, first_ns, stopping */
    list pending;         /* input batches not yet merged */
    int64_t first_ns;     /* arrival of the oldest pending item */
    bool stopping;

    pthread_mutex_t send_lock; /* one sender at a time keeps batches in order */
    list outbox;               /* merged batches the next component refused */
    atomic_size_t outbox_items; /* outbox.nitems, readable without send_lock */

    pp_tick tick;

    pp_counter *size_trigger, *timeout_trigger, *refused, *dropped_shutdown, *oversize;
    pp_histogram *send_size;
} batch_proc;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sends the outbox in order; stops at the first refusal. Caller holds send_lock. */
static void drain_outbox(batch_proc *p) {
    size_t sent = 0;
    pp_status st;
    while (sent < p->outbox.count) {
        pp_batch *b = p->outbox.items[sent];
        pp_status_clear(&st);
        if (pp_consume(p->next, b, &st) != 0) break;
        pp_histogram_observe(p->send_size, (double)b->items);
        p->outbox.nitems -= b->items;
        pp_batch_unref(b);
        sent++;
    }
    if (sent > 0) {
        memmove(p->outbox.items, p->outbox.items + sent,
                (p->outbox.count - sent) * sizeof(pp_batch *));
        p->outbox.count -= sent;
    }
    atomic_store_explicit(&p->outbox_items, p->outbox.nitems, memory_order_relaxed);
}

static int to_outbox(pp_batch *out, void *arg) {
    batch_proc *p = arg;
    if (list_push(&p->outbox, out) != 0) {
        pp_batch_unref(out);
        return -1;
    }
    return 0;
}

/* Moves pending into merged batches in the outbox and sends what it can. */
static void flush(batch_proc *p, pp_counter *trigger) {
    pthread_mutex_lock(&p->send_lock);
    pthread_mutex_lock(&p->lock);
    list take = p->pending;
    memset(&p->pending, 0, sizeof(p->pending));
    p->first_ns = 0;
    pthread_mutex_unlock(&p->lock);

    if (take.count > 0) {
        if (trigger) pp_counter_add(trigger, 1);
        size_t max = (size_t)p->cfg->send_batch_max_size, oversize = 0;
        int rc = pp_batch_regroup_bounded(take.items, take.count, max,
                                          (size_t)p->cfg->send_batch_max_bytes, &oversize,
                                          to_outbox, p);
        if (oversize > 0) pp_counter_add(p->oversize, oversize);
        if (rc != 0) {
            /* Out of memory while merging: keep the inputs themselves. */
            pp_log_error(p->component, "out of memory merging batches; sending them unmerged", NULL);
            for (size_t i = 0; i < take.count; i++) list_push(&p->outbox, pp_batch_ref(take.items[i]));
        }
        list_clear(&take);
        free(take.items);
    }
    drain_outbox(p);
    pthread_mutex_unlock(&p->send_lock);
}

static int batch_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    batch_proc *p = (batch_proc *)self;
    if (b->items == 0) return 0;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return pp_fail(st, PP_UNAVAILABLE, "%s: shutting down", p->component);
    }
    /* A stale outbox count only shifts when the refusal starts by one batch. */
    size_t held = atomic_load_explicit(&p->outbox_items, memory_order_relaxed);
    if (p->pending.nitems + held >= p->max_pending) {
        pthread_mutex_unlock(&p->lock);
        pp_counter_add(p->refused, b->items);
        pp_fail(st, PP_UNAVAILABLE, "%s: %zu items waiting for the next component", p->component,
                p->max_pending);
        st->retry_after_ms = (uint32_t)(p->cfg->timeout_ns / 1000000) + 1;
        return -1;
    }
    if (list_push(&p->pending, pp_batch_ref(b)) != 0) {
        pthread_mutex_unlock(&p->lock);
        pp_batch_unref(b);
        return pp_fail(st, PP_UNAVAILABLE, "%s: out of memory", p->component);
    }
    if (p->first_ns == 0) p->first_ns = now_ns();
    bool full = p->pending.nitems >= (size_t)p->cfg->send_batch_size;
    pthread_mutex_unlock(&p->lock);
    if (full) flush(p, p->size_trigger);
    return 0;
}

/* Ticks four times per timeout: a batch waits at most 1.25 x timeout. */
static void on_tick(uv_timer_t *t) {
    batch_proc *p = t->data;
    pthread_mutex_lock(&p->lock);
    bool due = p->pending.count > 0 && now_ns() - p->first_ns >= p->cfg->timeout_ns;
    pthread_mutex_unlock(&p->lock);
    if (due) flush(p, p->timeout_trigger);
    else if (atomic_load_explicit(&p->outbox_items, memory_order_relaxed) > 0)
        flush(p, NULL); /* retry what was refused */
}

static void *batch_create(const pp_create_params *cp, pp_status *st) {
    batch_proc *p = calloc(1, sizeof(*p));
    if (!p) {
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    p->consumer.consume = batch_consume;
    p->cfg = cp->config;
    p->signal = cp->signal;
    p->next = cp->next[cp->signal];
    /* Merging encoded requests is concatenating them (batch_split.h). */
    p->consumer.takes_encoded = p->next && p->next->takes_encoded;
    snprintf(p->component, sizeof(p->component), "processor/%s", cp->id);
    size_t unit = p->cfg->send_batch_size > 0 ? (size_t)p->cfg->send_batch_size : 8192;
    if (p->cfg->send_batch_max_size > 0 && (size_t)p->cfg->send_batch_max_size > unit)
        unit = (size_t)p->cfg->send_batch_max_size;
    p->max_pending = unit * 16;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->send_lock, NULL);
    pp_metrics *m = cp->host->metrics;
    const char *labels[] = {"processor", cp->id, NULL};
    p->size_trigger = pp_counter_get(m, "otelcol_processor_batch_batch_size_trigger_send",
                                     "Number of times the batch was sent due to a size trigger.",
                                     labels);
    p->timeout_trigger = pp_counter_get(m, "otelcol_processor_batch_timeout_trigger_send",
                                        "Number of times the batch was sent due to a timeout trigger.",
                                        labels);
    static const double bounds[] = {10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000,
                                    5000, 6000, 7000, 8000, 9000, 10000, 20000, 30000, 50000,
                                    100000};
    p->send_size = pp_histogram_get(m, "otelcol_processor_batch_batch_send_size",
                                    "Number of units in the batch", bounds,
                                    sizeof(bounds) / sizeof(bounds[0]), labels);
    const char *rl[] = {"processor", cp->id, "signal", pp_signal_name(cp->signal), NULL};
    p->refused = pp_counter_get(m, "pipit_processor_refused_items",
                                "Items refused (the client was asked to retry) because the next "
                                "component was not taking data.",
                                rl);
    p->oversize = pp_counter_get(m, "pipit_processor_oversize_items",
                                 "Items sent alone because each is larger than "
                                 "send_batch_max_bytes.",
                                 rl);
    p->dropped_shutdown = pp_drops_counter(m, p->component, cp->signal, "shutdown_deadline");
    return p;
}

static int batch_start(void *inst, pp_host *host, pp_status *st) {
    batch_proc *p = inst;
    uint64_t period = (uint64_t)(p->cfg->timeout_ns / 4000000);
    return pp_tick_start(&p->tick, host->loop, period, on_tick, p, p->component, st);
}

static pp_consumer *batch_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((batch_proc *)inst)->consumer;
}

static void batch_shutdown(void *inst, pp_host *host) {
    batch_proc *p = inst;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_mutex_unlock(&p->lock);
    pp_tick_stop(&p->tick);
    flush(p, NULL);
    /* The next component may be full for a moment: retry until the deadline. */
    struct timespec pause = {0, 5 * 1000000L};
    while (atomic_load_explicit(&p->outbox_items, memory_order_relaxed) > 0 &&
           now_ns() < host->shutdown_deadline_ns) {
        nanosleep(&pause, NULL);
        flush(p, NULL);
    }
    pthread_mutex_lock(&p->send_lock);
    if (p->outbox.count > 0) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", p->outbox.nitems);
        pp_log_error(p->component, "shutdown deadline passed; dropping what the next component "
                     "did not take", "items", n, NULL);
        pp_counter_add(p->dropped_shutdown, p->outbox.nitems);
        list_clear(&p->outbox);
        atomic_store_explicit(&p->outbox_items, 0, memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->send_lock);
}

static void batch_destroy(void *inst) {
    batch_proc *p = inst;
    list_clear(&p->pending);
    list_clear(&p->outbox);
    free(p->pending.items);
    free(p->outbox.items);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->send_lock);
    free(p);
}

const pp_factory pp_batch_processor = {
    .kind = PP_PROCESSOR,
    .type = "batch",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(batch_config),
    .schema = batch_schema,
    .config_defaults = batch_defaults,
    .config_validate = batch_validate,
    .create = batch_create,
    .start = batch_start,
    .consumer = batch_consumer,
    .shutdown = batch_shutdown,
    .destroy = batch_destroy,
};
