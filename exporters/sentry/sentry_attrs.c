/* sentry_attrs.c -- see sentry_attrs.h. */
#include "sentry_attrs.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/prometheusremotewrite/prw_value.h"
#include "strbuf.h"

#define V(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

const pp_any_value *pp_sentry_attr(pp_key_value *const *kv, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (kv[i] && kv[i]->key && strcmp(kv[i]->key, key) == 0) return kv[i]->value;
    return NULL;
}

const char *pp_sentry_attr_str(pp_key_value *const *kv, size_t n, const char *key) {
    const pp_any_value *v = pp_sentry_attr(kv, n, key);
    return v && v->value_case == V(STRING_VALUE) ? v->string_value : NULL;
}

bool pp_sentry_attr_int(pp_key_value *const *kv, size_t n, const char *key, int64_t *out) {
    const pp_any_value *v = pp_sentry_attr(kv, n, key);
    if (!v) return false;
    if (v->value_case == V(INT_VALUE)) {
        *out = v->int_value;
        return true;
    }
    if (v->value_case != V(STRING_VALUE) || !v->string_value[0]) return false;
    char *end;
    long long x = strtoll(v->string_value, &end, 10);
    if (*end) return false;
    *out = x;
    return true;
}

static json_object *base64_json(const ProtobufCBinaryData *b) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pp_strbuf sb = PP_STRBUF_INIT;
    for (size_t i = 0; i < b->len; i += 3) {
        uint32_t x = (uint32_t)b->data[i] << 16;
        if (i + 1 < b->len) x |= (uint32_t)b->data[i + 1] << 8;
        if (i + 2 < b->len) x |= b->data[i + 2];
        char q[4] = {A[(x >> 18) & 63], A[(x >> 12) & 63], i + 1 < b->len ? A[(x >> 6) & 63] : '=',
                     i + 2 < b->len ? A[x & 63] : '='};
        pp_sb_append(&sb, q, 4);
    }
    size_t n = 0;
    char *s = pp_sb_finish(&sb, &n);
    json_object *o = s ? json_object_new_string_len(s, (int)n) : NULL;
    free(s);
    return o;
}

static json_object *double_json(double d) {
    char text[PP_PRW_FLOAT_TEXT_MAX];
    pp_prw_float_text(d, text);
    /* JSON has no NaN or infinities: keep them readable as strings. */
    if (!isfinite(d)) return json_object_new_string(text);
    return json_object_new_double_s(d, text);
}

json_object *pp_sentry_any_json(const pp_any_value *v) {
    switch (v ? v->value_case : V(_NOT_SET)) {
    case V(STRING_VALUE): return json_object_new_string(v->string_value);
    case V(BOOL_VALUE): return json_object_new_boolean(v->bool_value ? 1 : 0);
    case V(INT_VALUE): return json_object_new_int64(v->int_value);
    case V(DOUBLE_VALUE): return double_json(v->double_value);
    case V(BYTES_VALUE): return base64_json(&v->bytes_value);
    case V(ARRAY_VALUE): {
        json_object *a = json_object_new_array();
        for (size_t i = 0; a && v->array_value && i < v->array_value->n_values; i++)
            json_object_array_add(a, pp_sentry_any_json(v->array_value->values[i]));
        return a;
    }
    case V(KVLIST_VALUE): {
        json_object *o = json_object_new_object();
        if (o && v->kvlist_value) pp_sentry_add_data(o, v->kvlist_value->values, v->kvlist_value->n_values);
        return o;
    }
    default: return NULL; /* json-c writes a NULL member as null */
    }
}

/* Bytes of the first max characters of s (UTF-8; an invalid byte counts as one). */
static size_t utf8_prefix(const char *s, size_t max) {
    size_t i = 0;
    for (size_t chars = 0; s[i] && chars < max; chars++) {
        size_t l = pp_utf8_seq_len(s + i);
        i += l ? l : 1;
    }
    return i;
}

void pp_sentry_add_tag(json_object *tags, const char *key, const char *value) {
    if (!key || !*key || json_object_object_get_ex(tags, key, NULL)) return;
    if (utf8_prefix(key, PP_SENTRY_TAG_MAX + 1) > utf8_prefix(key, PP_SENTRY_TAG_MAX)) return;
    json_object_object_add(tags, key, json_object_new_string_len(value, (int)utf8_prefix(value, PP_SENTRY_TAG_MAX)));
}

void pp_sentry_add_tags(json_object *tags, pp_key_value *const *kv, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const pp_any_value *v = kv[i] ? kv[i]->value : NULL;
        char text[PP_PRW_FLOAT_TEXT_MAX];
        switch (v ? v->value_case : V(_NOT_SET)) {
        case V(STRING_VALUE): pp_sentry_add_tag(tags, kv[i]->key, v->string_value); break;
        case V(BOOL_VALUE): pp_sentry_add_tag(tags, kv[i]->key, v->bool_value ? "true" : "false"); break;
        case V(INT_VALUE):
            snprintf(text, sizeof text, "%" PRId64, v->int_value);
            pp_sentry_add_tag(tags, kv[i]->key, text);
            break;
        case V(DOUBLE_VALUE):
            pp_prw_float_text(v->double_value, text);
            pp_sentry_add_tag(tags, kv[i]->key, text);
            break;
        default: break; /* arrays, maps, bytes: data only */
        }
    }
}

void pp_sentry_add_data(json_object *data, pp_key_value *const *kv, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (kv[i] && kv[i]->key) json_object_object_add(data, kv[i]->key, pp_sentry_any_json(kv[i]->value));
}

json_object *pp_sentry_time_json(uint64_t unix_nano) {
    uint64_t us = unix_nano / 1000;
    char text[40];
    snprintf(text, sizeof text, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
    return json_object_new_double_s((double)us / 1e6, text);
}

void pp_sentry_hex(const ProtobufCBinaryData *id, char *out) {
    static const char H[] = "0123456789abcdef";
    for (size_t i = 0; i < id->len; i++) {
        out[2 * i] = H[id->data[i] >> 4];
        out[2 * i + 1] = H[id->data[i] & 15];
    }
    out[2 * id->len] = '\0';
}
