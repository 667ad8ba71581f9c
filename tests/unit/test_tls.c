/* test_tls.c -- TLS and mTLS on both OTLP transports, against real servers on
 * 127.0.0.1 with a throwaway PKI made by tests/tools/make-certs.sh (openssl
 * CLI) in a temporary directory. Clients: libcurl (OpenSSL) for gRPC over
 * HTTP/2 with ALPN h2 and for HTTP/1.1, the plaintext nghttp2 test client for
 * a client that does not speak TLS at all. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service.h"
#include "testutil.h"
#include "testutil_grpc.h"
#include "testutil_world.h"

static char dir[128];

static int make_pki(void **state) {
    (void)state;
    const char *src = getenv("PIPIT_SOURCE_DIR");
    if (!src) return -1;
    snprintf(dir, sizeof(dir), "/tmp/pipit-tls.XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "bash %s/tests/tools/make-certs.sh %s", src, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_pki(void **state) {
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Paths in dir; each call returns one of four rotating buffers. */
static char *pki(const char *name) {
    static char bufs[4][256];
    static int i;
    char *b = bufs[i++ % 4];
    snprintf(b, 256, "%s/%s", dir, name);
    return b;
}

static char cert[256], key[256], ca[256];

/* Server credentials: cert and key, plus client_ca_file when mtls. */
static void server_tls(pp_tls_cfg *t, bool *present, bool mtls) {
    snprintf(cert, sizeof(cert), "%s", pki("server.pem"));
    snprintf(key, sizeof(key), "%s", pki("server.key"));
    snprintf(ca, sizeof(ca), "%s", pki("ca.pem"));
    *present = true;
    t->cert_file = cert;
    t->key_file = key;
    t->client_ca_file = mtls ? ca : NULL;
}

/* A curl handle that trusts ca.pem, verifies the server, and presents
 * <client>.pem (NULL: no client certificate). h2: ALPN h2 only. */
static CURL *tls_client(const char *client, bool h2) {
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_CAINFO, pki("ca.pem"));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, h2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    if (client) {
        char name[64];
        snprintf(name, sizeof(name), "%s.pem", client);
        curl_easy_setopt(c, CURLOPT_SSLCERT, pki(name));
        snprintf(name, sizeof(name), "%s.key", client);
        curl_easy_setopt(c, CURLOPT_SSLKEY, pki(name));
    }
    return c;
}

/* ---- gRPC ---- */

typedef struct grpc_res {
    long status;      /* HTTP status; 0: no answer (TLS refused) */
    int grpc_status;  /* -1: none */
    long http_version;
} grpc_res;

/* One TraceService/Export call with 2 spans over TLS to host (127.0.0.1 or
 * localhost, pinned to 127.0.0.1). */
static grpc_res grpc_tls_call(const char *host, const char *client) {
    CURL *c = tls_client(client, true);
    char url[256], pin[64];
    snprintf(pin, sizeof(pin), "localhost:%d:127.0.0.1", tu_srv->port);
    struct curl_slist *resolve = curl_slist_append(NULL, pin);
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    snprintf(url, sizeof(url), "https://%s:%d%s", host, tu_srv->port, TU_TRACES);
    size_t len, flen;
    uint8_t *msg = tu_traces_bytes(2, 5, &len);
    uint8_t *f = tu_grpc_frame(0, msg, len, &flen);
    const char *hdrs[] = {"Content-Type: application/grpc", "TE: trailers", NULL};
    tu_http_res r;
    tu_http_do(c, "POST", url, hdrs, f, flen, &r);
    grpc_res out = {.status = r.status, .grpc_status = -1};
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &out.http_version);
    char v[16];
    if (tu_http_header(&r, "grpc-status", v, sizeof(v))) out.grpc_status = atoi(v);
    tu_http_res_free(&r);
    free(f);
    free(msg);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(c);
    return out;
}

static void assert_grpc_ok(grpc_res r) {
    assert_int_equal(r.status, 200);
    assert_int_equal(r.http_version, CURL_HTTP_VERSION_2_0); /* ALPN chose h2 */
    assert_int_equal(r.grpc_status, 0);
}

/* Refused: no TLS session (handshake failure) or UNAUTHENTICATED. */
static void assert_grpc_refused(grpc_res r) {
    if (r.status != 0) assert_int_equal(r.grpc_status, 16);
}

static void test_grpc_tls(void **state) {
    (void)state;
    server_tls(&tu_srv->cfg.tls, &tu_srv->cfg.tls_present, false);
    tu_server_start(tu_srv);
    assert_grpc_ok(grpc_tls_call("127.0.0.1", NULL));
    assert_grpc_ok(grpc_tls_call("localhost", NULL)); /* both SANs */
    assert_int_equal(tu_srv->sink.batches, 2);
    assert_int_equal(tu_srv->sink.items, 4);

    /* A plaintext HTTP/2 client: the handshake fails, the connection closes,
     * no call is answered, and the server goes on serving TLS. */
    for (int i = 0; i < 3; i++) {
        tu_client cl;
        assert_int_equal(tu_client_connect(&cl, tu_srv->port), 0);
        tu_call call = {0};
        size_t len, flen;
        uint8_t *msg = tu_traces_bytes(1, 1, &len);
        uint8_t *f = tu_grpc_frame(0, msg, len, &flen);
        call.body = f;
        call.body_len = flen;
        call.end_stream = true;
        tu_client_submit(&cl, &call, TU_TRACES, "application/grpc", NULL);
        assert_int_equal(tu_client_run(&cl, &call, 1, 5000), 0);
        assert_true(cl.eof); /* closed by the server, not by our timeout */
        assert_int_equal(call.grpc_status, -1);
        tu_client_close(&cl);
        free(f);
        free(msg);
    }
    assert_grpc_ok(grpc_tls_call("127.0.0.1", NULL));
    assert_int_equal(tu_srv->sink.batches, 3);
}

static void test_grpc_mtls(void **state) {
    (void)state;
    server_tls(&tu_srv->cfg.tls, &tu_srv->cfg.tls_present, true);
    tu_server_start(tu_srv);
    assert_grpc_refused(grpc_tls_call("127.0.0.1", NULL));
    assert_grpc_refused(grpc_tls_call("127.0.0.1", "other-client"));
    assert_int_equal(tu_srv->sink.batches, 0);
    assert_grpc_ok(grpc_tls_call("127.0.0.1", "client"));
    assert_int_equal(tu_srv->sink.batches, 1);
    assert_grpc_refused(grpc_tls_call("localhost", "other-client"));
    assert_grpc_ok(grpc_tls_call("localhost", "client"));
    assert_int_equal(tu_srv->sink.batches, 2);
}

static void test_grpc_bad_credentials_do_not_start(void **state) {
    (void)state;
    server_tls(&tu_srv->cfg.tls, &tu_srv->cfg.tls_present, false);
    tu_srv->cfg.tls.key_file = pki("client.key"); /* not the certificate's key */
    pp_status st = {0};
    assert_null(pp_grpc_server_start(&tu_srv->cfg, &tu_srv->in, &st));
    assert_non_null(strstr(st.msg, "server.pem"));
    tu_srv->cfg.tls.key_file = pki("missing.key");
    assert_null(pp_grpc_server_start(&tu_srv->cfg, &tu_srv->in, &st));
}

/* The otlp exporter over TLS (libcurl; plaintext goes through grpc_client.c):
 * it verifies the server with ca_file, sends the configured headers (the
 * server requires the bearer token) and keeps one connection per consumer. */
static void test_otlp_exporter_over_tls(void **state) {
    (void)state;
    server_tls(&tu_srv->cfg.tls, &tu_srv->cfg.tls_present, false);
    tu_server_use_auth(tu_srv);
    tu_server_start(tu_srv);
    tu_world_register_fakes();
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "receivers: {tu_recv: }\n"
             "exporters:\n"
             "  otlp:\n"
             "    endpoint: https://localhost:%d\n"
             "    tls: {ca_file: %s}\n"
             "    headers: {authorization: Bearer s3cret}\n"
             "    sending_queue: {num_consumers: 1}\n"
             "service: {pipelines: {traces: {receivers: [tu_recv], exporters: [otlp]}}}\n",
             tu_srv->port, pki("ca.pem"));
    tu_world *w = tu_world_new(yaml);
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    tu_recv *r = pp_service_instance(w->svc, PP_RECEIVER, "tu_recv", NULL);
    assert_non_null(r);
    for (uint32_t k = 0; k < 3; k++) {
        pp_batch *b = tu_make_traces(1, 1, 4, k);
        assert_int_equal(tu_recv_push(r, b, &st), 0);
        pp_batch_unref(b);
    }
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&tu_srv->sink.mu);
        size_t items = tu_srv->sink.items;
        pthread_mutex_unlock(&tu_srv->sink.mu);
        if (items >= 12) break;
        usleep(1000);
    }
    tu_world_free(w);
    assert_int_equal(tu_srv->sink.items, 12);
    assert_int_equal(tu_srv->sink.batches, 3);
}

/* ---- HTTP ---- */

typedef struct http_fx {
    pp_ingest in;
    pp_http_server_cfg cfg;
    pp_http_server *s;
    int port;
} http_fx;

/* An HTTP server on 127.0.0.1:0 feeding tu_srv's sink. */
static void http_start(http_fx *h, bool mtls) {
    memset(h, 0, sizeof(*h));
    pp_create_params p = {.id = "otlp", .host = &tu_srv->host};
    p.next[PP_TRACES] = &tu_srv->sink.c;
    pp_ingest_init(&h->in, &p, "http");
    h->cfg = (pp_http_server_cfg){
        .endpoint = "127.0.0.1:0", .traces_url_path = "/v1/traces",
        .metrics_url_path = "/v1/metrics", .logs_url_path = "/v1/logs",
        .max_request_body_size = 20 << 20, .read_header_timeout_ns = 10000000000LL,
        .idle_timeout_ns = 60000000000LL};
    server_tls(&h->cfg.tls, &h->cfg.tls_present, mtls);
    pp_status st = {0};
    h->s = pp_http_server_start(&h->cfg, &h->in, &st);
    if (!h->s) fail_msg("start: %s", st.msg);
    h->port = pp_http_server_port(h->s);
}

/* POST /v1/traces with 3 spans; returns the status (0: no answer). */
static long http_post(http_fx *h, const char *scheme, const char *client) {
    CURL *c = tls_client(client, false);
    char url[128];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/v1/traces", scheme, h->port);
    size_t len;
    uint8_t *msg = tu_traces_bytes(3, 9, &len);
    const char *hdrs[] = {"Content-Type: application/x-protobuf", NULL};
    tu_http_res r;
    tu_http_do(c, "POST", url, hdrs, msg, len, &r);
    long status = r.status;
    tu_http_res_free(&r);
    free(msg);
    curl_easy_cleanup(c);
    return status;
}

static void test_http_tls(void **state) {
    (void)state;
    http_fx h;
    http_start(&h, false);
    assert_int_equal(http_post(&h, "https", NULL), 200);
    assert_int_equal(tu_srv->sink.items, 3);
    /* Plaintext HTTP to the TLS port: no answer, and the server carries on. */
    assert_int_equal(http_post(&h, "http", NULL), 0);
    assert_int_equal(http_post(&h, "https", NULL), 200);
    assert_int_equal(tu_srv->sink.items, 6);
    pp_http_server_free(h.s);
}

static void test_http_mtls(void **state) {
    (void)state;
    http_fx h;
    http_start(&h, true);
    long st = http_post(&h, "https", NULL);
    assert_true(st == 0 || st == 401);
    st = http_post(&h, "https", "other-client");
    assert_true(st == 0 || st == 401);
    assert_int_equal(tu_srv->sink.batches, 0);
    assert_int_equal(http_post(&h, "https", "client"), 200);
    assert_int_equal(tu_srv->sink.items, 3);
    pp_http_server_free(h.s);
}

static void test_http_bad_credentials_do_not_start(void **state) {
    (void)state;
    http_fx h;
    memset(&h, 0, sizeof(h));
    pp_create_params p = {.id = "otlp", .host = &tu_srv->host};
    pp_ingest_init(&h.in, &p, "http");
    h.cfg.endpoint = "127.0.0.1:0";
    server_tls(&h.cfg.tls, &h.cfg.tls_present, true);
    h.cfg.tls.client_ca_file = pki("missing-ca.pem");
    pp_status st = {0};
    assert_null(pp_http_server_start(&h.cfg, &h.in, &st));
    assert_non_null(strstr(st.msg, "missing-ca.pem"));
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grpc_tls, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_mtls, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_bad_credentials_do_not_start, tu_srv_setup,
                                        tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_otlp_exporter_over_tls, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_tls, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_mtls, tu_srv_setup, tu_srv_teardown),
        cmocka_unit_test_setup_teardown(test_http_bad_credentials_do_not_start, tu_srv_setup,
                                        tu_srv_teardown),
    };
    int rc = cmocka_run_group_tests(tests, make_pki, remove_pki);
    curl_global_cleanup();
    return rc;
}
