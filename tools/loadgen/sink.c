/* sink.c -- `pipit-loadgen sink`: an OTLP backend that counts.
 *
 * pipit's own OTLP receiver transports (gRPC and HTTP) feed a counting
 * consumer, so the sink checks requests exactly as pipit does; it takes them
 * encoded (wire check, no decoding) and reads trace ids from the bytes.
 * The consumer can delay each request (a sleep on the receiving worker: with
 * W workers the sink then answers at most W / delay requests per second) or
 * refuse a fraction of them with a chosen code, spread evenly (every
 * 1/ratio-th).
 * With --prw it also takes Prometheus remote write (sink_prw.c). */
#include "sink.h"

#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hll.h"
#include "http_endpoint.h"
#include "receivers/otlp/otlp_receiver.h"
#include "sink_prw.h"
#include "strbuf.h"
#include "wire_check.h"

enum { T_GRPC, T_HTTP, T_COUNT };

typedef struct sink sink;

typedef struct sink_consumer {
    pp_consumer c;
    sink *s;
    int transport;
} sink_consumer;

struct sink {
    /* options */
    int delay_ms;
    double fail_ratio;
    pp_code fail_code;
    int retry_after_s;
    /* counts */
    atomic_uint_fast64_t requests[T_COUNT][PP_SIGNAL_COUNT], failed[T_COUNT];
    atomic_uint_fast64_t spans, points, bytes, seq;
    lg_hll traces;
    lg_prw_sink *prw; /* NULL without --prw */
    int64_t t0;
    sink_consumer cons[T_COUNT];
};

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Every trace id once per run of equal ids (spans of a trace are adjacent). */
static void count_traces(sink *s, const pp_traces_req *r) {
    const ProtobufCBinaryData *prev = NULL;
    for (size_t i = 0; i < r->n_resource_spans; i++)
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
            const pp_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans; k++) {
                const ProtobufCBinaryData *id = &ss->spans[k]->trace_id;
                if (prev && prev->len == id->len && memcmp(prev->data, id->data, id->len) == 0)
                    continue;
                lg_hll_add(&s->traces, id->data, id->len);
                prev = id;
            }
        }
}

/* The next length-delimited field of p..end (others skipped). */
static bool next_len_field(const uint8_t **p, const uint8_t *end, pp_wire_field *f) {
    while (*p < end && pp_wire_next_field(p, end, f))
        if (f->wire == 2) return true;
    return false;
}

/* count_traces for an encoded request (batch.h): the trace_id of every
 * resource_spans.scope_spans.spans, read straight from the bytes. */
static void count_traces_encoded(sink *s, const uint8_t *p, size_t len) {
    const uint8_t *prev = NULL;
    pp_wire_field rs, ss, sp, id;
    for (const uint8_t *a = p; next_len_field(&a, p + len, &rs);) {
        if (rs.num != 1) continue;
        for (const uint8_t *b = rs.body; next_len_field(&b, rs.body + rs.len, &ss);) {
            if (ss.num != 2) continue;
            for (const uint8_t *c = ss.body; next_len_field(&c, ss.body + ss.len, &sp);) {
                if (sp.num != 2) continue;
                for (const uint8_t *d = sp.body; next_len_field(&d, sp.body + sp.len, &id);) {
                    if (id.num != 1) continue;
                    if (!(prev && id.len == 16 && memcmp(prev, id.body, 16) == 0))
                        lg_hll_add(&s->traces, id.body, id.len);
                    prev = id.len == 16 ? id.body : NULL;
                }
            }
        }
    }
}

static void count_traces_batch(sink *s, const pp_batch *b) {
    if (!b->encoded) count_traces(s, b->traces);
    else if (b->enc) count_traces_encoded(s, b->enc, b->enc_len);
    else
        for (size_t i = 0; i < b->nparts; i++) count_traces_batch(s, b->parts[i]);
}

/* Refuses request number n when the ratio's running total crosses an integer. */
static int should_fail(const sink *s, uint64_t n) {
    if (s->fail_ratio <= 0) return 0;
    return (uint64_t)((double)(n + 1) * s->fail_ratio) > (uint64_t)((double)n * s->fail_ratio);
}

static int sink_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    sink_consumer *sc = (sink_consumer *)self;
    sink *s = sc->s;
    if (s->delay_ms > 0) {
        struct timespec d = {s->delay_ms / 1000, (long)(s->delay_ms % 1000) * 1000000L};
        nanosleep(&d, NULL);
    }
    if (should_fail(s, atomic_fetch_add(&s->seq, 1))) {
        atomic_fetch_add(&s->failed[sc->transport], 1);
        pp_fail(st, s->fail_code, "refused by pipit-loadgen sink (--fail-ratio)");
        if (s->fail_code != PP_INVALID) st->retry_after_ms = (uint32_t)s->retry_after_s * 1000;
        return -1;
    }
    atomic_fetch_add(&s->requests[sc->transport][b->signal], 1);
    atomic_fetch_add(&s->bytes, pp_batch_encoded_size(b));
    if (b->signal == PP_TRACES) {
        atomic_fetch_add(&s->spans, b->items);
        count_traces_batch(s, b);
    } else {
        atomic_fetch_add(&s->points, b->items);
    }
    return 0;
}

static char *counts_json(sink *s, size_t *len) {
    pp_strbuf sb = PP_STRBUF_INIT;
    uint64_t req = 0, failed = 0;
    for (int t = 0; t < T_COUNT; t++) {
        failed += atomic_load(&s->failed[t]);
        for (int g = 0; g < PP_SIGNAL_COUNT; g++) req += atomic_load(&s->requests[t][g]);
    }
    pp_sb_printf(&sb,
                     "{\"requests\":%llu,\"failed_requests\":%llu,\"spans\":%llu,\"points\":%llu,"
                     "\"traces_approx\":%llu,\"bytes\":%llu,\"uptime_s\":%.3f,\"by_transport\":{",
                     (unsigned long long)req, (unsigned long long)failed,
                     (unsigned long long)atomic_load(&s->spans),
                     (unsigned long long)atomic_load(&s->points),
                     (unsigned long long)lg_hll_estimate(&s->traces),
                     (unsigned long long)atomic_load(&s->bytes), (double)(mono_ns() - s->t0) / 1e9);
    for (int t = 0; t < T_COUNT; t++)
        pp_sb_printf(&sb, "%s\"%s\":{\"traces_requests\":%llu,\"metrics_requests\":%llu,\"failed\":%llu}",
                         t ? "," : "", t == T_GRPC ? "grpc" : "http",
                         (unsigned long long)atomic_load(&s->requests[t][PP_TRACES]),
                         (unsigned long long)atomic_load(&s->requests[t][PP_METRICS]),
                         (unsigned long long)atomic_load(&s->failed[t]));
    lg_prw_counts prw;
    lg_prw_sink_counts(s->prw, &prw);
    pp_sb_printf(&sb, "},\"prw\":");
    lg_prw_counts_json(&prw, &sb);
    pp_sb_printf(&sb, "}\n");
    return pp_sb_finish(&sb, len);
}

static void on_counts(void *arg, pp_http_reply *reply) {
    reply->content_type = "application/json";
    reply->body = counts_json(arg, &reply->len);
}

/* ---- options ---- */

typedef struct sink_opts {
    const char *grpc, *http, *stats, *prw;
    double duration;
} sink_opts;

static void sink_usage(FILE *out) {
    fputs("usage: pipit-loadgen sink [options]\n\n"
          "An OTLP/gRPC and OTLP/HTTP backend (pipit's own receiver transports) that counts\n"
          "requests, spans, points, distinct trace ids (HyperLogLog, ~1% error) and bytes\n"
          "(the protobuf size of what it accepted).\n\n"
          "  --grpc HOST:PORT     gRPC listener (default 127.0.0.1:14317; \"off\" for none)\n"
          "  --http HOST:PORT     HTTP listener (default 127.0.0.1:14318; \"off\")\n"
          "  --stats HOST:PORT    GET /counts answers the counts as JSON (default\n"
          "                       127.0.0.1:14319; \"off\"). Port 0 anywhere picks a free port.\n"
          "  --prw HOST:PORT      Prometheus remote write 1.0 listener (default off): POST\n"
          "                       /api/v1/write, snappy'd WriteRequest, answered 204 and\n"
          "                       counted (requests, series, samples, native histograms,\n"
          "                       bytes); 400 with the reason for a body that does not decode.\n"
          "                       The --delay-ms and --fail-* options apply to OTLP only.\n"
          "  --delay-ms N         hold each request N ms before answering (blocks a worker)\n"
          "  --fail-ratio F       refuse this fraction of requests (evenly spread)\n"
          "  --fail-code C        unavailable (gRPC 14 / HTTP 503, default), resource_exhausted\n"
          "                       (8 / 429) or invalid_argument (3 / 400)\n"
          "  --retry-after S      RetryInfo / Retry-After seconds on refusals (default 1)\n"
          "  --duration S         exit after S seconds (default: at SIGTERM or SIGINT)\n\n"
          "stdout: one line {\"ready\":true,\"grpc_port\":...,\"http_port\":...,\"stats_port\":...,\n"
          "\"prw_port\":...} when listening (0 for a listener that is off), and the final\n"
          "counts as JSON at exit (remote write under \"prw\").\n",
          out);
}

static int parse_sink(int argc, char **argv, sink_opts *o, sink *s) {
    static const struct option lo[] = {
        {"grpc", 1, 0, 'g'},      {"http", 1, 0, 't'},     {"stats", 1, 0, 's'},
        {"delay-ms", 1, 0, 'd'},  {"fail-ratio", 1, 0, 'r'}, {"fail-code", 1, 0, 'c'},
        {"retry-after", 1, 0, 'a'}, {"duration", 1, 0, 'D'}, {"prw", 1, 0, 'p'},
        {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'g': o->grpc = optarg; break;
        case 't': o->http = optarg; break;
        case 's': o->stats = optarg; break;
        case 'p': o->prw = optarg; break;
        case 'd': s->delay_ms = (int)strtol(optarg, &end, 10); break;
        case 'r': s->fail_ratio = strtod(optarg, &end); break;
        case 'a': s->retry_after_s = (int)strtol(optarg, &end, 10); break;
        case 'D': o->duration = strtod(optarg, &end); break;
        case 'c':
            if (strcmp(optarg, "unavailable") == 0) s->fail_code = PP_UNAVAILABLE;
            else if (strcmp(optarg, "resource_exhausted") == 0) s->fail_code = PP_THROTTLED;
            else if (strcmp(optarg, "invalid_argument") == 0) s->fail_code = PP_INVALID;
            else {
                fprintf(stderr, "pipit-loadgen sink: --fail-code: unknown \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'h': sink_usage(stdout); return 1;
        default: return -1;
        }
        if (end && *end) {
            fprintf(stderr, "pipit-loadgen sink: bad number \"%s\"\n", optarg);
            return -1;
        }
    }
    if (s->delay_ms < 0 || s->delay_ms > 600000 || s->fail_ratio < 0 || s->fail_ratio > 1 ||
        s->retry_after_s < 0 || o->duration < 0) {
        fputs("pipit-loadgen sink: an option is out of range (see --help)\n", stderr);
        return -1;
    }
    return 0;
}

/* ---- run ---- */

static int on(const char *addr) { return addr && strcmp(addr, "off") != 0; }

int lg_sink_main(int argc, char **argv) {
    sink *s = calloc(1, sizeof(*s));
    if (!s) return 1;
    s->fail_code = PP_UNAVAILABLE;
    s->retry_after_s = 1;
    sink_opts o = {"127.0.0.1:14317", "127.0.0.1:14318", "127.0.0.1:14319", "off", 0};
    int prc = parse_sink(argc, argv, &o, s);
    if (prc != 0) {
        free(s);
        return prc < 0 ? 1 : 0;
    }
    lg_hll_init(&s->traces);
    s->t0 = mono_ns();
    /* SIGTERM and SIGINT are taken with sigwait below; worker threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    pp_host host = {.metrics = pp_metrics_new()};
    pp_ingest in[T_COUNT];
    const pp_factory *f = pp_registry_find(PP_RECEIVER, "otlp");
    pp_otlp_receiver_cfg cfg = {0};
    f->config_defaults(&cfg);
    free(cfg.grpc.endpoint);
    free(cfg.http.endpoint);
    cfg.grpc.endpoint = strdup(on(o.grpc) ? o.grpc : "off");
    cfg.http.endpoint = strdup(on(o.http) ? o.http : "off");
    cfg.grpc.max_recv_msg_size_mib = 64; /* a backend takes what an exporter sends */
    cfg.http.max_request_body_size = 64 << 20;
    pp_grpc_server *gs = NULL;
    pp_http_server *hs = NULL;
    pp_http_endpoint *stats = NULL;
    pp_status st;
    pp_status_clear(&st);
    int rc = 1;
    for (int t = 0; t < T_COUNT; t++) {
        /* Counting needs no decoding: take requests as they arrive (batch.h). */
        s->cons[t] = (sink_consumer){.c = {.consume = sink_consume, .takes_encoded = true},
                                     .s = s, .transport = t};
        pp_create_params p = {.id = "sink", .host = &host,
                              .next = {&s->cons[t].c, &s->cons[t].c}};
        pp_ingest_init(&in[t], &p, t == T_GRPC ? "grpc" : "http");
    }
    if (on(o.grpc) && !(gs = pp_grpc_server_start(&cfg.grpc, &in[T_GRPC], &st))) goto out;
    if (on(o.http) && !(hs = pp_http_server_start(&cfg.http, &in[T_HTTP], &st))) goto out;
    if (on(o.prw) && !(s->prw = lg_prw_sink_start(o.prw, &st))) goto out;
    if (on(o.stats) && !(stats = pp_http_endpoint_start(o.stats, "/counts", on_counts, s, &st)))
        goto out;
    printf("{\"ready\":true,\"grpc_port\":%d,\"http_port\":%d,\"stats_port\":%d,\"prw_port\":%d}\n",
           gs ? pp_grpc_server_port(gs) : 0, hs ? pp_http_server_port(hs) : 0,
           stats ? pp_http_endpoint_port(stats) : 0, lg_prw_sink_port(s->prw));
    fflush(stdout);
    if (o.duration > 0) alarm((unsigned)(o.duration + 0.999));
    int sig;
    sigwait(&set, &sig);
    rc = 0;
out:
    if (rc) fprintf(stderr, "pipit-loadgen sink: %s\n", st.msg);
    int64_t deadline = mono_ns() + 2000000000LL;
    if (gs) pp_grpc_server_stop(gs, deadline);
    if (hs) pp_http_server_stop(hs, deadline);
    lg_prw_sink_stop(s->prw);
    pp_http_endpoint_stop(stats);
    pp_grpc_server_free(gs);
    pp_http_server_free(hs);
    if (rc == 0) {
        size_t len;
        char *j = counts_json(s, &len);
        if (j) fputs(j, stdout);
        free(j);
    }
    pp_cfg_free(f->schema, &cfg);
    pp_metrics_free(host.metrics);
    lg_prw_sink_free(s->prw);
    free(s);
    return rc;
}
