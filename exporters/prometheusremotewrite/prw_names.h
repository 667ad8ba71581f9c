/* prw_names.h -- OTLP metric, unit and attribute names to Prometheus names.
 *
 * Follows the OTel compatibility spec (prometheus_and_openmetrics.md) and what
 * prometheus/otlptranslator does with underscore escaping (WIRE-SPECS 3.5).
 * All results are allocated in the arena. */
#ifndef PIPIT_PRW_NAMES_H
#define PIPIT_PRW_NAMES_H

#include <stdbool.h>

#include "arena.h"

/* Which type suffix a metric name gets. */
typedef enum pp_prw_name_kind {
    PP_PRW_NAME_GAUGE,   /* unit "1" adds _ratio */
    PP_PRW_NAME_COUNTER, /* monotonic cumulative sum: _total */
    PP_PRW_NAME_OTHER,   /* non-monotonic sums, histograms, summaries */
} pp_prw_name_kind;

/* The Prometheus metric name for an OTLP metric. With add_suffixes the name
 * is split into tokens on every character outside [a-zA-Z0-9:], the unit words
 * and the type suffix are appended (never twice), and the tokens are joined
 * with '_'. Without, invalid characters become '_' and nothing is appended.
 * ns (NULL or "") is prefixed with '_'. A leading digit gets a '_' prefix.
 * Returns NULL when nothing valid is left (or out of memory). */
char *pp_prw_metric_name(pp_arena *a, const char *name, const char *unit, pp_prw_name_kind kind,
                         const char *ns, bool add_suffixes);

/* The unit words of a UCUM unit as used in names and metadata: "By/s" ->
 * "bytes_per_second", "1" -> "", "{req}" -> "". Never NULL but on OOM. */
char *pp_prw_unit_name(pp_arena *a, const char *unit);

/* The Prometheus label name for an attribute key: characters outside
 * [a-zA-Z0-9] become '_' with runs collapsed to one, a leading digit gets
 * "key_", and "__x__" keeps its reserved underscores (its inside is escaped).
 * A key that is not reserved cannot end up starting with "__".
 * Returns NULL for an empty key or one that escapes to underscores only. */
char *pp_prw_label_name(pp_arena *a, const char *key);

#endif
