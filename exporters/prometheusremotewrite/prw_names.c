/* prw_names.c -- OTLP to Prometheus name normalization; see prw_names.h. */
#include "prw_names.h"

#include <stdlib.h>
#include <string.h>

typedef struct span { const char *p; size_t n; } span;

/* A list of name tokens; cap is computed up front from the input lengths. */
typedef struct toks { span *v; size_t n; } toks;

typedef struct unit_word { const char *ucum, *word; } unit_word;

/* UCUM unit -> Prometheus word (otlptranslator's table; it spells TiBy
 * "tibibytes", and we accept the spec's lowercase kBy too). */
static const unit_word MAIN_UNITS[] = {
    {"d", "days"}, {"h", "hours"}, {"min", "minutes"}, {"s", "seconds"},
    {"ms", "milliseconds"}, {"us", "microseconds"}, {"ns", "nanoseconds"},
    {"By", "bytes"}, {"KiBy", "kibibytes"}, {"MiBy", "mebibytes"}, {"GiBy", "gibibytes"},
    {"TiBy", "tibibytes"}, {"KBy", "kilobytes"}, {"kBy", "kilobytes"}, {"MBy", "megabytes"},
    {"GBy", "gigabytes"}, {"TBy", "terabytes"}, {"m", "meters"}, {"V", "volts"},
    {"A", "amperes"}, {"J", "joules"}, {"W", "watts"}, {"g", "grams"}, {"Cel", "celsius"},
    {"Hz", "hertz"}, {"1", ""}, {"%", "percent"}, {NULL, NULL},
};

/* The part after '/' is singular: By/s -> bytes_per_second. */
static const unit_word PER_UNITS[] = {
    {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
    {"w", "week"}, {"mo", "month"}, {"y", "year"}, {NULL, NULL},
};

static bool is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
static bool is_metric_char(unsigned char c) { return is_alnum(c) || c == ':'; }
static bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool span_eq(span s, const char *lit) { return strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0; }

static span trim(const char *p, size_t n) {
    while (n && is_space((unsigned char)*p)) p++, n--;
    while (n && is_space((unsigned char)p[n - 1])) n--;
    return (span){p, n};
}

/* A unit part mapped through table; a part with braces ({packet}) is an
 * annotation and yields nothing; unknown units pass through. */
static span map_unit(span part, const unit_word *table) {
    if (part.n == 0 || memchr(part.p, '{', part.n) || memchr(part.p, '}', part.n))
        return (span){"", 0};
    for (const unit_word *u = table; u->ucum; u++)
        if (span_eq(part, u->ucum)) return (span){u->word, strlen(u->word)};
    return part;
}

/* Splits a unit at its first '/' into the main and per words. */
static void unit_words(const char *unit, span *main_w, span *per_w) {
    const char *slash = strchr(unit, '/');
    size_t main_len = slash ? (size_t)(slash - unit) : strlen(unit);
    *main_w = map_unit(trim(unit, main_len), MAIN_UNITS);
    *per_w = slash ? map_unit(trim(slash + 1, strlen(slash + 1)), PER_UNITS) : (span){"", 0};
}

/* Appends the tokens of s: runs of characters accepted by keep. */
static void split(toks *t, span s, bool (*keep)(unsigned char)) {
    size_t i = 0;
    while (i < s.n) {
        while (i < s.n && !keep((unsigned char)s.p[i])) i++;
        size_t start = i;
        while (i < s.n && keep((unsigned char)s.p[i])) i++;
        if (i > start) t->v[t->n++] = (span){s.p + start, i - start};
    }
}

static bool tok_eq(span a, span b) { return a.n == b.n && memcmp(a.p, b.p, a.n) == 0; }

/* Whether seq occurs as consecutive tokens of name: the unit is already there.
 * (otlptranslator compares single tokens only, so it doubles a "per" suffix;
 * we do not.) */
static bool has_run(const toks *name, const span *seq, size_t n) {
    if (n == 0) return true;
    for (size_t i = 0; i + n <= name->n; i++) {
        size_t k = 0;
        while (k < n && tok_eq(name->v[i + k], seq[k])) k++;
        if (k == n) return true;
    }
    return false;
}

static void remove_tok(toks *t, const char *lit) {
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++)
        if (!span_eq(t->v[i], lit)) t->v[o++] = t->v[i];
    t->n = o;
}

/* Joins tokens with '_' into the arena, with a '_' prefix before a digit. */
static char *join(pp_arena *a, const toks *t) {
    size_t len = 1;
    for (size_t i = 0; i < t->n; i++) len += t->v[i].n + 1;
    if (t->n == 0) return NULL;
    char *out = pp_arena_alloc(a, len + 1), *w = out;
    if (!out) return NULL;
    if (is_digit((unsigned char)t->v[0].p[0])) *w++ = '_';
    for (size_t i = 0; i < t->n; i++) {
        if (i) *w++ = '_';
        memcpy(w, t->v[i].p, t->v[i].n);
        w += t->v[i].n;
    }
    *w = '\0';
    return out;
}

static bool is_metric_or_underscore(unsigned char c) { return is_metric_char(c) || c == '_'; }

/* Appends the unit tokens (main, then "per" + per) not already in the name. */
static void add_unit_tokens(toks *t, const char *unit) {
    span main_w, per_w;
    unit_words(unit, &main_w, &per_w);
    size_t name_n = t->n;
    toks u = {t->v + name_n, 0};
    split(&u, main_w, is_metric_char);
    toks name = {t->v, name_n};
    if (!has_run(&name, u.v, u.n)) t->n += u.n;
    size_t per_at = t->n;
    toks p = {t->v + per_at + 1, 0};
    split(&p, per_w, is_metric_char);
    if (p.n == 0) return;
    t->v[per_at] = (span){"per", 3};
    if (!has_run(&name, t->v + per_at, p.n + 1)) t->n += p.n + 1;
}

char *pp_prw_metric_name(pp_arena *a, const char *name, const char *unit, pp_prw_name_kind kind,
                         const char *ns, bool add_suffixes) {
    if (!name) return NULL;
    if (!unit) unit = "";
    if (!ns) ns = "";
    /* Every token takes at least one input byte; units add a few constant ones. */
    size_t cap = strlen(name) + strlen(ns) + 2 * strlen(unit) + 40;
    toks t = {malloc(cap * sizeof(span)), 0};
    if (!t.v) return NULL;
    bool (*keep)(unsigned char) = add_suffixes ? is_metric_char : is_metric_or_underscore;
    split(&t, (span){ns, strlen(ns)}, keep);
    size_t ns_n = t.n;
    toks rest = {t.v + ns_n, 0};
    split(&rest, (span){name, strlen(name)}, keep);
    if (rest.n > 0 && add_suffixes) {
        add_unit_tokens(&rest, unit);
        if (kind == PP_PRW_NAME_COUNTER) {
            remove_tok(&rest, "total");
            rest.v[rest.n++] = (span){"total", 5};
        } else if (kind == PP_PRW_NAME_GAUGE && strcmp(unit, "1") == 0) {
            remove_tok(&rest, "ratio");
            rest.v[rest.n++] = (span){"ratio", 5};
        }
    }
    t.n = rest.n ? ns_n + rest.n : 0; /* a name with no valid character is invalid */
    char *out = join(a, &t);
    free(t.v);
    return out;
}

char *pp_prw_unit_name(pp_arena *a, const char *unit) {
    size_t cap = 2 * strlen(unit ? unit : "") + 40;
    toks t = {malloc(cap * sizeof(span)), 0};
    if (!t.v) return NULL;
    span main_w, per_w;
    unit_words(unit ? unit : "", &main_w, &per_w);
    split(&t, main_w, is_metric_char);
    size_t per_at = t.n++;
    toks p = {t.v + t.n, 0};
    split(&p, per_w, is_metric_char);
    if (p.n) {
        t.v[per_at] = (span){"per", 3};
        t.n += p.n;
    } else {
        t.n = per_at;
    }
    char *out = t.n ? join(a, &t) : pp_arena_strdup(a, "");
    free(t.v);
    return out;
}

/* Escapes s into w (room for n bytes): invalid runs become one '_'. */
static char *escape_label(char *w, const char *s, size_t n) {
    bool prev_us = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alnum(c)) {
            *w++ = (char)c;
            prev_us = false;
        } else if (!prev_us) {
            *w++ = '_';
            prev_us = true;
        }
    }
    return w;
}

char *pp_prw_label_name(pp_arena *a, const char *key) {
    size_t n = key ? strlen(key) : 0;
    if (n == 0) return NULL;
    char *out = pp_arena_alloc(a, n + 8), *w = out;
    if (!out) return NULL;
    bool reserved = n >= 4 && strncmp(key, "__", 2) == 0 && strcmp(key + n - 2, "__") == 0;
    if (reserved) {
        memcpy(w, "__", 2);
        w = escape_label(w + 2, key + 2, n - 4);
        memcpy(w, "__", 2);
        w += 2;
    } else {
        if (is_digit((unsigned char)key[0])) {
            memcpy(w, "key_", 4);
            w += 4;
        }
        w = escape_label(w, key, n);
    }
    *w = '\0';
    if (strspn(out, "_") == strlen(out)) return NULL;
    return out;
}
