/* interval_state.c -- see interval_state.h. */
#include "interval_state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/ident.h"
#include "aggregate/keymap.h"
#include "aggregate/metric_points.h"

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x

typedef struct entry {
    pp_batch *src; /* holds the point's memory */
    const pp_resource_metrics *rm;
    const pp_scope_metrics *sm;
    const pp_metric *m;
    void *point;
    uint64_t time;
    size_t prefix[3]; /* key lengths of the resource, scope and metric parts */
} entry;

struct iv_state {
    pthread_mutex_t lock;
    pp_keymap *map;
};

static void entry_fini(void *v) { pp_batch_unref(((entry *)v)->src); }

iv_state *iv_state_new(void) {
    iv_state *s = calloc(1, sizeof(*s));
    if (!s || !(s->map = pp_keymap_new(sizeof(entry)))) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void iv_state_free(iv_state *s) {
    if (!s) return;
    pp_keymap_free(s->map, entry_fini);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

size_t iv_state_count(iv_state *s) {
    pthread_mutex_lock(&s->lock);
    size_t n = pp_keymap_count(s->map);
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Attributes and time of any point type. */
static pp_key_value **point_attrs(const pp_metric *m, const void *p, size_t *n, uint64_t *time) {
    switch (m->data_case) {
    case M(METRIC__DATA_GAUGE):
    case M(METRIC__DATA_SUM): {
        const pp_number_point *x = p;
        *n = x->n_attributes, *time = x->time_unix_nano;
        return x->attributes;
    }
    case M(METRIC__DATA_HISTOGRAM): {
        const pp_histogram_point *x = p;
        *n = x->n_attributes, *time = x->time_unix_nano;
        return x->attributes;
    }
    case M(METRIC__DATA_EXPONENTIAL_HISTOGRAM): {
        const pp_exp_histogram_point *x = p;
        *n = x->n_attributes, *time = x->time_unix_nano;
        return x->attributes;
    }
    default: {
        const pp_summary_point *x = p;
        *n = x->n_attributes, *time = x->time_unix_nano;
        return x->attributes;
    }
    }
}

/* Caller holds the lock. Takes over the reference e->src. */
static int put_locked(iv_state *s, const entry *e, const pp_strbuf *k) {
    uint64_t h = pp_ident_hash(k->p, k->len);
    entry *cur = pp_keymap_find(s->map, k->p, k->len, h);
    if (cur) {
        if (cur->time > e->time) { /* already newer */
            pp_batch_unref(e->src);
            return 0;
        }
        pp_batch_unref(cur->src);
        *cur = *e;
        return 0;
    }
    if (!(cur = pp_keymap_insert(s->map, k->p, k->len, h))) {
        pp_batch_unref(e->src);
        return -1;
    }
    *cur = *e;
    return 0;
}

static int put(iv_state *s, pp_batch *b, const pp_resource_metrics *rm, const pp_scope_metrics *sm,
               const pp_metric *m, void *point) {
    entry e = {.src = b, .rm = rm, .sm = sm, .m = m, .point = point};
    size_t n;
    pp_key_value **attrs = point_attrs(m, point, &n, &e.time);
    pp_stream_id id = {rm->resource, sm->scope, m, attrs, n};
    pp_strbuf k = PP_STRBUF_INIT;
    /* Temporality is part of the identity: a stream changing it is another one. */
    pp_ident_stream(&k, &id, (uint64_t)pp_metric_temporality(m), e.prefix);
    if (k.oom) {
        pp_batch_unref(b);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    int rc = put_locked(s, &e, &k);
    pthread_mutex_unlock(&s->lock);
    pp_sb_free(&k);
    return rc;
}

int iv_state_put(iv_state *s, pp_batch *b, const pp_resource_metrics *rm,
                 const pp_scope_metrics *sm, const pp_metric *m, void *point) {
    return put(s, pp_batch_ref(b), rm, sm, m, point);
}

/* ---- emission ---- */

typedef struct item { const unsigned char *key; size_t klen; entry e; } item;
typedef struct items { item *v; size_t n; bool oom; } items;

static bool collect(void *value, void *arg) {
    items *it = arg;
    entry *e = value;
    size_t klen;
    const unsigned char *key = pp_keymap_key(value, &klen);
    unsigned char *copy = malloc(klen ? klen : 1);
    if (!copy) {
        it->oom = true;
        return false;
    }
    memcpy(copy, key, klen);
    it->v[it->n++] = (item){copy, klen, *e};
    pp_batch_ref(e->src); /* the item's own reference */
    return false;
}

static int item_cmp(const void *a, const void *b) {
    const item *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Same first `part` parts of the key (0 resource, 1 scope, 2 metric)? */
static bool same(const item *a, const item *b, int part) {
    return a->e.prefix[part] == b->e.prefix[part] &&
           memcmp(a->key, b->key, a->e.prefix[part]) == 0;
}

static pp_metric *out_metric(pp_arena *a, const item *v, size_t n) {
    void **pts = pp_arena_alloc(a, n * sizeof(void *));
    if (!pts) return NULL;
    for (size_t i = 0; i < n; i++) pts[i] = v[i].e.point;
    return pp_metric_with_points(a, v[0].e.m, pts, n, -1);
}

/* Counts the groups of items [0, n) sharing the first `part` parts. */
static size_t groups(const item *v, size_t n, int part) {
    size_t g = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !same(&v[i - 1], &v[i], part)) g++;
    return g;
}

static pp_scope_metrics *out_scope(pp_arena *a, const item *v, size_t n) {
    pp_scope_metrics *c = pp_arena_alloc(a, sizeof(*c));
    size_t ng = groups(v, n, 2);
    pp_metric **ms = pp_arena_alloc(a, ng * sizeof(*ms));
    if (!c || !ms) return NULL;
    *c = *v[0].e.sm;
    size_t g = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same(&v[i], &v[j], 2)) j++;
        if (!(ms[g++] = out_metric(a, &v[i], j - i))) return NULL;
        i = j;
    }
    c->metrics = ms;
    c->n_metrics = ng;
    return c;
}

static pp_resource_metrics *out_resource(pp_arena *a, const item *v, size_t n) {
    pp_resource_metrics *c = pp_arena_alloc(a, sizeof(*c));
    size_t ng = groups(v, n, 1);
    pp_scope_metrics **sms = pp_arena_alloc(a, ng * sizeof(*sms));
    if (!c || !sms) return NULL;
    *c = *v[0].e.rm;
    size_t g = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same(&v[i], &v[j], 1)) j++;
        if (!(sms[g++] = out_scope(a, &v[i], j - i))) return NULL;
        i = j;
    }
    c->scope_metrics = sms;
    c->n_scope_metrics = ng;
    return c;
}

static pp_batch *build(items *it) {
    pp_batch *b = pp_batch_new(PP_METRICS, 0);
    if (!b) return NULL;
    qsort(it->v, it->n, sizeof(item), item_cmp);
    for (size_t i = 0; i < it->n; i++)
        if ((i == 0 || it->v[i].e.src != it->v[i - 1].e.src) && pp_batch_borrow(b, it->v[i].e.src) != 0)
            goto oom;
    size_t ng = groups(it->v, it->n, 0);
    pp_resource_metrics **rms = pp_arena_alloc(b->arena, ng * sizeof(*rms));
    if (!rms) goto oom;
    size_t g = 0;
    for (size_t i = 0; i < it->n;) {
        size_t j = i + 1;
        while (j < it->n && same(&it->v[i], &it->v[j], 0)) j++;
        if (!(rms[g++] = out_resource(b->arena, &it->v[i], j - i))) goto oom;
        i = j;
    }
    b->metrics->resource_metrics = rms;
    b->metrics->n_resource_metrics = ng;
    pp_batch_recount(b);
    return b;
oom:
    pp_batch_unref(b);
    return NULL;
}

static bool take_all(void *value, void *arg) {
    (void)value;
    (void)arg;
    return true;
}

pp_batch *iv_state_take(iv_state *s, bool *oom) {
    *oom = false;
    pthread_mutex_lock(&s->lock);
    size_t n = pp_keymap_count(s->map);
    items it = {n ? malloc(n * sizeof(item)) : NULL, 0, false};
    if (n && !it.v) it.oom = true;
    if (n && !it.oom) pp_keymap_sweep(s->map, collect, &it, NULL);
    pp_batch *b = n && !it.oom ? build(&it) : NULL;
    if (b) pp_keymap_sweep(s->map, take_all, NULL, entry_fini);
    *oom = n && !b;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < it.n; i++) {
        free((void *)(uintptr_t)it.v[i].key);
        pp_batch_unref(it.v[i].e.src);
    }
    free(it.v);
    return b;
}

long iv_state_put_batch(iv_state *s, pp_batch *b, bool (*keep)(const pp_metric *m, const void *arg),
                        const void *arg) {
    const pp_metrics_req *r = b->metrics;
    long kept = 0;
    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        const pp_resource_metrics *rm = r->resource_metrics[i];
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const pp_scope_metrics *sm = rm->scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics; k++) {
                const pp_metric *m = sm->metrics[k];
                if (keep && !keep(m, arg)) continue;
                size_t np;
                void **pts = pp_metric_points(m, &np);
                for (size_t p = 0; p < np; p++, kept++)
                    if (iv_state_put(s, b, rm, sm, m, pts[p]) != 0) return -1;
            }
        }
    }
    return kept;
}

void iv_state_restore(iv_state *s, pp_batch *refused) {
    /* The refused batch borrows every source batch, so its points stay valid
     * while the state references `refused` itself. Out of memory here loses
     * nothing more than the refused emission itself. */
    iv_state_put_batch(s, refused, NULL, NULL);
}
