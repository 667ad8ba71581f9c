/* sm_emit.c -- building the metrics batch of a flush (sm_agg_snapshot). */
#include <stdlib.h>
#include <string.h>

#include "aggregate/ident.h"
#include "sm_internal.h"

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x

/* One series' points, collected under its shard lock. */
typedef struct row {
    const unsigned char *svc; /* service pair bytes, copied into the batch arena */
    size_t svc_len;
    pp_number_point *calls;
    void *duration; /* pp_histogram_point or pp_exp_histogram_point */
} row;

typedef struct rows { row *v; size_t n, cap; } rows;

typedef struct snap {
    sm_agg *g;
    pp_arena *a;
    rows out;
    int64_t now;
    double *bounds; /* explicit bounds, one copy in the batch for all points */
    bool oom;
} snap;

static pp_exemplar **exemplars(snap *sn, sm_series *s, size_t *n) {
    *n = 0;
    if (!s->nex) return NULL;
    pp_exemplar **v = pp_arena_alloc(sn->a, s->nex * sizeof(*v));
    if (!v) return NULL;
    for (size_t i = 0; i < s->nex; i++) {
        const sm_exemplar *e = &s->ex[i];
        pp_exemplar *x = pp_arena_alloc(sn->a, sizeof(*x));
        uint8_t *ids = pp_arena_alloc(sn->a, 24);
        if (!x || !ids) return NULL;
        opentelemetry__proto__metrics__v1__exemplar__init(x);
        memcpy(ids, e->trace_id, 16);
        memcpy(ids + 16, e->span_id, 8);
        x->trace_id = (ProtobufCBinaryData){16, ids};
        x->span_id = (ProtobufCBinaryData){8, ids + 16};
        x->time_unix_nano = e->time;
        x->value_case = M(EXEMPLAR__VALUE_AS_DOUBLE);
        x->as_double = e->value;
        v[(*n)++] = x;
    }
    s->nex = s->ex_next = 0; /* exemplars are recent samples: each is sent once */
    return v;
}

static void *duration_point(snap *sn, const sm_hist *h, pp_key_value **attrs, size_t nattrs,
                            uint64_t start, uint64_t now) {
    const sm_agg_options *o = &sn->g->o;
    if (o->exponential) {
        pp_exp_histogram_point *p = pp_arena_alloc(sn->a, sizeof(*p));
        Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *b =
            pp_arena_alloc(sn->a, sizeof(*b));
        uint64_t *c = pp_arena_alloc(sn->a, (h->pos.n + 1) * sizeof(uint64_t));
        if (!p || !b || !c) return NULL;
        opentelemetry__proto__metrics__v1__exponential_histogram_data_point__init(p);
        opentelemetry__proto__metrics__v1__exponential_histogram_data_point__buckets__init(b);
        if (h->pos.n) memcpy(c, h->pos.counts, h->pos.n * sizeof(uint64_t));
        b->offset = h->pos.offset;
        b->bucket_counts = c;
        b->n_bucket_counts = h->pos.n;
        p->positive = b;
        p->scale = h->scale;
        p->zero_count = h->zero;
        p->count = h->count;
        p->sum_present_case = M(EXPONENTIAL_HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM);
        p->sum = h->sum;
        p->attributes = attrs, p->n_attributes = nattrs;
        p->start_time_unix_nano = start, p->time_unix_nano = now;
        return p;
    }
    pp_histogram_point *p = pp_arena_alloc(sn->a, sizeof(*p));
    uint64_t *c = pp_arena_alloc(sn->a, (o->nbounds + 1) * sizeof(uint64_t));
    if (!p || !c) return NULL;
    opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
    if (h->buckets) memcpy(c, h->buckets, (o->nbounds + 1) * sizeof(uint64_t));
    else memset(c, 0, (o->nbounds + 1) * sizeof(uint64_t));
    p->bucket_counts = c;
    p->n_bucket_counts = o->nbounds + 1;
    p->explicit_bounds = sn->bounds;
    p->n_explicit_bounds = o->nbounds;
    p->count = h->count;
    p->sum_present_case = M(HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM);
    p->sum = h->sum;
    p->attributes = attrs, p->n_attributes = nattrs;
    p->start_time_unix_nano = start, p->time_unix_nano = now;
    return p;
}

static bool push(rows *r, row x) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        row *v = realloc(r->v, cap * sizeof(*v));
        if (!v) return false;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = x;
    return true;
}

/* Emits one series (the shard is locked). Returns true to remove it. */
static bool take(void *value, void *arg) {
    snap *sn = arg;
    sm_series *s = value;
    sm_agg *g = sn->g;
    if (sn->oom) return false;
    bool idle = g->o.expiration_ns > 0 && s->touched_ns <= sn->now - g->o.expiration_ns;
    if (g->o.delta) {
        /* Set this interval aside until commit; a refused one is merged again. */
        if (sm_hist_merge(g, &s->unsent, &s->cur) != 0) {
            sn->oom = true;
            return false;
        }
        sm_hist_clear(&s->cur);
        s->unsent_calls += s->calls;
        s->calls = 0;
        if (s->unsent_calls == 0) return idle;
    } else if (idle) {
        return true; /* expired: no longer reported */
    }
    size_t klen;
    const unsigned char *key = pp_keymap_key(s, &klen);
    pp_key_value **attrs = NULL;
    long nattrs = pp_ident_decode_kvs(key, klen, sn->a, &attrs);
    unsigned char *svc = pp_arena_alloc(sn->a, s->svc_len + 1);
    pp_number_point *calls = pp_arena_alloc(sn->a, sizeof(*calls));
    if (nattrs < 0 || !svc || !calls) {
        sn->oom = true;
        return false;
    }
    memcpy(svc, key, s->svc_len);
    uint64_t start = (uint64_t)s->start_ns, now = (uint64_t)sn->now;
    opentelemetry__proto__metrics__v1__number_data_point__init(calls);
    calls->attributes = attrs, calls->n_attributes = (size_t)nattrs;
    calls->start_time_unix_nano = start, calls->time_unix_nano = now;
    calls->value_case = M(NUMBER_DATA_POINT__VALUE_AS_INT);
    calls->as_int = (int64_t)(g->o.delta ? s->unsent_calls : s->calls);
    row r = {svc, s->svc_len, calls, NULL};
    if (g->o.histogram) {
        r.duration = duration_point(sn, g->o.delta ? &s->unsent : &s->cur, attrs, (size_t)nattrs,
                                    start, now);
        if (!r.duration) {
            sn->oom = true;
            return false;
        }
        size_t nex;
        pp_exemplar **ex = exemplars(sn, s, &nex);
        if (g->o.exponential) {
            ((pp_exp_histogram_point *)r.duration)->exemplars = ex;
            ((pp_exp_histogram_point *)r.duration)->n_exemplars = nex;
        } else {
            ((pp_histogram_point *)r.duration)->exemplars = ex;
            ((pp_histogram_point *)r.duration)->n_exemplars = nex;
        }
    }
    if (!push(&sn->out, r)) sn->oom = true;
    return false;
}

static int row_cmp(const void *a, const void *b) {
    const row *x = a, *y = b;
    size_t n = x->svc_len < y->svc_len ? x->svc_len : y->svc_len;
    int c = n ? memcmp(x->svc, y->svc, n) : 0;
    return c ? c : (x->svc_len > y->svc_len) - (x->svc_len < y->svc_len);
}

static pp_metric *new_metric(pp_arena *a, const char *name, const char *unit) {
    pp_metric *m = pp_arena_alloc(a, sizeof(*m));
    if (!m) return NULL;
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = (char *)(uintptr_t)name;
    m->unit = (char *)(uintptr_t)unit;
    return m;
}

/* One ResourceMetrics for rows [from, to) of one service. */
static pp_resource_metrics *resource_for(snap *sn, const row *r, size_t n) {
    const sm_agg_options *o = &sn->g->o;
    pp_arena *a = sn->a;
    int temporality = o->delta ? M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA)
                               : M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
    pp_resource_metrics *rm = pp_arena_alloc(a, sizeof(*rm));
    pp_resource *res = pp_arena_alloc(a, sizeof(*res));
    pp_scope_metrics *sm = pp_arena_alloc(a, sizeof(*sm));
    pp_scope *scope = pp_arena_alloc(a, sizeof(*scope));
    pp_metric **ms = pp_arena_alloc(a, 2 * sizeof(*ms));
    void **calls = pp_arena_alloc(a, n * sizeof(void *)), **durs = pp_arena_alloc(a, n * sizeof(void *));
    if (!rm || !res || !sm || !scope || !ms || !calls || !durs) return NULL;
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__resource__v1__resource__init(res);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
    long nres = pp_ident_decode_kvs(r->svc, r->svc_len, a, &res->attributes);
    if (nres < 0) return NULL;
    res->n_attributes = (size_t)nres;
    scope->name = "spanmetricsconnector";
    for (size_t i = 0; i < n; i++) calls[i] = r[i].calls, durs[i] = r[i].duration;
    Opentelemetry__Proto__Metrics__V1__Sum *sum = pp_arena_alloc(a, sizeof(*sum));
    if (!sum || !(ms[0] = new_metric(a, o->calls_name, ""))) return NULL;
    opentelemetry__proto__metrics__v1__sum__init(sum);
    sum->aggregation_temporality = temporality;
    sum->is_monotonic = 1;
    sum->data_points = (pp_number_point **)calls;
    sum->n_data_points = n;
    ms[0]->data_case = M(METRIC__DATA_SUM);
    ms[0]->sum = sum;
    sm->n_metrics = 1;
    if (o->histogram) {
        if (!(ms[1] = new_metric(a, o->duration_name, o->unit))) return NULL;
        if (o->exponential) {
            Opentelemetry__Proto__Metrics__V1__ExponentialHistogram *e = pp_arena_alloc(a, sizeof(*e));
            if (!e) return NULL;
            opentelemetry__proto__metrics__v1__exponential_histogram__init(e);
            e->aggregation_temporality = temporality;
            e->data_points = (pp_exp_histogram_point **)durs;
            e->n_data_points = n;
            ms[1]->data_case = M(METRIC__DATA_EXPONENTIAL_HISTOGRAM);
            ms[1]->exponential_histogram = e;
        } else {
            Opentelemetry__Proto__Metrics__V1__Histogram *h = pp_arena_alloc(a, sizeof(*h));
            if (!h) return NULL;
            opentelemetry__proto__metrics__v1__histogram__init(h);
            h->aggregation_temporality = temporality;
            h->data_points = (pp_histogram_point **)durs;
            h->n_data_points = n;
            ms[1]->data_case = M(METRIC__DATA_HISTOGRAM);
            ms[1]->histogram = h;
        }
        sm->n_metrics = 2;
    }
    sm->scope = scope;
    sm->metrics = ms;
    rm->resource = res;
    rm->scope_metrics = pp_arena_alloc(a, sizeof(void *));
    if (!rm->scope_metrics) return NULL;
    rm->scope_metrics[0] = sm;
    rm->n_scope_metrics = 1;
    return rm;
}

static pp_batch *assemble(snap *sn, pp_batch *b) {
    rows *r = &sn->out;
    qsort(r->v, r->n, sizeof(row), row_cmp);
    size_t groups = 0;
    for (size_t i = 0; i < r->n; i++)
        if (i == 0 || row_cmp(&r->v[i - 1], &r->v[i]) != 0) groups++;
    pp_resource_metrics **rms = pp_arena_alloc(sn->a, groups * sizeof(*rms));
    if (!rms) return NULL;
    size_t g = 0;
    for (size_t i = 0; i < r->n;) {
        size_t j = i + 1;
        while (j < r->n && row_cmp(&r->v[i], &r->v[j]) == 0) j++;
        if (!(rms[g++] = resource_for(sn, &r->v[i], j - i))) return NULL;
        i = j;
    }
    b->metrics->resource_metrics = rms;
    b->metrics->n_resource_metrics = groups;
    pp_batch_recount(b);
    return b;
}

pp_batch *sm_agg_snapshot(sm_agg *g, int64_t now, bool *oom) {
    *oom = false;
    pp_batch *b = pp_batch_new(PP_METRICS, 0);
    if (!b) {
        *oom = true;
        return NULL;
    }
    snap sn = {.g = g, .a = b->arena, .now = now};
    if (g->o.histogram && !g->o.exponential) {
        sn.bounds = pp_arena_alloc(sn.a, (g->o.nbounds + 1) * sizeof(double));
        if (!sn.bounds) {
            *oom = true;
            pp_batch_unref(b);
            return NULL;
        }
        if (g->o.nbounds) memcpy(sn.bounds, g->o.bounds, g->o.nbounds * sizeof(double));
    }
    for (int i = 0; i < SM_SHARDS; i++) {
        sm_shard *sh = &g->shards[i];
        pthread_mutex_lock(&sh->lock);
        size_t before = pp_keymap_count(sh->map);
        pp_keymap_sweep(sh->map, take, &sn, sm_series_fini);
        atomic_fetch_sub(&g->count, before - pp_keymap_count(sh->map));
        pthread_mutex_unlock(&sh->lock);
    }
    pp_batch *out = sn.oom || sn.out.n == 0 ? NULL : assemble(&sn, b);
    free(sn.out.v);
    if (!out) {
        *oom = sn.oom || sn.out.n != 0;
        pp_batch_unref(b);
    }
    return out;
}

typedef struct commit_arg { const sm_agg *g; int64_t now; } commit_arg;

/* Delta: the set-aside interval was delivered. Series without new spans are
 * dropped (a new span recreates them), which keeps delta state small. */
static bool committed(void *value, void *arg) {
    commit_arg *c = arg;
    sm_series *s = value;
    sm_hist_clear(&s->unsent);
    s->unsent_calls = 0;
    s->start_ns = c->now;
    return s->calls == 0;
}

void sm_agg_commit(sm_agg *g, int64_t now) {
    if (!g->o.delta) return;
    commit_arg c = {g, now};
    for (int i = 0; i < SM_SHARDS; i++) {
        sm_shard *sh = &g->shards[i];
        pthread_mutex_lock(&sh->lock);
        size_t before = pp_keymap_count(sh->map);
        pp_keymap_sweep(sh->map, committed, &c, sm_series_fini);
        atomic_fetch_sub(&g->count, before - pp_keymap_count(sh->map));
        pthread_mutex_unlock(&sh->lock);
    }
}
