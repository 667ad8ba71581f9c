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
        if (rc != 0) {
            fprintf(stderr, "pipit-loadgen: cannot encode request %zu\n", i);
            lg_pool_free(pool);
            return -1;
        }
        pool->n++;
        pool->bytes += pool->p[i].len;
    }
    return 0;
}

void lg_pool_free(lg_pool *pool) {
    for (size_t i = 0; i < pool->n; i++) free(pool->p[i].data);
    free(pool->p);
    memset(pool, 0, sizeof(*pool));
}
