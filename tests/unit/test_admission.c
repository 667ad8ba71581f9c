/* Unit tests: the admission gate receivers check before decoding (admission.h). */
#include "testutil.h"

#include <pthread.h>
#include <string.h>

#include "admission.h"

#define MIB (1024ull * 1024ull)

static void test_no_limits_admits_everything(void **state) {
    (void)state;
    pp_admission *a = pp_admission_new();
    pp_status st = {0};
    pp_admission_set_usage(a, 100000 * MIB);
    assert_int_equal(pp_admission_acquire(a, 1000 * MIB, &st), 0);
    assert_int_equal(pp_admission_in_flight(a), 1000 * MIB * PP_ADMISSION_DECODE_FACTOR);
    pp_admission_release(a, 1000 * MIB);
    assert_int_equal(pp_admission_in_flight(a), 0);
    pp_admission_free(a);
}

static void test_soft_limit_counts_usage_and_reservations(void **state) {
    (void)state;
    pp_admission *a = pp_admission_new();
    pp_status st = {0};
    pp_admission_set_limit(a, 400 * MIB, 500 * MIB);
    pp_admission_set_usage(a, 300 * MIB);
    /* 300 + 4 x 20 = 380 <= 400 */
    assert_int_equal(pp_admission_acquire(a, 20 * MIB, &st), 0);
    assert_int_equal(pp_admission_in_flight(a), 80 * MIB);
    /* 380 + 4 x 5 = 400: exactly at the limit still fits */
    assert_int_equal(pp_admission_acquire(a, 5 * MIB, &st), 0);
    /* one more byte does not */
    assert_int_equal(pp_admission_acquire(a, 1, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_int_equal(st.retry_after_ms, 1000);
    assert_non_null(strstr(st.msg, "400 MiB in use, soft limit 400 MiB; retry later"));
    assert_int_equal(pp_admission_in_flight(a), 100 * MIB);

    pp_admission_release(a, 20 * MIB);
    pp_status_clear(&st);
    assert_int_equal(pp_admission_acquire(a, 1, &st), 0);
    pp_admission_release(a, 1);
    pp_admission_release(a, 5 * MIB);
    assert_int_equal(pp_admission_in_flight(a), 0);

    /* measured usage alone above the soft limit refuses even small requests */
    pp_admission_set_usage(a, 401 * MIB);
    pp_admission_set_retry_after(a, 250);
    assert_int_equal(pp_admission_acquire(a, 10, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_int_equal(st.retry_after_ms, 250);
    pp_admission_set_usage(a, 100 * MIB);
    assert_int_equal(pp_admission_acquire(a, 10, &st), 0);
    pp_admission_release(a, 10);
    pp_admission_free(a);
}

static void test_oversize_request_is_too_large_not_unavailable(void **state) {
    (void)state;
    pp_admission *a = pp_admission_new();
    pp_status st = {0};
    pp_admission_set_limit(a, 400 * MIB, 500 * MIB);
    /* 4 x 126 MiB = 504 MiB > hard: can never fit, retrying would loop */
    assert_int_equal(pp_admission_acquire(a, 126 * MIB, &st), -1);
    assert_int_equal(st.code, PP_TOO_LARGE);
    assert_non_null(strstr(st.msg, "memory limit of 500 MiB"));
    assert_int_equal(pp_admission_in_flight(a), 0);
    pp_admission_free(a);
}

static void test_smallest_limit_wins_and_zero_turns_off(void **state) {
    (void)state;
    pp_admission *a = pp_admission_new();
    pp_status st = {0};
    pp_admission_set_limit(a, 400 * MIB, 500 * MIB);
    pp_admission_set_limit(a, 800 * MIB, 1000 * MIB); /* a second, looser limiter */
    pp_admission_set_usage(a, 390 * MIB);
    assert_int_equal(pp_admission_acquire(a, 4 * MIB, &st), -1); /* 406 > 400 */
    pp_admission_set_limit(a, 100 * MIB, 120 * MIB);             /* a stricter one */
    pp_admission_set_usage(a, 0);
    assert_int_equal(pp_admission_acquire(a, 31 * MIB, &st), -1);
    assert_int_equal(st.code, PP_TOO_LARGE); /* 124 > 120 */
    pp_admission_set_limit(a, 0, 0);
    assert_int_equal(pp_admission_acquire(a, 31 * MIB, &st), 0);
    pp_admission_release(a, 31 * MIB);
    pp_admission_free(a);
}

/* ---- concurrency: in_flight stays exact and never passes the soft limit ---- */
typedef struct worker_arg {
    pp_admission *a;
    uint64_t soft;
    int admitted, refused;
    int over; /* times this thread saw in_flight above the limit */
} worker_arg;

static void *worker(void *p) {
    worker_arg *w = p;
    for (int i = 0; i < 20000; i++) {
        size_t n = 1000 + (size_t)(i % 7) * 100;
        pp_status st = {0};
        if (pp_admission_acquire(w->a, n, &st) == 0) {
            if (pp_admission_in_flight(w->a) > w->soft) w->over++;
            w->admitted++;
            pp_admission_release(w->a, n);
        } else {
            w->refused++;
        }
    }
    return NULL;
}

static void test_concurrent_acquire_release_keeps_in_flight_exact(void **state) {
    (void)state;
    pp_admission *a = pp_admission_new();
    /* room for about three requests at once, so four threads contend */
    uint64_t soft = 3 * 1600 * PP_ADMISSION_DECODE_FACTOR;
    pp_admission_set_limit(a, soft, soft * 2);
    worker_arg args[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){.a = a, .soft = soft};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    int admitted = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].over, 0);
        admitted += args[i].admitted;
        assert_int_equal(args[i].admitted + args[i].refused, 20000);
    }
    assert_true(admitted > 0);
    assert_int_equal(pp_admission_in_flight(a), 0);
    pp_admission_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_limits_admits_everything),
        cmocka_unit_test(test_soft_limit_counts_usage_and_reservations),
        cmocka_unit_test(test_oversize_request_is_too_large_not_unavailable),
        cmocka_unit_test(test_smallest_limit_wins_and_zero_turns_off),
        cmocka_unit_test(test_concurrent_acquire_release_keeps_in_flight_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
