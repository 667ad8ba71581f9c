/* testutil.h -- helpers shared by the unit tests. */
#ifndef PIPIT_TESTUTIL_H
#define PIPIT_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "batch.h"

/* A traces request with n_resources x n_scopes x n_spans spans, valid ids
 * (trace id derived from seed), in a new batch (refs = 1). */
pp_batch *tu_make_traces(size_t n_resources, size_t n_scopes, size_t n_spans, uint32_t seed);
/* A metrics request with n_metrics gauges of n_points points each. */
pp_batch *tu_make_metrics(size_t n_metrics, size_t n_points, uint32_t seed);

/* Reads a whole file; caller frees. NULL on error. */
char *tu_read_file(const char *path, size_t *len);

#endif
