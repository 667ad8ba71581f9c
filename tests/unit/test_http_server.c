/* Unit tests: the OTLP/HTTP server (receivers/otlp/http_server.c) driven with
 * libcurl and raw sockets on 127.0.0.1, feeding fake consumers. */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <snappy-c.h>

#include "admission.h"
#include "google/rpc/status.pb-c.h"
#include "otlp_json.h"
#include "receivers/otlp/otlp_receiver.h"
#include "telemetry.h"

/* ---- fakes ---- */

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
    pp_admission *adm;
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
    f->adm = pp_admission_new();
    f->host.metrics = f->metrics;
    f->host.admission = f->adm;
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
    assert_int_equal(pp_admission_in_flight(f->adm), 0);
    pp_admission_free(f->adm);
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

    f->traces.refuse = PP_THROTTLED; /* a quota: 429 with Retry-After */
    f->traces.retry_ms = 3000;
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_error(&r, 429, "refused by the fake");
    assert_header(&r, "Retry-After", "3");
    tu_http_res_free(&r);
    f->traces.retry_ms = 0;

    f->traces.refuse = PP_INTERNAL;
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_error(&r, 500, "refused");
    assert_header(&r, "Retry-After", NULL);
    tu_http_res_free(&r);

    /* The memory budget refuses before the body is read. */
    f->traces.refuse = PP_OK;
    pp_admission_set_limit(f->adm, len * PP_ADMISSION_DECODE_FACTOR - 1, 0);
    pp_admission_set_retry_after(f->adm, 2500);
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_error(&r, 503, "memory limit");
    assert_header(&r, "Retry-After", "3");
    tu_http_res_free(&r);
    pp_admission_set_limit(f->adm, 0, 0);
    pp_admission_set_limit(f->adm, len * PP_ADMISSION_DECODE_FACTOR, 0);
    tu_http_do(NULL, "POST", f->url, PB, body, len, &r);
    assert_int_equal(r.status, 200);
    tu_http_res_free(&r);
    assert_int_equal(f->traces.batches, 1);
    free(body);
    pp_batch_unref(b);
}

/* ---- compression ---- */

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

    c = tu_zlib_compress(body, len, 15 + 16, &clen);
    post_encoded(f, "gzip", c, clen, 200);
    free(c);
    c = tu_zlib_compress(body, len, 15, &clen);
    post_encoded(f, "deflate", c, clen, 200);
    free(c);
    c = tu_zlib_compress(body, len, -15, &clen); /* raw deflate, as Go's flate writes */
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
    c = tu_zlib_compress(body, len, 15 + 16, &clen);
    post_encoded(f, "gzip", c, clen - 9, 400); /* truncated */
    free(c);
    assert_int_equal(f->traces.batches, 6);
    free(body);
    pp_batch_unref(b);
}

/* ---- limits, slow and hostile clients ---- */

static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void raw_send(int fd, const void *p, size_t n) {
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until the end of a response's header block (or EOF / 5 s). */
static void raw_read_head(int fd, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    while (n + 1 < cap && !strstr(buf, "\r\n\r\n")) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = '\0';
    }
}

static void test_content_length_over_limit_is_not_read(void **state) {
    fx *f = *state;
    start(f);
    int fd = raw_connect(pp_http_server_port(f->s));
    const char req[] = "POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/x-protobuf\r\nContent-Length: 1073741824\r\n\r\n";
    raw_send(fd, req, sizeof(req) - 1); /* and not one body byte */
    char head[2048];
    raw_read_head(fd, head, sizeof(head));
    if (strncmp(head, "HTTP/1.1 413", 12) != 0) fail_msg("got: %s", head);
    close(fd);
}

static void test_chunked_body_counted_as_it_arrives(void **state) {
    fx *f = *state;
    f->cfg.max_request_body_size = 65536;
    start(f);
    int fd = raw_connect(pp_http_server_port(f->s));
    const char req[] = "POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n";
    raw_send(fd, req, sizeof(req) - 1);
    static char chunk[8192 + 16];
    int hl = snprintf(chunk, sizeof(chunk), "2000\r\n");
    memset(chunk + hl, 'x', 8192);
    memcpy(chunk + hl + 8192, "\r\n", 2);
    /* 8 chunks reach the limit; the 9th passes it and is not stored. */
    for (int i = 0; i < 12; i++) raw_send(fd, chunk, (size_t)hl + 8194);
    raw_send(fd, "0\r\n\r\n", 5);
    char head[2048];
    raw_read_head(fd, head, sizeof(head));
    if (strncmp(head, "HTTP/1.1 413", 12) != 0) fail_msg("got: %s", head);
    close(fd);

    /* Under the limit, chunked works. */
    pp_batch *b = tu_make_traces(1, 1, 4, 5);
    size_t len;
    uint8_t *body = pack(b, &len);
    const char *h[] = {"Content-Type: application/x-protobuf", "Transfer-Encoding: chunked", NULL};
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, h, body, len, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(f->traces.items, 4);
    tu_http_res_free(&r);
    free(body);
    pp_batch_unref(b);
}

static long vm_hwm_kib(void) {
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (fp && fgets(line, sizeof(line), fp))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    if (fp) fclose(fp);
    return kib;
}

/* 1 GiB of zeros, gzip-compressed by streaming (about 1 MiB). */
static uint8_t *gzip_bomb(size_t *len) {
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    static uint8_t zeros[1 << 20];
    size_t cap = 2u << 20;
    uint8_t *out = malloc(cap);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    for (int i = 0; i < 1024; i++) {
        z.next_in = zeros;
        z.avail_in = sizeof(zeros);
        assert_int_equal(deflate(&z, i == 1023 ? Z_FINISH : Z_NO_FLUSH), i == 1023 ? Z_STREAM_END : Z_OK);
        assert_int_equal(z.avail_in, 0);
    }
    *len = z.total_out;
    deflateEnd(&z);
    return out;
}

static void test_gzip_bomb_refused_with_small_memory(void **state) {
    fx *f = *state;
    start(f);
    size_t len;
    uint8_t *bomb = gzip_bomb(&len);
    assert_true(len < (2u << 20));
    long before = vm_hwm_kib();
    const char *h[] = {"Content-Type: application/x-protobuf", "Content-Encoding: gzip", NULL};
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, h, bomb, len, &r);
    assert_error(&r, 413, "decompressed request body larger than max_request_body_size");
    long growth_mib = (vm_hwm_kib() - before) / 1024;
    print_message("gzip bomb: %zu compressed bytes, peak RSS growth %ld MiB\n", len, growth_mib);
    assert_true(growth_mib < 64);
    assert_int_equal(f->traces.batches, 0);
    tu_http_res_free(&r);
    free(bomb);
}

static void test_keep_alive_reuses_one_connection(void **state) {
    fx *f = *state;
    start(f);
    CURL *c = curl_easy_init();
    long connects = 0;
    for (int i = 0; i < 20; i++) {
        tu_http_res r;
        tu_http_do(c, "POST", f->url, PB, "", 0, &r);
        assert_int_equal(r.status, 200);
        connects += r.connects;
        tu_http_res_free(&r);
    }
    /* An error answer keeps the connection too. */
    tu_http_res r;
    tu_http_do(c, "POST", f->url, PB, "\xff", 1, &r);
    assert_int_equal(r.status, 400);
    connects += r.connects;
    tu_http_res_free(&r);
    tu_http_do(c, "POST", f->url, PB, "", 0, &r);
    connects += r.connects;
    tu_http_res_free(&r);
    assert_int_equal(connects, 1);
    curl_easy_cleanup(c);
}

static void test_garbage_then_good_request(void **state) {
    fx *f = *state;
    start(f);
    int fd = raw_connect(pp_http_server_port(f->s));
    static const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 GARBAGE \xff\xfe\r\n\r\n";
    raw_send(fd, junk, sizeof(junk) - 1);
    char head[2048];
    raw_read_head(fd, head, sizeof(head));
    if (strncmp(head, "HTTP/1.1 400", 12) != 0) fail_msg("got: %s", head);
    close(fd);

    /* Headers past the connection's memory are refused, not crashed on. */
    size_t big = 40000;
    char *hdr = malloc(big + 16);
    memcpy(hdr, "X-Big: ", 7);
    memset(hdr + 7, 'a', big);
    hdr[7 + big] = '\0';
    const char *h[] = {"Content-Type: application/x-protobuf", hdr, NULL};
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, h, "", 0, &r);
    if (r.status != 431 && r.status != 413) fail_msg("oversized headers: status %ld", r.status);
    tu_http_res_free(&r);
    free(hdr);

    tu_http_do(NULL, "POST", f->url, PB, "", 0, &r);
    assert_int_equal(r.status, 200);
    tu_http_res_free(&r);
}

/* True once the peer has closed fd (EOF or reset) within ms milliseconds. */
static bool closed_within(int fd, int ms) {
    for (int waited = 0; waited < ms; waited += 20) {
        char b[256];
        ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* read_header_timeout is a deadline for the headers, not an inactivity timer:
 * a client trickling one header byte every 200 ms (never idle for the 1 s
 * timeout) is cut off at about 1 s. Headers that complete in time start a
 * request that may take longer to upload its body. */
static void test_slow_headers_are_cut_off(void **state) {
    fx *f = *state;
    f->cfg.read_header_timeout_ns = 1000000000LL;
    start(f);
    int64_t t0 = tu_mono_ns();
    int fd = raw_connect(pp_http_server_port(f->s));
    static const char head[] = "POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa";
    bool closed = false;
    for (size_t i = 0; i < sizeof(head) - 1 && !closed; i++) {
        if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1) break;
        closed = closed_within(fd, 200);
    }
    closed = closed || closed_within(fd, 200);
    int64_t took_ms = (tu_mono_ns() - t0) / 1000000;
    close(fd);
    if (!closed || took_ms > 2000) fail_msg("slow headers not cut off (closed=%d after %lld ms)", closed, (long long)took_ms);
    assert_true(took_ms >= 900);

    /* Headers in time, then the body in 8 pieces over 1.6 s: served. */
    size_t len;
    pp_batch *b = tu_make_traces(1, 1, 4, 3);
    len = pp_batch_encoded_size(b);
    uint8_t *body = malloc(len);
    pp_batch_pack(b, body);
    pp_batch_unref(b);
    fd = raw_connect(pp_http_server_port(f->s));
    char hdr[256];
    int hn = snprintf(hdr, sizeof(hdr), "POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n", len);
    raw_send(fd, hdr, (size_t)hn);
    for (size_t off = 0, piece = (len + 7) / 8; off < len; off += piece) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        raw_send(fd, body + off, off + piece > len ? len - off : piece);
    }
    char resp[2048];
    raw_read_head(fd, resp, sizeof(resp));
    if (strncmp(resp, "HTTP/1.1 200", 12) != 0) fail_msg("slow body: %s", resp);
    close(fd);
    free(body);
    assert_int_equal(f->traces.items, 4);
}

static void test_stop_waits_for_in_flight_until_deadline(void **state) {
    fx *f = *state;
    start(f);
    int fd = raw_connect(pp_http_server_port(f->s));
    const char req[] = "POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789";
    raw_send(fd, req, sizeof(req) - 1);
    for (int i = 0; i < 200 && pp_admission_in_flight(f->adm) == 0; i++) usleep(5000);
    assert_true(pp_admission_in_flight(f->adm) > 0); /* the request is in flight */
    int64_t t0 = tu_mono_ns();
    pp_http_server_stop(f->s, t0 + 300 * 1000000LL);
    int64_t took_ms = (tu_mono_ns() - t0) / 1000000;
    print_message("stop took %lld ms\n", (long long)took_ms);
    assert_true(took_ms >= 290);  /* it waited for the upload... */
    assert_true(took_ms < 2000);  /* ...but not past the deadline */
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0); /* the connection is closed */
    assert_true(n <= 0);
    close(fd);
    /* Stopped: new connections are refused. */
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, PB, "", 0, &r);
    assert_int_equal(r.status, 0);
    tu_http_res_free(&r);
}

static void test_stop_without_requests_is_quick(void **state) {
    fx *f = *state;
    start(f);
    int64_t t0 = tu_mono_ns();
    pp_http_server_stop(f->s, t0 + 5000 * 1000000LL);
    assert_true((tu_mono_ns() - t0) / 1000000 < 1000);
    pp_http_server_stop(f->s, 0); /* twice is harmless */
}

/* ---- CORS and configured headers ---- */

static void cors_setup(fx *f) {
    f->cfg.cors_present = true;
    f->origins[0] = "https://*.example.com";
    f->origins[1] = "http://exact.test";
    f->cfg.cors.allowed_origins = (pp_cfg_strs){f->origins, 2};
    f->allowed_headers[0] = "X-Custom";
    f->cfg.cors.allowed_headers = (pp_cfg_strs){f->allowed_headers, 1};
    f->cfg.cors.max_age = 7200;
    f->resp_headers[0] = (pp_cfg_kv){"X-Served-By", "pipit"};
    f->cfg.response_headers = (pp_cfg_kvs){f->resp_headers, 1};
}

static void test_cors_preflight(void **state) {
    fx *f = *state;
    cors_setup(f);
    start(f);
    tu_http_res r;
    const char *ok[] = {"Origin: https://app.example.com", "Access-Control-Request-Method: POST",
                        "Access-Control-Request-Headers: content-type, x-custom", NULL};
    tu_http_do(NULL, "OPTIONS", f->url, ok, NULL, 0, &r);
    assert_int_equal(r.status, 204);
    assert_header(&r, "Access-Control-Allow-Origin", "https://app.example.com");
    assert_header(&r, "Access-Control-Allow-Methods", "POST");
    assert_header(&r, "Access-Control-Allow-Headers", "content-type, x-custom");
    assert_header(&r, "Access-Control-Max-Age", "7200");
    assert_header(&r, "X-Served-By", "pipit");
    tu_http_res_free(&r);

    const char *bad_origin[] = {"Origin: https://evil.test", "Access-Control-Request-Method: POST",
                                NULL};
    tu_http_do(NULL, "OPTIONS", f->url, bad_origin, NULL, 0, &r);
    assert_int_equal(r.status, 204);
    assert_header(&r, "Access-Control-Allow-Origin", NULL);
    tu_http_res_free(&r);

    const char *bad_header[] = {"Origin: http://exact.test", "Access-Control-Request-Method: POST",
                                "Access-Control-Request-Headers: x-other", NULL};
    tu_http_do(NULL, "OPTIONS", f->url, bad_header, NULL, 0, &r);
    assert_int_equal(r.status, 204);
    assert_header(&r, "Access-Control-Allow-Origin", NULL);
    tu_http_res_free(&r);

    /* Not a preflight (no Access-Control-Request-Method): OPTIONS is 405. */
    const char *plain[] = {"Origin: http://exact.test", NULL};
    tu_http_do(NULL, "OPTIONS", f->url, plain, NULL, 0, &r);
    assert_error(&r, 405, "POST");
    tu_http_res_free(&r);
}

static void test_cors_actual_request_and_response_headers(void **state) {
    fx *f = *state;
    cors_setup(f);
    start(f);
    tu_http_res r;
    const char *h[] = {"Content-Type: application/x-protobuf", "Origin: http://exact.test", NULL};
    tu_http_do(NULL, "POST", f->url, h, "", 0, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Access-Control-Allow-Origin", "http://exact.test");
    assert_header(&r, "Vary", "Origin");
    assert_header(&r, "X-Served-By", "pipit");
    tu_http_res_free(&r);

    const char *other[] = {"Content-Type: application/x-protobuf", "Origin: http://exact.test.evil",
                           NULL};
    tu_http_do(NULL, "POST", f->url, other, "", 0, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Access-Control-Allow-Origin", NULL);
    assert_header(&r, "X-Served-By", "pipit");
    tu_http_res_free(&r);

    tu_http_do(NULL, "GET", f->url, NULL, NULL, 0, &r); /* errors carry them too */
    assert_int_equal(r.status, 405);
    assert_header(&r, "X-Served-By", "pipit");
    tu_http_res_free(&r);
}

/* ---- OTLP/JSON ---- */

static const char *JS[] = {"Content-Type: application/json; charset=utf-8", NULL};

static const char MINIMAL_SPAN[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
    "{\"stringValue\":\"svc\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"lib\"},\"spans\":[{"
    "\"traceId\":\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"EEE19B7EC3C1B174\",\"name\":"
    "\"op\",\"kind\":2,\"startTimeUnixNano\":\"1544712660000000000\",\"endTimeUnixNano\":"
    "\"1544712661000000000\"}]}]}]}";

/* The "message" of a JSON Status body (asserts the body is one). */
static char *json_message(const tu_http_res *r) {
    json_object *o = json_tokener_parse(r->body);
    assert_non_null(o);
    json_object *m;
    assert_true(json_object_object_get_ex(o, "message", &m));
    char *out = strdup(json_object_get_string(m));
    json_object_put(o);
    return out;
}

static void test_json_export(void **state) {
    fx *f = *state;
    start(f);
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, JS, MINIMAL_SPAN, strlen(MINIMAL_SPAN), &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "application/json");
    assert_string_equal(r.body, "{}");
    tu_http_res_free(&r);
    /* What arrived: the span with its hex ids as bytes and its values. */
    pp_status st;
    pp_batch *got = pp_batch_decode(PP_TRACES, f->traces.last, f->traces.last_len, &st);
    assert_non_null(got);
    assert_int_equal(got->items, 1);
    const pp_span *sp = got->traces->resource_spans[0]->scope_spans[0]->spans[0];
    static const uint8_t tid[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
                                    0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
    assert_int_equal(sp->trace_id.len, 16);
    assert_memory_equal(sp->trace_id.data, tid, 16);
    assert_string_equal(sp->name, "op");
    assert_int_equal(sp->kind, 2);
    assert_int_equal(sp->start_time_unix_nano, 1544712660000000000ULL);
    pp_batch_unref(got);

    /* A full fixture of each signal arrives exactly as the codec decodes it. */
    static const struct { const char *file; int metrics; } fixtures[] = {
        {"traces_full.json", 0}, {"metrics_full.json", 1}};
    for (size_t i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/tests/data/otlp-json/%s", getenv("PIPIT_SOURCE_DIR"),
                 fixtures[i].file);
        size_t len;
        char *json = tu_read_file(path, &len);
        assert_non_null(json);
        pp_signal sig = fixtures[i].metrics ? PP_METRICS : PP_TRACES;
        pp_batch *want = pp_otlp_json_decode(sig, json, len, &st);
        assert_non_null(want);
        size_t wlen;
        uint8_t *wbytes = pack(want, &wlen);
        tu_http_do(NULL, "POST", fixtures[i].metrics ? f->metrics_url : f->url, JS, json, len, &r);
        assert_int_equal(r.status, 200);
        fake_next *n = fixtures[i].metrics ? &f->metrics_next : &f->traces;
        assert_int_equal(n->last_len, wlen);
        assert_memory_equal(n->last, wbytes, wlen);
        assert_int_equal(pp_counter_value(f->in.accepted[sig]), want->items + (sig == PP_TRACES));
        tu_http_res_free(&r);
        free(wbytes);
        pp_batch_unref(want);
        free(json);
    }
}

static void test_json_errors(void **state) {
    fx *f = *state;
    start(f);
    tu_http_res r;
    tu_http_do(NULL, "POST", f->url, JS, "{\"resourceSpans\": [", 19, &r);
    assert_int_equal(r.status, 400);
    assert_header(&r, "Content-Type", "application/json");
    char *m = json_message(&r);
    assert_true(strlen(m) > 0);
    free(m);
    tu_http_res_free(&r);

    char bad[sizeof(MINIMAL_SPAN)];
    memcpy(bad, MINIMAL_SPAN, sizeof(bad));
    char *id = strstr(bad, "5B8EFFF7");
    memmove(id, id + 2, strlen(id + 2) + 1); /* 30 hex characters */
    tu_http_do(NULL, "POST", f->url, JS, bad, strlen(bad), &r);
    assert_int_equal(r.status, 400);
    m = json_message(&r);
    if (!strstr(m, "traceId")) fail_msg("message \"%s\" does not name traceId", m);
    free(m);
    tu_http_res_free(&r);

    char url[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/logs", pp_http_server_port(f->s));
    tu_http_do(NULL, "POST", url, JS, "{}", 2, &r);
    assert_int_equal(r.status, 404);
    assert_header(&r, "Content-Type", "application/json");
    m = json_message(&r);
    assert_non_null(strstr(m, "logs"));
    free(m);
    tu_http_res_free(&r);

    f->traces.refuse = PP_UNAVAILABLE;
    tu_http_do(NULL, "POST", f->url, JS, MINIMAL_SPAN, strlen(MINIMAL_SPAN), &r);
    assert_int_equal(r.status, 503);
    assert_header(&r, "Retry-After", "1");
    m = json_message(&r);
    assert_string_equal(m, "refused by the fake");
    free(m);
    tu_http_res_free(&r);
    assert_int_equal(f->traces.batches, 0);
    assert_int_equal(pp_counter_value(f->in.failed_decode[PP_TRACES]), 2);
}

/* The HTTP side of the JS SDK's forceFlush burst: 60 concurrent ~1 MiB
 * POSTs, at most 6 connections (curl queues the rest, as the SDK's agent
 * does). HTTP/1.1 has no flow control of its own: a busy server simply reads
 * later (TCP backpressure). Every request must succeed. */
static void test_burst_of_60_one_mib_posts(void **state) {
    fx *f = *state;
    start(f);
    pp_batch *b = tu_make_traces(1, 1, 64, 5);
    size_t n = 64 * (1u << 20) / pp_batch_encoded_size(b), len;
    pp_batch_unref(b);
    b = tu_make_traces(1, 1, n, 5);
    uint8_t *body = pack(b, &len);
    pp_batch_unref(b);
    assert_true(len > (3u << 20) / 4 && len < (5u << 20) / 4);
    enum { N = 60 };
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 6L);
    CURL *h[N];
    struct curl_slist *hdrs = curl_slist_append(NULL, PB[0]);
    for (int i = 0; i < N; i++) {
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, f->url);
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 60L);
        curl_multi_add_handle(m, h[i]);
    }
    int running = N;
    for (int i = 0; running > 0 && i < 120000; i++) {
        curl_multi_perform(m, &running);
        if (running > 0) curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    int ok = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        long code = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK && code == 200) ok++;
        else print_error("POST: %s, HTTP %ld\n", curl_easy_strerror(msg->data.result), code);
    }
    long conns = 0, total = 0;
    for (int i = 0; i < N; i++) {
        curl_easy_getinfo(h[i], CURLINFO_NUM_CONNECTS, &conns);
        total += conns;
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    assert_int_equal(ok, N);
    assert_true(total <= 6); /* several connections, reused: the rest queued */
    assert_int_equal(f->traces.batches, N);
    assert_int_equal(f->traces.items, N * n);
    free(body);
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
        cmocka_unit_test_setup_teardown(test_json_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_length_over_limit_is_not_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_body_counted_as_it_arrives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_bomb_refused_with_small_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive_reuses_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_then_good_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_headers_are_cut_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_for_in_flight_until_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_without_requests_is_quick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cors_preflight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cors_actual_request_and_response_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_burst_of_60_one_mib_posts, setup, teardown),
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
