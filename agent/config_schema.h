/* config_schema.h -- declarative config keys for components.
 *
 * A component describes the keys it accepts in a table of pp_cfg_field; one
 * generic decoder checks types, reports unknown keys and missing required ones
 * with their YAML paths, and fills the component's config struct. Components
 * add their own cross-field checks in pp_factory.config_validate. */
#ifndef PIPIT_CONFIG_SCHEMA_H
#define PIPIT_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config_node.h"
#include "diag.h"

typedef enum pp_cfg_type {
    PP_CFG_END = 0,    /* terminates a field table */
    PP_CFG_STRING,     /* char * (heap, also for defaults: freed by pp_cfg_free) */
    PP_CFG_BOOL,       /* bool: true/false                                     */
    PP_CFG_INT,        /* int64_t, bounded by min/max when max > min           */
    PP_CFG_FLOAT,      /* double                                               */
    PP_CFG_DURATION,   /* int64_t nanoseconds: Go syntax "1h2m3.5s", "200ms"  */
    PP_CFG_ENUM,       /* char *, one of choices                              */
    PP_CFG_STRUCT,     /* nested struct at offset, keys in children           */
    PP_CFG_STRING_MAP, /* pp_cfg_kvs: string to string (headers, labels)      */
    PP_CFG_STRING_LIST,/* pp_cfg_strs                                         */
    PP_CFG_NODE,       /* const pp_node *: kept raw, checked by the component */
    PP_CFG_IGNORED,    /* a Collector key pipit accepts and ignores (warning) */
} pp_cfg_type;

enum {
    PP_CFG_REQUIRED = 1u << 0,
    PP_CFG_SECRET = 1u << 1,      /* never printed or logged */
    PP_CFG_HAS_PRESENT = 1u << 2, /* STRUCT: set the bool at present_offset when the key is there */
};

typedef struct pp_cfg_kv { char *key, *value; } pp_cfg_kv;
typedef struct pp_cfg_kvs { pp_cfg_kv *items; size_t count; } pp_cfg_kvs;
typedef struct pp_cfg_strs { char **items; size_t count; } pp_cfg_strs;

typedef struct pp_cfg_field {
    const char *key;
    pp_cfg_type type;
    size_t offset;
    unsigned flags;
    const struct pp_cfg_field *children; /* STRUCT */
    const char *const *choices;          /* ENUM, NULL-terminated */
    int64_t min, max;                    /* INT/DURATION bounds when max > min */
    size_t present_offset;               /* STRUCT with PP_CFG_HAS_PRESENT */
    const char *help;                    /* one line for the configuration reference */
} pp_cfg_field;

/* Decodes node (a map, or null meaning "all defaults") into cfg, which holds
 * defaults already. path is the YAML path of node ("exporters.otlp/jaeger").
 * Every problem goes to d. Returns the number of errors added. */
size_t pp_cfg_decode(const pp_cfg_field *schema, const pp_node *node, void *cfg,
                     const char *path, pp_diag *d);
/* Frees what pp_cfg_decode allocated inside cfg (not cfg itself). */
void pp_cfg_free(const pp_cfg_field *schema, void *cfg);

/* Parses a Go duration ("300ms", "1.5h", "2m3s"; a bare integer is nanoseconds). */
int pp_parse_duration(const char *s, int64_t *ns);

#endif
