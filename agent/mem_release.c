/* mem_release.c -- see mem_release.h. */
#include "mem_release.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "arena_pool.h"

struct pp_mem_release {
    uv_timer_t timer;
};

/* Resident anonymous memory that malloc does not account as in use: free
 * heap pages still resident, plus what is not malloc's at all (stacks, the
 * libraries' data), which stays about constant. mallinfo2's free count alone
 * cannot tell: it counts free chunks whether or not their pages are resident.
 * Returns false where this cannot be known. */
static bool heap_excess(int64_t *out) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f) return false;
    unsigned long size, resident, shared;
    int n = fscanf(f, "%lu %lu %lu", &size, &resident, &shared);
    fclose(f);
    if (n != 3) return false;
    struct mallinfo2 mi = mallinfo2();
    int64_t anon = (int64_t)(resident - shared) * (int64_t)sysconf(_SC_PAGESIZE);
    *out = anon - (int64_t)(mi.uordblks + mi.hblkhd);
    return true;
#else
    (void)out;
    return false;
#endif
}

/* A trim is due when the excess has stayed more than the slack above its
 * lowest value since the last trim (the part that is not malloc's) for the
 * last PP_MEM_RELEASE_SAMPLES passes. A steady load's churn (an exporter's
 * request buffers freed and taken again) keeps some free memory resident all
 * the time; trimming it every few seconds costs a few hundred page faults a
 * second, while keeping what a burst left would cost megabytes for good.
 * Only the timer's thread calls this. */
static struct {
    int64_t floor;
    unsigned above; /* passes in a row above floor + slack */
} heap = {.floor = INT64_MAX};

static bool heap_trim_due(void) {
    int64_t excess;
    if (!heap_excess(&excess)) return false;
    if (excess < heap.floor) heap.floor = excess;
    if (excess <= heap.floor + (int64_t)PP_MEM_RELEASE_SLACK) {
        heap.above = 0;
        return false;
    }
    return ++heap.above >= PP_MEM_RELEASE_SAMPLES;
}

static void heap_trim(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    heap.above = 0;
    int64_t excess;
    if (heap_excess(&excess)) heap.floor = excess; /* the part that is not malloc's */
}

size_t pp_mem_release_once(void) {
    size_t released = pp_arena_pool_trim();
    /* Blocks the pool let go of were idle for a whole period already. */
    if (heap_trim_due() || released > PP_MEM_RELEASE_SLACK) heap_trim();
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
