/* otlp_json_encode.c -- protobuf-c messages into OTLP/JSON; see otlp_json.h.
 *
 * A hand-written growing buffer: the output is compact, with keys in field
 * number order, and needs no intermediate json-c tree. */
#include "otlp_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_json_util.h"

typedef struct out {
    char *p;
    size_t len, cap;
    bool failed; /* out of memory or refused; the output is dropped */
    unsigned any_depth;
} out;

static char *reserve(out *o, size_t n) {
    if (o->failed) return NULL;
    if (o->cap - o->len < n + 1) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap - o->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                o->failed = true;
                return NULL;
            }
            cap *= 2;
        }
        char *p = realloc(o->p, cap);
        if (!p) {
            o->failed = true;
            return NULL;
        }
        o->p = p;
        o->cap = cap;
    }
    return o->p + o->len;
}

static void put(out *o, const char *s, size_t n) {
    char *dst = reserve(o, n);
    if (!dst) return;
    memcpy(dst, s, n);
    o->len += n;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

/* A JSON string: quotes, backslash and control characters escaped, UTF-8
 * kept as is, and each byte that is not part of well-formed UTF-8 replaced by
 * U+FFFD so that the output is always valid JSON text. */
static void put_string(out *o, const char *s) {
    if (!s) s = ""; /* a hand-built message may leave a string NULL */
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    put(o, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') run++;
        put(o, s + i, run - i);
        if ((i = run) == n) break;
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                              : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (named) {
                puts_(o, named);
            } else {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                puts_(o, esc);
            }
            i++;
        } else {
            size_t k = pp_oj_utf8_seq(p + i, n - i);
            if (k) put(o, s + i, k);
            else puts_(o, "\\ufffd");
            i += k ? k : 1;
        }
    }
    put(o, "\"", 1);
}

static void put_double(out *o, double x) {
    char buf[40];
    if (isnan(x)) {
        puts_(o, "\"NaN\"");
        return;
    }
    if (isinf(x)) {
        puts_(o, x > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    if (x == 0 && signbit(x)) {
        puts_(o, "-0.0"); /* "-0" would read back as the integer 0 */
        return;
    }
    /* The shortest of %.15g..%.17g that reads back exactly. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    puts_(o, buf);
}

static void put_bytes(out *o, const ProtobufCFieldDescriptor *f, const ProtobufCBinaryData *b) {
    bool hex = pp_oj_id_bytes(f) != 0;
    size_t n = hex ? 2 * b->len : pp_oj_base64_encoded_len(b->len);
    char *dst = reserve(o, n + 2);
    if (!dst) return;
    dst[0] = '"';
    if (hex) pp_oj_hex_encode(b->data, b->len, dst + 1);
    else pp_oj_base64_encode(b->data, b->len, dst + 1);
    dst[n + 1] = '"';
    o->len += n + 2;
}

static void put_message(out *o, const ProtobufCMessage *m);

static void put_value(out *o, const ProtobufCFieldDescriptor *f, const void *member) {
    char buf[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, sizeof(buf), "%" PRId32, *(const int32_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, sizeof(buf), "%" PRIu32, *(const uint32_t *)member);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof(buf), "\"%" PRId64 "\"", *(const int64_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof(buf), "\"%" PRIu64 "\"", *(const uint64_t *)member);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        snprintf(buf, sizeof(buf), "%s", *(const protobuf_c_boolean *)member ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_DOUBLE: put_double(o, *(const double *)member); return;
    case PROTOBUF_C_TYPE_FLOAT: put_double(o, (double)*(const float *)member); return;
    case PROTOBUF_C_TYPE_STRING: put_string(o, *(char *const *)member); return;
    case PROTOBUF_C_TYPE_BYTES: put_bytes(o, f, member); return;
    case PROTOBUF_C_TYPE_MESSAGE: put_message(o, *(ProtobufCMessage *const *)member); return;
    default: o->failed = true; return;
    }
    puts_(o, buf);
}

/* proto3: a singular field at its default value is not emitted (the same
 * rule protobuf-c applies when packing). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *member) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *)member == 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)member == 0;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)member == 0;
    case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)member;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)member)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return !*(void *const *)member;
    default: return *(const uint32_t *)member == 0;
    }
}

static void put_field(out *o, const ProtobufCFieldDescriptor *f, const char *base, bool *first) {
    const char *member = base + f->offset;
    size_t n = 1;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        n = *(const size_t *)(base + f->quantifier_offset);
        if (n == 0) return;
        member = *(char *const *)member;
    } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        /* A set oneof member is emitted even at its default (e.g. sum = 0). */
        if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) return;
    } else if (is_default(f, member)) {
        return;
    }
    char key[PP_OJ_NAME_MAX];
    pp_oj_json_name(f, key);
    if (!*first) put(o, ",", 1);
    *first = false;
    put(o, "\"", 1);
    puts_(o, key);
    puts_(o, "\":");
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        put_value(o, f, member);
        return;
    }
    size_t size = pp_oj_elem_size(f);
    put(o, "[", 1);
    for (size_t i = 0; i < n && !o->failed; i++) {
        if (i) put(o, ",", 1);
        put_value(o, f, member + i * size);
    }
    put(o, "]", 1);
}

static void put_message(out *o, const ProtobufCMessage *m) {
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    bool any = desc == &opentelemetry__proto__common__v1__any_value__descriptor;
    if (any && ++o->any_depth > PP_OTLP_JSON_MAX_ANY_DEPTH) {
        o->failed = true;
        return;
    }
    bool first = true;
    put(o, "{", 1);
    for (unsigned i = 0; i < desc->n_fields && !o->failed; i++)
        if (!pp_oj_field_skipped(&desc->fields[i]))
            put_field(o, &desc->fields[i], (const char *)m, &first);
    put(o, "}", 1);
    if (any) o->any_depth--;
}

static char *finish(out *o, size_t *len) {
    if (!reserve(o, 0) || o->failed) {
        free(o->p);
        return NULL;
    }
    o->p[o->len] = '\0';
    if (len) *len = o->len;
    return o->p;
}

char *pp_otlp_json_encode_message(const ProtobufCMessage *msg, size_t *len) {
    out o = {0};
    put_message(&o, msg);
    return finish(&o, len);
}

char *pp_otlp_json_encode_request(const pp_batch *b, size_t *len) {
    return pp_otlp_json_encode_message(b->msg, len);
}

/* An object of up to two members, each omitted when at its default: a number
 * (already formatted; NULL when 0) and a string (NULL or empty). */
static void put_number_and_string(out *o, const char *num_key, const char *num,
                                  const char *str_key, const char *str) {
    bool has_str = str && *str;
    puts_(o, "{");
    if (num) {
        put_string(o, num_key);
        puts_(o, ":");
        puts_(o, num);
    }
    if (has_str) {
        if (num) puts_(o, ",");
        put_string(o, str_key);
        puts_(o, ":");
        put_string(o, str);
    }
    puts_(o, "}");
}

char *pp_otlp_json_encode_response(pp_signal sig, int64_t rejected, const char *error_message,
                                   size_t *len) {
    out o = {0};
    if (rejected == 0 && !(error_message && *error_message)) {
        puts_(&o, "{}"); /* partial_success unset: full success */
        return finish(&o, len);
    }
    char num[32];
    snprintf(num, sizeof(num), "\"%" PRId64 "\"", rejected); /* int64: a string */
    puts_(&o, "{\"partialSuccess\":");
    put_number_and_string(&o, sig == PP_TRACES ? "rejectedSpans" : "rejectedDataPoints",
                          rejected ? num : NULL, "errorMessage", error_message);
    puts_(&o, "}");
    return finish(&o, len);
}

char *pp_otlp_json_encode_status(int code, const char *message, size_t *len) {
    out o = {0};
    char num[16];
    snprintf(num, sizeof(num), "%d", code);
    put_number_and_string(&o, "code", code ? num : NULL, "message", message);
    return finish(&o, len);
}
