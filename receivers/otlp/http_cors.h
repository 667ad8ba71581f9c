/* http_cors.h -- the Collector's `cors` settings (rs/cors semantics) for the
 * OTLP/HTTP receiver: which origins and request headers are allowed. */
#ifndef PIPIT_HTTP_CORS_H
#define PIPIT_HTTP_CORS_H

#include <stdbool.h>

#include "otlp_receiver.h"

// origin matches an allowed_origins entry: "*", an exact origin (case
// ignored), or a pattern with one "*" such as "https://*.example.com".
bool pp_cors_origin_allowed(const pp_cors_cfg *c, const char *origin);

/* Every header of the comma-separated list (Access-Control-Request-Headers)
 * is allowed: the always-allowed ones (Origin, Accept, Content-Type,
 * Content-Encoding, X-Requested-With), allowed_headers, or "*". */
bool pp_cors_headers_allowed(const pp_cors_cfg *c, const char *requested);

#endif
