/* Unit tests: the `file` exporter (exporters/file/file_exporter.c). Batches go
 * in through the factory as the service would drive it; the file is read back
 * and decoded with the OTLP/JSON codec or protobuf, and compared with what was
 * written, field by field (tu_msg_diff). */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "component.h"
#include "otlp_json.h"

extern const pp_factory pp_file_exporter;

typedef struct fx {
    char dir[64];
    char path[128];   /* the output file, removed by teardown */
    char target[128]; /* what the config names: path, or a device for error tests */
    pp_metrics *metrics;
    pp_host host;
    pp_node *root;
    void *cfg;
    void *inst;
    pp_consumer *consumer;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/pipit-file-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof(f->path), "%s/out.json", f->dir);
    snprintf(f->target, sizeof(f->target), "%s", f->path);
    f->metrics = pp_metrics_new();
    f->host.metrics = f->metrics;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    if (f->inst) pp_file_exporter.destroy(f->inst);
    if (f->cfg) {
        pp_cfg_free(pp_file_exporter.schema, f->cfg);
        free(f->cfg);
    }
    pp_node_free(f->root);
    pp_metrics_free(f->metrics);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Decodes the YAML config text into f->cfg; returns the number of errors,
 * warnings in d. */
static size_t decode_yaml(fx *f, const char *text, pp_diag *d) {
    f->root = pp_node_parse(text, strlen(text), "t.yaml", d);
    assert_non_null(f->root);
    f->cfg = calloc(1, pp_file_exporter.config_size);
    pp_file_exporter.config_defaults(f->cfg);
    return pp_cfg_decode(pp_file_exporter.schema, f->root, f->cfg, "exporters.file", d);
}

/* The same with "path: <f->target>" before the other keys. */
static size_t decode_cfg(fx *f, const char *more, pp_diag *d) {
    char text[512];
    snprintf(text, sizeof(text), "path: %s\n%s", f->target, more);
    return decode_yaml(f, text, d);
}

/* Creates and starts an exporter with this config. */
static void start_with(fx *f, const char *more) {
    pp_diag d;
    pp_diag_init(&d);
    assert_int_equal(decode_cfg(f, more, &d), 0);
    pp_diag_free(&d);
    pp_create_params p = {.id = "file", .config = f->cfg, .host = &f->host};
    pp_status st = {0};
    f->inst = pp_file_exporter.create(&p, &st);
    assert_non_null(f->inst);
    if (pp_file_exporter.start(f->inst, &f->host, &st) != 0) fail_msg("start: %s", st.msg);
    f->consumer = pp_file_exporter.consumer(f->inst, PP_TRACES);
}

static void stop(fx *f) {
    pp_file_exporter.shutdown(f->inst, &f->host);
}

static void consume_ok(fx *f, pp_batch *b) {
    pp_status st = {0};
    if (pp_consume(f->consumer, b, &st) != 0) fail_msg("consume: %s", st.msg);
}

static uint64_t counter(fx *f, const char *name) {
    const char *labels[] = {"exporter", "file", NULL};
    return pp_counter_value(pp_counter_get(f->metrics, name, "", labels));
}

/* Splits the file into lines (each must end with '\n'); returns the count and
 * the malloc'd text in *text (lines NUL-terminated in place). */
static size_t read_lines(const char *path, char **text, char **lines, size_t max) {
    size_t len = 0;
    *text = tu_read_file(path, &len);
    assert_non_null(*text);
    size_t n = 0;
    char *p = *text, *end = *text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) fail_msg("last line is not terminated by a newline");
        *nl = 0;
        assert_true(n < max);
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

static void assert_same(const pp_batch *want, const pp_batch *got) {
    const char *diff = tu_msg_diff(want->msg, got->msg);
    if (diff) fail_msg("read back differs: %s", diff);
}

static pp_batch *load_json_fixture(pp_signal sig, const char *name) {
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/otlp-json/%s", getenv("PIPIT_SOURCE_DIR"), name);
    size_t len = 0;
    char *text = tu_read_file(path, &len);
    assert_non_null(text);
    pp_status st = {0};
    pp_batch *b = pp_otlp_json_decode(sig, text, len, &st);
    free(text);
    if (!b) fail_msg("%s: %s", name, st.msg);
    return b;
}

static void test_json_lines_round_trip(void **state) {
    fx *f = *state;
    start_with(f, "");
    pp_batch *in[4] = {
        load_json_fixture(PP_TRACES, "traces_full.json"),
        tu_make_traces(2, 2, 50, 7),
        load_json_fixture(PP_METRICS, "metrics_full.json"),
        tu_make_metrics(3, 5, 11),
    };
    for (int i = 0; i < 4; i++) consume_ok(f, in[i]);
    stop(f);

    char *text, *lines[8];
    assert_int_equal(read_lines(f->path, &text, lines, 8), 4);
    for (int i = 0; i < 4; i++) {
        pp_status st = {0};
        pp_batch *out = pp_otlp_json_decode(in[i]->signal, lines[i], strlen(lines[i]), &st);
        if (!out) fail_msg("line %d: %s", i + 1, st.msg);
        assert_int_equal(out->items, in[i]->items);
        assert_same(in[i], out);
        pp_batch_unref(out);
    }
    assert_int_equal(counter(f, "otelcol_exporter_sent_spans"), in[0]->items + in[1]->items);
    assert_int_equal(counter(f, "otelcol_exporter_sent_metric_points"),
                     in[2]->items + in[3]->items);
    assert_int_equal(counter(f, "otelcol_exporter_send_failed_spans"), 0);
    for (int i = 0; i < 4; i++) pp_batch_unref(in[i]);
    free(text);
}

/* The Collector's proto framing: a 4-byte big-endian length, then the bytes. */
static void test_proto_framing(void **state) {
    fx *f = *state;
    start_with(f, "format: proto\n");
    pp_batch *in[3] = {
        load_json_fixture(PP_TRACES, "traces_full.json"),
        load_json_fixture(PP_METRICS, "metrics_full.json"),
        pp_batch_new(PP_TRACES, 0), /* an empty request is a zero-length record */
    };
    for (int i = 0; i < 3; i++) consume_ok(f, in[i]);
    stop(f);

    size_t len = 0;
    char *text = tu_read_file(f->path, &len);
    const uint8_t *p = (const uint8_t *)text, *end = p + len;
    for (int i = 0; i < 3; i++) {
        assert_true(end - p >= 4);
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        p += 4;
        assert_int_equal(n, pp_batch_encoded_size(in[i]));
        assert_true((size_t)(end - p) >= n);
        pp_status st = {0};
        pp_batch *out = pp_batch_decode(in[i]->signal, p, n, &st);
        if (!out) fail_msg("record %d: %s", i, st.msg);
        assert_same(in[i], out);
        pp_batch_unref(out);
        p += n;
    }
    assert_true(p == end);
    for (int i = 0; i < 3; i++) pp_batch_unref(in[i]);
    free(text);
}

static void write_file(const char *path, const char *s) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(s, fp);
    fclose(fp);
}

static void test_truncates_by_default(void **state) {
    fx *f = *state;
    write_file(f->path, "old line\n");
    start_with(f, "");
    pp_batch *b = tu_make_traces(1, 1, 3, 1);
    consume_ok(f, b);
    stop(f);
    char *text, *lines[4];
    assert_int_equal(read_lines(f->path, &text, lines, 4), 1);
    assert_non_null(strstr(lines[0], "\"resourceSpans\""));
    pp_batch_unref(b);
    free(text);
}

static void test_append_keeps_content(void **state) {
    fx *f = *state;
    write_file(f->path, "old line\n");
    start_with(f, "append: true\n");
    pp_batch *b = tu_make_traces(1, 1, 3, 1);
    consume_ok(f, b);
    consume_ok(f, b);
    stop(f);
    char *text, *lines[4];
    assert_int_equal(read_lines(f->path, &text, lines, 4), 3);
    assert_string_equal(lines[0], "old line");
    assert_string_equal(lines[1], lines[2]);
    pp_batch_unref(b);
    free(text);
}

typedef struct writer_arg {
    fx *f;
    int batches;
    uint32_t seed;
} writer_arg;

static void *writer(void *arg) {
    writer_arg *w = arg;
    for (int i = 0; i < w->batches; i++) {
        pp_batch *b = (i % 2) ? tu_make_metrics(2, 3, w->seed) : tu_make_traces(1, 2, 20, w->seed);
        pp_status st = {0};
        int rc = pp_consume(w->f->consumer, b, &st);
        pp_batch_unref(b);
        if (rc != 0) return (void *)1;
    }
    return NULL;
}

/* Concurrent pipelines: every line whole and decodable, every item counted. */
static void test_concurrent_writers(void **state) {
    fx *f = *state;
    start_with(f, "");
    enum { THREADS = 4, BATCHES = 50 };
    pthread_t t[THREADS];
    writer_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (writer_arg){f, BATCHES, (uint32_t)i + 1};
        assert_int_equal(pthread_create(&t[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    stop(f);
    char *text;
    char **lines = calloc(THREADS * BATCHES + 1, sizeof(char *));
    size_t n = read_lines(f->path, &text, lines, THREADS * BATCHES + 1);
    assert_int_equal(n, THREADS * BATCHES);
    size_t spans = 0, points = 0;
    for (size_t i = 0; i < n; i++) {
        pp_signal sig = strncmp(lines[i], "{\"resourceSpans\"", 16) == 0 ? PP_TRACES : PP_METRICS;
        pp_status st = {0};
        pp_batch *b = pp_otlp_json_decode(sig, lines[i], strlen(lines[i]), &st);
        if (!b) fail_msg("line %zu: %s", i + 1, st.msg);
        *(sig == PP_TRACES ? &spans : &points) += b->items;
        pp_batch_unref(b);
    }
    assert_int_equal(spans, THREADS * (BATCHES / 2) * 40);
    assert_int_equal(points, THREADS * (BATCHES / 2) * 6);
    assert_int_equal(counter(f, "otelcol_exporter_sent_spans"), spans);
    assert_int_equal(counter(f, "otelcol_exporter_sent_metric_points"), points);
    free(lines);
    free(text);
}

/* A full disk: the batch is refused (so the client retries) and counted failed. */
static void test_write_error_refuses(void **state) {
    fx *f = *state;
    if (access("/dev/full", W_OK) != 0) skip();
    snprintf(f->target, sizeof(f->target), "/dev/full");
    start_with(f, "append: true\n");
    pp_batch *b = tu_make_traces(1, 1, 5, 3);
    pp_status st = {0};
    assert_int_equal(pp_consume(f->consumer, b, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_non_null(strstr(st.msg, "/dev/full"));
    assert_int_equal(counter(f, "otelcol_exporter_send_failed_spans"), 5);
    assert_int_equal(counter(f, "otelcol_exporter_sent_spans"), 0);
    stop(f);
    /* After shutdown nothing is taken. */
    assert_int_equal(pp_consume(f->consumer, b, &st), -1);
    pp_batch_unref(b);
}

static void test_start_fails_without_directory(void **state) {
    fx *f = *state;
    pp_diag d;
    pp_diag_init(&d);
    assert_int_equal(decode_yaml(f, "path: /nonexistent/missing/dir/out.json\n", &d), 0);
    pp_diag_free(&d);
    pp_create_params p = {.id = "file", .config = f->cfg, .host = &f->host};
    pp_status st = {0};
    f->inst = pp_file_exporter.create(&p, &st);
    assert_non_null(f->inst);
    assert_int_equal(pp_file_exporter.start(f->inst, &f->host, &st), -1);
    assert_non_null(strstr(st.msg, "missing/dir/out.json"));
}

static void test_config(void **state) {
    fx *f = *state;
    pp_diag d;
    pp_diag_init(&d);
    /* The Collector keys pipit does not implement are accepted with a warning. */
    assert_int_equal(decode_cfg(f, "flush_interval: 5s\nrotation:\n  max_megabytes: 10\n"
                                   "compression: zstd\ngroup_by:\n  enabled: false\n", &d), 0);
    assert_true(pp_diag_has(&d, "exporters.file.rotation", "ignored"));
    assert_true(pp_diag_has(&d, "exporters.file.compression", "ignored"));
    assert_true(pp_diag_has(&d, "exporters.file.group_by", "ignored"));
    assert_int_equal(d.warnings, 3);
    pp_diag_free(&d);
    pp_cfg_free(pp_file_exporter.schema, f->cfg);
    free(f->cfg);
    pp_node_free(f->root);

    pp_diag_init(&d);
    assert_true(decode_yaml(f, "format: yaml\n", &d) >= 2);
    assert_true(pp_diag_has(&d, "exporters.file.path", "required"));
    assert_true(pp_diag_has(&d, "exporters.file.format", ""));
    pp_diag_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_lines_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proto_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncates_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_keeps_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_fails_without_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
