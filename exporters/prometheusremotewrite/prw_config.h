/* prw_config.h -- the prometheusremotewrite exporter's configuration: the
 * Collector's keys and defaults, decoded by a pp_cfg schema. */
#ifndef PIPIT_PRW_CONFIG_H
#define PIPIT_PRW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "config_node.h"
#include "config_schema.h"
#include "exporter.h"
#include "tls_config.h"

typedef struct pp_prw_rwq_cfg {
    bool enabled;          /* true */
    int64_t queue_size;    /* 10000 requests */
    int64_t num_consumers; /* 5: also the number of shards */
} pp_prw_rwq_cfg;

typedef struct pp_prw_cfg {
    char *endpoint;                 /* required: http(s)://host:port/api/v1/write */
    pp_cfg_kvs headers;
    int64_t timeout_ns;             /* 5s per attempt */
    pp_tls_cfg tls;
    bool tls_present;
    pp_cfg_kvs external_labels;
    char *namespace_;
    struct { bool enabled; } resource_to_telemetry_conversion; /* false */
    struct { bool enabled; } target_info;                      /* true */
    struct { bool enabled; } export_created_metric;            /* false */
    bool add_metric_suffixes;       /* true */
    bool send_metadata;             /* false */
    bool scope_labels;              /* pipit: otel_scope_* labels (spec), true */
    int64_t max_batch_size_bytes;   /* 3000000, uncompressed WriteRequest */
    char *compression;              /* "snappy" (the only one remote write 1.0 has) */
    pp_prw_rwq_cfg remote_write_queue;
    bool rwq_present;
    const pp_node *wal;             /* accepted, ignored with a warning */
    struct {
        int64_t max_stale_ns;       /* delta -> cumulative: forget idle series (5m) */
        int64_t max_streams;        /* delta -> cumulative: series cap (0 = none) */
    } delta;
    pp_exporter_cfg common;         /* sending_queue, retry_on_failure, circuit_breaker */
} pp_prw_cfg;

extern const pp_cfg_field pp_prw_schema[];
void pp_prw_cfg_defaults(void *cfg);
size_t pp_prw_cfg_validate(const void *cfg, const char *path, pp_diag *d);

/* The exporter settings actually used: sending_queue with remote_write_queue
 * applied over it (remote_write_queue wins where given; see the docs). */
void pp_prw_cfg_effective(const pp_prw_cfg *c, pp_exporter_cfg *out);

/* True for the headers remote write fixes (Content-Encoding, Content-Type,
 * User-Agent, X-Prometheus-Remote-Write-Version): users may not override them. */
bool pp_prw_reserved_header(const char *name);

#endif
