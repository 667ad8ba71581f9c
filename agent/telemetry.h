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
 * (const char *[]){"receiver", "otlp", "transport", "grpc", NULL}; may be NULL
 * for none. The same name and labels (in any order) return the same series,
 * and a handle stays valid until pp_metrics_free(). Returns NULL on OOM, when
 * the name is already registered with another type (or a histogram with other
 * bounds), or when a metric or label name is not a valid Prometheus name.
 * The update functions accept NULL and then do nothing, so a component need
 * not check each handle. */
pp_counter *pp_counter_get(pp_metrics *m, const char *name, const char *help,
                           const char *const *labels);
void pp_counter_add(pp_counter *c, uint64_t n);
uint64_t pp_counter_value(const pp_counter *c);

pp_gauge *pp_gauge_get(pp_metrics *m, const char *name, const char *help,
                       const char *const *labels);
void pp_gauge_set(pp_gauge *g, int64_t v);
void pp_gauge_add(pp_gauge *g, int64_t delta);
int64_t pp_gauge_value(const pp_gauge *g);
/* A gauge whose value is read by calling fn(arg) at scrape time. fn runs
 * under the registry's lock: it must not register metrics. A later call for
 * the same series replaces fn and arg. */
pp_gauge *pp_gauge_get_fn(pp_metrics *m, const char *name, const char *help,
                          const char *const *labels, int64_t (*fn)(void *), void *arg);
/* Detaches the callback (before arg is freed); the gauge then reads its last
 * set value. */
void pp_gauge_clear_fn(pp_gauge *g);

/* bounds: upper bounds, strictly increasing (the +Inf bucket is implicit). */
pp_histogram *pp_histogram_get(pp_metrics *m, const char *name, const char *help,
                               const double *bounds, size_t nbounds, const char *const *labels);
void pp_histogram_observe(pp_histogram *h, double v);
uint64_t pp_histogram_count(const pp_histogram *h);
double pp_histogram_sum(const pp_histogram *h);

/* Registers the process metrics, read at scrape time:
 * otelcol_process_uptime (counter, seconds), otelcol_process_memory_rss
 * (gauge, bytes) and otelcol_process_cpu_seconds (counter). */
void pp_metrics_add_process(pp_metrics *m);

/* Prometheus text exposition format 0.0.4; caller frees. */
char *pp_metrics_render(pp_metrics *m, size_t *len);

#endif
