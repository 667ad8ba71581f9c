/* pool.c -- see pool.h. */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "otlp_json.h"

/* The request's encoding in f, in a malloc'd buffer with `reserve` bytes in front. */
static uint8_t *encode(const pp_batch *b, lg_format f, size_t reserve, size_t *len) {
    if (f == LG_JSON) {
        size_t jl;
        char *j = pp_otlp_json_encode_request(b, &jl);
        if (!j) return NULL;
        uint8_t *out = malloc(reserve + jl + 1);
        if (out) memcpy(out + reserve, j, jl);
        free(j);
        *len = jl;
        return out;
    }
    *len = pp_batch_encoded_size(b);
    uint8_t *out = malloc(reserve + *len + 1);
    if (out) pp_batch_pack(b, out + reserve);
    return out;
}

/* Spans are packed in order, so each trace id is found after the previous one. */
static int find_ids(lg_payload *p, const pp_batch *b) {
    p->tid_off = malloc((b->items ? b->items : 1) * sizeof(uint32_t));
    if (!p->tid_off) return -1;
    size_t at = 0;
    for (size_t i = 0; i < b->traces->n_resource_spans; i++)
        for (size_t j = 0; j < b->traces->resource_spans[i]->n_scope_spans; j++) {
            const pp_scope_spans *ss = b->traces->resource_spans[i]->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans; k++) {
                const ProtobufCBinaryData *id = &ss->spans[k]->trace_id;
                const uint8_t *hit = id->len == 16 ? memmem(p->data + at, p->len - at, id->data, 16) : NULL;
                if (!hit) return 0; /* not found: this payload keeps its ids */
                at = (size_t)(hit - p->data) + 16;
                p->tid_off[p->n_tid++] = (uint32_t)(at - 16);
            }
        }
    return 0;
}

lg_payload lg_payload_fresh_ids(const lg_payload *p, uint8_t *buf, uint64_t round) {
    memcpy(buf, p->data, p->len);
    uint64_t x = round * 0x9e3779b97f4a7c15ull; /* round 0: the ids as generated */
    for (size_t i = 0; i < p->n_tid; i++) {
        uint64_t v;
        memcpy(&v, buf + p->tid_off[i], 8);
        v ^= x;
        memcpy(buf + p->tid_off[i], &v, 8);
    }
    lg_payload out = *p;
    out.data = buf;
    return out;
}

static int build_one(lg_payload *p, const pp_batch *b, lg_format f, lg_compress c, int grpc_frame) {
    size_t reserve = grpc_frame ? 5 : 0, len;
    uint8_t *raw = encode(b, f, c == LG_NONE ? reserve : 0, &len);
    if (!raw) return -1;
    p->raw_len = len;
    p->items = b->items;
    if (c != LG_NONE) { /* pipit's exporter compressor, then room for the frame header */
        uint8_t *z = NULL;
        int rc = pp_compress(c == LG_GZIP ? PP_COMP_GZIP : PP_COMP_ZSTD, raw, len, &z, &len);
        free(raw);
        raw = rc == 0 ? malloc(reserve + len + 1) : NULL;
        if (raw) memcpy(raw + reserve, z, len);
        free(z);
        if (!raw) return -1;
    }
    if (grpc_frame) {
        raw[0] = c != LG_NONE;
        raw[1] = (uint8_t)(len >> 24);
        raw[2] = (uint8_t)(len >> 16);
        raw[3] = (uint8_t)(len >> 8);
        raw[4] = (uint8_t)len;
    }
    p->data = raw;
    p->len = len + reserve;
    if (b->signal == PP_TRACES && f == LG_PROTOBUF && c == LG_NONE) return find_ids(p, b);
    return 0;
}

int lg_pool_build(lg_pool *pool, const lg_gen_cfg *g, size_t n, lg_format f, lg_compress c,
                  int grpc_frame) {
    memset(pool, 0, sizeof(*pool));
    pool->p = calloc(n ? n : 1, sizeof(*pool->p));
    if (!pool->p) return -1;
    for (size_t i = 0; i < n; i++) {
        pp_batch *b = lg_gen_request(g, i);
        int rc = build_one(&pool->p[i], b, f, c, grpc_frame);
        pp_batch_unref(b);
        pool->n++; /* freed by lg_pool_free even when incomplete */
        if (rc != 0) {
            fprintf(stderr, "pipit-loadgen: cannot encode request %zu\n", i);
            lg_pool_free(pool);
            return -1;
        }
        pool->bytes += pool->p[i].len;
    }
    return 0;
}

void lg_pool_free(lg_pool *pool) {
    for (size_t i = 0; i < pool->n; i++) {
        free(pool->p[i].data);
        free(pool->p[i].tid_off);
    }
    free(pool->p);
    memset(pool, 0, sizeof(*pool));
}
