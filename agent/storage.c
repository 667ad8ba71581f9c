/* storage.c -- the durable store: row index, writer thread with group
 * commit, quota, and the per-exporter queue (see storage.h). */
#include "storage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drops.h"
#include "log.h"
#include "storage_db.h"

/* Counted against the quota for each row besides its body: the columns and
 * SQLite's per-row and index overhead, roughly. */
#define ROW_OVERHEAD 64

typedef struct xqueue xqueue;

typedef struct row {
    uint64_t seq, shard, gen; /* gen: the commit batch that stores it */
    int64_t first_failure_unix_ns, enqueued_unix_ns;
    uint32_t items, attempts, bytes;
    uint8_t signal;
    bool in_flight;
    xqueue *q;
    struct row *gprev, *gnext; /* every row of the store, by seq */
    struct row *qprev, *qnext; /* the rows of q, by seq */
} row;

typedef enum op_kind { OP_PUT, OP_DEL, OP_UPD } op_kind;

typedef struct op {
    op_kind kind;
    pp_sdb_row meta; /* PUT: everything; DEL/UPD: seq, attempts, first failure */
    bool durable;    /* PUT: someone waits for it (no drop is counted if it fails) */
    xqueue *q;
    int codec;
    uint8_t *body;
    size_t len;
    struct op *next;
} op;

typedef struct flight {
    pp_export_request *req;
    row *row;
} flight;

struct xqueue {
    pp_queue_storage base;
    pp_store *s;
    char *exporter, *component;
    bool durable, attached, ever_attached;
    double rate, tokens;
    int64_t refill_ns;
    row *head, *tail;
    size_t rows;
    uint64_t bytes;
    flight *flight;
    size_t nflight, flight_cap;
    pp_counter *spilled, *replayed, *quota_drops[PP_SIGNAL_COUNT], *error_drops[PP_SIGNAL_COUNT];
    pp_gauge *g_batches, *g_bytes, *g_age, *g_unclaimed;
};

struct pp_store {
    char *id, *dir, *component;
    pp_store_opts o;
    pp_sdb db;
    pthread_mutex_t mu; /* the index, the op list, generations */
    pthread_cond_t wake, done;
    pthread_mutex_t rmu; /* the reader connection */
    pthread_t writer;
    bool writer_running, stop;
    op *ops, *ops_tail;
    uint64_t gen_open, gen_committed, gen_failed;
    row *ghead, *gtail;
    uint64_t rows, bytes;
    xqueue **queues;
    size_t nqueues;
    _Atomic uint64_t next_seq;
    uint64_t quarantined;
    int health_pct; /* last fill percentage reported while degraded; -1: ok */
    pp_counter *corrupt;
    pp_gauge *g_used, *g_cap;
};

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- index ---- */

/* Links r into both lists at its seq place (usually the tail). Caller holds mu. */
static void index_insert(pp_store *s, row *r) {
    row *g = s->gtail;
    while (g && g->seq > r->seq) g = g->gprev;
    r->gprev = g;
    r->gnext = g ? g->gnext : s->ghead;
    if (r->gnext) r->gnext->gprev = r;
    else s->gtail = r;
    if (g) g->gnext = r;
    else s->ghead = r;
    xqueue *q = r->q;
    row *p = q->tail;
    while (p && p->seq > r->seq) p = p->qprev;
    r->qprev = p;
    r->qnext = p ? p->qnext : q->head;
    if (r->qnext) r->qnext->qprev = r;
    else q->tail = r;
    if (p) p->qnext = r;
    else q->head = r;
    q->rows++;
    q->bytes += r->bytes;
    s->rows++;
    s->bytes += r->bytes;
}

static void index_remove(pp_store *s, row *r) {
    if (r->gprev) r->gprev->gnext = r->gnext;
    else s->ghead = r->gnext;
    if (r->gnext) r->gnext->gprev = r->gprev;
    else s->gtail = r->gprev;
    xqueue *q = r->q;
    if (r->qprev) r->qprev->qnext = r->qnext;
    else q->head = r->qnext;
    if (r->qnext) r->qnext->qprev = r->qprev;
    else q->tail = r->qprev;
    q->rows--;
    q->bytes -= r->bytes;
    s->rows--;
    s->bytes -= r->bytes;
}

/* Health: degraded past the fill threshold, with the fill in the message. */
static void publish_fill(pp_store *s) {
    if (!s->o.health || s->o.max_bytes == 0) return;
    double fill = (double)s->bytes / (double)s->o.max_bytes;
    int pct = (int)(fill * 100.0);
    if (fill >= s->o.degraded_ratio) {
        if (pct == s->health_pct) return;
        char msg[160];
        snprintf(msg, sizeof(msg), "buffer %d%% full (%.1f of %.1f MiB)", pct,
                 (double)s->bytes / 1048576.0, (double)s->o.max_bytes / 1048576.0);
        pp_health_report(s->o.health, s->component, PP_HEALTH_DEGRADED, msg);
        s->health_pct = pct;
    } else if (s->health_pct >= 0) {
        pp_health_report(s->o.health, s->component, PP_HEALTH_OK, NULL);
        s->health_pct = -1;
    }
}

/* ---- the writer thread ---- */

/* Caller holds mu. Returns the generation that will commit op. */
static uint64_t push_op(pp_store *s, op *o) {
    o->next = NULL;
    if (s->ops_tail) s->ops_tail->next = o;
    else s->ops = o;
    s->ops_tail = o;
    pthread_cond_signal(&s->wake);
    return s->gen_open;
}

static int apply(pp_store *s, const op *o) {
    switch (o->kind) {
    case OP_PUT: return pp_sdb_insert(&s->db, &o->meta, o->codec, o->body, o->len);
    case OP_DEL: return pp_sdb_delete(&s->db, o->meta.seq);
    case OP_UPD:
        return pp_sdb_update(&s->db, o->meta.seq, o->meta.attempts, o->meta.first_failure_unix_ns);
    }
    return -1;
}

static row *find_row(xqueue *q, uint64_t seq) {
    for (row *r = q->tail; r; r = r->qprev)
        if (r->seq == seq) return r;
    return NULL;
}

/* A batch could not be committed: its new rows are not stored. Caller holds mu. */
static void batch_failed(pp_store *s, op *list, const char *why) {
    pp_log_error(s->component, "storage write failed; the requests of this commit are lost",
                 "error", why, NULL);
    for (op *o = list; o; o = o->next) {
        if (o->kind != OP_PUT) continue;
        row *r = find_row(o->q, o->meta.seq);
        if (r && !r->in_flight) {
            index_remove(s, r);
            free(r);
        }
        /* A waiter is refused (its client retries); nobody waits for a spill. */
        if (!o->durable) pp_counter_add(o->q->error_drops[o->meta.signal], o->meta.items);
    }
}

static void *writer_main(void *arg) {
    pp_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->ops && !s->stop) pthread_cond_wait(&s->wake, &s->mu);
        if (!s->ops) break;
        op *list = s->ops;
        s->ops = s->ops_tail = NULL;
        uint64_t g = s->gen_open++;
        pthread_mutex_unlock(&s->mu);

        int rc = pp_sdb_begin(&s->db);
        for (op *o = list; o && rc == 0; o = o->next) rc = apply(s, o);
        if (rc == 0) rc = pp_sdb_commit(&s->db);
        char why[256] = "";
        if (rc != 0) {
            snprintf(why, sizeof(why), "%s", sqlite3_errmsg(s->db.w));
            sqlite3_exec(s->db.w, "ROLLBACK", NULL, NULL, NULL);
        }

        pthread_mutex_lock(&s->mu);
        if (rc != 0) {
            s->gen_failed = g;
            batch_failed(s, list, why);
        }
        s->gen_committed = g;
        pthread_cond_broadcast(&s->done);
        pthread_mutex_unlock(&s->mu);
        for (op *o = list, *n; o; o = n) {
            n = o->next;
            free(o->body);
            free(o);
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Waits until generation g is committed; false when it failed. Caller holds mu. */
static bool wait_gen(pp_store *s, uint64_t g) {
    while (s->gen_committed < g) pthread_cond_wait(&s->done, &s->mu);
    return s->gen_failed != g;
}

void pp_store_flush(pp_store *s) {
    pthread_mutex_lock(&s->mu);
    wait_gen(s, s->ops ? s->gen_open : s->gen_open - 1);
    pthread_mutex_unlock(&s->mu);
}

/* ---- the exporter's queue ---- */

static void fmt_u(char *buf, size_t n, uint64_t v) { snprintf(buf, n, "%llu", (unsigned long long)v); }

/* Deletes the oldest rows not in flight (any exporter) until `need` more
 * bytes fit. Caller holds mu. false when they do not. */
static bool make_room(pp_store *s, uint64_t need) {
    uint64_t items = 0, rows = 0;
    for (row *r = s->ghead, *n; r && s->bytes + need > s->o.max_bytes; r = n) {
        n = r->gnext;
        if (r->in_flight) continue;
        pp_counter_add(r->q->quota_drops[r->signal], r->items);
        items += r->items;
        rows++;
        op *o = calloc(1, sizeof(*o));
        if (o) {
            o->kind = OP_DEL;
            o->meta.seq = r->seq;
            push_op(s, o);
        }
        index_remove(s, r);
        free(r);
    }
    if (rows > 0) {
        char ni[24], nr[24];
        fmt_u(ni, sizeof(ni), items);
        fmt_u(nr, sizeof(nr), rows);
        pp_log_warn(s->component, "storage quota reached: dropped the oldest requests", "items", ni,
                    "requests", nr, "reason", "storage_quota", NULL);
    }
    return s->bytes + need <= s->o.max_bytes;
}

static int xq_put(pp_queue_storage *qs, pp_export_request *r) {
    xqueue *q = (xqueue *)qs;
    pp_store *s = q->s;
    op *o = calloc(1, sizeof(*o));
    row *rw = calloc(1, sizeof(*rw));
    if (!o || !rw) goto refuse;
    o->body = pp_sdb_encode(r->body, r->len, &o->codec, &o->len);
    if (!o->body) goto refuse;
    int64_t wall = wall_ns();
    *rw = (row){.seq = r->seq ? r->seq : pp_store_next_seq(s),
                .shard = r->shard,
                .items = (uint32_t)r->items,
                .attempts = r->attempts,
                .signal = (uint8_t)r->signal,
                .enqueued_unix_ns = wall,
                .first_failure_unix_ns =
                    r->first_failure_ns ? wall - (mono_ns() - r->first_failure_ns) : 0,
                .bytes = (uint32_t)(o->len + ROW_OVERHEAD),
                .q = q};
    o->kind = OP_PUT;
    o->q = q;
    o->durable = q->durable;
    o->meta = (pp_sdb_row){.seq = rw->seq, .shard = rw->shard, .exporter = q->exporter,
                           .signal = rw->signal, .items = rw->items, .attempts = rw->attempts,
                           .first_failure_unix_ns = rw->first_failure_unix_ns,
                           .enqueued_unix_ns = wall};

    pthread_mutex_lock(&s->mu);
    if (s->bytes + rw->bytes > s->o.max_bytes &&
        (s->o.when_full == PP_FULL_REFUSE || !make_room(s, rw->bytes))) {
        pthread_mutex_unlock(&s->mu);
        goto refuse;
    }
    index_insert(s, rw);
    rw->gen = push_op(s, o);
    pp_counter_add(q->spilled, rw->items);
    publish_fill(s);
    bool ok = !q->durable || wait_gen(s, rw->gen);
    pthread_mutex_unlock(&s->mu);
    if (!ok) return -1; /* the row was removed by batch_failed; r is still the caller's */
    pp_export_request_free(r);
    return 0;
refuse:
    if (o) free(o->body);
    free(o);
    free(rw);
    return -1;
}

static bool in_list(const uint64_t *l, size_t n, uint64_t v) {
    for (size_t i = 0; i < n; i++)
        if (l[i] == v) return true;
    return false;
}

/* The first row peek may hand out, or NULL. Shard order holds across rows
 * skipped because they are in flight or not yet committed. Caller holds mu. */
static row *first_ready(xqueue *q, bool (*busy)(void *, uint64_t), void *arg) {
    uint64_t blocked[64];
    size_t nb = 0;
    for (row *r = q->head; r; r = r->qnext) {
        bool ready = !r->in_flight && r->gen <= q->s->gen_committed;
        if (r->shard != 0) {
            if (nb == 64 || in_list(blocked, nb, r->shard)) continue;
            if (ready && busy && busy(arg, r->shard)) ready = false;
            if (!ready) {
                blocked[nb++] = r->shard;
                continue;
            }
        }
        if (ready) return r;
    }
    return NULL;
}

static void refill(xqueue *q) {
    if (q->rate <= 0) return;
    int64_t now = mono_ns();
    q->tokens += q->rate * (double)(now - q->refill_ns) / 1e9;
    if (q->tokens > q->rate) q->tokens = q->rate; /* a burst of one second at most */
    q->refill_ns = now;
}

uint64_t pp_store_queue_head(pp_queue_storage *qs, bool (*busy)(void *, uint64_t), void *arg) {
    xqueue *q = (xqueue *)qs;
    pthread_mutex_lock(&q->s->mu);
    row *r = first_ready(q, busy, arg);
    uint64_t seq = r ? r->seq : 0;
    pthread_mutex_unlock(&q->s->mu);
    return seq;
}

bool pp_store_queue_has_older(pp_queue_storage *qs, uint64_t shard, uint64_t seq) {
    xqueue *q = (xqueue *)qs;
    pthread_mutex_lock(&q->s->mu);
    bool found = false;
    for (row *r = q->head; r && r->seq < seq && !found; r = r->qnext) found = r->shard == shard;
    pthread_mutex_unlock(&q->s->mu);
    return found;
}

int64_t pp_store_queue_wait_ns(pp_queue_storage *qs) {
    xqueue *q = (xqueue *)qs;
    pthread_mutex_lock(&q->s->mu);
    refill(q);
    int64_t w = q->rate > 0 && q->tokens < 0 ? (int64_t)(-q->tokens / q->rate * 1e9) + 1 : 0;
    pthread_mutex_unlock(&q->s->mu);
    return w;
}

pp_export_request *pp_store_queue_take(pp_queue_storage *qs, bool (*busy)(void *, uint64_t),
                                       void *arg) {
    xqueue *q = (xqueue *)qs;
    pp_store *s = q->s;
    pthread_mutex_lock(&s->mu);
    refill(q);
    row *r = q->rate > 0 && q->tokens < 0 ? NULL : first_ready(q, busy, arg);
    if (r && q->nflight == q->flight_cap) {
        size_t ncap = q->flight_cap ? q->flight_cap * 2 : 16;
        flight *n = realloc(q->flight, ncap * sizeof(*n));
        if (!n) r = NULL;
        else {
            q->flight = n;
            q->flight_cap = ncap;
        }
    }
    if (!r) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    r->in_flight = true; /* from here on nobody else touches r */
    q->tokens -= r->items;
    pthread_mutex_unlock(&s->mu);

    char msg[256];
    size_t len = 0;
    pthread_mutex_lock(&s->rmu);
    uint8_t *body = pp_sdb_read_body(&s->db, r->seq, &len, msg, sizeof(msg));
    pthread_mutex_unlock(&s->rmu);
    pp_export_request *req = body ? pp_export_request_new(NULL, body, len) : NULL;

    pthread_mutex_lock(&s->mu);
    if (!req) {
        /* An unreadable row would block its queue forever: drop it, loudly. */
        pp_log_error(s->component, "cannot read a stored request; dropping it", "exporter",
                     q->exporter, "error", body ? "out of memory" : msg, NULL);
        pp_counter_add(q->error_drops[r->signal], r->items);
        op *o = calloc(1, sizeof(*o));
        if (o) {
            o->kind = OP_DEL;
            o->meta.seq = r->seq;
            push_op(s, o);
        }
        index_remove(s, r);
        free(r);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    req->signal = (pp_signal)r->signal;
    req->items = r->items;
    req->shard = r->shard;
    req->attempts = r->attempts;
    req->seq = r->seq;
    q->flight[q->nflight++] = (flight){req, r};
    pthread_mutex_unlock(&s->mu);
    return req;
}

static pp_export_request *xq_peek(pp_queue_storage *qs) { return pp_store_queue_take(qs, NULL, NULL); }

/* The row of a request peek handed out, taken out of the flight set. Caller holds mu. */
static row *unflight(xqueue *q, pp_export_request *req) {
    for (size_t i = 0; i < q->nflight; i++)
        if (q->flight[i].req == req) {
            row *r = q->flight[i].row;
            q->flight[i] = q->flight[--q->nflight];
            r->in_flight = false;
            return r;
        }
    return NULL;
}

static void xq_ack(pp_queue_storage *qs, pp_export_request *req) {
    xqueue *q = (xqueue *)qs;
    pp_store *s = q->s;
    op *o = calloc(1, sizeof(*o));
    pthread_mutex_lock(&s->mu);
    row *r = unflight(q, req);
    if (r) {
        pp_counter_add(q->replayed, r->items);
        if (o) {
            o->kind = OP_DEL;
            o->meta.seq = r->seq;
            push_op(s, o);
            o = NULL;
        }
        index_remove(s, r);
        free(r);
        publish_fill(s);
    }
    pthread_mutex_unlock(&s->mu);
    free(o);
    pp_export_request_free(req);
}

static void xq_nack(pp_queue_storage *qs, pp_export_request *req) {
    xqueue *q = (xqueue *)qs;
    pp_store *s = q->s;
    op *o = calloc(1, sizeof(*o));
    int64_t ff = req->first_failure_ns ? wall_ns() - (mono_ns() - req->first_failure_ns) : 0;
    pthread_mutex_lock(&s->mu);
    row *r = unflight(q, req);
    if (r) {
        r->attempts = req->attempts;
        if (!r->first_failure_unix_ns) r->first_failure_unix_ns = ff;
        if (o) {
            o->kind = OP_UPD;
            o->meta.seq = r->seq;
            o->meta.attempts = r->attempts;
            o->meta.first_failure_unix_ns = r->first_failure_unix_ns;
            push_op(s, o);
            o = NULL;
        }
    }
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
    free(o);
    pp_export_request_free(req);
}

static size_t xq_size(const pp_queue_storage *qs) {
    const xqueue *q = (const xqueue *)qs;
    pthread_mutex_lock(&q->s->mu);
    size_t n = q->rows;
    pthread_mutex_unlock(&q->s->mu);
    return n;
}

/* Detaches: the rows stay stored for the next run (or the next attach). */
static void xq_destroy(pp_queue_storage *qs) {
    xqueue *q = (xqueue *)qs;
    pthread_mutex_lock(&q->s->mu);
    for (size_t i = 0; i < q->nflight; i++) {
        q->flight[i].row->in_flight = false;
        pp_export_request_free(q->flight[i].req);
    }
    q->nflight = 0;
    q->attached = false;
    pthread_mutex_unlock(&q->s->mu);
}

size_t pp_store_queue_bytes(pp_queue_storage *qs) {
    xqueue *q = (xqueue *)qs;
    pthread_mutex_lock(&q->s->mu);
    size_t n = q->bytes;
    pthread_mutex_unlock(&q->s->mu);
    return n;
}

/* ---- telemetry ---- */

static int64_t g_rows(void *arg) { return (int64_t)xq_size((const pp_queue_storage *)arg); }
static int64_t g_bytes(void *arg) { return (int64_t)pp_store_queue_bytes(arg); }
static int64_t g_age(void *arg) {
    xqueue *q = arg;
    pthread_mutex_lock(&q->s->mu);
    int64_t age = q->head ? (wall_ns() - q->head->enqueued_unix_ns) / 1000000000LL : 0;
    pthread_mutex_unlock(&q->s->mu);
    return age > 0 ? age : 0;
}
static int64_t g_unclaimed(void *arg) {
    xqueue *q = arg;
    pthread_mutex_lock(&q->s->mu);
    int64_t n = q->ever_attached ? 0 : (int64_t)q->rows;
    pthread_mutex_unlock(&q->s->mu);
    return n;
}
static int64_t g_used(void *arg) { return (int64_t)pp_store_bytes(arg); }

/* The queue of exporter id, created on first use (from the index at open, or
 * by an exporter attaching). Caller holds mu. */
static xqueue *queue_for(pp_store *s, const char *exporter) {
    for (size_t i = 0; i < s->nqueues; i++)
        if (strcmp(s->queues[i]->exporter, exporter) == 0) return s->queues[i];
    xqueue **nq = realloc(s->queues, (s->nqueues + 1) * sizeof(*nq));
    if (!nq) return NULL;
    s->queues = nq;
    xqueue *q = calloc(1, sizeof(*q));
    if (!q || !(q->exporter = strdup(exporter))) {
        free(q);
        return NULL;
    }
    q->s = s;
    q->base = (pp_queue_storage){.put = xq_put, .peek = xq_peek, .ack = xq_ack, .nack = xq_nack,
                                 .size = xq_size, .destroy = xq_destroy};
    char comp[256];
    snprintf(comp, sizeof(comp), "exporter/%s", exporter);
    q->component = strdup(comp);
    pp_metrics *m = s->o.metrics;
    if (m) {
        const char *l[] = {"exporter", exporter, "storage", s->id, NULL};
        q->spilled = pp_counter_get(m, "pipit_storage_spilled_items",
                                    "Items (spans or metric points) written to the storage queue.", l);
        q->replayed = pp_counter_get(m, "pipit_storage_replayed_items",
                                     "Items read back from the storage queue and delivered.", l);
        q->g_batches = pp_gauge_get_fn(m, "pipit_storage_queue_batches",
                                       "Requests stored in the storage queue.", l, g_rows, q);
        q->g_bytes = pp_gauge_get_fn(m, "pipit_storage_queue_bytes",
                                     "Bytes counted against the quota for the stored requests.", l,
                                     g_bytes, q);
        q->g_age = pp_gauge_get_fn(m, "pipit_storage_oldest_item_age_seconds",
                                   "Age of the oldest stored request.", l, g_age, q);
        for (int sig = 0; sig < PP_SIGNAL_COUNT; sig++) {
            q->quota_drops[sig] = pp_drops_counter(m, q->component, (pp_signal)sig, "storage_quota");
            q->error_drops[sig] = pp_drops_counter(m, q->component, (pp_signal)sig, "storage_error");
        }
    }
    s->queues[s->nqueues++] = q;
    return q;
}

pp_queue_storage *pp_store_queue(pp_store *s, const pp_store_queue_opts *o, pp_status *st) {
    pthread_mutex_lock(&s->mu);
    xqueue *q = queue_for(s, o->exporter);
    if (q && q->attached) {
        pthread_mutex_unlock(&s->mu);
        pp_fail(st, PP_INVALID, "storage %s: exporter %s already has a queue", s->id, o->exporter);
        return NULL;
    }
    if (q) {
        q->attached = q->ever_attached = true;
        q->durable = o->durable;
        q->rate = o->replay_rate;
        q->tokens = o->replay_rate;
        q->refill_ns = mono_ns();
    }
    pthread_mutex_unlock(&s->mu);
    if (!q) pp_fail(st, PP_INTERNAL, "out of memory");
    return q ? &q->base : NULL;
}

size_t pp_store_report_unclaimed(pp_store *s) {
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nqueues; i++) {
        xqueue *q = s->queues[i];
        if (q->ever_attached || q->rows == 0) continue;
        n++;
        char rows[24];
        fmt_u(rows, sizeof(rows), q->rows);
        pp_log_warn(s->component,
                    "stored requests of an exporter that is not configured are kept, not sent",
                    "exporter", q->exporter, "requests", rows, NULL);
        if (s->o.metrics && !q->g_unclaimed) {
            const char *l[] = {"exporter", q->exporter, "storage", s->id, NULL};
            q->g_unclaimed = pp_gauge_get_fn(s->o.metrics, "pipit_storage_unconfigured_batches",
                                             "Stored requests of exporters not in the configuration.",
                                             l, g_unclaimed, q);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t pp_store_next_seq(pp_store *s) { return atomic_fetch_add(&s->next_seq, 1); }

uint64_t pp_store_bytes(pp_store *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->bytes;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t pp_store_rows(pp_store *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->rows;
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t pp_store_quarantined(const pp_store *s) { return s->quarantined; }

/* ---- open and close ---- */

static void load_row(void *arg, const pp_sdb_row *sr) {
    pp_store *s = arg;
    xqueue *q = queue_for(s, sr->exporter);
    row *r = q ? calloc(1, sizeof(*r)) : NULL;
    if (!r) return; /* out of memory at start: the row stays on disk, unseen this run */
    *r = (row){.seq = sr->seq, .shard = sr->shard, .items = sr->items, .attempts = sr->attempts,
               .signal = (uint8_t)sr->signal, .first_failure_unix_ns = sr->first_failure_unix_ns,
               .enqueued_unix_ns = sr->enqueued_unix_ns,
               .bytes = (uint32_t)(sr->bytes + ROW_OVERHEAD), .q = q};
    index_insert(s, r);
    if (sr->seq >= atomic_load(&s->next_seq)) atomic_store(&s->next_seq, sr->seq + 1);
}

pp_store *pp_store_open(const pp_store_opts *o, pp_status *st) {
    pp_store *s = calloc(1, sizeof(*s));
    if (!s) goto oom;
    s->o = *o;
    s->id = strdup(o->id);
    s->dir = strdup(o->directory);
    char comp[256];
    snprintf(comp, sizeof(comp), "extension/%s", o->id);
    s->component = strdup(comp);
    if (!s->id || !s->dir || !s->component) goto oom;
    s->o.id = s->id;
    s->o.directory = s->dir;
    s->gen_open = 1;
    s->health_pct = -1;
    atomic_init(&s->next_seq, 1);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->done, NULL);
    if (o->metrics) {
        const char *l[] = {"storage", o->id, NULL};
        s->corrupt = pp_counter_get(o->metrics, "pipit_storage_corrupt_files",
                                    "Storage files found corrupt at start and moved aside.", l);
        s->g_used = pp_gauge_get_fn(o->metrics, "pipit_storage_used_bytes",
                                    "Bytes counted against the storage quota.", l, g_used, s);
        s->g_cap = pp_gauge_get(o->metrics, "pipit_storage_capacity_bytes",
                                "The storage quota (max_size_mib) in bytes.", l);
        pp_gauge_set(s->g_cap, (int64_t)o->max_bytes);
    }

    char moved[4200];
    if (pp_sdb_open(&s->db, o->directory, o->fsync, moved, sizeof(moved), st) != 0) goto fail;
    if (moved[0]) {
        s->quarantined++;
        pp_counter_add(s->corrupt, 1);
        pp_log_error(s->component,
                     "STORAGE FILE CORRUPT: moved aside, starting with an empty queue; the requests "
                     "it held are not replayed",
                     "file", moved, NULL);
    }
    pthread_mutex_lock(&s->mu);
    int rc = pp_sdb_scan(&s->db, load_row, s, st);
    pthread_mutex_unlock(&s->mu);
    if (rc != 0) goto fail;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        pp_fail(st, PP_INTERNAL, "cannot start the storage writer thread");
        goto fail;
    }
    s->writer_running = true;
    char rows[24], mib[32];
    fmt_u(rows, sizeof(rows), s->rows);
    snprintf(mib, sizeof(mib), "%.1f", (double)s->bytes / 1048576.0);
    pp_log_info(s->component, "storage open", "directory", o->directory, "requests", rows, "mib",
                mib, NULL);
    publish_fill(s);
    return s;
oom:
    pp_fail(st, PP_INTERNAL, "out of memory");
fail:
    pp_store_close(s);
    return NULL;
}

void pp_store_close(pp_store *s) {
    if (!s) return;
    if (s->writer_running) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL); /* it commits what is queued first */
    }
    pp_sdb_close(&s->db);
    pp_gauge_clear_fn(s->g_used);
    for (size_t i = 0; i < s->nqueues; i++) {
        xqueue *q = s->queues[i];
        pp_gauge_clear_fn(q->g_batches);
        pp_gauge_clear_fn(q->g_bytes);
        pp_gauge_clear_fn(q->g_age);
        pp_gauge_clear_fn(q->g_unclaimed);
        for (size_t k = 0; k < q->nflight; k++) pp_export_request_free(q->flight[k].req);
        free(q->flight);
        free(q->exporter);
        free(q->component);
        free(q);
    }
    for (row *r = s->ghead, *n; r; r = n) {
        n = r->gnext;
        free(r);
    }
    free(s->queues);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->done);
    free(s->id);
    free(s->dir);
    free(s->component);
    free(s);
}
