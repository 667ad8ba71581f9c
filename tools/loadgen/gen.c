/* gen.c -- see gen.h. Names and attributes follow the OpenTelemetry semantic
 * conventions and the OpenTelemetry demo's services, so that sizes and
 * string repetition resemble what SDKs send. */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPAN(x) OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_##x
#define MDATA(x) OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_##x
#define TEMP(x) OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_##x

static const char *const services[] = {"frontend", "checkout", "cart", "payment", "shipping",
                                       "email", "recommendation", "ad", "quote", "currency"};
static const char *const routes[] = {"/api/cart", "/api/checkout", "/api/products/{id}",
                                     "/api/recommendations", "/api/currency", "/api/shipping"};
static const char *const children[] = {"SELECT orders", "redis GET", "grpc.Payment/Charge",
                                       "kafka publish", "render template", "HTTP POST"};

void lg_gen_defaults(lg_gen_cfg *c, pp_signal sig) {
    *c = (lg_gen_cfg){.signal = sig, .batch = 100, .seed = 1, .spans_per_trace = 10, .attrs = 8,
                      .attr_size = 32, .error_ratio = 0.01, .services = 5, .series = 1000,
                      .mix = {60, 30, 10}, .delta = 0};
}

static _Noreturn void oom(void) {
    fputs("pipit-loadgen: out of memory\n", stderr);
    exit(3);
}

static uint64_t mix64(uint64_t x) { /* splitmix64 */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;
static uint64_t rnd(rng *r) { return mix64(r->s++); }
static double rnd01(rng *r) { return (double)(rnd(r) >> 11) * 0x1.0p-53; }

static void *alloc(pp_arena *a, size_t n) {
    void *p = pp_arena_alloc(a, n);
    if (!p) oom();
    return p;
}
static void *msg_new(pp_arena *a, const ProtobufCMessageDescriptor *d) {
    void *p = alloc(a, d->sizeof_message);
    protobuf_c_message_init(d, p);
    return p;
}
/* A message of type T (descriptor d) from the arena, with its defaults. */
#define NEW(a, T, d) ((T *)msg_new(a, &d))

static char *str(pp_arena *a, const char *s) {
    char *p = pp_arena_strdup(a, s);
    if (!p) oom();
    return p;
}

static pp_key_value *kv_str(pp_arena *a, const char *k, char *v) {
    pp_any_value *av = NEW(a, pp_any_value, opentelemetry__proto__common__v1__any_value__descriptor);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av->string_value = v;
    pp_key_value *kv = NEW(a, pp_key_value, opentelemetry__proto__common__v1__key_value__descriptor);
    kv->key = (char *)(uintptr_t)k; /* static strings: packing only reads them */
    kv->value = av;
    return kv;
}

static pp_key_value *kv_int(pp_arena *a, const char *k, int64_t v) {
    pp_key_value *kv = kv_str(a, k, NULL);
    kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    kv->value->int_value = v;
    return kv;
}

/* A printable value of n bytes (base32-ish from the generator). */
static char *rnd_text(pp_arena *a, rng *r, size_t n) {
    static const char al[] = "abcdefghijklmnopqrstuvwxyz234567";
    char *s = alloc(a, n + 1);
    for (size_t i = 0; i < n; i++) s[i] = al[rnd(r) & 31];
    s[n] = '\0';
    return s;
}

static ProtobufCBinaryData id_bytes(pp_arena *a, rng *r, size_t n) {
    uint8_t *p = alloc(a, n);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = rnd(r) | 1; /* never all zero */
        memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
    return (ProtobufCBinaryData){n, p};
}

static pp_key_value **kv_array(pp_arena *a, size_t n) {
    return alloc(a, (n ? n : 1) * sizeof(pp_key_value *));
}

static pp_resource *resource(pp_arena *a, const lg_gen_cfg *c, uint64_t idx) {
    size_t svc = (size_t)(idx % (c->services ? c->services : 1));
    char name[64], inst[96];
    if (svc < sizeof(services) / sizeof(services[0]))
        snprintf(name, sizeof(name), "%s", services[svc]);
    else
        snprintf(name, sizeof(name), "service-%zu", svc);
    snprintf(inst, sizeof(inst), "%s-7d9f8b6c4-%05zu", name, svc * 7919 % 100000);
    pp_resource *res = NEW(a, pp_resource, opentelemetry__proto__resource__v1__resource__descriptor);
    res->attributes = kv_array(a, 7);
    pp_key_value **at = res->attributes;
    at[res->n_attributes++] = kv_str(a, "service.name", str(a, name));
    at[res->n_attributes++] = kv_str(a, "service.version", "1.4.2");
    at[res->n_attributes++] = kv_str(a, "service.instance.id", str(a, inst));
    at[res->n_attributes++] = kv_str(a, "deployment.environment.name", "production");
    at[res->n_attributes++] = kv_str(a, "telemetry.sdk.language", "go");
    at[res->n_attributes++] = kv_str(a, "telemetry.sdk.name", "opentelemetry");
    at[res->n_attributes++] = kv_str(a, "telemetry.sdk.version", "1.32.0");
    return res;
}

static pp_scope *scope(pp_arena *a, const char *name) {
    pp_scope *s = NEW(a, pp_scope, opentelemetry__proto__common__v1__instrumentation_scope__descriptor);
    s->name = (char *)(uintptr_t)name;
    s->version = "0.57.0";
    return s;
}

/* ---- traces ---- */

static void span_attrs(pp_arena *a, const lg_gen_cfg *c, rng *r, pp_span *sp, int root) {
    size_t n = c->attrs;
    sp->attributes = kv_array(a, n);
    const char *route = routes[rnd(r) % (sizeof(routes) / sizeof(routes[0]))];
    for (size_t i = 0; i < n; i++) {
        pp_key_value *kv;
        switch (i) { /* the first few are the semantic conventions, the rest app payload */
        case 0: kv = kv_str(a, "http.request.method", root ? "GET" : "POST"); break;
        case 1: kv = kv_str(a, "http.route", (char *)(uintptr_t)route); break;
        case 2: kv = kv_int(a, "http.response.status_code", 200); break;
        case 3: kv = kv_str(a, "server.address", "api.internal"); break;
        default: {
            static const char *const keys[] = {"app.user.id", "app.session.id", "app.request.id",
                                               "app.feature", "app.tenant", "app.region",
                                               "app.cache.key", "app.payload"};
            kv = kv_str(a, keys[(i - 4) % 8], rnd_text(a, r, c->attr_size));
        }
        }
        sp->attributes[sp->n_attributes++] = kv;
    }
}

static void make_error(pp_arena *a, rng *r, pp_span *sp, uint64_t t) {
    sp->status->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    sp->status->message = "connection reset by peer";
    pp_span_event *ev = NEW(a, pp_span_event, opentelemetry__proto__trace__v1__span__event__descriptor);
    ev->time_unix_nano = t;
    ev->name = "exception";
    ev->attributes = kv_array(a, 3);
    ev->attributes[ev->n_attributes++] = kv_str(a, "exception.type", "java.net.SocketException");
    ev->attributes[ev->n_attributes++] = kv_str(a, "exception.message", "Connection reset");
    ev->attributes[ev->n_attributes++] =
        kv_str(a, "exception.stacktrace", rnd_text(a, r, 256)); /* a short stack */
    sp->events = alloc(a, sizeof(*sp->events));
    sp->events[0] = ev;
    sp->n_events = 1;
}

static void fill_traces(const lg_gen_cfg *c, uint64_t idx, pp_arena *a, pp_traces_req *req) {
    rng r = {mix64(c->seed * 0x100000001b3ull + idx)};
    pp_resource_spans *rs =
        NEW(a, pp_resource_spans, opentelemetry__proto__trace__v1__resource_spans__descriptor);
    rs->resource = resource(a, c, idx);
    rs->schema_url = "https://opentelemetry.io/schemas/1.26.0";
    pp_scope_spans *ss = NEW(a, pp_scope_spans, opentelemetry__proto__trace__v1__scope_spans__descriptor);
    ss->scope = scope(a, "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp");
    ss->spans = alloc(a, (c->batch ? c->batch : 1) * sizeof(pp_span *));
    size_t per_trace = c->spans_per_trace ? c->spans_per_trace : 1;
    ProtobufCBinaryData trace_id = {0}, root_id = {0};
    uint64_t t0 = 0, root_dur = 0;
    int err_trace = 0;
    for (size_t i = 0; i < c->batch; i++) {
        size_t pos = i % per_trace;
        pp_span *sp = NEW(a, pp_span, opentelemetry__proto__trace__v1__span__descriptor);
        sp->status = NEW(a, pp_span_status, opentelemetry__proto__trace__v1__status__descriptor);
        sp->span_id = id_bytes(a, &r, 8);
        sp->flags = 0x101; /* sampled, parent-is-remote known */
        if (pos == 0) {
            trace_id = id_bytes(a, &r, 16);
            root_id = sp->span_id;
            root_dur = 2000000 + rnd(&r) % 200000000; /* 2..202 ms */
            t0 = c->now_ns - root_dur - rnd(&r) % 1000000000ull;
            err_trace = rnd01(&r) < c->error_ratio;
            sp->kind = SPAN(SERVER);
            sp->name = "GET";
            sp->start_time_unix_nano = t0;
            sp->end_time_unix_nano = t0 + root_dur;
        } else {
            sp->parent_span_id = root_id;
            sp->kind = pos % 3 == 1 ? SPAN(CLIENT) : SPAN(INTERNAL);
            sp->name = (char *)(uintptr_t)children[rnd(&r) % (sizeof(children) / sizeof(children[0]))];
            uint64_t off = rnd(&r) % (root_dur / 2), dur = 1 + rnd(&r) % (root_dur / 2);
            sp->start_time_unix_nano = t0 + off;
            sp->end_time_unix_nano = t0 + off + dur;
        }
        sp->trace_id = trace_id;
        span_attrs(a, c, &r, sp, pos == 0);
        /* The error lands on the last span of the trace in this request. */
        if (err_trace && (pos + 1 == per_trace || i + 1 == c->batch))
            make_error(a, &r, sp, sp->end_time_unix_nano);
        ss->spans[ss->n_spans++] = sp;
    }
    rs->scope_spans = alloc(a, sizeof(*rs->scope_spans));
    rs->scope_spans[0] = ss;
    rs->n_scope_spans = 1;
    req->resource_spans = alloc(a, sizeof(*req->resource_spans));
    req->resource_spans[0] = rs;
    req->n_resource_spans = 1;
}

/* ---- metrics ---- */

enum { M_COUNTER, M_GAUGE, M_HISTOGRAM };
#define COMBOS 20 /* attribute sets per metric name */

static int metric_kind(const lg_gen_cfg *c, size_t m) {
    unsigned total = c->mix[0] + c->mix[1] + c->mix[2];
    if (!total) return M_GAUGE;
    unsigned x = (unsigned)(mix64(m) % total);
    return x < c->mix[0] ? M_COUNTER : x < c->mix[0] + c->mix[1] ? M_GAUGE : M_HISTOGRAM;
}

static const double bounds[] = {0,   5,    10,   25,   50,   75,   100,  250,
                                500, 750, 1000, 2500, 5000, 7500, 10000};
#define NB (sizeof(bounds) / sizeof(bounds[0]))

static pp_key_value **point_attrs(pp_arena *a, size_t combo, size_t *n) {
    static const char *const codes[] = {"200", "201", "204", "301", "400",
                                        "401", "403", "404", "500", "503"};
    pp_key_value **at = kv_array(a, 3);
    at[0] = kv_str(a, "http.request.method", combo % 2 ? "POST" : "GET");
    at[1] = kv_str(a, "http.response.status_code", (char *)(uintptr_t)codes[combo / 2 % 10]);
    at[2] = kv_str(a, "http.route", (char *)(uintptr_t)routes[combo % 6]);
    *n = 3;
    return at;
}

static pp_metric *new_metric(pp_arena *a, const lg_gen_cfg *c, size_t m) {
    static const char *const base[] = {"http.server.request", "db.client.operation",
                                       "rpc.server.call", "messaging.process", "process.cpu"};
    char name[96];
    snprintf(name, sizeof(name), "%s.m%zu", base[m % 5], m);
    pp_metric *mt = NEW(a, pp_metric, opentelemetry__proto__metrics__v1__metric__descriptor);
    mt->name = str(a, name);
    mt->unit = "ms";
    int temporality = c->delta ? TEMP(DELTA) : TEMP(CUMULATIVE);
    switch (metric_kind(c, m)) {
    case M_COUNTER:
        mt->data_case = MDATA(SUM);
        mt->sum = NEW(a, Opentelemetry__Proto__Metrics__V1__Sum, opentelemetry__proto__metrics__v1__sum__descriptor);
        mt->sum->aggregation_temporality = temporality;
        mt->sum->is_monotonic = 1;
        break;
    case M_GAUGE:
        mt->data_case = MDATA(GAUGE);
        mt->gauge = NEW(a, Opentelemetry__Proto__Metrics__V1__Gauge, opentelemetry__proto__metrics__v1__gauge__descriptor);
        break;
    default:
        mt->data_case = MDATA(HISTOGRAM);
        mt->histogram = NEW(a, Opentelemetry__Proto__Metrics__V1__Histogram,
                            opentelemetry__proto__metrics__v1__histogram__descriptor);
        mt->histogram->aggregation_temporality = temporality;
    }
    return mt;
}

static void add_point(pp_arena *a, const lg_gen_cfg *c, rng *r, pp_metric *mt, size_t combo,
                      size_t cap, uint64_t cycle) {
    uint64_t t = c->now_ns - (uint64_t)(rnd(r) % 1000000000ull);
    uint64_t start = c->delta ? t - 10000000000ull : c->now_ns - 3600000000000ull;
    if (mt->data_case == MDATA(HISTOGRAM)) {
        Opentelemetry__Proto__Metrics__V1__Histogram *h = mt->histogram;
        if (!h->data_points) h->data_points = alloc(a, cap * sizeof(*h->data_points));
        pp_histogram_point *p =
            NEW(a, pp_histogram_point, opentelemetry__proto__metrics__v1__histogram_data_point__descriptor);
        p->attributes = point_attrs(a, combo, &p->n_attributes);
        p->start_time_unix_nano = start;
        p->time_unix_nano = t;
        p->bucket_counts = alloc(a, (NB + 1) * sizeof(uint64_t));
        p->n_bucket_counts = NB + 1;
        p->explicit_bounds = (double *)(uintptr_t)bounds;
        p->n_explicit_bounds = NB;
        double sum = 0;
        for (size_t b = 0; b <= NB; b++) {
            p->bucket_counts[b] = rnd(r) % 50 * (c->delta ? 1 : cycle + 1);
            p->count += p->bucket_counts[b];
            sum += (double)p->bucket_counts[b] * (b < NB ? bounds[b] : 20000.0);
        }
        p->sum_present_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM;
        p->sum = sum;
        h->data_points[h->n_data_points++] = p;
        return;
    }
    pp_number_point *p = NEW(a, pp_number_point, opentelemetry__proto__metrics__v1__number_data_point__descriptor);
    p->attributes = point_attrs(a, combo, &p->n_attributes);
    p->start_time_unix_nano = start;
    p->time_unix_nano = t;
    p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
    if (mt->data_case == MDATA(SUM)) {
        double inc = (double)(1 + rnd(r) % 100);
        p->as_double = c->delta ? inc : inc * (double)(cycle + 1);
        if (!mt->sum->data_points) mt->sum->data_points = alloc(a, cap * sizeof(pp_number_point *));
        mt->sum->data_points[mt->sum->n_data_points++] = p;
    } else {
        p->as_double = rnd01(r) * 100.0;
        if (!mt->gauge->data_points) mt->gauge->data_points = alloc(a, cap * sizeof(pp_number_point *));
        mt->gauge->data_points[mt->gauge->n_data_points++] = p;
    }
}

static void fill_metrics(const lg_gen_cfg *c, uint64_t idx, pp_arena *a, pp_metrics_req *req) {
    rng r = {mix64(c->seed * 0x100000001b3ull + idx)};
    size_t series = c->series ? c->series : 1;
    pp_resource_metrics *rm =
        NEW(a, pp_resource_metrics, opentelemetry__proto__metrics__v1__resource_metrics__descriptor);
    rm->resource = resource(a, c, idx);
    pp_scope_metrics *sm =
        NEW(a, pp_scope_metrics, opentelemetry__proto__metrics__v1__scope_metrics__descriptor);
    sm->scope = scope(a, "go.opentelemetry.io/otel/sdk/metric");
    size_t cap = c->batch ? c->batch : 1;
    sm->metrics = alloc(a, cap * sizeof(pp_metric *));
    pp_metric *cur = NULL;
    size_t cur_m = SIZE_MAX;
    for (size_t k = 0; k < c->batch; k++) {
        uint64_t s = idx * c->batch + k;
        size_t m = (size_t)(s % series) / COMBOS, combo = (size_t)(s % series) % COMBOS;
        if (m != cur_m) { /* consecutive series share a metric: one Metric per run */
            cur = new_metric(a, c, m);
            cur_m = m;
            sm->metrics[sm->n_metrics++] = cur;
        }
        add_point(a, c, &r, cur, combo, cap, s / series);
    }
    rm->scope_metrics = alloc(a, sizeof(*rm->scope_metrics));
    rm->scope_metrics[0] = sm;
    rm->n_scope_metrics = 1;
    req->resource_metrics = alloc(a, sizeof(*req->resource_metrics));
    req->resource_metrics[0] = rm;
    req->n_resource_metrics = 1;
}

pp_batch *lg_gen_request(const lg_gen_cfg *c, uint64_t idx) {
    pp_batch *b = pp_batch_new(c->signal, c->batch * 512 + 4096);
    if (!b) oom();
    if (c->signal == PP_TRACES)
        fill_traces(c, idx, b->arena, b->traces);
    else
        fill_metrics(c, idx, b->arena, b->metrics);
    pp_batch_recount(b);
    return b;
}
