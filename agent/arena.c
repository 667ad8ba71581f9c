/* arena.c -- bump allocator; see arena.h.
 *
 * Blocks grow geometrically from the hint (small requests stay small) up to
 * the pool's block size; from there on every block is a pooled one
 * (arena_pool.h), and an object too big for one gets a block of its own. */
#include "arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena_pool.h"

#define ARENA_ALIGN 16u
#define ARENA_MIN_BLOCK 4096u

typedef struct block {
    struct block *next;
    size_t size; /* usable bytes in data */
    size_t used;
    bool pooled; /* from arena_pool: goes back there */
    _Alignas(16) unsigned char data[];
} block;

#define POOLED_SIZE (PP_ARENA_POOL_BLOCK - sizeof(block))

struct pp_arena {
    block *head; /* current block; older ones follow */
    size_t used, reserved;
    size_t next_size; /* size of the next block: grows geometrically */
    ProtobufCAllocator allocator;
};

static void *pb_alloc(void *data, size_t size) { return pp_arena_alloc(data, size); }
static void pb_free(void *data, void *ptr) { (void)data; (void)ptr; }

static block *block_new(size_t size) {
    bool pooled = size == POOLED_SIZE;
    block *b = pooled ? pp_arena_pool_get() : malloc(sizeof(block) + size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    b->pooled = pooled;
    return b;
}

static void block_free(block *b) {
    if (b->pooled) pp_arena_pool_put(b);
    else free(b);
}

pp_arena *pp_arena_new(size_t hint) {
    pp_arena *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->next_size = hint > ARENA_MIN_BLOCK ? hint : ARENA_MIN_BLOCK;
    if (a->next_size > POOLED_SIZE) a->next_size = POOLED_SIZE;
    a->allocator.alloc = pb_alloc;
    a->allocator.free = pb_free;
    a->allocator.allocator_data = a;
    return a;
}

void pp_arena_destroy(pp_arena *a) {
    if (!a) return;
    block *b = a->head;
    while (b) {
        block *next = b->next;
        block_free(b);
        b = next;
    }
    free(a);
}

/* A new block for an object of need bytes (the current one is full). Apart
 * from pp_arena_alloc so that its fast path stays a few instructions: it
 * runs for every object protobuf-c decodes. */
__attribute__((noinline)) static void *alloc_in_new_block(pp_arena *a, size_t need) {
    block *b = a->head;
    /* A large object gets a block of its exact size rather than leaving
     * most of the current block (or of a pooled one) unused. */
    size_t size = a->next_size;
    if (size < need || need > POOLED_SIZE / 4) size = need;
    block *nb = block_new(size);
    if (!nb) return NULL;
    /* Keep filling the current block when the new one is a one-off for a
     * large object and the current one still has room. */
    if (b && size == need && b->size - b->used >= ARENA_MIN_BLOCK / 4) {
        nb->next = b->next;
        b->next = nb;
        nb->used = need;
        a->used += need;
        a->reserved += size;
        return nb->data;
    }
    nb->next = b;
    a->head = nb;
    a->reserved += size;
    if (a->next_size < POOLED_SIZE) {
        a->next_size *= 2;
        if (a->next_size > POOLED_SIZE) a->next_size = POOLED_SIZE;
    }
    nb->used = need;
    a->used += need;
    return nb->data;
}

void *pp_arena_alloc(pp_arena *a, size_t n) {
    if (n == 0) n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN) return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    block *b = a->head;
    if (__builtin_expect(!b || b->size - b->used < need, 0)) return alloc_in_new_block(a, need);
    void *p = b->data + b->used;
    b->used += need;
    a->used += need;
    return p;
}

char *pp_arena_strdup(pp_arena *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = pp_arena_alloc(a, n);
    if (p) memcpy(p, s, n);
    return p;
}

size_t pp_arena_used(const pp_arena *a) { return a->used; }
size_t pp_arena_reserved(const pp_arena *a) { return a->reserved; }
ProtobufCAllocator *pp_arena_allocator(pp_arena *a) { return &a->allocator; }
