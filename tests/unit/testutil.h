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

/* One HTTP request with libcurl (method "GET", "HEAD", "POST"; 5 s timeout).
 * Returns the status (0 when the request failed); body and content_type, when
 * not NULL, receive malloc'd copies (content_type "" when absent). */
long tu_http(const char *method, const char *url, char **body, char **content_type);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
uint16_t tu_free_port(void);
/* A socket listening on 127.0.0.1 (port 0: any); *port receives the port. */
int tu_listen(uint16_t *port);

#endif
