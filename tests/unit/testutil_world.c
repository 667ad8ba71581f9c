/* testutil_world.c -- see testutil_world.h. */
#include "testutil.h"
#include "testutil_world.h"

#include <time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"

typedef struct tu_recv_cfg {
    pp_auth_cfg auth;
    bool auth_present;
} tu_recv_cfg;

static const pp_cfg_field tu_auth_schema[] = {
    {.key = "authenticator", .type = PP_CFG_STRING, .offset = offsetof(pp_auth_cfg, authenticator),
     .flags = PP_CFG_REQUIRED},
    {0}};
static const pp_cfg_field tu_recv_schema[] = {
    {.key = "auth", .type = PP_CFG_STRUCT, .offset = offsetof(tu_recv_cfg, auth),
     .children = tu_auth_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(tu_recv_cfg, auth_present)},
    {0}};

typedef struct recv_inst {
    tu_recv pub;
    const tu_recv_cfg *cfg;
} recv_inst;

static void *recv_create(const pp_create_params *p, pp_status *st) {
    (void)st;
    recv_inst *r = calloc(1, sizeof(*r));
    snprintf(r->pub.id, sizeof(r->pub.id), "%s", p->id);
    memcpy(r->pub.next, p->next, sizeof(r->pub.next));
    r->cfg = p->config;
    return r;
}

static int recv_start(void *inst, pp_host *h, pp_status *st) {
    recv_inst *r = inst;
    if (!r->cfg->auth_present) return 0;
    r->pub.auth = pp_host_authenticator(h, r->cfg->auth.authenticator);
    return r->pub.auth ? 0 : pp_fail(st, PP_INVALID, "no authenticator %s", r->cfg->auth.authenticator);
}

static const pp_factory tu_receiver = {
    .kind = PP_RECEIVER, .type = "tu_recv", .signals = 3, .config_size = sizeof(tu_recv_cfg),
    .schema = tu_recv_schema, .create = recv_create, .start = recv_start, .destroy = free};

static int exp_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    (void)st;
    ((tu_exp *)self)->items[b->signal] += b->items;
    return 0;
}
static void *exp_create(const pp_create_params *p, pp_status *st) {
    (void)p; (void)st;
    tu_exp *e = calloc(1, sizeof(*e));
    e->c.consume = exp_consume;
    return e;
}
static pp_consumer *exp_consumer(void *inst, pp_signal s) { (void)s; return &((tu_exp *)inst)->c; }
static const pp_factory tu_exporter = {
    .kind = PP_EXPORTER, .type = "tu_exp", .signals = 3, .create = exp_create,
    .consumer = exp_consumer, .destroy = free};

static const pp_factory *const tu_fakes[] = {&tu_receiver, &tu_exporter};

int tu_recv_push(tu_recv *r, pp_batch *b, pp_status *st) {
    pp_consumer *next = r->next[b->signal];
    assert_non_null(next);
    return pp_consume(next, b, st);
}

void tu_world_register_fakes(void) {
    pp_registry_set_extra(tu_fakes, sizeof(tu_fakes) / sizeof(tu_fakes[0]));
}

tu_world *tu_world_new(const char *yaml) {
    tu_world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    uv_loop_init(&w->loop);
    w->host.loop = &w->loop;
    w->host.metrics = pp_metrics_new();
    w->host.health = pp_health_new();
    w->host.admission = pp_admission_new();
    pp_diag d;
    pp_diag_init(&d);
    const char *texts[] = {yaml};
    const char *names[] = {"test.yaml"};
    w->cfg = pp_config_load_texts(texts, names, 1, &d);
    if (!w->cfg) pp_diag_print(&d, stderr);
    assert_non_null(w->cfg);
    pp_diag_free(&d);
    pp_status st = {0};
    w->svc = pp_service_build(w->cfg, &w->host, &st);
    if (!w->svc) fprintf(stderr, "build: %s\n", st.msg);
    assert_non_null(w->svc);
    return w;
}

void tu_world_stop(tu_world *w, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    w->host.shutdown_deadline_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + ms * 1000000LL;
    pp_service_shutdown(w->svc);
}

void tu_world_free(tu_world *w) {
    pp_service_shutdown(w->svc); /* does nothing after tu_world_stop */
    uv_run(&w->loop, UV_RUN_DEFAULT);
    pp_service_free(w->svc);
    uv_loop_close(&w->loop);
    pp_config_free(w->cfg);
    pp_health_free(w->host.health);
    pp_metrics_free(w->host.metrics);
    pp_admission_free(w->host.admission);
    free(w);
}

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

void tu_world_run(tu_world *w, uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(&w->loop, &t);
    uv_timer_start(&t, stop_loop, ms, 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&w->loop, UV_RUN_NOWAIT);
}
