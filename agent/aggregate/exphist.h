/* exphist.h -- bucket arithmetic for OTLP exponential histograms.
 *
 * A bucket range is a dense array of counts starting at index `offset`; at
 * scale s, bucket i holds values in (2^(i/2^s), 2^((i+1)/2^s)]. Lowering the
 * scale by k maps index i to floor(i / 2^k), merging neighbours. Used by the
 * spanmetrics connector (recording durations) and by delta-to-cumulative
 * (adding two histograms of possibly different scales). */
#ifndef PIPIT_AGG_EXPHIST_H
#define PIPIT_AGG_EXPHIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct pp_exph_range {
    int32_t offset;
    uint32_t n;
    uint64_t *counts; /* malloc'd, n entries */
} pp_exph_range;

/* Index of the bucket holding v (> 0) at scale (-10..20). */
int32_t pp_exph_index(double v, int32_t scale);
/* Lowers the range's scale by k >= 0. */
void pp_exph_downscale(pp_exph_range *r, int32_t k);
/* How much the scale must drop so that the range plus index idx (at the
 * range's scale) spans at most max_size buckets. */
int32_t pp_exph_scale_drop(const pp_exph_range *r, int32_t idx, uint32_t max_size);
/* Adds count at idx, widening the range. Returns -1 on OOM. */
int pp_exph_add_index(pp_exph_range *r, int32_t idx, uint64_t count);
/* Adds every bucket of src (same scale) into dst. Returns -1 on OOM. */
int pp_exph_add_range(pp_exph_range *dst, int32_t src_offset, const uint64_t *src, size_t n);
/* How much the scale must drop so that the union of two ranges fits max_size. */
int32_t pp_exph_union_drop(const pp_exph_range *a, int32_t b_offset, size_t b_n, uint32_t max_size);
/* Adds src (n buckets from src_offset, at src_scale) into dst (at *scale):
 * both are brought to the lower scale, then lowered further until the union
 * spans at most max_size buckets. other (may be NULL) is a range that must
 * stay at dst's scale (the other sign of the same histogram). -1 on OOM. */
int pp_exph_merge(pp_exph_range *dst, int32_t *scale, pp_exph_range *other, int32_t src_scale,
                  int32_t src_offset, const uint64_t *src, size_t n, uint32_t max_size);
void pp_exph_range_free(pp_exph_range *r);

#endif
