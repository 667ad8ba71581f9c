/* test_sentry_map.c -- OTLP spans to Sentry transactions and error events:
 * grouping and orphans, op/description/status tables (old and new semconv),
 * stacktrace formats parsed into exact frames, the 1 MiB item limit. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "exporters/sentry/sentry_envelope.h"
#include "exporters/sentry/sentry_group.h"
#include "exporters/sentry/sentry_map.h"
#include "exporters/sentry/sentry_semconv.h"
#include "exporters/sentry/sentry_stack.h"
#include "exporters/sentry/sentry_trim.h"

#define KIND(x) OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_##x
#define STATUS(x) OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_##x
#define T0 1700000000000000000ull

/* ---- building requests ---- */

typedef struct req {
    pp_batch *b;
    pp_arena *a;
    pp_scope_spans *ss;
    size_t cap;
} req;

static req new_req(size_t cap) {
    req r = {pp_batch_new(PP_TRACES, 0), NULL, NULL, cap};
    r.a = r.b->arena;
    pp_resource_spans *rs = pp_arena_alloc(r.a, sizeof(*rs));
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    pp_resource *res = pp_arena_alloc(r.a, sizeof(*res));
    opentelemetry__proto__resource__v1__resource__init(res);
    res->n_attributes = 4;
    res->attributes = tu_ptrs(r.a, 4);
    res->attributes[0] = tu_kv(r.a, "service.name", tu_any_str(r.a, "checkout"));
    res->attributes[1] = tu_kv(r.a, "service.version", tu_any_str(r.a, "1.2.3"));
    res->attributes[2] = tu_kv(r.a, "deployment.environment.name", tu_any_str(r.a, "staging"));
    res->attributes[3] = tu_kv(r.a, "host.name", tu_any_str(r.a, "web-1"));
    rs->resource = res;
    r.ss = pp_arena_alloc(r.a, sizeof(*r.ss));
    opentelemetry__proto__trace__v1__scope_spans__init(r.ss);
    r.ss->spans = tu_ptrs(r.a, cap);
    rs->n_scope_spans = 1;
    rs->scope_spans = tu_ptrs(r.a, 1);
    rs->scope_spans[0] = r.ss;
    r.b->traces->n_resource_spans = 1;
    r.b->traces->resource_spans = tu_ptrs(r.a, 1);
    r.b->traces->resource_spans[0] = rs;
    return r;
}

static ProtobufCBinaryData span_id(pp_arena *a, uint32_t id) {
    uint8_t b[8] = {0xa0, 0, 0, 0, (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
    return tu_bytes(a, b, 8);
}

/* A span of trace 0x11.., id and parent (0: none); start T0 + id us, 1 ms long. */
static pp_span *add_span(req *r, uint32_t id, uint32_t parent, int kind, const char *name) {
    assert_true(r->ss->n_spans < r->cap);
    pp_span *s = pp_arena_alloc(r->a, sizeof(*s));
    opentelemetry__proto__trace__v1__span__init(s);
    uint8_t tid[16];
    memset(tid, 0x11, 16);
    s->trace_id = tu_bytes(r->a, tid, 16);
    s->span_id = span_id(r->a, id);
    if (parent) s->parent_span_id = span_id(r->a, parent);
    s->kind = kind;
    s->name = pp_arena_strdup(r->a, name);
    s->start_time_unix_nano = T0 + id * 1000ull + 1000ull;
    s->end_time_unix_nano = s->start_time_unix_nano + 1000000ull;
    r->ss->spans[r->ss->n_spans++] = s;
    return s;
}

static void set_attrs(pp_arena *a, pp_span *s, size_t n, pp_key_value **kv) {
    s->n_attributes = n;
    s->attributes = tu_ptrs(a, n);
    memcpy(s->attributes, kv, n * sizeof(*kv));
}

static void set_status(pp_arena *a, pp_span *s, int code, const char *msg) {
    s->status = pp_arena_alloc(a, sizeof(*s->status));
    opentelemetry__proto__trace__v1__status__init(s->status);
    s->status->code = code;
    if (msg) s->status->message = pp_arena_strdup(a, msg);
}

/* ---- reading JSON ---- */

/* The member at a '/'-separated path (array elements by number), or NULL. */
static json_object *jget(json_object *o, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, "/", &save); k && o; k = strtok_r(NULL, "/", &save)) {
        if (json_object_is_type(o, json_type_array)) o = json_object_array_get_idx(o, (size_t)atoi(k));
        else if (!json_object_object_get_ex(o, k, &o)) o = NULL;
    }
    return o;
}

static const char *jstr(json_object *o, const char *path) {
    json_object *v = jget(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static size_t jlen(json_object *o, const char *path) {
    json_object *v = jget(o, path);
    return v ? json_object_array_length(v) : (size_t)-1;
}

#define assert_jstr(o, path, want)                                                    \
    do {                                                                              \
        const char *got_ = jstr((o), (path));                                         \
        if (!got_ || strcmp(got_, (want)) != 0)                                       \
            fail_msg("%s: got %s, want %s", (path), got_ ? got_ : "(none)", (want)); \
    } while (0)

static json_object *parse_item(const pp_sentry_item *it) {
    assert_int_equal(strlen(it->json), it->len);
    json_object *o = json_tokener_parse(it->json);
    assert_non_null(o);
    return o;
}

static char hexid(uint32_t id, char out[17]) {
    snprintf(out, 17, "a0000000%08x", id);
    return out[0];
}

/* The transaction whose contexts.trace.span_id is the span with this id. */
static json_object *find_tx(json_object **items, size_t n, uint32_t id) {
    char want[17];
    hexid(id, want);
    for (size_t i = 0; i < n; i++) {
        const char *sid = jstr(items[i], "contexts/trace/span_id");
        if (sid && strcmp(sid, want) == 0) return items[i];
    }
    fail_msg("no transaction for span %x", id);
    return NULL;
}

/* ---- transactions ---- */

static void test_transaction_with_spans(void **state) {
    (void)state;
    req r = new_req(8);
    pp_arena *a = r.a;
    /* children listed before their parents: grouping must not depend on order */
    pp_span *q = add_span(&r, 4, 3, KIND(CLIENT), "SELECT");
    set_attrs(a, q, 3,
              (pp_key_value *[]){tu_kv(a, "db.system.name", tu_any_str(a, "postgresql")),
                                 tu_kv(a, "db.query.text", tu_any_str(a, "SELECT * FROM users WHERE id = $1")),
                                 tu_kv(a, "db.rows", tu_any_int(a, 1))});
    pp_span *h = add_span(&r, 3, 1, KIND(INTERNAL), "load user");
    pp_span *c = add_span(&r, 2, 1, KIND(CLIENT), "GET");
    set_attrs(a, c, 2,
              (pp_key_value *[]){tu_kv(a, "http.request.method", tu_any_str(a, "GET")),
                                 tu_kv(a, "url.full", tu_any_str(a, "https://api.example/x?token=1"))});
    pp_span *root = add_span(&r, 1, 0, KIND(SERVER), "GET /users/:id");
    pp_any_value *list[] = {tu_any_str(a, "a"), tu_any_int(a, 2)};
    set_attrs(a, root, 5,
              (pp_key_value *[]){tu_kv(a, "http.request.method", tu_any_str(a, "GET")),
                                 tu_kv(a, "http.route", tu_any_str(a, "/users/:id")),
                                 tu_kv(a, "http.response.status_code", tu_any_int(a, 200)),
                                 tu_kv(a, "ratio", tu_any_double(a, 0.25)),
                                 tu_kv(a, "list", tu_any_array(a, 2, list))});
    (void)h;

    pp_sentry_items out = {0};
    pp_sentry_map_stats st = {0};
    assert_int_equal(pp_sentry_map_traces(r.b->traces, NULL, &out, &st), 0);
    assert_int_equal(out.n, 1);
    assert_int_equal(st.transactions, 1);
    assert_int_equal(st.spans, 3);
    assert_int_equal(st.orphans, 0);
    pp_sentry_item *it = &out.v[0];
    assert_int_equal(it->spans, 4); /* the root and its three descendants */
    assert_int_equal(it->type, PP_SENTRY_TRANSACTION);
    assert_string_equal(pp_sentry_item_type_name(it->type), "transaction");
    assert_int_equal(strlen(it->event_id), 32);
    assert_int_equal(strspn(it->event_id, "0123456789abcdef"), 32);
    assert_int_equal(it->event_id[12], '4'); /* uuid4 version nibble */

    json_object *o = parse_item(it);
    assert_jstr(o, "type", "transaction");
    assert_jstr(o, "event_id", it->event_id);
    assert_jstr(o, "platform", "other");
    assert_jstr(o, "transaction", "GET /users/:id");
    assert_jstr(o, "transaction_info/source", "route");
    assert_jstr(o, "contexts/trace/trace_id", "11111111111111111111111111111111");
    assert_jstr(o, "contexts/trace/span_id", "a000000000000001");
    assert_null(jget(o, "contexts/trace/parent_span_id"));
    assert_jstr(o, "contexts/trace/op", "http.server");
    assert_jstr(o, "contexts/trace/description", "GET /users/:id");
    assert_jstr(o, "contexts/trace/status", "ok");
    assert_jstr(o, "contexts/trace/data/http.route", "/users/:id");
    assert_int_equal(json_object_get_int(jget(o, "contexts/trace/data/list/1")), 2);
    assert_jstr(o, "contexts/otel/resource/service.name", "checkout");
    assert_jstr(o, "environment", "staging");
    assert_jstr(o, "release", "1.2.3");
    assert_jstr(o, "server_name", "web-1");
    assert_jstr(o, "sdk/name", "pipit");
    assert_jstr(o, "sdk/version", PIPIT_VERSION);
    /* tags: span scalars as text, resource attributes; no arrays */
    assert_jstr(o, "tags/http.response.status_code", "200");
    assert_jstr(o, "tags/ratio", "0.25");
    assert_jstr(o, "tags/service.name", "checkout");
    assert_null(jget(o, "tags/list"));
    assert_null(jget(o, "tags/pipit.orphan"));
    /* float seconds with exact microseconds */
    assert_non_null(strstr(it->json, "\"start_timestamp\":1700000000.000002,"));
    assert_non_null(strstr(it->json, "\"timestamp\":1700000000.001002,"));

    /* spans[] in request order, each with its parent */
    assert_int_equal(jlen(o, "spans"), 3);
    assert_jstr(o, "spans/0/span_id", "a000000000000004");
    assert_jstr(o, "spans/0/parent_span_id", "a000000000000003");
    assert_jstr(o, "spans/0/op", "db");
    assert_jstr(o, "spans/0/description", "SELECT * FROM users WHERE id = $1");
    assert_jstr(o, "spans/0/trace_id", "11111111111111111111111111111111");
    assert_jstr(o, "spans/0/tags/db.rows", "1");
    assert_int_equal(json_object_get_int(jget(o, "spans/0/data/db.rows")), 1);
    assert_jstr(o, "spans/0/status", "ok");
    assert_jstr(o, "spans/1/span_id", "a000000000000003");
    assert_jstr(o, "spans/1/op", "");
    assert_jstr(o, "spans/1/description", "load user");
    assert_jstr(o, "spans/2/op", "http.client");
    assert_jstr(o, "spans/2/description", "GET https://api.example/x");
    assert_non_null(strstr(it->json, "\"start_timestamp\":1700000000.000005,\"timestamp\":1700000000.001005"));
    json_object_put(o);
    pp_sentry_items_free(&out);
    pp_batch_unref(r.b);
}

static void test_config_overrides_resource(void **state) {
    (void)state;
    req r = new_req(1);
    add_span(&r, 1, 0, KIND(INTERNAL), "job");
    pp_sentry_map_options opt = {"production", "v9", 0};
    pp_sentry_items out = {0};
    pp_sentry_map_stats st = {0};
    assert_int_equal(pp_sentry_map_traces(r.b->traces, &opt, &out, &st), 0);
    json_object *o = parse_item(&out.v[0]);
    assert_jstr(o, "environment", "production");
    assert_jstr(o, "release", "v9");
    assert_jstr(o, "transaction", "job");
    assert_jstr(o, "transaction_info/source", "custom");
    assert_int_equal(jlen(o, "spans"), 0);
    json_object_put(o);
    pp_sentry_items_free(&out);
    pp_batch_unref(r.b);
}

static void test_roots_and_orphans(void **state) {
    (void)state;
    req r = new_req(16);
    add_span(&r, 1, 0, KIND(SERVER), "A");          /* root */
    add_span(&r, 2, 1, KIND(INTERNAL), "B");        /* child of A */
    add_span(&r, 4, 3, KIND(INTERNAL), "D");        /* child of orphan C, listed first */
    add_span(&r, 3, 99, KIND(CLIENT), "C");         /* parent 99 not in the request */
    add_span(&r, 5, 2, KIND(SERVER), "E");          /* legacy: SERVER with a parent is a root */
    pp_span *f = add_span(&r, 6, 1, KIND(INTERNAL), "F");
    f->flags = 0x300; /* parent remote by the flags */
    pp_span *g = add_span(&r, 7, 1, KIND(SERVER), "G");
    g->flags = 0x100; /* flags say local parent: the kind no longer matters */
    add_span(&r, 8, 5, KIND(CLIENT), "H");          /* child of E */
    add_span(&r, 9, 10, KIND(INTERNAL), "I");       /* I and J are each other's parent */
    add_span(&r, 10, 9, KIND(INTERNAL), "J");

    assert_true(pp_sentry_is_local_root(r.ss->spans[0]));
    assert_false(pp_sentry_is_local_root(r.ss->spans[1]));
    assert_true(pp_sentry_is_local_root(f));
    assert_false(pp_sentry_is_local_root(g));

    pp_sentry_items out = {0};
    pp_sentry_map_stats st = {0};
    assert_int_equal(pp_sentry_map_traces(r.b->traces, NULL, &out, &st), 0);
    assert_int_equal(out.n, 5); /* A, C, E, F, and the I/J cycle */
    assert_int_equal(st.transactions, 5);
    assert_int_equal(st.orphans, 2);
    assert_int_equal(st.spans, 5);
    json_object *items[5];
    for (size_t i = 0; i < out.n; i++) items[i] = parse_item(&out.v[i]);

    json_object *A = find_tx(items, 5, 1);
    assert_int_equal(jlen(A, "spans"), 2);
    assert_jstr(A, "spans/0/description", "B");
    assert_jstr(A, "spans/1/description", "G");
    assert_null(jget(A, "tags/pipit.orphan"));

    json_object *C = find_tx(items, 5, 3);
    assert_jstr(C, "tags/pipit.orphan", "true");
    assert_jstr(C, "contexts/trace/parent_span_id", "a000000000000063"); /* the real parent */
    assert_int_equal(jlen(C, "spans"), 1);
    assert_jstr(C, "spans/0/description", "D");

    json_object *E = find_tx(items, 5, 5);
    assert_null(jget(E, "tags/pipit.orphan"));
    assert_jstr(E, "contexts/trace/parent_span_id", "a000000000000002");
    assert_int_equal(jlen(E, "spans"), 1);
    assert_jstr(E, "spans/0/description", "H");

    json_object *F = find_tx(items, 5, 6);
    assert_int_equal(jlen(F, "spans"), 0);

    json_object *I = find_tx(items, 5, 9);
    assert_jstr(I, "tags/pipit.orphan", "true");
    assert_int_equal(jlen(I, "spans"), 1);
    assert_jstr(I, "spans/0/description", "J");
    /* transactions come in the order of their roots */
    assert_ptr_equal(items[0], A);
    assert_ptr_equal(items[1], C);
    for (size_t i = 0; i < out.n; i++) json_object_put(items[i]);
    pp_sentry_items_free(&out);
    pp_batch_unref(r.b);
}

/* ---- op, description, name ---- */

typedef struct op_case {
    int kind;
    const char *k1, *v1, *k2, *v2;
    const char *op, *description;
} op_case;

static const op_case OPS[] = {
    {KIND(SERVER), "http.request.method", "POST", "url.path", "/orders?x=1", "http.server", "POST /orders"},
    {KIND(SERVER), "http.method", "GET", "http.target", "/old?q", "http.server", "GET /old"},
    {KIND(CLIENT), "http.method", "PUT", "http.url", "http://h/a#frag", "http.client", "PUT http://h/a"},
    {KIND(CLIENT), "http.request.method", "GET", NULL, NULL, "http.client", "GET span"},
    {KIND(INTERNAL), "http.method", "GET", NULL, NULL, "http.internal", "GET span"},
    {KIND(PRODUCER), "http.method", "GET", NULL, NULL, "http.producer", "GET span"},
    {KIND(CONSUMER), "http.method", "GET", NULL, NULL, "http.consumer", "GET span"},
    {KIND(UNSPECIFIED), "http.method", "GET", NULL, NULL, "http", "GET span"},
    {KIND(CLIENT), "db.system", "mysql", "db.statement", "SELECT 1", "db", "SELECT 1"},
    {KIND(CLIENT), "db.system.name", "redis", NULL, NULL, "db", "span"},
    {KIND(CLIENT), "rpc.system", "grpc", NULL, NULL, "rpc", "span"},
    {KIND(SERVER), "rpc.service", "Greeter", NULL, NULL, "rpc", "span"},
    {KIND(PRODUCER), "messaging.system", "kafka", NULL, NULL, "queue.publish", "span"},
    {KIND(CONSUMER), "messaging.system", "kafka", NULL, NULL, "queue.process", "span"},
    {KIND(CLIENT), "messaging.system", "sqs", "messaging.operation.type", "receive", "queue.receive", "span"},
    {KIND(CLIENT), "messaging.system", "sqs", "messaging.operation", "receive", "queue.receive", "span"},
    {KIND(INTERNAL), "messaging.system", "sqs", NULL, NULL, "message", "span"},
    {KIND(SERVER), "faas.trigger", "http", NULL, NULL, "http", "span"},
    {KIND(SERVER), "faas.trigger", "timer", NULL, NULL, "timer", "span"},
    {KIND(INTERNAL), "custom", "x", NULL, NULL, "", "span"},
};

static pp_span *span_with(pp_arena *a, int kind, const char *name, const char *k1, const char *v1,
                          const char *k2, const char *v2) {
    pp_span *s = pp_arena_alloc(a, sizeof(*s));
    opentelemetry__proto__trace__v1__span__init(s);
    s->kind = kind;
    s->name = pp_arena_strdup(a, name);
    pp_key_value *kv[2];
    size_t n = 0;
    if (k1) kv[n++] = tu_kv(a, k1, tu_any_str(a, v1));
    if (k2) kv[n++] = tu_kv(a, k2, tu_any_str(a, v2));
    set_attrs(a, s, n, kv);
    return s;
}

static void test_op_table(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0);
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++) {
        const op_case *c = &OPS[i];
        pp_span *s = span_with(a, c->kind, "span", c->k1, c->v1, c->k2, c->v2);
        if (strcmp(pp_sentry_span_op(s), c->op) != 0)
            fail_msg("case %zu: op %s, want %s", i, pp_sentry_span_op(s), c->op);
        char *d = pp_sentry_span_description(s);
        if (strcmp(d, c->description) != 0) fail_msg("case %zu: description %s, want %s", i, d, c->description);
        free(d);
    }
    /* new-semconv client spans are named after the method: no "GET GET" */
    pp_span *g = span_with(a, KIND(CLIENT), "GET", "http.request.method", "GET", NULL, NULL);
    char *gd = pp_sentry_span_description(g);
    assert_string_equal(gd, "GET");
    free(gd);
    /* transaction names: route, then path, only for HTTP server spans */
    const char *src;
    pp_span *s = span_with(a, KIND(SERVER), "x", "http.method", "GET", "http.route", "/r/{id}");
    char *n = pp_sentry_transaction_name(s, &src);
    assert_string_equal(n, "GET /r/{id}");
    assert_string_equal(src, "route");
    free(n);
    s = span_with(a, KIND(SERVER), "x", "http.request.method", "GET", "url.path", "/p/7");
    n = pp_sentry_transaction_name(s, &src);
    assert_string_equal(n, "GET /p/7");
    assert_string_equal(src, "custom");
    free(n);
    s = span_with(a, KIND(CLIENT), "fetch", "http.request.method", "GET", "url.full", "http://h/");
    n = pp_sentry_transaction_name(s, &src);
    assert_string_equal(n, "fetch");
    assert_string_equal(src, "custom");
    free(n);
    pp_arena_destroy(a);
}

/* ---- status ---- */

typedef struct status_case {
    int code;
    const char *key;
    int64_t value; /* -1: no attribute */
    const char *want;
} status_case;

static const status_case STATUSES[] = {
    /* the legacy HTTP table, exactly */
    {STATUS(ERROR), "http.status_code", 400, "failed_precondition"},
    {STATUS(ERROR), "http.status_code", 401, "unauthenticated"},
    {STATUS(ERROR), "http.status_code", 403, "permission_denied"},
    {STATUS(ERROR), "http.status_code", 404, "not_found"},
    {STATUS(ERROR), "http.status_code", 409, "aborted"},
    {STATUS(ERROR), "http.status_code", 429, "resource_exhausted"},
    {STATUS(ERROR), "http.status_code", 499, "cancelled"},
    {STATUS(ERROR), "http.status_code", 500, "internal_error"},
    {STATUS(ERROR), "http.status_code", 501, "unimplemented"},
    {STATUS(ERROR), "http.status_code", 503, "unavailable"},
    {STATUS(ERROR), "http.status_code", 504, "deadline_exceeded"},
    /* new key; unmapped codes by class */
    {STATUS(ERROR), "http.response.status_code", 404, "not_found"},
    {STATUS(ERROR), "http.response.status_code", 418, "invalid_argument"},
    {STATUS(ERROR), "http.response.status_code", 502, "internal_error"},
    {STATUS(ERROR), "http.response.status_code", 200, "unknown"},
    /* the gRPC table */
    {STATUS(ERROR), "rpc.grpc.status_code", 1, "cancelled"},
    {STATUS(ERROR), "rpc.grpc.status_code", 2, "unknown"},
    {STATUS(ERROR), "rpc.grpc.status_code", 3, "invalid_argument"},
    {STATUS(ERROR), "rpc.grpc.status_code", 4, "deadline_exceeded"},
    {STATUS(ERROR), "rpc.grpc.status_code", 5, "not_found"},
    {STATUS(ERROR), "rpc.grpc.status_code", 6, "already_exists"},
    {STATUS(ERROR), "rpc.grpc.status_code", 7, "permission_denied"},
    {STATUS(ERROR), "rpc.grpc.status_code", 8, "resource_exhausted"},
    {STATUS(ERROR), "rpc.grpc.status_code", 9, "failed_precondition"},
    {STATUS(ERROR), "rpc.grpc.status_code", 10, "aborted"},
    {STATUS(ERROR), "rpc.grpc.status_code", 11, "out_of_range"},
    {STATUS(ERROR), "rpc.grpc.status_code", 12, "unimplemented"},
    {STATUS(ERROR), "rpc.grpc.status_code", 13, "internal_error"},
    {STATUS(ERROR), "rpc.grpc.status_code", 14, "unavailable"},
    {STATUS(ERROR), "rpc.grpc.status_code", 15, "data_loss"},
    {STATUS(ERROR), "rpc.grpc.status_code", 16, "unauthenticated"},
    {STATUS(ERROR), "rpc.grpc.status_code", 17, "unknown"},
    {STATUS(ERROR), "rpc.grpc.status_code", 0, "unknown"},
    {STATUS(ERROR), NULL, -1, "unknown"},
    /* UNSET: inferred from a failing code, else ok */
    {STATUS(UNSET), "http.response.status_code", 404, "not_found"},
    {STATUS(UNSET), "http.status_code", 503, "unavailable"},
    {STATUS(UNSET), "http.response.status_code", 302, "ok"},
    {STATUS(UNSET), "rpc.grpc.status_code", 5, "not_found"},
    {STATUS(UNSET), "rpc.grpc.status_code", 0, "ok"},
    {STATUS(UNSET), NULL, -1, "ok"},
    /* OK is final */
    {STATUS(OK), "http.response.status_code", 500, "ok"},
};

static void test_status_table(void **state) {
    (void)state;
    pp_arena *a = pp_arena_new(0);
    for (size_t i = 0; i < sizeof(STATUSES) / sizeof(STATUSES[0]); i++) {
        const status_case *c = &STATUSES[i];
        pp_span *s = span_with(a, KIND(SERVER), "s", NULL, NULL, NULL, NULL);
        if (c->key) set_attrs(a, s, 1, (pp_key_value *[]){tu_kv(a, c->key, tu_any_int(a, c->value))});
        set_status(a, s, c->code, NULL);
        if (strcmp(pp_sentry_span_status(s), c->want) != 0)
            fail_msg("case %zu (%s=%lld): %s, want %s", i, c->key ? c->key : "-", (long long)c->value,
                     pp_sentry_span_status(s), c->want);
    }
    /* a status code sent as a string, and no status at all */
    pp_span *s = span_with(a, KIND(CLIENT), "s", "http.status_code", "503", NULL, NULL);
    set_status(a, s, STATUS(ERROR), NULL);
    assert_string_equal(pp_sentry_span_status(s), "unavailable");
    s = span_with(a, KIND(CLIENT), "s", NULL, NULL, NULL, NULL);
    assert_string_equal(pp_sentry_span_status(s), "ok");
    pp_arena_destroy(a);
}

/* ---- stacktraces ---- */

static void assert_parsed(const char *text, const char *want_json) {
    json_object *v = pp_sentry_parse_stacktrace(text);
    if (!want_json) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    json_object *want = json_tokener_parse(want_json);
    assert_non_null(want);
    /* equal values, member order aside */
    if (!json_object_equal(v, want))
        fail_msg("\n got: %s\nwant: %s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), want_json);
    json_object_put(want);
    json_object_put(v);
}

static void test_stack_python(void **state) {
    (void)state;
    assert_parsed("Traceback (most recent call last):\n"
                  "  File \"/app/main.py\", line 10, in <module>\n"
                  "    run()\n"
                  "  File \"/app/lib.py\", line 3, in run\n"
                  "    return 1 / 0\n"
                  "           ~~^~~\n"
                  "ZeroDivisionError: division by zero\n",
                  "[{\"type\":\"ZeroDivisionError\",\"value\":\"division by zero\",\"stacktrace\":{\"frames\":["
                  "{\"filename\":\"/app/main.py\",\"lineno\":10,\"function\":\"<module>\",\"context_line\":\"run()\"},"
                  "{\"filename\":\"/app/lib.py\",\"lineno\":3,\"function\":\"run\",\"context_line\":\"return 1 / 0\"}]}}]");
    /* a chain: text order is oldest first already */
    assert_parsed("Traceback (most recent call last):\n"
                  "  File \"a.py\", line 2, in f\n"
                  "KeyError: 'k'\n"
                  "\n"
                  "During handling of the above exception, another exception occurred:\n"
                  "\n"
                  "Traceback (most recent call last):\n"
                  "  File \"b.py\", line 5, in g\n"
                  "app.errors.LookupFailed: no k\n"
                  "second line\n",
                  "[{\"type\":\"KeyError\",\"value\":\"'k'\",\"stacktrace\":{\"frames\":["
                  "{\"filename\":\"a.py\",\"lineno\":2,\"function\":\"f\"}]}},"
                  "{\"type\":\"app.errors.LookupFailed\",\"value\":\"no k\\nsecond line\",\"stacktrace\":{\"frames\":["
                  "{\"filename\":\"b.py\",\"lineno\":5,\"function\":\"g\"}]}}]");
}

static void test_stack_java(void **state) {
    (void)state;
    assert_parsed("java.lang.IllegalStateException: outer\n"
                  "\tat com.shop.Cart.checkout(Cart.java:42)\n"
                  "\tat java.base/java.lang.Thread.run(Thread.java:833)\n"
                  "\tSuppressed: java.io.IOException: close\n"
                  "\t\tat com.shop.Res.close(Res.java:9)\n"
                  "Caused by: java.sql.SQLException: deadlock\n"
                  "\tat org.db.Conn.exec(Native Method)\n"
                  "\tat org.db.Conn.run(Conn.java:7)\n"
                  "\t... 2 more\n",
                  "[{\"type\":\"java.sql.SQLException\",\"value\":\"deadlock\",\"stacktrace\":{\"frames\":["
                  "{\"module\":\"org.db.Conn\",\"function\":\"run\",\"filename\":\"Conn.java\",\"lineno\":7},"
                  "{\"module\":\"org.db.Conn\",\"function\":\"exec\"}]}},"
                  "{\"type\":\"java.lang.IllegalStateException\",\"value\":\"outer\",\"stacktrace\":{\"frames\":["
                  "{\"module\":\"java.lang.Thread\",\"function\":\"run\",\"filename\":\"Thread.java\",\"lineno\":833},"
                  "{\"module\":\"com.shop.Cart\",\"function\":\"checkout\",\"filename\":\"Cart.java\",\"lineno\":42}]}}]");
}

static void test_stack_js(void **state) {
    (void)state;
    assert_parsed("TypeError: x is not a function\n"
                  "    at handler (/app/src/routes.js:10:5)\n"
                  "    at async Promise.all (index 0)\n"
                  "    at Object.<anonymous> (file:///app/main.mjs:3:1)\n"
                  "    at /app/anon.js:7:9\n",
                  "[{\"type\":\"TypeError\",\"value\":\"x is not a function\",\"stacktrace\":{\"frames\":["
                  "{\"filename\":\"/app/anon.js\",\"abs_path\":\"/app/anon.js\",\"lineno\":7,\"colno\":9},"
                  "{\"function\":\"Object.<anonymous>\",\"filename\":\"file:///app/main.mjs\","
                  "\"abs_path\":\"file:///app/main.mjs\",\"lineno\":3,\"colno\":1},"
                  "{\"function\":\"Promise.all\"},"
                  "{\"function\":\"handler\",\"filename\":\"/app/src/routes.js\",\"abs_path\":\"/app/src/routes.js\","
                  "\"lineno\":10,\"colno\":5}]}}]");
}

static void test_stack_go(void **state) {
    (void)state;
    assert_parsed("panic: boom\n"
                  "\n"
                  "goroutine 1 [running]:\n"
                  "github.com/acme/shop/cart.(*Cart).Checkout(0xc000010000, {0x4b2e3a, 0x3})\n"
                  "\t/src/cart/cart.go:42 +0x1d\n"
                  "main.main()\n"
                  "\t/src/main.go:12 +0x25\n"
                  "created by main.start in goroutine 1\n"
                  "\t/src/start.go:3 +0x9\n"
                  "\n"
                  "goroutine 2 [chan receive]:\n"
                  "main.worker()\n"
                  "\t/src/w.go:1 +0x1\n",
                  "[{\"value\":\"boom\",\"stacktrace\":{\"frames\":["
                  "{\"module\":\"main\",\"function\":\"start\",\"filename\":\"/src/start.go\",\"abs_path\":\"/src/start.go\",\"lineno\":3},"
                  "{\"module\":\"main\",\"function\":\"main\",\"filename\":\"/src/main.go\",\"abs_path\":\"/src/main.go\",\"lineno\":12},"
                  "{\"module\":\"github.com/acme/shop/cart\",\"function\":\"(*Cart).Checkout\",\"filename\":\"/src/cart/cart.go\","
                  "\"abs_path\":\"/src/cart/cart.go\",\"lineno\":42}]}}]");
    /* without the goroutine header (debug.Stack() output cut, pkg/errors %+v) */
    assert_parsed("main.f(...)\n\t/x/f.go:5\n",
                  "[{\"stacktrace\":{\"frames\":[{\"module\":\"main\",\"function\":\"f\",\"filename\":\"/x/f.go\","
                  "\"abs_path\":\"/x/f.go\",\"lineno\":5}]}}]");
}

static void test_stack_unrecognised(void **state) {
    (void)state;
    assert_parsed("something went wrong\nno frames here", NULL);
    assert_parsed("", NULL);
    assert_parsed("Traceback (most recent call last):\nValueError: no frames\n", NULL);
    /* C#: "at X.M() in file:line 3" is neither Java nor V8 */
    assert_parsed("System.Exception: x\n   at App.Main() in /app/Program.cs:line 3\n", NULL);
}

static void test_stack_frame_limit(void **state) {
    (void)state;
    char *text = malloc(120 * 64 + 64);
    size_t n = (size_t)sprintf(text, "java.lang.StackOverflowError\n");
    for (int i = 0; i < 120; i++) n += (size_t)sprintf(text + n, "\tat a.B.f%d(B.java:%d)\n", i, i + 1);
    json_object *v = pp_sentry_parse_stacktrace(text);
    free(text);
    assert_non_null(v);
    assert_int_equal(jlen(v, "0/stacktrace/frames"), PP_SENTRY_MAX_FRAMES);
    /* oldest (printed last) first; the 25 oldest and the 25 newest stay */
    assert_jstr(v, "0/stacktrace/frames/0/function", "f119");
    assert_jstr(v, "0/stacktrace/frames/24/function", "f95");
    assert_jstr(v, "0/stacktrace/frames/25/function", "f24");
    assert_jstr(v, "0/stacktrace/frames/49/function", "f0");
    json_object_put(v);
}

/* With SENTRY_ENVELOPE_OUT_DIR set, writes each item as a stamped envelope
 * (item-N.envelope) for checking with Sentry's own parser by hand. */
static void dump_envelopes(const pp_sentry_items *out) {
    const char *dir = getenv("SENTRY_ENVELOPE_OUT_DIR");
    if (!dir) return;
    for (size_t i = 0; i < out->n; i++) {
        size_t len, slen;
        char *env = pp_sentry_envelope_build(pp_sentry_item_type_name(out->v[i].type), out->v[i].event_id,
                                             "https://k@h/1", out->v[i].json, out->v[i].len, &len);
        char *sent = pp_sentry_envelope_stamp(env, len, 1795514400000ull, &slen);
        char path[512];
        snprintf(path, sizeof path, "%s/item-%zu.envelope", dir, i);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fwrite(sent, 1, slen, f);
        fclose(f);
        free(sent);
        free(env);
    }
}

/* ---- error events ---- */

static pp_span_event *exc_event(pp_arena *a, uint64_t t, size_t n, pp_key_value **kv) {
    pp_span_event *e = pp_arena_alloc(a, sizeof(*e));
    opentelemetry__proto__trace__v1__span__event__init(e);
    e->name = pp_arena_strdup(a, "exception");
    e->time_unix_nano = t;
    e->n_attributes = n;
    e->attributes = tu_ptrs(a, n);
    memcpy(e->attributes, kv, n * sizeof(*kv));
    return e;
}

static void test_error_events(void **state) {
    (void)state;
    req r = new_req(4);
    pp_arena *a = r.a;
    pp_span *root = add_span(&r, 1, 0, KIND(SERVER), "GET /pay");
    set_attrs(a, root, 2,
              (pp_key_value *[]){tu_kv(a, "http.request.method", tu_any_str(a, "POST")),
                                 tu_kv(a, "http.route", tu_any_str(a, "/pay"))});
    pp_span *child = add_span(&r, 2, 1, KIND(INTERNAL), "charge");
    set_attrs(a, child, 1, (pp_key_value *[]){tu_kv(a, "card.brand", tu_any_str(a, "visa"))});
    set_status(a, child, STATUS(ERROR), "card declined");
    pp_span_event *other = pp_arena_alloc(a, sizeof(*other));
    opentelemetry__proto__trace__v1__span__event__init(other);
    other->name = pp_arena_strdup(a, "retry");
    child->n_events = 3;
    child->events = tu_ptrs(a, 3);
    child->events[0] = exc_event(
        a, T0 + 5000000, 4,
        (pp_key_value *[]){tu_kv(a, "exception.type", tu_any_str(a, "ValueError")),
                           tu_kv(a, "exception.message", tu_any_str(a, "declined")),
                           tu_kv(a, "exception.escaped", tu_any_bool(a, 1)),
                           tu_kv(a, "exception.stacktrace",
                                 tu_any_str(a, "Traceback (most recent call last):\n"
                                               "  File \"pay.py\", line 8, in charge\n"
                                               "ValueError: declined\n"))});
    child->events[1] = other;
    child->events[2] = exc_event(a, 0, 2,
                                 (pp_key_value *[]){tu_kv(a, "exception.message", tu_any_str(a, "odd")),
                                                    tu_kv(a, "exception.stacktrace", tu_any_str(a, "raw text"))});

    pp_sentry_items out = {0};
    pp_sentry_map_stats st = {0};
    assert_int_equal(pp_sentry_map_traces(r.b->traces, NULL, &out, &st), 0);
    assert_int_equal(out.n, 3); /* the transaction, then two errors */
    assert_int_equal(st.errors, 2);
    assert_int_equal(st.unparsed_stacktraces, 1);
    assert_int_equal(out.v[0].type, PP_SENTRY_TRANSACTION);
    assert_int_equal(out.v[1].type, PP_SENTRY_ERROR);
    assert_string_equal(pp_sentry_item_type_name(out.v[1].type), "event");
    assert_string_not_equal(out.v[1].event_id, out.v[2].event_id);

    json_object *tx = parse_item(&out.v[0]);
    assert_jstr(tx, "spans/0/status", "unknown");
    assert_jstr(tx, "spans/0/tags/status_message", "card declined");
    json_object_put(tx);

    json_object *e = parse_item(&out.v[1]);
    assert_null(jget(e, "type"));
    assert_jstr(e, "event_id", out.v[1].event_id);
    assert_jstr(e, "level", "error");
    assert_jstr(e, "platform", "other");
    assert_non_null(strstr(out.v[1].json, "\"timestamp\":1700000000.005000"));
    assert_jstr(e, "exception/values/0/type", "ValueError");
    assert_jstr(e, "exception/values/0/value", "declined");
    assert_jstr(e, "exception/values/0/mechanism/type", "auto.otel.span_event");
    assert_false(json_object_get_boolean(jget(e, "exception/values/0/mechanism/handled")));
    assert_jstr(e, "exception/values/0/stacktrace/frames/0/filename", "pay.py");
    assert_jstr(e, "exception/values/0/stacktrace/frames/0/function", "charge");
    assert_jstr(e, "contexts/trace/trace_id", "11111111111111111111111111111111");
    assert_jstr(e, "contexts/trace/span_id", "a000000000000002");
    assert_jstr(e, "contexts/trace/parent_span_id", "a000000000000001");
    assert_jstr(e, "contexts/trace/op", "");
    assert_jstr(e, "transaction", "POST /pay"); /* the span's transaction */
    assert_jstr(e, "tags/card.brand", "visa");
    assert_jstr(e, "tags/service.name", "checkout");
    assert_jstr(e, "environment", "staging");
    assert_jstr(e, "release", "1.2.3");
    assert_jstr(e, "server_name", "web-1");
    assert_null(jget(e, "extra"));
    json_object_put(e);

    e = parse_item(&out.v[2]);
    assert_jstr(e, "exception/values/0/value", "odd");
    assert_null(jget(e, "exception/values/0/type"));
    assert_null(jget(e, "exception/values/0/stacktrace"));
    assert_null(jget(e, "exception/values/0/mechanism/handled"));
    assert_jstr(e, "extra/exception.stacktrace", "raw text"); /* nothing lost */
    assert_non_null(strstr(out.v[2].json, "\"timestamp\":1700000000.001003")); /* no time: span end */
    json_object_put(e);
    dump_envelopes(&out);
    pp_sentry_items_free(&out);
    pp_batch_unref(r.b);
}

/* ---- the 1 MiB limit ---- */

static void test_trim_spans(void **state) {
    (void)state;
    const size_t nspans = 3000;
    req r = new_req(nspans);
    pp_arena *a = r.a;
    char big[501];
    memset(big, 'x', 500);
    big[500] = '\0';
    add_span(&r, 1, 0, KIND(SERVER), "root");
    for (uint32_t i = 2; i <= nspans; i++) {
        pp_span *s = add_span(&r, i, 1, KIND(INTERNAL), "child");
        set_attrs(a, s, 1, (pp_key_value *[]){tu_kv(a, "payload", tu_any_str(a, big))});
    }
    pp_sentry_items out = {0};
    pp_sentry_map_stats st = {0};
    assert_int_equal(pp_sentry_map_traces(r.b->traces, NULL, &out, &st), 0);
    assert_int_equal(out.n, 1);
    assert_true(out.v[0].len <= PP_SENTRY_MAX_ITEM_BYTES);
    assert_true(out.v[0].len > PP_SENTRY_MAX_ITEM_BYTES - 4096); /* trimmed no more than needed */
    assert_true(st.trimmed_spans > 0);
    assert_int_equal(st.cut_values, 0);
    json_object *o = parse_item(&out.v[0]);
    size_t kept = jlen(o, "spans");
    assert_int_equal(kept + st.trimmed_spans, nspans - 1);
    assert_int_equal(st.spans, kept);
    /* the spans dropped are the last ones */
    char want[17];
    hexid((uint32_t)kept + 1, want);
    json_object *last = json_object_array_get_idx(jget(o, "spans"), kept - 1);
    assert_jstr(last, "span_id", want);
    json_object_put(o);
    pp_sentry_items_free(&out);
    pp_batch_unref(r.b);
}

static void test_trim_values(void **state) {
    (void)state;
    req r = new_req(1);
    pp_arena *a = r.a;
    size_t n = 3u << 20;
    char *huge = malloc(n + 1);
    memset(huge, 'y', n);
    huge[n] = '\0';
    pp_span *s = add_span(&r, 1, 0, KIND(SERVER), "root");
    set_attrs(a, s, 1, (pp_key_value *[]){tu_kv(a, "blob", tu_any_str(a, huge))});
    free(huge);
    pp_sentry_items out = {0};
    pp_sentry_map_stats st = {0};
    assert_int_equal(pp_sentry_map_traces(r.b->traces, NULL, &out, &st), 0);
    assert_int_equal(out.n, 1);
    assert_true(out.v[0].len <= PP_SENTRY_MAX_ITEM_BYTES);
    assert_true(st.cut_values > 0);
    json_object *o = parse_item(&out.v[0]);
    const char *blob = jstr(o, "contexts/trace/data/blob");
    assert_non_null(blob);
    assert_true(strlen(blob) < 20000);
    assert_string_equal(blob + strlen(blob) - 3, "...");
    json_object_put(o);
    pp_sentry_items_free(&out);

    /* a limit nothing can meet: the item is dropped and counted, never emitted */
    pp_sentry_map_options opt = {NULL, NULL, 100};
    assert_int_equal(pp_sentry_map_traces(r.b->traces, &opt, &out, &st), 0);
    assert_int_equal(out.n, 0);
    assert_int_equal(st.dropped_oversize, 1);
    assert_int_equal(st.dropped_oversize_errors, 0);
    pp_sentry_items_free(&out);
    pp_batch_unref(r.b);
}

static void test_tag_limits(void **state) {
    (void)state;
    req r = new_req(1);
    pp_arena *a = r.a;
    char longv[700], longk[250];
    /* 300 two-byte characters: cut at 200 characters, not bytes */
    for (int i = 0; i < 300; i++) memcpy(longv + 2 * i, "\xc3\xa9", 2);
    longv[600] = '\0';
    memset(longk, 'k', 249);
    longk[249] = '\0';
    pp_span *s = add_span(&r, 1, 0, KIND(SERVER), "root");
    set_attrs(a, s, 3,
              (pp_key_value *[]){tu_kv(a, "long", tu_any_str(a, longv)), tu_kv(a, longk, tu_any_str(a, "v")),
                                 tu_kv(a, "b", tu_any_bool(a, 1))});
    pp_sentry_items out = {0};
    pp_sentry_map_stats st = {0};
    assert_int_equal(pp_sentry_map_traces(r.b->traces, NULL, &out, &st), 0);
    json_object *o = parse_item(&out.v[0]);
    assert_int_equal(strlen(jstr(o, "tags/long")), 2 * 200);
    assert_jstr(o, "tags/b", "true");
    json_object *tags = jget(o, "tags");
    assert_false(json_object_object_get_ex(tags, longk, NULL)); /* key too long for a tag */
    assert_true(json_object_object_get_ex(jget(o, "contexts/trace/data"), longk, NULL));
    json_object_put(o);
    pp_sentry_items_free(&out);
    pp_batch_unref(r.b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transaction_with_spans),
        cmocka_unit_test(test_config_overrides_resource),
        cmocka_unit_test(test_roots_and_orphans),
        cmocka_unit_test(test_op_table),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_stack_python),
        cmocka_unit_test(test_stack_java),
        cmocka_unit_test(test_stack_js),
        cmocka_unit_test(test_stack_go),
        cmocka_unit_test(test_stack_unrecognised),
        cmocka_unit_test(test_stack_frame_limit),
        cmocka_unit_test(test_error_events),
        cmocka_unit_test(test_trim_spans),
        cmocka_unit_test(test_trim_values),
        cmocka_unit_test(test_tag_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
