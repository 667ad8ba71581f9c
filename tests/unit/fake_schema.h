/* fake_schema.h -- a config schema using every pp_cfg_type, shared by the
 * schema decoder tests and (as a fake exporter) the whole-config tests. */
#ifndef PIPIT_FAKE_SCHEMA_H
#define PIPIT_FAKE_SCHEMA_H

#include <stdlib.h>
#include <string.h>

#include "config_schema.h"

typedef struct fake_tls {
    char *ca_file;
    bool insecure;
} fake_tls;

typedef struct fake_cfg {
    char *endpoint; /* required */
    char *api_key;  /* secret */
    bool enabled;
    int64_t workers; /* 1..16 */
    double ratio;
    int64_t timeout; /* 0..2m */
    char *compression;
    bool tls_present;
    fake_tls tls;
    pp_cfg_kvs headers;
    pp_cfg_strs tags;
    const pp_node *raw;
} fake_cfg;

static const char *const fake_compressions[] = {"none", "gzip", "zstd", NULL};

static const pp_cfg_field fake_tls_schema[] = {
    {"ca_file", PP_CFG_STRING, offsetof(fake_tls, ca_file)},
    {"insecure", PP_CFG_BOOL, offsetof(fake_tls, insecure)},
    {0},
};

static const pp_cfg_field fake_schema[] = {
    {"endpoint", PP_CFG_STRING, offsetof(fake_cfg, endpoint), PP_CFG_REQUIRED},
    {"api_key", PP_CFG_STRING, offsetof(fake_cfg, api_key), PP_CFG_SECRET},
    {"enabled", PP_CFG_BOOL, offsetof(fake_cfg, enabled)},
    {"workers", PP_CFG_INT, offsetof(fake_cfg, workers), .min = 1, .max = 16},
    {"ratio", PP_CFG_FLOAT, offsetof(fake_cfg, ratio)},
    {"timeout", PP_CFG_DURATION, offsetof(fake_cfg, timeout), .min = 0, .max = 120000000000},
    {"compression", PP_CFG_ENUM, offsetof(fake_cfg, compression), .choices = fake_compressions},
    {"tls", PP_CFG_STRUCT, offsetof(fake_cfg, tls), PP_CFG_HAS_PRESENT,
     .children = fake_tls_schema, .present_offset = offsetof(fake_cfg, tls_present)},
    {"headers", PP_CFG_STRING_MAP, offsetof(fake_cfg, headers)},
    {"tags", PP_CFG_STRING_LIST, offsetof(fake_cfg, tags)},
    {"raw", PP_CFG_NODE, offsetof(fake_cfg, raw)},
    {"old_knob", PP_CFG_IGNORED},
    {0},
};

/* Defaults as a factory sets them: strings on the heap. */
static inline void fake_defaults(void *p) {
    fake_cfg *c = p;
    c->compression = strdup("gzip");
    c->workers = 2;
    c->timeout = 5000000000;
}

#endif
