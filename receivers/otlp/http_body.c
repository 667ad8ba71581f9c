/* http_body.c -- see http_body.h. */
#include "http_body.h"

#include <snappy-c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

int pp_http_encoding_parse(const char *value, pp_http_encoding *out) {
    static const struct {
        const char *name;
        pp_http_encoding e;
    } names[] = {{"", PP_ENC_IDENTITY},     {"identity", PP_ENC_IDENTITY}, {"gzip", PP_ENC_GZIP},
                 {"x-gzip", PP_ENC_GZIP},   {"deflate", PP_ENC_DEFLATE},   {"zstd", PP_ENC_ZSTD},
                 {"snappy", PP_ENC_SNAPPY}, {"x-snappy-framed", PP_ENC_SNAPPY}};
    if (!value) value = "";
    while (*value == ' ' || *value == '\t') value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t')) n--;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) == n && strncasecmp(names[i].name, value, n) == 0) {
            *out = names[i].e;
            return 0;
        }
    }
    return -1;
}

void pp_http_body_init(pp_http_body *b, size_t limit, size_t expected) {
    memset(b, 0, sizeof(*b));
    b->limit = limit;
    /* A declared length is reserved at once: one allocation, no copies. */
    if (expected > 0 && expected <= limit && (b->buf = malloc(expected))) b->cap = expected;
}

int pp_http_body_append(pp_http_body *b, const void *data, size_t n, pp_status *st) {
    if (n > b->limit - b->len)
        return pp_fail(st, PP_TOO_LARGE, "request body larger than max_request_body_size (%zu bytes)",
                       b->limit);
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16384;
        if (cap < b->len + n) cap = b->len + n;
        if (cap > b->limit) cap = b->limit;
        uint8_t *p = realloc(b->buf, cap);
        if (!p) return pp_fail(st, PP_INTERNAL, "out of memory reading the request body");
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    return 0;
}

void pp_http_body_free(pp_http_body *b) {
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

/* Decompressed output: grows fourfold (fewer copies of a big buffer) up to
 * limit + 1 bytes, the one extra byte proving that the data does not fit. */
typedef struct outbuf {
    uint8_t *p;
    size_t len, cap, limit;
} outbuf;

static int too_large(const outbuf *o, pp_status *st) {
    return pp_fail(st, PP_TOO_LARGE,
                   "decompressed request body larger than max_request_body_size (%zu bytes)",
                   o->limit);
}

/* Ensures room for at least one more byte. */
static int out_room(outbuf *o, size_t hint, pp_status *st) {
    if (o->len > o->limit) return too_large(o, st);
    if (o->len < o->cap) return 0;
    size_t max = o->limit + 1;
    size_t cap = o->cap ? o->cap * 4 : (hint < 65536 ? 65536 : hint);
    if (cap > max || cap < o->cap) cap = max;
    uint8_t *p = realloc(o->p, cap);
    if (!p) return pp_fail(st, PP_INTERNAL, "out of memory decompressing the request body");
    o->p = p;
    o->cap = cap;
    return 0;
}

static int out_append(outbuf *o, const uint8_t *data, size_t n, pp_status *st) {
    if (n == 0) return 0; /* an empty chunk: o->p may still be NULL */
    if (n > o->limit - o->len) return too_large(o, st);
    size_t need = o->len + n;
    if (need > o->cap) {
        size_t cap = o->cap * 2;
        if (cap < 65536) cap = 65536;
        if (cap < need) cap = need;
        if (cap > o->limit) cap = o->limit < need ? need : o->limit;
        uint8_t *p = realloc(o->p, cap);
        if (!p) return pp_fail(st, PP_INTERNAL, "out of memory decompressing the request body");
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, n);
    o->len = need;
    return 0;
}

/* zlib: a two-byte header whose check bits are right and method is deflate. */
static bool zlib_header(const uint8_t *in, size_t n) {
    return n >= 2 && (in[0] & 0x0f) == 8 && (in[0] >> 4) <= 7 && ((in[0] << 8) | in[1]) % 31 == 0;
}

static int inflate_all(pp_http_encoding e, const uint8_t *in, size_t n, outbuf *o, pp_status *st) {
    z_stream z;
    memset(&z, 0, sizeof(z));
    int wbits = e == PP_ENC_GZIP ? 15 + 16 : zlib_header(in, n) ? 15 : -15;
    if (inflateInit2(&z, wbits) != Z_OK) return pp_fail(st, PP_INTERNAL, "inflateInit failed");
    z.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct */
    z.avail_in = (uInt)n;
    int ret = 0;
    for (;;) {
        if (out_room(o, n * 4, st) != 0) {
            ret = -1;
            break;
        }
        z.next_out = o->p + o->len;
        z.avail_out = (uInt)(o->cap - o->len);
        int rc = inflate(&z, Z_NO_FLUSH);
        o->len = o->cap - z.avail_out;
        if (rc == Z_STREAM_END) {
            /* gzip allows several members one after another (Go reads them all). */
            if (e == PP_ENC_GZIP && z.avail_in > 0 && inflateReset(&z) == Z_OK) continue;
            if (o->len > o->limit) ret = too_large(o, st);
            break;
        }
        if (rc == Z_OK || (rc == Z_BUF_ERROR && z.avail_out == 0)) {
            if (z.avail_in == 0 && z.avail_out > 0) {
                ret = pp_fail(st, PP_INVALID, "%s body is truncated",
                              e == PP_ENC_GZIP ? "gzip" : "deflate");
                break;
            }
            continue;
        }
        ret = pp_fail(st, PP_INVALID, "%s body is corrupt: %s", e == PP_ENC_GZIP ? "gzip" : "deflate",
                      z.msg ? z.msg : "unexpected end");
        break;
    }
    inflateEnd(&z);
    return ret;
}

static int zstd_all(const uint8_t *in, size_t n, outbuf *o, pp_status *st) {
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) return pp_fail(st, PP_INTERNAL, "out of memory decompressing the request body");
    /* The window is memory the decoder allocates up front: keep it near the limit. */
    int wlog = 10;
    while (wlog < 27 && ((size_t)1 << wlog) < o->limit) wlog++;
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wlog);
    ZSTD_inBuffer ib = {in, n, 0};
    int ret = 0;
    for (;;) {
        if (out_room(o, n * 4, st) != 0) {
            ret = -1;
            break;
        }
        ZSTD_outBuffer ob = {o->p, o->cap, o->len};
        size_t rc = ZSTD_decompressStream(d, &ob, &ib);
        o->len = ob.pos;
        if (ZSTD_isError(rc)) {
            ret = ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge
                      ? too_large(o, st)
                      : pp_fail(st, PP_INVALID, "zstd body is corrupt: %s", ZSTD_getErrorName(rc));
            break;
        }
        if (ib.pos == ib.size && ob.pos < ob.size) {
            if (rc != 0) ret = pp_fail(st, PP_INVALID, "zstd body is truncated");
            else if (o->len > o->limit) ret = too_large(o, st);
            break;
        }
    }
    ZSTD_freeDCtx(d);
    return ret;
}

static uint32_t le24(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16; }

static const uint8_t snappy_magic[] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};

/* The framing format (framing_format.txt). Checksums are not verified. */
static int snappy_framed(const uint8_t *in, size_t n, outbuf *o, pp_status *st) {
    uint8_t block[65536];
    size_t i = 0;
    while (i < n) {
        if (n - i < 4) return pp_fail(st, PP_INVALID, "snappy frame header is truncated");
        uint8_t type = in[i];
        size_t len = le24(in + i + 1);
        i += 4;
        if (len > n - i) return pp_fail(st, PP_INVALID, "snappy frame is truncated");
        const uint8_t *c = in + i;
        i += len;
        if (type == 0xff) {
            if (len != 6 || memcmp(c, snappy_magic + 4, 6) != 0)
                return pp_fail(st, PP_INVALID, "bad snappy stream identifier");
        } else if (type == 0x00 || type == 0x01) {
            if (len < 4) return pp_fail(st, PP_INVALID, "snappy frame too short");
            const uint8_t *data = c + 4;
            size_t dlen = len - 4, ulen = sizeof(block);
            if (type == 0x00) {
                if (snappy_uncompressed_length((const char *)data, dlen, &ulen) != SNAPPY_OK ||
                    ulen > sizeof(block) ||
                    snappy_uncompress((const char *)data, dlen, (char *)block, &ulen) != SNAPPY_OK)
                    return pp_fail(st, PP_INVALID, "snappy frame is corrupt");
                data = block;
                dlen = ulen;
            } else if (dlen > sizeof(block)) {
                return pp_fail(st, PP_INVALID, "snappy frame is too long");
            }
            if (out_append(o, data, dlen, st) != 0) return -1;
        } else if (type < 0x80) {
            return pp_fail(st, PP_INVALID, "reserved snappy frame type 0x%02x", type);
        } /* 0x80-0xfe: skippable */
    }
    return 0;
}

static int snappy_all(const uint8_t *in, size_t n, outbuf *o, pp_status *st) {
    if (n >= sizeof(snappy_magic) && memcmp(in, snappy_magic, sizeof(snappy_magic)) == 0)
        return snappy_framed(in, n, o, st);
    size_t ulen;
    if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
        return pp_fail(st, PP_INVALID, "snappy body is corrupt");
    if (ulen > o->limit) return too_large(o, st);
    o->p = malloc(ulen ? ulen : 1);
    if (!o->p) return pp_fail(st, PP_INTERNAL, "out of memory decompressing the request body");
    o->cap = ulen;
    if (snappy_uncompress((const char *)in, n, (char *)o->p, &ulen) != SNAPPY_OK)
        return pp_fail(st, PP_INVALID, "snappy body is corrupt");
    o->len = ulen;
    return 0;
}

int pp_http_decompress(pp_http_encoding e, const uint8_t *in, size_t n, size_t limit,
                       uint8_t **out, size_t *outlen, pp_status *st) {
    *out = NULL;
    *outlen = n;
    if (e == PP_ENC_IDENTITY) {
        if (n > limit)
            return pp_fail(st, PP_TOO_LARGE,
                           "request body larger than max_request_body_size (%zu bytes)", limit);
        return 0;
    }
    outbuf o = {.limit = limit};
    int rc = e == PP_ENC_ZSTD     ? zstd_all(in, n, &o, st)
             : e == PP_ENC_SNAPPY ? snappy_all(in, n, &o, st)
                                  : inflate_all(e, in, n, &o, st);
    if (rc != 0) {
        free(o.p);
        return -1;
    }
    if (!o.p && !(o.p = malloc(1))) /* an empty result still gets a buffer */
        return pp_fail(st, PP_INTERNAL, "out of memory decompressing the request body");
    *out = o.p;
    *outlen = o.len;
    return 0;
}
