/* prw_nhist.c -- exponential to native histograms; see prw_nhist.h.
 *
 * OTel bucket i covers (base^i, base^(i+1)], Prometheus bucket i covers
 * (base^(i-1), base^i], so Prometheus index = OTel index + 1. Downscaling by
 * d merges OTel buckets whose index >> d is equal (floor division, also for
 * negative indexes). The sparse layout: a span starts at an absolute index,
 * later spans give the number of empty buckets skipped; counts are deltas to
 * the previous bucket. As in Prometheus's own converter, a gap of up to two
 * empty buckets is filled with zero counts rather than opening a span (a span
 * costs more bytes than two zero deltas). */
#include "prw_nhist.h"

#include <stdlib.h>
#include <string.h>

#include "prw_translate.h"

typedef struct bucket { int64_t idx; uint64_t count; } bucket;

static int64_t floor_shift(int64_t idx, int by) {
    return idx >= 0 ? idx >> by : -((-idx - 1) >> by) - 1;
}

/* Non-empty buckets of b at the target scale, Prometheus-indexed, ascending. */
static size_t merged_buckets(const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *b,
                             int scale_down, bucket *out) {
    size_t n = 0;
    for (size_t i = 0; i < b->n_bucket_counts; i++) {
        int64_t idx = floor_shift((int64_t)b->offset + (int64_t)i, scale_down) + 1;
        if (n && out[n - 1].idx == idx) out[n - 1].count += b->bucket_counts[i];
        else out[n++] = (bucket){idx, b->bucket_counts[i]};
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (out[i].count) out[o++] = out[i];
    return o;
}

static Prometheus__BucketSpan *span_new(pp_arena *a, int64_t offset) {
    Prometheus__BucketSpan *s = pp_arena_alloc(a, sizeof(*s));
    if (s) {
        prometheus__bucket_span__init(s);
        s->offset = (int32_t)offset;
    }
    return s;
}

/* Encodes one side (positive or negative). 0 or -1 on OOM. */
static int encode_side(pp_arena *a,
                       const Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets *b,
                       int scale_down, size_t *n_spans, Prometheus__BucketSpan ***spans,
                       size_t *n_deltas, int64_t **deltas) {
    *n_spans = *n_deltas = 0;
    if (!b || b->n_bucket_counts == 0) return 0;
    bucket *bk = malloc(b->n_bucket_counts * sizeof(*bk));
    if (!bk) return -1;
    size_t m = merged_buckets(b, scale_down, bk);
    int rc = 0;
    if (m == 0) goto out;
    *spans = pp_arena_alloc(a, m * sizeof(**spans));
    *deltas = pp_arena_alloc(a, 3 * m * sizeof(**deltas)); /* each gap adds <= 2 zeros */
    if (!*spans || !*deltas) {
        rc = -1;
        goto out;
    }
    Prometheus__BucketSpan *cur = NULL;
    int64_t prev = 0;
    for (size_t k = 0; k < m; k++) {
        int64_t gap = k ? bk[k].idx - bk[k - 1].idx - 1 : 0;
        if (k == 0 || gap > 2) {
            cur = span_new(a, k == 0 ? bk[k].idx : gap);
            if (!cur) {
                rc = -1;
                goto out;
            }
            (*spans)[(*n_spans)++] = cur;
        } else {
            for (int64_t g = 0; g < gap; g++) {
                (*deltas)[(*n_deltas)++] = -prev;
                prev = 0;
                cur->length++;
            }
        }
        (*deltas)[(*n_deltas)++] = (int64_t)bk[k].count - prev;
        prev = (int64_t)bk[k].count;
        cur->length++;
    }
out:
    free(bk);
    return rc;
}

Prometheus__Histogram *pp_prw_native_histogram(pp_arena *a, const pp_exp_histogram_point *p,
                                               int64_t ts_ms, bool stale) {
    Prometheus__Histogram *h = pp_arena_alloc(a, sizeof(*h));
    if (!h) return NULL;
    prometheus__histogram__init(h);
    int scale_down = p->scale > PP_PRW_NHIST_MAX_SCALE ? p->scale - PP_PRW_NHIST_MAX_SCALE : 0;
    h->schema = p->scale - scale_down;
    h->zero_threshold = p->zero_threshold > 0 ? p->zero_threshold : PP_PRW_NHIST_ZERO_THRESHOLD;
    h->reset_hint = PROMETHEUS__HISTOGRAM__RESET_HINT__UNKNOWN;
    h->timestamp = ts_ms;
    h->count_case = PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT;
    h->zero_count_case = PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT;
    if (stale) {
        h->sum = pp_prw_stale_nan();
        return h;
    }
    h->count_int = p->count;
    h->zero_count_int = p->zero_count;
    h->sum = p->sum;
    if (encode_side(a, p->positive, scale_down, &h->n_positive_spans, &h->positive_spans,
                    &h->n_positive_deltas, &h->positive_deltas) != 0 ||
        encode_side(a, p->negative, scale_down, &h->n_negative_spans, &h->negative_spans,
                    &h->n_negative_deltas, &h->negative_deltas) != 0)
        return NULL;
    return h;
}
