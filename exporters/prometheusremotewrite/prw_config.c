/* prw_config.c -- schema, defaults and checks of the prometheusremotewrite
 * exporter (see prw_config.h and docs/components/prometheusremotewrite.md). */
#include "prw_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEC 1000000000LL

static const char *const compressions[] = {"snappy", NULL};

static const pp_cfg_field enabled_schema[] = {
    {.key = "enabled", .type = PP_CFG_BOOL, .offset = 0},
    {0},
};

static const pp_cfg_field rwq_schema[] = {
    {.key = "enabled", .type = PP_CFG_BOOL, .offset = offsetof(pp_prw_rwq_cfg, enabled),
     .help = "queue requests (false: send on the caller's thread)"},
    {.key = "queue_size", .type = PP_CFG_INT, .offset = offsetof(pp_prw_rwq_cfg, queue_size),
     .min = 1, .max = 100000000, .help = "requests held; when full, receivers refuse new data"},
    {.key = "num_consumers", .type = PP_CFG_INT,
     .offset = offsetof(pp_prw_rwq_cfg, num_consumers), .min = 1, .max = 1000,
     .help = "requests in flight at once; series are sharded over this many ordered streams"},
    {0},
};

static const pp_cfg_field delta_schema[] = {
    {.key = "max_stale", .type = PP_CFG_DURATION,
     .offset = offsetof(pp_prw_cfg, delta.max_stale_ns) - offsetof(pp_prw_cfg, delta), .min = 0,
     .max = INT64_MAX, .help = "forget a delta series not updated for this long (0: never)"},
    {.key = "max_streams", .type = PP_CFG_INT,
     .offset = offsetof(pp_prw_cfg, delta.max_streams) - offsetof(pp_prw_cfg, delta), .min = 0,
     .max = INT64_MAX, .help = "delta series tracked at most (0: no limit); beyond: dropped, counted"},
    {0},
};

const pp_cfg_field pp_prw_schema[] = {
    {.key = "endpoint", .type = PP_CFG_STRING, .offset = offsetof(pp_prw_cfg, endpoint),
     .flags = PP_CFG_REQUIRED, .help = "remote-write URL, e.g. http://127.0.0.1:9090/api/v1/write"},
    {.key = "headers", .type = PP_CFG_STRING_MAP, .offset = offsetof(pp_prw_cfg, headers),
     .flags = PP_CFG_SECRET, .help = "extra request headers (not the four remote write fixes)"},
    {.key = "timeout", .type = PP_CFG_DURATION, .offset = offsetof(pp_prw_cfg, timeout_ns),
     .min = 1, .max = INT64_MAX, .help = "per attempt"},
    {.key = "tls", .type = PP_CFG_STRUCT, .offset = offsetof(pp_prw_cfg, tls),
     .children = pp_tls_schema, .flags = PP_CFG_HAS_PRESENT,
     .present_offset = offsetof(pp_prw_cfg, tls_present)},
    {.key = "external_labels", .type = PP_CFG_STRING_MAP,
     .offset = offsetof(pp_prw_cfg, external_labels),
     .help = "labels added to every series that lacks them"},
    {.key = "namespace", .type = PP_CFG_STRING, .offset = offsetof(pp_prw_cfg, namespace_),
     .help = "prefix of every metric name (joined with _)"},
    {.key = "resource_to_telemetry_conversion", .type = PP_CFG_STRUCT,
     .offset = offsetof(pp_prw_cfg, resource_to_telemetry_conversion), .children = enabled_schema,
     .help = "every resource attribute becomes a label of every series"},
    {.key = "target_info", .type = PP_CFG_STRUCT, .offset = offsetof(pp_prw_cfg, target_info),
     .children = enabled_schema, .help = "a target_info series per resource (default on)"},
    {.key = "export_created_metric", .type = PP_CFG_STRUCT,
     .offset = offsetof(pp_prw_cfg, export_created_metric), .children = enabled_schema,
     .help = "<name>_created series with the start time of counters, histograms, summaries"},
    {.key = "add_metric_suffixes", .type = PP_CFG_BOOL,
     .offset = offsetof(pp_prw_cfg, add_metric_suffixes), .help = "unit, _total and _ratio suffixes"},
    {.key = "send_metadata", .type = PP_CFG_BOOL, .offset = offsetof(pp_prw_cfg, send_metadata),
     .help = "send type, help and unit of every metric family"},
    {.key = "scope_labels", .type = PP_CFG_BOOL, .offset = offsetof(pp_prw_cfg, scope_labels),
     .help = "pipit extension: otel_scope_name/_version/_schema_url labels (the OTel spec)"},
    {.key = "max_batch_size_bytes", .type = PP_CFG_INT,
     .offset = offsetof(pp_prw_cfg, max_batch_size_bytes), .min = 1024, .max = INT64_MAX,
     .help = "largest uncompressed WriteRequest; bigger batches are split"},
    {.key = "compression", .type = PP_CFG_ENUM, .offset = offsetof(pp_prw_cfg, compression),
     .choices = compressions, .help = "snappy, the only encoding remote write 1.0 allows"},
    {.key = "remote_write_queue", .type = PP_CFG_STRUCT,
     .offset = offsetof(pp_prw_cfg, remote_write_queue), .children = rwq_schema,
     .flags = PP_CFG_HAS_PRESENT, .present_offset = offsetof(pp_prw_cfg, rwq_present)},
    {.key = "wal", .type = PP_CFG_NODE, .offset = offsetof(pp_prw_cfg, wal),
     .help = "ignored: use sending_queue.storage for a durable queue"},
    {.key = "delta_to_cumulative", .type = PP_CFG_STRUCT, .offset = offsetof(pp_prw_cfg, delta),
     .children = delta_schema, .help = "pipit extension: state of the built-in delta conversion"},
    {.key = "auth", .type = PP_CFG_IGNORED},
    {.key = "max_idle_conns", .type = PP_CFG_IGNORED},
    {.key = "idle_conn_timeout", .type = PP_CFG_IGNORED},
    {.key = "disable_keep_alives", .type = PP_CFG_IGNORED},
    {.key = "read_buffer_size", .type = PP_CFG_IGNORED},
    {.key = "write_buffer_size", .type = PP_CFG_IGNORED},
    {.key = "protobuf_message", .type = PP_CFG_IGNORED},
    {.key = "enable_send_exemplars", .type = PP_CFG_IGNORED},
    PP_EXPORTER_CFG_FIELDS(pp_prw_cfg, common),
    {0},
};

void pp_prw_cfg_defaults(void *cfg) {
    pp_prw_cfg *c = cfg;
    c->timeout_ns = 5 * SEC;
    c->target_info.enabled = true;
    c->add_metric_suffixes = true;
    c->scope_labels = true;
    c->max_batch_size_bytes = 3000000;
    c->compression = strdup("snappy");
    c->remote_write_queue = (pp_prw_rwq_cfg){.enabled = true, .queue_size = 10000, .num_consumers = 5};
    c->delta.max_stale_ns = 300 * SEC;
    c->delta.max_streams = 0;
    pp_exporter_cfg_defaults(&c->common);
    c->common.sending_queue.queue_size = 10000;
    c->common.sending_queue.num_consumers = 5;
}

bool pp_prw_reserved_header(const char *name) {
    static const char *const fixed[] = {"content-encoding", "content-type", "user-agent",
                                        "x-prometheus-remote-write-version"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (!strcasecmp(name, fixed[i])) return true;
    return false;
}

static bool valid_label_name(const char *s) {
    if (!s || !*s) return false;
    for (const char *p = s; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
        if (!alpha && !(p > s && *p >= '0' && *p <= '9')) return false;
    }
    return strncmp(s, "__", 2) != 0;
}

size_t pp_prw_cfg_validate(const void *cfg, const char *path, pp_diag *d) {
    const pp_prw_cfg *c = cfg;
    size_t errors = pp_exporter_cfg_validate(&c->common, path, d);
    char p[512];
    if (c->endpoint && strncmp(c->endpoint, "http://", 7) && strncmp(c->endpoint, "https://", 8)) {
        snprintf(p, sizeof(p), "%s.endpoint", path);
        pp_diag_error(d, p, 0, "expected an http:// or https:// URL, got \"%s\"", c->endpoint);
        errors++;
    }
    for (size_t i = 0; i < c->headers.count; i++) {
        if (!pp_prw_reserved_header(c->headers.items[i].key)) continue;
        snprintf(p, sizeof(p), "%s.headers.%s", path, c->headers.items[i].key);
        pp_diag_error(d, p, 0, "remote write fixes this header; it cannot be overridden");
        errors++;
    }
    for (size_t i = 0; i < c->external_labels.count; i++) {
        const pp_cfg_kv *kv = &c->external_labels.items[i];
        snprintf(p, sizeof(p), "%s.external_labels.%s", path, kv->key);
        if (!valid_label_name(kv->key)) {
            pp_diag_error(d, p, 0, "not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, no __ prefix)");
            errors++;
        } else if (!kv->value || !kv->value[0]) {
            pp_diag_error(d, p, 0, "an external label needs a value (remote write forbids empty ones)");
            errors++;
        }
    }
    if (c->wal && !pp_node_is_null(c->wal)) {
        snprintf(p, sizeof(p), "%s.wal", path);
        pp_diag_warn(d, p, 0,
                     "ignored: pipit has no remote-write WAL; configure sending_queue.storage "
                     "for a durable queue");
    }
    snprintf(p, sizeof(p), "%s.tls", path);
    errors += pp_tls_validate(&c->tls, false, p, d);
    return errors;
}

void pp_prw_cfg_effective(const pp_prw_cfg *c, pp_exporter_cfg *out) {
    *out = c->common;
    if (c->rwq_present) {
        out->sending_queue.enabled = c->remote_write_queue.enabled;
        out->sending_queue.queue_size = c->remote_write_queue.queue_size;
        out->sending_queue.num_consumers = c->remote_write_queue.num_consumers;
    }
}
