/* floor.c -- pipit-bench-floor: the cost floor for forwarding OTLP traces.
 *
 * The same requests pipit-loadgen sends (same generator and defaults),
 * decoded and re-encoded with protobuf-c in one process: no network, no
 * threads, no pipeline. Two variants: protobuf-c's default allocator
 * (malloc per object), and pipit's arena (pp_batch_decode, what the receiver
 * does). A third, `forward`, is not a floor but what a forwarding pipeline
 * does instead (batch.h, encoded batches): wire check and copy in, copy out.
 * Reports spans per second of one core's CPU time, as JSON.
 *
 * For instruction counts: valgrind --tool=callgrind
 *   --toggle-collect=floor_loop pipit-bench-floor --iterations N --variant arena
 * counts only the decode + encode loop (N + 64 requests: the warm-up pass). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"
#include "gen.h"
#include "pool.h"

/* Decodes and re-encodes every request of the pool `iters` times; returns the
 * spans handled. arena: decode as pipit does (pp_batch_decode). */
__attribute__((noinline)) static size_t floor_loop(const lg_pool *pool, size_t iters, int variant,
                                                   uint8_t *out) {
    size_t spans = 0;
    for (size_t it = 0; it < iters; it++) {
        const lg_payload *p = &pool->p[it % pool->n];
        if (variant == 2) {
            pp_batch *b = pp_batch_wrap_encoded(PP_TRACES, p->data, p->len);
            if (!b) abort();
            pp_batch_pack(b, out);
            spans += b->items;
            pp_batch_unref(b);
        } else if (variant == 1) {
            pp_status st;
            pp_batch *b = pp_batch_decode(PP_TRACES, p->data, p->len, &st);
            if (!b) abort();
            pp_batch_pack(b, out);
            spans += b->items;
            pp_batch_unref(b);
        } else {
            ProtobufCMessage *m = protobuf_c_message_unpack(&PP_TRACES_REQ_DESC, NULL, p->len, p->data);
            if (!m) abort();
            protobuf_c_message_pack(m, out);
            spans += pp_traces_count((pp_traces_req *)m);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
    return spans;
}

int main(int argc, char **argv) {
    size_t iters = 20000, batch = 100;
    static const char *const variants[] = {"malloc", "arena", "forward"};
    int only = -1; /* --variant: one of variants[]; all by default */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--iterations") == 0) iters = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--batch") == 0) batch = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--variant") == 0) {
            for (int v = 0; v < 3; v++)
                if (strcmp(argv[i + 1], variants[v]) == 0) only = v;
            if (only < 0) {
                fprintf(stderr, "unknown variant %s\n", argv[i + 1]);
                return 1;
            }
        }
        else {
            fprintf(stderr, "usage: pipit-bench-floor [--iterations N] [--batch SPANS] "
                            "[--variant malloc|arena|forward]\n");
            return 1;
        }
    }
    if (batch == 0) batch = 1;
    lg_gen_cfg g;
    lg_gen_defaults(&g, PP_TRACES);
    g.batch = batch;
    g.now_ns = 1700000000000000000ull;
    lg_pool pool;
    if (lg_pool_build(&pool, &g, 64, LG_PROTOBUF, LG_NONE, 0) != 0) return 1;
    size_t maxlen = 0;
    for (size_t i = 0; i < pool.n; i++) maxlen = pool.p[i].len > maxlen ? pool.p[i].len : maxlen;
    uint8_t *out = malloc(maxlen + 64);
    if (!out) return 1;
    printf("{\"batch\":%zu,\"iterations\":%zu,\"bytes_per_span\":%.1f", batch, iters,
           (double)pool.bytes / (double)(pool.n * batch));
    for (int v = 0; v < 3; v++) {
        if (only >= 0 && v != only) continue;
        floor_loop(&pool, pool.n, v, out); /* warm the caches */
        double t0 = bench_cpu_s();
        size_t spans = floor_loop(&pool, iters, v, out);
        double dt = bench_cpu_s() - t0;
        printf(",\"%s\":{\"spans_per_s_per_core\":%.0f,\"ns_per_span\":%.1f}", variants[v],
               (double)spans / dt, dt * 1e9 / (double)spans);
    }
    printf("}\n");
    free(out);
    lg_pool_free(&pool);
    return 0;
}
