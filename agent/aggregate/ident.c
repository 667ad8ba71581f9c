/* ident.c -- see ident.h. */
#include "ident.h"

#include <stdlib.h>
#include <string.h>

#define ANY(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

enum { T_EMPTY = 0, T_STR, T_BOOL, T_INT, T_DOUBLE, T_BYTES, T_ARRAY, T_KVLIST };

void pp_ident_u64(pp_strbuf *k, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    pp_sb_append(k, (const char *)b, 8);
}

static void put_len(pp_strbuf *k, size_t n) { pp_ident_u64(k, (uint64_t)n); }

static void put_bytes(pp_strbuf *k, const void *p, size_t n) {
    put_len(k, n);
    if (n) pp_sb_append(k, p, n);
}

void pp_ident_str(pp_strbuf *k, const char *s) {
    if (!s) s = "";
    put_bytes(k, s, strlen(s));
}

static void put_any(pp_strbuf *k, const pp_any_value *v) {
    int t = T_EMPTY;
    if (v) switch (v->value_case) {
        case ANY(STRING_VALUE): t = T_STR; break;
        case ANY(BOOL_VALUE): t = T_BOOL; break;
        case ANY(INT_VALUE): t = T_INT; break;
        case ANY(DOUBLE_VALUE): t = T_DOUBLE; break;
        case ANY(BYTES_VALUE): t = T_BYTES; break;
        case ANY(ARRAY_VALUE): t = v->array_value ? T_ARRAY : T_EMPTY; break;
        case ANY(KVLIST_VALUE): t = v->kvlist_value ? T_KVLIST : T_EMPTY; break;
        default: break;
        }
    pp_sb_putc(k, (char)t);
    switch (t) {
    case T_STR: pp_ident_str(k, v->string_value); break;
    case T_BOOL: pp_sb_putc(k, v->bool_value ? 1 : 0); break;
    case T_INT: pp_ident_u64(k, (uint64_t)v->int_value); break;
    case T_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->double_value, 8);
        pp_ident_u64(k, bits);
        break;
    }
    case T_BYTES: put_bytes(k, v->bytes_value.data, v->bytes_value.len); break;
    case T_ARRAY:
        put_len(k, v->array_value->n_values);
        for (size_t i = 0; i < v->array_value->n_values; i++) put_any(k, v->array_value->values[i]);
        break;
    case T_KVLIST:
        put_len(k, v->kvlist_value->n_values);
        for (size_t i = 0; i < v->kvlist_value->n_values; i++)
            pp_ident_kv(k, v->kvlist_value->values[i]->key, v->kvlist_value->values[i]->value);
        break;
    default: break;
    }
}

void pp_ident_kv(pp_strbuf *k, const char *key, const pp_any_value *v) {
    pp_ident_str(k, key);
    put_any(k, v);
}

static int kv_cmp(const void *a, const void *b) {
    const pp_key_value *x = *(pp_key_value *const *)a, *y = *(pp_key_value *const *)b;
    return strcmp(x->key ? x->key : "", y->key ? y->key : "");
}

void pp_ident_attrs(pp_strbuf *k, pp_key_value *const *kv, size_t n, bool sorted) {
    put_len(k, n);
    if (n == 0) return;
    pp_key_value *small[16];
    pp_key_value **tmp = kv ? (pp_key_value **)(uintptr_t)kv : NULL;
    if (sorted && n > 1) {
        tmp = n <= 16 ? small : malloc(n * sizeof(*tmp));
        if (!tmp) {
            k->oom = true; /* the caller sees a failed key */
            return;
        }
        memcpy(tmp, kv, n * sizeof(*tmp));
        qsort(tmp, n, sizeof(*tmp), kv_cmp);
    }
    for (size_t i = 0; i < n; i++) pp_ident_kv(k, tmp[i]->key, tmp[i]->value);
    if (tmp != small && tmp != (pp_key_value **)(uintptr_t)kv) free(tmp);
}

void pp_ident_stream(pp_strbuf *k, const pp_stream_id *id, uint64_t extra, size_t prefix_len[3]) {
    const pp_metric *m = id->metric;
    if (id->resource) pp_ident_attrs(k, id->resource->attributes, id->resource->n_attributes, true);
    else pp_ident_attrs(k, NULL, 0, true);
    if (prefix_len) prefix_len[0] = k->len;
    pp_ident_str(k, id->scope ? id->scope->name : NULL);
    pp_ident_str(k, id->scope ? id->scope->version : NULL);
    if (id->scope) pp_ident_attrs(k, id->scope->attributes, id->scope->n_attributes, true);
    else pp_ident_attrs(k, NULL, 0, true);
    if (prefix_len) prefix_len[1] = k->len;
    pp_ident_str(k, m->name);
    pp_ident_str(k, m->unit);
    bool mono = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM && m->sum &&
                m->sum->is_monotonic;
    pp_ident_u64(k, (uint64_t)m->data_case << 1 | (uint64_t)mono);
    pp_ident_u64(k, extra);
    if (prefix_len) prefix_len[2] = k->len;
    pp_ident_attrs(k, id->attrs, id->n_attrs, true);
}

/* 8 bytes at a time, multiply-xorshift mixing (the bytes of a series key
 * are hashed for every span or point aggregated: byte-wise FNV was ~5% of
 * a span's cost through spanmetrics). In-memory tables only: the values are
 * never stored. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 32)) * 0xd6e8feb86659fd93ull;
    z = (z ^ (z >> 32)) * 0xd6e8feb86659fd93ull;
    return z ^ (z >> 32);
}

uint64_t pp_ident_hash(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x9fb21c651e98df25ull;
        h ^= h >> 29;
    }
    uint64_t t = 0;
    for (size_t j = 0; i + j < n; j++) t |= (uint64_t)b[i + j] << (8 * j);
    return mix64(h ^ t);
}

/* ---- decoding ---- */

typedef struct reader { const unsigned char *p, *end; pp_arena *a; bool bad; } reader;

static uint64_t get_u64(reader *r) {
    if (r->end - r->p < 8) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    return v;
}

static const unsigned char *get_bytes(reader *r, size_t *n) {
    uint64_t len = get_u64(r);
    if (r->bad || (uint64_t)(r->end - r->p) < len) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *s = r->p;
    r->p += len;
    *n = (size_t)len;
    return s;
}

static char *get_str(reader *r) {
    size_t n = 0;
    const unsigned char *s = get_bytes(r, &n);
    if (r->bad) return NULL;
    char *out = pp_arena_alloc(r->a, n + 1);
    if (!out) {
        r->bad = true;
        return NULL;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

static pp_key_value *get_kv(reader *r);

static pp_any_value *get_any(reader *r) {
    if (r->p >= r->end) {
        r->bad = true;
        return NULL;
    }
    int t = *r->p++;
    pp_any_value *v = pp_arena_alloc(r->a, sizeof(*v));
    if (!v) {
        r->bad = true;
        return NULL;
    }
    opentelemetry__proto__common__v1__any_value__init(v);
    switch (t) {
    case T_EMPTY: break;
    case T_STR: v->value_case = ANY(STRING_VALUE); v->string_value = get_str(r); break;
    case T_BOOL:
        if (r->p >= r->end) r->bad = true;
        else v->bool_value = *r->p++ != 0;
        v->value_case = ANY(BOOL_VALUE);
        break;
    case T_INT: v->value_case = ANY(INT_VALUE); v->int_value = (int64_t)get_u64(r); break;
    case T_DOUBLE: {
        uint64_t bits = get_u64(r);
        memcpy(&v->double_value, &bits, 8);
        v->value_case = ANY(DOUBLE_VALUE);
        break;
    }
    case T_BYTES: {
        size_t n = 0;
        const unsigned char *s = get_bytes(r, &n);
        v->value_case = ANY(BYTES_VALUE);
        if (!r->bad && n) {
            v->bytes_value.data = pp_arena_alloc(r->a, n);
            if (v->bytes_value.data) memcpy(v->bytes_value.data, s, n);
            else r->bad = true;
            v->bytes_value.len = n;
        }
        break;
    }
    case T_ARRAY:
    case T_KVLIST: {
        uint64_t n = get_u64(r);
        if (r->bad || n > (uint64_t)(r->end - r->p)) { /* each item takes >= 1 byte */
            r->bad = true;
            break;
        }
        void **items = pp_arena_alloc(r->a, (size_t)n * sizeof(void *));
        if (!items) {
            r->bad = true;
            break;
        }
        for (uint64_t i = 0; i < n && !r->bad; i++)
            items[i] = t == T_ARRAY ? (void *)get_any(r) : (void *)get_kv(r);
        if (t == T_ARRAY) {
            pp_array_value *arr = pp_arena_alloc(r->a, sizeof(*arr));
            if (!arr) { r->bad = true; break; }
            opentelemetry__proto__common__v1__array_value__init(arr);
            arr->n_values = (size_t)n;
            arr->values = (pp_any_value **)items;
            v->value_case = ANY(ARRAY_VALUE);
            v->array_value = arr;
        } else {
            pp_kv_list_value *l = pp_arena_alloc(r->a, sizeof(*l));
            if (!l) { r->bad = true; break; }
            opentelemetry__proto__common__v1__key_value_list__init(l);
            l->n_values = (size_t)n;
            l->values = (pp_key_value **)items;
            v->value_case = ANY(KVLIST_VALUE);
            v->kvlist_value = l;
        }
        break;
    }
    default: r->bad = true; break;
    }
    return v;
}

static pp_key_value *get_kv(reader *r) {
    pp_key_value *kv = pp_arena_alloc(r->a, sizeof(*kv));
    if (!kv) {
        r->bad = true;
        return NULL;
    }
    opentelemetry__proto__common__v1__key_value__init(kv);
    kv->key = get_str(r);
    if (!r->bad) kv->value = get_any(r);
    return kv;
}

long pp_ident_decode_kvs(const void *p, size_t n, pp_arena *a, pp_key_value ***out) {
    reader r = {p, (const unsigned char *)p + n, a, false};
    size_t count = 0, cap = 8;
    pp_key_value **items = pp_arena_alloc(a, cap * sizeof(*items));
    if (!items) return -1;
    while (r.p < r.end && !r.bad) {
        pp_key_value *kv = get_kv(&r);
        if (r.bad) break;
        if (count == cap) {
            pp_key_value **grown = pp_arena_alloc(a, 2 * cap * sizeof(*items));
            if (!grown) return -1;
            memcpy(grown, items, cap * sizeof(*items));
            items = grown;
            cap *= 2;
        }
        items[count++] = kv;
    }
    if (r.bad) return -1;
    *out = items;
    return (long)count;
}
