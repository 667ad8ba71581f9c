/* sentry_map.c -- see sentry_map.h. */
#include "sentry_map.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sentry_attrs.h"
#include "sentry_group.h"
#include "sentry_semconv.h"
#include "sentry_stack.h"
#include "sentry_trim.h"

const char *pp_sentry_item_type_name(pp_sentry_item_type t) {
    return t == PP_SENTRY_TRANSACTION ? "transaction" : "event";
}

int pp_sentry_uuid4(char out[33]) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    ProtobufCBinaryData id = {16, b};
    pp_sentry_hex(&id, out);
    return 0;
}

/* ---- helpers over a span reference ---- */

typedef struct ctx {
    const pp_sentry_map_options *o;
    pp_sentry_items *out;
    pp_sentry_map_stats *st;
    bool oom;
} ctx;

static pp_key_value **res_attrs(const pp_sentry_span_ref *r, size_t *n) {
    const pp_resource *res = r->rs->resource;
    *n = res ? res->n_attributes : 0;
    return res ? res->attributes : NULL;
}

static const char *res_str(const pp_sentry_span_ref *r, const char *key) {
    size_t n;
    pp_key_value **kv = res_attrs(r, &n);
    const char *v = pp_sentry_attr_str(kv, n, key);
    return v && *v ? v : NULL;
}

static void add_str(json_object *o, const char *key, const char *v) {
    if (v) json_object_object_add(o, key, json_object_new_string(v));
}

static void add_hex(json_object *o, const char *key, const ProtobufCBinaryData *id) {
    char hex[2 * 64 + 1];
    if (id->len == 0 || id->len > 64) return;
    pp_sentry_hex(id, hex);
    add_str(o, key, hex);
}

/* Takes ownership of a malloc'd string. */
static void add_owned(ctx *c, json_object *o, const char *key, char *v) {
    if (!v) c->oom = true;
    else json_object_object_add(o, key, json_object_new_string(v));
    free(v);
}

/* platform, sdk, environment, release, server_name: the same on every item. */
static void add_common(json_object *ev, const pp_sentry_span_ref *r, const pp_sentry_map_options *o) {
    add_str(ev, "platform", "other");
    json_object *sdk = json_object_new_object();
    add_str(sdk, "name", "pipit");
    add_str(sdk, "version", PIPIT_VERSION);
    json_object_object_add(ev, "sdk", sdk);
    const char *env = o && o->environment && *o->environment ? o->environment : NULL;
    if (!env) env = res_str(r, "deployment.environment.name");
    if (!env) env = res_str(r, "deployment.environment");
    add_str(ev, "environment", env);
    const char *rel = o && o->release && *o->release ? o->release : res_str(r, "service.version");
    add_str(ev, "release", rel);
    add_str(ev, "server_name", res_str(r, "host.name"));
}

static json_object *span_data(const pp_span *s) {
    json_object *d = json_object_new_object();
    pp_sentry_add_data(d, s->attributes, s->n_attributes);
    return d;
}

static void add_status_message(json_object *tags, const pp_span *s) {
    if (s->status && s->status->message && *s->status->message)
        pp_sentry_add_tag(tags, "status_message", s->status->message);
}

/* trace_id, span_id, parent_span_id and op: what links an item to its trace. */
static void add_ids(json_object *o, const pp_span *s) {
    add_hex(o, "trace_id", &s->trace_id);
    add_hex(o, "span_id", &s->span_id);
    add_hex(o, "parent_span_id", &s->parent_span_id);
    add_str(o, "op", pp_sentry_span_op(s));
}

/* An element of spans[]. */
static json_object *child_span(ctx *c, const pp_span *s) {
    json_object *o = json_object_new_object();
    add_ids(o, s);
    add_owned(c, o, "description", pp_sentry_span_description(s));
    json_object_object_add(o, "start_timestamp", pp_sentry_time_json(s->start_time_unix_nano));
    json_object_object_add(o, "timestamp", pp_sentry_time_json(s->end_time_unix_nano));
    add_str(o, "status", pp_sentry_span_status(s));
    json_object *tags = json_object_new_object();
    pp_sentry_add_tags(tags, s->attributes, s->n_attributes);
    add_status_message(tags, s);
    json_object_object_add(o, "tags", tags);
    json_object_object_add(o, "data", span_data(s));
    return o;
}

/* Serialises an item into the limit and appends it to the output. */
static void emit(ctx *c, json_object *ev, pp_sentry_item_type type, const char *event_id) {
    size_t max = c->o && c->o->max_item_bytes ? c->o->max_item_bytes : PP_SENTRY_MAX_ITEM_BYTES;
    size_t len = 0, trimmed = 0;
    char *json = pp_sentry_serialize_limited(ev, max, &len, &trimmed, &c->st->cut_values);
    c->st->trimmed_spans += trimmed;
    if (!json) {
        c->st->dropped_oversize++;
        if (type == PP_SENTRY_ERROR) c->st->dropped_oversize_errors++;
        return;
    }
    pp_sentry_items *out = c->out;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        pp_sentry_item *v = realloc(out->v, cap * sizeof(*v));
        if (!v) {
            free(json);
            c->oom = true;
            return;
        }
        out->v = v;
        out->cap = cap;
    }
    pp_sentry_item *it = &out->v[out->n++];
    it->type = type;
    memcpy(it->event_id, event_id, 33);
    it->json = json;
    it->len = len;
    it->spans = 0;
    if (type == PP_SENTRY_TRANSACTION) {
        json_object *spans;
        size_t n = json_object_object_get_ex(ev, "spans", &spans) ? json_object_array_length(spans) : 0;
        c->st->spans += n;
        it->spans = n + 1;
        c->st->transactions++;
    } else {
        c->st->errors++;
    }
}

static json_object *otel_context(const pp_sentry_span_ref *r) {
    size_t n;
    pp_key_value **kv = res_attrs(r, &n);
    json_object *otel = json_object_new_object(), *res = json_object_new_object();
    pp_sentry_add_data(res, kv, n);
    json_object_object_add(otel, "resource", res);
    return otel;
}

/* A new item with a fresh event_id (copied to event_id); NULL if getrandom failed. */
static json_object *begin_item(ctx *c, char event_id[33]) {
    if (pp_sentry_uuid4(event_id) != 0) {
        c->oom = true;
        return NULL;
    }
    json_object *ev = json_object_new_object();
    add_str(ev, "event_id", event_id);
    return ev;
}

/* contexts: trace (taking ownership) and otel.resource. */
static void add_contexts(json_object *ev, const pp_sentry_span_ref *r, json_object *trace) {
    json_object *contexts = json_object_new_object();
    json_object_object_add(contexts, "trace", trace);
    json_object_object_add(contexts, "otel", otel_context(r));
    json_object_object_add(ev, "contexts", contexts);
}

/* Tags of an item: the span's scalar attributes, then the resource's. */
static json_object *item_tags(const pp_sentry_span_ref *r) {
    json_object *tags = json_object_new_object();
    pp_sentry_add_tags(tags, r->span->attributes, r->span->n_attributes);
    size_t nres;
    pp_key_value **kv = res_attrs(r, &nres);
    pp_sentry_add_tags(tags, kv, nres);
    return tags;
}

/* ---- transactions ---- */

static void transaction(ctx *c, const pp_sentry_groups *g, size_t root) {
    const pp_sentry_span_ref *r = &g->v[root];
    const pp_span *s = r->span;
    char event_id[33];
    json_object *ev = begin_item(c, event_id);
    if (!ev) return;
    add_str(ev, "type", "transaction");
    json_object_object_add(ev, "start_timestamp", pp_sentry_time_json(s->start_time_unix_nano));
    json_object_object_add(ev, "timestamp", pp_sentry_time_json(s->end_time_unix_nano));
    const char *source;
    add_owned(c, ev, "transaction", pp_sentry_transaction_name(s, &source));
    json_object *info = json_object_new_object();
    add_str(info, "source", source);
    json_object_object_add(ev, "transaction_info", info);

    json_object *trace = json_object_new_object();
    add_ids(trace, s);
    add_owned(c, trace, "description", pp_sentry_span_description(s));
    add_str(trace, "status", pp_sentry_span_status(s));
    json_object_object_add(trace, "data", span_data(s));
    add_contexts(ev, r, trace);

    json_object *spans = json_object_new_array();
    for (size_t m = r->next; m != PP_SENTRY_NONE; m = g->v[m].next)
        json_object_array_add(spans, child_span(c, g->v[m].span));
    json_object_object_add(ev, "spans", spans);

    json_object *tags = item_tags(r);
    add_status_message(tags, s);
    if (r->orphan) pp_sentry_add_tag(tags, "pipit.orphan", "true");
    json_object_object_add(ev, "tags", tags);
    add_common(ev, r, c->o);
    if (r->orphan) c->st->orphans++;
    emit(c, ev, PP_SENTRY_TRANSACTION, event_id);
    json_object_put(ev);
}

/* ---- errors ---- */

/* exception.values for one event: the parsed chain, or a single value. */
static json_object *exception_values(ctx *c, const pp_span_event *e, json_object *extra) {
    const char *type = pp_sentry_attr_str(e->attributes, e->n_attributes, "exception.type");
    const char *msg = pp_sentry_attr_str(e->attributes, e->n_attributes, "exception.message");
    const char *stack = pp_sentry_attr_str(e->attributes, e->n_attributes, "exception.stacktrace");
    json_object *values = stack ? pp_sentry_parse_stacktrace(stack) : NULL;
    if (stack && *stack && !values) {
        /* Not a format we read: keep the text so nothing is lost. */
        add_str(extra, "exception.stacktrace", stack);
        c->st->unparsed_stacktraces++;
    }
    if (!values) values = json_object_new_array();
    if (json_object_array_length(values) == 0) json_object_array_add(values, json_object_new_object());
    /* The newest value is the exception the event reports: its attributes win. */
    json_object *main = json_object_array_get_idx(values, json_object_array_length(values) - 1);
    if (type && *type) add_str(main, "type", type);
    if (msg) add_str(main, "value", msg);
    if (!json_object_object_get_ex(main, "type", NULL) && !json_object_object_get_ex(main, "value", NULL))
        add_str(main, "type", "Exception"); /* Sentry needs one of them */
    json_object *mech = json_object_new_object();
    add_str(mech, "type", "auto.otel.span_event");
    const pp_any_value *esc = pp_sentry_attr(e->attributes, e->n_attributes, "exception.escaped");
    if (esc && esc->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE)
        json_object_object_add(mech, "handled", json_object_new_boolean(!esc->bool_value));
    json_object_object_add(main, "mechanism", mech);
    return values;
}

static void error_event(ctx *c, const pp_sentry_groups *g, size_t i, const pp_span_event *e) {
    const pp_sentry_span_ref *r = &g->v[i];
    const pp_span *s = r->span;
    char event_id[33];
    json_object *ev = begin_item(c, event_id);
    if (!ev) return;
    json_object *extra = json_object_new_object();
    json_object_object_add(ev, "timestamp",
                           pp_sentry_time_json(e->time_unix_nano ? e->time_unix_nano : s->end_time_unix_nano));
    add_str(ev, "level", "error");
    json_object *exc = json_object_new_object();
    json_object_object_add(exc, "values", exception_values(c, e, extra));
    json_object_object_add(ev, "exception", exc);

    json_object *trace = json_object_new_object();
    add_ids(trace, s);
    add_contexts(ev, r, trace);
    /* Named after the transaction the span belongs to, as an SDK names an
     * error after the transaction running when it was captured. */
    const char *source;
    add_owned(c, ev, "transaction", pp_sentry_transaction_name(g->v[r->root].span, &source));

    json_object_object_add(ev, "tags", item_tags(r));
    if (json_object_object_length(extra) > 0) json_object_object_add(ev, "extra", extra);
    else json_object_put(extra);
    add_common(ev, r, c->o);
    emit(c, ev, PP_SENTRY_ERROR, event_id);
    json_object_put(ev);
}

int pp_sentry_map_traces(const pp_traces_req *req, const pp_sentry_map_options *o,
                         pp_sentry_items *out, pp_sentry_map_stats *stats) {
    pp_sentry_groups g;
    if (pp_sentry_group(req, &g) != 0) return -1;
    ctx c = {o, out, stats, false};
    for (size_t i = 0; i < g.n && !c.oom; i++)
        if (g.v[i].root == i) transaction(&c, &g, i);
    for (size_t i = 0; i < g.n && !c.oom; i++) {
        const pp_span *s = g.v[i].span;
        for (size_t k = 0; k < s->n_events && !c.oom; k++)
            if (s->events[k]->name && strcmp(s->events[k]->name, "exception") == 0)
                error_event(&c, &g, i, s->events[k]);
    }
    pp_sentry_groups_free(&g);
    return c.oom ? -1 : 0;
}

void pp_sentry_items_free(pp_sentry_items *items) {
    for (size_t i = 0; i < items->n; i++) free(items->v[i].json);
    free(items->v);
    items->v = NULL;
    items->n = items->cap = 0;
}
