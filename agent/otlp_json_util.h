/* otlp_json_util.h -- pieces shared by the OTLP/JSON decoder and encoder:
 * field naming, id fields, hex, base64 and UTF-8. Internal to otlp_json_*.c. */
#ifndef PIPIT_OTLP_JSON_UTIL_H
#define PIPIT_OTLP_JSON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* Longest JSON key of a field name (OTLP's longest is ~25 characters). */
#define PP_OJ_NAME_MAX 64

/* The proto3 JSON name of a field: snake_case -> lowerCamelCase. */
void pp_oj_json_name(const ProtobufCFieldDescriptor *f, char out[PP_OJ_NAME_MAX]);

/* Size of one element of a repeated field in its protobuf-c array. */
size_t pp_oj_elem_size(const ProtobufCFieldDescriptor *f);

/* Fields the codec leaves out entirely (the profiles-only *_strindex fields,
 * which WIRE-SPECS 2.1 says to treat as absent). */
bool pp_oj_field_skipped(const ProtobufCFieldDescriptor *f);

/* For trace_id / span_id / parent_span_id (hex in OTLP/JSON): their length in
 * bytes (16 or 8). 0 for every other field (bytes are base64). */
size_t pp_oj_id_bytes(const ProtobufCFieldDescriptor *f);

/* Decodes n hex characters (either case) into n/2 bytes. Returns -1 on
 * success, else the index of the first bad character. n must be even. */
long pp_oj_hex_decode(const char *s, size_t n, uint8_t *out);
/* Writes 2n lowercase hex characters (no NUL). */
void pp_oj_hex_encode(const uint8_t *p, size_t n, char *out);

/* Upper bound of the decoded size of n base64 characters. */
size_t pp_oj_base64_max_decoded(size_t n);
/* Decodes standard or URL-safe base64, padded or not, into out; returns the
 * number of bytes, or -1 if s is not base64. */
long pp_oj_base64_decode(const char *s, size_t n, uint8_t *out);
/* Exact size of the padded standard base64 of n bytes. */
size_t pp_oj_base64_encoded_len(size_t n);
/* Writes padded standard base64 (no NUL). */
void pp_oj_base64_encode(const uint8_t *p, size_t n, char *out);

/* Length (1-4) of the well-formed UTF-8 sequence at s (n bytes available),
 * or 0 if s does not start one (overlong forms, surrogates and code points
 * above U+10FFFF are not well-formed). */
size_t pp_oj_utf8_seq(const unsigned char *s, size_t n);

#endif
