/* arena.h -- a bump allocator for one decoded request.
 *
 * A request decoded by protobuf-c allocates hundreds of small objects (every
 * KeyValue, AnyValue, string). Allocating them from one arena makes the decode
 * cheaper and lets the whole request be freed with one call when the last
 * consumer lets go of the batch. Frees of single objects are no-ops. */
#ifndef PIPIT_ARENA_H
#define PIPIT_ARENA_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct pp_arena pp_arena;

/* hint: expected number of bytes (0 for a default); the arena grows as needed. */
pp_arena *pp_arena_new(size_t hint);
void pp_arena_destroy(pp_arena *a);

/* Returns memory aligned for any type, or NULL if out of memory. */
void *pp_arena_alloc(pp_arena *a, size_t n);
char *pp_arena_strdup(pp_arena *a, const char *s);

/* Bytes handed out and bytes reserved from the system. */
size_t pp_arena_used(const pp_arena *a);
size_t pp_arena_reserved(const pp_arena *a);

/* A ProtobufCAllocator that allocates from this arena (valid while it lives). */
ProtobufCAllocator *pp_arena_allocator(pp_arena *a);

#endif
