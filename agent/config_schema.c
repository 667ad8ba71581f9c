/* config_schema.c -- the generic decoder of component configs; see config_schema.h.
 *
 * Walks a map node against a pp_cfg_field table, storing typed values at the
 * fields' offsets. Every problem is reported with its full YAML path and the
 * walk goes on, so one run shows all of a config's mistakes. */
#include "config_schema.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(base, f, T) ((T *)(void *)((char *)(base) + (f)->offset))

/* ---- Durations ------------------------------------------------------------ */

static int64_t unit_ns(const char *u, size_t n) {
    static const struct { const char *name; int64_t ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000} /* U+00B5 micro sign */,
        {"\xce\xbcs", 1000} /* U+03BC greek mu */, {"ms", 1000000}, {"s", 1000000000},
        {"m", 60 * INT64_C(1000000000)}, {"h", 3600 * INT64_C(1000000000)},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) return units[i].ns;
    return 0;
}

/* Go's time.ParseDuration, plus a bare integer meaning nanoseconds (what the
 * Collector's mapstructure decoding does with a YAML number). */
int pp_parse_duration(const char *s, int64_t *ns) {
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (!*p) return -1;
    /* bare integer: nanoseconds */
    size_t digits = strspn(p, "0123456789");
    if (digits > 0 && p[digits] == '\0') {
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno == ERANGE) return -1;
        *ns = neg ? -(int64_t)v : (int64_t)v;
        return 0;
    }
    uint64_t total = 0;
    while (*p) {
        /* [0-9]*(\.[0-9]*)? then a unit */
        uint64_t whole = 0, frac = 0, scale = 1;
        bool any = false;
        for (; isdigit((unsigned char)*p); p++, any = true) {
            if (whole > (UINT64_MAX - 9) / 10) return -1;
            whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
            for (p++; isdigit((unsigned char)*p); p++, any = true) {
                if (scale > UINT64_MAX / 100) continue; /* beyond ns precision: ignore */
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
        if (!any) return -1;
        size_t ulen = strcspn(p, "0123456789.");
        int64_t unit = unit_ns(p, ulen);
        if (!unit) return -1;
        p += ulen;
        if (whole > (uint64_t)INT64_MAX / (uint64_t)unit) return -1;
        uint64_t v = whole * (uint64_t)unit;
        v += (uint64_t)((double)frac * ((double)unit / (double)scale));
        total += v;
        if (total > (uint64_t)INT64_MAX) return -1;
    }
    *ns = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

/* Formats a duration for messages: the largest unit that divides it. */
static const char *fmt_duration(int64_t ns, char *buf, size_t size) {
    static const struct { const char *name; int64_t ns; } units[] = {
        {"h", 3600 * INT64_C(1000000000)}, {"m", 60 * INT64_C(1000000000)},
        {"s", 1000000000}, {"ms", 1000000}, {"us", 1000}, {"ns", 1},
    };
    size_t i = 0;
    while (ns % units[i].ns != 0) i++;
    snprintf(buf, size, "%" PRId64 "%s", ns / units[i].ns, ns ? units[i].name : "s");
    return buf;
}

/* ---- Helpers -------------------------------------------------------------- */

/* Edit distance, for "did you mean". Keys are short; longer ones never match. */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return SIZE_MAX;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const pp_cfg_field *find_field(const pp_cfg_field *schema, const char *key) {
    for (const pp_cfg_field *f = schema; f->type != PP_CFG_END; f++)
        if (strcmp(f->key, key) == 0) return f;
    return NULL;
}

static void unknown_key(const pp_cfg_field *schema, const pp_node *n, const char *path, pp_diag *d) {
    const char *best = NULL;
    size_t best_dist = 3; /* suggest only within an edit distance of 2 */
    for (const pp_cfg_field *f = schema; f->type != PP_CFG_END; f++) {
        size_t dist = edit_distance(n->key, f->key);
        if (dist < best_dist) {
            best_dist = dist;
            best = f->key;
        }
    }
    if (best) pp_diag_error_at(d, path, n, "unknown key (did you mean \"%s\"?)", best);
    else pp_diag_error_at(d, path, n, "unknown key");
}

static const char *node_kind(const pp_node *n) {
    switch (n->type) {
    case PP_NODE_MAP: return "a map";
    case PP_NODE_SEQ: return "a list";
    case PP_NODE_NULL: return "nothing";
    case PP_NODE_SCALAR: break;
    }
    return "a value";
}

/* The scalar text of n, or NULL after reporting that a `what` was expected. */
static const char *scalar(const pp_node *n, const char *path, const char *what, pp_diag *d) {
    if (n->type == PP_NODE_SCALAR) return n->value;
    pp_diag_error_at(d, path, n, "expected %s, got %s", what, node_kind(n));
    return NULL;
}

/* A value to echo in a message: never a secret. */
static const char *shown(const pp_cfg_field *f, const char *v) {
    return (f->flags & PP_CFG_SECRET) ? "[REDACTED]" : v;
}

static void replace_str(char **slot, const char *v) {
    free(*slot);
    *slot = pp_xstrdup(v);
}

static void free_kvs(pp_cfg_kvs *m) {
    for (size_t i = 0; i < m->count; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
    }
    free(m->items);
    m->items = NULL;
    m->count = 0;
}

static void free_strs(pp_cfg_strs *l) {
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void decode_enum(const pp_cfg_field *f, const pp_node *n, void *cfg, const char *path,
                        pp_diag *d) {
    const char *v = scalar(n, path, "a string", d);
    if (!v) return;
    for (const char *const *c = f->choices; c && *c; c++) {
        if (strcmp(*c, v) == 0) {
            replace_str(FIELD(cfg, f, char *), v);
            return;
        }
    }
    char list[512] = "";
    size_t used = 0;
    for (const char *const *c = f->choices; c && *c && used < sizeof(list); c++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", used ? ", " : "", *c);
        if (w < 0) break;
        used += (size_t)w;
    }
    pp_diag_error_at(d, path, n, "expected one of %s, got \"%s\"", list, shown(f, v));
}

static void decode_int(const pp_cfg_field *f, const pp_node *n, void *cfg, const char *path,
                       pp_diag *d) {
    const char *v = scalar(n, path, "an integer", d);
    if (!v) return;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!v[0] || *end || errno == ERANGE) {
        pp_diag_error_at(d, path, n, "expected an integer, got \"%s\"", shown(f, v));
        return;
    }
    if (f->max > f->min && (x < f->min || x > f->max)) {
        pp_diag_error_at(d, path, n, "must be between %" PRId64 " and %" PRId64 ", got %lld",
                         f->min, f->max, x);
        return;
    }
    *FIELD(cfg, f, int64_t) = x;
}

static void decode_duration(const pp_cfg_field *f, const pp_node *n, void *cfg, const char *path,
                            pp_diag *d) {
    const char *v = scalar(n, path, "a duration", d);
    if (!v) return;
    int64_t ns;
    if (pp_parse_duration(v, &ns) < 0) {
        pp_diag_error_at(d, path, n, "expected a duration like \"5s\", got \"%s\"", shown(f, v));
        return;
    }
    if (f->max > f->min && (ns < f->min || ns > f->max)) {
        char a[32], b[32];
        pp_diag_error_at(d, path, n, "must be between %s and %s, got \"%s\"",
                         fmt_duration(f->min, a, sizeof(a)), fmt_duration(f->max, b, sizeof(b)), v);
        return;
    }
    *FIELD(cfg, f, int64_t) = ns;
}

static void decode_string_map(const pp_cfg_field *f, const pp_node *n, void *cfg,
                              const char *path, pp_diag *d) {
    pp_cfg_kvs *m = FIELD(cfg, f, pp_cfg_kvs);
    if (n->type != PP_NODE_MAP && n->type != PP_NODE_NULL) {
        pp_diag_error_at(d, path, n, "expected a map, got %s", node_kind(n));
        return;
    }
    free_kvs(m);
    m->items = pp_xcalloc(n->count, sizeof(*m->items));
    for (size_t i = 0; i < n->count; i++) {
        const pp_node *it = n->items[i];
        const char *v = "";
        if (it->type != PP_NODE_NULL) {
            char *sub = pp_path_key(path, it->key);
            v = scalar(it, sub, "a string", d);
            free(sub);
            if (!v) continue;
        }
        m->items[m->count].key = pp_xstrdup(it->key);
        m->items[m->count].value = pp_xstrdup(v);
        m->count++;
    }
}

static void decode_string_list(const pp_cfg_field *f, const pp_node *n, void *cfg,
                               const char *path, pp_diag *d) {
    pp_cfg_strs *l = FIELD(cfg, f, pp_cfg_strs);
    if (n->type != PP_NODE_SEQ && n->type != PP_NODE_NULL) {
        pp_diag_error_at(d, path, n, "expected a list, got %s", node_kind(n));
        return;
    }
    free_strs(l);
    l->items = pp_xcalloc(n->count, sizeof(*l->items));
    for (size_t i = 0; i < n->count; i++) {
        char *sub = pp_path_index(path, i);
        const char *v = scalar(n->items[i], sub, "a string", d);
        free(sub);
        if (v) l->items[l->count++] = pp_xstrdup(v);
    }
}

/* Decodes the value n of field f, whose YAML path is path. */
static void decode_field(const pp_cfg_field *f, const pp_node *n, void *cfg, const char *path,
                         pp_diag *d) {
    const char *v;
    /* A key written with no value keeps its default (STRUCT: present, with
     * defaults; lists and maps: empty). */
    bool null = n->type == PP_NODE_NULL;
    switch (f->type) {
    case PP_CFG_END: break;
    case PP_CFG_STRING:
        if (!null && (v = scalar(n, path, "a string", d))) replace_str(FIELD(cfg, f, char *), v);
        break;
    case PP_CFG_BOOL:
        if (null || !(v = scalar(n, path, "true or false", d))) break;
        if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
            *FIELD(cfg, f, bool) = true;
        else if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
            *FIELD(cfg, f, bool) = false;
        else pp_diag_error_at(d, path, n, "expected true or false, got \"%s\"", shown(f, v));
        break;
    case PP_CFG_INT:
        if (!null) decode_int(f, n, cfg, path, d);
        break;
    case PP_CFG_FLOAT: {
        if (null || !(v = scalar(n, path, "a number", d))) break;
        char *end;
        double x = strtod(v, &end);
        if (!v[0] || *end || !isfinite(x))
            pp_diag_error_at(d, path, n, "expected a number, got \"%s\"", shown(f, v));
        else *FIELD(cfg, f, double) = x;
        break;
    }
    case PP_CFG_DURATION:
        if (!null) decode_duration(f, n, cfg, path, d);
        break;
    case PP_CFG_ENUM:
        if (!null) decode_enum(f, n, cfg, path, d);
        break;
    case PP_CFG_STRUCT:
        if (f->flags & PP_CFG_HAS_PRESENT) *(bool *)(void *)((char *)cfg + f->present_offset) = true;
        pp_cfg_decode(f->children, n, FIELD(cfg, f, char), path, d);
        break;
    case PP_CFG_STRING_MAP: decode_string_map(f, n, cfg, path, d); break;
    case PP_CFG_STRING_LIST: decode_string_list(f, n, cfg, path, d); break;
    case PP_CFG_NODE: *FIELD(cfg, f, const pp_node *) = n; break;
    case PP_CFG_IGNORED:
        pp_diag_warn_at(d, path, n, "accepted for compatibility, ignored by pipit");
        break;
    }
}

/* Whether a required field's value counts as missing. */
static bool missing(const pp_cfg_field *f, const pp_node *v) {
    if (pp_node_is_null(v)) return true;
    return f->type == PP_CFG_STRING && v->type == PP_NODE_SCALAR && !v->value[0];
}

size_t pp_cfg_decode(const pp_cfg_field *schema, const pp_node *node, void *cfg,
                     const char *path, pp_diag *d) {
    size_t before = d->errors;
    if (node && node->type != PP_NODE_MAP && node->type != PP_NODE_NULL) {
        pp_diag_error_at(d, path, node, "expected a map, got %s", node_kind(node));
        return d->errors - before;
    }
    for (size_t i = 0; node && i < node->count; i++) {
        const pp_node *it = node->items[i];
        char *sub = pp_path_key(path, it->key);
        const pp_cfg_field *f = find_field(schema, it->key);
        if (f) decode_field(f, it, cfg, sub, d);
        else unknown_key(schema, it, sub, d);
        free(sub);
    }
    for (const pp_cfg_field *f = schema; f->type != PP_CFG_END; f++) {
        if (!(f->flags & PP_CFG_REQUIRED)) continue;
        const pp_node *v = pp_node_get(node, f->key);
        char *sub = pp_path_key(path, f->key);
        if (missing(f, v)) pp_diag_error_at(d, sub, v ? v : node, "required");
        else if ((f->type == PP_CFG_STRING_LIST || f->type == PP_CFG_STRING_MAP) && v->count == 0)
            pp_diag_error_at(d, sub, v, "must not be empty");
        free(sub);
    }
    return d->errors - before;
}

void pp_cfg_free(const pp_cfg_field *schema, void *cfg) {
    if (!schema || !cfg) return;
    for (const pp_cfg_field *f = schema; f->type != PP_CFG_END; f++) {
        switch (f->type) {
        case PP_CFG_STRING:
        case PP_CFG_ENUM:
            free(*FIELD(cfg, f, char *));
            *FIELD(cfg, f, char *) = NULL;
            break;
        case PP_CFG_STRUCT: pp_cfg_free(f->children, FIELD(cfg, f, char)); break;
        case PP_CFG_STRING_MAP: free_kvs(FIELD(cfg, f, pp_cfg_kvs)); break;
        case PP_CFG_STRING_LIST: free_strs(FIELD(cfg, f, pp_cfg_strs)); break;
        default: break;
        }
    }
}
