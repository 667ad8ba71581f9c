/* otlp_json_decode.c -- OTLP/JSON into protobuf-c messages; see otlp_json.h.
 *
 * json-c parses the body into a tree; this file walks the tree alongside the
 * protobuf-c descriptor of the expected message, field by field, keeping the
 * JSON path of the current value for error messages. Everything is allocated
 * from the caller's arena, so an error needs no cleanup beyond the arena. */
#include "otlp_json.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_json_util.h"

/* json-c's own nesting limit. A legitimate request nests about 15 levels
 * before the first AnyValue and 4 per AnyValue level, so 64 AnyValue levels
 * need ~272; anything deeper is refused by json-c before we see it. */
#define MAX_JSON_DEPTH 320
#define PATH_CAP 4096

typedef struct dec {
    pp_arena *arena;
    pp_status *st;
    const char *body;
    size_t len;
    int clamped; /* -1 unknown, else whether body has an integer json-c clamps */
    unsigned any_depth;
    size_t plen;
    char path[PATH_CAP];
} dec;

/* ---- paths and errors ---- */

static size_t path_push_key(dec *d, const char *key) {
    size_t old = d->plen;
    int n = snprintf(d->path + old, PATH_CAP - old, old ? ".%s" : "%s", key);
    if (n > 0) d->plen = old + (size_t)n < PATH_CAP ? old + (size_t)n : PATH_CAP - 1;
    return old;
}

static size_t path_push_index(dec *d, size_t i) {
    size_t old = d->plen;
    int n = snprintf(d->path + old, PATH_CAP - old, "[%zu]", i);
    if (n > 0) d->plen = old + (size_t)n < PATH_CAP ? old + (size_t)n : PATH_CAP - 1;
    return old;
}

static void path_pop(dec *d, size_t old) {
    d->plen = old;
    d->path[old] = '\0';
}

/* "path: message". A long path keeps its tail, where the problem is. */
__attribute__((format(printf, 2, 3))) static int fail(dec *d, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *p = d->plen ? d->path : "(top level)";
    size_t keep = 120;
    if (d->plen > keep) return pp_fail(d->st, PP_INVALID, "...%s: %s", p + d->plen - keep, msg);
    return pp_fail(d->st, PP_INVALID, "%s: %s", p, msg);
}

static int oom(dec *d) {
    return pp_fail(d->st, PP_UNAVAILABLE, "out of memory decoding %zu bytes of JSON", d->len);
}

static const char *type_name(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double:
    case json_type_int: return "a number";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "something else";
}

/* ---- integers ---- */

/* Whether digits (no sign) exceed max, given as a decimal string. */
static bool digits_exceed(const char *s, size_t n, const char *max) {
    while (n > 1 && *s == '0') s++, n--;
    size_t m = strlen(max);
    return n != m ? n > m : memcmp(s, max, n) > 0;
}

/* json-c silently clamps integer literals beyond uint64 to UINT64_MAX and
 * below int64 to INT64_MIN, and keeps no text for them. When a decoded value
 * sits on such a bound, this scan of the body (strings skipped) tells whether
 * any literal was clamped; if so the value is refused rather than trusted. */
static bool body_has_clamped_int(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) continue;
        bool neg = c == '-';
        size_t start = i + neg, j = start;
        while (j < n && s[j] >= '0' && s[j] <= '9') j++;
        bool fraction = j < n && (s[j] == '.' || s[j] == 'e' || s[j] == 'E');
        if (!fraction && j > start &&
            digits_exceed(s + start, j - start, neg ? "9223372036854775808" : "18446744073709551615"))
            return true;
        while (j < n && strchr("0123456789.eE+-", s[j]) && s[j]) j++;
        i = j - 1;
    }
    return false;
}

static int check_clamp(dec *d) {
    if (d->clamped < 0) d->clamped = body_has_clamped_int(d->body, d->len);
    return d->clamped ? fail(d, "integer out of 64-bit range") : 0;
}

/* Any integer JSON value (a number, or a decimal string) as sign + magnitude,
 * so that int64 and uint64 ranges can both be checked without overflow. */
static int read_integer_raw(dec *d, json_object *v, bool *neg, uint64_t *mag) {
    switch (json_object_get_type(v)) {
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        *neg = i < 0;
        if (i < 0) {
            *mag = (uint64_t)(-(i + 1)) + 1;
            return i == INT64_MIN ? check_clamp(d) : 0;
        }
        *mag = i == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)i;
        return *mag == UINT64_MAX ? check_clamp(d) : 0;
    }
    case json_type_double: {
        double x = json_object_get_double(v);
        if (!isfinite(x) || x != floor(x))
            return fail(d, "expected an integer, got %s", json_object_get_string(v));
        if (fabs(x) >= 18446744073709551616.0)
            return fail(d, "integer out of range: %s", json_object_get_string(v));
        *neg = x < 0;
        *mag = (uint64_t)fabs(x);
        return 0;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v), i = 0;
        *neg = n > 0 && s[0] == '-';
        i = *neg;
        if (i == n) return fail(d, "expected an integer, got \"%.40s\"", s);
        uint64_t m = 0;
        for (; i < n; i++) {
            if (s[i] < '0' || s[i] > '9') return fail(d, "expected an integer, got \"%.40s\"", s);
            unsigned digit = (unsigned)(s[i] - '0');
            if (m > (UINT64_MAX - digit) / 10) return fail(d, "integer out of range: \"%.40s\"", s);
            m = m * 10 + digit;
        }
        *mag = m;
        return 0;
    }
    default: return fail(d, "expected an integer, got %s", type_name(v));
    }
}

/* Sign + magnitude with -0 as 0. */
static int read_integer(dec *d, json_object *v, bool *neg, uint64_t *mag) {
    if (read_integer_raw(d, v, neg, mag) != 0) return -1;
    if (*mag == 0) *neg = false;
    return 0;
}

static int read_signed(dec *d, json_object *v, int64_t lo, int64_t hi, int64_t *out) {
    bool neg;
    uint64_t mag;
    if (read_integer(d, v, &neg, &mag) != 0) return -1;
    if (neg ? mag - 1 > (uint64_t)(-(lo + 1)) : mag > (uint64_t)hi)
        return fail(d, "integer out of range [%lld, %lld]: %s%llu", (long long)lo, (long long)hi,
                    neg ? "-" : "", (unsigned long long)mag);
    *out = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    return 0;
}

static int read_unsigned(dec *d, json_object *v, uint64_t hi, uint64_t *out) {
    bool neg;
    uint64_t mag;
    if (read_integer(d, v, &neg, &mag) != 0) return -1;
    if ((neg && mag != 0) || mag > hi)
        return fail(d, "integer out of range [0, %llu]: %s%llu", (unsigned long long)hi,
                    neg ? "-" : "", (unsigned long long)mag);
    *out = mag;
    return 0;
}

/* ---- doubles ---- */

static int read_double(dec *d, json_object *v, double *out) {
    switch (json_object_get_type(v)) {
    case json_type_int: {
        bool neg;
        uint64_t mag;
        if (read_integer(d, v, &neg, &mag) != 0) return -1;
        *out = neg ? -(double)mag : (double)mag;
        return 0;
    }
    case json_type_double: {
        /* json-c also takes the bare literals NaN and Infinity; 1e999 becomes inf. */
        const char *text = json_object_get_string(v);
        *out = json_object_get_double(v);
        if (isinf(*out) && !strstr(text, "Infinity"))
            return fail(d, "number out of range for a double: %.40s", text);
        return 0;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (strcmp(s, "NaN") == 0) *out = (double)NAN;
        else if (strcmp(s, "Infinity") == 0) *out = (double)INFINITY;
        else if (strcmp(s, "-Infinity") == 0) *out = -(double)INFINITY;
        else {
            /* A numeric string: strtod alone would also take " 1", "inf", "0x1p3". */
            char *end;
            bool ok = n > 0 && strspn(s, "0123456789+-.eE") == n &&
                      ((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '.');
            errno = 0;
            *out = ok ? strtod(s, &end) : 0;
            if (!ok || end != s + n) return fail(d, "expected a number, got \"%.40s\"", s);
            if (errno == ERANGE && isinf(*out))
                return fail(d, "number out of range for a double: \"%.40s\"", s);
        }
        return 0;
    }
    default: return fail(d, "expected a number, got %s", type_name(v));
    }
}

/* ---- strings and bytes ---- */

static int read_string(dec *d, json_object *v, char **out) {
    if (!json_object_is_type(v, json_type_string))
        return fail(d, "expected a string, got %s", type_name(v));
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    for (size_t i = 0; i < n;) {
        if (s[i] == '\0') return fail(d, "string contains a NUL character at offset %zu", i);
        size_t k = pp_oj_utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) return fail(d, "string is not valid UTF-8 (byte offset %zu)", i);
        i += k;
    }
    char *p = pp_arena_alloc(d->arena, n + 1);
    if (!p) return oom(d);
    memcpy(p, s, n + 1);
    *out = p;
    return 0;
}

static int read_bytes(dec *d, const ProtobufCFieldDescriptor *f, json_object *v,
                      ProtobufCBinaryData *out) {
    if (!json_object_is_type(v, json_type_string))
        return fail(d, "expected a string, got %s", type_name(v));
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    size_t id = pp_oj_id_bytes(f);
    out->len = 0;
    out->data = NULL;
    if (n == 0) return 0; /* absent: e.g. the parent span id of a root span */
    if (id) {
        if (n != 2 * id) return fail(d, "expected %zu hex characters, got %zu", 2 * id, n);
        if (!(out->data = pp_arena_alloc(d->arena, id))) return oom(d);
        long bad = pp_oj_hex_decode(s, n, out->data);
        if (bad >= 0) return fail(d, "invalid hex character at offset %ld", bad);
        out->len = id;
        return 0;
    }
    if (!(out->data = pp_arena_alloc(d->arena, pp_oj_base64_max_decoded(n)))) return oom(d);
    long got = pp_oj_base64_decode(s, n, out->data);
    if (got < 0) return fail(d, "invalid base64");
    out->len = (size_t)got;
    return 0;
}

/* ---- messages ---- */

static int read_message(dec *d, json_object *obj, const ProtobufCMessageDescriptor *desc,
                        ProtobufCMessage *msg);

static int read_value(dec *d, const ProtobufCFieldDescriptor *f, json_object *v, void *member) {
    int64_t i = 0;
    uint64_t u = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_ENUM:
        if (json_object_is_type(v, json_type_string))
            return fail(d, "enum values must be integers, got the string \"%.40s\"",
                        json_object_get_string(v));
        __attribute__((fallthrough));
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (read_signed(d, v, INT32_MIN, INT32_MAX, &i) != 0) return -1;
        *(int32_t *)member = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (read_unsigned(d, v, UINT32_MAX, &u) != 0) return -1;
        *(uint32_t *)member = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return read_signed(d, v, INT64_MIN, INT64_MAX, (int64_t *)member);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return read_unsigned(d, v, UINT64_MAX, (uint64_t *)member);
    case PROTOBUF_C_TYPE_DOUBLE: return read_double(d, v, (double *)member);
    case PROTOBUF_C_TYPE_FLOAT: {
        double x;
        if (read_double(d, v, &x) != 0) return -1;
        *(float *)member = (float)x;
        return 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return fail(d, "expected true or false, got %s", type_name(v));
        *(protobuf_c_boolean *)member = json_object_get_boolean(v);
        return 0;
    case PROTOBUF_C_TYPE_STRING: return read_string(d, v, (char **)member);
    case PROTOBUF_C_TYPE_BYTES: return read_bytes(d, f, v, (ProtobufCBinaryData *)member);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *sub = f->descriptor;
        ProtobufCMessage *m = pp_arena_alloc(d->arena, sub->sizeof_message);
        if (!m) return oom(d);
        sub->message_init(m);
        *(ProtobufCMessage **)member = m;
        return read_message(d, v, sub, m);
    }
    }
    return fail(d, "unsupported field type %d", (int)f->type);
}

static int read_repeated(dec *d, const ProtobufCFieldDescriptor *f, json_object *arr,
                         ProtobufCMessage *msg) {
    if (!json_object_is_type(arr, json_type_array))
        return fail(d, "expected an array, got %s", type_name(arr));
    size_t n = json_object_array_length(arr), size = pp_oj_elem_size(f);
    if (n == 0) return 0;
    char *elems = pp_arena_alloc(d->arena, n * size);
    if (!elems) return oom(d);
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        size_t old = path_push_index(d, i);
        if (!v) return fail(d, "null is not allowed in an array");
        if (read_value(d, f, v, elems + i * size) != 0) return -1;
        path_pop(d, old);
    }
    *(size_t *)((char *)msg + f->quantifier_offset) = n;
    *(void **)((char *)msg + f->offset) = elems;
    return 0;
}

static bool all_zero(const ProtobufCBinaryData *b) {
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i]) return false;
    return true;
}

/* The ids a span or link must have (WIRE-SPECS 2.3), checked here so that the
 * error names the JSON path; pp_batch_validate checks the same again. */
static int check_ids(dec *d, const ProtobufCBinaryData *trace_id, const ProtobufCBinaryData *span_id,
                     bool nonzero) {
    const char *bad = trace_id->len == 0 ? "traceId" : span_id->len == 0 ? "spanId" : NULL;
    if (bad) return fail(d, "%s is required", bad);
    bad = !nonzero ? NULL : all_zero(trace_id) ? "traceId" : all_zero(span_id) ? "spanId" : NULL;
    if (bad) return fail(d, "%s must not be all zero", bad);
    return 0;
}

static int check_message(dec *d, const ProtobufCMessageDescriptor *desc, const ProtobufCMessage *m) {
    if (desc == &opentelemetry__proto__trace__v1__span__descriptor) {
        const pp_span *sp = (const pp_span *)m;
        return check_ids(d, &sp->trace_id, &sp->span_id, true);
    }
    if (desc == &opentelemetry__proto__trace__v1__span__link__descriptor) {
        const pp_span_link *ln = (const pp_span_link *)m;
        return check_ids(d, &ln->trace_id, &ln->span_id, false);
    }
    return 0;
}

static int read_fields(dec *d, json_object *obj, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage *msg) {
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        char key[PP_OJ_NAME_MAX];
        json_object *v;
        if (pp_oj_field_skipped(f)) continue;
        pp_oj_json_name(f, key);
        /* A null value means the default, as if the key were absent. */
        if (!json_object_object_get_ex(obj, key, &v) || !v) continue;
        size_t old = path_push_key(d, key);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (read_repeated(d, f, v, msg) != 0) return -1;
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t *which = (uint32_t *)((char *)msg + f->quantifier_offset);
                if (*which != 0) {
                    char other[PP_OJ_NAME_MAX];
                    pp_oj_json_name(protobuf_c_message_descriptor_get_field(desc, *which), other);
                    return fail(d, "only one of a oneof may be set, and %s is set too", other);
                }
                *which = f->id;
            }
            if (read_value(d, f, v, (char *)msg + f->offset) != 0) return -1;
        }
        path_pop(d, old);
    }
    return check_message(d, desc, msg);
}

static int read_message(dec *d, json_object *obj, const ProtobufCMessageDescriptor *desc,
                        ProtobufCMessage *msg) {
    if (!json_object_is_type(obj, json_type_object))
        return fail(d, "expected an object, got %s", type_name(obj));
    /* AnyValue is the one recursive type (through arrayValue and kvlistValue). */
    bool any = desc == &opentelemetry__proto__common__v1__any_value__descriptor;
    if (any && ++d->any_depth > PP_OTLP_JSON_MAX_ANY_DEPTH)
        return fail(d, "AnyValue nested deeper than %d levels", PP_OTLP_JSON_MAX_ANY_DEPTH);
    int rc = read_fields(d, obj, desc, msg);
    if (any) d->any_depth--;
    return rc;
}

/* ---- entry points ---- */

static json_object *parse(const char *body, size_t len, pp_status *st) {
    if (len > INT_MAX) {
        pp_fail(st, PP_TOO_LARGE, "JSON body of %zu bytes is too large", len);
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(MAX_JSON_DEPTH);
    if (!tok) {
        pp_fail(st, PP_UNAVAILABLE, "out of memory parsing JSON");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    /* json-c waits for more input after a complete number or an unfinished
     * value; a final NUL tells it the input has ended. */
    size_t base = 0;
    if (err == json_tokener_continue) {
        root = json_tokener_parse_ex(tok, "", 1);
        err = json_tokener_get_error(tok);
        base = len;
    }
    size_t end = base + json_tokener_get_parse_end(tok);
    if (err == json_tokener_success && end < len) {
        /* json-c stops at a NUL byte as if the text ended there. */
        pp_fail(st, PP_INVALID, "invalid JSON at byte offset %zu: data after the top-level value",
                end);
        json_object_put(root);
        root = NULL;
    } else if (err != json_tokener_success) {
        size_t at = end;
        pp_fail(st, PP_INVALID, "invalid JSON at byte offset %zu: %s", at > len ? len : at,
                json_tokener_error_desc(err));
        json_object_put(root);
        root = NULL;
    } else if (!json_object_is_type(root, json_type_object)) {
        pp_fail(st, PP_INVALID, "the top-level JSON value must be an object, got %s",
                type_name(root));
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    return root;
}

static int decode_into(const ProtobufCMessageDescriptor *desc, const char *body, size_t len,
                       pp_arena *arena, ProtobufCMessage *msg, pp_status *st) {
    json_object *root = parse(body, len, st);
    if (!root) return -1;
    dec *d = malloc(sizeof(*d));
    if (!d) {
        json_object_put(root);
        return pp_fail(st, PP_UNAVAILABLE, "out of memory decoding JSON");
    }
    *d = (dec){.arena = arena, .st = st, .body = body, .len = len, .clamped = -1};
    d->path[0] = '\0';
    int rc = read_message(d, root, desc, msg);
    free(d);
    json_object_put(root);
    return rc;
}

ProtobufCMessage *pp_otlp_json_decode_message(const ProtobufCMessageDescriptor *desc,
                                              const char *body, size_t len, pp_arena *arena,
                                              pp_status *st) {
    ProtobufCMessage *m = pp_arena_alloc(arena, desc->sizeof_message);
    if (!m) {
        pp_fail(st, PP_UNAVAILABLE, "out of memory decoding JSON");
        return NULL;
    }
    desc->message_init(m);
    return decode_into(desc, body, len, arena, m, st) == 0 ? m : NULL;
}

pp_batch *pp_otlp_json_decode(pp_signal sig, const char *body, size_t len, pp_status *st) {
    /* The decoded request is usually smaller than its JSON text. */
    pp_batch *b = pp_batch_new(sig, len + 1024);
    if (!b) {
        pp_fail(st, PP_UNAVAILABLE, "out of memory decoding %zu bytes of JSON", len);
        return NULL;
    }
    if (decode_into(b->msg->descriptor, body, len, b->arena, b->msg, st) != 0 ||
        pp_batch_validate(b, st) != 0) {
        pp_batch_unref(b);
        return NULL;
    }
    pp_batch_recount(b);
    return b;
}
