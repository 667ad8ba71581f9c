/* sentry_semconv.c -- see sentry_semconv.h. */
#include "sentry_semconv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sentry_attrs.h"
#include "strbuf.h"

#define KIND(x) OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_##x
#define STATUS(x) OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_##x

static const char *attr(const pp_span *s, const char *key) {
    return pp_sentry_attr_str(s->attributes, s->n_attributes, key);
}
static bool has(const pp_span *s, const char *key) {
    return pp_sentry_attr(s->attributes, s->n_attributes, key) != NULL;
}
/* The first of two attributes that is a non-empty string: new name, then old. */
static const char *attr2(const pp_span *s, const char *new_key, const char *old_key) {
    const char *v = attr(s, new_key);
    if (v && *v) return v;
    v = attr(s, old_key);
    return v && *v ? v : NULL;
}

static const char *http_method(const pp_span *s) {
    return attr2(s, "http.request.method", "http.method");
}

const char *pp_sentry_span_op(const pp_span *s) {
    if (http_method(s)) {
        switch (s->kind) {
        case KIND(SERVER): return "http.server";
        case KIND(CLIENT): return "http.client";
        case KIND(INTERNAL): return "http.internal";
        case KIND(PRODUCER): return "http.producer";
        case KIND(CONSUMER): return "http.consumer";
        default: return "http";
        }
    }
    if (has(s, "db.system.name") || has(s, "db.system")) return "db";
    if (has(s, "rpc.system") || has(s, "rpc.service")) return "rpc";
    if (has(s, "messaging.system")) {
        if (s->kind == KIND(PRODUCER)) return "queue.publish";
        if (s->kind == KIND(CONSUMER)) return "queue.process";
        const char *opn = attr2(s, "messaging.operation.type", "messaging.operation");
        if (opn && strcmp(opn, "receive") == 0) return "queue.receive";
        return "message";
    }
    const char *faas = attr(s, "faas.trigger");
    if (faas && *faas) return faas;
    return "";
}

static const char *name_of(const pp_span *s) { return s->name ? s->name : ""; }

/* A URL or target without its query string and fragment, malloc'd. */
static char *strip_query(const char *u) { return strndup(u, strcspn(u, "?#")); }

/* The route or path a server span answers, the URL a client span calls;
 * *is_route tells which. malloc'd, NULL when there is none. */
static char *http_target(const pp_span *s, bool *is_route) {
    *is_route = false;
    if (s->kind == KIND(SERVER)) {
        const char *route = attr(s, "http.route");
        if (route && *route) {
            *is_route = true;
            return strdup(route);
        }
        const char *path = attr2(s, "url.path", "http.target");
        return path ? strip_query(path) : NULL;
    }
    const char *url = attr2(s, "url.full", "http.url");
    return url ? strip_query(url) : NULL;
}

static char *join2(const char *a, const char *b) {
    pp_strbuf sb = PP_STRBUF_INIT;
    pp_sb_printf(&sb, "%s %s", a, b);
    return pp_sb_finish(&sb, NULL);
}

char *pp_sentry_span_description(const pp_span *s) {
    const char *method = http_method(s);
    if (method) {
        bool route;
        char *target = http_target(s, &route);
        if (target) {
            char *d = join2(method, target);
            free(target);
            return d;
        }
        /* New-semconv client spans are named "GET" already: no "GET GET". */
        size_t ml = strlen(method);
        const char *n = name_of(s);
        if (strncmp(n, method, ml) == 0 && (n[ml] == '\0' || n[ml] == ' ')) return strdup(n);
        return join2(method, n);
    }
    if (has(s, "db.system.name") || has(s, "db.system")) {
        const char *q = attr2(s, "db.query.text", "db.statement");
        if (q) return strdup(q);
    }
    return strdup(name_of(s));
}

char *pp_sentry_transaction_name(const pp_span *s, const char **source) {
    *source = "custom";
    const char *method = http_method(s);
    if (method && s->kind == KIND(SERVER)) {
        bool route;
        char *target = http_target(s, &route);
        if (target) {
            char *n = join2(method, target);
            free(target);
            if (route) *source = "route";
            return n;
        }
    }
    return strdup(name_of(s));
}

const char *pp_sentry_http_status(int64_t code) {
    /* The legacy exporter's table, exactly (WIRE-SPECS 4.7). */
    switch (code) {
    case 400: return "failed_precondition";
    case 401: return "unauthenticated";
    case 403: return "permission_denied";
    case 404: return "not_found";
    case 409: return "aborted";
    case 429: return "resource_exhausted";
    case 499: return "cancelled";
    case 500: return "internal_error";
    case 501: return "unimplemented";
    case 503: return "unavailable";
    case 504: return "deadline_exceeded";
    default: break;
    }
    if (code >= 400 && code < 500) return "invalid_argument";
    if (code >= 500 && code < 600) return "internal_error";
    return NULL;
}

const char *pp_sentry_grpc_status(int64_t code) {
    static const char *const T[] = {
        NULL,                 "cancelled",      "unknown",           "invalid_argument",
        "deadline_exceeded",  "not_found",      "already_exists",    "permission_denied",
        "resource_exhausted", "failed_precondition", "aborted",      "out_of_range",
        "unimplemented",      "internal_error", "unavailable",       "data_loss",
        "unauthenticated"};
    return code >= 0 && code < (int64_t)(sizeof(T) / sizeof(T[0])) ? T[code] : NULL;
}

const char *pp_sentry_span_status(const pp_span *s) {
    int code = s->status ? (int)s->status->code : (int)STATUS(UNSET);
    if (code == STATUS(OK)) return "ok";
    int64_t v;
    const char *m = NULL;
    if (pp_sentry_attr_int(s->attributes, s->n_attributes, "http.response.status_code", &v) ||
        pp_sentry_attr_int(s->attributes, s->n_attributes, "http.status_code", &v))
        m = pp_sentry_http_status(v);
    if (!m && pp_sentry_attr_int(s->attributes, s->n_attributes, "rpc.grpc.status_code", &v))
        m = pp_sentry_grpc_status(v);
    if (m) return m;
    return code == STATUS(ERROR) ? "unknown" : "ok";
}
