/* telemetry.c -- the metrics registry: registration (under a mutex) and the
 * lock-free update path. Exposition is in telemetry_render.c.
 *
 * Families and series are allocated one by one and never move or go away
 * before pp_metrics_free(), which is what makes the handles stable. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "telemetry_internal.h"

pp_metrics *pp_metrics_new(void) {
    pp_metrics *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void series_free(pp_series *s, pp_mtype type) {
    if (!s) return;
    for (size_t i = 0; i < 2 * s->nlabels; i++) free(s->labels[i]);
    free(s->labels);
    if (type == PP_MT_HISTOGRAM) free(s->u.h.buckets);
    free(s);
}

static void family_free(pp_family *f) {
    for (size_t i = 0; i < f->nseries; i++) series_free(f->series[i], f->type);
    free(f->series);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void pp_metrics_free(pp_metrics *m) {
    if (!m) return;
    for (size_t i = 0; i < m->nfamilies; i++) family_free(m->families[i]);
    free(m->families);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Prometheus names: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*. */
static bool valid_name(const char *s, bool colon) {
    if (!s || !*s) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon && c == ':') || (p > s && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

/* A label list sorted by name, so that {a,b} and {b,a} are one series. */
typedef struct labelset {
    const char **kv; /* name, value pairs */
    size_t n;
} labelset;

static int labelset_init(labelset *ls, const char *const *labels, pp_mtype type) {
    size_t n = 0;
    while (labels && labels[2 * n]) {
        if (!labels[2 * n + 1]) return -1;
        n++;
    }
    ls->n = n;
    ls->kv = malloc((2 * n + 1) * sizeof(*ls->kv));
    if (!ls->kv) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *k = labels[2 * i], *v = labels[2 * i + 1];
        if (!valid_name(k, false) || strncmp(k, "__", 2) == 0 ||
            (type == PP_MT_HISTOGRAM && strcmp(k, "le") == 0))
            goto bad;
        /* Insertion sort: label lists are short. */
        size_t j = i;
        for (; j > 0; j--) {
            int c = strcmp(ls->kv[2 * (j - 1)], k);
            if (c == 0) goto bad; /* a label named twice */
            if (c < 0) break;
            ls->kv[2 * j] = ls->kv[2 * (j - 1)];
            ls->kv[2 * j + 1] = ls->kv[2 * (j - 1) + 1];
        }
        ls->kv[2 * j] = k;
        ls->kv[2 * j + 1] = v;
    }
    return 0;
bad:
    free(ls->kv);
    return -1;
}

static int series_cmp(const pp_series *s, const labelset *ls) {
    size_t n = s->nlabels < ls->n ? s->nlabels : ls->n;
    for (size_t i = 0; i < 2 * n; i++) {
        int c = strcmp(s->labels[i], ls->kv[i]);
        if (c) return c;
    }
    return (s->nlabels > ls->n) - (s->nlabels < ls->n);
}

/* Makes room for one more pointer in *arr (of *cap). */
static bool grow(void *arr, size_t n, size_t *cap) {
    if (n < *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    void **p = realloc(*(void ***)arr, ncap * sizeof(void *));
    if (!p) return false;
    *(void ***)arr = p;
    *cap = ncap;
    return true;
}

static void insert_at(void **arr, size_t *n, size_t pos, void *item) {
    memmove(arr + pos + 1, arr + pos, (*n - pos) * sizeof(void *));
    arr[pos] = item;
    (*n)++;
}

static pp_family *family_find_or_add(pp_metrics *m, const char *name, const char *help,
                                     pp_mtype type, const double *bounds, size_t nbounds) {
    size_t lo = 0, hi = m->nfamilies;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->families[mid]->name, name);
        if (c == 0) {
            pp_family *f = m->families[mid];
            if (f->type != type) return NULL;
            if (type == PP_MT_HISTOGRAM &&
                (f->nbounds != nbounds || memcmp(f->bounds, bounds, nbounds * sizeof(double))))
                return NULL;
            return f;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (!grow(&m->families, m->nfamilies, &m->cap)) return NULL;
    pp_family *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->nbounds = nbounds;
    if (nbounds) {
        f->bounds = malloc(nbounds * sizeof(double));
        if (f->bounds) memcpy(f->bounds, bounds, nbounds * sizeof(double));
    }
    if (!f->name || !f->help || (nbounds && !f->bounds)) {
        family_free(f);
        return NULL;
    }
    insert_at((void **)m->families, &m->nfamilies, lo, f);
    return f;
}

static pp_series *series_new(pp_metrics *m, pp_family *f, const labelset *ls) {
    pp_series *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->labels = calloc(2 * ls->n + 1, sizeof(char *)); /* NULLs free harmlessly on OOM */
    if (!s->labels) goto oom;
    s->nlabels = ls->n;
    for (size_t i = 0; i < 2 * ls->n; i++)
        if (!(s->labels[i] = strdup(ls->kv[i]))) goto oom;
    switch (f->type) {
    case PP_MT_COUNTER: atomic_init(&s->u.c.v, 0); break;
    case PP_MT_GAUGE:
        atomic_init(&s->u.g.v, 0);
        s->u.g.owner = m;
        break;
    case PP_MT_HISTOGRAM:
        s->u.h.bounds = f->bounds;
        s->u.h.nbounds = f->nbounds;
        atomic_init(&s->u.h.sum_bits, 0); /* the bits of +0.0 */
        s->u.h.buckets = malloc((f->nbounds + 1) * sizeof(*s->u.h.buckets));
        if (!s->u.h.buckets) goto oom;
        for (size_t i = 0; i <= f->nbounds; i++) atomic_init(&s->u.h.buckets[i], 0);
        break;
    }
    return s;
oom:
    series_free(s, f->type);
    return NULL;
}

static pp_series *series_get(pp_metrics *m, const char *name, const char *help, pp_mtype type,
                             const double *bounds, size_t nbounds, const char *const *labels) {
    if (!m || !valid_name(name, true)) return NULL;
    labelset ls;
    if (labelset_init(&ls, labels, type) < 0) return NULL;
    pp_series *s = NULL;
    pthread_mutex_lock(&m->mu);
    pp_family *f = family_find_or_add(m, name, help, type, bounds, nbounds);
    if (!f) goto out;
    size_t lo = 0, hi = f->nseries;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = series_cmp(f->series[mid], &ls);
        if (c == 0) {
            s = f->series[mid];
            goto out;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (!grow(&f->series, f->nseries, &f->cap) || !(s = series_new(m, f, &ls))) goto out;
    insert_at((void **)f->series, &f->nseries, lo, s);
out:
    pthread_mutex_unlock(&m->mu);
    free(ls.kv);
    return s;
}

pp_counter *pp_counter_get(pp_metrics *m, const char *name, const char *help,
                           const char *const *labels) {
    pp_series *s = series_get(m, name, help, PP_MT_COUNTER, NULL, 0, labels);
    return s ? &s->u.c : NULL;
}

void pp_counter_add(pp_counter *c, uint64_t n) {
    if (c) atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t pp_counter_value(const pp_counter *c) {
    return c ? atomic_load_explicit(&c->v, memory_order_relaxed) : 0;
}

pp_gauge *pp_gauge_get(pp_metrics *m, const char *name, const char *help,
                       const char *const *labels) {
    pp_series *s = series_get(m, name, help, PP_MT_GAUGE, NULL, 0, labels);
    return s ? &s->u.g : NULL;
}

void pp_gauge_set(pp_gauge *g, int64_t v) {
    if (g) atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void pp_gauge_add(pp_gauge *g, int64_t delta) {
    if (g) atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
}

int64_t pp_gauge_value(const pp_gauge *g) {
    if (!g) return 0;
    pthread_mutex_lock(&g->owner->mu);
    int64_t v = g->fn ? g->fn(g->arg) : atomic_load_explicit(&g->v, memory_order_relaxed);
    pthread_mutex_unlock(&g->owner->mu);
    return v;
}

pp_gauge *pp_gauge_get_fn(pp_metrics *m, const char *name, const char *help,
                          const char *const *labels, int64_t (*fn)(void *), void *arg) {
    pp_gauge *g = pp_gauge_get(m, name, help, labels);
    if (!g) return NULL;
    pthread_mutex_lock(&m->mu);
    g->fn = fn;
    g->arg = arg;
    pthread_mutex_unlock(&m->mu);
    return g;
}

void pp_gauge_clear_fn(pp_gauge *g) {
    if (!g) return;
    pthread_mutex_lock(&g->owner->mu);
    g->fn = NULL;
    g->arg = NULL;
    pthread_mutex_unlock(&g->owner->mu);
}

pp_histogram *pp_histogram_get(pp_metrics *m, const char *name, const char *help,
                               const double *bounds, size_t nbounds, const char *const *labels) {
    if (nbounds && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0) nbounds--; /* implicit */
    for (size_t i = 0; i < nbounds; i++)
        if (isnan(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) return NULL;
    pp_series *s = series_get(m, name, help, PP_MT_HISTOGRAM, bounds, nbounds, labels);
    return s ? &s->u.h : NULL;
}

void pp_histogram_observe(pp_histogram *h, double v) {
    if (!h) return;
    /* Bucket i counts bounds[i-1] < v <= bounds[i]; NaN lands in +Inf. */
    size_t lo = 0, hi = h->nbounds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v <= h->bounds[mid]) hi = mid;
        else lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed), next;
    do {
        double sum;
        memcpy(&sum, &old, sizeof(sum));
        sum += v;
        memcpy(&next, &sum, sizeof(next));
    } while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

uint64_t pp_histogram_count(const pp_histogram *h) {
    uint64_t n = 0;
    for (size_t i = 0; h && i <= h->nbounds; i++)
        n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return n;
}

double pp_histogram_sum(const pp_histogram *h) {
    if (!h) return 0;
    uint64_t bits = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    double sum;
    memcpy(&sum, &bits, sizeof(sum));
    return sum;
}

/* Process metrics, computed when scraped. */

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double process_start; /* CLOCK_MONOTONIC seconds, set once */

static void process_start_init(void) { process_start = now_mono(); }

static double proc_uptime(void *arg) {
    (void)arg;
    return now_mono() - process_start;
}

static double proc_cpu_seconds(void *arg) {
    (void)arg;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int64_t proc_rss(void *arg) {
    (void)arg;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (int64_t)resident * (int64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* A counter whose float value comes from fn at scrape time. */
static void counter_fn(pp_metrics *m, const char *name, const char *help, double (*fn)(void *)) {
    pp_series *s = series_get(m, name, help, PP_MT_COUNTER, NULL, 0, NULL);
    if (!s) return;
    pthread_mutex_lock(&m->mu);
    s->dfn = fn;
    pthread_mutex_unlock(&m->mu);
}

void pp_metrics_add_process(pp_metrics *m) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, process_start_init);
    counter_fn(m, "otelcol_process_uptime", "Uptime of the process [s]", proc_uptime);
    counter_fn(m, "otelcol_process_cpu_seconds", "Total CPU user and system time in seconds [s]",
               proc_cpu_seconds);
    pp_gauge_get_fn(m, "otelcol_process_memory_rss", "Total physical memory (resident set size) [By]",
                    NULL, proc_rss, NULL);
}
