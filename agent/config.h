/* config.h -- the whole pipit configuration, loaded and validated.
 *
 * The Collector's YAML: receivers, processors, exporters, connectors,
 * extensions and service (pipelines, extensions, telemetry). Several files
 * merge in order (later ones override). Loading validates everything it can
 * without starting anything, so `pipit validate` and start-up agree. */
#ifndef PIPIT_CONFIG_H
#define PIPIT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "component.h"
#include "config_node.h"
#include "diag.h"

typedef struct pp_component_cfg {
    pp_kind kind;
    char *id;   /* "otlp/jaeger" */
    char *type; /* "otlp" (as registered, even when written with the alias) */
    char *name; /* "jaeger", or NULL */
    const pp_factory *factory;
    void *config; /* factory->config_size bytes, decoded */
    const pp_node *node;
    bool used;    /* named by a pipeline or service.extensions */
} pp_component_cfg;

typedef struct pp_pipeline_cfg {
    char *id; /* "traces" or "traces/backend" */
    pp_signal signal;
    char **receivers, **processors, **exporters; /* component ids, in order */
    size_t nreceivers, nprocessors, nexporters;
} pp_pipeline_cfg;

typedef struct pp_telemetry_cfg {
    char *metrics_address; /* host:port for /metrics, "localhost:8888"; NULL = off */
    char *metrics_level;   /* none|basic|normal|detailed */
    char *log_level;       /* debug|info|warn|error */
    char *log_encoding;    /* json|console, NULL = auto */
} pp_telemetry_cfg;

typedef struct pp_config {
    pp_node *root; /* merged tree; components' nodes point into it */
    pp_component_cfg *components;
    size_t ncomponents;
    pp_pipeline_cfg *pipelines;
    size_t npipelines;
    char **extensions; /* service.extensions, ids */
    size_t nextensions;
    pp_telemetry_cfg telemetry;
    int64_t shutdown_timeout_ns; /* service.shutdown_timeout (pipit), default 10s */
} pp_config;

/* The embedded default configuration (YAML text). */
extern const char pp_default_config_yaml[];

/* Loads files (or the default text when nfiles == 0), merges, validates.
 * Errors and warnings go to d. Returns NULL if there was any error. */
pp_config *pp_config_load(const char *const *files, size_t nfiles, pp_diag *d);
/* Same from YAML texts (for tests). names label the diagnostics. */
pp_config *pp_config_load_texts(const char *const *texts, const char *const *names, size_t n,
                                pp_diag *d);
/* Merges parsed trees in order (consuming them) and validates the result;
 * what both loaders above end with. A NULL root (a file that failed to
 * parse, already reported) makes it free the others and return NULL. */
pp_config *pp_config_from_trees(pp_node *const *roots, size_t n, pp_diag *d);
void pp_config_free(pp_config *c);

/* The merged configuration as YAML for print-config, with the values of
 * SECRET schema fields and of credential-like keys (authorization, api-key,
 * token, x-sentry-auth, dsn, password, secret) written as "[REDACTED]".
 * Caller frees. */
char *pp_config_render_redacted(const pp_config *c);

const pp_component_cfg *pp_config_find(const pp_config *c, pp_kind kind, const char *id);

#endif
