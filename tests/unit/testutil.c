/* testutil.c -- see testutil.h. */
#include "testutil.h"
#include "testutil_world.h"
#include "config.h"
#include "service.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

static pp_key_value *kv_str(pp_arena *a, const char *k, const char *v) {
    return tu_kv(a, k, tu_any_str(a, v));
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

/* ---- protobuf helpers ---- */

static char diff_msg[1024];

static size_t elem_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM: return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static int msg_diff(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *path);

static int differ(const char *path, const char *what) {
    snprintf(diff_msg, sizeof(diff_msg), "%s: %s", path, what);
    return 1;
}

/* Compares one value of field f stored at x and y. */
static int value_diff(const ProtobufCFieldDescriptor *f, const void *x, const void *y,
                      const char *path) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)x, *t = *(char *const *)y;
        if (strcmp(s ? s : "", t ? t : "") != 0) return differ(path, "strings differ");
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *s = x, *t = y;
        if (s->len != t->len) return differ(path, "byte lengths differ");
        if (s->len && memcmp(s->data, t->data, s->len) != 0) return differ(path, "bytes differ");
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)x, *n = *(ProtobufCMessage *const *)y;
        if (!m && !n) return 0;
        if (!m || !n) return differ(path, "message present on one side only");
        return msg_diff(m, n, path);
    }
    default:
        /* Integers, enums, bools; floats and doubles bit for bit. */
        if (memcmp(x, y, elem_size(f->type)) != 0) return differ(path, "values differ");
        return 0;
    }
}

static int field_diff(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *a,
                      const ProtobufCMessage *b, const char *path) {
    const char *pa = (const char *)a, *pb = (const char *)b;
    char sub[768];
    snprintf(sub, sizeof(sub), "%s.%s", path, f->name);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t na = *(const size_t *)(pa + f->quantifier_offset);
        size_t nb = *(const size_t *)(pb + f->quantifier_offset);
        if (na != nb) return differ(sub, "repeated counts differ");
        const char *xa = *(char *const *)(pa + f->offset), *xb = *(char *const *)(pb + f->offset);
        size_t sz = elem_size(f->type);
        for (size_t i = 0; i < na; i++) {
            char el[800];
            snprintf(el, sizeof(el), "%s[%zu]", sub, i);
            if (value_diff(f, xa + i * sz, xb + i * sz, el)) return 1;
        }
        return 0;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t ca = *(const uint32_t *)(pa + f->quantifier_offset);
        uint32_t cb = *(const uint32_t *)(pb + f->quantifier_offset);
        if (ca != cb) return differ(sub, "oneof cases differ");
        if (ca != f->id) return 0;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset) {
        protobuf_c_boolean ha = *(const protobuf_c_boolean *)(pa + f->quantifier_offset);
        protobuf_c_boolean hb = *(const protobuf_c_boolean *)(pb + f->quantifier_offset);
        if (ha != hb) return differ(sub, "has_ flags differ");
        if (!ha) return 0;
    }
    return value_diff(f, pa + f->offset, pb + f->offset, sub);
}

static int msg_diff(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *path) {
    if (a->descriptor != b->descriptor) return differ(path, "message types differ");
    if (a->n_unknown_fields || b->n_unknown_fields) return differ(path, "unknown fields present");
    const ProtobufCMessageDescriptor *d = a->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (field_diff(&d->fields[i], a, b, path)) return 1;
    return 0;
}

const char *tu_msg_diff(const ProtobufCMessage *a, const ProtobufCMessage *b) {
    return msg_diff(a, b, a->descriptor->short_name) ? diff_msg : NULL;
}

ProtobufCMessage *tu_roundtrip(const ProtobufCMessage *msg, pp_arena *into,
                               const uint8_t **wire, size_t *wire_len) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *first = pp_arena_alloc(into, n);
    assert_non_null(first);
    assert_int_equal(protobuf_c_message_pack(msg, first), n);
    ProtobufCMessage *copy =
        protobuf_c_message_unpack(msg->descriptor, pp_arena_allocator(into), n, first);
    if (!copy) fail_msg("%s: protobuf-c could not unpack its own %zu bytes", msg->descriptor->name, n);
    const char *d = tu_msg_diff(msg, copy);
    if (d) fail_msg("%s round trip changed a value: %s", msg->descriptor->name, d);
    size_t n2 = protobuf_c_message_get_packed_size(copy);
    assert_int_equal(n2, n);
    uint8_t *second = pp_arena_alloc(into, n2);
    assert_non_null(second);
    assert_int_equal(protobuf_c_message_pack(copy, second), n2);
    if (memcmp(first, second, n) != 0) fail_msg("%s: re-packed bytes differ", msg->descriptor->name);
    if (wire) *wire = first;
    if (wire_len) *wire_len = n;
    return copy;
}

int tu_mem_contains(const uint8_t *hay, size_t len, const void *needle, size_t nlen) {
    return memmem(hay, len, needle, nlen) != NULL;
}

uint64_t tu_dbits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

double tu_bits2d(uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

void *tu_ptrs(pp_arena *a, size_t n) {
    void *p = pp_arena_alloc(a, n * sizeof(void *));
    assert_non_null(p);
    return p;
}

ProtobufCBinaryData tu_bytes(pp_arena *a, const void *data, size_t len) {
    ProtobufCBinaryData b = {len, NULL};
    if (len) {
        b.data = pp_arena_alloc(a, len);
        memcpy(b.data, data, len);
    }
    return b;
}

pp_any_value *tu_any_empty(pp_arena *a) {
    pp_any_value *v = pp_arena_alloc(a, sizeof(*v));
    opentelemetry__proto__common__v1__any_value__init(v);
    return v;
}

#define ANY_CASE(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

pp_any_value *tu_any_str(pp_arena *a, const char *s) {
    pp_any_value *v = tu_any_empty(a);
    v->value_case = ANY_CASE(STRING_VALUE);
    v->string_value = pp_arena_strdup(a, s);
    return v;
}

pp_any_value *tu_any_bool(pp_arena *a, int b) {
    pp_any_value *v = tu_any_empty(a);
    v->value_case = ANY_CASE(BOOL_VALUE);
    v->bool_value = b != 0;
    return v;
}

pp_any_value *tu_any_int(pp_arena *a, int64_t i) {
    pp_any_value *v = tu_any_empty(a);
    v->value_case = ANY_CASE(INT_VALUE);
    v->int_value = i;
    return v;
}

pp_any_value *tu_any_double(pp_arena *a, double d) {
    pp_any_value *v = tu_any_empty(a);
    v->value_case = ANY_CASE(DOUBLE_VALUE);
    v->double_value = d;
    return v;
}

pp_any_value *tu_any_bytes(pp_arena *a, const void *data, size_t len) {
    pp_any_value *v = tu_any_empty(a);
    v->value_case = ANY_CASE(BYTES_VALUE);
    v->bytes_value = tu_bytes(a, data, len);
    return v;
}

pp_any_value *tu_any_array(pp_arena *a, size_t n, pp_any_value **items) {
    pp_array_value *arr = pp_arena_alloc(a, sizeof(*arr));
    opentelemetry__proto__common__v1__array_value__init(arr);
    arr->n_values = n;
    arr->values = items;
    pp_any_value *v = tu_any_empty(a);
    v->value_case = ANY_CASE(ARRAY_VALUE);
    v->array_value = arr;
    return v;
}

pp_any_value *tu_any_kvlist(pp_arena *a, size_t n, pp_key_value **items) {
    pp_kv_list_value *l = pp_arena_alloc(a, sizeof(*l));
    opentelemetry__proto__common__v1__key_value_list__init(l);
    l->n_values = n;
    l->values = items;
    pp_any_value *v = tu_any_empty(a);
    v->value_case = ANY_CASE(KVLIST_VALUE);
    v->kvlist_value = l;
    return v;
}

pp_key_value *tu_kv(pp_arena *a, const char *key, pp_any_value *v) {
    pp_key_value *kv = pp_arena_alloc(a, sizeof(*kv));
    opentelemetry__proto__common__v1__key_value__init(kv);
    kv->key = pp_arena_strdup(a, key);
    kv->value = v;
    return kv;
}

pp_key_value **tu_attrs(pp_arena *a, size_t *n) {
    static const uint8_t raw[] = {0x00, 0xff, 0x80, 0x7f};
    pp_key_value **kv = tu_ptrs(a, 10);
    pp_key_value **inner = tu_ptrs(a, 1);
    inner[0] = tu_kv(a, "k", tu_any_int(a, 1));
    kv[0] = tu_kv(a, "service.name", tu_any_str(a, "checkout"));
    kv[1] = tu_kv(a, "", tu_any_str(a, ""));
    kv[2] = tu_kv(a, "ünïcødé.キー", tu_any_str(a, "日本語 ✓ 🚀👩‍💻"));
    kv[3] = tu_kv(a, "flag", tu_any_bool(a, 1));
    kv[4] = tu_kv(a, "min", tu_any_int(a, INT64_MIN));
    kv[5] = tu_kv(a, "negzero", tu_any_double(a, -0.0));
    kv[6] = tu_kv(a, "raw", tu_any_bytes(a, raw, sizeof(raw)));
    kv[7] = tu_kv(a, "empty", tu_any_empty(a));
    kv[8] = tu_kv(a, "arr", tu_any_array(a, 0, NULL));
    kv[9] = tu_kv(a, "map", tu_any_kvlist(a, 1, inner));
    *n = 10;
    return kv;
}

pp_scope *tu_scope(pp_arena *a) {
    pp_scope *s = pp_arena_alloc(a, sizeof(*s));
    opentelemetry__proto__common__v1__instrumentation_scope__init(s);
    s->name = pp_arena_strdup(a, "io.pipit.test");
    s->version = pp_arena_strdup(a, "1.2.3-β");
    s->attributes = tu_attrs(a, &s->n_attributes);
    s->dropped_attributes_count = UINT32_MAX;
    return s;
}

pp_resource *tu_resource(pp_arena *a) {
    pp_resource *r = pp_arena_alloc(a, sizeof(*r));
    opentelemetry__proto__resource__v1__resource__init(r);
    r->attributes = tu_attrs(a, &r->n_attributes);
    r->dropped_attributes_count = 7;
    Opentelemetry__Proto__Common__V1__EntityRef *e = pp_arena_alloc(a, sizeof(*e));
    opentelemetry__proto__common__v1__entity_ref__init(e);
    e->schema_url = pp_arena_strdup(a, "https://opentelemetry.io/schemas/1.26.0");
    e->type = pp_arena_strdup(a, "service");
    e->n_id_keys = 2;
    e->id_keys = tu_ptrs(a, 2);
    e->id_keys[0] = pp_arena_strdup(a, "service.name");
    e->id_keys[1] = pp_arena_strdup(a, "");
    e->n_description_keys = 1;
    e->description_keys = tu_ptrs(a, 1);
    e->description_keys[0] = pp_arena_strdup(a, "service.version");
    r->n_entity_refs = 1;
    r->entity_refs = tu_ptrs(a, 1);
    r->entity_refs[0] = e;
    return r;
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

void tu_http_do(void *curl, const char *method, const char *url, const char *const *hdrs,
                const void *body, size_t len, tu_http_res *res) {
    CURL *c = curl ? curl : curl_easy_init();
    memset(res, 0, sizeof(*res));
    tu_buf b = {calloc(1, 1), 0}, h = {calloc(1, 1), 0};
    struct curl_slist *list = NULL;
    for (size_t i = 0; hdrs && hdrs[i]; i++) list = curl_slist_append(list, hdrs[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tu_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tu_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, body ? "POST" : "GET") ? method : NULL);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &res->connects);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (!curl) curl_easy_cleanup(c);
    res->body = b.p;
    res->len = b.len;
    res->headers = h.p;
}

const char *tu_http_header(const tu_http_res *r, const char *name, char *buf, size_t n) {
    size_t nl = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            while (*v == ' ') v++;
            size_t vl = (size_t)(line + ll - v);
            while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' ')) vl--;
            snprintf(buf, n, "%.*s", (int)vl, v);
            return buf;
        }
        line = end ? end + 1 : line + ll;
    }
    return NULL;
}

void tu_http_res_free(tu_http_res *r) {
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

uint8_t *tu_zlib_compress(const uint8_t *in, size_t n, int wbits, size_t *out_len) {
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

/* ---- components under test ---- */

#include <pthread.h>

#include "config_node.h"
#include "config_schema.h"

static int sink_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    (void)st;
    tu_span_sink *s = (tu_span_sink *)self;
    pthread_mutex_lock(s->mu);
    s->batches++;
    s->spans += b->items;
    if (s->keep) {
        if (s->nkept == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->kept = realloc(s->kept, s->cap * sizeof(*s->kept));
        }
        s->kept[s->nkept++] = pp_batch_ref(b);
    }
    pthread_mutex_unlock(s->mu);
    return 0;
}

void tu_span_sink_init(tu_span_sink *s, bool keep) {
    memset(s, 0, sizeof(*s));
    s->c.consume = sink_consume;
    s->keep = keep;
    s->mu = malloc(sizeof(pthread_mutex_t));
    pthread_mutex_init(s->mu, NULL);
}

void tu_span_sink_free(tu_span_sink *s) {
    for (size_t i = 0; i < s->nkept; i++) pp_batch_unref(s->kept[i]);
    free(s->kept);
    pthread_mutex_destroy(s->mu);
    free(s->mu);
    memset(s, 0, sizeof(*s));
}

static int comp_decode(tu_comp *tc, pp_kind kind, const char *type, const char *yaml, pp_diag *d) {
    memset(tc, 0, sizeof(*tc));
    tc->f = pp_registry_find(kind, type);
    if (!tc->f) {
        pp_diag_error(d, type, 0, "no such component");
        return -1;
    }
    tc->node = pp_node_parse(yaml, strlen(yaml), "test.yaml", d);
    if (!tc->node) return -1;
    tc->cfg = calloc(1, tc->f->config_size ? tc->f->config_size : 1);
    if (tc->f->config_defaults) tc->f->config_defaults(tc->cfg);
    size_t errs = pp_cfg_decode(tc->f->schema, tc->node, tc->cfg, type, d);
    if (errs == 0 && tc->f->config_validate) errs = tc->f->config_validate(tc->cfg, type, d);
    return errs ? -1 : 0;
}

void tu_comp_destroy(tu_comp *tc) {
    if (tc->inst) tc->f->destroy(tc->inst);
    if (tc->cfg) pp_cfg_free(tc->f->schema, tc->cfg);
    free(tc->cfg);
    pp_node_free(tc->node);
    memset(tc, 0, sizeof(*tc));
}

size_t tu_comp_check(pp_kind kind, const char *type, const char *yaml, pp_diag *d) {
    tu_comp tc;
    comp_decode(&tc, kind, type, yaml, d);
    tu_comp_destroy(&tc);
    return d->errors;
}

int tu_comp_create(tu_comp *tc, pp_kind kind, const char *type, const char *yaml, pp_host *h,
                   pp_signal sig, pp_consumer *next) {
    pp_diag d;
    pp_diag_init(&d);
    int rc = comp_decode(tc, kind, type, yaml, &d);
    if (d.count) pp_diag_print(&d, stderr);
    pp_diag_free(&d);
    if (rc != 0) return -1;
    pp_create_params p = {.id = type, .config = tc->cfg, .host = h, .signal = sig};
    p.next[sig] = next;
    pp_status st = {0};
    tc->inst = tc->f->create(&p, &st);
    if (!tc->inst) {
        fprintf(stderr, "create %s: %s\n", type, st.msg);
        return -1;
    }
    return 0;
}

uint64_t tu_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

pp_metric *tu_sum_metric(pp_arena *a, const char *name, int temporality, int monotonic) {
    pp_metric *m = pp_arena_alloc(a, sizeof(*m));
    opentelemetry__proto__metrics__v1__metric__init(m);
    m->name = pp_arena_strdup(a, name);
    m->unit = pp_arena_strdup(a, "1");
    Opentelemetry__Proto__Metrics__V1__Sum *s = pp_arena_alloc(a, sizeof(*s));
    opentelemetry__proto__metrics__v1__sum__init(s);
    s->aggregation_temporality = temporality;
    s->is_monotonic = monotonic;
    s->data_points = pp_arena_alloc(a, 8 * sizeof(void *));
    m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
    m->sum = s;
    return m;
}

pp_number_point *tu_num_point(pp_arena *a, uint64_t start, uint64_t time, double v, const char *k1,
                              const char *v1, const char *k2, const char *v2) {
    pp_number_point *p = pp_arena_alloc(a, sizeof(*p));
    opentelemetry__proto__metrics__v1__number_data_point__init(p);
    p->start_time_unix_nano = start;
    p->time_unix_nano = time;
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    p->as_double = v;
    p->attributes = pp_arena_alloc(a, 2 * sizeof(void *));
    if (k1) p->attributes[p->n_attributes++] = kv_str(a, k1, v1);
    if (k2) p->attributes[p->n_attributes++] = kv_str(a, k2, v2);
    return p;
}

pp_batch *tu_metrics_batch(pp_batch *b, const char *svc, pp_metric **ms, size_t n) {
    pp_arena *a = b->arena;
    pp_resource_metrics *rm = pp_arena_alloc(a, sizeof(*rm));
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    rm->resource = pp_arena_alloc(a, sizeof(pp_resource));
    opentelemetry__proto__resource__v1__resource__init(rm->resource);
    rm->resource->n_attributes = 1;
    rm->resource->attributes = pp_arena_alloc(a, sizeof(void *));
    rm->resource->attributes[0] = kv_str(a, "service.name", svc);
    pp_scope_metrics *sm = pp_arena_alloc(a, sizeof(*sm));
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    sm->metrics = pp_arena_alloc(a, (n + 1) * sizeof(void *));
    memcpy(sm->metrics, ms, n * sizeof(*ms));
    sm->n_metrics = n;
    rm->scope_metrics = pp_arena_alloc(a, sizeof(void *));
    rm->scope_metrics[0] = sm;
    rm->n_scope_metrics = 1;
    b->metrics->resource_metrics = pp_arena_alloc(a, sizeof(void *));
    b->metrics->resource_metrics[0] = rm;
    b->metrics->n_resource_metrics = 1;
    pp_batch_recount(b);
    return b;
}

/* ---- a running service with fake ends ---- */

pp_consumer *tu_recv_next[PP_SIGNAL_COUNT];
tu_keeper *tu_kept;

static void *frecv_create(const pp_create_params *p, pp_status *st) {
    (void)st;
    memcpy(tu_recv_next, p->next, sizeof(tu_recv_next));
    return malloc(1);
}
static const pp_factory frecv = {
    .kind = PP_RECEIVER, .type = "frecv", .signals = 3, .create = frecv_create, .destroy = free};

static int keep_consume(pp_consumer *self, pp_batch *b, pp_status *st) {
    tu_keeper *k = (tu_keeper *)self;
    if (k->refuse) return pp_fail(st, PP_UNAVAILABLE, "fkeep: refusing");
    if (k->n < TU_KEEP) k->got[k->n] = pp_batch_ref(b);
    if (k->last) pp_batch_unref(k->last);
    k->last = pp_batch_ref(b);
    k->n++;
    return 0;
}
static void *keep_create(const pp_create_params *p, pp_status *st) {
    (void)p; (void)st;
    tu_kept = calloc(1, sizeof(*tu_kept));
    tu_kept->c.consume = keep_consume;
    return tu_kept;
}
static pp_consumer *keep_consumer(void *inst, pp_signal s) { (void)s; return &((tu_keeper *)inst)->c; }
static void keep_destroy(void *inst) {
    tu_keeper *k = inst;
    for (int i = 0; i < k->n && i < TU_KEEP; i++) pp_batch_unref(k->got[i]);
    if (k->last) pp_batch_unref(k->last);
    if (k == tu_kept) tu_kept = NULL;
    free(k);
}
static const pp_factory fkeep = {
    .kind = PP_EXPORTER, .type = "fkeep", .signals = 3, .create = keep_create,
    .consumer = keep_consumer, .destroy = keep_destroy};
static const pp_factory *const world_fakes[] = {&frecv, &fkeep};

tu_world *tu_keeper_world(const char *yaml) {
    pp_registry_set_extra(world_fakes, 2);
    tu_world *w = tu_world_new(yaml);
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    return w;
}

void tu_fatten_spans(pp_batch *b, size_t lo, size_t hi, uint64_t *rng) {
    pp_arena *a = b->arena;
    const pp_traces_req *r = b->traces;
    for (size_t i = 0; i < r->n_resource_spans; i++)
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++) {
            pp_scope_spans *ss = r->resource_spans[i]->scope_spans[j];
            for (size_t k = 0; k < ss->n_spans; k++) {
                pp_span *sp = ss->spans[k];
                size_t len = lo + (hi > lo ? (size_t)(tu_rand(rng) % (hi - lo + 1)) : 0);
                char *pad = pp_arena_alloc(a, len + 1);
                memset(pad, 'x', len);
                pad[len] = '\0';
                pp_key_value **attrs = tu_ptrs(a, sp->n_attributes + 1);
                for (size_t x = 0; x < sp->n_attributes; x++) attrs[x] = sp->attributes[x];
                attrs[sp->n_attributes] = tu_kv(a, "pad", tu_any_str(a, pad));
                sp->attributes = attrs;
                sp->n_attributes++;
            }
        }
}

int64_t tu_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void tu_sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}
