/* batch_split.c -- see batch_split.h.
 *
 * A builder fills one output batch at a time. Growable pointer arrays live in
 * the output's arena: growing allocates a doubled array and copies the
 * pointers, which wastes at most half of what the arrays take. */
#include "batch_split.h"

#include <stdlib.h>
#include <string.h>

typedef struct builder {
    pp_signal signal;
    size_t max_items, room;
    size_t max_bytes; /* 0: no cap on the encoded size */
    size_t bytes;     /* upper bound on the encoded size of out (0 while empty) */
    size_t oversize;  /* items that went alone because they alone pass max_bytes */
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
    bd->bytes = 0;
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

/* ---- the byte bound ----
 *
 * An embedded message costs its tag (1 byte: every field number involved is
 * below 16), its length (a varint: at most 5 bytes below 2^35) and its body.
 * The body of a resource, scope or metric entry is its packed size without
 * its items (measured on a shallow copy whose item array is empty) plus the
 * items', each again tag + length + body. Summing these with the varints
 * counted at 5 bytes gives an upper bound of the request's packed size. */
enum { ENTRY = 1 + 5, VARINT_GROWTH = 4 };

static size_t packed(const void *msg) {
    return protobuf_c_message_get_packed_size((const ProtobufCMessage *)msg);
}

static size_t item_cost(const void *item) { return packed(item) + ENTRY; }

/* Fits items[0..take) (take >= 1) into the output after a header of hdr bytes.
 * Returns how many fit (0: none, not even alone on an empty output) and sets
 * *used to the output's bound with them. */
static size_t fit_items(const builder *bd, void *const *items, size_t take, size_t hdr,
                        size_t *used) {
    size_t u = bd->bytes + hdr, k = 0;
    for (; k < take; k++) {
        size_t c = item_cost(items[k]);
        if (u + c > bd->max_bytes) break;
        u += c;
    }
    *used = u;
    return k;
}

/* Decides how many of items[0..*take) go into the current output next.
 * Returns 1 when the output must be finished first (it has items and not one
 * more fits), else 0 with *take set and *close true when the output is full
 * after them. An item too large alone goes alone. */
static int bound_take(builder *bd, void *const *items, size_t *take, size_t hdr, bool *close) {
    *close = false;
    if (!bd->max_bytes) return 0;
    size_t used, k = fit_items(bd, items, *take, hdr, &used);
    if (k == 0) {
        if (bd->bytes > 0) return 1;
        bd->oversize++;
        used += item_cost(items[0]);
        k = 1;
        *close = true;
    } else if (k < *take) {
        *close = true;
    }
    *take = k;
    bd->bytes = used;
    return 0;
}

static size_t resource_spans_header(const pp_resource_spans *rs) {
    pp_resource_spans c = *rs;
    c.n_scope_spans = 0;
    c.scope_spans = NULL;
    return packed(&c) + ENTRY;
}

static size_t scope_spans_header(const pp_scope_spans *ss) {
    pp_scope_spans c = *ss;
    c.n_spans = 0;
    c.spans = NULL;
    return packed(&c) + ENTRY;
}

static int add_spans(builder *bd, pp_batch *in, const pp_resource_spans *rs, const pp_scope_spans *ss) {
    size_t off = 0;
    size_t scope_hdr = bd->max_bytes ? scope_spans_header(ss) : 0;
    size_t res_hdr = bd->max_bytes ? resource_spans_header(rs) : 0;
    while (off < ss->n_spans) {
        size_t take = ss->n_spans - off;
        if (take > bd->room) take = bd->room;
        bool close;
        size_t hdr = scope_hdr + (bd->last_resource == rs ? 0 : res_hdr);
        if (bound_take(bd, (void *const *)(ss->spans + off), &take, hdr, &close) != 0) {
            int rc = finish_output(bd, true);
            if (rc != 0) return rc;
            continue;
        }
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
        if (bd->room == 0 || close) {
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

static size_t resource_metrics_header(const pp_resource_metrics *rm) {
    pp_resource_metrics c = *rm;
    c.n_scope_metrics = 0;
    c.scope_metrics = NULL;
    return packed(&c) + ENTRY;
}

static size_t scope_metrics_header(const pp_scope_metrics *sm) {
    pp_scope_metrics c = *sm;
    c.n_metrics = 0;
    c.metrics = NULL;
    return packed(&c) + ENTRY;
}

/* A metric entry without points; its data message's length may grow from 1
 * to 5 bytes once points are in. */
static size_t metric_header(const pp_metric *m) {
    pp_metric c = *m;
    union {
        Opentelemetry__Proto__Metrics__V1__Gauge gauge;
        Opentelemetry__Proto__Metrics__V1__Sum sum;
        Opentelemetry__Proto__Metrics__V1__Histogram histogram;
        Opentelemetry__Proto__Metrics__V1__ExponentialHistogram exponential_histogram;
        Opentelemetry__Proto__Metrics__V1__Summary summary;
    } d;
#define EMPTY(field)                    \
    do {                                \
        d.field = *m->field;            \
        d.field.n_data_points = 0;      \
        d.field.data_points = NULL;     \
        c.field = &d.field;             \
    } while (0)
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: EMPTY(gauge); break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: EMPTY(sum); break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: EMPTY(histogram); break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        EMPTY(exponential_histogram);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: EMPTY(summary); break;
    default: break;
    }
#undef EMPTY
    return packed(&c) + ENTRY + VARINT_GROWTH;
}

static int add_metric(builder *bd, pp_batch *in, const pp_resource_metrics *rm,
                      const pp_scope_metrics *sm, const pp_metric *m) {
    size_t n, off = 0;
    void **points = metric_points(m, &n);
    size_t res_hdr = 0, scope_hdr = 0, metric_hdr = 0;
    if (bd->max_bytes && n > 0) {
        res_hdr = resource_metrics_header(rm);
        scope_hdr = scope_metrics_header(sm);
        metric_hdr = metric_header(m);
    }
    while (off < n) {
        size_t take = n - off;
        if (take > bd->room) take = bd->room;
        bool close;
        size_t hdr = metric_hdr;
        if (bd->last_resource != rm) hdr += res_hdr + scope_hdr;
        else if (bd->last_scope != sm) hdr += scope_hdr;
        if (bound_take(bd, points + off, &take, hdr, &close) != 0) {
            int rc = finish_output(bd, true);
            if (rc != 0) return rc;
            continue;
        }
        if (borrow(bd, in) != 0) return -1;
        pp_scope_metrics *osm = out_scope_metrics(bd, rm, sm);
        pp_metric *om = osm ? metric_slice(bd->out->arena, m, points + off, take) : NULL;
        if (!om || push(bd->out->arena, (void ***)&osm->metrics, &osm->n_metrics, &bd->metric_cap,
                        om) != 0)
            return -1;
        off += take;
        bd->room -= take;
        if (bd->room == 0 || close) {
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

static int regroup_decoded(pp_batch *const *in, size_t n, size_t max_items, size_t max_bytes,
                           size_t *oversize, pp_batch_emit_fn emit, void *arg) {
    builder bd = {.signal = in[0]->signal, .max_items = max_items, .max_bytes = max_bytes,
                  .emit = emit, .arg = arg};
    if (start_output(&bd) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = bd.signal == PP_TRACES ? add_traces(&bd, in[i]) : add_metrics(&bd, in[i]);
    *oversize += bd.oversize;
    if (rc == 0) return finish_output(&bd, false);
    pp_batch_unref(bd.out);
    return rc;
}

/* ---- encoded batches: whole requests side by side ---- */

typedef struct group {
    pp_batch **parts; /* owned references */
    size_t n, cap, items, bytes;
} group;

/* Emits the group as one batch (its only part, or their concatenation). */
static int group_emit(group *g, pp_batch_emit_fn emit, void *arg) {
    if (g->n == 0) return 0;
    pp_batch *out = g->n == 1 ? pp_batch_ref(g->parts[0]) : pp_batch_concat(g->parts, g->n);
    for (size_t i = 0; i < g->n; i++) pp_batch_unref(g->parts[i]);
    g->n = g->items = g->bytes = 0;
    return out ? emit(out, arg) : -1;
}

static int group_push(group *g, pp_batch *b, size_t bytes) {
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        pp_batch **np = realloc(g->parts, ncap * sizeof(*np));
        if (!np) return -1;
        g->parts = np;
        g->cap = ncap;
    }
    g->parts[g->n++] = b;
    g->items += b->items;
    g->bytes += bytes;
    return 0;
}

/* An encoded input that alone passes a cap is decoded and split like any
 * decoded batch; the others are never opened: an output takes whole inputs
 * while they fit (so an output may hold fewer than max_items items). */
static int split_one(pp_batch *b, size_t max_items, size_t max_bytes, size_t *oversize,
                     pp_batch_emit_fn emit, void *arg) {
    pp_status st;
    pp_status_clear(&st);
    pp_batch *d = pp_batch_decoded(b, &st);
    if (!d) return -1;
    int rc = regroup_decoded(&d, 1, max_items, max_bytes, oversize, emit, arg);
    pp_batch_unref(d);
    return rc;
}

static int regroup_encoded(pp_batch *const *in, size_t n, size_t max_items, size_t max_bytes,
                           size_t *oversize, pp_batch_emit_fn emit, void *arg) {
    group g = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (in[i]->items == 0) continue; /* as decoded regrouping leaves empty data out */
        pp_batch *b = pp_batch_as_encoded(in[i]);
        if (!b) {
            rc = -1;
            break;
        }
        size_t bytes = pp_batch_encoded_size(b);
        if ((max_items && b->items > max_items) || (max_bytes && bytes > max_bytes)) {
            rc = group_emit(&g, emit, arg);
            if (rc == 0) rc = split_one(b, max_items, max_bytes, oversize, emit, arg);
            pp_batch_unref(b);
            continue;
        }
        if ((max_items && g.items + b->items > max_items) || (max_bytes && g.bytes + bytes > max_bytes))
            rc = group_emit(&g, emit, arg);
        if (rc == 0 && group_push(&g, b, bytes) != 0) rc = -1;
        if (rc != 0) pp_batch_unref(b);
    }
    if (rc == 0) rc = group_emit(&g, emit, arg);
    for (size_t i = 0; i < g.n; i++) pp_batch_unref(g.parts[i]);
    free(g.parts);
    return rc;
}

int pp_batch_regroup_bounded(pp_batch *const *in, size_t n, size_t max_items, size_t max_bytes,
                             size_t *oversize, pp_batch_emit_fn emit, void *arg) {
    size_t ignored;
    if (!oversize) oversize = &ignored;
    *oversize = 0;
    if (n == 0) return 0;
    /* Encoded inputs stay encoded (their consumers take them); decoded ones
     * joining them are packed rather than the encoded ones decoded. */
    for (size_t i = 0; i < n; i++)
        if (in[i]->encoded) return regroup_encoded(in, n, max_items, max_bytes, oversize, emit, arg);
    return regroup_decoded(in, n, max_items, max_bytes, oversize, emit, arg);
}

int pp_batch_regroup(pp_batch *const *in, size_t n, size_t max_items, pp_batch_emit_fn emit,
                     void *arg) {
    return pp_batch_regroup_bounded(in, n, max_items, 0, NULL, emit, arg);
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

/* A concatenation of several requests splits between them; one encoded
 * request is decoded first. */
static int halve_encoded(pp_batch *b, pp_batch **first, pp_batch **second) {
    if (b->enc || b->nparts < 2) {
        pp_status st;
        pp_status_clear(&st);
        pp_batch *d = pp_batch_decoded(b, &st);
        if (!d) return -1;
        int rc = pp_batch_halve(d, first, second);
        pp_batch_unref(d);
        return rc;
    }
    size_t k = 0, items = 0;
    while (k < b->nparts - 1 && (k == 0 || items + b->parts[k]->items <= b->items / 2))
        items += b->parts[k++]->items;
    *first = k == 1 ? pp_batch_ref(b->parts[0]) : pp_batch_concat(b->parts, k);
    *second = b->nparts - k == 1 ? pp_batch_ref(b->parts[k])
                                 : pp_batch_concat(b->parts + k, b->nparts - k);
    if (*first && *second) return 0;
    pp_batch_unref(*first);
    pp_batch_unref(*second);
    return -1;
}

int pp_batch_halve(pp_batch *b, pp_batch **first, pp_batch **second) {
    if (b->items < 2) return -1;
    if (b->encoded) return halve_encoded(b, first, second);
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
