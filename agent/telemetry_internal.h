/* telemetry_internal.h -- the registry's data, shared by telemetry.c (which
 * registers and updates) and telemetry_render.c (which exposes). */
#ifndef PIPIT_TELEMETRY_INTERNAL_H
#define PIPIT_TELEMETRY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "strbuf.h"
#include "telemetry.h"

typedef enum pp_mtype { PP_MT_COUNTER, PP_MT_GAUGE, PP_MT_HISTOGRAM } pp_mtype;

struct pp_counter {
    atomic_uint_least64_t v;
};

struct pp_gauge {
    atomic_int_least64_t v;
    int64_t (*fn)(void *); /* under owner->mu */
    void *arg;
    pp_metrics *owner;
};

struct pp_histogram {
    const double *bounds; /* the family's */
    size_t nbounds;
    atomic_uint_least64_t sum_bits; /* a double, updated with a CAS loop */
    atomic_uint_least64_t *buckets; /* nbounds + 1, not cumulative */
};

typedef struct pp_series {
    char **labels; /* name, value, name, value ..., sorted by name */
    size_t nlabels; /* pairs */
    double (*dfn)(void *); /* scrape-time value in float seconds etc. (process metrics) */
    void *darg;
    union {
        struct pp_counter c;
        struct pp_gauge g;
        struct pp_histogram h;
    } u;
} pp_series;

typedef struct pp_family {
    char *name, *help;
    pp_mtype type;
    double *bounds; /* histograms */
    size_t nbounds;
    pp_series **series; /* sorted by label values, so rendering is stable */
    size_t nseries, cap;
} pp_family;

struct pp_metrics {
    pthread_mutex_t mu;
    pp_family **families; /* sorted by name */
    size_t nfamilies, cap;
};

/* Appends the exposition of every family; called with m->mu held. */
void pp_metrics_render_locked(pp_metrics *m, pp_strbuf *sb);
/* Shortest text that reads back as v, spelled as Go's strconv 'g' -1 does
 * ("0.005", "1", "1e+06", "+Inf"), which is what Prometheus clients emit. */
void pp_format_float(double v, char *out, size_t outlen);

#endif
