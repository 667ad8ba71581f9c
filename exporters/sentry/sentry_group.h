/* sentry_group.h -- which transaction each span of a request belongs to
 * (the rules are in sentry_map.h). */
#ifndef PIPIT_SENTRY_GROUP_H
#define PIPIT_SENTRY_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "otlp.h"

#define PP_SENTRY_NONE ((size_t)-1)

typedef struct pp_sentry_span_ref {
    const pp_span *span;
    const pp_resource_spans *rs;
    const pp_scope_spans *ss;
    size_t root;  /* index of its transaction's root (itself for a root) */
    size_t next;  /* for a root: its first member; for a member: the next one
                     (request order); PP_SENTRY_NONE at the end */
    bool orphan;  /* a root only because its parent is not in the request */
} pp_sentry_span_ref;

typedef struct pp_sentry_groups {
    pp_sentry_span_ref *v; /* every span, in request order */
    size_t n;
} pp_sentry_groups;

/* No parent, a remote parent by the flags, or (flags silent) SERVER/CONSUMER. */
bool pp_sentry_is_local_root(const pp_span *s);

/* 0, or -1 when out of memory. */
int pp_sentry_group(const pp_traces_req *req, pp_sentry_groups *g);
void pp_sentry_groups_free(pp_sentry_groups *g);

#endif
