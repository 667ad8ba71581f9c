/* arena.c -- bump allocator; see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16u
#define ARENA_MIN_BLOCK 4096u

typedef struct block {
    struct block *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(16) unsigned char data[];
} block;

struct pp_arena {
    block *head; /* current block; older ones follow */
    size_t used, reserved;
    size_t next_size; /* size of the next block: grows geometrically */
    ProtobufCAllocator allocator;
};

static void *pb_alloc(void *data, size_t size) { return pp_arena_alloc(data, size); }
static void pb_free(void *data, void *ptr) { (void)data; (void)ptr; }

static block *block_new(size_t size) {
    block *b = malloc(sizeof(block) + size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

pp_arena *pp_arena_new(size_t hint) {
    pp_arena *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->next_size = hint > ARENA_MIN_BLOCK ? hint : ARENA_MIN_BLOCK;
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
        free(b);
        b = next;
    }
    free(a);
}

void *pp_arena_alloc(pp_arena *a, size_t n) {
    if (n == 0) n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN) return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    block *b = a->head;
    if (!b || b->size - b->used < need) {
        size_t size = a->next_size;
        if (size < need) size = need;
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
        a->head = b = nb;
        a->reserved += size;
        if (a->next_size < (64u << 20)) a->next_size *= 2;
    }
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
