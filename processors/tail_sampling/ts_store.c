/* ts_store.c -- see ts_store.h. */
#include "ts_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

uint64_t ts_trace_hash(const uint8_t id[16]) {
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    /* Trace ids need not be random (tests, legacy SDKs): mix both halves. */
    uint64_t z = a ^ (b * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cache_init(ts_cache *c, size_t cap) {
    c->cap = cap;
    c->ids = cap ? calloc(cap, 16) : NULL;
    return cap && !c->ids ? -1 : 0;
}

int ts_shard_init(ts_shard *s, size_t sampled_cache, size_t not_sampled_cache) {
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->nbuckets = 1024;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    if (!s->buckets || cache_init(&s->sampled, sampled_cache) != 0 ||
        cache_init(&s->not_sampled, not_sampled_cache) != 0)
        return -1;
    return 0;
}

void ts_trace_free(ts_trace *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) pp_batch_unref(t->refs[i].batch);
    free(t->refs);
    free(t);
}

void ts_shard_free(ts_shard *s) {
    ts_trace *t = s->oldest;
    while (t) {
        ts_trace *next = t->newer;
        ts_trace_free(t);
        t = next;
    }
    free(s->buckets);
    free(s->sampled.ids);
    free(s->not_sampled.ids);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof(*s));
}

static size_t bucket_of(const ts_shard *s, uint64_t hash) {
    return (size_t)(hash >> 8) & (s->nbuckets - 1);
}

ts_trace *ts_shard_find(ts_shard *s, const uint8_t id[16], uint64_t hash) {
    for (ts_trace *t = s->buckets[bucket_of(s, hash)]; t; t = t->hnext)
        if (t->hash == hash && memcmp(t->id, id, 16) == 0) return t;
    return NULL;
}

/* Doubles the table when it holds more traces than buckets. */
static void grow(ts_shard *s) {
    size_t n = s->nbuckets * 2;
    ts_trace **nb = calloc(n, sizeof(*nb));
    if (!nb) return; /* longer chains, still correct */
    ts_trace **old = s->buckets;
    size_t oldn = s->nbuckets;
    s->buckets = nb;
    s->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        ts_trace *t = old[i];
        while (t) {
            ts_trace *next = t->hnext;
            size_t b = bucket_of(s, t->hash);
            t->hnext = nb[b];
            nb[b] = t;
            t = next;
        }
    }
    free(old);
}

ts_trace *ts_shard_add(ts_shard *s, const uint8_t id[16], uint64_t hash, int64_t now_ns) {
    ts_trace *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    memcpy(t->id, id, 16);
    t->hash = hash;
    t->first_ns = now_ns;
    t->bytes = sizeof(*t);
    if (s->count >= s->nbuckets) grow(s);
    size_t b = bucket_of(s, hash);
    t->hnext = s->buckets[b];
    s->buckets[b] = t;
    t->older = s->newest;
    if (s->newest) s->newest->newer = t;
    else s->oldest = t;
    s->newest = t;
    s->count++;
    s->bytes += t->bytes;
    return t;
}

void ts_shard_remove(ts_shard *s, ts_trace *t) {
    ts_trace **pp = &s->buckets[bucket_of(s, t->hash)];
    while (*pp && *pp != t) pp = &(*pp)->hnext;
    if (*pp) *pp = t->hnext;
    if (t->older) t->older->newer = t->newer;
    else s->oldest = t->newer;
    if (t->newer) t->newer->older = t->older;
    else s->newest = t->older;
    t->older = t->newer = t->hnext = NULL;
    s->count--;
    s->bytes -= t->bytes;
}

int ts_trace_push(ts_trace *t, const pp_span_ref *ref) {
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 4;
        pp_span_ref *nr = realloc(t->refs, ncap * sizeof(*nr));
        if (!nr) return -1;
        t->refs = nr;
        t->bytes += (ncap - t->cap) * sizeof(*nr);
        t->cap = ncap;
    }
    t->refs[t->n] = *ref;
    pp_batch_ref(ref->batch);
    t->n++;
    return 0;
}

void ts_cache_put(ts_cache *c, const uint8_t id[16], uint64_t hash) {
    if (c->cap) memcpy(c->ids[hash % c->cap], id, 16);
}

bool ts_cache_has(const ts_cache *c, const uint8_t id[16], uint64_t hash) {
    return c->cap && memcmp(c->ids[hash % c->cap], id, 16) == 0;
}

/* ---- hold counts per input batch ---- */

struct ts_batch_node {
    pp_batch *b;
    size_t holds, bytes;
    ts_batch_node *next;
};

int ts_batches_init(ts_batches *tb) {
    memset(tb, 0, sizeof(*tb));
    pthread_mutex_init(&tb->mu, NULL);
    tb->nbuckets = 256;
    tb->buckets = calloc(tb->nbuckets, sizeof(*tb->buckets));
    return tb->buckets ? 0 : -1;
}

void ts_batches_free(ts_batches *tb) {
    for (size_t i = 0; tb->buckets && i < tb->nbuckets; i++) {
        ts_batch_node *n = tb->buckets[i];
        while (n) {
            ts_batch_node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(tb->buckets);
    pthread_mutex_destroy(&tb->mu);
    memset(tb, 0, sizeof(*tb));
}

size_t ts_batch_mem(const pp_batch *b) {
    size_t m = sizeof(*b) + sizeof(ts_batch_node) + b->nparts * sizeof(*b->parts);
    if (b->arena) m += pp_arena_reserved(b->arena);
    /* A part shared with another held batch is counted twice: an over-count,
     * which keeps the budget an upper bound. */
    for (size_t i = 0; i < b->nparts; i++) m += ts_batch_mem(b->parts[i]);
    return m;
}

static size_t ptr_bucket(const ts_batches *tb, const pp_batch *b) {
    uint64_t z = (uint64_t)(uintptr_t)b * 0x9e3779b97f4a7c15ull;
    return (size_t)(z >> 32) & (tb->nbuckets - 1);
}

static void batches_grow(ts_batches *tb) {
    size_t n = tb->nbuckets * 2;
    ts_batch_node **nb = calloc(n, sizeof(*nb));
    if (!nb) return;
    ts_batch_node **old = tb->buckets;
    size_t oldn = tb->nbuckets;
    tb->buckets = nb;
    tb->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        ts_batch_node *x = old[i];
        while (x) {
            ts_batch_node *next = x->next;
            size_t k = ptr_bucket(tb, x->b);
            x->next = nb[k];
            nb[k] = x;
            x = next;
        }
    }
    free(old);
}

size_t ts_batches_hold(ts_batches *tb, pp_batch *b, size_t delta, size_t mem) {
    pthread_mutex_lock(&tb->mu);
    ts_batch_node **pp = &tb->buckets[ptr_bucket(tb, b)];
    for (ts_batch_node *n = *pp; n; n = n->next)
        if (n->b == b) {
            n->holds += delta;
            pthread_mutex_unlock(&tb->mu);
            return 0;
        }
    ts_batch_node *n = malloc(sizeof(*n));
    if (!n) {
        pthread_mutex_unlock(&tb->mu);
        return SIZE_MAX;
    }
    n->b = b;
    n->holds = delta;
    n->bytes = mem;
    n->next = *pp;
    *pp = n;
    if (++tb->count > tb->nbuckets) batches_grow(tb);
    size_t r = n->bytes;
    pthread_mutex_unlock(&tb->mu);
    return r;
}

size_t ts_batches_release(ts_batches *tb, pp_batch *b, size_t delta) {
    size_t r = 0;
    pthread_mutex_lock(&tb->mu);
    ts_batch_node **pp = &tb->buckets[ptr_bucket(tb, b)];
    while (*pp && (*pp)->b != b) pp = &(*pp)->next;
    ts_batch_node *n = *pp;
    if (n) {
        n->holds = n->holds > delta ? n->holds - delta : 0;
        if (n->holds == 0) {
            r = n->bytes;
            *pp = n->next;
            tb->count--;
            free(n);
        }
    }
    pthread_mutex_unlock(&tb->mu);
    return r;
}
