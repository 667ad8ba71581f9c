/* debug_format.c -- see debug_format.h. */
#include "debug_format.h"

#include <inttypes.h>

static void write_hex(FILE *out, ProtobufCBinaryData id) {
    for (size_t i = 0; i < id.len; i++) fprintf(out, "%02x", id.data[i]);
}

static void write_any(FILE *out, const pp_any_value *v);

static void write_kvs(FILE *out, const char *indent, pp_key_value *const *kvs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s-> %s: ", indent, kvs[i]->key);
        write_any(out, kvs[i]->value);
        fputc('\n', out);
    }
}

static void write_any(FILE *out, const pp_any_value *v) {
    if (!v) {
        fputs("Empty()", out);
        return;
    }
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        fprintf(out, "Str(%s)", v->string_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        fprintf(out, "Bool(%s)", v->bool_value ? "true" : "false");
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        fprintf(out, "Int(%" PRId64 ")", v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        fprintf(out, "Double(%g)", v->double_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        fputs("Bytes(", out);
        write_hex(out, v->bytes_value);
        fputc(')', out);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        fputs("Slice([", out);
        for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++) {
            if (i) fputc(',', out);
            write_any(out, v->array_value->values[i]);
        }
        fputs("])", out);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        fputs("Map({", out);
        for (size_t i = 0; v->kvlist_value && i < v->kvlist_value->n_values; i++) {
            if (i) fputc(',', out);
            fprintf(out, "%s:", v->kvlist_value->values[i]->key);
            write_any(out, v->kvlist_value->values[i]->value);
        }
        fputs("})", out);
        break;
    default: fputs("Empty()", out); break;
    }
}

static void write_resource_scope(FILE *out, size_t i, const pp_resource *res, const char *rschema,
                                 size_t j, const pp_scope *scope, const char *sschema,
                                 const char *what) {
    if (j == 0) {
        fprintf(out, "Resource%s #%zu\nResource SchemaURL: %s\n", what, i, rschema);
        if (res && res->n_attributes) {
            fputs("Resource attributes:\n", out);
            write_kvs(out, "     ", res->attributes, res->n_attributes);
        }
    }
    fprintf(out, "Scope%s #%zu\nScopeSpans SchemaURL: %s\n", what, j, sschema);
    if (scope)
        fprintf(out, "InstrumentationScope %s %s\n", scope->name ? scope->name : "",
                scope->version ? scope->version : "");
}

static const char *const span_kinds[] = {"Unspecified", "Internal", "Server",
                                         "Client",      "Producer", "Consumer"};
static const char *const status_codes[] = {"Unset", "Ok", "Error"};

static void write_span(FILE *out, size_t k, const pp_span *sp) {
    fprintf(out, "Span #%zu\n    Trace ID       : ", k);
    write_hex(out, sp->trace_id);
    fputs("\n    Parent ID      : ", out);
    write_hex(out, sp->parent_span_id);
    fputs("\n    ID             : ", out);
    write_hex(out, sp->span_id);
    unsigned kind = (unsigned)sp->kind;
    fprintf(out, "\n    Name           : %s\n    Kind           : %s\n", sp->name,
            kind < 6 ? span_kinds[kind] : "?");
    fprintf(out, "    Start time     : %" PRIu64 "\n    End time       : %" PRIu64 "\n",
            sp->start_time_unix_nano, sp->end_time_unix_nano);
    unsigned code = sp->status ? (unsigned)sp->status->code : 0;
    fprintf(out, "    Status code    : %s\n    Status message : %s\n", code < 3 ? status_codes[code] : "?",
            sp->status && sp->status->message ? sp->status->message : "");
    if (sp->n_attributes) {
        fputs("Attributes:\n", out);
        write_kvs(out, "     ", sp->attributes, sp->n_attributes);
    }
    for (size_t e = 0; e < sp->n_events; e++) {
        fprintf(out, "Events:\nSpanEvent #%zu\n     -> Name: %s\n     -> Timestamp: %" PRIu64 "\n", e,
                sp->events[e]->name, sp->events[e]->time_unix_nano);
        write_kvs(out, "     ", sp->events[e]->attributes, sp->events[e]->n_attributes);
    }
    for (size_t l = 0; l < sp->n_links; l++) {
        fprintf(out, "Links:\nSpanLink #%zu\n     -> Trace ID: ", l);
        write_hex(out, sp->links[l]->trace_id);
        fputs("\n     -> ID: ", out);
        write_hex(out, sp->links[l]->span_id);
        fputc('\n', out);
    }
}

static void write_traces(FILE *out, const pp_traces_req *r) {
    for (size_t i = 0; i < r->n_resource_spans; i++) {
        const pp_resource_spans *rs = r->resource_spans[i];
        for (size_t j = 0; j < rs->n_scope_spans; j++) {
            const pp_scope_spans *ss = rs->scope_spans[j];
            write_resource_scope(out, i, rs->resource, rs->schema_url, j, ss->scope, ss->schema_url,
                                 "Spans");
            for (size_t k = 0; k < ss->n_spans; k++) write_span(out, k, ss->spans[k]);
        }
    }
}

static void write_number_point(FILE *out, size_t k, const pp_number_point *p) {
    fprintf(out, "NumberDataPoints #%zu\n", k);
    if (p->n_attributes) {
        fputs("Data point attributes:\n", out);
        write_kvs(out, "     ", p->attributes, p->n_attributes);
    }
    fprintf(out, "StartTimestamp: %" PRIu64 "\nTimestamp: %" PRIu64 "\n", p->start_time_unix_nano,
            p->time_unix_nano);
    if (p->value_case == OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT)
        fprintf(out, "Value: %" PRId64 "\n", p->as_int);
    else
        fprintf(out, "Value: %f\n", p->as_double);
}

static void write_histogram_point(FILE *out, size_t k, const pp_histogram_point *p) {
    fprintf(out, "HistogramDataPoints #%zu\n", k);
    if (p->n_attributes) {
        fputs("Data point attributes:\n", out);
        write_kvs(out, "     ", p->attributes, p->n_attributes);
    }
    fprintf(out, "StartTimestamp: %" PRIu64 "\nTimestamp: %" PRIu64 "\nCount: %" PRIu64 "\n",
            p->start_time_unix_nano, p->time_unix_nano, p->count);
    if (p->sum_present_case) fprintf(out, "Sum: %f\n", p->sum);
    for (size_t b = 0; b < p->n_explicit_bounds; b++)
        fprintf(out, "ExplicitBounds #%zu: %f\n", b, p->explicit_bounds[b]);
    for (size_t b = 0; b < p->n_bucket_counts; b++)
        fprintf(out, "Buckets #%zu, Count: %" PRIu64 "\n", b, p->bucket_counts[b]);
}

static void write_metric(FILE *out, size_t k, const pp_metric *m) {
    fprintf(out, "Metric #%zu\nDescriptor:\n     -> Name: %s\n     -> Description: %s\n"
                 "     -> Unit: %s\n",
            k, m->name, m->description, m->unit);
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        fputs("     -> DataType: Gauge\n", out);
        for (size_t p = 0; p < m->gauge->n_data_points; p++)
            write_number_point(out, p, m->gauge->data_points[p]);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        fprintf(out, "     -> DataType: Sum\n     -> IsMonotonic: %s\n     -> AggregationTemporality: %s\n",
                m->sum->is_monotonic ? "true" : "false",
                m->sum->aggregation_temporality == 1 ? "Delta" : "Cumulative");
        for (size_t p = 0; p < m->sum->n_data_points; p++)
            write_number_point(out, p, m->sum->data_points[p]);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        fputs("     -> DataType: Histogram\n", out);
        for (size_t p = 0; p < m->histogram->n_data_points; p++)
            write_histogram_point(out, p, m->histogram->data_points[p]);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        fprintf(out, "     -> DataType: ExponentialHistogram\n     -> DataPoints: %zu\n",
                m->exponential_histogram->n_data_points);
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        fprintf(out, "     -> DataType: Summary\n     -> DataPoints: %zu\n",
                m->summary->n_data_points);
        break;
    default: fputs("     -> DataType: Empty\n", out); break;
    }
}

static void write_metrics(FILE *out, const pp_metrics_req *r) {
    for (size_t i = 0; i < r->n_resource_metrics; i++) {
        const pp_resource_metrics *rm = r->resource_metrics[i];
        for (size_t j = 0; j < rm->n_scope_metrics; j++) {
            const pp_scope_metrics *sm = rm->scope_metrics[j];
            write_resource_scope(out, i, rm->resource, rm->schema_url, j, sm->scope, sm->schema_url,
                                 "Metrics");
            for (size_t k = 0; k < sm->n_metrics; k++) write_metric(out, k, sm->metrics[k]);
        }
    }
}

void pp_debug_write_detailed(FILE *out, const pp_batch *b) {
    if (b->signal == PP_TRACES) write_traces(out, b->traces);
    else write_metrics(out, b->metrics);
}
