/* prw_value.c -- values as label text; see prw_value.h. */
#include "prw_value.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t pp_prw_float_text(double v, char out[PP_PRW_FLOAT_TEXT_MAX]) {
    if (isnan(v)) return (size_t)snprintf(out, PP_PRW_FLOAT_TEXT_MAX, "NaN");
    if (isinf(v)) return (size_t)snprintf(out, PP_PRW_FLOAT_TEXT_MAX, v > 0 ? "+Inf" : "-Inf");
    if (v == 0) return (size_t)snprintf(out, PP_PRW_FLOAT_TEXT_MAX, signbit(v) ? "-0" : "0");
    /* The fewest significant digits that round-trip; %.*e rounds correctly,
     * so the first precision that reads back is the closest shortest form. */
    char sci[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec, v);
        if (strtod(sci, NULL) == v) break;
    }
    /* sci is [-]d[.ddd]e[+-]xx: collect the digits and the exponent. */
    char digits[24];
    size_t nd = 0;
    const char *p = sci;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    char *w = out;
    if (neg) *w++ = '-';
    if (exp < 0) {
        *w++ = '0';
        *w++ = '.';
        for (int i = -1; i > exp; i--) *w++ = '0';
        memcpy(w, digits, nd);
        w += nd;
    } else if ((size_t)exp + 1 >= nd) {
        memcpy(w, digits, nd);
        w += nd;
        for (size_t i = nd; i < (size_t)exp + 1; i++) *w++ = '0';
    } else {
        memcpy(w, digits, (size_t)exp + 1);
        w += exp + 1;
        *w++ = '.';
        memcpy(w, digits + exp + 1, nd - (size_t)exp - 1);
        w += nd - (size_t)exp - 1;
    }
    *w = '\0';
    return (size_t)(w - out);
}

/* A growable text buffer on the heap; ok turns false on OOM. */
typedef struct tbuf { char *p; size_t n, cap; bool ok; } tbuf;

static void put(tbuf *b, const char *s, size_t n) {
    if (!b->ok) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->ok = false;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void puts_(tbuf *b, const char *s) { put(b, s, strlen(s)); }

static void put_base64(tbuf *b, const uint8_t *d, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t x = (uint32_t)d[i] << 16;
        if (i + 1 < n) x |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n) x |= d[i + 2];
        char q[4] = {A[(x >> 18) & 63], A[(x >> 12) & 63], i + 1 < n ? A[(x >> 6) & 63] : '=',
                     i + 2 < n ? A[x & 63] : '='};
        put(b, q, 4);
    }
}

static void put_json_string(tbuf *b, const char *s) {
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(b, esc, 6);
        } else {
            put(b, (const char *)&c, 1);
        }
    }
    put(b, "\"", 1);
}

static int kv_cmp(const void *x, const void *y) {
    const pp_key_value *a = *(pp_key_value *const *)x, *b = *(pp_key_value *const *)y;
    return strcmp(a->key ? a->key : "", b->key ? b->key : "");
}

static void put_value(tbuf *b, const pp_any_value *v, bool json);

static void put_json_map(tbuf *b, const pp_kv_list_value *m) {
    size_t n = m ? m->n_values : 0;
    pp_key_value **sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (!sorted) {
        b->ok = false;
        return;
    }
    if (n) memcpy(sorted, m->values, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), kv_cmp);
    put(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) put(b, ",", 1);
        put_json_string(b, sorted[i]->key ? sorted[i]->key : "");
        put(b, ":", 1);
        put_value(b, sorted[i]->value, true);
    }
    put(b, "}", 1);
    free(sorted);
}

/* json: inside an array or map, where strings are quoted and unset is null. */
static void put_value(tbuf *b, const pp_any_value *v, bool json) {
    char num[PP_PRW_FLOAT_TEXT_MAX];
    switch (v ? v->value_case : OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        if (json) put_json_string(b, v->string_value);
        else puts_(b, v->string_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        puts_(b, v->bool_value ? "true" : "false");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        snprintf(num, sizeof num, "%" PRId64, v->int_value);
        puts_(b, num);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        put(b, num, pp_prw_float_text(v->double_value, num));
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        if (json) put(b, "\"", 1);
        put_base64(b, v->bytes_value.data, v->bytes_value.len);
        if (json) put(b, "\"", 1);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        put(b, "[", 1);
        for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++) {
            if (i) put(b, ",", 1);
            put_value(b, v->array_value->values[i], true);
        }
        put(b, "]", 1);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        put_json_map(b, v->kvlist_value);
        break;
    default:
        if (json) puts_(b, "null");
        break;
    }
}

char *pp_prw_value_text(pp_arena *a, const pp_any_value *v) {
    tbuf b = {NULL, 0, 0, true};
    put_value(&b, v, false);
    char *out = b.ok ? pp_arena_strdup(a, b.p ? b.p : "") : NULL;
    free(b.p);
    return out;
}
