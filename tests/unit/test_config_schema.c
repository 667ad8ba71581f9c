/* Unit tests: the schema decoder (every pp_cfg_type) and the duration parser. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "config_schema.h"
#include "fake_schema.h"

typedef fake_cfg test_cfg;
static const pp_cfg_field *const schema = fake_schema;

static void defaults(test_cfg *c) {
    memset(c, 0, sizeof(*c));
    fake_defaults(c);
    c->endpoint = strdup("localhost:4317");
    c->tls.ca_file = strdup("/default/ca.pem");
}

/* Decodes text (a map) under path "exporters.x". */
static size_t decode(const char *text, test_cfg *c, pp_diag *d, pp_node **root) {
    *root = pp_node_parse(text, strlen(text), "t.yaml", d);
    assert_non_null(*root);
    return pp_cfg_decode(schema, *root, c, "exporters.x", d);
}

static void test_decode_every_type(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    test_cfg c;
    defaults(&c);
    pp_node *root;
    size_t errs = decode("endpoint: collector:4317\n"
                         "api_key: s3cret\n"
                         "enabled: True\n"
                         "workers: 8\n"
                         "ratio: 0.25\n"
                         "timeout: 1m30s\n"
                         "compression: zstd\n"
                         "tls:\n  insecure: true\n"
                         "headers:\n  x-a: 1\n  x-b: two\n"
                         "tags: [a, b, c]\n"
                         "raw: {any: [thing]}\n"
                         "old_knob: 3\n",
                         &c, &d, &root);
    assert_int_equal(errs, 0);
    assert_int_equal(d.errors, 0);
    assert_string_equal(c.endpoint, "collector:4317"); /* the default was freed (ASan) */
    assert_string_equal(c.api_key, "s3cret");
    assert_true(c.enabled);
    assert_int_equal(c.workers, 8);
    assert_true(c.ratio > 0.2499 && c.ratio < 0.2501);
    assert_int_equal(c.timeout, 90000000000);
    assert_string_equal(c.compression, "zstd");
    assert_true(c.tls_present);
    assert_true(c.tls.insecure);
    assert_string_equal(c.tls.ca_file, "/default/ca.pem"); /* default kept */
    assert_int_equal(c.headers.count, 2);
    assert_string_equal(c.headers.items[1].key, "x-b");
    assert_string_equal(c.headers.items[1].value, "two");
    assert_int_equal(c.tags.count, 3);
    assert_string_equal(c.tags.items[2], "c");
    assert_non_null(c.raw);
    assert_int_equal(c.raw->type, PP_NODE_MAP);
    assert_ptr_equal(c.raw, pp_node_get(root, "raw"));
    assert_int_equal(d.warnings, 1);
    assert_true(pp_diag_has(&d, "exporters.x.old_knob", "accepted for compatibility, ignored by pipit"));
    pp_cfg_free(schema, &c);
    assert_null(c.endpoint);
    pp_cfg_free(schema, &c); /* twice is harmless */
    pp_node_free(root);
    pp_diag_free(&d);
}

static void test_null_means_defaults(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    test_cfg c;
    defaults(&c);
    pp_node *root;
    assert_int_equal(decode("endpoint: e\ntls:\ntimeout:\n", &c, &d, &root), 0);
    assert_true(c.tls_present); /* `tls:` with no value: present, defaults */
    assert_string_equal(c.tls.ca_file, "/default/ca.pem");
    assert_int_equal(c.timeout, 5000000000);
    pp_cfg_free(schema, &c);
    pp_node_free(root);

    /* A null node as a whole: defaults, but required keys are still required. */
    defaults(&c);
    assert_int_equal(pp_cfg_decode(schema, NULL, &c, "exporters.x", &d), 1);
    assert_true(pp_diag_has(&d, "exporters.x.endpoint", "required"));
    assert_false(c.tls_present);
    pp_cfg_free(schema, &c);
    pp_diag_free(&d);
}

static void test_decode_errors_all_reported(void **state) {
    (void)state;
    pp_diag d;
    pp_diag_init(&d);
    test_cfg c;
    defaults(&c);
    pp_node *root;
    size_t errs = decode("api_key: [not, a, string]\n"
                         "enabled: yes\n"
                         "workers: 65\n"
                         "ratio: lots\n"
                         "timeout: abc\n"
                         "compresion: gzip\n"
                         "compression: brotli\n"
                         "tls:\n  insecur: true\n  ca_file: {a: b}\n"
                         "headers: [a]\n"
                         "tags:\n  - ok\n  - {no: map}\n"
                         "zzzzzz: 1\n",
                         &c, &d, &root);
    assert_true(pp_diag_has(&d, "exporters.x.endpoint", "required"));
    assert_true(pp_diag_has(&d, "exporters.x.api_key", "expected a string, got a list"));
    assert_true(pp_diag_has(&d, "exporters.x.enabled", "expected true or false, got \"yes\""));
    assert_true(pp_diag_has(&d, "exporters.x.workers", "must be between 1 and 16, got 65"));
    assert_true(pp_diag_has(&d, "exporters.x.ratio", "expected a number, got \"lots\""));
    assert_true(pp_diag_has(&d, "exporters.x.timeout", "expected a duration like \"5s\", got \"abc\""));
    assert_true(pp_diag_has(&d, "exporters.x.compresion", "unknown key (did you mean \"compression\"?)"));
    assert_true(pp_diag_has(&d, "exporters.x.compression",
                            "expected one of \"none\", \"gzip\", \"zstd\", got \"brotli\""));
    assert_true(pp_diag_has(&d, "exporters.x.tls.insecur", "did you mean \"insecure\"?"));
    assert_true(pp_diag_has(&d, "exporters.x.tls.ca_file", "expected a string, got a map"));
    assert_true(pp_diag_has(&d, "exporters.x.headers", "expected a map, got a list"));
    assert_true(pp_diag_has(&d, "exporters.x.tags[1]", "expected a string, got a map"));
    assert_true(pp_diag_has(&d, "exporters.x.zzzzzz", "unknown key"));
    assert_false(pp_diag_has(&d, "exporters.x.zzzzzz", "did you mean"));
    assert_int_equal(errs, 13);
    assert_int_equal(d.errors, 13);
    /* The line of the offending value. */
    for (size_t i = 0; i < d.count; i++)
        if (strcmp(d.entries[i].path, "exporters.x.workers") == 0) assert_int_equal(d.entries[i].line, 3);
    /* Partially decoded: still freed cleanly. */
    assert_string_equal(c.tags.items[0], "ok");
    pp_cfg_free(schema, &c);
    pp_node_free(root);
    pp_diag_free(&d);
}

static void test_secret_values_not_echoed(void **state) {
    (void)state;
    static const pp_cfg_field s[] = {
        {"key", PP_CFG_INT, 0, PP_CFG_SECRET},
        {0},
    };
    int64_t v = 0;
    pp_diag d;
    pp_diag_init(&d);
    pp_node *root = pp_node_parse("key: hunter2\n", 13, "t", &d);
    assert_int_equal(pp_cfg_decode(s, root, &v, "x", &d), 1);
    assert_true(pp_diag_has(&d, "x.key", "[REDACTED]"));
    assert_null(strstr(d.entries[0].message, "hunter2"));
    pp_node_free(root);
    pp_diag_free(&d);
}

static void test_bools_strictly(void **state) {
    (void)state;
    static const pp_cfg_field s[] = {{"b", PP_CFG_BOOL, 0}, {0}};
    const char *good[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
    const char *bad[] = {"yes", "no", "on", "off", "1", "tRUE", "\"\""};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "b: %s\n", good[i]);
        bool b = good[i][0] == 'f' || good[i][0] == 'F'; /* the opposite */
        pp_diag d;
        pp_diag_init(&d);
        pp_node *root = pp_node_parse(text, strlen(text), "t", &d);
        assert_int_equal(pp_cfg_decode(s, root, &b, "x", &d), 0);
        assert_int_equal(b, !(good[i][0] == 'f' || good[i][0] == 'F'));
        pp_node_free(root);
        pp_diag_free(&d);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "b: %s\n", bad[i]);
        bool b = false;
        pp_diag d;
        pp_diag_init(&d);
        pp_node *root = pp_node_parse(text, strlen(text), "t", &d);
        assert_int_equal(pp_cfg_decode(s, root, &b, "x", &d), 1);
        assert_true(pp_diag_has(&d, "x.b", "expected true or false"));
        pp_node_free(root);
        pp_diag_free(&d);
    }
}

static void test_not_a_map(void **state) {
    (void)state;
    test_cfg c;
    defaults(&c);
    pp_diag d;
    pp_diag_init(&d);
    pp_node *root = pp_node_parse("[1, 2]", 6, "t", &d);
    assert_int_equal(pp_cfg_decode(schema, root, &c, "exporters.x", &d), 1);
    assert_true(pp_diag_has(&d, "exporters.x", "expected a map, got a list"));
    pp_cfg_free(schema, &c);
    pp_node_free(root);
    pp_diag_free(&d);
}

static void test_required_empty_list_and_string(void **state) {
    (void)state;
    typedef struct { char *s; pp_cfg_strs l; } rc;
    static const pp_cfg_field s[] = {
        {"s", PP_CFG_STRING, offsetof(rc, s), PP_CFG_REQUIRED},
        {"l", PP_CFG_STRING_LIST, offsetof(rc, l), PP_CFG_REQUIRED},
        {0},
    };
    rc c = {0};
    pp_diag d;
    pp_diag_init(&d);
    pp_node *root = pp_node_parse("s: \"\"\nl: []\n", 12, "t", &d);
    assert_int_equal(pp_cfg_decode(s, root, &c, "p", &d), 2);
    assert_true(pp_diag_has(&d, "p.s", "required"));
    assert_true(pp_diag_has(&d, "p.l", "must not be empty"));
    pp_cfg_free(s, &c);
    pp_node_free(root);
    pp_diag_free(&d);
}

static int64_t dur(const char *s) {
    int64_t ns = -12345;
    assert_int_equal(pp_parse_duration(s, &ns), 0);
    return ns;
}

static void test_durations(void **state) {
    (void)state;
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("0s"), 0);
    assert_int_equal(dur("300ms"), 300000000);
    assert_int_equal(dur("1.5h"), 5400000000000);
    assert_int_equal(dur("2m3s"), 123000000000);
    assert_int_equal(dur("10us"), 10000);
    assert_int_equal(dur("1\xc2\xb5s"), 1000); /* µs, micro sign */
    assert_int_equal(dur("1\xce\xbcs"), 1000); /* μs, greek mu */
    assert_int_equal(dur("7ns"), 7);
    assert_int_equal(dur("1500"), 1500); /* a bare integer: nanoseconds */
    assert_int_equal(dur("-1.5s"), -1500000000);
    assert_int_equal(dur("+2s"), 2000000000);
    assert_int_equal(dur(".5s"), 500000000);
    assert_int_equal(dur("1.s"), 1000000000);
    assert_int_equal(dur("1h1m1s1ms1us1ns"), 3661001001001);
    assert_int_equal(dur("2562047h"), INT64_C(2562047) * 3600 * 1000000000);
    int64_t ns;
    const char *bad[] = {"", "abc", "s", "1.5", "5 s", "5sec", "1d", ".s", "-", "3000000h",
                         "99999999999999999999", "1h-1m", "1..5s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(pp_parse_duration(bad[i], &ns), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_every_type),
        cmocka_unit_test(test_null_means_defaults),
        cmocka_unit_test(test_decode_errors_all_reported),
        cmocka_unit_test(test_secret_values_not_echoed),
        cmocka_unit_test(test_bools_strictly),
        cmocka_unit_test(test_not_a_map),
        cmocka_unit_test(test_required_empty_list_and_string),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
