/* config.c -- the Collector's configuration model: components, pipelines,
 * service.extensions and service.telemetry, checked as the Collector checks
 * them; see config.h.
 *
 * Every check reports and carries on, so one run lists all of a file's
 * problems. The fixed parts of the format (top level, service, pipelines,
 * telemetry) are decoded with the same schema decoder as the components. */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Schemas of the fixed sections ---------------------------------------- */

typedef struct top_raw {
    const pp_node *sections[PP_KIND_COUNT]; /* indexed by pp_kind */
    const pp_node *service;
} top_raw;

static const pp_cfg_field top_schema[] = {
    {"receivers", PP_CFG_NODE, offsetof(top_raw, sections) + PP_RECEIVER * sizeof(pp_node *)},
    {"processors", PP_CFG_NODE, offsetof(top_raw, sections) + PP_PROCESSOR * sizeof(pp_node *)},
    {"exporters", PP_CFG_NODE, offsetof(top_raw, sections) + PP_EXPORTER * sizeof(pp_node *)},
    {"connectors", PP_CFG_NODE, offsetof(top_raw, sections) + PP_CONNECTOR * sizeof(pp_node *)},
    {"extensions", PP_CFG_NODE, offsetof(top_raw, sections) + PP_EXTENSION * sizeof(pp_node *)},
    {"service", PP_CFG_NODE, offsetof(top_raw, service)},
    {0},
};

typedef struct telemetry_raw {
    char *metrics_address, *metrics_level;
    const pp_node *readers;
    char *log_level, *log_encoding;
} telemetry_raw;

static const char *const metrics_levels[] = {"none", "basic", "normal", "detailed", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_encodings[] = {"json", "console", NULL};

static const pp_cfg_field metrics_schema[] = {
    {"address", PP_CFG_STRING, offsetof(telemetry_raw, metrics_address)},
    {"level", PP_CFG_ENUM, offsetof(telemetry_raw, metrics_level), .choices = metrics_levels},
    {"readers", PP_CFG_NODE, offsetof(telemetry_raw, readers)},
    {"views", PP_CFG_IGNORED},
    {0},
};

/* Collector (zap) logging keys pipit does not implement are accepted with a
 * warning, so that Collector configs still load. */
static const pp_cfg_field logs_schema[] = {
    {"level", PP_CFG_ENUM, offsetof(telemetry_raw, log_level), .choices = log_levels},
    {"encoding", PP_CFG_ENUM, offsetof(telemetry_raw, log_encoding), .choices = log_encodings},
    {"development", PP_CFG_IGNORED},
    {"disable_caller", PP_CFG_IGNORED},
    {"disable_stacktrace", PP_CFG_IGNORED},
    {"sampling", PP_CFG_IGNORED},
    {"output_paths", PP_CFG_IGNORED},
    {"error_output_paths", PP_CFG_IGNORED},
    {"initial_fields", PP_CFG_IGNORED},
    {"processors", PP_CFG_IGNORED},
    {0},
};

static const pp_cfg_field telemetry_schema[] = {
    {"metrics", PP_CFG_STRUCT, 0, .children = metrics_schema},
    {"logs", PP_CFG_STRUCT, 0, .children = logs_schema},
    {"resource", PP_CFG_IGNORED},
    {"traces", PP_CFG_IGNORED},
    {0},
};

typedef struct service_raw {
    const pp_node *extensions, *pipelines;
    telemetry_raw telemetry;
    int64_t shutdown_timeout;
} service_raw;

#define NS_PER_S INT64_C(1000000000)

static const pp_cfg_field service_schema[] = {
    {"extensions", PP_CFG_NODE, offsetof(service_raw, extensions)},
    {"pipelines", PP_CFG_NODE, offsetof(service_raw, pipelines)},
    {"telemetry", PP_CFG_STRUCT, offsetof(service_raw, telemetry), .children = telemetry_schema},
    {"shutdown_timeout", PP_CFG_DURATION, offsetof(service_raw, shutdown_timeout), .min = 0,
     .max = 3600 * NS_PER_S, .help = "how long shutdown may take to drain (pipit)"},
    {0},
};

/* The lists are read from the nodes (for per-item paths); decoding them
 * checks types, unknown keys and that receivers and exporters are there. */
typedef struct pipeline_raw {
    pp_cfg_strs receivers, processors, exporters;
} pipeline_raw;

static const pp_cfg_field pipeline_schema[] = {
    {"receivers", PP_CFG_STRING_LIST, offsetof(pipeline_raw, receivers), PP_CFG_REQUIRED},
    {"processors", PP_CFG_STRING_LIST, offsetof(pipeline_raw, processors)},
    {"exporters", PP_CFG_STRING_LIST, offsetof(pipeline_raw, exporters), PP_CFG_REQUIRED},
    {0},
};

typedef struct prometheus_raw {
    char *host;
    int64_t port;
} prometheus_raw;

static const pp_cfg_field prometheus_schema[] = {
    {"host", PP_CFG_STRING, offsetof(prometheus_raw, host)},
    {"port", PP_CFG_INT, offsetof(prometheus_raw, port), PP_CFG_REQUIRED, .min = 1, .max = 65535},
    {"without_units", PP_CFG_IGNORED},
    {"without_type_suffix", PP_CFG_IGNORED},
    {"without_scope_info", PP_CFG_IGNORED},
    {"with_resource_constant_labels", PP_CFG_IGNORED},
    {"translation_strategy", PP_CFG_IGNORED},
    {0},
};

static const pp_cfg_field empty_schema[] = {{0}};

/* ---- Component ids -------------------------------------------------------- */

/* Splits "type[/name]". Returns NULL, or why the id is invalid. */
static const char *parse_id(const char *id, char **type, char **name) {
    const char *slash = strchr(id, '/');
    size_t tlen = slash ? (size_t)(slash - id) : strlen(id);
    *type = *name = NULL;
    if (tlen == 0) return "the type must not be empty";
    if (!isalpha((unsigned char)id[0])) return "the type must start with a letter";
    for (size_t i = 1; i < tlen; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '_')
            return "the type may contain only letters, digits and '_'";
    if (slash) {
        if (!slash[1]) return "the name after '/' must not be empty";
        for (const char *p = slash + 1; *p; p++)
            if (isspace((unsigned char)*p)) return "the name must not contain spaces";
    }
    *type = strndup(id, tlen);
    if (!*type) abort();
    if (slash) *name = pp_xstrdup(slash + 1);
    return NULL;
}

/* Whether component c is what id names: same type (an alias counts as its
 * type) and name. */
static bool id_matches(const pp_component_cfg *c, const char *id) {
    if (strcmp(c->id, id) == 0) return true;
    char *type, *name;
    if (parse_id(id, &type, &name)) return false;
    const pp_factory *f = pp_registry_find(c->kind, type);
    bool same = strcmp(f ? f->type : type, c->type) == 0 &&
                (name && c->name ? strcmp(name, c->name) == 0 : name == c->name);
    free(type);
    free(name);
    return same;
}

static pp_component_cfg *find_component(const pp_config *c, pp_kind kind, const char *id) {
    for (size_t i = 0; i < c->ncomponents; i++)
        if (c->components[i].kind == kind && id_matches(&c->components[i], id))
            return &c->components[i];
    return NULL;
}

const pp_component_cfg *pp_config_find(const pp_config *c, pp_kind kind, const char *id) {
    return find_component(c, kind, id);
}

/* "a", "b", "c" -- the registered types of a kind, or "" when the list would
 * be too long to be useful in a message. */
static void known_types(pp_kind kind, char *buf, size_t size) {
    const pp_factory *f;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; (f = pp_registry_at(i)) != NULL; i++) {
        if (f->kind != kind) continue;
        int w = snprintf(buf + used, size - used, "%s\"%s\"", used ? ", " : "", f->type);
        if (w < 0 || (size_t)w >= size - used) {
            buf[0] = '\0';
            return;
        }
        used += (size_t)w;
    }
}

/* ---- Components ----------------------------------------------------------- */

static pp_component_cfg *add_component(pp_config *c) {
    pp_component_cfg *arr = realloc(c->components, (c->ncomponents + 1) * sizeof(*arr));
    if (!arr) abort();
    c->components = arr;
    pp_component_cfg *comp = &arr[c->ncomponents++];
    memset(comp, 0, sizeof(*comp));
    return comp;
}

static void load_component(pp_config *c, pp_kind kind, const pp_node *n, const char *path,
                           pp_diag *d) {
    char *type, *name;
    const char *why = parse_id(n->key, &type, &name);
    if (why) {
        pp_diag_error_at(d, path, n, "invalid component id \"%s\": %s", n->key, why);
        return;
    }
    const pp_factory *f = pp_registry_find(kind, type);
    const pp_component_cfg *dup = find_component(c, kind, n->key);
    if (dup) {
        pp_diag_error_at(d, path, n, "same component as %s.%s (\"%s\" is another spelling)",
                         pp_kind_plural(kind), dup->id, n->key);
        free(type);
        free(name);
        return;
    }
    /* Recorded even when its type is unknown, so that pipelines naming it do
     * not add a second, misleading error. */
    pp_component_cfg *comp = add_component(c);
    comp->kind = kind;
    comp->id = pp_xstrdup(n->key);
    comp->name = name;
    comp->node = n;
    if (!f) {
        char known[256];
        known_types(kind, known, sizeof(known));
        pp_diag_error_at(d, path, n, "unknown %s type \"%s\"%s%s", pp_kind_name(kind), type,
                         known[0] ? "; known types: " : "", known);
        comp->type = type;
        return;
    }
    free(type);
    comp->type = pp_xstrdup(f->type);
    comp->factory = f;
    comp->config = pp_xcalloc(1, f->config_size);
    if (f->config_defaults) f->config_defaults(comp->config);
    size_t errs = pp_cfg_decode(f->schema ? f->schema : empty_schema, n, comp->config, path, d);
    /* Cross-field checks on a half-decoded config would only add noise. */
    if (errs == 0 && f->config_validate) f->config_validate(comp->config, path, d);
}

static void load_section(pp_config *c, pp_kind kind, const pp_node *sec, pp_diag *d) {
    const char *plural = pp_kind_plural(kind);
    if (pp_node_is_null(sec)) return;
    if (sec->type != PP_NODE_MAP) {
        pp_diag_error_at(d, plural, sec, "expected a map of %s", plural);
        return;
    }
    for (size_t i = 0; i < sec->count; i++) {
        char *path = pp_path_key(plural, sec->items[i]->key);
        load_component(c, kind, sec->items[i], path, d);
        free(path);
    }
}

/* ---- Pipelines ------------------------------------------------------------ */

/* How connectors are used, to check that each has both ends. */
typedef struct conn_use {
    unsigned as_exporter, as_receiver; /* signal masks */
} conn_use;

typedef enum role { ROLE_RECEIVER, ROLE_PROCESSOR, ROLE_EXPORTER } role;

static const char *const role_names[] = {"receiver", "processor", "exporter"};
static const char *const role_lists[] = {"receivers", "processors", "exporters"};
static const pp_kind role_kinds[] = {PP_RECEIVER, PP_PROCESSOR, PP_EXPORTER};

/* Whether comp may take the given role in a pipeline of signal sig. */
static bool supports(const pp_component_cfg *comp, role r, pp_signal sig) {
    if (!comp->factory) return true; /* unknown type: already reported */
    unsigned mask = comp->kind == PP_CONNECTOR && r == ROLE_RECEIVER ? comp->factory->out_signals
                                                                     : comp->factory->signals;
    return (mask & PP_SIG_BIT(sig)) != 0;
}

/* Resolves one id in a pipeline list; returns the component or NULL. */
static pp_component_cfg *resolve(pp_config *c, const pp_pipeline_cfg *p, role r,
                                 const pp_node *item, const char *path, pp_diag *d) {
    const char *id = item->value;
    pp_component_cfg *comp = find_component(c, role_kinds[r], id);
    if (!comp && r != ROLE_PROCESSOR) comp = find_component(c, PP_CONNECTOR, id);
    if (!comp) {
        pp_diag_error_at(d, path, item, "references %s \"%s\" which is not configured",
                         role_names[r], id);
        return NULL;
    }
    if (!supports(comp, r, p->signal)) {
        if (comp->kind == PP_CONNECTOR)
            pp_diag_error_at(d, path, item, "connector \"%s\" does not support %s as %s",
                             comp->id, pp_signal_name(p->signal),
                             r == ROLE_RECEIVER ? "a receiver" : "an exporter");
        else
            pp_diag_error_at(d, path, item, "%s \"%s\" does not support %s", role_names[r],
                             comp->id, pp_signal_name(p->signal));
    }
    return comp;
}

static void load_pipeline_list(pp_config *c, pp_pipeline_cfg *p, role r, const pp_node *pnode,
                               const char *ppath, conn_use *uses, pp_diag *d) {
    const pp_node *list = pp_node_get(pnode, role_lists[r]);
    char ***ids = r == ROLE_RECEIVER ? &p->receivers : r == ROLE_PROCESSOR ? &p->processors
                                                                           : &p->exporters;
    size_t *n = r == ROLE_RECEIVER ? &p->nreceivers : r == ROLE_PROCESSOR ? &p->nprocessors
                                                                        : &p->nexporters;
    if (!list || list->type != PP_NODE_SEQ) return; /* reported by the decoder */
    *ids = pp_xcalloc(list->count, sizeof(char *));
    char *lpath = pp_path_key(ppath, role_lists[r]);
    for (size_t i = 0; i < list->count; i++) {
        const pp_node *item = list->items[i];
        if (item->type != PP_NODE_SCALAR) continue;
        char *path = pp_path_index(lpath, i);
        pp_component_cfg *comp = resolve(c, p, r, item, path, d);
        if (comp) {
            bool twice = false;
            for (size_t k = 0; k < *n; k++) twice |= strcmp((*ids)[k], comp->id) == 0;
            if (twice) {
                pp_diag_error_at(d, path, item, "%s \"%s\" is listed twice in this pipeline",
                                 role_names[r], item->value);
            } else {
                (*ids)[(*n)++] = pp_xstrdup(comp->id);
                comp->used = true;
                if (comp->kind == PP_CONNECTOR) {
                    conn_use *u = &uses[comp - c->components];
                    if (r == ROLE_RECEIVER) u->as_receiver |= PP_SIG_BIT(p->signal);
                    else u->as_exporter |= PP_SIG_BIT(p->signal);
                }
            }
        }
        free(path);
    }
    free(lpath);
}

/* Checks a pipeline id ("traces", "metrics/backend"); returns 0 with *sig set. */
static int pipeline_signal(const pp_node *n, const char *path, pp_signal *sig, pp_diag *d) {
    char *type, *name;
    const char *why = parse_id(n->key, &type, &name);
    int rc = 0;
    if (why) {
        pp_diag_error_at(d, path, n, "invalid pipeline id \"%s\": %s", n->key, why);
        return -1;
    }
    if (strcmp(type, "logs") == 0) {
        pp_diag_error_at(d, path, n, "logs pipelines are not supported by pipit");
        rc = -1;
    } else if (pp_signal_parse(type, sig) < 0) {
        pp_diag_error_at(d, path, n, "unknown signal \"%s\" (expected traces or metrics)", type);
        rc = -1;
    }
    free(type);
    free(name);
    return rc;
}

static void load_pipelines(pp_config *c, const pp_node *pipes, pp_diag *d) {
    const char *base = "service.pipelines";
    if (pipes && pipes->type != PP_NODE_MAP && pipes->type != PP_NODE_NULL) {
        pp_diag_error_at(d, base, pipes, "expected a map of pipelines");
        return;
    }
    if (pp_node_is_null(pipes) || pipes->count == 0) {
        pp_diag_error_at(d, base, pipes, "at least one pipeline is required");
        return;
    }
    conn_use *uses = pp_xcalloc(c->ncomponents, sizeof(*uses));
    c->pipelines = pp_xcalloc(pipes->count, sizeof(*c->pipelines));
    for (size_t i = 0; i < pipes->count; i++) {
        const pp_node *pn = pipes->items[i];
        char *path = pp_path_key(base, pn->key);
        pp_signal sig;
        if (pipeline_signal(pn, path, &sig, d) == 0) {
            pipeline_raw raw = {0};
            pp_cfg_decode(pipeline_schema, pn, &raw, path, d);
            pp_cfg_free(pipeline_schema, &raw);
            pp_pipeline_cfg *p = &c->pipelines[c->npipelines++];
            p->id = pp_xstrdup(pn->key);
            p->signal = sig;
            for (role r = ROLE_RECEIVER; r <= ROLE_EXPORTER; r++)
                load_pipeline_list(c, p, r, pn, path, uses, d);
        }
        free(path);
    }
    /* A connector joins pipelines: it must end one and start another. */
    for (size_t i = 0; i < c->ncomponents; i++) {
        const pp_component_cfg *comp = &c->components[i];
        if (comp->kind != PP_CONNECTOR || !comp->used) continue;
        char *path = pp_path_key("connectors", comp->id);
        if (!uses[i].as_receiver)
            pp_diag_error_at(d, path, comp->node,
                             "used as exporter in a pipeline but not as receiver in any pipeline");
        if (!uses[i].as_exporter)
            pp_diag_error_at(d, path, comp->node,
                             "used as receiver in a pipeline but not as exporter in any pipeline");
        free(path);
    }
    free(uses);
}

static void load_service_extensions(pp_config *c, const pp_node *list, pp_diag *d) {
    const char *base = "service.extensions";
    if (pp_node_is_null(list)) return;
    if (list->type != PP_NODE_SEQ) {
        pp_diag_error_at(d, base, list, "expected a list of extension ids");
        return;
    }
    c->extensions = pp_xcalloc(list->count, sizeof(char *));
    for (size_t i = 0; i < list->count; i++) {
        const pp_node *item = list->items[i];
        char *path = pp_path_index(base, i);
        pp_component_cfg *comp =
            item->type == PP_NODE_SCALAR ? find_component(c, PP_EXTENSION, item->value) : NULL;
        if (item->type != PP_NODE_SCALAR) {
            pp_diag_error_at(d, path, item, "expected an extension id");
        } else if (!comp) {
            pp_diag_error_at(d, path, item, "references extension \"%s\" which is not configured",
                             item->value);
        } else if (comp->used) {
            pp_diag_error_at(d, path, item, "extension \"%s\" is listed twice", item->value);
        } else {
            comp->used = true;
            c->extensions[c->nextensions++] = pp_xstrdup(comp->id);
        }
        free(path);
    }
}

/* ---- service.telemetry ---------------------------------------------------- */

/* One pull reader: {exporter: {prometheus: {host, port}}}. Returns
 * "host:port" (caller frees) or NULL. */
static char *pull_reader(const pp_node *pull, const char *path, pp_diag *d) {
    const pp_node *exp = pp_node_get(pull, "exporter");
    char *addr = NULL;
    for (size_t i = 0; i < pull->count; i++) {
        if (pull->items[i] == exp) continue;
        char *sub = pp_path_key(path, pull->items[i]->key);
        pp_diag_warn_at(d, sub, pull->items[i], "accepted for compatibility, ignored by pipit");
        free(sub);
    }
    if (!exp || exp->type != PP_NODE_MAP) {
        char *sub = pp_path_key(path, "exporter");
        pp_diag_error_at(d, sub, exp ? exp : pull, "expected a map with a prometheus exporter");
        free(sub);
        return NULL;
    }
    char *epath = pp_path_key(path, "exporter");
    for (size_t i = 0; i < exp->count; i++) {
        const pp_node *e = exp->items[i];
        char *sub = pp_path_key(epath, e->key);
        if (strcmp(e->key, "prometheus") != 0 || addr) {
            pp_diag_warn_at(d, sub, e, "accepted for compatibility, ignored by pipit");
        } else {
            prometheus_raw pr = {.host = pp_xstrdup("localhost")};
            if (pp_cfg_decode(prometheus_schema, e, &pr, sub, d) == 0) {
                bool v6 = strchr(pr.host, ':') != NULL;
                if (asprintf(&addr, v6 ? "[%s]:%lld" : "%s:%lld", pr.host, (long long)pr.port) < 0)
                    abort();
            }
            pp_cfg_free(prometheus_schema, &pr);
        }
        free(sub);
    }
    free(epath);
    return addr;
}

/* The newer form, metrics.readers: the first pull/prometheus reader is served
 * on /metrics; pipit has no push readers. */
static char *readers_address(const pp_node *readers, pp_diag *d) {
    const char *base = "service.telemetry.metrics.readers";
    char *addr = NULL;
    if (readers->type != PP_NODE_SEQ) {
        pp_diag_error_at(d, base, readers, "expected a list of readers");
        return NULL;
    }
    for (size_t i = 0; i < readers->count; i++) {
        const pp_node *r = readers->items[i];
        char *path = pp_path_index(base, i);
        if (r->type != PP_NODE_MAP) pp_diag_error_at(d, path, r, "expected a map");
        for (size_t k = 0; r->type == PP_NODE_MAP && k < r->count; k++) {
            const pp_node *kind = r->items[k];
            char *sub = pp_path_key(path, kind->key);
            if (strcmp(kind->key, "pull") == 0 && kind->type == PP_NODE_MAP && !addr) {
                addr = pull_reader(kind, sub, d);
            } else {
                pp_diag_warn_at(d, sub, kind, "%s",
                                strcmp(kind->key, "pull") == 0
                                    ? "only the first pull reader is served; ignored"
                                    : "accepted for compatibility, ignored by pipit");
            }
            free(sub);
        }
        free(path);
    }
    return addr;
}

static void load_telemetry(pp_config *c, telemetry_raw *t, pp_diag *d) {
    pp_telemetry_cfg *out = &c->telemetry;
    out->log_level = t->log_level;
    out->log_encoding = t->log_encoding;
    out->metrics_level = t->metrics_level;
    t->log_level = t->log_encoding = t->metrics_level = NULL;
    if (strcmp(out->metrics_level, "none") == 0) {
        out->metrics_address = NULL; /* level none turns /metrics off */
    } else if (t->readers && !pp_node_is_null(t->readers)) {
        out->metrics_address = readers_address(t->readers, d);
    } else {
        out->metrics_address = t->metrics_address;
        t->metrics_address = NULL;
    }
}

/* ---- Loading -------------------------------------------------------------- */

static void warn_unused(const pp_config *c, pp_diag *d) {
    for (size_t i = 0; i < c->ncomponents; i++) {
        const pp_component_cfg *comp = &c->components[i];
        if (comp->used) continue;
        char *path = pp_path_key(pp_kind_plural(comp->kind), comp->id);
        pp_diag_warn_at(d, path, comp->node, "defined but not used");
        free(path);
    }
}

static void load_service(pp_config *c, const pp_node *svc, pp_diag *d) {
    service_raw raw = {
        .telemetry = {.metrics_address = pp_xstrdup("localhost:8888"),
                      .metrics_level = pp_xstrdup("normal"),
                      .log_level = pp_xstrdup("info")},
        .shutdown_timeout = 10 * NS_PER_S,
    };
    pp_cfg_decode(service_schema, svc, &raw, "service", d);
    load_telemetry(c, &raw.telemetry, d);
    c->shutdown_timeout_ns = raw.shutdown_timeout;
    load_service_extensions(c, raw.extensions, d);
    load_pipelines(c, raw.pipelines, d);
    pp_cfg_free(service_schema, &raw);
}

pp_config *pp_config_from_trees(pp_node *const *roots, size_t n, pp_diag *d) {
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) missing += roots[i] == NULL;
    if (missing) { /* some file did not parse: its errors are reported */
        for (size_t i = 0; i < n; i++) pp_node_free(roots[i]);
        return NULL;
    }
    pp_config *c = pp_xcalloc(1, sizeof(*c));
    size_t before = d->errors;
    c->root = n > 0 ? roots[0] : NULL;
    for (size_t i = 1; i < n; i++) pp_node_merge(c->root, roots[i]);
    if (!c->root) c->root = pp_node_parse("", 0, "<empty>", d);
    top_raw top = {0};
    pp_cfg_decode(top_schema, c->root, &top, "", d);
    for (pp_kind k = 0; k < PP_KIND_COUNT; k++) load_section(c, k, top.sections[k], d);
    load_service(c, top.service, d);
    warn_unused(c, d);
    if (d->errors > before) {
        pp_config_free(c);
        return NULL;
    }
    return c;
}

pp_config *pp_config_load_texts(const char *const *texts, const char *const *names, size_t n,
                                pp_diag *d) {
    pp_node **roots = pp_xcalloc(n, sizeof(*roots));
    for (size_t i = 0; i < n; i++) {
        char label[32];
        snprintf(label, sizeof(label), "<text %zu>", i + 1);
        roots[i] = pp_node_parse(texts[i], strlen(texts[i]), names ? names[i] : label, d);
    }
    pp_config *c = pp_config_from_trees(roots, n, d);
    free(roots);
    return c;
}

static void free_strv(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void pp_config_free(pp_config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->ncomponents; i++) {
        pp_component_cfg *comp = &c->components[i];
        if (comp->factory && comp->config) {
            pp_cfg_free(comp->factory->schema ? comp->factory->schema : empty_schema,
                        comp->config);
        }
        free(comp->config);
        free(comp->id);
        free(comp->type);
        free(comp->name);
    }
    free(c->components);
    for (size_t i = 0; i < c->npipelines; i++) {
        pp_pipeline_cfg *p = &c->pipelines[i];
        free(p->id);
        free_strv(p->receivers, p->nreceivers);
        free_strv(p->processors, p->nprocessors);
        free_strv(p->exporters, p->nexporters);
    }
    free(c->pipelines);
    free_strv(c->extensions, c->nextensions);
    free(c->telemetry.metrics_address);
    free(c->telemetry.metrics_level);
    free(c->telemetry.log_level);
    free(c->telemetry.log_encoding);
    pp_node_free(c->root);
    free(c);
}

/* ---- Redacted rendering --------------------------------------------------- */

typedef struct mask_set {
    const pp_node **nodes;
    size_t count;
} mask_set;

/* Collects the nodes of SECRET fields of a component's config. */
static void collect_secrets(const pp_cfg_field *schema, const pp_node *n, mask_set *m) {
    if (!schema || !n || n->type != PP_NODE_MAP) return;
    for (const pp_cfg_field *f = schema; f->type != PP_CFG_END; f++) {
        const pp_node *v = pp_node_get(n, f->key);
        if (!v) continue;
        if (f->flags & PP_CFG_SECRET) {
            const pp_node **a = realloc(m->nodes, (m->count + 1) * sizeof(*a));
            if (!a) abort();
            m->nodes = a;
            m->nodes[m->count++] = v;
        } else if (f->type == PP_CFG_STRUCT) {
            collect_secrets(f->children, v, m);
        }
    }
}

/* Keys whose values are credentials wherever they appear (headers, DSNs). */
static bool sensitive_key(const char *k) {
    static const char *const parts[] = {"authorization", "api-key", "api_key", "apikey",
                                        "token", "x-sentry-auth", "password", "secret"};
    if (strcasecmp(k, "dsn") == 0) return true;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (strcasestr(k, parts[i])) return true;
    return false;
}

static bool should_mask(const pp_node *n, void *ud) {
    const mask_set *m = ud;
    if (n->key && n->type != PP_NODE_NULL && sensitive_key(n->key)) return true;
    for (size_t i = 0; i < m->count; i++)
        if (m->nodes[i] == n) return true;
    return false;
}

char *pp_config_render_redacted(const pp_config *c) {
    mask_set m = {0};
    for (size_t i = 0; i < c->ncomponents; i++) {
        const pp_component_cfg *comp = &c->components[i];
        if (comp->factory) collect_secrets(comp->factory->schema, comp->node, &m);
    }
    char *out = pp_node_to_yaml_masked(c->root, should_mask, &m);
    free(m.nodes);
    return out;
}
