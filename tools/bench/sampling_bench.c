/* sampling_bench.c -- "Sampling and spanmetrics" in docs/BENCHMARKS.md.
 *
 *   pipit-sampling-bench tail [--spans N] [--runs R] [--batch B] [--wait S] [--mib M]
 *   pipit-sampling-bench spanmetrics [--spans N] [--runs R] [--batch B]
 *
 * tail: the tail_sampling processor driven directly on one thread, as a
 * receiver thread drives it: OTLP requests from the load generator (B spans
 * of 10-span traces, 8 attributes, 1% error traces), encoded once, decoded
 * into their own arenas (trace ids made unique per request), consumed; the
 * processor's timer runs between requests, so traces are decided after
 * decision_wait S seconds (or evicted early by the budget of M MiB) and the
 * sampled ones reach a counting consumer. Policies: errors, latency > 150 ms,
 * 10% probabilistic. Reports spans/s over the CPU time spent in the processor
 * (consume + timer; decoding excluded, printed apart), the peak held bytes
 * against the budget, and peak RSS.
 *
 * spanmetrics: the cost a span has through a pipeline (decode the request,
 * encode it again for an exporter) with and without the spanmetrics
 * connector in it (its default dimensions and buckets, a flush every second
 * to a counting consumer); runs alternate A/B; reports CPU ns per span of
 * each and the added fraction, medians over the runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "batch.h"
#include "component.h"
#include "config_node.h"
#include "config_schema.h"
#include "diag.h"
#include "gen.h"
#include "telemetry.h"
#include "bench_clock.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- a component from YAML ---- */

typedef struct comp {
    const pp_factory *f;
    void *cfg, *inst;
    pp_node *node;
} comp;

static void comp_create(comp *c, pp_kind kind, const char *type, const char *yaml, pp_host *h, pp_signal sig,
                        pp_consumer *next) {
    memset(c, 0, sizeof(*c));
    pp_diag d;
    pp_diag_init(&d);
    c->f = pp_registry_find(kind, type);
    if (!c->f) exit(2);
    c->node = pp_node_parse(yaml, strlen(yaml), "bench.yaml", &d);
    c->cfg = calloc(1, c->f->config_size ? c->f->config_size : 1);
    if (c->f->config_defaults) c->f->config_defaults(c->cfg);
    size_t errs = c->node ? pp_cfg_decode(c->f->schema, c->node, c->cfg, type, &d) : 1;
    if (!errs && c->f->config_validate) errs = c->f->config_validate(c->cfg, type, &d);
    if (errs) {
        pp_diag_print(&d, stderr);
        exit(2);
    }
    pp_diag_free(&d);
    pp_create_params p = {.id = type, .config = c->cfg, .host = h, .signal = sig};
    p.next[sig] = next;
    p.next[PP_METRICS] = next;
    pp_status st = {0};
    if (!(c->inst = c->f->create(&p, &st)) || c->f->start(c->inst, h, &st) != 0) {
        fprintf(stderr, "%s: %s\n", type, st.msg);
        exit(2);
    }
}

static void comp_destroy(comp *c, pp_host *h) {
    c->f->shutdown(c->inst, h);
    c->f->destroy(c->inst);
    pp_cfg_free(c->f->schema, c->cfg);
    free(c->cfg);
    pp_node_free(c->node);
}

/* Counts what reaches the end of the pipeline. */
typedef struct sink {
    pp_consumer c;
    size_t items, batches;
} sink;

static int sink_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    (void)st;
    sink *s = (sink *)self;
    s->items += b->items;
    s->batches++;
    return 0;
}

/* ---- requests ---- */

typedef struct pool {
    uint8_t **buf;
    size_t *len, n;
} pool;

static void pool_make(pool *p, size_t n, size_t batch) {
    lg_gen_cfg g;
    lg_gen_defaults(&g, PP_TRACES);
    g.batch = batch;
    g.now_ns = (uint64_t)time(NULL) * 1000000000ull;
    p->n = n;
    p->buf = calloc(n, sizeof(*p->buf));
    p->len = calloc(n, sizeof(*p->len));
    for (size_t i = 0; i < n; i++) {
        pp_batch *b = lg_gen_request(&g, i);
        p->len[i] = pp_batch_encoded_size(b);
        p->buf[i] = malloc(p->len[i]);
        pp_batch_pack(b, p->buf[i]);
        pp_batch_unref(b);
    }
    pp_status st = {0};
    pp_batch *d = pp_batch_decode(PP_TRACES, p->buf[0], p->len[0], &st);
    if (d) {
        printf("a request: %zu spans, %.0f bytes a span on the wire, %.0f decoded (arena reserved)\n", batch,
               (double)p->len[0] / (double)batch, (double)pp_arena_reserved(d->arena) / (double)batch);
        pp_batch_unref(d);
    }
}

/* Request k: pool entry k % n decoded, trace ids unique to k. */
static pp_batch *request(const pool *p, uint64_t k) {
    pp_status st = {0};
    pp_batch *b = pp_batch_decode(PP_TRACES, p->buf[k % p->n], p->len[k % p->n], &st);
    if (!b) {
        fprintf(stderr, "decode: %s\n", st.msg);
        exit(2);
    }
    uint64_t x = k / p->n + 1;
    pp_traces_req *r = b->traces;
    for (size_t i = 0; i < r->n_resource_spans; i++)
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
            pp_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
            for (size_t s = 0; s < ss->n_spans; s++) {
                uint8_t *id = ss->spans[s]->trace_id.data;
                for (int q = 0; q < 8; q++) id[8 + q] ^= (uint8_t)(x >> (8 * q));
            }
        }
    return b;
}

static size_t arg_size(int argc, char **argv, const char *name, size_t def) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return (size_t)strtoull(argv[i + 1], NULL, 10);
    return def;
}

static uint64_t metric_value(pp_metrics *m, const char *series) {
    size_t len;
    char *text = pp_metrics_render(m, &len);
    char *at = text ? strstr(text, series) : NULL;
    uint64_t v = at ? strtoull(at + strlen(series), NULL, 10) : 0;
    free(text);
    return v;
}

/* ---- tail sampling ---- */

static int bench_tail(int argc, char **argv) {
    size_t spans = arg_size(argc, argv, "--spans", 2000000), runs = arg_size(argc, argv, "--runs", 5);
    size_t batch = arg_size(argc, argv, "--batch", 512), wait = arg_size(argc, argv, "--wait", 2);
    size_t mib = arg_size(argc, argv, "--mib", 256);
    pool p;
    pool_make(&p, 256, batch);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "decision_wait: %zus\nnum_traces: 1000000\nmemory_limit_mib: %zu\n"
             "policies:\n"
             "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n"
             "  - {name: slow, type: latency, latency: {threshold_ms: 150}}\n"
             "  - {name: some, type: probabilistic, probabilistic: {sampling_percentage: 10}}\n",
             wait, mib);
    printf("tail_sampling: %zu spans a run, requests of %zu spans (10 per trace), decision_wait %zus, "
           "memory_limit_mib %zu\n", spans, batch, wait, mib);
    double *rate = calloc(runs, sizeof(double));
    uint64_t k = 0;
    for (size_t run = 0; run < runs; run++) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        pp_host h = {.loop = &loop, .metrics = pp_metrics_new()};
        sink s = {.c.consume = sink_consume};
        comp c;
        comp_create(&c, PP_PROCESSOR, "tail_sampling", yaml, &h, PP_TRACES, &s.c);
        pp_consumer *in = c.f->consumer(c.inst, PP_TRACES);
        double proc = 0, dec = 0, w0 = bench_wall_s();
        uint64_t held_max = 0;
        size_t done = 0;
        while (done < spans) {
            double t0 = bench_thread_cpu_s();
            pp_batch *b = request(&p, k++);
            double t1 = bench_thread_cpu_s();
            pp_status st = {0};
            if (pp_consume(in, b, &st) != 0) exit(3);
            pp_batch_unref(b); /* the receiver lets go */
            uv_run(&loop, UV_RUN_NOWAIT);
            double t2 = bench_thread_cpu_s();
            dec += t1 - t0;
            proc += t2 - t1;
            done += b ? batch : 0;
            if ((k & 63) == 0) {
                uint64_t held = metric_value(h.metrics, "pipit_tail_sampling_held_bytes{processor=\"tail_sampling\"} ");
                if (held > held_max) held_max = held;
            }
        }
        double wall = bench_wall_s() - w0;
        uint64_t ev = metric_value(h.metrics,
                                   "pipit_tail_sampling_evicted_traces_total{processor=\"tail_sampling\",reason=\"memory\"} ");
        rate[run] = (double)done / proc;
        printf("run %zu: %.0f spans/s (processor CPU %.2fs; decode %.2fs; wall %.2fs), sampled %zu spans, "
               "held peak %.1f MiB of %zu, evicted (memory) %llu traces\n",
               run + 1, rate[run], proc, dec, wall, s.items, (double)held_max / 1048576, mib,
               (unsigned long long)ev);
        comp_destroy(&c, &h);
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_loop_close(&loop);
        pp_metrics_free(h.metrics);
    }
    printf("median %.0f spans/s; peak RSS %ld MiB\n", median(rate, (int)runs), bench_peak_rss_kb() / 1024);
    return 0;
}

/* ---- spanmetrics ---- */

static int bench_spanmetrics(int argc, char **argv) {
    size_t spans = arg_size(argc, argv, "--spans", 1000000), runs = arg_size(argc, argv, "--runs", 7);
    size_t batch = arg_size(argc, argv, "--batch", 512);
    pool p;
    pool_make(&p, 256, batch);
    size_t maxlen = 0;
    for (size_t i = 0; i < p.n; i++)
        if (p.len[i] > maxlen) maxlen = p.len[i];
    uint8_t *out = malloc(maxlen * 2);
    printf("spanmetrics: %zu spans a run, requests of %zu spans; pipeline = decode + re-encode\n", spans, batch);
    double *base = calloc(runs, sizeof(double)), *with = calloc(runs, sizeof(double)), *frac = calloc(runs, sizeof(double));
    for (size_t run = 0; run < runs; run++) {
        for (int mode = 0; mode < 2; mode++) {
            uv_loop_t loop;
            uv_loop_init(&loop);
            pp_host h = {.loop = &loop, .metrics = pp_metrics_new()};
            sink s = {.c.consume = sink_consume};
            comp c;
            pp_consumer *sm = NULL;
            if (mode) {
                comp_create(&c, PP_CONNECTOR, "spanmetrics", "metrics_flush_interval: 1s\n", &h, PP_TRACES, &s.c);
                sm = c.f->consumer(c.inst, PP_TRACES);
            }
            size_t done = 0;
            uint64_t k = 0;
            double t0 = bench_thread_cpu_s();
            while (done < spans) {
                pp_status st = {0};
                pp_batch *b = pp_batch_decode(PP_TRACES, p.buf[k % p.n], p.len[k % p.n], &st);
                k++;
                if (!b) exit(3);
                if (sm && pp_consume(sm, b, &st) != 0) exit(3);
                if (pp_batch_pack(b, out) == 0) exit(3);
                done += b->items;
                pp_batch_unref(b);
                if (sm) uv_run(&loop, UV_RUN_NOWAIT);
            }
            double ns = (bench_thread_cpu_s() - t0) * 1e9 / (double)done;
            (mode ? with : base)[run] = ns;
            if (mode) {
                comp_destroy(&c, &h);
                uv_run(&loop, UV_RUN_NOWAIT);
            }
            uv_loop_close(&loop);
            pp_metrics_free(h.metrics);
            if (mode)
                printf("run %zu: %.0f ns/span without, %.0f ns/span with spanmetrics (+%.1f%%; %zu flushes)\n",
                       run + 1, base[run], with[run], 100 * (with[run] / base[run] - 1), s.batches);
        }
        frac[run] = with[run] / base[run] - 1;
    }
    double mb = median(base, (int)runs), mw = median(with, (int)runs), mf = median(frac, (int)runs);
    printf("median %.0f ns/span without, %.0f with: spanmetrics adds %.0f ns/span (+%.1f%%, median of the "
           "runs' ratios)\n", mb, mw, mw - mb, 100 * mf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "tail") == 0) return bench_tail(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "spanmetrics") == 0) return bench_spanmetrics(argc, argv);
    fprintf(stderr, "usage: pipit-sampling-bench tail|spanmetrics [--spans N] [--runs R] [--batch B] "
                    "[--wait S] [--mib M]\n");
    return 1;
}
