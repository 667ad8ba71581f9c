/* exporter.c -- queue, consumer threads, retry, split, breaker, telemetry and
 * shutdown for every network exporter; the design is in exporter.h. */
#include "exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_split.h"
#include "drops.h"
#include "log.h"
#include "storage.h"

enum { R_PERMANENT, R_EXHAUSTED, R_TOO_LARGE, R_SHUTDOWN, R_STORAGE_FULL, R_COUNT };
static const char *const reason_names[R_COUNT] = {"permanent_error", "retries_exhausted",
                                                  "too_large", "shutdown_deadline", "storage_full"};

/* What became of a request handed to deliver(). REFUSED happens only for
 * synchronous sends: the caller is told to retry and keeps the data. HELD
 * only for queued ones: the request waits in the held list. RETURNED only
 * with storage: not delivered yet, it goes back to the queue (nack) where the
 * memory queue would drop it. */
typedef enum fate { DELIVERED, DROPPED, REFUSED, HELD, RETURNED } fate;

/* Where a request handed to deliver() comes from. */
typedef enum mode {
    M_SYNC,   /* the caller's thread (no queue): refuse rather than wait */
    M_QUEUED, /* taken from the storage: may be put aside (held) */
    M_SPLIT,  /* half of a split request, not stored: waits out a hold in place */
} mode;

typedef struct held_req {
    pp_export_request *r;
    int64_t recheck_at; /* CLOCK_MONOTONIC ns: ask ops->hold again from then on */
} held_req;

struct pp_exporter {
    pp_consumer consumer;
    char component[192]; /* "exporter/<id>" */
    pp_host *host;
    const pp_exporter_cfg *cfg;
    const pp_exporter_ops *ops;
    void *ctx;

    pthread_mutex_t lock; /* everything below up to the counters */
    pthread_cond_t cv;    /* queue changed, breaker changed, stopping */
    pp_queue_storage *queue;
    pp_store *store;  /* sending_queue.storage, from start() on; NULL = memory only */
    bool spill;       /* queue is the spill tier (durability spill) */
    pp_breaker breaker;
    bool stopping;
    char last_error[256];
    pthread_t *threads;
    size_t nthreads;
    held_req *held; /* put aside by ops->hold, oldest first; in flight for the storage */
    size_t nheld, held_cap;
    void **pool; /* idle connections for synchronous sends */
    size_t npool, pool_cap;

    _Atomic int64_t abort_at_ns; /* INT64_MAX until the shutdown deadline is known */

    pp_counter *sent[PP_SIGNAL_COUNT], *failed[PP_SIGNAL_COUNT], *enqueue_failed[PP_SIGNAL_COUNT];
    pp_counter *drops[PP_SIGNAL_COUNT][R_COUNT];
    pp_counter *retries;
    pp_gauge *queue_size, *queue_capacity, *circuit, *held_gauge;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits on e->cv until `until` (CLOCK_MONOTONIC ns) at the latest. Caller holds e->lock. */
static void wait_until(pp_exporter *e, int64_t until) {
    struct timespec ts = {.tv_sec = (time_t)(until / 1000000000LL),
                          .tv_nsec = (long)(until % 1000000000LL)};
    pthread_cond_timedwait(&e->cv, &e->lock, &ts);
}

/* Uniform in [0,1) from a per-thread xorshift (jitter needs no crypto). */
static double rand01(void) {
    static _Thread_local uint64_t s;
    if (!s) s = (uint64_t)now_ns() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

static void fmt_u(char *buf, size_t n, uint64_t v) { snprintf(buf, n, "%llu", (unsigned long long)v); }

/* ---- accounting ---- */

static void drop(pp_exporter *e, pp_export_request *r, int reason, const char *why) {
    pp_counter_add(e->failed[r->signal], r->items);
    pp_counter_add(e->drops[r->signal][reason], r->items);
    if (e->ops->dropped) e->ops->dropped(e->ctx, r, reason_names[reason]);
    char items[24], attempts[24];
    fmt_u(items, sizeof(items), r->items);
    fmt_u(attempts, sizeof(attempts), r->attempts);
    pp_log_error(e->component, "dropping data", "reason", reason_names[reason], "signal",
                 pp_signal_name(r->signal), "items", items, "attempts", attempts, "error",
                 why && why[0] ? why : "-", NULL);
}

static void publish_state(pp_exporter *e) {
    /* Caller holds e->lock. */
    pp_gauge_set(e->circuit, (int64_t)e->breaker.state);
    if (!e->host->health) return;
    if (e->breaker.state == PP_BREAKER_CLOSED)
        pp_health_report(e->host->health, e->component, PP_HEALTH_OK, NULL);
    else
        pp_health_report(e->host->health, e->component, PP_HEALTH_RECOVERABLE_ERROR, e->last_error);
}

/* ---- connections ---- */

static void *conn_get(pp_exporter *e) {
    if (!e->ops->conn_new) return NULL;
    pthread_mutex_lock(&e->lock);
    void *c = e->npool > 0 ? e->pool[--e->npool] : NULL;
    pthread_mutex_unlock(&e->lock);
    return c ? c : e->ops->conn_new(e->ctx);
}

static void conn_put(pp_exporter *e, void *c) {
    if (!c) return;
    pthread_mutex_lock(&e->lock);
    if (e->npool == e->pool_cap) {
        size_t ncap = e->pool_cap ? e->pool_cap * 2 : 8;
        void **n = realloc(e->pool, ncap * sizeof(*n));
        if (n) {
            e->pool = n;
            e->pool_cap = ncap;
        }
    }
    bool kept = e->npool < e->pool_cap;
    if (kept) e->pool[e->npool++] = c;
    pthread_mutex_unlock(&e->lock);
    if (!kept) e->ops->conn_free(e->ctx, c);
}

/* ---- delivery of one request: breaker, send, retry, split ---- */

/* Waits for the breaker's permission. false: the deadline passed first, or
 * (sync: a caller's thread must not wait out a cool-down) not permitted now. */
static bool await_permit(pp_exporter *e, bool sync) {
    pthread_mutex_lock(&e->lock);
    for (;;) {
        int64_t now = now_ns(), wait = 0;
        int64_t abort_at = atomic_load(&e->abort_at_ns);
        if (now >= abort_at) break;
        pp_breaker_state before = e->breaker.state;
        if (pp_breaker_permit(&e->breaker, now, &wait)) {
            if (before != e->breaker.state) publish_state(e);
            pthread_mutex_unlock(&e->lock);
            return true;
        }
        if (sync) break;
        int64_t until = now + wait;
        wait_until(e, until < abort_at ? until : abort_at);
    }
    pthread_mutex_unlock(&e->lock);
    return false;
}

/* Sleeps the backoff; false when the shutdown deadline comes first. */
static bool backoff_sleep(pp_exporter *e, int64_t until) {
    pthread_mutex_lock(&e->lock);
    for (;;) {
        int64_t now = now_ns(), abort_at = atomic_load(&e->abort_at_ns);
        if (now >= abort_at) break;
        if (now >= until) {
            pthread_mutex_unlock(&e->lock);
            return true;
        }
        wait_until(e, until < abort_at ? until : abort_at);
    }
    pthread_mutex_unlock(&e->lock);
    return false;
}

static fate deliver(pp_exporter *e, void *conn, pp_export_request *r, mode m, pp_status *st);

/* A half of a split request that could not be delivered yet goes to the
 * queue (storage only); false (counted as dropped) when it cannot. */
static bool store_half(pp_exporter *e, pp_export_request *q) {
    q->next = NULL;
    q->seq = 0;
    pthread_mutex_lock(&e->lock);
    int rc = e->queue->put(e->queue, q);
    pthread_mutex_unlock(&e->lock);
    if (rc != 0) drop(e, q, R_STORAGE_FULL, "storage refused a split request");
    return rc == 0;
}

/* TOO_LARGE: halves r's batch and delivers each half (in order, same shard). */
static fate split(pp_exporter *e, void *conn, pp_export_request *r, mode m, const char *why,
                  pp_status *st) {
    bool sync = m == M_SYNC;
    pp_batch *half[2];
    if (!r->batch || r->items < 2 || pp_batch_halve(r->batch, &half[0], &half[1]) != 0) {
        drop(e, r, R_TOO_LARGE, why);
        if (sync) pp_fail(st, PP_TOO_LARGE, "%s: %s", e->component, why);
        return DROPPED;
    }
    char items[24];
    fmt_u(items, sizeof(items), r->items);
    pp_log_warn(e->component, "request too large for the peer; splitting it in two", "items", items,
                "error", why, NULL);
    fate worst = DELIVERED;
    for (int h = 0; h < 2; h++) {
        pp_status est = {0};
        pp_export_request *list = e->ops->encode(e->ctx, half[h], &est);
        if (!list) {
            /* Only memory can fail here: the whole request encoded before. */
            pp_export_request tmp = {.signal = half[h]->signal, .items = half[h]->items,
                                     .attempts = r->attempts};
            drop(e, &tmp, R_TOO_LARGE, est.msg);
            worst = DROPPED;
        }
        for (pp_export_request *q = list, *n; q; q = n) {
            n = q->next;
            q->shard = r->shard;
            q->attempts = r->attempts;
            fate f = deliver(e, conn, q, sync ? M_SYNC : M_SPLIT, st);
            if (f == RETURNED && store_half(e, q)) {
                f = DELIVERED; /* stored: the queue owns it now */
                q = NULL;
            }
            if (f != DELIVERED && worst == DELIVERED) worst = f;
            pp_export_request_free(q);
        }
        pp_batch_unref(half[h]);
    }
    return worst;
}

/* ops->hold for r (0 when the exporter has none). */
static int64_t hold_for(pp_exporter *e, const pp_export_request *r, bool first) {
    if (!e->ops->hold) return 0;
    pthread_mutex_lock(&e->lock);
    int64_t w = e->ops->hold(e->ctx, r, first);
    pthread_mutex_unlock(&e->lock);
    return w;
}

/* r may not go now (ops->hold or a HOLD answer). Returns what deliver()
 * returns, or DELIVERED to mean "waited in place: send again". */
static fate on_hold(pp_exporter *e, pp_export_request *r, mode m, int64_t wait_ns, const char *why,
                    pp_status *st) {
    r->first_failure_ns = 0; /* the backend answers: a pause is not a failure */
    if (m == M_QUEUED) return HELD;
    if (m == M_SYNC) {
        pp_fail(st, PP_UNAVAILABLE, "%s: %s", e->component, why);
        int64_t ms = wait_ns / 1000000 + 1;
        st->retry_after_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
        return REFUSED;
    }
    if (!backoff_sleep(e, now_ns() + (wait_ns > 0 ? wait_ns : 1000000))) {
        drop(e, r, R_SHUTDOWN, why);
        return DROPPED;
    }
    return DELIVERED;
}

static fate deliver(pp_exporter *e, void *conn, pp_export_request *r, mode m, pp_status *st) {
    const pp_retry_cfg *rc = &e->cfg->retry_on_failure;
    bool sync = m == M_SYNC;
    bool first = m != M_QUEUED; /* next_request() asked first for queued ones */
    for (;;) {
        int64_t wait = hold_for(e, r, first);
        first = false;
        if (wait > 0) {
            fate f = on_hold(e, r, m, wait, "held back: the backend asked to pause", st);
            if (f != DELIVERED) return f;
            continue;
        }
        if (!await_permit(e, sync)) {
            if (sync) {
                pp_fail(st, PP_UNAVAILABLE, "%s: circuit breaker open: %s", e->component,
                        e->last_error);
                return REFUSED;
            }
            if (e->store) return RETURNED;
            drop(e, r, R_SHUTDOWN, "shutdown deadline passed while the circuit breaker was open");
            return DROPPED;
        }
        pp_send_result res = {0};
        e->ops->send(e->ctx, conn, r, &e->abort_at_ns, &res);
        r->attempts++;
        int64_t now = now_ns();
        bool failed = res.outcome == PP_SEND_RETRY;

        pthread_mutex_lock(&e->lock);
        if (failed) snprintf(e->last_error, sizeof(e->last_error), "%s", res.msg);
        if (pp_breaker_record(&e->breaker, now, failed)) {
            publish_state(e);
            pthread_cond_broadcast(&e->cv); /* waiters for the probe's answer */
            if (e->breaker.state == PP_BREAKER_OPEN)
                pp_log_warn(e->component, "circuit breaker open: backend failing", "error",
                            e->last_error, NULL);
            else if (e->breaker.state == PP_BREAKER_CLOSED)
                pp_log_info(e->component, "circuit breaker closed: backend answering", NULL);
            /* Spill: while the backend fails, new and queued requests go to disk. */
            if (e->spill && e->breaker.state != PP_BREAKER_HALF_OPEN)
                pp_spill_set_failing(e->queue, e->breaker.state == PP_BREAKER_OPEN);
        }
        pthread_mutex_unlock(&e->lock);

        switch (res.outcome) {
        case PP_SEND_OK: {
            uint64_t rejected = res.rejected > 0 ? (uint64_t)res.rejected : 0;
            if (rejected > r->items) rejected = r->items;
            pp_counter_add(e->sent[r->signal], r->items - rejected);
            if (rejected > 0 || res.msg[0]) {
                char n[24];
                fmt_u(n, sizeof(n), rejected);
                pp_counter_add(e->failed[r->signal], rejected);
                pp_log_warn(e->component, "partial success: the backend rejected some items",
                            "rejected", n, "signal", pp_signal_name(r->signal), "error", res.msg,
                            NULL);
            }
            return DELIVERED;
        }
        case PP_SEND_PERMANENT:
            drop(e, r, R_PERMANENT, res.msg);
            if (sync) pp_fail(st, PP_INVALID, "%s: %s", e->component, res.msg);
            return DROPPED;
        case PP_SEND_TOO_LARGE: return split(e, conn, r, m, res.msg, st);
        case PP_SEND_HOLD: {
            if (!e->ops->hold) break; /* nothing to say when: an ordinary retry */
            fate f = on_hold(e, r, m, res.retry_after_ns, res.msg, st);
            if (f != DELIVERED) return f;
            continue;
        }
        case PP_SEND_RETRY: break;
        }

        if (r->first_failure_ns == 0) r->first_failure_ns = now;
        int64_t delay = rc->enabled ? pp_backoff_delay(rc, r->attempts, rand01(), res.retry_after_ns) : 0;
        if (!rc->enabled || (rc->max_elapsed_time_ns > 0 &&
                             now + delay - r->first_failure_ns > rc->max_elapsed_time_ns)) {
            if (sync) {
                /* The caller is refused and keeps the data: a failed send, not a drop. */
                pp_counter_add(e->failed[r->signal], r->items);
                pp_fail(st, PP_UNAVAILABLE, "%s: %s", e->component, res.msg);
                if (res.retry_after_ns > 0) st->retry_after_ms = (uint32_t)(res.retry_after_ns / 1000000);
                return REFUSED;
            }
            if (e->store) return RETURNED; /* retry until delivered: back to disk */
            drop(e, r, R_EXHAUSTED, res.msg);
            return DROPPED;
        }
        pp_counter_add(e->retries, 1);
        char ms[24], attempt[24];
        fmt_u(ms, sizeof(ms), (uint64_t)(delay / 1000000));
        fmt_u(attempt, sizeof(attempt), r->attempts);
        pp_log_info(e->component, "export failed; will retry", "error", res.msg, "retry_in_ms", ms,
                    "attempt", attempt, NULL);
        if (!backoff_sleep(e, now + delay)) {
            if (e->store) return RETURNED;
            drop(e, r, R_SHUTDOWN, res.msg);
            return DROPPED;
        }
    }
}

/* ---- held requests (ops->hold); every function here runs under e->lock ---- */

static int held_add(pp_exporter *e, pp_export_request *r, int64_t recheck_at) {
    if (e->nheld == e->held_cap) {
        size_t ncap = e->held_cap ? e->held_cap * 2 : 16;
        held_req *n = realloc(e->held, ncap * sizeof(*n));
        if (!n) return -1;
        e->held = n;
        e->held_cap = ncap;
    }
    e->held[e->nheld++] = (held_req){r, recheck_at};
    pp_gauge_set(e->held_gauge, (int64_t)e->nheld);
    return 0;
}

static pp_export_request *held_take(pp_exporter *e, size_t i) {
    pp_export_request *r = e->held[i].r;
    memmove(&e->held[i], &e->held[i + 1], (e->nheld - i - 1) * sizeof(e->held[0]));
    e->nheld--;
    pp_gauge_set(e->held_gauge, (int64_t)e->nheld);
    return r;
}

/* Back to the storage, oldest at the head again (shutdown). */
static void held_return_all(pp_exporter *e) {
    while (e->nheld > 0) e->queue->nack(e->queue, held_take(e, e->nheld - 1));
}

static void earliest(int64_t *wake_at, int64_t t) {
    if (t < *wake_at) *wake_at = t;
}

/* The request to send next: a held one whose hold is over (they are older),
 * else the storage's next one that hold() lets go; requests hold() stops are
 * put aside on the way. NULL when none, with *wake_at = when to look again
 * (INT64_MAX: when something changes). */
static pp_export_request *next_request(pp_exporter *e, int64_t now, int64_t *wake_at) {
    *wake_at = INT64_MAX;
    for (size_t i = 0; i < e->nheld; i++) {
        held_req *h = &e->held[i];
        if (h->recheck_at > now) {
            earliest(wake_at, h->recheck_at);
            continue;
        }
        int64_t w = e->ops->hold(e->ctx, h->r, false);
        if (w <= 0) return held_take(e, i);
        h->recheck_at = now + w;
        earliest(wake_at, h->recheck_at);
    }
    pp_export_request *r;
    while ((r = e->queue->peek(e->queue)) != NULL) {
        int64_t w = e->ops->hold ? e->ops->hold(e->ctx, r, true) : 0;
        if (w <= 0) return r;
        if (held_add(e, r, now + w) != 0) {
            /* Out of memory: leave it stored and look again a little later. */
            e->queue->nack(e->queue, r);
            earliest(wake_at, now + 100000000LL);
            return NULL;
        }
        earliest(wake_at, now + w);
    }
    return NULL;
}

/* ---- consumer threads ---- */

static void *consumer_main(void *arg) {
    pp_exporter *e = arg;
    void *conn = e->ops->conn_new ? e->ops->conn_new(e->ctx) : NULL;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        int64_t now = now_ns(), abort_at = atomic_load(&e->abort_at_ns), wake_at;
        if (e->stopping && (now >= abort_at || e->queue->size(e->queue) == 0)) break;
        pp_export_request *r = next_request(e, now, &wake_at);
        if (!r) {
            if (e->stopping) earliest(&wake_at, abort_at);
            /* With storage, rows become ready when their commit lands or when
             * the replay cap allows: poll briefly rather than wait for a signal. */
            if (e->store && e->queue->size(e->queue) > 0) earliest(&wake_at, now + 5000000);
            if (wake_at == INT64_MAX) pthread_cond_wait(&e->cv, &e->lock);
            else wait_until(e, wake_at);
            continue;
        }
        pthread_mutex_unlock(&e->lock);
        pp_status st = {0};
        fate f = deliver(e, conn, r, M_QUEUED, &st);
        pthread_mutex_lock(&e->lock);
        /* Held: recheck at once; hold() says how long (or OOM: back to the storage). */
        if (f == RETURNED) e->queue->nack(e->queue, r);
        else if (f != HELD) e->queue->ack(e->queue, r);
        else if (held_add(e, r, 0) != 0) e->queue->nack(e->queue, r);
        pp_gauge_set(e->queue_size, (int64_t)e->queue->size(e->queue));
        pthread_cond_broadcast(&e->cv); /* a shard came free; the queue has room */
    }
    pthread_mutex_unlock(&e->lock);
    if (conn) e->ops->conn_free(e->ctx, conn);
    return NULL;
}

/* ---- consume ---- */

static void free_list(pp_export_request *r) {
    for (pp_export_request *n; r; r = n) {
        n = r->next;
        pp_export_request_free(r);
    }
}

/* With storage the queue has no fixed capacity: spill puts what memory cannot
 * hold on disk; always commits each request to disk before returning (outside
 * the lock: the store queue is thread-safe, and a commit takes a while). Only
 * the storage can refuse (quota full with when_full refuse, or a write error). */
static int consume_stored(pp_exporter *e, pp_batch *b, pp_export_request *list, pp_status *st) {
    bool first = true;
    for (pp_export_request *r = list, *nx; r; r = nx, first = false) {
        nx = r->next;
        r->next = NULL;
        if (e->spill) pthread_mutex_lock(&e->lock);
        int rc = e->queue->put(e->queue, r);
        if (e->spill) pthread_mutex_unlock(&e->lock);
        if (rc == 0) continue;
        if (first) {
            /* Nothing taken: the client retries the whole batch. */
            free_list(r);
            pp_counter_add(e->enqueue_failed[b->signal], b->items);
            pp_fail(st, PP_UNAVAILABLE, "%s: storage is full", e->component);
            st->retry_after_ms = 1000;
            return -1;
        }
        /* Part of the batch is queued already: the rest cannot be refused alone. */
        pp_counter_add(e->enqueue_failed[r->signal], r->items);
        drop(e, r, R_STORAGE_FULL, "storage refused part of a batch");
        pp_export_request_free(r);
    }
    pthread_mutex_lock(&e->lock);
    pp_gauge_set(e->queue_size, (int64_t)e->queue->size(e->queue));
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/* ops->max_request_bytes: splits every request of list whose batch encodes
 * larger than the limit into halves (again and again) before anything is
 * queued or sent. A single item stays as it is (the peer decides); when memory
 * runs out the request is kept whole (the peer's TOO_LARGE path remains). */
static pp_export_request *fit_request(pp_exporter *e, pp_export_request *r, size_t depth) {
    size_t max = e->ops->max_request_bytes;
    if (!r->batch || r->items < 2 || depth > 64) return r;
    size_t size = pp_batch_encoded_size(r->batch);
    if (size <= max) return r;
    pp_batch *half[2];
    if (pp_batch_halve(r->batch, &half[0], &half[1]) != 0) return r;
    pp_export_request *part[2] = {NULL, NULL};
    for (int h = 0; h < 2; h++) {
        pp_status est = {0};
        part[h] = e->ops->encode(e->ctx, half[h], &est);
        pp_batch_unref(half[h]);
    }
    if (!part[0] || !part[1]) {
        free_list(part[0]);
        free_list(part[1]);
        return r;
    }
    if (depth == 0) {
        char sz[24], lim[24];
        fmt_u(sz, sizeof(sz), size);
        fmt_u(lim, sizeof(lim), max);
        pp_log_debug(e->component, "request above max_request_bytes; splitting it before sending",
                     "bytes", sz, "max_request_bytes", lim, NULL);
    }
    /* Each half and what its own encode made, in order, keeping r's shard. */
    pp_export_request *head = NULL, **tail = &head;
    for (int h = 0; h < 2; h++)
        for (pp_export_request *q = part[h], *nx; q; q = nx) {
            nx = q->next;
            q->next = NULL;
            q->shard = r->shard;
            pp_export_request *f = fit_request(e, q, depth + 1);
            *tail = f;
            while (*tail) tail = &(*tail)->next;
        }
    pp_export_request_free(r);
    return head;
}

static pp_export_request *fit_list(pp_exporter *e, pp_export_request *list) {
    if (!e->ops->max_request_bytes) return list;
    pp_export_request *head = NULL, **tail = &head;
    for (pp_export_request *r = list, *nx; r; r = nx) {
        nx = r->next;
        r->next = NULL;
        *tail = fit_request(e, r, 0);
        while (*tail) tail = &(*tail)->next;
    }
    return head;
}

static int exporter_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    pp_exporter *e = (pp_exporter *)self;
    if (b->items == 0) return 0;
    pthread_mutex_lock(&e->lock);
    bool stopping = e->stopping;
    pthread_mutex_unlock(&e->lock);
    if (stopping) {
        pp_counter_add(e->enqueue_failed[b->signal], b->items);
        return pp_fail(st, PP_UNAVAILABLE, "%s: shutting down", e->component);
    }
    pp_export_request *list = e->ops->encode(e->ctx, b, st);
    if (!list && st->code == PP_OK) return 0; /* nothing to send (counted by the exporter) */
    if (!list) {
        pp_counter_add(e->enqueue_failed[b->signal], b->items);
        return -1;
    }
    list = fit_list(e, list);

    if (!e->cfg->sending_queue.enabled) {
        void *conn = conn_get(e);
        int rc = 0;
        for (pp_export_request *r = list, *n; r; r = n) {
            n = r->next;
            /* After a failure the rest is not sent: the caller retries it all. */
            if (rc == 0 && deliver(e, conn, r, M_SYNC, st) != DELIVERED) rc = -1;
            pp_export_request_free(r);
        }
        conn_put(e, conn);
        if (rc != 0 && st->code == PP_OK) pp_fail(st, PP_UNAVAILABLE, "%s: not delivered", e->component);
        return rc;
    }

    if (e->store) return consume_stored(e, b, list, st);

    /* All of a batch's requests or none, so a refusal never half-takes it. */
    size_t n = 0, nbytes = 0;
    for (pp_export_request *r = list; r; r = r->next) {
        n++;
        nbytes += r->len;
    }
    pthread_mutex_lock(&e->lock);
    size_t cap = (size_t)e->cfg->sending_queue.queue_size, size = e->queue->size(e->queue);
    size_t max_bytes = (size_t)e->cfg->sending_queue.max_bytes, bytes = e->queue->bytes(e->queue);
    /* An empty queue takes any batch, however many requests it made. */
    if (size > 0 && (size + n > cap || (max_bytes && bytes + nbytes > max_bytes))) {
        pthread_mutex_unlock(&e->lock);
        for (pp_export_request *r = list, *nx; r; r = nx) {
            nx = r->next;
            pp_export_request_free(r);
        }
        pp_counter_add(e->enqueue_failed[b->signal], b->items);
        pp_fail(st, PP_UNAVAILABLE, "%s: sending queue is full (%zu of %zu requests, %zu of %zu bytes)",
                e->component, size, cap, bytes, max_bytes);
        st->retry_after_ms = 1000;
        return -1;
    }
    for (pp_export_request *r = list, *nx; r; r = nx) {
        nx = r->next;
        if (e->queue->put(e->queue, r) != 0) {
            /* The memory storage never refuses; a durable one may be out of space. */
            pp_counter_add(e->enqueue_failed[r->signal], r->items);
            pp_counter_add(e->drops[r->signal][R_PERMANENT], r->items);
            pp_log_error(e->component, "storage refused a request", NULL);
            pp_export_request_free(r);
        }
    }
    pp_gauge_set(e->queue_size, (int64_t)e->queue->size(e->queue));
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/* ---- life cycle ---- */

static void counters(pp_exporter *e, pp_metrics *m, const char *id) {
    const char *l[] = {"exporter", id, NULL};
    static const char *const sent[] = {"otelcol_exporter_sent_spans",
                                       "otelcol_exporter_sent_metric_points"};
    static const char *const failed[] = {"otelcol_exporter_send_failed_spans",
                                         "otelcol_exporter_send_failed_metric_points"};
    static const char *const enq[] = {"otelcol_exporter_enqueue_failed_spans",
                                      "otelcol_exporter_enqueue_failed_metric_points"};
    static const char *const what[] = {"spans", "metric points"};
    for (int s = 0; s < PP_SIGNAL_COUNT; s++) {
        char help[128];
        snprintf(help, sizeof(help), "Number of %s successfully sent to destination.", what[s]);
        e->sent[s] = pp_counter_get(m, sent[s], help, l);
        snprintf(help, sizeof(help), "Number of %s in failed attempts to send to destination.",
                 what[s]);
        e->failed[s] = pp_counter_get(m, failed[s], help, l);
        snprintf(help, sizeof(help), "Number of %s failed to be added to the sending queue.",
                 what[s]);
        e->enqueue_failed[s] = pp_counter_get(m, enq[s], help, l);
        for (int r = 0; r < R_COUNT; r++)
            e->drops[s][r] = pp_drops_counter(m, e->component, (pp_signal)s, reason_names[r]);
    }
    e->retries = pp_counter_get(m, "pipit_exporter_retries", "Export attempts that will be retried.", l);
    e->queue_size = pp_gauge_get(m, "otelcol_exporter_queue_size",
                                 "Current size of the retry queue (in batches).", l);
    e->queue_capacity = pp_gauge_get(m, "otelcol_exporter_queue_capacity",
                                     "Fixed capacity of the retry queue (in batches).", l);
    e->circuit = pp_gauge_get(m, "pipit_exporter_circuit_state",
                              "Circuit breaker: 0 closed, 1 half-open, 2 open.", l);
    e->held_gauge = pp_gauge_get(m, "pipit_exporter_held_requests",
                                 "Requests waiting because the backend asked to pause them (rate limits).", l);
}

pp_exporter *pp_exporter_new(const pp_exporter_params *p, pp_status *st) {
    pp_exporter *e = calloc(1, sizeof(*e));
    if (!e) goto oom;
    e->consumer.consume = exporter_consume;
    e->consumer.takes_encoded = p->takes_encoded;
    snprintf(e->component, sizeof(e->component), "exporter/%s", p->id);
    e->host = p->host;
    e->cfg = p->cfg;
    e->ops = p->ops;
    atomic_init(&e->abort_at_ns, INT64_MAX);
    size_t cap = (size_t)p->cfg->sending_queue.queue_size;
    e->queue = pp_queue_storage_memory(SIZE_MAX); /* capacity is enforced in consume() */
    if (!e->queue) goto oom;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&e->lock, NULL);
    pp_breaker_init(&e->breaker, &p->cfg->circuit_breaker, p->cfg->retry_on_failure.max_interval_ns);
    counters(e, p->host->metrics, p->id);
    pp_gauge_set(e->queue_capacity, p->cfg->sending_queue.enabled ? (int64_t)cap : 0);
    e->ctx = p->ctx;
    return e;
oom:
    free(e);
    pp_fail(st, PP_INTERNAL, "out of memory");
    return NULL;
}

/* Puts the storage's queue for this exporter behind e->queue (see exporter.h). */
static int attach_storage(pp_exporter *e, pp_host *host, pp_status *st) {
    const pp_queue_cfg *qc = &e->cfg->sending_queue;
    pp_store *s = pp_host_storage(host, qc->storage);
    if (!s)
        return pp_fail(st, PP_INVALID,
                       "sending_queue.storage \"%s\" is not a configured storage extension "
                       "(sqlite_storage or file_storage, listed in service.extensions)",
                       qc->storage);
    bool always = qc->durability && strcmp(qc->durability, "always") == 0;
    pp_store_queue_opts o = {.exporter = e->component + strlen("exporter/"),
                             .component = e->component,
                             .durable = always,
                             .replay_rate = (double)qc->replay_rate_limit};
    pp_queue_storage *disk = pp_store_queue(s, &o, st);
    if (!disk) return -1;
    pp_queue_storage *q = always ? disk : pp_queue_storage_spill(s, disk, (size_t)qc->queue_size, (size_t)qc->max_bytes);
    if (!q) {
        disk->destroy(disk);
        return pp_fail(st, PP_INTERNAL, "out of memory");
    }
    e->queue->destroy(e->queue); /* the empty memory queue */
    e->queue = q;
    e->store = s;
    e->spill = !always;
    pp_gauge_set(e->queue_size, (int64_t)q->size(q));
    return 0;
}

int pp_exporter_start(void *inst, pp_host *host, pp_status *st) {
    pp_exporter *e = inst;
    (void)host;
    if (!e->cfg->sending_queue.enabled) return 0;
    if (e->cfg->sending_queue.storage && attach_storage(e, host, st) != 0) return -1;
    size_t n = (size_t)e->cfg->sending_queue.num_consumers;
    e->threads = calloc(n, sizeof(pthread_t));
    if (!e->threads) return pp_fail(st, PP_INTERNAL, "out of memory");
    for (; e->nthreads < n; e->nthreads++)
        if (pthread_create(&e->threads[e->nthreads], NULL, consumer_main, e) != 0)
            return pp_fail(st, PP_INTERNAL, "%s: cannot start consumer threads", e->component);
    return 0;
}

pp_consumer *pp_exporter_consumer(void *inst, pp_signal s) {
    (void)s;
    return &((pp_exporter *)inst)->consumer;
}

void pp_exporter_shutdown(void *inst, pp_host *host) {
    pp_exporter *e = inst;
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    atomic_store(&e->abort_at_ns, host->shutdown_deadline_ns);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; i < e->nthreads; i++) pthread_join(e->threads[i], NULL);
    e->nthreads = 0;
    /* The deadline passed with requests still queued. */
    pthread_mutex_lock(&e->lock);
    held_return_all(e);
    pp_export_request *r;
    if (e->store) {
        /* Durable: the disk keeps them for the next run. Memory requests go
         * there too; only what the storage refuses is lost. */
        if (e->spill && pp_spill_to_disk(e->queue) > 0)
            while ((r = pp_spill_pop_memory(e->queue)) != NULL) {
                drop(e, r, R_SHUTDOWN, "not sent before the shutdown deadline; storage full");
                pp_export_request_free(r);
            }
        pp_gauge_set(e->queue_size, (int64_t)e->queue->size(e->queue));
        pthread_mutex_unlock(&e->lock);
        pp_store_flush(e->store);
        return;
    }
    while ((r = e->queue->peek(e->queue)) != NULL) {
        drop(e, r, R_SHUTDOWN, "not sent before the shutdown deadline");
        e->queue->ack(e->queue, r);
    }
    pp_gauge_set(e->queue_size, (int64_t)e->queue->size(e->queue));
    pthread_mutex_unlock(&e->lock);
}

void pp_exporter_destroy(void *inst) {
    pp_exporter *e = inst;
    if (!e) return;
    if (e->nthreads > 0) {
        /* Destroyed without shutdown (a failed start): stop at once. */
        pp_host h = {.shutdown_deadline_ns = 0};
        pp_exporter_shutdown(e, &h);
    }
    for (size_t i = 0; i < e->npool; i++) e->ops->conn_free(e->ctx, e->pool[i]);
    free(e->pool);
    free(e->threads);
    free(e->held);
    e->queue->destroy(e->queue);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->lock);
    if (e->ops->destroy) e->ops->destroy(e->ctx);
    free(e);
}

const char *pp_exporter_component(const pp_exporter *e) { return e->component; }

pp_breaker_state pp_exporter_circuit_state(pp_exporter *e) {
    pthread_mutex_lock(&e->lock);
    pp_breaker_state s = e->breaker.state;
    pthread_mutex_unlock(&e->lock);
    return s;
}

size_t pp_exporter_queue_size(pp_exporter *e) {
    pthread_mutex_lock(&e->lock);
    size_t n = e->queue->size(e->queue);
    pthread_mutex_unlock(&e->lock);
    return n;
}

size_t pp_exporter_held(pp_exporter *e) {
    pthread_mutex_lock(&e->lock);
    size_t n = e->nheld;
    pthread_mutex_unlock(&e->lock);
    return n;
}
