/* main.c -- the pipit command line: run, validate, print configuration. */
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "admission.h"
#include "arena_pool.h"
#include "config.h"
#include "log.h"
#include "mem_release.h"
#include "metrics_server.h"
#include "service.h"

static void usage(FILE *out) {
    fputs("pipit " PIPIT_VERSION " -- an OpenTelemetry-compatible agent\n"
          "\n"
          "Usage:\n"
          "  pipit [--config FILE]... [--log-level LEVEL]   run (default config without --config)\n"
          "  pipit validate --config FILE...                check a configuration and exit\n"
          "  pipit print-config [--config FILE]...          print the merged configuration,\n"
          "                                                 secrets redacted\n"
          "  pipit print-default-config                     print the embedded default config\n"
          "  pipit components                               list the component types\n"
          "  pipit --version | --help\n"
          "\n"
          "Options:\n"
          "  --config FILE      a Collector-style YAML file; repeat to merge (later wins)\n"
          "  --log-level LEVEL  debug, info, warn or error (overrides service.telemetry.logs)\n"
          "\n"
          "Signals: SIGTERM or SIGINT stop taking data, drain within service.shutdown_timeout\n"
          "(default 10s) and exit 0.\n",
          out);
}

typedef struct options {
    const char *command; /* run, validate, print-config, print-default-config, components */
    const char **configs;
    size_t nconfigs;
    const char *log_level;
} options;

static int parse_args(int argc, char **argv, options *o) {
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    o->command = "run";
    o->configs = calloc((size_t)argc + 1, sizeof(char *));
    if (!o->configs) return -1;
    int c;
    while ((c = getopt_long(argc, argv, "c:l:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->configs[o->nconfigs++] = optarg; break;
        case 'l': o->log_level = optarg; break;
        case 'V': printf("pipit %s\n", PIPIT_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) o->command = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "pipit: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    static const char *const commands[] = {"run", "validate", "print-config", "print-default-config",
                                           "components", NULL};
    for (size_t i = 0; commands[i]; i++)
        if (strcmp(o->command, commands[i]) == 0) return 0;
    fprintf(stderr, "pipit: unknown command \"%s\" (see pipit --help)\n", o->command);
    return -1;
}

static pp_config *load(const options *o, bool quiet_ok) {
    pp_diag d;
    pp_diag_init(&d);
    pp_config *cfg = pp_config_load(o->configs, o->nconfigs, &d);
    if (d.count > 0 && !(quiet_ok && cfg && d.errors == 0 && d.warnings == 0))
        pp_diag_print(&d, stderr);
    pp_diag_free(&d);
    return cfg;
}

static int cmd_components(void) {
    const pp_factory *f;
    for (int k = 0; k < PP_KIND_COUNT; k++) {
        printf("%s:\n", pp_kind_plural((pp_kind)k));
        for (size_t i = 0; (f = pp_registry_at(i)) != NULL; i++) {
            if ((int)f->kind != k) continue;
            printf("  %s%s%s%s\n", f->type, f->alias ? " (also " : "", f->alias ? f->alias : "",
                   f->alias ? ")" : "");
        }
    }
    return 0;
}

/* ---- run ---- */

static void on_signal(uv_signal_t *h, int signum) {
    pp_log_info("service", "received signal, shutting down", "signal", strsignal(signum), NULL);
    uv_stop(h->loop);
}

static int64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void close_handle(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Lets the loop finish closing handles; whatever a component left open is
 * closed here so that the loop can be freed. */
static void settle_loop(uv_loop_t *loop) {
    for (int i = 0; i < 8 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++) {
    }
    uv_walk(loop, close_handle, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void setup_logging(const pp_config *cfg, const char *cli_level) {
    pp_log_level level = PP_LOG_INFO;
    const char *want = cli_level ? cli_level : cfg->telemetry.log_level;
    if (want && pp_log_level_parse(want, &level) != 0) {
        fprintf(stderr, "pipit: unknown log level \"%s\"\n", want);
        level = PP_LOG_INFO;
    }
    pp_log_format fmt = PP_LOG_AUTO;
    if (cfg->telemetry.log_encoding)
        fmt = strcmp(cfg->telemetry.log_encoding, "json") == 0 ? PP_LOG_JSON : PP_LOG_CONSOLE;
    pp_log_setup(level, fmt);
}

static int cmd_run(const options *o) {
    pp_config *cfg = load(o, true);
    if (!cfg) return 1;
    setup_logging(cfg, o->log_level);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pp_host host = {.loop = &loop, .metrics = pp_metrics_new(), .health = pp_health_new(),
                    .admission = pp_admission_new()};
    pp_metrics_server *ms = NULL;
    pp_service *svc = NULL;
    pp_mem_release *release = NULL;
    uv_signal_t sigterm, sigint;
    pp_status st = {0};
    if (!host.metrics || !host.health || !host.admission) goto out;
    pp_metrics_add_process(host.metrics);

    if (cfg->telemetry.metrics_address &&
        !(ms = pp_metrics_server_start(host.metrics, cfg->telemetry.metrics_address, &st))) {
        pp_log_error("service", "cannot serve self-telemetry", "error", st.msg, NULL);
        goto out;
    }
    if (!(svc = pp_service_build(cfg, &host, &st)) || pp_service_start(svc, &st) != 0) {
        pp_log_error("service", "cannot start", "error", st.msg, NULL);
        goto out;
    }
    release = pp_mem_release_start(&loop); /* NULL (no memory): nothing is given back */
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    pp_health_set_ready(host.health, true);
    pp_log_info("service", "pipit is ready", "version", PIPIT_VERSION, NULL);

    uv_run(&loop, UV_RUN_DEFAULT);

    pp_health_set_ready(host.health, false);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    host.shutdown_deadline_ns = monotonic_ns() + cfg->shutdown_timeout_ns;
    pp_service_shutdown(svc);
    rc = 0;
    pp_log_info("service", "shutdown complete", NULL);
out:
    if (svc) pp_service_shutdown(svc);
    pp_mem_release_stop(release);
    settle_loop(&loop);
    pp_service_free(svc);
    pp_metrics_server_stop(ms);
    uv_loop_close(&loop);
    pp_health_free(host.health);
    pp_metrics_free(host.metrics);
    pp_admission_free(host.admission);
    pp_config_free(cfg);
    pp_arena_pool_release();
    return rc;
}

/* Large buffers (request bodies up to max_request_body_size, decompression
 * output, big batches) come from mmap and go back to the system when freed.
 * glibc's default raises the mmap threshold (up to 32 MiB) after the first
 * such buffer is freed; from then on they come from the allocating thread's
 * arena, and the trim threshold rises with it, so every receiver thread that
 * once held a 20 MiB body kept those pages: RSS grew with the number of
 * threads that had seen a large request (72 MiB after three rounds of bombs
 * in tests/integration/receiver_abuse.test.sh). A fixed threshold turns the
 * dynamic adjustment off for both. */
static void tune_malloc(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
#endif
}

int main(int argc, char **argv) {
    tune_malloc();
    options o = {0};
    if (parse_args(argc, argv, &o) != 0) {
        free(o.configs);
        return 2;
    }
    int rc = 0;
    if (strcmp(o.command, "print-default-config") == 0) {
        fputs(pp_default_config_yaml, stdout);
    } else if (strcmp(o.command, "components") == 0) {
        rc = cmd_components();
    } else if (strcmp(o.command, "validate") == 0) {
        pp_config *cfg = load(&o, false);
        if (cfg) printf("configuration is valid\n");
        rc = cfg ? 0 : 1;
        pp_config_free(cfg);
    } else if (strcmp(o.command, "print-config") == 0) {
        pp_config *cfg = load(&o, true);
        char *text = cfg ? pp_config_render_redacted(cfg) : NULL;
        if (text) fputs(text, stdout);
        rc = text ? 0 : 1;
        free(text);
        pp_config_free(cfg);
    } else {
        rc = cmd_run(&o);
    }
    free(o.configs);
    return rc;
}
