/* storage_bench.c -- throughput of the SQLite queue (agent/storage.h), no
 * network: requests of 100 spans (a 6 KiB body, incompressible like the
 * gzip'd protobuf an exporter stores) put and acked through the store.
 *
 *   storage_bench [DIR] [REQUESTS] [fsync: always|batch|off]
 *
 * spill   4 threads put without waiting (a spill), then one flush
 * always  4 threads put durably (each waits for its group commit), as
 *         concurrent receivers do in durability always
 * replay  4 consumer threads take, then ack, until the queue is empty
 * Prints spans/s for each, and replay / always. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"
#include "log.h"
#include "storage.h"

#define SPANS 100
#define BODY 6144
#define THREADS 4

typedef struct job {
    pp_queue_storage *q;
    size_t n;
} job;

static void *producer(void *p) {
    job *j = p;
    uint64_t x = (uint64_t)(uintptr_t)p | 1;
    for (size_t i = 0; i < j->n; i++) {
        uint8_t *b = malloc(BODY);
        for (size_t k = 0; k < BODY; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[k] = (uint8_t)x;
        }
        pp_export_request *r = pp_export_request_new(NULL, b, BODY);
        r->signal = PP_TRACES;
        r->items = SPANS;
        if (j->q->put(j->q, r) != 0) {
            fprintf(stderr, "put refused\n");
            exit(1);
        }
    }
    return NULL;
}

static void *consumer(void *p) {
    job *j = p;
    for (;;) {
        pp_export_request *r = j->q->peek(j->q);
        if (!r) {
            if (j->q->size(j->q) == 0) break;
            continue; /* rows of other consumers in flight */
        }
        j->q->ack(j->q, r);
    }
    return NULL;
}

static double run(pp_store *s, pp_queue_storage *q, size_t n, void *(*fn)(void *)) {
    pthread_t t[THREADS];
    job j[THREADS];
    double t0 = bench_wall_s();
    for (int i = 0; i < THREADS; i++) {
        j[i] = (job){q, n / THREADS};
        pthread_create(&t[i], NULL, fn, &j[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pp_store_flush(s);
    return (double)(n / THREADS * THREADS * SPANS) / (bench_wall_s() - t0);
}

static pp_queue_storage *queue(pp_store *s, bool durable) {
    pp_store_queue_opts o = {.exporter = "bench", .durable = durable};
    pp_status st = {0};
    return pp_store_queue(s, &o, &st);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/pipit-storage-bench";
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 20000;
    const char *fs = argc > 3 ? argv[3] : "batch";
    pp_store_fsync f = !strcmp(fs, "always") ? PP_FSYNC_ALWAYS
                       : !strcmp(fs, "off")  ? PP_FSYNC_OFF
                                             : PP_FSYNC_BATCH;
    pp_log_setup(PP_LOG_WARN, PP_LOG_JSON);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    pp_store_opts o = {.id = "bench", .directory = dir, .fsync = f, .max_bytes = 64ull << 30,
                       .degraded_ratio = 1.0};
    pp_status st = {0};
    pp_store *s = pp_store_open(&o, &st);
    if (!s) {
        fprintf(stderr, "%s\n", st.msg);
        return 1;
    }
    pp_queue_storage *q = queue(s, false);
    double spill = run(s, q, n, producer);
    double drain1 = run(s, q, n, consumer);
    q->destroy(q);
    q = queue(s, true);
    double always = run(s, q, n, producer);
    double replay = run(s, q, n, consumer);
    q->destroy(q);
    pp_store_close(s);
    (void)drain1;
    printf("fsync=%s requests=%zu spans/request=%d body=%d\n", fs, n, SPANS, BODY);
    printf("spill  %.0f spans/s\nalways %.0f spans/s\nreplay %.0f spans/s\nreplay/always %.2f\n",
           spill, always, replay, replay / always);
    return 0;
}
