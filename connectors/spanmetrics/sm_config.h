/* sm_config.h -- configuration of the spanmetrics connector. */
#ifndef PIPIT_SM_CONFIG_H
#define PIPIT_SM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "component.h"

typedef struct sm_explicit_cfg { pp_cfg_strs buckets; } sm_explicit_cfg;
typedef struct sm_exponential_cfg { int64_t max_size; } sm_exponential_cfg;

typedef struct sm_histogram_cfg {
    bool disable;
    char *unit; /* "ms" or "s" */
    sm_explicit_cfg explicit_;
    bool explicit_present;
    sm_exponential_cfg exponential;
    bool exponential_present;
} sm_histogram_cfg;

typedef struct sm_exemplars_cfg {
    bool enabled;
    int64_t max_per_data_point;
} sm_exemplars_cfg;

typedef struct sm_config {
    sm_histogram_cfg histogram;
    const pp_node *dimensions; /* [{name, default}] */
    pp_cfg_strs exclude_dimensions;
    int64_t dimensions_cache_size;
    int64_t cardinality_limit; /* aggregation_cardinality_limit; 0: pipit's default cap */
    char *temporality;         /* AGGREGATION_TEMPORALITY_CUMULATIVE | _DELTA */
    char *namespace_;
    int64_t flush_interval_ns;
    int64_t expiration_ns;
    sm_exemplars_cfg exemplars;
} sm_config;

/* The cap on series when aggregation_cardinality_limit is 0. */
#define SM_DEFAULT_SERIES_CAP 100000

/* A configured extra dimension. */
typedef struct sm_dim {
    char *name;
    char *def; /* NULL: omit the dimension when the attribute is missing */
} sm_dim;

extern const pp_cfg_field pp_sm_schema[];
void pp_sm_defaults(void *cfg);
size_t pp_sm_validate(const void *cfg, const char *path, pp_diag *d);

/* Parses `dimensions` into a malloc'd array (free with sm_dims_free).
 * Errors go to d when not NULL; returns the number of errors. */
size_t sm_dims_parse(const pp_node *n, const char *path, pp_diag *d, sm_dim **out, size_t *nout);
void sm_dims_free(sm_dim *dims, size_t n);

/* The explicit bucket bounds in the configured unit (malloc'd), the
 * Collector's defaults when none are configured. -1 on a bad duration. */
int sm_bounds(const sm_config *c, double **out, size_t *n);

#endif
