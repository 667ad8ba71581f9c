/* auth.h -- server authenticators (the Collector's `auth: {authenticator: id}`).
 *
 * An extension that authenticates requests (bearertokenauth) starts its
 * instance struct with a pp_server_auth, so a receiver that names it can
 * check each request's header without knowing the extension's type. */
#ifndef PIPIT_AUTH_H
#define PIPIT_AUTH_H

#include "config_schema.h"
#include "status.h"

typedef struct pp_server_auth pp_server_auth;
struct pp_server_auth {
    const char *header; /* lowercase header to read, e.g. "authorization" */
    /* value: the header's value or NULL when absent. 0 = allowed; otherwise
     * -1 with st->code = PP_UNAUTHENTICATED (receivers answer gRPC
     * UNAUTHENTICATED / HTTP 401). Thread-safe. */
    int (*check)(pp_server_auth *a, const char *value, pp_status *st);
};

/* The `auth:` block of a server: which authenticator extension to use. */
typedef struct pp_auth_cfg {
    char *authenticator; /* extension id */
} pp_auth_cfg;
extern const pp_cfg_field pp_auth_schema[];

#endif
