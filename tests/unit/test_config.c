/* Unit tests: whole configurations with fake factories -- sections, component
 * ids, pipelines, connectors, service.extensions and service.telemetry. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fake_schema.h"

/* ---- Fake factories -------------------------------------------------------- */

typedef fake_cfg fake_exp_cfg;

/* A cross-field check, to see validate run (and not run after decode errors). */
static size_t exp_validate(const void *p, const char *path, pp_diag *d) {
    const fake_exp_cfg *c = p;
    if (c->tls_present && c->tls.insecure && c->tls.ca_file) {
        pp_diag_error(d, path, 0, "tls.insecure and tls.ca_file exclude each other");
        return 1;
    }
    return 0;
}

typedef struct fake_small_cfg {
    char *mode;
} fake_small_cfg;

static const pp_cfg_field small_schema[] = {
    {"mode", PP_CFG_STRING, offsetof(fake_small_cfg, mode)},
    {0},
};

static const pp_factory fake_receiver = {
    .kind = PP_RECEIVER, .type = "fakerecv", .alias = "fake_recv",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(fake_small_cfg), .schema = small_schema,
};
static const pp_factory fake_metrics_receiver = {
    .kind = PP_RECEIVER, .type = "fakemetrics", .signals = PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(fake_small_cfg), .schema = small_schema,
};
static const pp_factory fake_processor = {
    .kind = PP_PROCESSOR, .type = "fakeproc",
    .signals = PP_SIG_BIT(PP_TRACES) | PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(fake_small_cfg), .schema = small_schema,
};
static const pp_factory fake_exporter = {
    .kind = PP_EXPORTER, .type = "fakeexp", .signals = PP_SIG_BIT(PP_TRACES),
    .config_size = sizeof(fake_exp_cfg), .schema = fake_schema,
    .config_defaults = fake_defaults, .config_validate = exp_validate,
};
static const pp_factory fake_metrics_exporter = {
    .kind = PP_EXPORTER, .type = "fakemexp", .signals = PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(fake_small_cfg), .schema = small_schema,
};
static const pp_factory fake_connector = {
    .kind = PP_CONNECTOR, .type = "fakeconn", .signals = PP_SIG_BIT(PP_TRACES),
    .out_signals = PP_SIG_BIT(PP_METRICS),
    .config_size = sizeof(fake_small_cfg), .schema = small_schema,
};
static const pp_factory fake_extension = {
    .kind = PP_EXTENSION, .type = "fakeext",
    .config_size = sizeof(fake_small_cfg), .schema = small_schema,
};

static const pp_factory *const fakes[] = {
    &fake_receiver, &fake_metrics_receiver, &fake_processor, &fake_exporter,
    &fake_metrics_exporter, &fake_connector, &fake_extension,
};

static int setup(void **state) {
    (void)state;
    pp_registry_set_extra(fakes, sizeof(fakes) / sizeof(fakes[0]));
    return 0;
}

/* ---- Helpers --------------------------------------------------------------- */

static pp_config *load1(const char *text, pp_diag *d) {
    return pp_config_load_texts(&text, NULL, 1, d);
}

/* Loads a config expected to fail; the caller checks d then frees it. */
static void load_fails(const char *text, pp_diag *d) {
    pp_diag_init(d);
    pp_config *c = load1(text, d);
    if (c) pp_diag_print(d, stderr);
    assert_null(c);
    assert_true(d->errors > 0);
}

#define MINIMAL_PIPELINE                                                                   \
    "receivers:\n  fakerecv:\n"                                                            \
    "exporters:\n  fakeexp:\n    endpoint: e\n"                                            \
    "service:\n  pipelines:\n    traces:\n      receivers: [fakerecv]\n"                   \
    "      exporters: [fakeexp]\n"

/* ---- Tests ----------------------------------------------------------------- */

static void test_valid_config_decoded(void **state) {
    (void)state;
    setenv("PP_T_ENDPOINT", "jaeger:4317", 1);
    const char *text =
        "receivers:\n"
        "  fake_recv:\n" /* the alias spelling */
        "    mode: m1\n"
        "  fakemetrics/prom:\n"
        "processors:\n"
        "  fakeproc:\n"
        "  fakeproc/second:\n"
        "    mode: two\n"
        "exporters:\n"
        "  fakeexp/jaeger:\n"
        "    endpoint: ${env:PP_T_ENDPOINT}\n"
        "    api_key: k\n"
        "    enabled: true\n"
        "    workers: 16\n"
        "    ratio: 0.5\n"
        "    timeout: 250ms\n"
        "    compression: zstd\n"
        "    tls:\n"
        "      insecure: true\n"
        "    headers:\n"
        "      x-scope: tenant\n"
        "    tags: [a, b]\n"
        "    raw: {k: v}\n"
        "  fakemexp:\n"
        "connectors:\n"
        "  fakeconn:\n"
        "extensions:\n"
        "  fakeext:\n"
        "service:\n"
        "  extensions: [fakeext]\n"
        "  shutdown_timeout: 30s\n"
        "  telemetry:\n"
        "    metrics:\n"
        "      address: 0.0.0.0:9999\n"
        "      level: detailed\n"
        "    logs:\n"
        "      level: debug\n"
        "      encoding: json\n"
        "  pipelines:\n"
        "    traces:\n"
        "      receivers: [fake_recv]\n"
        "      processors: [fakeproc, fakeproc/second]\n"
        "      exporters: [fakeexp/jaeger, fakeconn]\n"
        "    metrics:\n"
        "      receivers: [fakeconn, fakemetrics/prom]\n"
        "      exporters: [fakemexp]\n"
        "    metrics/more:\n"
        "      receivers: [fakerecv]\n"
        "      processors: [fakeproc]\n"
        "      exporters: [fakemexp]\n";
    pp_diag d;
    pp_diag_init(&d);
    pp_config *c = load1(text, &d);
    pp_diag_print(&d, stderr);
    assert_non_null(c);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 0);
    assert_int_equal(c->ncomponents, 8);

    const pp_component_cfg *r = pp_config_find(c, PP_RECEIVER, "fakerecv");
    assert_non_null(r);
    assert_ptr_equal(r, pp_config_find(c, PP_RECEIVER, "fake_recv"));
    assert_string_equal(r->id, "fake_recv");
    assert_string_equal(r->type, "fakerecv");
    assert_null(r->name);
    assert_ptr_equal(r->factory, &fake_receiver);
    assert_string_equal(((const fake_small_cfg *)r->config)->mode, "m1");
    assert_true(r->used);

    const pp_component_cfg *p2 = pp_config_find(c, PP_PROCESSOR, "fakeproc/second");
    assert_string_equal(p2->name, "second");
    assert_string_equal(((const fake_small_cfg *)p2->config)->mode, "two");
    assert_null(((const fake_small_cfg *)pp_config_find(c, PP_PROCESSOR, "fakeproc")->config)->mode);

    const pp_component_cfg *e = pp_config_find(c, PP_EXPORTER, "fakeexp/jaeger");
    assert_non_null(e);
    const fake_exp_cfg *ec = e->config;
    assert_string_equal(ec->endpoint, "jaeger:4317");
    assert_string_equal(ec->api_key, "k");
    assert_true(ec->enabled);
    assert_int_equal(ec->workers, 16);
    assert_true(ec->ratio == 0.5);
    assert_int_equal(ec->timeout, 250000000);
    assert_string_equal(ec->compression, "zstd");
    assert_true(ec->tls_present);
    assert_true(ec->tls.insecure);
    assert_null(ec->tls.ca_file);
    assert_int_equal(ec->headers.count, 1);
    assert_string_equal(ec->headers.items[0].key, "x-scope");
    assert_string_equal(ec->headers.items[0].value, "tenant");
    assert_int_equal(ec->tags.count, 2);
    assert_string_equal(ec->tags.items[1], "b");
    assert_string_equal(pp_node_get(ec->raw, "k")->value, "v");
    assert_ptr_equal(e->node, pp_node_get(pp_node_get(c->root, "exporters"), "fakeexp/jaeger"));

    assert_int_equal(c->npipelines, 3);
    const pp_pipeline_cfg *t = &c->pipelines[0];
    assert_string_equal(t->id, "traces");
    assert_int_equal(t->signal, PP_TRACES);
    assert_int_equal(t->nreceivers, 1);
    assert_string_equal(t->receivers[0], "fake_recv");
    assert_int_equal(t->nprocessors, 2);
    assert_string_equal(t->processors[1], "fakeproc/second");
    assert_int_equal(t->nexporters, 2);
    assert_string_equal(t->exporters[1], "fakeconn");
    assert_string_equal(c->pipelines[2].id, "metrics/more");
    assert_int_equal(c->pipelines[2].signal, PP_METRICS);
    assert_string_equal(c->pipelines[2].receivers[0], "fake_recv"); /* the defined id */

    assert_int_equal(c->nextensions, 1);
    assert_string_equal(c->extensions[0], "fakeext");
    assert_int_equal(c->shutdown_timeout_ns, 30000000000);
    assert_string_equal(c->telemetry.metrics_address, "0.0.0.0:9999");
    assert_string_equal(c->telemetry.metrics_level, "detailed");
    assert_string_equal(c->telemetry.log_level, "debug");
    assert_string_equal(c->telemetry.log_encoding, "json");
    pp_config_free(c);
    pp_diag_free(&d);
}

static void test_defaults_of_service(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_config *c = load1(MINIMAL_PIPELINE, &d);
    assert_non_null(c);
    assert_int_equal(d.count, 0);
    assert_string_equal(c->telemetry.metrics_address, "localhost:8888");
    assert_string_equal(c->telemetry.metrics_level, "normal");
    assert_string_equal(c->telemetry.log_level, "info");
    assert_null(c->telemetry.log_encoding);
    assert_int_equal(c->shutdown_timeout_ns, 10000000000);
    const fake_exp_cfg *ec = pp_config_find(c, PP_EXPORTER, "fakeexp")->config;
    assert_string_equal(ec->compression, "gzip"); /* from config_defaults */
    assert_int_equal(ec->workers, 2);
    assert_false(ec->tls_present);
    pp_config_free(c);
    pp_diag_free(&d);
}

static void test_merge_two_texts(void **state) {
    (void)state;
    const char *first =
        "receivers:\n  fakerecv:\n"
        "exporters:\n  fakeexp:\n    endpoint: e\n    tags: [a, b, c]\n  fakemexp:\n    mode: first\n"
        "service:\n  pipelines:\n"
        "    traces:\n      receivers: [fakerecv]\n      exporters: [fakeexp]\n"
        "    metrics:\n      receivers: [fakerecv]\n      exporters: [fakemexp]\n";
    const char *second =
        "exporters:\n  fakeexp:\n    compression: none\n    tags: [x, y]\n"
        "  fakemexp:\n    mode: second\n"
        "service:\n  pipelines:\n    traces:\n      processors: [fakeproc]\n"
        "processors:\n  fakeproc:\n";
    const char *both[] = {first, second};
    const char *names[] = {"base.yaml", "override.yaml"};
    pp_diag d;
    pp_diag_init(&d);
    pp_config *c = pp_config_load_texts(both, names, 2, &d);
    pp_diag_print(&d, stderr);
    assert_non_null(c);
    const fake_exp_cfg *ec = pp_config_find(c, PP_EXPORTER, "fakeexp")->config;
    assert_string_equal(ec->endpoint, "e");           /* kept from the first */
    assert_string_equal(ec->compression, "none");     /* added by the second */
    assert_int_equal(ec->tags.count, 2);              /* the sequence is replaced */
    assert_string_equal(ec->tags.items[0], "x");
    const fake_small_cfg *m = pp_config_find(c, PP_EXPORTER, "fakemexp")->config;
    assert_string_equal(m->mode, "second");           /* the scalar is overridden */
    assert_int_equal(c->npipelines, 2);
    assert_int_equal(c->pipelines[0].nprocessors, 1); /* maps merged key by key */
    assert_int_equal(c->pipelines[0].nreceivers, 1);
    pp_config_free(c);
    pp_diag_free(&d);
}

static void test_unknown_sections_types_and_ids(void **state) {
    (void)state;
    pp_diag d;
    load_fails("recievers:\n  fakerecv:\n"
               "receivers:\n  fakerecv:\n  nope:\n  fakerecv/:\n  9bad:\n  fake-recv:\n"
               "exporters:\n  fakeexp:\n    endpoint: e\n"
               "service:\n  pipelines:\n    traces:\n      receivers: [fakerecv]\n"
               "      exporters: [fakeexp]\n",
               &d);
    assert_true(pp_diag_has(&d, "recievers", "unknown key (did you mean \"receivers\"?)"));
    assert_true(pp_diag_has(&d, "receivers.nope", "unknown receiver type \"nope\""));
    assert_true(pp_diag_has(&d, "receivers.nope", "\"fakerecv\", \"fakemetrics\""));
    assert_true(pp_diag_has(&d, "receivers.fakerecv/", "invalid component id"));
    assert_true(pp_diag_has(&d, "receivers.fakerecv/", "must not be empty"));
    assert_true(pp_diag_has(&d, "receivers.9bad", "must start with a letter"));
    assert_true(pp_diag_has(&d, "receivers.fake-recv", "only letters, digits and '_'"));
    pp_diag_free(&d);

    /* The same component twice, through its alias. */
    load_fails("receivers:\n  fakerecv/a:\n  fake_recv/a:\n"
               "exporters:\n  fakeexp:\n    endpoint: e\n"
               "service:\n  pipelines:\n    traces:\n      receivers: [fakerecv/a]\n"
               "      exporters: [fakeexp]\n",
               &d);
    assert_true(pp_diag_has(&d, "receivers.fake_recv/a", "same component as receivers.fakerecv/a"));
    pp_diag_free(&d);
}

static void test_component_decode_errors(void **state) {
    (void)state;
    pp_diag d;
    load_fails("receivers:\n  fakerecv:\n"
               "exporters:\n"
               "  fakeexp/jaeger:\n    compresion: gzip\n    workers: 0\n    timeout: abc\n"
               "    compression: brotli\n"
               "  fakeexp/ok:\n    endpoint: e\n    tls:\n      insecure: true\n      ca_file: x\n"
               "service:\n  pipelines:\n    traces:\n      receivers: [fakerecv]\n"
               "      exporters: [fakeexp/jaeger, fakeexp/ok]\n",
               &d);
    assert_true(pp_diag_has(&d, "exporters.fakeexp/jaeger.compresion",
                            "unknown key (did you mean \"compression\"?)"));
    assert_true(pp_diag_has(&d, "exporters.fakeexp/jaeger.endpoint", "required"));
    assert_true(pp_diag_has(&d, "exporters.fakeexp/jaeger.workers", "must be between 1 and 16"));
    assert_true(pp_diag_has(&d, "exporters.fakeexp/jaeger.timeout", "expected a duration like \"5s\", got \"abc\""));
    assert_true(pp_diag_has(&d, "exporters.fakeexp/jaeger.compression", "\"none\", \"gzip\", \"zstd\""));
    /* validate runs on the config that decoded cleanly only */
    assert_true(pp_diag_has(&d, "exporters.fakeexp/ok", "exclude each other"));
    assert_false(pp_diag_has(&d, "exporters.fakeexp/jaeger", "exclude each other"));
    assert_int_equal(d.errors, 6);
    pp_diag_free(&d);
}

static void test_pipeline_errors(void **state) {
    (void)state;
    pp_diag d;
    load_fails("receivers:\n  fakerecv:\n  fakemetrics:\n"
               "processors:\n  fakeproc:\n"
               "exporters:\n  fakeexp:\n    endpoint: e\n  fakemexp:\n"
               "service:\n  pipelines:\n"
               "    traces:\n      receivers: [fakerecv, fakemetrics, fakerecv]\n"
               "      processors: [fakeproc, nope, fakeproc]\n"
               "      exporters: [fakeexp, otlp/x, fakemexp]\n"
               "      exporterz: []\n"
               "    metrics/a:\n      receivers: []\n"
               "    logs:\n      receivers: [fakerecv]\n      exporters: [fakeexp]\n"
               "    spans:\n      receivers: [fakerecv]\n      exporters: [fakeexp]\n"
               "    traces/:\n      receivers: [fakerecv]\n      exporters: [fakeexp]\n",
               &d);
    const char *tp = "service.pipelines.traces";
    char path[128];
#define AT(suffix) (snprintf(path, sizeof(path), "%s%s", tp, suffix), path)
    assert_true(pp_diag_has(&d, AT(".receivers[1]"), "receiver \"fakemetrics\" does not support traces"));
    assert_true(pp_diag_has(&d, AT(".receivers[2]"), "listed twice"));
    assert_true(pp_diag_has(&d, AT(".processors[1]"), "references processor \"nope\" which is not configured"));
    assert_true(pp_diag_has(&d, AT(".processors[2]"), "processor \"fakeproc\" is listed twice in this pipeline"));
    assert_true(pp_diag_has(&d, AT(".exporters[1]"), "references exporter \"otlp/x\" which is not configured"));
    assert_true(pp_diag_has(&d, AT(".exporters[2]"), "exporter \"fakemexp\" does not support traces"));
    assert_true(pp_diag_has(&d, AT(".exporterz"), "unknown key (did you mean \"exporters\"?)"));
#undef AT
    assert_true(pp_diag_has(&d, "service.pipelines.metrics/a.receivers", "must not be empty"));
    assert_true(pp_diag_has(&d, "service.pipelines.metrics/a.exporters", "required"));
    assert_true(pp_diag_has(&d, "service.pipelines.logs", "logs pipelines are not supported by pipit"));
    assert_true(pp_diag_has(&d, "service.pipelines.spans", "unknown signal \"spans\""));
    assert_true(pp_diag_has(&d, "service.pipelines.traces/", "invalid pipeline id"));
    assert_int_equal(d.errors, 12);
    pp_diag_free(&d);
}

static void test_no_pipelines(void **state) {
    (void)state;
    pp_diag d;
    load_fails("receivers:\n  fakerecv:\n", &d);
    assert_true(pp_diag_has(&d, "service.pipelines", "at least one pipeline is required"));
    pp_diag_free(&d);
    load_fails("service:\n  pipelines: {}\n", &d);
    assert_true(pp_diag_has(&d, "service.pipelines", "at least one pipeline is required"));
    pp_diag_free(&d);
    load_fails("", &d);
    assert_true(pp_diag_has(&d, "service.pipelines", "at least one pipeline is required"));
    pp_diag_free(&d);
    load_fails("- a list\n", &d);
    assert_true(pp_diag_has(&d, "", "expected a map"));
    pp_diag_free(&d);
}

static void test_connectors(void **state) {
    (void)state;
    pp_diag d;
    /* Used only as an exporter. */
    load_fails("receivers:\n  fakerecv:\nconnectors:\n  fakeconn:\n"
               "service:\n  pipelines:\n    traces:\n      receivers: [fakerecv]\n"
               "      exporters: [fakeconn]\n",
               &d);
    assert_true(pp_diag_has(&d, "connectors.fakeconn",
                            "used as exporter in a pipeline but not as receiver in any pipeline"));
    pp_diag_free(&d);
    /* Used only as a receiver; and on the wrong signal. */
    load_fails("exporters:\n  fakemexp:\n  fakeexp:\n    endpoint: e\nconnectors:\n  fakeconn/x:\n"
               "service:\n  pipelines:\n"
               "    metrics:\n      receivers: [fakeconn/x]\n      exporters: [fakemexp]\n"
               "    traces:\n      receivers: [fakeconn/x]\n      exporters: [fakeexp]\n",
               &d);
    assert_true(pp_diag_has(&d, "connectors.fakeconn/x",
                            "used as receiver in a pipeline but not as exporter in any pipeline"));
    assert_true(pp_diag_has(&d, "service.pipelines.traces.receivers[0]",
                            "connector \"fakeconn/x\" does not support traces as a receiver"));
    pp_diag_free(&d);
    /* A processor id is never a connector. */
    load_fails(MINIMAL_PIPELINE "      processors: [fakeconn]\nconnectors:\n  fakeconn:\n", &d);
    assert_true(pp_diag_has(&d, "service.pipelines.traces.processors[0]",
                            "references processor \"fakeconn\" which is not configured"));
    pp_diag_free(&d);
}

static void test_unused_warnings_and_extensions(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_config *c = load1(MINIMAL_PIPELINE "  extensions: [fakeext/b]\n" /* under service */
                         "processors:\n  fakeproc:\nextensions:\n  fakeext:\n  fakeext/b:\n"
                         "connectors:\n  fakeconn:\n",
                         &d);
    assert_non_null(c);
    assert_int_equal(d.errors, 0);
    assert_true(pp_diag_has(&d, "processors.fakeproc", "defined but not used"));
    assert_true(pp_diag_has(&d, "extensions.fakeext", "defined but not used"));
    assert_true(pp_diag_has(&d, "connectors.fakeconn", "defined but not used"));
    assert_false(pp_diag_has(&d, "extensions.fakeext/b", "defined but not used"));
    assert_false(pp_diag_has(&d, "receivers.fakerecv", "defined but not used"));
    assert_int_equal(d.warnings, 3);
    assert_int_equal(d.entries[0].severity, PP_SEV_WARNING);
    pp_config_free(c);
    pp_diag_free(&d);

    load_fails(MINIMAL_PIPELINE "  extensions: [fakeext, health_check]\nextensions:\n  fakeext:\n", &d);
    assert_true(pp_diag_has(&d, "service.extensions[1]",
                            "references extension \"health_check\" which is not configured"));
    pp_diag_free(&d);
}

static void test_telemetry_forms(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_config *c = load1(MINIMAL_PIPELINE
                         "  telemetry:\n"
                         "    metrics:\n"
                         "      readers:\n"
                         "        - periodic:\n            exporter: {otlp: {}}\n"
                         "        - pull:\n            exporter:\n              prometheus:\n"
                         "                host: 0.0.0.0\n                port: 8889\n"
                         "        - pull:\n            exporter:\n              prometheus:\n"
                         "                port: 9000\n"
                         "    logs:\n      level: warn\n      development: true\n"
                         "      sampling: {initial: 10}\n"
                         "    resource: {service.name: x}\n",
                         &d);
    pp_diag_print(&d, stderr);
    assert_non_null(c);
    assert_string_equal(c->telemetry.metrics_address, "0.0.0.0:8889");
    assert_string_equal(c->telemetry.log_level, "warn");
    const char *r = "service.telemetry.metrics.readers";
    char path[128];
    snprintf(path, sizeof(path), "%s[0].periodic", r);
    assert_true(pp_diag_has(&d, path, "ignored by pipit"));
    snprintf(path, sizeof(path), "%s[2].pull", r);
    assert_true(pp_diag_has(&d, path, "only the first pull reader"));
    assert_true(pp_diag_has(&d, "service.telemetry.logs.development", "accepted for compatibility"));
    assert_true(pp_diag_has(&d, "service.telemetry.logs.sampling", "accepted for compatibility"));
    assert_true(pp_diag_has(&d, "service.telemetry.resource", "accepted for compatibility"));
    assert_int_equal(d.warnings, 5);
    pp_config_free(c);
    pp_diag_free(&d);

    /* level none turns /metrics off */
    pp_diag_init(&d);
    c = load1(MINIMAL_PIPELINE "  telemetry:\n    metrics:\n      level: none\n", &d);
    assert_non_null(c);
    assert_null(c->telemetry.metrics_address);
    pp_config_free(c);
    pp_diag_free(&d);

    load_fails(MINIMAL_PIPELINE "  telemetry:\n    metrics:\n      level: verbose\n"
                                "      readers:\n        - pull:\n            exporter:\n"
                                "              prometheus: {host: h, port: 70000}\n"
                                "    logs:\n      level: trace\n      encoding: xml\n"
                                "    logz: {}\n"
                                "  shutdown_timeout: forever\n",
               &d);
    assert_true(pp_diag_has(&d, "service.telemetry.metrics.level",
                            "expected one of \"none\", \"basic\", \"normal\", \"detailed\""));
    assert_true(pp_diag_has(&d, "service.telemetry.metrics.readers[0].pull.exporter.prometheus.port",
                            "must be between 1 and 65535"));
    assert_true(pp_diag_has(&d, "service.telemetry.logs.level", "got \"trace\""));
    assert_true(pp_diag_has(&d, "service.telemetry.logs.encoding", "got \"xml\""));
    assert_true(pp_diag_has(&d, "service.telemetry.logz", "unknown key (did you mean \"logs\"?)"));
    assert_true(pp_diag_has(&d, "service.shutdown_timeout", "expected a duration"));
    assert_int_equal(d.errors, 6);
    pp_diag_free(&d);
}

/* One broken file reports every problem, from every section, in one run. */
static void test_all_errors_reported(void **state) {
    (void)state;
    pp_diag d;
    load_fails("receivers:\n  fakerecv:\n    mode: [x]\n  bogus:\n"
               "processors:\n  fakeproc:\n    knob: 1\n"
               "exporters:\n  fakeexp:\n    workers: 99\n"
               "extensions:\n  fakeext:\n"
               "service:\n"
               "  extensions: [missing]\n"
               "  telemetry:\n    logs:\n      level: loud\n"
               "  pipelines:\n"
               "    traces:\n      receivers: [fakerecv, ghost]\n"
               "      exporters: [fakeexp]\n"
               "    logs:\n      receivers: [fakerecv]\n      exporters: [fakeexp]\n"
               "  shutdown_timout: 5s\n",
               &d);
    assert_true(pp_diag_has(&d, "receivers.fakerecv.mode", "expected a string, got a list"));
    assert_true(pp_diag_has(&d, "receivers.bogus", "unknown receiver type \"bogus\""));
    assert_true(pp_diag_has(&d, "processors.fakeproc.knob", "unknown key"));
    assert_true(pp_diag_has(&d, "exporters.fakeexp.workers", "must be between 1 and 16, got 99"));
    assert_true(pp_diag_has(&d, "exporters.fakeexp.endpoint", "required"));
    assert_true(pp_diag_has(&d, "service.extensions[0]", "references extension \"missing\""));
    assert_true(pp_diag_has(&d, "service.telemetry.logs.level", "got \"loud\""));
    assert_true(pp_diag_has(&d, "service.pipelines.traces.receivers[1]",
                            "references receiver \"ghost\" which is not configured"));
    assert_true(pp_diag_has(&d, "service.pipelines.logs", "not supported by pipit"));
    assert_true(pp_diag_has(&d, "service.shutdown_timout", "did you mean \"shutdown_timeout\"?"));
    assert_int_equal(d.errors, 10);
    /* Unused components are warned about even in a failing config. */
    assert_true(pp_diag_has(&d, "extensions.fakeext", "defined but not used"));
    pp_diag_free(&d);
}

static void test_env_in_config_and_errors(void **state) {
    (void)state;
    pp_diag d;
    unsetenv("PP_T_NOT_SET");
    load_fails("receivers:\n  fakerecv:\n    mode: ${file:/x}\n"
               "exporters:\n  fakeexp:\n    endpoint: ${env:PP_T_NOT_SET}\n",
               &d);
    /* Parse errors stop before validation: only the provider error. */
    assert_true(pp_diag_has(&d, "receivers.fakerecv.mode",
                            "${file:...}: unsupported config provider 'file'"));
    assert_true(pp_diag_has(&d, "exporters.fakeexp.endpoint",
                            "environment variable PP_T_NOT_SET is not set"));
    assert_int_equal(d.errors, 1);
    pp_diag_free(&d);

    /* Unset, no default: an empty string, so a required endpoint is missing. */
    load_fails("receivers:\n  fakerecv:\n"
               "exporters:\n  fakeexp:\n    endpoint: ${env:PP_T_NOT_SET}\n"
               "service:\n  pipelines:\n    traces:\n      receivers: [fakerecv]\n"
               "      exporters: [fakeexp]\n",
               &d);
    assert_true(pp_diag_has(&d, "exporters.fakeexp.endpoint", "required"));
    assert_int_equal(d.errors, 1);
    pp_diag_free(&d);
}

static void test_render_redacted(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    pp_config *c = load1("receivers:\n  fakerecv:\n"
                         "exporters:\n  fakeexp:\n    endpoint: https://e\n    api_key: SECRET1\n"
                         "    headers:\n      Authorization: Bearer SECRET2\n      x-scope: visible\n"
                         "      X-Sentry-Auth: SECRET3\n"
                         "    raw:\n      dsn: https://SECRET4@sentry\n      token: SECRET5\n"
                         "service:\n  pipelines:\n    traces:\n      receivers: [fakerecv]\n"
                         "      exporters: [fakeexp]\n",
                         &d);
    assert_non_null(c);
    char *y = pp_config_render_redacted(c);
    assert_non_null(y);
    assert_null(strstr(y, "SECRET"));
    assert_non_null(strstr(y, "visible"));
    assert_non_null(strstr(y, "https://e"));
    assert_non_null(strstr(y, "api_key: '[REDACTED]'"));
    assert_non_null(strstr(y, "Authorization: '[REDACTED]'"));
    /* The output is YAML that loads again. */
    pp_node *back = pp_node_parse(y, strlen(y), "out", &d);
    assert_non_null(back);
    const pp_node *h = pp_node_get(pp_node_get(pp_node_get(back, "exporters"), "fakeexp"), "headers");
    assert_string_equal(pp_node_get(h, "X-Sentry-Auth")->value, "[REDACTED]");
    pp_node_free(back);
    free(y);
    pp_config_free(c);
    pp_diag_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_config_decoded),
        cmocka_unit_test(test_defaults_of_service),
        cmocka_unit_test(test_merge_two_texts),
        cmocka_unit_test(test_unknown_sections_types_and_ids),
        cmocka_unit_test(test_component_decode_errors),
        cmocka_unit_test(test_pipeline_errors),
        cmocka_unit_test(test_no_pipelines),
        cmocka_unit_test(test_connectors),
        cmocka_unit_test(test_unused_warnings_and_extensions),
        cmocka_unit_test(test_telemetry_forms),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_env_in_config_and_errors),
        cmocka_unit_test(test_render_redacted),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
