/* mem_release.c -- see mem_release.h. */
#include "mem_release.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <stdlib.h>

#include "arena_pool.h"

struct pp_mem_release {
    uv_timer_t timer;
};

/* Free bytes in malloc's heaps that a trim could give back, or 0 where that
 * cannot be known. */
static size_t heap_free_bytes(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return mi.fordblks;
#else
    return 0;
#endif
}

/* fordblks counts free chunks whether or not their pages are still resident,
 * so after one trim it stays high; what calls for a trim is free memory that
 * appeared since (the lowest value seen since the last trim, plus the slack). */
static size_t free_floor = SIZE_MAX;

size_t pp_mem_release_once(void) {
    size_t released = pp_arena_pool_trim();
    size_t free_heap = heap_free_bytes();
    if (free_heap < free_floor) free_floor = free_heap;
    if (free_heap - free_floor > PP_MEM_RELEASE_SLACK) {
#ifdef __GLIBC__
        malloc_trim(0);
#endif
        released += free_heap - free_floor;
        free_floor = heap_free_bytes();
    }
    return released;
}

static void on_timer(uv_timer_t *t) {
    (void)t;
    pp_mem_release_once();
}

pp_mem_release *pp_mem_release_start(uv_loop_t *loop) {
    pp_mem_release *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    if (uv_timer_init(loop, &r->timer) != 0) {
        free(r);
        return NULL;
    }
    r->timer.data = r;
    uv_timer_start(&r->timer, on_timer, PP_MEM_RELEASE_PERIOD_MS, PP_MEM_RELEASE_PERIOD_MS);
    /* Not a reason to keep the loop running. */
    uv_unref((uv_handle_t *)&r->timer);
    return r;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void pp_mem_release_stop(pp_mem_release *r) {
    if (!r) return;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_closed);
}
