/* sentry_stack.c -- see sentry_stack.h. */
#include "sentry_stack.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The text split into NUL-terminated lines (a trailing '\r' dropped). */
typedef struct lines {
    char *buf;
    char **v;
    size_t n;
} lines;

static int split_lines(const char *text, lines *L) {
    L->buf = strdup(text);
    size_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == '\n';
    L->v = malloc(cap * sizeof(char *));
    L->n = 0;
    if (!L->buf || !L->v) return -1;
    for (char *p = L->buf;;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[len - 1] = '\0';
        L->v[L->n++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

static void free_lines(lines *L) {
    free(L->buf);
    free(L->v);
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }
static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}
static bool all_digits(const char *s, size_t n) {
    if (!n) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

static void set_str(json_object *o, const char *key, const char *s, size_t n) {
    json_object_object_add(o, key, json_object_new_string_len(s, (int)n));
}

/* A new exception value; "type: message" splits when the part before ": "
 * has no spaces (a class name), else the whole line is the value. */
static json_object *new_value(json_object *values, const char *header) {
    json_object *v = json_object_new_object();
    if (!v) return NULL;
    const char *colon = header ? strstr(header, ": ") : NULL;
    if (colon && memchr(header, ' ', (size_t)(colon - header)) == NULL && colon > header) {
        set_str(v, "type", header, (size_t)(colon - header));
        json_object_object_add(v, "value", json_object_new_string(colon + 2));
    } else if (header && *header && !strchr(header, ' ')) {
        json_object_object_add(v, "type", json_object_new_string(header));
    } else if (header && *header) {
        json_object_object_add(v, "value", json_object_new_string(header));
    }
    json_object *st = json_object_new_object();
    json_object_object_add(st, "frames", json_object_new_array());
    json_object_object_add(v, "stacktrace", st);
    json_object_array_add(values, v);
    return v;
}

static json_object *frames_of(json_object *v) {
    json_object *st, *f;
    if (!v || !json_object_object_get_ex(v, "stacktrace", &st)) return NULL;
    return json_object_object_get_ex(st, "frames", &f) ? f : NULL;
}

static json_object *add_frame(json_object *v) {
    json_object *f = json_object_new_object();
    json_object_array_add(frames_of(v), f);
    return f;
}

/* Appends "\n" + more to the value's message (multi-line messages). */
static void append_value(json_object *v, const char *more) {
    json_object *old;
    const char *o = json_object_object_get_ex(v, "value", &old) ? json_object_get_string(old) : NULL;
    size_t n = (o ? strlen(o) + 1 : 0) + strlen(more) + 1;
    char *s = malloc(n);
    if (!s) return;
    strcpy(s, o ? o : "");
    if (o) strcat(s, "\n");
    strcat(s, more);
    json_object_object_add(v, "value", json_object_new_string(s));
    free(s);
}

/* Reverses (newest-first formats), trims to the limit, drops empty stacktraces. */
static void finish_values(json_object *values, bool newest_first) {
    for (size_t i = 0; i < json_object_array_length(values); i++) {
        json_object *v = json_object_array_get_idx(values, i);
        json_object *f = frames_of(v);
        size_t n = json_object_array_length(f);
        if (n == 0) {
            json_object_object_del(v, "stacktrace");
            continue;
        }
        if (newest_first) {
            for (size_t a = 0, b = n - 1; a < b; a++, b--) {
                json_object *x = json_object_get(json_object_array_get_idx(f, a));
                json_object *y = json_object_get(json_object_array_get_idx(f, b));
                json_object_array_put_idx(f, a, y);
                json_object_array_put_idx(f, b, x);
            }
        }
        if (n > PP_SENTRY_MAX_FRAMES)
            json_object_array_del_idx(f, PP_SENTRY_MAX_FRAMES / 2, n - PP_SENTRY_MAX_FRAMES);
    }
}

static void reverse_values(json_object *values) {
    size_t n = json_object_array_length(values);
    for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
        json_object *x = json_object_get(json_object_array_get_idx(values, a));
        json_object *y = json_object_get(json_object_array_get_idx(values, b));
        json_object_array_put_idx(values, a, y);
        json_object_array_put_idx(values, b, x);
    }
}

static size_t total_frames(json_object *values) {
    size_t t = 0;
    for (size_t i = 0; i < json_object_array_length(values); i++) {
        json_object *f = frames_of(json_object_array_get_idx(values, i));
        t += f ? json_object_array_length(f) : 0;
    }
    return t;
}

/* ---- Python ---- */

static json_object *parse_python(const lines *L) {
    json_object *values = json_object_new_array(), *cur = NULL, *frame = NULL;
    bool in_tb = false, in_msg = false;
    for (size_t i = 0; i < L->n; i++) {
        const char *l = L->v[i];
        if (strcmp(l, "Traceback (most recent call last):") == 0) {
            cur = new_value(values, NULL);
            in_tb = true;
            in_msg = false;
            frame = NULL;
        } else if (in_tb && starts(l, "  File \"")) {
            const char *fn = l + 8, *q = strchr(fn, '"');
            if (!q) continue;
            frame = add_frame(cur);
            set_str(frame, "filename", fn, (size_t)(q - fn));
            const char *ln = strstr(q, ", line ");
            if (ln) json_object_object_add(frame, "lineno", json_object_new_int(atoi(ln + 7)));
            const char *in = strstr(q, ", in ");
            if (in) json_object_object_add(frame, "function", json_object_new_string(in + 5));
        } else if (in_tb && starts(l, "    ")) {
            const char *code = skip_ws(l);
            /* Python 3.11+ marks the failing expression with ^ and ~ lines. */
            if (frame && *code && strspn(code, "^~ ") != strlen(code) &&
                !json_object_object_get_ex(frame, "context_line", NULL))
                json_object_object_add(frame, "context_line", json_object_new_string(code));
        } else if (in_tb && *l && *l != ' ') {
            json_object *tmp = json_object_new_array();
            json_object *hv = new_value(tmp, l); /* split "Type: message" */
            json_object *t;
            if (json_object_object_get_ex(hv, "type", &t)) json_object_object_add(cur, "type", json_object_get(t));
            if (json_object_object_get_ex(hv, "value", &t)) json_object_object_add(cur, "value", json_object_get(t));
            json_object_put(tmp);
            in_tb = false;
            in_msg = true;
        } else if (in_msg && *l) {
            append_value(cur, l);
        } else {
            in_msg = false;
        }
    }
    finish_values(values, false);
    return values;
}

/* ---- Java ---- */

/* "pkg.Class.method(File.java:42)": the text after "at ". */
static bool java_frame(const char *s, json_object *v) {
    size_t len = strlen(s);
    const char *lp = strchr(s, '(');
    if (!lp || lp == s || len < 2 || s[len - 1] != ')' || memchr(s, ' ', (size_t)(lp - s))) return false;
    if (!v) return true;
    json_object *f = add_frame(v);
    const char *name = s;
    for (const char *p = s; p < lp; p++)
        if (*p == '/') name = p + 1; /* "java.base/" and "app//" module prefixes */
    const char *dot = NULL;
    for (const char *p = name; p < lp; p++)
        if (*p == '.') dot = p;
    if (dot) {
        set_str(f, "module", name, (size_t)(dot - name));
        set_str(f, "function", dot + 1, (size_t)(lp - dot - 1));
    } else {
        set_str(f, "function", name, (size_t)(lp - name));
    }
    const char *loc = lp + 1, *end = s + len - 1;
    const char *colon = memchr(loc, ':', (size_t)(end - loc));
    if (colon && all_digits(colon + 1, (size_t)(end - colon - 1))) {
        set_str(f, "filename", loc, (size_t)(colon - loc));
        json_object_object_add(f, "lineno", json_object_new_int(atoi(colon + 1)));
    } else if (end > loc && memchr(loc, '.', (size_t)(end - loc))) {
        set_str(f, "filename", loc, (size_t)(end - loc)); /* "Y.java" without a line */
    }
    return true;
}

static json_object *parse_java(const lines *L) {
    json_object *values = json_object_new_array(), *cur = NULL;
    bool suppressed = false;
    for (size_t i = 0; i < L->n; i++) {
        const char *l = L->v[i], *t = skip_ws(l);
        if (starts(l, "Caused by: ")) {
            cur = new_value(values, l + 11);
            suppressed = false;
        } else if (!cur && *l && *l != ' ' && *l != '\t') {
            cur = new_value(values, l);
        } else if (t != l && starts(t, "at ")) {
            if (!suppressed) java_frame(t + 3, cur);
        } else if (t != l && starts(t, "Suppressed: ")) {
            suppressed = true;
        } else if (cur && t == l && *l && json_object_array_length(frames_of(cur)) == 0) {
            append_value(cur, l);
        }
    }
    reverse_values(values); /* the deepest cause happened first */
    finish_values(values, true);
    return values;
}

/* ---- JavaScript (V8) ---- */

/* "fn (file.js:10:5)", "fn (native)", "file.js:10:5", "async fn (...)": the
 * text after "at ". false (and no frame) for anything else. */
static bool js_frame(const char *s, json_object *v) {
    if (starts(s, "async ")) s += 6;
    size_t len = strlen(s);
    const char *loc = s, *end = s + len;
    const char *sp = len && s[len - 1] == ')' ? strstr(s, " (") : NULL;
    if (sp) {
        loc = sp + 2;
        end = s + len - 1;
    }
    /* file:line:col, read from the right (the file may hold ':'). */
    const char *c2 = NULL, *c1 = NULL;
    for (const char *p = end; p > loc; p--)
        if (p[-1] == ':') {
            if (!c2) c2 = p - 1;
            else {
                c1 = p - 1;
                break;
            }
        }
    bool has_loc = c1 && c1 > loc && all_digits(c1 + 1, (size_t)(c2 - c1 - 1)) &&
                   all_digits(c2 + 1, (size_t)(end - c2 - 1));
    if (!sp && !has_loc) return false;
    json_object *f = add_frame(v);
    if (sp) set_str(f, "function", s, (size_t)(sp - s));
    if (has_loc) {
        set_str(f, "filename", loc, (size_t)(c1 - loc));
        set_str(f, "abs_path", loc, (size_t)(c1 - loc));
        json_object_object_add(f, "lineno", json_object_new_int(atoi(c1 + 1)));
        json_object_object_add(f, "colno", json_object_new_int(atoi(c2 + 1)));
    }
    return true;
}

static json_object *parse_js(const lines *L) {
    json_object *values = json_object_new_array(), *cur = NULL;
    for (size_t i = 0; i < L->n; i++) {
        const char *l = L->v[i], *t = skip_ws(l);
        if (t != l && starts(t, "at ")) {
            if (!cur) cur = new_value(values, NULL);
            js_frame(t + 3, cur);
        } else if (!cur && *l) {
            cur = new_value(values, l);
        } else if (cur && *l && json_object_array_length(frames_of(cur)) == 0) {
            append_value(cur, l);
        }
    }
    finish_values(values, true);
    return values;
}

/* ---- Go ---- */

/* "\t/app/main.go:12 +0x1d" */
static bool go_file_line(const char *l, json_object *f) {
    if (l[0] != '\t') return false;
    const char *p = l + 1, *end = strstr(p, " +0x");
    if (!end) end = p + strlen(p);
    const char *colon = NULL;
    for (const char *q = end; q > p; q--)
        if (q[-1] == ':') {
            colon = q - 1;
            break;
        }
    if (!colon || !all_digits(colon + 1, (size_t)(end - colon - 1)) || colon - p < 3 ||
        strncmp(colon - 3, ".go", 3) != 0)
        return false;
    if (f) {
        set_str(f, "filename", p, (size_t)(colon - p));
        set_str(f, "abs_path", p, (size_t)(colon - p));
        json_object_object_add(f, "lineno", json_object_new_int(atoi(colon + 1)));
    }
    return true;
}

/* "github.com/x/pkg.(*T).Method(0x1, ...)" -> module "github.com/x/pkg", function "(*T).Method" */
static void go_function(const char *l, json_object *f) {
    size_t len = strlen(l);
    if (starts(l, "created by ")) {
        l += 11;
        const char *in = strstr(l, " in goroutine ");
        len = in ? (size_t)(in - l) : strlen(l);
    } else if (len && l[len - 1] == ')') {
        int depth = 0;
        for (size_t i = len; i > 0; i--) {
            if (l[i - 1] == ')') depth++;
            else if (l[i - 1] == '(' && --depth == 0) {
                len = i - 1;
                break;
            }
        }
    }
    const char *slash = NULL;
    for (size_t i = 0; i < len; i++)
        if (l[i] == '/') slash = l + i;
    const char *from = slash ? slash : l;
    const char *dot = memchr(from, '.', len - (size_t)(from - l));
    if (dot) {
        set_str(f, "module", l, (size_t)(dot - l));
        set_str(f, "function", dot + 1, len - (size_t)(dot + 1 - l));
    } else {
        set_str(f, "function", l, len);
    }
}

static json_object *parse_go(const lines *L) {
    json_object *values = json_object_new_array();
    size_t i = 0;
    const char *msg = NULL;
    if (i < L->n && starts(L->v[i], "panic: ")) msg = L->v[i++] + 7;
    while (i < L->n && !*L->v[i]) i++;
    if (i < L->n && starts(L->v[i], "goroutine ")) i++;
    json_object *cur = new_value(values, NULL);
    if (msg) json_object_object_add(cur, "value", json_object_new_string(msg));
    for (; i + 1 < L->n && *L->v[i]; i += 2) {
        if (!go_file_line(L->v[i + 1], NULL)) break;
        json_object *f = add_frame(cur);
        go_function(L->v[i], f);
        go_file_line(L->v[i + 1], f);
    }
    finish_values(values, true);
    return values;
}

/* ---- detection ---- */

typedef enum { FMT_NONE, FMT_PYTHON, FMT_JAVA, FMT_JS, FMT_GO } fmt;

static fmt detect(const lines *L) {
    for (size_t i = 0; i < L->n; i++)
        if (strcmp(L->v[i], "Traceback (most recent call last):") == 0) return FMT_PYTHON;
    size_t g = 0;
    if (g < L->n && starts(L->v[g], "panic: ")) g++;
    while (g < L->n && !*L->v[g]) g++;
    if (g < L->n && starts(L->v[g], "goroutine ")) g++;
    if (g + 1 < L->n && *L->v[g] && L->v[g][0] != '\t' && go_file_line(L->v[g + 1], NULL)) return FMT_GO;
    for (size_t i = 0; i < L->n; i++) {
        const char *l = L->v[i], *t = skip_ws(l);
        if (t == l || !starts(t, "at ")) continue;
        /* The first frame decides: Java has no space before '(' and no column. */
        if (java_frame(t + 3, NULL)) return FMT_JAVA;
        return FMT_JS;
    }
    return FMT_NONE;
}

json_object *pp_sentry_parse_stacktrace(const char *text) {
    if (!text || !*text) return NULL;
    lines L;
    if (split_lines(text, &L) != 0) {
        free_lines(&L);
        return NULL;
    }
    json_object *values = NULL;
    switch (detect(&L)) {
    case FMT_PYTHON: values = parse_python(&L); break;
    case FMT_JAVA: values = parse_java(&L); break;
    case FMT_JS: values = parse_js(&L); break;
    case FMT_GO: values = parse_go(&L); break;
    case FMT_NONE: break;
    }
    free_lines(&L);
    if (values && total_frames(values) == 0) { /* recognised nothing after all */
        json_object_put(values);
        values = NULL;
    }
    return values;
}
