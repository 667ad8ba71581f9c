/* prw_translate.h -- OTLP metrics to a Prometheus remote-write 1.0 request.
 *
 * A pure translation (no I/O) for the prometheusremotewrite exporter, after
 * the OTel compatibility spec (prometheus_and_openmetrics.md) and what the
 * Collector's translator does; WIRE-SPECS.md section 3.5 has the rules.
 * Delta sums and histograms are not converted here: they are counted in
 * stats.dropped_delta, and the pipeline converts them to cumulative first. */
#ifndef PIPIT_PRW_TRANSLATE_H
#define PIPIT_PRW_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config_schema.h"
#include "otlp.h"
#include "prometheus/remote.pb-c.h"

typedef struct pp_prw_options {
    const char *namespace_;         /* NULL or "": none; else prefixed with '_' */
    bool add_metric_suffixes;       /* units, _total, _ratio (default true) */
    bool resource_to_telemetry_conversion; /* every resource attribute on every series */
    bool target_info;               /* a target_info series per resource (default true) */
    bool scope_labels;              /* otel_scope_name/_version/_schema_url/_<attr> (default true) */
    bool send_metadata;             /* WriteRequest.metadata, one per metric family */
    bool export_created_metric;     /* <name>_created = start time in ms */
    const pp_cfg_kvs *external_labels; /* valid names; added where a series lacks them */
} pp_prw_options;

/* The defaults above (true where marked, false otherwise). */
void pp_prw_options_default(pp_prw_options *o);

/* What a translation produced and what it dropped, by reason (points unless
 * said otherwise). Counters add up over calls. */
typedef struct pp_prw_stats {
    size_t series, samples, histograms, exemplars, metadata;
    size_t dropped_delta;       /* delta sums, histograms, exponential histograms */
    size_t dropped_temporality; /* temporality UNSPECIFIED */
    size_t dropped_no_time;     /* time_unix_nano == 0 */
    size_t dropped_scale;       /* exponential histogram scale < -4 */
    size_t dropped_no_sum;      /* exponential histogram without a sum */
    size_t dropped_invalid;     /* no value; bucket counts that do not fit the bounds */
    size_t dropped_name;        /* metric name normalizes to nothing */
    size_t dropped_labels;      /* attributes (not points) whose key normalizes to nothing */
} pp_prw_stats;

/* Translates req into a WriteRequest allocated in arena (every series, label
 * and sample too; nothing points into req). Points with the same label set go
 * into one series, samples stably sorted by time; series keep the order in
 * which they first appear. Labels are sorted bytewise by name, with no empty
 * values. Returns NULL only when out of memory. */
Prometheus__WriteRequest *pp_prw_translate(const pp_metrics_req *req, const pp_prw_options *o,
                                           pp_arena *arena, pp_prw_stats *stats);

/* pp_prw_translate, and with series_hash set, *series_hash becomes an arena
 * array of wr->n_timeseries hashes (NULL when there are none):
 * series_hash[i] == pp_prw_series_hash(wr->timeseries[i]), already computed
 * by the translation's series lookup; pass it to pp_prw_encode_hashed. */
Prometheus__WriteRequest *pp_prw_translate_hashed(const pp_metrics_req *req, const pp_prw_options *o,
                                                  pp_arena *arena, pp_prw_stats *stats,
                                                  const uint64_t **series_hash);

/* Stable 64-bit hash of a series' label set, for sharding by series. The
 * labels must be sorted by name, as pp_prw_translate leaves them. */
uint64_t pp_prw_series_hash(const Prometheus__TimeSeries *ts);

/* The staleness marker: the NaN with bits 0x7ff0000000000002. */
double pp_prw_stale_nan(void);
bool pp_prw_is_stale_nan(double v);

#endif
