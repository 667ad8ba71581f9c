/* sentry_map.h -- an OTLP traces request to Sentry transaction and error
 * items (WIRE-SPECS 4.3-4.8). Pure: no I/O but getrandom() for event ids.
 *
 * Transactions. A span is a local root when it has no parent, or its flags
 * say the parent is remote (0x100 and 0x200 set), or, when the flags do not
 * say (0x100 clear), it is a SERVER or CONSUMER span (the legacy heuristic).
 * Each local root becomes a transaction; every span whose parent chain
 * (followed transitively, in any order within the request) reaches it goes
 * into its spans[].
 *
 * Orphans. A span whose parent is not in the request (children arriving in a
 * later batch than their root, or a parent that was dropped) cannot join its
 * transaction, which has been sent already. The topmost span of such a chain
 * becomes a transaction of its own, tagged pipit.orphan=true, and its own
 * descendants in the request become its spans. Its contexts.trace keeps the
 * real parent_span_id and trace_id, so Sentry's trace view still places it
 * under the right parent; nothing is dropped. (Holding spans back to wait for
 * their root would need a trace buffer with a timeout; the pipeline's batch
 * processor already groups most traces into one request.) A parent cycle is
 * broken at the span where it is found, the same way.
 *
 * Errors. Every span event named "exception" becomes an error event linked to
 * the span by contexts.trace, named after the span's transaction. */
#ifndef PIPIT_SENTRY_MAP_H
#define PIPIT_SENTRY_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "otlp.h"

typedef struct pp_sentry_map_options {
    const char *environment; /* NULL: deployment.environment(.name) of the resource */
    const char *release;     /* NULL: service.version of the resource */
    size_t max_item_bytes;   /* 0: PP_SENTRY_MAX_ITEM_BYTES (1 MiB) */
} pp_sentry_map_options;

typedef enum pp_sentry_item_type { PP_SENTRY_TRANSACTION, PP_SENTRY_ERROR } pp_sentry_item_type;

typedef struct pp_sentry_item {
    pp_sentry_item_type type;
    char event_id[33];
    char *json; /* malloc'd compact JSON, at most max_item_bytes */
    size_t len;
    size_t spans; /* transactions: spans in it, the root included (after trimming); errors: 0 */
} pp_sentry_item;

typedef struct pp_sentry_items {
    pp_sentry_item *v;
    size_t n, cap;
} pp_sentry_items;

/* Counters add up over calls. */
typedef struct pp_sentry_map_stats {
    size_t transactions, spans, errors; /* items made; spans inside transactions */
    size_t orphans;                     /* transactions made of spans whose parent was missing */
    size_t trimmed_spans;               /* spans dropped to fit an item into the limit */
    size_t cut_values;                  /* strings shortened to fit the limit */
    size_t dropped_oversize;            /* items that could not be made to fit */
    size_t dropped_oversize_errors;     /* ... of which error events */
    size_t unparsed_stacktraces;        /* kept raw in extra */
} pp_sentry_map_stats;

/* "transaction" or "event": the envelope item type. */
const char *pp_sentry_item_type_name(pp_sentry_item_type t);

/* Appends the items for req to out: transactions first, in the order of their
 * roots in the request, then errors. 0, or -1 when out of memory (items
 * appended so far stay in out). */
int pp_sentry_map_traces(const pp_traces_req *req, const pp_sentry_map_options *o,
                         pp_sentry_items *out, pp_sentry_map_stats *stats);
void pp_sentry_items_free(pp_sentry_items *items);

/* A random uuid4 as 32 lower-case hex digits. */
int pp_sentry_uuid4(char out[33]);

#endif
