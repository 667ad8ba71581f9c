/* prw_encode.c -- sharding, size-bounded cutting, packing and snappy; see
 * prw_encode.h. */
#include "prw_encode.h"

#include <snappy-c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "prw_translate.h"

#define TAG_TIMESERIES 0x0a /* field 1, length-delimited */
#define TAG_METADATA 0x1a   /* field 3, length-delimited */

static const uint8_t MAGIC[4] = {'P', 'R', 'W', '1'};

static size_t varint_len(size_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t put_varint(uint8_t *p, size_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t pp_prw_shard_of(const Prometheus__TimeSeries *ts, size_t nshards) {
    return nshards > 1 ? 1 + pp_prw_series_hash(ts) % nshards : 1;
}

/* One message of the request (a series or a metadata entry) to pack. */
typedef struct item {
    const ProtobufCMessage *msg;
    size_t size; /* packed size of msg alone */
} item;

typedef struct enc {
    size_t max;
    uint8_t *plain; /* scratch: the uncompressed WriteRequest */
    size_t plain_cap;
    pp_prw_part *head, **tail;
    bool oom;
} enc;

static size_t framed(const item *it) { return 1 + varint_len(it->size) + it->size; }

/* Packs items[0..n) (all series or all metadata) into one part. */
static void flush(enc *e, const item *items, size_t n, uint8_t tag, uint64_t shard) {
    if (n == 0 || e->oom) return;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += framed(&items[i]);
    if (total > e->plain_cap) {
        uint8_t *p = realloc(e->plain, total);
        if (!p) {
            e->oom = true;
            return;
        }
        e->plain = p;
        e->plain_cap = total;
    }
    pp_prw_part *part = calloc(1, sizeof(*part));
    size_t clen = snappy_max_compressed_length(total);
    uint8_t *body = part ? malloc(PP_PRW_FRAME_HEADER + clen) : NULL;
    if (!body) {
        free(part);
        e->oom = true;
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        e->plain[o++] = tag;
        o += put_varint(e->plain + o, items[i].size);
        o += protobuf_c_message_pack(items[i].msg, e->plain + o);
        if (tag == TAG_TIMESERIES) {
            const Prometheus__TimeSeries *ts = (const Prometheus__TimeSeries *)items[i].msg;
            part->counts.series++;
            part->counts.samples += (uint32_t)ts->n_samples;
            part->counts.histograms += (uint32_t)ts->n_histograms;
            part->counts.exemplars += (uint32_t)ts->n_exemplars;
        }
    }
    if (snappy_compress((const char *)e->plain, o, (char *)body + PP_PRW_FRAME_HEADER, &clen) !=
        SNAPPY_OK) {
        free(body);
        free(part);
        e->oom = true;
        return;
    }
    memcpy(body, MAGIC, 4);
    put32(body + 4, part->counts.series);
    put32(body + 8, part->counts.samples);
    put32(body + 12, part->counts.histograms);
    put32(body + 16, part->counts.exemplars);
    uint8_t *shrunk = realloc(body, PP_PRW_FRAME_HEADER + clen);
    part->body = shrunk ? shrunk : body;
    part->len = PP_PRW_FRAME_HEADER + clen;
    part->shard = shard;
    *e->tail = part;
    e->tail = &part->next;
}

/* Cuts items[0..n) into runs of at most e->max framed bytes (a single larger
 * item goes alone) and flushes each. */
static void cut(enc *e, const item *items, size_t n, uint8_t tag, uint64_t shard) {
    size_t start = 0, cur = 0;
    for (size_t i = 0; i < n && !e->oom; i++) {
        size_t f = framed(&items[i]);
        if (i > start && cur + f > e->max) {
            flush(e, items + start, i - start, tag, shard);
            start = i;
            cur = 0;
        }
        cur += f;
    }
    flush(e, items + start, n - start, tag, shard);
}

/* Shares points out over the parts in proportion to their samples and
 * histograms (all to the first part when none has any). */
static void share_items(pp_prw_part *head, size_t points) {
    uint64_t total = 0;
    for (pp_prw_part *p = head; p; p = p->next) total += p->counts.samples + p->counts.histograms;
    if (total == 0) {
        if (head) head->items = points;
        return;
    }
    uint64_t cum = 0, given = 0;
    for (pp_prw_part *p = head; p; p = p->next) {
        cum += p->counts.samples + p->counts.histograms;
        uint64_t upto = (uint64_t)((double)points * (double)cum / (double)total);
        if (cum == total) upto = points;
        p->items = upto >= given ? (size_t)(upto - given) : 0;
        given += p->items;
    }
}

int pp_prw_encode(const Prometheus__WriteRequest *wr, size_t nshards, size_t max_bytes,
                  size_t points, pp_prw_part **out) {
    return pp_prw_encode_hashed(wr, NULL, nshards, max_bytes, points, out);
}

int pp_prw_encode_hashed(const Prometheus__WriteRequest *wr, const uint64_t *series_hash,
                         size_t nshards, size_t max_bytes, size_t points, pp_prw_part **out) {
    *out = NULL;
    if (nshards == 0) nshards = 1;
    size_t n = wr->n_timeseries, nm = wr->n_metadata;
    item *items = malloc((n + nm + 1) * sizeof(*items));
    size_t *start = calloc(nshards + 2, sizeof(*start));
    uint64_t *shard = malloc((n + 1) * sizeof(*shard));
    enc e = {.max = max_bytes};
    e.tail = &e.head;
    if (!items || !start || !shard) {
        e.oom = true;
        goto done;
    }
    /* Counting sort by shard, stable: series keep their order in a shard. */
    for (size_t i = 0; i < n; i++) {
        shard[i] = !series_hash ? pp_prw_shard_of(wr->timeseries[i], nshards)
                   : nshards > 1 ? 1 + series_hash[i] % nshards : 1;
        start[shard[i] + 1]++;
    }
    for (size_t s = 1; s <= nshards + 1; s++) start[s] += start[s - 1];
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessage *m = &wr->timeseries[i]->base;
        items[start[shard[i]]++] = (item){m, protobuf_c_message_get_packed_size(m)};
    }
    /* start[s] now ends shard s; shard s runs from start[s-1] (start[0] = 0). */
    for (size_t s = 1, from = 0; s <= nshards && !e.oom; s++) {
        cut(&e, items + from, start[s] - from, TAG_TIMESERIES, s);
        from = start[s];
    }
    for (size_t i = 0; i < nm; i++) {
        const ProtobufCMessage *m = &wr->metadata[i]->base;
        items[i] = (item){m, protobuf_c_message_get_packed_size(m)};
    }
    if (!e.oom) cut(&e, items, nm, TAG_METADATA, 0);
done:
    free(items);
    free(start);
    free(shard);
    free(e.plain);
    if (e.oom) {
        pp_prw_parts_free(e.head);
        return -1;
    }
    share_items(e.head, points);
    *out = e.head;
    return 0;
}

void pp_prw_parts_free(pp_prw_part *p) {
    while (p) {
        pp_prw_part *n = p->next;
        free(p->body);
        free(p);
        p = n;
    }
}

int pp_prw_frame_parse(const uint8_t *body, size_t len, pp_prw_counts *c, const uint8_t **payload,
                       size_t *plen) {
    if (!body || len < PP_PRW_FRAME_HEADER || memcmp(body, MAGIC, 4) != 0) return -1;
    c->series = get32(body + 4);
    c->samples = get32(body + 8);
    c->histograms = get32(body + 12);
    c->exemplars = get32(body + 16);
    *payload = body + PP_PRW_FRAME_HEADER;
    *plen = len - PP_PRW_FRAME_HEADER;
    return 0;
}
