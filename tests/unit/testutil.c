/* testutil.c -- see testutil.h. */
#include "testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static pp_key_value *kv_str(pp_arena *a, const char *k, const char *v) {
    pp_key_value *kv = pp_arena_alloc(a, sizeof(*kv));
    pp_any_value *av = pp_arena_alloc(a, sizeof(*av));
    opentelemetry__proto__common__v1__key_value__init(kv);
    opentelemetry__proto__common__v1__any_value__init(av);
    kv->key = pp_arena_strdup(a, k);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av->string_value = pp_arena_strdup(a, v);
    kv->value = av;
    return kv;
}

static pp_resource *resource(pp_arena *a, uint32_t seed) {
    pp_resource *r = pp_arena_alloc(a, sizeof(*r));
    opentelemetry__proto__resource__v1__resource__init(r);
    char name[32];
    snprintf(name, sizeof(name), "svc-%u", seed);
    r->n_attributes = 1;
    r->attributes = pp_arena_alloc(a, sizeof(pp_key_value *));
    r->attributes[0] = kv_str(a, "service.name", name);
    return r;
}

pp_batch *tu_make_traces(size_t n_resources, size_t n_scopes, size_t n_spans, uint32_t seed) {
    pp_batch *b = pp_batch_new(PP_TRACES, 0);
    pp_arena *a = b->arena;
    pp_traces_req *req = b->traces;
    req->n_resource_spans = n_resources;
    req->resource_spans = pp_arena_alloc(a, n_resources * sizeof(void *) + 1);
    uint32_t counter = 0;
    for (size_t i = 0; i < n_resources; i++) {
        pp_resource_spans *rs = pp_arena_alloc(a, sizeof(*rs));
        opentelemetry__proto__trace__v1__resource_spans__init(rs);
        rs->resource = resource(a, seed);
        rs->n_scope_spans = n_scopes;
        rs->scope_spans = pp_arena_alloc(a, n_scopes * sizeof(void *) + 1);
        for (size_t j = 0; j < n_scopes; j++) {
            pp_scope_spans *ss = pp_arena_alloc(a, sizeof(*ss));
            opentelemetry__proto__trace__v1__scope_spans__init(ss);
            ss->n_spans = n_spans;
            ss->spans = pp_arena_alloc(a, n_spans * sizeof(void *) + 1);
            for (size_t k = 0; k < n_spans; k++) {
                pp_span *sp = pp_arena_alloc(a, sizeof(*sp));
                opentelemetry__proto__trace__v1__span__init(sp);
                uint8_t *tid = pp_arena_alloc(a, 16), *sid = pp_arena_alloc(a, 8);
                counter++;
                for (int x = 0; x < 16; x++) tid[x] = (uint8_t)(seed * 31u + (uint32_t)x + 1u);
                for (int x = 0; x < 8; x++) sid[x] = (uint8_t)((counter >> (8 * (x % 4))) + (uint32_t)x + 1u);
                sp->trace_id.data = tid;
                sp->trace_id.len = 16;
                sp->span_id.data = sid;
                sp->span_id.len = 8;
                sp->name = pp_arena_strdup(a, "op");
                sp->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
                sp->start_time_unix_nano = 1700000000000000000ull + counter;
                sp->end_time_unix_nano = sp->start_time_unix_nano + 1000;
                ss->spans[k] = sp;
            }
            rs->scope_spans[j] = ss;
        }
        req->resource_spans[i] = rs;
    }
    pp_batch_recount(b);
    return b;
}

pp_batch *tu_make_metrics(size_t n_metrics, size_t n_points, uint32_t seed) {
    pp_batch *b = pp_batch_new(PP_METRICS, 0);
    pp_arena *a = b->arena;
    pp_metrics_req *req = b->metrics;
    pp_resource_metrics *rm = pp_arena_alloc(a, sizeof(*rm));
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    rm->resource = resource(a, seed);
    pp_scope_metrics *sm = pp_arena_alloc(a, sizeof(*sm));
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    sm->n_metrics = n_metrics;
    sm->metrics = pp_arena_alloc(a, n_metrics * sizeof(void *) + 1);
    for (size_t i = 0; i < n_metrics; i++) {
        pp_metric *m = pp_arena_alloc(a, sizeof(*m));
        opentelemetry__proto__metrics__v1__metric__init(m);
        char name[32];
        snprintf(name, sizeof(name), "gauge_%zu", i);
        m->name = pp_arena_strdup(a, name);
        Opentelemetry__Proto__Metrics__V1__Gauge *g = pp_arena_alloc(a, sizeof(*g));
        opentelemetry__proto__metrics__v1__gauge__init(g);
        g->n_data_points = n_points;
        g->data_points = pp_arena_alloc(a, n_points * sizeof(void *) + 1);
        for (size_t k = 0; k < n_points; k++) {
            pp_number_point *p = pp_arena_alloc(a, sizeof(*p));
            opentelemetry__proto__metrics__v1__number_data_point__init(p);
            p->time_unix_nano = 1700000000000000000ull + k;
            p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
            p->as_double = (double)(seed + k);
            g->data_points[k] = p;
        }
        m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
        m->gauge = g;
        sm->metrics[i] = m;
    }
    rm->n_scope_metrics = 1;
    rm->scope_metrics = pp_arena_alloc(a, sizeof(void *));
    rm->scope_metrics[0] = sm;
    req->n_resource_metrics = 1;
    req->resource_metrics = pp_arena_alloc(a, sizeof(void *));
    req->resource_metrics[0] = rm;
    pp_batch_recount(b);
    return b;
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

typedef struct tu_buf { char *p; size_t len; } tu_buf;

static size_t tu_collect(char *data, size_t size, size_t n, void *arg) {
    tu_buf *b = arg;
    char *p = realloc(b->p, b->len + size * n + 1);
    if (!p) return 0;
    memcpy(p + b->len, data, size * n);
    b->p = p;
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

long tu_http(const char *method, const char *url, char **body, char **content_type) {
    CURL *c = curl_easy_init();
    if (!c) return 0;
    tu_buf b = {calloc(1, 1), 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0) curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (content_type) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        *content_type = strdup(ct ? ct : "");
    }
    curl_easy_cleanup(c);
    if (body) *body = b.p;
    else free(b.p);
    return status;
}

int tu_listen(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(*port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

uint16_t tu_free_port(void) {
    uint16_t port = 0;
    int fd = tu_listen(&port);
    if (fd < 0) return 0;
    close(fd);
    return port;
}
