/* pool.h -- requests encoded once, before the run, so that generating and
 * encoding them never limits the send rate. The run cycles through the pool;
 * a pool of P requests holds P x batch distinct spans (P x batch /
 * spans_per_trace distinct traces), which repeat when the pool wraps. */
#ifndef PIPIT_LOADGEN_POOL_H
#define PIPIT_LOADGEN_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "gen.h"

typedef enum lg_format { LG_PROTOBUF, LG_JSON } lg_format;
typedef enum lg_compress { LG_NONE, LG_GZIP, LG_ZSTD } lg_compress;

typedef struct lg_payload {
    uint8_t *data; /* what goes on the wire (gRPC: with the 5-byte message prefix) */
    size_t len;
    size_t raw_len; /* encoded size before compression */
    size_t items;   /* spans or data points */
    /* Uncompressed protobuf traces: where each span's trace id sits in data,
     * so that a copy can be given fresh ids (lg_payload_fresh_ids). */
    uint32_t *tid_off;
    size_t n_tid;
} lg_payload;

typedef struct lg_pool {
    lg_payload *p;
    size_t n;
    size_t bytes; /* sum of len */
} lg_pool;

/* Generates and encodes n requests. grpc_frame: prefix each with the gRPC
 * length-prefixed-message header (compressed flag set when compressed).
 * 0, or -1 with a message on stderr. */
int lg_pool_build(lg_pool *pool, const lg_gen_cfg *g, size_t n, lg_format f, lg_compress c,
                  int grpc_frame);
void lg_pool_free(lg_pool *pool);

/* Copies p into buf (p->len bytes) with every trace id changed by `round`
 * (the pool's wrap count): spans of one trace keep sharing an id, and no id
 * repeats across rounds. Needs p->tid_off; returns the copy's payload. */
lg_payload lg_payload_fresh_ids(const lg_payload *p, uint8_t *buf, uint64_t round);

#endif
