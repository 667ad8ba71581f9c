/* sentry_group.c -- see sentry_group.h. */
#include "sentry_group.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HAS_IS_REMOTE 0x100u
#define IS_REMOTE 0x200u
#define KIND(x) OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_##x

bool pp_sentry_is_local_root(const pp_span *s) {
    if (s->parent_span_id.len == 0) return true;
    if (s->flags & HAS_IS_REMOTE) return (s->flags & IS_REMOTE) != 0;
    return s->kind == KIND(SERVER) || s->kind == KIND(CONSUMER);
}

/* Span lookup by (trace id, span id): open addressing over indexes. */
typedef struct span_index {
    size_t *slot, mask;
    const pp_sentry_span_ref *refs;
} span_index;

static uint64_t hash_id(const ProtobufCBinaryData *trace, const ProtobufCBinaryData *span) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < trace->len; i++) h = (h ^ trace->data[i]) * 1099511628211ull;
    for (size_t i = 0; i < span->len; i++) h = (h ^ span->data[i]) * 1099511628211ull;
    return h;
}

static bool same(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b) {
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static size_t find(const span_index *ix, const ProtobufCBinaryData *trace, const ProtobufCBinaryData *span) {
    for (size_t h = hash_id(trace, span) & ix->mask;; h = (h + 1) & ix->mask) {
        size_t i = ix->slot[h];
        if (i == PP_SENTRY_NONE) return PP_SENTRY_NONE;
        const pp_span *s = ix->refs[i].span;
        if (same(&s->trace_id, trace) && same(&s->span_id, span)) return i;
    }
}

static void insert(span_index *ix, size_t i) {
    const pp_span *s = ix->refs[i].span;
    if (find(ix, &s->trace_id, &s->span_id) != PP_SENTRY_NONE) return; /* first of duplicates wins */
    size_t h = hash_id(&s->trace_id, &s->span_id) & ix->mask;
    while (ix->slot[h] != PP_SENTRY_NONE) h = (h + 1) & ix->mask;
    ix->slot[h] = i;
}

enum { UNSEEN, VISITING, DONE };

/* Follows parents from i until a root, a resolved span, a missing parent or
 * a cycle, then gives every span on the way that root. */
static void resolve(pp_sentry_span_ref *v, const span_index *ix, unsigned char *state, size_t *chain, size_t i) {
    size_t n = 0, cur = i, root;
    for (;;) {
        if (state[cur] == DONE) {
            root = v[cur].root;
            break;
        }
        if (state[cur] == VISITING) { /* a cycle: break it here */
            root = cur;
            v[cur].orphan = true;
            break;
        }
        state[cur] = VISITING;
        chain[n++] = cur;
        const pp_span *s = v[cur].span;
        if (pp_sentry_is_local_root(s)) {
            root = cur;
            break;
        }
        size_t p = find(ix, &s->trace_id, &s->parent_span_id);
        if (p == PP_SENTRY_NONE) {
            root = cur;
            v[cur].orphan = true;
            break;
        }
        cur = p;
    }
    for (size_t k = 0; k < n; k++) {
        v[chain[k]].root = root;
        state[chain[k]] = DONE;
    }
}

int pp_sentry_group(const pp_traces_req *req, pp_sentry_groups *g) {
    size_t n = 0;
    for (size_t i = 0; i < req->n_resource_spans; i++)
        for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++)
            n += req->resource_spans[i]->scope_spans[j]->n_spans;
    g->n = n;
    g->v = calloc(n ? n : 1, sizeof(*g->v));
    size_t cap = 4;
    while (cap < 2 * n) cap *= 2;
    span_index ix = {malloc(cap * sizeof(size_t)), cap - 1, g->v};
    unsigned char *state = calloc(n ? n : 1, 1);
    size_t *chain = malloc((n ? n : 1) * sizeof(size_t));
    int rc = -1;
    if (!g->v || !ix.slot || !state || !chain) goto out;
    memset(ix.slot, 0xff, cap * sizeof(size_t));
    size_t k = 0;
    for (size_t i = 0; i < req->n_resource_spans; i++) {
        const pp_resource_spans *rs = req->resource_spans[i];
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            const pp_scope_spans *ss = rs->scope_spans[j];
            for (size_t s = 0; s < ss->n_spans; s++, k++) {
                g->v[k] = (pp_sentry_span_ref){ss->spans[s], rs, ss, k, PP_SENTRY_NONE, false};
                insert(&ix, k);
            }
        }
    }
    for (size_t i = 0; i < n; i++) resolve(g->v, &ix, state, chain, i);
    /* Link members behind their root, walking backwards to keep request order. */
    for (size_t i = n; i-- > 0;) {
        size_t r = g->v[i].root;
        if (r == i) continue;
        g->v[i].next = g->v[r].next;
        g->v[r].next = i;
    }
    rc = 0;
out:
    free(ix.slot);
    free(state);
    free(chain);
    if (rc != 0) pp_sentry_groups_free(g);
    return rc;
}

void pp_sentry_groups_free(pp_sentry_groups *g) {
    free(g->v);
    g->v = NULL;
    g->n = 0;
}
