/* Unit tests: the bearertokenauth extension -- checks, token lists, a token
 * file that rotates, validation, redaction, and resolution by a receiver's
 * auth.authenticator through a built service. */
#include "testutil.h"
#include "testutil_world.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static tu_world *start_world(const char *ext) {
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "extensions:\n  bearertokenauth: %s\n"
             "receivers: {tu_recv: {auth: {authenticator: bearertokenauth}}}\n"
             "exporters: {tu_exp: }\n"
             "service:\n"
             "  extensions: [bearertokenauth]\n"
             "  pipelines: {traces: {receivers: [tu_recv], exporters: [tu_exp]}}\n",
             ext);
    tu_world *w = tu_world_new(yaml);
    pp_status st = {0};
    if (pp_service_start(w->svc, &st) != 0) fprintf(stderr, "start: %s\n", st.msg);
    assert_int_equal(st.code, PP_OK);
    return w;
}

static pp_server_auth *auth_of(tu_world *w) {
    pp_server_auth *a = pp_host_authenticator(&w->host, "bearertokenauth");
    assert_non_null(a);
    return a;
}

/* 0 when allowed; otherwise checks the refusal is UNAUTHENTICATED without the token. */
static int check(pp_server_auth *a, const char *value) {
    pp_status st = {0};
    if (a->check(a, value, &st) == 0) return 0;
    assert_int_equal(st.code, PP_UNAUTHENTICATED);
    assert_string_equal(st.msg, "missing or invalid bearer token");
    return -1;
}

static void test_token(void **state) {
    (void)state;
    tu_world *w = start_world("{token: s3cr3t-one}");
    pp_server_auth *a = auth_of(w);
    assert_string_equal(a->header, "authorization");
    assert_int_equal(check(a, "Bearer s3cr3t-one"), 0);
    assert_int_equal(check(a, "Bearer s3cr3t-two"), -1);
    assert_int_equal(check(a, "Bearer s3cr3t-on"), -1);   /* a prefix */
    assert_int_equal(check(a, "Bearer s3cr3t-one1"), -1); /* longer */
    assert_int_equal(check(a, NULL), -1);                 /* header missing */
    assert_int_equal(check(a, ""), -1);
    assert_int_equal(check(a, "Basic s3cr3t-one"), -1);   /* wrong scheme */
    assert_int_equal(check(a, "s3cr3t-one"), -1);         /* no scheme */
    tu_world_free(w);
}

static void test_scheme_and_header_options(void **state) {
    (void)state;
    tu_world *w = start_world("{token: k, scheme: Token, header: X-Api-KEY}");
    pp_server_auth *a = auth_of(w);
    assert_string_equal(a->header, "x-api-key");
    assert_int_equal(check(a, "Token k"), 0);
    assert_int_equal(check(a, "Bearer k"), -1);
    tu_world_free(w);

    w = start_world("{token: k, scheme: \"\"}");
    a = auth_of(w);
    assert_int_equal(check(a, "k"), 0);
    assert_int_equal(check(a, " k"), -1);
    tu_world_free(w);
}

static void test_tokens_list(void **state) {
    (void)state;
    tu_world *w = start_world("{tokens: [old-token, new-token]}");
    pp_server_auth *a = auth_of(w);
    assert_int_equal(check(a, "Bearer old-token"), 0);
    assert_int_equal(check(a, "Bearer new-token"), 0);
    assert_int_equal(check(a, "Bearer other-token"), -1);
    tu_world_free(w);
}

static void write_token(const char *path, const char *text, time_t mtime) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    /* An explicit mtime: two writes within one timestamp tick look alike. */
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_filename_and_rotation(void **state) {
    (void)state;
    char path[] = "/tmp/pipit-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    time_t now = time(NULL);
    write_token(path, "first-token\n", now - 100);
    char ext[256];
    snprintf(ext, sizeof(ext), "{filename: %s}", path);
    tu_world *w = start_world(ext);
    pp_server_auth *a = auth_of(w);
    assert_int_equal(check(a, "Bearer first-token"), 0); /* trailing newline trimmed */
    assert_int_equal(check(a, "Bearer second-token"), -1);

    write_token(path, "second-token", now - 50);
    tu_world_run(w, 1300); /* the file is checked once a second */
    assert_int_equal(check(a, "Bearer second-token"), 0);
    assert_int_equal(check(a, "Bearer first-token"), -1);

    /* an emptied file (mid-rotation) keeps the last good token */
    write_token(path, "", now - 10);
    tu_world_run(w, 1300);
    assert_int_equal(check(a, "Bearer second-token"), 0);
    tu_world_free(w);
    unlink(path);
}

static void test_missing_file_fails_start(void **state) {
    (void)state;
    tu_world *w = tu_world_new("extensions: {bearertokenauth: {filename: /nonexistent/pipit-token}}\n"
                               "receivers: {tu_recv: }\nexporters: {tu_exp: }\n"
                               "service: {extensions: [bearertokenauth], pipelines: "
                               "{traces: {receivers: [tu_recv], exporters: [tu_exp]}}}\n");
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), -1);
    assert_non_null(strstr(st.msg, "/nonexistent/pipit-token"));
    tu_world_free(w);
}

static void test_validation(void **state) {
    (void)state;
    const char *bad[] = {"{token: a, tokens: [b]}", "{}", "{token: a, filename: /x}",
                         "{tokens: [a, \"\"]}"};
    const char *path[] = {"extensions.bearertokenauth", "extensions.bearertokenauth",
                          "extensions.bearertokenauth", "extensions.bearertokenauth.tokens[1]"};
    const char *msg[] = {"exactly one of token, tokens or filename",
                         "exactly one of token, tokens or filename",
                         "exactly one of token, tokens or filename", "empty token"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "extensions: {bearertokenauth: %s}\nreceivers: {tu_recv: }\n"
                 "exporters: {tu_exp: }\nservice: {extensions: [bearertokenauth], pipelines: "
                 "{traces: {receivers: [tu_recv], exporters: [tu_exp]}}}\n", bad[i]);
        pp_diag d;
        pp_diag_init(&d);
        const char *texts[] = {yaml};
        const char *names[] = {"test.yaml"};
        assert_null(pp_config_load_texts(texts, names, 1, &d));
        if (!pp_diag_has(&d, path[i], msg[i])) pp_diag_print(&d, stderr);
        assert_true(pp_diag_has(&d, path[i], msg[i]));
        pp_diag_free(&d);
    }
}

static void test_print_config_redacts_tokens(void **state) {
    (void)state;
    tu_world *w = start_world("{token: s3cr3t-single}");
    char *text = pp_config_render_redacted(w->cfg);
    assert_non_null(text);
    assert_null(strstr(text, "s3cr3t-single"));
    assert_non_null(strstr(text, "[REDACTED]"));
    assert_non_null(strstr(text, "bearertokenauth"));
    free(text);
    tu_world_free(w);

    w = start_world("{tokens: [s3cr3t-a, s3cr3t-b]}");
    text = pp_config_render_redacted(w->cfg);
    assert_null(strstr(text, "s3cr3t-"));
    free(text);
    tu_world_free(w);
}

static void test_receiver_resolves_authenticator(void **state) {
    (void)state;
    tu_world *w = start_world("{token: abc}");
    tu_recv *r = pp_service_instance(w->svc, PP_RECEIVER, "tu_recv", NULL);
    assert_non_null(r);
    /* the receiver's auth.authenticator names the started extension's instance */
    assert_ptr_equal(r->auth, pp_service_instance(w->svc, PP_EXTENSION, "bearertokenauth", NULL));
    assert_ptr_equal(r->auth, pp_host_authenticator(&w->host, "bearertokenauth"));
    assert_int_equal(check(r->auth, "Bearer abc"), 0);
    assert_int_equal(check(r->auth, "Bearer abd"), -1);
    assert_null(pp_host_authenticator(&w->host, "tu_recv")); /* not an extension */
    tu_world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_scheme_and_header_options),
        cmocka_unit_test(test_tokens_list),
        cmocka_unit_test(test_filename_and_rotation),
        cmocka_unit_test(test_missing_file_fails_start),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_print_config_redacts_tokens),
        cmocka_unit_test(test_receiver_resolves_authenticator),
    };
    tu_world_register_fakes();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
