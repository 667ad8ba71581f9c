/* metric_points.h -- type-independent access to a Metric's data points.
 *
 * The five OTLP metric types keep their points in five differently typed
 * arrays; code that only moves points around (regrouping, filtering, holding
 * the latest) uses these instead of switching on the type itself. */
#ifndef PIPIT_AGG_METRIC_POINTS_H
#define PIPIT_AGG_METRIC_POINTS_H

#include <stddef.h>

#include "arena.h"
#include "otlp.h"

/* The points array (NULL and *n = 0 for a metric without data). */
void **pp_metric_points(const pp_metric *m, size_t *n);
/* The aggregation temporality of sums and (exponential) histograms, 0 for others. */
int pp_metric_temporality(const pp_metric *m);
/* A shallow copy of m (in a) whose data holds pts[0..n) and, when
 * temporality >= 0, that temporality. NULL when out of memory. */
pp_metric *pp_metric_with_points(pp_arena *a, const pp_metric *m, void **pts, size_t n,
                                 int temporality);

#endif
