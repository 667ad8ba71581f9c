/* sm_internal.h -- the series layout shared by sm_agg.c and sm_emit.c. */
#ifndef PIPIT_SM_INTERNAL_H
#define PIPIT_SM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "aggregate/exphist.h"
#include "aggregate/keymap.h"
#include "sm_agg.h"

#define SM_SHARDS 16

typedef struct sm_hist {
    uint64_t count;
    double sum;
    uint64_t *buckets; /* explicit: nbounds + 1 (allocated on first use) */
    int32_t scale;     /* exponential */
    uint64_t zero;
    pp_exph_range pos;
} sm_hist;

typedef struct sm_exemplar {
    uint8_t trace_id[16], span_id[8];
    double value;
    uint64_t time;
} sm_exemplar;

typedef struct sm_series {
    int64_t touched_ns;     /* last span */
    int64_t start_ns;       /* cumulative start; delta: start of the pending interval */
    size_t svc_len;         /* key bytes of the service.name pair (0: none) */
    uint64_t calls, unsent_calls;
    sm_hist cur, unsent;    /* unsent: delta taken by a snapshot, not yet committed */
    sm_exemplar *ex;        /* ring of max_exemplars */
    size_t nex, ex_next;
} sm_series;

typedef struct sm_shard {
    pthread_mutex_t lock;
    pp_keymap *map;
} sm_shard;

struct sm_agg {
    sm_agg_options o;
    atomic_size_t count;
    sm_shard shards[SM_SHARDS];
    unsigned char overflow_key[64];
    size_t overflow_len;
};

/* Adds src into dst (same configuration). -1 on OOM. */
int sm_hist_merge(const sm_agg *g, sm_hist *dst, const sm_hist *src);
void sm_hist_clear(sm_hist *h);
void sm_hist_free(sm_hist *h);
void sm_series_fini(void *series); /* keymap fini */

#endif
