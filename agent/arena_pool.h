/* arena_pool.h -- recycled fixed-size blocks for request arenas.
 *
 * Decoded requests live in arenas (arena.h) and are freed a few hundred KiB
 * at a time when the batch processor sends them. Through plain malloc/free
 * those blocks went back to glibc, whose heap trimming gave the pages to the
 * kernel at each flush and faulted them in again for the next requests: at a
 * steady 10 000 spans/s about 2 500 page faults a second, a fifth of pipit's
 * CPU. The pool keeps freed blocks for the next arena, most recently used
 * first (their pages are resident and likely cached), up to a cap, and
 * pp_arena_pool_trim() returns the blocks that were not needed during the last
 * period, so that memory follows the load back down. */
#ifndef PIPIT_ARENA_POOL_H
#define PIPIT_ARENA_POOL_H

#include <stddef.h>

/* Size of every pooled block (what malloc is asked for). */
#define PP_ARENA_POOL_BLOCK ((size_t)64 << 10)
/* At most this many bytes wait in the pool; further blocks are freed. */
#define PP_ARENA_POOL_MAX ((size_t)16 << 20)

/* A block of PP_ARENA_POOL_BLOCK bytes, aligned as malloc aligns, from the
 * pool or from malloc; NULL when out of memory. Any thread. */
void *pp_arena_pool_get(void);
/* Gives a block from pp_arena_pool_get back (to the pool, or to free()). */
void pp_arena_pool_put(void *block);

/* Frees the blocks that stayed in the pool through the whole time since the
 * previous call (the low-water mark), coldest first. Call it periodically;
 * returns the bytes freed. */
size_t pp_arena_pool_trim(void);
/* Frees every pooled block (at exit, and for tests). */
void pp_arena_pool_release(void);
/* Bytes waiting in the pool now. */
size_t pp_arena_pool_bytes(void);

#endif
