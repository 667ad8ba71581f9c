/* Unit tests: the memory_limiter processor -- config validation, limits from
 * percentages, refusing above the soft limit (processor and admission gate),
 * recovery, health, and the total-memory reader on fake /sys and /proc. */
#include "testutil.h"
#include "testutil_world.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admission.h"
#include "processors/memory_limiter/memory_probe.h"

#define MIB ((uint64_t)1024 * 1024)

static uint64_t fake_usage, fake_total;
static uint64_t usage_probe(void) { return fake_usage; }
static uint64_t total_probe(void) { return fake_total; }

static const char *const pipeline_yaml =
    "receivers: {tu_recv: }\n"
    "exporters: {tu_exp: }\n"
    "service:\n"
    "  pipelines:\n"
    "    traces: {receivers: [tu_recv], processors: [memory_limiter], exporters: [tu_exp]}\n"
    "    metrics: {receivers: [tu_recv], processors: [memory_limiter], exporters: [tu_exp]}\n";

static char *with_limiter(const char *limiter) {
    char *yaml = malloc(strlen(limiter) + strlen(pipeline_yaml) + 64);
    sprintf(yaml, "processors:\n  memory_limiter: %s\n%s", limiter, pipeline_yaml);
    return yaml;
}

static void test_config_errors_have_paths(void **state) {
    (void)state;
    static const struct { const char *limiter, *path, *msg; } cases[] = {
        {"{limit_mib: 100}", ".check_interval", "check_interval must be greater than zero"},
        {"{check_interval: 0s, limit_mib: 100}", ".check_interval", "greater than zero"},
        {"{check_interval: 1s, limit_mib: 100, limit_percentage: 50}", "", "not both"},
        {"{check_interval: 1s}", "", "'limit_mib' or 'limit_percentage' must be greater than zero"},
        {"{check_interval: 1s, limit_mib: 100, spike_limit_mib: 100}", ".spike_limit_mib",
         "must be smaller than limit_mib (100)"},
        {"{check_interval: 1s, limit_percentage: 50, spike_limit_percentage: 60}",
         ".spike_limit_percentage", "must be smaller than limit_percentage (50)"},
        {"{check_interval: 1s, limit_percentage: 101}", ".limit_percentage", "at most 100"},
        {"{check_interval: 1s, limit_mib: 100, spike_limit_percentage: 10}",
         ".spike_limit_percentage", "goes with limit_percentage"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *yaml = with_limiter(cases[i].limiter), path[128];
        snprintf(path, sizeof(path), "processors.memory_limiter%s", cases[i].path);
        pp_diag d;
        pp_diag_init(&d);
        const char *texts[] = {yaml};
        const char *names[] = {"test.yaml"};
        assert_null(pp_config_load_texts(texts, names, 1, &d));
        if (!pp_diag_has(&d, path, cases[i].msg)) pp_diag_print(&d, stderr);
        assert_true(pp_diag_has(&d, path, cases[i].msg));
        pp_diag_free(&d);
        free(yaml);
    }
}

static tu_world *start_world(const char *limiter) {
    char *yaml = with_limiter(limiter);
    tu_world *w = tu_world_new(yaml);
    free(yaml);
    pp_status st = {0};
    if (pp_service_start(w->svc, &st) != 0) fprintf(stderr, "start: %s\n", st.msg);
    assert_int_equal(st.code, PP_OK);
    return w;
}

/* Whether the gate admits a request of n encoded bytes (released at once). */
static pp_code admit(tu_world *w, size_t n) {
    pp_status st = {0};
    if (pp_admission_acquire(w->host.admission, n, &st) == 0) pp_admission_release(w->host.admission, n);
    return st.code;
}

static void test_percentages_resolve_from_total(void **state) {
    (void)state;
    fake_total = 1000 * MIB;
    fake_usage = 599 * MIB;
    /* hard 800 MiB, soft 800 - 200 = 600 MiB */
    tu_world *w = start_world("{check_interval: 1s, limit_percentage: 80, spike_limit_percentage: 20}");
    assert_int_equal(admit(w, MIB / 4), PP_OK);        /* 599 + 1 = 600 */
    assert_int_equal(admit(w, MIB), PP_UNAVAILABLE);   /* 599 + 4 > 600 */
    assert_int_equal(admit(w, 201 * MIB), PP_TOO_LARGE); /* 804 > 800 */
    tu_world_free(w);

    /* default spike: 20% of the limit -> hard 500, soft 400 */
    fake_usage = 399 * MIB;
    w = start_world("{check_interval: 1s, limit_percentage: 50}");
    assert_int_equal(admit(w, MIB / 4), PP_OK);
    assert_int_equal(admit(w, MIB / 2), PP_UNAVAILABLE);
    tu_world_free(w);
}

static const char *health_of(tu_world *w, const char *id) {
    static char out[64];
    int status;
    char *body = pp_health_render(w->host.health, &status);
    json_object *o = json_tokener_parse(body), *v = NULL;
    free(body);
    out[0] = '\0';
    if (json_object_object_get_ex(o, "components", &v) && json_object_object_get_ex(v, id, &v) &&
        json_object_object_get_ex(v, "status", &v))
        snprintf(out, sizeof(out), "%s", json_object_get_string(v));
    json_object_put(o);
    return out;
}

static uint64_t counter(tu_world *w, const char *name) {
    const char *labels[] = {"processor", "memory_limiter", NULL};
    return pp_counter_value(pp_counter_get(w->host.metrics, name, "", labels));
}

static void test_refuses_above_soft_limit_and_recovers(void **state) {
    (void)state;
    fake_usage = 50 * MIB;
    /* hard 100 MiB, soft 80 MiB */
    tu_world *w = start_world("{check_interval: 10ms, limit_mib: 100, spike_limit_mib: 20}");
    tu_recv *r = pp_service_instance(w->svc, PP_RECEIVER, "tu_recv", NULL);
    tu_exp *e = pp_service_instance(w->svc, PP_EXPORTER, "tu_exp", NULL);
    assert_non_null(r);
    assert_non_null(e);
    assert_string_equal(health_of(w, "processor/memory_limiter"), "ok");

    pp_status st = {0};
    pp_batch *t = tu_make_traces(1, 1, 5, 1), *m = tu_make_metrics(2, 3, 1);
    assert_int_equal(tu_recv_push(r, t, &st), 0);
    assert_int_equal(tu_recv_push(r, m, &st), 0);
    assert_int_equal(e->items[PP_TRACES], 5);
    assert_int_equal(e->items[PP_METRICS], 6);
    assert_int_equal(counter(w, "otelcol_processor_accepted_spans"), 5);
    assert_int_equal(counter(w, "otelcol_processor_accepted_metric_points"), 6);
    assert_int_equal(admit(w, MIB), PP_OK);

    /* usage passes the soft limit: the next check sees it */
    fake_usage = 90 * MIB;
    tu_world_run(w, 60);
    assert_int_equal(tu_recv_push(r, t, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_int_equal(st.retry_after_ms, 10);
    assert_non_null(strstr(st.msg, "high memory usage"));
    pp_status_clear(&st);
    assert_int_equal(tu_recv_push(r, m, &st), -1);
    assert_int_equal(st.code, PP_UNAVAILABLE);
    assert_int_equal(e->items[PP_TRACES], 5);
    assert_int_equal(counter(w, "otelcol_processor_refused_spans"), 5);
    assert_int_equal(counter(w, "otelcol_processor_refused_metric_points"), 6);
    assert_int_equal(admit(w, 1), PP_UNAVAILABLE);
    assert_int_equal(admit(w, 26 * MIB), PP_TOO_LARGE); /* 104 MiB decoded > 100 */
    assert_string_equal(health_of(w, "processor/memory_limiter"), "degraded");

    /* back below: accepted again, healthy again */
    fake_usage = 60 * MIB;
    tu_world_run(w, 60);
    pp_status_clear(&st);
    assert_int_equal(tu_recv_push(r, t, &st), 0);
    assert_int_equal(e->items[PP_TRACES], 10);
    assert_int_equal(counter(w, "otelcol_processor_accepted_spans"), 10);
    assert_int_equal(counter(w, "otelcol_processor_refused_spans"), 5);
    assert_int_equal(admit(w, MIB), PP_OK);
    assert_string_equal(health_of(w, "processor/memory_limiter"), "ok");

    pp_batch_unref(t);
    pp_batch_unref(m);
    tu_world_free(w);
}

/* ---- the total-memory reader on a fake root ---- */
static char root[64];
static void put(const char *rel, const char *text) {
    char path[256], dir[256];
    snprintf(path, sizeof(path), "%s%s", root, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(dir, 0700);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_total_memory_from_cgroup_or_meminfo(void **state) {
    (void)state;
    pp_memory_limiter_set_total_probe(NULL);
    snprintf(root, sizeof(root), "/tmp/pipit-memroot-XXXXXX");
    assert_non_null(mkdtemp(root));
    put("/proc/meminfo", "MemFree:  1000 kB\nMemTotal:       2048000 kB\nSwapTotal: 0 kB\n");
    assert_int_equal(pp_memory_total(root), 2048000ull * 1024);
    put("/sys/fs/cgroup/memory.max", "max\n"); /* v2, no limit */
    assert_int_equal(pp_memory_total(root), 2048000ull * 1024);
    put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"); /* v1 unlimited */
    assert_int_equal(pp_memory_total(root), 2048000ull * 1024);
    put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n"); /* v1 512 MiB */
    assert_int_equal(pp_memory_total(root), 512 * MIB);
    put("/sys/fs/cgroup/memory.max", "268435456\n"); /* v2 256 MiB wins */
    assert_int_equal(pp_memory_total(root), 256 * MIB);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
    pp_memory_limiter_set_total_probe(total_probe);
}

static void test_real_rss_is_measured(void **state) {
    (void)state;
    pp_memory_limiter_set_probe(NULL);
    uint64_t rss = pp_memory_usage();
    assert_true(rss > MIB);           /* any process with ASan has more */
    assert_true(rss < 64ull * 1024 * MIB);
    pp_memory_limiter_set_probe(usage_probe);
}

static int setup(void **state) {
    (void)state;
    tu_world_register_fakes();
    pp_memory_limiter_set_probe(usage_probe);
    pp_memory_limiter_set_total_probe(total_probe);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors_have_paths),
        cmocka_unit_test(test_percentages_resolve_from_total),
        cmocka_unit_test(test_refuses_above_soft_limit_and_recovers),
        cmocka_unit_test(test_total_memory_from_cgroup_or_meminfo),
        cmocka_unit_test(test_real_rss_is_measured),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
