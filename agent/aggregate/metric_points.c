/* metric_points.c -- see metric_points.h. */
#include "metric_points.h"

#define M(x) OPENTELEMETRY__PROTO__METRICS__V1__##x

void **pp_metric_points(const pp_metric *m, size_t *n) {
    *n = 0;
    switch (m->data_case) {
    case M(METRIC__DATA_GAUGE):
        if (!m->gauge) return NULL;
        *n = m->gauge->n_data_points;
        return (void **)m->gauge->data_points;
    case M(METRIC__DATA_SUM):
        if (!m->sum) return NULL;
        *n = m->sum->n_data_points;
        return (void **)m->sum->data_points;
    case M(METRIC__DATA_HISTOGRAM):
        if (!m->histogram) return NULL;
        *n = m->histogram->n_data_points;
        return (void **)m->histogram->data_points;
    case M(METRIC__DATA_EXPONENTIAL_HISTOGRAM):
        if (!m->exponential_histogram) return NULL;
        *n = m->exponential_histogram->n_data_points;
        return (void **)m->exponential_histogram->data_points;
    case M(METRIC__DATA_SUMMARY):
        if (!m->summary) return NULL;
        *n = m->summary->n_data_points;
        return (void **)m->summary->data_points;
    default: return NULL;
    }
}

int pp_metric_temporality(const pp_metric *m) {
    switch (m->data_case) {
    case M(METRIC__DATA_SUM): return m->sum ? (int)m->sum->aggregation_temporality : 0;
    case M(METRIC__DATA_HISTOGRAM): return m->histogram ? (int)m->histogram->aggregation_temporality : 0;
    case M(METRIC__DATA_EXPONENTIAL_HISTOGRAM):
        return m->exponential_histogram ? (int)m->exponential_histogram->aggregation_temporality : 0;
    default: return 0;
    }
}

/* Copies the data message `field` of type T so that it holds pts. */
#define WITH(field, T, PT)                                            \
    do {                                                              \
        T *d = pp_arena_alloc(a, sizeof(*d));                         \
        if (!d) return NULL;                                          \
        *d = *m->field;                                               \
        d->data_points = (PT **)pts;                                  \
        d->n_data_points = n;                                         \
        c->field = d;                                                 \
    } while (0)

pp_metric *pp_metric_with_points(pp_arena *a, const pp_metric *m, void **pts, size_t n,
                                 int temporality) {
    pp_metric *c = pp_arena_alloc(a, sizeof(*c));
    if (!c) return NULL;
    *c = *m;
    switch (m->data_case) {
    case M(METRIC__DATA_GAUGE): WITH(gauge, Opentelemetry__Proto__Metrics__V1__Gauge, pp_number_point); break;
    case M(METRIC__DATA_SUM):
        WITH(sum, Opentelemetry__Proto__Metrics__V1__Sum, pp_number_point);
        if (temporality >= 0) c->sum->aggregation_temporality = temporality;
        break;
    case M(METRIC__DATA_HISTOGRAM):
        WITH(histogram, Opentelemetry__Proto__Metrics__V1__Histogram, pp_histogram_point);
        if (temporality >= 0) c->histogram->aggregation_temporality = temporality;
        break;
    case M(METRIC__DATA_EXPONENTIAL_HISTOGRAM):
        WITH(exponential_histogram, Opentelemetry__Proto__Metrics__V1__ExponentialHistogram,
             pp_exp_histogram_point);
        if (temporality >= 0) c->exponential_histogram->aggregation_temporality = temporality;
        break;
    case M(METRIC__DATA_SUMMARY): WITH(summary, Opentelemetry__Proto__Metrics__V1__Summary, pp_summary_point); break;
    default: break;
    }
    return c;
}
