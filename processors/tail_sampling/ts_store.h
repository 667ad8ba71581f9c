/* ts_store.h -- tail_sampling's held traces, one shard of them.
 *
 * A shard is a hash table of pending traces (by trace id), a list of them in
 * order of first arrival (oldest first, for decisions and eviction), and two
 * caches of decided trace ids (sampled, not sampled) for late spans. The
 * owner locks the shard's mutex around every call. A trace holds references
 * into input batches (pp_span_ref), one batch reference per span held.
 *
 * ts_batches counts, for the whole processor, how many held spans reference
 * each input batch: a held span keeps its whole batch (arena and parts)
 * alive, so the memory budget counts each such batch once, from the first
 * span held to the release of the last one. */
#ifndef PIPIT_TS_STORE_H
#define PIPIT_TS_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch_select.h"

typedef struct ts_trace ts_trace;
struct ts_trace {
    uint8_t id[16];
    uint64_t hash;
    ts_trace *hnext;        /* hash chain */
    ts_trace *older, *newer; /* age list */
    int64_t first_ns;
    size_t bytes; /* what this trace counts against the budget */
    pp_span_ref *refs;
    size_t n, cap;
};

/* Decided trace ids, direct-mapped by hash: a newer id takes the slot of an
 * older one (an approximation of the Collector's LRU, with no allocation). */
typedef struct ts_cache {
    uint8_t (*ids)[16];
    size_t cap;
} ts_cache;

typedef struct ts_shard {
    pthread_mutex_t mu;
    ts_trace **buckets;
    size_t nbuckets, count, bytes;
    ts_trace *oldest, *newest;
    ts_cache sampled, not_sampled;
} ts_shard;

/* The hash of a trace id (its shard is hash % number of shards). */
uint64_t ts_trace_hash(const uint8_t id[16]);

int ts_shard_init(ts_shard *s, size_t sampled_cache, size_t not_sampled_cache);
/* Frees every trace still held (dropping its references). */
void ts_shard_free(ts_shard *s);

ts_trace *ts_shard_find(ts_shard *s, const uint8_t id[16], uint64_t hash);
/* A new empty trace, inserted as the newest; NULL when out of memory. */
ts_trace *ts_shard_add(ts_shard *s, const uint8_t id[16], uint64_t hash, int64_t now_ns);
/* Takes t out of the table and the age list; its bytes leave the shard's. */
void ts_shard_remove(ts_shard *s, ts_trace *t);

/* Appends a span (taking a reference to ref->batch); -1 when out of memory.
 * t->bytes follows: sizeof(ts_trace) + cap * sizeof(pp_span_ref). */
int ts_trace_push(ts_trace *t, const pp_span_ref *ref);
void ts_trace_free(ts_trace *t);

void ts_cache_put(ts_cache *c, const uint8_t id[16], uint64_t hash);
bool ts_cache_has(const ts_cache *c, const uint8_t id[16], uint64_t hash);

/* Hold counts per input batch, under their own mutex (taken after a shard's,
 * never before). */
typedef struct ts_batch_node ts_batch_node;
typedef struct ts_batches {
    pthread_mutex_t mu;
    ts_batch_node **buckets;
    size_t nbuckets, count;
} ts_batches;

int ts_batches_init(ts_batches *tb);
void ts_batches_free(ts_batches *tb);

/* Memory a held span of b keeps alive: b, its arena's reserved bytes, its
 * parts (recursively), and the node that counts it. */
size_t ts_batch_mem(const pp_batch *b);

/* Adds delta (> 0) to b's hold count. Returns the bytes that start to count
 * (mem, normally ts_batch_mem(b), when b was not held yet, else 0); SIZE_MAX when out of
 * memory (b is then not counted and must not be held). */
size_t ts_batches_hold(ts_batches *tb, pp_batch *b, size_t delta, size_t mem);
/* Takes delta from b's hold count. Returns the bytes that stop counting
 * (b's when its count reaches 0, else 0). */
size_t ts_batches_release(ts_batches *tb, pp_batch *b, size_t delta);

#endif
