/* ts_policy_eval.c -- evaluation of tail_sampling policies on one trace.
 * Each evaluator mirrors the Collector's (the files of its internal/sampling package); notes on
 * the few choices of pipit's own are in docs/components/sampling.md. */
#include <string.h>

#include "ts_policy.h"

/* ---- attribute lookups over a trace: span attributes, then resources ---- */

typedef bool (*value_pred)(const ts_policy *p, const pp_any_value *v);

static bool attrs_match(const ts_policy *p, pp_key_value **kvs, size_t n, value_pred pred) {
    for (size_t i = 0; i < n; i++)
        if (kvs[i]->key && kvs[i]->value && strcmp(kvs[i]->key, p->key) == 0 && pred(p, kvs[i]->value))
            return true;
    return false;
}

static bool trace_has(const ts_policy *p, const pp_span_ref *refs, size_t n, value_pred pred) {
    const pp_resource_spans *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const pp_resource_spans *rs = refs[i].rs;
        if (rs != last && rs->resource &&
            attrs_match(p, rs->resource->attributes, rs->resource->n_attributes, pred))
            return true;
        last = rs;
        if (attrs_match(p, refs[i].span->attributes, refs[i].span->n_attributes, pred)) return true;
    }
    return false;
}

static bool str_pred(const ts_policy *p, const pp_any_value *v) {
    if (v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) return false;
    for (size_t i = 0; i < p->nvalues; i++) {
        if (p->regexes ? regexec(&p->regexes[i], v->string_value, 0, NULL, 0) == 0
                       : strcmp(p->values[i], v->string_value) == 0)
            return true;
    }
    return false;
}

static bool num_pred(const ts_policy *p, const pp_any_value *v) {
    if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
        return v->int_value >= p->lo && v->int_value <= p->hi;
    if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE)
        return v->double_value >= (double)p->lo && v->double_value <= (double)p->hi;
    return false;
}

static bool bool_pred(const ts_policy *p, const pp_any_value *v) {
    return v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE &&
           (v->bool_value != 0) == p->bool_value;
}

/* Plain: Sampled on a match. Inverted: a match is InvertNotSampled, no
 * match InvertSampled. */
static ts_decision attr_decision(const ts_policy *p, const pp_span_ref *refs, size_t n, value_pred pred) {
    bool m = trace_has(p, refs, n, pred);
    if (p->invert) return m ? TS_INVERT_NOT_SAMPLED : TS_INVERT_SAMPLED;
    return m ? TS_SAMPLED : TS_NOT_SAMPLED;
}

/* ---- the others ---- */

static ts_decision latency(const ts_policy *p, const pp_span_ref *refs, size_t n) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (refs[i].span->start_time_unix_nano < lo) lo = refs[i].span->start_time_unix_nano;
        if (refs[i].span->end_time_unix_nano > hi) hi = refs[i].span->end_time_unix_nano;
    }
    if (n == 0 || hi < lo) return TS_NOT_SAMPLED;
    int64_t ms = (int64_t)((hi - lo) / 1000000u);
    bool in = ms >= p->lo && (p->hi == 0 || ms <= p->hi);
    return in ? TS_SAMPLED : TS_NOT_SAMPLED;
}

static ts_decision status_code(const ts_policy *p, const pp_span_ref *refs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const pp_span_status *s = refs[i].span->status;
        unsigned code = s ? (unsigned)s->code : 0;
        if (code < 3 && (p->status_mask & (1u << code))) return TS_SAMPLED;
    }
    return TS_NOT_SAMPLED;
}

/* FNV-1a 64 of the salt, then the trace id bytes. */
static uint64_t fnv64(const char *salt, const uint8_t *id) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *c = salt; *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
    for (int i = 0; i < 16; i++) h = (h ^ id[i]) * 0x100000001b3ull;
    return h;
}

/* Does the W3C tracestate ts have key=value with value in p->values? */
static bool tracestate_has(const ts_policy *p, const char *ts) {
    size_t klen = strlen(p->key);
    for (const char *e = ts; e && *e;) {
        while (*e == ' ' || *e == '\t' || *e == ',') e++;
        const char *end = strchr(e, ',');
        size_t len = end ? (size_t)(end - e) : strlen(e);
        while (len && (e[len - 1] == ' ' || e[len - 1] == '\t')) len--;
        if (len > klen && memcmp(e, p->key, klen) == 0 && e[klen] == '=') {
            const char *v = e + klen + 1;
            size_t vlen = len - klen - 1;
            for (size_t i = 0; i < p->nvalues; i++)
                if (strlen(p->values[i]) == vlen && memcmp(p->values[i], v, vlen) == 0) return true;
        }
        e = end;
    }
    return false;
}

static void roll_second(ts_policy *p, int64_t now_s) {
    if (p->second == now_s) return;
    p->second = now_s;
    p->spent = 0;
    for (size_t i = 0; p->sub_spent && i < p->nsubs; i++) p->sub_spent[i] = 0;
}

ts_decision ts_policy_eval(ts_policy *p, const uint8_t tid[16], const pp_span_ref *refs, size_t n,
                           int64_t now_s) {
    switch (p->type) {
    case TS_ALWAYS_SAMPLE: return TS_SAMPLED;
    case TS_LATENCY: return latency(p, refs, n);
    case TS_STATUS_CODE: return status_code(p, refs, n);
    case TS_STRING_ATTRIBUTE: return attr_decision(p, refs, n, str_pred);
    case TS_NUMERIC_ATTRIBUTE: return attr_decision(p, refs, n, num_pred);
    case TS_BOOLEAN_ATTRIBUTE: return attr_decision(p, refs, n, bool_pred);
    case TS_PROBABILISTIC:
        return fnv64(p->salt, tid) <= p->prob_threshold ? TS_SAMPLED : TS_NOT_SAMPLED;
    case TS_RATE_LIMITING:
        roll_second(p, now_s);
        /* As the Collector: strictly below the limit after adding the trace. */
        if (p->spent + (int64_t)n < p->per_second) {
            p->spent += (int64_t)n;
            return TS_SAMPLED;
        }
        return TS_NOT_SAMPLED;
    case TS_SPAN_COUNT:
        return (int64_t)n >= p->lo && (p->hi == 0 || (int64_t)n <= p->hi) ? TS_SAMPLED : TS_NOT_SAMPLED;
    case TS_TRACE_STATE:
        for (size_t i = 0; i < n; i++)
            if (refs[i].span->trace_state && tracestate_has(p, refs[i].span->trace_state)) return TS_SAMPLED;
        return TS_NOT_SAMPLED;
    case TS_AND:
    case TS_DROP:
        for (size_t i = 0; i < p->nsubs; i++) {
            ts_decision d = ts_policy_eval(&p->subs[i], tid, refs, n, now_s);
            if (d == TS_NOT_SAMPLED || d == TS_INVERT_NOT_SAMPLED) return TS_NOT_SAMPLED;
        }
        return p->type == TS_DROP ? TS_DROPPED : TS_SAMPLED;
    case TS_COMPOSITE:
        roll_second(p, now_s);
        /* The first sub-policy (in policy_order) that samples the trace and
         * still has room in its share of max_total_spans_per_second. */
        for (size_t i = 0; i < p->nsubs; i++) {
            ts_decision d = ts_policy_eval(&p->subs[i], tid, refs, n, now_s);
            if (d != TS_SAMPLED && d != TS_INVERT_SAMPLED) continue;
            if (p->sub_spent[i] + (int64_t)n <= p->sub_limit[i] &&
                p->spent + (int64_t)n <= p->per_second) {
                p->sub_spent[i] += (int64_t)n;
                p->spent += (int64_t)n;
                return TS_SAMPLED;
            }
        }
        return TS_NOT_SAMPLED;
    }
    return TS_NOT_SAMPLED;
}

bool ts_policy_set_decide(ts_policy_set *set, const uint8_t tid[16], const pp_span_ref *refs,
                          size_t n, int64_t now_s) {
    bool seen[TS_DROPPED + 1] = {false};
    pthread_mutex_lock(&set->lock);
    for (size_t i = 0; i < set->n; i++) {
        ts_policy *p = &set->items[i];
        ts_decision d = ts_policy_eval(p, tid, refs, n, now_s);
        pp_counter_add(p->count[d == TS_SAMPLED || d == TS_INVERT_SAMPLED], 1);
        seen[d] = true;
        if (d == TS_DROPPED) break; /* nothing can overrule it */
    }
    pthread_mutex_unlock(&set->lock);
    if (seen[TS_DROPPED] || seen[TS_INVERT_NOT_SAMPLED]) return false;
    if (seen[TS_SAMPLED]) return true;
    return seen[TS_INVERT_SAMPLED] && !seen[TS_NOT_SAMPLED];
}
