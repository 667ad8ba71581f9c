/* sm_agg.c -- recording spans into series (sm_agg.h). */
#include <stdlib.h>
#include <string.h>

#include "aggregate/agg_clock.h"
#include "aggregate/ident.h"
#include "sm_internal.h"

#define ANY_STR OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
#define ANY_BOOL OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE
#define EXP_START_SCALE 20 /* the finest scale OTel SDKs start from */

void sm_series_fini(void *v) {
    sm_series *s = v;
    sm_hist_free(&s->cur);
    sm_hist_free(&s->unsent);
    free(s->ex);
}

sm_agg *sm_agg_new(const sm_agg_options *o) {
    sm_agg *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->o = *o;
    for (int i = 0; i < SM_SHARDS; i++) {
        pthread_mutex_init(&g->shards[i].lock, NULL);
        if (!(g->shards[i].map = pp_keymap_new(sizeof(sm_series)))) {
            sm_agg_free(g);
            return NULL;
        }
    }
    pp_any_value t = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    t.value_case = ANY_BOOL;
    t.bool_value = 1;
    pp_strbuf k = PP_STRBUF_INIT;
    pp_ident_kv(&k, "otel.metric.overflow", &t);
    if (k.oom || k.len > sizeof(g->overflow_key)) {
        pp_sb_free(&k);
        sm_agg_free(g);
        return NULL;
    }
    memcpy(g->overflow_key, k.p, k.len);
    g->overflow_len = k.len;
    pp_sb_free(&k);
    return g;
}

void sm_agg_free(sm_agg *g) {
    if (!g) return;
    for (int i = 0; i < SM_SHARDS; i++) {
        pp_keymap_free(g->shards[i].map, sm_series_fini);
        pthread_mutex_destroy(&g->shards[i].lock);
    }
    free(g);
}

size_t sm_agg_series_count(sm_agg *g) { return atomic_load(&g->count); }

static const char *kind_name(int kind) {
    static const char *const names[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                        "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                        "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
    return kind >= 0 && kind < 6 ? names[kind] : names[0];
}

static const char *status_name(const pp_span_status *s) {
    static const char *const names[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};
    int c = s ? (int)s->code : 0;
    return c >= 0 && c < 3 ? names[c] : names[0];
}

static const pp_any_value *find_attr(pp_key_value *const *kv, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, key) == 0) return kv[i]->value;
    return NULL;
}

static void put_str(pp_strbuf *k, const char *key, const char *s) {
    pp_any_value v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    v.value_case = ANY_STR;
    v.string_value = (char *)(uintptr_t)s;
    pp_ident_kv(k, key, &v);
}

/* The start of the series keys of a resource's spans: the service pair. */
static void service_key(const sm_agg *g, pp_strbuf *k, const pp_resource *res) {
    pp_key_value *const *ra = res ? res->attributes : NULL;
    size_t rn = res ? res->n_attributes : 0;
    if (!g->o.exclude[SM_DIM_SERVICE]) {
        const pp_any_value *svc = find_attr(ra, rn, "service.name");
        if (svc) pp_ident_kv(k, "service.name", svc);
        else put_str(k, "service.name", "");
    }
}

/* The rest of the series key of a span (after service_key's bytes). */
static void span_key(const sm_agg *g, pp_strbuf *k, const pp_resource *res, const pp_span *sp) {
    pp_key_value *const *ra = res ? res->attributes : NULL;
    size_t rn = res ? res->n_attributes : 0;
    const bool *ex = g->o.exclude;
    if (!ex[SM_DIM_SPAN_NAME]) put_str(k, "span.name", sp->name ? sp->name : "");
    if (!ex[SM_DIM_KIND]) put_str(k, "span.kind", kind_name((int)sp->kind));
    if (!ex[SM_DIM_STATUS]) put_str(k, "status.code", status_name(sp->status));
    for (size_t i = 0; i < g->o.ndims; i++) {
        const sm_dim *d = &g->o.dims[i];
        const pp_any_value *v = find_attr(sp->attributes, sp->n_attributes, d->name);
        if (!v) v = find_attr(ra, rn, d->name);
        if (v) pp_ident_kv(k, d->name, v);
        else if (d->def) put_str(k, d->name, d->def);
    }
}

static int hist_record(const sm_agg *g, sm_hist *h, double v) {
    if (g->o.exponential) {
        if (v <= 0) {
            h->zero++;
        } else {
            if (h->pos.n == 0 && h->count == h->zero) h->scale = EXP_START_SCALE;
            int32_t idx = pp_exph_index(v, h->scale);
            int32_t k = pp_exph_scale_drop(&h->pos, idx, g->o.max_size);
            if (k > 0) {
                pp_exph_downscale(&h->pos, k);
                h->scale -= k;
                idx = pp_exph_index(v, h->scale);
            }
            if (pp_exph_add_index(&h->pos, idx, 1) != 0) return -1;
        }
    } else {
        if (!h->buckets && !(h->buckets = calloc(g->o.nbounds + 1, sizeof(uint64_t)))) return -1;
        size_t i = 0;
        while (i < g->o.nbounds && v > g->o.bounds[i]) i++; /* bucket i: (b[i-1], b[i]] */
        h->buckets[i]++;
    }
    h->count++;
    h->sum += v;
    return 0;
}

int sm_hist_merge(const sm_agg *g, sm_hist *dst, const sm_hist *src) {
    if (src->count == 0) return 0;
    if (g->o.exponential) {
        if (dst->pos.n == 0 && dst->count == dst->zero) dst->scale = src->scale;
        if (pp_exph_merge(&dst->pos, &dst->scale, NULL, src->scale, src->pos.offset, src->pos.counts,
                          src->pos.n, g->o.max_size) != 0)
            return -1;
        dst->zero += src->zero;
    } else if (src->buckets) {
        if (!dst->buckets && !(dst->buckets = calloc(g->o.nbounds + 1, sizeof(uint64_t)))) return -1;
        for (size_t i = 0; i <= g->o.nbounds; i++) dst->buckets[i] += src->buckets[i];
    }
    dst->count += src->count;
    dst->sum += src->sum;
    return 0;
}

void sm_hist_clear(sm_hist *h) {
    h->count = h->zero = 0;
    h->sum = 0;
    pp_exph_range_free(&h->pos);
    if (h->buckets) free(h->buckets);
    h->buckets = NULL;
}

void sm_hist_free(sm_hist *h) { sm_hist_clear(h); }

static void add_exemplar(const sm_agg *g, sm_series *s, const pp_span *sp, double v) {
    if (!g->o.max_exemplars || sp->trace_id.len != 16 || sp->span_id.len != 8) return;
    if (!s->ex && !(s->ex = calloc(g->o.max_exemplars, sizeof(*s->ex)))) return;
    sm_exemplar *e = &s->ex[s->ex_next];
    memcpy(e->trace_id, sp->trace_id.data, 16);
    memcpy(e->span_id, sp->span_id.data, 8);
    e->value = v;
    e->time = sp->end_time_unix_nano;
    s->ex_next = (s->ex_next + 1) % g->o.max_exemplars;
    if (s->nex < g->o.max_exemplars) s->nex++;
}

/* Finds or creates the series (the overflow series beyond the cap); returns
 * it with its shard locked, or NULL (nothing locked) when out of memory. */
static sm_series *series_for(sm_agg *g, const pp_strbuf *k, size_t svc_len, bool *overflowed,
                             sm_shard **locked, int64_t now) {
    const void *key = k->p;
    size_t klen = k->len;
    for (int attempt = 0; attempt < 2; attempt++) {
        uint64_t h = pp_ident_hash(key, klen);
        sm_shard *sh = &g->shards[h % SM_SHARDS];
        pthread_mutex_lock(&sh->lock);
        sm_series *s = pp_keymap_find(sh->map, key, klen, h);
        bool is_overflow = key == (const void *)g->overflow_key;
        if (!s && (is_overflow || atomic_load(&g->count) < g->o.cap)) {
            if ((s = pp_keymap_insert(sh->map, key, klen, h)) != NULL) {
                atomic_fetch_add(&g->count, 1);
                s->start_ns = now;
                s->svc_len = is_overflow ? 0 : svc_len;
            }
        }
        if (s) {
            *locked = sh;
            *overflowed = is_overflow;
            return s;
        }
        pthread_mutex_unlock(&sh->lock);
        if (is_overflow) return NULL;
        key = g->overflow_key;
        klen = g->overflow_len;
    }
    return NULL;
}

size_t sm_agg_add(sm_agg *g, const pp_traces_req *r, size_t *lost) {
    size_t overflow = 0;
    *lost = 0;
    int64_t now = pp_agg_now_ns();
    pp_strbuf k = PP_STRBUF_INIT, svc = PP_STRBUF_INIT;
    for (size_t i = 0; i < r->n_resource_spans; i++) {
        const pp_resource_spans *rs = r->resource_spans[i];
        svc.len = 0; /* once per resource, copied into each span's key */
        service_key(g, &svc, rs->resource);
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            const pp_scope_spans *ss = rs->scope_spans[j];
            for (size_t n = 0; n < ss->n_spans; n++) {
                const pp_span *sp = ss->spans[n];
                size_t svc_len = svc.len;
                k.len = 0;
                if (svc.len) pp_sb_append(&k, svc.p, svc.len);
                span_key(g, &k, rs->resource, sp);
                if (k.oom || svc.oom) {
                    (*lost)++;
                    pp_sb_free(&k); /* oom is sticky: start afresh */
                    continue;
                }
                uint64_t ns = sp->end_time_unix_nano > sp->start_time_unix_nano
                                  ? sp->end_time_unix_nano - sp->start_time_unix_nano
                                  : 0;
                double v = (double)ns / g->o.ns_per_unit;
                bool of = false;
                sm_shard *sh = NULL;
                sm_series *s = series_for(g, &k, svc_len, &of, &sh, now);
                if (!s) {
                    (*lost)++;
                    continue;
                }
                s->touched_ns = now;
                s->calls++;
                if (g->o.histogram) {
                    if (hist_record(g, &s->cur, v) != 0) (*lost)++; /* counted, not timed */
                    add_exemplar(g, s, sp, v);
                }
                pthread_mutex_unlock(&sh->lock);
                if (of) overflow++;
            }
        }
    }
    pp_sb_free(&k);
    pp_sb_free(&svc);
    return overflow;
}
