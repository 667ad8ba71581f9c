/* grpc_frame.c -- request message encodings: gzip, zstd and snappy, inflated
 * into a buffer that never grows past the configured maximum, so a small
 * compressed message cannot make pipit allocate gigabytes. */
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "grpc_internal.h"

pp_grpc_enc pp_grpc_enc_parse(const char *name) {
    if (!name || !*name || strcasecmp(name, "identity") == 0) return PP_GRPC_IDENTITY;
    if (strcasecmp(name, "gzip") == 0) return PP_GRPC_GZIP;
    if (strcasecmp(name, "zstd") == 0) return PP_GRPC_ZSTD;
    if (strcasecmp(name, "snappy") == 0) return PP_GRPC_SNAPPY;
    return PP_GRPC_UNKNOWN;
}

/* An output buffer that grows by doubling up to max + 1 bytes: producing the
 * (max+1)-th byte is how an oversize result is detected. */
typedef struct outbuf {
    uint8_t *p;
    size_t len, cap, max;
} outbuf;

static int outbuf_room(outbuf *o, pp_status *st) {
    if (o->len < o->cap) return 0;
    if (o->cap > o->max)
        return pp_fail(st, PP_TOO_LARGE, "message larger than max (more than %zu vs %zu)",
                       o->max, o->max);
    size_t ncap = o->cap ? o->cap * 2 : 64 * 1024;
    if (ncap > o->max + 1 || ncap < o->cap) ncap = o->max + 1;
    uint8_t *np = realloc(o->p, ncap);
    if (!np) return pp_fail(st, PP_UNAVAILABLE, "out of memory while decompressing");
    o->p = np;
    o->cap = ncap;
    return 0;
}

static int inflate_gzip(const uint8_t *in, size_t n, outbuf *o, pp_status *st) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 32) != Z_OK) /* +32: gzip or zlib header */
        return pp_fail(st, PP_INTERNAL, "inflateInit failed");
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n; /* n <= max message size, far below 4 GiB */
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (outbuf_room(o, st) != 0) break;
        z.next_out = o->p + o->len;
        z.avail_out = (uInt)(o->cap - o->len);
        rc = inflate(&z, Z_NO_FLUSH);
        o->len = o->cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) {
            pp_fail(st, PP_INVALID, "gzip: truncated data");
            break;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            pp_fail(st, PP_INVALID, "gzip: %s", z.msg ? z.msg : "corrupt data");
            break;
        }
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) return -1;
    if (o->len > o->max) return pp_fail(st, PP_TOO_LARGE, "message larger than max (%zu+ vs %zu)", o->len, o->max);
    return 0;
}

static int inflate_zstd(const uint8_t *in, size_t n, outbuf *o, pp_status *st) {
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) return pp_fail(st, PP_UNAVAILABLE, "out of memory");
    ZSTD_inBuffer ib = {in, n, 0};
    size_t rc = 1;
    int ret = 0;
    /* rc == 0: a frame ended; keep going while input remains (several frames). */
    while (rc != 0 || ib.pos < ib.size) {
        if ((ret = outbuf_room(o, st)) != 0) break;
        ZSTD_outBuffer ob = {o->p, o->cap, o->len};
        rc = ZSTD_decompressStream(d, &ob, &ib);
        o->len = ob.pos;
        if (ZSTD_isError(rc)) {
            ret = pp_fail(st, PP_INVALID, "zstd: %s", ZSTD_getErrorName(rc));
            break;
        }
        if (rc != 0 && ib.pos == ib.size && ob.pos < ob.size) {
            ret = pp_fail(st, PP_INVALID, "zstd: truncated data");
            break;
        }
    }
    ZSTD_freeDCtx(d);
    if (ret == 0 && o->len > o->max)
        ret = pp_fail(st, PP_TOO_LARGE, "message larger than max (%zu+ vs %zu)", o->len, o->max);
    return ret;
}

static int inflate_snappy(const uint8_t *in, size_t n, outbuf *o, pp_status *st) {
    size_t len;
    if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK)
        return pp_fail(st, PP_INVALID, "snappy: corrupt data");
    if (len > o->max) return pp_fail(st, PP_TOO_LARGE, "message larger than max (%zu vs %zu)", len, o->max);
    o->p = malloc(len ? len : 1);
    if (!o->p) return pp_fail(st, PP_UNAVAILABLE, "out of memory while decompressing");
    o->cap = len;
    o->len = len;
    if (snappy_uncompress((const char *)in, n, (char *)o->p, &o->len) != SNAPPY_OK)
        return pp_fail(st, PP_INVALID, "snappy: corrupt data");
    return 0;
}

int pp_grpc_inflate(pp_grpc_enc enc, const uint8_t *in, size_t n, size_t max, uint8_t **out,
                    size_t *outlen, pp_status *st) {
    outbuf o = {.max = max};
    int rc;
    switch (enc) {
    case PP_GRPC_GZIP: rc = inflate_gzip(in, n, &o, st); break;
    case PP_GRPC_ZSTD: rc = inflate_zstd(in, n, &o, st); break;
    case PP_GRPC_SNAPPY: rc = inflate_snappy(in, n, &o, st); break;
    default: rc = pp_fail(st, PP_INTERNAL, "compressed flag set without grpc-encoding"); break;
    }
    if (rc != 0) {
        free(o.p);
        return -1;
    }
    *out = o.p;
    *outlen = o.len;
    return 0;
}
