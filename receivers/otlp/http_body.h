/* http_body.h -- an OTLP/HTTP request body: collected with a size cap as it
 * arrives, then decompressed into a buffer that never grows past the cap, so
 * a small compressed bomb costs at most the cap in memory. */
#ifndef PIPIT_HTTP_BODY_H
#define PIPIT_HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum pp_http_encoding {
    PP_ENC_IDENTITY,
    PP_ENC_GZIP,
    PP_ENC_DEFLATE, /* zlib-wrapped or raw deflate, told apart by the header */
    PP_ENC_ZSTD,
    PP_ENC_SNAPPY, /* block format; the framed format is recognised by its magic */
} pp_http_encoding;

/* Content-Encoding value (NULL, "", "identity", "gzip", "x-gzip", "deflate",
 * "zstd", "snappy", "x-snappy-framed"; case and blanks ignored). -1 otherwise. */
int pp_http_encoding_parse(const char *value, pp_http_encoding *out);

/* The bytes received so far; never more than `limit`. */
typedef struct pp_http_body {
    uint8_t *buf;
    size_t len, cap, limit;
} pp_http_body;

void pp_http_body_init(pp_http_body *b, size_t limit, size_t expected);
/* Appends; -1 with st = PP_TOO_LARGE once the total passes the limit, or
 * PP_INTERNAL when out of memory. */
int pp_http_body_append(pp_http_body *b, const void *data, size_t n, pp_status *st);
void pp_http_body_free(pp_http_body *b);

/* Decompresses in[0..n) into *out (malloc'd, *outlen bytes; for identity a
 * copy is not made: *out = NULL and the caller keeps using `in`). Fails with
 * PP_TOO_LARGE as soon as the output would pass limit, PP_INVALID for corrupt
 * or truncated data. */
int pp_http_decompress(pp_http_encoding e, const uint8_t *in, size_t n, size_t limit,
                       uint8_t **out, size_t *outlen, pp_status *st);

#endif
