/* test_sentry_ratelimit.c -- X-Sentry-Rate-Limits, Retry-After and deadlines. */
#include "testutil.h"
#include "exporters/sentry/sentry_ratelimit.h"

#define T0 1700000000000ull /* an arbitrary "now", ms */

static uint64_t until(const pp_sentry_ratelimit *rl, pp_sentry_category c, uint64_t now) {
    uint64_t u = 0;
    return pp_sentry_rl_limited(rl, c, now, &u) ? u : 0;
}

/* The spec's example: transactions for 60 s, default/error/security for 2700 s. */
static void test_spec_example(void **state) {
    (void)state;
    pp_sentry_ratelimit rl;
    pp_sentry_rl_init(&rl);
    assert_true(pp_sentry_rl_update(&rl, 429, "60:transaction:key, 2700:default;error;security:organization",
                                    NULL, T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_TRANSACTION, T0), T0 + 60000);
    assert_int_equal(until(&rl, PP_SENTRY_CAT_ERROR, T0), T0 + 2700000);
    assert_int_equal(until(&rl, PP_SENTRY_CAT_DEFAULT, T0), T0 + 2700000);
    assert_int_equal(until(&rl, PP_SENTRY_CAT_SECURITY, T0), T0 + 2700000);
    assert_false(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_SPAN, T0, NULL));
    /* limits end exactly at the deadline */
    assert_true(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_TRANSACTION, T0 + 59999, NULL));
    assert_false(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_TRANSACTION, T0 + 60000, NULL));
    assert_true(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_ERROR, T0 + 60000, NULL));
}

static void test_header_on_200_and_all(void **state) {
    (void)state;
    pp_sentry_ratelimit rl;
    pp_sentry_rl_init(&rl);
    /* a 200 may carry limits too; an empty category list means all */
    assert_true(pp_sentry_rl_update(&rl, 200, "30::organization", NULL, T0));
    for (int c = 0; c < PP_SENTRY_CAT_COUNT; c++)
        assert_int_equal(until(&rl, (pp_sentry_category)c, T0), T0 + 30000);
    /* a 200 without the header changes nothing */
    assert_false(pp_sentry_rl_update(&rl, 200, NULL, "999", T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_ERROR, T0), T0 + 30000);
}

static void test_float_spaces_unknown(void **state) {
    (void)state;
    pp_sentry_ratelimit rl;
    pp_sentry_rl_init(&rl);
    /* float rounded up, spaces ignored, unknown categories beside known ones skipped */
    assert_true(pp_sentry_rl_update(&rl, 200, " 2.1 : error ; bogus : org : reason : ns", NULL, T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_ERROR, T0), T0 + 3000);
    assert_false(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_TRANSACTION, T0, NULL));
    /* an entry with only unknown categories is dropped */
    assert_false(pp_sentry_rl_update(&rl, 200, "100:profile;replay:key", NULL, T0));
    assert_false(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_TRANSACTION, T0, NULL));
    assert_false(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_ALL, T0, NULL));
    /* 0.001 rounds up to a whole second */
    assert_true(pp_sentry_rl_update(&rl, 200, "0.001:span", NULL, T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_SPAN, T0), T0 + 1000);
    /* a bad number counts as 60 s, like the SDKs */
    assert_true(pp_sentry_rl_update(&rl, 200, "soon:log_item", NULL, T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_LOG_ITEM, T0), T0 + 60000);
}

static void test_later_deadline_wins(void **state) {
    (void)state;
    pp_sentry_ratelimit rl;
    pp_sentry_rl_init(&rl);
    assert_true(pp_sentry_rl_update(&rl, 200, "100:transaction", NULL, T0));
    assert_true(pp_sentry_rl_update(&rl, 200, "10:transaction", NULL, T0 + 1000));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_TRANSACTION, T0), T0 + 100000);
    /* "all" and the category: the later of both applies */
    assert_true(pp_sentry_rl_update(&rl, 200, "200:", NULL, T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_TRANSACTION, T0), T0 + 200000);
    assert_true(pp_sentry_rl_update(&rl, 200, "300:transaction", NULL, T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_TRANSACTION, T0), T0 + 300000);
    assert_int_equal(until(&rl, PP_SENTRY_CAT_ERROR, T0), T0 + 200000);
}

static void test_429_retry_after(void **state) {
    (void)state;
    pp_sentry_ratelimit rl;
    pp_sentry_rl_init(&rl);
    assert_true(pp_sentry_rl_update(&rl, 429, NULL, "120", T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_ERROR, T0), T0 + 120000);
    assert_int_equal(until(&rl, PP_SENTRY_CAT_TRANSACTION, T0), T0 + 120000);

    /* HTTP date: T0 is 2023-11-14T22:13:20Z */
    pp_sentry_rl_init(&rl);
    assert_true(pp_sentry_rl_update(&rl, 429, NULL, "Tue, 14 Nov 2023 22:14:05 GMT", T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_SPAN, T0), T0 + 45000);
    /* a date in the past limits nothing */
    pp_sentry_rl_init(&rl);
    assert_true(pp_sentry_rl_update(&rl, 429, NULL, "Tue, 14 Nov 2023 22:00:00 GMT", T0));
    assert_false(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_SPAN, T0, NULL));

    /* a bare 429, or an unreadable Retry-After: 60 s for everything */
    const char *bad[] = {NULL, "", "later", "Tue, 14 Nov 2023 22:14:05 UTC", "-5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pp_sentry_rl_init(&rl);
        assert_true(pp_sentry_rl_update(&rl, 429, NULL, bad[i], T0));
        assert_int_equal(until(&rl, PP_SENTRY_CAT_DEFAULT, T0), T0 + 60000);
    }
    /* X-Sentry-Rate-Limits wins over Retry-After on a 429 */
    pp_sentry_rl_init(&rl);
    assert_true(pp_sentry_rl_update(&rl, 429, "5:error", "120", T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_ERROR, T0), T0 + 5000);
    assert_false(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_TRANSACTION, T0, NULL));
    /* ... unless it names nothing known: then the 429 still limits everything */
    pp_sentry_rl_init(&rl);
    assert_true(pp_sentry_rl_update(&rl, 429, "5:profile", "7", T0));
    assert_int_equal(until(&rl, PP_SENTRY_CAT_TRANSACTION, T0), T0 + 7000);
    /* other statuses without the header: no limit */
    assert_false(pp_sentry_rl_update(&rl, 503, NULL, "30", T0 + 10000));
    assert_false(pp_sentry_rl_limited(&rl, PP_SENTRY_CAT_TRANSACTION, T0 + 10000, NULL));
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(pp_sentry_category_name(PP_SENTRY_CAT_ALL), "all");
    assert_string_equal(pp_sentry_category_name(PP_SENTRY_CAT_TRANSACTION), "transaction");
    assert_string_equal(pp_sentry_category_name(PP_SENTRY_CAT_LOG_ITEM), "log_item");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),   cmocka_unit_test(test_header_on_200_and_all),
        cmocka_unit_test(test_float_spaces_unknown), cmocka_unit_test(test_later_deadline_wins),
        cmocka_unit_test(test_429_retry_after), cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
