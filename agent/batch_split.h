/* batch_split.h -- regroup batches into batches of at most N items (and at
 * most M encoded bytes), by reference.
 *
 * The output batches hold shallow copies of ResourceSpans/ScopeSpans (or
 * ResourceMetrics/ScopeMetrics/Metric) whose item arrays are slices of the
 * inputs' arrays, and hold references to the inputs they point into. No span
 * or data point is copied. Order of items is kept. Resources, scopes and
 * metrics that carry no items are left out. */
#ifndef PIPIT_BATCH_SPLIT_H
#define PIPIT_BATCH_SPLIT_H

#include "batch.h"

/* Called for every output batch, in order. The callee takes ownership of the
 * batch's reference. A non-zero return stops the regrouping and is returned. */
typedef int (*pp_batch_emit_fn)(pp_batch *out, void *arg);

/* Regroups the items of in[0..n) (all of one signal) into batches of at most
 * max_items items each (0 = one batch with everything). Returns 0, the emit
 * function's non-zero value, or -1 when out of memory. */
int pp_batch_regroup(pp_batch *const *in, size_t n, size_t max_items, pp_batch_emit_fn emit,
                     void *arg);

/* As pp_batch_regroup, and besides no output's protobuf encoding (its
 * Export*ServiceRequest) is larger than max_bytes (0 = no cap): an output
 * ends before the span or data point that would pass it. The bound is
 * computed from each item's packed size plus the resource / scope / metric
 * headers and 6 bytes of tag and length per level (an upper bound, never an
 * underestimate). An item that alone passes max_bytes goes alone in its own
 * output, never dropped; *oversize (may be NULL) counts those. */
int pp_batch_regroup_bounded(pp_batch *const *in, size_t n, size_t max_items, size_t max_bytes,
                             size_t *oversize, pp_batch_emit_fn emit, void *arg);

/* Splits one batch into two halves by item count (for an answer "too large").
 * Returns 0 with *first and *second set (each with refs = 1), or -1 when the
 * batch has fewer than 2 items or memory runs out. */
int pp_batch_halve(pp_batch *b, pp_batch **first, pp_batch **second);

#endif
