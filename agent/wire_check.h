/* wire_check.h -- check and count an encoded OTLP request without decoding it.
 *
 * Forwarding pipelines (receiver -> batch -> otlp exporter) never look inside
 * a span, so they pass requests on as the bytes they arrived in (batch.h,
 * "encoded batches"). The bytes must still be exactly what decoding would
 * accept: this walks the protobuf encoding once against the schema, without
 * allocating, and checks every field's wire type, every length, the nesting
 * depth, field number 0, and the id rules of pp_batch_validate (16-byte trace
 * ids and 8-byte span ids, not all zero), while counting spans or data points.
 *
 * It is stricter than decoding, never laxer: whatever it refuses (malformed
 * input, but also legal oddities such as two different members of Metric's
 * `data` oneof, a bool sent as a fixed64, a repeated bool packed with values
 * above 1) goes through pp_batch_decode instead, which accepts or refuses it
 * and names the problem. So it reports no reason, only yes or no.
 * tests/fuzz/fuzz_otlp_protobuf.c holds it to that: accepted implies decoded,
 * with the same item count. */
#ifndef PIPIT_WIRE_CHECK_H
#define PIPIT_WIRE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"

/* One field of a protobuf encoding, as pp_wire_next_field reads it. */
typedef struct pp_wire_field {
    uint64_t num;        /* field number (0 is returned: callers decide) */
    unsigned wire;       /* wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    const uint8_t *body; /* wire type 2: the contents, len bytes */
    size_t len;
} pp_wire_field;

/* Reads the field at *p (p < end) and moves *p past it. false for what
 * protobuf-c refuses too: a tag or length over 5 bytes, a value over 10, a
 * truncated field, groups and wire types 6 and 7. For walks over encodings
 * that only need the fields' places (nesting depth, counting); pp_wire_check
 * is the full check. */
bool pp_wire_next_field(const uint8_t **p, const uint8_t *end, pp_wire_field *f);

/* True when buf[0..len) is an Export*ServiceRequest of signal sig that
 * decoding and pp_batch_validate accept; *items is then its spans or data
 * points. Thread-safe. */
bool pp_wire_check(pp_signal sig, const uint8_t *buf, size_t len, size_t *items);

#endif
