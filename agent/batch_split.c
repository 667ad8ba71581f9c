/* batch_split.c -- see batch_split.h.
 *
 * A builder fills one output batch at a time. Growable pointer arrays live in
 * the output's arena: growing allocates a doubled array and copies the
 * pointers, which wastes at most half of what the arrays take. */
#include "batch_split.h"

#include <string.h>

typedef struct builder {
    pp_signal signal;
    size_t max_items, room;
    pp_batch *out;
    const void *last_input; /* last input batch borrowed by out */
    const void *last_resource; /* source of out's last resource entry */
    const void *last_scope;    /* source of the last scope entry (metrics) */
    size_t res_cap, scope_cap, metric_cap;
    pp_batch_emit_fn emit;
    void *arg;
} builder;

/* Appends p to the arena array *arr of *n entries and capacity *cap. */
static int push(pp_arena *a, void ***arr, size_t *n, size_t *cap, void *p) {
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        void **na = pp_arena_alloc(a, ncap * sizeof(void *));
        if (!na) return -1;
        if (*n) memcpy(na, *arr, *n * sizeof(void *));
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

static int start_output(builder *bd) {
    bd->out = pp_batch_new(bd->signal, 4096);
    if (!bd->out) return -1;
    bd->room = bd->max_items ? bd->max_items : SIZE_MAX;
    bd->last_input = bd->last_resource = bd->last_scope = NULL;
    bd->res_cap = bd->scope_cap = bd->metric_cap = 0;
    return 0;
}

/* Hands the current output on (if it has items) and starts a new one. */
static int finish_output(builder *bd, bool more) {
    pp_batch *out = bd->out;
    bd->out = NULL;
    pp_batch_recount(out);
    if (out->items == 0) {
        pp_batch_unref(out);
    } else {
        int rc = bd->emit(out, bd->arg);
        if (rc != 0) return rc;
    }
    return more ? start_output(bd) : 0;
}

static int borrow(builder *bd, pp_batch *in) {
    if (bd->last_input == in) return 0;
    bd->last_input = in;
    return pp_batch_borrow(bd->out, in);
}

/* ---- traces ---- */

static pp_resource_spans *out_resource_spans(builder *bd, const pp_resource_spans *src) {
    pp_traces_req *req = bd->out->traces;
    if (bd->last_resource == src) return req->resource_spans[req->n_resource_spans - 1];
    pp_resource_spans *rs = pp_arena_alloc(bd->out->arena, sizeof(*rs));
    if (!rs) return NULL;
    *rs = *src;
    rs->n_scope_spans = 0;
    rs->scope_spans = NULL;
    if (push(bd->out->arena, (void ***)&req->resource_spans, &req->n_resource_spans, &bd->res_cap,
             rs) != 0)
        return NULL;
    bd->last_resource = src;
    bd->scope_cap = 0;
    return rs;
}

static int add_spans(builder *bd, pp_batch *in, const pp_resource_spans *rs, const pp_scope_spans *ss) {
    size_t off = 0;
    while (off < ss->n_spans) {
        size_t take = ss->n_spans - off;
        if (take > bd->room) take = bd->room;
        if (borrow(bd, in) != 0) return -1;
        pp_resource_spans *ors = out_resource_spans(bd, rs);
        pp_scope_spans *oss = ors ? pp_arena_alloc(bd->out->arena, sizeof(*oss)) : NULL;
        if (!oss) return -1;
        *oss = *ss;
        oss->spans = ss->spans + off;
        oss->n_spans = take;
        if (push(bd->out->arena, (void ***)&ors->scope_spans, &ors->n_scope_spans, &bd->scope_cap,
                 oss) != 0)
            return -1;
        off += take;
        bd->room -= take;
        if (bd->room == 0) {
            int rc = finish_output(bd, true);
            if (rc != 0) return rc;
        }
    }
    return 0;
}

static int add_traces(builder *bd, pp_batch *in) {
    const pp_traces_req *r = in->traces;
    for (size_t i = 0; i < r->n_resource_spans; i++) {
        const pp_resource_spans *rs = r->resource_spans[i];
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            int rc = add_spans(bd, in, rs, rs->scope_spans[j]);
            if (rc != 0) return rc;
        }
    }
    return 0;
}

/* ---- metrics ---- */

/* The data points array of a metric, whatever its type. */
static void **metric_points(const pp_metric *m, size_t *n) {
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        *n = m->gauge->n_data_points;
        return (void **)m->gauge->data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        *n = m->sum->n_data_points;
        return (void **)m->sum->data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        *n = m->histogram->n_data_points;
        return (void **)m->histogram->data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        *n = m->exponential_histogram->n_data_points;
        return (void **)m->exponential_histogram->data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        *n = m->summary->n_data_points;
        return (void **)m->summary->data_points;
    default: *n = 0; return NULL;
    }
}

/* A shallow copy of m whose data points are points[0..n). */
static pp_metric *metric_slice(pp_arena *a, const pp_metric *m, void **points, size_t n) {
    pp_metric *om = pp_arena_alloc(a, sizeof(*om));
    if (!om) return NULL;
    *om = *m;
#define SLICE(field, type)                                       \
    do {                                                         \
        type *d = pp_arena_alloc(a, sizeof(*d));                 \
        if (!d) return NULL;                                     \
        *d = *m->field;                                          \
        d->data_points = (void *)points;                         \
        d->n_data_points = n;                                    \
        om->field = d;                                           \
    } while (0)
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        SLICE(gauge, Opentelemetry__Proto__Metrics__V1__Gauge);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        SLICE(sum, Opentelemetry__Proto__Metrics__V1__Sum);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        SLICE(histogram, Opentelemetry__Proto__Metrics__V1__Histogram);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        SLICE(exponential_histogram, Opentelemetry__Proto__Metrics__V1__ExponentialHistogram);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        SLICE(summary, Opentelemetry__Proto__Metrics__V1__Summary);
        break;
    default: break;
    }
#undef SLICE
    return om;
}

static pp_scope_metrics *out_scope_metrics(builder *bd, const pp_resource_metrics *rm,
                                           const pp_scope_metrics *sm) {
    pp_metrics_req *req = bd->out->metrics;
    pp_resource_metrics *orm;
    if (bd->last_resource == rm) {
        orm = req->resource_metrics[req->n_resource_metrics - 1];
    } else {
        orm = pp_arena_alloc(bd->out->arena, sizeof(*orm));
        if (!orm) return NULL;
        *orm = *rm;
        orm->n_scope_metrics = 0;
        orm->scope_metrics = NULL;
        if (push(bd->out->arena, (void ***)&req->resource_metrics, &req->n_resource_metrics,
                 &bd->res_cap, orm) != 0)
            return NULL;
        bd->last_resource = rm;
        bd->last_scope = NULL;
        bd->scope_cap = 0;
    }
    if (bd->last_scope == sm) return orm->scope_metrics[orm->n_scope_metrics - 1];
    pp_scope_metrics *osm = pp_arena_alloc(bd->out->arena, sizeof(*osm));
    if (!osm) return NULL;
    *osm = *sm;
    osm->n_metrics = 0;
    osm->metrics = NULL;
    if (push(bd->out->arena, (void ***)&orm->scope_metrics, &orm->n_scope_metrics, &bd->scope_cap,
             osm) != 0)
        return NULL;
    bd->last_scope = sm;
    bd->metric_cap = 0;
    return osm;
}

static int add_metric(builder *bd, pp_batch *in, const pp_resource_metrics *rm,
                      const pp_scope_metrics *sm, const pp_metric *m) {
    size_t n, off = 0;
    void **points = metric_points(m, &n);
    while (off < n) {
        size_t take = n - off;
        if (take > bd->room) take = bd->room;
        if (borrow(bd, in) != 0) return -1;
        pp_scope_metrics *osm = out_scope_metrics(bd, rm, sm);
        pp_metric *om = osm ? metric_slice(bd->out->arena, m, points + off, take) : NULL;
        if (!om || push(bd->out->arena, (void ***)&osm->metrics, &osm->n_metrics, &bd->metric_cap,
                        om) != 0)
            return -1;
        off += take;
        bd->room -= take;
        if (bd->room == 0) {
            int rc = finish_output(bd, true);
            if (rc != 0) return rc;
        }
    }
    return 0;
}

static int add_metrics(builder *bd, pp_batch *in) {
    const pp_metrics_req *r = in->metrics;
    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        const pp_resource_metrics *rm = r->resource_metrics[i];
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const pp_scope_metrics *sm = rm->scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics; k++) {
                int rc = add_metric(bd, in, rm, sm, sm->metrics[k]);
                if (rc != 0) return rc;
            }
        }
    }
    return 0;
}

int pp_batch_regroup(pp_batch *const *in, size_t n, size_t max_items, pp_batch_emit_fn emit,
                     void *arg) {
    if (n == 0) return 0;
    builder bd = {.signal = in[0]->signal, .max_items = max_items, .emit = emit, .arg = arg};
    if (start_output(&bd) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = bd.signal == PP_TRACES ? add_traces(&bd, in[i]) : add_metrics(&bd, in[i]);
    if (rc == 0) return finish_output(&bd, false);
    pp_batch_unref(bd.out);
    return rc;
}

typedef struct halves {
    pp_batch *got[2];
    size_t n;
} halves;

static int collect_half(pp_batch *out, void *arg) {
    halves *h = arg;
    if (h->n == 2) { /* cannot happen with max = ceil(items / 2) */
        pp_batch_unref(out);
        return -1;
    }
    h->got[h->n++] = out;
    return 0;
}

int pp_batch_halve(pp_batch *b, pp_batch **first, pp_batch **second) {
    if (b->items < 2) return -1;
    halves h = {{NULL, NULL}, 0};
    if (pp_batch_regroup(&b, 1, (b->items + 1) / 2, collect_half, &h) != 0 || h.n != 2) {
        pp_batch_unref(h.got[0]);
        pp_batch_unref(h.got[1]);
        return -1;
    }
    *first = h.got[0];
    *second = h.got[1];
    return 0;
}
