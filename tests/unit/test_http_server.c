/* Unit tests: the OTLP/HTTP server (receivers/otlp/http_server.c) driven with
 * libcurl and raw sockets on 127.0.0.1, feeding fake consumers. */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <snappy-c.h>

#include "admission.h"
#include "google/rpc/status.pb-c.h"
#include "receivers/otlp/otlp_receiver.h"
#include "telemetry.h"

/* ---- fakes ---- */

/* The memory budget: refuses once `cap` bytes are held; counts calls so the
 * tests can check that every reservation is released. */
struct pp_admission {
    atomic_size_t held;
    size_t cap;
    atomic_int acquired, released;
};

int pp_admission_acquire(pp_admission *a, size_t n, pp_status *st) {
    if (atomic_load(&a->held) + n > a->cap) {
        pp_fail(st, PP_UNAVAILABLE, "memory budget exhausted");
        st->retry_after_ms = 2500;
        return -1;
    }
    atomic_fetch_add(&a->held, n);
    atomic_fetch_add(&a->acquired, 1);
    return 0;
}

void pp_admission_release(pp_admission *a, size_t n) {
    atomic_fetch_sub(&a->held, n);
    atomic_fetch_add(&a->released, 1);
}

/* A consumer that keeps the protobuf encoding of the last batch, or refuses. */
typedef struct fake_next {
    pp_consumer c;
    pthread_mutex_t mu;
    int batches;
    size_t items;
    uint8_t *last;
    size_t last_len;
    pp_code refuse;
    uint32_t retry_ms;
} fake_next;

static int fake_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    fake_next *f = (fake_next *)self;
    if (f->refuse != PP_OK) {
        pp_fail(st, f->refuse, "refused by the fake");
        st->retry_after_ms = f->retry_ms;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    f->batches++;
    f->items += b->items;
    free(f->last);
    f->last_len = pp_batch_encoded_size(b);
    f->last = malloc(f->last_len + 1);
    pp_batch_pack(b, f->last);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static int fake_auth_check(pp_server_auth *a, const char *value, pp_status *st) {
    (void)a;
    if (value && strcmp(value, "Bearer good") == 0) return 0;
    return pp_fail(st, PP_UNAUTHENTICATED, "bad or missing bearer token");
}

/* ---- fixture ---- */

typedef struct fx {
    pp_metrics *metrics;
    pp_host host;
    struct pp_admission adm;
    pp_server_auth auth;
    fake_next traces, metrics_next;
    pp_ingest in;
    pp_http_server_cfg cfg;
    pp_cfg_kv resp_headers[1];
    char *origins[2], *allowed_headers[1];
    pp_http_server *s;
    char url[128], metrics_url[128];
} fx;

static fx *F;

static int setup(void **state) {
    fx *f = calloc(1, sizeof(*f));
    f->metrics = pp_metrics_new();
    f->adm.cap = SIZE_MAX;
    f->host.metrics = f->metrics;
    f->host.admission = &f->adm;
    f->traces.c.consume = fake_consume;
    f->metrics_next.c.consume = fake_consume;
    pthread_mutex_init(&f->traces.mu, NULL);
    pthread_mutex_init(&f->metrics_next.mu, NULL);
    pp_create_params p = {.id = "otlp", .host = &f->host,
                          .next = {&f->traces.c, &f->metrics_next.c}};
    pp_ingest_init(&f->in, &p, "http");
    f->auth = (pp_server_auth){.header = "authorization", .check = fake_auth_check};
    f->cfg = (pp_http_server_cfg){
        .endpoint = "127.0.0.1:0", .traces_url_path = "/v1/traces",
        .metrics_url_path = "/v1/metrics", .logs_url_path = "/v1/logs",
        .max_request_body_size = 20 << 20, .read_header_timeout_ns = 10000000000LL,
        .idle_timeout_ns = 60000000000LL};
    F = f;
    *state = f;
    return 0;
}

static void start(fx *f) {
    pp_status st;
    pp_status_clear(&st);
    f->s = pp_http_server_start(&f->cfg, &f->in, &st);
    assert_non_null(f->s);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/v1/traces", pp_http_server_port(f->s));
    snprintf(f->metrics_url, sizeof(f->metrics_url), "http://127.0.0.1:%d/v1/metrics",
             pp_http_server_port(f->s));
}

static int teardown(void **state) {
    fx *f = *state;
    pp_http_server_free(f->s);
    /* Every reservation made for a request was given back. */
    assert_int_equal(atomic_load(&f->adm.held), 0);
    assert_int_equal(atomic_load(&f->adm.acquired), atomic_load(&f->adm.released));
    free(f->traces.last);
    free(f->metrics_next.last);
    pthread_mutex_destroy(&f->traces.mu);
    pthread_mutex_destroy(&f->metrics_next.mu);
    pp_metrics_free(f->metrics);
    free(f);
    return 0;
}

static uint8_t *pack(pp_batch *b, size_t *len) {
    *len = pp_batch_encoded_size(b);
    uint8_t *p = malloc(*len + 1);
    pp_batch_pack(b, p);
    return p;
}

static const char *PB[] = {"Content-Type: application/x-protobuf", NULL};

/* The message of a google.rpc.Status protobuf body (asserts it decodes). */
static char *status_message(const tu_http_res *r, int *code) {
    Google__Rpc__Status *s = google__rpc__status__unpack(NULL, r->len, (const uint8_t *)r->body);
    assert_non_null(s);
    char *m = strdup(s->message ? s->message : "");
    if (code) *code = s->code;
    google__rpc__status__free_unpacked(s, NULL);
    return m;
}

static void assert_header(const tu_http_res *r, const char *name, const char *want) {
    char buf[256];
    const char *v = tu_http_header(r, name, buf, sizeof(buf));
    if (!want) {
        if (v) fail_msg("unexpected header %s: %s", name, v);
        return;
    }
    if (!v) fail_msg("missing header %s (headers:\n%s)", name, r->headers);
    assert_string_equal(v, want);
}

/* Asserts an error answer: status, protobuf Status body whose message
 * contains `part`. */
static void assert_error(const tu_http_res *r, long status, const char *part) {
    if (r->status != status) fail_msg("status %ld, want %ld; body %.*s", r->status, status,
                                      (int)r->len, r->body);
    assert_header(r, "Content-Type", "application/x-protobuf");
    char *m = status_message(r, NULL);
    if (!strstr(m, part)) fail_msg("message \"%s\" lacks \"%s\"", m, part);
    free(m);
}

/* ---- protobuf export ---- */

static void test_traces_protobuf_ok(void **state) {
    fx *f = *state;
    start(f);
    pp_batch *b = tu_make_traces(2, 2, 3, 7);
    size_t len;
    uint8_t *body = pack(b, &len);
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "application/x-protobuf");
    assert_int_equal(r.len, 0); /* the empty ExportTraceServiceResponse */
    assert_int_equal(f->traces.batches, 1);
    assert_int_equal(f->traces.items, 12);
    assert_int_equal(f->traces.last_len, len);
    assert_memory_equal(f->traces.last, body, len);
    assert_int_equal(pp_counter_value(f->in.accepted[PP_TRACES]), 12);
    tu_http_res_free(&r);
    free(body);
    pp_batch_unref(b);
}

static void test_metrics_protobuf_ok_with_charset(void **state) {
    fx *f = *state;
    start(f);
    pp_batch *b = tu_make_metrics(3, 4, 9);
    size_t len;
    uint8_t *body = pack(b, &len);
    const char *h[] = {"Content-Type: Application/X-Protobuf; charset=utf-8", NULL};
    tu_http_res r;
    tu_http_do(NULL, "POST", f->metrics_url, h, body, len, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(f->metrics_next.items, 12);
    assert_memory_equal(f->metrics_next.last, body, len);
    assert_int_equal(f->traces.batches, 0);
    tu_http_res_free(&r);
    free(body);
    pp_batch_unref(b);
}

static void test_empty_body_is_success(void **state) {
    fx *f = *state;
    start(f);
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, PB, "", 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(f->traces.items, 0);
    tu_http_res_free(&r);
}

/* ---- errors from the headers ---- */

static void test_paths_methods_types(void **state) {
    fx *f = *state;
    f->metrics_next.c.consume = NULL;
    f->in.next[PP_METRICS] = NULL; /* no metrics pipeline */
    start(f);
    char url[160];
    int port = pp_http_server_port(f->s);
    tu_http_res r;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/logs", port);
    tu_http_do(NULL, "POST", url, PB, "x", 1, &r);
    assert_error(&r, 404, "logs");
    tu_http_res_free(&r);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", port);
    tu_http_do(NULL, "POST", url, PB, "x", 1, &r);
    assert_error(&r, 404, "/nope");
    tu_http_res_free(&r);

    tu_http_do(NULL, "POST", f->metrics_url, PB, "", 0, &r);
    assert_error(&r, 404, "no metrics pipeline");
    tu_http_res_free(&r);

    tu_http_do(NULL, "GET", f->url, NULL, NULL, 0, &r);
    assert_error(&r, 405, "method not allowed");
    assert_header(&r, "Allow", "POST");
    tu_http_res_free(&r);

    tu_http_do(NULL, "PUT", f->url, PB, "", 0, &r);
    assert_error(&r, 405, "POST");
    tu_http_res_free(&r);

    const char *text[] = {"Content-Type: text/plain", NULL};
    tu_http_do(NULL, "POST", f->url, text, "hello", 5, &r);
    assert_error(&r, 415, "application/x-protobuf");
    tu_http_res_free(&r);

    const char *none[] = {"Content-Type:", NULL};
    tu_http_do(NULL, "POST", f->url, none, "hello", 5, &r);
    assert_error(&r, 415, "unsupported media type");
    tu_http_res_free(&r);

    const char *br[] = {"Content-Type: application/x-protobuf", "Content-Encoding: br", NULL};
    tu_http_do(NULL, "POST", f->url, br, "hello", 5, &r);
    assert_error(&r, 400, "unsupported Content-Encoding: br");
    tu_http_res_free(&r);
    assert_int_equal(f->traces.batches, 0);
}

static void test_bad_protobuf_and_bad_ids(void **state) {
    fx *f = *state;
    start(f);
    tu_http_res r;
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01}; /* length past the end */
    tu_http_do(NULL, "POST", f->url, PB, junk, sizeof(junk), &r);
    assert_error(&r, 400, "");
    tu_http_res_free(&r);

    pp_batch *b = tu_make_traces(1, 1, 2, 3);
    b->traces->resource_spans[0]->scope_spans[0]->spans[1]->trace_id.len = 15;
    size_t len;
    uint8_t *body = pack(b, &len);
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_error(&r, 400, "spans[1].trace_id");
    assert_int_equal(f->traces.batches, 0);
    assert_int_equal(pp_counter_value(f->in.failed_decode[PP_TRACES]), 2);
    tu_http_res_free(&r);
    free(body);
    pp_batch_unref(b);
}

static void test_auth(void **state) {
    fx *f = *state;
    f->in.auth = &f->auth;
    start(f);
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, PB, "", 0, &r);
    assert_error(&r, 401, "bearer token");
    tu_http_res_free(&r);
    const char *bad[] = {"Content-Type: application/x-protobuf", "Authorization: Bearer bad", NULL};
    tu_http_do(NULL, "POST", f->url, bad, "", 0, &r);
    assert_error(&r, 401, "bearer token");
    tu_http_res_free(&r);
    const char *good[] = {"Content-Type: application/x-protobuf", "authorization: Bearer good",
                          NULL};
    tu_http_do(NULL, "POST", f->url, good, "", 0, &r);
    assert_int_equal(r.status, 200);
    tu_http_res_free(&r);
}

static void test_refusals_503_retry_after(void **state) {
    fx *f = *state;
    start(f);
    pp_batch *b = tu_make_traces(1, 1, 1, 1);
    size_t len;
    uint8_t *body = pack(b, &len);
    tu_http_res r;

    f->traces.refuse = PP_UNAVAILABLE;
    f->traces.retry_ms = 1500;
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_error(&r, 503, "refused by the fake");
    assert_header(&r, "Retry-After", "2"); /* rounded up */
    tu_http_res_free(&r);

    f->traces.retry_ms = 0;
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_error(&r, 503, "refused");
    assert_header(&r, "Retry-After", "1");
    tu_http_res_free(&r);
    assert_int_equal(pp_counter_value(f->in.refused[PP_TRACES]), 2);

    f->traces.refuse = PP_INTERNAL;
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_error(&r, 500, "refused");
    assert_header(&r, "Retry-After", NULL);
    tu_http_res_free(&r);

    /* The memory budget refuses before the body is read. */
    f->traces.refuse = PP_OK;
    f->adm.cap = len - 1;
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_error(&r, 503, "memory budget");
    assert_header(&r, "Retry-After", "3");
    tu_http_res_free(&r);
    f->adm.cap = len;
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_int_equal(r.status, 200);
    tu_http_res_free(&r);
    assert_int_equal(f->traces.batches, 1);
    free(body);
    pp_batch_unref(b);
}

/* ---- compression ---- */

static uint8_t *zlib_compress(const uint8_t *in, size_t n, int wbits, size_t *out_len) {
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, n) + 64;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static void post_encoded(fx *f, const char *encoding, const uint8_t *body, size_t len,
                         long want) {
    char ce[64];
    snprintf(ce, sizeof(ce), "Content-Encoding: %s", encoding);
    const char *h[] = {"Content-Type: application/x-protobuf", ce, NULL};
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, h, body, len, &r);
    if (r.status != want) fail_msg("%s: status %ld, want %ld", encoding, r.status, want);
    tu_http_res_free(&r);
}

static void test_compressed_bodies(void **state) {
    fx *f = *state;
    start(f);
    pp_batch *b = tu_make_traces(3, 2, 5, 11);
    size_t len, clen;
    uint8_t *body = pack(b, &len);
    uint8_t *c;

    c = zlib_compress(body, len, 15 + 16, &clen);
    post_encoded(f, "gzip", c, clen, 200);
    free(c);
    c = zlib_compress(body, len, 15, &clen);
    post_encoded(f, "deflate", c, clen, 200);
    free(c);
    c = zlib_compress(body, len, -15, &clen); /* raw deflate, as Go's flate writes */
    post_encoded(f, "DEFLATE", c, clen, 200);
    free(c);
    clen = ZSTD_compressBound(len);
    c = malloc(clen);
    clen = ZSTD_compress(c, clen, body, len, 3);
    post_encoded(f, "zstd", c, clen, 200);
    free(c);
    clen = snappy_max_compressed_length(len);
    c = malloc(clen);
    assert_int_equal(snappy_compress((const char *)body, len, (char *)c, &clen), SNAPPY_OK);
    post_encoded(f, "snappy", c, clen, 200);
    post_encoded(f, "identity", body, len, 200);
    assert_int_equal(f->traces.batches, 6);
    assert_int_equal(f->traces.items, 6 * 30);
    assert_memory_equal(f->traces.last, body, len);

    post_encoded(f, "gzip", c, clen, 400); /* snappy bytes are not gzip */
    free(c);
    c = zlib_compress(body, len, 15 + 16, &clen);
    post_encoded(f, "gzip", c, clen - 9, 400); /* truncated */
    free(c);
    assert_int_equal(f->traces.batches, 6);
    free(body);
    pp_batch_unref(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_traces_protobuf_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_protobuf_ok_with_charset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_body_is_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_methods_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_protobuf_and_bad_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_503_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_bodies, setup, teardown),
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
