/* sentry_dsn.h -- a Sentry DSN and what is derived from it (WIRE-SPECS 4.1, 4.9).
 *
 * {scheme}://{public_key}[:{secret_key}]@{host}[:{port}]{/path/prefix}/{project_id}
 * The scheme is http or https; an IPv6 host is written in brackets and keeps
 * them; the project id must be digits (Sentry's ids are numeric). A query
 * string or fragment is ignored, as the SDKs do, and one trailing '/' after
 * the project id is tolerated. */
#ifndef PIPIT_SENTRY_DSN_H
#define PIPIT_SENTRY_DSN_H

#include "status.h"

typedef struct pp_sentry_dsn {
    char *scheme;      /* "http" or "https" (lower case) */
    char *public_key;
    char *secret_key;  /* NULL when the DSN has none */
    char *host;        /* "[::1]" for IPv6 */
    char *port;        /* NULL when absent */
    char *path_prefix; /* "" or "/a/b" (no trailing '/') */
    char *project_id;

    char *envelope_url;     /* {scheme}://{host}[:port]{prefix}/api/{project}/envelope/ */
    char *otlp_traces_url;  /* .../api/{project}/integration/otlp/v1/traces/ */
    char *auth_header;      /* X-Sentry-Auth value (envelope mode) */
    char *otlp_auth_header; /* x-sentry-auth value (OTLP mode): "sentry sentry_key=KEY" */
    char *public_dsn;       /* the DSN without the secret, for the envelope header */
} pp_sentry_dsn;

/* Parses text into *dsn (every string malloc'd; free with pp_sentry_dsn_free).
 * Returns 0, or -1 with st = PP_INVALID and a message naming the problem; *dsn
 * then holds nothing to free. */
int pp_sentry_dsn_parse(const char *text, pp_sentry_dsn *dsn, pp_status *st);
void pp_sentry_dsn_free(pp_sentry_dsn *dsn);

#endif
