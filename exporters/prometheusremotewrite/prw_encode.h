/* prw_encode.h -- a translated WriteRequest cut into remote-write request
 * bodies: series sharded by label hash (one shard's series per body), bodies
 * no larger than max_batch_size_bytes uncompressed, each packed with
 * protobuf-c and snappy-compressed (block format).
 *
 * A body kept in the exporter's queue (and, with storage, on disk) is framed:
 * a 20-byte header (magic "PRW1", then series, samples, histograms and
 * exemplars as little-endian uint32) followed by the snappy block that goes on
 * the wire. The counts let the sender account for what a delivered body held
 * without decoding it, also after a replay from storage. */
#ifndef PIPIT_PRW_ENCODE_H
#define PIPIT_PRW_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "prometheus/remote.pb-c.h"

#define PP_PRW_FRAME_HEADER 20

typedef struct pp_prw_counts {
    uint32_t series, samples, histograms, exemplars;
} pp_prw_counts;

typedef struct pp_prw_part {
    uint8_t *body;   /* malloc'd frame: header + snappy block */
    size_t len;
    uint64_t shard;  /* 1..nshards for series; 0 for metadata-only bodies */
    size_t items;    /* this body's share of the batch's data points */
    pp_prw_counts counts;
    struct pp_prw_part *next;
} pp_prw_part;

/* The shard (1..nshards) of a series: pp_prw_series_hash modulo nshards. */
uint64_t pp_prw_shard_of(const Prometheus__TimeSeries *ts, size_t nshards);

/* Cuts wr into parts, in shard order and, within a shard, in series order.
 * A series is never split; a series larger than max_bytes goes alone.
 * Metadata (if any) goes in bodies of its own with shard 0. `points` (the data
 * points the request stands for) are shared out over the parts by their
 * samples and histograms, so that the parts' items add up to points exactly.
 * Returns 0 with *out the list (NULL when wr is empty), or -1 when out of
 * memory (nothing allocated). */
int pp_prw_encode(const Prometheus__WriteRequest *wr, size_t nshards, size_t max_bytes,
                  size_t points, pp_prw_part **out);
/* pp_prw_encode with the series' hashes given (series_hash[i] ==
 * pp_prw_series_hash(wr->timeseries[i]), from pp_prw_translate_hashed), so
 * that sharding does not hash every series again; NULL: computed here. */
int pp_prw_encode_hashed(const Prometheus__WriteRequest *wr, const uint64_t *series_hash,
                         size_t nshards, size_t max_bytes, size_t points, pp_prw_part **out);
void pp_prw_parts_free(pp_prw_part *p);

/* Reads a frame: its counts and the snappy block inside. -1 if it is not one. */
int pp_prw_frame_parse(const uint8_t *body, size_t len, pp_prw_counts *c, const uint8_t **payload,
                       size_t *plen);

#endif
