/* memory_probe.c -- see memory_probe.h.
 *
 * The Collector's memory_limiter measures the Go heap; pipit has no heap of
 * its own to ask, so the honest measure is RSS: what the kernel (and an OOM
 * killer or a cgroup limit) counts against the process. */
#include "memory_probe.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t (*usage_probe)(void);
static uint64_t (*total_probe)(void);

void pp_memory_limiter_set_probe(uint64_t (*probe)(void)) { usage_probe = probe; }
void pp_memory_limiter_set_total_probe(uint64_t (*probe)(void)) { total_probe = probe; }

uint64_t pp_memory_usage(void) {
    if (usage_probe) return usage_probe();
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

/* The first line of root/path as an unsigned number; 0 when absent, "max" or
 * not a number. */
static uint64_t read_number(const char *root, const char *path) {
    char full[512], line[64];
    snprintf(full, sizeof(full), "%s%s", root, path);
    FILE *f = fopen(full, "r");
    if (!f) return 0;
    uint64_t v = 0;
    if (fgets(line, sizeof(line), f) && sscanf(line, "%" SCNu64, &v) != 1) v = 0;
    fclose(f);
    return v;
}

static uint64_t meminfo_total(const char *root) {
    char full[512], line[256];
    snprintf(full, sizeof(full), "%s/proc/meminfo", root);
    FILE *f = fopen(full, "r");
    if (!f) return 0;
    uint64_t kib = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1) break;
    fclose(f);
    return kib * 1024;
}

uint64_t pp_memory_total(const char *root) {
    if (total_probe) return total_probe();
    uint64_t machine = meminfo_total(root);
    uint64_t cgroup = read_number(root, "/sys/fs/cgroup/memory.max");
    if (cgroup == 0) cgroup = read_number(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes");
    /* cgroup v1 writes "no limit" as a huge number: only a limit below the
     * machine's memory is one. */
    if (cgroup > 0 && (machine == 0 || cgroup < machine)) return cgroup;
    return machine;
}
