/* exphist.c -- see exphist.h. */
#include "exphist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* floor(i / 2^k) for negative i too (>> of a negative int is not portable). */
static int64_t floor_shift(int64_t i, int32_t k) {
    if (k <= 0) return i;
    if (k >= 62) return i < 0 ? -1 : 0;
    int64_t d = (int64_t)1 << k;
    return i >= 0 ? i / d : -((-i + d - 1) / d);
}

int32_t pp_exph_index(double v, int32_t scale) {
    int e;
    double m = frexp(v, &e); /* v = m * 2^e, m in [0.5, 1) */
    if (scale <= 0) {
        /* A power of two is the upper bound of the bucket below it. */
        int64_t i = m == 0.5 ? e - 2 : e - 1;
        return (int32_t)floor_shift(i, -scale);
    }
    if (m == 0.5) return (int32_t)(((int64_t)(e - 1) << scale) - 1);
    return (int32_t)(ceil(log2(v) * ldexp(1.0, scale)) - 1);
}

void pp_exph_downscale(pp_exph_range *r, int32_t k) {
    if (k <= 0 || r->n == 0) {
        if (k > 0) r->offset = (int32_t)floor_shift(r->offset, k);
        return;
    }
    int64_t first = floor_shift(r->offset, k);
    uint32_t out = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        uint32_t j = (uint32_t)(floor_shift((int64_t)r->offset + i, k) - first);
        if (j != i) r->counts[j] = j < out ? r->counts[j] + r->counts[i] : r->counts[i];
        if (j + 1 > out) out = j + 1;
    }
    r->offset = (int32_t)first;
    r->n = out;
}

static int32_t drop_to_fit(int64_t lo, int64_t hi, uint32_t max_size) {
    int32_t k = 0;
    while (max_size > 0 && floor_shift(hi, k) - floor_shift(lo, k) + 1 > (int64_t)max_size) k++;
    return k;
}

int32_t pp_exph_scale_drop(const pp_exph_range *r, int32_t idx, uint32_t max_size) {
    if (r->n == 0) return 0;
    int64_t lo = r->offset < idx ? r->offset : idx;
    int64_t hi = (int64_t)r->offset + r->n - 1;
    if (idx > hi) hi = idx;
    return drop_to_fit(lo, hi, max_size);
}

int32_t pp_exph_union_drop(const pp_exph_range *a, int32_t b_offset, size_t b_n, uint32_t max_size) {
    if (b_n == 0) return a->n ? drop_to_fit(a->offset, (int64_t)a->offset + a->n - 1, max_size) : 0;
    int64_t lo = b_offset, hi = (int64_t)b_offset + (int64_t)b_n - 1;
    if (a->n) {
        if (a->offset < lo) lo = a->offset;
        if ((int64_t)a->offset + a->n - 1 > hi) hi = (int64_t)a->offset + a->n - 1;
    }
    return drop_to_fit(lo, hi, max_size);
}

/* Widens r to cover [lo, hi]. */
static int widen(pp_exph_range *r, int64_t lo, int64_t hi) {
    if (r->n) {
        if (r->offset < lo) lo = r->offset;
        if ((int64_t)r->offset + r->n - 1 > hi) hi = (int64_t)r->offset + r->n - 1;
    }
    size_t n = (size_t)(hi - lo + 1);
    if (r->n && lo == r->offset && n == r->n) return 0;
    uint64_t *c = calloc(n, sizeof(*c));
    if (!c) return -1;
    if (r->n) memcpy(c + (r->offset - lo), r->counts, r->n * sizeof(*c));
    free(r->counts);
    r->counts = c;
    r->offset = (int32_t)lo;
    r->n = (uint32_t)n;
    return 0;
}

int pp_exph_add_index(pp_exph_range *r, int32_t idx, uint64_t count) {
    if (widen(r, idx, idx) != 0) return -1;
    r->counts[idx - r->offset] += count;
    return 0;
}

int pp_exph_add_range(pp_exph_range *dst, int32_t src_offset, const uint64_t *src, size_t n) {
    if (n == 0) return 0;
    if (widen(dst, src_offset, (int64_t)src_offset + (int64_t)n - 1) != 0) return -1;
    for (size_t i = 0; i < n; i++) dst->counts[src_offset - dst->offset + (int64_t)i] += src[i];
    return 0;
}

static void lower(pp_exph_range *dst, pp_exph_range *other, int32_t *scale, int32_t k) {
    if (k <= 0) return;
    pp_exph_downscale(dst, k);
    if (other) pp_exph_downscale(other, k);
    *scale -= k;
}

int pp_exph_merge(pp_exph_range *dst, int32_t *scale, pp_exph_range *other, int32_t src_scale,
                  int32_t src_offset, const uint64_t *src, size_t n, uint32_t max_size) {
    if (n == 0) return 0;
    pp_exph_range tmp = {src_offset, (uint32_t)n, malloc(n * sizeof(uint64_t))};
    if (!tmp.counts) return -1;
    memcpy(tmp.counts, src, n * sizeof(uint64_t));
    if (src_scale > *scale) pp_exph_downscale(&tmp, src_scale - *scale);
    else lower(dst, other, scale, *scale - src_scale);
    int32_t k = pp_exph_union_drop(dst, tmp.offset, tmp.n, max_size);
    lower(dst, other, scale, k);
    pp_exph_downscale(&tmp, k);
    int rc = pp_exph_add_range(dst, tmp.offset, tmp.counts, tmp.n);
    free(tmp.counts);
    return rc;
}

void pp_exph_range_free(pp_exph_range *r) {
    free(r->counts);
    r->counts = NULL;
    r->n = 0;
}
