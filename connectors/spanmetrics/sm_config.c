/* sm_config.c -- config keys of the spanmetrics connector, with the
 * Collector's names and defaults (docs/components/aggregation.md). */
#include "sm_config.h"

#include <stdlib.h>
#include <string.h>

static const char *const units[] = {"ms", "s", NULL};
static const char *const temporalities[] = {"AGGREGATION_TEMPORALITY_CUMULATIVE",
                                            "AGGREGATION_TEMPORALITY_DELTA", NULL};

static const pp_cfg_field explicit_schema[] = {
    {.key = "buckets", .type = PP_CFG_STRING_LIST, .offset = offsetof(sm_explicit_cfg, buckets),
     .help = "bucket upper bounds as durations (default 2ms ... 15s)"},
    {0},
};

static const pp_cfg_field exponential_schema[] = {
    {.key = "max_size", .type = PP_CFG_INT, .offset = offsetof(sm_exponential_cfg, max_size),
     .min = 2, .max = 16384, .help = "buckets per sign at most"},
    {0},
};

static const pp_cfg_field histogram_schema[] = {
    {.key = "disable", .type = PP_CFG_BOOL, .offset = offsetof(sm_histogram_cfg, disable),
     .help = "emit no duration histogram"},
    {.key = "unit", .type = PP_CFG_ENUM, .offset = offsetof(sm_histogram_cfg, unit),
     .choices = units, .help = "unit of durations: ms or s"},
    {.key = "explicit", .type = PP_CFG_STRUCT, .offset = offsetof(sm_histogram_cfg, explicit_),
     .children = explicit_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(sm_histogram_cfg, explicit_present)},
    {.key = "exponential", .type = PP_CFG_STRUCT, .offset = offsetof(sm_histogram_cfg, exponential),
     .children = exponential_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(sm_histogram_cfg, exponential_present)},
    {0},
};

static const pp_cfg_field exemplars_schema[] = {
    {.key = "enabled", .type = PP_CFG_BOOL, .offset = offsetof(sm_exemplars_cfg, enabled),
     .help = "attach trace and span ids of recent spans to the duration histogram"},
    {.key = "max_per_data_point", .type = PP_CFG_INT,
     .offset = offsetof(sm_exemplars_cfg, max_per_data_point), .min = 1, .max = 1000,
     .help = "exemplars kept per series between flushes (the most recent)"},
    {0},
};

const pp_cfg_field pp_sm_schema[] = {
    {.key = "histogram", .type = PP_CFG_STRUCT, .offset = offsetof(sm_config, histogram),
     .children = histogram_schema},
    {.key = "dimensions", .type = PP_CFG_NODE, .offset = offsetof(sm_config, dimensions),
     .help = "extra dimensions [{name, default}] from span, then resource attributes"},
    {.key = "exclude_dimensions", .type = PP_CFG_STRING_LIST,
     .offset = offsetof(sm_config, exclude_dimensions),
     .help = "default dimensions to leave out (service.name, span.name, span.kind, status.code)"},
    {.key = "dimensions_cache_size", .type = PP_CFG_INT,
     .offset = offsetof(sm_config, dimensions_cache_size), .min = 0, .max = INT32_MAX,
     .help = "accepted; pipit's series cap is aggregation_cardinality_limit"},
    {.key = "aggregation_cardinality_limit", .type = PP_CFG_INT,
     .offset = offsetof(sm_config, cardinality_limit), .min = 0, .max = INT32_MAX,
     .help = "series at most; further spans go to one otel.metric.overflow series (0: 100000)"},
    {.key = "aggregation_temporality", .type = PP_CFG_ENUM, .offset = offsetof(sm_config, temporality),
     .choices = temporalities, .help = "temporality of the emitted metrics"},
    {.key = "namespace", .type = PP_CFG_STRING, .offset = offsetof(sm_config, namespace_),
     .help = "prefix of metric names (\"\" for none)"},
    {.key = "metrics_flush_interval", .type = PP_CFG_DURATION,
     .offset = offsetof(sm_config, flush_interval_ns), .min = 1000000, .max = INT64_MAX,
     .help = "how often metrics are emitted"},
    {.key = "metrics_expiration", .type = PP_CFG_DURATION, .offset = offsetof(sm_config, expiration_ns),
     .min = 0, .max = INT64_MAX, .help = "forget series without spans for this long (0: never)"},
    {.key = "exemplars", .type = PP_CFG_STRUCT, .offset = offsetof(sm_config, exemplars),
     .children = exemplars_schema},
    {.key = "resource_metrics_cache_size", .type = PP_CFG_IGNORED},
    {.key = "resource_metrics_key_attributes", .type = PP_CFG_IGNORED},
    {.key = "events", .type = PP_CFG_IGNORED},
    {.key = "delta_temporality", .type = PP_CFG_IGNORED},
    {.key = "add_resource_attributes", .type = PP_CFG_IGNORED},
    {.key = "include_instrumentation_scope", .type = PP_CFG_IGNORED},
    {0},
};

void pp_sm_defaults(void *cfg) {
    sm_config *c = cfg;
    c->histogram.unit = strdup("ms");
    c->histogram.exponential.max_size = 160;
    c->dimensions_cache_size = 1000;
    c->temporality = strdup("AGGREGATION_TEMPORALITY_CUMULATIVE");
    c->namespace_ = strdup("traces.span.metrics");
    c->flush_interval_ns = 60LL * 1000000000LL;
    c->exemplars.max_per_data_point = 5;
}

void sm_dims_free(sm_dim *dims, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(dims[i].name);
        free(dims[i].def);
    }
    free(dims);
}

size_t sm_dims_parse(const pp_node *n, const char *path, pp_diag *d, sm_dim **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    if (!n || pp_node_is_null(n)) return 0;
    char *p = pp_path_key(path, "dimensions");
    size_t errors = 0;
    if (n->type != PP_NODE_SEQ) {
        if (d) pp_diag_error_at(d, p, n, "expected a list of {name, default}");
        free(p);
        return 1;
    }
    sm_dim *dims = pp_xcalloc(n->count + 1, sizeof(*dims));
    size_t k = 0;
    for (size_t i = 0; i < n->count; i++) {
        const pp_node *item = n->items[i];
        char *ip = pp_path_index(p, i);
        const pp_node *name = item->type == PP_NODE_MAP ? pp_node_get(item, "name") : NULL;
        const pp_node *def = item->type == PP_NODE_MAP ? pp_node_get(item, "default") : NULL;
        bool ok = name && name->type == PP_NODE_SCALAR && name->value && name->value[0];
        for (size_t j = 0; ok && item->type == PP_NODE_MAP && j < item->count; j++)
            if (strcmp(item->items[j]->key, "name") != 0 && strcmp(item->items[j]->key, "default") != 0) {
                if (d) pp_diag_error_at(d, ip, item->items[j], "unknown key '%s'", item->items[j]->key);
                errors++;
            }
        if (!ok) {
            if (d) pp_diag_error_at(d, ip, item, "each dimension needs a non-empty 'name'");
            errors++;
        } else {
            dims[k].name = pp_xstrdup(name->value);
            if (def && def->type == PP_NODE_SCALAR && !pp_node_is_null(def))
                dims[k].def = pp_xstrdup(def->value ? def->value : "");
            k++;
        }
        free(ip);
    }
    free(p);
    *out = dims;
    *nout = k;
    return errors;
}

/* The Collector's default buckets, in ms. */
static const double default_ms[] = {2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000,
                                    5000, 10000, 15000};

int sm_bounds(const sm_config *c, double **out, size_t *n) {
    double per_unit = strcmp(c->histogram.unit, "s") == 0 ? 1e9 : 1e6; /* ns per unit */
    const pp_cfg_strs *b = &c->histogram.explicit_.buckets;
    size_t count = b->count ? b->count : sizeof(default_ms) / sizeof(default_ms[0]);
    double *v = malloc((count + 1) * sizeof(double));
    if (!v) return -1;
    for (size_t i = 0; i < count; i++) {
        int64_t ns;
        if (!b->count) {
            v[i] = default_ms[i] * 1e6 / per_unit;
        } else if (pp_parse_duration(b->items[i], &ns) != 0) {
            free(v);
            return -1;
        } else {
            v[i] = (double)ns / per_unit;
        }
    }
    *out = v;
    *n = count;
    return 0;
}

size_t pp_sm_validate(const void *cfg, const char *path, pp_diag *d) {
    const sm_config *c = cfg;
    size_t errors = 0;
    sm_dim *dims;
    size_t n;
    errors += sm_dims_parse(c->dimensions, path, d, &dims, &n);
    sm_dims_free(dims, n);
    char *hp = pp_path_key(path, "histogram");
    if (c->histogram.explicit_present && c->histogram.exponential_present) {
        pp_diag_error(d, hp, 0, "set either explicit or exponential, not both");
        errors++;
    }
    double *bounds = NULL;
    if (sm_bounds(c, &bounds, &n) != 0) {
        pp_diag_error(d, hp, 0, "explicit.buckets: every bucket must be a duration such as 250ms");
        errors++;
    } else {
        for (size_t i = 1; i < n; i++)
            if (!(bounds[i] > bounds[i - 1])) {
                pp_diag_error(d, hp, 0, "explicit.buckets must be strictly increasing");
                errors++;
                break;
            }
    }
    free(bounds);
    free(hp);
    return errors;
}
