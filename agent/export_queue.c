/* export_queue.c -- the in-memory pp_queue_storage: a FIFO list plus the set
 * of requests in flight (see exporter.h).
 *
 * A request in flight leaves the list; nack puts it back at the head. That
 * keeps shard order: while it was out no other request of its shard could be
 * taken, so it is older than every request of its shard still queued. */
#include <stdlib.h>

#include "exporter.h"

typedef struct mem_queue {
    pp_queue_storage base;
    size_t capacity;
    pp_export_request *head, *tail;
    size_t queued;
    size_t bytes; /* bodies queued and in flight */
    pp_export_request **flight; /* in flight, unordered */
    size_t nflight, flight_cap;
} mem_queue;

static int mq_put(pp_queue_storage *q, pp_export_request *r) {
    mem_queue *m = (mem_queue *)q;
    if (m->queued + m->nflight >= m->capacity) return -1;
    r->next = NULL;
    if (m->tail) m->tail->next = r;
    else m->head = r;
    m->tail = r;
    m->queued++;
    m->bytes += r->len;
    return 0;
}

static bool shard_busy(const mem_queue *m, uint64_t shard) {
    if (shard == 0) return false;
    for (size_t i = 0; i < m->nflight; i++)
        if (m->flight[i]->shard == shard) return true;
    return false;
}

static pp_export_request *mq_peek(pp_queue_storage *q) {
    mem_queue *m = (mem_queue *)q;
    if (m->nflight == m->flight_cap) {
        size_t ncap = m->flight_cap ? m->flight_cap * 2 : 16;
        pp_export_request **n = realloc(m->flight, ncap * sizeof(*n));
        if (!n) return NULL;
        m->flight = n;
        m->flight_cap = ncap;
    }
    pp_export_request *prev = NULL;
    for (pp_export_request *r = m->head; r; prev = r, r = r->next) {
        if (shard_busy(m, r->shard)) continue;
        if (prev) prev->next = r->next;
        else m->head = r->next;
        if (m->tail == r) m->tail = prev;
        r->next = NULL;
        m->queued--;
        m->flight[m->nflight++] = r;
        return r;
    }
    return NULL;
}

static void unflight(mem_queue *m, pp_export_request *r) {
    for (size_t i = 0; i < m->nflight; i++)
        if (m->flight[i] == r) {
            m->flight[i] = m->flight[--m->nflight];
            return;
        }
}

static void mq_ack(pp_queue_storage *q, pp_export_request *r) {
    mem_queue *m = (mem_queue *)q;
    unflight(m, r);
    m->bytes -= r->len;
    pp_export_request_free(r);
}

static void mq_nack(pp_queue_storage *q, pp_export_request *r) {
    mem_queue *m = (mem_queue *)q;
    unflight(m, r);
    r->next = m->head;
    m->head = r;
    if (!m->tail) m->tail = r;
    m->queued++;
}

static size_t mq_size(const pp_queue_storage *q) {
    const mem_queue *m = (const mem_queue *)q;
    return m->queued + m->nflight;
}

static size_t mq_bytes(const pp_queue_storage *q) { return ((const mem_queue *)q)->bytes; }

static void mq_destroy(pp_queue_storage *q) {
    mem_queue *m = (mem_queue *)q;
    for (pp_export_request *r = m->head, *n; r; r = n) {
        n = r->next;
        pp_export_request_free(r);
    }
    for (size_t i = 0; i < m->nflight; i++) pp_export_request_free(m->flight[i]);
    free(m->flight);
    free(m);
}

pp_queue_storage *pp_queue_storage_memory(size_t capacity) {
    mem_queue *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->base = (pp_queue_storage){.put = mq_put, .peek = mq_peek, .ack = mq_ack, .nack = mq_nack,
                                 .size = mq_size, .bytes = mq_bytes, .destroy = mq_destroy};
    m->capacity = capacity;
    return &m->base;
}

pp_export_request *pp_export_request_new(pp_batch *b, uint8_t *body, size_t len) {
    pp_export_request *r = calloc(1, sizeof(*r));
    if (!r) {
        free(body);
        return NULL;
    }
    if (b) {
        r->batch = pp_batch_ref(b);
        r->signal = b->signal;
        r->items = b->items;
    }
    r->body = body;
    r->len = len;
    return r;
}

void pp_export_request_free(pp_export_request *r) {
    if (!r) return;
    if (r->batch) pp_batch_unref(r->batch);
    free(r->body);
    free(r);
}
