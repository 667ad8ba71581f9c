/* ps_decide.c -- see ps_decide.h. */
#include "ps_decide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "otel_sampling.h"

const char *ps_policy_name(ps_policy p) {
    static const char *const names[] = {"trace_id_hash", "trace_id_w3c", "sampling_randomness",
                                        "missing_randomness", "sampling_priority"};
    return p < PS_POL_COUNT ? names[p] : "unknown";
}

void ps_sampler_init(ps_sampler *s, ps_mode mode, float pct, uint32_t seed, int prec,
                     bool fail_closed) {
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->seed = seed;
    s->prec = prec;
    s->fail_closed = fail_closed;
    if (pct > 100.0f) pct = 100.0f;
    if (pct <= 0.0f) {
        s->never = true;
        return;
    }
    double ratio = (double)pct / 100.0;
    if (ratio < 1.0 / (double)OTS_MAX_ADJUSTED) ratio = 1.0 / (double)OTS_MAX_ADJUSTED;
    s->ratio = ratio;
    if (mode == PS_HASH_SEED) {
        /* The Collector multiplies in float32 and truncates; kept for
         * decisions identical to every release since the original. */
        uint32_t scaled = (uint32_t)(pct * (16384.0f / 100.0f));
        if (scaled == 0) {
            s->never = true;
            return;
        }
        if (scaled > 16384) scaled = 16384;
        s->threshold = (uint64_t)(16384 - scaled) << 42;
    } else if (mode == PS_EQUALIZING) {
        if (ots_threshold_from_probability(ratio, prec, &s->threshold) != 0) s->threshold = 0;
    }
}

/* sampling.priority (OpenTracing): 0 forces a drop, > 0 forces a keep. */
static int span_priority(const pp_span *sp) {
    for (size_t i = 0; i < sp->n_attributes; i++) {
        const pp_key_value *kv = sp->attributes[i];
        if (!kv->key || strcmp(kv->key, "sampling.priority") != 0 || !kv->value) continue;
        const pp_any_value *v = kv->value;
        double x;
        switch (v->value_case) {
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE: x = (double)v->int_value; break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE: x = v->double_value; break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE: {
            char *end;
            x = strtod(v->string_value, &end);
            if (end == v->string_value || *end) return 0;
            break;
        }
        default: return 0;
        }
        if (x == 0) return -1;
        return x > 0 ? 1 : 0;
    }
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* The threshold the configured mode asks for, given the arriving state. */
static uint64_t decide(const ps_sampler *s, const ots_state *st) {
    if (s->never) return OTS_MAX_ADJUSTED;
    if (s->mode != PS_PROPORTIONAL) return s->threshold;
    double incoming = st->has_th ? ots_probability(st->th) : 1.0;
    uint64_t t;
    /* A product below 2^-56 is valid: the item is simply not sampled. */
    if (ots_threshold_from_probability(incoming * s->ratio, s->prec, &t) != 0) return OTS_MAX_ADJUSTED;
    return t;
}

void ps_decide_span(const ps_sampler *s, const pp_span *sp, ps_result *r) {
    memset(r, 0, sizeof(*r));
    char rest[600];
    ots_state st;
    bool carrier = ots_parse_tracestate(sp->trace_state, &st, rest, sizeof(rest)) == 0;
    bool err = !carrier;
    bool have_rnd = false;
    uint64_t rnd = OTS_MASK56; /* missing randomness passes every threshold but "never" */
    const uint8_t *tid = sp->trace_id.len == 16 ? sp->trace_id.data : NULL;

    /* The never-sampler reads randomness like the consistent modes do. */
    if (s->mode == PS_HASH_SEED && !s->never) {
        uint8_t zero[16] = {0};
        rnd = ots_hash_seed_randomness(s->seed, tid ? tid : zero, 16);
        have_rnd = true;
        r->policy = PS_POL_TRACE_ID_HASH;
        if (carrier && (st.has_rv || st.has_th)) {
            err = true; /* another consistent sampler is in charge: leave it */
        } else if (carrier) {
            ots_set_rv(&st, rnd);
        }
    } else {
        r->policy = PS_POL_MISSING_RANDOMNESS;
        if (carrier && st.has_rv) {
            rnd = st.rv;
            have_rnd = true;
            r->policy = PS_POL_SAMPLING_RANDOMNESS;
        } else if (carrier && tid && !all_zero(tid, 16)) {
            rnd = ots_randomness_from_trace_id(tid);
            have_rnd = true;
            r->policy = PS_POL_TRACE_ID_W3C;
        }
    }
    if (!err && !have_rnd) err = true;
    if (!err && st.has_th && rnd < st.th) {
        /* The arriving th claims a sampling this randomness cannot pass. */
        st.has_th = false;
        err = true;
    }
    uint64_t threshold;
    if (err) threshold = s->fail_closed ? OTS_MAX_ADJUSTED : 0;
    else threshold = decide(s, &st);

    int prio = span_priority(sp);
    if (prio != 0) {
        threshold = prio > 0 ? 0 : OTS_MAX_ADJUSTED;
        r->policy = PS_POL_SAMPLING_PRIORITY;
    }
    r->error = err;
    r->sampled = rnd >= threshold;
    if (!r->sampled || !carrier) return;
    /* A th may only rise (probability only falls): a lower one is ignored. */
    if (!st.has_th || threshold >= st.th) {
        st.th = threshold;
        st.has_th = true;
    }
    if (ots_format_tracestate(&st, r->tracestate, sizeof(r->tracestate)) < 0) return;
    const char *old = sp->trace_state ? sp->trace_state : "";
    r->new_tracestate = strcmp(old, r->tracestate) != 0;
}
