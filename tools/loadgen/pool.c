/* pool.c -- see pool.h. */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "otlp_json.h"

uint8_t *lg_compress_buf(lg_compress c, const uint8_t *in, size_t n, size_t reserve,
                         size_t *out_len) {
    if (c == LG_ZSTD) {
        size_t cap = ZSTD_compressBound(n);
        uint8_t *out = malloc(reserve + cap);
        if (!out) return NULL;
        size_t r = ZSTD_compress(out + reserve, cap, in, n, 1);
        if (ZSTD_isError(r)) {
            free(out);
            return NULL;
        }
        *out_len = r;
        return out;
    }
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    uint8_t *out = malloc(reserve + cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out + reserve;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

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
    if (c != LG_NONE) {
        uint8_t *z = lg_compress_buf(c, raw, len, reserve, &len);
        free(raw);
        if (!z) return -1;
        raw = z;
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
