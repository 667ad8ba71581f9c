/* compress.c -- see compress.h. */
#include "compress.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

int pp_compression_parse(const char *name, pp_compression *out) {
    if (!name || !name[0] || !strcmp(name, "none") || !strcmp(name, "identity")) *out = PP_COMP_NONE;
    else if (!strcmp(name, "gzip")) *out = PP_COMP_GZIP;
    else if (!strcmp(name, "zstd")) *out = PP_COMP_ZSTD;
    else if (!strcmp(name, "snappy")) *out = PP_COMP_SNAPPY;
    else return -1;
    return 0;
}

const char *pp_compression_name(pp_compression c) {
    switch (c) {
    case PP_COMP_GZIP: return "gzip";
    case PP_COMP_ZSTD: return "zstd";
    case PP_COMP_SNAPPY: return "snappy";
    case PP_COMP_NONE: break;
    }
    return "identity";
}

/* Doubles *buf up to max bytes; -1 when at max or out of memory. */
static int grow(uint8_t **buf, size_t *cap, size_t max) {
    if (*cap >= max) return -1;
    size_t ncap = *cap * 2 > max ? max : *cap * 2;
    uint8_t *nb = realloc(*buf, ncap);
    if (!nb) return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

static int gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* 15 + 16: a gzip header and trailer rather than a zlib one. */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

static int gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *outlen) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 32) != Z_OK) return -1; /* gzip or zlib */
    size_t cap = len * 4 + 64, n = 0;
    if (cap > max) cap = max ? max : 1;
    uint8_t *buf = malloc(cap);
    int rc = Z_OK;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    while (buf && rc != Z_STREAM_END) {
        if (n == cap && grow(&buf, &cap, max) != 0) break;
        z.next_out = buf + n;
        z.avail_out = (uInt)(cap - n);
        rc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END) break;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* Streaming, since frames written by streaming encoders carry no content size. */
static int unzstd(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *outlen) {
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds) return -1;
    size_t cap = len * 4 + 64, n = 0, rc = 1;
    if (cap > max) cap = max ? max : 1;
    uint8_t *buf = malloc(cap);
    ZSTD_inBuffer ib = {in, len, 0};
    while (buf && rc != 0) {
        if (n == cap && grow(&buf, &cap, max) != 0) break;
        ZSTD_outBuffer ob = {buf, cap, n};
        rc = ZSTD_decompressStream(ds, &ob, &ib);
        n = ob.pos;
        if (ZSTD_isError(rc) || (rc != 0 && ib.pos == ib.size && ob.pos < ob.size)) break;
    }
    ZSTD_freeDStream(ds);
    if (!buf || rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

int pp_compress(pp_compression c, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen) {
    switch (c) {
    case PP_COMP_GZIP: return gzip(in, len, out, outlen);
    case PP_COMP_ZSTD: {
        size_t cap = ZSTD_compressBound(len);
        uint8_t *buf = malloc(cap ? cap : 1);
        if (!buf) return -1;
        size_t n = ZSTD_compress(buf, cap, in, len, 1);
        if (ZSTD_isError(n)) {
            free(buf);
            return -1;
        }
        *out = buf;
        *outlen = n;
        return 0;
    }
    case PP_COMP_SNAPPY: {
        size_t cap = snappy_max_compressed_length(len);
        uint8_t *buf = malloc(cap ? cap : 1);
        if (!buf) return -1;
        if (snappy_compress((const char *)in, len, (char *)buf, &cap) != SNAPPY_OK) {
            free(buf);
            return -1;
        }
        *out = buf;
        *outlen = cap;
        return 0;
    }
    case PP_COMP_NONE: break;
    }
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return -1;
    if (len) memcpy(buf, in, len);
    *out = buf;
    *outlen = len;
    return 0;
}

int pp_decompress(pp_compression c, const uint8_t *in, size_t len, size_t max, uint8_t **out,
                  size_t *outlen) {
    switch (c) {
    case PP_COMP_GZIP: return gunzip(in, len, max, out, outlen);
    case PP_COMP_ZSTD: return unzstd(in, len, max, out, outlen);
    case PP_COMP_SNAPPY: {
        size_t n;
        if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK || n > max) return -1;
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf) return -1;
        if (snappy_uncompress((const char *)in, len, (char *)buf, &n) != SNAPPY_OK) {
            free(buf);
            return -1;
        }
        *out = buf;
        *outlen = n;
        return 0;
    }
    case PP_COMP_NONE: break;
    }
    if (len > max) return -1;
    return pp_compress(PP_COMP_NONE, in, len, out, outlen);
}
