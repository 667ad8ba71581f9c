/* test_sentry_envelope.c -- envelopes read back: header lines, item lengths,
 * sent_at exactly once, added only by the stamp. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "exporters/sentry/sentry_envelope.h"

#define EID "9ec79c33ec9942ab8353589fcb2e04dc"

/* Splits env into its envelope header, item header and payload the way Relay
 * does: header lines end at '\n', the payload is `length` bytes followed by
 * '\n' or the end. Returns the two parsed headers (caller puts them). */
static void parse_envelope(const char *env, size_t len, json_object **eh, json_object **ih,
                           const char **payload, size_t *plen) {
    const char *nl1 = memchr(env, '\n', len);
    assert_non_null(nl1);
    char *line = strndup(env, (size_t)(nl1 - env));
    *eh = json_tokener_parse(line);
    free(line);
    assert_non_null(*eh);
    const char *p = nl1 + 1;
    const char *nl2 = memchr(p, '\n', len - (size_t)(p - env));
    assert_non_null(nl2);
    line = strndup(p, (size_t)(nl2 - p));
    *ih = json_tokener_parse(line);
    free(line);
    assert_non_null(*ih);
    json_object *jl;
    assert_true(json_object_object_get_ex(*ih, "length", &jl));
    *plen = (size_t)json_object_get_int64(jl);
    *payload = nl2 + 1;
    size_t rest = len - (size_t)(*payload - env);
    assert_true(rest == *plen || (rest == *plen + 1 && (*payload)[*plen] == '\n'));
}

static size_t count(const char *hay, size_t n, const char *needle) {
    size_t c = 0, k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) c++;
    return c;
}

static const char *get_str(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void test_build_and_stamp(void **state) {
    (void)state;
    /* a payload with multi-byte UTF-8 and an escaped newline: length is bytes */
    const char *item = "{\"type\":\"transaction\",\"transaction\":\"caf\xc3\xa9 \\n x\"}";
    size_t len = 0;
    char *env = pp_sentry_envelope_build("transaction", EID, "https://k@h/1", item, strlen(item), &len);
    assert_non_null(env);
    assert_int_equal(strlen(env), len);
    assert_int_equal(count(env, len, "sent_at"), 0);

    json_object *eh, *ih;
    const char *payload;
    size_t plen;
    parse_envelope(env, len, &eh, &ih, &payload, &plen);
    assert_string_equal(get_str(eh, "event_id"), EID);
    assert_string_equal(get_str(eh, "dsn"), "https://k@h/1");
    json_object *sdk;
    assert_true(json_object_object_get_ex(eh, "sdk", &sdk));
    assert_string_equal(get_str(sdk, "name"), "pipit");
    assert_string_equal(get_str(sdk, "version"), PIPIT_VERSION);
    assert_string_equal(get_str(ih, "type"), "transaction");
    assert_string_equal(get_str(ih, "content_type"), "application/json");
    assert_int_equal(plen, strlen(item));
    assert_memory_equal(payload, item, plen);
    json_object_put(eh);
    json_object_put(ih);

    size_t slen = 0;
    char *sent = pp_sentry_envelope_stamp(env, len, 1795514400123ull, &slen);
    assert_non_null(sent);
    assert_int_equal(strlen(sent), slen);
    assert_int_equal(count(sent, slen, "\"sent_at\""), 1);
    parse_envelope(sent, slen, &eh, &ih, &payload, &plen);
    assert_string_equal(get_str(eh, "sent_at"), "2026-11-24T10:00:00.123Z");
    assert_string_equal(get_str(eh, "event_id"), EID);
    assert_memory_equal(payload, item, plen);
    json_object_put(eh);
    json_object_put(ih);
    /* everything after the header line is untouched */
    assert_memory_equal(strchr(sent, '\n'), strchr(env, '\n'), len - (size_t)(strchr(env, '\n') - env));

    /* stamping twice is refused: a second sent_at gets envelopes rejected */
    assert_null(pp_sentry_envelope_stamp(sent, slen, 1795514400123ull, &slen));

    const char *out = getenv("SENTRY_ENVELOPE_OUT"); /* for checking with @sentry/core by hand */
    if (out) {
        FILE *f = fopen(out, "wb");
        assert_non_null(f);
        fwrite(sent, 1, strlen(sent), f);
        fclose(f);
    }
    free(sent);
    free(env);
}

static void test_event_without_dsn(void **state) {
    (void)state;
    size_t len = 0;
    char *env = pp_sentry_envelope_build("event", EID, NULL, "{}", 2, &len);
    assert_non_null(env);
    json_object *eh, *ih;
    const char *payload;
    size_t plen;
    parse_envelope(env, len, &eh, &ih, &payload, &plen);
    assert_null(get_str(eh, "dsn"));
    assert_string_equal(get_str(ih, "type"), "event");
    assert_int_equal(plen, 2);
    json_object_put(eh);
    json_object_put(ih);
    free(env);
}

static void test_stamp_edges(void **state) {
    (void)state;
    size_t n;
    char *s = pp_sentry_envelope_stamp("{}\n", 3, 0, &n);
    assert_string_equal(s, "{\"sent_at\":\"1970-01-01T00:00:00.000Z\"}\n");
    free(s);
    assert_null(pp_sentry_envelope_stamp("no header", 9, 0, &n));
    assert_null(pp_sentry_envelope_stamp("", 0, 0, &n));
    char ts[32];
    pp_sentry_rfc3339_ms(951782400999ull, ts); /* a leap day */
    assert_string_equal(ts, "2000-02-29T00:00:00.999Z");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_stamp),
        cmocka_unit_test(test_event_without_dsn),
        cmocka_unit_test(test_stamp_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
