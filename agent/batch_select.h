/* batch_select.h -- new trace batches made of some spans of other batches.
 *
 * Like batch_split.h, outputs hold shallow copies of ResourceSpans/ScopeSpans
 * in their own arena, point at the inputs' spans and borrow the inputs
 * (pp_batch_borrow). Inputs are never modified, so they may be shared. */
#ifndef PIPIT_BATCH_SELECT_H
#define PIPIT_BATCH_SELECT_H

#include "batch.h"

/* Decides one span: returns NULL to leave it out, sp itself to keep it, or a
 * replacement allocated in out_arena (e.g. a copy with a new trace_state). */
typedef pp_span *(*pp_span_map_fn)(pp_span *sp, pp_arena *out_arena, void *arg);

/* Builds a batch of the spans of `in` (traces) that fn keeps, in order.
 * Returns 0 with *out set (NULL when no span is kept), or -1 when out of memory. */
int pp_batch_map_spans(pp_batch *in, pp_span_map_fn fn, void *arg, pp_batch **out);

/* One span held elsewhere, with where it came from. */
typedef struct pp_span_ref {
    pp_batch *batch; /* the batch the pointers below point into */
    pp_resource_spans *rs;
    pp_scope_spans *ss;
    pp_span *span;
} pp_span_ref;

/* Builds one batch of the spans refs[0..n), grouped by resource and scope
 * (refs is reordered). Each distinct refs[i].batch is borrowed. Returns NULL
 * when n is 0 or memory runs out. */
pp_batch *pp_batch_from_span_refs(pp_span_ref *refs, size_t n);

#endif
