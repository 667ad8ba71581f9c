/* batch.h -- the unit of data that flows through a pipeline.
 *
 * A batch is one decoded Export*ServiceRequest living in its own arena, with a
 * reference count. Fan-out to several consumers takes a reference each and
 * never copies. A batch built by merging others (the batch processor) points at
 * their ResourceSpans/ResourceMetrics and holds references to them, so merging
 * copies pointers, not data.
 *
 * Ownership rule: consume() borrows the batch; a consumer that keeps it past
 * the call takes its own reference. A batch reachable by more than one holder
 * is read-only; a component that must change data works on a batch it alone
 * holds (pp_batch_is_exclusive) or builds a new one.
 *
 * Encoded batches: where every component downstream only forwards data
 * (pp_consumer.takes_encoded: the batch processor, the otlp and otlphttp
 * exporters), a receiver does not decode a protobuf request at all. It checks
 * and counts it (wire_check.h) and passes the bytes on: `encoded` is set, msg
 * is NULL, and the request is `enc`, or the concatenation of the parts'
 * encodings (concatenated Export*ServiceRequests are one valid request, by
 * protobuf's rules for repeated fields). Such a batch is sized and packed by
 * copying bytes; pp_batch_decoded gives the decoded form to the rare step
 * that must look inside (splitting one request). */
#ifndef PIPIT_BATCH_H
#define PIPIT_BATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "otlp.h"
#include "status.h"

typedef enum pp_signal { PP_TRACES = 0, PP_METRICS = 1, PP_SIGNAL_COUNT = 2 } pp_signal;
#define PP_SIG_BIT(s) (1u << (s))

const char *pp_signal_name(pp_signal s); /* "traces", "metrics" */
int pp_signal_parse(const char *s, pp_signal *out);

typedef struct pp_batch {
    atomic_int refs;
    pp_signal signal;
    pp_arena *arena; /* owns the message and everything it points to */
    union {
        pp_traces_req *traces;
        pp_metrics_req *metrics;
        ProtobufCMessage *msg;
    };
    size_t items;        /* spans or metric data points */
    struct pp_batch **parts; /* batches whose data this one points into */
    size_t nparts;
    bool encoded;  /* no msg: the data is enc, or else the parts' encodings in order */
    uint8_t *enc;  /* malloc'd, owned; NULL for a concatenation */
    size_t enc_len;
} pp_batch;

/* Decodes an encoded Export*ServiceRequest into a new batch (refs = 1).
 * On failure returns NULL with st = PP_INVALID and a message naming the problem. */
pp_batch *pp_batch_decode(pp_signal sig, const uint8_t *buf, size_t len, pp_status *st);

/* An empty request of the signal in a fresh arena, to be filled by the caller
 * (JSON decoding, merging). refs = 1. */
pp_batch *pp_batch_new(pp_signal sig, size_t arena_hint);

/* An encoded batch holding a copy of buf, when pp_wire_check accepts it;
 * NULL otherwise (refused or out of memory: decode it instead, which names
 * the problem). */
pp_batch *pp_batch_wrap_encoded(pp_signal sig, const uint8_t *buf, size_t len);

/* An encoded batch that is the concatenation of parts[0..n) (all encoded, of
 * one signal; referenced, not copied). NULL when out of memory. */
pp_batch *pp_batch_concat(pp_batch *const *parts, size_t n);

/* The same data as an encoded batch: a new reference to b when b is
 * encoded, else its protobuf encoding copied into a new one. NULL when out
 * of memory. */
pp_batch *pp_batch_as_encoded(pp_batch *b);

/* The same data decoded: a new reference to b when b is decoded, else a
 * batch decoded from b's bytes. NULL with st set when that fails. */
pp_batch *pp_batch_decoded(pp_batch *b, pp_status *st);

pp_batch *pp_batch_ref(pp_batch *b);
void pp_batch_unref(pp_batch *b);
bool pp_batch_is_exclusive(const pp_batch *b);

/* Makes b keep a reference to part (for batches that point into other batches). */
int pp_batch_borrow(pp_batch *b, pp_batch *part);

/* Checks what protobuf cannot: id lengths (traces). 0 or -1 with st = PP_INVALID. */
int pp_batch_validate(const pp_batch *b, pp_status *st);

/* Number of spans / data points in a request. */
size_t pp_traces_count(const pp_traces_req *r);
size_t pp_metrics_count(const pp_metrics_req *r);
void pp_batch_recount(pp_batch *b);
/* ResourceSpans / ResourceMetrics in the request (encoded or not). */
size_t pp_batch_resources(const pp_batch *b);

/* protobuf encoding of the batch's request: size, and pack into out (size bytes). */
size_t pp_batch_encoded_size(const pp_batch *b);
size_t pp_batch_pack(const pp_batch *b, uint8_t *out);

#endif
