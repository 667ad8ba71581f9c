/* mem_release.h -- gives memory that pipit no longer uses back to the system.
 *
 * A timer on the main loop, once a second: the arena pool frees the blocks it
 * did not hand out during the last period (arena_pool.h), and when glibc's
 * heaps have kept free memory resident for a few seconds, malloc_trim
 * returns those pages. glibc itself only gives back memory at the top of a heap, so
 * after a burst each thread's arena kept what the burst had freed: S1 (gRPC
 * -> batch -> otlp) at 10 000 spans/s after a saturation run held 133 MiB,
 * 15 MiB after one malloc_trim. */
#ifndef PIPIT_MEM_RELEASE_H
#define PIPIT_MEM_RELEASE_H

#include <stddef.h>
#include <uv.h>

#define PP_MEM_RELEASE_PERIOD_MS 1000
/* malloc_trim runs once resident free heap memory has stayed more than the
 * slack above its level after the last trim for this many passes in a row,
 * or when the pool let go of more than the slack. */
#define PP_MEM_RELEASE_SAMPLES 3
#define PP_MEM_RELEASE_SLACK ((size_t)1 << 20)

typedef struct pp_mem_release pp_mem_release;

/* Starts the timer on loop (the main thread's); NULL when out of memory. */
pp_mem_release *pp_mem_release_start(uv_loop_t *loop);
/* Stops and closes the timer (the loop finishes the close and frees it). */
void pp_mem_release_stop(pp_mem_release *r);

/* One pass, as the timer runs it; returns the bytes of pool blocks freed. */
size_t pp_mem_release_once(void);

#endif
