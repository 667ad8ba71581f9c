/* test_log.c -- structured logging: JSON and console lines, levels, redaction. */
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

typedef struct capture {
    char lines[16][1024];
    int n;
} capture;

static void collect(const char *line, void *arg) {
    capture *c = arg;
    if (c->n < 16) snprintf(c->lines[c->n++], sizeof(c->lines[0]), "%s", line);
}

/* "2026-11-24T01:02:03.456Z": digits where digits go, UTC, milliseconds. */
static void assert_timestamp(const char *ts) {
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd') assert_true(ts[i] >= '0' && ts[i] <= '9');
        else assert_int_equal(ts[i], shape[i]);
    }
}

static void test_json_line(void **state) {
    (void)state;
    capture c = {0};
    pp_log_set_sink(collect, &c);
    pp_log_setup(PP_LOG_DEBUG, PP_LOG_JSON);
    pp_log(PP_LOG_INFO, "exporter/otlp", "send \"failed\"\n", "status", "503", "body",
           "a\\b\tc\x01\x7f", "name", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80", "bad",
           "\xff\xc0\xafz\xed\xa0\x80!\xe2\x9c", NULL);
    pp_log_set_sink(NULL, NULL);
    assert_int_equal(c.n, 1);
    const char *line = c.lines[0];
    assert_memory_equal(line, "{\"ts\":\"", 7);
    assert_timestamp(line + 7);
    assert_string_equal(line + 31,
                        "\",\"level\":\"info\",\"component\":\"exporter/otlp\","
                        "\"msg\":\"send \\\"failed\\\"\\n\",\"status\":\"503\","
                        "\"body\":\"a\\\\b\\tc\\u0001\x7f\","
                        "\"name\":\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\","
                        "\"bad\":\"\\ufffd\\ufffd\\ufffdz\\ufffd\\ufffd\\ufffd!\\ufffd\\ufffd\"}\n");
    /* And a JSON parser reads back what was logged. */
    json_object *o = json_tokener_parse(line);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "msg", &v));
    assert_string_equal(json_object_get_string(v), "send \"failed\"\n");
    assert_true(json_object_object_get_ex(o, "body", &v));
    assert_string_equal(json_object_get_string(v), "a\\b\tc\x01\x7f");
    json_object_put(o);
}

static void test_json_without_component_and_odd_fields(void **state) {
    (void)state;
    capture c = {0};
    pp_log_set_sink(collect, &c);
    pp_log_setup(PP_LOG_INFO, PP_LOG_JSON);
    pp_log(PP_LOG_ERROR, NULL, "boom", "k", NULL); /* a key without a value ends the list */
    pp_log_set_sink(NULL, NULL);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.lines[0] + 31, "\",\"level\":\"error\",\"msg\":\"boom\",\"k\":null}\n");
}

static void test_console_line(void **state) {
    (void)state;
    capture c = {0};
    pp_log_set_sink(collect, &c);
    pp_log_setup(PP_LOG_DEBUG, PP_LOG_CONSOLE);
    pp_log(PP_LOG_WARN, "exporter/otlp", "message", "key", "value", "key2", "value with space",
           "empty", "", "q", "say \"hi\"", NULL);
    pp_log(PP_LOG_DEBUG, "x", "two\nlines", NULL);
    pp_log_set_sink(NULL, NULL);
    assert_int_equal(c.n, 2);
    assert_timestamp(c.lines[0]);
    assert_string_equal(c.lines[0] + 24, "  warn  exporter/otlp  message  key=value "
                                         "key2=\"value with space\" empty=\"\" q=\"say \\\"hi\\\"\"\n");
    assert_string_equal(c.lines[1] + 24, "  debug  x  two\\nlines\n");
}

static void test_levels(void **state) {
    (void)state;
    capture c = {0};
    pp_log_set_sink(collect, &c);
    pp_log_setup(PP_LOG_WARN, PP_LOG_JSON);
    assert_false(pp_log_enabled(PP_LOG_INFO));
    assert_true(pp_log_enabled(PP_LOG_WARN));
    pp_log_debug("c", "no", NULL);
    pp_log_info("c", "no", NULL);
    pp_log_warn("c", "yes", NULL);
    pp_log_error("c", "yes too", NULL);
    pp_log_setup(PP_LOG_OFF, PP_LOG_JSON);
    pp_log_error("c", "silenced", NULL);
    assert_false(pp_log_enabled(PP_LOG_ERROR));
    pp_log_set_sink(NULL, NULL);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(c.lines[0], "\"msg\":\"yes\""));
    assert_non_null(strstr(c.lines[1], "\"level\":\"error\""));

    pp_log_level l;
    assert_int_equal(pp_log_level_parse("debug", &l), 0);
    assert_int_equal(l, PP_LOG_DEBUG);
    assert_int_equal(pp_log_level_parse("WARN", &l), 0);
    assert_int_equal(l, PP_LOG_WARN);
    assert_int_equal(pp_log_level_parse("none", &l), 0);
    assert_int_equal(l, PP_LOG_OFF);
    assert_int_equal(pp_log_level_parse("loud", &l), -1);
    assert_int_equal(pp_log_level_parse(NULL, &l), -1);
}

static void test_redact_url(void **state) {
    (void)state;
    static const struct { const char *in, *want; } cases[] = {
        {"https://key:secret@host/1", "https://***@host/1"},
        {"https://publickey@o1.ingest.sentry.io/42", "https://***@o1.ingest.sentry.io/42"},
        {"http://host:4318/v1/traces", "http://host:4318/v1/traces"},
        {"https://host/path@not-userinfo", "https://host/path@not-userinfo"},
        {"https://u:p@ss@host?x=@y", "https://***@host?x=@y"},
        {"user:pw@db:5432", "***@db:5432"},
        {"", ""},
    };
    char out[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_redact_url(cases[i].in, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
    }
    char small[12];
    pp_redact_url("https://key:secret@host/1", small, sizeof(small));
    assert_string_equal(small, "https://***"); /* truncated, never the secret */
}

/* Many threads writing long lines to the real stderr: every line arrives whole. */
enum { WRITERS = 4, LINES = 200 };

static void *writer(void *arg) {
    char big[3000];
    memset(big, 'a' + (int)(intptr_t)arg, sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < LINES; i++) pp_log_info("writer", big, "i", "x", NULL);
    return NULL;
}

static void test_lines_never_interleave(void **state) {
    (void)state;
    char path[] = "/tmp/pipit-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    pp_log_setup(PP_LOG_INFO, PP_LOG_JSON);
    pthread_t t[WRITERS];
    for (intptr_t i = 0; i < WRITERS; i++) pthread_create(&t[i], NULL, writer, (void *)i);
    for (int i = 0; i < WRITERS; i++) pthread_join(t[i], NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    size_t len;
    char *text = tu_read_file(path, &len);
    unlink(path);
    assert_non_null(text);
    int lines = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_object *o = json_tokener_parse(line);
        assert_non_null(o);
        json_object *msg;
        assert_true(json_object_object_get_ex(o, "msg", &msg));
        assert_int_equal(json_object_get_string_len(msg), 2999);
        json_object_put(o);
        lines++;
    }
    assert_int_equal(lines, WRITERS * LINES);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_json_without_component_and_odd_fields),
        cmocka_unit_test(test_console_line),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_redact_url),
        cmocka_unit_test(test_lines_never_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
