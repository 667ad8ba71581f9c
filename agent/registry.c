/* registry.c -- the table of built-in component factories.
 *
 * One line per component. A type is looked up by its name or its alias (the
 * Collector renamed some types, e.g. otlp -> otlp_grpc; users' configs have
 * either). */
#include <string.h>

#include "component.h"

extern const pp_factory pp_otlp_receiver;
extern const pp_factory pp_batch_processor;
extern const pp_factory pp_deltatocumulative_processor;
extern const pp_factory pp_interval_processor;
extern const pp_factory pp_memory_limiter_processor;
extern const pp_factory pp_probabilistic_sampler_processor;
extern const pp_factory pp_tail_sampling_processor;
extern const pp_factory pp_debug_exporter;
extern const pp_factory pp_file_exporter;
extern const pp_factory pp_otlp_exporter;
extern const pp_factory pp_otlphttp_exporter;
extern const pp_factory pp_prometheusremotewrite_exporter;
extern const pp_factory pp_sentry_exporter;
extern const pp_factory pp_spanmetrics_connector;
extern const pp_factory pp_bearertokenauth_extension;
extern const pp_factory pp_health_check_extension;
extern const pp_factory pp_sqlite_storage_extension;

static const pp_factory *const factories[] = {
    /* receivers */
    &pp_otlp_receiver,
    /* processors */
    &pp_batch_processor,
    &pp_deltatocumulative_processor,
    &pp_interval_processor,
    &pp_memory_limiter_processor,
    &pp_probabilistic_sampler_processor,
    &pp_tail_sampling_processor,
    /* exporters */
    &pp_debug_exporter,
    &pp_file_exporter,
    &pp_otlp_exporter,
    &pp_otlphttp_exporter,
    &pp_prometheusremotewrite_exporter,
    &pp_sentry_exporter,
    /* connectors */
    &pp_spanmetrics_connector,
    /* extensions */
    &pp_bearertokenauth_extension,
    &pp_health_check_extension,
    &pp_sqlite_storage_extension,
};

/* Tests add factories of their own (fakes) with pp_registry_set_extra. */
static const pp_factory *const *extra;
static size_t nextra;

void pp_registry_set_extra(const pp_factory *const *list, size_t n) {
    extra = list;
    nextra = n;
}

const pp_factory *pp_registry_at(size_t i) {
    size_t n = sizeof(factories) / sizeof(factories[0]);
    size_t seen = 0;
    for (size_t k = 0; k < n; k++) {
        if (!factories[k]) continue;
        if (seen++ == i) return factories[k];
    }
    return i - seen < nextra ? extra[i - seen] : NULL;
}

const pp_factory *pp_registry_find(pp_kind kind, const char *type) {
    const pp_factory *f;
    for (size_t i = 0; (f = pp_registry_at(i)) != NULL; i++) {
        if (f->kind != kind) continue;
        if (strcmp(f->type, type) == 0 || (f->alias && strcmp(f->alias, type) == 0)) return f;
    }
    return NULL;
}

const char *pp_kind_name(pp_kind k) {
    static const char *const names[] = {"receiver", "processor", "exporter", "connector",
                                        "extension"};
    return k < PP_KIND_COUNT ? names[k] : "unknown";
}

const char *pp_kind_plural(pp_kind k) {
    static const char *const names[] = {"receivers", "processors", "exporters", "connectors",
                                        "extensions"};
    return k < PP_KIND_COUNT ? names[k] : "unknown";
}
