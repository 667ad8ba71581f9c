/* ts_policy.h -- tail_sampling policies: parsing from YAML and evaluation.
 *
 * Semantics follow the Collector's tailsamplingprocessor (contrib): every
 * top-level policy is evaluated and the trace's decision is, in order of
 * precedence: Dropped (a `drop` policy matched) -> not sampled; any
 * InvertNotSampled -> not sampled; any Sampled -> sampled; any InvertSampled
 * with no NotSampled -> sampled; else not sampled. */
#ifndef PIPIT_TS_POLICY_H
#define PIPIT_TS_POLICY_H

#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "batch_select.h"
#include "config_node.h"
#include "diag.h"
#include "telemetry.h"

typedef enum ts_decision {
    TS_NOT_SAMPLED,
    TS_SAMPLED,
    TS_INVERT_SAMPLED,
    TS_INVERT_NOT_SAMPLED,
    TS_DROPPED,
} ts_decision;

typedef enum ts_ptype {
    TS_ALWAYS_SAMPLE,
    TS_LATENCY,
    TS_STATUS_CODE,
    TS_STRING_ATTRIBUTE,
    TS_NUMERIC_ATTRIBUTE,
    TS_BOOLEAN_ATTRIBUTE,
    TS_PROBABILISTIC,
    TS_RATE_LIMITING,
    TS_SPAN_COUNT,
    TS_TRACE_STATE,
    TS_AND,
    TS_COMPOSITE,
    TS_DROP,
} ts_ptype;

typedef struct ts_policy ts_policy;
struct ts_policy {
    char *name;
    ts_ptype type;
    char *key;
    char **values;
    size_t nvalues;
    regex_t *regexes; /* string_attribute with enabled_regex_matching */
    bool invert;
    int64_t lo, hi;          /* latency ms; numeric min/max; span_count min/max */
    bool bool_value;
    unsigned status_mask;    /* bit per Status code (0 unset, 1 ok, 2 error) */
    uint64_t prob_threshold; /* probabilistic: keep when hash <= this */
    char *salt;
    int64_t per_second;      /* rate_limiting; composite: max_total_spans_per_second */
    ts_policy *subs;         /* and, composite (in policy_order), drop */
    size_t nsubs;
    int64_t *sub_limit;      /* composite: spans per second per sub-policy */
    /* State of rate_limiting / composite, under the owner's eval lock. */
    int64_t second;
    int64_t spent;
    int64_t *sub_spent;
    pp_counter *count[2]; /* top level: count_traces_sampled{sampled=false,true} */
};

typedef struct ts_policy_set {
    ts_policy *items;
    size_t n;
    pthread_mutex_t lock; /* rate-limit state */
} ts_policy_set;

/* Parses the `policies` sequence; errors go to d with YAML paths. Returns the
 * number of errors; on success set holds the policies (free with ts_policy_set_free). */
size_t ts_policy_set_parse(const pp_node *seq, const char *path, pp_diag *d, ts_policy_set *set);
void ts_policy_set_free(ts_policy_set *set);

/* Evaluates the trace (spans refs[0..n) of trace id tid) and returns whether
 * it is sampled; counts per-policy decisions. now_s: seconds for rate limits. */
bool ts_policy_set_decide(ts_policy_set *set, const uint8_t tid[16], const pp_span_ref *refs,
                          size_t n, int64_t now_s);

/* Exposed for tests: one policy's decision. Caller holds set->lock. */
ts_decision ts_policy_eval(ts_policy *p, const uint8_t tid[16], const pp_span_ref *refs, size_t n,
                           int64_t now_s);

#endif
