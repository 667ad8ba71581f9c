/* fuzz_grpc_frames.c -- libFuzzer: arbitrary bytes as the client side of one
 * gRPC connection (grpc_conn.c with nghttp2, framing, decompression, ingest
 * decode), no sockets. The first input byte picks how the rest is split
 * into reads, so frame boundaries land everywhere; timers tick in between.
 *
 * Not built by CMake. From the source root, after a CMake build that
 * generated the protobuf C into build/sanitize/proto:
 *   B=build/sanitize; clang -g -O1 -std=c11 -D_GNU_SOURCE -DPIPIT_VERSION='"fuzz"' \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -Iagent -I. -I$B/proto tests/fuzz/fuzz_grpc_frames.c \
 *     agent/{arena,batch,status,telemetry,telemetry_render,log,strbuf}.c \
 *     receivers/otlp/{grpc_conn,grpc_frame,grpc_reply,ingest,admission_pending}.c \
 *     $(find $B/proto -name '*.pb-c.c') -o fuzz_grpc_frames \
 *     $(pkg-config --libs libnghttp2 libprotobuf-c zlib libzstd libuv) -lsnappy -lm -lpthread
 *   ./fuzz_grpc_frames -max_total_time=60 -max_len=4096 corpus  (a copy of corpus/grpc) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "receivers/otlp/grpc_internal.h"

static int accept_all(pp_consumer *self, pp_batch *b, pp_status *st) {
    (void)self;
    (void)st;
    /* The other arm: an occasional refusal with a retry hint. */
    if (b->items == 7) {
        pp_fail(st, PP_UNAVAILABLE, "full");
        st->retry_after_ms = 250;
        return -1;
    }
    return 0;
}

static pp_consumer sink = {.consume = accept_all};
static pp_ingest in;
static pp_grpc_limits lim;

static void init_once(void) {
    static int done;
    if (done) return;
    done = 1;
    static pp_host host;
    host.metrics = pp_metrics_new();
    pp_create_params p = {.id = "otlp", .host = &host};
    p.next[PP_TRACES] = &sink;
    pp_ingest_init(&in, &p, "grpc");
    lim = (pp_grpc_limits){.in = &in, .max_msg = 64 * 1024, .max_streams = 16,
                           .max_conn_buffered = 256 * 1024, .preface_timeout_ns = 10 * PP_GRPC_SEC,
                           .stream_stall_ns = 30 * PP_GRPC_SEC, .idle_ns = 60 * PP_GRPC_SEC,
                           .ping_time_ns = 20 * PP_GRPC_SEC, .ping_timeout_ns = 5 * PP_GRPC_SEC,
                           .min_ping_ns = PP_GRPC_SEC, .max_resets_per_sec = 200};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    if (size < 1) return 0;
    size_t chunk = (size_t)data[0] * 7 + 1;
    data++;
    size--;
    int64_t now = 1;
    pp_grpc_conn *c = pp_grpc_conn_new(&lim, now);
    if (!c) return 0;
    size_t out;
    pp_grpc_conn_output(c, &out);
    for (size_t off = 0; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk;
        int rc = pp_grpc_conn_feed(c, data + off, n, now);
        pp_grpc_conn_output(c, &out);
        if (rc != 0 || pp_grpc_conn_done(c)) break;
        off += n;
        now += PP_GRPC_SEC / 2;
        if (pp_grpc_conn_tick(c, now) != 0) break;
    }
    pp_grpc_conn_goaway(c);
    pp_grpc_conn_output(c, &out);
    pp_grpc_conn_free(c);
    return 0;
}
