/* compress.h -- request-body compression for exporters (gzip, zstd, snappy),
 * and the reverse for compressed answers (gRPC response messages). */
#ifndef PIPIT_COMPRESS_H
#define PIPIT_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum pp_compression { PP_COMP_NONE, PP_COMP_GZIP, PP_COMP_ZSTD, PP_COMP_SNAPPY } pp_compression;

/* "gzip", "zstd", "snappy"; "none", "" or NULL -> PP_COMP_NONE. -1 if unknown. */
int pp_compression_parse(const char *name, pp_compression *out);
/* The wire name: "identity" for none (gRPC), else "gzip" / "zstd" / "snappy". */
const char *pp_compression_name(pp_compression c);

/* Compresses in into a new malloc'd buffer (*out, *outlen); gzip writes a gzip
 * member (RFC 1952). 0, or -1 when out of memory. */
int pp_compress(pp_compression c, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);
/* Decompresses into a new malloc'd buffer of at most max bytes; -1 on bad
 * input, too large, or out of memory. */
int pp_decompress(pp_compression c, const uint8_t *in, size_t len, size_t max, uint8_t **out,
                  size_t *outlen);

#endif
