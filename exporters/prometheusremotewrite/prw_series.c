/* prw_series.c -- label sets and the series table; see prw_series.h. */
#include "prw_series.h"

#include <stdlib.h>
#include <string.h>

#include "prw_translate.h"

const char *pp_prw_lset_get(const pp_prw_lset *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) return s->v[i].value;
    return NULL;
}

static void lset_push(pp_prw_lset *s, const char *name, const char *value) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        pp_prw_lbl *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) {
            s->oom = true;
            return;
        }
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (pp_prw_lbl){name, value};
}

void pp_prw_lset_set(pp_prw_lset *s, const char *name, const char *value) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) {
            s->v[i].value = value;
            return;
        }
    lset_push(s, name, value);
}

void pp_prw_lset_add_absent(pp_prw_lset *s, const char *name, const char *value) {
    if (!pp_prw_lset_get(s, name)) lset_push(s, name, value);
}

void pp_prw_lset_copy(pp_prw_lset *dst, const pp_prw_lset *src) {
    dst->n = 0;
    dst->oom = src->oom;
    for (size_t i = 0; i < src->n; i++) lset_push(dst, src->v[i].name, src->v[i].value);
}

void pp_prw_lset_free(pp_prw_lset *s) {
    free(s->v);
    *s = (pp_prw_lset){0};
}

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv_str(uint64_t h, const char *s) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * FNV_PRIME;
    return (h ^ 0xffu) * FNV_PRIME;
}

uint64_t pp_prw_labels_hash(Prometheus__Label *const *labels, size_t n) {
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) h = fnv_str(fnv_str(h, labels[i]->name), labels[i]->value);
    return h;
}

uint64_t pp_prw_series_hash(const Prometheus__TimeSeries *ts) {
    return pp_prw_labels_hash(ts->labels, ts->n_labels);
}

/* A growable array of message pointers (the messages live in the arena). */
typedef struct pvec { void **v; size_t n, cap; } pvec;

static int pvec_push(pvec *p, void *x) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        void **nv = realloc(p->v, cap * sizeof(*nv));
        if (!nv) return -1;
        p->v = nv;
        p->cap = cap;
    }
    p->v[p->n++] = x;
    return 0;
}

struct pp_prw_series {
    Prometheus__TimeSeries *ts; /* labels set; the rest filled by finish */
    uint64_t hash;
    pvec samples, exemplars, histograms;
};

struct pp_prw_table {
    pp_arena *arena;
    pp_prw_series **series; /* creation order */
    size_t n, cap;
    size_t *slots; /* open addressing: index + 1 into series, 0 = empty */
    size_t nslots;
    pp_prw_lbl *scratch; /* sorting buffer */
    size_t scratch_cap;
};

pp_prw_table *pp_prw_table_new(pp_arena *a) {
    pp_prw_table *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->arena = a;
    return t;
}

void pp_prw_table_free(pp_prw_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->series[i]->samples.v);
        free(t->series[i]->exemplars.v);
        free(t->series[i]->histograms.v);
    }
    free(t->series);
    free(t->slots);
    free(t->scratch);
    free(t);
}

size_t pp_prw_table_count(const pp_prw_table *t) { return t->n; }

static int lbl_cmp(const void *x, const void *y) {
    return strcmp(((const pp_prw_lbl *)x)->name, ((const pp_prw_lbl *)y)->name);
}

void pp_prw_lset_sort(pp_prw_lset *s) {
    if (s->n) qsort(s->v, s->n, sizeof(*s->v), lbl_cmp);
}

static uint64_t lbl_hash(const pp_prw_lbl *l, size_t n) {
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) h = fnv_str(fnv_str(h, l[i].name), l[i].value);
    return h;
}

static bool same_labels(const Prometheus__TimeSeries *ts, const pp_prw_lbl *l, size_t n) {
    if (ts->n_labels != n) return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ts->labels[i]->name, l[i].name) || strcmp(ts->labels[i]->value, l[i].value))
            return false;
    return true;
}

static int grow_slots(pp_prw_table *t) {
    size_t nslots = t->nslots ? t->nslots * 2 : 64;
    size_t *slots = calloc(nslots, sizeof(*slots));
    if (!slots) return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = (size_t)t->series[i]->hash & (nslots - 1);
        while (slots[j]) j = (j + 1) & (nslots - 1);
        slots[j] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

/* Sorted, empty values dropped, into t->scratch; returns the count or -1. */
static long sorted_labels(pp_prw_table *t, const pp_prw_lset *in) {
    if (in->n > t->scratch_cap) {
        pp_prw_lbl *ns = realloc(t->scratch, in->n * sizeof(*ns));
        if (!ns) return -1;
        t->scratch = ns;
        t->scratch_cap = in->n;
    }
    /* Insertion sort while filtering: label sets are small (a handful of
     * labels) and mostly in order already, so this beats qsort's calls. */
    pp_prw_lbl *v = t->scratch;
    size_t n = 0;
    for (size_t i = 0; i < in->n; i++) {
        pp_prw_lbl x = in->v[i];
        if (!x.value || !x.value[0]) continue;
        size_t j = n++;
        while (j > 0 && strcmp(v[j - 1].name, x.name) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    return (long)n;
}

Prometheus__Label **pp_prw_labels_new(pp_arena *a, const pp_prw_lbl *l, size_t n) {
    Prometheus__Label **labels = pp_arena_alloc(a, (n ? n : 1) * sizeof(*labels));
    if (!labels) return NULL;
    for (size_t i = 0; i < n; i++) {
        Prometheus__Label *lb = pp_arena_alloc(a, sizeof(*lb));
        if (!lb) return NULL;
        prometheus__label__init(lb);
        lb->name = pp_arena_strdup(a, l[i].name);
        lb->value = pp_arena_strdup(a, l[i].value);
        if (!lb->name || !lb->value) return NULL;
        labels[i] = lb;
    }
    return labels;
}

static pp_prw_series *series_new(pp_prw_table *t, const pp_prw_lbl *l, size_t n, uint64_t h) {
    pp_prw_series *s = pp_arena_alloc(t->arena, sizeof(*s));
    Prometheus__TimeSeries *ts = pp_arena_alloc(t->arena, sizeof(*ts));
    Prometheus__Label **labels = pp_prw_labels_new(t->arena, l, n);
    if (!s || !ts || !labels) return NULL;
    prometheus__time_series__init(ts);
    ts->labels = labels;
    ts->n_labels = n;
    *s = (pp_prw_series){.ts = ts, .hash = h};
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        pp_prw_series **nv = realloc(t->series, cap * sizeof(*nv));
        if (!nv) return NULL;
        t->series = nv;
        t->cap = cap;
    }
    t->series[t->n++] = s;
    return s;
}

pp_prw_series *pp_prw_table_series(pp_prw_table *t, const pp_prw_lset *labels, bool *created) {
    *created = false;
    if (labels->oom) return NULL;
    long n = sorted_labels(t, labels);
    if (n < 0) return NULL;
    if ((t->n + 1) * 2 > t->nslots && grow_slots(t) != 0) return NULL;
    uint64_t h = lbl_hash(t->scratch, (size_t)n);
    size_t j = (size_t)h & (t->nslots - 1);
    for (; t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
        pp_prw_series *s = t->series[t->slots[j] - 1];
        if (s->hash == h && same_labels(s->ts, t->scratch, (size_t)n)) return s;
    }
    pp_prw_series *s = series_new(t, t->scratch, (size_t)n, h);
    if (!s) return NULL;
    t->slots[j] = t->n;
    *created = true;
    return s;
}

int pp_prw_series_add_sample(pp_prw_table *t, pp_prw_series *s, double value, int64_t ts_ms) {
    Prometheus__Sample *sm = pp_arena_alloc(t->arena, sizeof(*sm));
    if (!sm) return -1;
    prometheus__sample__init(sm);
    sm->value = value;
    sm->timestamp = ts_ms;
    return pvec_push(&s->samples, sm);
}

int pp_prw_series_add_exemplar(pp_prw_series *s, Prometheus__Exemplar *e) {
    return pvec_push(&s->exemplars, e);
}

int pp_prw_series_add_histogram(pp_prw_series *s, Prometheus__Histogram *h) {
    return pvec_push(&s->histograms, h);
}

/* Stable insertion sort by timestamp: input is nearly always in order. */
#define SORT_BY_TS(type, arr, n)                                              \
    for (size_t i_ = 1; i_ < (n); i_++) {                                     \
        type *x_ = (arr)[i_];                                                 \
        size_t j_ = i_;                                                       \
        while (j_ > 0 && (arr)[j_ - 1]->timestamp > x_->timestamp) {          \
            (arr)[j_] = (arr)[j_ - 1];                                        \
            j_--;                                                             \
        }                                                                     \
        (arr)[j_] = x_;                                                       \
    }

/* Copies a pointer vector into the arena. */
static void **arena_ptrs(pp_arena *a, const pvec *p) {
    if (p->n == 0) return NULL;
    void **out = pp_arena_alloc(a, p->n * sizeof(*out));
    if (out) memcpy(out, p->v, p->n * sizeof(*out));
    return out;
}

int pp_prw_table_finish(pp_prw_table *t, Prometheus__WriteRequest *req, const uint64_t **hashes) {
    req->n_timeseries = 0;
    req->timeseries = NULL;
    if (hashes) *hashes = NULL;
    if (t->n == 0) return 0;
    req->timeseries = pp_arena_alloc(t->arena, t->n * sizeof(*req->timeseries));
    if (!req->timeseries) return -1;
    uint64_t *hv = NULL;
    if (hashes) {
        hv = pp_arena_alloc(t->arena, t->n * sizeof(*hv));
        if (!hv) return -1;
        for (size_t i = 0; i < t->n; i++) hv[i] = t->series[i]->hash;
        *hashes = hv;
    }
    for (size_t i = 0; i < t->n; i++) {
        pp_prw_series *s = t->series[i];
        Prometheus__TimeSeries *ts = s->ts;
        ts->samples = (Prometheus__Sample **)arena_ptrs(t->arena, &s->samples);
        ts->exemplars = (Prometheus__Exemplar **)arena_ptrs(t->arena, &s->exemplars);
        ts->histograms = (Prometheus__Histogram **)arena_ptrs(t->arena, &s->histograms);
        if ((s->samples.n && !ts->samples) || (s->exemplars.n && !ts->exemplars) ||
            (s->histograms.n && !ts->histograms))
            return -1;
        ts->n_samples = s->samples.n;
        ts->n_exemplars = s->exemplars.n;
        ts->n_histograms = s->histograms.n;
        SORT_BY_TS(Prometheus__Sample, ts->samples, ts->n_samples)
        SORT_BY_TS(Prometheus__Exemplar, ts->exemplars, ts->n_exemplars)
        SORT_BY_TS(Prometheus__Histogram, ts->histograms, ts->n_histograms)
        req->timeseries[i] = ts;
    }
    req->n_timeseries = t->n;
    return 0;
}
