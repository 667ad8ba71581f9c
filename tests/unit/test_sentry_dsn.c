/* test_sentry_dsn.c -- DSN parsing and the URLs and headers derived from it. */
#include <string.h>

#include "testutil.h"
#include "exporters/sentry/sentry_dsn.h"

typedef struct good_case {
    const char *dsn;
    const char *key, *secret, *host, *port, *prefix, *project;
    const char *envelope_url, *otlp_url;
} good_case;

static const good_case GOOD[] = {
    {"https://public@sentry.example.com/1", "public", NULL, "sentry.example.com", NULL, "", "1",
     "https://sentry.example.com/api/1/envelope/",
     "https://sentry.example.com/api/1/integration/otlp/v1/traces/"},
    {"https://abc123@o42.ingest.us.sentry.io/4507", "abc123", NULL, "o42.ingest.us.sentry.io", NULL,
     "", "4507", "https://o42.ingest.us.sentry.io/api/4507/envelope/",
     "https://o42.ingest.us.sentry.io/api/4507/integration/otlp/v1/traces/"},
    {"http://key:secret@localhost:9000/sentry/2", "key", "secret", "localhost", "9000", "/sentry",
     "2", "http://localhost:9000/sentry/api/2/envelope/",
     "http://localhost:9000/sentry/api/2/integration/otlp/v1/traces/"},
    {"HTTPS://k@h.example/a/b/c/77", "k", NULL, "h.example", NULL, "/a/b/c", "77",
     "https://h.example/a/b/c/api/77/envelope/", "https://h.example/a/b/c/api/77/integration/otlp/v1/traces/"},
    {"https://k@[2001:db8::1]:8443/9", "k", NULL, "[2001:db8::1]", "8443", "", "9",
     "https://[2001:db8::1]:8443/api/9/envelope/",
     "https://[2001:db8::1]:8443/api/9/integration/otlp/v1/traces/"},
    {"http://k@[::1]/3", "k", NULL, "[::1]", NULL, "", "3", "http://[::1]/api/3/envelope/",
     "http://[::1]/api/3/integration/otlp/v1/traces/"},
    /* one trailing slash, a query string and an empty secret are tolerated */
    {"https://k@h/5/", "k", NULL, "h", NULL, "", "5", "https://h/api/5/envelope/",
     "https://h/api/5/integration/otlp/v1/traces/"},
    {"https://k@h/p/6?timeout=3#x", "k", NULL, "h", NULL, "/p", "6", "https://h/p/api/6/envelope/",
     "https://h/p/api/6/integration/otlp/v1/traces/"},
    {"https://k:@h:443/7", "k", NULL, "h", "443", "", "7", "https://h:443/api/7/envelope/",
     "https://h:443/api/7/integration/otlp/v1/traces/"},
};

static void test_good(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(GOOD) / sizeof(GOOD[0]); i++) {
        const good_case *c = &GOOD[i];
        pp_sentry_dsn d;
        pp_status st = {0};
        if (pp_sentry_dsn_parse(c->dsn, &d, &st) != 0) fail_msg("%s: %s", c->dsn, st.msg);
        assert_string_equal(d.public_key, c->key);
        if (c->secret) assert_string_equal(d.secret_key, c->secret);
        else assert_null(d.secret_key);
        assert_string_equal(d.host, c->host);
        if (c->port) assert_string_equal(d.port, c->port);
        else assert_null(d.port);
        assert_string_equal(d.path_prefix, c->prefix);
        assert_string_equal(d.project_id, c->project);
        assert_string_equal(d.envelope_url, c->envelope_url);
        assert_string_equal(d.otlp_traces_url, c->otlp_url);
        pp_sentry_dsn_free(&d);
    }
}

static void test_headers(void **state) {
    (void)state;
    pp_sentry_dsn d;
    pp_status st = {0};
    assert_int_equal(pp_sentry_dsn_parse("https://pub:sec@h:8080/pre/12", &d, &st), 0);
    assert_string_equal(d.auth_header, "Sentry sentry_version=7, sentry_client=pipit/" PIPIT_VERSION
                                       ", sentry_key=pub, sentry_secret=sec");
    assert_string_equal(d.otlp_auth_header, "sentry sentry_key=pub");
    /* the secret never goes into the envelope header's dsn */
    assert_string_equal(d.public_dsn, "https://pub@h:8080/pre/12");
    pp_sentry_dsn_free(&d);

    assert_int_equal(pp_sentry_dsn_parse("https://pub@h/12", &d, &st), 0);
    assert_string_equal(d.auth_header,
                        "Sentry sentry_version=7, sentry_client=pipit/" PIPIT_VERSION ", sentry_key=pub");
    assert_string_equal(d.public_dsn, "https://pub@h/12");
    pp_sentry_dsn_free(&d);
}

typedef struct bad_case {
    const char *dsn, *msg_part;
} bad_case;

static const bad_case BAD[] = {
    {"", "empty"},
    {"sentry.example.com/1", "scheme"},
    {"ftp://k@h/1", "unsupported scheme"},
    {"https://h/1", "missing public key"},
    {"https://@h/1", "missing public key"},
    {"https://:secret@h/1", "missing public key"},
    {"https://k y@h/1", "invalid public key"},
    {"https://k:s,x@h/1", "invalid secret key"},
    {"https://k@/1", "empty host"},
    {"https://k@:9000/1", "empty host"},
    {"https://k@[]/1", "empty host"},
    {"https://k@[::1/1", "unterminated IPv6"},
    {"https://k@[::1]x/1", "junk after IPv6"},
    {"https://k@[zz::1]/1", "invalid IPv6"},
    {"https://k@h:0/1", "invalid port"},
    {"https://k@h:65536/1", "invalid port"},
    {"https://k@h:80a/1", "invalid port"},
    {"https://k@h:/1", "invalid port"},
    {"https://k@h", "missing project id"},
    {"https://k@h/", "missing project id"},
    {"https://k@h/prefix/", "not numeric"},
    {"https://k@h/abc", "not numeric"},
    {"https://k@h/12x", "not numeric"},
    {"https://k@h/1 \n", "not numeric"},
};

static void test_bad(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        pp_sentry_dsn d;
        pp_status st = {0};
        if (pp_sentry_dsn_parse(BAD[i].dsn, &d, &st) == 0) fail_msg("accepted: %s", BAD[i].dsn);
        assert_int_equal(st.code, PP_INVALID);
        if (!strstr(st.msg, BAD[i].msg_part))
            fail_msg("%s: message \"%s\" lacks \"%s\"", BAD[i].dsn, st.msg, BAD[i].msg_part);
        assert_null(d.public_key);
        assert_null(d.envelope_url);
    }
    pp_sentry_dsn d;
    pp_status st = {0};
    assert_int_equal(pp_sentry_dsn_parse(NULL, &d, &st), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
