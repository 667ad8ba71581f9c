/* telemetry.h -- pipit's own metrics, exposed in the Prometheus text format.
 *
 * A registry of metric families, each with series keyed by label values.
 * Components look a series up once (at create time) and keep the handle; the
 * hot path is then a relaxed atomic add with no lock and no lookup.
 * Names follow the Collector (otelcol_receiver_accepted_spans, ...); counters
 * are exposed with the `_total` suffix, as Collector releases since 0.106 do. */
#ifndef PIPIT_TELEMETRY_H
#define PIPIT_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct pp_metrics pp_metrics;
typedef struct pp_counter pp_counter;
typedef struct pp_gauge pp_gauge;
typedef struct pp_histogram pp_histogram;

pp_metrics *pp_metrics_new(void);
void pp_metrics_free(pp_metrics *m);

/* labels: NULL-terminated list of name, value pairs, e.g.
 * (const char *[]){"receiver", "otlp", "transport", "grpc", NULL}.
 * The same name and labels return the same series. Returns NULL only on OOM or
 * when the name is already registered with another type. */
pp_counter *pp_counter_get(pp_metrics *m, const char *name, const char *help,
                           const char *const *labels);
void pp_counter_add(pp_counter *c, uint64_t n);
uint64_t pp_counter_value(const pp_counter *c);

pp_gauge *pp_gauge_get(pp_metrics *m, const char *name, const char *help,
                       const char *const *labels);
void pp_gauge_set(pp_gauge *g, int64_t v);
void pp_gauge_add(pp_gauge *g, int64_t delta);
int64_t pp_gauge_value(const pp_gauge *g);
/* A gauge whose value is read by calling fn(arg) at scrape time. */
pp_gauge *pp_gauge_get_fn(pp_metrics *m, const char *name, const char *help,
                          const char *const *labels, int64_t (*fn)(void *), void *arg);

/* bounds: upper bounds, strictly increasing (the +Inf bucket is implicit). */
pp_histogram *pp_histogram_get(pp_metrics *m, const char *name, const char *help,
                               const double *bounds, size_t nbounds, const char *const *labels);
void pp_histogram_observe(pp_histogram *h, double v);

/* Prometheus text exposition format 0.0.4; caller frees. */
char *pp_metrics_render(pp_metrics *m, size_t *len);

#endif
