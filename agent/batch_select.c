/* batch_select.c -- see batch_select.h. */
#include "batch_select.h"

#include <stdlib.h>
#include <string.h>

static void *arena_ptrs(pp_arena *a, size_t n) {
    return pp_arena_alloc(a, (n ? n : 1) * sizeof(void *));
}

/* Filters one scope: a shallow copy with the kept spans, or NULL with *oom
 * set when memory ran out, or NULL when nothing is kept. */
static pp_scope_spans *map_scope(const pp_scope_spans *ss, pp_span_map_fn fn, void *arg,
                                 pp_arena *a, int *oom) {
    pp_span **kept = arena_ptrs(a, ss->n_spans);
    if (!kept) {
        *oom = 1;
        return NULL;
    }
    size_t n = 0;
    for (size_t k = 0; k < ss->n_spans; k++) {
        pp_span *sp = fn(ss->spans[k], a, arg);
        if (sp) kept[n++] = sp;
    }
    if (n == 0) return NULL;
    pp_scope_spans *oss = pp_arena_alloc(a, sizeof(*oss));
    if (!oss) {
        *oom = 1;
        return NULL;
    }
    *oss = *ss;
    oss->spans = kept;
    oss->n_spans = n;
    return oss;
}

int pp_batch_map_spans(pp_batch *in, pp_span_map_fn fn, void *arg, pp_batch **out) {
    *out = NULL;
    pp_batch *b = pp_batch_new(PP_TRACES, 4096);
    if (!b) return -1;
    const pp_traces_req *r = in->traces;
    pp_traces_req *req = b->traces;
    req->resource_spans = arena_ptrs(b->arena, r->n_resource_spans);
    int oom = req->resource_spans == NULL;
    for (size_t i = 0; i < r->n_resource_spans && !oom; i++) {
        const pp_resource_spans *rs = r->resource_spans[i];
        pp_scope_spans **scopes = arena_ptrs(b->arena, rs->n_scope_spans);
        if (!scopes) {
            oom = 1;
            break;
        }
        size_t ns = 0;
        for (size_t j = 0; j < rs->n_scope_spans && !oom; j++) {
            pp_scope_spans *oss = map_scope(rs->scope_spans[j], fn, arg, b->arena, &oom);
            if (oss) scopes[ns++] = oss;
        }
        if (ns == 0 || oom) continue;
        pp_resource_spans *ors = pp_arena_alloc(b->arena, sizeof(*ors));
        if (!ors) {
            oom = 1;
            break;
        }
        *ors = *rs;
        ors->scope_spans = scopes;
        ors->n_scope_spans = ns;
        req->resource_spans[req->n_resource_spans++] = ors;
    }
    if (oom || (req->n_resource_spans > 0 && pp_batch_borrow(b, in) != 0)) {
        pp_batch_unref(b);
        return -1;
    }
    pp_batch_recount(b);
    if (b->items == 0) {
        pp_batch_unref(b);
        return 0;
    }
    *out = b;
    return 0;
}

/* Groups by resource, then scope; the span pointer keeps the input order of
 * spans within a scope stable enough (ties cannot happen: spans differ). */
static int cmp_ref(const void *pa, const void *pb) {
    const pp_span_ref *a = pa, *b = pb;
    if (a->rs != b->rs) return (uintptr_t)a->rs < (uintptr_t)b->rs ? -1 : 1;
    if (a->ss != b->ss) return (uintptr_t)a->ss < (uintptr_t)b->ss ? -1 : 1;
    if (a->span != b->span) return (uintptr_t)a->span < (uintptr_t)b->span ? -1 : 1;
    return 0;
}

pp_batch *pp_batch_from_span_refs(pp_span_ref *refs, size_t n) {
    if (n == 0) return NULL;
    qsort(refs, n, sizeof(*refs), cmp_ref);
    size_t nres = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || refs[i].rs != refs[i - 1].rs) nres++;
    pp_batch *b = pp_batch_new(PP_TRACES, 256 + n * (sizeof(void *) + 16));
    if (!b) return NULL;
    pp_arena *a = b->arena;
    pp_traces_req *req = b->traces;
    req->resource_spans = arena_ptrs(a, nres);
    if (!req->resource_spans) goto oom;
    pp_batch *last_borrowed = NULL;
    size_t i = 0;
    while (i < n) {
        /* one resource: refs[i..rend) */
        size_t rend = i, nscopes = 0;
        while (rend < n && refs[rend].rs == refs[i].rs) {
            if (rend == i || refs[rend].ss != refs[rend - 1].ss) nscopes++;
            rend++;
        }
        pp_resource_spans *ors = pp_arena_alloc(a, sizeof(*ors));
        pp_scope_spans **scopes = arena_ptrs(a, nscopes);
        if (!ors || !scopes) goto oom;
        *ors = *refs[i].rs;
        ors->scope_spans = scopes;
        ors->n_scope_spans = 0;
        while (i < rend) {
            size_t send = i;
            while (send < rend && refs[send].ss == refs[i].ss) send++;
            pp_scope_spans *oss = pp_arena_alloc(a, sizeof(*oss));
            pp_span **spans = arena_ptrs(a, send - i);
            if (!oss || !spans) goto oom;
            *oss = *refs[i].ss;
            oss->spans = spans;
            oss->n_spans = 0;
            for (; i < send; i++) {
                oss->spans[oss->n_spans++] = refs[i].span;
                if (refs[i].batch != last_borrowed) {
                    if (pp_batch_borrow(b, refs[i].batch) != 0) goto oom;
                    last_borrowed = refs[i].batch;
                }
            }
            scopes[ors->n_scope_spans++] = oss;
        }
        req->resource_spans[req->n_resource_spans++] = ors;
    }
    pp_batch_recount(b);
    return b;
oom:
    pp_batch_unref(b);
    return NULL;
}
