/* keymap.h -- a hash map from byte keys (ident.h) to fixed-size values.
 *
 * Not thread-safe: users shard it and lock each shard. One allocation per
 * entry holds the value and a copy of the key; the value area is zeroed on
 * insert and stays at the same address until the entry is removed. */
#ifndef PIPIT_AGG_KEYMAP_H
#define PIPIT_AGG_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pp_keymap pp_keymap;

/* value_size: bytes of every value. */
pp_keymap *pp_keymap_new(size_t value_size);
/* Calls fini(value) for each entry (fini may be NULL), then frees. */
void pp_keymap_free(pp_keymap *m, void (*fini)(void *value));

void *pp_keymap_find(const pp_keymap *m, const void *key, size_t klen, uint64_t hash);
/* Adds an entry the caller knows is absent; returns its zeroed value, NULL on OOM. */
void *pp_keymap_insert(pp_keymap *m, const void *key, size_t klen, uint64_t hash);
size_t pp_keymap_count(const pp_keymap *m);
/* The key of a value returned by find/insert. */
const void *pp_keymap_key(const void *value, size_t *klen);

/* Visits every entry; when fn returns true the entry is removed (after
 * fini(value), fini may be NULL). Safe against removal of the visited entry. */
void pp_keymap_sweep(pp_keymap *m, bool (*fn)(void *value, void *arg), void *arg,
                     void (*fini)(void *value));

#endif
