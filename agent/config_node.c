/* config_node.c -- YAML text to a pp_node tree, ${env:...} substitution,
 * merging of several files, and writing a tree back as YAML; see config_node.h.
 *
 * libyaml's event parser drives a small stack-based builder. Scalars stay
 * text: a component's schema gives them a type when it decodes them. */
#include "config_node.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

char *pp_xstrdup(const char *s) {
    char *r = strdup(s);
    if (!r) abort();
    return r;
}

void *pp_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) abort();
    return p;
}

char *pp_path_key(const char *parent, const char *key) {
    char *r;
    if (!parent || !parent[0]) return pp_xstrdup(key);
    if (asprintf(&r, "%s.%s", parent, key) < 0) abort();
    return r;
}

char *pp_path_index(const char *parent, size_t i) {
    char *r;
    if (asprintf(&r, "%s[%zu]", parent ? parent : "", i) < 0) abort();
    return r;
}

/* ---- File names ----------------------------------------------------------
 * Every node points at its file's name. Merging moves nodes between trees, so
 * the name is reference counted (one reference per node) rather than owned by
 * a root. Loading is single-threaded, so plain counters suffice. */

typedef struct fname {
    size_t refs;
    char name[];
} fname;

static fname *fname_of(const char *name) {
    return (fname *)(uintptr_t)(name - offsetof(fname, name));
}

static const char *fname_new(const char *name) {
    size_t n = strlen(name);
    fname *f = malloc(sizeof(*f) + n + 1);
    if (!f) abort();
    f->refs = 1;
    memcpy(f->name, name, n + 1);
    return f->name;
}

static const char *fname_ref(const char *name) {
    if (name) fname_of(name)->refs++;
    return name;
}

static void fname_unref(const char *name) {
    if (name && --fname_of(name)->refs == 0) free(fname_of(name));
}

/* ---- Nodes ---------------------------------------------------------------- */

static pp_node *node_new(pp_node_type type, int line, const char *file) {
    pp_node *n = pp_xcalloc(1, sizeof(*n));
    n->type = type;
    n->line = line;
    n->file = fname_ref(file);
    return n;
}

static void node_append(pp_node *parent, pp_node *child) {
    if ((parent->count & (parent->count - 1)) == 0) { /* grow at powers of two */
        size_t cap = parent->count ? parent->count * 2 : 4;
        pp_node **items = realloc(parent->items, cap * sizeof(*items));
        if (!items) abort();
        parent->items = items;
    }
    parent->items[parent->count++] = child;
}

/* Frees what n holds but not n itself (nor n->key). */
static void node_clear(pp_node *n) {
    for (size_t i = 0; i < n->count; i++) pp_node_free(n->items[i]);
    free(n->items);
    free(n->value);
    fname_unref(n->file);
    n->items = NULL;
    n->count = 0;
    n->value = NULL;
    n->file = NULL;
}

void pp_node_free(pp_node *n) {
    if (!n) return;
    node_clear(n);
    free(n->key);
    free(n);
}

static pp_node *node_copy(const pp_node *src) {
    pp_node *n = node_new(src->type, src->line, src->file);
    n->quoted = src->quoted;
    if (src->key) n->key = pp_xstrdup(src->key);
    if (src->value) n->value = pp_xstrdup(src->value);
    for (size_t i = 0; i < src->count; i++) node_append(n, node_copy(src->items[i]));
    return n;
}

const pp_node *pp_node_get(const pp_node *map, const char *key) {
    if (!map || map->type != PP_NODE_MAP) return NULL;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->items[i]->key, key) == 0) return map->items[i];
    return NULL;
}

bool pp_node_is_null(const pp_node *n) {
    return !n || n->type == PP_NODE_NULL;
}

/* ---- Environment substitution --------------------------------------------
 * As the Collector: ${env:VAR}, ${VAR}, ${env:VAR:-default} (default when
 * unset or empty), $$ for a literal $. Other providers (file, http, ...) are
 * not implemented, and say so rather than pass the text through. */

static bool valid_env_name(const char *s, size_t n) {
    if (n == 0 || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* Expands one ${...} whose inside is ref[0..len). Returns 0, or -1 after
 * reporting an error. */
static int expand_ref(const char *ref, size_t len, FILE *out, const char *path, const pp_node *n,
                      pp_diag *d) {
    const char *colon = memchr(ref, ':', len);
    const char *var = ref;
    size_t vlen = len;
    if (colon && colon + 1 < ref + len && colon[1] != '-') {
        /* ${provider:...}; only env is known */
        size_t plen = (size_t)(colon - ref);
        if (plen != 3 || memcmp(ref, "env", 3) != 0) {
            pp_diag_error_at(d, path, n, "${%.*s:...}: unsupported config provider '%.*s'",
                             (int)plen, ref, (int)plen, ref);
            return -1;
        }
        var = colon + 1;
        vlen = len - plen - 1;
    }
    const char *def = NULL;
    size_t dlen = 0;
    for (size_t i = 0; i + 1 < vlen; i++) {
        if (var[i] == ':' && var[i + 1] == '-') {
            def = var + i + 2;
            dlen = vlen - i - 2;
            vlen = i;
            break;
        }
    }
    if (!valid_env_name(var, vlen)) {
        pp_diag_error_at(d, path, n, "invalid environment variable name \"%.*s\" in \"${%.*s}\"",
                         (int)vlen, var, (int)len, ref);
        return -1;
    }
    char name[256];
    if (vlen >= sizeof(name)) {
        pp_diag_error_at(d, path, n, "environment variable name too long");
        return -1;
    }
    memcpy(name, var, vlen);
    name[vlen] = '\0';
    const char *val = getenv(name);
    if (def && (!val || !val[0])) {
        fwrite(def, 1, dlen, out);
    } else if (!val) {
        pp_diag_warn_at(d, path, n, "environment variable %s is not set", name);
    } else {
        fputs(val, out);
    }
    return 0;
}

/* Returns the expanded text (caller frees), or NULL after reporting errors. */
static char *expand(const char *in, const char *path, const pp_node *n, pp_diag *d) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) abort();
    int bad = 0;
    for (const char *p = in; *p;) {
        if (p[0] == '$' && p[1] == '$') {
            fputc('$', out);
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                pp_diag_error_at(d, path, n, "unterminated \"${\" (write $$ for a literal $)");
                bad = 1;
                break;
            }
            if (expand_ref(p + 2, (size_t)(end - p - 2), out, path, n, d) < 0) bad = 1;
            p = end + 1;
        } else {
            fputc(*p++, out);
        }
    }
    fclose(out);
    if (bad) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Substitutes in every scalar of the tree; returns the number of errors. */
static int substitute(pp_node *n, const char *path, pp_diag *d) {
    int bad = 0;
    if (n->type == PP_NODE_SCALAR && strchr(n->value, '$')) {
        char *v = expand(n->value, path, n, d);
        if (v) {
            free(n->value);
            n->value = v;
        } else {
            bad++;
        }
    }
    for (size_t i = 0; i < n->count; i++) {
        char *sub = n->type == PP_NODE_MAP ? pp_path_key(path, n->items[i]->key)
                                           : pp_path_index(path, i);
        bad += substitute(n->items[i], sub, d);
        free(sub);
    }
    return bad;
}

/* ---- Parsing -------------------------------------------------------------- */

typedef struct anchor {
    char *name;
    const pp_node *node;
} anchor;

typedef struct builder {
    const char *file;
    pp_diag *d;
    pp_node *root;
    pp_node *graveyard; /* nodes parsed but not in the tree; see attach() */
    pp_node *stack[64]; /* open maps and sequences */
    char *pending_key[64]; /* for a map on the stack: the key awaiting its value */
    int pending_line[64];
    int depth;
    anchor *anchors;
    size_t nanchors;
    int errors;
} builder;

/* The path of the innermost open container. Each open container is the last
 * item of its parent, which gives its index in a sequence. */
static char *stack_path(const builder *b) {
    char *path = pp_xstrdup("");
    for (int i = 1; i < b->depth; i++) {
        const pp_node *parent = b->stack[i - 1];
        char *next = parent->type == PP_NODE_MAP ? pp_path_key(path, b->stack[i]->key)
                                                 : pp_path_index(path, parent->count - 1);
        free(path);
        path = next;
    }
    return path;
}

/* Attaches a scalar or a just-opened container to the open container.
 * Returns false if it is not part of the tree (it was a map key, or the
 * value of a duplicate key): it then goes to the graveyard, freed at the end,
 * so that its children and any alias to it still have somewhere to live. */
static bool attach(builder *b, pp_node *n) {
    if (b->depth == 0) {
        if (!b->root) {
            b->root = n;
            return true;
        }
        node_append(b->graveyard, n);
        return false;
    }
    int top = b->depth - 1;
    pp_node *parent = b->stack[top];
    if (parent->type == PP_NODE_SEQ) {
        node_append(parent, n);
        return true;
    }
    if (!b->pending_key[top]) { /* n is a key */
        if (n->type == PP_NODE_MAP || n->type == PP_NODE_SEQ) {
            char *path = stack_path(b);
            pp_diag_error_at(b->d, path, n, "map keys must be plain values");
            free(path);
            b->errors++;
            b->pending_key[top] = pp_xstrdup("?");
            n->key = pp_xstrdup("?");
        } else {
            b->pending_key[top] = pp_xstrdup(n->value ? n->value : "");
        }
        b->pending_line[top] = n->line;
        node_append(b->graveyard, n);
        return false;
    }
    n->key = b->pending_key[top];
    b->pending_key[top] = NULL;
    if (pp_node_get(parent, n->key)) {
        char *path = stack_path(b);
        char *kp = pp_path_key(path, n->key);
        pp_diag_add_at(b->d, PP_SEV_ERROR, kp, b->file, b->pending_line[top],
                       "duplicate key in the same map");
        free(kp);
        free(path);
        b->errors++;
        node_append(b->graveyard, n);
        return false;
    }
    node_append(parent, n);
    return true;
}

/* Opens a container. Returns false if nesting is too deep (parsing stops). */
static bool push(builder *b, pp_node *n) {
    attach(b, n);
    if (b->depth == (int)(sizeof(b->stack) / sizeof(b->stack[0]))) {
        pp_diag_error_at(b->d, "", n, "YAML nested too deeply");
        b->errors++;
        return false;
    }
    b->pending_key[b->depth] = NULL;
    b->stack[b->depth++] = n;
    return true;
}

static void pop(builder *b) {
    if (b->depth == 0) return;
    b->depth--;
    free(b->pending_key[b->depth]);
    b->pending_key[b->depth] = NULL;
}

static void remember_anchor(builder *b, const yaml_char_t *name, const pp_node *n) {
    if (!name) return;
    anchor *a = realloc(b->anchors, (b->nanchors + 1) * sizeof(*a));
    if (!a) abort();
    b->anchors = a;
    a[b->nanchors].name = pp_xstrdup((const char *)name);
    a[b->nanchors].node = n;
    b->nanchors++;
}

static bool plain_null(const char *v) {
    return !v[0] || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* Handles one event; returns false at the end of the stream. */
static bool on_event(builder *b, const yaml_event_t *ev) {
    int line = (int)ev->start_mark.line + 1;
    pp_node *n;
    switch (ev->type) {
    case YAML_STREAM_END_EVENT: return false;
    case YAML_DOCUMENT_START_EVENT:
        if (b->root) {
            pp_diag_add_at(b->d, PP_SEV_ERROR, "", b->file, line,
                           "several YAML documents in one file are not supported");
            b->errors++;
            return false;
        }
        break;
    case YAML_SCALAR_EVENT: {
        const char *v = (const char *)ev->data.scalar.value;
        bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        n = node_new(!quoted && plain_null(v) ? PP_NODE_NULL : PP_NODE_SCALAR, line, b->file);
        if (n->type == PP_NODE_SCALAR) n->value = pp_xstrdup(v);
        n->quoted = quoted;
        remember_anchor(b, ev->data.scalar.anchor, n);
        attach(b, n);
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        n = node_new(ev->type == YAML_MAPPING_START_EVENT ? PP_NODE_MAP : PP_NODE_SEQ, line,
                     b->file);
        remember_anchor(b, ev->type == YAML_MAPPING_START_EVENT ? ev->data.mapping_start.anchor
                                                                : ev->data.sequence_start.anchor,
                        n);
        if (!push(b, n)) return false;
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: pop(b); break;
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        const pp_node *target = NULL;
        for (size_t i = b->nanchors; i-- > 0;)
            if (strcmp(b->anchors[i].name, name) == 0) {
                target = b->anchors[i].node;
                break;
            }
        if (!target) {
            pp_diag_add_at(b->d, PP_SEV_ERROR, "", b->file, line, "unknown YAML alias *%s", name);
            b->errors++;
            break;
        }
        n = node_copy(target);
        free(n->key);
        n->key = NULL;
        n->line = line;
        attach(b, n);
        break;
    }
    default: break;
    }
    return true;
}

pp_node *pp_node_parse(const char *text, size_t len, const char *file, pp_diag *d) {
    builder b = {0};
    b.file = fname_new(file ? file : "<config>");
    b.d = d;
    b.graveyard = node_new(PP_NODE_SEQ, 0, NULL);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            yaml_mark_t m = parser.problem_mark;
            pp_diag_add_at(d, PP_SEV_ERROR, "", b.file, (int)m.line + 1, "YAML syntax error: %s%s%s",
                           parser.problem ? parser.problem : "unknown",
                           parser.context ? " " : "", parser.context ? parser.context : "");
            b.errors++;
            break;
        }
        bool more = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (!more) break;
    }
    yaml_parser_delete(&parser);
    while (b.depth > 0) pop(&b);
    for (size_t i = 0; i < b.nanchors; i++) free(b.anchors[i].name);
    free(b.anchors);
    pp_node_free(b.graveyard);
    if (!b.root) b.root = node_new(PP_NODE_NULL, 1, b.file); /* an empty file */
    fname_unref(b.file);
    if (b.errors == 0) b.errors += substitute(b.root, "", d);
    if (b.errors) {
        pp_node_free(b.root);
        return NULL;
    }
    return b.root;
}

pp_node *pp_node_load_file(const char *path, pp_diag *d) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        pp_diag_add_at(d, PP_SEV_ERROR, "", path, 0, "cannot read config file: %s", strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) abort();
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) fwrite(chunk, 1, n, out);
    int err = ferror(f);
    fclose(f);
    fclose(out);
    pp_node *root = NULL;
    if (err) pp_diag_add_at(d, PP_SEV_ERROR, "", path, 0, "cannot read config file");
    else root = pp_node_parse(buf, len, path, d);
    free(buf);
    return root;
}

/* ---- Merging -------------------------------------------------------------- */

/* Frees src's shell after its parts moved elsewhere. */
static void free_shell(pp_node *src) {
    free(src->items);
    free(src->key);
    free(src);
}

void pp_node_merge(pp_node *dst, pp_node *src) {
    if (dst->type == PP_NODE_MAP && src->type == PP_NODE_MAP) {
        for (size_t i = 0; i < src->count; i++) {
            pp_node *s = src->items[i];
            size_t j;
            for (j = 0; j < dst->count; j++)
                if (strcmp(dst->items[j]->key, s->key) == 0) break;
            if (j == dst->count) node_append(dst, s);
            else if (dst->items[j]->type == PP_NODE_MAP && s->type == PP_NODE_MAP)
                pp_node_merge(dst->items[j], s);
            else {
                pp_node_free(dst->items[j]);
                dst->items[j] = s;
            }
        }
        fname_unref(src->file);
        free(src->value);
        free_shell(src);
        return;
    }
    /* A scalar, sequence or null replaces dst's value; dst keeps its key. */
    node_clear(dst);
    dst->type = src->type;
    dst->value = src->value;
    dst->quoted = src->quoted;
    dst->items = src->items;
    dst->count = src->count;
    dst->line = src->line;
    dst->file = src->file; /* the reference moves with it */
    src->items = NULL;
    free_shell(src);
}

/* ---- Writing YAML --------------------------------------------------------- */

typedef struct emit_ctx {
    yaml_emitter_t em;
    bool (*mask)(const pp_node *n, void *ud);
    void *ud;
    int failed;
} emit_ctx;

static void emit(emit_ctx *c, yaml_event_t *ev) {
    if (!c->failed && !yaml_emitter_emit(&c->em, ev)) c->failed = 1;
}

static void emit_scalar(emit_ctx *c, const char *v, bool quoted) {
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)v, (int)strlen(v),
                                 !quoted, 1,
                                 quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    emit(c, &ev);
}

static void emit_node(emit_ctx *c, const pp_node *n) {
    yaml_event_t ev;
    if (c->mask && c->mask(n, c->ud)) {
        emit_scalar(c, "[REDACTED]", false);
        return;
    }
    switch (n->type) {
    case PP_NODE_NULL: emit_scalar(c, "null", false); break;
    case PP_NODE_SCALAR: emit_scalar(c, n->value, n->quoted); break;
    case PP_NODE_MAP:
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        emit(c, &ev);
        for (size_t i = 0; i < n->count; i++) {
            emit_scalar(c, n->items[i]->key, false);
            emit_node(c, n->items[i]);
        }
        yaml_mapping_end_event_initialize(&ev);
        emit(c, &ev);
        break;
    case PP_NODE_SEQ:
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        emit(c, &ev);
        for (size_t i = 0; i < n->count; i++) emit_node(c, n->items[i]);
        yaml_sequence_end_event_initialize(&ev);
        emit(c, &ev);
        break;
    }
}

static int write_out(void *data, unsigned char *buf, size_t size) {
    return fwrite(buf, 1, size, data) == size;
}

char *pp_node_to_yaml_masked(const pp_node *n, bool (*mask)(const pp_node *n, void *ud), void *ud) {
    emit_ctx c = {.mask = mask, .ud = ud};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) abort();
    if (!yaml_emitter_initialize(&c.em)) abort();
    yaml_emitter_set_output(&c.em, write_out, out);
    yaml_emitter_set_unicode(&c.em, 1);
    yaml_emitter_set_width(&c.em, -1);
    yaml_event_t ev;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    emit(&c, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    emit(&c, &ev);
    emit_node(&c, n);
    yaml_document_end_event_initialize(&ev, 1);
    emit(&c, &ev);
    yaml_stream_end_event_initialize(&ev);
    emit(&c, &ev);
    yaml_emitter_delete(&c.em);
    fclose(out);
    if (c.failed) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *pp_node_to_yaml(const pp_node *n) {
    return pp_node_to_yaml_masked(n, NULL, NULL);
}
