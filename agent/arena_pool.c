/* arena_pool.c -- see arena_pool.h. */
#include "arena_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer a pooled block is poisoned, so that a use of arena
 * memory after its batch was freed is still reported. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p) ASAN_POISON_MEMORY_REGION((p), PP_ARENA_POOL_BLOCK)
#define UNPOISON(p) ASAN_UNPOISON_MEMORY_REGION((p), PP_ARENA_POOL_BLOCK)
#else
#define POISON(p) ((void)(p))
#define UNPOISON(p) ((void)(p))
#endif

#define POOL_SLOTS (PP_ARENA_POOL_MAX / PP_ARENA_POOL_BLOCK)

/* slots[0] is the coldest block, slots[n - 1] the one freed last. */
static struct {
    pthread_mutex_t mu;
    void *slots[POOL_SLOTS];
    size_t n;
    size_t low; /* fewest blocks held since the last trim */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

void *pp_arena_pool_get(void) {
    void *b = NULL;
    pthread_mutex_lock(&pool.mu);
    if (pool.n > 0) {
        b = pool.slots[--pool.n];
        if (pool.n < pool.low) pool.low = pool.n;
    }
    pthread_mutex_unlock(&pool.mu);
    if (b) {
        UNPOISON(b);
        return b;
    }
    return malloc(PP_ARENA_POOL_BLOCK);
}

void pp_arena_pool_put(void *b) {
    if (!b) return;
    pthread_mutex_lock(&pool.mu);
    if (pool.n < POOL_SLOTS) {
        POISON(b);
        pool.slots[pool.n++] = b;
        b = NULL;
    }
    pthread_mutex_unlock(&pool.mu);
    free(b);
}

/* Takes the k coldest blocks out of the pool into out[]. Caller holds mu. */
static void take_coldest(size_t k, void **out) {
    memcpy(out, pool.slots, k * sizeof(void *));
    memmove(pool.slots, pool.slots + k, (pool.n - k) * sizeof(void *));
    pool.n -= k;
}

static size_t free_blocks(void **blocks, size_t k) {
    for (size_t i = 0; i < k; i++) {
        UNPOISON(blocks[i]);
        free(blocks[i]);
    }
    return k * PP_ARENA_POOL_BLOCK;
}

/* Frees the blocks that stayed since the last trim (all: every block), coldest
 * first; free() runs outside the lock since it may trim the heap. */
static size_t drop_coldest(bool all) {
    void *out[POOL_SLOTS]; /* 2 KiB */
    pthread_mutex_lock(&pool.mu);
    size_t k = all ? pool.n : pool.low;
    take_coldest(k, out);
    pool.low = pool.n;
    pthread_mutex_unlock(&pool.mu);
    return free_blocks(out, k);
}

size_t pp_arena_pool_trim(void) { return drop_coldest(false); }

void pp_arena_pool_release(void) { drop_coldest(true); }

size_t pp_arena_pool_bytes(void) {
    pthread_mutex_lock(&pool.mu);
    size_t n = pool.n;
    pthread_mutex_unlock(&pool.mu);
    return n * PP_ARENA_POOL_BLOCK;
}
