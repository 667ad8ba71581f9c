/* ts_policy_parse.c -- the `policies` list of tail_sampling, from YAML.
 *
 * Each entry is decoded with a schema holding every type's sub-map (unknown
 * keys are errors, as everywhere in pipit), then turned into a ts_policy:
 * regexes compiled, percentages turned into thresholds, sub-policies parsed
 * recursively. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_schema.h"
#include "ts_policy.h"

typedef struct raw_policy {
    char *name, *type;
    struct { int64_t threshold_ms, upper_threshold_ms; } latency;
    struct { pp_cfg_strs status_codes; } status_code;
    struct { char *key; pp_cfg_strs values; bool enabled_regex_matching; int64_t cache_max_size;
             bool invert_match; } string_attribute;
    struct { char *key; int64_t min_value, max_value; bool invert_match; } numeric_attribute;
    struct { char *key; bool value, invert_match; } boolean_attribute;
    struct { char *hash_salt; double sampling_percentage; } probabilistic;
    struct { int64_t spans_per_second; } rate_limiting;
    struct { int64_t min_spans, max_spans; } span_count;
    struct { char *key; pp_cfg_strs values; } trace_state;
    struct { const pp_node *and_sub_policy; } and_;
    struct { int64_t max_total_spans_per_second; pp_cfg_strs policy_order;
             const pp_node *composite_sub_policy, *rate_allocation; } composite;
    struct { const pp_node *drop_sub_policy; } drop;
} raw_policy;

/* Offsets of a sub-map's keys are relative to its struct. */
#define F(st, k, t) {.key = #k, .type = t, .offset = offsetof(raw_policy, st.k) - offsetof(raw_policy, st)}
static const pp_cfg_field latency_f[] = {F(latency, threshold_ms, PP_CFG_INT),
                                         F(latency, upper_threshold_ms, PP_CFG_INT), {0}};
static const pp_cfg_field status_f[] = {F(status_code, status_codes, PP_CFG_STRING_LIST), {0}};
static const pp_cfg_field string_f[] = {
    F(string_attribute, key, PP_CFG_STRING), F(string_attribute, values, PP_CFG_STRING_LIST),
    F(string_attribute, enabled_regex_matching, PP_CFG_BOOL),
    F(string_attribute, cache_max_size, PP_CFG_INT), F(string_attribute, invert_match, PP_CFG_BOOL),
    {0}};
static const pp_cfg_field numeric_f[] = {
    F(numeric_attribute, key, PP_CFG_STRING), F(numeric_attribute, min_value, PP_CFG_INT),
    F(numeric_attribute, max_value, PP_CFG_INT), F(numeric_attribute, invert_match, PP_CFG_BOOL),
    {0}};
static const pp_cfg_field bool_f[] = {F(boolean_attribute, key, PP_CFG_STRING),
                                      F(boolean_attribute, value, PP_CFG_BOOL),
                                      F(boolean_attribute, invert_match, PP_CFG_BOOL), {0}};
static const pp_cfg_field prob_f[] = {F(probabilistic, hash_salt, PP_CFG_STRING),
                                      F(probabilistic, sampling_percentage, PP_CFG_FLOAT), {0}};
static const pp_cfg_field rate_f[] = {F(rate_limiting, spans_per_second, PP_CFG_INT), {0}};
static const pp_cfg_field count_f[] = {F(span_count, min_spans, PP_CFG_INT),
                                       F(span_count, max_spans, PP_CFG_INT), {0}};
static const pp_cfg_field tstate_f[] = {F(trace_state, key, PP_CFG_STRING),
                                        F(trace_state, values, PP_CFG_STRING_LIST), {0}};
static const pp_cfg_field and_f[] = {F(and_, and_sub_policy, PP_CFG_NODE), {0}};
static const pp_cfg_field composite_f[] = {
    F(composite, max_total_spans_per_second, PP_CFG_INT),
    F(composite, policy_order, PP_CFG_STRING_LIST), F(composite, composite_sub_policy, PP_CFG_NODE),
    F(composite, rate_allocation, PP_CFG_NODE), {0}};
static const pp_cfg_field drop_f[] = {F(drop, drop_sub_policy, PP_CFG_NODE), {0}};
#undef F

#define SUB(k, st, kids) {.key = k, .type = PP_CFG_STRUCT, .offset = offsetof(raw_policy, st), .children = kids}
static const pp_cfg_field policy_schema[] = {
    {.key = "name", .type = PP_CFG_STRING, .offset = offsetof(raw_policy, name), .flags = PP_CFG_REQUIRED},
    {.key = "type", .type = PP_CFG_STRING, .offset = offsetof(raw_policy, type), .flags = PP_CFG_REQUIRED},
    SUB("latency", latency, latency_f),
    SUB("status_code", status_code, status_f),
    SUB("string_attribute", string_attribute, string_f),
    SUB("numeric_attribute", numeric_attribute, numeric_f),
    SUB("boolean_attribute", boolean_attribute, bool_f),
    SUB("probabilistic", probabilistic, prob_f),
    SUB("rate_limiting", rate_limiting, rate_f),
    SUB("span_count", span_count, count_f),
    SUB("trace_state", trace_state, tstate_f),
    SUB("and", and_, and_f),
    SUB("composite", composite, composite_f),
    SUB("drop", drop, drop_f),
    {0},
};
#undef SUB

typedef struct rate_alloc { char *policy; double percent; } rate_alloc;
static const pp_cfg_field alloc_schema[] = {
    {.key = "policy", .type = PP_CFG_STRING, .offset = offsetof(rate_alloc, policy), .flags = PP_CFG_REQUIRED},
    {.key = "percent", .type = PP_CFG_FLOAT, .offset = offsetof(rate_alloc, percent), .flags = PP_CFG_REQUIRED},
    {0},
};

static const char *const type_names[] = {
    [TS_ALWAYS_SAMPLE] = "always_sample", [TS_LATENCY] = "latency",
    [TS_STATUS_CODE] = "status_code", [TS_STRING_ATTRIBUTE] = "string_attribute",
    [TS_NUMERIC_ATTRIBUTE] = "numeric_attribute", [TS_BOOLEAN_ATTRIBUTE] = "boolean_attribute",
    [TS_PROBABILISTIC] = "probabilistic", [TS_RATE_LIMITING] = "rate_limiting",
    [TS_SPAN_COUNT] = "span_count", [TS_TRACE_STATE] = "trace_state", [TS_AND] = "and",
    [TS_COMPOSITE] = "composite", [TS_DROP] = "drop"};

static void policy_free(ts_policy *p) {
    free(p->name);
    free(p->key);
    for (size_t i = 0; i < p->nvalues; i++) {
        free(p->values[i]);
        if (p->regexes) regfree(&p->regexes[i]);
    }
    free(p->values);
    free(p->regexes);
    free(p->salt);
    for (size_t i = 0; i < p->nsubs; i++) policy_free(&p->subs[i]);
    free(p->subs);
    free(p->sub_limit);
    free(p->sub_spent);
}

static size_t parse_list(const pp_node *seq, const char *path, pp_diag *d, ts_policy **out,
                         size_t *n, int depth);

static void take_values(ts_policy *p, pp_cfg_strs *v) {
    p->values = v->items;
    p->nvalues = v->count;
    v->items = NULL;
    v->count = 0;
}

static char *take(char **s) {
    char *r = *s;
    *s = NULL;
    return r;
}

/* Splits the composite's capacity: rate_allocation percentages by name; the
 * rest of 100% goes in equal parts to sub-policies without an entry. */
static size_t composite_limits(ts_policy *p, const pp_node *alloc, const char *path, pp_diag *d) {
    size_t errs = 0;
    double *pct = calloc(p->nsubs ? p->nsubs : 1, sizeof(double));
    bool *set = calloc(p->nsubs ? p->nsubs : 1, sizeof(bool));
    double used = 0;
    if (alloc && alloc->type == PP_NODE_SEQ) {
        for (size_t i = 0; i < alloc->count; i++) {
            char *ipath = pp_path_index(path, i);
            rate_alloc ra = {0};
            errs += pp_cfg_decode(alloc_schema, alloc->items[i], &ra, ipath, d);
            size_t k = 0;
            while (ra.policy && k < p->nsubs && strcmp(p->subs[k].name, ra.policy) != 0) k++;
            if (ra.policy && k == p->nsubs) {
                pp_diag_error_at(d, ipath, alloc->items[i], "policy \"%s\" is not in policy_order", ra.policy);
                errs++;
            } else if (ra.policy) {
                pct[k] = ra.percent;
                set[k] = true;
                used += ra.percent;
            }
            pp_cfg_free(alloc_schema, &ra);
            free(ipath);
        }
    } else if (alloc && !pp_node_is_null(alloc)) {
        pp_diag_error_at(d, path, alloc, "expected a list of {policy, percent}");
        errs++;
    }
    size_t unset = 0;
    for (size_t i = 0; i < p->nsubs; i++) unset += !set[i];
    double rest = used < 100 ? 100 - used : 0;
    p->sub_limit = calloc(p->nsubs ? p->nsubs : 1, sizeof(int64_t));
    p->sub_spent = calloc(p->nsubs ? p->nsubs : 1, sizeof(int64_t));
    for (size_t i = 0; i < p->nsubs; i++) {
        double share = set[i] ? pct[i] : rest / (double)unset;
        p->sub_limit[i] = (int64_t)((double)p->per_second * share / 100.0);
    }
    free(pct);
    free(set);
    return errs;
}

/* Orders composite sub-policies as policy_order says. */
static size_t composite_order(ts_policy *p, const pp_cfg_strs *order, const char *path, pp_diag *d) {
    if (order->count == 0) return 0;
    ts_policy *ordered = calloc(order->count, sizeof(*ordered));
    size_t errs = 0, n = 0;
    for (size_t i = 0; i < order->count; i++) {
        size_t k = 0;
        while (k < p->nsubs && (!p->subs[k].name || strcmp(p->subs[k].name, order->items[i]) != 0)) k++;
        if (k == p->nsubs) {
            pp_diag_error(d, path, 0, "policy_order: \"%s\" is not a composite_sub_policy", order->items[i]);
            errs++;
            continue;
        }
        ordered[n++] = p->subs[k];
        memset(&p->subs[k], 0, sizeof(p->subs[k]));
    }
    for (size_t k = 0; k < p->nsubs; k++) policy_free(&p->subs[k]); /* not in the order */
    free(p->subs);
    p->subs = ordered;
    p->nsubs = n;
    return errs;
}

static unsigned status_bit(const char *s) {
    if (strcmp(s, "UNSET") == 0) return 1u << 0;
    if (strcmp(s, "OK") == 0) return 1u << 1;
    if (strcmp(s, "ERROR") == 0) return 1u << 2;
    return 0;
}

/* A lo..hi range where hi 0 means "no upper bound". Returns the errors. */
static size_t set_range(ts_policy *p, int64_t lo, int64_t hi, const char *msg, const char *path,
                        const pp_node *node, pp_diag *d) {
    p->lo = lo;
    p->hi = hi;
    if (hi == 0 || hi >= lo) return 0;
    pp_diag_error_at(d, path, node, "%s", msg);
    return 1;
}

static size_t build(ts_policy *p, raw_policy *r, const pp_node *node, const char *path, pp_diag *d,
                    int depth) {
    size_t errs = 0;
    p->name = take(&r->name);
    size_t t = 0;
    while (t < sizeof(type_names) / sizeof(type_names[0]) && strcmp(type_names[t], r->type) != 0) t++;
    if (t == sizeof(type_names) / sizeof(type_names[0])) {
        pp_diag_error_at(d, path, node, "type: unknown policy type \"%s\"", r->type);
        return 1;
    }
    p->type = (ts_ptype)t;
    char *sub = pp_path_key(path, type_names[t]);
    switch (p->type) {
    case TS_ALWAYS_SAMPLE: break;
    case TS_LATENCY:
        errs += set_range(p, r->latency.threshold_ms, r->latency.upper_threshold_ms,
                          "upper_threshold_ms must be 0 or at least threshold_ms", sub, node, d);
        break;
    case TS_STATUS_CODE:
        for (size_t i = 0; i < r->status_code.status_codes.count; i++) {
            unsigned b = status_bit(r->status_code.status_codes.items[i]);
            if (!b) {
                pp_diag_error_at(d, sub, node, "status_codes: unknown status code \"%s\" (OK, ERROR or UNSET)",
                                 r->status_code.status_codes.items[i]);
                errs++;
            }
            p->status_mask |= b;
        }
        if (r->status_code.status_codes.count == 0) {
            pp_diag_error_at(d, sub, node, "status_codes: must list at least one status code");
            errs++;
        }
        break;
    case TS_STRING_ATTRIBUTE:
        p->key = take(&r->string_attribute.key);
        p->invert = r->string_attribute.invert_match;
        take_values(p, &r->string_attribute.values);
        if (r->string_attribute.enabled_regex_matching) {
            p->regexes = calloc(p->nvalues ? p->nvalues : 1, sizeof(regex_t));
            for (size_t i = 0; i < p->nvalues; i++)
                if (regcomp(&p->regexes[i], p->values[i], REG_EXTENDED | REG_NOSUB) != 0) {
                    pp_diag_error_at(d, sub, node, "values: invalid regular expression \"%s\"", p->values[i]);
                    errs++;
                    regcomp(&p->regexes[i], "$^", REG_EXTENDED | REG_NOSUB); /* never matches; freeable */
                }
        }
        break;
    case TS_NUMERIC_ATTRIBUTE: {
        p->key = take(&r->numeric_attribute.key);
        p->invert = r->numeric_attribute.invert_match;
        const pp_node *m = pp_node_get(node, "numeric_attribute");
        p->lo = pp_node_get(m, "min_value") ? r->numeric_attribute.min_value : INT64_MIN;
        p->hi = pp_node_get(m, "max_value") ? r->numeric_attribute.max_value : INT64_MAX;
        if (p->hi < p->lo) {
            pp_diag_error_at(d, sub, node, "max_value must be at least min_value");
            errs++;
        }
        break;
    }
    case TS_BOOLEAN_ATTRIBUTE:
        p->key = take(&r->boolean_attribute.key);
        p->bool_value = r->boolean_attribute.value;
        p->invert = r->boolean_attribute.invert_match;
        break;
    case TS_PROBABILISTIC: {
        double pct = r->probabilistic.sampling_percentage;
        p->salt = r->probabilistic.hash_salt && r->probabilistic.hash_salt[0]
                      ? take(&r->probabilistic.hash_salt) : strdup("default-hash-seed");
        if (pct < 0 || pct > 100) {
            pp_diag_error_at(d, sub, node, "sampling_percentage must be within [0, 100]");
            errs++;
        }
        /* ratio * 2^64, saturated; the Collector computes ratio * MaxUint64. */
        double x = ldexp(pct / 100.0, 64);
        p->prob_threshold = x >= 0x1p64 ? UINT64_MAX : (uint64_t)x;
        break;
    }
    case TS_RATE_LIMITING: p->per_second = r->rate_limiting.spans_per_second; break;
    case TS_SPAN_COUNT:
        errs += set_range(p, r->span_count.min_spans, r->span_count.max_spans,
                          "max_spans must be 0 or at least min_spans", sub, node, d);
        break;
    case TS_TRACE_STATE:
        p->key = take(&r->trace_state.key);
        take_values(p, &r->trace_state.values);
        break;
    case TS_AND:
    case TS_DROP:
    case TS_COMPOSITE: {
        const pp_node *subs = p->type == TS_AND ? r->and_.and_sub_policy
                              : p->type == TS_DROP ? r->drop.drop_sub_policy
                                                   : r->composite.composite_sub_policy;
        const char *k = p->type == TS_AND ? "and_sub_policy"
                        : p->type == TS_DROP ? "drop_sub_policy" : "composite_sub_policy";
        char *spath = pp_path_key(sub, k);
        if (depth >= 3) {
            pp_diag_error_at(d, spath, node, "policies nest at most 3 deep");
            errs++;
        } else {
            errs += parse_list(subs, spath, d, &p->subs, &p->nsubs, depth + 1);
        }
        if (!errs && p->nsubs == 0) {
            pp_diag_error_at(d, spath, node, "needs at least one sub-policy");
            errs++;
        }
        free(spath);
        if (p->type == TS_COMPOSITE && !errs) {
            p->per_second = r->composite.max_total_spans_per_second;
            errs += composite_order(p, &r->composite.policy_order, sub, d);
            errs += composite_limits(p, r->composite.rate_allocation, sub, d);
        }
        break;
    }
    }
    free(sub);
    return errs;
}

static size_t parse_list(const pp_node *seq, const char *path, pp_diag *d, ts_policy **out,
                         size_t *n, int depth) {
    *out = NULL;
    *n = 0;
    if (!seq || pp_node_is_null(seq)) return 0;
    if (seq->type != PP_NODE_SEQ) {
        pp_diag_error_at(d, path, seq, "expected a list of policies");
        return 1;
    }
    size_t errs = 0;
    *out = calloc(seq->count ? seq->count : 1, sizeof(ts_policy));
    for (size_t i = 0; i < seq->count; i++) {
        char *ipath = pp_path_index(path, i);
        raw_policy r;
        memset(&r, 0, sizeof(r));
        size_t e = pp_cfg_decode(policy_schema, seq->items[i], &r, ipath, d);
        if (e == 0) e = build(&(*out)[*n], &r, seq->items[i], ipath, d, depth);
        if ((*out)[*n].name || e == 0) (*n)++;
        errs += e;
        pp_cfg_free(policy_schema, &r);
        free(ipath);
    }
    return errs;
}

size_t ts_policy_set_parse(const pp_node *seq, const char *path, pp_diag *d, ts_policy_set *set) {
    memset(set, 0, sizeof(*set));
    char *ppath = pp_path_key(path, "policies");
    size_t errs = parse_list(seq, ppath, d, &set->items, &set->n, 0);
    if (errs == 0 && set->n == 0) {
        pp_diag_error_at(d, ppath, seq, "at least one policy is required");
        errs++;
    }
    free(ppath);
    pthread_mutex_init(&set->lock, NULL);
    return errs;
}

void ts_policy_set_free(ts_policy_set *set) {
    for (size_t i = 0; i < set->n; i++) policy_free(&set->items[i]);
    free(set->items);
    pthread_mutex_destroy(&set->lock);
    memset(set, 0, sizeof(*set));
}
