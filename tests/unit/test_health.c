/* test_health.c -- component health, its JSON body and the health_check extension. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "component.h"
#include "health.h"
#include "testutil.h"

/* The rendered body, parsed; *status receives the HTTP status. */
static json_object *render(pp_health *h, int *status) {
    char *body = pp_health_render(h, status);
    assert_non_null(body);
    json_object *o = json_tokener_parse(body);
    assert_non_null(o);
    free(body);
    return o;
}

static const char *get_str(json_object *o, const char *path1, const char *path2, const char *key) {
    json_object *v = o;
    if (path1) assert_true(json_object_object_get_ex(v, path1, &v));
    if (path2) assert_true(json_object_object_get_ex(v, path2, &v));
    if (!json_object_object_get_ex(v, key, &v)) return NULL;
    return json_object_get_string(v);
}

static void test_render_states(void **state) {
    (void)state;
    pp_health *h = pp_health_new();
    int status;
    json_object *o = render(h, &status);
    assert_int_equal(status, 503); /* not ready yet */
    assert_string_equal(get_str(o, NULL, NULL, "status"), "Server not available");
    json_object_put(o);

    pp_health_report(h, "receiver/otlp", PP_HEALTH_OK, NULL);
    pp_health_report(h, "exporter/otlp/jaeger", PP_HEALTH_STARTING, NULL);
    pp_health_report(h, "exporter/otlp/jaeger", PP_HEALTH_OK, NULL); /* replaces */
    pp_health_set_ready(h, true);
    assert_true(pp_health_ready(h));
    o = render(h, &status);
    assert_int_equal(status, 200);
    assert_string_equal(get_str(o, NULL, NULL, "status"), "Server available");
    assert_string_equal(get_str(o, NULL, NULL, "healthy"), "true");
    assert_string_equal(get_str(o, "components", "exporter/otlp/jaeger", "status"), "ok");
    assert_string_equal(get_str(o, "components", "receiver/otlp", "status"), "ok");
    assert_null(get_str(o, "components", "receiver/otlp", "message"));
    const char *since = get_str(o, NULL, NULL, "upSince");
    assert_true(since && strlen(since) == 24 && since[23] == 'Z');
    const char *uptime = get_str(o, NULL, NULL, "uptime"); /* "0s", "12ms", "1.5s" */
    assert_true(uptime && strlen(uptime) >= 2 && uptime[strlen(uptime) - 1] == 's');
    json_object_put(o);

    /* A failing exporter keeps 200 (as the Collector does) but shows it. */
    pp_health_report(h, "exporter/otlp/jaeger", PP_HEALTH_RECOVERABLE_ERROR,
                     "send failed: 503 \"Service Unavailable\"");
    o = render(h, &status);
    assert_int_equal(status, 200);
    assert_string_equal(get_str(o, NULL, NULL, "healthy"), "false");
    assert_string_equal(get_str(o, "components", "exporter/otlp/jaeger", "status"),
                        "recoverable_error");
    assert_string_equal(get_str(o, "components", "exporter/otlp/jaeger", "message"),
                        "send failed: 503 \"Service Unavailable\"");
    json_object_put(o);

    /* Degraded is not an error. */
    pp_health_report(h, "exporter/otlp/jaeger", PP_HEALTH_DEGRADED, "buffer 91% full");
    o = render(h, &status);
    assert_int_equal(status, 200);
    assert_string_equal(get_str(o, NULL, NULL, "healthy"), "true");
    assert_string_equal(get_str(o, "components", "exporter/otlp/jaeger", "status"), "degraded");
    json_object_put(o);

    /* A permanent error makes the service unavailable. */
    pp_health_report(h, "receiver/otlp", PP_HEALTH_PERMANENT_ERROR, "bind failed");
    o = render(h, &status);
    assert_int_equal(status, 503);
    assert_string_equal(get_str(o, NULL, NULL, "status"), "Server not available");
    json_object_put(o);
    pp_health_free(h);
}

static void test_exact_body(void **state) {
    (void)state;
    pp_health *h = pp_health_new();
    pp_health_set_ready(h, true);
    pp_health_report(h, "processor/batch", PP_HEALTH_OK, NULL);
    pp_health_report(h, "exporter/sentry", PP_HEALTH_STOPPING, "line\n\"two\"");
    int status;
    char *body = pp_health_render(h, &status);
    assert_int_equal(status, 200);
    /* Skip upSince and uptime, which move; the rest is exact and sorted by id. */
    const char *rest = strstr(body, "\",\"healthy\"");
    assert_non_null(rest);
    assert_memory_equal(body, "{\"status\":\"Server available\",\"upSince\":\"", 40);
    assert_string_equal(rest, "\",\"healthy\":true,\"components\":{"
                              "\"exporter/sentry\":{\"status\":\"stopping\",\"message\":\"line\\n\\\"two\\\"\"},"
                              "\"processor/batch\":{\"status\":\"ok\"}}}");
    free(body);
    assert_string_equal(pp_health_state_name(PP_HEALTH_RECOVERABLE_ERROR), "recoverable_error");
    pp_health_free(h);
}

typedef struct hc_config {
    char *endpoint;
    char *path;
} hc_config;

typedef struct hc_fixture {
    const pp_factory *f;
    hc_config cfg;
    pp_health *health;
    pp_host host;
    void *inst;
    char url[128];
} hc_fixture;

/* Creates the extension on a free 127.0.0.1 port (or on port when non-zero). */
static void hc_create(hc_fixture *x, uint16_t port, const char *path) {
    memset(x, 0, sizeof(*x));
    x->f = pp_registry_find(PP_EXTENSION, "health_check");
    assert_non_null(x->f);
    assert_int_equal(x->f->config_size, sizeof(hc_config));
    x->f->config_defaults(&x->cfg);
    assert_string_equal(x->cfg.endpoint, "localhost:13133");
    assert_string_equal(x->cfg.path, "/");
    if (!port) port = tu_free_port();
    free(x->cfg.endpoint);
    x->cfg.endpoint = malloc(32);
    snprintf(x->cfg.endpoint, 32, "127.0.0.1:%u", port);
    if (path) {
        free(x->cfg.path);
        x->cfg.path = strdup(path);
    }
    snprintf(x->url, sizeof(x->url), "http://127.0.0.1:%u%s", port, x->cfg.path);
    x->health = pp_health_new();
    x->host.health = x->health;
    pp_status st;
    pp_status_clear(&st);
    pp_create_params p = {.id = "health_check", .config = &x->cfg, .host = &x->host};
    x->inst = x->f->create(&p, &st);
    assert_non_null(x->inst);
}

static void hc_destroy(hc_fixture *x) {
    x->f->destroy(x->inst);
    free(x->cfg.endpoint);
    free(x->cfg.path);
    pp_health_free(x->health);
}

static void test_extension_serves_health(void **state) {
    (void)state;
    hc_fixture x;
    hc_create(&x, 0, "/health/status");
    pp_status st;
    pp_status_clear(&st);
    assert_int_equal(x.f->start(x.inst, &x.host, &st), 0);
    char *body, *ctype;
    assert_int_equal(tu_http("GET", x.url, &body, &ctype), 503); /* not ready */
    assert_non_null(strstr(body, "\"status\":\"Server not available\""));
    assert_string_equal(ctype, "application/json");
    free(body);
    free(ctype);
    pp_health_report(x.health, "exporter/otlp", PP_HEALTH_OK, NULL);
    pp_health_set_ready(x.health, true);
    assert_int_equal(tu_http("GET", x.url, &body, NULL), 200);
    assert_non_null(strstr(body, "\"components\":{\"exporter/otlp\":{\"status\":\"ok\"}}"));
    free(body);
    assert_int_equal(tu_http("POST", x.url, NULL, NULL), 405);
    char other[160];
    snprintf(other, sizeof(other), "%s/x", x.url);
    assert_int_equal(tu_http("GET", other, NULL, NULL), 404);

    /* Shutdown turns health unavailable at once, then closes the port. */
    x.f->shutdown(x.inst, &x.host);
    assert_false(pp_health_ready(x.health));
    int code;
    free(pp_health_render(x.health, &code));
    assert_int_equal(code, 503);
    assert_int_equal(tu_http("GET", x.url, NULL, NULL), 0); /* connection refused */
    hc_destroy(&x);
}

static void test_extension_port_in_use(void **state) {
    (void)state;
    uint16_t port = 0;
    int fd = tu_listen(&port);
    assert_true(fd >= 0);
    hc_fixture x;
    hc_create(&x, port, NULL);
    pp_status st;
    pp_status_clear(&st);
    assert_int_equal(x.f->start(x.inst, &x.host, &st), -1);
    char want[96];
    snprintf(want, sizeof(want), "listen on 127.0.0.1:%u: Address already in use", port);
    assert_string_equal(st.msg, want);
    close(fd);
    hc_destroy(&x); /* destroy without a successful start */
}

static void test_extension_bad_path(void **state) {
    (void)state;
    hc_fixture x;
    hc_create(&x, 0, "health");
    pp_status st;
    pp_status_clear(&st);
    assert_int_equal(x.f->start(x.inst, &x.host, &st), -1);
    assert_int_equal(st.code, PP_INVALID);
    assert_string_equal(st.msg, "extensions.health_check.path: must start with '/'");
    hc_destroy(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_states),
        cmocka_unit_test(test_exact_body),
        cmocka_unit_test(test_extension_serves_health),
        cmocka_unit_test(test_extension_port_in_use),
        cmocka_unit_test(test_extension_bad_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
