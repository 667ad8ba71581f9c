/* export_spill.c -- durability `spill`: a memory FIFO in front of the
 * exporter's store queue (see storage.h).
 *
 * Every request gets a sequence number from the store when it is queued, in
 * memory or on disk, so the two tiers merge in arrival order: peek hands out
 * the lowest seq that may go. A request of shard k never passes an older one
 * of shard k in either tier, and a memory request that goes to disk (retries
 * exhausted, backend failing, shutdown) keeps its seq and so its place. */
#include <stdlib.h>

#include "storage.h"

typedef struct spill {
    pp_queue_storage base;
    pp_store *store;
    pp_queue_storage *disk;
    size_t capacity;
    size_t max_bytes; /* memory tier cap on bodies (0: none) */
    size_t mem_bytes; /* bodies in the memory tier, queued and in flight */
    bool failing;
    pp_export_request *head, *tail; /* queued in memory, by seq */
    size_t queued;
    pp_export_request **flight; /* memory requests in flight */
    size_t nflight, flight_cap;
} spill;

static bool mem_busy(void *arg, uint64_t shard) {
    spill *p = arg;
    for (size_t i = 0; i < p->nflight; i++)
        if (p->flight[i]->shard == shard) return true;
    return false;
}

/* Bytes of the memory tier: counted when a request enters it (put), given
 * back when it leaves (acked, moved to disk, popped). The disk frees what it
 * takes, so those paths read r->len before handing r over. */
static void mem_take(spill *p, const pp_export_request *r) { p->mem_bytes += r->len; }
static void mem_release(spill *p, const pp_export_request *r) { p->mem_bytes -= r->len; }

static void append(spill *p, pp_export_request *r) {
    r->next = NULL;
    if (p->tail) p->tail->next = r;
    else p->head = r;
    p->tail = r;
    p->queued++;
}

static void push_front(spill *p, pp_export_request *r) {
    r->next = p->head;
    p->head = r;
    if (!p->tail) p->tail = r;
    p->queued++;
}

static int sp_put(pp_queue_storage *q, pp_export_request *r) {
    spill *p = (spill *)q;
    if (!r->seq) r->seq = pp_store_next_seq(p->store);
    bool room = p->queued + p->nflight < p->capacity &&
                (!p->max_bytes || p->mem_bytes == 0 || p->mem_bytes + r->len <= p->max_bytes);
    if (!p->failing && room && p->disk->size(p->disk) == 0) {
        append(p, r);
        mem_take(p, r);
        return 0;
    }
    return p->disk->put(p->disk, r);
}

/* The first memory request that may go: its shard is free in memory and has
 * no older request on disk. */
static pp_export_request *mem_candidate(spill *p, pp_export_request **prev_out) {
    pp_export_request *prev = NULL;
    for (pp_export_request *r = p->head; r; prev = r, r = r->next) {
        if (r->shard != 0 && (mem_busy(p, r->shard) ||
                              pp_store_queue_has_older(p->disk, r->shard, r->seq)))
            continue;
        *prev_out = prev;
        return r;
    }
    return NULL;
}

static bool grow_flight(spill *p) {
    if (p->nflight < p->flight_cap) return true;
    size_t ncap = p->flight_cap ? p->flight_cap * 2 : 16;
    pp_export_request **n = realloc(p->flight, ncap * sizeof(*n));
    if (!n) return false;
    p->flight = n;
    p->flight_cap = ncap;
    return true;
}

static pp_export_request *sp_peek(pp_queue_storage *q) {
    spill *p = (spill *)q;
    if (!grow_flight(p)) return NULL;
    pp_export_request *prev = NULL, *m = mem_candidate(p, &prev);
    uint64_t d = pp_store_queue_head(p->disk, mem_busy, p);
    if (d && (!m || d < m->seq)) /* NULL while the replay rate cap holds: order first */
        return pp_store_queue_take(p->disk, mem_busy, p);
    if (!m) return NULL;
    if (prev) prev->next = m->next;
    else p->head = m->next;
    if (p->tail == m) p->tail = prev;
    m->next = NULL;
    p->queued--;
    p->flight[p->nflight++] = m;
    return m;
}

/* true (and out of the flight set) when r came from memory. */
static bool unflight(spill *p, pp_export_request *r) {
    for (size_t i = 0; i < p->nflight; i++)
        if (p->flight[i] == r) {
            p->flight[i] = p->flight[--p->nflight];
            return true;
        }
    return false;
}

static void sp_ack(pp_queue_storage *q, pp_export_request *r) {
    spill *p = (spill *)q;
    if (unflight(p, r)) {
        mem_release(p, r);
        pp_export_request_free(r);
    } else {
        p->disk->ack(p->disk, r);
    }
}

/* Not delivered: a memory request goes to disk, committed before this
 * returns so that no younger request of its shard can pass it. When the
 * disk refuses (quota, refuse mode), it stays in memory. */
static void sp_nack(pp_queue_storage *q, pp_export_request *r) {
    spill *p = (spill *)q;
    if (!unflight(p, r)) {
        p->disk->nack(p->disk, r);
        return;
    }
    size_t len = r->len; /* r belongs to the disk once put */
    if (p->disk->put(p->disk, r) == 0) {
        p->mem_bytes -= len;
        pp_store_flush(p->store);
    } else {
        push_front(p, r);
    }
}

static size_t sp_size(const pp_queue_storage *q) {
    const spill *p = (const spill *)q;
    return p->queued + p->nflight + p->disk->size(p->disk);
}

static size_t sp_bytes(const pp_queue_storage *q) { return ((const spill *)q)->mem_bytes; }

static void sp_destroy(pp_queue_storage *q) {
    spill *p = (spill *)q;
    for (pp_export_request *r = p->head, *n; r; r = n) {
        n = r->next;
        pp_export_request_free(r);
    }
    for (size_t i = 0; i < p->nflight; i++) pp_export_request_free(p->flight[i]);
    free(p->flight);
    p->disk->destroy(p->disk);
    free(p);
}

size_t pp_spill_to_disk(pp_queue_storage *q) {
    spill *p = (spill *)q;
    pp_export_request *keep_head = NULL, *keep_tail = NULL;
    size_t kept = 0;
    for (pp_export_request *r = p->head, *n; r; r = n) {
        n = r->next;
        size_t len = r->len; /* r belongs to the disk once put */
        if (p->disk->put(p->disk, r) == 0) {
            p->mem_bytes -= len;
            continue;
        }
        r->next = NULL;
        if (keep_tail) keep_tail->next = r;
        else keep_head = r;
        keep_tail = r;
        kept++;
    }
    p->head = keep_head;
    p->tail = keep_tail;
    p->queued = kept;
    return kept;
}

pp_export_request *pp_spill_pop_memory(pp_queue_storage *q) {
    spill *p = (spill *)q;
    pp_export_request *r = p->head;
    if (!r) return NULL;
    p->head = r->next;
    if (!p->head) p->tail = NULL;
    p->queued--;
    r->next = NULL;
    mem_release(p, r);
    return r;
}

void pp_spill_set_failing(pp_queue_storage *q, bool failing) {
    spill *p = (spill *)q;
    p->failing = failing;
    if (failing) pp_spill_to_disk(q);
}

pp_queue_storage *pp_queue_storage_spill(pp_store *s, pp_queue_storage *disk, size_t capacity,
                                         size_t max_bytes) {
    spill *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->base = (pp_queue_storage){.put = sp_put, .peek = sp_peek, .ack = sp_ack, .nack = sp_nack,
                                 .size = sp_size, .bytes = sp_bytes, .destroy = sp_destroy};
    p->store = s;
    p->disk = disk;
    p->capacity = capacity;
    p->max_bytes = max_bytes;
    return &p->base;
}
