/* otlp_json.h -- the OTLP/JSON encoding (WIRE-SPECS 1.4) of OTLP messages.
 *
 * Shared by the OTLP/HTTP receiver (decode requests, encode responses and
 * error Status bodies) and the otlphttp exporter (encode requests, decode
 * responses). Both directions walk the protobuf-c descriptors, so every field
 * of every OTLP message is covered without per-message code; the OTLP
 * deviations from the proto3 JSON mapping are applied by field type and name:
 * lowerCamelCase keys, trace/span ids as hex, other bytes as base64, enums as
 * integers, 64-bit integers as decimal strings, NaN/Infinity as strings. */
#ifndef PIPIT_OTLP_JSON_H
#define PIPIT_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "status.h"

/* Deepest nesting of AnyValue (arrayValue/kvlistValue) accepted or emitted. */
#define PP_OTLP_JSON_MAX_ANY_DEPTH 64

/* Decodes an OTLP/JSON ExportTraceServiceRequest or ExportMetricsServiceRequest
 * into a new batch (refs = 1) whose data lives in the batch's arena, validated
 * (pp_batch_validate) and counted. NULL on error with st = PP_INVALID (or
 * PP_UNAVAILABLE when out of memory) and a message naming the JSON path, e.g.
 * "resourceSpans[0].scopeSpans[0].spans[3].traceId: expected 32 hex
 * characters, got 30". An empty object is an empty request. */
pp_batch *pp_otlp_json_decode(pp_signal sig, const char *body, size_t len, pp_status *st);

/* Decodes any message of the OTLP protos (e.g. an Export*ServiceResponse or a
 * google.rpc.Status read by the exporter) with the same rules, allocating from
 * arena. NULL on error as above. */
ProtobufCMessage *pp_otlp_json_decode_message(const ProtobufCMessageDescriptor *desc,
                                              const char *body, size_t len, pp_arena *arena,
                                              pp_status *st);

/* Encodes a message into a malloc'd NUL-terminated JSON string (*len without
 * the NUL). Default values and unset oneofs are omitted; strings that are not
 * valid UTF-8 (protobuf-c does not check) have bad bytes replaced by U+FFFD.
 * NULL when out of memory or when an AnyValue nests deeper than
 * PP_OTLP_JSON_MAX_ANY_DEPTH (the decoder would refuse it). */
char *pp_otlp_json_encode_message(const ProtobufCMessage *msg, size_t *len);

/* The batch's Export*ServiceRequest (for the exporter). */
char *pp_otlp_json_encode_request(const pp_batch *b, size_t *len);

/* An Export*ServiceResponse: "{}" when rejected == 0 and error_message is NULL
 * or empty (partial_success unset means full success), else partialSuccess
 * with rejectedSpans / rejectedDataPoints and errorMessage. */
char *pp_otlp_json_encode_response(pp_signal sig, int64_t rejected, const char *error_message,
                                   size_t *len);

/* A google.rpc.Status body for a 4xx/5xx answer: {"code":3,"message":"..."}. */
char *pp_otlp_json_encode_status(int code, const char *message, size_t *len);

#endif
