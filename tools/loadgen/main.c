/* main.c -- the pipit-loadgen command line: `run` (the default) and `sink`. */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "scenario.h"
#include "sink.h"

static volatile int stop_flag;
static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out) {
    fputs("pipit-loadgen " PIPIT_VERSION " -- OTLP load generator and counting backend\n\n"
          "usage:\n"
          "  pipit-loadgen [run] [options]   send OTLP traces or metrics, report rate and latency\n"
          "  pipit-loadgen sink [options]    an OTLP backend that counts what arrives (sink --help)\n\n"
          "target:\n"
          "  --endpoint HOST:PORT     default 127.0.0.1:4317 (grpc) or 127.0.0.1:4318 (http)\n"
          "  --protocol P             grpc (default), http/protobuf, http/json\n"
          "  --compression C          none (default), gzip, zstd\n"
          "  --connections N          connections (default 1, or the scenario's)\n"
          "  --streams N              concurrent gRPC calls per connection (default 4)\n"
          "  --timeout MS             request timeout (default 10000)\n"
          "load:\n"
          "  --scenario S             a named shape (below); its defaults yield to options\n"
          "  --rate N                 spans (or points) per second, open loop; 0 = closed loop,\n"
          "                           as fast as the target answers (default without a scenario)\n"
          "  --traces-per-sec N       the rate as traces: N x --spans-per-trace spans/s\n"
          "  --duration S             seconds (default 10 without a scenario)\n"
          "  --count N                stop after N requests (with or without --duration)\n"
          "  --pool N                 distinct pre-encoded requests cycled through (default 64)\n"
          "  --seed N                 generator seed (default 1)\n"
          "  --repeat-ids             resend the pool's trace ids as they are; by default each\n"
          "                           pass over the pool gets fresh trace ids (uncompressed\n"
          "                           protobuf only: gzip, zstd and JSON bodies repeat)\n"
          "data:\n"
          "  --signal traces|metrics  default traces\n"
          "  --batch N                spans or points per request (default 100)\n"
          "  --spans-per-trace N      default 10\n"
          "  --attrs N                attributes per span (default 8: 4 HTTP semconv, then app.*)\n"
          "  --attr-size N            bytes of each app.* string value (default 32)\n"
          "  --error-ratio F          fraction of traces with an error span (default 0.01)\n"
          "  --services N             resources (service.name) cycled over requests (default 5)\n"
          "  --series N               metric series (default 1000; 20 attribute sets per name)\n"
          "  --metric-mix C,G,H       weights of counters, gauges, histograms (default 60,30,10)\n"
          "  --temporality T          cumulative (default) or delta\n"
          "checks (exit status 2 when exceeded):\n"
          "  --max-p99 MS             p99 latency of answered requests\n"
          "  --max-error-rate F       failed / sent requests\n"
          "output:\n"
          "  --quiet                  no progress line (it is shown only on a terminal anyway)\n\n"
          "scenarios:\n",
          out);
    lg_scenario_help(out);
    fputs("\nLatency runs from each request's intended send time (open loop), so a target\n"
          "that falls behind shows as latency and backlog, not as a lower offered rate.\n"
          "The JSON summary goes to stdout; progress to stderr.\n",
          out);
}

static int parse_host_port(const char *s, lg_target *tg) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(tg->host)) return -1;
    int port = atoi(colon + 1);
    if (port <= 0 || port > 65535) return -1;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl > 2 && s[hl - 1] == ']') { /* [::1]:4317 */
        memcpy(tg->host, s + 1, hl - 2);
        tg->host[hl - 2] = '\0';
    } else {
        memcpy(tg->host, s, hl);
        tg->host[hl] = '\0';
    }
    tg->port = port;
    return 0;
}

/* In the order of longopts[] below: parse_option names an option by its index. */
enum {
    O_ENDPOINT = 256, O_PROTOCOL, O_COMPRESSION, O_CONNECTIONS, O_STREAMS, O_TIMEOUT, O_SCENARIO,
    O_RATE, O_TPS, O_DURATION, O_COUNT, O_POOL, O_SEED, O_SIGNAL, O_BATCH, O_SPT, O_ATTRS,
    O_ATTR_SIZE, O_ERROR_RATIO, O_SERVICES, O_SERIES, O_MIX, O_TEMPORALITY, O_MAX_P99,
    O_MAX_ERR, O_QUIET, O_HELP, O_REPEAT_IDS
};

static const struct option longopts[] = {
    {"endpoint", 1, 0, O_ENDPOINT}, {"protocol", 1, 0, O_PROTOCOL},
    {"compression", 1, 0, O_COMPRESSION}, {"connections", 1, 0, O_CONNECTIONS},
    {"streams", 1, 0, O_STREAMS}, {"timeout", 1, 0, O_TIMEOUT}, {"scenario", 1, 0, O_SCENARIO},
    {"rate", 1, 0, O_RATE}, {"traces-per-sec", 1, 0, O_TPS}, {"duration", 1, 0, O_DURATION},
    {"count", 1, 0, O_COUNT}, {"pool", 1, 0, O_POOL}, {"seed", 1, 0, O_SEED},
    {"signal", 1, 0, O_SIGNAL}, {"batch", 1, 0, O_BATCH}, {"spans-per-trace", 1, 0, O_SPT},
    {"attrs", 1, 0, O_ATTRS}, {"attr-size", 1, 0, O_ATTR_SIZE},
    {"error-ratio", 1, 0, O_ERROR_RATIO}, {"services", 1, 0, O_SERVICES},
    {"series", 1, 0, O_SERIES}, {"metric-mix", 1, 0, O_MIX}, {"temporality", 1, 0, O_TEMPORALITY},
    {"max-p99", 1, 0, O_MAX_P99}, {"max-error-rate", 1, 0, O_MAX_ERR}, {"quiet", 0, 0, O_QUIET},
    {"help", 0, 0, O_HELP}, {"repeat-ids", 0, 0, O_REPEAT_IDS}, {0, 0, 0, 0}};

/* A number option, checked: min <= value <= max. */
static int num(const char *opt, const char *s, double min, double max, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < min || v > max) {
        fprintf(stderr, "pipit-loadgen: --%s: expected a number from %g to %g, got \"%s\"\n", opt,
                min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct cli {
    lg_run_cfg c;
    int have_endpoint, quiet;
    double rate, duration, connections, streams, tps; /* -1: not given */
} cli;

static int parse_enum(const char *opt, const char *s, const char *const *names, int *out) {
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    fprintf(stderr, "pipit-loadgen: --%s: unknown value \"%s\"\n", opt, s);
    return -1;
}

static int parse_option(cli *o, int opt, const char *arg) {
    lg_run_cfg *c = &o->c;
    double v;
    int e;
    const char *name = longopts[opt - O_ENDPOINT].name;
    switch (opt) {
    case O_ENDPOINT:
        if (parse_host_port(arg, &c->tg) != 0) {
            fprintf(stderr, "pipit-loadgen: --endpoint: expected HOST:PORT, got \"%s\"\n", arg);
            return -1;
        }
        o->have_endpoint = 1;
        return 0;
    case O_PROTOCOL: {
        static const char *const n[] = {"grpc", "http/protobuf", "http/json", NULL};
        if (parse_enum(name, arg, n, &e)) return -1;
        c->proto = e == 0 ? LG_GRPC_PROTO : LG_HTTP_PROTO;
        c->tg.format = e == 2 ? LG_JSON : LG_PROTOBUF;
        return 0;
    }
    case O_COMPRESSION: {
        static const char *const n[] = {"none", "gzip", "zstd", NULL};
        if (parse_enum(name, arg, n, &e)) return -1;
        c->tg.compress = (lg_compress)e;
        return 0;
    }
    case O_SIGNAL: {
        static const char *const n[] = {"traces", "metrics", NULL};
        if (parse_enum(name, arg, n, &e)) return -1;
        c->gen.signal = e ? PP_METRICS : PP_TRACES;
        return 0;
    }
    case O_TEMPORALITY: {
        static const char *const n[] = {"cumulative", "delta", NULL};
        if (parse_enum(name, arg, n, &e)) return -1;
        c->gen.delta = e;
        return 0;
    }
    case O_SCENARIO: {
        const lg_scenario *s = lg_scenario_find(arg);
        if (!s) {
            fprintf(stderr, "pipit-loadgen: --scenario: unknown \"%s\" (see --help)\n", arg);
            return -1;
        }
        c->scenario = s->name;
        return 0;
    }
    case O_MIX: {
        unsigned a, b, h;
        char tail;
        if (sscanf(arg, "%u,%u,%u%c", &a, &b, &h, &tail) != 3 || a + b + h == 0) {
            fprintf(stderr, "pipit-loadgen: --metric-mix: expected C,G,H weights, got \"%s\"\n", arg);
            return -1;
        }
        c->gen.mix[0] = a, c->gen.mix[1] = b, c->gen.mix[2] = h;
        return 0;
    }
    case O_QUIET: o->quiet = 1; return 0;
    case O_REPEAT_IDS: c->unique_ids = 0; return 0;
    default: break;
    }
    /* The numeric options. */
    switch (opt) {
    case O_CONNECTIONS: return num(name, arg, 1, 4096, &o->connections);
    case O_STREAMS: return num(name, arg, 1, 1000, &o->streams);
    case O_RATE: return num(name, arg, 0, 1e9, &o->rate);
    case O_TPS: return num(name, arg, 0, 1e9, &o->tps);
    case O_DURATION: return num(name, arg, 0, 30 * 86400, &o->duration);
    case O_MAX_P99: return num(name, arg, 0, 1e9, &c->max_p99_ms);
    case O_MAX_ERR: return num(name, arg, 0, 1, &c->max_error_rate);
    case O_ERROR_RATIO: return num(name, arg, 0, 1, &c->gen.error_ratio);
    default: break;
    }
    double lo = 1, hi = 1e7;
    if (opt == O_ATTRS || opt == O_ATTR_SIZE) lo = 0, hi = 4096;
    if (opt == O_COUNT || opt == O_SEED) lo = 0, hi = 1e15;
    if (num(name, arg, lo, hi, &v)) return -1;
    switch (opt) {
    case O_TIMEOUT: c->tg.timeout_ms = (int)v; break;
    case O_COUNT: c->count = (uint64_t)v; break;
    case O_POOL: c->pool = (size_t)v; break;
    case O_SEED: c->gen.seed = (uint64_t)v; break;
    case O_BATCH: c->gen.batch = (size_t)v; break;
    case O_SPT: c->gen.spans_per_trace = (size_t)v; break;
    case O_ATTRS: c->gen.attrs = (size_t)v; break;
    case O_ATTR_SIZE: c->gen.attr_size = (size_t)v; break;
    case O_SERVICES: c->gen.services = (size_t)v; break;
    case O_SERIES: c->gen.series = (size_t)v; break;
    default: return -1;
    }
    return 0;
}

/* Scenario defaults for what the command line left unset. */
static void settle(cli *o) {
    lg_run_cfg *c = &o->c;
    const lg_scenario *s = c->scenario ? lg_scenario_find(c->scenario) : NULL;
    if (o->tps >= 0) o->rate = o->tps * (double)c->gen.spans_per_trace;
    c->rate = o->rate >= 0 ? o->rate : s ? s->rate : 0;
    c->duration_s = o->duration >= 0 ? o->duration : s ? s->duration_s : c->count ? 0 : 10;
    c->tg.connections = o->connections >= 0 ? (int)o->connections : s ? s->connections : 1;
    c->tg.streams = o->streams >= 0 ? (int)o->streams : s ? s->streams : 4;
    c->shape = s ? s->shape : NULL;
    if (!c->scenario) c->scenario = c->rate > 0 ? "constant" : "max";
    if (!o->have_endpoint) c->tg.port = c->proto == LG_GRPC_PROTO ? 4317 : 4318;
    c->progress = !o->quiet && isatty(2);
}

static int run_main(int argc, char **argv) {
    cli o = {.rate = -1, .duration = -1, .connections = -1, .streams = -1, .tps = -1};
    lg_run_cfg *c = &o.c;
    c->proto = LG_GRPC_PROTO;
    snprintf(c->tg.host, sizeof(c->tg.host), "127.0.0.1");
    c->tg.timeout_ms = 10000;
    c->pool = 64;
    c->unique_ids = 1;
    c->max_p99_ms = c->max_error_rate = -1;
    lg_gen_defaults(&c->gen, PP_TRACES);
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h' || opt == O_HELP) {
            usage(stdout);
            return 0;
        }
        if (opt == '?' || parse_option(&o, opt, optarg) != 0) return 1;
    }
    if (optind < argc) {
        fprintf(stderr, "pipit-loadgen: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 1;
    }
    settle(&o);
    c->tg.signal = c->gen.signal;
    if (c->gen.signal == PP_METRICS && c->gen.series < c->gen.batch)
        c->gen.series = c->gen.batch; /* a request never repeats a series */
    if (c->duration_s <= 0 && !c->count) {
        fputs("pipit-loadgen: --duration 0 needs --count (the tool stops by itself)\n", stderr);
        return 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->gen.now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    lg_stats *st = malloc(sizeof(*st));
    if (!st || lg_run(c, &stop_flag, st) != 0) {
        free(st);
        return 1;
    }
    int rc = lg_report(stdout, c, st);
    free(st);
    return rc;
}

int main(int argc, char **argv) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return 1;
    int rc;
    if (argc > 1 && strcmp(argv[1], "sink") == 0) rc = lg_sink_main(argc - 1, argv + 1);
    else if (argc > 1 && strcmp(argv[1], "run") == 0) rc = run_main(argc - 1, argv + 1);
    else rc = run_main(argc, argv);
    curl_global_cleanup();
    return rc;
}
