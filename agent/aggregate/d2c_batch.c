/* d2c_batch.c -- pp_d2c_convert: delta-to-cumulative over a whole batch. */
#include <stdbool.h>
#include <string.h>

#include "delta2cum.h"
#include "metric_points.h"

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x
#define DELTA M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA)
#define CUMULATIVE M(AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE)

static bool is_delta(const pp_metric *m) { return pp_metric_temporality(m) == DELTA; }

static bool has_delta(const pp_metrics_req *r) {
    for (size_t i = 0; i < r->n_resource_metrics; i++)
        for (size_t j = 0; j < r->resource_metrics[i]->n_scope_metrics; j++) {
            const pp_scope_metrics *sm = r->resource_metrics[i]->scope_metrics[j];
            for (size_t k = 0; k < sm->n_metrics; k++)
                if (is_delta(sm->metrics[k])) return true;
        }
    return false;
}

static pp_d2c_result convert_point(pp_d2c *s, pp_d2c_stream *id, void *in, void **out, pp_arena *a,
                                   pp_d2c_stats *st) {
    switch (id->metric->data_case) {
    case M(METRIC__DATA_SUM): {
        pp_number_point *p = in, *o = pp_arena_alloc(a, sizeof(*o));
        if (!o) return PP_D2C_ERROR;
        id->attrs = p->attributes, id->n_attrs = p->n_attributes;
        *out = o;
        return pp_d2c_sum(s, id, p, o, a, st);
    }
    case M(METRIC__DATA_HISTOGRAM): {
        pp_histogram_point *p = in, *o = pp_arena_alloc(a, sizeof(*o));
        if (!o) return PP_D2C_ERROR;
        id->attrs = p->attributes, id->n_attrs = p->n_attributes;
        *out = o;
        return pp_d2c_histogram(s, id, p, o, a, st);
    }
    default: {
        pp_exp_histogram_point *p = in, *o = pp_arena_alloc(a, sizeof(*o));
        if (!o) return PP_D2C_ERROR;
        id->attrs = p->attributes, id->n_attrs = p->n_attributes;
        *out = o;
        return pp_d2c_exp_histogram(s, id, p, o, a, st);
    }
    }
}

/* Appends to out[] the converted metric, and a delta copy for passed points. */
static int convert_metric(pp_d2c *s, pp_d2c_stream *id, pp_arena *a, pp_metric **out, size_t *nout,
                          pp_d2c_stats *st) {
    size_t n;
    void **in = pp_metric_points(id->metric, &n);
    void **cum = pp_arena_alloc(a, (n + 1) * sizeof(void *));
    void **pass = pp_arena_alloc(a, (n + 1) * sizeof(void *));
    if (!cum || !pass) return -1;
    size_t ncum = 0, npass = 0;
    for (size_t i = 0; i < n; i++) {
        void *o = NULL;
        switch (convert_point(s, id, in[i], &o, a, st)) {
        case PP_D2C_CONVERTED: cum[ncum++] = o; break;
        case PP_D2C_PASS: pass[npass++] = in[i]; break;
        case PP_D2C_DROP: break;
        case PP_D2C_ERROR: return -1;
        }
    }
    if (ncum) {
        if (!(out[*nout] = pp_metric_with_points(a, id->metric, cum, ncum, CUMULATIVE))) return -1;
        (*nout)++;
    }
    if (npass) {
        if (!(out[*nout] = pp_metric_with_points(a, id->metric, pass, npass, DELTA))) return -1;
        (*nout)++;
    }
    return 0;
}

static pp_scope_metrics *convert_scope(pp_d2c *s, const pp_resource *res, const pp_scope_metrics *sm,
                                       pp_arena *a, pp_d2c_stats *st) {
    pp_scope_metrics *c = pp_arena_alloc(a, sizeof(*c));
    pp_metric **ms = pp_arena_alloc(a, (2 * sm->n_metrics + 1) * sizeof(*ms));
    if (!c || !ms) return NULL;
    *c = *sm;
    size_t n = 0;
    for (size_t k = 0; k < sm->n_metrics; k++) {
        pp_metric *m = sm->metrics[k];
        if (!is_delta(m)) {
            ms[n++] = m;
            continue;
        }
        pp_d2c_stream id = {.resource = res, .scope = sm->scope, .metric = m};
        if (convert_metric(s, &id, a, ms, &n, st) != 0) return NULL;
    }
    c->metrics = ms;
    c->n_metrics = n;
    return c;
}

int pp_d2c_convert(pp_d2c *s, pp_batch *in, pp_batch **out, pp_d2c_stats *st) {
    *out = NULL;
    const pp_metrics_req *r = in->metrics;
    if (!has_delta(r)) {
        *out = pp_batch_ref(in);
        return 0;
    }
    pp_batch *b = pp_batch_new(PP_METRICS, 0);
    if (!b) return -1;
    pp_arena *a = b->arena;
    pp_resource_metrics **rms = pp_arena_alloc(a, (r->n_resource_metrics + 1) * sizeof(*rms));
    if (!rms || pp_batch_borrow(b, in) != 0) goto oom;
    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        const pp_resource_metrics *rm = r->resource_metrics[i];
        pp_resource_metrics *c = pp_arena_alloc(a, sizeof(*c));
        pp_scope_metrics **sms = pp_arena_alloc(a, (rm->n_scope_metrics + 1) * sizeof(*sms));
        if (!c || !sms) goto oom;
        *c = *rm;
        for (size_t j = 0; j < rm->n_scope_metrics; j++)
            if (!(sms[j] = convert_scope(s, rm->resource, rm->scope_metrics[j], a, st))) goto oom;
        c->scope_metrics = sms;
        rms[i] = c;
    }
    b->metrics->resource_metrics = rms;
    b->metrics->n_resource_metrics = r->n_resource_metrics;
    pp_batch_recount(b);
    *out = b;
    return 0;
oom:
    pp_batch_unref(b);
    return -1;
}
