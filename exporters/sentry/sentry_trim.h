/* sentry_trim.h -- keeping one item under Relay's 1 MiB item limit. */
#ifndef PIPIT_SENTRY_TRIM_H
#define PIPIT_SENTRY_TRIM_H

#include <json-c/json.h>
#include <stddef.h>

#define PP_SENTRY_MAX_ITEM_BYTES (1024 * 1024)

/* Serialises item (compact JSON) in at most max bytes: first drops elements
 * of item.spans from the end (adding their count to *trimmed_spans), then
 * cuts strings anywhere in the item to shorter and shorter lengths (adding the
 * number of cuts to *cut_values). Modifies item. Returns malloc'd JSON and its
 * length, or NULL when even that does not fit (or OOM). */
char *pp_sentry_serialize_limited(json_object *item, size_t max, size_t *len, size_t *trimmed_spans,
                                  size_t *cut_values);

#endif
