/* test_prw_names.c -- metric, unit and label names; label value text. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "exporters/prometheusremotewrite/prw_names.h"
#include "exporters/prometheusremotewrite/prw_value.h"

#define G PP_PRW_NAME_GAUGE
#define C PP_PRW_NAME_COUNTER
#define O PP_PRW_NAME_OTHER

typedef struct name_case {
    const char *name, *unit;
    pp_prw_name_kind kind;
    const char *ns;
    bool suffixes;
    const char *want; /* NULL: invalid */
} name_case;

static const name_case NAME_CASES[] = {
    {"http.server.duration", "s", O, NULL, true, "http_server_duration_seconds"},
    {"latency", "ms", O, NULL, true, "latency_milliseconds"},
    {"uptime", "s", G, NULL, true, "uptime_seconds"},
    {"memory.usage", "By", G, NULL, true, "memory_usage_bytes"},
    {"heap", "KiBy", G, NULL, true, "heap_kibibytes"},
    {"heap", "MiBy", G, NULL, true, "heap_mebibytes"},
    {"disk", "GiBy", G, NULL, true, "disk_gibibytes"},
    {"disk", "TiBy", G, NULL, true, "disk_tibibytes"},
    {"net", "KBy", G, NULL, true, "net_kilobytes"},
    {"net", "kBy", G, NULL, true, "net_kilobytes"},
    {"net", "MBy", G, NULL, true, "net_megabytes"},
    {"net", "GBy", G, NULL, true, "net_gigabytes"},
    {"net", "TBy", G, NULL, true, "net_terabytes"},
    {"age", "d", G, NULL, true, "age_days"},
    {"age", "h", G, NULL, true, "age_hours"},
    {"age", "min", G, NULL, true, "age_minutes"},
    {"wait", "us", O, NULL, true, "wait_microseconds"},
    {"wait", "ns", O, NULL, true, "wait_nanoseconds"},
    {"distance", "m", G, NULL, true, "distance_meters"},
    {"voltage", "V", G, NULL, true, "voltage_volts"},
    {"current", "A", G, NULL, true, "current_amperes"},
    {"energy", "J", C, NULL, true, "energy_joules_total"},
    {"power", "W", G, NULL, true, "power_watts"},
    {"mass", "g", G, NULL, true, "mass_grams"},
    {"temperature", "Cel", G, NULL, true, "temperature_celsius"},
    {"clock", "Hz", G, NULL, true, "clock_hertz"},
    {"cpu.utilization", "1", G, NULL, true, "cpu_utilization_ratio"},
    {"requests", "1", C, NULL, true, "requests_total"},
    {"queue.size", "1", O, NULL, true, "queue_size"},
    {"disk.usage", "%", G, NULL, true, "disk_usage_percent"},
    {"http.requests", "{requests}", C, NULL, true, "http_requests_total"},
    {"speed", "m/s", G, NULL, true, "speed_meters_per_second"},
    {"throughput", "By/s", G, NULL, true, "throughput_bytes_per_second"},
    {"packets", "{packet}/s", G, NULL, true, "packets_per_second"},
    {"rate", "1/h", G, NULL, true, "rate_per_hour"},
    {"events", "/min", G, NULL, true, "events_per_min"},
    {"x", "By/{packet}", G, NULL, true, "x_bytes"},
    {"x", "s/", G, NULL, true, "x_seconds"},
    {"memory", " By ", G, NULL, true, "memory_bytes"},
    {"widgets", "furlong", G, NULL, true, "widgets_furlong"},
    {"widgets", "foo.bar-baz", G, NULL, true, "widgets_foo_bar_baz"},
    {"duration_seconds", "s", O, NULL, true, "duration_seconds"},
    {"requests_total", "", C, NULL, true, "requests_total"},
    {"total_requests", "", C, NULL, true, "requests_total"},
    {"seconds.total", "s", C, NULL, true, "seconds_total"},
    {"cpu.ratio", "1", G, NULL, true, "cpu_ratio"},
    {"bytes_per_second", "By/s", G, NULL, true, "bytes_per_second"},
    {"http-server.request__count", "", O, NULL, true, "http_server_request_count"},
    {"h\xc3\xa9llo.w\xc3\xb6rld", "", O, NULL, true, "h_llo_w_rld"},
    {"2xx.responses", "", C, NULL, true, "_2xx_responses_total"},
    {"__name__weird_", "", O, NULL, true, "name_weird"},
    {"foo:bar", "", O, NULL, true, "foo:bar"},
    {"...", "s", G, NULL, true, NULL},
    {"", "", G, NULL, true, NULL},
    {"requests", "1", C, "myapp", true, "myapp_requests_total"},
    {"x", "s", G, "my.app", true, "my_app_x_seconds"},
    {"http.server.duration", "s", O, NULL, false, "http_server_duration"},
    {"a__b..c", "s", C, NULL, false, "a__b_c"},
    {"req.total", "", C, "ns", false, "ns_req_total"},
    {"9lives", "", G, NULL, false, "_9lives"},
};

static void test_metric_names(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0);
    for (size_t i = 0; i < sizeof NAME_CASES / sizeof NAME_CASES[0]; i++) {
        const name_case *tc = &NAME_CASES[i];
        char *got = pp_prw_metric_name(a, tc->name, tc->unit, tc->kind, tc->ns, tc->suffixes);
        if (!tc->want) {
            if (got) fail_msg("case %zu (%s): want invalid, got %s", i, tc->name, got);
            continue;
        }
        if (!got || strcmp(got, tc->want) != 0)
            fail_msg("case %zu (%s, %s): want %s, got %s", i, tc->name, tc->unit, tc->want,
                     got ? got : "(null)");
    }
    pp_arena_destroy(a);
}

static void test_unit_names(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"By/s", "bytes_per_second"}, {"1", ""}, {"{req}", ""}, {"{req}/s", "per_second"},
        {"ms", "milliseconds"}, {"furlong", "furlong"}, {"%", "percent"}, {"", ""},
        {"m/s", "meters_per_second"},
    };
    pp_arena *a = pp_arena_new(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(pp_prw_unit_name(a, cases[i][0]), cases[i][1]);
    pp_arena_destroy(a);
}

static void test_label_names(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"http.method", "http_method"}, {"123abc", "key_123abc"}, {"9", "key_9"},
        {"__reserved__", "__reserved__"}, {"__a.b__", "__a_b__"}, {"__name", "_name"},
        {"_private", "_private"}, {"a__b", "a_b"}, {"a..b", "a_b"}, {"a._b", "a_b"},
        {"\xc3\xbcmlaut", "_mlaut"}, {"net.peer-name", "net_peer_name"},
        {"trailing.", "trailing_"}, {"Upper.Case", "Upper_Case"}, {"a:b", "a_b"},
        {"", NULL}, {"...", NULL}, {"____", NULL}, {"_", NULL},
    };
    pp_arena *a = pp_arena_new(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = pp_prw_label_name(a, cases[i][0]);
        if (!cases[i][1]) {
            if (got) fail_msg("label %s: want invalid, got %s", cases[i][0], got);
        } else {
            if (!got || strcmp(got, cases[i][1]))
                fail_msg("label %s: want %s, got %s", cases[i][0], cases[i][1], got ? got : "(null)");
        }
    }
    pp_arena_destroy(a);
}

static void check_float(double v, const char *want) {
    char buf[PP_PRW_FLOAT_TEXT_MAX];
    size_t n = pp_prw_float_text(v, buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_float_text(void **state) {
    (void)state;
    check_float(0.5, "0.5");
    check_float(100, "100");
    check_float(1e-9, "0.000000001");
    check_float(0.1, "0.1");
    check_float(1e21, "1000000000000000000000");
    check_float(2.5e-5, "0.000025");
    check_float(123.456, "123.456");
    check_float(-3, "-3");
    check_float(0.1 + 0.2, "0.30000000000000004");
    check_float(0, "0");
    check_float(INFINITY, "+Inf");
    check_float(-INFINITY, "-Inf");
    check_float(NAN, "NaN");
    char buf[PP_PRW_FLOAT_TEXT_MAX];
    assert_int_equal(pp_prw_float_text(1.7976931348623157e308, buf), 309);
    assert_memory_equal(buf, "17976931348623157", 17);
    assert_int_equal(pp_prw_float_text(-5e-324, buf), 327);
}

static void test_value_text(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0);
    pp_any_value i = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT, d = i, b = i, by = i, s = i,
                 arr = i, map = i, unset = i;
    i.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    i.int_value = -42;
    d.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    d.double_value = 1.5;
    b.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    b.bool_value = 1;
    uint8_t raw[] = {1, 2, 3, 4};
    by.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
    by.bytes_value = (ProtobufCBinaryData){4, raw};
    s.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    s.string_value = "a\"b";
    pp_any_value *items[] = {&i, &s, &b, &unset};
    pp_array_value av = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    av.n_values = 4;
    av.values = items;
    arr.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    arr.array_value = &av;
    pp_key_value kb, ka;
    opentelemetry__proto__common__v1__key_value__init(&kb);
    opentelemetry__proto__common__v1__key_value__init(&ka);
    kb.key = "b";
    kb.value = &d;
    ka.key = "a";
    ka.value = &by;
    pp_key_value *kvs[] = {&kb, &ka};
    pp_kv_list_value kl = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    kl.n_values = 2;
    kl.values = kvs;
    map.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    map.kvlist_value = &kl;
    assert_string_equal(pp_prw_value_text(a, &i), "-42");
    assert_string_equal(pp_prw_value_text(a, &d), "1.5");
    assert_string_equal(pp_prw_value_text(a, &b), "true");
    assert_string_equal(pp_prw_value_text(a, &by), "AQIDBA==");
    assert_string_equal(pp_prw_value_text(a, &s), "a\"b");
    assert_string_equal(pp_prw_value_text(a, &arr), "[-42,\"a\\\"b\",true,null]");
    assert_string_equal(pp_prw_value_text(a, &map), "{\"a\":\"AQIDBA==\",\"b\":1.5}");
    assert_string_equal(pp_prw_value_text(a, &unset), "");
    assert_string_equal(pp_prw_value_text(a, NULL), "");
    pp_arena_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metric_names), cmocka_unit_test(test_unit_names),
        cmocka_unit_test(test_label_names), cmocka_unit_test(test_float_text),
        cmocka_unit_test(test_value_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
