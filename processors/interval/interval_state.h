/* interval_state.h -- the latest point of every stream within an interval.
 *
 * Holds, per stream (ident.h pp_ident_stream), the point with the newest
 * time seen since the last emission, by reference: the entry keeps a
 * reference to the batch the point lives in, so nothing is copied and memory
 * is at most one interval's worth of input. An emission builds one batch
 * (grouped by resource, scope and metric) that borrows those batches and
 * clears the state; a refused emission is put back where no newer point
 * arrived meanwhile. One mutex: the processor is not on a hot path. */
#ifndef PIPIT_INTERVAL_STATE_H
#define PIPIT_INTERVAL_STATE_H

#include <stdbool.h>

#include "batch.h"

typedef struct iv_state iv_state;

iv_state *iv_state_new(void);
void iv_state_free(iv_state *s);

/* Keeps point p (of metric m in rm/sm of batch b) if it is the newest of its
 * stream. Returns -1 on OOM. */
int iv_state_put(iv_state *s, pp_batch *b, const pp_resource_metrics *rm,
                 const pp_scope_metrics *sm, const pp_metric *m, void *point);

/* Keeps every point of b's metrics for which keep(m, arg) is true (all when
 * keep is NULL). Returns how many points were kept, or -1 on OOM. */
long iv_state_put_batch(iv_state *s, pp_batch *b, bool (*keep)(const pp_metric *m, const void *arg),
                        const void *arg);

/* Takes everything held into a new batch (NULL when empty; *oom on OOM, and
 * then the state is kept). */
pp_batch *iv_state_take(iv_state *s, bool *oom);
/* Puts the points of a refused batch from iv_state_take back. */
void iv_state_restore(iv_state *s, pp_batch *refused);

size_t iv_state_count(iv_state *s);

#endif
