/* keymap.c -- see keymap.h. Chained buckets, doubled at load factor 1. */
#include "keymap.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    size_t klen;
    unsigned char *key; /* points behind the value */
    alignas(max_align_t) unsigned char value[]; /* value_size bytes, then the key */
} entry;

struct pp_keymap {
    entry **buckets;
    size_t nbuckets, count, value_size;
};

static entry *entry_of(const void *value) {
    return (entry *)(void *)((unsigned char *)(uintptr_t)value - offsetof(entry, value));
}

pp_keymap *pp_keymap_new(size_t value_size) {
    pp_keymap *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->nbuckets = 64;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    /* Rounded so that the key behind the value never shares its alignment slot. */
    m->value_size = (value_size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    return m;
}

void pp_keymap_sweep(pp_keymap *m, bool (*fn)(void *value, void *arg), void *arg,
                     void (*fini)(void *value)) {
    for (size_t i = 0; i < m->nbuckets; i++) {
        entry **pp = &m->buckets[i];
        while (*pp) {
            entry *e = *pp;
            if (fn(e->value, arg)) {
                *pp = e->next;
                if (fini) fini(e->value);
                free(e);
                m->count--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static bool remove_all(void *value, void *arg) {
    (void)value;
    (void)arg;
    return true;
}

void pp_keymap_free(pp_keymap *m, void (*fini)(void *value)) {
    if (!m) return;
    pp_keymap_sweep(m, remove_all, NULL, fini);
    free(m->buckets);
    free(m);
}

void *pp_keymap_find(const pp_keymap *m, const void *key, size_t klen, uint64_t hash) {
    for (entry *e = m->buckets[hash & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == hash && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e->value;
    return NULL;
}

static void grow(pp_keymap *m) {
    size_t n = m->nbuckets * 2;
    entry **b = calloc(n, sizeof(*b));
    if (!b) return; /* stay at a higher load factor */
    for (size_t i = 0; i < m->nbuckets; i++) {
        entry *e = m->buckets[i];
        while (e) {
            entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void *pp_keymap_insert(pp_keymap *m, const void *key, size_t klen, uint64_t hash) {
    entry *e = calloc(1, sizeof(entry) + m->value_size + klen);
    if (!e) return NULL;
    e->hash = hash;
    e->klen = klen;
    e->key = e->value + m->value_size;
    if (klen) memcpy(e->key, key, klen);
    if (m->count >= m->nbuckets) grow(m);
    entry **slot = &m->buckets[hash & (m->nbuckets - 1)];
    e->next = *slot;
    *slot = e;
    m->count++;
    return e->value;
}

size_t pp_keymap_count(const pp_keymap *m) { return m->count; }

const void *pp_keymap_key(const void *value, size_t *klen) {
    entry *e = entry_of(value);
    *klen = e->klen;
    return e->key;
}
