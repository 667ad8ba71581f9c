/* memory_probe.h -- how much memory pipit uses and how much it may use, for
 * the memory_limiter processor. Internal to it (and its tests). */
#ifndef PIPIT_MEMORY_PROBE_H
#define PIPIT_MEMORY_PROBE_H

#include <stdint.h>

/* The process's resident set size in bytes (/proc/self/statm), or the test
 * probe's value when one is set; 0 when unknown. */
uint64_t pp_memory_usage(void);

/* The memory available to pipit in bytes: the cgroup limit (v2 memory.max,
 * else v1 memory.limit_in_bytes) when set and below the machine's, else
 * /proc/meminfo MemTotal; 0 when unknown. root prefixes every path ("" for
 * this system; tests pass a directory holding fake files). The test total
 * probe, when set, answers instead. */
uint64_t pp_memory_total(const char *root);

/* Tests: replace the readers (NULL restores them). Not thread-safe: call
 * before the service starts. */
void pp_memory_limiter_set_probe(uint64_t (*probe)(void));
void pp_memory_limiter_set_total_probe(uint64_t (*probe)(void));

#endif
