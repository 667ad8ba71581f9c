/* prw_translate.c -- OTLP metrics to remote write; see prw_translate.h.
 *
 * Label precedence, as in the Collector's translator: point attributes (plus
 * resource attributes with resource_to_telemetry_conversion, point wins on the
 * same key) < job/instance < scope labels < external labels (only where
 * absent) < __name__, le and quantile.
 *
 * Scope: the spec (Stable) puts otel_scope_name, otel_scope_version,
 * otel_scope_schema_url and otel_scope_<attr> on every point and drops scope
 * attributes that collide with those three; the Collector's current
 * translator adds none, Prometheus adds them behind a flag. We follow the spec
 * by default (scope_labels). */
#include "prw_translate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prw_names.h"
#include "prw_nhist.h"
#include "prw_series.h"
#include "prw_value.h"

#define STALE_NAN_BITS 0x7ff0000000000002ull
#define NO_RECORDED_VALUE 1u
#define EXEMPLAR_MAX_RUNES 128 /* OpenMetrics limit on an exemplar's label text */

typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint__ValueAtQuantile pp_quantile;

double pp_prw_stale_nan(void) {
    uint64_t bits = STALE_NAN_BITS;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

bool pp_prw_is_stale_nan(double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == STALE_NAN_BITS;
}

void pp_prw_options_default(pp_prw_options *o) {
    *o = (pp_prw_options){.add_metric_suffixes = true, .target_info = true, .scope_labels = true};
}

typedef struct attr { const char *key; const pp_any_value *value; } attr;

typedef struct ctx {
    const pp_prw_options *o;
    pp_arena *a;
    pp_prw_stats *st;
    pp_prw_table *tbl;
    Prometheus__MetricMetadata **meta;
    size_t n_meta, cap_meta;
    const pp_resource *res;
    const char *job, *instance;
    int64_t max_ts;      /* latest point of the resource, for target_info */
    pp_prw_lset scope;   /* labels of the current scope */
    pp_prw_lset base;    /* labels of the current point without __name__ */
    pp_prw_lset work;    /* base + the labels of one series */
    attr *attrs;         /* scratch for sorting attributes */
    size_t cap_attrs;
    /* `le` texts of the last histogram bounds seen (bound i -> le_text[i]):
     * points of one metric nearly always share their bounds, so each bound
     * is formatted once per metric instead of once per point. */
    uint64_t *le_bits;
    char **le_text;
    size_t n_le, cap_le;
    bool oom;
} ctx;

/* x + y in the arena; NULL (and oom) when out of memory or x, y is NULL. */
static char *cat(ctx *c, const char *x, const char *y) {
    if (!x || !y) {
        c->oom = true;
        return NULL;
    }
    size_t nx = strlen(x), ny = strlen(y);
    char *s = pp_arena_alloc(c->a, nx + ny + 1);
    if (!s) {
        c->oom = true;
        return NULL;
    }
    memcpy(s, x, nx);
    memcpy(s + nx, y, ny + 1);
    return s;
}

static int64_t ns_to_ms(uint64_t ns) { return (int64_t)(ns / 1000000u); }

static int attr_cmp(const void *x, const void *y) {
    return strcmp(((const attr *)x)->key, ((const attr *)y)->key);
}

static bool has_key(pp_key_value *const *kv, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0) return true;
    return false;
}

static const char *resource_str(const pp_resource *r, const char *key) {
    for (size_t i = 0; r && i < r->n_attributes; i++)
        if (strcmp(r->attributes[i]->key, key) == 0) {
            const pp_any_value *v = r->attributes[i]->value;
            if (v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
                return v->string_value;
            return NULL;
        }
    return NULL;
}

static bool is_identifying(const char *key) {
    return !strcmp(key, "service.name") || !strcmp(key, "service.namespace") ||
           !strcmp(key, "service.instance.id");
}

/* Adds attributes a (and b where a lacks the key) to out by normalized name.
 * Keys that collide after normalization get their values joined with ';' in
 * the order of their original keys. skip_identifying is for target_info. */
static void add_attrs(ctx *c, pp_prw_lset *out, pp_key_value *const *a, size_t na,
                      pp_key_value *const *b, size_t nb, bool skip_identifying) {
    if (na + nb > c->cap_attrs) {
        attr *nv = realloc(c->attrs, (na + nb) * sizeof(*nv));
        if (!nv) {
            c->oom = true;
            return;
        }
        c->attrs = nv;
        c->cap_attrs = na + nb;
    }
    size_t n = 0;
    for (size_t i = 0; i < na; i++) c->attrs[n++] = (attr){a[i]->key, a[i]->value};
    for (size_t i = 0; i < nb; i++)
        if (!has_key(a, na, b[i]->key) && !(skip_identifying && is_identifying(b[i]->key)))
            c->attrs[n++] = (attr){b[i]->key, b[i]->value};
    if (n) qsort(c->attrs, n, sizeof(*c->attrs), attr_cmp);
    for (size_t i = 0; i < n; i++) {
        char *value = pp_prw_value_text(c->a, c->attrs[i].value);
        if (!value) {
            c->oom = true;
            return;
        }
        if (!value[0]) continue;
        char *name = pp_prw_label_name(c->a, c->attrs[i].key);
        if (!name) {
            c->st->dropped_labels++;
            continue;
        }
        const char *prev = pp_prw_lset_get(out, name);
        if (prev) {
            char *joined = cat(c, prev, ";");
            value = joined ? cat(c, joined, value) : NULL;
            if (!value) return;
        }
        pp_prw_lset_set(out, name, value);
    }
}

static void add_external(ctx *c, pp_prw_lset *out) {
    const pp_cfg_kvs *ext = c->o->external_labels;
    for (size_t i = 0; ext && i < ext->count; i++)
        pp_prw_lset_add_absent(out, ext->items[i].key, ext->items[i].value);
}

/* c->base for a point with these attributes. */
static void point_labels(ctx *c, pp_key_value *const *kv, size_t n) {
    c->base.n = 0;
    if (c->o->resource_to_telemetry_conversion && c->res)
        add_attrs(c, &c->base, kv, n, c->res->attributes, c->res->n_attributes, false);
    else
        add_attrs(c, &c->base, kv, n, NULL, 0, false);
    if (c->job) pp_prw_lset_set(&c->base, "job", c->job);
    if (c->instance) pp_prw_lset_set(&c->base, "instance", c->instance);
    for (size_t i = 0; i < c->scope.n; i++)
        pp_prw_lset_set(&c->base, c->scope.v[i].name, c->scope.v[i].value);
    add_external(c, &c->base);
}

/* The series named name (+ one extra label when xname is set) of the point. */
static pp_prw_series *series_of(ctx *c, const char *name, const char *xname, const char *xvalue,
                                bool *created) {
    bool dummy;
    if (!created) created = &dummy;
    if (!name) return NULL;
    pp_prw_lset_copy(&c->work, &c->base);
    pp_prw_lset_set(&c->work, "__name__", name);
    if (xname) pp_prw_lset_set(&c->work, xname, xvalue);
    pp_prw_series *s = pp_prw_table_series(c->tbl, &c->work, created);
    if (!s) c->oom = true;
    return s;
}

static void add_sample(ctx *c, pp_prw_series *s, double v, int64_t ts) {
    if (!s) return;
    if (pp_prw_series_add_sample(c->tbl, s, v, ts) != 0) c->oom = true;
    else c->st->samples++;
}

static pp_prw_series *emit(ctx *c, const char *name, const char *xname, const char *xvalue,
                           double v, int64_t ts) {
    pp_prw_series *s = series_of(c, name, xname, xvalue, NULL);
    add_sample(c, s, v, ts);
    return s;
}

/* <name>_created with the start time (ms, as the Collector writes it), once
 * per series. */
static void emit_created(ctx *c, const char *name, uint64_t start_ns, int64_t ts) {
    if (!c->o->export_created_metric || start_ns == 0) return;
    bool created;
    pp_prw_series *s = series_of(c, cat(c, name, "_created"), NULL, NULL, &created);
    if (created) add_sample(c, s, (double)ns_to_ms(start_ns), ts);
}

static void hex(char *out, const uint8_t *d, size_t n) {
    static const char H[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = H[d[i] >> 4];
        out[2 * i + 1] = H[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static char *hex_id(ctx *c, ProtobufCBinaryData id) {
    char *s = pp_arena_alloc(c->a, 2 * id.len + 1);
    if (!s) c->oom = true;
    else hex(s, id.data, id.len);
    return s;
}

static size_t runes(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* trace_id and span_id first (they win), then filtered attributes while
 * the label text stays within the OpenMetrics limit. */
static void attach_exemplar(ctx *c, pp_prw_series *s, const pp_exemplar *e) {
    if (!s) return;
    pp_prw_lset l = {0};
    if (e->trace_id.len) pp_prw_lset_set(&l, "trace_id", hex_id(c, e->trace_id));
    if (e->span_id.len) pp_prw_lset_set(&l, "span_id", hex_id(c, e->span_id));
    size_t total = 0;
    for (size_t i = 0; i < l.n; i++) total += runes(l.v[i].name) + runes(l.v[i].value);
    pp_prw_lset extra = {0};
    add_attrs(c, &extra, e->filtered_attributes, e->n_filtered_attributes, NULL, 0, false);
    for (size_t i = 0; i < extra.n; i++) {
        size_t r = runes(extra.v[i].name) + runes(extra.v[i].value);
        if (pp_prw_lset_get(&l, extra.v[i].name) || total + r > EXEMPLAR_MAX_RUNES) continue;
        pp_prw_lset_set(&l, extra.v[i].name, extra.v[i].value);
        total += r;
    }
    pp_prw_lset_sort(&l);
    Prometheus__Exemplar *x = pp_arena_alloc(c->a, sizeof(*x));
    Prometheus__Label **labels = c->oom || l.oom ? NULL : pp_prw_labels_new(c->a, l.v, l.n);
    if (!x || !labels) {
        c->oom = true;
    } else {
        prometheus__exemplar__init(x);
        x->labels = labels;
        x->n_labels = l.n;
        x->value = e->value_case == OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT
                       ? (double)e->as_int : e->as_double;
        x->timestamp = ns_to_ms(e->time_unix_nano);
        if (pp_prw_series_add_exemplar(s, x) != 0) c->oom = true;
        else c->st->exemplars++;
    }
    pp_prw_lset_free(&l);
    pp_prw_lset_free(&extra);
}

/* Common checks of a point: time set. Updates max_ts. */
static bool point_ok(ctx *c, uint64_t time_ns, int64_t *ts) {
    if (time_ns == 0) {
        c->st->dropped_no_time++;
        return false;
    }
    *ts = ns_to_ms(time_ns);
    if (*ts > c->max_ts) c->max_ts = *ts;
    return true;
}

static void number_points(ctx *c, const char *name, pp_number_point *const *pts, size_t n,
                          bool counter) {
    for (size_t i = 0; i < n && !c->oom; i++) {
        const pp_number_point *p = pts[i];
        int64_t ts;
        if (!point_ok(c, p->time_unix_nano, &ts)) continue;
        double v;
        if (p->flags & NO_RECORDED_VALUE) {
            v = pp_prw_stale_nan();
        } else if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT) {
            v = (double)p->as_int;
        } else if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE) {
            v = p->as_double;
        } else {
            c->st->dropped_invalid++;
            continue;
        }
        point_labels(c, p->attributes, p->n_attributes);
        pp_prw_series *s = emit(c, name, NULL, NULL, v, ts);
        if (!counter) continue; /* gauges drop exemplars, like the Collector */
        for (size_t k = 0; k < p->n_exemplars; k++) attach_exemplar(c, s, p->exemplars[k]);
        emit_created(c, name, p->start_time_unix_nano, ts);
    }
}

static char *float_label(ctx *c, double v) {
    char buf[PP_PRW_FLOAT_TEXT_MAX];
    pp_prw_float_text(v, buf);
    char *s = pp_arena_strdup(c->a, buf);
    if (!s) c->oom = true;
    return s;
}

/* float_label(bound) for bucket i, from the cache when bound i is the same
 * (bit for bit) as last time. */
static const char *le_label(ctx *c, size_t i, double bound) {
    uint64_t bits;
    memcpy(&bits, &bound, sizeof(bits));
    if (i < c->n_le && c->le_bits[i] == bits) return c->le_text[i];
    char *s = float_label(c, bound);
    if (!s) return NULL;
    if (i >= c->cap_le) {
        size_t cap = c->cap_le ? 2 * c->cap_le : 16;
        while (cap <= i) cap *= 2;
        uint64_t *nb = realloc(c->le_bits, cap * sizeof(*nb));
        if (nb) c->le_bits = nb;
        char **nt = nb ? realloc(c->le_text, cap * sizeof(*nt)) : NULL;
        if (nt) c->le_text = nt;
        if (!nb || !nt) return s; /* no caching, still correct */
        c->cap_le = cap;
    }
    if (i > c->n_le) return s; /* keep the cache a prefix */
    c->le_bits[i] = bits;
    c->le_text[i] = s;
    if (i == c->n_le) c->n_le++;
    return s;
}

/* Names of one histogram metric, made once per metric. */
typedef struct hist_names { const char *bucket, *sum, *count; } hist_names;

static void histogram_point(ctx *c, const char *name, const hist_names *hn,
                            const pp_histogram_point *p) {
    int64_t ts;
    if (!point_ok(c, p->time_unix_nano, &ts)) return;
    size_t nb = p->n_explicit_bounds;
    if (p->n_bucket_counts != 0 && p->n_bucket_counts != nb + 1) {
        c->st->dropped_invalid++;
        return;
    }
    if (p->n_bucket_counts == 0) nb = 0; /* only the +Inf bucket */
    bool stale = p->flags & NO_RECORDED_VALUE;
    double stale_v = pp_prw_stale_nan();
    point_labels(c, p->attributes, p->n_attributes);
    const char *bucket = hn->bucket;
    pp_prw_series **bs = calloc(nb + 1, sizeof(*bs));
    if (!bs) {
        c->oom = true;
        return;
    }
    uint64_t cum = 0;
    for (size_t i = 0; i < nb && !c->oom; i++) {
        cum += p->bucket_counts[i];
        bs[i] = emit(c, bucket, "le", le_label(c, i, p->explicit_bounds[i]), stale ? stale_v : (double)cum, ts);
    }
    bs[nb] = emit(c, bucket, "le", "+Inf", stale ? stale_v : (double)p->count, ts);
    if (p->sum_present_case == OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM || stale)
        emit(c, hn->sum, NULL, NULL, stale ? stale_v : p->sum, ts);
    emit(c, hn->count, NULL, NULL, stale ? stale_v : (double)p->count, ts);
    /* An exemplar goes to the first bucket whose bound covers its value. */
    for (size_t k = 0; k < p->n_exemplars && !c->oom; k++) {
        const pp_exemplar *e = p->exemplars[k];
        double v = e->value_case == OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_INT
                       ? (double)e->as_int : e->as_double;
        size_t i = 0;
        while (i < nb && !(v <= p->explicit_bounds[i])) i++;
        attach_exemplar(c, bs[i], e);
    }
    free(bs);
    emit_created(c, name, p->start_time_unix_nano, ts);
}

static void summary_point(ctx *c, const char *name, const pp_summary_point *p) {
    int64_t ts;
    if (!point_ok(c, p->time_unix_nano, &ts)) return;
    bool stale = p->flags & NO_RECORDED_VALUE;
    double stale_v = pp_prw_stale_nan();
    point_labels(c, p->attributes, p->n_attributes);
    for (size_t i = 0; i < p->n_quantile_values && !c->oom; i++) {
        const pp_quantile *q = p->quantile_values[i];
        emit(c, name, "quantile", float_label(c, q->quantile), stale ? stale_v : q->value, ts);
    }
    emit(c, cat(c, name, "_sum"), NULL, NULL, stale ? stale_v : p->sum, ts);
    emit(c, cat(c, name, "_count"), NULL, NULL, stale ? stale_v : (double)p->count, ts);
    emit_created(c, name, p->start_time_unix_nano, ts);
}

static void exp_histogram_point(ctx *c, const char *name, const pp_exp_histogram_point *p) {
    int64_t ts;
    if (!point_ok(c, p->time_unix_nano, &ts)) return;
    bool stale = p->flags & NO_RECORDED_VALUE;
    if (p->scale < PP_PRW_NHIST_MIN_SCALE) {
        c->st->dropped_scale++;
        return;
    }
    if (!stale && p->sum_present_case != OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__SUM_PRESENT_SUM) {
        c->st->dropped_no_sum++;
        return;
    }
    Prometheus__Histogram *h = pp_prw_native_histogram(c->a, p, ts, stale);
    if (!h) {
        c->oom = true;
        return;
    }
    point_labels(c, p->attributes, p->n_attributes);
    pp_prw_series *s = series_of(c, name, NULL, NULL, NULL);
    if (!s) return;
    if (pp_prw_series_add_histogram(s, h) != 0) c->oom = true;
    else c->st->histograms++;
    for (size_t k = 0; k < p->n_exemplars; k++) attach_exemplar(c, s, p->exemplars[k]);
    emit_created(c, name, p->start_time_unix_nano, ts);
}

static void add_metadata(ctx *c, const char *family, Prometheus__MetricMetadata__MetricType type,
                         const char *help, const char *unit) {
    if (!c->o->send_metadata || !family) return;
    for (size_t i = 0; i < c->n_meta; i++)
        if (strcmp(c->meta[i]->metric_family_name, family) == 0) return;
    if (c->n_meta == c->cap_meta) {
        size_t cap = c->cap_meta ? 2 * c->cap_meta : 16;
        Prometheus__MetricMetadata **nv = realloc(c->meta, cap * sizeof(*nv));
        if (!nv) {
            c->oom = true;
            return;
        }
        c->meta = nv;
        c->cap_meta = cap;
    }
    Prometheus__MetricMetadata *m = pp_arena_alloc(c->a, sizeof(*m));
    char *u = pp_prw_unit_name(c->a, unit);
    char *hl = pp_arena_strdup(c->a, help ? help : "");
    char *fam = pp_arena_strdup(c->a, family);
    if (!m || !u || !hl || !fam) {
        c->oom = true;
        return;
    }
    prometheus__metric_metadata__init(m);
    m->type = type;
    m->metric_family_name = fam;
    m->help = hl;
    m->unit = u;
    c->meta[c->n_meta++] = m;
}

/* Points of a sum or histogram that remote write cannot take as they are. */
static bool temporality_ok(ctx *c, int temporality, size_t n_points) {
    if (temporality == OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE)
        return true;
    if (temporality == OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA)
        c->st->dropped_delta += n_points;
    else
        c->st->dropped_temporality += n_points;
    return false;
}

static size_t metric_points(const pp_metric *m) {
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: return m->gauge->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: return m->sum->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: return m->histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        return m->exponential_histogram->n_data_points;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: return m->summary->n_data_points;
    default: return 0;
    }
}

static void metric(ctx *c, const pp_metric *m) {
    pp_prw_name_kind kind = PP_PRW_NAME_OTHER;
    if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE) kind = PP_PRW_NAME_GAUGE;
    bool counter = m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM && m->sum->is_monotonic;
    if (counter) kind = PP_PRW_NAME_COUNTER;
    size_t n = metric_points(m);
    if (n == 0) return;
    char *name = pp_prw_metric_name(c->a, m->name, m->unit, kind, c->o->namespace_, c->o->add_metric_suffixes);
    if (!name) {
        c->st->dropped_name += n;
        return;
    }
    typedef Prometheus__MetricMetadata__MetricType mtype;
    mtype type = counter ? PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER
                         : PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE;
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        number_points(c, name, m->gauge->data_points, n, false);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (!temporality_ok(c, m->sum->aggregation_temporality, n)) return;
        number_points(c, name, m->sum->data_points, n, counter);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        if (!temporality_ok(c, m->histogram->aggregation_temporality, n)) return;
        type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__HISTOGRAM;
        hist_names hn = {cat(c, name, "_bucket"), cat(c, name, "_sum"), cat(c, name, "_count")};
        for (size_t i = 0; i < n && !c->oom; i++) histogram_point(c, name, &hn, m->histogram->data_points[i]);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        if (!temporality_ok(c, m->exponential_histogram->aggregation_temporality, n)) return;
        type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__HISTOGRAM;
        for (size_t i = 0; i < n && !c->oom; i++)
            exp_histogram_point(c, name, m->exponential_histogram->data_points[i]);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__SUMMARY;
        for (size_t i = 0; i < n && !c->oom; i++) summary_point(c, name, m->summary->data_points[i]);
        break;
    default:
        return;
    }
    add_metadata(c, name, type, m->description, m->unit);
}

static void scope_labels(ctx *c, const pp_scope_metrics *sm) {
    c->scope.n = 0;
    if (!c->o->scope_labels || !sm->scope) return;
    const pp_scope *s = sm->scope;
    pp_prw_lset_set(&c->scope, "otel_scope_name", s->name);
    pp_prw_lset_set(&c->scope, "otel_scope_version", s->version);
    pp_prw_lset_set(&c->scope, "otel_scope_schema_url", sm->schema_url);
    for (size_t i = 0; i < s->n_attributes; i++) {
        const char *k = s->attributes[i]->key;
        if (!strcmp(k, "name") || !strcmp(k, "version") || !strcmp(k, "schema_url")) continue;
        char *value = pp_prw_value_text(c->a, s->attributes[i]->value);
        char *key = cat(c, "otel_scope_", k);
        char *name = key ? pp_prw_label_name(c->a, key) : NULL;
        if (!value || !name) {
            c->oom = true;
            return;
        }
        pp_prw_lset_set(&c->scope, name, value);
    }
}

/* target_info: the non-identifying resource attributes, stamped with the
 * latest point time of the resource (as the Collector does). */
static void target_info(ctx *c) {
    if (!c->o->target_info || !c->res || c->max_ts == 0) return;
    size_t extra = 0;
    for (size_t i = 0; i < c->res->n_attributes; i++) extra += !is_identifying(c->res->attributes[i]->key);
    if (extra == 0) return;
    c->base.n = 0;
    add_attrs(c, &c->base, NULL, 0, c->res->attributes, c->res->n_attributes, true);
    if (c->job) pp_prw_lset_set(&c->base, "job", c->job);
    if (c->instance) pp_prw_lset_set(&c->base, "instance", c->instance);
    add_external(c, &c->base);
    const char *ns = c->o->namespace_;
    const char *name = ns && ns[0] ? cat(c, ns, "_target_info") : "target_info";
    bool created;
    pp_prw_series *s = series_of(c, name, NULL, NULL, &created);
    if (created) add_sample(c, s, 1, c->max_ts);
    add_metadata(c, name, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE, "Target metadata", "");
}

static void resource(ctx *c, const pp_resource_metrics *rm) {
    c->res = rm->resource;
    c->max_ts = 0;
    const char *svc = resource_str(c->res, "service.name");
    const char *svc_ns = resource_str(c->res, "service.namespace");
    c->job = svc && svc_ns && svc_ns[0] ? cat(c, cat(c, svc_ns, "/"), svc) : svc;
    c->instance = resource_str(c->res, "service.instance.id");
    for (size_t s = 0; s < rm->n_scope_metrics && !c->oom; s++) {
        const pp_scope_metrics *sm = rm->scope_metrics[s];
        scope_labels(c, sm);
        for (size_t m = 0; m < sm->n_metrics && !c->oom; m++) metric(c, sm->metrics[m]);
    }
    c->scope.n = 0;
    if (!c->oom) target_info(c);
}

Prometheus__WriteRequest *pp_prw_translate(const pp_metrics_req *req, const pp_prw_options *o,
                                           pp_arena *arena, pp_prw_stats *stats) {
    return pp_prw_translate_hashed(req, o, arena, stats, NULL);
}

Prometheus__WriteRequest *pp_prw_translate_hashed(const pp_metrics_req *req, const pp_prw_options *o,
                                                  pp_arena *arena, pp_prw_stats *stats,
                                                  const uint64_t **series_hash) {
    if (series_hash) *series_hash = NULL;
    pp_prw_stats dummy = {0};
    ctx c = {.o = o, .a = arena, .st = stats ? stats : &dummy};
    Prometheus__WriteRequest *wr = pp_arena_alloc(arena, sizeof(*wr));
    c.tbl = pp_prw_table_new(arena);
    if (!wr || !c.tbl) {
        pp_prw_table_free(c.tbl);
        return NULL;
    }
    prometheus__write_request__init(wr);
    for (size_t r = 0; req && r < req->n_resource_metrics && !c.oom; r++)
        resource(&c, req->resource_metrics[r]);
    c.oom = c.oom || c.base.oom || c.work.oom || c.scope.oom;
    if (!c.oom && pp_prw_table_finish(c.tbl, wr, series_hash) != 0) c.oom = true;
    if (!c.oom && c.n_meta) {
        wr->metadata = pp_arena_alloc(arena, c.n_meta * sizeof(*wr->metadata));
        if (wr->metadata) memcpy(wr->metadata, c.meta, c.n_meta * sizeof(*wr->metadata));
        else c.oom = true;
        wr->n_metadata = wr->metadata ? c.n_meta : 0;
    }
    c.st->series += pp_prw_table_count(c.tbl);
    c.st->metadata += wr->n_metadata;
    pp_prw_table_free(c.tbl);
    pp_prw_lset_free(&c.scope);
    pp_prw_lset_free(&c.base);
    pp_prw_lset_free(&c.work);
    free(c.attrs);
    free(c.meta);
    free(c.le_bits);
    free(c.le_text);
    if (c.oom && series_hash) *series_hash = NULL;
    return c.oom ? NULL : wr;
}
