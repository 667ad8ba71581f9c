/* bench_clock.h -- the clocks and the memory reading the benchmark programs
 * share. CPU time is what they report: on a shared, loaded machine wall time
 * would measure the neighbours. */
#ifndef PIPIT_BENCH_CLOCK_H
#define PIPIT_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

static inline double bench_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process, of the calling thread, and wall seconds. */
static inline double bench_cpu_s(void) { return bench_seconds(CLOCK_PROCESS_CPUTIME_ID); }
static inline double bench_thread_cpu_s(void) { return bench_seconds(CLOCK_THREAD_CPUTIME_ID); }
static inline double bench_wall_s(void) { return bench_seconds(CLOCK_MONOTONIC); }

/* Peak resident set size so far, KiB. */
static inline long bench_peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

#endif
