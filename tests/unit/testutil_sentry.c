/* testutil_sentry.c -- see testutil_sentry.h. */
#include "testutil_sentry.h"

#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compress.h"
#include "log.h"
#include "otlp.h"
#include "service.h"
#include "testutil.h"
#include "testutil_mhd.h"
#include "testutil_world.h"

#define MAX_REQS 512
#define MAX_ANSWERS 8

static struct {
    pthread_mutex_t lock;
    bool inited;
    struct MHD_Daemon *d;
    ts_req reqs[MAX_REQS];
    size_t nreqs;
    size_t accepted[TS_TYPES];
    ts_answer script[TS_TYPES][MAX_ANSWERS];
    int nscript[TS_TYPES], next[TS_TYPES];
} S;

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static const char *jget(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static size_t count_key(const char *s, size_t n, const char *key) {
    size_t c = 0, k = strlen(key);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, key, k)) c++;
    return c;
}

/* Reads an envelope the way Relay does (WIRE-SPECS 4.2) into q. */
static void parse_envelope(const char *env, size_t len, ts_req *q) {
    q->type = TS_OTHER;
    const char *nl1 = memchr(env, '\n', len);
    if (!nl1) return;
    char *line = strndup(env, (size_t)(nl1 - env));
    json_object *h = json_tokener_parse(line);
    q->sent_at_count = (int)count_key(line, strlen(line), "\"sent_at\"");
    free(line);
    const char *p = nl1 + 1;
    const char *nl2 = memchr(p, '\n', len - (size_t)(p - env));
    json_object *ih = NULL, *payload = NULL;
    if (nl2) {
        line = strndup(p, (size_t)(nl2 - p));
        ih = json_tokener_parse(line);
        free(line);
    }
    if (h) {
        copy(q->event_id, sizeof(q->event_id), jget(h, "event_id"));
        copy(q->sent_at, sizeof(q->sent_at), jget(h, "sent_at"));
    }
    if (ih) {
        const char *t = jget(ih, "type");
        if (t && !strcmp(t, "transaction")) q->type = TS_TRANSACTION;
        else if (t && !strcmp(t, "event")) q->type = TS_ERROR;
        json_object *jl;
        size_t plen = json_object_object_get_ex(ih, "length", &jl) ? (size_t)json_object_get_int64(jl) : 0;
        const char *pl = nl2 + 1;
        size_t rest = len - (size_t)(pl - env);
        if (rest == plen || (rest == plen + 1 && pl[plen] == '\n')) {
            char *js = strndup(pl, plen);
            payload = json_tokener_parse(js);
            free(js);
        }
    }
    q->well_formed = h && ih && payload && q->event_id[0] &&
                     jget(payload, "event_id") && !strcmp(jget(payload, "event_id"), q->event_id);
    json_object_put(h);
    json_object_put(ih);
    json_object_put(payload);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls) {
    (void)cls, (void)method, (void)version;
    tu_upload *u = tu_mhd_collect(con_cls, data, size);
    if (!u) return MHD_YES;
    ts_req q = {.at_ms = pp_time_now_ms()};
    copy(q.path, sizeof(q.path), url);
    copy(q.auth, sizeof(q.auth), MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Sentry-Auth"));
    copy(q.ctype, sizeof(q.ctype), MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
    copy(q.cenc, sizeof(q.cenc), MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding"));
    pp_compression comp = PP_COMP_NONE;
    uint8_t *plain = NULL;
    size_t plen = 0;
    if (pp_compression_parse(q.cenc, &comp) == 0)
        pp_decompress(comp, (uint8_t *)u->buf, u->len, 64u << 20, &plain, &plen);
    if (plain && strstr(url, "/otlp/")) {
        pp_status st;
        pp_batch *b = pp_batch_decode(PP_TRACES, plain, plen, &st);
        q.type = TS_OTLP;
        q.well_formed = b != NULL;
        q.otlp_spans = b ? b->items : 0;
        if (b) pp_batch_unref(b);
    } else if (plain) {
        parse_envelope((const char *)plain, plen, &q);
    } else {
        q.type = TS_OTHER;
    }
    free(plain);

    pthread_mutex_lock(&S.lock);
    ts_answer a = {q.well_formed ? 200 : 400, NULL, NULL, 0};
    int t = q.type;
    if (q.well_formed && S.next[t] < S.nscript[t]) {
        ts_answer *s = &S.script[t][S.next[t]];
        a = *s;
        if (--s->count <= 0) S.next[t]++;
    }
    q.answered = a.code;
    if (a.code >= 200 && a.code < 300) S.accepted[t]++;
    if (S.nreqs < MAX_REQS) S.reqs[S.nreqs++] = q;
    pthread_mutex_unlock(&S.lock);

    struct MHD_Response *resp = MHD_create_response_from_buffer(2, (void *)(uintptr_t)"{}",
                                                                MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (a.rate_limits) MHD_add_response_header(resp, "X-Sentry-Rate-Limits", a.rate_limits);
    if (a.retry_after) MHD_add_response_header(resp, "Retry-After", a.retry_after);
    enum MHD_Result ret = MHD_queue_response(c, a.code, resp);
    MHD_destroy_response(resp);
    return ret;
}

uint16_t ts_start(void) {
    if (!S.inited) {
        pthread_mutex_init(&S.lock, NULL);
        S.inited = true;
    }
    pthread_mutex_lock(&S.lock);
    S.nreqs = 0;
    memset(S.accepted, 0, sizeof(S.accepted));
    memset(S.nscript, 0, sizeof(S.nscript));
    memset(S.next, 0, sizeof(S.next));
    pthread_mutex_unlock(&S.lock);
    uint16_t port = tu_free_port();
    S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, port, NULL,
                           NULL, handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, tu_mhd_done, NULL, MHD_OPTION_END);
    assert_non_null(S.d);
    return port;
}

void ts_stop(void) {
    MHD_stop_daemon(S.d);
    S.d = NULL;
}

void ts_script(int type, ts_answer a) {
    pthread_mutex_lock(&S.lock);
    assert_true(S.nscript[type] < MAX_ANSWERS);
    if (a.count <= 0) a.count = 1;
    S.script[type][S.nscript[type]++] = a;
    pthread_mutex_unlock(&S.lock);
}

size_t ts_requests(ts_req *out, size_t max) {
    pthread_mutex_lock(&S.lock);
    size_t n = S.nreqs < max ? S.nreqs : max;
    memcpy(out, S.reqs, n * sizeof(*out));
    pthread_mutex_unlock(&S.lock);
    return n;
}

size_t ts_accepted(int type) {
    pthread_mutex_lock(&S.lock);
    size_t n = S.accepted[type];
    pthread_mutex_unlock(&S.lock);
    return n;
}

void ts_await(long tx, long err, long otlp) {
    for (int i = 0; i < 10000; i++) {
        if ((tx < 0 || ts_accepted(TS_TRANSACTION) >= (size_t)tx) &&
            (err < 0 || ts_accepted(TS_ERROR) >= (size_t)err) &&
            (otlp < 0 || ts_accepted(TS_OTLP) >= (size_t)otlp))
            return;
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
}

pp_batch *ts_batch(size_t n, const size_t *errors, size_t nerr, uint32_t seed) {
    pp_batch *b = tu_make_traces(1, 1, n, seed);
    pp_arena *a = b->arena;
    pp_scope_spans *ss = b->traces->resource_spans[0]->scope_spans[0];
    for (size_t i = 0; i < nerr; i++) {
        pp_span *sp = ss->spans[errors[i]];
        pp_span_event *e = pp_arena_alloc(a, sizeof(*e));
        opentelemetry__proto__trace__v1__span__event__init(e);
        e->name = pp_arena_strdup(a, "exception");
        e->time_unix_nano = sp->end_time_unix_nano;
        e->n_attributes = 2;
        e->attributes = tu_ptrs(a, 2);
        e->attributes[0] = tu_kv(a, "exception.type", tu_any_str(a, "ValueError"));
        e->attributes[1] = tu_kv(a, "exception.message", tu_any_str(a, "bad input"));
        sp->n_events = 1;
        sp->events = tu_ptrs(a, 1);
        sp->events[0] = e;
    }
    return b;
}

struct tu_world *ts_world(uint16_t port, const char *extra) {
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "receivers: {tu_recv: }\n"
             "exporters:\n"
             "  sentry:\n"
             "    dsn: http://pubkey@127.0.0.1:%u/42\n"
             "%s"
             "service:\n  pipelines:\n"
             "    traces: {receivers: [tu_recv], exporters: [sentry]}\n",
             port, extra);
    tu_world *w = tu_world_new(yaml);
    pp_status st = {0};
    assert_int_equal(pp_service_start(w->svc, &st), 0);
    return w;
}

void ts_push(struct tu_world *w, size_t n, const size_t *errors, size_t nerr, uint32_t seed) {
    tu_recv *recv = pp_service_instance(w->svc, PP_RECEIVER, "tu_recv", NULL);
    assert_non_null(recv);
    pp_batch *b = ts_batch(n, errors, nerr, seed);
    pp_status st = {0};
    assert_int_equal(tu_recv_push(recv, b, &st), 0);
    pp_batch_unref(b);
}

int64_t ts_await_429(void) {
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&S.lock);
        int64_t at = 0;
        for (size_t k = 0; k < S.nreqs && !at; k++)
            if (S.reqs[k].answered == 429) at = S.reqs[k].at_ms;
        pthread_mutex_unlock(&S.lock);
        if (at) return at;
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    fail_msg("no 429 answered");
    return 0;
}
